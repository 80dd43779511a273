"""salescast.spark on a local[2] Spark: 200 series through forecast_groups equal
`salescast forecast-many` on the same series, and 200,000 rows through score equal
`salescast predict` on them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import salescast
from conftest import long_series, run
from salescast.spark import forecast_groups, score


def test_forecast_groups_equal_forecast_many(spark, salescast_bin, tmp_path):
    df = long_series(200, seed=1)
    (tmp_path / "params.yaml").write_text("{}\n")
    df.to_csv(tmp_path / "long.csv", index=False)
    run(salescast_bin, tmp_path, "forecast-many", "--input", "long.csv", "--horizon", "14",
        "--folds", "2", "--out", "fc.csv")
    cli = pd.read_csv(tmp_path / "fc.csv", float_precision="round_trip")
    table = pd.read_csv(tmp_path / "fc.series.csv", float_precision="round_trip")

    out = forecast_groups(spark.createDataFrame(df), "id", "date", "value", 14, 95.0, folds=2)
    got = out.toPandas().sort_values(["id", "date"]).reset_index(drop=True)
    assert len(got) == len(cli) == 200 * 14
    assert got.id.tolist() == cli.id.tolist()
    assert [str(d) for d in got.date] == cli.date.tolist()
    assert got.model.tolist() == cli.model.tolist()
    for c in ("mean", "lower_95", "upper_95"):
        np.testing.assert_allclose(got[c].to_numpy(), cli[c].to_numpy(), rtol=0, atol=1e-9, err_msg=c)
    per_series = got.drop_duplicates("id").set_index("id")
    t = table.set_index("id")
    np.testing.assert_allclose(per_series.cv_mase.to_numpy(dtype=float), t.cv_mase.to_numpy(), rtol=0, atol=1e-12)
    assert per_series.fallback_reason.fillna("").tolist() == t.fallback_reason.fillna("").tolist()
    assert (per_series.fallback_reason.notna()).sum() == 2  # the short and the constant series


def test_score_equals_salescast_predict(spark, project, salescast_bin):
    run(salescast_bin, project, "generate", "--out", "big.csv", "--rows", "200000", "--days", "200",
        "--seed", "9")
    # Some rows broken on purpose: both sides must refuse them with the same reasons.
    big = pd.read_csv(project / "big.csv", dtype=str, keep_default_na=False)
    big.loc[::997, "unit_price"] = "abc"
    big.loc[5::1999, "date"] = "2024-02-31"
    big.loc[7::2503, "store_id"] = ""
    big.to_csv(project / "big.csv", index=False)
    run(salescast_bin, project, "predict", "--models-dir", "models", "--input", "big.csv",
        "--out", "big_pred.csv")
    cli = pd.read_csv(project / "big_pred.csv", usecols=["predicted_revenue", "error"],
                      dtype={"error": str}, keep_default_na=False, float_precision="round_trip")
    df = spark.read.csv(str(project / "big.csv"), header=True)  # every column as text
    got = score(df, str(project / "models")).select("predicted_revenue", "error").toPandas()
    assert len(got) == len(cli) == 200_000
    expected = np.array([float(v) if v != "" else np.nan for v in cli.predicted_revenue.astype(str)])
    np.testing.assert_array_equal(got.predicted_revenue.to_numpy(dtype=float), expected)
    assert got.error.fillna("").tolist() == cli.error.tolist()
    assert (cli.error != "").sum() > 0  # the generated file's broken rows are refused alike


def test_bad_arguments_fail_on_the_driver(spark, project):
    df = spark.createDataFrame(long_series(3, seed=2))
    with pytest.raises(salescast.SalescastError, match="day: no such column"):
        forecast_groups(df, "id", "day", "value", 7)
    with pytest.raises(salescast.SalescastError, match="horizon"):
        forecast_groups(df, "id", "date", "value", 0)
    with pytest.raises(salescast.SalescastError, match="models_dir"):
        score(df, str(project / "missing"))

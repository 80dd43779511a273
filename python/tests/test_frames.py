"""clean, features, Predictor and drift on pandas and polars frames, against the pipeline's own
outputs for the same data."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import salescast
from conftest import run


def raw(project) -> pd.DataFrame:
    # as text, like the CLI reads it: the contract's parser sees the same cells
    return pd.read_csv(project / "raw.csv", dtype=str, keep_default_na=False)


def test_clean_matches_the_preprocess_stage(project):
    res = salescast.clean(raw(project), test_days=30)
    cli = pq.read_table(project / "data/processed/clean.parquet").to_pandas()
    assert len(res.rows) == len(cli)
    pd.testing.assert_frame_equal(res.rows.reset_index(drop=True), cli, check_dtype=False)
    report = json.loads((project / "data/processed/report.json").read_text())
    for key in ("rows_in", "rows_out", "rows_rejected", "duplicates_dropped", "rejected_by_reason", "imputed", "clipped"):
        assert res.report[key] == report[key], key
    rejected = pd.read_csv(project / "data/processed/raw.rejected.csv")
    assert len(res.rejected) == len(rejected) == report["rows_rejected"] + report["duplicates_dropped"]
    # polars in, polars out, same rows
    res_pl = salescast.clean(pl.from_pandas(raw(project)), test_days=30)
    assert isinstance(res_pl.rows, pl.DataFrame)
    assert res_pl.rows.height == len(cli)


def test_features_match_the_features_stage(project):
    res = salescast.clean(raw(project), test_days=30)
    feats = salescast.features(res.rows, cleaning=res)
    train = pq.read_table(project / "data/features/train.parquet").to_pandas()
    transform = json.loads((project / "data/features/transform.json").read_text())
    names = transform["payload"]["feature_names"] if "payload" in transform else transform["feature_names"]
    mine = feats[feats.date < pd.Timestamp(min(pd.read_parquet(project / "data/features/test.parquet").date)).date()]
    assert len(mine) == len(train)
    for name in names:
        if name in train.columns:
            np.testing.assert_array_equal(mine[name].to_numpy(), train[name].to_numpy(), err_msg=name)
    served = salescast.features(res.rows, models_dir=str(project / "models"))
    assert list(served.columns) == list(feats.columns)
    with pytest.raises(salescast.SalescastError, match="either models_dir"):
        salescast.features(res.rows)


def test_predictor_matches_salescast_predict(project, salescast_bin):
    p = salescast.Predictor.load(project / "models")
    assert set(p.models) == {"random_forest", "gradient_boosting"}
    frame = raw(project)
    for model in p.models:
        run(salescast_bin, project, "predict", "--models-dir", "models", "--input", "raw.csv",
            "--out", f"pred_{model}.csv", "--model", model)
        cli = pd.read_csv(project / f"pred_{model}.csv", dtype={"error": str}, keep_default_na=False,
                          float_precision="round_trip")
        for kind in (frame, pl.from_pandas(frame), pa.Table.from_pandas(frame)):
            got = p.predict(kind, model=model)
            got = got if isinstance(got, pd.DataFrame) else (got.to_pandas() if hasattr(got, "to_pandas") else got)
            expected = np.array([float(v) if v != "" else np.nan for v in cli.predicted_revenue.astype(str)])
            np.testing.assert_array_equal(got.predicted_revenue.to_numpy(), expected)
            assert got.error.fillna("").tolist() == cli.error.tolist()
    with pytest.raises(salescast.SalescastError, match="store_id"):
        p.predict(frame.drop(columns=["store_id"]))
    with pytest.raises(salescast.SalescastError, match="model"):
        p.predict(frame, model="linear")
    with pytest.raises(salescast.SalescastError, match="models_dir"):
        salescast.Predictor.load(project / "nowhere")


def test_typed_columns_score_like_text(project):
    p = salescast.Predictor.load(project / "models")
    typed = pd.read_csv(project / "raw.csv")  # numbers as float64, blanks as NaN
    text = raw(project)
    a = p.predict(typed).predicted_revenue.to_numpy()
    b = p.predict(text).predicted_revenue.to_numpy()
    ok = ~np.isnan(b)
    np.testing.assert_array_equal(a[ok], b[ok])


def test_drift_detects_a_shift_and_not_a_resample():
    rng = np.random.default_rng(11)
    ref = pd.DataFrame({"price": rng.normal(10, 2, 5000), "segment": rng.choice(["a", "b", "c"], 5000)})
    same = pd.DataFrame({"price": rng.normal(10, 2, 5000), "segment": rng.choice(["a", "b", "c"], 5000)})
    moved = pd.DataFrame({"price": rng.normal(13, 2, 5000), "segment": rng.choice(["a", "b", "c"], 5000, p=[0.8, 0.1, 0.1])})
    r1 = salescast.drift(ref, same)
    r2 = salescast.drift(pl.from_pandas(ref), pl.from_pandas(moved))
    by = lambda r: {c["column"]: c for c in r["columns"]}
    assert not r1["dataset"]["drift"]
    assert r2["dataset"]["drift"] and r2["dataset"]["drifted_columns"] == 2
    assert by(r2)["price"]["type"] == "numerical"
    assert by(r2)["segment"]["type"] == "categorical"
    assert by(r1)["price"]["test_name"] == by(r2)["price"]["test_name"]
    with pytest.raises(salescast.SalescastError, match="drift_share"):
        salescast.drift(ref, same, drift_share=0)
    with pytest.raises(salescast.SalescastError, match="categorical"):
        salescast.drift(ref, same, categorical=["nope"])

"""fit_series / forecast: the same result as `salescast forecast-many` on the same series, the
fallback and its reason, every frame kind, bad input raised by name, and the GIL released."""

from __future__ import annotations

import datetime as dt
import threading

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

import salescast
from conftest import long_series, run


def test_each_series_equals_forecast_many(salescast_bin, tmp_path):
    df = long_series(12, seed=7)
    (tmp_path / "params.yaml").write_text("{}\n")
    df.to_csv(tmp_path / "long.csv", index=False)
    run(salescast_bin, tmp_path, "forecast-many", "--input", "long.csv", "--horizon", "14",
        "--level", "80", "--folds", "2", "--out", "fc.csv")
    cli = pd.read_csv(tmp_path / "fc.csv")
    table = pd.read_csv(tmp_path / "fc.series.csv")
    for sid, group in df.groupby("id"):
        f = salescast.fit_series(group.sample(frac=1, random_state=1), 14, 80, folds=2)
        mine = f.forecast
        theirs = cli[cli.id == sid].reset_index(drop=True)
        assert list(mine.model) == list(theirs.model)
        for c in ("mean", "lower_80", "upper_80"):
            np.testing.assert_allclose(mine[c].to_numpy(), theirs[c].to_numpy(), rtol=0, atol=1e-9)
        assert [str(d) for d in mine.date] == list(theirs.date)
        row = table[table.id == sid].iloc[0]
        assert f.model == row.model
        if f.cv_mase is None:
            assert np.isnan(row.cv_mase)
        else:
            assert f.cv_mase == pytest.approx(row.cv_mase, abs=1e-12)
        assert (f.fallback_reason or "") == (row.fallback_reason if isinstance(row.fallback_reason, str) else "")


def test_short_and_constant_series_fall_back_with_a_reason():
    short = salescast.fit_series(np.arange(10, dtype=float), 5, start="2024-03-01")
    assert short.fallback_reason.startswith("too short: 10 days")
    assert short.model == "seasonal_naive(7)"
    assert short.first_date == dt.date(2024, 3, 1)
    flat = salescast.fit_series(pd.Series(3.0, index=pd.date_range("2024-01-01", periods=200)), 7)
    assert flat.fallback_reason.startswith("constant")
    assert list(flat.forecast["mean"]) == [3.0] * 7


def test_pandas_polars_and_arrow_inputs_agree():
    idx = pd.date_range("2024-01-01", periods=180, freq="D")
    rng = np.random.default_rng(3)
    y = 50 + 8 * np.sin(np.arange(180) * 2 * np.pi / 7) + rng.normal(0, 1.5, 180)
    a = salescast.forecast(pd.Series(y, index=idx), 10)
    b = salescast.forecast(pl.DataFrame({"date": idx.date.tolist(), "value": y}).with_columns(pl.col("date").cast(pl.Date)), 10)
    c = salescast.forecast(pa.table({"date": pa.array(idx.date, pa.date32()), "value": y}), 10)
    assert isinstance(a, pd.DataFrame) and isinstance(b, pl.DataFrame) and isinstance(c, pa.Table)
    assert a["mean"].tolist() == b["mean"].to_list() == c.column("mean").to_pylist()
    assert a.columns.tolist() == ["date", "model", "mean", "lower_95", "upper_95"]


def test_bad_input_raises_naming_the_field():
    idx = pd.date_range("2024-01-01", periods=30)
    y = pd.Series(np.arange(30.0), index=idx)
    cases = [
        (lambda: salescast.forecast(y, 0), "horizon"),
        (lambda: salescast.forecast(y, 5, level=100), "level"),
        (lambda: salescast.forecast(y.drop(idx[4]), 5), "date: has no row for 2024-01-05"),
        (lambda: salescast.forecast(pd.concat([y, y.iloc[:1]]), 5), "date: has 2024-01-01 twice"),
        (lambda: salescast.forecast(y.where(y.index != idx[2]), 5), "value: the value on 2024-01-03"),
        (lambda: salescast.forecast(pd.DataFrame({"day": idx, "value": y.values}), 5), "date: no such column"),
        (lambda: salescast.forecast(pd.DataFrame({"date": ["2024-01-01", "01/02/2024"], "value": [1.0, 2.0]}), 5), "date at position 1 is \"01/02/2024\", not a date"),
        (lambda: salescast.forecast(pd.Series(np.arange(5.0)), 5), "DatetimeIndex"),
        (lambda: salescast.fit_series(y, 5, folds=0), "folds"),
    ]
    for call, want in cases:
        with pytest.raises(salescast.SalescastError, match=want):
            call()
    assert issubclass(salescast.SalescastError, ValueError)
    # a missing day filled with zero on request
    f = salescast.fit_series(y.drop(idx[4]), 5, fill_missing_zero=True)
    assert f.filled_days == 1


def test_the_gil_is_released_during_a_fit():
    """While a fit runs in another thread, this thread keeps running Python code; with the GIL
    held through the fit it could not run at all."""
    idx = pd.date_range("2023-01-01", periods=500)
    rng = np.random.default_rng(5)
    y = pd.Series(100 + 20 * np.sin(np.arange(500) * 2 * np.pi / 7) + rng.normal(0, 3, 500), index=idx)
    started = threading.Event()
    done = threading.Event()

    def work():
        started.set()
        salescast.fit_series(y, 28, folds=3)
        done.set()

    t = threading.Thread(target=work)
    t.start()
    started.wait()
    spins = 0
    while not done.is_set():
        spins += 1
    t.join()
    assert spins > 100_000, spins

"""`salescast forecast-many` against statsforecast's AutoARIMA and AutoETS on the same series,
in the same run: wall time and mean MASE on held-out days (medians over --reps, runs
alternating).

Both sides forecast --holdout days after two years of history per series with 95% intervals,
using every core (forecast-many: rayon over series; statsforecast: n_jobs = the cores). Ours
runs its whole cross-validated selection per series (automatic SARIMA orders, MSTL+ETS, their
combinations) from the CSV file to the written forecasts; statsforecast's time is its
`forecast` call on a frame already in memory, after a warm-up call has compiled its numba code.
MASE: each series' held-out MAE over its in-sample weekly seasonal-naive MAE, averaged.

    .venv/bin/python bench/many_vs_statsforecast.py --bin target/release/salescast
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np
import pandas as pd

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from many_series import generate, mase, split  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]
warnings.simplefilter("ignore")


def ours(bin_: pathlib.Path, work: pathlib.Path, holdout: int) -> tuple[float, pd.DataFrame, dict]:
    t0 = time.perf_counter()
    out = subprocess.run(
        [str(bin_), "--json", "forecast-many", "--input", str(work / "train.csv"), "--horizon",
         str(holdout), "--level", "95", "--out", str(work / "fc.csv")],
        capture_output=True, text=True, env=dict(os.environ, RUST_LOG="warn"),
    )
    secs = time.perf_counter() - t0
    if out.returncode != 0:
        sys.exit(f"forecast-many failed: {out.stderr}")
    fc = pd.read_csv(work / "fc.csv", parse_dates=["date"])
    fc["date"] = fc.date.dt.date
    return secs, fc, json.loads(out.stdout)


def theirs(train: pd.DataFrame, holdout: int, jobs: int) -> tuple[float, pd.DataFrame]:
    from statsforecast import StatsForecast
    from statsforecast.models import AutoARIMA, AutoETS

    df = train.rename(columns={"id": "unique_id", "date": "ds", "value": "y"})
    df["ds"] = pd.to_datetime(df.ds)
    sf = StatsForecast(models=[AutoARIMA(season_length=7), AutoETS(season_length=7)], freq="D", n_jobs=jobs)
    t0 = time.perf_counter()
    fc = sf.forecast(df=df, h=holdout, level=[95])
    secs = time.perf_counter() - t0
    fc = fc.reset_index() if "unique_id" not in fc.columns else fc
    fc = fc.rename(columns={"unique_id": "id", "ds": "date"})
    fc["date"] = pd.to_datetime(fc.date).dt.date
    return secs, fc


def coverage(hold: pd.DataFrame, fc: pd.DataFrame, lo: str, hi: str) -> float:
    f = fc.merge(hold, on=["id", "date"])
    return float(((f.value >= f[lo]) & (f.value <= f[hi])).mean())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", type=pathlib.Path, default=ROOT / "target" / "release" / "salescast")
    ap.add_argument("--series", type=int, default=1000)
    ap.add_argument("--days", type=int, default=730)
    ap.add_argument("--holdout", type=int, default=28)
    ap.add_argument("--reps", type=int, default=1)
    ap.add_argument("--jobs", type=int, default=os.cpu_count())
    ap.add_argument("--out", type=pathlib.Path, default=ROOT / "bench" / "out" / "many_vs_statsforecast.json")
    a = ap.parse_args()
    from statsforecast import StatsForecast
    from statsforecast.models import AutoARIMA, AutoETS
    import statsforecast

    train, hold = split(generate(a.series, a.days, a.holdout), a.holdout)
    work = pathlib.Path(tempfile.mkdtemp(prefix="many-bench-"))
    train.to_csv(work / "train.csv", index=False)
    # numba compiles on the first call: warm up on two series, outside the timing
    warm = train[train.id.isin(train.id.unique()[:2])].rename(columns={"id": "unique_id", "date": "ds", "value": "y"})
    warm["ds"] = pd.to_datetime(warm.ds)
    StatsForecast(models=[AutoARIMA(season_length=7), AutoETS(season_length=7)], freq="D", n_jobs=1).forecast(df=warm, h=a.holdout, level=[95])

    ours_t, theirs_t = [], []
    for rep in range(a.reps):
        first_ours = rep % 2 == 0
        for side in (["ours", "theirs"] if first_ours else ["theirs", "ours"]):
            if side == "ours":
                t, ofc, summary = ours(a.bin, work, a.holdout)
                ours_t.append(t)
                print(f"rep {rep}: forecast-many {t:.1f} s", flush=True)
            else:
                t, sfc = theirs(train, a.holdout, a.jobs)
                theirs_t.append(t)
                print(f"rep {rep}: statsforecast AutoARIMA+AutoETS {t:.1f} s", flush=True)

    m_ours = mase(train, hold, ofc, "mean")
    m_arima = mase(train, hold, sfc, "AutoARIMA")
    m_ets = mase(train, hold, sfc, "AutoETS")
    result = {
        "series": a.series,
        "history_days": a.days,
        "holdout_days": a.holdout,
        "cores": a.jobs,
        "statsforecast": statsforecast.__version__,
        "seconds": {
            "forecast_many": statistics.median(ours_t),
            "statsforecast_autoarima_autoets": statistics.median(theirs_t),
        },
        "speedup": statistics.median(theirs_t) / statistics.median(ours_t),
        "mean_mase": {
            "forecast_many": float(m_ours.mean()),
            "AutoARIMA": float(m_arima.mean()),
            "AutoETS": float(m_ets.mean()),
        },
        "median_mase": {
            "forecast_many": float(m_ours.median()),
            "AutoARIMA": float(m_arima.median()),
            "AutoETS": float(m_ets.median()),
        },
        "coverage_95": {
            "forecast_many": coverage(hold, ofc, "lower_95", "upper_95"),
            "AutoARIMA": coverage(hold, sfc, "AutoARIMA-lo-95", "AutoARIMA-hi-95"),
            "AutoETS": coverage(hold, sfc, "AutoETS-lo-95", "AutoETS-hi-95"),
        },
        "forecast_many_summary": {k: summary[k] for k in ("series", "selected", "fallbacks", "mean_cv_mase", "models")},
        "runs": {"forecast_many": ours_t, "statsforecast": theirs_t},
    }
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

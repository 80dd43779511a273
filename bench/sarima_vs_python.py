"""SARIMA and the daily champion against statsmodels and statsforecast, same series, same run.

Prints one table with medians over --reps runs:
  1. SARIMA(1,1,1)(1,1,1,7) fit on three years of daily revenue: statsmodels SARIMAX vs ours;
  2. automatic order selection: statsforecast AutoARIMA (second call onward, after numba has
     compiled) vs ours (AutoSarima, weekly);
  3. per-store fitting of the store series with one and with two threads (scaling);
  4. accuracy on the test window (the last 90 days, the holiday season): statsmodels'
     SARIMAX(1,1,1)(1,1,1,7) and statsforecast's AutoARIMA, both fitted on the training days,
     against our daily champion's evaluation fit (models/evaluation/sarima.json, or
     models/sarima.json when training served the evaluation fit), all scaled by the same
     in-sample weekly seasonal-naive MAE.

Needs: `make venv` (Python peers), a pipeline's features/daily.csv and models (the default
pipeline's by default; --data-dir and --models-dir for another data set), and the example
binary (built by this script with cargo, release profile).

    .venv/bin/python bench/sarima_vs_python.py --reps 3
    .venv/bin/python bench/sarima_vs_python.py --data-dir /tmp/s7/features --models-dir /tmp/s7/models
"""

import argparse
import csv
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

ROOT = pathlib.Path(__file__).resolve().parents[1]
warnings.simplefilter("ignore")


def target_dir():
    return pathlib.Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))


def build():
    subprocess.run(["cargo", "build", "--release", "-p", "salescast-sarima", "--example", "sarima_fit"], cwd=ROOT, check=True)
    return target_dir() / "release" / "examples" / "sarima_fit"


def load_daily(features_dir):
    rows = list(csv.DictReader(open(features_dir / "daily.csv")))
    series = {}
    for r in rows:
        s = series.setdefault(r["series"], {"y": [], "split": []})
        s["y"].append(float(r["revenue"]))
        s["split"].append(r["split"])
    return series


def ours(binary, y, order, reps):
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
        f.write("\n".join(map(repr, y)))
        path = f.name
    out = subprocess.run([str(binary), path, order, str(reps)], capture_output=True, text=True, check=True)
    os.unlink(path)
    return json.loads(out.stdout)


def median_time(fn, reps):
    times = []
    result = None
    for _ in range(reps):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), result


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--data-dir", type=pathlib.Path, default=ROOT / "data" / "features", help="directory holding daily.csv")
    ap.add_argument("--models-dir", type=pathlib.Path, default=ROOT / "models")
    ap.add_argument("--accuracy-only", action="store_true", help="skip the timings (sections 1-3)")
    args = ap.parse_args()
    series = load_daily(args.data_dir)
    all_y = np.array(series["ALL"]["y"])
    rows = []
    if not args.accuracy_only:
        timings(build(), series, all_y, rows, args.reps)
    accuracy(series, all_y, rows, args)


def timings(binary, series, all_y, rows, reps):
    import statsmodels.api as sm
    from statsforecast.models import AutoARIMA

    # 1. Fixed-order fit.
    sm_t, sm_fit = median_time(lambda: sm.tsa.SARIMAX(all_y, order=(1, 1, 1), seasonal_order=(1, 1, 1, 7)).fit(disp=False), reps)
    o = ours(binary, all_y.tolist(), "1,1,1,1,1,1,7", reps)
    rows.append(("fit SARIMA(1,1,1)(1,1,1,7), %d days" % len(all_y), sm_t, o["median_seconds"], f"loglik statsmodels {sm_fit.llf:.3f}, ours {o['loglik']:.3f}"))

    # 2. Automatic orders (statsforecast's first call compiles with numba: not timed).
    AutoARIMA(season_length=7).fit(all_y[:200])
    sf_t, sf = median_time(lambda: AutoARIMA(season_length=7).fit(all_y), reps)
    p, q, P, Q, s, d, D = sf.model_["arma"]
    a = ours(binary, all_y.tolist(), "auto:7", reps)
    rows.append(("automatic orders, %d days" % len(all_y), sf_t, a["median_seconds"], f"statsforecast ({p},{d},{q})({P},{D},{Q},{s}), ours {a['order']}"))

    # 3. Per-store fits of one order, in parallel across series: 1 thread vs 2.
    stores = [k for k in series if k != "ALL"][:10]
    paths = []
    for k in stores:
        f = tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False)
        f.write("\n".join(map(repr, series[k]["y"])))
        f.close()
        paths.append(f.name)

    def per_store(threads):
        env = dict(os.environ, RAYON_NUM_THREADS=str(threads))
        out = subprocess.run([str(binary), ",".join(paths), "1,1,1,1,1,1,7", str(reps)], capture_output=True, text=True, env=env, check=True)
        return json.loads(out.stdout)["median_seconds"]

    one, two = per_store(1), per_store(2)
    for p_ in paths:
        os.unlink(p_)
    rows.append((f"{len(stores)} store fits, 1 thread vs 2", one, two, f"scaling {one / two:.2f}x on 2 cores"))


def accuracy(series, all_y, rows, args):
    import statsmodels
    import statsmodels.api as sm
    import statsforecast
    from statsforecast.models import AutoARIMA

    split = series["ALL"]["split"]
    n = split.index("test")
    train, test = all_y[:n], all_y[n:]
    scale = np.mean(np.abs(train[7:] - train[:-7]))
    mase = lambda fc: float(np.mean(np.abs(test - np.asarray(fc))) / scale)
    sf_mase = mase(AutoARIMA(season_length=7).fit(train).predict(len(test))["mean"])
    sm_fit = sm.tsa.SARIMAX(train, order=(1, 1, 1), seasonal_order=(1, 1, 1, 7)).fit(disp=False)
    sm_mase = mase(sm_fit.forecast(len(test)))
    path = args.models_dir / "evaluation" / "sarima.json"
    if not path.exists():
        path = args.models_dir / "sarima.json"
    artifact = json.load(open(path))
    payload = artifact.get("payload", artifact)
    window = payload["test_window"]
    if len(window) != len(test):
        raise SystemExit(f"{path}: test window of {len(window)} days, daily.csv has {len(test)}")
    our_mase = mase([d["mean"] for d in window])
    name = payload["champion"].get("kind")

    print(f"statsmodels {statsmodels.__version__}, statsforecast {statsforecast.__version__}, reps {args.reps} (medians), data {args.data_dir}")
    if rows:
        print(f"{'task':<44} {'python (s)':>11} {'ours (s)':>10} {'ratio':>8}  notes")
    for task, py, rs, note in rows:
        print(f"{task:<44} {py:>11.3f} {rs:>10.3f} {py / rs:>7.1f}x  {note}")
    label = f"MASE, last {len(test)} days"
    print(f"{label:<44} {'python':>11} {'ours':>10} {'ratio':>8}")
    print(f"{'  statsmodels SARIMAX(1,1,1)(1,1,1,7)':<44} {sm_mase:>11.3f} {our_mase:>10.3f} {sm_mase / our_mase:>7.2f}x")
    print(f"{'  statsforecast AutoARIMA':<44} {sf_mase:>11.3f} {our_mase:>10.3f} {sf_mase / our_mase:>7.2f}x")
    best = min(sm_mase, sf_mase)
    verdict = "better" if our_mase < best else "worse"
    print(f"our daily champion ({name}) is {abs(1 - our_mase / best) * 100:.1f}% {verdict} than the better Python peer")


if __name__ == "__main__":
    sys.exit(main())

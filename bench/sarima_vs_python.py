"""SARIMA and the daily champion against statsmodels and statsforecast, same series, same run.

Prints one table with medians over --reps runs:
  1. SARIMA(1,1,1)(1,1,1,7) fit on three years of daily revenue: statsmodels SARIMAX vs ours;
  2. automatic order selection: statsforecast AutoARIMA (second call onward, after numba has
     compiled) vs ours (AutoSarima, weekly);
  3. per-store fitting of the store series with one and with two threads (scaling);
  4. accuracy on the last 90 days (the holiday season): statsforecast AutoARIMA's MASE vs our
     daily champion's (from models/sarima.json, written by `salescast train --model sarima`).

Needs: `make venv` (Python peers), the default pipeline's data/features/daily.csv and
models/sarima.json, and the example binary (built by this script with cargo, release profile).

    .venv/bin/python bench/sarima_vs_python.py --reps 3
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


def load_daily():
    rows = list(csv.DictReader(open(ROOT / "data" / "features" / "daily.csv")))
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
    args = ap.parse_args()
    import statsmodels
    import statsmodels.api as sm
    import statsforecast
    from statsforecast.models import AutoARIMA

    binary = build()
    series = load_daily()
    all_y = np.array(series["ALL"]["y"])
    rows = []

    # 1. Fixed-order fit.
    sm_t, sm_fit = median_time(lambda: sm.tsa.SARIMAX(all_y, order=(1, 1, 1), seasonal_order=(1, 1, 1, 7)).fit(disp=False), args.reps)
    o = ours(binary, all_y.tolist(), "1,1,1,1,1,1,7", args.reps)
    rows.append(("fit SARIMA(1,1,1)(1,1,1,7), %d days" % len(all_y), sm_t, o["median_seconds"], f"loglik statsmodels {sm_fit.llf:.3f}, ours {o['loglik']:.3f}"))

    # 2. Automatic orders (statsforecast's first call compiles with numba: not timed).
    AutoARIMA(season_length=7).fit(all_y[:200])
    sf_t, sf = median_time(lambda: AutoARIMA(season_length=7).fit(all_y), args.reps)
    p, q, P, Q, s, d, D = sf.model_["arma"]
    a = ours(binary, all_y.tolist(), "auto:7", args.reps)
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
        out = subprocess.run([str(binary), ",".join(paths), "1,1,1,1,1,1,7", str(args.reps)], capture_output=True, text=True, env=env, check=True)
        return json.loads(out.stdout)["median_seconds"]

    one, two = per_store(1), per_store(2)
    for p_ in paths:
        os.unlink(p_)
    rows.append((f"{len(stores)} store fits, 1 thread vs 2", one, two, f"scaling {one / two:.2f}x on 2 cores"))

    # 4. Accuracy on the test window.
    split = series["ALL"]["split"]
    n = split.index("test")
    train, test = all_y[:n], all_y[n:]
    scale = np.mean(np.abs(train[7:] - train[:-7]))
    m = AutoARIMA(season_length=7).fit(train)
    fc = m.predict(len(test))["mean"]
    sf_mase = float(np.mean(np.abs(test - fc)) / scale)
    artifact = json.load(open(ROOT / "models" / "sarima.json"))
    payload = artifact.get("payload", artifact)
    our_mase = payload["test"]["mase"]
    champion = payload["champion"]
    name = champion.get("kind")

    print(f"statsmodels {statsmodels.__version__}, statsforecast {statsforecast.__version__}, reps {args.reps} (medians)")
    print(f"{'task':<44} {'python (s)':>11} {'ours (s)':>10} {'ratio':>8}  notes")
    for task, py, rs, note in rows:
        print(f"{task:<44} {py:>11.3f} {rs:>10.3f} {py / rs:>7.1f}x  {note}")
    print(f"{'MASE, last %d days (holiday season)' % len(test):<44} {sf_mase:>11.3f} {our_mase:>10.3f} {sf_mase / our_mase:>7.2f}x  statsforecast AutoARIMA vs our daily champion ({name})")


if __name__ == "__main__":
    sys.exit(main())

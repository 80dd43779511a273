"""Data drift on 1,000,000 current rows against a 50,000-row reference: salescast's monitor
statistics against Evidently 0.7.21's DataDriftPreset, on the same Parquet files, in one run.

Prints the median seconds of each over --reps runs, the ratio, our peak RSS, and whether the
two agree on every column's test, score (within 1e-9) and decision.

    .venv/bin/pip install evidently==0.7.21      # once
    .venv/bin/python bench/monitor_vs_evidently.py --reps 3
"""

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

ROOT = pathlib.Path(__file__).resolve().parents[1]
warnings.simplefilter("ignore")


def frame(n, seed, shift):
    rng = np.random.default_rng(seed)
    lognormal = lambda scale: np.round(np.exp(rng.random(n) * 2.0) * scale * (1 + shift), 2)
    return pd.DataFrame({
        "store_id": rng.choice([f"S{i:02d}" for i in range(10)], n),
        "product_id": rng.choice([f"P{i:04d}" for i in range(300)], n),
        "category": rng.choice([f"C{i}" for i in range(8)], n),
        "unit_price": lognormal(20.0),
        "discount": rng.choice([0.0, 0.05, 0.1, 0.2], n),
        "promotion": rng.choice(["false", "true"], n),
        "customer_segment": rng.choice(["New", "Premium", "Regular"], n),
        "payment_method": rng.choice(["Card", "Cash", "Mobile"], n),
        "revenue": lognormal(60.0),
        "prediction_random_forest": lognormal(60.0),
        "prediction_gradient_boosting": lognormal(60.0),
    })


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--rows", type=int, default=1_000_000)
    args = ap.parse_args()
    import evidently
    from evidently import Report
    from evidently.presets import DataDriftPreset

    subprocess.run(["cargo", "build", "--release", "-p", "salescast-monitor", "--example", "drift_files"], cwd=ROOT, check=True)
    binary = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "release" / "examples" / "drift_files"
    ref, cur = frame(50_000, 1, 0.0), frame(args.rows, 2, 0.02)
    tmp = pathlib.Path(tempfile.mkdtemp())
    ref.to_parquet(tmp / "ref.parquet")
    cur.to_parquet(tmp / "cur.parquet")

    ours, wall, rss = [], [], []
    out = None
    for _ in range(args.reps):
        t = time.perf_counter()
        # GNU time reports the binary's own peak RSS (a child forked from this process would
        # inherit the interpreter's high-water mark before exec).
        p = subprocess.run(["/usr/bin/time", "-f", "%M", str(binary), str(tmp / "ref.parquet"), str(tmp / "cur.parquet")], capture_output=True, text=True, check=True)
        wall.append(time.perf_counter() - t)
        rss.append(int(p.stderr.strip().splitlines()[-1]) / 1024)
        out = json.loads(p.stdout)
        ours.append(out["seconds"])
    rss_mb = max(rss)

    theirs = []
    snap = None
    for _ in range(args.reps):
        t = time.perf_counter()
        snap = Report([DataDriftPreset()]).run(cur, ref)
        theirs.append(time.perf_counter() - t)
    values = {}
    for m in snap.dict()["metrics"]:
        cfg = m["config"]
        if cfg.get("type", "").endswith("ValueDrift"):
            values[cfg["column"]] = (m["metric_name"], m["value"])
    agree = 0
    for c in out["columns"]:
        name, v = values.get(c["column"], (None, None))
        if v is not None and c["score"] is not None and abs(v - c["score"]) <= 1e-9 and c["test"] in name:
            agree += 1
        else:
            print(f"  differs: {c['column']}: ours {c['test']} {c['score']}, Evidently {name} {v}")

    o, w, e = statistics.median(ours), statistics.median(wall), statistics.median(theirs)
    print(f"evidently {evidently.__version__}; {args.rows} current rows x {len(cur.columns)} columns vs {len(ref)} reference rows; medians of {args.reps}")
    print(f"{'salescast drift (compute)':<36} {o:9.3f} s")
    print(f"{'salescast drift (process, incl. Parquet read)':<36} {w:9.3f} s   peak RSS {rss_mb:.0f} MB")
    print(f"{'Evidently DataDriftPreset':<36} {e:9.3f} s")
    print(f"ratio: {e / o:.0f}x (compute), {e / w:.0f}x (whole process); {agree}/{len(out['columns'])} columns agree with Evidently's scores")


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark: Salescast's random forest and gradient boosting against scikit-learn's
RandomForestRegressor and XGBoost's XGBRegressor, on exactly the same features and split
(the Parquet files `salescast features` wrote), in the same run.

Prints fit seconds, predict rows/s, MAE, RMSE, R², model size on disk, and the ratios, plus the
seasonal-naive baseline. Boosting's 300 rounds and XGBoost are fitted in turn, `--reps` times
each, and compared by their medians: the machine is shared and its speed drifts within a run.
Usage (repository root, after `make venv` and a release build):

    .venv/bin/python bench/models_vs_sklearn.py [--bin target/release/salescast] [--reps 3]
"""

import argparse
import json
import os
import pickle
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd


def sh(cmd, env=None):
    p = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "RUST_LOG": "warn", **(env or {})})
    if p.returncode != 0:
        sys.exit(f"failed: {' '.join(map(str, cmd))}\n{p.stderr}")
    return p.stdout


def scores(y, p):
    err = y - p
    return {"mae": float(np.mean(np.abs(err))), "rmse": float(np.sqrt(np.mean(err ** 2))),
            "r2": float(1 - np.sum(err ** 2) / np.sum((y - y.mean()) ** 2))}


def peer(name, model, xtr, ytr, xte, yte, tmp):
    t0 = time.perf_counter()
    model.fit(xtr, ytr)
    fit = time.perf_counter() - t0
    runs = []
    for _ in range(3):
        t0 = time.perf_counter()
        p = model.predict(xte)
        runs.append(time.perf_counter() - t0)
    path = tmp / f"{name}.model"
    if hasattr(model, "save_model"):
        model.save_model(str(path.with_suffix(".ubj")))
        size = path.with_suffix(".ubj").stat().st_size
    else:
        with open(path, "wb") as f:
            pickle.dump(model, f, protocol=pickle.HIGHEST_PROTOCOL)
        size = path.stat().st_size
    return {"fit_seconds": fit, "rows_per_second": len(yte) / statistics.median(runs), "size": size, **scores(yte, p)}


def median_run(runs):
    """The run of median fit time (fit seconds: the median of all)."""
    mid = sorted(runs, key=lambda r: r["fit_seconds"])[len(runs) // 2]
    return {**mid, "fit_seconds": statistics.median(r["fit_seconds"] for r in runs)}


def paired(sc, fdir, tmp, reps, params, make_peer, xtr, ytr, xte, yte):
    """Our boosting and the peer's, one fit each in turn, `reps` times: on a shared machine
    whose speed drifts, both sides then meet the same moments. Medians of each side."""
    mine, theirs = [], []
    for r in range(reps):
        mine.append(ours(sc, fdir, tmp / f"pair{r}", 1, "gradient_boosting", params)[0])
        theirs.append(peer("xgb", make_peer(), xtr, ytr, xte, yte, tmp))
    return median_run(mine), median_run(theirs)


def ours(sc, fdir, tmp, reps, model, params=None):
    runs = []
    for r in range(reps):
        env = {"SALESCAST_PARAMS": str(params)} if params else {}
        out = json.loads(sh([sc, "train", "--no-track", "--data-dir", fdir, "--models-dir", tmp / f"m{r}", "--model", model, "--json"], env))
        runs.append(out)
    reports = [o["models"][0] for o in runs]
    best = sorted(reports, key=lambda m: m["fit_seconds"])[len(reports) // 2]
    return {"fit_seconds": statistics.median(m["fit_seconds"] for m in reports),
            "rows_per_second": statistics.median(m["predict_rows_per_second"] for m in reports),
            "size": best["artifact_bytes"], **best["test"], "extra": best}, runs[0]["baseline"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="target/release/salescast")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--rows", type=int, default=300_000)
    a = ap.parse_args()
    sc = str(Path(a.bin).resolve())
    import sklearn
    import xgboost
    from sklearn.ensemble import RandomForestRegressor
    from xgboost import XGBRegressor

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        sh([sc, "generate", "--out", tmp / "raw.csv", "--rows", str(a.rows)])
        sh([sc, "preprocess", "--input", tmp / "raw.csv", "--out-dir", tmp / "processed"])
        sh([sc, "features", "--in-dir", tmp / "processed", "--out-dir", tmp / "features"])
        fdir = tmp / "features"
        names = json.loads((fdir / "transform.json").read_text())["payload"]["feature_names"]
        tr = pd.read_parquet(fdir / "train.parquet")
        te = pd.read_parquet(fdir / "test.parquet")
        xtr, ytr = tr[names].to_numpy(), tr["revenue"].to_numpy()
        xte, yte = te[names].to_numpy(), te["revenue"].to_numpy()

        rf_ours, base = ours(sc, fdir, tmp, a.reps, "random_forest")
        gb_ours, _ = ours(sc, fdir, tmp, a.reps, "gradient_boosting")
        no_es = tmp / "params_no_early_stop.yaml"
        no_es.write_text("train:\n  gradient_boosting:\n    n_rounds: 300\n    early_stopping_rounds: 0\n")
        gb300_ours, gb_peer = paired(sc, fdir, tmp, a.reps, no_es,
                                     lambda: XGBRegressor(tree_method="hist", n_estimators=300),
                                     xtr, ytr, xte, yte)
        # One fit: it takes over three minutes, and is far from the bar either way.
        rf_peer = peer("rf", RandomForestRegressor(n_estimators=100, n_jobs=-1, random_state=0), xtr, ytr, xte, yte, tmp)

    print(f"\n{len(ytr):,} training rows, {len(yte):,} test rows, {len(names)} features; "
          f"scikit-learn {sklearn.__version__}, xgboost {xgboost.__version__}; medians of {a.reps} runs "
          f"(300 rounds and XGBoost fitted in turn; scikit-learn's forest fitted once)\n")
    hdr = f"{'model':<42} {'fit s':>8} {'predict rows/s':>15} {'MAE':>8} {'RMSE':>8} {'R2':>7} {'size MB':>9}"
    print(hdr)
    print("-" * len(hdr))

    def line(name, r):
        print(f"{name:<42} {r['fit_seconds']:>8.2f} {r['rows_per_second']:>15,.0f} {r['mae']:>8.3f} {r['rmse']:>8.2f} {r['r2']:>7.4f} {r['size'] / 1e6:>9.2f}")

    line("salescast random_forest", rf_ours)
    line("scikit-learn RandomForestRegressor(100)", rf_peer)
    line("salescast gradient_boosting (early stop)", gb_ours)
    line("salescast gradient_boosting (300 rounds)", gb300_ours)
    line("xgboost XGBRegressor(hist, 300)", gb_peer)
    print(f"{'seasonal naive (weekday last week)':<42} {'':>8} {'':>15} {base['mae']:>8.3f} {base['rmse']:>8.2f} {base['r2']:>7.4f}")

    def ratios(name, o, p, need_fit):
        fit = p["fit_seconds"] / o["fit_seconds"]
        thr = o["rows_per_second"] / p["rows_per_second"]
        mae = 100 * (o["mae"] - p["mae"]) / p["mae"]
        ok = fit >= need_fit and thr >= 2 and mae <= 2 and o["size"] < 20e6
        print(f"{name:<42} fit {fit:6.1f}x faster (need {need_fit}x)  predict {thr:5.1f}x  "
              f"MAE {mae:+.2f}% (need <= +2%)  size {o['size'] / 1e6:.1f} MB  -> {'met' if ok else 'MISSED'}")

    print()
    ratios("random forest vs scikit-learn", rf_ours, rf_peer, 5)
    ratios("boosting (early stop) vs xgboost", gb_ours, gb_peer, 2)
    ratios("boosting (300 rounds) vs xgboost", gb300_ours, gb_peer, 2)
    print(f"{'models vs seasonal naive (MAE)':<42} random forest {100 * (1 - rf_ours['mae'] / base['mae']):.0f}% lower, "
          f"boosting {100 * (1 - gb_ours['mae'] / base['mae']):.0f}% lower")


if __name__ == "__main__":
    main()

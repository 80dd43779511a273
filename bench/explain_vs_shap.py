"""Exact TreeSHAP on the train stage's sample: salescast's explainer against the shap
package's TreeExplainer (path-dependent, float64), on the same trees and the same rows, in one
run.

The model is the one the train stage explains: `<models>/evaluation/<model>.bin` (the fit on
the training days) when it exists, else `<models>/<model>.bin`; the rows are the test days'
features, at most 2,000 evenly spaced, as `salescast train` takes them for its mean |SHAP|.
Prints the median seconds of three runs of ours and of --reps runs of shap's (one by default:
on the default forest one run of shap takes minutes), the ratios, and the largest difference
between the two sides' values; exits 1 when it is 1e-9 or more.

    make repro                                       # or any models and features directories
    .venv/bin/python bench/explain_vs_shap.py --models models --features data/features
"""

import argparse
import json
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import pyarrow.parquet as pq
import shap

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
from shap_fixtures import shap_model  # noqa: E402

# What `salescast train` explains at most (salescast_models::serving::SHAP_IMPORTANCE_ROWS).
MAX_ROWS = 2000


def example(*args: str) -> str:
    cmd = ["cargo", "run", "--release", "-q", "-p", "salescast-models", "--example", "explain_bench", "--", *args]
    return subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, text=True).stdout


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", default="models", help="a models directory (default: models)")
    ap.add_argument("--features", default="data/features", help="the features directory (default: data/features)")
    ap.add_argument("--model", default="random_forest", choices=["random_forest", "gradient_boosting"])
    ap.add_argument("--reps", type=int, default=1, help="runs of shap's explainer (default 1)")
    ap.add_argument("--json", help="also write the figures to this file")
    args = ap.parse_args()
    models = pathlib.Path(args.models)
    model = models / "evaluation" / f"{args.model}.bin"
    if not model.exists():
        model = models / f"{args.model}.bin"
    if not model.exists():
        sys.exit(f"no {args.model}.bin in {models} or {models / 'evaluation'}: run `make repro` first")
    names = json.loads(example("names", str(model)))
    test = pq.read_table(pathlib.Path(args.features) / "test.parquet", columns=names)
    x = np.column_stack([test.column(n).to_numpy().astype(np.float64) for n in names])
    step = max(1, -(-len(x) // MAX_ROWS))
    rows = np.ascontiguousarray(x[::step])

    with tempfile.TemporaryDirectory() as tmp:
        out = pathlib.Path(tmp)
        rows.astype("<f8").tofile(out / "rows.f64")
        example("run", str(model), str(out / "rows.f64"), str(out))
        ours = json.loads((out / "timings.json").read_text())
        our_values = np.fromfile(out / "values.f64", dtype="<f8").reshape(rows.shape)
        explainer = shap.TreeExplainer(
            shap_model(out / "trees.json"), feature_perturbation="tree_path_dependent"
        )
    times = []
    for _ in range(max(1, args.reps)):
        t = time.perf_counter()
        values = explainer.shap_values(rows, check_additivity=False)
        times.append(time.perf_counter() - t)
    theirs = statistics.median(times)
    worst = float(np.max(np.abs(values - our_values)))
    figures = {
        "model": str(model),
        "rows": len(rows),
        "features": len(names),
        "salescast_all_cores_seconds": ours["all_cores_seconds"],
        "salescast_threads": ours["threads"],
        "salescast_one_core_seconds": ours["one_core_seconds"],
        "salescast_first_row_seconds": ours["first_row_seconds"],
        "shap_seconds": theirs,
        "shap_version": shap.__version__,
        "largest_difference": worst,
    }
    print(f"{args.model} ({model}), {len(rows)} rows x {len(names)} features, medians:")
    print(f"  salescast, {ours['threads']} threads: {ours['all_cores_seconds']:8.3f} s")
    print(f"  salescast, 1 thread:  {ours['one_core_seconds']:8.3f} s")
    print(f"  shap {shap.__version__} TreeExplainer: {theirs:8.3f} s")
    print(f"  shap / salescast: {theirs / ours['all_cores_seconds']:.2f}x (all cores), "
          f"{theirs / ours['one_core_seconds']:.2f}x (one core each)")
    print(f"  largest difference between the two sides' values: {worst:.3e}")
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")
    return 0 if worst < 1e-9 else 1


if __name__ == "__main__":
    sys.exit(main())

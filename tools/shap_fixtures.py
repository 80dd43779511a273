#!/usr/bin/env python3
"""Makes the committed TreeSHAP fixtures: fitted models from our own learner, and the SHAP
values the `shap` package computes for them, which crates/models/tests/shap.rs compares ours
against (to within 1e-9; they agree to about 1e-12).

    .venv/bin/python tools/shap_fixtures.py [--out crates/models/tests/fixtures/shap]

It runs `cargo run -p salescast-models --example shap_fixture` to fit a boosting model and a
forest on generated data and to export their trees in the custom-tree form shap.TreeExplainer
takes (salescast_models::explain::shap_trees), then explains 1,000 rows with shap's
path-dependent TreeSHAP ("tree_path_dependent", no background data) in float64.
"""

import argparse
import json
import pathlib
import subprocess
import sys

import numpy as np
import shap

ROOT = pathlib.Path(__file__).resolve().parent.parent
MODELS = ["gradient_boosting", "random_forest"]


def shap_model(path: pathlib.Path) -> dict:
    """The exported trees as the dict shap.TreeExplainer accepts, in float64 throughout."""
    exported = json.loads(path.read_text())
    trees = []
    for t in exported["trees"]:
        thresholds = [np.inf if v is None else v for v in t["thresholds"]]
        trees.append(
            {
                "children_left": np.array(t["children_left"], dtype=np.int32),
                "children_right": np.array(t["children_right"], dtype=np.int32),
                "children_default": np.array(t["children_default"], dtype=np.int32),
                "features": np.array(t["features"], dtype=np.int32),
                "thresholds": np.array(thresholds, dtype=np.float64),
                "values": np.array(t["values"], dtype=np.float64).reshape(-1, 1),
                "node_sample_weight": np.array(t["node_sample_weight"], dtype=np.float64),
            }
        )
    return {
        "trees": trees,
        "base_offset": exported["base_offset"],
        "tree_output": "raw_value",
        "objective": "squared_error",
        "input_dtype": np.float64,
        "internal_dtype": np.float64,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=str(ROOT / "crates/models/tests/fixtures/shap"))
    args = ap.parse_args()
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["cargo", "run", "-q", "-p", "salescast-models", "--example", "shap_fixture", "--", str(out)],
        cwd=ROOT,
        check=True,
    )
    rows = np.array(json.loads((out / "rows.json").read_text()), dtype=np.float64)
    for name in MODELS:
        trees = out / f"{name}.trees.json"
        explainer = shap.TreeExplainer(shap_model(trees), feature_perturbation="tree_path_dependent")
        values = explainer.shap_values(rows, check_additivity=False)
        expected = float(np.asarray(explainer.expected_value).reshape(-1)[0])
        (out / f"{name}.shap.json").write_text(
            json.dumps({"shap_version": shap.__version__, "expected_value": expected, "values": values.tolist()})
        )
        trees.unlink()
        print(f"{name}: {values.shape[0]} rows x {values.shape[1]} features, expected value {expected:.6f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

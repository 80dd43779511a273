"""Writes crates/monitor/tests/fixtures/evidently.json: column pairs and what Evidently and scipy
report for them, so the monitor's statistics are checked against the reference tools without
Python at test time.

    .venv/bin/pip install evidently==0.7.21 scipy
    .venv/bin/python tools/monitor_fixtures.py

Each case holds the reference and current values, the column type given to Evidently, its
default test's name, score and decision, the forced PSI, Jensen-Shannon and (numeric) normed
Wasserstein scores, and scipy's ks_2samp for numeric columns. One dataset case adds Evidently's
dataset drift over several columns.
"""

import json
import pathlib
import warnings

import numpy as np
import pandas as pd
import scipy
import scipy.stats
import evidently
from evidently.legacy.metrics import ColumnDriftMetric, DatasetDriftMetric
from evidently.legacy.pipeline.column_mapping import ColumnMapping
from evidently.legacy.report import Report

warnings.simplefilter("ignore")
OUT = pathlib.Path(__file__).resolve().parents[1] / "crates" / "monitor" / "tests" / "fixtures" / "evidently.json"


def column_result(ref, cur, kind, stattest=None):
    mapping = ColumnMapping(
        numerical_features=["x"] if kind == "numerical" else [],
        categorical_features=["x"] if kind == "categorical" else [],
        target=None,
        prediction=None,
    )
    metric = ColumnDriftMetric("x", stattest=stattest) if stattest else ColumnDriftMetric("x")
    r = Report(metrics=[metric])
    r.run(reference_data=pd.DataFrame({"x": ref}), current_data=pd.DataFrame({"x": cur}), column_mapping=mapping)
    res = r.as_dict()["metrics"][0]["result"]
    return {
        "test_name": res["stattest_name"],
        "score": float(res["drift_score"]),
        "threshold": float(res["stattest_threshold"]),
        "drifted": bool(res["drift_detected"]),
    }


def case(name, ref, cur, kind):
    c = {
        "name": name,
        "type": kind,
        "reference": [v if kind == "categorical" else float(v) for v in ref],
        "current": [v if kind == "categorical" else float(v) for v in cur],
        "default": column_result(ref, cur, kind),
        "psi": column_result(ref, cur, kind, "psi"),
        "jensenshannon": column_result(ref, cur, kind, "jensenshannon"),
    }
    if kind == "numerical":
        c["wasserstein"] = column_result(ref, cur, kind, "wasserstein")
        ks = scipy.stats.ks_2samp(ref, cur)
        c["scipy_ks"] = {"statistic": float(ks.statistic), "pvalue": float(ks.pvalue)}
        c["ks"] = column_result(ref, cur, kind, "ks")
    return c


def main():
    rng = np.random.default_rng(20261204)
    r = lambda x: np.round(x, 4)
    cases = [
        case("numeric, small reference: KS exact", r(rng.normal(50, 10, 800)), r(rng.normal(51.5, 10, 1200)), "numerical"),
        case("numeric, small reference, equal sizes: KS exact", r(rng.normal(0, 1, 300)), r(rng.normal(0.1, 1, 300)), "numerical"),
        case("numeric, small reference, large current: KS asymptotic", r(rng.normal(10, 2, 600)), r(rng.normal(10.15, 2, 12000)), "numerical"),
        case("numeric, small reference, no drift: KS asymptotic", r(rng.normal(10, 2, 900)), r(rng.normal(10, 2, 15000)), "numerical"),
        case("numeric, 4 values: chi-squared", rng.choice([1.0, 2.0, 3.0, 4.0], 700, p=[0.1, 0.2, 0.3, 0.4]), rng.choice([1.0, 2.0, 3.0, 4.0], 900, p=[0.15, 0.2, 0.3, 0.35]), "numerical"),
        case("numeric, 2 values: z-test", rng.choice([0.0, 1.0], 500, p=[0.7, 0.3]), rng.choice([0.0, 1.0], 600, p=[0.62, 0.38]), "numerical"),
        case("categorical, small reference, a new category: chi-squared", list(rng.choice(list("abcde"), 900)), list(rng.choice(list("abcdef"), 800, p=[0.2, 0.2, 0.2, 0.2, 0.15, 0.05])), "categorical"),
        case("categorical, small reference, 2 values: z-test", list(rng.choice(["no", "yes"], 400, p=[0.6, 0.4])), list(rng.choice(["no", "yes"], 300, p=[0.5, 0.5])), "categorical"),
        case("numeric, large reference: normed Wasserstein, Sturges bins", r(rng.lognormal(3, 0.5, 5000)), r(rng.lognormal(3, 0.5, 4000) * 1.1), "numerical"),
        case("numeric, large reference, no drift", r(rng.lognormal(3, 0.5, 6000)), r(rng.lognormal(3, 0.5, 3000)), "numerical"),
        case("numeric, large reference, 4 values: Jensen-Shannon", rng.choice([0.0, 0.05, 0.1, 0.2], 3000, p=[0.5, 0.2, 0.2, 0.1]), rng.choice([0.0, 0.05, 0.1, 0.2], 2500, p=[0.4, 0.25, 0.2, 0.15]), "numerical"),
        case("numeric, large reference, 16 values: per-value bins", rng.integers(0, 16, 2000).astype(float), rng.integers(0, 18, 2000).astype(float), "numerical"),
        case("categorical, large reference, a new category: Jensen-Shannon", list(rng.choice([f"c{i:02d}" for i in range(20)], 5000)), list(rng.choice([f"c{i:02d}" for i in range(21)], 3000)), "categorical"),
    ]
    # Dataset drift over four columns: two drift, two do not (share 0.5 = the threshold).
    n = 1500
    ref = pd.DataFrame({
        "a": r(rng.normal(0, 1, n)), "b": r(rng.normal(0, 1, n)),
        "c": rng.choice(list("xyz"), n), "d": rng.choice(list("xyz"), n),
    })
    cur = pd.DataFrame({
        "a": r(rng.normal(0.5, 1, n)), "b": r(rng.normal(0, 1, n)),
        "c": rng.choice(list("xyz"), n, p=[0.6, 0.2, 0.2]), "d": rng.choice(list("xyz"), n),
    })
    mapping = ColumnMapping(numerical_features=["a", "b"], categorical_features=["c", "d"], target=None, prediction=None)
    rep = Report(metrics=[DatasetDriftMetric()] + [ColumnDriftMetric(c) for c in "abcd"])
    rep.run(reference_data=ref, current_data=cur, column_mapping=mapping)
    ms = rep.as_dict()["metrics"]
    dataset = {
        "columns": {
            k: {"type": "numerical" if k in "ab" else "categorical", "reference": [float(v) if k in "ab" else v for v in ref[k]], "current": [float(v) if k in "ab" else v for v in cur[k]]}
            for k in "abcd"
        },
        "per_column": {m["result"]["column_name"]: {"test_name": m["result"]["stattest_name"], "score": float(m["result"]["drift_score"]), "drifted": bool(m["result"]["drift_detected"])} for m in ms[1:]},
        "number_of_columns": ms[0]["result"]["number_of_columns"],
        "number_of_drifted_columns": ms[0]["result"]["number_of_drifted_columns"],
        "share_of_drifted_columns": ms[0]["result"]["share_of_drifted_columns"],
        "dataset_drift": bool(ms[0]["result"]["dataset_drift"]),
    }
    doc = {
        "generated_by": "tools/monitor_fixtures.py",
        "versions": {"evidently": evidently.__version__, "scipy": scipy.__version__, "numpy": np.__version__, "pandas": pd.__version__},
        "cases": cases,
        "dataset": dataset,
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(doc, indent=None, separators=(",", ":")) + "\n")
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes, {len(cases)} cases)")


if __name__ == "__main__":
    main()

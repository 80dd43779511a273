"""Benchmark: `salescast tune` against Optuna's TPE on the same search: the same space (the
`tune:` section of params.yaml, with the same log scales), the same rolling-origin folds of the
training days, the same number of trials, the same start (the defaults as trial 0, then 10
random candidates) and the same objective: our gradient boosting scored on the folds, which
Optuna calls through `salescast tune --evaluate` (one process per trial, as an outside
optimiser must; that process's start and data load are part of Optuna's time and are measured
separately). Both run two trials at once.

Prints the best cross-validated (fold) MAE each found, the defaults' MAE and the wall time of
each, and writes bench/out/tune_vs_optuna.json. Usage (repository root, after the pipeline ran
and `make venv`):

    .venv/bin/python bench/tune_vs_optuna.py [--bin target/release/salescast] [--trials 40] [--reps 3]

With `--reps`, both searches run that many times in turn and the medians are reported (the
machine is shared and its speed drifts).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import optuna
import yaml

ENV = {**os.environ, "RUST_LOG": "warn", "SALESCAST_NO_TRACK": "true"}

# (name, log scale, integer) in the order `salescast tune` searches them.
DIMS = {
    "gradient_boosting": [
        ("learning_rate", True, False),
        ("max_depth", False, True),
        ("min_child_weight", True, False),
        ("lambda", True, False),
        ("subsample", False, False),
        ("colsample", False, False),
    ],
    "random_forest": [
        ("max_depth", False, True),
        ("max_features", False, False),
        ("min_samples_leaf", True, True),
    ],
}


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True, env=ENV)
    if p.returncode != 0:
        sys.exit(f"failed: {' '.join(map(str, cmd))}\n{p.stderr}")
    return p.stdout


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", default="target/release/salescast")
    ap.add_argument("--data-dir", default="data/features")
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--model", default="gradient_boosting", choices=sorted(DIMS))
    ap.add_argument("--trials", type=int, default=40)
    ap.add_argument("--reps", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="bench/out/tune_vs_optuna.json")
    a = ap.parse_args()
    if a.trials < 12:
        sys.exit("--trials: at least 12 (the defaults and 10 random candidates come first)")
    params = yaml.safe_load(Path(a.params).read_text()) or {}
    tune = params.get("tune") or {}
    space = tune.get(a.model) or {}
    parallel = int(tune.get("parallel", 2))
    startup = int(tune.get("startup_trials", 10))
    tmp = Path(tempfile.mkdtemp(prefix="tune-bench-"))

    def one_rep(rep):
        # Ours: the whole search in one process.
        t0 = time.perf_counter()
        out = run([a.bin, "--params", a.params, "--json", "tune", "--model", a.model,
                   "--data-dir", a.data_dir, "--out-dir", str(tmp / f"ours{rep}"),
                   "--params-out", str(tmp / "tuned.yaml"), "--trials", str(a.trials),
                   "--time-budget", "1e9", "--seed", str(a.seed), "--fresh", "--no-track"])
        ours_secs = time.perf_counter() - t0
        ours = json.loads(out)
        defaults = {t["number"]: t for t in ours["all"]}[0]["params"]

        # Optuna: TPE with the same start, calling our objective once per trial.
        evaluate_secs = []

        def objective(trial):
            values = {}
            for name, log, integer in DIMS[a.model]:
                lo, hi = space[name]
                if integer:
                    values[name] = float(trial.suggest_int(name, int(lo), int(hi), log=log))
                else:
                    values[name] = trial.suggest_float(name, float(lo), float(hi), log=log)
            t = time.perf_counter()
            res = json.loads(run([a.bin, "--params", a.params, "tune", "--model", a.model,
                                  "--data-dir", a.data_dir, "--evaluate", json.dumps(values)]))
            evaluate_secs.append(time.perf_counter() - t)
            return res["cv_mae"]

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        sampler = optuna.samplers.TPESampler(seed=a.seed, n_startup_trials=startup + 1)
        study = optuna.create_study(direction="minimize", sampler=sampler)
        study.enqueue_trial({k: (int(v) if integer else v)
                             for (k, _, integer), v in ((d, defaults[d[0]]) for d in DIMS[a.model])})
        t0 = time.perf_counter()
        study.optimize(objective, n_trials=a.trials, n_jobs=parallel)
        optuna_secs = time.perf_counter() - t0
        return ours, ours_secs, study, optuna_secs, evaluate_secs

    reps = [one_rep(r) for r in range(a.reps)]
    ours, _, study, _, _ = reps[-1]
    ours_secs = statistics.median(r[1] for r in reps)
    optuna_secs = statistics.median(r[3] for r in reps)
    optuna_best = statistics.median(r[2].best_value for r in reps)
    ours_best = statistics.median(r[0]["best_cv_mae"] for r in reps)
    evaluate_secs = [x for r in reps for x in r[4]]
    defaults_mae = ours["defaults_cv_mae"]
    result = {
        "model": a.model,
        "trials": a.trials,
        "parallel": parallel,
        "defaults_cv_mae": defaults_mae,
        "reps": a.reps,
        "salescast": {"best_cv_mae": ours_best, "best_trial": ours["best_trial"],
                      "seconds": ours_secs, "seconds_each": [r[1] for r in reps],
                      "median_trial_seconds": statistics.median(t["seconds"] for t in ours["all"])},
        "optuna": {"best_cv_mae": optuna_best, "best_each": [r[2].best_value for r in reps],
                   "seconds": optuna_secs, "seconds_each": [r[3] for r in reps],
                   "median_objective_call_seconds": statistics.median(evaluate_secs),
                   "optuna_version": optuna.__version__},
    }
    result["wall_time_ratio_optuna_over_salescast"] = optuna_secs / ours_secs
    result["best_mae_ratio_optuna_over_salescast"] = optuna_best / ours_best
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(result, indent=2) + "\n")
    print(f"{a.model}: {a.trials} trials, {parallel} at once, medians of {a.reps} run(s); "
          f"defaults' fold MAE {defaults_mae:.4f}")
    print(f"{'':10} {'best fold MAE':>14} {'vs defaults':>12} {'wall s':>9}")
    for name, best, secs in [("salescast", ours_best, ours_secs),
                             ("optuna", optuna_best, optuna_secs)]:
        print(f"{name:10} {best:14.4f} {100 * (best / defaults_mae - 1):+11.2f}% {secs:9.1f}")
    print(f"Optuna's wall time / ours: {result['wall_time_ratio_optuna_over_salescast']:.2f}; "
          f"its best MAE / ours: {result['best_mae_ratio_optuna_over_salescast']:.4f}")
    print(f"median seconds per trial: ours {result['salescast']['median_trial_seconds']:.2f}, "
          f"Optuna's objective call {result['optuna']['median_objective_call_seconds']:.2f}")


if __name__ == "__main__":
    main()

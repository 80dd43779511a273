"""Fixtures: the `salescast` binary the package must agree with, a small trained project made
with it, generated long series, and a local Spark session."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]

PARAMS = """
split:
  test_days: 30
train:
  models: [random_forest, gradient_boosting]
  random_forest: {n_trees: 8, max_depth: 8, min_samples_leaf: 20, max_features: 0.6, bootstrap: true, seed: 0}
  gradient_boosting: {n_rounds: 25, learning_rate: 0.2, max_depth: 4, min_child_weight: 1.0, lambda: 1.0, subsample: 1.0, colsample: 1.0, early_stopping_rounds: 0, seed: 0}
"""


@pytest.fixture(scope="session")
def salescast_bin() -> Path:
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    path = Path(os.environ.get("SALESCAST_BIN", target / "debug" / "salescast")).resolve()
    if not path.is_file():
        pytest.fail(f"{path} does not exist: build it first (cargo build --bin salescast)")
    return path


def run(bin_: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, SALESCAST_PARAMS=str(cwd / "params.yaml"), RUST_LOG="warn")
    env.pop("MLFLOW_TRACKING_URI", None)
    out = subprocess.run([str(bin_), *args], cwd=cwd, env=env, capture_output=True, text=True)
    assert out.returncode == 0, f"salescast {' '.join(args)}: {out.stderr}"
    return out


@pytest.fixture(scope="session")
def project(salescast_bin: Path, tmp_path_factory) -> Path:
    """Generated raw data, cleaned, with features and two small trained tree models."""
    d = tmp_path_factory.mktemp("project")
    (d / "params.yaml").write_text(PARAMS)
    run(salescast_bin, d, "generate", "--out", "raw.csv", "--rows", "6000", "--days", "200")
    run(salescast_bin, d, "preprocess", "--input", "raw.csv", "--out-dir", "data/processed")
    run(salescast_bin, d, "features", "--in-dir", "data/processed", "--out-dir", "data/features")
    run(
        salescast_bin, d, "train", "--data-dir", "data/features", "--models-dir", "models",
        "--no-track",
    )
    return d


def long_series(n: int, seed: int) -> pd.DataFrame:
    """`n` daily series (id, date, value) of 120 to 260 days with weekly patterns, trends and
    noise, plus a short one and a constant one so the fallback is exercised."""
    rng = np.random.default_rng(seed)
    frames = []
    for s in range(n):
        if s == 0:
            days, y = 20, rng.uniform(10, 20, 20)
        elif s == 1:
            days, y = 150, np.full(150, 4.25)
        else:
            days = int(rng.integers(120, 261))
            t = np.arange(days)
            level = rng.uniform(20, 400)
            week = rng.normal(0, 0.2, 7) * level
            y = level + rng.normal(0, 0.03) * level / 10 * t + week[t % 7] + rng.normal(0, 0.08 * level, days)
        start = dt.date(2024, 1, 1) + dt.timedelta(days=int(rng.integers(0, 30)))
        frames.append(
            pd.DataFrame(
                {
                    "id": f"s{s:04d}",
                    "date": [start + dt.timedelta(days=i) for i in range(days)],
                    "value": np.round(np.maximum(y, 0.0), 2),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


@pytest.fixture(scope="session")
def spark():
    import sys

    import pyspark
    from pyspark.sql import SparkSession

    # The workers run this interpreter, the one the package is installed in.
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable

    s = (
        SparkSession.builder.master("local[2]")
        .appName("salescast-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.driver.memory", "2g")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )
    assert pyspark.__version__
    yield s
    s.stop()

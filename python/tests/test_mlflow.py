"""The registered versions as MLflow models, on a real MLflow server: ``mlflow.pyfunc.load_model``,
``mlflow models serve`` and ``mlflow.pyfunc.spark_udf`` give what ``salescast predict`` and
``salescast.spark.score`` give on the same rows, to the bit."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest

import salescast
from salescast.spark import score as spark_score
from conftest import run

URI = "models:/salescast-revenue@champion"
SCORING = ["transaction_id", "date", "store_id", "product_id", "category", "unit_price",
           "discount", "promotion", "customer_segment", "payment_method"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, proc: subprocess.Popen, log: Path, limit: float = 120.0) -> None:
    started = time.monotonic()
    while time.monotonic() - started < limit:
        if proc.poll() is not None:
            pytest.fail(f"{proc.args[:4]} exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                if r.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.5)
    pytest.fail(f"{url} did not answer within {limit} s:\n{log.read_text()[-3000:]}")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, 15)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait()


def start(args: list, log: Path, env: dict) -> subprocess.Popen:
    return subprocess.Popen(args, stdout=log.open("w"), stderr=subprocess.STDOUT, env=env,
                            start_new_session=True)


@pytest.fixture(scope="module")
def registered(project: Path, salescast_bin: Path, tmp_path_factory):
    """A real MLflow server holding the project's models, trained and registered by
    ``salescast train``; the rows to score as a frame; and what ``salescast predict`` said."""
    d = tmp_path_factory.mktemp("mlflow")
    port = free_port()
    uri = f"http://127.0.0.1:{port}"
    env = dict(os.environ, MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false",
               MLFLOW_DISABLE_TELEMETRY="true", DO_NOT_TRACK="true")
    log = d / "server.log"
    server = start([sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port",
                    str(port), "--workers", "1", "--backend-store-uri",
                    f"sqlite:///{d / 'mlflow.db'}", "--artifacts-destination", str(d / "art")],
                   log, env)
    try:
        wait_for(f"{uri}/health", server, log)
        train_env = dict(os.environ, SALESCAST_PARAMS=str(project / "params.yaml"),
                         RUST_LOG="warn", MLFLOW_TRACKING_URI=uri)
        out = subprocess.run([str(salescast_bin), "train", "--data-dir", "data/features",
                              "--models-dir", "models-registered"], cwd=project, env=train_env,
                             capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        raw = pd.read_csv(project / "raw.csv", dtype=str, keep_default_na=False)
        rows = raw[SCORING].replace("", np.nan).dropna().head(300).copy()
        rows = rows[rows.promotion.isin(["0", "1"])]
        rows["unit_price"] = rows.unit_price.astype(float)
        rows["discount"] = rows.discount.astype(float)
        rows["promotion"] = rows.promotion.astype("int64")
        rows = rows.reset_index(drop=True)
        assert len(rows) > 100
        rows.to_csv(project / "mlflow_rows.csv", index=False)
        run(salescast_bin, project, "predict", "--models-dir", "models-registered", "--input",
            "mlflow_rows.csv", "--out", "mlflow_pred.csv")
        cli = pd.read_csv(project / "mlflow_pred.csv", float_precision="round_trip")
        assert cli.error.isna().all()
        mlflow.set_tracking_uri(uri)
        yield uri, rows, cli.predicted_revenue.to_numpy(dtype=float)
    finally:
        stop(server)


def test_pyfunc_load_model_predicts_as_salescast_predict(registered):
    _, rows, expected = registered
    model = mlflow.pyfunc.load_model(URI)
    flavors = model.metadata.flavors
    assert flavors["python_function"]["loader_module"] == "salescast.mlflow_model"
    assert flavors["salescast"]["kind"] in ("random_forest", "gradient_boosting")
    got = model.predict(rows)
    np.testing.assert_array_equal(np.asarray(got, dtype=float), expected)
    # The package is the model's declared requirement.
    local = Path(mlflow.artifacts.download_artifacts(URI))
    assert (local / "requirements.txt").read_text().strip() == f"salescast=={salescast.__version__}"
    # A row the contract refuses is refused with its row and field named.
    bad = rows.head(3).copy()
    bad.loc[1, "date"] = "2024-02-31"
    with pytest.raises(Exception, match=r"row 2: date"):
        model.predict(bad)


def test_mlflow_models_serve_answers_invocations(registered):
    uri, rows, expected = registered
    port = free_port()
    log = Path(os.environ.get("TMPDIR", "/tmp")) / f"mlflow-serve-{port}.log"
    # As in an activated virtualenv: the scoring server runs the `uvicorn` beside Python.
    path = os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")])
    env = dict(os.environ, MLFLOW_TRACKING_URI=uri, MLFLOW_DISABLE_TELEMETRY="true", PATH=path)
    serve = start([sys.executable, "-m", "mlflow", "models", "serve", "-m", URI,
                   "--env-manager", "local", "--host", "127.0.0.1", "-p", str(port)], log, env)
    try:
        wait_for(f"http://127.0.0.1:{port}/ping", serve, log)
        body = json.dumps({"dataframe_split": rows.to_dict(orient="split")}).encode()
        req = urllib.request.Request(f"http://127.0.0.1:{port}/invocations", data=body,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as r:
            answer = json.loads(r.read())
        # The shape salescast-api's /invocations answers: {"predictions": [...]}.
        np.testing.assert_array_equal(np.asarray(answer["predictions"], dtype=float), expected)
    finally:
        stop(serve)


def test_spark_udf_equals_spark_score(registered, spark, project):
    from pyspark.sql import functions as F

    _, rows, expected = registered
    df = spark.createDataFrame(rows)
    udf = mlflow.pyfunc.spark_udf(spark, URI, env_manager="local", result_type="double")
    got = df.withColumn("p", udf(F.struct(*[F.col(c) for c in SCORING]))).select("p").toPandas()
    theirs = spark_score(df, str(project / "models-registered"))
    ours = theirs.select("predicted_revenue").toPandas()
    np.testing.assert_array_equal(got.p.to_numpy(dtype=float), ours.predicted_revenue.to_numpy())
    np.testing.assert_array_equal(got.p.to_numpy(dtype=float), expected)

"""Benchmark: what experiment tracking adds to a full `salescast train` (default 300,000 rows).

Starts a real `mlflow server` (SQLite backend, artifact proxy, as the README starts it) on a free
loopback port, then alternates `salescast train` with MLFLOW_TRACKING_URI set and with
`--no-track`, on the same features, and prints the median wall times and the overhead. Usage
(repository root, after `make tools`, a release build and `make repro` or `salescast features`):

    .venv-tools/bin/python bench/tracking_overhead.py [--bin target/release/salescast]
        [--features data/features] [--reps 3]
"""

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(tmp, port):
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    mlflow = Path(sys.executable).parent / "mlflow"
    p = subprocess.Popen([str(mlflow), "server", "--host", "127.0.0.1", "--port", str(port),
                          "--backend-store-uri", f"sqlite:///{tmp}/mlflow.db",
                          "--artifacts-destination", f"{tmp}/artifacts"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, start_new_session=True)
    for _ in range(240):
        try:
            if urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2).status == 200:
                return p
        except OSError:
            time.sleep(0.5)
    os.killpg(p.pid, signal.SIGKILL)
    sys.exit("mlflow server did not start")


def train(sc, features, models, env):
    t0 = time.perf_counter()
    p = subprocess.run([sc, "--json", "train", "--data-dir", features, "--models-dir", models] +
                       ([] if "MLFLOW_TRACKING_URI" in env else ["--no-track"]),
                       capture_output=True, text=True, env={**os.environ, "RUST_LOG": "warn", **env})
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        sys.exit(p.stderr)
    out = json.loads(p.stdout)
    if "MLFLOW_TRACKING_URI" in env:
        assert all(r["to"] == "server" for r in out["tracking"]["runs"]), out["tracking"]
    return wall, (out.get("tracking") or {}).get("seconds", 0.0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="target/release/salescast")
    ap.add_argument("--features", default="data/features")
    ap.add_argument("--reps", type=int, default=3)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        server = start_server(tmp, port)
        try:
            uri = {"MLFLOW_TRACKING_URI": f"http://127.0.0.1:{port}", "MLFLOW_EXPERIMENT_NAME": "bench"}
            tracked, untracked, logging = [], [], []
            for r in range(a.reps):
                w, s = train(a.bin, a.features, f"{tmp}/t{r}", uri)
                tracked.append(w)
                logging.append(s)
                untracked.append(train(a.bin, a.features, f"{tmp}/u{r}", {})[0])
        finally:
            os.killpg(server.pid, signal.SIGTERM)
    t, u, s = statistics.median(tracked), statistics.median(untracked), statistics.median(logging)
    print(f"salescast train, median of {a.reps}: {u:.2f} s without tracking, {t:.2f} s with a real MLflow server")
    print(f"tracking itself (timed inside train): {s:.3f} s = {100 * s / u:.1f}% of the untracked run")
    print(f"wall-time difference: {100 * (t - u) / u:+.1f}% (noise on a shared machine is a few %)")


if __name__ == "__main__":
    main()

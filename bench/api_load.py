"""Load benchmark: salescast-api against the seed's Flask + waitress + scikit-learn peer
(bench/flask_peer.py), same machine, same run, bounded in time.

Measures, for each side: POST /predict with wrk (8 connections, --duration seconds): requests/s
and latency percentiles; a 100,000-row POST /predict_batch_csv (median of --reps, as curl times
the request); for ours also the time from process start to /ready and the peak resident memory
under load. Usage (repository root, after `make run` (models and data) and `make venv`; needs
wrk):

    .venv/bin/python bench/api_load.py [--duration 20] [--reps 3]
"""

import argparse
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

BODY = ('{"transaction_id":"T1","date":"2025-11-20","store_id":"S01","product_id":"P0001",'
        '"category":"Electronics","unit_price":120.5,"discount":0.1,"promotion":1,'
        '"customer_segment":"Regular","payment_method":"Card"}')


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait(url, limit=600.0, proc=None):
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < limit:
        if proc is not None and proc.poll() is not None:
            sys.exit(f"{url}: the server exited")
        try:
            if urllib.request.urlopen(url, timeout=2).status == 200:
                return time.perf_counter() - t0
        except OSError:
            time.sleep(0.002)
    sys.exit(f"{url} not ready after {limit} s")


def wrk(port, duration, tmp):
    script = Path(tmp) / "post.lua"
    script.write_text('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
                      f"wrk.body = '{BODY}'\n")
    out = subprocess.run(["wrk", "-t2", "-c8", f"-d{duration}s", "--latency", "-s", str(script),
                          f"http://127.0.0.1:{port}/predict"], capture_output=True, text=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))

    def pct(p):
        m = re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)", out)
        if not m:
            return float("nan")
        return float(m.group(1)) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[m.group(2)]

    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": rps, "p50": pct(50), "p99": pct(99), "non2xx": int(errors.group(1)) if errors else 0}


def batch(port, csv, reps):
    """Median seconds of a 100,000-row upload as curl times it (`%{time_total}`: connect,
    upload, scoring, download), without the 10-20 ms of starting a curl process."""
    times = []
    for _ in range(reps):
        p = subprocess.run(["curl", "-sf", "-o", "/dev/null", "-w", "%{time_total}", "-F", f"file=@{csv}",
                            f"http://127.0.0.1:{port}/predict_batch_csv"], capture_output=True, text=True)
        if p.returncode != 0:
            sys.exit(f"batch upload failed on port {port}")
        times.append(float(p.stdout))
    return statistics.median(times)


def peak_rss_mb(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def stop(p):
    try:
        os.killpg(p.pid, signal.SIGTERM)
        p.wait(timeout=30)
    except Exception:
        os.killpg(p.pid, signal.SIGKILL)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--api", default="target/release/salescast-api")
    ap.add_argument("--models", default="models")
    ap.add_argument("--raw", default="data/raw/sales.csv")
    ap.add_argument("--clean", default="data/processed/clean.parquet")
    ap.add_argument("--duration", type=int, default=20)
    ap.add_argument("--reps", type=int, default=3)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "batch.csv"
        with open(a.raw) as src, open(csv, "w") as dst:
            for i, line in enumerate(src):
                if i > 100_000:
                    break
                dst.write(line)

        port = free_port()
        env = {**os.environ, "RUST_LOG": "warn"}
        ours = subprocess.Popen([a.api, "--models-dir", a.models, "--addr", f"127.0.0.1:{port}"],
                                env=env, start_new_session=True)
        ready = wait(f"http://127.0.0.1:{port}/ready", proc=ours)
        try:
            o = wrk(port, a.duration, tmp)
            o["batch"] = batch(port, csv, a.reps)
            o["rss"] = peak_rss_mb(ours.pid)
        finally:
            stop(ours)

        pport = free_port()
        peer = subprocess.Popen([sys.executable, "bench/flask_peer.py", "--clean", a.clean, "--port", str(pport)],
                                start_new_session=True)
        try:
            wait(f"http://127.0.0.1:{pport}/health", proc=peer)
            p = wrk(pport, a.duration, tmp)
            p["batch"] = batch(pport, csv, a.reps)
            p["rss"] = peak_rss_mb(peer.pid)
        finally:
            stop(peer)

    print(f"\nPOST /predict, wrk 2 threads x 8 connections x {a.duration} s; 100,000-row /predict_batch_csv\n")
    print(f"{'':<34} {'req/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8} {'batch s':>8} {'peak RSS MB':>12}")
    for name, r in (("salescast-api (axum)", o), ("Flask + waitress + scikit-learn", p)):
        print(f"{name:<34} {r['rps']:>10,.0f} {r['p50']:>8.3f} {r['p99']:>8.3f} {r['non2xx']:>8} {r['batch']:>8.3f} {r['rss']:>12.0f}")
    print(f"\nratios: {o['rps'] / p['rps']:,.0f}x requests/s, {p['batch'] / o['batch']:,.1f}x faster batch; "
          f"salescast-api start to ready {ready * 1000:.0f} ms")


if __name__ == "__main__":
    main()

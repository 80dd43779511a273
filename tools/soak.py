#!/usr/bin/env python3
"""Soak test of salescast-api: mixed load on every route for a bounded time.

Single and array predictions, batch CSV uploads, forecasts, status, metrics, history, catalog
and MLflow-style invocations, with about 5% malformed requests, from several keep-alive
clients on 127.0.0.1. It fails (exit 1) on any 5xx, on any valid request that is not answered
2xx, on a malformed one that is not answered 4xx, on an ERROR line in the service's log, or
when resident memory at the end is more than 10% above its value after warm-up. It prints
p50/p99/p99.9 latency per route and overall, and RSS at start, after warm-up (the median of the
5 s after the first half of the run, at most 60 s), at peak and at the end (the median of the last 5 s). Standard library only.

    tools/soak.py --api-bin target/debug/salescast-api --models-dir DIR --raw raw.csv --seconds 60
"""

import argparse
import csv
import http.client
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def percentile(sorted_values, q):
    if not sorted_values:
        return float("nan")
    i = min(len(sorted_values) - 1, max(0, int(round(q * (len(sorted_values) - 1)))))
    return sorted_values[i]


def load_rows(path, n):
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        rows = []
        for i, r in enumerate(reader):
            if i >= n:
                break
            rows.append(r)
    return rows


def as_json(row):
    def num(v):
        try:
            return float(v) if v not in ("", None) else None
        except ValueError:
            return None

    return {
        "date": row["date"],
        "store_id": row["store_id"],
        "product_id": row["product_id"],
        "category": row.get("category") or None,
        "unit_price": num(row.get("unit_price")),
        "discount": num(row.get("discount")) or 0.0,
        "promotion": row.get("promotion") in ("1", "true", "yes"),
        "customer_segment": row.get("customer_segment") or None,
        "payment_method": row.get("payment_method") or None,
    }


def multipart(csv_bytes):
    boundary = "soak%016x" % random.getrandbits(64)
    head = (
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"rows.csv\"\r\n"
        "Content-Type: text/csv\r\n\r\n"
    ).encode()
    body = head + csv_bytes + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


class Workload:
    def __init__(self, rows, header_line, raw_lines, stores, first_forecast_day):
        self.rows = [as_json(r) for r in rows]
        self.header_line = header_line
        self.raw_lines = raw_lines
        self.stores = stores
        self.first = first_forecast_day

    def request(self, rng):
        """Returns (route label, method, path, body, content type, malformed)."""
        x = rng.random()
        if x < 0.05:
            return self.malformed(rng)
        if x < 0.35:
            return ("predict", "POST", "/predict", json.dumps(rng.choice(self.rows)), "application/json", False)
        if x < 0.47:
            batch = [rng.choice(self.rows) for _ in range(50)]
            return ("predict[50]", "POST", "/predict", json.dumps(batch), "application/json", False)
        if x < 0.52:
            start = rng.randrange(0, max(1, len(self.raw_lines) - 500))
            data = (self.header_line + "\n" + "\n".join(self.raw_lines[start:start + 500]) + "\n").encode()
            body, ctype = multipart(data)
            return ("batch_csv[500]", "POST", "/predict_batch_csv", body, ctype, False)
        if x < 0.55:
            rows = [rng.choice(self.rows) for _ in range(20)]
            cols = list(rows[0].keys())
            env = {"dataframe_split": {"columns": cols, "data": [[r[c] for c in cols] for r in rows]}}
            return ("invocations", "POST", "/invocations", json.dumps(env), "application/json", False)
        if x < 0.70:
            days = rng.randrange(7, 60)
            end = time.strftime("%Y-%m-%d", time.gmtime(self.first + days * 86400))
            start = time.strftime("%Y-%m-%d", time.gmtime(self.first))
            body = {"start_date": start, "end_date": end, "level": rng.choice([80, 90, 95])}
            if rng.random() < 0.5 and self.stores:
                body["store"] = rng.choice(self.stores)
            return ("forecast", "POST", "/forecast_sarima", json.dumps(body), "application/json", False)
        if x < 0.80:
            return ("status", "GET", "/status", None, None, False)
        if x < 0.85:
            return ("metrics", "GET", "/metrics", None, None, False)
        if x < 0.92:
            q = "" if not self.stores or rng.random() < 0.5 else f"?store={rng.choice(self.stores)}"
            return ("history", "GET", "/history" + q, None, None, False)
        if x < 0.96:
            return ("catalog", "GET", "/catalog", None, None, False)
        return ("health", "GET", "/health", None, None, False)

    def malformed(self, rng):
        row = dict(rng.choice(self.rows))
        kind = rng.randrange(8)
        if kind == 0:
            return ("bad", "POST", "/predict", '{"date": "2024-01-01", "store_id": ', "application/json", True)
        if kind == 1:
            row.pop("date")
            return ("bad", "POST", "/predict", json.dumps(row), "application/json", True)
        if kind == 2:
            row["date"] = "2024-13-45"
            return ("bad", "POST", "/predict", json.dumps(row), "application/json", True)
        if kind == 3:
            row["unit_price"] = "cheap"
            return ("bad", "POST", "/predict", json.dumps(row), "application/json", True)
        if kind == 4:
            body = json.dumps({"start_date": "2000-01-01", "end_date": "2000-01-10"})
            return ("bad", "POST", "/forecast_sarima", body, "application/json", True)
        if kind == 5:
            return ("bad", "GET", "/no/such/route", None, None, True)
        if kind == 6:
            body, ctype = multipart(b"just,two\n1,2\n")
            return ("bad", "POST", "/predict_batch_csv", body, ctype, True)
        return ("bad", "GET", "/history?start=yesterday", None, None, True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--api-bin", required=True)
    ap.add_argument("--models-dir", required=True)
    ap.add_argument("--raw", required=True, help="a contract CSV: rows for requests and uploads")
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--json", help="write the summary here too")
    args = ap.parse_args()
    if not (1 <= args.seconds <= 3600) or not (1 <= args.clients <= 64):
        ap.error("--seconds must be in [1, 3600] and --clients in [1, 64]")

    raw_lines = open(args.raw).read().splitlines()
    header_line, raw_lines = raw_lines[0], raw_lines[1:5001]
    rows = load_rows(args.raw, 2000)
    port = free_port()
    log = tempfile.NamedTemporaryFile(prefix="soak-api-", suffix=".log", delete=False)
    env = dict(os.environ, RUST_LOG="info", SALESCAST_MODELS_DIR=args.models_dir)
    api = subprocess.Popen([args.api_bin, "--addr", f"127.0.0.1:{port}", "--log-format", "json"],
                           stdout=log, stderr=log, env=env)
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                c.request("GET", "/ready")
                if c.getresponse().status == 200:
                    break
            except OSError:
                pass
            time.sleep(0.1)
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        c.request("GET", "/status")
        status = json.loads(c.getresponse().read())
        last = status["daily"]["last_training_day"]
        first_forecast = time.mktime(time.strptime(last, "%Y-%m-%d")) - time.timezone + 86400
        stores = status["daily"].get("stores", [])
        work = Workload(rows, header_line, raw_lines, stores, first_forecast)
        return run(args, api, port, work, log.name)
    finally:
        api.terminate()
        try:
            api.wait(timeout=30)
        except subprocess.TimeoutExpired:
            api.kill()


def run(args, api, port, work, log_path):
    start_rss = rss_kib(api.pid)
    t0 = time.time()
    stop_at = t0 + args.seconds
    # Memory is judged on medians of 5-second windows (one right after warm-up, one at the
    # end), so that a request burst in flight at one sampling instant is not read as growth.
    # Warm-up is the first half of the run, at most 60 s: the allocator's arenas and the
    # runtime's threads keep settling for about a minute on the dev binary (a 150 s trace climbs
    # from 32 to 35 MB over the first 40 s, then stays between 35 and 36.7 MB), and growth in
    # that phase is not a leak.
    warm_at = t0 + min(60.0, args.seconds * 0.5)
    window = 5.0
    lock = threading.Lock()
    latencies = {}
    problems = []
    counts = {"requests": 0, "malformed": 0, "5xx": 0, "unexpected": 0}
    rss = {"start": start_rss, "warm": None, "peak": start_rss or 0, "end": None}
    samples = []

    def client(i):
        rng = random.Random(args.seed * 1000 + i)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while time.time() < stop_at:
            label, method, path, body, ctype, bad = work.request(rng)
            headers = {"Content-Type": ctype} if ctype else {}
            s = time.perf_counter()
            try:
                conn.request(method, path, body=body, headers=headers)
                resp = conn.getresponse()
                resp.read()
                code = resp.status
            except (OSError, http.client.HTTPException) as e:
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                with lock:
                    problems.append(f"{label} {path}: {type(e).__name__} {e}")
                continue
            ms = (time.perf_counter() - s) * 1e3
            with lock:
                counts["requests"] += 1
                counts["malformed"] += bad
                latencies.setdefault(label, []).append(ms)
                if code >= 500:
                    counts["5xx"] += 1
                    problems.append(f"{label} {path}: HTTP {code}")
                elif bad and not (400 <= code < 500):
                    counts["unexpected"] += 1
                    problems.append(f"malformed {path}: HTTP {code}, expected 4xx")
                elif not bad and not (200 <= code < 300):
                    counts["unexpected"] += 1
                    problems.append(f"{label} {path}: HTTP {code}")

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(args.clients)]
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        time.sleep(0.5)
        r = rss_kib(api.pid)
        if r is not None:
            rss["peak"] = max(rss["peak"], r)
            samples.append((time.time(), r))
    elapsed = time.time() - t0

    def median(values):
        values = sorted(values)
        return values[len(values) // 2] if values else None

    rss["warm"] = median([r for t, r in samples if warm_at <= t < warm_at + window])
    rss["end"] = median([r for t, r in samples if t >= stop_at - window])
    if rss["warm"] is None:
        rss["warm"] = rss["end"]
    # The trajectory (median RSS of each 5-second window) shows a leak as a steady climb and
    # allocator warm-up as a step that levels off.
    trace = {}
    for t, r in samples:
        trace.setdefault(int((t - t0) // window), []).append(r)
    rss["trace_5s"] = [median(v) for _, v in sorted(trace.items())]

    errors = []
    with open(log_path) as f:
        for line in f:
            try:
                level = json.loads(line).get("level", "")
            except ValueError:
                level = "ERROR" if "ERROR" in line or "panicked" in line else ""
            if level == "ERROR":
                errors.append(line.strip())
    every = sorted(v for vs in latencies.values() for v in vs)
    summary = {
        "seconds": round(elapsed, 1),
        "clients": args.clients,
        **counts,
        "requests_per_second": round(counts["requests"] / elapsed, 1),
        "latency_ms": {
            "p50": round(percentile(every, 0.5), 3),
            "p99": round(percentile(every, 0.99), 3),
            "p99.9": round(percentile(every, 0.999), 3),
        },
        "per_route_ms": {
            k: {"n": len(v), "p50": round(percentile(sorted(v), 0.5), 3),
                "p99": round(percentile(sorted(v), 0.99), 3),
                "p99.9": round(percentile(sorted(v), 0.999), 3)}
            for k, v in sorted(latencies.items())
        },
        "rss_kib": rss,
        "error_log_lines": len(errors),
    }
    print(json.dumps(summary, indent=2))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(summary, f, indent=2)
    failed = []
    if counts["5xx"]:
        failed.append(f"{counts['5xx']} answers were 5xx")
    if counts["unexpected"]:
        failed.append(f"{counts['unexpected']} answers had an unexpected status")
    if problems:
        failed.append(f"{len(problems)} problems, first: {problems[:5]}")
    if errors:
        failed.append(f"{len(errors)} ERROR lines in the service log, first: {errors[:3]}")
    if rss["warm"] and rss["end"] and rss["end"] > 1.10 * rss["warm"]:
        failed.append(f"resident memory grew: {rss['warm']} KiB after warm-up, {rss['end']} KiB at the end")
    if counts["requests"] == 0:
        failed.append("no request was answered")
    for f in failed:
        print(f"soak: FAIL {f}", file=sys.stderr)
    if not failed:
        print(f"soak: ok, {counts['requests']} requests in {elapsed:.0f} s, no 5xx, memory flat")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""The native deployment topology (deploy/native.sh) under test, on small generated data:

1. the pipeline is logged to a real MLflow server and the champion registered;
2. both API replicas serve the registered champion, loaded from the registry;
3. the UI, through nginx, shows a forecast;
4. under load through nginx, one replica is killed with SIGKILL: every request still succeeds
   (nginx retries the other replica), and the requests are counted;
5. the killed replica is started again, a new champion is registered, and both replicas serve
   it within the poll interval;
6. MLflow (behind its basic-auth app) refuses a request without a user, and the replicas'
   read-only user cannot move the champion alias.

Exits 1 on any failure, naming it. Standard library only.

    tools/native-test.py --bin target/debug [--poll 2] [--load-seconds 8]
"""
import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


ADMIN_PASSWORD = "native-admin-" + os.urandom(6).hex()
REPLICA_PASSWORD = "native-replica-" + os.urandom(6).hex()


def basic(user, password):
    import base64
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


ADMIN = basic("admin", ADMIN_PASSWORD)


def get(url, timeout=10, headers=None):
    req = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return r.status, r.read()


def post(url, body, timeout=10, headers=None):
    req = urllib.request.Request(url, data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json", **(headers or {})})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return r.status, r.read()


def refused(call):
    """The HTTP status of a call expected to be refused (None when it succeeded)."""
    try:
        call()
    except urllib.error.HTTPError as e:
        return e.code
    return None


def status(port):
    return json.loads(get(f"http://127.0.0.1:{port}/status")[1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin", required=True, help="directory with the salescast binaries")
    ap.add_argument("--poll", type=int, default=2, help="replicas' registry poll, seconds")
    ap.add_argument("--load-seconds", type=float, default=8.0)
    ap.add_argument("--keep", action="store_true", help="keep the working directory")
    args = ap.parse_args()
    bin_dir = Path(args.bin).resolve()
    work = Path(tempfile.mkdtemp(prefix="salescast-native-"))
    ports = {k: free_port() for k in ["mlflow", "api", "r1", "r2", "ui"]}
    env = dict(os.environ,
               SALESCAST_NATIVE_DIR=str(work), SALESCAST_NATIVE_NO_WAIT="1",
               SALESCAST_PARAMS=str(ROOT / "tools/browser/params-small.yaml"),
               MLFLOW_PORT=str(ports["mlflow"]), API_PORT=str(ports["api"]),
               REPLICA_PORTS=f"{ports['r1']} {ports['r2']}", UI_PORT=str(ports["ui"]),
               SALESCAST_MODELS_POLL_SECS=str(args.poll), RUST_LOG="warn",
               SALESCAST_MLFLOW_ADMIN_PASSWORD=ADMIN_PASSWORD,
               SALESCAST_MLFLOW_REPLICA_PASSWORD=REPLICA_PASSWORD)
    for k in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_TOKEN"):
        env.pop(k, None)
    as_admin = dict(MLFLOW_TRACKING_USERNAME="admin", MLFLOW_TRACKING_PASSWORD=ADMIN_PASSWORD)
    as_replica = dict(MLFLOW_TRACKING_USERNAME="replica", MLFLOW_TRACKING_PASSWORD=REPLICA_PASSWORD)
    failures = []

    def check(what, ok, detail=""):
        print(f"native: {'ok  ' if ok else 'FAIL'} {what}{(': ' + str(detail)) if detail else ''}")
        if not ok:
            failures.append(what)

    pids = []
    try:
        t0 = time.time()
        up = subprocess.run([str(ROOT / "deploy/native.sh"), str(bin_dir)], env=env,
                            capture_output=True, text=True, timeout=900)
        pids = [int(p) for p in (work / "pids").read_text().split()]
        print(up.stdout)
        if up.returncode != 0:
            print(up.stderr, file=sys.stderr)
            for log in sorted((work / "logs").glob("*.log")):
                print(f"--- {log.name}\n{log.read_text()[-3000:]}", file=sys.stderr)
            check("deploy/native.sh starts the topology", False, f"exit {up.returncode}")
            return 1
        check("deploy/native.sh starts the topology", True, f"{time.time() - t0:.0f} s")
        mlflow_pid, r1_pid = pids[0], pids[1]

        # 1. Runs in MLflow, the champion registered.
        mlflow = f"http://127.0.0.1:{ports['mlflow']}"
        exp = json.loads(get(f"{mlflow}/api/2.0/mlflow/experiments/get-by-name?experiment_name=salescast",
                             headers=ADMIN)[1])
        runs = json.loads(post(f"{mlflow}/api/2.0/mlflow/runs/search",
                               {"experiment_ids": [exp["experiment"]["experiment_id"]]}, headers=ADMIN)[1])
        check("the pipeline's runs are in MLflow", len(runs.get("runs", [])) >= 3,
              f"{len(runs.get('runs', []))} runs")
        alias = json.loads(get(f"{mlflow}/api/2.0/mlflow/registered-models/alias?name=salescast-revenue&alias=champion",
                               headers=ADMIN)[1])
        champion = alias["model_version"]["version"]
        check("the champion is registered with its alias", bool(champion), f"version {champion}")

        # 2. Both replicas serve it from the registry.
        for name in ["r1", "r2"]:
            st = status(ports[name])
            check(f"replica {name} serves the champion from the registry",
                  st.get("registry", {}).get("version") == champion and st.get("ready"),
                  st.get("registry"))

        # 3. The UI, through nginx, shows a forecast.
        st = status(ports["api"])
        last = st["daily"]["last_training_day"]
        start = time.strftime("%Y-%m-%d", time.gmtime(time.mktime(time.strptime(last, "%Y-%m-%d")) - time.timezone + 86400))
        end = time.strftime("%Y-%m-%d", time.gmtime(time.mktime(time.strptime(start, "%Y-%m-%d")) - time.timezone + 13 * 86400))
        code, html = get(f"http://127.0.0.1:{ports['ui']}/forecast?start={start}&end={end}")
        html = html.decode()
        rows = html.count("<tr", html.find('id="forecast-table"')) if 'id="forecast-table"' in html else 0
        check("the UI through nginx shows a 14-day forecast", code == 200 and rows >= 14, f"{rows} table rows")

        # 4. Load through nginx; one replica is SIGKILLed part-way.
        row = {"date": start, "store_id": "S01", "product_id": "P0001", "category": "Electronics",
               "unit_price": 50.0, "discount": 0.1, "promotion": 1}
        counts = {"ok": 0, "failed": 0}
        errors = []
        lock = threading.Lock()
        stop_at = time.time() + args.load_seconds

        def load(i):
            while time.time() < stop_at:
                try:
                    if i % 2:
                        code, _ = post(f"http://127.0.0.1:{ports['api']}/predict", row)
                    else:
                        code, _ = get(f"http://127.0.0.1:{ports['api']}/status")
                    ok = code == 200
                except (urllib.error.URLError, OSError) as e:
                    ok, code = False, repr(e)
                with lock:
                    counts["ok" if ok else "failed"] += 1
                    if not ok and len(errors) < 5:
                        errors.append(code)

        threads = [threading.Thread(target=load, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        time.sleep(args.load_seconds / 3)
        os.kill(r1_pid, signal.SIGKILL)
        killed_at = time.time()
        for t in threads:
            t.join()
        check("no request failed while a replica was killed under load",
              counts["failed"] == 0 and counts["ok"] > 0,
              f"{counts['ok']} succeeded, {counts['failed']} failed {errors}; kill at "
              f"{killed_at - (stop_at - args.load_seconds):.1f} s of {args.load_seconds:.0f} s")

        # 5. The replica comes back; a new champion rolls out to both within the poll interval.
        r1 = subprocess.Popen([str(bin_dir / "salescast-api"), "--addr", f"127.0.0.1:{ports['r1']}",
                               "--models-uri", "models:/salescast-revenue@champion",
                               "--models-cache", str(work / "replica-1"),
                               "--models-poll-secs", str(args.poll)],
                              env=dict(env, MLFLOW_TRACKING_URI=mlflow, **as_replica),
                              stdout=subprocess.DEVNULL, stderr=open(work / "logs/api-1b.log", "w"))
        pids.append(r1.pid)
        for _ in range(300):
            try:
                if status(ports["r1"]).get("ready"):
                    break
            except OSError:
                pass
            time.sleep(0.2)
        # Each replica's status is watched from before the training, so the time from the
        # alias moving (the new version's creation, by MLflow's clock on this machine) to the
        # replica serving it is measured, whenever in the training that happens.
        first_seen = {}
        watching = threading.Event()

        def watch():
            while not watching.is_set():
                for name in ["r1", "r2"]:
                    try:
                        v = status(ports[name]).get("registry", {}).get("version")
                    except OSError:
                        continue
                    if v and v != champion:
                        first_seen.setdefault((name, v), time.time())
                time.sleep(0.1)

        watcher = threading.Thread(target=watch)
        watcher.start()
        train = subprocess.run([str(bin_dir / "salescast"), "pipeline", "--params", env["SALESCAST_PARAMS"],
                                "--input", "raw.csv", "--workdir", "."], cwd=work / "train",
                               env=dict(env, MLFLOW_TRACKING_URI=mlflow, **as_admin),
                               capture_output=True, text=True)
        check("a second training registers a new champion", train.returncode == 0, train.stderr[-500:])
        alias = json.loads(get(f"{mlflow}/api/2.0/mlflow/registered-models/alias?name=salescast-revenue&alias=champion",
                               headers=ADMIN)[1])
        new = alias["model_version"]["version"]
        created = int(alias["model_version"]["creation_timestamp"]) / 1000
        deadline = time.time() + args.poll + 15
        while time.time() < deadline and not all((n, new) in first_seen for n in ["r1", "r2"]):
            time.sleep(0.2)
        watching.set()
        watcher.join()
        lag = {n: first_seen[(n, new)] - created for n in ["r1", "r2"] if (n, new) in first_seen}
        check(f"both replicas serve the new champion (version {new}) within the poll interval "
              f"({args.poll} s, plus the download and load)",
              new != champion and len(lag) == 2 and max(lag.values()) <= args.poll + 5,
              {k: f"{v:.1f} s after the version was registered" for k, v in lag.items()})

        # 6. Nobody gets into MLflow without a user; the replicas' user only reads.
        code = refused(lambda: get(f"{mlflow}/api/2.0/mlflow/registered-models/alias"
                                   "?name=salescast-revenue&alias=champion"))
        check("MLflow refuses a request without a user", code == 401, f"HTTP {code}")
        replica = basic("replica", REPLICA_PASSWORD)
        code, _ = get(f"{mlflow}/api/2.0/mlflow/registered-models/alias"
                      "?name=salescast-revenue&alias=champion", headers=replica)
        check("the replicas' user reads the alias", code == 200)
        code = refused(lambda: post(f"{mlflow}/api/2.0/mlflow/registered-models/alias",
                                    {"name": "salescast-revenue", "alias": "champion",
                                     "version": champion}, headers=replica))
        check("the replicas' user cannot move the alias", code == 403, f"HTTP {code}")
        code = refused(lambda: post(f"{mlflow}/api/2.0/mlflow/registered-models/alias",
                                    {"name": "salescast-revenue", "alias": "champion",
                                     "version": champion}, headers=basic("admin", "wrong-password-12")))
        check("a wrong password is refused", code == 401, f"HTTP {code}")
    finally:
        for p in pids[1:]:
            try:
                os.kill(p, signal.SIGTERM)
            except ProcessLookupError:
                pass
        if pids:
            try:
                os.killpg(pids[0], signal.SIGTERM)
            except (ProcessLookupError, PermissionError):
                pass
        time.sleep(1)
        for p in pids:
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if not args.keep:
            subprocess.run(["rm", "-rf", str(work)])
    if failures:
        print(f"native: FAIL {len(failures)}: {failures}", file=sys.stderr)
        return 1
    print("native: ok, all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())

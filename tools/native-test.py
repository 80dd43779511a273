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
   read-only user cannot move the champion alias;
7. the replicas' password changed in MLflow behind their backs: both keep serving their
   version, name the refused check in /status, and recover when it is back.

Exits 1 on any failure, naming it. Standard library only.

    tools/native-test.py --bin target/debug [--poll 2] [--load-seconds 8]
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from stack_checks import (Checks, basic, free_port, forecast_rows, get, load_while, mlflow_access,
                          mlflow_runs_and_champion, prediction_row, replica_locked_out)

ROOT = Path(__file__).resolve().parent.parent


ADMIN_PASSWORD = "native-admin-" + os.urandom(6).hex()
REPLICA_PASSWORD = "native-replica-" + os.urandom(6).hex()
ADMIN = basic("admin", ADMIN_PASSWORD)


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
    check = Checks("native")
    failures = check.failures

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
        runs, version = mlflow_runs_and_champion(mlflow, ADMIN)
        check("the pipeline's runs are in MLflow", len(runs) >= 3, f"{len(runs)} runs")
        champion = version["version"]
        check("the champion is registered with its alias", bool(champion), f"version {champion}")

        # 2. Both replicas serve it from the registry.
        for name in ["r1", "r2"]:
            st = status(ports[name])
            check(f"replica {name} serves the champion from the registry",
                  st.get("registry", {}).get("version") == champion and st.get("ready"),
                  st.get("registry"))

        # 3. The UI, through nginx, shows a forecast.
        last = status(ports["api"])["daily"]["last_training_day"]
        code, rows = forecast_rows(f"http://127.0.0.1:{ports['ui']}", last)
        check("the UI through nginx shows a 14-day forecast", code == 200 and rows >= 14, f"{rows} table rows")

        # 4. Load through nginx; one replica is SIGKILLed part-way.
        ok, failed, errors, killed_at = load_while(
            f"http://127.0.0.1:{ports['api']}", prediction_row(last), args.load_seconds,
            lambda: os.kill(r1_pid, signal.SIGKILL))
        check("no request failed while a replica was killed under load",
              failed == 0 and ok > 0,
              f"{ok} succeeded, {failed} failed {errors}; kill at {killed_at:.1f} s of "
              f"{args.load_seconds:.0f} s")

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
        mlflow_access(check, mlflow, REPLICA_PASSWORD, champion)
        # 7. The replicas' password stops working: they keep serving and say why.
        replica_locked_out(check, mlflow, ADMIN, REPLICA_PASSWORD,
                           lambda: {n: status(ports[n]) for n in ["r1", "r2"]}, new)
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

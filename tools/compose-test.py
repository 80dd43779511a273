#!/usr/bin/env python3
"""The real docker-compose.yml started under podman, checked, broken on purpose, and removed.

No container registry can be reached from these machines, so the upstream images the compose
file and the Dockerfiles name are STAND-INS built here under the same names
(deploy/standins/): `debian:bookworm-slim` from debootstrap, the Rust builder with this machine's
toolchain, nginx from Debian's package, PostgreSQL 15 from Debian's package, and MLflow from the
Python registry at the pinned version. Our own images are built from our Dockerfile and
deploy/mlflow.Dockerfile unchanged. The base and the stand-ins are kept between runs (rebuilt
when their Containerfile changes); podman's layer cache keeps the image builds incremental.

podman schedules health checks with systemd timers, and these machines run no systemd, so this
test runs every container's health check itself, every two seconds, as Docker's engine would.

Checks on the running stack:
1. every service becomes healthy, and the trainer completes;
2. the trainer's runs and the champion alias are in MLflow (through the proxy, as admin);
3. both replicas serve that version, loaded from the registry;
4. the UI, through the proxy and its password, shows a forecast;
5. the monitor's report is in the reports volume, and the UI's monitoring page shows it;
6. MLflow refuses a request without a user, the replicas' user cannot move the alias, and the
   UI refuses a request without its password.
Faults:
7. one API container is killed (SIGKILL to its process) under load through the proxy: no
   request fails, and the restart policy brings it back;
8. the MLflow container is restarted: the replicas keep serving, and their next registry poll
   succeeds; then the replicas' password is changed in MLflow behind their backs: they keep
   serving their version, say why in /status, and recover when it is back;
9. `down`, then `up` again: the registry, the runs and the reports are still there.
Clean-up: `down -v`, and no container, network or volume of the project is left, also when a
check fails.

Exits 1 on any failure, naming the service. Prints the image sizes, each service's time from
start to healthy, and the API's time from start to ready inside its container.

    tools/compose-test.py [--compose-file FILE] [--load-seconds 8] [--facts FILE.json]
"""
import argparse
import hashlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

from stack_checks import (Checks, basic, free_port, day_after, forecast_rows, get, load_while,
                          mlflow_access, mlflow_runs_and_champion, prediction_row,
                          replica_locked_out)

ROOT = Path(__file__).resolve().parent.parent
STANDINS = ROOT / "deploy/standins"
PROJECT = "salescast-compose-test"
LABEL = f"com.docker.compose.project={PROJECT}"
SERVICES = ["postgres", "mlflow", "trainer", "api-1", "api-2", "ui", "proxy", "monitor"]
# Upstream name -> (Containerfile, extra context files). Every one is a stand-in.
STANDIN_IMAGES = {
    "docker.io/library/rust:1.95-bookworm": ("rust.Containerfile", ["toolchain", "host-ca.crt"]),
    "ghcr.io/mlflow/mlflow:v3.17.2": ("mlflow.Containerfile", ["host-ca.crt"]),
    "docker.io/library/nginx:1.27-alpine": ("nginx.Containerfile", []),
    "docker.io/library/postgres:15-bookworm": ("postgres.Containerfile", ["postgres-entrypoint.sh"]),
}
BASE = "docker.io/library/debian:bookworm-slim"


def log(msg):
    print(f"compose-test: {msg}", flush=True)


def run(cmd, check=True, capture=True, timeout=None, **kw):
    r = subprocess.run(cmd, capture_output=capture, text=True, timeout=timeout, **kw)
    if check and r.returncode != 0:
        raise SystemExit(f"compose-test: `{' '.join(map(str, cmd))}` exited {r.returncode}\n"
                         f"{(r.stdout or '')[-3000:]}{(r.stderr or '')[-3000:]}")
    return r


def podman(*args, **kw):
    return run(["podman", *args], **kw)


def image_label(name, key):
    r = podman("image", "inspect", "--format", f'{{{{index .Labels "{key}"}}}}', name, check=False)
    return r.stdout.strip() if r.returncode == 0 else None


def ensure_base():
    """debian:bookworm-slim, from debootstrap (about 30 s and 200 MB, once per machine)."""
    if image_label(BASE, "salescast.standin") == "debootstrap":
        return
    log(f"STAND-IN {BASE}: debootstrap of Debian bookworm (minbase)")
    sources = Path("/etc/apt/sources.list.d/debian.sources")
    mirror = "http://deb.debian.org/debian"
    if sources.exists():
        for line in sources.read_text().splitlines():
            if line.startswith("URIs:"):
                mirror = line.split()[1]
                break
    rootfs = Path(tempfile.mkdtemp(prefix="salescast-rootfs-"))
    try:
        run(["debootstrap", "--variant=minbase", "bookworm", str(rootfs), mirror], timeout=900)
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
        run(["podman", "import", "--change", "LABEL salescast.standin=debootstrap",
             "--change", 'CMD ["bash"]', "-", BASE], stdin=tar.stdout)
        tar.wait()
    finally:
        shutil.rmtree(rootfs, ignore_errors=True)
    podman("tag", BASE, "localhost/debian:bookworm-slim")


def ensure_standins():
    ca = Path(os.environ.get("SSL_CERT_FILE", "/etc/ssl/certs/ca-certificates.crt"))
    pip_cache = Path.home() / ".cache/pip"
    pip_cache.mkdir(parents=True, exist_ok=True)
    for name, (containerfile, extras) in STANDIN_IMAGES.items():
        # Rebuilt when its Containerfile or a file of ours it copies changes.
        hasher = hashlib.sha256((STANDINS / containerfile).read_bytes())
        for extra in extras:
            if (STANDINS / extra).is_file():
                hasher.update((STANDINS / extra).read_bytes())
        digest = hasher.hexdigest()[:16]
        if image_label(name, "salescast.standin") == digest:
            continue
        log(f"STAND-IN {name}: building {STANDINS.relative_to(ROOT)}/{containerfile}")
        ctx = Path(tempfile.mkdtemp(prefix="salescast-standin-"))
        try:
            for extra in extras:
                if extra == "toolchain":
                    sysroot = Path(run(["rustc", "--print", "sysroot"]).stdout.strip())
                    (ctx / "toolchain").mkdir()
                    for part in ["bin", "lib"]:
                        shutil.copytree(sysroot / part, ctx / "toolchain" / part, symlinks=True)
                elif extra == "host-ca.crt":
                    shutil.copy(ca, ctx / "host-ca.crt")
                else:
                    shutil.copy(STANDINS / extra, ctx / extra)
            t0 = time.time()
            podman("build", "--pull=never", "-q", "--label", f"salescast.standin={digest}",
                   "-v", f"{pip_cache}:/root/.cache/pip", "-f", str(STANDINS / containerfile),
                   "-t", name, str(ctx), timeout=1800)
            log(f"STAND-IN {name}: built in {time.time() - t0:.0f} s")
        finally:
            shutil.rmtree(ctx, ignore_errors=True)


def build_ours():
    """Our images, from our Dockerfiles unchanged. The Dockerfile's build stage is tagged
    `salescast-build-cache`, so that its compiled dependencies (cargo-chef's layer, several GB)
    stay cached for the next run while every older build's layers are pruned."""
    for tag, dockerfile, context, target in [
            ("salescast-build-cache:latest", "Dockerfile", ".", "build"),
            ("salescast:latest", "Dockerfile", ".", None),
            ("salescast-mlflow:3.17.2", "deploy/mlflow.Dockerfile", "deploy", None)]:
        t0 = time.time()
        log(f"building {tag} from {dockerfile}")
        podman("build", "--pull=never", "--format=docker", "-q", "-f", str(ROOT / dockerfile),
               *(["--target", target] if target else []), "-t", tag, str(ROOT / context),
               timeout=3600)
        log(f"built {tag} in {time.time() - t0:.0f} s")
    podman("image", "prune", "-f")


class Engine:
    """podman's Docker-compatible socket for the compose client, and the health-check ticker."""

    def __init__(self, work):
        self.sock = work / "podman.sock"
        self.service = subprocess.Popen(["podman", "system", "service", "--time=0",
                                         f"unix://{self.sock}"],
                                        stdout=subprocess.DEVNULL, stderr=open(work / "podman.log", "w"))
        for _ in range(100):
            if self.sock.exists():
                break
            time.sleep(0.1)
        self.healthy_at = {}
        self.stop = threading.Event()
        self.ticker = threading.Thread(target=self.tick, daemon=True)
        self.ticker.start()

    def tick(self):
        while not self.stop.is_set():
            ids = podman("ps", "-q", "--no-trunc", "--filter", f"label={LABEL}", check=False).stdout.split()
            for cid in ids:
                r = podman("healthcheck", "run", cid, check=False)
                if r.returncode == 0:
                    self.healthy_at.setdefault(cid, time.time())
            self.stop.wait(2)

    def close(self):
        self.stop.set()
        self.ticker.join(timeout=30)
        self.service.terminate()
        try:
            self.service.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.service.kill()


class Stack:
    def __init__(self, compose_file, env, work):
        self.file = compose_file
        self.env = env
        self.work = work

    def compose(self, *args, timeout=1800, check=True):
        cmd = ["docker-compose", "--project-name", PROJECT, "--project-directory", str(ROOT),
               "--file", str(self.file), *args]
        try:
            return run(cmd, env=self.env, timeout=timeout, check=check)
        except subprocess.TimeoutExpired:
            return subprocess.CompletedProcess(cmd, 124, "", f"docker-compose {args[0]}: no answer "
                                               f"within {timeout:.0f} s")

    def container(self, service):
        r = podman("ps", "-a", "-q", "--filter", f"label={LABEL}",
                   "--filter", f"label=com.docker.compose.service={service}", check=False)
        ids = r.stdout.split()
        return ids[0] if ids else None

    def inspect(self, service):
        cid = self.container(service)
        if not cid:
            return None
        return json.loads(podman("inspect", cid).stdout)[0]

    def state(self, service):
        info = self.inspect(service)
        if info is None:
            return "missing"
        st = info["State"]
        if service == "trainer":
            if st["Status"] == "exited":
                return "completed" if st["ExitCode"] == 0 else f"exited {st['ExitCode']}"
            return st["Status"]
        health = (st.get("Health") or st.get("Healthcheck") or {}).get("Status", "")
        return health or st["Status"]

    def logs(self, service, lines=40):
        cid = self.container(service)
        if not cid:
            return "(no container)"
        r = podman("logs", "--tail", str(lines), cid, check=False)
        return (r.stdout + r.stderr).strip()

    def not_ready(self, services=SERVICES):
        """Each service that is neither healthy nor (the trainer) completed, with its state."""
        states = {s: self.state(s) for s in services}
        return {s: v for s, v in states.items() if v not in ("healthy", "completed")}

    def wait_ready(self, timeout, services=SERVICES):
        deadline = time.time() + timeout
        while True:
            bad = self.not_ready(services)
            if not bad or time.time() >= deadline or \
                    str(bad.get("trainer", "")).startswith("exited"):
                return bad
            time.sleep(3)

    def exec(self, service, *cmd, check=True):
        return podman("exec", self.container(service), *cmd, check=check)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--compose-file", default=str(ROOT / "docker-compose.yml"))
    ap.add_argument("--load-seconds", type=float, default=8.0)
    ap.add_argument("--up-timeout", type=float, default=1200.0,
                    help="seconds for `docker-compose up` (the trainer runs the whole pipeline)")
    ap.add_argument("--facts", help="write the measured image facts to this JSON file")
    args = ap.parse_args()
    os.environ.setdefault("CONTAINERS_CONF", str(STANDINS / "containers.conf"))
    for tool in ["podman", "docker-compose", "debootstrap"]:
        if not shutil.which(tool):
            raise SystemExit(f"compose-test: {tool} not found: apt-get install podman runc "
                             "docker-compose debootstrap")
    t_start = time.time()
    ensure_base()
    ensure_standins()
    build_ours()
    t_built = time.time()

    work = Path(tempfile.mkdtemp(prefix="salescast-compose-"))
    admin, replica, ui_password = (f"{k}-{secrets.token_hex(8)}" for k in ["admin", "replica", "analyst"])
    ports = {k: free_port() for k in ["api", "ui", "mlflow"]}
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "SALESCAST_"))}
    env.update(DOCKER_HOST=f"unix://{work / 'podman.sock'}", COMPOSE_HTTP_TIMEOUT="600",
               SALESCAST_MLFLOW_ADMIN_PASSWORD=admin, SALESCAST_MLFLOW_REPLICA_PASSWORD=replica,
               SALESCAST_MLFLOW_SECRET_KEY=secrets.token_hex(16), SALESCAST_UI_PASSWORD=ui_password,
               SALESCAST_POSTGRES_PASSWORD=secrets.token_hex(12),
               SALESCAST_API_PORT=str(ports["api"]), SALESCAST_UI_PORT=str(ports["ui"]),
               SALESCAST_MLFLOW_PORT=str(ports["mlflow"]), SALESCAST_MODELS_POLL_SECS="3",
               # MLflow refuses Host headers it does not know (403): the proxy's port is not 5000.
               SALESCAST_MLFLOW_ALLOWED_HOSTS=f"mlflow:5000,mlflow,127.0.0.1:{ports['mlflow']}",
               SALESCAST_MONITOR_EVERY="600", RUST_LOG="warn")
    engine = Engine(work)
    stack = Stack(Path(args.compose_file), env, work)
    check = Checks("compose-test")
    facts = {}
    api = f"http://127.0.0.1:{ports['api']}"
    ui = f"http://127.0.0.1:{ports['ui']}"
    mlflow = f"http://127.0.0.1:{ports['mlflow']}"
    as_admin = basic("admin", admin)
    as_analyst = basic("analyst", ui_password)
    try:
        stack.compose("down", "-v", "--remove-orphans", check=False)  # a previous run's leftovers
        # 1. Up, every service healthy.
        t_up = time.time()
        up = stack.compose("up", "-d", "--no-build", timeout=args.up_timeout, check=False)
        # `up` returns once every dependency's condition held; what nothing depends on (the
        # proxy, the monitor) may still be starting.
        not_ready = stack.wait_ready(600) if up.returncode == 0 else stack.not_ready()
        if up.returncode != 0 or not_ready:
            for s in not_ready or SERVICES:
                print(f"--- {s} ({stack.state(s)})\n{stack.logs(s)}", file=sys.stderr)
            check("every service healthy, the trainer completed", False,
                  f"compose up exited {up.returncode}: {up.stderr.strip()[-600:]}; "
                  f"not ready: {not_ready}")
            return 1
        check("every service healthy, the trainer completed", True, f"{time.time() - t_up:.0f} s")
        for s in SERVICES:
            info = stack.inspect(s)
            t0 = parse_time(info["State"]["StartedAt"])
            if s == "trainer":
                facts["trainer_seconds"] = round(parse_time(info["State"]["FinishedAt"]) - t0, 1)
            elif info["Id"] in engine.healthy_at:
                facts.setdefault("start_to_healthy_seconds", {})[s] = round(engine.healthy_at[info["Id"]] - t0, 1)

        # 2. Runs and the champion in MLflow, through the proxy.
        runs, version = mlflow_runs_and_champion(mlflow, as_admin)
        champion = version["version"]
        check("the trainer's runs are in MLflow", len(runs) >= 3, f"{len(runs)} runs")
        check("the champion alias is set", bool(champion), f"version {champion}")

        # 3. Both replicas serve it.
        def replica_status(s):
            r = stack.exec(s, "curl", "-fsS", "http://127.0.0.1:5001/status", check=False)
            return json.loads(r.stdout) if r.returncode == 0 else {}

        for s in ["api-1", "api-2"]:
            st = replica_status(s)
            check(f"{s} serves the champion from the registry",
                  st.get("ready") and st.get("registry", {}).get("version") == champion,
                  st.get("registry"))

        # 4. The UI through the proxy shows a forecast.
        last = json.loads(get(f"{api}/status")[1])["daily"]["last_training_day"]
        try:
            code, rows = forecast_rows(ui, last, headers=as_analyst)
        except OSError as e:
            code, rows = repr(e), 0
        check("ui: the forecast page through the proxy shows a 14-day forecast",
              code == 200 and rows >= 14, f"HTTP {code}, {rows} table rows")

        # 5. The monitor's report, in its volume and on the UI's monitoring page.
        r = stack.exec("monitor", "sh", "-c", "ls /reports; cat /reports/latest.json", check=False)
        reports = r.stdout.split("{", 1)[0].split()
        report = json.loads("{" + r.stdout.split("{", 1)[1]) if "{" in r.stdout else {}
        check("monitor: a report is in the reports volume", r.returncode == 0 and report,
              f"{len(reports)} files")
        code, html = get(f"{ui}/monitoring", headers=as_analyst, timeout=30)
        html = html.decode()
        run_id = str(report.get("run_id", ""))
        check("ui: the monitoring page shows the monitor's report",
              code == 200 and bool(run_id) and run_id in html, f"run {run_id}")

        # 6. Nobody gets in without a user.
        mlflow_access(check, mlflow, replica, champion)
        try:
            code = get(f"{ui}/")[0]
        except OSError as e:
            code = getattr(e, "code", repr(e))
        check("the UI refuses a request without its password", code == 401, f"HTTP {code}")

        # 7. One API container killed under load; the restart policy brings it back.
        info = stack.inspect("api-1")
        restarts = info.get("RestartCount", 0)
        pid = info["State"]["Pid"]
        killed = {}

        def kill():
            killed["at"] = time.time()
            os.kill(pid, signal.SIGKILL)

        ok, failed, errors, at = load_while(api, prediction_row(day_after(last)),
                                            args.load_seconds, kill)
        facts["kill_under_load"] = {"succeeded": ok, "failed": failed}
        check("no request through the proxy failed while api-1 was killed",
              failed == 0 and ok > 0, f"{ok} succeeded, {failed} failed {errors}; kill at {at:.1f} s")
        back = None
        while time.time() < killed["at"] + 120:
            info = stack.inspect("api-1")
            if info and info.get("RestartCount", 0) > restarts and info["State"]["Status"] == "running":
                if stack.exec("api-1", "curl", "-fsS", "http://127.0.0.1:5001/ready", check=False).returncode == 0:
                    back = time.time()
                    break
            time.sleep(0.2)
        if back:
            facts["api_start_to_ready_seconds"] = round(back - parse_time(info["State"]["StartedAt"]), 1)
        check("api-1 restarted by its restart policy and ready again", back is not None,
              f"{back - killed['at']:.1f} s after the kill" if back else "not back after 120 s")
        # The proxy follows it to its new address: some of these reach the new process.
        for _ in range(40):
            get(f"{api}/status")
        metrics = stack.exec("api-1", "curl", "-fsS", "http://127.0.0.1:5001/metrics", check=False).stdout
        served = sum(float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines()
                     if line.startswith("salescast_http_requests_total{") and 'route="/status"' in line)
        check("proxy: the restarted api-1 takes requests again", served > 0,
              f"{served:.0f} /status requests served since its restart")

        # 8. MLflow restarted: the replicas keep serving, and their next poll succeeds.
        restarted = {}

        def restart_mlflow():
            restarted["at"] = time.time()
            podman("restart", "--time", "10", stack.container("mlflow"))

        ok, failed, errors, _ = load_while(api, prediction_row(day_after(last)),
                                           args.load_seconds, restart_mlflow, at=0.1)
        check("the replicas kept serving while MLflow restarted", failed == 0 and ok > 0,
              f"{ok} succeeded, {failed} failed {errors}")
        not_ready = stack.wait_ready(180, ["mlflow"])
        polled = {}
        deadline = time.time() + 60
        while time.time() < deadline and len(polled) < 2:
            for s in ["api-1", "api-2"]:
                reg = replica_status(s).get("registry", {})
                checked = reg.get("checked_at")
                if checked and parse_time(checked) > restarted["at"] + 1 and not reg.get("error") \
                        and not not_ready:
                    polled[s] = reg.get("version")
            time.sleep(1)
        check("after MLflow's restart both replicas' next registry poll succeeds",
              len(polled) == 2 and set(polled.values()) == {champion}, polled)
        try:
            code = get(f"{mlflow}/api/2.0/mlflow/registered-models/alias"
                       "?name=salescast-revenue&alias=champion", headers=as_admin)[0]
        except OSError as e:
            code = repr(e)
        check("proxy: MLflow answers through the proxy after its restart", code == 200, f"HTTP {code}")

        # 8b. The replicas' password no longer works: they keep serving and say why.
        replica_locked_out(check, mlflow, as_admin, replica,
                           lambda: {s: replica_status(s) for s in ["api-1", "api-2"]}, champion)

        # 9. down, up: the registry, runs and reports survive in their volumes.
        run_ids = {r["info"]["run_id"] for r in runs}
        stack.compose("down")
        t_again = time.time()
        up = stack.compose("up", "-d", "--no-build", timeout=args.up_timeout, check=False)
        not_ready = stack.wait_ready(600) if up.returncode == 0 else {"compose": "up failed"}
        check("up again after down: every service healthy", up.returncode == 0 and not not_ready,
              f"{not_ready} {up.stderr.strip()[-300:]}" if not_ready else f"{time.time() - t_again:.0f} s")
        if not not_ready:
            runs_after, _ = mlflow_runs_and_champion(mlflow, as_admin)
            kept = run_ids & {r["info"]["run_id"] for r in runs_after}
            check("the runs survived down and up", kept == run_ids, f"{len(kept)} of {len(run_ids)}")
            code, body = get(f"{mlflow}/api/2.0/mlflow/model-versions/get?name=salescast-revenue"
                             f"&version={champion}", headers=as_admin)
            check(f"registered version {champion} survived down and up", code == 200)
            r = stack.exec("monitor", "ls", "/reports", check=False)
            kept = set(reports) & set(r.stdout.split())
            check("the monitor's reports survived down and up", kept == set(reports),
                  f"{len(kept)} of {len(reports)} files")

        # Image facts.
        for tag in ["salescast:latest", "salescast-mlflow:3.17.2"]:
            size = int(podman("image", "inspect", "--format", "{{.Size}}", tag).stdout.strip())
            facts.setdefault("image_mb", {})[tag] = round(size / 1e6)
        facts["build_seconds"] = round(t_built - t_start)
    except (OSError, KeyError, ValueError) as e:  # an answer that was not what a check needs
        traceback.print_exc()
        check("the checks ran to the end", False, repr(e)[:500])
    finally:
        stack.compose("down", "-v", "--remove-orphans", timeout=600, check=False)
        engine.close()
        left = {
            "containers": podman("ps", "-a", "-q", "--filter", f"label={LABEL}", check=False).stdout.split(),
            "volumes": podman("volume", "ls", "-q", "--filter", f"label={LABEL}", check=False).stdout.split(),
            "networks": [n for n in podman("network", "ls", "--format", "{{.Name}}", check=False).stdout.split()
                         if n.startswith(PROJECT)],
        }
        check("down -v left no container, volume or network", not any(left.values()), left)
        shutil.rmtree(work, ignore_errors=True)
    facts["total_seconds"] = round(time.time() - t_start)
    print(json.dumps(facts, indent=2))
    if args.facts:
        Path(args.facts).write_text(json.dumps(facts, indent=2) + "\n")
    if check.failures:
        print(f"compose-test: FAIL {len(check.failures)}: {check.failures}", file=sys.stderr)
        return 1
    log("ok, all checks passed")
    return 0


def parse_time(text):
    """Seconds since the epoch of an RFC 3339 time as podman and the API print it."""
    from datetime import datetime
    text = text.strip().replace("Z", "+00:00")
    if " " in text and "T" not in text:  # podman: 2026-12-07 20:29:32.123456789 +0000 UTC
        parts = text.split()
        text = parts[0] + "T" + parts[1] + parts[2][:3] + ":" + parts[2][3:]
    head, _, tail = text.partition(".")
    if tail:
        frac = "".join(ch for ch in tail if ch.isdigit())
        zone = tail[len(frac):]
        text = f"{head}.{frac[:6]}{zone}"
    return datetime.fromisoformat(text).timestamp()


if __name__ == "__main__":
    sys.exit(main())

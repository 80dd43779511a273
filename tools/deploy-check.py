#!/usr/bin/env python3
"""Static checks of the deployment files, run in `make test`:

- docker-compose.yml validates (`docker compose config`, or Debian's `docker-compose config`);
- every service has a health check and a restart policy, and the stack has what the topology
  needs (mlflow with --serve-artifacts on the postgres service's database, trainer, two API replicas loading from the
  registry, nginx, ui, monitor);
- no secret is baked in: no ENV/ARG in the Dockerfile and no literal in the compose file sets a
  variable named like a token, password, secret or key; .dockerignore keeps .env files out;
- locked down: only the proxy publishes ports, on 127.0.0.1 by default; MLflow runs its
  basic-auth app; the replicas read the registry as a user other than the trainer's;
- the Dockerfiles (ours, MLflow's and the stand-ins of compose-test) pass hadolint (the tools
  virtualenv's `hadolint`);
- the shell scripts parse.

Needs PyYAML (the tools virtualenv has it). Exits 1 naming every failure.

    .venv-tools/bin/python tools/deploy-check.py
"""
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
REQUIRED_SECRETS = ["SALESCAST_MLFLOW_ADMIN_PASSWORD", "SALESCAST_MLFLOW_REPLICA_PASSWORD",
                    "SALESCAST_MLFLOW_SECRET_KEY", "SALESCAST_UI_PASSWORD",
                    "SALESCAST_POSTGRES_PASSWORD"]
SECRET = re.compile(r"(TOKEN|PASSWORD|PASSWD|SECRET|API_KEY|PRIVATE_KEY|CREDENTIAL)", re.I)


def compose_config():
    if shutil.which("docker") and subprocess.run(
            ["docker", "compose", "version"], capture_output=True).returncode == 0:
        cmd = ["docker", "compose", "-f", "docker-compose.yml", "config"]
    elif shutil.which("docker-compose"):
        cmd = ["docker-compose", "-f", "docker-compose.yml", "config"]
    else:
        return None, "neither `docker compose` nor `docker-compose` is installed"
    # The secrets the file requires, as a user would export them (placeholders: only their
    # presence is checked here).
    env = dict(os.environ, **{k: f"check-only-{k.lower()}" for k in REQUIRED_SECRETS})
    env.pop("SALESCAST_BIND", None)
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env)
    if r.returncode != 0:
        return None, f"{' '.join(cmd)}: {r.stderr.strip()}"
    return yaml.safe_load(r.stdout), " ".join(cmd)


def main():
    failures = []

    def check(what, ok, detail=""):
        print(f"deploy-check: {'ok  ' if ok else 'FAIL'} {what}{(': ' + detail) if detail else ''}")
        if not ok:
            failures.append(what)

    cfg, how = compose_config()
    check("docker-compose.yml validates", cfg is not None, how)
    if cfg:
        services = cfg.get("services", {})
        for name, svc in sorted(services.items()):
            hc = svc.get("healthcheck") or {}
            check(f"{name}: has a health check", bool(hc.get("test")) and not hc.get("disable"))
            check(f"{name}: has a restart policy", svc.get("restart") in
                  ("always", "unless-stopped", "on-failure") or
                  str(svc.get("restart", "")).startswith("on-failure"), str(svc.get("restart")))
            env = svc.get("environment") or {}
            if isinstance(env, list):
                env = dict(e.split("=", 1) if "=" in e else (e, "") for e in env)
            for k, v in env.items():
                if SECRET.search(k) and v not in (None, ""):
                    raw = (ROOT / "docker-compose.yml").read_text()
                    literal = re.search(rf"^\s*{k}:\s*(?!\$\{{)\S", raw, re.M)
                    check(f"{name}: {k} comes from the environment, not the file",
                          literal is None)
        mlflow = " ".join(map(str, services.get("mlflow", {}).get("command", [])))
        backend = str((services.get("mlflow", {}).get("environment") or {})
                      .get("MLFLOW_BACKEND_STORE_URI", ""))
        check("mlflow keeps runs in the postgres service and serves artifacts",
              "--serve-artifacts" in mlflow
              and backend.startswith(("postgresql://", "postgresql+psycopg://"))
              and "@postgres:" in backend and "--backend-store-uri" not in mlflow)
        pg = services.get("postgres", {})
        check("postgres keeps its data on a volume",
              any("/var/lib/postgresql/data" in str(v.get("target") if isinstance(v, dict) else v)
                  for v in pg.get("volumes") or []))
        apis = [n for n, s in services.items()
                if "salescast-api" in " ".join(map(str, s.get("command") or []))]
        check("two API replicas", len(apis) == 2, ", ".join(apis))
        for n in apis:
            env = services[n].get("environment") or {}
            check(f"{n}: loads the champion from the registry",
                  str(env.get("SALESCAST_MODELS_URI", "")).startswith("models:/"))
        for n in ["trainer", "proxy", "ui", "monitor"]:
            check(f"service {n} exists", n in services)
        published = {n: s.get("ports") for n, s in services.items() if s.get("ports")}
        check("only the proxy publishes ports", list(published) == ["proxy"], str(list(published)))
        for port in published.get("proxy") or []:
            ip = port.get("host_ip") if isinstance(port, dict) else str(port).rsplit(":", 2)[0]
            check(f"the proxy's port {port} is bound to 127.0.0.1 by default", ip == "127.0.0.1")
        check("mlflow runs its basic-auth app", "--app-name=basic-auth" in mlflow)
        users = {n: (services[n].get("environment") or {}).get("MLFLOW_TRACKING_USERNAME")
                 for n in apis + ["trainer", "monitor"] if n in services}
        check("the replicas read MLflow as a user other than the writers'",
              all(users[n] for n in users) and
              not {users[n] for n in apis} & {users.get("trainer"), users.get("monitor")},
              str(users))

    docker = (ROOT / "Dockerfile").read_text()
    secret_lines = [m.group(0).strip() for m in
                    re.finditer(r"^\s*(ENV|ARG)\s+(.*)$", docker, re.M)
                    if SECRET.search(m.group(2))]
    check("the Dockerfile sets no secret-named ENV or ARG", not secret_lines,
          "; ".join(secret_lines))
    ignore = (ROOT / ".dockerignore").read_text().splitlines()
    check(".dockerignore starts from nothing (`*`) and lets no .env in",
          "*" in ignore and not any(".env" in l and l.startswith("!") for l in ignore))
    check("the runtime image runs as a non-root user",
          re.search(r"^USER\s+(?!root|0\b)\S+", docker.split("AS runtime")[-1], re.M) is not None)

    hadolint = shutil.which("hadolint") or str(ROOT / ".venv-tools/bin/hadolint")
    if Path(hadolint).exists():
        for dockerfile in ["Dockerfile", "deploy/mlflow.Dockerfile",
                           *sorted(str(p.relative_to(ROOT))
                                   for p in (ROOT / "deploy/standins").glob("*.Containerfile"))]:
            r = subprocess.run([hadolint, dockerfile], cwd=ROOT, capture_output=True, text=True)
            check(f"hadolint passes {dockerfile}", r.returncode == 0, (r.stdout + r.stderr).strip())
    else:
        check("hadolint is installed (make tools)", False)

    for script, shell in [("deploy/native.sh", "bash"), ("deploy/trainer.sh", "sh"),
                          ("deploy/monitor-loop.sh", "sh"), ("tools/serve.sh", "bash"),
                          ("deploy/standins/postgres-entrypoint.sh", "sh")]:
        r = subprocess.run([shell, "-n", script], cwd=ROOT, capture_output=True, text=True)
        check(f"{script} parses", r.returncode == 0, r.stderr.strip())

    if failures:
        print(f"deploy-check: FAIL {len(failures)}: {failures}", file=sys.stderr)
        return 1
    print("deploy-check: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())

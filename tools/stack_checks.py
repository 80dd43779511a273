"""Checks shared by the two deployment tests, tools/native-test.py (the topology as local
processes) and tools/compose-test.py (docker-compose.yml under podman): HTTP helpers, the
forecast page, MLflow's runs and alias, and load through the proxy while something fails.
Standard library only.
"""
import base64
import json
import socket
import threading
import time
import urllib.error
import urllib.request


def free_port():
    """A TCP port free on 127.0.0.1 now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def basic(user, password):
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


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


class Checks:
    """Prints each check as it is made and keeps the names of the failed ones."""

    def __init__(self, prefix):
        self.prefix = prefix
        self.failures = []

    def __call__(self, what, ok, detail=""):
        print(f"{self.prefix}: {'ok  ' if ok else 'FAIL'} {what}{(': ' + str(detail)) if detail else ''}",
              flush=True)
        if not ok:
            self.failures.append(what)
        return ok


def mlflow_runs_and_champion(mlflow, headers):
    """The number of runs in the `salescast` experiment and the champion alias's version."""
    exp = json.loads(get(f"{mlflow}/api/2.0/mlflow/experiments/get-by-name?experiment_name=salescast",
                         headers=headers)[1])
    runs = json.loads(post(f"{mlflow}/api/2.0/mlflow/runs/search",
                           {"experiment_ids": [exp["experiment"]["experiment_id"]]}, headers=headers)[1])
    alias = json.loads(get(f"{mlflow}/api/2.0/mlflow/registered-models/alias"
                           "?name=salescast-revenue&alias=champion", headers=headers)[1])
    return runs.get("runs", []), alias["model_version"]


def day_after(day, days=1):
    t = time.mktime(time.strptime(day, "%Y-%m-%d")) - time.timezone + days * 86400
    return time.strftime("%Y-%m-%d", time.gmtime(t))


def forecast_rows(ui, last_training_day, headers=None, days=14):
    """The HTTP status of the UI's forecast page for the `days` after the training data, and the
    number of rows in its forecast table."""
    start = day_after(last_training_day)
    end = day_after(start, days - 1)
    code, html = get(f"{ui}/forecast?start={start}&end={end}", timeout=60, headers=headers)
    html = html.decode()
    marker = 'id="forecast-table"'
    return code, (html.count("<tr", html.find(marker)) if marker in html else 0)


def prediction_row(day):
    return {"date": day, "store_id": "S01", "product_id": "P0001", "category": "Electronics",
            "unit_price": 50.0, "discount": 0.1, "promotion": 1}


def load_while(api, row, seconds, fault, at=1 / 3, workers=4):
    """Requests through the proxy at `api` (`/predict` and `/status`, `workers` at a time) for
    `seconds`; `fault()` is called a third of the way in. Returns (succeeded, failed, first
    errors, seconds into the load at which the fault was made)."""
    counts = {"ok": 0, "failed": 0}
    errors = []
    lock = threading.Lock()
    t0 = time.time()
    stop_at = t0 + seconds

    def load(i):
        while time.time() < stop_at:
            try:
                if i % 2:
                    code, _ = post(f"{api}/predict", row)
                else:
                    code, _ = get(f"{api}/status")
                ok = code == 200
            except (urllib.error.URLError, OSError) as e:
                ok, code = False, repr(e)
            with lock:
                counts["ok" if ok else "failed"] += 1
                if not ok and len(errors) < 5:
                    errors.append(code)

    threads = [threading.Thread(target=load, args=(i,)) for i in range(workers)]
    for t in threads:
        t.start()
    time.sleep(seconds * at)
    fault_at = time.time() - t0
    fault()
    for t in threads:
        t.join()
    return counts["ok"], counts["failed"], errors, fault_at


def mlflow_access(check, mlflow, replica_password, version):
    """Nobody gets into MLflow without a user; the replicas' user reads but cannot move the
    alias; a wrong password is refused."""
    alias_url = f"{mlflow}/api/2.0/mlflow/registered-models/alias?name=salescast-revenue&alias=champion"
    code = refused(lambda: get(alias_url))
    check("MLflow refuses a request without a user", code == 401, f"HTTP {code}")
    replica = basic("replica", replica_password)
    code, _ = get(alias_url, headers=replica)
    check("the replicas' user reads the alias", code == 200)
    move = {"name": "salescast-revenue", "alias": "champion", "version": version}
    code = refused(lambda: post(f"{mlflow}/api/2.0/mlflow/registered-models/alias", move,
                                headers=replica))
    check("the replicas' user cannot move the alias", code == 403, f"HTTP {code}")
    code = refused(lambda: post(f"{mlflow}/api/2.0/mlflow/registered-models/alias", move,
                                headers=basic("admin", "wrong-password-12")))
    check("a wrong password is refused", code == 401, f"HTTP {code}")


def replica_locked_out(check, mlflow, admin_headers, replica_password, replica_statuses, version,
                       wait=90):
    """The replicas' password changed in MLflow behind their backs: each keeps serving `version`
    and its /status names the failed registry check; with the password back, the error clears.
    `replica_statuses()` maps each replica's name to its /status. MLflow caches a checked
    password for a while (`auth_cache_ttl_seconds`), hence the wait."""
    def set_password(password):
        req = urllib.request.Request(f"{mlflow}/api/2.0/mlflow/users/update-password", method="PATCH",
                                     data=json.dumps({"username": "replica", "password": password}).encode(),
                                     headers={"Content-Type": "application/json", **admin_headers})
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status

    set_password("changed-" + replica_password)
    seen = {}
    deadline = time.time() + wait
    try:
        while time.time() < deadline and len(seen) < 2:
            for name, st in replica_statuses().items():
                reg = st.get("registry", {})
                if reg.get("error") and st.get("ready") and reg.get("version") == version:
                    seen.setdefault(name, reg["error"])
            time.sleep(1)
    finally:
        set_password(replica_password)
    check("a replica whose MLflow password no longer works keeps serving its version and says why "
          "in /status", len(seen) == 2, {k: v[:120] for k, v in seen.items()} or "no error shown")
    cleared = set()
    deadline = time.time() + wait
    while time.time() < deadline and len(cleared) < 2:
        cleared = {n for n, st in replica_statuses().items()
                   if not st.get("registry", {}).get("error") and st.get("registry", {}).get("version") == version}
        time.sleep(1)
    check("with the password back, the replicas' next poll succeeds", len(cleared) == 2, sorted(cleared))

#!/usr/bin/env bash
# The deployment topology of docker-compose.yml as local processes on 127.0.0.1, for machines
# without a container engine: a real MLflow server (SQLite backend, artifacts served through its
# proxy), the trainer logging to it and registering the champion, two salescast-api replicas
# that load the champion from the registry (no shared volume), nginx in front of them (retrying
# the other replica when one fails), the UI through nginx, and a monitor run on the test days.
# The same environment variables as the compose file configure it. It prints the addresses and
# stops everything on Ctrl-C (or SIGTERM), leaving no process behind.
#
# Usage: deploy/native.sh BIN_DIR
#   SALESCAST_NATIVE_DIR   working directory (default ./native)
#   SALESCAST_PARAMS       settings for generate and pipeline (default ./params.yaml)
#   MLFLOW_PORT (5000) API_PORT (5001, nginx) REPLICA_PORTS ("5101 5102") UI_PORT (8501)
#   SALESCAST_MODELS_POLL_SECS  how often replicas ask the registry (default 30)
#   SALESCAST_NATIVE_NO_WAIT=1  start, print, and return (the processes keep running; their
#                               pids are in $SALESCAST_NATIVE_DIR/pids) instead of waiting
#   SALESCAST_MLFLOW_BACKEND    sqlite (default) or postgresql: MLflow's runs and registry in
#                               Debian's PostgreSQL (package postgresql), a cluster of its own in
#                               $SALESCAST_NATIVE_DIR/pg on a free port, as compose does
#   SALESCAST_MLFLOW_ADMIN_PASSWORD, SALESCAST_MLFLOW_REPLICA_PASSWORD
#                               MLflow's users (at least 12 characters); unset, each is
#                               generated once and kept in $SALESCAST_NATIVE_DIR/secrets (0600)
#
# MLflow runs behind its basic-auth app: nobody gets in without a user. The trainer and the
# monitor log as `admin`; the replicas read the registry as `replica`, which has MLflow's
# default READ permission and so cannot move the alias.
set -euo pipefail
bin=$(cd "${1:?usage: deploy/native.sh BIN_DIR}" && pwd)
root=$(cd "$(dirname "$0")/.." && pwd)
dir=${SALESCAST_NATIVE_DIR:-$PWD/native}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
params=${SALESCAST_PARAMS:-$root/params.yaml}
mlflow_port=${MLFLOW_PORT:-5000}
api_port=${API_PORT:-5001}
read -r -a replica_ports <<<"${REPLICA_PORTS:-5101 5102}"
ui_port=${UI_PORT:-8501}
poll=${SALESCAST_MODELS_POLL_SECS:-30}
mlflow=${MLFLOW_BIN:-$root/.venv-tools/bin/mlflow}
nginx=${NGINX_BIN:-$(command -v nginx || echo /usr/sbin/nginx)}
[ -x "$mlflow" ] || { echo "native.sh: $mlflow not found: run make tools" >&2; exit 2; }
[ -x "$nginx" ] || { echo "native.sh: nginx not found: apt-get install nginx-light" >&2; exit 2; }

pids=()
: >"$dir/pids"
stop() {
    trap - INT TERM EXIT
    if [ -n "${pg_pid:-}" ]; then
        as_pg "$pgbin/pg_ctl" -D "$dir/pg/data" -m fast stop >/dev/null 2>&1 || true
    fi
    [ ${#pids[@]} -eq 0 ] && return
    kill -TERM "${pids[@]}" 2>/dev/null || true
    # MLflow's server runs workers in its own process group.
    kill -TERM -- "-${pids[0]}" 2>/dev/null || true
    wait "${pids[@]}" 2>/dev/null || true
}
started() { pids+=("$1"); echo "$1" >>"$dir/pids"; }
wait_for() { # URL WHAT [SECONDS]
    for _ in $(seq 1 $((${3:-60} * 5))); do
        curl -fsS "$1" >/dev/null 2>&1 && return 0
        sleep 0.2
    done
    echo "native.sh: $2 did not come up ($1); logs in $dir/logs" >&2
    return 1
}
if [ "${SALESCAST_NATIVE_NO_WAIT:-0}" != 1 ]; then
    trap 'stop; exit 0' INT TERM
    trap stop EXIT
fi
mkdir -p "$dir/logs" "$dir/mlflow" "$dir/reports" "$dir/secrets"
chmod 700 "$dir/secrets"
export MLFLOW_TRACKING_URI=http://127.0.0.1:$mlflow_port

# A secret from the environment, else the one generated on an earlier start, else a new one.
secret() { # NAME VARIABLE_VALUE
    local file="$dir/secrets/$1"
    if [ -n "$2" ]; then
        printf '%s' "$2"
    else
        [ -s "$file" ] || (umask 077 && python3 -c 'import secrets; print(secrets.token_urlsafe(24), end="")' >"$file")
        cat "$file"
    fi
}
admin_password=$(secret mlflow-admin "${SALESCAST_MLFLOW_ADMIN_PASSWORD:-}")
replica_password=$(secret mlflow-replica "${SALESCAST_MLFLOW_REPLICA_PASSWORD:-}")
flask_key=$(secret mlflow-flask-key "")
for p in "$admin_password" "$replica_password"; do
    [ ${#p} -ge 12 ] || { echo "native.sh: MLflow passwords need at least 12 characters" >&2; exit 2; }
done

# 1. The backend store: SQLite, or a PostgreSQL cluster of this directory's (run as the
# `postgres` user when we are root, since PostgreSQL refuses root).
backend="sqlite:///$dir/mlflow/mlflow.db"
if [ "${SALESCAST_MLFLOW_BACKEND:-sqlite}" = postgresql ]; then
    pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    [ -x "$pgbin/initdb" ] || { echo "native.sh: PostgreSQL not found: apt-get install postgresql" >&2; exit 2; }
    as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
    pg_password=$(secret postgres "${SALESCAST_POSTGRES_PASSWORD:-}")
    pg_port=${POSTGRES_PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
    mkdir -p "$dir/pg"
    [ "$(id -u)" = 0 ] && chown postgres:postgres "$dir/pg" && chmod 755 "$dir"
    if [ ! -f "$dir/pg/data/PG_VERSION" ]; then
        as_pg "$pgbin/initdb" -D "$dir/pg/data" -U postgres --auth-local=trust \
            --auth-host=scram-sha-256 >"$dir/logs/postgres-init.log" 2>&1
    fi
    as_pg "$pgbin/pg_ctl" -D "$dir/pg/data" -l "$dir/pg/postgres.log" -w \
        -o "-p $pg_port -c listen_addresses=127.0.0.1 -c unix_socket_directories=$dir/pg" start \
        >>"$dir/logs/postgres-init.log" 2>&1
    pg_pid=$(head -n 1 "$dir/pg/data/postmaster.pid")
    psql_() { as_pg "$pgbin/psql" -h "$dir/pg" -p "$pg_port" -U postgres -v ON_ERROR_STOP=1 -qtA "$@"; }
    if [ "$(psql_ -c "SELECT 1 FROM pg_roles WHERE rolname = 'mlflow'")" != 1 ]; then
        psql_ -c "CREATE ROLE mlflow LOGIN PASSWORD '$pg_password'"
        psql_ -c "CREATE DATABASE mlflow OWNER mlflow"
    fi
    backend="postgresql://mlflow:$pg_password@127.0.0.1:$pg_port/mlflow"
fi

# 2. MLflow behind its basic-auth app: the backend above, its user store in SQLite, artifacts on
# disk behind the server's proxy. The passwords reach it through the environment, never a file
# or a command line.
cat >"$dir/mlflow/basic_auth.ini" <<INI
[mlflow]
default_permission = READ
database_uri = sqlite:///$dir/mlflow/basic_auth.db
admin_username = admin
authorization_function = mlflow.server.auth:authenticate_request_basic_auth
# Each request's password check is a PBKDF2 hash; cached, a replica's download of a version
# (dozens of requests) is not slowed by it.
auth_cache_ttl_seconds = 60
INI
MLFLOW_AUTH_CONFIG_PATH="$dir/mlflow/basic_auth.ini" MLFLOW_AUTH_ADMIN_PASSWORD="$admin_password" \
    MLFLOW_FLASK_SERVER_SECRET_KEY="$flask_key" MLFLOW_BACKEND_STORE_URI="$backend" \
    setsid "$mlflow" server --app-name basic-auth --host 127.0.0.1 --port "$mlflow_port" \
    --artifacts-destination "$dir/mlflow/artifacts" --serve-artifacts \
    >"$dir/logs/mlflow.log" 2>&1 &
started $!
wait_for "$MLFLOW_TRACKING_URI/health" "MLflow" 120
# The trainer and the monitor write as admin; the replicas get a read-only user.
export MLFLOW_TRACKING_USERNAME=admin MLFLOW_TRACKING_PASSWORD="$admin_password"
if ! curl -fsS -o /dev/null -u "admin:$admin_password" \
    "$MLFLOW_TRACKING_URI/api/2.0/mlflow/users/get?username=replica"; then
    curl -fsS -o /dev/null -u "admin:$admin_password" -H 'Content-Type: application/json' \
        -d "{\"username\": \"replica\", \"password\": \"$replica_password\"}" \
        "$MLFLOW_TRACKING_URI/api/2.0/mlflow/users/create" ||
        { echo "native.sh: creating MLflow's replica user failed; see $dir/logs/mlflow.log" >&2; exit 1; }
fi

# 3. The trainer: the pipeline end to end, logged to MLflow, the champion registered.
train() {
    mkdir -p "$dir/train"
    (cd "$dir/train" &&
        "$bin/salescast" generate --params "$params" --out raw.csv &&
        "$bin/salescast" pipeline --params "$params" --input raw.csv --workdir .) \
        >>"$dir/logs/trainer.log" 2>&1
}
train || { echo "native.sh: the trainer failed; see $dir/logs/trainer.log" >&2; exit 1; }

# 4. API replicas, each loading the champion from the registry into its own cache.
upstream=""
for i in "${!replica_ports[@]}"; do
    port=${replica_ports[$i]}
    MLFLOW_TRACKING_USERNAME=replica MLFLOW_TRACKING_PASSWORD="$replica_password" \
        "$bin/salescast-api" --addr "127.0.0.1:$port" \
        --models-uri "models:/salescast-revenue@champion" \
        --models-cache "$dir/replica-$((i + 1))" --models-poll-secs "$poll" \
        >"$dir/logs/api-$((i + 1)).log" 2>&1 &
    started $!
    upstream+="        server 127.0.0.1:$port max_fails=1 fail_timeout=5s;"$'\n'
done
for port in "${replica_ports[@]}"; do
    wait_for "http://127.0.0.1:$port/ready" "the API replica on $port"
done

# 5. nginx in front: a request that fails on one replica (refused, reset, 502/503/504) is
# retried on the other, POSTs included (every route is safe to repeat).
mkdir -p "$dir/nginx/logs"
cat >"$dir/nginx/nginx.conf" <<CONF
worker_processes 1;
pid $dir/nginx/nginx.pid;
error_log $dir/nginx/logs/error.log warn;
events { worker_connections 1024; }
http {
    access_log $dir/nginx/logs/access.log;
    client_body_temp_path $dir/nginx/body;
    proxy_temp_path $dir/nginx/proxy;
    fastcgi_temp_path $dir/nginx/fastcgi;
    uwsgi_temp_path $dir/nginx/uwsgi;
    scgi_temp_path $dir/nginx/scgi;
    client_max_body_size 64m;
    upstream salescast_api {
$upstream        keepalive 16;
    }
    server {
        listen 127.0.0.1:$api_port;
        location / {
            proxy_pass http://salescast_api;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host \$host;
            proxy_connect_timeout 2s;
            proxy_next_upstream error timeout http_502 http_503 http_504 non_idempotent;
            proxy_next_upstream_tries 2;
            proxy_request_buffering on;
        }
    }
}
CONF
"$nginx" -p "$dir/nginx" -c "$dir/nginx/nginx.conf" -g "daemon off;" >"$dir/logs/nginx.log" 2>&1 &
started $!
wait_for "http://127.0.0.1:$api_port/ready" "nginx"

# 6. The UI, through nginx.
"$bin/salescast-ui" --api-url "http://127.0.0.1:$api_port" --addr "127.0.0.1:$ui_port" \
    --reports-dir "$dir/reports" --mlflow-url "$MLFLOW_TRACKING_URI" \
    >"$dir/logs/ui.log" 2>&1 &
started $!
wait_for "http://127.0.0.1:$ui_port/health" "the UI"

# 7. A monitor run on the test days (the rows from the split's first test day on).
python3 "$root/tools/test-days.py" "$dir/train/raw.csv" "$dir/train/models" "$dir/test-days.csv" \
    2>>"$dir/logs/monitor.log"
monitor_code=0
"$bin/salescast-monitor" --new-data "$dir/test-days.csv" --models-dir "$dir/train/models" \
    --report-dir "$dir/reports" >>"$dir/logs/monitor.log" 2>&1 || monitor_code=$?

echo
echo "  MLflow:   $MLFLOW_TRACKING_URI   (user admin; password in $dir/secrets/mlflow-admin unless given; runs in ${backend%%:*})"
echo "  API:      http://127.0.0.1:$api_port   (nginx over ${#replica_ports[@]} replicas; docs: http://127.0.0.1:$api_port/docs/)"
echo "  UI:       http://127.0.0.1:$ui_port"
echo "  Monitor:  exit $monitor_code (0 healthy, 1 alerts raised), report $dir/reports/latest.html"
echo "  Logs:     $dir/logs"
if [ "${SALESCAST_NATIVE_NO_WAIT:-0}" = 1 ]; then
    # PostgreSQL is not this shell's child: listed last, for whoever stops the rest.
    [ -z "${pg_pid:-}" ] || echo "$pg_pid" >>"$dir/pids"
    exit 0
fi
echo "  Ctrl-C stops everything."
echo
wait -n "${pids[@]}"

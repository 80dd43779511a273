#!/usr/bin/env bash
# salescast-api attacked from its own OpenAPI document by schemathesis, with all its checks
# (no 5xx, status codes, content types and response bodies as documented, malformed data
# refused, schema-valid data accepted; see tools/schemathesis.toml), bounded in examples and
# time, against models trained on small generated data.
# Usage: tools/api-attack.sh BIN_DIR [MAX_EXAMPLES]
set -euo pipefail
bin=$(cd "${1:?usage: tools/api-attack.sh BIN_DIR [MAX_EXAMPLES]}" && pwd)
examples=${2:-50}
root=$(cd "$(dirname "$0")/.." && pwd)
venv=${SALESCAST_TOOLS_VENV:-$root/.venv-tools}
seed=${SCHEMATHESIS_SEED:-20261206}
work=$(mktemp -d)
api_pid=
cleanup() {
    [[ -n $api_pid ]] && kill "$api_pid" 2>/dev/null && wait "$api_pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

models=$("$root/tools/small-models.sh" "$bin" "$work")
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# The admin route is on (a random token), so that its documented answers are attacked too.
token=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
RUST_LOG=warn SALESCAST_ADMIN_TOKEN=$token "$bin/salescast-api" --models-dir "$models" --addr "127.0.0.1:$port" 2>"$work/api.log" &
api_pid=$!
for _ in $(seq 1 100); do
    curl -fsS "http://127.0.0.1:$port/ready" >/dev/null 2>&1 && break
    sleep 0.1
done

cd "$work"
status=0
timeout 900 "$venv/bin/schemathesis" --config-file "$root/tools/schemathesis.toml" run \
    "http://127.0.0.1:$port/openapi.json" --checks all --max-examples "$examples" \
    --header "Authorization: Bearer $token" \
    --request-timeout 10 --seed "$seed" --generation-database none --no-color || status=$?
if grep -q "panicked" "$work/api.log"; then
    echo "api-attack: the API logged a panic:"; grep -A3 panicked "$work/api.log"; status=1
fi
exit "$status"

#!/usr/bin/env bash
# Runs the monitor on the test days of ./data/raw/sales.csv (when the pipeline made it), then
# serves ./models with salescast-api and the analysts' UI beside it (the UI shows the monitor's
# report), prints the addresses, and stops both on Ctrl-C (or when either exits).
# Usage: tools/serve.sh BIN_DIR
set -euo pipefail
bin=${1:?usage: tools/serve.sh BIN_DIR}
api_addr=${SALESCAST_ADDR:-127.0.0.1:5001}
ui_addr=${SALESCAST_UI_ADDR:-127.0.0.1:8501}
reports=${SALESCAST_REPORTS_DIR:-reports}
models=${SALESCAST_MODELS_DIR:-models}

raw=${SALESCAST_RAW:-data/raw/sales.csv}
root=$(cd "$(dirname "$0")/.." && pwd)
monitor="no raw data at $raw: monitor not run"
if [ -f "$raw" ] && [ -f "$models/manifest.json" ]; then
    mkdir -p "$reports"
    code=0
    python3 "$root/tools/test-days.py" "$raw" "$models" "$reports/test-days.csv" 2>/dev/null &&
        "$bin/salescast-monitor" --new-data "$reports/test-days.csv" --models-dir "$models" \
            --report-dir "$reports" >"$reports/monitor.log" 2>&1 || code=$?
    monitor="exit $code (0 healthy, 1 alerts raised), report $reports/latest.html"
fi

pids=()
stop() {
    trap - INT TERM EXIT
    kill -TERM "${pids[@]}" 2>/dev/null || true
    wait "${pids[@]}" 2>/dev/null || true
}
trap 'stop; exit 0' INT TERM
trap stop EXIT

"$bin/salescast-api" --models-dir "$models" --addr "$api_addr" &
pids+=($!)
"$bin/salescast-ui" --api-url "http://$api_addr" --addr "$ui_addr" --reports-dir "$reports" &
pids+=($!)

for _ in $(seq 1 100); do
    if curl -fsS "http://$ui_addr/health" >/dev/null 2>&1 && curl -fsS "http://$api_addr/health" >/dev/null 2>&1; then
        break
    fi
    sleep 0.2
done
echo
echo "  API:      http://$api_addr   (docs: http://$api_addr/docs/)"
echo "  UI:       http://$ui_addr"
echo "  Monitor:  $monitor"
echo "  Ctrl-C stops both."
echo
wait -n "${pids[@]}"

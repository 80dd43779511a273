#!/usr/bin/env bash
# The soak test (tools/soak.py) against small trained models: SECONDS of mixed load on every
# route. `make soak` runs 60 s in the test suite; `make soak-bench` runs 300 s on the release
# binary and keeps the figures in bench/out/soak.json.
# Usage: tools/soak.sh BIN_DIR SECONDS [SUMMARY_JSON]
set -euo pipefail
bin=$(cd "${1:?usage: tools/soak.sh BIN_DIR SECONDS [SUMMARY_JSON]}" && pwd)
seconds=${2:?usage: tools/soak.sh BIN_DIR SECONDS [SUMMARY_JSON]}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
models=$("$root/tools/small-models.sh" "$bin" "$work")
python3 "$root/tools/soak.py" --api-bin "$bin/salescast-api" --models-dir "$models" \
    --raw "$work/raw.csv" --seconds "$seconds" ${3:+--json "$3"}

#!/usr/bin/env bash
# Trains the small models the service tests use (tools/browser/params-small.yaml: 20,000 rows
# over 400 days, 4 stores) into DIR/w/models, with the CLI in BIN_DIR. Prints the models dir.
# Usage: tools/small-models.sh BIN_DIR DIR
set -euo pipefail
bin=$(cd "${1:?usage: tools/small-models.sh BIN_DIR DIR}" && pwd)
dir=$(cd "${2:?usage: tools/small-models.sh BIN_DIR DIR}" && pwd)
root=$(cd "$(dirname "$0")/.." && pwd)
params=$root/tools/browser/params-small.yaml
cd "$dir"
MLFLOW_TRACKING_URI= RUST_LOG=warn "$bin/salescast" generate --params "$params" --out raw.csv >/dev/null
MLFLOW_TRACKING_URI= RUST_LOG=warn "$bin/salescast" pipeline --params "$params" --input raw.csv --workdir w >/dev/null
echo "$dir/w/models"

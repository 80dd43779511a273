#!/bin/sh
# The compose trainer: the pipeline once, end to end, on generated data (or on
# $SALESCAST_RAW_DATA when it names a contract CSV), logging every run to MLflow
# ($MLFLOW_TRACKING_URI) and registering the champion with its `champion` alias. It also leaves
# the test days in /data/incoming/latest.csv for the monitor's first runs.
set -eu
cd /work
# MLflow's read-only user for the replicas (the basic-auth app's default permission is READ),
# created once by the admin the trainer logs as.
if [ -n "${SALESCAST_MLFLOW_REPLICA_PASSWORD:-}" ]; then
    case $SALESCAST_MLFLOW_REPLICA_PASSWORD in
    *[\\\"]*) echo "trainer.sh: SALESCAST_MLFLOW_REPLICA_PASSWORD may not hold \\ or \"" >&2; exit 2 ;;
    esac
    auth="$MLFLOW_TRACKING_USERNAME:$MLFLOW_TRACKING_PASSWORD"
    if ! curl -fsS -o /dev/null -u "$auth" "$MLFLOW_TRACKING_URI/api/2.0/mlflow/users/get?username=replica"; then
        curl -fsS -o /dev/null -u "$auth" -H 'Content-Type: application/json' \
            -d "{\"username\": \"replica\", \"password\": \"$SALESCAST_MLFLOW_REPLICA_PASSWORD\"}" \
            "$MLFLOW_TRACKING_URI/api/2.0/mlflow/users/create"
    fi
fi
raw=${SALESCAST_RAW_DATA:-/work/raw.csv}
if [ ! -f "$raw" ]; then
    salescast generate --out "$raw"
fi
salescast pipeline --input "$raw" --workdir /work
mkdir -p /data/incoming
python_free_test_days() {
    # The rows from the split's first test day on, found by the header's `date` column (the
    # image has no Python; generated data quotes no field).
    t=/work/models/evaluation/transform.json; [ -f "$t" ] || t=/work/models/transform.json
    start=$(sed -n 's/.*"test_start": *"\([0-9-]*\)".*/\1/p' "$t" | head -n 1)
    col=$(head -n 1 "$raw" | tr ',' '\n' | grep -n '^date$' | cut -d: -f1)
    awk -F, -v c="$col" -v s="$start" 'NR == 1 || $c >= s' "$raw" >/data/incoming/.latest.csv.part
    mv /data/incoming/.latest.csv.part /data/incoming/latest.csv
}
python_free_test_days
touch /work/.trained

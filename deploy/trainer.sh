#!/bin/sh
# The compose trainer: the pipeline once, end to end, on generated data (or on
# $SALESCAST_RAW_DATA when it names a contract CSV), logging every run to MLflow
# ($MLFLOW_TRACKING_URI) and registering the champion with its `champion` alias. It also leaves
# the test days in /data/incoming/latest.csv for the monitor's first runs.
set -eu
cd /work
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

#!/usr/bin/env python3
"""Writes the rows of a contract CSV from a models directory's first test day on (the split in
its transform.json), for a monitor run on the days the models were judged on. The output
appears by rename only when whole.

    tools/test-days.py RAW.csv MODELS_DIR OUT.csv
"""
import csv
import json
import os
import sys
from pathlib import Path


def main():
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    raw, models, out = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
    for t in [models / "evaluation" / "transform.json", models / "transform.json"]:
        if t.is_file():
            start = json.loads(t.read_text())["payload"]["split"]["test_start"]
            break
    else:
        print(f"test-days: no transform.json in {models}", file=sys.stderr)
        return 2
    n = 0
    with open(raw, newline="") as f, open(out + ".part", "w", newline="") as g:
        r, w = csv.reader(f), csv.writer(g)
        head = next(r)
        if "date" not in head:
            print(f"test-days: {raw} has no date column", file=sys.stderr)
            return 2
        w.writerow(head)
        at = head.index("date")
        for row in r:
            if len(row) > at and row[at] >= start:
                w.writerow(row)
                n += 1
    os.replace(out + ".part", out)
    print(f"test-days: {n} rows from {start} on in {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

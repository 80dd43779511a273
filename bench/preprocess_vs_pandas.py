"""Benchmark: `salescast generate`, and `salescast preprocess` + `salescast features`, against the
pandas peer (bench/pandas_peer.py) on the same files, in the same run.

Prints medians over repeated runs, the ratio, and peak resident memory (per process, from the
kernel's rusage). Usage (from the repository root, after `make venv` and a release build):

    .venv/bin/python bench/preprocess_vs_pandas.py [--bin target/release/salescast] [--reps 5]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def run(cmd, cwd=None):
    """Runs `cmd`, returning (wall seconds, peak RSS in MB, stdout)."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         env={**os.environ, "RUST_LOG": "warn"})
    out = p.stdout.read()
    err = p.stderr.read()
    _, status, usage = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"command failed: {' '.join(map(str, cmd))}\n{err.decode(errors='replace')}")
    return wall, usage.ru_maxrss / 1024.0, out.decode()


def stages(sc, raw, work):
    """`salescast preprocess` then `salescast features`, as DVC runs them."""
    return ["sh", "-c", f'"{sc}" preprocess --input "{raw}" --out-dir "{work}/processed" && '
                        f'"{sc}" features --in-dir "{work}/processed" --out-dir "{work}/features"']


def median_of(reps, cmd):
    runs = [run(cmd) for _ in range(reps)]
    return statistics.median(r[0] for r in runs), max(r[1] for r in runs), runs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="target/release/salescast")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--rows", type=int, default=300_000)
    ap.add_argument("--big-rows", type=int, default=1_000_000)
    a = ap.parse_args()
    sc = str(Path(a.bin).resolve())
    peer = str(Path(__file__).with_name("pandas_peer.py").resolve())
    py = sys.executable

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        big = tmp / "big.csv"
        gen_big, gen_big_rss, _ = median_of(a.reps, [sc, "generate", "--out", big, "--rows", str(a.big_rows)])
        small = tmp / "small.csv"
        run([sc, "generate", "--out", small, "--rows", str(a.rows)])

        rust, rust_rss, _ = median_of(a.reps, stages(sc, small, tmp / "rs"))
        pandas, pandas_rss, pruns = median_of(a.reps, [py, peer, small, tmp / "pd"])
        rows_out_pd = json.loads(pruns[0][2])["rows_out"]
        rows_out_rs = json.loads((tmp / "rs/processed/report.json").read_text())["rows_out"]

        big_rust, big_rust_rss, _ = run(stages(sc, big, tmp / "rs_big"))
        big_pd, big_pd_rss, _ = run([py, peer, big, tmp / "pd_big"])

    w = 44
    print(f"\nsalescast vs pandas: preprocess + features (median of {a.reps} runs)")
    print(f"{'measure':<{w}} {'salescast':>12} {'pandas':>12} {'ratio':>8}")
    print(f"{f'generate {a.big_rows:,} rows (s)':<{w}} {gen_big:>12.3f} {'-':>12} {'':>8}")
    print(f"{f'generate {a.big_rows:,} rows, peak RSS (MB)':<{w}} {gen_big_rss:>12.0f} {'-':>12} {'':>8}")
    print(f"{f'preprocess+features {a.rows:,} rows (s)':<{w}} {rust:>12.3f} {pandas:>12.3f} {pandas / rust:>7.1f}x")
    print(f"{f'  rows kept':<{w}} {rows_out_rs:>12,} {rows_out_pd:>12,}")
    print(f"{f'  peak RSS (MB)':<{w}} {rust_rss:>12.0f} {pandas_rss:>12.0f} {pandas_rss / rust_rss:>7.1f}x")
    print(f"{f'preprocess+features {a.big_rows:,} rows (s, 1 run)':<{w}} {big_rust:>12.3f} {big_pd:>12.3f} {big_pd / big_rust:>7.1f}x")
    print(f"{f'  peak RSS (MB)':<{w}} {big_rust_rss:>12.0f} {big_pd_rss:>12.0f} {big_pd_rss / big_rust_rss:>7.1f}x")
    print(f"\ntargets: generate {a.big_rows:,} rows < 5 s: {'met' if gen_big < 5 else 'MISSED'}; "
          f"preprocess+features >= 3x pandas: {'met' if pandas / rust >= 3 else 'MISSED'}")


if __name__ == "__main__":
    main()

#!/usr/bin/env bash
# `dvc repro` on the committed dvc.lock must leave it, and the whole git tree, unchanged, and a
# second `dvc status` must find every stage up to date. Run on a copy of the working tree (what
# would be committed), with the default data and params.yaml, and the salescast binary in the
# directory given as the first argument (any profile: the outputs do not depend on it).
set -euo pipefail
bin_dir=$(cd "${1:?usage: tools/check-repro.sh BIN_DIR}" && pwd)
root=$(cd "$(dirname "$0")/.." && pwd)
dvc="$root/.venv-tools/bin/dvc"
[ -x "$bin_dir/salescast" ] || { echo "check-repro: no salescast binary in $bin_dir" >&2; exit 1; }
[ -x "$dvc" ] || { echo "check-repro: $dvc missing: run make tools" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/salescast-repro.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$root"
# Tracked and new (not ignored) files that exist: the tree a commit would hold.
git ls-files -z --cached --others --exclude-standard |
    while IFS= read -r -d '' f; do [ -f "$f" ] && printf '%s\0' "$f"; done |
    xargs -0 cp --parents -t "$work"
cd "$work"
git init -q
git add -A
git -c user.name=check -c user.email=check@localhost commit -qm snapshot

export PATH="$bin_dir:$root/.venv-tools/bin:$PATH" DVC_NO_ANALYTICS=1 RUST_LOG=warn
unset MLFLOW_TRACKING_URI SALESCAST_PARAMS
started=$SECONDS
"$dvc" repro
echo "check-repro: dvc repro took $((SECONDS - started)) s"

fail=0
if ! git diff --exit-code --stat -- dvc.lock; then
    echo "check-repro: dvc repro changed the committed dvc.lock (above): an output is not reproducible, or dvc.lock is stale (make repro, then commit it)" >&2
    git diff -- dvc.lock | head -60 >&2
    fail=1
fi
dirty=$(git status --porcelain)
if [ -n "$dirty" ]; then
    echo "check-repro: the git tree is not clean after dvc repro:" >&2
    echo "$dirty" >&2
    fail=1
fi
status=$("$dvc" status)
echo "$status"
if ! grep -q "up to date" <<<"$status"; then
    echo "check-repro: dvc status reports changes after dvc repro" >&2
    fail=1
fi
[ "$fail" = 0 ] && echo "check-repro: dvc.lock reproduced, git tree clean, every stage up to date"
exit "$fail"

#!/usr/bin/env python3
"""Dependency policy check: every crate in the locked graph has a licence expression that the
allow list in deny.toml satisfies, comes from crates.io (or this workspace), and is not on the
deny list; and no workspace crate declares a dependency its sources never name. Reads `cargo metadata --locked`, which needs the manifests of every platform's
dependencies: on a fresh machine (an empty cargo cache, or one that holds only what a build for
this platform downloaded) cargo fetches them from the registry first. It is never run with
`--offline`, which works only where a cache already holds the whole graph. Prints one line per
violation and exits 1 if there is any. `--json` prints a summary for scripts.

    tools/deps-check.py [--json]
"""
import argparse
import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CRATES_IO = "registry+https://github.com/rust-lang/crates.io-index"


def tokens(expr):
    # Old-style "MIT/Apache-2.0" means either.
    expr = expr.replace("/", " OR ")
    return re.findall(r"\(|\)|[A-Za-z0-9.\-+]+", expr)


def satisfied(expr, allowed):
    """Whether an SPDX expression (AND, OR, WITH, parentheses) can be met with `allowed`."""
    toks = tokens(expr)
    pos = 0

    def peek():
        return toks[pos] if pos < len(toks) else None

    def take():
        nonlocal pos
        pos += 1
        return toks[pos - 1]

    def primary():
        if peek() == "(":
            take()
            v = disjunction()
            if take() != ")":
                raise ValueError(f"unbalanced parentheses in {expr!r}")
            return v
        lic = take()
        if peek() == "WITH":
            take()
            lic = f"{lic} WITH {take()}"
        return lic in allowed

    def conjunction():
        v = primary()
        while peek() == "AND":
            take()
            v = primary() and v
        return v

    def disjunction():
        v = conjunction()
        while peek() == "OR":
            take()
            v = conjunction() or v
        return v

    result = disjunction()
    if pos != len(toks):
        raise ValueError(f"cannot read the licence expression {expr!r}")
    return result


def unused_dependencies(meta):
    """Workspace crates' declared dependencies that no source of theirs names (what
    cargo-machete looks for): `name::`, `use name`, `extern crate name` or `name!` in src/,
    tests/, benches/, examples/ or build.rs. A dependency needed without being named (a
    feature switch, a linked allocator) is listed under `[package.metadata.deps-check]
    ignored = [...]` in its crate's Cargo.toml, with the reason beside it."""
    members = set(meta["workspace_members"])
    out = []
    for p in meta["packages"]:
        if p["id"] not in members:
            continue
        crate_dir = Path(p["manifest_path"]).parent
        ignored = set((p.get("metadata") or {}).get("deps-check", {}).get("ignored", []))
        text = []
        for sub in ["src", "tests", "benches", "examples"]:
            for f in (crate_dir / sub).rglob("*.rs") if (crate_dir / sub).is_dir() else []:
                text.append(f.read_text(errors="replace"))
        if (crate_dir / "build.rs").is_file():
            text.append((crate_dir / "build.rs").read_text())
        source = "\n".join(text)
        seen = set()
        for d in p["dependencies"]:
            name = d.get("rename") or d["name"]
            if name in ignored or (name, d.get("kind")) in seen:
                continue
            seen.add((name, d.get("kind")))
            ident = name.replace("-", "_")
            pattern = rf"\b{re.escape(ident)}\s*::|\buse\s+{re.escape(ident)}\b|\bextern\s+crate\s+{re.escape(ident)}\b|\b{re.escape(ident)}!"
            if not re.search(pattern, source):
                kind = {"dev": "dev-dependency", "build": "build-dependency"}.get(d.get("kind"), "dependency")
                out.append(f"{p['name']}: {kind} {name} is never named in its sources")
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="print a JSON summary")
    ap.add_argument("--self-test", action="store_true",
                    help="check the licence-expression reader on known cases first")
    args = ap.parse_args()
    if args.self_test:
        allow = {"MIT", "Apache-2.0", "Apache-2.0 WITH LLVM-exception"}
        for expr, want in [
            ("MIT", True), ("GPL-3.0", False), ("MIT OR GPL-3.0", True),
            ("MIT AND GPL-3.0", False), ("(MIT OR Apache-2.0) AND Unicode-3.0", False),
            ("MIT/Apache-2.0", True), ("Apache-2.0 WITH LLVM-exception OR GPL-2.0", True),
            ("LGPL-2.1-or-later WITH LLVM-exception", False),
        ]:
            if satisfied(expr, allow) != want:
                print(f"deps-check: self-test failed on {expr!r}", file=sys.stderr)
                return 2
    policy = tomllib.loads((ROOT / "deny.toml").read_text())
    allowed = set(policy["licenses"]["allow"])
    denied = {d["name"] for d in policy["bans"]["deny"]}
    registries = {f"registry+{r}" for r in policy["sources"]["allow-registry"]}
    run = subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--locked"],
        cwd=ROOT, capture_output=True, text=True)
    if run.returncode != 0:
        print(f"deps-check: cargo metadata failed:\n{run.stderr}", file=sys.stderr)
        return 2
    meta = json.loads(run.stdout)
    problems = []
    for p in meta["packages"]:
        name = f"{p['name']} {p['version']}"
        lic = p.get("license")
        if not lic:
            problems.append(f"{name}: no licence expression (license-file only)")
        else:
            try:
                if not satisfied(lic, allowed):
                    problems.append(f"{name}: licence {lic!r} is not allowed by deny.toml")
            except (ValueError, IndexError) as e:
                problems.append(f"{name}: {e}")
        src = p.get("source")
        if src is not None and src not in registries:
            problems.append(f"{name}: from {src}, not an allowed registry")
        if p["name"] in denied:
            problems.append(f"{name}: on the deny list in deny.toml")
    problems += unused_dependencies(meta)
    summary = {"packages": len(meta["packages"]), "problems": problems}
    if args.json:
        print(json.dumps(summary, indent=2))
    for line in problems:
        print(f"deps-check: {line}", file=sys.stderr)
    if not args.json and not problems:
        print(f"deps-check: ok, {len(meta['packages'])} packages: licences allowed, "
              "sources crates.io or this workspace, nothing banned, no unused dependency")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

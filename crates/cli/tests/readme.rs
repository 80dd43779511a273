//! The README's quick start, run as written: its command block, in a scratch directory where
//! `target/release/salescast` is the binary under test (the block's `cargo build` line is the
//! one line skipped), so the README's commands cannot go stale.
#![allow(clippy::disallowed_methods, clippy::unwrap_used)] // a test writes its fixtures directly; it may unwrap

use std::path::Path;
use std::process::Command;

/// The first `sh` block after the `## Quick start` heading.
fn quick_start(readme: &str) -> String {
    let section = readme
        .split("\n## ")
        .find(|s| s.starts_with("Quick start"))
        .expect("a Quick start section");
    let block = section
        .split("```sh\n")
        .nth(1)
        .and_then(|b| b.split("\n```").next())
        .expect("a sh block");
    block.to_owned()
}

#[test]
fn the_quick_start_runs_as_written() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md"))
            .unwrap();
    let block = quick_start(&readme);
    let script: String = block
        .lines()
        .filter(|l| !l.starts_with("cargo "))
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(script.contains("salescast pipeline"), "{script}");
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("target/release");
    std::fs::create_dir_all(&bin).unwrap();
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_salescast"), bin.join("salescast")).unwrap();
    let o = Command::new("sh")
        .args(["-ec", &script])
        .current_dir(dir.path())
        .env_remove("SALESCAST_PARAMS")
        .env_remove("MLFLOW_TRACKING_URI")
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "the quick start failed:\n{script}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let q = dir.path().join("quickstart");
    // the forecast printed its two weeks, from the day after the data's last day
    assert!(out.contains("date,mean,lower,upper\n2024-02-05,"), "{out}");
    assert_eq!(
        out.lines().filter(|l| l.starts_with("2024-02-")).count(),
        14,
        "{out}"
    );
    for f in [
        "run/models/sarima.json",
        "scored.csv",
        "store_forecasts.csv",
    ] {
        assert!(q.join(f).is_file(), "{f}");
    }
    let scored = std::fs::read_to_string(q.join("scored.csv")).unwrap();
    assert_eq!(scored.lines().count(), 20_001);
}

//! The README's examples, run as written so they cannot go stale: the quick start's command
//! block, in a scratch directory where `target/release/salescast` is the binary under test (the
//! block's `cargo build` line is the one line skipped); and the dated forecast examples of the
//! reference, on models trained on the dates `params.yaml` generates (what `make run` serves).
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
    assert!(
        out.contains("date,mean,lower_95,upper_95\n2024-02-05,"),
        "{out}"
    );
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

/// The `sh` block of the README section whose heading starts with `heading`.
fn block_of(readme: &str, heading: &str) -> String {
    let section = readme
        .split("\n## ")
        .find(|s| s.starts_with(heading))
        .unwrap_or_else(|| panic!("a {heading:?} section"));
    section
        .split("```sh\n")
        .nth(1)
        .and_then(|b| b.split("\n```").next())
        .expect("a sh block")
        .to_owned()
}

#[test]
fn the_dated_forecast_examples_work_on_the_default_run() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let params: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(&std::fs::read_to_string(root.join("params.yaml")).unwrap())
            .unwrap();
    let start = params["generate"]["start"].as_str().unwrap().to_owned();
    let days = params["generate"]["days"].as_u64().unwrap().to_string();
    let test_days = params["split"]["test_days"].as_u64().unwrap().to_string();
    // The default run's dates with fewer rows: the examples' dates depend on the last day only.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let bin = d.join("target/release");
    std::fs::create_dir_all(&bin).unwrap();
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_salescast"), bin.join("salescast")).unwrap();
    let run = |args: &[&str]| {
        let o = Command::new(env!("CARGO_BIN_EXE_salescast"))
            .args(args)
            .current_dir(d)
            .env_remove("SALESCAST_PARAMS")
            .env_remove("MLFLOW_TRACKING_URI")
            .env("RUST_LOG", "warn")
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    };
    run(&[
        "generate",
        "--out",
        "sales.csv",
        "--rows",
        "6000",
        "--stores",
        "3",
        "--days",
        &days,
        "--start",
        &start,
    ]);
    run(&[
        "pipeline",
        "--input",
        "sales.csv",
        "--workdir",
        "run",
        "--test-days",
        &test_days,
    ]);
    std::os::unix::fs::symlink(d.join("run/models"), d.join("models")).unwrap();

    let block = block_of(&readme, "Daily revenue forecasts");
    let (shell, curl): (Vec<&str>, Vec<&str>) = block
        .lines()
        .partition(|l| l.starts_with("target/release/salescast "));
    assert_eq!(shell.len(), 2, "{block}");
    for line in shell {
        let o = Command::new("sh")
            .args(["-ec", line])
            .current_dir(d)
            .env("RUST_LOG", "warn")
            .output()
            .unwrap();
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(
            o.status.success(),
            "{line}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        if line.contains("--json") {
            let v: serde_json::Value = serde_json::from_str(&out).unwrap();
            assert!(!v["forecast"].as_array().unwrap().is_empty(), "{v}");
        } else {
            assert!(out.starts_with("date,mean,lower_80,upper_80\n"), "{out}");
        }
    }
    // The curl example's body, answered as `/forecast_sarima` answers it, by the served artifact.
    let body = curl.join(" ");
    let json = body
        .split("-d '")
        .nth(1)
        .and_then(|b| b.split('\'').next())
        .expect("a -d body");
    let req: serde_json::Value = serde_json::from_str(json).unwrap();
    let date = |k: &str| {
        req[k]
            .as_str()
            .unwrap()
            .parse::<chrono::NaiveDate>()
            .unwrap()
    };
    let artifact =
        salescast_daily::DailyArtifact::load(&d.join("models").join("sarima.json")).unwrap();
    let days = artifact
        .forecast(
            None,
            date("start_date"),
            date("end_date"),
            req["level"].as_f64().unwrap(),
        )
        .unwrap();
    assert_eq!(
        days.len() as i64,
        (date("end_date") - date("start_date")).num_days() + 1
    );
}

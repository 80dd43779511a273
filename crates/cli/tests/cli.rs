//! The `salescast` binary as users and DVC run it: exit codes, messages, outputs.
#![allow(clippy::disallowed_methods, clippy::unwrap_used)] // fixtures are written directly; a test may unwrap

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

fn salescast(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_salescast"))
        .args(args)
        .current_dir(dir)
        .env_remove("SALESCAST_PARAMS")
        .env_remove("MLFLOW_TRACKING_URI")
        .env("RUST_LOG", "warn")
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn every_command_has_help() {
    let dir = tempfile::tempdir().unwrap();
    for cmd in [
        &["--help"][..],
        &["generate", "--help"],
        &["preprocess", "--help"],
        &["features", "--help"],
        &["pipeline", "--help"],
        &["forecast", "--help"],
        &["train", "--help"],
    ] {
        let o = salescast(dir.path(), cmd);
        assert!(o.status.success(), "{cmd:?}");
        assert!(
            String::from_utf8_lossy(&o.stdout).contains("Usage"),
            "{cmd:?}"
        );
    }
}

#[test]
fn same_seed_gives_identical_files() {
    let dir = tempfile::tempdir().unwrap();
    let args = |out: &'static str, seed: &'static str| {
        [
            "generate", "--out", out, "--rows", "3000", "--days", "60", "--seed", seed,
        ]
    };
    assert!(salescast(dir.path(), &args("a.csv", "5")).status.success());
    assert!(salescast(dir.path(), &args("b.csv", "5")).status.success());
    assert!(salescast(dir.path(), &args("c.csv", "6")).status.success());
    let read = |f| fs::read(dir.path().join(f)).unwrap();
    assert_eq!(read("a.csv"), read("b.csv"));
    assert_ne!(read("a.csv"), read("c.csv"));
}

#[test]
fn missing_column_exits_2_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("x.csv"),
        "date,store_id,quantity,revenue\n2024-01-01,S1,1,2\n",
    )
    .unwrap();
    let o = salescast(
        dir.path(),
        &["preprocess", "--input", "x.csv", "--out-dir", "out"],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("missing required column(s): product_id"),
        "{}",
        stderr(&o)
    );
    assert!(!dir.path().join("out").exists());
    // with --json the failure is a JSON object on stdout too, with the same exit code
    let o = salescast(
        dir.path(),
        &[
            "preprocess",
            "--input",
            "x.csv",
            "--out-dir",
            "out",
            "--json",
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["error"]["code"], "bad_input");
    assert_eq!(v["error"]["exit_code"], 2);
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("product_id"),
        "{v}"
    );
    assert_eq!(v["error"]["field"], "product_id", "{v}");
    // a refused flag value and a missing directory name their flag in `field` too
    let o = salescast(dir.path(), &["forecast", "--start", "05/10/2025", "--json"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["error"]["code"], "usage", "{v}");
    assert_eq!(v["error"]["field"], "--start", "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("YYYY-MM-DD"),
        "{v}"
    );
    let o = salescast(
        dir.path(),
        &[
            "train",
            "--data-dir",
            "nowhere",
            "--models-dir",
            "m",
            "--no-track",
            "--json",
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["error"]["field"], "--data-dir", "{v}");
    let o = salescast(dir.path(), &["train", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["error"]["field"], "--data-dir", "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("--models-dir"),
        "{v}"
    );
    // help is still help, with --json or without
    let o = salescast(dir.path(), &["forecast", "--help", "--json"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&o.stdout).contains("Usage:"));
    // a missing data directory is bad input (2) for train and evaluate alike
    for cmd in [
        vec![
            "train",
            "--data-dir",
            "nowhere",
            "--models-dir",
            "m",
            "--no-track",
        ],
        vec![
            "evaluate",
            "--data-dir",
            "nowhere",
            "--models-dir",
            "m",
            "--metrics",
            "x.json",
            "--no-track",
        ],
    ] {
        let o = salescast(dir.path(), &cmd);
        assert_eq!(o.status.code(), Some(2), "{cmd:?}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("--data-dir nowhere: no such directory"),
            "{}",
            stderr(&o)
        );
    }
    // a date flag in another format names the format
    let o = salescast(
        dir.path(),
        &[
            "forecast",
            "--models-dir",
            "m",
            "--start",
            "05/01/2026",
            "--end",
            "2026-01-20",
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("YYYY-MM-DD"), "{}", stderr(&o));
    // predict does not offer the daily model, and says what does
    let o = salescast(
        dir.path(),
        &[
            "predict",
            "--models-dir",
            "m",
            "--input",
            "x.csv",
            "--out",
            "o.csv",
            "--model",
            "sarima",
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("use `salescast forecast`"),
        "{}",
        stderr(&o)
    );
    assert!(!stderr(&o).contains("or sarima"), "{}", stderr(&o));
}

#[test]
fn bad_settings_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let o = salescast(dir.path(), &["generate", "--out", "a.csv", "--rows", "0"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("rows"), "{}", stderr(&o));
    let o = salescast(
        dir.path(),
        &["generate", "--out", "a.csv", "--rows", "many"],
    );
    assert_eq!(o.status.code(), Some(2));
    // a typo in params.yaml is an error, not a silent default
    fs::write(dir.path().join("params.yaml"), "generate:\n  rowz: 10\n").unwrap();
    let o = salescast(dir.path(), &["generate", "--out", "a.csv"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("rowz"), "{}", stderr(&o));
    assert!(!dir.path().join("a.csv").exists());
}

#[test]
fn settings_precedence_flag_then_env_then_params() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("params.yaml"),
        "generate:\n  rows: 1500\n  days: 30\n",
    )
    .unwrap();
    let rows = |o: &Output| -> u64 {
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        v["rows"].as_u64().unwrap()
    };
    let o = salescast(dir.path(), &["generate", "--out", "a.csv", "--json"]);
    assert_eq!(rows(&o), 1500);
    let o = Command::new(env!("CARGO_BIN_EXE_salescast"))
        .args(["generate", "--out", "a.csv", "--json"])
        .current_dir(dir.path())
        .env("SALESCAST_ROWS", "1700")
        .output()
        .unwrap();
    assert_eq!(rows(&o), 1700);
    let o = salescast(
        dir.path(),
        &["generate", "--out", "a.csv", "--json", "--rows", "1600"],
    );
    assert_eq!(rows(&o), 1600);
}

#[test]
fn pipeline_builds_processed_and_features() {
    let dir = tempfile::tempdir().unwrap();
    let o = salescast(
        dir.path(),
        &[
            "generate", "--out", "raw.csv", "--rows", "6000", "--days", "120",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let o = salescast(
        dir.path(),
        &[
            "pipeline",
            "--input",
            "raw.csv",
            "--workdir",
            "w",
            "--test-days",
            "30",
            "--json",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let pre = &v["preprocess"];
    assert_eq!(pre["rows_in"], 6000);
    let total = pre["rows_out"].as_u64().unwrap()
        + pre["rows_rejected"].as_u64().unwrap()
        + pre["duplicates_dropped"].as_u64().unwrap();
    assert_eq!(total, 6000);
    assert_eq!(v["features"]["daily_series"], 11);
    for f in [
        "data/processed/clean.parquet",
        "data/processed/raw.rejected.csv",
        "data/processed/report.json",
        "data/processed/cleaning.json",
        "data/features/train.parquet",
        "data/features/test.parquet",
        "data/features/daily.parquet",
        "data/features/daily.csv",
        "data/features/transform.json",
    ] {
        assert!(dir.path().join("w").join(f).is_file(), "{f}");
    }
    // no temporary files left behind
    for sub in ["data/processed", "data/features"] {
        for e in fs::read_dir(dir.path().join("w").join(sub)).unwrap() {
            let name = e.unwrap().file_name().to_string_lossy().into_owned();
            assert!(!name.ends_with(".tmp"), "{name}");
        }
    }
}

#[test]
fn the_log_says_which_settings_were_used() {
    let dir = tempfile::tempdir().unwrap();
    let run = |d: &Path| {
        Command::new(env!("CARGO_BIN_EXE_salescast"))
            .args([
                "generate", "--out", "raw.csv", "--rows", "100", "--days", "10",
            ])
            .current_dir(d)
            .env_remove("SALESCAST_PARAMS")
            .env("RUST_LOG", "info")
            .output()
            .unwrap()
    };
    let o = run(dir.path());
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("built-in defaults"), "{}", stderr(&o));
    fs::write(dir.path().join("params.yaml"), "generate:\n  seed: 7\n").unwrap();
    let o = run(dir.path());
    assert!(stderr(&o).contains("params.yaml"), "{}", stderr(&o));
    assert!(!stderr(&o).contains("built-in"), "{}", stderr(&o));
    // A log written to a pipe (or a file) has no colour codes.
    assert!(!stderr(&o).contains('\x1b'), "{:?}", stderr(&o));
}

#[test]
fn training_is_pointed_at_the_cleaned_data_for_the_monitor_reference() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let o = salescast(
        d,
        &[
            "generate", "--out", "raw.csv", "--rows", "3000", "--days", "60",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let o = salescast(
        d,
        &[
            "preprocess",
            "--input",
            "raw.csv",
            "--out-dir",
            "cleaned",
            "--test-days",
            "14",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let o = salescast(
        d,
        &["features", "--in-dir", "cleaned", "--out-dir", "feats"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let train = |models: &str, extra: &[&str]| {
        let mut args = vec![
            "train",
            "--data-dir",
            "feats",
            "--models-dir",
            models,
            "--model",
            "random_forest",
            "--no-track",
        ];
        args.extend_from_slice(extra);
        salescast(d, &args)
    };
    // folders not named processed/: no reference, and the warning says how to give one
    let o = train("m1", &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!d.join("m1/reference.json").exists());
    assert!(stderr(&o).contains("--clean-data"), "{}", stderr(&o));
    let o = train("m2", &["--clean-data", "cleaned/clean.parquet"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(d.join("m2/reference.json").is_file());
    assert!(d.join("m2/history.json").is_file());
    let o = train("m3", &["--clean-data", "nope.parquet"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("--clean-data nope.parquet"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn daily_model_trains_and_forecasts_between_dates() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let o = salescast(
        d,
        &[
            "generate", "--out", "raw.csv", "--rows", "5000", "--days", "200",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let o = salescast(
        d,
        &[
            "pipeline",
            "--input",
            "raw.csv",
            "--workdir",
            "w",
            "--test-days",
            "30",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    // Outside the repository (no params.yaml here) the built-in settings are the repository's:
    // the pipeline trained the daily model too, and said which settings it used.
    assert!(d.join("w/models/sarima.json").is_file());
    let o = salescast(
        d,
        &[
            "train",
            "--data-dir",
            "w/data/features",
            "--models-dir",
            "w/trees",
            "--model",
            "random_forest",
            "--no-track",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    // Without a daily model, forecast says how to get one.
    let o = salescast(
        d,
        &[
            "forecast",
            "--models-dir",
            "w/trees",
            "--start",
            "2024-01-01",
            "--end",
            "2024-01-02",
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--model sarima"), "{}", stderr(&o));
    let o = salescast(
        d,
        &[
            "train",
            "--data-dir",
            "w/data/features",
            "--models-dir",
            "w/models",
            "--model",
            "sarima",
            "--no-track",
            "--json",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(v["daily"]["test"]["mase"].as_f64().unwrap() > 0.0, "{v}");
    assert!(
        v["daily"]["candidates"].as_array().unwrap().len() >= 3,
        "{v}"
    );
    // 200 days from 2023-01-01: the served model is refitted on all of them, so its last day
    // is 2023-07-19 (the evaluation fit's was 2023-06-19, before 30 test days).
    let args = |start: &'static str, end: &'static str, json: bool| {
        let mut a = vec![
            "forecast",
            "--models-dir",
            "w/models",
            "--start",
            start,
            "--end",
            end,
            "--level",
            "80",
        ];
        if json {
            a.push("--json");
        }
        a
    };
    let o = salescast(d, &args("2023-07-25", "2023-08-03", true));
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["model"], "sarima");
    assert_eq!(v["last_day_seen"], "2023-07-19", "{v}");
    assert_eq!(v["refitted"], true, "{v}");
    assert_eq!(v["forecast"].as_array().unwrap().len(), 10, "{v}");
    assert_eq!(v["forecast"][0]["date"], "2023-07-25");
    let o = salescast(d, &args("2023-07-25", "2023-08-03", false));
    let csv = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        csv.starts_with("date,mean,lower_80,upper_80\n2023-07-25,"),
        "{csv}"
    );
    assert_eq!(csv.lines().count(), 11);
    // Inside the training period, end before start, beyond the horizon: exit 2 naming the field.
    for (start, end, field) in [
        ("2023-06-01", "2023-07-04", "start_date"),
        ("2023-08-04", "2023-07-25", "end_date"),
        ("2023-07-25", "2025-01-01", "end_date"),
    ] {
        let o = salescast(d, &args(start, end, false));
        assert_eq!(o.status.code(), Some(2), "{start}..{end}");
        assert!(stderr(&o).contains(field), "{}", stderr(&o));
        let o = salescast(d, &args(start, end, true));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let flag = format!("--{}", field.trim_end_matches("_date"));
        assert_eq!(v["error"]["field"], flag.as_str(), "{v}");
    }
    // A column outside the data contract: exit 2, the JSON error naming the column.
    let raw = std::fs::read_to_string(d.join("raw.csv")).unwrap();
    let head: Vec<&str> = raw.lines().take(6).collect();
    std::fs::write(
        d.join("renamed.csv"),
        head.join("\n").replacen("unit_price", "price", 1) + "\n",
    )
    .unwrap();
    let o = salescast(
        d,
        &[
            "predict",
            "--models-dir",
            "w/models",
            "--input",
            "renamed.csv",
            "--out",
            "scored.csv",
            "--json",
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["error"]["field"], "price", "{v}");
    assert!(!d.join("scored.csv").exists());
}

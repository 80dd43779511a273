//! Reproducibility and short data through the real binary: the whole pipeline twice gives the
//! same bytes in every output, training on 1 or 2 threads gives the same artifacts, and a
//! 47-day file is cleaned and trained on with a shrunk test window.
#![allow(clippy::disallowed_methods, clippy::unwrap_used)] // fixtures are written directly; a test may unwrap

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// params.yaml at test size, with the daily model, so that every stage writes its outputs.
const PARAMS: &str = r#"
split:
  test_days: 30
train:
  models: [random_forest, gradient_boosting, sarima]
  validation_days: 14
  random_forest:
    n_trees: 8
  gradient_boosting:
    n_rounds: 40
    early_stopping_rounds: 5
  sarima:
    folds: 1
    fold_days: 14
    seasonal_fold: false
"#;

/// Files beside the outputs that hold wall-clock values or run ids, by design not reproducible
/// (DVC and git ignore them).
const UNTRACKED: [&str; 2] = ["timings.json", "tracking.json"];

fn salescast(dir: &Path, threads: usize, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_salescast"))
        .args(args)
        .current_dir(dir)
        .env_remove("SALESCAST_PARAMS")
        .env_remove("MLFLOW_TRACKING_URI")
        .env("RAYON_NUM_THREADS", threads.to_string())
        .env("POLARS_MAX_THREADS", threads.to_string())
        .env("RUST_LOG", "warn")
        .output()
        .unwrap()
}

#[track_caller]
fn ok(o: &Output) -> String {
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success(), "{err}");
    err
}

/// Every file under `root` by relative path, with its bytes.
fn tree(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
        for e in fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(root, &p, out);
            } else if !UNTRACKED.iter().any(|u| p.ends_with(u)) {
                out.insert(
                    p.strip_prefix(root).unwrap().to_owned(),
                    fs::read(&p).unwrap(),
                );
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

#[track_caller]
fn assert_same_bytes(a: &Path, b: &Path) -> usize {
    let (ta, tb) = (tree(a), tree(b));
    assert_eq!(
        ta.keys().collect::<Vec<_>>(),
        tb.keys().collect::<Vec<_>>(),
        "the same files"
    );
    for (path, bytes) in &ta {
        assert!(bytes == &tb[path], "{} differs", path.display());
    }
    ta.len()
}

fn project(rows: &str, days: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("params.yaml"), PARAMS).unwrap();
    ok(&salescast(
        dir.path(),
        2,
        &[
            "generate", "--out", "raw.csv", "--rows", rows, "--days", days,
        ],
    ));
    dir
}

#[test]
fn the_pipeline_twice_gives_the_same_bytes_in_every_output() {
    let dir = project("6000", "200");
    for w in ["a", "b"] {
        ok(&salescast(
            dir.path(),
            2,
            &[
                "pipeline",
                "--input",
                "raw.csv",
                "--workdir",
                w,
                "--no-track",
            ],
        ));
    }
    let n = assert_same_bytes(&dir.path().join("a"), &dir.path().join("b"));
    // the evaluation fit and the refit of every model, the refit data, metrics and plots
    for f in [
        "data/processed/refit/clean.parquet",
        "data/features/refit/train.parquet",
        "models/evaluation/random_forest.bin",
        "models/evaluation/sarima.json",
        "models/gradient_boosting.bin",
        "models/sarima.json",
        "metrics.json",
        "plots/predictions.csv",
    ] {
        assert!(dir.path().join("a").join(f).is_file(), "{f}");
    }
    assert!(n >= 30, "{n} files compared");
    // the wall-clock side went to the untracked files
    let t: serde_json::Value =
        serde_json::from_slice(&fs::read(dir.path().join("a/models/timings.json")).unwrap())
            .unwrap();
    assert!(
        t["models"]["random_forest"]["fit_seconds"]
            .as_f64()
            .unwrap()
            > 0.0,
        "{t}"
    );
}

#[test]
fn training_on_one_or_two_threads_gives_the_same_artifacts() {
    let dir = project("6000", "200");
    ok(&salescast(
        dir.path(),
        2,
        &[
            "pipeline",
            "--input",
            "raw.csv",
            "--workdir",
            "w",
            "--no-track",
        ],
    ));
    for (threads, out) in [(1, "m1"), (2, "m2")] {
        ok(&salescast(
            dir.path(),
            threads,
            &[
                "train",
                "--data-dir",
                "w/data/features",
                "--models-dir",
                out,
                "--no-track",
            ],
        ));
    }
    let n = assert_same_bytes(&dir.path().join("m1"), &dir.path().join("m2"));
    assert!(n >= 10, "{n} files compared");
    // and the same as the pipeline's own training
    assert_same_bytes(&dir.path().join("m1"), &dir.path().join("w/models"));
}

#[test]
fn a_short_history_is_cleaned_and_trained_on_a_shrunk_test_window() {
    let dir = project("3000", "47");
    let d = dir.path();
    // the default 90 test days do not fit in 47 days: cleaning still works
    fs::write(
        d.join("params.yaml"),
        PARAMS.replace("test_days: 30", "test_days: 90"),
    )
    .unwrap();
    let o = salescast(
        d,
        2,
        &[
            "--json",
            "preprocess",
            "--input",
            "raw.csv",
            "--out-dir",
            "p",
        ],
    );
    let err = ok(&o);
    assert!(err.contains("shrunk to 9 day(s)"), "{err}");
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["split"]["test_days"], 9, "{report}");
    assert_eq!(report["split"]["requested_test_days"], 90, "{report}");
    ok(&salescast(
        d,
        2,
        &["features", "--in-dir", "p", "--out-dir", "f"],
    ));
    // the transaction models train; the daily model, which needs more days, is left out
    let o = salescast(
        d,
        2,
        &[
            "--json",
            "train",
            "--data-dir",
            "f",
            "--models-dir",
            "m",
            "--no-track",
        ],
    );
    let err = ok(&o);
    assert!(err.contains("shrunk"), "{err}");
    assert!(err.contains("daily model is not trained"), "{err}");
    let manifest: serde_json::Value =
        serde_json::from_slice(&fs::read(d.join("m/manifest.json")).unwrap()).unwrap();
    let rf = &manifest["payload"]["models"]["random_forest"];
    assert_eq!(rf["evaluated_on"]["last"], "2023-02-16", "{rf}");
    assert_eq!(rf["evaluated_on"]["first"], "2023-02-08", "{rf}");
    assert_eq!(rf["fitted_on"]["last"], "2023-02-16", "{rf}");

    // 10 days: cleaned, but there is no test window to evaluate on, and training says so
    let dir = project("800", "10");
    let d = dir.path();
    ok(&salescast(
        d,
        2,
        &["preprocess", "--input", "raw.csv", "--out-dir", "p"],
    ));
    ok(&salescast(
        d,
        2,
        &["features", "--in-dir", "p", "--out-dir", "f"],
    ));
    let o = salescast(
        d,
        2,
        &[
            "train",
            "--data-dir",
            "f",
            "--models-dir",
            "m",
            "--no-track",
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("at least 14"), "{err}");
    assert!(!d.join("m").exists(), "nothing written");
}

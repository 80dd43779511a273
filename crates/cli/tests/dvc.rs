//! The repository's `dvc.yaml` driven by the real `dvc` (installed by `make tools`) on small
//! params: a full build, a no-op second run, a forced rerun that reproduces every output byte for
//! byte, a train param change re-running only train and evaluate, no run-cache skip of a
//! training that must be logged, and `dvc metrics show`.
#![allow(clippy::disallowed_methods, clippy::unwrap_used)] // fixtures are written directly; a test may unwrap

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use salescast_testing::tools::{tool, workspace_root};

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            fs::copy(e.path(), target).unwrap();
        }
    }
}

/// A scratch project holding the real dvc.yaml, params.yaml shrunk to test size, and the crate
/// sources the stages depend on.
fn project(dir: &Path) {
    let root = workspace_root();
    fs::copy(root.join("dvc.yaml"), dir.join("dvc.yaml")).unwrap();
    // it keeps the wall-clock sidecars (timings.json, tracking.json) out of the hashes
    fs::copy(root.join(".dvcignore"), dir.join(".dvcignore")).unwrap();
    // the train stage's tuned parameters (none) and the frozen tune stage's output
    fs::copy(root.join("tuned.yaml"), dir.join("tuned.yaml")).unwrap();
    // Edited as text: a YAML round trip would drop the quotes DVC needs around the start date.
    let mut text = fs::read_to_string(root.join("params.yaml")).unwrap();
    for (key, value) in [
        ("rows", "5000"),
        ("days", "200"),
        ("test_days", "30"),
        ("n_trees", "8"),
        ("n_rounds", "20"),
        ("trials", "4"),
    ] {
        text = set(&text, key, value);
    }
    fs::write(dir.join("params.yaml"), text).unwrap();
    for e in fs::read_dir(root.join("crates")).unwrap() {
        let src = e.unwrap().path().join("src");
        if src.is_dir() {
            let name = src.parent().unwrap().file_name().unwrap().to_owned();
            copy_dir(&src, &dir.join("crates").join(name).join("src"));
        }
    }
}

/// `text` with the value of the one line setting `key` replaced.
fn set(text: &str, key: &str, value: &str) -> String {
    let prefix = format!("{key}:");
    let mut hits = 0;
    let out: Vec<String> = text
        .lines()
        .map(|l| {
            let t = l.trim_start();
            if t.starts_with(&prefix) {
                hits += 1;
                format!("{}{prefix} {value}", &l[..l.len() - t.len()])
            } else {
                l.to_owned()
            }
        })
        .collect();
    assert_eq!(hits, 1, "params.yaml sets {key} once");
    out.join("\n") + "\n"
}

fn set_trees(dir: &Path, n: u64) {
    let path = dir.join("params.yaml");
    let text = set(
        &fs::read_to_string(&path).unwrap(),
        "n_trees",
        &n.to_string(),
    );
    fs::write(&path, text).unwrap();
}

fn dvc(dir: &Path, args: &[&str]) -> String {
    let bin: PathBuf = Path::new(env!("CARGO_BIN_EXE_salescast"))
        .parent()
        .unwrap()
        .into();
    let path = std::env::join_paths(
        [bin, tool("dvc").parent().unwrap().to_path_buf()]
            .into_iter()
            .chain(std::env::split_paths(
                &std::env::var_os("PATH").unwrap_or_default(),
            )),
    )
    .unwrap();
    let o: Output = Command::new(tool("dvc"))
        .args(args)
        .current_dir(dir)
        .env("PATH", path)
        .env("DVC_NO_ANALYTICS", "1")
        .env("RUST_LOG", "warn")
        .env_remove("MLFLOW_TRACKING_URI")
        .env_remove("SALESCAST_PARAMS")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(o.status.success(), "dvc {args:?} failed:\n{text}");
    text
}

fn ran(out: &str) -> Vec<String> {
    out.lines()
        .filter_map(|l| l.strip_prefix("Running stage '"))
        .filter_map(|l| l.split('\'').next())
        .map(str::to_owned)
        .collect()
}

fn mlflow_runs(dir: &Path) -> usize {
    let Ok(exps) = fs::read_dir(dir.join("mlruns")) else {
        return 0;
    };
    exps.filter_map(Result::ok)
        .filter(|e| e.path().join("meta.yaml").exists())
        .flat_map(|e| fs::read_dir(e.path()).unwrap().filter_map(Result::ok))
        .filter(|r| r.path().join("tags/salescast.run_key").exists())
        .count()
}

#[test]
fn dvc_repro_builds_skips_and_reruns_only_what_changed() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    project(dir);
    dvc(dir, &["init", "--no-scm", "-q"]);

    let first = dvc(dir, &["repro"]);
    assert_eq!(
        ran(&first),
        ["generate", "preprocess", "features", "train", "evaluate"],
        "{first}"
    );
    for f in [
        "data/raw/sales.csv",
        "data/features/train.parquet",
        "models/manifest.json",
        "metrics.json",
        "plots/predictions.csv",
        "plots/daily_forecast.csv",
        "models/sarima.json",
        "models/evaluation/manifest.json",
        "train_report.json",
        "train_runs.json",
    ] {
        assert!(dir.join(f).exists(), "{f}");
    }
    assert_eq!(
        mlflow_runs(dir),
        3,
        "one run per model (random forest, boosting, the daily champion) in the local store"
    );

    let second = dvc(dir, &["repro"]);
    assert!(ran(&second).is_empty(), "{second}");
    assert!(second.contains("up to date"), "{second}");

    // Every stage again from the same inputs: the same bytes, so the same dvc.lock.
    let lock = fs::read_to_string(dir.join("dvc.lock")).unwrap();
    let forced = dvc(dir, &["repro", "--force"]);
    assert_eq!(ran(&forced).len(), 5, "{forced}");
    assert_eq!(
        fs::read_to_string(dir.join("dvc.lock")).unwrap(),
        lock,
        "a forced rerun changed the outputs' hashes"
    );
    assert!(dvc(dir, &["status"]).contains("up to date"));
    assert_eq!(mlflow_runs(dir), 6, "the forced training was logged too");

    set_trees(dir, 9);
    let third = dvc(dir, &["repro"]);
    assert_eq!(ran(&third), ["train", "evaluate"], "{third}");

    // Back to a setting DVC has seen: the run cache would restore it without running (and
    // without logging); train must run again.
    set_trees(dir, 8);
    let fourth = dvc(dir, &["repro"]);
    assert!(ran(&fourth).contains(&"train".to_owned()), "{fourth}");
    assert!(!fourth.contains("is cached"), "{fourth}");
    assert_eq!(mlflow_runs(dir), 12, "every training was logged");

    let metrics: serde_json::Value =
        serde_json::from_str(&dvc(dir, &["metrics", "show", "--json"])).unwrap();
    let m = &metrics[""]["data"]["metrics.json"]["data"];
    for model in [
        "random_forest",
        "gradient_boosting",
        "seasonal_naive",
        "sarima",
    ] {
        assert!(m[model]["mae"].as_f64().unwrap() > 0.0, "{metrics}");
    }
    assert!(m["sarima"]["mase"].as_f64().unwrap() > 0.0, "{metrics}");
    let table = dvc(dir, &["metrics", "show"]);
    assert!(table.contains("random_forest.mae"), "{table}");

    // The tune stage is frozen, so no repro above ran it. Thawed for one forced run (what
    // `make tune` does) it fills tuned.yaml, and the next repro retrains with the result.
    dvc(dir, &["unfreeze", "tune"]);
    let tuned = dvc(dir, &["repro", "--force", "--single-item", "tune"]);
    dvc(dir, &["freeze", "tune"]);
    assert_eq!(ran(&tuned), ["tune"], "{tuned}");
    let file = fs::read_to_string(dir.join("tuned.yaml")).unwrap();
    assert!(
        file.contains("gradient_boosting:") && file.contains("random_forest:"),
        "{file}"
    );
    // Train runs on the new params file (evaluate only if the models changed: the defaults
    // may have been the best of four trials).
    let fifth = dvc(dir, &["repro"]);
    assert_eq!(
        ran(&fifth).first().map(String::as_str),
        Some("train"),
        "{fifth}"
    );
    let summary: serde_json::Value =
        serde_json::from_slice(&fs::read(dir.join("tune/gradient_boosting/summary.json")).unwrap())
            .unwrap();
    let manifest: serde_json::Value =
        serde_json::from_slice(&fs::read(dir.join("models/manifest.json")).unwrap()).unwrap();
    let served = &manifest["payload"]["models"]["gradient_boosting"]["params"];
    assert_eq!(
        served["learning_rate"],
        summary["best_params"]["learning_rate"]
    );
    assert_eq!(summary["trials"], 4);
    assert!(dvc(dir, &["status"]).contains("up to date"));
}

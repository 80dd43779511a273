//! `salescast tune` end to end on a small project: the search against a real MLflow server
//! (one parent run, one child run per trial), resumed and extended from its log, reproducible
//! from its seed, its params file taken by `train --tuned`, and its inputs checked.
#![allow(clippy::disallowed_methods, clippy::unwrap_used)] // fixtures are written directly; a test may unwrap

use std::fs;
use std::path::Path;
use std::process::Output;

use salescast_testing::tools::MlflowServer;
use salescast_tracking::MlflowClient;
use serde_json::Value;

mod common;

use common::{block, ok, project, salescast};

/// Folds small enough for the project's 110 training days.
const TUNE: &str = "
tune:
  trials: 4
  seed: 3
  parallel: 2
  startup_trials: 2
  folds: 2
  fold_days: 14
";

fn tune(dir: &Path, uri: Option<&str>, extra: &[&str]) -> Output {
    let mut args = vec![
        "--json",
        "tune",
        "--model",
        "gradient_boosting",
        "--data-dir",
        "data/features",
    ];
    args.extend_from_slice(extra);
    salescast(dir, uri, &args)
}

fn train_tuned(dir: &Path, tuned: &str) -> Output {
    salescast(
        dir,
        None,
        &[
            "train",
            "--data-dir",
            "data/features",
            "--models-dir",
            "models",
            "--tuned",
            tuned,
            "--no-track",
        ],
    )
}

fn json(o: &Output) -> Value {
    ok(o);
    serde_json::from_slice(&o.stdout).unwrap()
}

/// The trials of a log without their timings.
fn trials(dir: &Path) -> Vec<Value> {
    fs::read_to_string(dir.join("tune/gradient_boosting/trials.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            let mut v: Value = serde_json::from_str(l).unwrap();
            v.as_object_mut().unwrap().remove("seconds");
            v
        })
        .collect()
}

#[test]
fn a_search_logs_its_trials_resumes_reproduces_and_feeds_train() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("project");
    fs::create_dir_all(&dir).unwrap();
    project(&dir);
    let params = fs::read_to_string(dir.join("params.yaml")).unwrap() + TUNE;
    fs::write(dir.join("params.yaml"), params).unwrap();
    let mut server = MlflowServer::start(&work.path().join("mlflow"));
    let uri = server.uri();

    // 1. Four trials: the defaults, then candidates; the best is no worse than the defaults.
    let first = json(&tune(&dir, Some(&uri), &[]));
    assert_eq!(first["trials"], 4);
    assert_eq!(first["new_trials"], 4);
    assert_eq!(first["resumed"], false);
    assert_eq!(first["stopped_by"], "trials");
    let defaults = first["defaults_cv_mae"].as_f64().unwrap();
    let best = first["best_cv_mae"].as_f64().unwrap();
    assert!(best <= defaults && best > 0.0, "{best} vs {defaults}");
    let all = first["all"].as_array().unwrap();
    assert_eq!(all[0]["source"], "defaults");
    assert_eq!(all[0]["params"]["learning_rate"], 0.2);
    for t in all {
        assert_eq!(t["fold_mae"].as_array().unwrap().len(), 2, "{t}");
        assert!(t["vs_defaults"].is_number(), "{t}");
    }
    assert_eq!(first["study"]["windows"].as_array().unwrap().len(), 2);

    // 2. Extended to six: the four logged trials are kept, two more run.
    let log4 = trials(&dir);
    let second = json(&tune(&dir, Some(&uri), &["--trials", "6"]));
    assert_eq!(second["resumed"], true);
    assert_eq!(second["new_trials"], 2);
    let log6 = trials(&dir);
    assert_eq!(log6.len(), 6);
    assert_eq!(log6[..4], log4[..]);

    // 3. The same seed from scratch draws the same six trials with the same scores.
    let again = json(&tune(
        &dir,
        None,
        &[
            "--trials",
            "6",
            "--fresh",
            "--no-track",
            "--params-out",
            "again.yaml",
        ],
    ));
    assert_eq!(again["resumed"], false);
    assert_eq!(trials(&dir), log6);
    assert!(
        dir.join("tune/gradient_boosting/trials.previous.jsonl")
            .is_file()
    );

    // 4. MLflow: one parent run, finished, with one child run per trial under it.
    let client = MlflowClient::new(&uri).unwrap();
    let exp = block(client.experiment("salescast")).unwrap();
    let runs = block(client.search_runs(&[&exp.experiment_id], "")).unwrap();
    let parents: Vec<_> = runs
        .iter()
        .filter(|r| r.info.run_name == "tune-gradient_boosting")
        .collect();
    assert_eq!(
        parents.len(),
        1,
        "one parent for the search and its resumption"
    );
    let parent = block(client.get_run(&parents[0].info.run_id)).unwrap();
    assert_eq!(parent.info.status, "FINISHED");
    assert_eq!(parent.data.metric("trials"), Some(6.0));
    assert!((parent.data.metric("defaults_cv_mae").unwrap() - defaults).abs() < 1e-9);
    assert_eq!(parent.data.param("folds"), Some("2"));
    let children: Vec<_> = runs
        .iter()
        .filter(|r| r.data.tag("mlflow.parentRunId") == Some(parent.info.run_id.as_str()))
        .collect();
    assert_eq!(children.len(), 6, "one child run per trial");
    for c in &children {
        let c = block(client.get_run(&c.info.run_id)).unwrap();
        assert_eq!(c.info.status, "FINISHED");
        let n: usize = c.data.param("trial").unwrap().parse().unwrap();
        let logged = &log6[n];
        let cv = logged["cv_mae"].as_f64().unwrap();
        assert!((c.data.metric("cv_mae").unwrap() - cv).abs() < 1e-9 * cv);
    }
    server.stop();

    // 5. train --tuned takes the best parameters; params.yaml's stay for the other model.
    let tuned = fs::read_to_string(dir.join("tuned.yaml")).unwrap();
    assert!(tuned.starts_with("# Tuned hyperparameters"), "{tuned}");
    ok(&train_tuned(&dir, "tuned.yaml"));
    let m: Value =
        serde_json::from_slice(&fs::read(dir.join("models/manifest.json")).unwrap()).unwrap();
    let gb = &m["payload"]["models"]["gradient_boosting"]["params"];
    let best_params = &second["best_params"];
    assert_eq!(gb["learning_rate"], best_params["learning_rate"]);
    assert_eq!(gb["max_depth"], best_params["max_depth"]);
    assert_eq!(
        m["payload"]["models"]["random_forest"]["params"]["n_trees"],
        8
    );
}

#[test]
fn bad_settings_and_candidates_are_refused_by_name() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    project(dir);
    let code = |o: &Output| {
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };

    let (c, e) = code(&salescast(
        dir,
        None,
        &["tune", "--model", "sarima", "--data-dir", "data/features"],
    ));
    assert_eq!(c, Some(2));
    assert!(e.contains("--model"), "{e}");

    // The default folds (3 × 28 days) do not fit in 110 training days.
    let (c, e) = code(&tune(dir, None, &["--no-track"]));
    assert_eq!(c, Some(2));
    assert!(e.contains("tune.folds"), "{e}");

    let base = fs::read_to_string(dir.join("params.yaml")).unwrap();
    let params = base.clone()
        + "tune: {folds: 2, fold_days: 14, gradient_boosting: {learning_rate: [0.5, 0.1]}}\n";
    fs::write(dir.join("params.yaml"), params).unwrap();
    let (c, e) = code(&tune(dir, None, &["--no-track"]));
    assert_eq!(c, Some(2));
    assert!(e.contains("gradient_boosting.learning_rate"), "{e}");
    fs::write(
        dir.join("params.yaml"),
        base + "tune: {folds: 2, fold_days: 14}\n",
    )
    .unwrap();

    let (c, e) = code(&tune(dir, None, &["--trials", "0"]));
    assert_eq!(c, Some(2));
    assert!(e.contains("tune.trials"), "{e}");

    let (c, e) = code(&salescast(
        dir,
        None,
        &[
            "tune",
            "--model",
            "random_forest",
            "--data-dir",
            "data/features",
            "--evaluate",
            r#"{"max_depth": 6}"#,
        ],
    ));
    assert_eq!(c, Some(2));
    assert!(e.contains("max_features is missing"), "{e}");

    fs::write(dir.join("bad.yaml"), "train: {sarima: {folds: 2}}\n").unwrap();
    let (c, e) = code(&train_tuned(dir, "bad.yaml"));
    assert_eq!(c, Some(2));
    assert!(e.contains("sarima"), "{e}");
}

#[test]
fn a_search_killed_midway_resumes_from_its_log_and_draws_what_it_would_have() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    project(dir);
    let params = fs::read_to_string(dir.join("params.yaml")).unwrap() + TUNE;
    fs::write(dir.join("params.yaml"), params).unwrap();
    let args = [
        "tune",
        "--model",
        "gradient_boosting",
        "--data-dir",
        "data/features",
        "--trials",
        "40",
        "--no-track",
    ];
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_salescast"))
        .args(args)
        .current_dir(dir)
        .env("SALESCAST_PARAMS", dir.join("params.yaml"))
        .env("RUST_LOG", "warn")
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let log = dir.join("tune/gradient_boosting/trials.jsonl");
    let started = std::time::Instant::now();
    while fs::read_to_string(&log).map_or(0, |t| t.lines().count()) < 4 {
        assert!(started.elapsed().as_secs() < 120, "no trials logged");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let kept = trials(dir);
    assert!(kept.len() >= 4 && kept.len() < 40, "{} trials", kept.len());

    // Resumed: the logged trials kept as they were, the rest run.
    let resumed = json(&salescast(
        dir,
        None,
        &[&["--json"][..], &args[..]].concat(),
    ));
    assert_eq!(resumed["resumed"], true);
    assert_eq!(resumed["trials"], 40);
    let all = trials(dir);
    assert_eq!(all[..kept.len()], kept[..]);

    // The interrupted and resumed search is the search that was never interrupted.
    let mut fresh = args.to_vec();
    fresh.extend(["--fresh", "--params-out", "fresh.yaml"]);
    ok(&salescast(dir, None, &fresh));
    assert_eq!(trials(dir), all);
}

//! Helpers shared by the CLI's integration tests: running `salescast` in a project directory,
//! and a small project (generated data, cleaned, with features) ready for `train`.
#![allow(clippy::disallowed_methods, clippy::unwrap_used, dead_code)]

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

pub(crate) const PARAMS: &str = "
train:
  models: [random_forest, gradient_boosting]
  random_forest: {n_trees: 8, max_depth: 8, min_samples_leaf: 20, max_features: 0.6, bootstrap: true, seed: 0}
  gradient_boosting: {n_rounds: 25, learning_rate: 0.2, max_depth: 4, min_child_weight: 1.0, lambda: 1.0, subsample: 1.0, colsample: 1.0, early_stopping_rounds: 0, seed: 0}
";

pub(crate) fn salescast(dir: &Path, uri: Option<&str>, args: &[&str]) -> Output {
    salescast_env(dir, uri, args, &[])
}

/// [`salescast`] with more environment variables (MLflow's credentials are otherwise unset).
pub(crate) fn salescast_env(
    dir: &Path,
    uri: Option<&str>,
    args: &[&str],
    env: &[(&str, &str)],
) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_salescast"));
    c.args(args)
        .current_dir(dir)
        .env("SALESCAST_PARAMS", dir.join("params.yaml"))
        .env("RUST_LOG", "info")
        .env_remove("MLFLOW_EXPERIMENT_NAME")
        .env_remove("MLFLOW_TRACKING_USERNAME")
        .env_remove("MLFLOW_TRACKING_PASSWORD")
        .env_remove("MLFLOW_TRACKING_TOKEN")
        .envs(env.iter().copied());
    match uri {
        Some(u) => c.env("MLFLOW_TRACKING_URI", u),
        None => c.env_remove("MLFLOW_TRACKING_URI"),
    };
    c.output().unwrap()
}

#[track_caller]
pub(crate) fn ok(o: &Output) -> String {
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success(), "exit {:?}: {err}", o.status.code());
    err
}

/// Raw data, features and params in `dir`, ready for `train`.
pub(crate) fn project(dir: &Path) {
    fs::write(dir.join("params.yaml"), PARAMS).unwrap();
    salescast_testing::generated_csv(dir, 6_000, 200);
    ok(&salescast(
        dir,
        None,
        &[
            "preprocess",
            "--input",
            "raw.csv",
            "--out-dir",
            "data/processed",
        ],
    ));
    ok(&salescast(
        dir,
        None,
        &[
            "features",
            "--in-dir",
            "data/processed",
            "--out-dir",
            "data/features",
        ],
    ));
}

/// Runs a future to completion (the MLflow client is async).
pub(crate) fn block<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

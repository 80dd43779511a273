//! Faults while the pipeline writes: SIGKILL during training, a full disk during training
//! (a file-size limit), a read-only models directory, and SIGKILL while scoring a large file. After each, what a reader finds
//! is whole: the previous models (which still load and agree with their manifest) or the new
//! ones, never a mix and never a partial file under a real name, and the next run succeeds.
#![allow(clippy::disallowed_methods, clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{ok, project, salescast};

/// Every regular file in `dir` (recursively) and its bytes, temporary files (`.name.pid.tmp`)
/// apart.
fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            let rel = p.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
            if is_temporary(&rel) {
                continue;
            }
            out.insert(rel, fs::read(&p).unwrap());
        }
    }
    out
}

fn is_temporary(rel: &str) -> bool {
    let name = rel.rsplit('/').next().unwrap_or(rel);
    name.starts_with('.') && name.ends_with(".tmp")
}

/// The files that change from one training to the next (times and run ids), left out of the
/// byte comparison.
fn stable(mut s: BTreeMap<String, Vec<u8>>) -> BTreeMap<String, Vec<u8>> {
    s.retain(|k, _| !matches!(k.as_str(), "timings.json" | "tracking.json"));
    s
}

/// The served set loads (every model agrees with the manifest) and scores a few rows.
fn loads(project: &Path) {
    let raw = fs::read_to_string(project.join("raw.csv")).unwrap();
    let few: String = raw.lines().take(21).map(|l| format!("{l}\n")).collect();
    let input = project.join("few.csv");
    fs::write(&input, few).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_salescast"))
        .args(["predict", "--models-dir"])
        .arg(project.join("models"))
        .arg("--input")
        .arg(&input)
        .arg("--out")
        .arg(project.join("few-scored.csv"))
        .output()
        .unwrap();
    ok(&out);
    fs::remove_file(project.join("few-scored.csv")).unwrap();
}

/// `salescast predict` of `input` with the project's models into `scored.csv`.
fn predict(project: &Path, input: &str) -> std::process::Output {
    salescast(
        project,
        None,
        &[
            "predict",
            "--models-dir",
            "models",
            "--input",
            input,
            "--out",
            "scored.csv",
        ],
    )
}

fn train_args() -> Vec<&'static str> {
    vec![
        "train",
        "--data-dir",
        "data/features",
        "--models-dir",
        "models",
        "--model",
        "random_forest,gradient_boosting",
    ]
}

#[test]
fn sigkill_during_training_leaves_a_whole_models_directory_and_the_next_run_succeeds() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    project(d);
    let started = Instant::now();
    ok(&salescast(d, None, &train_args()));
    let full = started.elapsed();
    let before = stable(snapshot(&d.join("models")));
    assert!(before.contains_key("manifest.json"));
    // The same data and settings give the same bytes, so whatever instant the kill lands at,
    // every file must be the one already there.
    for fraction in [0.2, 0.5, 0.8, 0.95] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_salescast"))
            .args(train_args())
            .current_dir(d)
            .env("SALESCAST_PARAMS", d.join("params.yaml"))
            .env_remove("MLFLOW_TRACKING_URI")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(full.mul_f64(fraction));
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        let after = stable(snapshot(&d.join("models")));
        assert_eq!(
            after.keys().collect::<Vec<_>>(),
            before.keys().collect::<Vec<_>>(),
            "killed at {fraction} of a training: the set of files changed"
        );
        for (k, v) in &after {
            assert!(before[k] == *v, "killed at {fraction}: {k} differs");
        }
        loads(d);
    }
    ok(&salescast(d, None, &train_args()));
    assert_eq!(stable(snapshot(&d.join("models"))), before);
}

#[test]
fn a_mixed_models_directory_is_refused_not_served() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    project(d);
    ok(&salescast(d, None, &train_args()));
    // Another training's forest beside this manifest: what an interrupted write between two
    // renames would leave.
    fs::write(
        d.join("params.yaml"),
        common::PARAMS.replace("seed: 0}", "seed: 1}"),
    )
    .unwrap();
    let other = d.join("other");
    ok(&salescast(
        d,
        None,
        &[
            "train",
            "--data-dir",
            "data/features",
            "--models-dir",
            "other",
            "--model",
            "random_forest,gradient_boosting",
        ],
    ));
    fs::copy(
        other.join("random_forest.bin"),
        d.join("models/random_forest.bin"),
    )
    .unwrap();
    let out = predict(d, "raw.csv");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("random_forest.bin") && err.contains("manifest names"),
        "{err}"
    );
    assert!(!d.join("scored.csv").exists());
}

/// Trains once, then trains again through `sh -c "<setup>; exec salescast train ..."` started
/// by `launcher` (the fault's set-up), and checks what every such fault must leave: a failed
/// run that says why (`says_why`), no panic, the previous models byte-identical and loading,
/// and a next training that succeeds.
fn training_fails_cleanly(launcher: &[&str], setup: &str, says_why: impl Fn(&str) -> bool) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    project(d);
    ok(&salescast(d, None, &train_args()));
    let before = stable(snapshot(&d.join("models")));
    let mut cmd = format!("{setup}; exec \"$0\"");
    for a in train_args() {
        cmd.push(' ');
        cmd.push_str(a);
    }
    let out = Command::new(launcher[0])
        .args(&launcher[1..])
        .args(["sh", "-c", &cmd, env!("CARGO_BIN_EXE_salescast")])
        .current_dir(d)
        .env("SALESCAST_PARAMS", d.join("params.yaml"))
        .env_remove("MLFLOW_TRACKING_URI")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_ne!(
        out.status.code(),
        Some(99),
        "the fault's set-up failed: {err}"
    );
    assert!(
        !out.status.success(),
        "training passed despite the fault: {err}"
    );
    assert!(says_why(&err), "the error says why: {err}");
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(stable(snapshot(&d.join("models"))), before);
    loads(d);
    ok(&salescast(d, None, &train_args()));
}

#[test]
fn a_full_disk_during_training_is_a_clear_error_and_keeps_the_previous_models() {
    // A 64 KiB file-size limit (`ulimit -f`, in 512-byte blocks for sh) with SIGXFSZ ignored:
    // writes past it fail with EFBIG, as on a full disk.
    training_fails_cleanly(&["env"], "trap '' XFSZ; ulimit -f 128", |err| {
        err.contains("too large") || err.contains("File too large") || err.contains("EFBIG")
    });
}

#[test]
fn a_read_only_models_directory_is_a_clear_error_and_keeps_the_previous_models() {
    // A read-only bind mount of the models directory in a private mount namespace (the tests
    // run as root, for whom permission bits alone do not make a directory read-only).
    training_fails_cleanly(
        &["unshare", "--map-root-user", "--mount"],
        "mount --bind models models && mount -o remount,bind,ro models || exit 99",
        |err| err.contains("Read-only file system") && err.contains("models"),
    );
}

#[test]
fn sigkill_while_scoring_a_large_file_leaves_no_output_that_looks_whole() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    project(d);
    ok(&salescast(d, None, &train_args()));
    let big = d.join("big");
    fs::create_dir_all(&big).unwrap();
    let raw = salescast_testing::generated_csv(&big, 400_000, 300);
    let mut child = Command::new(env!("CARGO_BIN_EXE_salescast"))
        .args(["predict", "--models-dir", "models", "--input"])
        .arg(&raw)
        .args(["--out", "scored.csv"])
        .current_dir(d)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(400));
    assert!(
        child.try_wait().unwrap().is_none(),
        "predict finished before the kill: make the file larger"
    );
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        !d.join("scored.csv").exists(),
        "a killed predict left scored.csv"
    );
    let out = predict(d, raw.to_str().unwrap());
    ok(&out);
    let lines = fs::read_to_string(d.join("scored.csv"))
        .unwrap()
        .lines()
        .count();
    assert_eq!(lines, 400_001);
}

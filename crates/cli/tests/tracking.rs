//! Experiment tracking against a real `mlflow server` (installed by `make tools`): a training
//! run with everything it records, read back over the REST API; training while the server is
//! down, then `salescast tracking sync`; MLflow's errors named by call; the local file store
//! read by MLflow's own client.
#![allow(clippy::disallowed_methods, clippy::unwrap_used)] // fixtures are written directly; a test may unwrap

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

use salescast_testing::tools::{MlflowServer, PostgresServer, free_port, tool};
use salescast_tracking::MlflowClient;
use salescast_tracking::client::{Experiment, Retry};
use serde_json::Value;

mod common;

use common::{PARAMS, block, ok, project, salescast, salescast_env};

fn train(dir: &Path, uri: Option<&str>) -> Output {
    train_env(dir, uri, &[])
}

/// `train` with more environment variables (MLflow's credentials).
fn train_env(dir: &Path, uri: Option<&str>, env: &[(&str, &str)]) -> Output {
    salescast_env(
        dir,
        uri,
        &[
            "train",
            "--data-dir",
            "data/features",
            "--models-dir",
            "models",
        ],
        env,
    )
}

fn evaluate(dir: &Path, uri: Option<&str>) -> Output {
    salescast(
        dir,
        uri,
        &[
            "evaluate",
            "--data-dir",
            "data/features",
            "--models-dir",
            "models",
            "--metrics",
            "metrics.json",
            "--plots-dir",
            "plots",
        ],
    )
}

fn manifest(dir: &Path) -> Value {
    let v: Value =
        serde_json::from_slice(&fs::read(dir.join("models/manifest.json")).unwrap()).unwrap();
    v["payload"].clone()
}

/// The tracking run key of each model (`models/tracking.json`, beside the manifest).
fn run_keys(dir: &Path) -> Value {
    serde_json::from_slice(&fs::read(dir.join("models/tracking.json")).unwrap()).unwrap()
}

/// Trains and evaluates against the server at `uri`, then reads what checking it needs: the
/// manifest, the run keys and the experiment.
fn train_and_evaluate(dir: &Path, uri: &str, client: &MlflowClient) -> (Value, Value, Experiment) {
    ok(&train(dir, Some(uri)));
    ok(&evaluate(dir, Some(uri)));
    let exp = block(client.experiment("salescast")).unwrap();
    (manifest(dir), run_keys(dir), exp)
}

fn runs_with_key(
    client: &MlflowClient,
    exp: &str,
    key: &str,
) -> Vec<salescast_tracking::client::Run> {
    block(client.search_runs(&[exp], &format!("tags.`salescast.run_key` = '{key}'"))).unwrap()
}

/// A temporary work directory with a project in `project/`, ready for `train`.
fn work_and_project() -> (tempfile::TempDir, std::path::PathBuf) {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("project");
    fs::create_dir_all(&dir).unwrap();
    project(&dir);
    (work, dir)
}

#[test]
fn runs_reach_a_real_mlflow_server_and_survive_its_outage() {
    let (work, dir) = work_and_project();
    let mut server = MlflowServer::start(&work.path().join("mlflow"));
    let uri = server.uri();
    let client = MlflowClient::new(&uri).unwrap();

    // 1. A training run, then evaluate adding to it.
    let (m, keys, exp) = train_and_evaluate(&dir, &uri, &client);
    let champion = m["champion"].as_str().unwrap().to_owned();
    let mut champion_run = String::new();
    for (name, entry) in m["models"].as_object().unwrap() {
        assert_eq!(keys[name]["version"], entry["version"], "{name}");
        let key = keys[name]["run_key"].as_str().unwrap();
        let runs = runs_with_key(&client, &exp.experiment_id, key);
        assert_eq!(runs.len(), 1, "{name}: one run per model");
        let run = block(client.get_run(&runs[0].info.run_id)).unwrap();
        assert_eq!(run.info.status, "FINISHED");
        assert_eq!(run.info.run_name, format!("train-{name}"));
        let d = &run.data;
        assert_eq!(d.tag("model.family"), Some(name.as_str()));
        assert_eq!(d.tag("stage"), Some("train"));
        assert_eq!(d.param("model"), Some(name.as_str()));
        assert_eq!(
            d.param("data.training_sha256"),
            m["training_data_sha256"].as_str()
        );
        assert_eq!(
            d.param("data.train_rows").unwrap(),
            m["train_rows"].to_string()
        );
        // the run's metrics are the evaluation fit's; the registered model is the refit
        let mae = entry["test_metrics"]["mae"].as_f64().unwrap();
        assert!((d.metric("test_mae").unwrap() - mae).abs() < 1e-9 * mae);
        assert_eq!(d.param("refit_on_all_data"), Some("true"));
        assert_eq!(
            d.param("fitted_on.last").unwrap(),
            entry["fitted_on"]["last"].as_str().unwrap()
        );
        assert_eq!(
            d.param("evaluated_on.first").unwrap(),
            entry["evaluated_on"]["first"].as_str().unwrap()
        );
        let eval_files = block(client.list_artifacts(&run.info.run_id, "evaluation_fit"))
            .unwrap()
            .into_iter()
            .map(|f| f.path)
            .collect::<Vec<_>>();
        assert!(
            eval_files.contains(&format!("evaluation_fit/{name}.bin")),
            "{eval_files:?}"
        );
        for k in [
            "test_rmse",
            "test_r2",
            "test_mape",
            "fit_seconds",
            "eval_mae",
            "eval_rmse",
        ] {
            assert!(d.metric(k).is_some(), "{name}: metric {k}");
        }
        let files: Vec<String> = block(client.list_artifacts(&run.info.run_id, "reports"))
            .unwrap()
            .into_iter()
            .map(|f| f.path)
            .collect();
        assert!(
            files.contains(&"reports/features_report.json".to_owned())
                && files.contains(&"reports/preprocess_report.json".to_owned()),
            "{files:?}"
        );
        let plots: Vec<String> = block(client.list_artifacts(&run.info.run_id, "plots"))
            .unwrap()
            .into_iter()
            .map(|f| f.path)
            .collect();
        for f in [
            "predictions.csv",
            "residuals_by_day.csv",
            "feature_importance.csv",
            "field_importance.csv",
        ] {
            assert!(
                plots.contains(&format!("plots/{f}")),
                "plot data from evaluate: {f} in {plots:?}"
            );
        }
        let model_id = d.tag("salescast.model_id").unwrap();
        let logged = block(client.get_json(&format!("logged-models/{model_id}"), &[])).unwrap();
        assert_eq!(logged["model"]["info"]["status"], "LOGGED_MODEL_READY");
        let stored = block(client.get_json(
            &format!("logged-models/{model_id}/artifacts/directories"),
            &[],
        ))
        .unwrap()
        .to_string();
        for f in [
            "MLmodel",
            "manifest.json",
            "transform.json",
            &format!("{name}.bin"),
        ] {
            assert!(stored.contains(&format!("\"{f}\"")), "{f} in {stored}");
        }
        assert_eq!(
            logged["model"]["info"]["source_run_id"],
            run.info.run_id.as_str()
        );
        if name == "gradient_boosting" {
            let h = block(client.metric_history(&run.info.run_id, "train_rmse")).unwrap();
            assert_eq!(h.len(), 25, "one point per boosting round");
            assert!(h.windows(2).all(|w| w[1].step == w[0].step + 1));
        }
        if *name == champion {
            champion_run = run.info.run_id.clone();
        }
    }
    let alias = block(client.alias("salescast-revenue", "champion"))
        .unwrap()
        .unwrap();
    assert_eq!(
        alias.run_id, champion_run,
        "the champion alias points at the best model's version"
    );

    // 2. MLflow's own errors name the call: a JSON 404, and an HTML page.
    let quick = Retry {
        attempts: 1,
        first_delay: std::time::Duration::from_millis(1),
    };
    let e = block(client.log_batch(
        "0123456789abcdef0123456789abcdef",
        &[],
        &[("a".into(), "b".into())],
        &[],
    ))
    .unwrap_err()
    .to_string();
    assert!(
        e.starts_with("MLflow runs/log-batch: HTTP 404 RESOURCE_DOES_NOT_EXIST"),
        "{e}"
    );
    let wrong = MlflowClient::with_retry(&format!("{uri}/no-such-prefix"), quick).unwrap();
    let e = block(wrong.experiment("x")).unwrap_err().to_string();
    assert!(
        e.starts_with("MLflow experiments/get-by-name: HTTP 404"),
        "{e}"
    );
    assert!(!e.contains('<'), "HTML is reduced to text: {e}");

    // A param longer than MLflow keeps (6000 characters) is stored whole as an artifact.
    let mut r = salescast_tracking::RunRecord::new(
        salescast_tracking::record::new_key(),
        "salescast",
        "long-param",
    );
    r.param("notes", "x".repeat(7000)).param("short", 1);
    r.metric("nan_metric", f64::NAN, 0)
        .finish(salescast_tracking::RunStatus::Finished);
    let id = block(salescast_tracking::server::send(&client, &r)).unwrap();
    let run = block(client.get_run(&id)).unwrap();
    assert!(
        run.data
            .param("notes")
            .unwrap()
            .contains("artifact params/notes.txt")
    );
    assert!(
        run.data.metric("nan_metric").unwrap().is_nan(),
        "NaN arrives as NaN, not 0"
    );
    let files = block(client.list_artifacts(&id, "params")).unwrap();
    assert_eq!(files[0].path, "params/notes.txt");
    assert_eq!(files[0].file_size, Some(7000));

    // 3. The server goes down: training still succeeds and spools its runs.
    let port = server.port;
    server.stop();
    let err = ok(&train(&dir, Some(&uri)));
    assert!(err.contains("spooled"), "{err}");
    ok(&evaluate(&dir, Some(&uri)));
    let spool = dir.join(".salescast/spool");
    assert_eq!(
        fs::read_dir(&spool).unwrap().count(),
        4,
        "two train and two evaluate records"
    );
    let down = salescast(&dir, Some(&uri), &["tracking", "sync"]);
    assert!(!down.status.success(), "sync with the server down fails");
    let keys2 = run_keys(&dir);
    let m2 = manifest(&dir);

    // 4. Back up: sync uploads everything once; a second sync has nothing to do.
    let _server = MlflowServer::start_on(&work.path().join("mlflow"), port);
    let out = salescast(&dir, Some(&uri), &["--json", "tracking", "sync"]);
    ok(&out);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["sent"].as_array().unwrap().len(), 4);
    assert_eq!(fs::read_dir(&spool).unwrap().count(), 0);
    let again = salescast(&dir, Some(&uri), &["--json", "tracking", "sync"]);
    let report: Value = serde_json::from_slice(&ok_out(&again)).unwrap();
    assert_eq!(report["sent"].as_array().unwrap().len(), 0);
    for (name, entry) in m2["models"].as_object().unwrap() {
        assert_eq!(keys2[name]["version"], entry["version"], "{name}");
        let runs = runs_with_key(
            &client,
            &exp.experiment_id,
            keys2[name]["run_key"].as_str().unwrap(),
        );
        assert_eq!(runs.len(), 1, "{name}: replayed once");
        let run = block(client.get_run(&runs[0].info.run_id)).unwrap();
        assert_eq!(run.info.status, "FINISHED");
        assert!(
            run.data.metric("eval_mae").is_some(),
            "{name}: evaluate's additions replayed"
        );
    }
    let all = block(client.search_runs(&[&exp.experiment_id], "")).unwrap();
    assert_eq!(
        all.len(),
        5,
        "two trainings of two models and the long-param run, no duplicates"
    );
}

/// A server on `port` that answers every request with HTTP 500 and MLflow's error body, as an
/// MLflow whose database is failing does, until the returned guard is dropped. Returns the
/// guard and the count of requests it failed.
fn failing_server(port: u16) -> (impl Drop, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    let listener = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let served = Arc::new(AtomicUsize::new(0));
    let (stop2, served2) = (stop.clone(), served.clone());
    let thread = std::thread::spawn(move || {
        for conn in listener.incoming() {
            if stop2.load(Ordering::SeqCst) {
                break;
            }
            let Ok(conn) = conn else { continue };
            let mut reader = BufReader::new(conn);
            let mut length = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                let lower = line.to_ascii_lowercase();
                if let Some(v) = lower.strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0u8; length];
            let _ = reader.read_exact(&mut body);
            let msg = br#"{"error_code": "INTERNAL_ERROR", "message": "(sqlite3.OperationalError) database is locked"}"#;
            let mut conn = reader.into_inner();
            let _ = write!(
                conn,
                "HTTP/1.1 500 Internal Server Error\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                msg.len()
            );
            let _ = conn.write_all(msg);
            served2.fetch_add(1, Ordering::SeqCst);
        }
    });
    struct Guard(Arc<AtomicBool>, u16, Option<std::thread::JoinHandle<()>>);
    impl Drop for Guard {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
            let _ = std::net::TcpStream::connect(("127.0.0.1", self.1));
            if let Some(t) = self.2.take() {
                let _ = t.join();
            }
        }
    }
    (Guard(stop, port, Some(thread)), served)
}

#[test]
fn runs_trained_while_mlflow_answers_500_are_spooled_and_delivered_by_the_next_sync() {
    let (work, dir) = work_and_project();
    let port = salescast_testing::tools::free_port();
    let uri = format!("http://127.0.0.1:{port}");
    let (failing, served) = failing_server(port);
    let err = ok(&train(&dir, Some(&uri)));
    assert!(err.contains("spooled"), "{err}");
    assert!(
        err.contains("HTTP 500 INTERNAL_ERROR"),
        "the reason is named: {err}"
    );
    assert!(
        served.load(std::sync::atomic::Ordering::SeqCst) >= 4,
        "the calls were retried"
    );
    let spool = dir.join(".salescast/spool");
    assert_eq!(
        fs::read_dir(&spool).unwrap().count(),
        2,
        "one record per model"
    );
    let failed_sync = salescast(&dir, Some(&uri), &["tracking", "sync"]);
    assert!(
        !failed_sync.status.success(),
        "sync against the failing server fails"
    );
    assert_eq!(
        fs::read_dir(&spool).unwrap().count(),
        2,
        "and keeps the records"
    );
    drop(failing);

    let server = MlflowServer::start_on(&work.path().join("mlflow"), port);
    let out = salescast(&dir, Some(&server.uri()), &["--json", "tracking", "sync"]);
    let report: Value = serde_json::from_slice(&ok_out(&out)).unwrap();
    assert_eq!(report["sent"].as_array().unwrap().len(), 2);
    assert_eq!(fs::read_dir(&spool).unwrap().count(), 0);
    let client = MlflowClient::new(&server.uri()).unwrap();
    let exp = block(client.experiment("salescast")).unwrap();
    let keys = run_keys(&dir);
    for (name, entry) in manifest(&dir)["models"].as_object().unwrap() {
        assert_eq!(keys[name]["version"], entry["version"], "{name}");
        let runs = runs_with_key(
            &client,
            &exp.experiment_id,
            keys[name]["run_key"].as_str().unwrap(),
        );
        assert_eq!(runs.len(), 1, "{name}: delivered once");
        let run = block(client.get_run(&runs[0].info.run_id)).unwrap();
        assert_eq!(run.info.status, "FINISHED", "{name}");
        assert!(
            run.data.metric("test_mae").is_some(),
            "{name}: metrics delivered"
        );
    }
}

fn ok_out(o: &Output) -> Vec<u8> {
    ok(o);
    o.stdout.clone()
}

#[test]
fn without_a_server_runs_land_in_a_store_mlflow_reads() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    project(dir);
    ok(&train(dir, None));
    ok(&evaluate(dir, None));
    let script = r#"
import json, sys, mlflow
c = mlflow.MlflowClient(tracking_uri=sys.argv[1])
exp = c.get_experiment_by_name("salescast")
runs = c.search_runs([exp.experiment_id])
out = []
for r in runs:
    out.append({"name": r.info.run_name, "status": r.info.status,
                "mae": r.data.metrics.get("test_mae"), "eval_mae": r.data.metrics.get("eval_mae"),
                "rounds": len(c.get_metric_history(r.info.run_id, "train_rmse")),
                "model": [f.path for f in c.list_artifacts(r.info.run_id, "model")]})
print(json.dumps(out))
"#;
    let o = Command::new(tool("python"))
        .args(["-c", script])
        .arg(format!("file://{}", dir.join("mlruns").display()))
        .env("MLFLOW_ALLOW_FILE_STORE", "true")
        .env("MLFLOW_DISABLE_TELEMETRY", "true")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let runs: Value = serde_json::from_slice(&o.stdout).unwrap();
    let runs = runs.as_array().unwrap();
    assert_eq!(runs.len(), 2, "{runs:?}");
    for r in runs {
        assert_eq!(r["status"], "FINISHED");
        assert!(r["mae"].as_f64().unwrap() > 0.0);
        assert!(r["eval_mae"].as_f64().is_some());
        let model: Vec<&str> = r["model"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|v| v.as_str())
            .collect();
        assert!(model.contains(&"model/MLmodel"), "{model:?}");
        if r["name"] == "train-gradient_boosting" {
            assert_eq!(r["rounds"], 25);
        }
    }
}

#[test]
fn a_failed_training_is_recorded_as_failed_runs() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    fs::write(dir.join("params.yaml"), PARAMS).unwrap();
    // a data directory without features (a missing directory is refused before any run starts)
    fs::create_dir(dir.join("empty")).unwrap();
    let o = salescast(
        dir,
        None,
        &["train", "--data-dir", "empty", "--models-dir", "models"],
    );
    assert_eq!(
        o.status.code(),
        Some(3),
        "a data directory without features fails the stage: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let exp = fs::read_dir(dir.join("mlruns"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            fs::read_to_string(p.join("meta.yaml"))
                .unwrap_or_default()
                .contains("name: salescast")
        })
        .unwrap();
    let runs: Vec<_> = fs::read_dir(&exp)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    assert_eq!(runs.len(), 2, "one FAILED run per model");
    for r in runs {
        assert!(
            fs::read_to_string(r.join("meta.yaml"))
                .unwrap()
                .contains("status: 4")
        );
        assert!(
            fs::read_to_string(r.join("tags/error"))
                .unwrap()
                .contains("empty")
        );
    }
}

#[test]
fn a_bad_tracking_uri_is_a_usage_error_before_training() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    fs::write(dir.join("params.yaml"), PARAMS).unwrap();
    // the data directory exists (a missing one is refused first, as bad input too)
    fs::create_dir_all(dir.join("data/features")).unwrap();
    let o = train(dir, Some("sqlite:///mlflow.db"));
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("MLFLOW_TRACKING_URI"));
}

#[test]
fn a_server_behind_basic_auth_takes_the_trainer_and_keeps_readers_from_the_alias() {
    use salescast_tracking::{Credentials, TrackingError};
    let (work, dir) = work_and_project();
    let admin_password = "admin-password-1";
    let server = MlflowServer::start_with_auth(&work.path().join("mlflow"), admin_password);
    let uri = server.uri();
    let quick = Retry {
        attempts: 1,
        first_delay: std::time::Duration::from_millis(10),
    };
    let as_user = |username: &str, password: &str| {
        let credentials = Credentials::Basic {
            username: username.into(),
            password: password.into(),
        };
        MlflowClient::with_credentials(&uri, quick, &credentials).unwrap()
    };
    let admin = as_user("admin", admin_password);
    let denied = |e: TrackingError| match e {
        TrackingError::Denied { status, reason, .. } => (status, reason),
        other => panic!("not a refusal: {other}"),
    };

    // Nobody gets in without credentials, and the error says which variables to set.
    let anonymous = MlflowClient::with_credentials(&uri, quick, &Credentials::None).unwrap();
    let (status, reason) = denied(block(anonymous.experiment("salescast")).unwrap_err());
    assert_eq!(status, 401);
    assert!(reason.contains("MLFLOW_TRACKING_USERNAME"), "{reason}");
    let wrong = as_user("admin", "wrong-password-1");
    let (status, _) = denied(block(wrong.alias("salescast-revenue", "champion")).unwrap_err());
    assert_eq!(status, 401);

    // The trainer, with MLflow's standard variables: its runs and the champion alias land.
    ok(&train_env(
        &dir,
        Some(&uri),
        &[
            ("MLFLOW_TRACKING_USERNAME", "admin"),
            ("MLFLOW_TRACKING_PASSWORD", admin_password),
        ],
    ));
    let champion = block(admin.alias("salescast-revenue", "champion"))
        .unwrap()
        .expect("the champion alias");
    let exp = block(admin.experiment("salescast")).unwrap();
    let keys = run_keys(&dir);
    for (name, k) in keys.as_object().unwrap() {
        let runs = runs_with_key(&admin, &exp.experiment_id, k["run_key"].as_str().unwrap());
        assert_eq!(runs.len(), 1, "{name}");
    }

    // A half-set pair of variables is refused before any request, naming the missing one.
    let o = train_env(&dir, Some(&uri), &[("MLFLOW_TRACKING_USERNAME", "admin")]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("MLFLOW_TRACKING_PASSWORD"), "{err}");

    // A read-only user (MLflow's default permission) reads the alias but cannot move it.
    let created = std::process::Command::new("curl")
        .args(["-sS", "-o", "/dev/null", "-w", "%{http_code}", "-u"])
        .arg(format!("admin:{admin_password}"))
        .args(["-H", "Content-Type: application/json", "-d"])
        .arg(r#"{"username": "replica", "password": "replica-password-1"}"#)
        .arg(format!("{uri}/api/2.0/mlflow/users/create"))
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&created.stdout),
        "200",
        "{created:?}"
    );
    let reader = as_user("replica", "replica-password-1");
    let seen = block(reader.alias("salescast-revenue", "champion"))
        .unwrap()
        .expect("the alias, read");
    assert_eq!(seen.version, champion.version);
    let other = if champion.version == "1" { "2" } else { "1" };
    let (status, reason) =
        denied(block(reader.set_alias("salescast-revenue", "champion", other)).unwrap_err());
    assert_eq!(status, 403, "{reason}");
    let still = block(admin.alias("salescast-revenue", "champion"))
        .unwrap()
        .unwrap();
    assert_eq!(still.version, champion.version, "the alias did not move");
}

#[test]
fn runs_and_the_registry_live_in_postgresql_and_survive_a_server_restart() {
    let (work, dir) = work_and_project();
    let pg = PostgresServer::start(&work.path().join("pg"));
    let port = free_port();
    let artifacts = work.path().join("mlflow");
    let mut server = MlflowServer::start_with_backend(&artifacts, port, &pg.uri());
    let uri = server.uri();
    let client = MlflowClient::new(&uri).unwrap();

    let (m, keys, exp) = train_and_evaluate(&dir, &uri, &client);
    let check = |client: &MlflowClient| {
        for (name, entry) in m["models"].as_object().unwrap() {
            let key = keys[name]["run_key"].as_str().unwrap();
            let runs = runs_with_key(client, &exp.experiment_id, key);
            assert_eq!(runs.len(), 1, "{name}: one run per model");
            let run = block(client.get_run(&runs[0].info.run_id)).unwrap();
            assert_eq!(run.info.status, "FINISHED");
            let mae = entry["test_metrics"]["mae"].as_f64().unwrap();
            let logged = run.data.metric("test_mae").unwrap();
            assert!(
                (logged - mae).abs() < 1e-9 * mae,
                "{name}: {logged} against {mae}"
            );
        }
        let champion = block(client.alias("salescast-revenue", "champion"))
            .unwrap()
            .expect("the champion alias");
        (champion.version, champion.run_id)
    };
    let before = check(&client);
    // Nothing lives in the server: a new one on the same database sees all of it.
    server.stop();
    assert!(
        !artifacts.join("mlflow.db").exists(),
        "the runs went to PostgreSQL, not to SQLite"
    );
    let server = MlflowServer::start_with_backend(&artifacts, port, &pg.uri());
    let client = MlflowClient::new(&server.uri()).unwrap();
    assert_eq!(check(&client), before);
}

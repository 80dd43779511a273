//! `salescast-monitor` end to end on generated data: models trained on the first 360 days of a
//! generated history, then batches from the days after it, as they are and altered.
#![allow(clippy::disallowed_methods, clippy::unwrap_used)] // fixtures are written directly; a test may unwrap

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use salescast_pipeline::stage::fixture;
use salescast_pipeline::train::TrainOptions;
use serde_json::Value;

struct Fixture {
    _dir: tempfile::TempDir,
    models: PathBuf,
    header: String,
    fresh: Vec<String>,
}

const TRAIN_DAYS: i64 = 360;

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let cfg = salescast_synth::Config {
            rows: 45_000,
            days: 430,
            seed: 11,
            ..Default::default()
        };
        let mut bytes = Vec::new();
        salescast_synth::generate(&cfg, &mut bytes, |_| {}).unwrap();
        let text = String::from_utf8(bytes).unwrap();
        let mut lines = text.lines();
        let header = lines.next().unwrap().to_owned();
        let cut = (cfg.start + chrono::Duration::days(TRAIN_DAYS)).to_string();
        let date_col = header.split(',').position(|h| h == "date").unwrap();
        let (mut train_rows, mut fresh) = (Vec::new(), Vec::new());
        for l in lines {
            let d = l.split(',').nth(date_col).unwrap();
            if d < cut.as_str() {
                train_rows.push(l.to_owned());
            } else {
                fresh.push(l.to_owned());
            }
        }
        let raw = dir.path().join("train.csv");
        std::fs::write(&raw, format!("{header}\n{}\n", train_rows.join("\n"))).unwrap();
        let spec = fixture::Spec {
            test_days: salescast_preprocess::Options::default().test_days,
            validation_days: TrainOptions::default().validation_days,
            trees: 20,
            rounds: 80,
            daily: Some(salescast_daily::SelectSettings {
                folds: 1,
                fold_days: 14,
                ..Default::default()
            }),
            monitor: salescast_monitor::settings::MonitorSettings {
                reference_rows: 20_000,
                ..Default::default()
            },
        };
        let models = fixture::trained(&raw, dir.path(), &spec).unwrap().models;
        assert!(models.join("reference.json").is_file(), "profile written");
        Fixture {
            _dir: dir,
            models,
            header,
            fresh,
        }
    })
}

/// Writes a batch: the fresh rows, each passed through `edit` (cells by column name).
fn batch(
    dir: &Path,
    name: &str,
    drop: &[&str],
    edit: impl Fn(usize, &mut Vec<String>, &[&str]),
) -> PathBuf {
    let f = fixture();
    let cols: Vec<&str> = f.header.split(',').collect();
    let keep: Vec<usize> = (0..cols.len())
        .filter(|&i| !drop.contains(&cols[i]))
        .collect();
    let mut out = keep.iter().map(|&i| cols[i]).collect::<Vec<_>>().join(",") + "\n";
    for (n, l) in f.fresh.iter().enumerate() {
        let mut cells: Vec<String> = l.split(',').map(str::to_owned).collect();
        edit(n, &mut cells, &cols);
        out += &(keep
            .iter()
            .map(|&i| cells[i].as_str())
            .collect::<Vec<_>>()
            .join(",")
            + "\n");
    }
    let path = dir.join(name);
    std::fs::write(&path, out).unwrap();
    path
}

fn col(cols: &[&str], name: &str) -> usize {
    cols.iter().position(|c| *c == name).unwrap()
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
    report: Option<Value>,
}

/// The monitor's command on `data`, writing into `out`.
fn monitor_cmd(data: &Path, out: &Path, extra: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_salescast-monitor"));
    cmd.arg("--new-data")
        .arg(data)
        .arg("--models-dir")
        .arg(&fixture().models)
        .arg("--report-dir")
        .arg(out.join("reports"))
        .arg("--alert-log")
        .arg(out.join("alerts.jsonl"))
        .arg("--no-mlflow")
        .args(extra)
        .env_remove("SALESCAST_ALERT_WEBHOOK")
        .env_remove("MLFLOW_TRACKING_URI")
        .current_dir(out);
    for (k, v) in env {
        cmd.env(k, v);
    }
    // The settings file is optional only at its default path; point at an empty one.
    let params = out.join("params.yaml");
    std::fs::write(&params, "").unwrap();
    cmd.env("SALESCAST_PARAMS", &params);
    cmd
}

fn monitor(data: &Path, out: &Path, extra: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = monitor_cmd(data, out, extra, env);
    let o = cmd.output().unwrap();
    let report = std::fs::read_to_string(out.join("reports/latest.json"))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok());
    Run {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        report,
    }
}

fn alerts(out: &Path) -> Vec<Value> {
    std::fs::read_to_string(out.join("alerts.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn kinds(r: &Value) -> Vec<String> {
    r["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["kind"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn fresh_data_from_the_same_generator_is_healthy() {
    let out = tempfile::tempdir().unwrap();
    let data = batch(out.path(), "fresh.csv", &[], |_, _, _| {});
    let r = monitor(&data, out.path(), &[], &[]);
    let report = r.report.expect("report");
    assert_eq!(
        r.code, 0,
        "{}\n{}\n{:#}",
        r.stdout, r.stderr, report["alerts"]
    );
    assert!(alerts(out.path()).is_empty());
    assert_eq!(report["status"], "healthy");
    for p in report["performance"].as_array().unwrap() {
        assert_eq!(p["source"], "realised");
    }
    // The reports exist beside each other; the HTML is self-contained.
    let html = std::fs::read_to_string(out.path().join("reports/latest.html")).unwrap();
    assert!(html.contains("<svg") || html.contains("No alert"));
    assert!(!html.contains("src=\"http") && !html.contains("href=\"http"));
    let prom = std::fs::read_to_string(out.path().join("reports/salescast_monitor.prom")).unwrap();
    assert!(prom.contains("salescast_monitor_status 0"), "{prom}");
}

#[test]
fn a_two_row_batch_is_not_judged_for_drift_and_says_why() {
    let out = tempfile::tempdir().unwrap();
    let full = batch(out.path(), "all.csv", &[], |_, _, _| {});
    let text = std::fs::read_to_string(&full).unwrap();
    let two: String = text.lines().take(3).map(|l| format!("{l}\n")).collect();
    let data = out.path().join("two.csv");
    std::fs::write(&data, two).unwrap();
    let r = monitor(&data, out.path(), &[], &[]);
    let report = r.report.expect("report");
    let kinds = kinds(&report);
    assert!(
        !kinds.iter().any(|k| k.contains("drift")),
        "{kinds:?}\n{}",
        r.stderr
    );
    assert_eq!(report["drift"]["dataset"]["drift"], false);
    let note = report["drift"]["note"].as_str().expect("a note");
    assert!(
        note.contains("2 valid rows") && note.contains("min_drift_rows (30)"),
        "{note}"
    );
    assert!(r.stderr.contains("drift not judged"), "{}", r.stderr);
}

#[test]
fn shifted_prices_and_a_new_category_raise_a_drift_alert_naming_them() {
    let out = tempfile::tempdir().unwrap();
    let data = batch(out.path(), "shifted.csv", &[], |n, cells, cols| {
        let p = col(cols, "unit_price");
        if let Ok(v) = cells[p].parse::<f64>() {
            cells[p] = format!("{:.2}", v * 1.6);
        }
        if n % 6 == 0 {
            cells[col(cols, "category")] = "Garden Robots".into();
        }
    });
    let r = monitor(&data, out.path(), &[], &[]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    let report = r.report.unwrap();
    let drift: Vec<&Value> = report["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["kind"] == "drift")
        .collect();
    assert_eq!(drift.len(), 1, "{:#}", report["alerts"]);
    let mut named: Vec<&str> = drift[0]["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    named.sort_unstable();
    assert_eq!(named, ["category", "unit_price"]);
    assert!(kinds(&report).contains(&"new_category".to_owned()));
    let logged = alerts(out.path());
    assert_eq!(logged.len(), report["alerts"].as_array().unwrap().len());
}

#[test]
fn doubled_revenue_raises_a_performance_alert() {
    let out = tempfile::tempdir().unwrap();
    let data = batch(out.path(), "doubled.csv", &[], |_, cells, cols| {
        let c = col(cols, "revenue");
        if let Ok(v) = cells[c].parse::<f64>() {
            cells[c] = format!("{:.2}", v * 2.0);
        }
    });
    let r = monitor(&data, out.path(), &[], &[]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let report = r.report.unwrap();
    let perf: Vec<&Value> = report["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["kind"] == "performance")
        .collect();
    assert!(
        perf.iter().any(|a| a["metric"] == "mae"),
        "{:#}",
        report["alerts"]
    );
}

#[test]
fn unlabelled_data_get_an_estimated_mae_whose_band_holds_the_realised_one() {
    let out = tempfile::tempdir().unwrap();
    let labelled = batch(out.path(), "labelled.csv", &[], |_, _, _| {});
    let realised = monitor(&labelled, out.path(), &[], &[]).report.unwrap();
    let hidden = batch(
        out.path(),
        "unlabelled.csv",
        &["revenue", "quantity"],
        |_, _, _| {},
    );
    let r = monitor(&hidden, out.path(), &[], &[]);
    let estimated = r.report.expect("report");
    for (p, q) in estimated["performance"]
        .as_array()
        .unwrap()
        .iter()
        .zip(realised["performance"].as_array().unwrap())
    {
        assert_eq!(p["source"], "estimated");
        assert_eq!(p["checks"][0]["source"], "estimated");
        let mae = q["checks"][0]["value"].as_f64().unwrap();
        assert_eq!(q["checks"][0]["source"], "realised");
        let (lo, hi) = (
            p["estimated_mae"]["lower"].as_f64().unwrap(),
            p["estimated_mae"]["upper"].as_f64().unwrap(),
        );
        assert!(
            lo <= mae && mae <= hi,
            "{}: realised {mae} outside [{lo}, {hi}]",
            p["model"]
        );
    }
}

#[test]
fn a_malformed_file_exits_2_naming_the_problem() {
    let out = tempfile::tempdir().unwrap();
    let missing = batch(out.path(), "no_store.csv", &["store_id"], |_, _, _| {});
    let r = monitor(&missing, out.path(), &[], &[]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("store_id"), "{}", r.stderr);
    let binary = out.path().join("binary.csv");
    std::fs::write(&binary, [0u8, 159, 146, 150, 0, 1, 2]).unwrap();
    let r = monitor(&binary, out.path(), &[], &[]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("NUL") || r.stderr.contains("text"),
        "{}",
        r.stderr
    );
    let r = monitor(&out.path().join("absent.csv"), out.path(), &[], &[]);
    assert_eq!(r.code, 2, "{}", r.stderr);
}

/// A copy of the fixture's models directory under `dir`, to damage without touching the original.
fn copied_models(dir: &Path) -> PathBuf {
    let models = dir.join("models");
    let cp = Command::new("cp")
        .arg("-r")
        .arg(&fixture().models)
        .arg(&models)
        .status()
        .unwrap();
    assert!(cp.success());
    models
}

#[test]
fn a_damaged_model_file_is_bad_input_as_in_the_pipeline() {
    let dir = tempfile::tempdir().unwrap();
    let models = copied_models(dir.path());
    let model = models.join("gradient_boosting.bin");
    let bytes = std::fs::read(&model).unwrap();
    std::fs::write(&model, &bytes[..bytes.len() / 2]).unwrap();
    let out = tempfile::tempdir().unwrap();
    let data = batch(out.path(), "fresh.csv", &[], |_, _, _| {});
    let cmd = monitor_cmd(&data, out.path(), &[], &[]);
    let args: Vec<std::ffi::OsString> = cmd.get_args().map(ToOwned::to_owned).collect();
    let at = args.iter().position(|a| a == "--models-dir").unwrap();
    let mut cmd2 = Command::new(cmd.get_program());
    for (i, a) in args.iter().enumerate() {
        cmd2.arg(if i == at + 1 { models.as_os_str() } else { a });
    }
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => cmd2.env(k, v),
            None => cmd2.env_remove(k),
        };
    }
    let o = cmd2.current_dir(out.path()).output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("gradient_boosting"), "{stderr}");
}

#[test]
fn a_profile_naming_a_file_outside_its_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let models = copied_models(dir.path());
    salescast_monitor::profile::load(&models).unwrap();
    let path = models.join(salescast_monitor::profile::PROFILE_FILE);
    let mut p: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let sample = p["payload"]["sample_file"].as_str().unwrap().to_owned();
    std::fs::copy(models.join(&sample), dir.path().join(&sample)).unwrap();
    p["payload"]["sample_file"] = format!("../{sample}").into();
    std::fs::write(&path, serde_json::to_vec(&p).unwrap()).unwrap();
    let e = salescast_monitor::profile::load(&models)
        .unwrap_err()
        .to_string();
    assert!(e.contains("not inside its own directory"), "{e}");
}

/// Every line of a JSON-lines file parses.
fn whole_lines(path: &Path) -> usize {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        text.is_empty() || text.ends_with('\n'),
        "{}: a torn last line",
        path.display()
    );
    for (i, l) in text.lines().enumerate() {
        assert!(
            serde_json::from_str::<Value>(l).is_ok(),
            "{} line {}: {l}",
            path.display(),
            i + 1
        );
    }
    text.lines().count()
}

#[test]
fn a_monitor_killed_mid_run_leaves_its_logs_and_reports_whole() {
    let out = tempfile::tempdir().unwrap();
    let data = batch(out.path(), "doubled.csv", &[], |_, cells, cols| {
        let c = col(cols, "revenue");
        if let Ok(v) = cells[c].parse::<f64>() {
            cells[c] = format!("{:.2}", v * 2.0);
        }
    });
    let started = std::time::Instant::now();
    assert_eq!(monitor(&data, out.path(), &[], &[]).code, 1);
    let full = started.elapsed();
    let per_run = whole_lines(&out.path().join("alerts.jsonl"));
    assert!(per_run > 0);
    for fraction in [0.3, 0.6, 0.9, 0.97] {
        let mut child = monitor_cmd(&data, out.path(), &[], &[])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(full.mul_f64(fraction));
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        whole_lines(&out.path().join("alerts.jsonl"));
        whole_lines(&out.path().join("reports/history.jsonl"));
        let latest = std::fs::read_to_string(out.path().join("reports/latest.json")).unwrap();
        assert!(
            serde_json::from_str::<Value>(&latest).is_ok(),
            "killed at {fraction}: latest.json torn"
        );
    }
    // The next run appends its own lines after whatever the killed ones completed.
    let alerts_before = whole_lines(&out.path().join("alerts.jsonl"));
    let runs_before = whole_lines(&out.path().join("reports/history.jsonl"));
    assert_eq!(monitor(&data, out.path(), &[], &[]).code, 1);
    assert_eq!(
        whole_lines(&out.path().join("alerts.jsonl")),
        alerts_before + per_run
    );
    assert_eq!(
        whole_lines(&out.path().join("reports/history.jsonl")),
        runs_before + 1
    );
}

#[test]
fn the_alert_log_is_appended_to_across_runs() {
    let out = tempfile::tempdir().unwrap();
    let data = batch(out.path(), "doubled.csv", &[], |_, cells, cols| {
        let c = col(cols, "revenue");
        if let Ok(v) = cells[c].parse::<f64>() {
            cells[c] = format!("{:.2}", v * 2.0);
        }
    });
    assert_eq!(monitor(&data, out.path(), &[], &[]).code, 1);
    let first = std::fs::read_to_string(out.path().join("alerts.jsonl")).unwrap();
    assert_eq!(monitor(&data, out.path(), &[], &[]).code, 1);
    let second = std::fs::read_to_string(out.path().join("alerts.jsonl")).unwrap();
    assert!(second.starts_with(&first));
    assert_eq!(second.lines().count(), 2 * first.lines().count());
    let history = std::fs::read_to_string(out.path().join("reports/history.jsonl")).unwrap();
    assert_eq!(history.lines().count(), 2);
}

#[test]
fn a_webhook_gets_the_alerts_and_a_dead_one_loses_none() {
    let out = tempfile::tempdir().unwrap();
    let data = batch(out.path(), "doubled.csv", &[], |_, cells, cols| {
        let c = col(cols, "revenue");
        if let Ok(v) = cells[c].parse::<f64>() {
            cells[c] = format!("{:.2}", v * 2.0);
        }
    });
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let receiver = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            let n = s.read(&mut chunk).unwrap_or(0);
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&chunk[..n]);
            let text = String::from_utf8_lossy(&buf);
            if let Some(at) = text.find("\r\n\r\n") {
                let len = text[..at]
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse::<usize>().unwrap())
                    })
                    .unwrap_or(0);
                if buf.len() >= at + 4 + len {
                    let body = String::from_utf8_lossy(&buf[at + 4..at + 4 + len]).into_owned();
                    s.write_all(
                        b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                    )
                    .unwrap();
                    return body;
                }
            }
        }
        String::new()
    });
    let r = monitor(&data, out.path(), &[], &[("SALESCAST_ALERT_WEBHOOK", &url)]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let body: Value = serde_json::from_str(&receiver.join().unwrap()).unwrap();
    assert!(!body["alerts"].as_array().unwrap().is_empty());
    assert_eq!(r.report.unwrap()["webhook"][0]["delivered"], true);

    // Nothing listens on a port that was just released.
    let dead = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/hook", l.local_addr().unwrap())
    };
    let out2 = tempfile::tempdir().unwrap();
    let r = monitor(
        &data,
        out2.path(),
        &[],
        &[("SALESCAST_ALERT_WEBHOOK", &dead)],
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    let report = r.report.unwrap();
    assert_eq!(report["webhook"][0]["delivered"], false);
    assert_eq!(
        alerts(out2.path()).len(),
        report["alerts"].as_array().unwrap().len()
    );
}

#[test]
fn a_run_is_logged_to_a_real_mlflow_server() {
    use salescast_testing::tools::MlflowServer;
    use salescast_tracking::MlflowClient;
    let out = tempfile::tempdir().unwrap();
    let server = MlflowServer::start(&out.path().join("mlflow"));
    let data = batch(out.path(), "doubled.csv", &[], |_, cells, cols| {
        let r = col(cols, "revenue");
        if let Ok(v) = cells[r].parse::<f64>() {
            cells[r] = format!("{:.2}", v * 2.0);
        }
    });
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_salescast-monitor"));
    let params = out.path().join("params.yaml");
    std::fs::write(&params, "").unwrap();
    let o = cmd
        .arg("--new-data")
        .arg(&data)
        .arg("--models-dir")
        .arg(&fixture().models)
        .arg("--report-dir")
        .arg(out.path().join("reports"))
        .arg("--alert-log")
        .arg(out.path().join("alerts.jsonl"))
        .arg("--json")
        .env_remove("SALESCAST_ALERT_WEBHOOK")
        .env("SALESCAST_PARAMS", &params)
        .env("MLFLOW_TRACKING_URI", server.uri())
        .current_dir(out.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    let report: Value = serde_json::from_str(
        &std::fs::read_to_string(out.path().join("reports/latest.json")).unwrap(),
    )
    .unwrap();

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let client = MlflowClient::new(&server.uri()).unwrap();
    let exp = rt.block_on(client.experiment("salescast-monitor")).unwrap();
    let runs = rt
        .block_on(client.search_runs(&[exp.experiment_id.as_str()], ""))
        .unwrap();
    assert_eq!(runs.len(), 1, "{runs:?}\n{stderr}");
    let run = &runs[0];
    assert_eq!(run.info.status, "FINISHED");
    let run_id = report["run_id"].as_str().unwrap();
    assert_eq!(run.data.tag("salescast.monitor.run_id"), Some(run_id));
    assert_eq!(
        run.data.tag("salescast.monitor.status"),
        report["status"].as_str()
    );
    let alerts = report["alerts"].as_array().unwrap().len() as f64;
    assert!(alerts >= 1.0);
    assert_eq!(run.data.metric("alerts"), Some(alerts));
    // Every realised performance figure of the report is on the run, with its value.
    let mut seen = 0;
    for p in report["performance"].as_array().unwrap() {
        for c in p["checks"].as_array().unwrap() {
            if c["source"] != "realised" {
                continue;
            }
            let key = format!(
                "{}.{}",
                p["model"].as_str().unwrap(),
                c["metric"].as_str().unwrap()
            );
            let want = c["value"].as_f64().unwrap();
            let got = run
                .data
                .metric(&key)
                .unwrap_or_else(|| panic!("{key} not logged"));
            assert!(
                (got - want).abs() <= 1e-9 * want.abs().max(1.0),
                "{key}: {got} vs {want}"
            );
            seen += 1;
        }
    }
    assert!(seen >= 4, "only {seen} realised metrics");
    let share = report["drift"]["dataset"]["share"].as_f64().unwrap();
    assert_eq!(run.data.metric("drift.share"), Some(share));
}

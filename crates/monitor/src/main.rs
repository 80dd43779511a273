//! `salescast-monitor`: the monitor cron runs. Exit 0 healthy, 1 alerts raised, 2 bad input or
//! usage, 3 any other failure (`INTERFACES.md`).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, ValueEnum};
use salescast_monitor::run::{RunOptions, run};
use salescast_monitor::settings::MonitorSettings;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

/// Compares a new batch of transactions with the reference profile saved at training time:
/// model performance against the held-out baseline (realised with labels, estimated without),
/// the daily forecast's accuracy and coverage, and data drift with Evidently's statistics.
/// Writes a JSON and an HTML report, appends to the history and alert logs, and writes a
/// Prometheus text file.
#[derive(Debug, Parser)]
#[command(name = "salescast-monitor", version)]
struct Args {
    /// New transactions in the data contract (CSV or Parquet); `revenue` may be absent.
    #[arg(long, env = "SALESCAST_NEW_DATA")]
    new_data: PathBuf,
    /// The served models, with `reference.json` beside them.
    #[arg(long, env = "SALESCAST_MODELS_DIR", default_value = "models")]
    models_dir: PathBuf,
    /// The evaluate stage's `metrics.json`; default: the held-out metrics in the profile.
    #[arg(long, env = "SALESCAST_BASELINE_METRICS")]
    baseline_metrics: Option<PathBuf>,
    /// Where the reports go (`monitor-<run>.json|html`, `latest.json|html`).
    #[arg(
        long,
        alias = "reports-dir",
        env = "SALESCAST_REPORTS_DIR",
        default_value = "reports"
    )]
    report_dir: PathBuf,
    /// The alert log (JSON lines, appended). Default: `<report-dir>/alerts.jsonl`.
    #[arg(long, env = "SALESCAST_ALERT_LOG")]
    alert_log: Option<PathBuf>,
    /// The run history (JSON lines, appended). Default: `<report-dir>/history.jsonl`.
    #[arg(long, env = "SALESCAST_MONITOR_HISTORY")]
    history: Option<PathBuf>,
    /// The Prometheus text file. Default: `<report-dir>/salescast_monitor.prom`.
    #[arg(long, env = "SALESCAST_PROMETHEUS_FILE")]
    prometheus_file: Option<PathBuf>,
    /// POST the alerts here (JSON) when there are any.
    #[arg(long, env = "SALESCAST_ALERT_WEBHOOK")]
    webhook: Option<String>,
    /// Settings file (its `monitor:` section) [default: ./params.yaml when present].
    #[arg(long, env = "SALESCAST_PARAMS")]
    params: Option<PathBuf>,
    /// Do not log the run to MLflow even when MLFLOW_TRACKING_URI is set.
    #[arg(long)]
    no_mlflow: bool,
    /// Print the report as JSON on stdout, for scripts.
    #[arg(long)]
    json: bool,
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
}

fn main() -> ExitCode {
    let args = match Args::try_parse() {
        Ok(a) => a,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    salescast_core::logging::init(args.log_format == LogFormat::Json);
    let (params, explicit) = match &args.params {
        Some(p) => (p.clone(), true),
        None => (PathBuf::from("params.yaml"), false),
    };
    let settings = match MonitorSettings::from_params(&params, explicit) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let webhook = args.webhook.clone().filter(|w| !w.trim().is_empty());
    let opts = RunOptions {
        new_data: args.new_data.clone(),
        models_dir: args.models_dir.clone(),
        baseline_metrics: args.baseline_metrics.clone(),
        alert_log: args
            .alert_log
            .clone()
            .unwrap_or_else(|| args.report_dir.join("alerts.jsonl")),
        history: args
            .history
            .clone()
            .unwrap_or_else(|| args.report_dir.join("history.jsonl")),
        prometheus: args
            .prometheus_file
            .clone()
            .unwrap_or_else(|| args.report_dir.join("salescast_monitor.prom")),
        report_dir: args.report_dir.clone(),
        webhook,
        settings,
        project_dir: PathBuf::from("."),
        mlflow: !args.no_mlflow,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: starting the runtime: {e}");
            return ExitCode::from(3);
        }
    };
    match runtime.block_on(run(&opts)) {
        Ok((report, written)) => {
            if args.json {
                match serde_json::to_string_pretty(&report) {
                    Ok(s) => println!("{s}"),
                    Err(e) => eprintln!("error: {e}"),
                }
            } else {
                println!(
                    "{}: {} rows ({} invalid), {} alert(s); report {}",
                    report.status,
                    report.new_data.valid_rows,
                    report.new_data.invalid_rows,
                    report.alerts.len(),
                    written.html.display()
                );
                for a in &report.alerts {
                    println!("  alert: {}", a.message);
                }
            }
            ExitCode::from(u8::from(!report.alerts.is_empty()))
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(if e.is_bad_input() { 2 } else { 3 })
        }
    }
}

//! `salescast-ui`: serves the analysts' pages. This binary only reads settings, sets up logging
//! and signals, and runs the library's router.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

/// The Salescast web UI for analysts.
#[derive(Debug, Parser)]
#[command(
    name = "salescast-ui",
    version,
    about = "Salescast web UI: overview, predictions, batch scoring, forecasts, models and monitoring, rendered on the server from salescast-api."
)]
struct Args {
    /// The prediction service's address.
    #[arg(
        long,
        env = "SALESCAST_API_URL",
        default_value = "http://127.0.0.1:5001"
    )]
    api_url: String,
    /// Address to listen on.
    #[arg(long, env = "SALESCAST_UI_ADDR", default_value = "127.0.0.1:8501")]
    addr: SocketAddr,
    /// The monitor's reports directory (latest.json, history.jsonl, alerts.jsonl).
    #[arg(long, env = "SALESCAST_REPORTS_DIR", default_value = "reports")]
    reports_dir: PathBuf,
    /// Seconds to wait for any one API answer before showing the banner.
    #[arg(long, env = "SALESCAST_UI_API_TIMEOUT_SECS", default_value_t = 5.0)]
    api_timeout_secs: f64,
    /// Largest CSV upload in bytes (the API's own limit applies too).
    #[arg(long, env = "SALESCAST_MAX_CSV_BYTES", default_value_t = 50 << 20)]
    max_upload_bytes: u64,
    /// MLflow server to link each model's run to (default: MLFLOW_TRACKING_URI when it is http).
    #[arg(long, env = "SALESCAST_MLFLOW_URL")]
    mlflow_url: Option<String>,
    /// Log format on stderr.
    #[arg(long, value_parser = ["text", "json"], default_value = "text")]
    log_format: String,
}

fn main() -> ExitCode {
    let args = Args::parse();
    salescast_core::logging::init(args.log_format == "json");
    if !(args.api_timeout_secs.is_finite()
        && args.api_timeout_secs > 0.0
        && args.api_timeout_secs <= 600.0)
    {
        eprintln!("error: --api-timeout-secs must be a number of seconds in (0, 600]");
        return ExitCode::from(2);
    }
    let mlflow_url = args.mlflow_url.or_else(|| {
        std::env::var("MLFLOW_TRACKING_URI")
            .ok()
            .filter(|u| u.starts_with("http://") || u.starts_with("https://"))
    });
    let cfg = salescast_ui::Config {
        api_url: args.api_url,
        api_timeout: Duration::from_secs_f64(args.api_timeout_secs),
        reports_dir: args.reports_dir,
        max_upload_bytes: args.max_upload_bytes,
        mlflow_url,
        jobs_dir: None,
    };
    let app = match salescast_ui::app(&cfg) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: starting the runtime: {e}");
            return ExitCode::from(3);
        }
    };
    match rt.block_on(serve(app, args.addr, &cfg.api_url)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(3)
        }
    }
}

async fn serve(app: axum::Router, addr: SocketAddr, api: &str) -> anyhow::Result<()> {
    use anyhow::Context;
    use tokio::signal::unix::{SignalKind, signal};
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding {addr}"))?;
    tracing::info!(%addr, api, "salescast-ui listening");
    let mut term = signal(SignalKind::terminate()).context("SIGTERM handler")?;
    let shutdown = async move {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {},
            _ = term.recv() => {},
        }
        tracing::info!("shutting down");
    };
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
        .context("serving")
}

//! `salescast-api`: serves predictions from a models directory. This binary only reads
//! settings, sets up logging and signals, and runs the library's router.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

/// The Salescast prediction service.
#[derive(Debug, Parser)]
#[command(
    name = "salescast-api",
    version,
    about = "Salescast prediction service (HTTP)."
)]
struct Args {
    /// Models directory written by `salescast train` (manifest.json and the artifacts it names).
    #[arg(long, env = "SALESCAST_MODELS_DIR", default_value = "models")]
    models_dir: PathBuf,
    /// Serve a registered model instead: `models:/NAME@ALIAS` or `models:/NAME/VERSION`, from
    /// the MLflow server at MLFLOW_TRACKING_URI (downloaded through its artifact proxy).
    #[arg(long, env = "SALESCAST_MODELS_URI")]
    models_uri: Option<String>,
    /// Where registered versions are downloaded to (one directory per version).
    #[arg(long, env = "SALESCAST_MODELS_CACHE", default_value = "models-cache")]
    models_cache: PathBuf,
    /// Seconds between checks of the registry for a new version (0: only at start, on SIGHUP
    /// and on POST /admin/reload).
    #[arg(long, env = "SALESCAST_MODELS_POLL_SECS", default_value_t = 30)]
    models_poll_secs: u64,
    /// Address to listen on.
    #[arg(long, env = "SALESCAST_ADDR", default_value = "127.0.0.1:5001")]
    addr: SocketAddr,
    /// Largest CSV upload, in bytes.
    #[arg(long, env = "SALESCAST_MAX_CSV_BYTES", default_value_t = 50 << 20)]
    max_csv_bytes: usize,
    /// Largest JSON body, in bytes.
    #[arg(long, env = "SALESCAST_MAX_JSON_BYTES", default_value_t = 2 << 20)]
    max_json_bytes: usize,
    /// Most rows in one request.
    #[arg(long, env = "SALESCAST_MAX_BATCH_ROWS", default_value_t = 1_000_000)]
    max_batch_rows: usize,
    /// Longest forecast horizon in days.
    #[arg(long, env = "SALESCAST_MAX_HORIZON_DAYS", default_value_t = 366)]
    max_horizon_days: u32,
    /// Request timeout in seconds.
    #[arg(long, env = "SALESCAST_REQUEST_TIMEOUT_SECS", default_value_t = 60)]
    timeout_secs: u64,
    /// Requests handled at once; more wait.
    #[arg(long, env = "SALESCAST_CONCURRENCY", default_value_t = 256)]
    concurrency: usize,
    /// Origins allowed by CORS, comma-separated (`*` for any) [default: none].
    #[arg(long, env = "SALESCAST_CORS_ORIGINS", value_delimiter = ',')]
    cors_origins: Vec<String>,
    /// Log format on stderr.
    #[arg(long, value_parser = ["text", "json"], default_value = "text")]
    log_format: String,
}

fn main() -> ExitCode {
    let args = Args::parse();
    salescast_core::logging::init(args.log_format == "json");
    let admin_token = std::env::var("SALESCAST_ADMIN_TOKEN")
        .ok()
        .filter(|t| !t.is_empty());
    if admin_token.as_ref().is_some_and(|t| t.len() < 16) {
        eprintln!("error: SALESCAST_ADMIN_TOKEN must be at least 16 characters");
        return ExitCode::from(2);
    }
    let registry = match &args.models_uri {
        None => None,
        Some(uri) => {
            let tracking = std::env::var("MLFLOW_TRACKING_URI").unwrap_or_default();
            match salescast_api::registry::Registry::new(
                &tracking,
                uri,
                &args.models_cache,
                Duration::from_secs(args.models_poll_secs),
            ) {
                Ok(r) => Some(std::sync::Arc::new(r)),
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(2);
                }
            }
        }
    };
    let cfg = salescast_api::Config {
        models_dir: registry
            .as_ref()
            .map_or(args.models_dir, |r| r.served_dir()),
        registry,
        limits: salescast_api::Limits {
            max_json_bytes: args.max_json_bytes,
            max_csv_bytes: args.max_csv_bytes,
            max_batch_rows: args.max_batch_rows.max(1),
            max_horizon_days: args.max_horizon_days,
            timeout: Duration::from_secs(args.timeout_secs.max(1)),
            concurrency: args.concurrency.max(1),
        },
        admin_token,
        cors_origins: args.cors_origins,
    };
    // Blocking threads (CSV parsing, forecasts, reloads) are kept for ten minutes instead of
    // tokio's ten seconds: a thread that exits abandons its allocator heap, and a steady load
    // that keeps starting new ones makes resident memory creep up (seen in the soak test).
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_keep_alive(Duration::from_secs(600))
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: starting the runtime: {e}");
            return ExitCode::from(3);
        }
    };
    match rt.block_on(serve(cfg, args.addr)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(3)
        }
    }
}

async fn serve(cfg: salescast_api::Config, addr: SocketAddr) -> anyhow::Result<()> {
    use anyhow::Context;
    use tokio::signal::unix::{SignalKind, signal};
    let (app, state) = salescast_api::build(&cfg);
    // From the registry: the version served before a restart loads at once (if any), then the
    // registry is asked; without it, the cached version keeps serving.
    if let Some(r) = &cfg.registry {
        if r.served_dir().exists() {
            let _ = state.reload();
        }
        match r.check(&state).await {
            Ok(v) => {
                tracing::info!(uri = %r.status().uri, version = ?v.or(r.status().version), "registry checked")
            }
            Err(e) => {
                tracing::error!(error = %e, "registry check failed; retrying every poll interval")
            }
        }
        salescast_api::registry::spawn_poll(r.clone(), state.clone());
    }
    match if cfg.registry.is_some() {
        state
            .current()
            .ok_or_else(|| "no registered version loaded yet".to_owned())
    } else {
        state.reload()
    } {
        Ok(l) => tracing::info!(
            dir = %cfg.models_dir.display(),
            champion = l.predictor.champion.name(),
            models = l.predictor.models.len(),
            "models loaded"
        ),
        Err(e) => {
            tracing::error!(error = %e, "no models loaded: /ready answers 503 until a reload succeeds")
        }
    }
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding {addr}"))?;
    tracing::info!(%addr, "listening");
    let mut hup = signal(SignalKind::hangup()).context("SIGHUP handler")?;
    let reload_state = state.clone();
    tokio::spawn(async move {
        while hup.recv().await.is_some() {
            match reload_state.refresh().await {
                Ok(()) => tracing::info!("SIGHUP: models reloaded"),
                Err(e) => {
                    tracing::error!(error = %e, "SIGHUP: reload failed; the previous models keep serving")
                }
            }
        }
    });
    let mut term = signal(SignalKind::terminate()).context("SIGTERM handler")?;
    let shutdown = async move {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {},
            _ = term.recv() => {},
        }
        tracing::info!("shutting down: finishing requests in flight");
    };
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
        .context("serving")
}

//! `salescast-ui`: the analysts' web UI.
//!
//! Every page is a Leptos view rendered to HTML on the server from `salescast-api`'s answers;
//! forms are plain HTML forms and charts are inline SVG, so the whole UI works with JavaScript
//! off. The UI talks to the API over HTTP and to nothing else, apart from reading the monitor's
//! output directory for the monitoring page.
//!
//! Each handler first fetches what its page needs (so no Suspense fallback and no streamed
//! out-of-order chunks, which would need script to put in place), then renders the view in one
//! pass. That is Leptos' async SSR mode without the hydration state a no-wasm build would never
//! read.
//!
//! ```no_run
//! # async fn run() -> anyhow::Result<()> {
//! let cfg = salescast_ui::Config::new("http://127.0.0.1:5001");
//! let app = salescast_ui::app(&cfg)?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8501").await?;
//! axum::serve(listener, app).await?;
//! # Ok(()) }
//! ```

pub mod charts;
pub mod client;
pub mod jobs;
pub mod layout;
pub mod pages;
pub mod params;
pub mod reports;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::routing::get;
use tower_http::trace::TraceLayer;

pub use client::ApiClient;

/// What can go wrong in the UI.
#[derive(Debug, Clone, thiserror::Error)]
pub enum UiError {
    /// A setting (flag or environment variable) is unusable.
    #[error("{name}: {reason}")]
    Config { name: &'static str, reason: String },
    /// The API did not answer (refused, timed out, cut off).
    #[error("the API at {url} is unreachable: {reason}")]
    Unreachable { url: String, reason: String },
    /// The API answered, but not with what its OpenAPI document promises.
    #[error("the API at {url} answered unexpectedly: {reason}")]
    BadAnswer { url: String, reason: String },
    /// The API refused the request (validation); `field` names the field at fault.
    #[error("{message}")]
    Rejected {
        status: u16,
        code: String,
        message: String,
        field: Option<String>,
    },
    /// A request to the UI itself is malformed; `field` names the query parameter or form field.
    #[error("{field}: {reason}")]
    BadInput { field: String, reason: String },
    /// A local file (an upload's spool, the monitor's reports) could not be used.
    #[error("{what}: {reason}")]
    Io { what: String, reason: String },
}

impl UiError {
    /// Whether the API itself is at fault (down, slow, garbage): the pages show the banner.
    pub fn api_down(&self) -> bool {
        matches!(self, Self::Unreachable { .. } | Self::BadAnswer { .. })
    }

    /// A local failure (disk, spool): the detail, which may name server paths, goes to the log;
    /// the page says what could not be done.
    pub fn io(what: &str, detail: impl std::fmt::Display) -> Self {
        tracing::error!(what, %detail, "local failure");
        Self::Io {
            what: what.to_owned(),
            reason: "the server could not complete it (see the UI's log)".to_owned(),
        }
    }

    pub fn bad_input(field: &str, reason: impl Into<String>) -> Self {
        Self::BadInput {
            field: field.to_owned(),
            reason: reason.into(),
        }
    }
}

pub type Result<T> = std::result::Result<T, UiError>;

/// UI settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// `salescast-api`'s address.
    pub api_url: String,
    /// Every API call's time limit.
    pub api_timeout: Duration,
    /// The monitor's output directory (`latest.json`, `history.jsonl`, `alerts.jsonl`).
    pub reports_dir: PathBuf,
    /// The largest CSV upload; the API's own limit, when it reports one, applies too.
    pub max_upload_bytes: u64,
    /// The MLflow server, for links to each model's run.
    pub mlflow_url: Option<String>,
    /// Where scored uploads wait for their download (a fresh temporary directory by default).
    pub jobs_dir: Option<PathBuf>,
}

impl Config {
    pub fn new(api_url: &str) -> Self {
        Self {
            api_url: api_url.to_owned(),
            api_timeout: Duration::from_secs(5),
            reports_dir: PathBuf::from("reports"),
            max_upload_bytes: 50 << 20,
            mlflow_url: None,
            jobs_dir: None,
        }
    }
}

/// Shared by every handler.
#[derive(Debug)]
pub struct State {
    pub api: ApiClient,
    pub reports_dir: PathBuf,
    pub max_upload_bytes: u64,
    pub mlflow_url: Option<String>,
    pub jobs: jobs::Jobs,
}

pub type Shared = Arc<State>;

/// Multipart framing around the file in an upload (boundaries, part headers).
const MULTIPART_SLACK: u64 = 64 << 10;

/// The shared state the handlers use (the API client and its cache, the jobs directory).
pub fn state(cfg: &Config) -> Result<Shared> {
    let api = ApiClient::new(&cfg.api_url, cfg.api_timeout)?;
    if let Some(url) = &cfg.mlflow_url {
        let ok = reqwest::Url::parse(url)
            .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some());
        if !ok {
            return Err(UiError::Config {
                name: "mlflow-url",
                reason: format!("`{url}` is not an http(s) address"),
            });
        }
    }
    Ok(Arc::new(State {
        api,
        reports_dir: cfg.reports_dir.clone(),
        max_upload_bytes: cfg.max_upload_bytes,
        mlflow_url: cfg.mlflow_url.clone(),
        jobs: jobs::Jobs::new(cfg.jobs_dir.clone())?,
    }))
}

/// The UI's router over a state from [`state`].
pub fn router(state: Shared) -> Router {
    let upload_limit = usize::try_from(state.max_upload_bytes.saturating_add(MULTIPART_SLACK))
        .unwrap_or(usize::MAX);
    Router::new()
        .route("/", get(pages::overview::page))
        .route("/predict", get(pages::predict::page))
        .route(
            "/batch",
            get(pages::batch::page)
                .post(pages::batch::upload)
                .layer(DefaultBodyLimit::max(upload_limit)),
        )
        .route("/batch/{id}/scored.csv", get(pages::batch::download))
        .route("/forecast", get(pages::forecast::page))
        .route("/forecast.csv", get(pages::forecast::csv))
        .route("/models", get(pages::models::page))
        .route("/monitoring", get(pages::monitoring::page))
        .route("/monitoring/report", get(pages::monitoring::report))
        .route("/health", get(|| async { "ok" }))
        .route("/favicon.ico", get(|| async { StatusCode::NO_CONTENT }))
        .fallback(pages::not_found)
        .with_state(state)
        .layer(TraceLayer::new_for_http())
}

/// The UI's router for `cfg`.
pub fn app(cfg: &Config) -> Result<Router> {
    Ok(router(state(cfg)?))
}

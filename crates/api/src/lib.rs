//! `salescast-api`: the prediction service.
//!
//! Scores transactions with the saved transform and models (plain Rust, no polars, no training
//! code), one at a time, in JSON arrays or as a streamed CSV upload; answers status, health,
//! readiness, Prometheus metrics and its own OpenAPI document. Models reload atomically on
//! SIGHUP or `POST /admin/reload`.
//!
//! ```no_run
//! # async fn run() -> anyhow::Result<()> {
//! let cfg = salescast_api::Config::new("models".into());
//! let (app, state) = salescast_api::build(&cfg);
//! let _ = state.reload(); // a failure is reported by /ready and /status
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:5001").await?;
//! axum::serve(listener, app).await?;
//! # Ok(()) }
//! ```

pub mod batch;
pub mod error;
pub mod input;
pub mod metrics;
pub mod registry;
pub mod routes;
pub mod state;
pub mod views;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;

pub use error::{ApiError, ErrorBody, ErrorCode};
pub use state::AppState;

/// Request limits.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest JSON body.
    pub max_json_bytes: usize,
    /// Largest CSV upload.
    pub max_csv_bytes: usize,
    /// Most rows in one request (JSON array or CSV).
    pub max_batch_rows: usize,
    /// Longest forecast horizon, in days after the data.
    pub max_horizon_days: u32,
    pub timeout: Duration,
    /// Requests handled at once; more wait their turn.
    pub concurrency: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_json_bytes: 2 << 20,
            max_csv_bytes: 50 << 20,
            max_batch_rows: 1_000_000,
            max_horizon_days: 366,
            timeout: Duration::from_secs(60),
            concurrency: 256,
        }
    }
}

/// Service settings.
#[derive(Debug, Clone)]
pub struct Config {
    pub models_dir: PathBuf,
    pub limits: Limits,
    /// Bearer token for `/admin/*`; admin routes are off without one.
    pub admin_token: Option<String>,
    /// Origins allowed by CORS (`*` for any); none: no CORS headers.
    pub cors_origins: Vec<String>,
    /// Models followed in the MLflow registry instead of a directory (`models_dir` is then
    /// the registry's `served` link).
    pub registry: Option<Arc<registry::Registry>>,
}

impl Config {
    pub fn new(models_dir: PathBuf) -> Self {
        Self {
            models_dir,
            limits: Limits::default(),
            admin_token: None,
            cors_origins: Vec::new(),
            registry: None,
        }
    }

    /// Serving the version a `models:/` URI points to, from the registry at `tracking_uri`.
    pub fn from_registry(registry: registry::Registry) -> Self {
        let registry = Arc::new(registry);
        Self {
            registry: Some(registry.clone()),
            ..Self::new(registry.served_dir())
        }
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "salescast-api",
        description = "Revenue predictions and daily forecasts from Salescast's models."
    ),
    paths(
        routes::predict,
        routes::predict_batch_csv,
        routes::forecast_sarima,
        routes::status,
        routes::health,
        routes::ready,
        routes::metrics,
        routes::invocations,
        routes::admin_reload,
        views::history,
        views::catalog
    ),
    components(schemas(
        routes::TransactionInput,
        routes::Prediction,
        routes::Predictions,
        routes::Explanation,
        routes::Contribution,
        routes::InvocationsResponse,
        routes::BatchResult,
        routes::BatchRow,
        routes::ForecastRequest,
        routes::Status,
        routes::StatusLimits,
        routes::BacktestScore,
        registry::RegistryStatus,
        routes::ModelStatus,
        routes::FeatureImportance,
        routes::ShapImportance,
        routes::MeanAbsShap,
        routes::TrainingData,
        views::History,
        views::Catalog,
        views::Product,
        views::Range,
        error::ErrorBody,
        error::ErrorDetail
    ))
)]
#[derive(Debug)]
pub struct ApiDoc;

/// Sequential request ids (`x-request-id`), unless the client sent one.
#[derive(Debug, Clone, Default)]
struct Sequential(Arc<AtomicU64>);

impl MakeRequestId for Sequential {
    fn make_request_id<B>(&mut self, _: &Request<B>) -> Option<RequestId> {
        let n = self.0.fetch_add(1, Ordering::Relaxed);
        HeaderValue::from_str(&format!("{n:016x}"))
            .ok()
            .map(RequestId::new)
    }
}

/// Error answers produced outside the handlers (body limit, timeout, unknown route, wrong
/// method, extractor rejections) get the same JSON body as the handlers' own, in our words:
/// the framework's text names its parsers, so it goes to the debug log only.
async fn json_errors(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let has_query = req.uri().query().is_some_and(|q| !q.is_empty());
    let upload_route = req.uri().path() == "/predict_batch_csv";
    let multipart = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/"));
    let resp = next.run(req).await;
    let status = resp.status();
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return resp;
    }
    let (parts, body) = resp.into_parts();
    let text = axum::body::to_bytes(body, 4096).await.unwrap_or_default();
    tracing::debug!(status = status.as_u16(), reason = %String::from_utf8_lossy(&text).trim(), "request refused by the framework");
    let (code, message) = match status {
        StatusCode::PAYLOAD_TOO_LARGE => (
            ErrorCode::PayloadTooLarge,
            "the request body is over the limit (see limits in GET /status)",
        ),
        StatusCode::REQUEST_TIMEOUT => {
            (ErrorCode::Timeout, "the request took longer than the limit")
        }
        StatusCode::NOT_FOUND => (ErrorCode::NotFound, "no such route (see /openapi.json)"),
        StatusCode::METHOD_NOT_ALLOWED => (
            ErrorCode::MethodNotAllowed,
            "method not allowed on this route",
        ),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => (
            ErrorCode::UnsupportedMediaType,
            "unsupported Content-Type for this route (see its request body in /openapi.json)",
        ),
        s if s.is_server_error() => (ErrorCode::Internal, "internal error"),
        _ if upload_route && !multipart => (
            ErrorCode::MultipartExpected,
            "this route takes a multipart/form-data upload with the CSV in a part named `file` \
             (curl -F file=@rows.csv), not a raw body",
        ),
        _ if multipart => (
            ErrorCode::BadMultipart,
            "the upload is not a readable multipart/form-data body: send the CSV as one part \
             named `file`, with the boundary given in Content-Type",
        ),
        _ if has_query => (
            ErrorCode::BadQuery,
            "the query string is not valid: give each parameter once, as percent-encoded UTF-8 \
             (see the route's parameters in /openapi.json)",
        ),
        _ => (ErrorCode::BadRequest, "the request could not be read"),
    };
    let mut out = ApiError::new(status, code, message).into_response();
    for (k, v) in parts.headers.iter() {
        if k != header::CONTENT_TYPE && k != header::CONTENT_LENGTH {
            out.headers_mut().insert(k.clone(), v.clone());
        }
    }
    out
}

/// The router and its shared state (models not loaded yet: call `state.reload()`).
pub fn build(cfg: &Config) -> (Router, Arc<AppState>) {
    let mut state = AppState::new(
        cfg.models_dir.clone(),
        cfg.limits.clone(),
        cfg.admin_token.clone(),
    );
    state.registry = cfg.registry.clone();
    let state = Arc::new(state);
    let l = &cfg.limits;
    let json_limit = DefaultBodyLimit::max(l.max_json_bytes);
    let api = Router::new()
        .route("/predict", post(routes::predict).layer(json_limit))
        .route(
            "/predict_batch_csv",
            post(routes::predict_batch_csv).layer(DefaultBodyLimit::max(l.max_csv_bytes)),
        )
        .route(
            "/forecast_sarima",
            post(routes::forecast_sarima).layer(json_limit),
        )
        .route("/invocations", post(routes::invocations).layer(json_limit))
        .route("/status", get(routes::status))
        .route("/history", get(views::history))
        .route("/catalog", get(views::catalog))
        .route("/health", get(routes::health))
        .route("/ready", get(routes::ready))
        .route("/metrics", get(routes::metrics))
        .route("/admin/reload", post(routes::admin_reload))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            metrics::track,
        ))
        .with_state(state.clone());
    let docs = utoipa_swagger_ui::SwaggerUi::new("/docs").url("/openapi.json", ApiDoc::openapi());
    let mut app = api
        .merge(docs)
        .layer(axum::middleware::from_fn(json_errors))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            l.timeout,
        ))
        .layer(tower::limit::ConcurrencyLimitLayer::new(
            l.concurrency.max(1),
        ));
    if !cfg.cors_origins.is_empty() {
        let origins = if cfg.cors_origins.iter().any(|o| o == "*") {
            AllowOrigin::any()
        } else {
            AllowOrigin::list(
                cfg.cors_origins
                    .iter()
                    .filter_map(|o| HeaderValue::from_str(o).ok()),
            )
        };
        app = app.layer(
            CorsLayer::new()
                .allow_origin(origins)
                .allow_methods([axum::http::Method::GET, axum::http::Method::POST])
                .allow_headers([header::CONTENT_TYPE, header::AUTHORIZATION, header::ACCEPT]),
        );
    }
    let app = app
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &Request<axum::body::Body>| {
                let id = req
                    .headers()
                    .get("x-request-id")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("-");
                tracing::info_span!("request", method = %req.method(), uri = %req.uri(), request_id = %id)
            })
            // One access-log line per request, with its status and latency.
            .on_response(
                tower_http::trace::DefaultOnResponse::new()
                    .level(tracing::Level::INFO)
                    .latency_unit(tower_http::LatencyUnit::Micros),
            ),
        )
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(Sequential::default()));
    (app, state)
}

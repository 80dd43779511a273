//! Prometheus metrics: requests and latency per route, predictions served per model, the
//! loaded model versions.

use std::sync::Mutex;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use salescast_models::serving::Predictor;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    route: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: String,
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ModelLabels {
    model: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VersionLabels {
    model: String,
    version: String,
    champion: String,
}

/// The service's metrics and their registry.
#[derive(Debug)]
pub struct Metrics {
    registry: Mutex<Registry>,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram>,
    predictions: Family<ModelLabels, Counter>,
    models: Family<VersionLabels, Gauge>,
    reloads: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("salescast");
        let requests = Family::<RequestLabels, Counter>::default();
        // 50 µs to about 6.5 s: single predictions sit at the bottom, big CSV uploads at the top.
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.00005, 2.0, 18))
        });
        let predictions = Family::<ModelLabels, Counter>::default();
        let models = Family::<VersionLabels, Gauge>::default();
        let reloads = Counter::default();
        registry.register(
            "http_requests",
            "HTTP requests by method, route and status",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency by method and route",
            latency.clone(),
        );
        registry.register("predictions", "Rows scored, by model", predictions.clone());
        registry.register(
            "model_info",
            "Loaded models: 1 per model version (label champion=true for the default model)",
            models.clone(),
        );
        registry.register("model_reloads", "Successful model reloads", reloads.clone());
        Self {
            registry: Mutex::new(registry),
            requests,
            latency,
            predictions,
            models,
            reloads,
        }
    }

    pub fn predicted(&self, model: &str, rows: u64) {
        self.predictions
            .get_or_create(&ModelLabels {
                model: model.to_owned(),
            })
            .inc_by(rows);
    }

    pub fn set_models(&self, p: &Predictor) {
        self.models.clear();
        for (name, entry) in &p.manifest.models {
            self.models
                .get_or_create(&VersionLabels {
                    model: name.clone(),
                    version: entry.version.clone(),
                    champion: (*name == p.manifest.champion).to_string(),
                })
                .set(1);
        }
        self.reloads.inc();
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let registry = self.registry.lock().unwrap_or_else(|p| p.into_inner());
        if prometheus_client::encoding::text::encode(&mut out, &registry).is_err() {
            out.clear();
        }
        out
    }
}

/// Middleware recording every request's count and latency under its route template.
pub async fn track(
    State(state): State<std::sync::Arc<crate::state::AppState>>,
    req: Request,
    next: Next,
) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let method = req.method().as_str().to_owned();
    let started = Instant::now();
    let resp = next.run(req).await;
    let m = &state.metrics;
    m.latency
        .get_or_create(&RouteLabels {
            method: method.clone(),
            route: route.clone(),
        })
        .observe(started.elapsed().as_secs_f64());
    m.requests
        .get_or_create(&RequestLabels {
            method,
            route,
            status: resp.status().as_u16().to_string(),
        })
        .inc();
    resp
}

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
    /// The metrics in OpenMetrics text (`application/openmetrics-text; version=1.0.0`).
    pub fn render(&self) -> String {
        let mut out = String::new();
        let registry = self.registry.lock().unwrap_or_else(|p| p.into_inner());
        if prometheus_client::encoding::text::encode(&mut out, &registry).is_err() {
            out.clear();
        }
        out
    }

    /// The metrics in Prometheus' text format 0.0.4 (`text/plain; version=0.0.4`), what a
    /// scraper gets unless it asks for OpenMetrics (see [`prometheus_text`]).
    pub fn render_prometheus(&self) -> String {
        prometheus_text(&self.render())
    }
}

/// OpenMetrics text rewritten as Prometheus text 0.0.4, which differs in three ways: a
/// counter's `# HELP` and `# TYPE` name its samples (`x_total`), not the family (`x`); there is
/// no `# UNIT` and no closing `# EOF`; and `unknown` is `untyped`. Sample lines are the same.
pub fn prometheus_text(openmetrics: &str) -> String {
    let counters: std::collections::HashSet<&str> = openmetrics
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|rest| rest.strip_suffix(" counter"))
        .collect();
    let total = |name: &str| {
        if counters.contains(name) && !name.ends_with("_total") {
            format!("{name}_total")
        } else {
            name.to_owned()
        }
    };
    let mut out = String::with_capacity(openmetrics.len());
    for line in openmetrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').unwrap_or((rest, ""));
            out.push_str(&format!("# HELP {} {help}\n", total(name)));
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap_or((rest, "untyped"));
            let kind = if kind == "unknown" { "untyped" } else { kind };
            out.push_str(&format!("# TYPE {} {kind}\n", total(name)));
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prometheus_text_names_counters_by_their_samples_and_has_no_eof() {
        let m = Metrics::new();
        m.predicted("random_forest", 3);
        let om = m.render();
        assert!(om.contains("# TYPE salescast_predictions counter"), "{om}");
        assert!(om.ends_with("# EOF\n"), "{om}");
        let p = m.render_prometheus();
        assert!(
            p.contains("# HELP salescast_predictions_total Rows scored"),
            "{p}"
        );
        assert!(
            p.contains("# TYPE salescast_predictions_total counter"),
            "{p}"
        );
        assert!(
            p.contains("salescast_predictions_total{model=\"random_forest\"} 3"),
            "{p}"
        );
        assert!(!p.contains("# EOF") && !p.contains("# UNIT"), "{p}");
    }
}

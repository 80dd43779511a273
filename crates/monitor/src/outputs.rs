//! What a run leaves behind besides its reports: the alert log (JSON lines, appended under a
//! file lock, never rewritten), the history file (JSON lines), the Prometheus text file for
//! node_exporter's textfile collector, the webhook, and the MLflow run.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use salescast_core::artifact::write_atomic;
use serde::{Deserialize, Serialize};

use crate::report::Report;
use crate::{MonitorError, Result};

/// What an alert is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    /// Input features whose distribution drifted (Evidently's tests).
    Drift,
    /// The share of drifted columns reached `drift_share`.
    DatasetDrift,
    /// Served models' predictions drifted.
    PredictionDrift,
    NewCategory,
    MissingRate,
    /// A realised metric beyond its limit.
    Performance,
    /// The estimated MAE beyond its limit (no labels).
    EstimatedPerformance,
    /// Too few days inside the daily forecast's interval.
    DailyCoverage,
    /// Too many rows break the data contract.
    DataQuality,
}

/// One alert: a line of the alert log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    pub run_id: String,
    pub at: String,
    pub kind: AlertKind,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub features: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metric: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
}

/// Appends `lines` (each one JSON value) to `path` in one write under an exclusive lock, so two
/// overlapping runs never interleave or lose a line.
pub fn append_json_lines<T: Serialize>(path: &Path, lines: &[T]) -> Result<()> {
    if lines.is_empty() {
        return Ok(());
    }
    if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| MonitorError::io(dir, e))?;
    }
    let mut buf = Vec::new();
    for l in lines {
        serde_json::to_writer(&mut buf, l).map_err(|e| MonitorError::io(path, e))?;
        buf.push(b'\n');
    }
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| MonitorError::io(path, e))?;
    f.lock().map_err(|e| MonitorError::io(path, e))?;
    let written = f.write_all(&buf).and_then(|()| f.sync_data());
    let _ = f.unlock();
    written.map_err(|e| MonitorError::io(path, e))
}

/// One run in the history file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryEntry {
    pub run_id: String,
    pub at: String,
    pub status: String,
    pub rows: usize,
    pub alerts: usize,
    /// Flat metric names (`random_forest.mae`, `drift.share`, `daily.coverage`) to values.
    pub metrics: std::collections::BTreeMap<String, f64>,
    #[serde(default)]
    pub drifted: Vec<String>,
}

/// Reads the history file; a line that does not parse is skipped with a warning.
pub fn read_history(path: &Path) -> Vec<HistoryEntry> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .filter_map(|(i, l)| match serde_json::from_str(l) {
            Ok(e) => Some(e),
            Err(e) => {
                tracing::warn!(path = %path.display(), line = i + 1, "skipping a history line: {e}");
                None
            }
        })
        .collect()
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ModelLabels {
    model: String,
    metric: String,
    source: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ColumnLabels {
    column: String,
    test: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: String,
}

type FGauge = Gauge<f64, AtomicU64>;

/// The run's figures in Prometheus text format.
pub fn prometheus_text(report: &Report, finished_unix: f64) -> String {
    let mut registry = Registry::with_prefix("salescast_monitor");
    let gauge = |registry: &mut Registry, name: &str, help: &str, v: f64| {
        let g = FGauge::default();
        g.set(v);
        registry.register(name, help, g);
    };
    gauge(
        &mut registry,
        "last_run_timestamp_seconds",
        "When the last monitor run finished (Unix time)",
        finished_unix,
    );
    gauge(
        &mut registry,
        "status",
        "0 healthy, 1 alerts raised",
        f64::from(u8::from(!report.alerts.is_empty())),
    );
    gauge(
        &mut registry,
        "alerts",
        "Alerts raised by the last run",
        report.alerts.len() as f64,
    );
    gauge(
        &mut registry,
        "dataset_drift_share",
        "Share of tested columns that drifted",
        report.drift.dataset.share,
    );
    let rows = Family::<KindLabels, FGauge>::default();
    for (kind, n) in [
        ("valid", report.new_data.valid_rows),
        ("invalid", report.new_data.invalid_rows),
        ("labelled", report.new_data.labelled_rows),
    ] {
        rows.get_or_create(&KindLabels { kind: kind.into() })
            .set(n as f64);
    }
    registry.register("rows", "Rows of the last batch", rows);
    let metrics = Family::<ModelLabels, FGauge>::default();
    let baselines = Family::<ModelLabels, FGauge>::default();
    for p in &report.performance {
        for c in &p.checks {
            let labels = ModelLabels {
                model: p.model.clone(),
                metric: c.metric.clone(),
                source: format!("{:?}", c.source).to_lowercase(),
            };
            if c.value.is_finite() {
                metrics.get_or_create(&labels).set(c.value);
            }
            baselines.get_or_create(&labels).set(c.baseline);
        }
    }
    registry.register(
        "model_metric",
        "A served model's metric on the last batch",
        metrics,
    );
    registry.register(
        "model_baseline",
        "The same metric on the held-out window",
        baselines,
    );
    let scores = Family::<ColumnLabels, FGauge>::default();
    let drifted = Family::<ColumnLabels, FGauge>::default();
    for c in &report.drift.columns {
        let (Some(test), Some(score)) = (c.test, c.score) else {
            continue;
        };
        let labels = ColumnLabels {
            column: c.column.clone(),
            test: format!("{test:?}").to_lowercase(),
        };
        if score.is_finite() {
            scores.get_or_create(&labels).set(score);
        }
        drifted
            .get_or_create(&labels)
            .set(f64::from(u8::from(c.drifted)));
    }
    registry.register(
        "drift_score",
        "Each column's drift score (p-value or distance)",
        scores,
    );
    registry.register("column_drifted", "1 when the column drifted", drifted);
    if let Some(d) = &report.daily {
        if let Some(c) = d.coverage {
            gauge(
                &mut registry,
                "daily_coverage",
                "Share of days inside the daily forecast's 95% interval",
                c,
            );
        }
        if let Some(m) = d.mae {
            gauge(
                &mut registry,
                "daily_mae",
                "Daily forecast MAE on the batch's days",
                m,
            );
        }
    }
    let mut out = String::new();
    if prometheus_client::encoding::text::encode(&mut out, &registry).is_err() {
        out.clear();
    }
    out
}

/// Writes the Prometheus text file atomically (the collector must never read half a file).
pub fn write_prometheus(path: &Path, text: &str) -> Result<()> {
    write_atomic(path, |w| w.write_all(text.as_bytes())).map_err(|e| MonitorError::io(path, e))
}

/// How a webhook delivery went.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    pub url: String,
    pub delivered: bool,
    pub attempts: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// POSTs the alerts as JSON, with a timeout per attempt and up to `retries` more attempts
/// (doubling pauses from 250 ms). A 4xx other than 408 and 429 is not retried.
pub async fn post_webhook<T: Serialize>(
    url: &str,
    body: &T,
    timeout: Duration,
    retries: u32,
) -> Delivery {
    let mut out = Delivery {
        url: url.to_owned(),
        delivered: false,
        attempts: 0,
        error: None,
    };
    let client = match reqwest::Client::builder().timeout(timeout).build() {
        Ok(c) => c,
        Err(e) => {
            out.error = Some(e.to_string());
            return out;
        }
    };
    let mut pause = Duration::from_millis(250);
    for attempt in 0..=retries {
        out.attempts = attempt + 1;
        match client.post(url).json(body).send().await {
            Ok(r) if r.status().is_success() => {
                out.delivered = true;
                out.error = None;
                return out;
            }
            Ok(r) => {
                let s = r.status();
                out.error = Some(format!("HTTP {s}"));
                if s.is_client_error() && s.as_u16() != 408 && s.as_u16() != 429 {
                    return out;
                }
            }
            Err(e) => out.error = Some(e.to_string()),
        }
        if attempt < retries {
            tokio::time::sleep(pause).await;
            pause *= 2;
        }
    }
    out
}

/// Checks a webhook address before any work, so a typo is a usage error, not a lost alert.
pub fn validate_webhook(url: &str) -> Result<()> {
    let ok = (url.starts_with("http://") || url.starts_with("https://"))
        && reqwest::Url::parse(url).is_ok();
    if ok {
        Ok(())
    } else {
        Err(MonitorError::BadInput(format!(
            "SALESCAST_ALERT_WEBHOOK {url:?}: expected an http:// or https:// address"
        )))
    }
}

/// Logs the run's figures to MLflow (experiment `salescast-monitor` unless
/// `MLFLOW_EXPERIMENT_NAME` says otherwise), when `MLFLOW_TRACKING_URI` is set.
pub async fn log_to_mlflow(report: &Report, project_dir: &Path) -> Option<String> {
    let uri = std::env::var("MLFLOW_TRACKING_URI").ok()?;
    if uri.trim().is_empty() {
        return None;
    }
    let experiment = std::env::var("SALESCAST_MONITOR_EXPERIMENT")
        .ok()
        .filter(|e| !e.trim().is_empty())
        .unwrap_or_else(|| "salescast-monitor".to_owned());
    let tracker = match salescast_tracking::Tracker::new(Some(&uri), &experiment, project_dir) {
        Ok(t) => t,
        Err(e) => return Some(format!("not logged: {e}")),
    };
    let mut rec = salescast_tracking::RunRecord::new(
        salescast_tracking::record::new_key(),
        &experiment,
        &format!("monitor {}", report.run_id),
    );
    rec.fresh = true;
    rec.tag("salescast.monitor.run_id", report.run_id.clone());
    rec.tag("salescast.monitor.status", report.status.clone());
    rec.param("new_data", &report.new_data.path);
    rec.param("rows", report.new_data.valid_rows);
    for (k, v) in report.flat_metrics() {
        if v.is_finite() {
            rec.metric(k.replace(['[', ']'], "_"), v, 0);
        }
    }
    rec.metric("alerts", report.alerts.len() as f64, 0);
    rec.finish(salescast_tracking::RunStatus::Finished);
    match tracker.log(&rec).await {
        Ok(logged) => Some(format!("{logged:?}")),
        Err(e) => Some(format!("not logged: {e}")),
    }
}

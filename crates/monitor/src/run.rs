//! One monitor run: read the batch, score it, compare it with the reference profile, decide the
//! alerts, and write the reports, history, alert log, Prometheus file, webhook and MLflow run.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rayon::prelude::*;
use salescast_core::schema::Transaction;
use salescast_daily::DailyArtifact;
use salescast_features::FeatureTransform;
use salescast_models::metrics::Scores;
use salescast_models::serving::Predictor;
use salescast_models::{Kind, Model};

use crate::data::{Frame, Role, read_batch};
use crate::drift::{self, DriftReport};
use crate::outputs::{self, Alert, AlertKind};
use crate::performance::{self, Source};
use crate::profile::{self, ReferenceProfile, dle_inputs};
use crate::report::{self, InputSummary, Report};
use crate::settings::MonitorSettings;
use crate::{MonitorError, Result};

/// Everything a run needs.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub new_data: PathBuf,
    pub models_dir: PathBuf,
    /// `metrics.json` of the evaluate stage; else the profile's held-out metrics.
    pub baseline_metrics: Option<PathBuf>,
    pub report_dir: PathBuf,
    pub alert_log: PathBuf,
    pub history: PathBuf,
    pub prometheus: PathBuf,
    pub webhook: Option<String>,
    pub settings: MonitorSettings,
    /// Where a local MLflow store and spool live.
    pub project_dir: PathBuf,
    pub mlflow: bool,
}

/// Files a run wrote.
#[derive(Debug, Clone)]
pub struct Written {
    pub json: PathBuf,
    pub html: PathBuf,
    pub latest_json: PathBuf,
    pub latest_html: PathBuf,
}

/// The loaded models directory.
#[derive(Debug)]
pub struct Models {
    pub served: Predictor,
    pub profile: ReferenceProfile,
    pub reference: Frame,
    /// Per model: its DLE model and the transform its inputs come from.
    pub dle: BTreeMap<Kind, (Model, FeatureTransform)>,
    pub daily: Option<DailyArtifact>,
}

impl Models {
    pub fn load(dir: &Path) -> Result<Self> {
        let served = Predictor::load(dir)?;
        let (profile, reference) = profile::load(dir)?;
        let mut dle = BTreeMap::new();
        for kind in served.models.keys() {
            let Some(r) = profile.models.get(kind.name()) else {
                return Err(MonitorError::Artifact {
                    path: dir.join(profile::PROFILE_FILE),
                    reason: format!(
                        "no reference for the served model {}: train again",
                        kind.name()
                    ),
                });
            };
            let model = Model::load(&dir.join(&r.dle.artifact))?;
            let transform = FeatureTransform::load(&dir.join(&r.dle.transform))?;
            dle.insert(*kind, (model, transform));
        }
        let daily_path = dir.join(salescast_core::models_dir::DAILY);
        let daily = if daily_path.is_file() {
            Some(DailyArtifact::load(&daily_path)?)
        } else {
            None
        };
        Ok(Self {
            served,
            profile,
            reference,
            dle,
            daily,
        })
    }
}

/// Per model: the predictions and the DLE's per-row losses.
pub type Scored = BTreeMap<Kind, (Vec<f64>, Vec<f64>)>;

/// Per model: the predictions and the DLE's per-row losses, in row order. Rows are scored in
/// parallel chunks, so memory stays a few chunks of features whatever the batch's size.
pub fn score(models: &Models, rows: &[Transaction]) -> Result<Scored> {
    const CHUNK: usize = 8192;
    let served = &models.served;
    let d = served.transform.n_features();
    type Part = Vec<(Kind, Vec<f64>, Vec<f64>)>;
    let parts: Vec<Result<Part>> = rows
        .par_chunks(CHUNK)
        .map(|chunk| {
            let mut cache = salescast_features::transform::CalendarCache::default();
            let mut x = vec![0.0; chunk.len() * d];
            for (t, out) in chunk.iter().zip(x.chunks_mut(d)) {
                served.transform.encode_row(t, &mut cache, out);
            }
            let mut out = Vec::new();
            for (kind, model) in &served.models {
                let pred = model.predict_seq(&x)?;
                let (dle, transform) = &models.dle[kind];
                let de = transform.n_features();
                let mut xe = vec![0.0; chunk.len() * de];
                let mut cache = salescast_features::transform::CalendarCache::default();
                for (t, o) in chunk.iter().zip(xe.chunks_mut(de)) {
                    transform.encode_row(t, &mut cache, o);
                }
                let loss = dle.predict_seq(&dle_inputs(&xe, de, &pred))?;
                out.push((*kind, pred, loss));
            }
            Ok(out)
        })
        .collect();
    let mut merged: Scored = BTreeMap::new();
    for part in parts {
        for (kind, pred, loss) in part? {
            let e = merged.entry(kind).or_default();
            e.0.extend(pred);
            e.1.extend(loss);
        }
    }
    Ok(merged)
}

/// Reads `metrics.json` (the evaluate stage's) for the baselines it holds.
fn baselines_from(path: &Path) -> Result<BTreeMap<String, Scores>> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        MonitorError::BadInput(format!("--baseline-metrics {}: {e}", path.display()))
    })?;
    let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
        MonitorError::BadInput(format!(
            "--baseline-metrics {}: not JSON: {e}",
            path.display()
        ))
    })?;
    let obj = v.as_object().ok_or_else(|| {
        MonitorError::BadInput(format!(
            "--baseline-metrics {}: expected an object of models",
            path.display()
        ))
    })?;
    let mut out = BTreeMap::new();
    for (name, m) in obj {
        if Kind::parse(name).is_none() {
            continue;
        }
        let get = |k: &str| m.get(k).and_then(serde_json::Value::as_f64);
        match (get("mae"), get("rmse"), get("r2")) {
            (Some(mae), Some(rmse), Some(r2)) => {
                out.insert(
                    name.clone(),
                    Scores {
                        mae,
                        rmse,
                        r2,
                        mape: get("mape").unwrap_or(f64::NAN),
                    },
                );
            }
            _ => {
                return Err(MonitorError::BadInput(format!(
                    "--baseline-metrics {}: {name} needs numeric mae, rmse and r2",
                    path.display()
                )));
            }
        }
    }
    Ok(out)
}

fn alert(run_id: &str, at: &str, kind: AlertKind, message: String) -> Alert {
    Alert {
        run_id: run_id.to_owned(),
        at: at.to_owned(),
        kind,
        message,
        model: None,
        features: Vec::new(),
        metric: None,
        value: None,
        threshold: None,
    }
}

/// The alerts a report's figures call for.
#[allow(clippy::too_many_arguments)]
fn decide(
    run_id: &str,
    at: &str,
    input: &InputSummary,
    performance: &[performance::ModelPerformance],
    daily: Option<&performance::DailyPerformance>,
    drift: &DriftReport,
    settings: &MonitorSettings,
) -> Vec<Alert> {
    let mut alerts = Vec::new();
    let invalid_share = input.invalid_rows as f64 / input.rows.max(1) as f64;
    if invalid_share > settings.max_invalid_share {
        let mut a = alert(
            run_id,
            at,
            AlertKind::DataQuality,
            format!(
                "{} of {} rows ({:.1}%) break the data contract (limit {:.1}%)",
                input.invalid_rows,
                input.rows,
                invalid_share * 100.0,
                settings.max_invalid_share * 100.0
            ),
        );
        a.value = Some(invalid_share);
        a.threshold = Some(settings.max_invalid_share);
        alerts.push(a);
    }
    let drifted = |role: Role| -> Vec<&drift::ColumnDrift> {
        drift
            .columns
            .iter()
            .filter(|c| c.role == role && c.drifted)
            .collect()
    };
    let features = drifted(Role::Feature);
    if !features.is_empty() {
        let parts: Vec<String> = features
            .iter()
            .map(|c| {
                format!(
                    "{} ({} {})",
                    c.column,
                    c.test_name.as_deref().unwrap_or("?"),
                    c.score.map_or("?".into(), |s| format!("{s:.4}"))
                )
            })
            .collect();
        let mut a = alert(
            run_id,
            at,
            AlertKind::Drift,
            format!(
                "drift in {} feature(s): {}",
                features.len(),
                parts.join(", ")
            ),
        );
        a.features = features.iter().map(|c| c.column.clone()).collect();
        alerts.push(a);
    }
    let preds = drifted(Role::Prediction);
    if !preds.is_empty() {
        let mut a = alert(
            run_id,
            at,
            AlertKind::PredictionDrift,
            format!(
                "the predictions drifted: {}",
                preds
                    .iter()
                    .map(|c| c.column.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        );
        a.features = preds.iter().map(|c| c.column.clone()).collect();
        alerts.push(a);
    }
    if drift.dataset.drift {
        let mut a = alert(
            run_id,
            at,
            AlertKind::DatasetDrift,
            format!(
                "dataset drift: {} of {} columns drifted ({:.0}%, threshold {:.0}%)",
                drift.dataset.drifted_columns,
                drift.dataset.tested_columns,
                drift.dataset.share * 100.0,
                drift.dataset.drift_share * 100.0
            ),
        );
        a.value = Some(drift.dataset.share);
        a.threshold = Some(drift.dataset.drift_share);
        alerts.push(a);
    }
    for c in &drift.columns {
        if !c.new_categories.is_empty() {
            let list: Vec<String> = c
                .new_categories
                .iter()
                .map(|(l, n)| format!("{l:?} ({n} rows)"))
                .collect();
            let mut a = alert(
                run_id,
                at,
                AlertKind::NewCategory,
                format!(
                    "{}: categories never seen in training: {}",
                    c.column,
                    list.join(", ")
                ),
            );
            a.features = vec![c.column.clone()];
            alerts.push(a);
        }
        let change = c.missing_rate_current - c.missing_rate_reference;
        if change.abs() > settings.missing_rate_change {
            let mut a = alert(
                run_id,
                at,
                AlertKind::MissingRate,
                format!(
                    "{}: missing rate {:.1}% against {:.1}% in the reference",
                    c.column,
                    c.missing_rate_current * 100.0,
                    c.missing_rate_reference * 100.0
                ),
            );
            a.features = vec![c.column.clone()];
            a.value = Some(c.missing_rate_current);
            a.threshold = Some(settings.missing_rate_change);
            alerts.push(a);
        }
    }
    for p in performance {
        for c in p.checks.iter().filter(|c| c.alert) {
            let (kind, what) = match c.source {
                Source::Realised => (AlertKind::Performance, "realised"),
                Source::Estimated => (AlertKind::EstimatedPerformance, "estimated"),
            };
            let mut a = alert(
                run_id,
                at,
                kind,
                format!(
                    "{}: {what} {} {:.4} is beyond its limit {:.4} (held-out baseline {:.4})",
                    p.model, c.metric, c.value, c.limit, c.baseline
                ),
            );
            a.model = Some(p.model.clone());
            a.metric = Some(c.metric.clone());
            a.value = Some(c.value);
            a.threshold = Some(c.limit);
            alerts.push(a);
        }
    }
    if let Some(d) = daily.filter(|d| d.alert) {
        let mut a = alert(
            run_id,
            at,
            AlertKind::DailyCoverage,
            format!(
                "daily forecast: {:.0}% of {} days inside the {}% interval (minimum {:.0}%)",
                d.coverage.unwrap_or(f64::NAN) * 100.0,
                d.days,
                d.level,
                d.coverage_min * 100.0
            ),
        );
        a.model = Some(d.model.clone());
        a.metric = Some("coverage".into());
        a.value = d.coverage;
        a.threshold = Some(d.coverage_min);
        alerts.push(a);
    }
    alerts
}

/// A run id that sorts by time and does not collide between overlapping runs.
fn run_id(now: chrono::DateTime<chrono::Utc>) -> String {
    let key = salescast_tracking::record::new_key();
    format!("{}-{}", now.format("%Y%m%dT%H%M%SZ"), &key[..6])
}

fn conventions() -> BTreeMap<String, String> {
    let mut c = BTreeMap::new();
    c.insert("drift".into(), drift::CONVENTION.into());
    c.insert(
        "performance".into(),
        "MAE, RMSE, R² as scikit-learn computes them, on labels clipped at the training fences as cleaning clips the training data; MAPE over rows with non-zero revenue, |y| in the denominator (the training metrics' rule; Evidently divides by max(y, eps))".into(),
    );
    c.insert("estimated".into(), performance::DLE_METHOD.into());
    c.insert(
        "daily".into(),
        "MAE of the daily champion's forecast for the batch's days; MASE scaled by the in-sample weekly seasonal-naive MAE of the served model's days; coverage of the 95% interval".into(),
    );
    c
}

/// Computes a report without writing anything.
pub fn evaluate(opts: &RunOptions, models: &Models) -> Result<Report> {
    let started = Instant::now();
    let now = chrono::Utc::now();
    let id = run_id(now);
    let at = now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let mut batch = read_batch(&opts.new_data)?;
    // The held-out baseline was measured on labels clipped at the training fences (the outlier
    // rule of cleaning); new labels get the same rule, or one absurd row would decide the MAE.
    let cleaning = &models.served.transform.cleaning;
    let clipped_labels = batch
        .rows
        .iter_mut()
        .filter(|t| t.revenue.is_some())
        .map(|t| {
            // Cleaning imputes before it clips (a blank category takes the product's, whose
            // fence applies); the imputed copy is used for the fence only.
            let mut c = t.clone();
            cleaning.impute(&mut c);
            let clipped = cleaning.clip(&mut c).revenue;
            t.revenue = c.revenue;
            clipped
        })
        .filter(|&clipped| clipped)
        .count();
    let labelled = batch.has_revenue_column && batch.labelled_rows > 0;
    let scored = score(models, &batch.rows)?;
    let mut current = Frame::of_transactions(&batch.rows, labelled);
    for (kind, (pred, _)) in &scored {
        current.push_prediction(kind.name(), pred.clone());
    }
    let mut drift = drift::compare(&models.reference, &current, opts.settings.drift_share);
    drift.require_rows(batch.rows.len(), opts.settings.min_drift_rows);
    if let Some(note) = &drift.note {
        tracing::warn!("{note}");
    }
    let file_baselines = match &opts.baseline_metrics {
        Some(p) => baselines_from(p)?,
        None => BTreeMap::new(),
    };
    let actual: Vec<f64> = batch
        .rows
        .iter()
        .map(|t| t.revenue.unwrap_or(f64::NAN))
        .collect();
    let mut perf = Vec::new();
    for (kind, (pred, loss)) in &scored {
        let name = kind.name();
        let reference = &models.profile.models[name];
        let mut baseline = file_baselines
            .get(name)
            .copied()
            .unwrap_or(reference.baseline);
        if !baseline.mape.is_finite() {
            baseline.mape = reference.baseline.mape;
        }
        perf.push(performance::model_performance(
            name,
            &actual,
            pred,
            loss,
            reference,
            &baseline,
            &opts.settings,
        ));
    }
    let daily = match (&models.daily, &models.profile.daily) {
        (Some(a), Some(r)) => Some(performance::daily(&batch.rows, a, r, &opts.settings)),
        _ => None,
    };
    let input = InputSummary {
        path: opts.new_data.display().to_string(),
        rows: batch.total,
        valid_rows: batch.rows.len(),
        invalid_rows: batch.invalid,
        invalid_examples: batch.invalid_examples.clone(),
        labelled_rows: batch.labelled_rows,
        clipped_labels,
        first_day: batch.rows.iter().map(|t| t.date).min(),
        last_day: batch.rows.iter().map(|t| t.date).max(),
    };
    let alerts = decide(
        &id,
        &at,
        &input,
        &perf,
        daily.as_ref(),
        &drift,
        &opts.settings,
    );
    let status = if alerts.is_empty() {
        "healthy"
    } else {
        "alert"
    };
    Ok(Report {
        format_version: report::REPORT_VERSION,
        run_id: id,
        started_at: at,
        seconds: started.elapsed().as_secs_f64(),
        status: status.into(),
        exit_code: i32::from(!alerts.is_empty()),
        new_data: input,
        models_dir: opts.models_dir.display().to_string(),
        reference_rows: models.profile.sample_rows,
        reference_days: models.profile.sampled_from,
        performance: perf,
        daily,
        drift,
        alerts,
        conventions: conventions(),
        webhook: Vec::new(),
    })
}

fn write_text(path: &Path, text: &str) -> Result<()> {
    salescast_core::artifact::write_atomic(path, |w| w.write_all(text.as_bytes()))
        .map_err(|e| MonitorError::io(path, e))
}

/// Runs the monitor and writes its outputs. The alerts reach the alert log before the webhook
/// is tried, so a dead webhook never loses one.
pub async fn run(opts: &RunOptions) -> Result<(Report, Written)> {
    opts.settings.validate()?;
    if let Some(url) = &opts.webhook {
        outputs::validate_webhook(url)?;
    }
    let models = Models::load(&opts.models_dir)?;
    let mut report = tokio::task::block_in_place(|| evaluate(opts, &models))?;
    outputs::append_json_lines(&opts.alert_log, &report.alerts)?;
    if let (Some(url), false) = (&opts.webhook, report.alerts.is_empty()) {
        let body = serde_json::json!({
            "run_id": report.run_id,
            "status": report.status,
            "alerts": report.alerts,
        });
        let d = outputs::post_webhook(
            url,
            &body,
            Duration::from_secs_f64(opts.settings.webhook_timeout_seconds),
            opts.settings.webhook_retries,
        )
        .await;
        if !d.delivered {
            tracing::warn!(url = %d.url, attempts = d.attempts, error = ?d.error, "webhook not delivered; the alerts are in the alert log");
        }
        report.webhook.push(d);
    }
    outputs::append_json_lines(&opts.history, &[report.history_entry()])?;
    let history = outputs::read_history(&opts.history);
    let json = serde_json::to_string_pretty(&report)
        .map_err(|e| MonitorError::io(&opts.report_dir, e))?
        + "\n";
    let html = report::html(&report, &history);
    let written = Written {
        json: opts
            .report_dir
            .join(format!("monitor-{}.json", report.run_id)),
        html: opts
            .report_dir
            .join(format!("monitor-{}.html", report.run_id)),
        latest_json: opts.report_dir.join("latest.json"),
        latest_html: opts.report_dir.join("latest.html"),
    };
    write_text(&written.json, &json)?;
    write_text(&written.html, &html)?;
    write_text(&written.latest_json, &json)?;
    write_text(&written.latest_html, &html)?;
    let finished = chrono::Utc::now().timestamp_millis() as f64 / 1000.0;
    outputs::write_prometheus(
        &opts.prometheus,
        &outputs::prometheus_text(&report, finished),
    )?;
    if opts.mlflow
        && let Some(logged) = outputs::log_to_mlflow(&report, &opts.project_dir).await
    {
        tracing::info!(%logged, "monitor run logged to MLflow");
    }
    Ok((report, written))
}

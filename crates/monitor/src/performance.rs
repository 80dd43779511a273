//! Performance on new data: realised metrics when the batch has labels, the estimated MAE
//! (direct loss estimation) always, and the daily forecast's accuracy and interval coverage.

use std::collections::BTreeMap;

use chrono::{Duration, NaiveDate};
use salescast_core::schema::Transaction;
use salescast_daily::DailyArtifact;
use salescast_models::metrics::Scores;
use serde::{Deserialize, Serialize};

use crate::profile::{DailyReference, ModelReference};
use crate::settings::MonitorSettings;

/// Whether a figure was measured against labels or estimated without them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Realised,
    Estimated,
}

/// One metric against its baseline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricCheck {
    pub metric: String,
    pub source: Source,
    pub value: f64,
    pub baseline: f64,
    /// The value beyond which it alerts.
    pub limit: f64,
    /// `value / baseline − 1` for errors; `value − baseline` for R².
    pub change: f64,
    pub alert: bool,
}

/// The estimated MAE with its confidence band.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    pub value: f64,
    pub lower: f64,
    pub upper: f64,
    /// `std(held-out absolute errors) / sqrt(rows)`; the band is ± 3 of them.
    pub sampling_error: f64,
    pub method: String,
}

/// One served model on the batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelPerformance {
    pub model: String,
    /// `realised` when the batch has labels, else `estimated`.
    pub source: Source,
    pub rows: usize,
    pub labelled_rows: usize,
    pub prediction_mean: f64,
    pub checks: Vec<MetricCheck>,
    pub estimated_mae: Estimate,
    /// With labels: whether the realised MAE fell inside the estimate's band.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub realised_within_band: Option<bool>,
}

pub const DLE_METHOD: &str = "direct loss estimation (NannyML 0.13 DLE: a boosting model fitted on the held-out window predicts each row's absolute error from the features and the prediction, clipped at 0 and averaged; band ± 3 sampling errors)";

fn check(metric: &str, source: Source, value: f64, baseline: f64, increase: f64) -> MetricCheck {
    let limit = baseline * (1.0 + increase);
    MetricCheck {
        metric: metric.to_owned(),
        source,
        value,
        baseline,
        limit,
        change: if baseline != 0.0 {
            value / baseline - 1.0
        } else {
            f64::NAN
        },
        alert: value.is_finite() && value > limit,
    }
}

/// The estimate of a model's MAE from its DLE model's per-row losses.
pub fn estimate(losses: &[f64], reference: &ModelReference) -> Estimate {
    let n = losses.len().max(1) as f64;
    let value = losses.iter().map(|l| l.max(0.0)).sum::<f64>() / n;
    let se = reference.dle.loss_std / n.sqrt();
    Estimate {
        value,
        lower: (value - 3.0 * se).max(0.0),
        upper: value + 3.0 * se,
        sampling_error: se,
        method: DLE_METHOD.to_owned(),
    }
}

/// A model's performance: realised checks over the labelled rows (`actual` is `NaN` where a
/// row has no label), or the estimate alone, against `baseline`.
pub fn model_performance(
    model: &str,
    actual: &[f64],
    pred: &[f64],
    losses: &[f64],
    reference: &ModelReference,
    baseline: &Scores,
    settings: &MonitorSettings,
) -> ModelPerformance {
    let est = estimate(losses, reference);
    let (y, p): (Vec<f64>, Vec<f64>) = actual
        .iter()
        .zip(pred)
        .filter(|(a, _)| a.is_finite())
        .map(|(a, b)| (*a, *b))
        .unzip();
    let prediction_mean = pred.iter().sum::<f64>() / pred.len().max(1) as f64;
    let mut checks = Vec::new();
    let (source, within) = if y.is_empty() {
        checks.push(check(
            "mae",
            Source::Estimated,
            est.value,
            baseline.mae,
            settings.mae_increase,
        ));
        (Source::Estimated, None)
    } else {
        let s = Scores::of(&y, &p);
        checks.push(check(
            "mae",
            Source::Realised,
            s.mae,
            baseline.mae,
            settings.mae_increase,
        ));
        checks.push(check(
            "rmse",
            Source::Realised,
            s.rmse,
            baseline.rmse,
            settings.rmse_increase,
        ));
        checks.push(check(
            "mape",
            Source::Realised,
            s.mape,
            baseline.mape,
            settings.mape_increase,
        ));
        let limit = baseline.r2 - settings.r2_drop;
        checks.push(MetricCheck {
            metric: "r2".into(),
            source: Source::Realised,
            value: s.r2,
            baseline: baseline.r2,
            limit,
            change: s.r2 - baseline.r2,
            alert: s.r2.is_finite() && s.r2 < limit,
        });
        // The estimate stays beside the realised value, so its quality is visible.
        let mut e = check(
            "mae",
            Source::Estimated,
            est.value,
            baseline.mae,
            settings.mae_increase,
        );
        e.alert = false;
        checks.push(e);
        (
            Source::Realised,
            Some(s.mae >= est.lower && s.mae <= est.upper),
        )
    };
    ModelPerformance {
        model: model.to_owned(),
        source,
        rows: pred.len(),
        labelled_rows: y.len(),
        prediction_mean,
        checks,
        estimated_mae: est,
        realised_within_band: within,
    }
}

/// One day of the daily check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DailyDay {
    pub date: NaiveDate,
    pub actual: f64,
    pub mean: f64,
    pub lower: f64,
    pub upper: f64,
}

/// The daily champion's forecast against the batch's daily revenue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DailyPerformance {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
    pub model: String,
    pub days: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mae: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mase: Option<f64>,
    /// Share of days inside the 95% interval.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub coverage: Option<f64>,
    pub level: f64,
    pub coverage_min: f64,
    pub alert: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub per_day: Vec<DailyDay>,
}

/// Checks the daily forecast on the labelled days of the batch that come after the model's
/// last day (days between the first and last with no rows have revenue 0).
pub fn daily(
    rows: &[Transaction],
    artifact: &DailyArtifact,
    reference: &DailyReference,
    settings: &MonitorSettings,
) -> DailyPerformance {
    let level = 95.0;
    let mut out = DailyPerformance {
        skipped: None,
        model: artifact.model_name(),
        days: 0,
        mae: None,
        mase: None,
        coverage: None,
        level,
        coverage_min: settings.coverage_min,
        alert: false,
        per_day: Vec::new(),
    };
    let mut by_day: BTreeMap<NaiveDate, f64> = BTreeMap::new();
    let mut unlabelled = false;
    for t in rows {
        match t.revenue {
            Some(r) => *by_day.entry(t.date).or_insert(0.0) += r,
            None => unlabelled = true,
        }
    }
    if by_day.is_empty() {
        out.skipped = Some("the batch has no revenue, so there are no daily actuals".into());
        return out;
    }
    if unlabelled {
        out.skipped =
            Some("some rows have no revenue, so the daily totals would be incomplete".into());
        return out;
    }
    let (Some(&first), Some(&last)) = (by_day.keys().next(), by_day.keys().next_back()) else {
        return out;
    };
    let from = first.max(artifact.last_day + Duration::days(1));
    if last < from {
        out.skipped = Some(format!(
            "every day of the batch ({first}..{last}) is on or before the model's last day {}; its forecast starts on {}",
            artifact.last_day,
            artifact.last_day + Duration::days(1)
        ));
        return out;
    }
    let forecast = match artifact.forecast(None, from, last, level) {
        Ok(f) => f,
        Err(e) => {
            out.skipped = Some(format!("no forecast for {from}..{last}: {e}"));
            return out;
        }
    };
    let days: Vec<DailyDay> = forecast
        .iter()
        .map(|f| DailyDay {
            date: f.date,
            actual: by_day.get(&f.date).copied().unwrap_or(0.0),
            mean: f.mean,
            lower: f.lower,
            upper: f.upper,
        })
        .collect();
    let n = days.len() as f64;
    let mae = days.iter().map(|d| (d.actual - d.mean).abs()).sum::<f64>() / n;
    let inside = days
        .iter()
        .filter(|d| d.actual >= d.lower && d.actual <= d.upper)
        .count();
    let coverage = inside as f64 / n;
    out.days = days.len();
    out.mae = Some(mae);
    out.mase = (reference.mase_scale > 0.0).then(|| mae / reference.mase_scale);
    out.coverage = Some(coverage);
    out.alert = coverage < settings.coverage_min;
    out.per_day = days;
    out
}

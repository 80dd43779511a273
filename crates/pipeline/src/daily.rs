//! The daily part of the train stage: the all-stores revenue series and the per-store series
//! from the features stage's `daily.csv`, the champion selection, and `models/sarima.json`.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use chrono::{Duration, NaiveDate};
use salescast_daily::{DEFAULT_MAX_HORIZON, DailyArtifact, SelectSettings, TestDay, select};
use salescast_features::daily::ALL_STORES;
use salescast_features::frame::DAILY_CSV;
use serde::{Deserialize, Serialize};

use crate::{PipelineError, Result, features_dir};

/// File name of the daily artifact in the models directory.
pub const DAILY_ARTIFACT: &str = "sarima.json";

/// One series read back from `daily.csv`, split into training and test days.
#[derive(Debug, Clone, PartialEq)]
pub struct DailySeries {
    pub name: String,
    pub start: NaiveDate,
    pub train: Vec<f64>,
    pub test: Vec<f64>,
}

/// Reads every series of `daily.csv`, checking the days are consecutive and the training days
/// come first.
pub fn read_daily(data_dir: &Path) -> Result<Vec<DailySeries>> {
    let path = features_dir(data_dir).join(DAILY_CSV);
    let bad = |reason: String| PipelineError::BadInput(format!("{}: {reason}", path.display()));
    let mut reader = csv::Reader::from_path(&path).map_err(|e| PipelineError::Io {
        path: path.clone(),
        reason: e.to_string(),
    })?;
    let headers = reader.headers().map_err(|e| bad(e.to_string()))?.clone();
    let col = |name: &str| {
        headers
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| bad(format!("missing column {name}")))
    };
    let (c_series, c_date, c_revenue, c_split) =
        (col("series")?, col("date")?, col("revenue")?, col("split")?);
    let mut series: BTreeMap<String, DailySeries> = BTreeMap::new();
    let mut last: BTreeMap<String, NaiveDate> = BTreeMap::new();
    for (i, rec) in reader.records().enumerate() {
        let row = i + 2;
        let rec = rec.map_err(|e| bad(format!("line {row}: {e}")))?;
        let name = rec.get(c_series).unwrap_or_default().to_owned();
        let date = NaiveDate::parse_from_str(rec.get(c_date).unwrap_or_default(), "%Y-%m-%d")
            .map_err(|e| bad(format!("line {row}: date: {e}")))?;
        let revenue: f64 = rec
            .get(c_revenue)
            .unwrap_or_default()
            .parse()
            .ok()
            .filter(|v: &f64| v.is_finite())
            .ok_or_else(|| bad(format!("line {row}: revenue is not a finite number")))?;
        let is_test = match rec.get(c_split).unwrap_or_default() {
            "train" => false,
            "test" => true,
            other => {
                return Err(bad(format!(
                    "line {row}: split {other:?} is neither train nor test"
                )));
            }
        };
        if let Some(prev) = last.get(&name)
            && date != *prev + Duration::days(1)
        {
            return Err(bad(format!(
                "line {row}: series {name} jumps from {prev} to {date}"
            )));
        }
        last.insert(name.clone(), date);
        let s = series.entry(name.clone()).or_insert_with(|| DailySeries {
            name,
            start: date,
            train: Vec::new(),
            test: Vec::new(),
        });
        if is_test {
            s.test.push(revenue);
        } else if !s.test.is_empty() {
            return Err(bad(format!("line {row}: a training day after test days")));
        } else {
            s.train.push(revenue);
        }
    }
    Ok(series.into_values().collect())
}

/// What the daily training did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DailyOutcome {
    pub model: String,
    pub order: Option<String>,
    pub aic: Option<f64>,
    pub test: Option<salescast_daily::Scores>,
    pub candidates: Vec<salescast_daily::select::CandidateResult>,
    pub stores: usize,
    pub store_errors: BTreeMap<String, String>,
    pub fit_seconds: f64,
}

/// Selects and saves the daily champion.
pub fn train_daily(
    data_dir: &Path,
    models_dir: &Path,
    settings: &SelectSettings,
) -> Result<DailyOutcome> {
    let t0 = Instant::now();
    let all = read_daily(data_dir)?;
    let main = all
        .iter()
        .find(|s| s.name == ALL_STORES)
        .ok_or_else(|| PipelineError::BadInput(format!("daily.csv has no {ALL_STORES} series")))?;
    let stores: Vec<(String, Vec<f64>)> = all
        .iter()
        .filter(|s| s.name != ALL_STORES)
        .map(|s| (s.name.clone(), s.train.clone()))
        .collect();
    let sel = select(main.start, &main.train, &main.test, &stores, settings)
        .map_err(|e| PipelineError::BadInput(format!("daily model: {e}")))?;
    let last_day = main.start + Duration::days(main.train.len() as i64 - 1);
    let test_window = match &sel.test {
        Some((_, fc)) => {
            let iv = fc.intervals.as_ref();
            main.test
                .iter()
                .enumerate()
                .map(|(i, a)| TestDay {
                    date: last_day + Duration::days(i as i64 + 1),
                    actual: *a,
                    mean: fc.point[i],
                    lower: iv.map_or(f64::NAN, |v| v.lower[i]),
                    upper: iv.map_or(f64::NAN, |v| v.upper[i]),
                })
                .collect()
        }
        None => Vec::new(),
    };
    let artifact = DailyArtifact {
        start: main.start,
        last_day,
        champion: sel.champion.clone(),
        candidates: sel.candidates.clone(),
        test: sel.test.as_ref().map(|(s, _)| *s),
        stores: sel.stores.clone(),
        max_horizon: DEFAULT_MAX_HORIZON,
        trained_at: chrono::Utc::now().to_rfc3339(),
        test_window,
    };
    std::fs::create_dir_all(models_dir).map_err(|e| PipelineError::Io {
        path: models_dir.to_path_buf(),
        reason: e.to_string(),
    })?;
    artifact
        .save(&models_dir.join(DAILY_ARTIFACT))
        .map_err(|e| PipelineError::Io {
            path: models_dir.join(DAILY_ARTIFACT),
            reason: e.to_string(),
        })?;
    Ok(DailyOutcome {
        model: sel.champion.name(),
        order: sel.champion.order().map(|o| o.to_string()),
        aic: sel.champion.aic(),
        test: artifact.test,
        candidates: sel.candidates,
        stores: sel.stores.len(),
        store_errors: sel.store_errors,
        fit_seconds: t0.elapsed().as_secs_f64(),
    })
}

//! The daily part of the train stage: the all-stores revenue series and the per-store series
//! from the features stage's `daily.csv`, the champion selection, and `models/sarima.json`.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use chrono::{Duration, NaiveDate};
use salescast_core::DayRange;
use salescast_daily::{DEFAULT_MAX_HORIZON, DailyArtifact, SelectSettings, TestDay, select};
use salescast_features::daily::ALL_STORES;
use salescast_features::frame::DAILY_CSV;
use salescast_models::serving::{DailyEntry, Manifest};
use serde::{Deserialize, Serialize};

use crate::{PipelineError, Result, features_dir};

/// File name of the daily artifact in the models directory.
pub const DAILY_ARTIFACT: &str = salescast_core::models_dir::DAILY;

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
        source: e.into(),
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
    /// The evaluation fit's scores on the test window.
    pub test: Option<salescast_daily::Scores>,
    pub candidates: Vec<salescast_daily::select::CandidateResult>,
    pub stores: usize,
    pub store_errors: BTreeMap<String, String>,
    /// The days the served champion saw.
    pub fitted_on: DayRange,
    /// The test window of the evaluation fit.
    pub evaluated_on: Option<DayRange>,
    pub refitted: bool,
    pub fit_seconds: f64,
}

impl DailyOutcome {
    /// The manifest's record of the daily champion.
    pub fn entry(&self) -> DailyEntry {
        DailyEntry {
            artifact: DAILY_ARTIFACT.to_owned(),
            champion: self.model.clone(),
            fitted_on: self.fitted_on,
            evaluated_on: self.evaluated_on,
            refitted: self.refitted,
            test_metrics: self.test.and_then(|t| serde_json::to_value(t).ok()),
        }
    }
}

fn days(start: NaiveDate, n: usize) -> DayRange {
    DayRange {
        first: start,
        last: start + Duration::days(n as i64 - 1),
        rows: n,
    }
}

fn save_artifact(a: &DailyArtifact, dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| PipelineError::Io {
        path: dir.to_path_buf(),
        source: e.into(),
    })?;
    a.save(&dir.join(DAILY_ARTIFACT))
        .map_err(|e| PipelineError::Io {
            path: dir.join(DAILY_ARTIFACT),
            source: e.into(),
        })
}

/// Whether the daily series of `data_dir` are long enough for `settings`; the reason when not.
pub fn too_short(data_dir: &Path, settings: &SelectSettings) -> Result<Option<String>> {
    let all = read_daily(data_dir)?;
    let Some(main) = all.iter().find(|s| s.name == ALL_STORES) else {
        return Ok(None);
    };
    let need = settings.min_days();
    Ok((main.train.len() < need).then(|| {
        format!(
            "the daily model needs at least {need} training days (train.sarima.folds × 7 + 84); the data have {}",
            main.train.len()
        )
    }))
}

/// Selects the daily champion on the training days and scores it on the test window (the
/// evaluation fit); with `refit`, re-estimates the chosen recipes on every day
/// (`data_dir/refit/daily.csv`) for serving. The served artifact goes to `models_dir`, the
/// evaluation fit of a refit to `models_dir/evaluation`.
pub fn train_daily(
    data_dir: &Path,
    models_dir: &Path,
    settings: &SelectSettings,
    refit: bool,
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
    let test_window: Vec<TestDay> = match &sel.test {
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
    let evaluated_on =
        (!main.test.is_empty()).then(|| days(last_day + Duration::days(1), main.test.len()));
    let evaluation = DailyArtifact {
        start: main.start,
        last_day,
        champion: sel.champion.clone(),
        candidates: sel.candidates.clone(),
        test: sel.test.as_ref().map(|(s, _)| *s),
        stores: sel.stores.clone(),
        max_horizon: DEFAULT_MAX_HORIZON,
        trained_at: None,
        test_window,
        evaluated_on,
        refitted: false,
    };
    let served = if refit {
        let refit_dir = features_dir(data_dir).join(salescast_features::frame::REFIT_DIR);
        let all = read_daily(&refit_dir)?;
        let full = all.iter().find(|s| s.name == ALL_STORES).ok_or_else(|| {
            PipelineError::BadInput(format!(
                "{}/daily.csv has no {ALL_STORES} series",
                refit_dir.display()
            ))
        })?;
        let joined = |s: &DailySeries| [s.train.as_slice(), s.test.as_slice()].concat();
        let y = joined(full);
        let full_stores: Vec<(String, Vec<f64>)> = all
            .iter()
            .filter(|s| s.name != ALL_STORES)
            .map(|s| (s.name.clone(), joined(s)))
            .collect();
        let r = salescast_daily::select::refit(
            &sel.champion,
            &sel.candidates,
            &sel.stores,
            full.start,
            &y,
            &full_stores,
        )
        .map_err(|e| PipelineError::BadInput(format!("daily model on all days: {e}")))?;
        tracing::info!(
            model = %r.champion.name(),
            last_day = %(full.start + Duration::days(y.len() as i64 - 1)),
            "daily champion refitted on all days"
        );
        save_artifact(
            &evaluation,
            &models_dir.join(salescast_models::serving::EVALUATION_DIR),
        )?;
        DailyArtifact {
            start: full.start,
            last_day: full.start + Duration::days(y.len() as i64 - 1),
            champion: r.champion,
            stores: r.stores,
            refitted: true,
            ..evaluation.clone()
        }
    } else {
        evaluation.clone()
    };
    save_artifact(&served, models_dir)?;
    let fit_seconds = t0.elapsed().as_secs_f64();
    let mut timings = salescast_core::artifact::load_timings(models_dir);
    timings.insert(
        "sarima".into(),
        serde_json::json!({"trained_at": crate::train::now_utc(), "fit_seconds": fit_seconds}),
    );
    salescast_core::artifact::save_timings(models_dir, &timings)?;
    Ok(DailyOutcome {
        model: served.champion.name(),
        order: served.champion.order().map(|o| o.to_string()),
        aic: served.champion.aic(),
        test: served.test,
        candidates: sel.candidates,
        stores: served.stores.len(),
        store_errors: sel.store_errors,
        fitted_on: days(served.start, served.champion.nobs()),
        evaluated_on,
        refitted: served.refitted,
        fit_seconds,
    })
}

/// Adds the daily champion to `models_dir/manifest.json`, when the transaction models wrote one.
pub fn record_in_manifest(models_dir: &Path, outcome: &DailyOutcome) -> Result<()> {
    if !models_dir
        .join(salescast_models::serving::MANIFEST_FILE)
        .is_file()
    {
        return Ok(());
    }
    let mut m = Manifest::load(models_dir)?;
    m.daily = Some(outcome.entry());
    m.save(models_dir)?;
    Ok(())
}

//! The saved daily champion and the forecasts it serves.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{Duration, NaiveDate};
use salescast_core::artifact::{load_json, save_json};
use serde::{Deserialize, Serialize};

use crate::error::{DailyError, Result};
use crate::model::{DailyModel, Scores, calibrated, floored};
use crate::select::{CandidateResult, interval_scale};

/// Artifact kind and format version of `sarima.json`.
pub const ARTIFACT_KIND: &str = "salescast-daily";
pub const ARTIFACT_VERSION: u32 = 1;

/// Longest forecast, in days after the last training day: beyond a year the calendar
/// regressors still work but the intervals say little.
pub const DEFAULT_MAX_HORIZON: usize = 366;

/// The daily champion of the all-stores series, the per-store models, and how they were chosen.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DailyArtifact {
    /// First day the served model saw.
    pub start: NaiveDate,
    /// Last day the served model saw; forecasts start after it. With a refit on all days it is
    /// the data's last day.
    pub last_day: NaiveDate,
    pub champion: DailyModel,
    pub candidates: Vec<CandidateResult>,
    /// The evaluation fit's scores on the test window (`evaluated_on`).
    pub test: Option<Scores>,
    pub stores: BTreeMap<String, DailyModel>,
    pub max_horizon: usize,
    /// Written by earlier versions; when a file was written is its modification time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trained_at: Option<String>,
    /// The evaluation fit's forecast of the test window next to the actual revenue (for plots).
    #[serde(default)]
    pub test_window: Vec<TestDay>,
    /// The held-out days `test` comes from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluated_on: Option<salescast_core::DayRange>,
    /// Whether the models were re-estimated on every day after the evaluation.
    #[serde(default)]
    pub refitted: bool,
}

/// One test day: actual revenue and the champion's forecast made at the end of training.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TestDay {
    pub date: NaiveDate,
    pub actual: f64,
    pub mean: f64,
    #[serde(with = "crate::nan")]
    pub lower: f64,
    #[serde(with = "crate::nan")]
    pub upper: f64,
}

/// One day of a forecast.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DayForecast {
    pub date: NaiveDate,
    pub mean: f64,
    pub lower: f64,
    pub upper: f64,
}

/// The body of `POST /forecast_sarima` and of `salescast forecast --json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ForecastResponse {
    /// Always `"sarima"`: the daily model slot of the interface.
    pub model: String,
    /// The daily champion actually serving, e.g. `sarimax(1,1,1)(1,1,1,7)` or `mstl[7]+ets`.
    pub champion: String,
    /// The SARIMA order, or `null` when the champion is not a SARIMA.
    pub order: Option<String>,
    /// Interval level in percent.
    pub level: f64,
    /// The store forecast, or `null` for all stores.
    pub store: Option<String>,
    /// The last day the model saw: forecasts can start the day after.
    pub last_day_seen: NaiveDate,
    /// Whether the model was re-estimated on every day after its evaluation.
    pub refitted: bool,
    pub forecast: Vec<DayForecast>,
}

impl DailyArtifact {
    /// [`DailyArtifact::forecast`] wrapped in the response body.
    pub fn respond(
        &self,
        store: Option<&str>,
        from: NaiveDate,
        to: NaiveDate,
        level: f64,
    ) -> Result<ForecastResponse> {
        let forecast = self.forecast(store, from, to, level)?;
        let model = match store {
            Some(s) => self.stores.get(s).unwrap_or(&self.champion),
            None => &self.champion,
        };
        Ok(ForecastResponse {
            model: "sarima".into(),
            champion: model.name(),
            order: model.order().map(|o| o.to_string()),
            level,
            store: store.map(str::to_owned),
            last_day_seen: self.last_day,
            refitted: self.refitted,
            forecast,
        })
    }

    /// Writes the artifact atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        Ok(save_json(path, ARTIFACT_KIND, ARTIFACT_VERSION, self)?)
    }

    /// Reads and checks an artifact.
    pub fn load(path: &Path) -> Result<Self> {
        let a: Self = load_json(path, ARTIFACT_KIND, ARTIFACT_VERSION)?;
        for m in std::iter::once(&a.champion).chain(a.stores.values()) {
            m.validate().map_err(|e| DailyError::InvalidSetting {
                name: "artifact",
                reason: format!("{}: {e}", path.display()),
            })?;
        }
        if a.last_day < a.start || (a.last_day - a.start).num_days() + 1 != a.champion.nobs() as i64
        {
            return Err(DailyError::InvalidSetting {
                name: "artifact",
                reason: format!(
                    "{}: training dates do not match the model's {} days",
                    path.display(),
                    a.champion.nobs()
                ),
            });
        }
        Ok(a)
    }

    /// The model's name, e.g. `sarimax(1,1,1)(1,1,1,7)`.
    pub fn model_name(&self) -> String {
        self.champion.name()
    }

    /// Forecasts each day from `from` to `to` (inclusive) with intervals at `level` percent,
    /// for all stores or one store.
    ///
    /// Rules: `from` must come after the last training day (the model has no forecasts for
    /// days it was trained on), `to` not before `from`, `to` at most `max_horizon` days after the
    /// last training day, and `level` strictly between 0 and 100.
    pub fn forecast(
        &self,
        store: Option<&str>,
        from: NaiveDate,
        to: NaiveDate,
        level: f64,
    ) -> Result<Vec<DayForecast>> {
        let bad = |field, reason: String| Err(DailyError::Request { field, reason });
        if !(level > 0.0 && level < 100.0) {
            return bad(
                "level",
                format!("{level} must be strictly between 0 and 100 (percent)"),
            );
        }
        if from <= self.last_day {
            return bad(
                "start_date",
                format!(
                    "{from} is not after the last training day {}; the first date that can be forecast is {}",
                    self.last_day,
                    self.last_day + Duration::days(1)
                ),
            );
        }
        if to < from {
            return bad("end_date", format!("{to} is before start_date {from}"));
        }
        let horizon = (to - self.last_day).num_days() as usize;
        if horizon > self.max_horizon {
            return bad(
                "end_date",
                format!(
                    "{to} is {horizon} days after the last training day {}; the limit is {} days ({})",
                    self.last_day,
                    self.max_horizon,
                    self.last_day + Duration::days(self.max_horizon as i64)
                ),
            );
        }
        let model = match store {
            None => &self.champion,
            Some(s) => match self.stores.get(s) {
                Some(m) => m,
                None => {
                    let known: Vec<&str> = self.stores.keys().map(String::as_str).collect();
                    return bad(
                        "store",
                        format!("unknown store {s:?}; known: {}", known.join(", ")),
                    );
                }
            },
        };
        let fc = model.forecast(self.start, horizon, Some(level / 100.0))?;
        // Revenue is never negative (the data contract), so neither is its forecast.
        let fc = floored(calibrated(
            fc,
            interval_scale(&model.recipe(), &self.candidates),
        ));
        let iv = fc
            .intervals
            .ok_or_else(|| DailyError::Mstl("no intervals returned".into()))?;
        let skip = (from - self.last_day).num_days() as usize - 1;
        Ok((skip..horizon)
            .map(|i| DayForecast {
                date: self.last_day + Duration::days(i as i64 + 1),
                mean: fc.point[i],
                lower: iv.lower[i],
                upper: iv.upper[i],
            })
            .collect())
    }
}

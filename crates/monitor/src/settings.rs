//! The `monitor:` section of `params.yaml`: alert thresholds and the reference sample's size.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::{MonitorError, Result};

/// Thresholds of the monitor's alerts, and how the reference profile is drawn.
///
/// Performance thresholds are relative to the held-out baseline: `mae_increase: 0.2` alerts when
/// a model's MAE on new data is more than 20% above its held-out MAE.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MonitorSettings {
    pub mae_increase: f64,
    pub rmse_increase: f64,
    pub mape_increase: f64,
    /// Alert when R² falls more than this (absolute) below the baseline's.
    pub r2_drop: f64,
    /// Alert when fewer than this share of days fall inside the daily forecast's 95% interval.
    pub coverage_min: f64,
    /// Dataset drift when at least this share of the columns drifted (Evidently's default 0.5).
    pub drift_share: f64,
    /// Alert when a column's missing rate moves by more than this (absolute).
    pub missing_rate_change: f64,
    /// Alert when more than this share of the new rows break the data contract.
    pub max_invalid_share: f64,
    /// Rows of the reference sample drawn from the training days at training time.
    pub reference_rows: usize,
    /// Fewest valid rows a batch needs for its drift tests to raise alerts: on a handful of
    /// rows every test rejects (two rows "drift" 100%), so a smaller batch gets the tests'
    /// figures and a note saying why they raised nothing.
    pub min_drift_rows: usize,
    pub seed: u64,
    pub webhook_timeout_seconds: f64,
    /// Attempts after the first one.
    pub webhook_retries: u32,
}

impl Default for MonitorSettings {
    fn default() -> Self {
        Self {
            mae_increase: 0.2,
            // RMSE and R² follow the heaviest rows, and per-transaction revenue is heavy-tailed:
            // on a batch of a few thousand rows they move much more than MAE does.
            rmse_increase: 0.5,
            mape_increase: 0.2,
            r2_drop: 0.3,
            // Over a horizon of weeks the errors compound and the realised coverage of a 95%
            // interval falls below 95%; 0.75 flags a miscalibrated interval, not a normal batch.
            coverage_min: 0.75,
            drift_share: 0.5,
            missing_rate_change: 0.05,
            max_invalid_share: 0.05,
            reference_rows: 50_000,
            min_drift_rows: 30,
            seed: 0,
            webhook_timeout_seconds: 5.0,
            webhook_retries: 3,
        }
    }
}

impl MonitorSettings {
    /// Refuses settings that cannot mean anything, naming the key.
    pub fn validate(&self) -> Result<()> {
        let bad = |key: &str, reason: &str| {
            Err(MonitorError::BadInput(format!("monitor.{key}: {reason}")))
        };
        for (key, v) in [
            ("mae_increase", self.mae_increase),
            ("rmse_increase", self.rmse_increase),
            ("mape_increase", self.mape_increase),
            ("r2_drop", self.r2_drop),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return bad(key, "must be a finite number >= 0");
            }
        }
        for (key, v) in [
            ("coverage_min", self.coverage_min),
            ("missing_rate_change", self.missing_rate_change),
            ("max_invalid_share", self.max_invalid_share),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return bad(key, "must be between 0 and 1");
            }
        }
        if !(self.drift_share > 0.0 && self.drift_share <= 1.0) {
            return bad("drift_share", "must be in (0, 1]");
        }
        if self.reference_rows < 100 {
            return bad("reference_rows", "must be at least 100");
        }
        if !(self.webhook_timeout_seconds > 0.0 && self.webhook_timeout_seconds <= 300.0) {
            return bad("webhook_timeout_seconds", "must be in (0, 300]");
        }
        if self.webhook_retries > 10 {
            return bad("webhook_retries", "must be at most 10");
        }
        Ok(())
    }

    /// Reads the `monitor:` section of a `params.yaml` (other sections are left to their
    /// owners). A missing file at the default location means defaults.
    pub fn from_params(path: &Path, explicit: bool) -> Result<Self> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => {
                return Ok(Self::default());
            }
            Err(e) => return Err(MonitorError::BadInput(format!("{}: {e}", path.display()))),
        };
        let doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text)
            .map_err(|e| MonitorError::BadInput(format!("{}: {e}", path.display())))?;
        let settings = match doc.get("monitor") {
            None | Some(serde_yaml_ng::Value::Null) => Self::default(),
            Some(v) => serde_yaml_ng::from_value(v.clone())
                .map_err(|e| MonitorError::BadInput(format!("{}: monitor: {e}", path.display())))?,
        };
        settings.validate()?;
        Ok(settings)
    }
}

//! `params.yaml`: the project's settings, below flags and `SALESCAST_*` variables in precedence.
//!
//! Every section is optional and every key in it too; unknown keys are an error, so that a typo
//! does not silently fall back to a default.

use std::path::Path;

use serde::Deserialize;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Params {
    #[serde(default)]
    pub generate: GenerateParams,
    #[serde(default)]
    pub split: SplitParams,
    #[serde(default)]
    pub preprocess: PreprocessParams,
    #[serde(default)]
    pub features: FeaturesParams,
    #[serde(default)]
    pub train: TrainParams,
    /// The monitor's thresholds and the reference sample drawn at training time.
    #[serde(default)]
    pub monitor: Option<salescast_monitor::settings::MonitorSettings>,
    /// The hyperparameter search of `salescast tune`.
    #[serde(default)]
    pub tune: Option<salescast_tune::TuneSettings>,
}

/// A params file written by `salescast tune`: only the tree models' sections.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Tuned {
    #[serde(default)]
    pub train: TunedTrain,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TunedTrain {
    pub random_forest: Option<salescast_models::RandomForestParams>,
    pub gradient_boosting: Option<salescast_models::GradientBoostingParams>,
}

/// Reads a tuned params file; it was asked for, so a missing file is an error.
pub(crate) fn load_tuned(path: &Path) -> anyhow::Result<Tuned> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("--tuned {}: {e}", path.display()))?;
    if text.trim().is_empty() {
        return Ok(Tuned::default());
    }
    serde_yaml_ng::from_str(&text).map_err(|e| anyhow::anyhow!("--tuned {}: {e}", path.display()))
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TrainParams {
    /// Models to train (random_forest, gradient_boosting, sarima).
    pub models: Option<Vec<String>>,
    /// The daily model selection (the `sarima` model).
    pub sarima: Option<SarimaParams>,
    pub validation_days: Option<u32>,
    /// Serve models refitted on every day after the held-out evaluation (default true).
    pub refit_on_all_data: Option<bool>,
    pub random_forest: Option<salescast_models::RandomForestParams>,
    pub gradient_boosting: Option<salescast_models::GradientBoostingParams>,
}

/// Settings of the daily champion selection.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SarimaParams {
    /// Rolling-origin folds before the test window.
    pub folds: Option<usize>,
    /// Days forecast per fold.
    pub fold_days: Option<usize>,
    /// Yearly Fourier pairs among the calendar regressors.
    pub fourier_terms: Option<usize>,
    /// Holiday flags among the calendar regressors.
    pub holidays: Option<bool>,
    /// Also backtest over the test window's season one year earlier.
    pub seasonal_fold: Option<bool>,
}

impl SarimaParams {
    pub(crate) fn settings(&self) -> salescast_daily::SelectSettings {
        let d = salescast_daily::SelectSettings::default();
        salescast_daily::SelectSettings {
            folds: self.folds.unwrap_or(d.folds),
            fold_days: self.fold_days.unwrap_or(d.fold_days),
            seasonal_fold: self.seasonal_fold.unwrap_or(d.seasonal_fold),
            calendar: salescast_daily::CalendarSpec {
                holidays: self.holidays.unwrap_or(d.calendar.holidays),
                fourier_terms: self.fourier_terms.unwrap_or(d.calendar.fourier_terms),
            },
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct GenerateParams {
    pub rows: Option<usize>,
    pub days: Option<u32>,
    pub start: Option<chrono::NaiveDate>,
    pub stores: Option<u32>,
    pub seed: Option<u64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SplitParams {
    pub test_days: Option<u32>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PreprocessParams {
    pub outlier_k: Option<f64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FeaturesParams {
    pub scale: Option<bool>,
    pub lags: Option<Vec<usize>>,
    pub windows: Option<Vec<usize>>,
}

/// The repository's `params.yaml`, built in: the settings used where no file is found, so a
/// run outside the repository trains what a run inside it trains (the daily model included).
pub(crate) const BUILT_IN: &str = include_str!("../../../params.yaml");

/// Where the settings came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Source {
    File(std::path::PathBuf),
    /// No file at the default location: the built-in copy of the repository's `params.yaml`.
    BuiltIn,
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::File(p) => write!(f, "{}", p.display()),
            Source::BuiltIn => f.write_str("built-in defaults (the repository's params.yaml)"),
        }
    }
}

fn parse(text: &str, origin: &str) -> anyhow::Result<Params> {
    if text.trim().is_empty() {
        return Ok(Params::default());
    }
    serde_yaml_ng::from_str(text).map_err(|e| anyhow::anyhow!("{origin}: {e}"))
}

/// Loads `path`. A missing file at the default location means the built-in defaults
/// ([`BUILT_IN`]); a missing file that was asked for explicitly is an error.
pub(crate) fn load(path: &Path, explicit: bool) -> anyhow::Result<(Params, Source)> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok((
            parse(&text, &path.display().to_string())?,
            Source::File(path.to_path_buf()),
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => {
            Ok((parse(BUILT_IN, "built-in params.yaml")?, Source::BuiltIn))
        }
        Err(e) => Err(anyhow::anyhow!("reading {}: {e}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_settings_are_the_repositorys_and_train_every_model() {
        let p = parse(BUILT_IN, "built-in").expect("parses");
        let models = p.train.models.expect("train.models");
        assert_eq!(models, ["random_forest", "gradient_boosting", "sarima"]);
        let (from_missing, source) =
            load(Path::new("/nonexistent/params.yaml"), false).expect("built-in");
        assert_eq!(source, Source::BuiltIn);
        assert_eq!(from_missing.generate.rows, p.generate.rows);
        assert!(load(Path::new("/nonexistent/params.yaml"), true).is_err());
    }
}

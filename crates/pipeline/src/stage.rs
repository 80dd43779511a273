//! The train stage as one call: what `salescast train` (and the DVC train stage) runs, and what
//! every test that needs a trained models directory builds it with, so the sequence of steps
//! has one owner.
//!
//! The steps, in order: the daily champion (left out with a warning when the data are too
//! short for it and transaction models are asked for too), the transaction models, the daily
//! champion recorded in the manifest, the monitor's reference profile and the daily history
//! (both from the cleaned data). Experiment tracking is the caller's: it needs the report.

use std::path::Path;

use salescast_monitor::settings::MonitorSettings;

use crate::Result;
use crate::daily::DailyOutcome;
use crate::train::{TrainOptions, TrainOutcome};

/// What the train stage is given.
#[derive(Clone, Copy)]
pub struct TrainStage<'a> {
    /// The features directory (`salescast features`' output).
    pub data_dir: &'a Path,
    /// Where the models, the manifest, the reference profile and the history go.
    pub models_dir: &'a Path,
    pub options: &'a TrainOptions,
    /// The reference profile's settings (`monitor:` in the settings).
    pub monitor: &'a MonitorSettings,
    /// The cleaned data (default: `processed/clean.parquet` beside the features directory).
    pub clean: Option<&'a Path>,
    /// Told how far each long step is (the tree models' fits, tree by tree or round by round).
    pub progress: OnProgress<'a>,
}

/// Where a long step of the train stage is: which fit, and how many of its trees or rounds are
/// done out of how many at most (boosting may stop early, short of `total`).
#[derive(Debug, Clone, Copy)]
pub struct Progress<'a> {
    pub step: &'a str,
    pub done: u64,
    pub total: u64,
}

/// A train-stage progress callback. The fits call it from their worker threads, hence `Sync`.
pub type OnProgress<'a> = &'a (dyn Fn(Progress<'_>) + Sync);

impl std::fmt::Debug for TrainStage<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrainStage")
            .field("data_dir", &self.data_dir)
            .field("models_dir", &self.models_dir)
            .field("options", &self.options)
            .field("monitor", &self.monitor)
            .field("clean", &self.clean)
            .finish_non_exhaustive()
    }
}

/// What the train stage did: the transaction models (none when only the daily model was asked
/// for) and the daily champion (none when not asked for, or left out on short data).
#[derive(Debug)]
pub struct StageReport {
    pub outcome: Option<TrainOutcome>,
    pub daily: Option<DailyOutcome>,
}

/// Runs the train stage (see the module's documentation for its steps).
pub fn train_stage(s: &TrainStage<'_>) -> Result<StageReport> {
    let opts = s.options;
    let daily_settings = match &opts.daily {
        // Short data: the transaction models can still be trained, so the daily model is left
        // out with a warning rather than failing the whole stage; asked for alone, it fails.
        Some(settings) if !opts.kinds.is_empty() => {
            match crate::daily::too_short(s.data_dir, settings)? {
                Some(reason) => {
                    tracing::warn!(%reason, "the daily model is not trained");
                    None
                }
                None => Some(settings),
            }
        }
        other => other.as_ref(),
    };
    let daily = match daily_settings {
        Some(settings) => {
            let d = crate::daily::train_daily(
                s.data_dir,
                s.models_dir,
                settings,
                opts.refit_on_all_data,
            )?;
            tracing::info!(
                model = %d.model,
                test_mae = d.test.map(|t| t.mae),
                test_mase = d.test.map(|t| t.mase),
                stores = d.stores,
                last_day_seen = %d.fitted_on.last,
                seconds = format!("{:.2}", d.fit_seconds),
                "daily champion saved"
            );
            Some(d)
        }
        None => None,
    };
    if opts.kinds.is_empty() {
        return Ok(StageReport {
            outcome: None,
            daily,
        });
    }
    let outcome = crate::train::train(s.data_dir, s.models_dir, opts, s.progress)?;
    if let Some(d) = &daily {
        crate::daily::record_in_manifest(s.models_dir, d)?;
    }
    let clean = crate::reference::clean_file(s.data_dir, s.clean);
    crate::reference::write_reference_from(s.data_dir, s.models_dir, s.monitor, &clean)?;
    crate::history::write_history_from(&clean, s.models_dir)?;
    tracing::info!(
        champion = %outcome.manifest.champion,
        baseline_mae = outcome.baseline.mae,
        refitted = outcome.manifest.refit_on_all_data,
        models_dir = %s.models_dir.display(),
        "models saved"
    );
    Ok(StageReport {
        outcome: Some(outcome),
        daily,
    })
}

/// A trained models directory for the tests of the crates that read one (API, UI, monitor,
/// registry), built the one way the train stage builds it: transactions cleaned, featured, then
/// [`train_stage`] with small models, the daily champion included.
#[cfg(feature = "fixture")]
pub mod fixture {
    use std::path::{Path, PathBuf};

    use salescast_models::{GradientBoostingParams, Kind, RandomForestParams};

    use super::{StageReport, TrainStage, train_stage};
    use crate::train::TrainOptions;

    /// The split and the size of the models.
    #[derive(Debug, Clone)]
    pub struct Spec {
        /// Days held out as the test set by preprocessing.
        pub test_days: u32,
        /// Boosting's early-stopping days.
        pub validation_days: u32,
        pub trees: usize,
        pub rounds: usize,
        /// The daily champion's selection (`None`: no daily model).
        pub daily: Option<salescast_daily::SelectSettings>,
        pub monitor: salescast_monitor::settings::MonitorSettings,
    }

    impl Default for Spec {
        fn default() -> Self {
            Self {
                test_days: 20,
                validation_days: 10,
                trees: 8,
                rounds: 20,
                daily: Some(salescast_daily::SelectSettings {
                    folds: 1,
                    fold_days: 7,
                    ..Default::default()
                }),
                monitor: Default::default(),
            }
        }
    }

    /// Where the fixture's files are, and what training reported.
    #[derive(Debug)]
    pub struct Trained {
        pub processed: PathBuf,
        pub features: PathBuf,
        pub models: PathBuf,
        pub options: TrainOptions,
        pub report: StageReport,
    }

    /// Generated transactions (`cfg`) written to `path`.
    pub fn generated(path: &Path, cfg: &salescast_synth::Config) -> crate::Result<PathBuf> {
        let mut bytes = Vec::new();
        salescast_synth::generate(cfg, &mut bytes, |_| {})
            .map_err(|e| crate::PipelineError::BadInput(e.to_string()))?;
        salescast_core::artifact::write_atomic(path, |w| w.write_all(&bytes))?;
        Ok(path.to_path_buf())
    }

    /// Cleans `raw` into `dir/data/processed` and writes its features to `dir/data/features`;
    /// returns the two directories.
    pub fn prepared(raw: &Path, dir: &Path, spec: &Spec) -> crate::Result<(PathBuf, PathBuf)> {
        let processed = dir.join("data/processed");
        let opts = salescast_preprocess::Options {
            test_days: spec.test_days,
            ..Default::default()
        };
        salescast_preprocess::frame::run(raw, &processed, &opts)?;
        let features = dir.join("data/features");
        salescast_features::frame::run(&processed, &features, &Default::default())?;
        Ok((processed, features))
    }

    /// Runs the train stage on `features` into `models` with the spec's small models.
    pub fn train_into(
        features: &Path,
        models: &Path,
        spec: &Spec,
    ) -> crate::Result<(TrainOptions, StageReport)> {
        let options = TrainOptions {
            kinds: Kind::ALL.to_vec(),
            random_forest: RandomForestParams {
                n_trees: spec.trees,
                ..Default::default()
            },
            gradient_boosting: GradientBoostingParams {
                n_rounds: spec.rounds,
                ..Default::default()
            },
            validation_days: spec.validation_days,
            daily: spec.daily.clone(),
            refit_on_all_data: true,
        };
        let report = train_stage(&TrainStage {
            data_dir: features,
            models_dir: models,
            options: &options,
            monitor: &spec.monitor,
            clean: None,
            progress: &|_| {},
        })?;
        Ok((options, report))
    }

    /// [`prepared`], then [`train_into`] `dir/models`.
    pub fn trained(raw: &Path, dir: &Path, spec: &Spec) -> crate::Result<Trained> {
        let (processed, features) = prepared(raw, dir, spec)?;
        let models = dir.join("models");
        let (options, report) = train_into(&features, &models, spec)?;
        Ok(Trained {
            processed,
            features,
            models,
            options,
            report,
        })
    }
}

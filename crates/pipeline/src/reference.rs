//! The monitor's reference profile, written at the end of the train stage from what is on
//! disk: the cleaned training rows, the evaluation fit and its test window, the served models
//! and the daily champion.

use std::path::{Path, PathBuf};

use salescast_daily::DailyArtifact;
use salescast_features::FeatureTransform;
use salescast_features::daily::ALL_STORES;
use salescast_features::frame::{TEST_FILE, TRANSFORM_FILE, read_features};
use salescast_models::Model;
use salescast_models::serving::{EVALUATION_DIR, Manifest};
use salescast_monitor::profile::{self, DailyReference, HeldOut, ReferenceProfile};
use salescast_monitor::settings::MonitorSettings;

use crate::daily::{DAILY_ARTIFACT, read_daily};
use crate::{PipelineError, Result, features_dir};

/// The cleaning stage's directory beside the features directory (`data/features` →
/// `data/processed`).
pub fn processed_dir_for(data_dir: &Path) -> PathBuf {
    let features = features_dir(data_dir);
    features
        .parent()
        .map_or_else(|| PathBuf::from("processed"), |p| p.join("processed"))
}

fn bad(e: impl std::fmt::Display) -> PipelineError {
    PipelineError::BadInput(format!("reference profile: {e}"))
}

/// The cleaned data of a training run: `clean` when given (`salescast train --clean-data`),
/// else `clean.parquet` in the cleaning stage's directory beside the features.
pub fn clean_file(data_dir: &Path, clean: Option<&Path>) -> PathBuf {
    clean.map_or_else(
        || processed_dir_for(data_dir).join(salescast_preprocess::frame::CLEAN_FILE),
        Path::to_path_buf,
    )
}

/// Writes `models_dir/reference.json` and its sample and DLE models from the cleaned data
/// beside the features (see [`write_reference_from`]).
pub fn write_reference(
    data_dir: &Path,
    models_dir: &Path,
    settings: &MonitorSettings,
) -> Result<Option<ReferenceProfile>> {
    write_reference_from(data_dir, models_dir, settings, &clean_file(data_dir, None))
}

/// Writes `models_dir/reference.json` and its sample and DLE models, reading the cleaned
/// training rows from `clean`. `None` when that file is absent (the profile is then skipped
/// with a warning saying how to point training at it).
pub fn write_reference_from(
    data_dir: &Path,
    models_dir: &Path,
    settings: &MonitorSettings,
    clean: &Path,
) -> Result<Option<ReferenceProfile>> {
    if !clean.is_file() {
        tracing::warn!(
            path = %clean.display(),
            "no cleaned data there: the monitor's reference profile is not written; point training at the cleaned data (clean.parquet from `salescast preprocess`) with --clean-data"
        );
        return Ok(None);
    }
    let clean = clean.to_path_buf();
    let refitted = models_dir
        .join(EVALUATION_DIR)
        .join(salescast_core::models_dir::MANIFEST)
        .is_file();
    let (eval_dir, eval_transform) = if refitted {
        (
            models_dir.join(EVALUATION_DIR),
            format!("{EVALUATION_DIR}/{TRANSFORM_FILE}"),
        )
    } else {
        (models_dir.to_path_buf(), TRANSFORM_FILE.to_owned())
    };
    let manifest = Manifest::load(&eval_dir)?;
    let transform = FeatureTransform::load(&eval_dir.join(TRANSFORM_FILE))?;
    let dir = features_dir(data_dir);
    let test = read_features(&dir.join(TEST_FILE), &transform.feature_names)?;
    let split = transform.split;
    let rows: Vec<_> = salescast_preprocess::frame::read_clean_as_received(&clean)?
        .into_iter()
        .filter(|t| t.date < split.test_start)
        .collect();
    let mut preds = Vec::new();
    for entry in manifest.models.values() {
        let model = Model::load(&eval_dir.join(&entry.artifact))?;
        preds.push((entry.kind, model.predict(&test.x)?));
    }
    let held: Vec<HeldOut<'_>> = preds
        .iter()
        .map(|(kind, pred)| HeldOut {
            kind: *kind,
            x: &test.x,
            feature_names: &transform.feature_names,
            y: &test.y,
            pred,
        })
        .collect();
    let daily = daily_reference(data_dir, models_dir, refitted)?;
    let p =
        profile::build(models_dir, &rows, &held, &eval_transform, daily, settings).map_err(bad)?;
    tracing::info!(
        rows = p.sample_rows,
        from = %p.sampled_from.first,
        to = %p.sampled_from.last,
        "monitor reference profile saved"
    );
    Ok(Some(p))
}

fn daily_reference(
    data_dir: &Path,
    models_dir: &Path,
    refitted: bool,
) -> Result<Option<DailyReference>> {
    let path = models_dir.join(DAILY_ARTIFACT);
    if !path.is_file() {
        return Ok(None);
    }
    let served = DailyArtifact::load(&path).map_err(bad)?;
    let dir = features_dir(data_dir);
    let series_dir = if refitted && served.refitted {
        dir.join(salescast_features::frame::REFIT_DIR)
    } else {
        dir
    };
    let all = read_daily(&series_dir)?;
    let Some(full) = all.iter().find(|s| s.name == ALL_STORES) else {
        return Ok(None);
    };
    let mut y = full.train.clone();
    if served.refitted {
        y.extend_from_slice(&full.test);
    }
    let scale = if y.len() > 7 {
        y.windows(8).map(|w| (w[7] - w[0]).abs()).sum::<f64>() / (y.len() - 7) as f64
    } else {
        f64::NAN
    };
    let window = &served.test_window;
    let test_coverage = (!window.is_empty()).then(|| {
        window
            .iter()
            .filter(|d| d.actual >= d.lower && d.actual <= d.upper)
            .count() as f64
            / window.len() as f64
    });
    Ok(Some(DailyReference {
        last_day: served.last_day,
        mase_scale: scale,
        test: served.test,
        test_coverage,
    }))
}

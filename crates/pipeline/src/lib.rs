//! The training-side stages on files: `train` (fit both model families, score them on the test
//! days against a seasonal-naive baseline, save artifacts and the manifest), `evaluate`
//! (`metrics.json` and plot data) and `predict` (offline, streaming batch scoring).
//!
//! ```no_run
//! use salescast_pipeline::train::{train, TrainOptions};
//! // The last argument hears each fit's progress (trees or rounds done of the total).
//! let progress = |p: salescast_pipeline::stage::Progress<'_>| eprintln!("{}: {}/{}", p.step, p.done, p.total);
//! let outcome = train("data/features".as_ref(), "models".as_ref(), &TrainOptions::default(), &progress)?;
//! println!("champion: {}", outcome.manifest.champion);
//! # Ok::<(), salescast_pipeline::PipelineError>(())
//! ```

pub mod daily;
pub mod evaluate;
pub mod history;
pub mod many;
pub mod predict;
pub mod reference;
pub mod stage;
pub mod tracking;
pub mod train;
pub mod tune;

use std::path::{Path, PathBuf};

/// Everything that can go wrong in a training-side stage.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Features(#[from] salescast_features::FeaturesError),
    #[error(transparent)]
    Preprocess(#[from] salescast_preprocess::PreprocessError),
    #[error(transparent)]
    Model(#[from] salescast_models::ModelError),
    #[error(transparent)]
    Core(#[from] salescast_core::CoreError),
    #[error("{0}")]
    BadInput(String),
    /// Bad input that one field stands for (a column, a setting): scripts read the name.
    #[error("{reason}")]
    BadField { field: String, reason: String },
    /// A file or directory could not be read or written; the cause is kept as the source.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// The crate's result type.
pub type Result<T> = std::result::Result<T, PipelineError>;

impl PipelineError {
    /// The field (column or setting) the error is about, when one is.
    pub fn field(&self) -> Option<&str> {
        match self {
            Self::BadField { field, .. } => Some(field),
            Self::Preprocess(e) => e.field(),
            Self::Features(e) => e.field(),
            _ => None,
        }
    }

    /// Whether the input (files, settings) is at fault rather than the machine.
    pub fn is_bad_input(&self) -> bool {
        match self {
            Self::Features(e) => e.is_bad_input(),
            Self::Preprocess(e) => e.is_bad_input(),
            Self::Model(e) => e.is_bad_input(),
            Self::BadInput(_) | Self::BadField { .. } => true,
            Self::Core(_) | Self::Io { .. } => false,
        }
    }
}

/// The features directory: `dir` itself when it holds the feature files, else `dir/features`
/// (so `--data-dir data` and `--data-dir data/features` both work).
pub fn features_dir(dir: &Path) -> PathBuf {
    if dir.join(salescast_features::frame::TRAIN_FILE).exists() {
        dir.to_path_buf()
    } else {
        dir.join("features")
    }
}

pub(crate) fn bar(enabled: bool, total: u64, what: &str) -> indicatif::ProgressBar {
    if !enabled {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(total);
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("{msg:>18} [{bar:40}] {pos}/{len} ({elapsed})")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(what.to_owned());
    bar
}

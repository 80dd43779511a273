//! Hyperparameter search for the tree models on rolling-origin folds of the training days.
//!
//! [`space::TuneSettings`] is the `tune:` section of `params.yaml`; [`folds::rolling_origin`]
//! cuts the folds; [`search::Search`] runs the trials (the defaults, random start-up
//! candidates, then TPE) in parallel batches and hands each batch to its caller, who keeps the
//! trial log that a later run resumes from. Files and experiment tracking are the pipeline's.

pub mod error;
pub mod folds;
pub mod search;
pub mod space;

pub use error::{Result, TuneError};
pub use folds::{Fold, rolling_origin};
pub use search::{FoldScores, OnBatch, Search, Source, Trial, best, evaluate};
pub use space::{Bounds, ModelParams, TuneSettings, apply, values_of};

//! Per-transaction revenue models: a random forest and XGBoost-style gradient boosting, both on
//! one histogram tree learner ([`tree`]).
//!
//! # Why our own learner
//!
//! Measured on this project's machine (2 cores; `../shared/notes/rust-crates-facts.md`):
//! linfa 0.8's trees and ensembles classify only (targets must be `Eq + Hash + Ord`);
//! smartcore 0.7's `RandomForestRegressor` is single-threaded with exact splits: 3.8 s to fit
//! 40,000 rows (scikit-learn: 4.8 s), 10× slower than scikit-learn to predict, and 165 MB
//! serialized for 10,000 rows. At 267,000 rows it cannot reach a fifth of scikit-learn's fit
//! time nor a 20 MB artifact. So both models share a histogram learner: features binned once
//! into at most 256 bins, per-node gradient/hessian histograms, the sibling's histogram by
//! subtraction, trees in parallel (forest) or features in parallel (boosting) with rayon.
//!
//! ```
//! use salescast_models::{Dataset, GradientBoostingParams};
//! let x: Vec<f64> = (0..400).map(|i| f64::from(i)).collect();
//! let y: Vec<f64> = x.iter().map(|v| if *v < 200.0 { 1.0 } else { 5.0 }).collect();
//! let data = Dataset::new(x, y, vec!["x".into()]).unwrap();
//! let model = GradientBoostingParams { n_rounds: 50, ..Default::default() }.fit(&data, None, &|_| {}).unwrap();
//! assert!((model.predict_row(&[10.0]) - 1.0).abs() < 0.05);
//! assert!((model.predict_row(&[300.0]) - 5.0).abs() < 0.05);
//! ```

pub mod baseline;
pub mod data;
pub mod error;
pub mod forest;
pub mod gbm;
pub mod metrics;
pub mod model;
pub mod serving;
pub mod tree;

pub use data::Dataset;
pub use error::{ModelError, Result};
pub use forest::{RandomForest, RandomForestParams};
pub use gbm::{GradientBoosting, GradientBoostingParams};
pub use model::{Kind, Model};

//! Per-transaction revenue models: a random forest and XGBoost-style gradient boosting, both on
//! one histogram tree learner ([`tree`]).
//!
//! # Why our own learner
//!
//! Measured on this project's machine (2 cores):
//! linfa 0.8's trees and ensembles classify only (targets must be `Eq + Hash + Ord`);
//! smartcore 0.7's `RandomForestRegressor` is single-threaded with exact splits: 3.8 s to fit
//! 40,000 rows (scikit-learn: 4.8 s), 10× slower than scikit-learn to predict, and 165 MB
//! serialized for 10,000 rows. At 267,000 rows it cannot reach a fifth of scikit-learn's fit
//! time nor a 20 MB artifact. So both models share a histogram learner: features binned once
//! into at most 256 bins, per-node gradient/hessian histograms, the sibling's histogram by
//! subtraction, trees in parallel (forest) or nodes and row chunks in parallel (boosting) with
//! rayon. Boosting histograms gradients quantized to 12-bit integers (one packed 8-byte cell
//! per bin) and then sets each leaf from the exact gradients of its rows. See [`tree`] for what
//! made it fast.
//!
//! Measured with `bench/models_vs_sklearn.py --reps 5` (267,026 training rows, 19 features,
//! 2 cores; boosting's 300 rounds and XGBoost fitted in turn, medians): forest fit 10.0 s
//! against scikit-learn's 204.2 s, test MAE 49.95 against 54.54, 193,000 against 23,500 rows/s
//! scored, 11 MB against 2.4 GB on disk; boosting's 300 rounds fit in 1.75 s against XGBoost's
//! 3.64 s for 300 hist rounds (0.66 s with early stopping, the default), MAE 49.5 against 52.9,
//! 2.0 M against 0.22 M rows/s. The machine is shared: the 300-round ratio moved between 1.8x
//! and 2.1x over the runs of one afternoon.
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
pub mod explain;
pub mod forest;
pub mod gbm;
pub mod metrics;
pub mod model;
pub mod serving;
pub mod tree;

pub use data::Dataset;
pub use error::{ModelError, Result};
pub use explain::Explanation;
pub use forest::{RandomForest, RandomForestParams};
pub use gbm::{GradientBoosting, GradientBoostingParams, Objective};
pub use model::{Kind, Model, ModelParams};

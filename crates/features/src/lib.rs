//! Features for the Salescast models: calendar features, categorical encodings and scaling for
//! the per-transaction models; the zero-filled daily revenue series with lags and rolling
//! statistics for the daily models; all fitted on the training days of the time split.
//!
//! The fitted [`transform::FeatureTransform`] is plain Rust (no polars), so the API applies it to
//! one request row with the same code that built the training matrix.
//!
//! ```
//! use salescast_features::calendar::CalendarFeatures;
//! let f = CalendarFeatures::of(chrono::NaiveDate::from_ymd_opt(2024, 12, 25).unwrap());
//! assert!(f.is_holiday);
//! assert_eq!(f.day_of_week, 2); // a Wednesday
//! ```

pub mod calendar;
pub mod daily;
pub mod error;
#[cfg(feature = "polars")]
pub mod frame;
pub mod transform;

pub use error::{FeaturesError, Result};
pub use transform::{FeatureMatrix, FeatureTransform, TransformOptions};

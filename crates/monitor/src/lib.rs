//! Model monitoring for Salescast: what `salescast-monitor` runs from cron.
//!
//! - [`profile`]: the reference profile saved with the models at training time (a seeded sample
//!   of training rows, per-column summaries, held-out predictions and errors, baselines, and
//!   the error-estimation models), so a run never needs the training data;
//! - [`stats`]: drift statistics computed as Evidently 0.7.21 does, checked against its report;
//! - [`drift`]: per-column and dataset drift, new categories, missing rates;
//! - [`performance`]: realised metrics on labelled data, estimated MAE (NannyML-style direct loss
//!   estimation) on unlabelled data, and the daily forecast's accuracy and coverage;
//! - [`report`]: the JSON and self-contained HTML reports;
//! - [`outputs`]: history, alert log, webhook, Prometheus text file.

pub mod data;
pub mod drift;
pub mod error;
pub mod outputs;
pub mod performance;
pub mod profile;
pub mod report;
pub mod run;
pub mod settings;
pub mod stats;

pub use error::{MonitorError, Result};

//! The JSON report of a cleaning run.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use salescast_core::TimeSplit;
use serde::{Deserialize, Serialize};

/// The split, as reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SplitReport {
    pub first_date: NaiveDate,
    pub last_date: NaiveDate,
    pub train_end: NaiveDate,
    pub test_start: NaiveDate,
    pub test_days: u32,
    /// The window asked for, when the data were too short for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_test_days: Option<u32>,
    /// What was done about a short history.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl From<&TimeSplit> for SplitReport {
    fn from(s: &TimeSplit) -> Self {
        Self {
            first_date: s.first_date,
            last_date: s.last_date,
            train_end: s.train_end(),
            test_start: s.test_start,
            test_days: s.test_days,
            requested_test_days: s.requested_test_days,
            note: s.shrink_note(),
        }
    }
}

/// What the refit's cleaning (statistics from every day) filled in and clipped.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RefitReport {
    pub imputed: BTreeMap<String, usize>,
    pub clipped: BTreeMap<String, usize>,
}

/// What cleaning did: `rows_in = rows_out + rows_rejected + duplicates_dropped`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PreprocessReport {
    pub input: String,
    pub rows_in: usize,
    pub rows_out: usize,
    /// Rows with an invalid value (written to the rejected file).
    pub rows_rejected: usize,
    /// Later rows with an already seen transaction id (also written to the rejected file).
    pub duplicates_dropped: usize,
    /// Rejected rows (invalid and duplicates) by their first reason.
    pub rejected_by_reason: BTreeMap<String, usize>,
    /// Blank values filled, per column.
    pub imputed: BTreeMap<String, usize>,
    /// Values clipped by the outlier rule, per column.
    pub clipped: BTreeMap<String, usize>,
    /// Columns outside the contract (ignored).
    pub extra_columns: Vec<String>,
    pub split: SplitReport,
    pub outlier_rule: String,
    /// The cleaning of the refit on all days (`refit/` beside the cleaned data).
    #[serde(default)]
    pub refit: RefitReport,
    /// Wall-clock time: kept out of the report file (which must be the same bytes on every run)
    /// and written to `timings.json` beside it instead.
    #[serde(skip)]
    pub seconds: f64,
}

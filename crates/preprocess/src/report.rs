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
}

impl From<&TimeSplit> for SplitReport {
    fn from(s: &TimeSplit) -> Self {
        Self {
            first_date: s.first_date,
            last_date: s.last_date,
            train_end: s.train_end(),
            test_start: s.test_start,
            test_days: s.test_days,
        }
    }
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
    pub seconds: f64,
}

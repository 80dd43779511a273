//! The time split: the last `test_days` days are the test set, everything before is training.
//!
//! It is computed once from the cleaned data's last date and recorded in the artifacts, so every
//! stage (outlier bounds, encoders, models, evaluation) draws the same line.

use chrono::{Duration, NaiveDate};
use serde::{Deserialize, Serialize};

/// Which side of the split a day falls on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Part {
    Train,
    Test,
}

impl Part {
    pub fn name(self) -> &'static str {
        match self {
            Part::Train => "train",
            Part::Test => "test",
        }
    }
}

/// A split by date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeSplit {
    pub first_date: NaiveDate,
    pub last_date: NaiveDate,
    pub test_days: u32,
    /// The first test day; every earlier day is training.
    pub test_start: NaiveDate,
}

/// The data do not cover enough days for the split asked for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the data cover {days} day(s) ({first} to {last}); a test window of {test_days} day(s) needs at least {need}"
)]
pub struct SplitError {
    pub first: NaiveDate,
    pub last: NaiveDate,
    pub days: i64,
    pub test_days: u32,
    pub need: i64,
}

impl TimeSplit {
    /// Splits `[first, last]` so that the last `test_days` days are the test set. At least as many
    /// training days as test days are required, so that training is not an afterthought.
    pub fn new(
        first: NaiveDate,
        last: NaiveDate,
        test_days: u32,
    ) -> std::result::Result<Self, SplitError> {
        let days = (last - first).num_days() + 1;
        let need = 2 * i64::from(test_days.max(1));
        if test_days == 0 || days < need {
            return Err(SplitError {
                first,
                last,
                days,
                test_days,
                need,
            });
        }
        Ok(Self {
            first_date: first,
            last_date: last,
            test_days,
            test_start: last - Duration::days(i64::from(test_days) - 1),
        })
    }

    /// The last training day.
    pub fn train_end(&self) -> NaiveDate {
        self.test_start - Duration::days(1)
    }

    /// Which part `date` belongs to.
    pub fn part(&self, date: NaiveDate) -> Part {
        if date < self.test_start {
            Part::Train
        } else {
            Part::Test
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_n_days_are_test() {
        let d = |m, day| NaiveDate::from_ymd_opt(2024, m, day).unwrap();
        let s = TimeSplit::new(d(1, 1), d(12, 31), 90).unwrap();
        assert_eq!(s.test_start, d(10, 3));
        assert_eq!(s.train_end(), d(10, 2));
        assert_eq!(s.part(d(10, 2)), Part::Train);
        assert_eq!(s.part(d(10, 3)), Part::Test);
        assert!(TimeSplit::new(d(1, 1), d(2, 1), 90).is_err());
        assert!(TimeSplit::new(d(1, 1), d(12, 31), 0).is_err());
    }
}

//! The time split: the last `test_days` days are the test set, everything before is training.
//!
//! It is computed once from the cleaned data's last date and recorded in the artifacts, so every
//! stage (outlier bounds, encoders, models, evaluation) draws the same line.
//!
//! Two other splits exist beside the evaluation split: [`TimeSplit::all_days`], where every day
//! is training (the refit that is served), and the shrunk split [`TimeSplit::fit`] falls back to
//! when the data are too short for the test window asked for.

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
    /// The first test day; every earlier day is training. The day after `last_date` when the
    /// split has no test window.
    pub test_start: NaiveDate,
    /// The test window asked for, when the data were too short for it and `test_days` is a
    /// shrunk window (or none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_test_days: Option<u32>,
}

/// The days a model was fitted on or scored on: first and last day, and how many rows (days for
/// a daily model) they hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayRange {
    pub first: NaiveDate,
    pub last: NaiveDate,
    pub rows: usize,
}

/// Fewest days a split with a test window needs: a week of test days after a week of training.
pub const MIN_DAYS_WITH_TEST: i64 = 14;
/// The shortest test window a shrunk split gets.
pub const MIN_SHRUNK_TEST_DAYS: u32 = 7;

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
            requested_test_days: None,
        })
    }

    /// A split of any length of data, for cleaning, which must never refuse: the window asked
    /// for when the data allow it; else a fifth of the days (at least
    /// [`MIN_SHRUNK_TEST_DAYS`]), recorded in `requested_test_days`; else, below
    /// [`MIN_DAYS_WITH_TEST`] days, no test window at all (training then refuses, naming the
    /// minimum). [`TimeSplit::shrink_note`] says what happened.
    pub fn fit(first: NaiveDate, last: NaiveDate, test_days: u32) -> Self {
        if let Ok(s) = Self::new(first, last, test_days) {
            return s;
        }
        let days = (last - first).num_days() + 1;
        let requested = Some(test_days);
        if days >= MIN_DAYS_WITH_TEST {
            let shrunk = u32::try_from(days / 5)
                .unwrap_or(u32::MAX)
                .max(MIN_SHRUNK_TEST_DAYS);
            if let Ok(mut s) = Self::new(first, last, shrunk) {
                s.requested_test_days = requested;
                return s;
            }
        }
        Self {
            requested_test_days: requested,
            ..Self::all_days(first, last)
        }
    }

    /// Every day from `first` to `last` is training: the split of a refit on all the data.
    pub fn all_days(first: NaiveDate, last: NaiveDate) -> Self {
        Self {
            first_date: first,
            last_date: last,
            test_days: 0,
            test_start: last + Duration::days(1),
            requested_test_days: None,
        }
    }

    /// Whether there are test days.
    pub fn has_test(&self) -> bool {
        self.test_days > 0
    }

    /// The number of days covered.
    pub fn days(&self) -> i64 {
        (self.last_date - self.first_date).num_days() + 1
    }

    /// The same days with every one of them training (the refit's split).
    pub fn refit(&self) -> Self {
        Self::all_days(self.first_date, self.last_date)
    }

    /// A warning when the test window is not the one asked for.
    pub fn shrink_note(&self) -> Option<String> {
        let asked = self.requested_test_days?;
        let days = self.days();
        Some(if self.has_test() {
            format!(
                "the data cover {days} day(s) ({} to {}), too few for a test window of {asked} day(s) (it needs {}); the test window is shrunk to {} day(s), a fifth of the days",
                self.first_date,
                self.last_date,
                2 * i64::from(asked),
                self.test_days
            )
        } else {
            format!(
                "the data cover {days} day(s) ({} to {}); there is no test window, and training needs at least {MIN_DAYS_WITH_TEST} days",
                self.first_date, self.last_date
            )
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

    #[test]
    fn short_data_shrink_the_window_and_never_fail() {
        let d = |m, day| NaiveDate::from_ymd_opt(2024, m, day).unwrap();
        // 47 days: a fifth is 9 test days.
        let s = TimeSplit::fit(d(1, 1), d(2, 16), 90);
        assert_eq!(
            (s.days(), s.test_days, s.requested_test_days),
            (47, 9, Some(90))
        );
        assert_eq!(s.test_start, d(2, 8));
        assert!(s.shrink_note().unwrap().contains("shrunk to 9"));
        // 20 days: at least 7.
        assert_eq!(TimeSplit::fit(d(1, 1), d(1, 20), 90).test_days, 7);
        // 10 days: no test window, every day trains.
        let s = TimeSplit::fit(d(1, 1), d(1, 10), 90);
        assert!(!s.has_test());
        assert_eq!(s.part(d(1, 10)), Part::Train);
        assert!(s.shrink_note().unwrap().contains("at least 14"));
        // Long enough: as asked, no note.
        let s = TimeSplit::fit(d(1, 1), d(12, 31), 90);
        assert_eq!((s.test_days, s.shrink_note()), (90, None));
        assert_eq!(s, TimeSplit::new(d(1, 1), d(12, 31), 90).unwrap());
        let all = s.refit();
        assert_eq!((all.test_days, all.train_end()), (0, d(12, 31)));
    }
}

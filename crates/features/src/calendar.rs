//! Calendar features of a day, from the shared holiday calendar.

use chrono::{Datelike, NaiveDate};
use salescast_core::calendar;

/// Names of [`CalendarFeatures::values`], in order.
pub const NAMES: [&str; 9] = [
    "day_of_week",
    "month",
    "quarter",
    "day_of_month",
    "week_of_year",
    "is_weekend",
    "is_holiday",
    "days_to_next_holiday",
    "days_since_last_holiday",
];

/// Calendar features of one day.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CalendarFeatures {
    /// 0 = Monday … 6 = Sunday (pandas' `dayofweek`).
    pub day_of_week: u32,
    pub month: u32,
    pub quarter: u32,
    pub day_of_month: u32,
    /// ISO week number.
    pub week_of_year: u32,
    pub is_weekend: bool,
    pub is_holiday: bool,
    pub days_to_next_holiday: i64,
    pub days_since_last_holiday: i64,
}

impl CalendarFeatures {
    pub fn of(date: NaiveDate) -> Self {
        let dow = date.weekday().num_days_from_monday();
        Self {
            day_of_week: dow,
            month: date.month(),
            quarter: date.month0() / 3 + 1,
            day_of_month: date.day(),
            week_of_year: date.iso_week().week(),
            is_weekend: dow >= 5,
            is_holiday: calendar::holiday_on(date).is_some(),
            days_to_next_holiday: calendar::days_to_next_holiday(date),
            days_since_last_holiday: calendar::days_since_last_holiday(date),
        }
    }

    /// The features as numbers, in the order of [`NAMES`].
    pub fn values(&self) -> [f64; 9] {
        [
            f64::from(self.day_of_week),
            f64::from(self.month),
            f64::from(self.quarter),
            f64::from(self.day_of_month),
            f64::from(self.week_of_year),
            f64::from(u8::from(self.is_weekend)),
            f64::from(u8::from(self.is_holiday)),
            self.days_to_next_holiday as f64,
            self.days_since_last_holiday as f64,
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn black_friday_2024() {
        let f = CalendarFeatures::of(NaiveDate::from_ymd_opt(2024, 11, 29).unwrap());
        assert_eq!(f.day_of_week, 4);
        assert_eq!(
            (f.month, f.quarter, f.day_of_month, f.week_of_year),
            (11, 4, 29, 48)
        );
        assert!(f.is_holiday && !f.is_weekend);
        assert_eq!(f.days_to_next_holiday, 3); // Cyber Monday
        assert_eq!(f.days_since_last_holiday, 1); // Thanksgiving
    }
}

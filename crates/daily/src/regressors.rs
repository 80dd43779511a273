//! Calendar regressors for daily revenue.
//!
//! Weekly SARIMA alone cannot anticipate the November–December peak or a holiday that moves
//! (Easter, Thanksgiving and the days around it). The regressors carry that: a flag for any
//! holiday of the shared calendar, a flag for the big retail days, and `K` Fourier pairs of the
//! yearly cycle. Each is a function of the date alone (the Fourier phase counts days from
//! 1970-01-01), so values for any future dates are computed the same way.

use chrono::{Duration, NaiveDate};
use salescast_core::calendar::{self, Holiday};
use salescast_sarima::Regressors;
use serde::{Deserialize, Serialize};

/// Which calendar regressors a model uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CalendarSpec {
    /// Holiday flags.
    pub holidays: bool,
    /// Number of yearly Fourier pairs.
    pub fourier_terms: usize,
}

impl Default for CalendarSpec {
    fn default() -> Self {
        Self {
            holidays: true,
            fourier_terms: 3,
        }
    }
}

const YEAR_DAYS: f64 = 365.25;

/// The big retail days, whose lift is several times that of an ordinary holiday.
fn is_peak(h: Holiday) -> bool {
    matches!(
        h,
        Holiday::BlackFriday | Holiday::CyberMonday | Holiday::ChristmasEve | Holiday::BoxingDay
    )
}

impl CalendarSpec {
    /// No regressors at all.
    pub fn none() -> Self {
        Self {
            holidays: false,
            fourier_terms: 0,
        }
    }

    /// The regressors for `n` consecutive days from `start`.
    pub fn regressors(&self, start: NaiveDate, n: usize) -> Regressors {
        let dates: Vec<NaiveDate> = (0..n).map(|i| start + Duration::days(i as i64)).collect();
        let mut names = Vec::new();
        let mut columns = Vec::new();
        if self.holidays {
            let hol: Vec<Option<Holiday>> =
                dates.iter().map(|d| calendar::holiday_on(*d)).collect();
            names.push("holiday".to_owned());
            columns.push(
                hol.iter()
                    .map(|h| f64::from(u8::from(h.is_some())))
                    .collect(),
            );
            names.push("peak_holiday".to_owned());
            columns.push(
                hol.iter()
                    .map(|h| f64::from(u8::from(h.is_some_and(is_peak))))
                    .collect(),
            );
        }
        let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or(NaiveDate::MIN);
        let t: Vec<f64> = dates
            .iter()
            .map(|d| (*d - epoch).num_days() as f64)
            .collect();
        for k in 1..=self.fourier_terms {
            let w = 2.0 * std::f64::consts::PI * k as f64 / YEAR_DAYS;
            names.push(format!("year_sin{k}"));
            columns.push(t.iter().map(|t| (w * t).sin()).collect());
            names.push(format!("year_cos{k}"));
            columns.push(t.iter().map(|t| (w * t).cos()).collect());
        }
        Regressors { names, columns }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regressors_depend_on_the_date_only() {
        let spec = CalendarSpec::default();
        let start = NaiveDate::from_ymd_opt(2024, 11, 20).expect("date");
        let long = spec.regressors(start, 20);
        let later = spec.regressors(start + Duration::days(9), 5);
        assert_eq!(long.names, later.names);
        for (a, b) in long.columns.iter().zip(&later.columns) {
            assert_eq!(&a[9..14], &b[..]);
        }
        // 2024-11-29 is Black Friday: both flags set.
        assert_eq!((long.columns[0][9], long.columns[1][9]), (1.0, 1.0));
        // Thanksgiving (11-28) is a holiday but not a peak day.
        assert_eq!((long.columns[0][8], long.columns[1][8]), (1.0, 0.0));
        assert_eq!(long.names.len(), 2 + 2 * 3);
        assert!(CalendarSpec::none().regressors(start, 4).is_empty());
    }
}

//! The holiday calendar: the one list of retail holidays that the generator, the features and
//! the daily models all use.
//!
//! Holidays are computed from rules (fixed dates, Easter by the Gregorian computus, Thanksgiving
//! as the fourth Thursday of November), so the calendar covers any year without a table.

use chrono::{Datelike, Duration, NaiveDate, Weekday};
use serde::{Deserialize, Serialize};

/// A retail holiday that moves demand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Holiday {
    NewYear,
    ValentinesDay,
    Easter,
    IndependenceDay,
    Thanksgiving,
    BlackFriday,
    CyberMonday,
    ChristmasEve,
    Christmas,
    BoxingDay,
    NewYearsEve,
}

impl Holiday {
    /// Every holiday, in calendar order.
    pub const ALL: [Holiday; 11] = [
        Holiday::NewYear,
        Holiday::ValentinesDay,
        Holiday::Easter,
        Holiday::IndependenceDay,
        Holiday::Thanksgiving,
        Holiday::BlackFriday,
        Holiday::CyberMonday,
        Holiday::ChristmasEve,
        Holiday::Christmas,
        Holiday::BoxingDay,
        Holiday::NewYearsEve,
    ];

    /// A stable snake_case name, used in feature names and reports.
    pub fn name(self) -> &'static str {
        match self {
            Holiday::NewYear => "new_year",
            Holiday::ValentinesDay => "valentines_day",
            Holiday::Easter => "easter",
            Holiday::IndependenceDay => "independence_day",
            Holiday::Thanksgiving => "thanksgiving",
            Holiday::BlackFriday => "black_friday",
            Holiday::CyberMonday => "cyber_monday",
            Holiday::ChristmasEve => "christmas_eve",
            Holiday::Christmas => "christmas",
            Holiday::BoxingDay => "boxing_day",
            Holiday::NewYearsEve => "new_years_eve",
        }
    }

    /// The date of this holiday in `year`.
    pub fn date_in(self, year: i32) -> NaiveDate {
        let ymd = |m, d| NaiveDate::from_ymd_opt(year, m, d).unwrap_or(NaiveDate::MIN);
        match self {
            Holiday::NewYear => ymd(1, 1),
            Holiday::ValentinesDay => ymd(2, 14),
            Holiday::Easter => easter(year),
            Holiday::IndependenceDay => ymd(7, 4),
            Holiday::Thanksgiving => thanksgiving(year),
            Holiday::BlackFriday => thanksgiving(year) + Duration::days(1),
            Holiday::CyberMonday => thanksgiving(year) + Duration::days(4),
            Holiday::ChristmasEve => ymd(12, 24),
            Holiday::Christmas => ymd(12, 25),
            Holiday::BoxingDay => ymd(12, 26),
            Holiday::NewYearsEve => ymd(12, 31),
        }
    }
}

/// Easter Sunday (Gregorian), by the anonymous ("Meeus/Jones/Butcher") algorithm.
pub fn easter(year: i32) -> NaiveDate {
    let a = year % 19;
    let b = year / 100;
    let c = year % 100;
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    NaiveDate::from_ymd_opt(year, month as u32, day as u32).unwrap_or(NaiveDate::MIN)
}

/// US Thanksgiving: the fourth Thursday of November.
pub fn thanksgiving(year: i32) -> NaiveDate {
    NaiveDate::from_weekday_of_month_opt(year, 11, Weekday::Thu, 4).unwrap_or(NaiveDate::MIN)
}

/// All holidays of `year`, sorted by date.
pub fn holidays_in(year: i32) -> Vec<(NaiveDate, Holiday)> {
    let mut v: Vec<_> = Holiday::ALL.iter().map(|h| (h.date_in(year), *h)).collect();
    v.sort();
    v
}

/// The holiday that falls on `date`, if any.
pub fn holiday_on(date: NaiveDate) -> Option<Holiday> {
    Holiday::ALL
        .iter()
        .copied()
        .find(|h| h.date_in(date.year()) == date)
}

/// Days from `date` to the next holiday strictly after it (1 on the eve of a holiday).
pub fn days_to_next_holiday(date: NaiveDate) -> i64 {
    (date.year()..=date.year() + 1)
        .flat_map(holidays_in)
        .map(|(d, _)| (d - date).num_days())
        .find(|&n| n > 0)
        .unwrap_or(366)
}

/// Days from the last holiday strictly before `date` to `date`.
pub fn days_since_last_holiday(date: NaiveDate) -> i64 {
    (date.year() - 1..=date.year())
        .rev()
        .flat_map(|y| holidays_in(y).into_iter().rev())
        .map(|(d, _)| (date - d).num_days())
        .find(|&n| n > 0)
        .unwrap_or(366)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn easter_dates_match_known_years() {
        assert_eq!(easter(2023), d(2023, 4, 9));
        assert_eq!(easter(2024), d(2024, 3, 31));
        assert_eq!(easter(2025), d(2025, 4, 20));
        assert_eq!(easter(2026), d(2026, 4, 5));
    }

    #[test]
    fn thanksgiving_and_neighbours() {
        assert_eq!(thanksgiving(2024), d(2024, 11, 28));
        assert_eq!(holiday_on(d(2024, 11, 29)), Some(Holiday::BlackFriday));
        assert_eq!(holiday_on(d(2024, 12, 2)), Some(Holiday::CyberMonday));
        assert_eq!(holiday_on(d(2024, 12, 3)), None);
    }

    #[test]
    fn distances_cross_year_ends() {
        assert_eq!(days_to_next_holiday(d(2024, 12, 30)), 1);
        assert_eq!(days_to_next_holiday(d(2024, 12, 31)), 1);
        assert_eq!(days_since_last_holiday(d(2025, 1, 1)), 1);
        assert_eq!(days_since_last_holiday(d(2025, 1, 3)), 2);
        assert_eq!(days_to_next_holiday(d(2025, 1, 1)), 44);
    }
}

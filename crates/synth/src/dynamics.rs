//! How demand moves with time: how many transactions a day gets and how many units each one buys.

use chrono::{Datelike, NaiveDate};
use rand_chacha::ChaCha8Rng;
use salescast_core::calendar::{self, Holiday};

use crate::Config;
use crate::catalog::{Catalog, draw};

/// Customer segments: name, share of transactions, quantity multiplier.
pub(crate) const SEGMENTS: [(&str, f64, f64); 3] = [
    ("Regular", 0.60, 1.0),
    ("Premium", 0.25, 1.3),
    ("New", 0.15, 0.85),
];

/// Draws an index from `(name, weight, ..)` entries whose weights sum to 1.
pub(crate) fn pick<T>(rng: &mut ChaCha8Rng, table: &[(&str, f64, T)]) -> usize {
    let mut acc = 0.0;
    let c: Vec<f64> = table
        .iter()
        .map(|e| {
            acc += e.1;
            acc
        })
        .collect();
    draw(rng, &c)
}

/// How much a holiday lifts the number of transactions and the units per transaction.
fn holiday_lift(h: Holiday) -> (f64, f64) {
    match h {
        Holiday::NewYear => (1.25, 1.05),
        Holiday::ValentinesDay => (1.35, 1.10),
        Holiday::Easter => (1.30, 1.10),
        Holiday::IndependenceDay => (1.35, 1.15),
        Holiday::Thanksgiving => (1.45, 1.15),
        Holiday::BlackFriday => (2.60, 1.35),
        Holiday::CyberMonday => (1.90, 1.25),
        Holiday::ChristmasEve => (1.80, 1.25),
        Holiday::Christmas => (1.35, 1.10),
        Holiday::BoxingDay => (1.75, 1.20),
        Holiday::NewYearsEve => (1.50, 1.15),
    }
}

fn weekly(date: NaiveDate) -> f64 {
    [0.88, 0.84, 0.88, 0.95, 1.10, 1.38, 1.27][date.weekday().num_days_from_monday() as usize]
}

/// The yearly cycle: a mild spring/summer swell, a January lull and the November–December peak.
fn yearly(date: NaiveDate) -> f64 {
    let doy = f64::from(date.ordinal());
    let tau = std::f64::consts::TAU;
    let peak = 0.60 * (-0.5 * ((doy - 347.0) / 20.0).powi(2)).exp();
    let lull = if doy < 20.0 { -0.10 } else { 0.0 };
    1.0 + 0.07 * (tau * (doy - 100.0) / 365.25).sin() + peak + lull
}

fn years_since_start(cfg: &Config, date: NaiveDate) -> f64 {
    (date - cfg.start).num_days() as f64 / 365.25
}

/// The relative number of transactions on `date`.
fn intensity(cfg: &Config, date: NaiveDate) -> f64 {
    let trend = 1.0 + 0.09 * years_since_start(cfg, date);
    let holiday = calendar::holiday_on(date).map_or(1.0, |h| holiday_lift(h).0);
    trend * weekly(date) * yearly(date) * holiday
}

/// Rows per day, summing to exactly `cfg.rows` (largest-remainder rounding of the intensities).
pub(crate) fn rows_per_day(cfg: &Config) -> Vec<usize> {
    let w: Vec<f64> = (0..cfg.days)
        .map(|d| intensity(cfg, cfg.start + chrono::Duration::days(i64::from(d))))
        .collect();
    let total: f64 = w.iter().sum();
    let exact: Vec<f64> = w.iter().map(|x| x / total * cfg.rows as f64).collect();
    let mut counts: Vec<usize> = exact.iter().map(|x| x.floor() as usize).collect();
    let short = cfg.rows - counts.iter().sum::<usize>();
    let mut order: Vec<usize> = (0..counts.len()).collect();
    order.sort_by(|&a, &b| {
        let (fa, fb) = (exact[a] - exact[a].floor(), exact[b] - exact[b].floor());
        fb.total_cmp(&fa).then(a.cmp(&b))
    });
    for &d in order.iter().take(short) {
        counts[d] += 1;
    }
    counts
}

/// What is fixed for one day.
#[derive(Debug)]
pub(crate) struct DayContext {
    pub promo_rate: f64,
    pub payments: [(&'static str, f64, ()); 3],
    pub category_cdf: Vec<f64>,
    quantity_lift: f64,
}

impl DayContext {
    pub(crate) fn new(cfg: &Config, cat: &Catalog, date: NaiveDate) -> Self {
        let holiday = calendar::holiday_on(date);
        let month = date.month0() as usize;
        let in_season = month >= 10;
        let promo_rate = match holiday {
            Some(Holiday::BlackFriday | Holiday::CyberMonday) => 0.45,
            Some(_) => 0.25,
            None if in_season => 0.18,
            None => 0.10,
        };
        let t = years_since_start(cfg, date).min(10.0);
        let mobile = 0.12 + 0.05 * t;
        let cash = (0.30 - 0.05 * t).max(0.05);
        let payments = [
            ("Card", 1.0 - mobile - cash, ()),
            ("Cash", cash, ()),
            ("Mobile", mobile, ()),
        ];
        let mut acc = 0.0;
        let mut category_cdf: Vec<f64> = cat
            .categories
            .iter()
            .map(|c| {
                acc += c.weight * c.season[month];
                acc
            })
            .collect();
        category_cdf.iter_mut().for_each(|x| *x /= acc);
        let weekend = if date.weekday().num_days_from_monday() >= 5 {
            1.12
        } else {
            1.0
        };
        let quantity_lift = weekend * holiday.map_or(1.0, |h| holiday_lift(h).1);
        Self {
            promo_rate,
            payments,
            category_cdf,
            quantity_lift,
        }
    }

    /// Mean units per transaction (before the one unit every transaction has).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn quantity_mean(
        &self,
        cat: &Catalog,
        store: usize,
        category: usize,
        product: usize,
        unit_price: f64,
        discount: f64,
        promotion: bool,
        segment: usize,
    ) -> f64 {
        let c = &cat.categories[category];
        let relative_price = unit_price * (1.0 - discount) / cat.products[product].base_price;
        let elasticity = relative_price.powf(-c.elasticity);
        let promo = if promotion { 1.4 } else { 1.0 };
        c.base_quantity
            * elasticity
            * promo
            * self.quantity_lift
            * SEGMENTS[segment].2
            * cat.stores[store].quantity_factor
    }
}

//! The daily sales history by store and category, saved with the models.
//!
//! The service answers the analysts' views (history, breakdowns, weekday pattern) from this
//! small aggregate instead of the transaction data, which it never sees: a few thousand cells
//! (days × stores × categories) instead of hundreds of thousands of rows. The train stage writes
//! it from the cleaned data, every day of it, held-out days included.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::artifact::{load_json, save_json};
use crate::{CoreError, Result, Transaction};

/// File name in the models directory.
pub const HISTORY_FILE: &str = crate::models_dir::HISTORY;
const KIND: &str = "daily_history";
const VERSION: u32 = 1;

/// Sums of one (day, store, category) cell.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Totals {
    pub revenue: f64,
    pub transactions: u64,
    pub units: f64,
}

impl Totals {
    fn add(&mut self, o: &Totals) {
        self.revenue += o.revenue;
        self.transactions += o.transactions;
        self.units += o.units;
    }
}

/// One non-empty cell: indices into the history's days, stores and categories.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Cell {
    pub day: u32,
    pub store: u32,
    pub category: u32,
    #[serde(flatten)]
    pub totals: Totals,
}

/// The aggregate. Days run from `first` to `last` without gaps; a day with no sales has no
/// cell, and counts as zero revenue (the data contract's rule).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DailyHistory {
    pub first: NaiveDate,
    pub last: NaiveDate,
    pub stores: Vec<String>,
    pub categories: Vec<String>,
    pub cells: Vec<Cell>,
}

/// What to select: a closed date range, and optionally one store and one category.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Selection {
    pub start: Option<NaiveDate>,
    pub end: Option<NaiveDate>,
    pub store: Option<String>,
    pub category: Option<String>,
}

/// One day of a selection.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DayTotals {
    pub date: NaiveDate,
    #[serde(flatten)]
    pub totals: Totals,
}

/// A group's totals over a selection (by store, by category).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupTotals {
    pub key: String,
    #[serde(flatten)]
    pub totals: Totals,
}

/// One weekday's average over the selected days (Monday first).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WeekdayTotals {
    pub weekday: String,
    pub days: u32,
    pub mean_revenue: f64,
    pub mean_transactions: f64,
}

/// A selection's answer: every day of the range (zeros included), the breakdowns and the
/// weekday pattern.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Slice {
    pub start: NaiveDate,
    pub end: NaiveDate,
    pub totals: Totals,
    pub daily: Vec<DayTotals>,
    pub by_store: Vec<GroupTotals>,
    pub by_category: Vec<GroupTotals>,
    pub by_weekday: Vec<WeekdayTotals>,
}

const WEEKDAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

impl DailyHistory {
    /// Aggregates transactions; rows without revenue count as transactions with no money.
    pub fn from_rows(rows: &[Transaction]) -> Option<Self> {
        let first = rows.iter().map(|t| t.date).min()?;
        let last = rows.iter().map(|t| t.date).max()?;
        let mut cells: BTreeMap<(NaiveDate, &str, &str), Totals> = BTreeMap::new();
        for t in rows {
            let category = t.category.as_deref().unwrap_or("Unknown");
            let c = cells
                .entry((t.date, t.store_id.as_str(), category))
                .or_default();
            c.revenue += t.revenue.unwrap_or(0.0);
            c.transactions += 1;
            c.units += t.quantity.unwrap_or(0.0);
        }
        let mut stores: Vec<String> = cells.keys().map(|k| k.1.to_owned()).collect();
        stores.sort();
        stores.dedup();
        let mut categories: Vec<String> = cells.keys().map(|k| k.2.to_owned()).collect();
        categories.sort();
        categories.dedup();
        let index = |v: &[String], s: &str| v.binary_search_by(|x| x.as_str().cmp(s)).unwrap_or(0);
        let cells = cells
            .into_iter()
            .map(|((d, s, c), totals)| Cell {
                day: (d - first).num_days() as u32,
                store: index(&stores, s) as u32,
                category: index(&categories, c) as u32,
                totals,
            })
            .collect();
        Some(Self {
            first,
            last,
            stores,
            categories,
            cells,
        })
    }

    pub fn save(&self, path: &Path) -> Result<()> {
        save_json(path, KIND, VERSION, self)
    }

    /// Loads and checks the history: every index in range, every figure finite.
    pub fn load(path: &Path) -> Result<Self> {
        let h: Self = load_json(path, KIND, VERSION)?;
        let days = (h.last - h.first).num_days() + 1;
        let bad = h.first > h.last
            || h.cells.iter().any(|c| {
                i64::from(c.day) >= days
                    || c.store as usize >= h.stores.len()
                    || c.category as usize >= h.categories.len()
                    || !c.totals.revenue.is_finite()
                    || !c.totals.units.is_finite()
            });
        if bad {
            return Err(CoreError::BadArtifact {
                path: path.to_path_buf(),
                source: "a cell is outside the history's days, stores or categories".into(),
            });
        }
        Ok(h)
    }

    /// The selection's days, breakdowns and weekday pattern. The range defaults to the whole
    /// history and is clamped to it; an unknown store or category selects nothing (an empty
    /// slice with zeros), which the caller tells apart with [`Self::knows`].
    pub fn slice(&self, sel: &Selection) -> Slice {
        let start = sel.start.unwrap_or(self.first).max(self.first);
        let end = sel.end.unwrap_or(self.last).min(self.last);
        let n_days = ((end - start).num_days() + 1).max(0) as usize;
        let offset = (start - self.first).num_days();
        let store = sel
            .store
            .as_deref()
            .map(|s| self.stores.iter().position(|x| x == s));
        let category = sel
            .category
            .as_deref()
            .map(|s| self.categories.iter().position(|x| x == s));
        let mut daily = vec![Totals::default(); n_days];
        let mut by_store = vec![Totals::default(); self.stores.len()];
        let mut by_category = vec![Totals::default(); self.categories.len()];
        for c in &self.cells {
            let d = i64::from(c.day) - offset;
            if d < 0 || d >= n_days as i64 {
                continue;
            }
            let store_ok = store.is_none_or(|s| s == Some(c.store as usize));
            let category_ok = category.is_none_or(|k| k == Some(c.category as usize));
            // Each breakdown keeps the other filter: "by store" within the chosen category.
            if category_ok {
                by_store[c.store as usize].add(&c.totals);
            }
            if store_ok {
                by_category[c.category as usize].add(&c.totals);
            }
            if store_ok && category_ok {
                daily[d as usize].add(&c.totals);
            }
        }
        let mut totals = Totals::default();
        let mut weekday = [(0u32, 0.0f64, 0.0f64); 7];
        let daily: Vec<DayTotals> = daily
            .into_iter()
            .enumerate()
            .map(|(i, t)| {
                let date = start + chrono::Days::new(i as u64);
                totals.add(&t);
                let w = &mut weekday[date.weekday().num_days_from_monday() as usize];
                w.0 += 1;
                w.1 += t.revenue;
                w.2 += t.transactions as f64;
                DayTotals { date, totals: t }
            })
            .collect();
        let groups = |names: &[String], sums: Vec<Totals>| {
            let mut g: Vec<GroupTotals> = names
                .iter()
                .zip(sums)
                .map(|(k, totals)| GroupTotals {
                    key: k.clone(),
                    totals,
                })
                .collect();
            g.sort_by(|a, b| b.totals.revenue.total_cmp(&a.totals.revenue));
            g
        };
        Slice {
            start,
            end,
            totals,
            daily,
            by_store: groups(&self.stores, by_store),
            by_category: groups(&self.categories, by_category),
            by_weekday: weekday
                .iter()
                .zip(WEEKDAYS)
                .map(|(&(days, rev, tx), name)| WeekdayTotals {
                    weekday: name.to_owned(),
                    days,
                    mean_revenue: if days > 0 { rev / f64::from(days) } else { 0.0 },
                    mean_transactions: if days > 0 { tx / f64::from(days) } else { 0.0 },
                })
                .collect(),
        }
    }

    /// Whether a store or category name is in the history.
    pub fn knows(&self, store: Option<&str>, category: Option<&str>) -> (bool, bool) {
        (
            store.is_none_or(|s| self.stores.iter().any(|x| x == s)),
            category.is_none_or(|c| self.categories.iter().any(|x| x == c)),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(date: &str, store: &str, category: &str, revenue: f64) -> Transaction {
        Transaction {
            transaction_id: None,
            date: crate::schema::parse_date(date).unwrap_or_default(),
            store_id: store.into(),
            product_id: "P".into(),
            category: Some(category.into()),
            unit_price: Some(1.0),
            quantity: Some(2.0),
            discount: 0.0,
            promotion: false,
            customer_segment: "Regular".into(),
            payment_method: "Card".into(),
            revenue: Some(revenue),
        }
    }

    fn sample() -> DailyHistory {
        DailyHistory::from_rows(&[
            row("2024-01-01", "S1", "A", 10.0),
            row("2024-01-01", "S1", "A", 5.0),
            row("2024-01-01", "S2", "B", 7.0),
            row("2024-01-03", "S2", "A", 3.0),
        ])
        .unwrap_or_else(|| unreachable!())
    }

    #[test]
    fn days_without_sales_are_zero_and_totals_add_up() {
        let s = sample().slice(&Selection::default());
        assert_eq!(s.daily.len(), 3);
        assert_eq!(s.daily[1].totals.revenue, 0.0);
        assert_eq!(s.daily[0].totals.revenue, 22.0);
        assert_eq!(s.daily[0].totals.transactions, 3);
        assert_eq!(s.totals.revenue, 25.0);
        assert_eq!(s.by_store[0].key, "S1");
        assert_eq!(s.by_store[0].totals.revenue, 15.0);
        // 2024-01-01 is a Monday.
        assert_eq!(s.by_weekday[0].mean_revenue, 22.0);
        assert_eq!(s.by_weekday[1].days, 1);
    }

    #[test]
    fn filters_keep_the_other_breakdown_within_the_choice() {
        let h = sample();
        let s = h.slice(&Selection {
            category: Some("A".into()),
            ..Selection::default()
        });
        assert_eq!(s.totals.revenue, 18.0);
        let s2: f64 = s
            .by_store
            .iter()
            .filter(|g| g.key == "S2")
            .map(|g| g.totals.revenue)
            .sum();
        assert_eq!(s2, 3.0);
        // By category ignores the category filter, so the other categories stay comparable.
        assert_eq!(s.by_category.len(), 2);
        let r = h.slice(&Selection {
            start: crate::schema::parse_date("2024-01-02").ok(),
            end: crate::schema::parse_date("2030-01-01").ok(),
            store: Some("S2".into()),
            ..Selection::default()
        });
        assert_eq!(r.end, h.last);
        assert_eq!(r.daily.len(), 2);
        assert_eq!(r.totals.revenue, 3.0);
        assert_eq!(h.knows(Some("S9"), None), (false, true));
    }

    #[test]
    fn saves_and_loads_and_rejects_bad_cells() {
        let dir = tempfile::tempdir().unwrap_or_else(|_| unreachable!());
        let path = dir.path().join(HISTORY_FILE);
        let h = sample();
        h.save(&path).unwrap_or_else(|_| unreachable!());
        assert_eq!(DailyHistory::load(&path).ok(), Some(h.clone()));
        let mut broken = h;
        broken.cells[0].store = 9;
        broken.save(&path).unwrap_or_else(|_| unreachable!());
        assert!(DailyHistory::load(&path).is_err());
    }
}

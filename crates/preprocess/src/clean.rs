//! Validation, de-duplication, imputation and clipping over any table of raw text cells.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use rayon::prelude::*;
use salescast_core::schema::{ColumnMap, FieldError, non_blank, parse_row};
use salescast_core::{Column, Mode, TimeSplit, Transaction};

use crate::error::{PreprocessError, Result};
use crate::report::{PreprocessReport, RefitReport, SplitReport};
use crate::stats::{CleaningStats, Clipped, Imputed, OutlierRule};

/// A table of raw text cells: a file read as strings, whatever its format.
pub trait RawRows: Sync {
    fn headers(&self) -> &[String];
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The cell at `row` in the column at header position `col`; `None` for a null.
    fn cell(&self, row: usize, col: usize) -> Option<&str>;
}

/// Settings of the cleaning stage.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Options {
    /// Days at the end of the data that form the test set.
    pub test_days: u32,
    pub rule: OutlierRule,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            test_days: 90,
            rule: OutlierRule::default(),
        }
    }
}

impl Options {
    /// Checks settings before any work.
    pub fn validate(&self) -> Result<()> {
        if self.test_days == 0 {
            return Err(PreprocessError::InvalidSetting {
                name: "test_days",
                reason: "must be at least 1".into(),
            });
        }
        if !(self.rule.k.is_finite() && self.rule.k > 0.0) {
            return Err(PreprocessError::InvalidSetting {
                name: "outlier_k",
                reason: format!("must be a positive number, got {}", self.rule.k),
            });
        }
        Ok(())
    }
}

/// A row that did not make it into the cleaned data, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejection {
    /// Zero-based data row (the header is not counted).
    pub row: usize,
    pub reason: String,
    /// The key it is counted under in the report.
    pub code: String,
}

/// The result of cleaning a table.
#[derive(Debug)]
pub struct Cleaned {
    pub rows: Vec<Transaction>,
    pub imputed: Vec<Imputed>,
    pub clipped: Vec<Clipped>,
    /// Invalid rows and dropped duplicates, in input order.
    pub rejections: Vec<Rejection>,
    pub stats: CleaningStats,
    pub report: PreprocessReport,
    /// The same rows cleaned by statistics learned on every day: the data of the refit that is
    /// served, whose imputation and fences must not ignore the latest days either.
    pub refit: Refit,
}

/// Rows cleaned by statistics fitted on all days ([`TimeSplit::all_days`]).
#[derive(Debug)]
pub struct Refit {
    pub rows: Vec<Transaction>,
    pub imputed: Vec<Imputed>,
    pub clipped: Vec<Clipped>,
    pub stats: CleaningStats,
}

/// Imputes and clips `rows` in place with `stats`, in parallel.
fn apply(stats: &CleaningStats, rows: &mut [Transaction]) -> (Vec<Imputed>, Vec<Clipped>) {
    rows.par_iter_mut()
        .with_min_len(4096)
        .map(|t| (stats.impute(t), stats.clip(t)))
        .unzip()
}

/// Counts of what cleaning filled in and clipped, per column, for the report.
fn counts(
    defaulted: BTreeMap<String, usize>,
    imputed: &[Imputed],
    clipped: &[Clipped],
) -> (BTreeMap<String, usize>, BTreeMap<String, usize>) {
    let mut imputed_counts = defaulted;
    imputed_counts.insert(
        "category".into(),
        imputed.iter().filter(|i| i.category).count(),
    );
    imputed_counts.insert(
        "unit_price".into(),
        imputed.iter().filter(|i| i.unit_price).count(),
    );
    let mut clipped_counts = BTreeMap::new();
    clipped_counts.insert(
        "quantity".to_owned(),
        clipped.iter().filter(|c| c.quantity).count(),
    );
    clipped_counts.insert(
        "revenue".to_owned(),
        clipped.iter().filter(|c| c.revenue).count(),
    );
    (imputed_counts, clipped_counts)
}

/// The code under which repeated transaction ids are reported.
pub const DUPLICATE: &str = "transaction_id: duplicate";

fn describe(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// Cleans `table` (read from `path`, named in messages) as the data contract says.
pub fn clean(table: &dyn RawRows, path: &Path, opts: &Options) -> Result<Cleaned> {
    opts.validate()?;
    let map = ColumnMap::resolve(table.headers(), Mode::Training).map_err(|missing| {
        PreprocessError::MissingColumns {
            path: path.to_path_buf(),
            missing,
        }
    })?;
    if table.is_empty() {
        return Err(PreprocessError::NoDataRows {
            path: path.to_path_buf(),
        });
    }
    let n = table.len();
    let t0 = std::time::Instant::now();
    let cell = |i: usize, c: Column| map.get(c).and_then(|j| table.cell(i, j));
    // Columns whose blanks get a contract default, counted for the report.
    const DEFAULTED: [Column; 6] = [
        Column::StoreId,
        Column::ProductId,
        Column::Discount,
        Column::Promotion,
        Column::CustomerSegment,
        Column::PaymentMethod,
    ];
    type Parsed = (std::result::Result<Transaction, Vec<FieldError>>, u8);
    let parsed: Vec<Parsed> = (0..n)
        .into_par_iter()
        .with_min_len(4096)
        .map(|i| {
            let blanks = DEFAULTED.iter().enumerate().fold(0u8, |m, (k, &c)| {
                if non_blank(cell(i, c)).is_none() {
                    m | (1 << k)
                } else {
                    m
                }
            });
            (parse_row(|c| cell(i, c), Mode::Training), blanks)
        })
        .collect();
    tracing::debug!(secs = t0.elapsed().as_secs_f64(), "parsed");

    let mut rows = Vec::with_capacity(n);
    let mut rejections = Vec::new();
    // Ids are borrowed from the table; a blank id gets `auto-<row>`, unique by construction.
    let mut seen: HashSet<&str, foldhash::fast::FixedState> =
        HashSet::with_capacity_and_hasher(n, foldhash::fast::FixedState::default());
    let mut blank_counts = [0usize; DEFAULTED.len()];
    let mut generated_ids = 0usize;
    let mut duplicates = 0usize;
    let mut invalid = 0usize;
    for (i, (p, blanks)) in parsed.into_iter().enumerate() {
        match p {
            Err(errors) => {
                invalid += 1;
                rejections.push(Rejection {
                    row: i,
                    reason: describe(&errors),
                    code: errors.first().map(FieldError::code).unwrap_or_default(),
                });
            }
            Ok(mut t) => {
                match non_blank(cell(i, Column::TransactionId)) {
                    Some(id) => {
                        if !seen.insert(id) {
                            duplicates += 1;
                            rejections.push(Rejection {
                                row: i,
                                reason: format!(
                                    "transaction_id {id:?} repeats an earlier row (the first is kept)"
                                ),
                                code: DUPLICATE.into(),
                            });
                            continue;
                        }
                    }
                    None => {
                        generated_ids += 1;
                        t.transaction_id = Some(format!("auto-{}", i + 1));
                    }
                }
                for (k, c) in blank_counts.iter_mut().enumerate() {
                    *c += usize::from(blanks & (1 << k) != 0);
                }
                rows.push(t);
            }
        }
    }
    let mut defaulted: BTreeMap<String, usize> = DEFAULTED
        .iter()
        .zip(blank_counts)
        .filter(|(_, n)| *n > 0)
        .map(|(c, n)| (c.name().to_owned(), n))
        .collect();
    if generated_ids > 0 {
        defaulted.insert("transaction_id".into(), generated_ids);
    }

    let mut rejected_by_reason: BTreeMap<String, usize> = BTreeMap::new();
    for r in &rejections {
        *rejected_by_reason.entry(r.code.clone()).or_default() += 1;
    }
    if rows.is_empty() {
        let reasons = rejected_by_reason
            .iter()
            .map(|(k, v)| format!("{v} × {k}"))
            .collect::<Vec<_>>()
            .join(", ");
        return Err(PreprocessError::NoRowSurvived {
            path: path.to_path_buf(),
            rows_in: n,
            reasons,
        });
    }

    let (first, last) = rows
        .iter()
        .fold((rows[0].date, rows[0].date), |(lo, hi), t| {
            (lo.min(t.date), hi.max(t.date))
        });
    // Cleaning never refuses for want of days: a short history gets a shrunk test window (or
    // none), and training says what it needs.
    let split = TimeSplit::fit(first, last, opts.test_days);
    if let Some(note) = split.shrink_note() {
        tracing::warn!("{note}");
    }
    tracing::debug!(secs = t0.elapsed().as_secs_f64(), "deduplicated");
    let refit_stats = CleaningStats::fit(&rows, split.refit(), opts.rule);
    let mut refit_rows = rows.clone();
    let (refit_imputed, refit_clipped) = apply(&refit_stats, &mut refit_rows);
    let stats = CleaningStats::fit(&rows, split, opts.rule);
    tracing::debug!(secs = t0.elapsed().as_secs_f64(), "fitted");
    let (imputed, clipped) = apply(&stats, &mut rows);
    tracing::debug!(secs = t0.elapsed().as_secs_f64(), "imputed and clipped");

    let (refit_imputed_counts, refit_clipped_counts) =
        counts(defaulted.clone(), &refit_imputed, &refit_clipped);
    let (imputed_counts, clipped_counts) = counts(defaulted, &imputed, &clipped);

    let report = PreprocessReport {
        input: path.display().to_string(),
        rows_in: n,
        rows_out: rows.len(),
        rows_rejected: invalid,
        duplicates_dropped: duplicates,
        rejected_by_reason,
        imputed: imputed_counts,
        clipped: clipped_counts,
        extra_columns: map.extra.clone(),
        split: SplitReport::from(&split),
        outlier_rule: format!(
            "per category, values above Q3 + {}·IQR of log1p(value) on training days are clipped to that fence",
            opts.rule.k
        ),
        refit: RefitReport {
            imputed: refit_imputed_counts,
            clipped: refit_clipped_counts,
        },
        seconds: 0.0,
    };
    Ok(Cleaned {
        rows,
        imputed,
        clipped,
        rejections,
        stats,
        report,
        refit: Refit {
            rows: refit_rows,
            imputed: refit_imputed,
            clipped: refit_clipped,
            stats: refit_stats,
        },
    })
}

/// A table held in memory, for tests and for callers that already have strings.
#[derive(Debug, Clone, Default)]
pub struct MemTable {
    pub headers: Vec<String>,
    pub rows: Vec<Vec<Option<String>>>,
}

impl RawRows for MemTable {
    fn headers(&self) -> &[String] {
        &self.headers
    }
    fn len(&self) -> usize {
        self.rows.len()
    }
    fn cell(&self, row: usize, col: usize) -> Option<&str> {
        self.rows.get(row)?.get(col)?.as_deref()
    }
}

//! Per-column drift, dataset drift, new categories and missing rates between the reference
//! sample and a new batch, with Evidently 0.7.21's tests, defaults and thresholds.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::data::{ColumnData, Frame, MISSING, Role, Values};
use crate::stats::{self, Bins, ColumnType, Sample, StatTest};

/// Which tool's convention the drift numbers follow.
pub const CONVENTION: &str = "evidently 0.7.21 (legacy stattests: default test by type and reference size, Sturges bins over both datasets, zero fill for PSI, Jensen-Shannon in nats, population std)";

/// Shares of one column's bins, for the report's charts (at most [`MAX_BARS`] bars).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Histogram {
    pub labels: Vec<String>,
    pub reference: Vec<f64>,
    pub current: Vec<f64>,
}

/// Bars drawn per chart; the smallest categories beyond it are summed into one bar.
pub const MAX_BARS: usize = 25;

/// One column's comparison.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnDrift {
    pub column: String,
    pub role: Role,
    #[serde(rename = "type")]
    pub kind: ColumnType,
    /// Why the column was not tested (empty, all missing, constant); then no score.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test: Option<StatTest>,
    /// Evidently's name of the test, e.g. `Wasserstein distance (normed)`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test_name: Option<String>,
    /// The test's score: a p-value for KS, chi-squared and z, else a distance.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
    pub drifted: bool,
    /// PSI on Evidently's binning (every column), and its verdict at 0.1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub psi: Option<f64>,
    /// The KS statistic beside its p-value (the effect size), when KS was the test.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ks_statistic: Option<f64>,
    pub n_reference: usize,
    pub n_current: usize,
    pub missing_rate_reference: f64,
    pub missing_rate_current: f64,
    /// Categories of the batch never seen in the reference, with their rows.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub new_categories: Vec<(String, u64)>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub histogram: Option<Histogram>,
}

/// Dataset drift: the share of tested columns that drifted against `drift_share`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetDrift {
    pub tested_columns: usize,
    pub drifted_columns: usize,
    pub share: f64,
    pub drift_share: f64,
    pub drift: bool,
}

/// The drift part of a report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriftReport {
    pub convention: String,
    pub columns: Vec<ColumnDrift>,
    pub dataset: DatasetDrift,
    /// Why the tests raised no drift whatever their figures (a batch too small to test).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl DriftReport {
    /// Keeps the figures of a batch of `rows` rows but marks nothing as drifted, with the
    /// reason, when it is under `min_rows`.
    pub fn require_rows(&mut self, rows: usize, min_rows: usize) {
        if rows >= min_rows {
            return;
        }
        for c in &mut self.columns {
            c.drifted = false;
        }
        self.dataset.drift = false;
        self.dataset.drifted_columns = 0;
        self.dataset.share = 0.0;
        self.note = Some(format!(
            "drift not judged: the batch has {rows} valid rows, fewer than monitor.min_drift_rows ({min_rows}); the tests' figures are shown but on so few rows every test rejects"
        ));
    }
}

/// A numeric column's finite values, sorted (Evidently drops NaN and ±inf first).
fn finite_sorted(v: &[f64]) -> Vec<f64> {
    let mut out: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
    out.par_sort_unstable_by(f64::total_cmp);
    out
}

/// Counts per label of two categorical columns over their union: the reference's labels first,
/// then the batch's new ones.
struct Aligned {
    labels: Vec<String>,
    reference: Vec<u64>,
    current: Vec<u64>,
    /// Labels of the batch not in the reference (indexes into `labels`).
    new: Vec<usize>,
}

fn counts(codes: &[u32], n_labels: usize) -> Vec<u64> {
    codes
        .par_chunks(1 << 16)
        .fold(
            || vec![0u64; n_labels],
            |mut acc, chunk| {
                for &c in chunk {
                    if c != MISSING {
                        acc[c as usize] += 1;
                    }
                }
                acc
            },
        )
        .reduce(
            || vec![0u64; n_labels],
            |mut a, b| {
                a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
                a
            },
        )
}

fn align(r_codes: &[u32], r_labels: &[String], c_codes: &[u32], c_labels: &[String]) -> Aligned {
    let rc = counts(r_codes, r_labels.len());
    let cc = counts(c_codes, c_labels.len());
    let mut labels: Vec<String> = Vec::new();
    let mut reference = Vec::new();
    let mut index = std::collections::HashMap::new();
    for (l, &k) in r_labels.iter().zip(&rc) {
        if k > 0 {
            index.insert(l.as_str(), labels.len());
            labels.push(l.clone());
            reference.push(k);
        }
    }
    let mut current = vec![0u64; labels.len()];
    let mut new = Vec::new();
    for (l, &k) in c_labels.iter().zip(&cc) {
        if k == 0 {
            continue;
        }
        match index.get(l.as_str()) {
            Some(&i) => current[i] += k,
            None => {
                new.push(labels.len());
                labels.push(l.clone());
                reference.push(0);
                current.push(k);
            }
        }
    }
    Aligned {
        labels,
        reference,
        current,
        new,
    }
}

fn histogram_of(b: &stats::Binned, labels: &dyn Fn(usize) -> String) -> Histogram {
    let n = b.reference.len();
    let mut order: Vec<usize> = (0..n).collect();
    let categorical = matches!(b.bins, Bins::Codes { .. });
    if categorical && n > MAX_BARS {
        order.sort_by(|&a, &c| {
            (b.reference[c] + b.current[c]).total_cmp(&(b.reference[a] + b.current[a]))
        });
        let (keep, rest) = order.split_at(MAX_BARS - 1);
        let mut h = Histogram {
            labels: keep.iter().map(|&i| labels(i)).collect(),
            reference: keep.iter().map(|&i| b.reference[i]).collect(),
            current: keep.iter().map(|&i| b.current[i]).collect(),
        };
        h.labels.push(format!("{} others", rest.len()));
        h.reference.push(rest.iter().map(|&i| b.reference[i]).sum());
        h.current.push(rest.iter().map(|&i| b.current[i]).sum());
        return h;
    }
    Histogram {
        labels: order.iter().map(|&i| labels(i)).collect(),
        reference: b.reference.clone(),
        current: b.current.clone(),
    }
}

fn fmt_num(v: f64) -> String {
    let s = format!("{v:.4}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s.is_empty() || s == "-" {
        "0".into()
    } else {
        s.to_owned()
    }
}

/// Compares one column of the reference with the same column of the batch.
pub fn column_drift(reference: &ColumnData, current: &ColumnData) -> ColumnDrift {
    let mut out = ColumnDrift {
        column: reference.name.clone(),
        role: reference.role,
        kind: reference.kind,
        skipped: None,
        test: None,
        test_name: None,
        score: None,
        threshold: None,
        drifted: false,
        psi: None,
        ks_statistic: None,
        n_reference: 0,
        n_current: 0,
        missing_rate_reference: reference.values.missing_rate(),
        missing_rate_current: current.values.missing_rate(),
        new_categories: Vec::new(),
        histogram: None,
    };
    match (&reference.values, &current.values) {
        (Values::Num(r), Values::Num(c)) => {
            let (r, c) = rayon::join(|| finite_sorted(r), || finite_sorted(c));
            out.n_reference = r.len();
            out.n_current = c.len();
            if let Some(reason) = untestable(r.len(), c.len()) {
                out.skipped = Some(reason);
                return out;
            }
            let n_unique = stats::n_unique_union_sorted(&r, &c);
            if n_unique < 2 {
                out.skipped = Some(format!("constant: {} on both sides", fmt_num(r[0])));
                return out;
            }
            let test = stats::default_test(reference.kind, r.len(), n_unique);
            let b = stats::binned(reference.kind, Sample::Numbers(&r), Sample::Numbers(&c));
            let score = match test {
                StatTest::Ks => {
                    let ks = stats::ks_2samp(&r, &c);
                    out.ks_statistic = Some(ks.statistic);
                    ks.p_value
                }
                StatTest::Wasserstein => stats::wasserstein_normed(&r, &c),
                StatTest::JensenShannon => stats::jensen_shannon(&b),
                StatTest::Psi => stats::psi(&b),
                StatTest::ChiSquare | StatTest::Z => {
                    let (values, rc, cc) = stats::value_counts_sorted(&r, &c);
                    if test == StatTest::ChiSquare {
                        stats::chi_square(&rc, &cc)
                    } else {
                        let same = values.len() == 1;
                        stats::z_test(rc[0], r.len() as u64, cc[0], c.len() as u64, same)
                    }
                }
            };
            out.psi = Some(stats::psi(&b));
            finish(&mut out, test, score);
            let labels = |i: usize| match &b.bins {
                Bins::Edges { edges } => {
                    format!("{}–{}", fmt_num(edges[i]), fmt_num(edges[i + 1]))
                }
                Bins::Values { values } => fmt_num(values[i]),
                Bins::Codes { codes } => codes[i].to_string(),
            };
            out.histogram = Some(histogram_of(&b, &labels));
        }
        (
            Values::Cat {
                codes: rc,
                labels: rl,
            },
            Values::Cat {
                codes: cc,
                labels: cl,
            },
        ) => {
            let a = align(rc, rl, cc, cl);
            let nr: u64 = a.reference.iter().sum();
            let nc: u64 = a.current.iter().sum();
            out.n_reference = nr as usize;
            out.n_current = nc as usize;
            out.new_categories = a
                .new
                .iter()
                .map(|&i| (a.labels[i].clone(), a.current[i]))
                .collect();
            if let Some(reason) = untestable(nr as usize, nc as usize) {
                out.skipped = Some(reason);
                return out;
            }
            if a.labels.len() < 2 {
                out.skipped = Some(format!("constant: {:?} on both sides", a.labels[0]));
                return out;
            }
            let test = stats::default_test(reference.kind, nr as usize, a.labels.len());
            let b = stats::binned(
                reference.kind,
                Sample::Counts(&a.reference),
                Sample::Counts(&a.current),
            );
            let score = match test {
                StatTest::ChiSquare => stats::chi_square(&a.reference, &a.current),
                StatTest::Z => {
                    let first = (0..a.labels.len())
                        .min_by(|&x, &y| a.labels[x].cmp(&a.labels[y]))
                        .unwrap_or(0);
                    stats::z_test(a.reference[first], nr, a.current[first], nc, false)
                }
                StatTest::Psi => stats::psi(&b),
                _ => stats::jensen_shannon(&b),
            };
            out.psi = Some(stats::psi(&b));
            finish(&mut out, test, score);
            let labels = |i: usize| match &b.bins {
                Bins::Codes { codes } => a.labels[codes[i] as usize].clone(),
                _ => i.to_string(),
            };
            out.histogram = Some(histogram_of(&b, &labels));
        }
        _ => {
            out.skipped = Some("the reference and the batch disagree on the column's type".into());
        }
    }
    out
}

fn untestable(nr: usize, nc: usize) -> Option<String> {
    match (nr, nc) {
        (0, 0) => Some("no values on either side (empty or all missing)".into()),
        (0, _) => Some("no values in the reference (all missing)".into()),
        (_, 0) => Some("no values in the batch (empty or all missing)".into()),
        _ => None,
    }
}

fn finish(out: &mut ColumnDrift, test: StatTest, score: f64) {
    let threshold = test.default_threshold();
    out.test = Some(test);
    out.test_name = Some(test.evidently_name().to_owned());
    out.threshold = Some(threshold);
    out.drifted =
        score.is_finite() && test.drifted(score, threshold) || (test.is_p_value() && score == 0.0);
    out.score = Some(score);
}

/// Compares every column the reference and the batch share, in parallel.
pub fn compare(reference: &Frame, current: &Frame, drift_share: f64) -> DriftReport {
    let pairs: Vec<(&ColumnData, &ColumnData)> = reference
        .columns
        .iter()
        .filter_map(|r| current.get(&r.name).map(|c| (r, c)))
        .collect();
    let columns: Vec<ColumnDrift> = pairs.par_iter().map(|(r, c)| column_drift(r, c)).collect();
    let tested = columns.iter().filter(|c| c.skipped.is_none()).count();
    let drifted = columns.iter().filter(|c| c.drifted).count();
    let share = if tested == 0 {
        0.0
    } else {
        drifted as f64 / tested as f64
    };
    DriftReport {
        convention: CONVENTION.to_owned(),
        columns,
        dataset: DatasetDrift {
            tested_columns: tested,
            drifted_columns: drifted,
            share,
            drift_share,
            drift: tested > 0 && share >= drift_share,
        },
        note: None,
    }
}

//! Column drift statistics computed the way Evidently 0.7.21 computes them, quirks included, so
//! that our numbers can be checked against its report (`tests/evidently.rs`):
//!
//! - the test is chosen by column type, reference size and the unique values of both datasets;
//! - PSI and Jensen–Shannon share the binning: equal-width Sturges bins over reference and
//!   current together when the reference has more than 20 unique numeric values, otherwise one
//!   bin per value of either dataset;
//! - PSI fills empty bins with `min_nonzero / 1e6` (or `1e-4`) on each side and does not
//!   renormalise; Jensen–Shannon is scipy's distance in nats;
//! - normed Wasserstein divides by the reference's population standard deviation;
//! - KS is `scipy.stats.ks_2samp` with `method="auto"` (exact below 10,001 rows per side);
//! - KS drifts at `p <= threshold`, chi-squared and z at `p < threshold`, distances at
//!   `score >= threshold`.
//!
//! Every function takes cleaned data: finite numbers, or category codes, never missing values.

use serde::{Deserialize, Serialize};
use statrs::distribution::{ChiSquared, ContinuousCDF, Normal};

/// How Evidently treats a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnType {
    Numerical,
    Categorical,
}

/// A drift test, with Evidently's name and default threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StatTest {
    Ks,
    ChiSquare,
    Z,
    Wasserstein,
    JensenShannon,
    Psi,
}

impl StatTest {
    /// Evidently's `stattest_name` as shown in its report.
    pub fn evidently_name(self) -> &'static str {
        match self {
            StatTest::Ks => "K-S p_value",
            StatTest::ChiSquare => "chi-square p_value",
            StatTest::Z => "Z-test p_value",
            StatTest::Wasserstein => "Wasserstein distance (normed)",
            StatTest::JensenShannon => "Jensen-Shannon distance",
            StatTest::Psi => "PSI",
        }
    }

    /// Evidently's default threshold.
    pub fn default_threshold(self) -> f64 {
        match self {
            StatTest::Ks | StatTest::ChiSquare | StatTest::Z => 0.05,
            StatTest::Wasserstein | StatTest::JensenShannon | StatTest::Psi => 0.1,
        }
    }

    /// Whether the score is a p-value (small means drift) rather than a distance.
    pub fn is_p_value(self) -> bool {
        matches!(self, StatTest::Ks | StatTest::ChiSquare | StatTest::Z)
    }

    /// Evidently's decision, with each test's own comparison.
    pub fn drifted(self, score: f64, threshold: f64) -> bool {
        match self {
            StatTest::Ks => score <= threshold,
            StatTest::ChiSquare | StatTest::Z => score < threshold,
            StatTest::Wasserstein | StatTest::JensenShannon | StatTest::Psi => score >= threshold,
        }
    }
}

/// Evidently's default test (`_get_default_stattest`): `ref_len` is the cleaned reference's
/// length, `n_unique` the unique values over both datasets.
pub fn default_test(kind: ColumnType, ref_len: usize, n_unique: usize) -> StatTest {
    match (kind, ref_len <= 1000) {
        (ColumnType::Numerical, true) if n_unique > 5 => StatTest::Ks,
        (ColumnType::Numerical, true) if n_unique > 2 => StatTest::ChiSquare,
        (ColumnType::Numerical, true) => StatTest::Z,
        (ColumnType::Categorical, true) if n_unique > 2 => StatTest::ChiSquare,
        (ColumnType::Categorical, true) => StatTest::Z,
        (ColumnType::Numerical, false) if n_unique > 5 => StatTest::Wasserstein,
        (ColumnType::Numerical, false) => StatTest::JensenShannon,
        (ColumnType::Categorical, false) => StatTest::JensenShannon,
    }
}

/// One side of a comparison, cleaned: sorted finite numbers, or category codes with their
/// counts (`counts[code]`).
#[derive(Debug, Clone, Copy)]
pub enum Sample<'a> {
    Numbers(&'a [f64]),
    Counts(&'a [u64]),
}

/// The smaller of the next values of two sorted samples (`a[i]`, `b[j]`): the step of a merged
/// walk over both.
fn smallest_next(a: &[f64], i: usize, b: &[f64], j: usize) -> Option<f64> {
    match (a.get(i), b.get(j)) {
        (Some(&x), Some(&y)) => Some(x.min(y)),
        (Some(&x), None) => Some(x),
        (None, Some(&y)) => Some(y),
        (None, None) => None,
    }
}

/// Counts per value over the union of both sides (the keys of Evidently's value bins), in
/// ascending value order, for sorted numeric samples.
pub fn value_counts_sorted(reference: &[f64], current: &[f64]) -> (Vec<f64>, Vec<u64>, Vec<u64>) {
    let (mut i, mut j) = (0, 0);
    let (mut keys, mut r, mut c) = (Vec::new(), Vec::new(), Vec::new());
    while i < reference.len() || j < current.len() {
        let Some(v) = smallest_next(reference, i, current, j) else {
            break;
        };
        let i0 = i;
        while i < reference.len() && reference[i] == v {
            i += 1;
        }
        let j0 = j;
        while j < current.len() && current[j] == v {
            j += 1;
        }
        keys.push(v);
        r.push((i - i0) as u64);
        c.push((j - j0) as u64);
    }
    (keys, r, c)
}

/// Unique values of a sorted slice.
pub fn n_unique_sorted(v: &[f64]) -> usize {
    if v.is_empty() {
        return 0;
    }
    1 + v.windows(2).filter(|w| w[0] != w[1]).count()
}

/// Unique values over both sorted samples.
pub fn n_unique_union_sorted(reference: &[f64], current: &[f64]) -> usize {
    value_counts_sorted(reference, current).0.len()
}

/// `numpy.linspace(start, stop, num)` bit for bit: `i * step + start`, the last point `stop`.
fn linspace(start: f64, stop: f64, num: usize) -> Vec<f64> {
    if num == 1 {
        return vec![start];
    }
    let div = (num - 1) as f64;
    let delta = stop - start;
    let step = delta / div;
    let mut out: Vec<f64> = (0..num)
        .map(|i| {
            let y = i as f64;
            if step == 0.0 {
                y / div * delta + start
            } else {
                y * step + start
            }
        })
        .collect();
    out[num - 1] = stop;
    out
}

/// `numpy.histogram_bin_edges(values, bins="sturges")` for data spanning `min..=max` with `n`
/// values: `ceil(ptp / (log2(n) + 1))`-style equal-width edges.
pub fn sturges_edges(min: f64, max: f64, n: usize) -> Vec<f64> {
    let (mut first, mut last) = (min, max);
    if first == last {
        first -= 0.5;
        last += 0.5;
    }
    let width = (max - min) / ((n as f64).log2() + 1.0);
    let bins = if width != 0.0 {
        ((last - first) / width).ceil() as usize
    } else {
        1
    };
    linspace(first, last, bins.max(1) + 1)
}

/// `numpy.histogram(sorted, edges)[0]` for explicit edges: `[e_i, e_{i+1})`, the last bin closed.
pub fn histogram_sorted(sorted: &[f64], edges: &[f64]) -> Vec<u64> {
    let below = |e: f64| sorted.partition_point(|&v| v < e) as u64;
    let last = edges.len() - 1;
    let mut cum: Vec<u64> = edges[..last].iter().map(|&e| below(e)).collect();
    cum.push(sorted.partition_point(|&v| v <= edges[last]) as u64);
    cum.windows(2).map(|w| w[1] - w[0]).collect()
}

/// The shares PSI and Jensen–Shannon compare (`get_binned_data`), with the bin labels: edges
/// for Sturges bins, or the value of each value bin.
#[derive(Debug, Clone, PartialEq)]
pub struct Binned {
    pub reference: Vec<f64>,
    pub current: Vec<f64>,
    pub bins: Bins,
}

/// How a column was binned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Bins {
    /// Equal-width edges over both datasets (Sturges' rule).
    Edges { edges: Vec<f64> },
    /// One bin per numeric value.
    Values { values: Vec<f64> },
    /// One bin per category code.
    Codes { codes: Vec<u32> },
}

/// Bins both sides as Evidently does.
pub fn binned(kind: ColumnType, reference: Sample<'_>, current: Sample<'_>) -> Binned {
    match (reference, current) {
        (Sample::Numbers(r), Sample::Numbers(c)) => {
            let (nr, nc) = (r.len() as f64, c.len() as f64);
            if kind == ColumnType::Numerical && n_unique_sorted(r) > 20 {
                let min = r[0].min(c.first().copied().unwrap_or(r[0]));
                let max = r[r.len() - 1].max(c.last().copied().unwrap_or(r[r.len() - 1]));
                let edges = sturges_edges(min, max, r.len() + c.len());
                let share = |v: &[f64], n: f64| {
                    histogram_sorted(v, &edges)
                        .into_iter()
                        .map(|k| k as f64 / n)
                        .collect()
                };
                Binned {
                    reference: share(r, nr),
                    current: share(c, nc),
                    bins: Bins::Edges { edges },
                }
            } else {
                let (values, rc, cc) = value_counts_sorted(r, c);
                Binned {
                    reference: rc.iter().map(|&k| k as f64 / nr).collect(),
                    current: cc.iter().map(|&k| k as f64 / nc).collect(),
                    bins: Bins::Values { values },
                }
            }
        }
        (Sample::Counts(r), Sample::Counts(c)) => {
            let (nr, nc) = (r.iter().sum::<u64>() as f64, c.iter().sum::<u64>() as f64);
            let codes: Vec<u32> = (0..r.len().max(c.len()))
                .filter(|&k| r.get(k).copied().unwrap_or(0) + c.get(k).copied().unwrap_or(0) > 0)
                .map(|k| k as u32)
                .collect();
            let share = |v: &[u64], n: f64| {
                codes
                    .iter()
                    .map(|&k| v.get(k as usize).copied().unwrap_or(0) as f64 / n)
                    .collect()
            };
            Binned {
                reference: share(r, nr),
                current: share(c, nc),
                bins: Bins::Codes { codes },
            }
        }
        _ => Binned {
            reference: Vec::new(),
            current: Vec::new(),
            bins: Bins::Codes { codes: Vec::new() },
        },
    }
}

/// Evidently's zero fill (`feel_zeroes`): empty bins get `min_nonzero / 1e6` when the smallest
/// non-empty share is at most 1e-4, else 1e-4. Not renormalised.
fn zero_filled(shares: &[f64]) -> Vec<f64> {
    let min = shares
        .iter()
        .copied()
        .filter(|&s| s != 0.0)
        .fold(f64::INFINITY, f64::min);
    let fill = if min <= 1e-4 { min / 1e6 } else { 1e-4 };
    shares
        .iter()
        .map(|&s| if s == 0.0 { fill } else { s })
        .collect()
}

/// Population stability index on binned shares: `Σ (r − c)·ln(r / c)`, after the zero fill.
pub fn psi(b: &Binned) -> f64 {
    let r = zero_filled(&b.reference);
    let c = zero_filled(&b.current);
    r.iter()
        .zip(&c)
        .map(|(&r, &c)| (r - c) * (r / c).ln())
        .sum()
}

/// `x·ln(x/y)` with scipy's `rel_entr` conventions for the cases that occur here.
fn rel_entr(x: f64, y: f64) -> f64 {
    if x > 0.0 && y > 0.0 {
        x * (x / y).ln()
    } else if x == 0.0 && y >= 0.0 {
        0.0
    } else {
        f64::INFINITY
    }
}

/// `scipy.spatial.distance.jensenshannon(r, c)` (natural log): the shares renormalised, then
/// `sqrt((KL(r‖m) + KL(c‖m)) / 2)` with `m` their mean.
pub fn jensen_shannon(b: &Binned) -> f64 {
    let sr: f64 = b.reference.iter().sum();
    let sc: f64 = b.current.iter().sum();
    let (mut left, mut right) = (0.0, 0.0);
    for (&r, &c) in b.reference.iter().zip(&b.current) {
        let (p, q) = (r / sr, c / sc);
        let m = (p + q) / 2.0;
        left += rel_entr(p, m);
        right += rel_entr(q, m);
    }
    ((left + right) / 2.0).sqrt()
}

/// Population standard deviation (`numpy.std`, ddof 0).
pub fn population_std(v: &[f64]) -> f64 {
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n).sqrt()
}

/// `scipy.stats.wasserstein_distance` on sorted samples: `∫ |F_r − F_c| dx` over the merged
/// values.
pub fn wasserstein_sorted(r: &[f64], c: &[f64]) -> f64 {
    let (nr, nc) = (r.len() as f64, c.len() as f64);
    let (mut i, mut j) = (0usize, 0usize);
    let mut total = 0.0;
    let mut prev: Option<f64> = None;
    // Walk the merged values; between two consecutive merged values the CDFs are constant.
    while i < r.len() || j < c.len() {
        let Some(v) = smallest_next(r, i, c, j) else {
            break;
        };
        if let Some(p) = prev {
            let fr = i as f64 / nr;
            let fc = j as f64 / nc;
            total += (fr - fc).abs() * (v - p);
        }
        // Consume one occurrence (scipy's merged array keeps duplicates; a zero-width step
        // adds nothing, so advancing one value at a time gives the same sum).
        if r.get(i) == Some(&v) {
            i += 1;
        } else {
            j += 1;
        }
        prev = Some(v);
    }
    total
}

/// Evidently's normed Wasserstein distance: W1 over the reference's population standard
/// deviation (at least 0.001).
pub fn wasserstein_normed(r: &[f64], c: &[f64]) -> f64 {
    wasserstein_sorted(r, c) / population_std(r).max(0.001)
}

/// The two-sample KS result: the statistic and the two-sided p-value.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Ks {
    pub statistic: f64,
    pub p_value: f64,
    /// `exact` or `asymp`, as scipy's `method="auto"` chose.
    pub method: &'static str,
}

/// scipy's `MAX_AUTO_N`: above it `auto` uses the asymptotic distribution.
const MAX_AUTO_N: usize = 10_000;

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// `scipy.stats.ks_2samp(r, c)` on sorted samples (two-sided, `method="auto"`).
pub fn ks_2samp(r: &[f64], c: &[f64]) -> Ks {
    let (n1, n2) = (r.len() as u64, c.len() as u64);
    // The statistic as an integer: max |x·n2 − y·n1| over the merged walk, after each value.
    let (mut i, mut j) = (0usize, 0usize);
    let mut best: u64 = 0;
    while i < r.len() || j < c.len() {
        let Some(v) = smallest_next(r, i, c, j) else {
            break;
        };
        while i < r.len() && r[i] == v {
            i += 1;
        }
        while j < c.len() && c[j] == v {
            j += 1;
        }
        let diff = (i as u64 * n2).abs_diff(j as u64 * n1);
        best = best.max(diff);
    }
    let g = gcd(n1, n2);
    let lcm = (n1 / g) * n2;
    let h = best / g;
    let d = h as f64 / lcm as f64;
    if r.len().max(c.len()) <= MAX_AUTO_N {
        let p = if h == 0 {
            1.0
        } else {
            1.0 - prob_inside(n1, n2, g, h)
        };
        return Ks {
            statistic: d,
            p_value: p.clamp(0.0, 1.0),
            method: "exact",
        };
    }
    let (m, n) = (n1.max(n2) as f64, n1.min(n2) as f64);
    let en = (m * n / (m + n)).round_ties_even();
    Ks {
        statistic: d,
        p_value: kolmogorov_sf(en as u64, d).clamp(0.0, 1.0),
        method: "asymp",
    }
}

/// The probability that a uniformly random lattice path from (0,0) to (n1,n2) stays strictly
/// inside `|x·n2/g − y·n1/g| < h`: the exact null distribution of the two-sided statistic.
/// Each entry holds paths-inside over all paths to that point, so the values stay in [0, 1]
/// (`B(x,y) = (x·B(x−1,y) + y·B(x,y−1)) / (x+y)`). The outer loop runs over the smaller sample.
fn prob_inside(n1: u64, n2: u64, g: u64, h: u64) -> f64 {
    let (m, n) = if n1 <= n2 { (n1, n2) } else { (n2, n1) };
    let (mg, ng) = ((m / g) as i128, (n / g) as i128);
    let h = h as i128;
    let inside = |x: u64, y: u64| (x as i128 * ng - y as i128 * mg).abs() < h;
    let len = n as usize + 1;
    let mut prev = vec![0.0f64; len];
    for (y, v) in prev.iter_mut().enumerate() {
        if !inside(0, y as u64) {
            break;
        }
        *v = 1.0;
    }
    let mut cur = vec![0.0f64; len];
    for x in 1..=m {
        // The window of y inside the band for this x: |x·ng − y·mg| < h.
        let centre = x as i128 * ng;
        let lo = ((centre - h).div_euclid(mg) + 1).max(0) as usize;
        let hi = ((centre + h - 1).div_euclid(mg)).min(n as i128) as usize;
        if lo > hi {
            return 0.0;
        }
        cur.iter_mut().for_each(|v| *v = 0.0);
        let xf = x as f64;
        for y in lo..=hi {
            if !inside(x, y as u64) {
                continue;
            }
            let left = if y > 0 { cur[y - 1] } else { 0.0 };
            let yf = y as f64;
            cur[y] = (xf * prev[y] + yf * left) / (xf + yf);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[n as usize]
}

/// `ln(n!)`.
fn ln_factorial(n: u64) -> f64 {
    statrs::function::gamma::ln_gamma(n as f64 + 1.0)
}

/// `scipy.special.smirnov(n, x)`: the exact one-sided `P(D⁺_n ≥ x)` (Birnbaum–Tingey sum).
pub fn smirnov(n: u64, x: f64) -> f64 {
    if x <= 0.0 {
        return 1.0;
    }
    if x >= 1.0 {
        return 0.0;
    }
    let nf = n as f64;
    let jmax = (nf * (1.0 - x)).floor() as u64;
    let mut total = 0.0;
    for j in 0..=jmax {
        let jf = j as f64;
        let a = x + jf / nf;
        let b = 1.0 - x - jf / nf;
        if b <= 0.0 && n > j {
            continue;
        }
        let lc = ln_factorial(n) - ln_factorial(j) - ln_factorial(n - j);
        let term = lc + (jf - 1.0) * a.ln() + if n > j { (nf - jf) * b.ln() } else { 0.0 };
        total += term.exp();
    }
    (x * total).clamp(0.0, 1.0)
}

/// The exact Kolmogorov distribution `P(D_n < d)` by Marsaglia, Tsang and Wang's matrix power
/// (Durbin's matrix), with a separate exponent against overflow.
pub fn kolmogorov_cdf_exact(n: u64, d: f64) -> f64 {
    let nf = n as f64;
    let k = (nf * d).floor() as usize + 1;
    let m = 2 * k - 1;
    let h = k as f64 - nf * d;
    let mut hm = vec![0.0f64; m * m];
    for i in 0..m {
        for j in 0..m {
            hm[i * m + j] = if i + 1 >= j { 1.0 } else { 0.0 };
        }
    }
    for i in 0..m {
        hm[i * m] -= h.powi(i as i32 + 1);
        hm[(m - 1) * m + i] -= h.powi((m - i) as i32);
    }
    if 2.0 * h - 1.0 > 0.0 {
        hm[(m - 1) * m] += (2.0 * h - 1.0).powi(m as i32);
    }
    for i in 0..m {
        for j in 0..m {
            if i + 1 > j {
                for g in 1..=(i + 1 - j) {
                    hm[i * m + j] /= g as f64;
                }
            }
        }
    }
    let (q, e) = matrix_power(&hm, m, n);
    let s = q[(k - 1) * m + (k - 1)];
    if s <= 0.0 {
        return 0.0;
    }
    let ln = s.ln() + e as f64 * SCALE_LN + ln_factorial(n) - nf * nf.ln();
    ln.exp().clamp(0.0, 1.0)
}

const SCALE: f64 = 1e140;
const SCALE_LN: f64 = 322.361_913_760_429_3; // ln(1e140)

fn matmul(a: &[f64], b: &[f64], m: usize) -> Vec<f64> {
    let mut c = vec![0.0; m * m];
    for i in 0..m {
        for k in 0..m {
            let aik = a[i * m + k];
            if aik == 0.0 {
                continue;
            }
            for j in 0..m {
                c[i * m + j] += aik * b[k * m + j];
            }
        }
    }
    c
}

/// `a^n` and the power of `SCALE` divided out along the way.
fn matrix_power(a: &[f64], m: usize, n: u64) -> (Vec<f64>, i64) {
    if n == 1 {
        return (a.to_vec(), 0);
    }
    let (half, e) = matrix_power(a, m, n / 2);
    let mut v = matmul(&half, &half, m);
    let mut ev = 2 * e;
    if n % 2 == 1 {
        v = matmul(a, &v, m);
    }
    let centre = v[(m / 2) * m + m / 2];
    if centre > SCALE {
        v.iter_mut().for_each(|x| *x /= SCALE);
        ev += 1;
    }
    (v, ev)
}

/// `scipy.stats.kstwo.sf(d, n)`, following scipy's choice of method by region: 2·smirnov for
/// large `n·d²` (and `d ≥ 0.5`), the exact distribution elsewhere.
pub fn kolmogorov_sf(n: u64, d: f64) -> f64 {
    if n == 0 {
        return f64::NAN;
    }
    if d >= 1.0 {
        return 0.0;
    }
    if d <= 0.0 {
        return 1.0;
    }
    let nf = n as f64;
    let t = nf * d;
    if t >= nf - 1.0 {
        return 2.0 * (1.0 - d).powf(nf);
    }
    if d >= 0.5 {
        return 2.0 * smirnov(n, d);
    }
    let nxsq = t * d;
    if n <= 140 {
        if nxsq <= 4.0 {
            return 1.0 - kolmogorov_cdf_exact(n, d);
        }
        return 2.0 * smirnov(n, d);
    }
    if nxsq >= 370.0 {
        return 0.0;
    }
    if nxsq >= 2.2 {
        return (2.0 * smirnov(n, d)).clamp(0.0, 1.0);
    }
    if nxsq >= 18.0 {
        return 0.0;
    }
    let cdf = if n <= 100_000 && nf * d.powf(1.5) <= 1.4 {
        kolmogorov_cdf_exact(n, d)
    } else {
        pelz_good_cdf(n, d)
    };
    (1.0 - cdf.clamp(0.0, 1.0)).clamp(0.0, 1.0)
}

/// The Pelz–Good (1976) approximation of `P(D_n ≤ x)`: Li-Chien and Korolyuk's expansion
/// `K0(z) + K1(z)/√n + K2(z)/n + K3(z)/n^1.5` at `z = x√n`, in the theta-function form that
/// suits small `z`. scipy uses it for large `n` between its exact and one-sided regions, so we
/// use it there too to give the same p-values.
pub fn pelz_good_cdf(n: u64, x: f64) -> f64 {
    use std::f64::consts::PI;
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let nf = n as f64;
    let z = nf.sqrt() * x;
    let (z2, z3, z4, z6) = (z * z, z.powi(3), z.powi(4), z.powi(6));
    let qlog = -PI * PI / 8.0 / z2;
    if qlog < -708.0 {
        return 0.0;
    }
    let q = qlog.exp();
    let (pi2, pi4, pi6) = (PI * PI, PI.powi(4), PI.powi(6));
    let k1a = -z2;
    let k1b = pi2 / 4.0;
    let k2a = 6.0 * z6 + 2.0 * z4;
    let k2b = (2.0 * z4 - 5.0 * z2) * pi2 / 4.0;
    let k2c = pi4 * (1.0 - 2.0 * z2) / 16.0;
    let k3d = pi6 * (5.0 - 30.0 * z2) / 64.0;
    let k3c = pi4 * (-60.0 * z2 + 212.0 * z4) / 16.0;
    let k3b = pi2 * (135.0 * z4 - 96.0 * z6) / 4.0;
    let k3a = -30.0 * z6 - 90.0 * z.powi(8);
    let maxk = (16.0 * z / PI).ceil() as i64;
    let mut k = [0.0f64; 4];
    for kk in (1..=maxk).rev() {
        let m = (2 * kk - 1) as f64;
        let (m2, m4, m6) = (m * m, m.powi(4), m.powi(6));
        let qp = q.powf(8.0 * kk as f64);
        let coeffs = [
            1.0,
            k1a + k1b * m2,
            k2a + k2b * m2 + k2c * m4,
            k3a + k3b * m2 + k3c * m4 + k3d * m6,
        ];
        for i in 0..4 {
            k[i] = k[i] * qp + coeffs[i];
        }
    }
    let sqrt2pi = (2.0 * PI).sqrt();
    let div = [z, 6.0 * z4, 72.0 * z.powi(7), 6480.0 * z.powi(10)];
    for i in 0..4 {
        k[i] = k[i] * q * sqrt2pi / div[i];
    }
    let q2 = (-pi2 / 2.0 / z2).exp();
    let sqrt3z = 3f64.sqrt() * z;
    let (mut k2extra, mut k3extra) = (0.0, 0.0);
    for kk in (1..=maxk).rev() {
        let kf = kk as f64;
        let ksq = kf * kf;
        let qp = q2.powf(ksq);
        k2extra += ksq * qp;
        let kspi = PI * kf;
        k3extra += (sqrt3z + kspi) * (sqrt3z - kspi) * ksq * qp;
    }
    k[2] += k2extra * pi2 * sqrt2pi / (-36.0 * z3);
    k[3] += k3extra * pi2 * sqrt2pi / (216.0 * z6);
    (0..4).map(|i| k[i] / nf.powf(i as f64 / 2.0)).sum()
}

/// `scipy.stats.chisquare` of current counts against reference counts scaled to the current
/// size, over the union of values (Evidently's `chisquare` test): the p-value.
pub fn chi_square(reference: &[u64], current: &[u64]) -> f64 {
    let nr: u64 = reference.iter().sum();
    let nc: u64 = current.iter().sum();
    let k_norm = nc as f64 / nr as f64;
    let mut stat = 0.0;
    let mut k = 0usize;
    for i in 0..reference.len().max(current.len()) {
        let r = reference.get(i).copied().unwrap_or(0);
        let c = current.get(i).copied().unwrap_or(0);
        if r == 0 && c == 0 {
            continue;
        }
        k += 1;
        let e = r as f64 * k_norm;
        let o = c as f64;
        stat += if e == 0.0 {
            f64::INFINITY
        } else {
            (o - e).powi(2) / e
        };
    }
    if k < 2 {
        return f64::NAN;
    }
    if stat.is_infinite() {
        return 0.0;
    }
    match ChiSquared::new((k - 1) as f64) {
        Ok(d) => d.sf(stat),
        Err(_) => f64::NAN,
    }
}

/// Evidently's two-proportion z-test: the first key of the sorted union against the rest;
/// `p = 2·(1 − Φ(|z|))`. `first_*` count the rows equal to the first key; both sides holding
/// one and the same single value gives 1.
pub fn z_test(first_ref: u64, n_ref: u64, first_cur: u64, n_cur: u64, same_single: bool) -> f64 {
    if same_single {
        return 1.0;
    }
    let (n1, n2) = (n_ref as f64, n_cur as f64);
    // Evidently maps the first key to 0 and the rest to 1, so p is the share of the rest.
    let p1 = (n_ref - first_ref) as f64 / n1;
    let p2 = (n_cur - first_cur) as f64 / n2;
    let pooled = (p1 * n1 + p2 * n2) / (n1 + n2);
    let z = (p1 - p2) / (pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n2)).sqrt();
    let Ok(normal) = Normal::new(0.0, 1.0) else {
        return f64::NAN;
    };
    2.0 * (1.0 - normal.cdf(z.abs()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chi_square_matches_evidentlys_golden_value() {
        // tests/stattests/test_stattests.py: p = 0.67309, unchanged with the reference doubled.
        let p = chi_square(&[16, 18, 16, 14, 12, 12], &[16, 16, 16, 16, 16, 8]);
        assert!((p - 0.67309).abs() < 5e-6, "{p}");
        let p2 = chi_square(&[32, 36, 32, 28, 24, 24], &[16, 16, 16, 16, 16, 8]);
        assert!((p - p2).abs() < 1e-12);
    }

    #[test]
    fn default_tests_follow_evidentlys_registry() {
        assert_eq!(
            default_test(ColumnType::Numerical, 11000, 11),
            StatTest::Wasserstein
        );
        assert_eq!(
            default_test(ColumnType::Numerical, 5000, 5),
            StatTest::JensenShannon
        );
        assert_eq!(default_test(ColumnType::Categorical, 20, 2), StatTest::Z);
        assert_eq!(default_test(ColumnType::Numerical, 1000, 6), StatTest::Ks);
        assert_eq!(
            default_test(ColumnType::Numerical, 1001, 6),
            StatTest::Wasserstein
        );
        assert_eq!(
            default_test(ColumnType::Categorical, 1000, 3),
            StatTest::ChiSquare
        );
    }

    #[test]
    fn sturges_gives_22_bins_for_two_million_values() {
        let e = sturges_edges(0.0, 1.0, 2_000_000);
        assert_eq!(e.len(), 23);
        assert_eq!(e[0], 0.0);
        assert_eq!(e[22], 1.0);
    }

    #[test]
    fn histogram_closes_the_last_bin_only() {
        let v = [0.0, 0.5, 1.0, 1.0, 2.0];
        assert_eq!(histogram_sorted(&v, &[0.0, 1.0, 2.0]), vec![2, 3]);
    }

    #[test]
    fn identical_samples_do_not_drift() {
        let v: Vec<f64> = (0..500).map(|i| f64::from(i % 37)).collect();
        let mut s = v.clone();
        s.sort_by(f64::total_cmp);
        let ks = ks_2samp(&s, &s);
        assert_eq!(ks.statistic, 0.0);
        assert_eq!(ks.p_value, 1.0);
        assert_eq!(wasserstein_sorted(&s, &s), 0.0);
        let b = binned(
            ColumnType::Numerical,
            Sample::Numbers(&s),
            Sample::Numbers(&s),
        );
        assert!(psi(&b).abs() < 1e-15);
        assert!(jensen_shannon(&b).abs() < 1e-7);
    }

    #[test]
    fn exact_ks_p_value_of_a_tiny_case() {
        // Samples {1,2} and {3,4}: D = 1; of the C(4,2) = 6 orderings only 2 reach D = 1.
        let ks = ks_2samp(&[1.0, 2.0], &[3.0, 4.0]);
        assert_eq!(ks.statistic, 1.0);
        assert!((ks.p_value - 2.0 / 6.0).abs() < 1e-12, "{}", ks.p_value);
    }

    #[test]
    fn kolmogorov_regions_agree_where_they_meet() {
        // Near n·d² = 2.2 the exact distribution and 2·smirnov must agree closely.
        let n = 1000;
        let d = (2.2f64 / 1000.0).sqrt();
        let exact = 1.0 - kolmogorov_cdf_exact(n, d);
        let smirnov2 = 2.0 * smirnov(n, d);
        assert!((exact - smirnov2).abs() < 1e-4, "{exact} vs {smirnov2}");
        // Asymptotic limit: P(√n·D ≥ 1.36) ≈ 0.049.
        let p = kolmogorov_sf(10_000, 1.36 / 100.0);
        assert!((p - 0.049).abs() < 0.002, "{p}");
    }

    #[test]
    fn z_test_of_equal_shares_is_one() {
        assert!((z_test(50, 100, 50, 100, false) - 1.0).abs() < 1e-12);
        assert_eq!(z_test(10, 10, 5, 5, true), 1.0);
    }
}

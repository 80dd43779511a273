//! Training data and its binned form.

use rayon::prelude::*;

use crate::error::{ModelError, Result};

/// A row-major feature matrix with a target, and the names of its columns.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    pub n_rows: usize,
    pub n_features: usize,
    /// Row-major values, `n_rows × n_features`.
    pub x: Vec<f64>,
    pub y: Vec<f64>,
    pub feature_names: Vec<String>,
}

impl Dataset {
    /// Checks the shapes and that every target is finite.
    pub fn new(x: Vec<f64>, y: Vec<f64>, feature_names: Vec<String>) -> Result<Self> {
        let n_features = feature_names.len();
        if n_features == 0 || x.len() != y.len() * n_features {
            return Err(ModelError::Shape {
                what: "feature matrix",
                expected: y.len() * n_features,
                got: x.len(),
            });
        }
        if let Some(row) = y.iter().position(|v| !v.is_finite()) {
            return Err(ModelError::NonFiniteTarget { row });
        }
        Ok(Self {
            n_rows: y.len(),
            n_features,
            x,
            y,
            feature_names,
        })
    }

    pub fn row(&self, i: usize) -> &[f64] {
        &self.x[i * self.n_features..(i + 1) * self.n_features]
    }

    /// The rows `range`, as a new dataset.
    pub fn slice(&self, range: std::ops::Range<usize>) -> Self {
        let d = self.n_features;
        Self {
            n_rows: range.len(),
            n_features: d,
            x: self.x[range.start * d..range.end * d].to_vec(),
            y: self.y[range.clone()].to_vec(),
            feature_names: self.feature_names.clone(),
        }
    }
}

/// Bin edges per feature: a value `v` falls in bin `b` when `edges[b-1] < v <= edges[b]`.
/// At most 256 bins, so a binned value is one byte; histograms then cost 256 cells a feature,
/// whatever the number of rows.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BinMapper {
    pub edges: Vec<Vec<f64>>,
}

/// Rows sampled to find bin edges: quantiles of 200,000 values are as good as of all of them.
const EDGE_SAMPLE: usize = 200_000;

impl BinMapper {
    pub fn fit(data: &Dataset, max_bins: usize) -> Self {
        let max_bins = max_bins.clamp(2, 256);
        let step = data.n_rows.div_ceil(EDGE_SAMPLE).max(1);
        let edges = (0..data.n_features)
            .into_par_iter()
            .map(|f| {
                let mut v: Vec<f64> = (0..data.n_rows)
                    .step_by(step)
                    .map(|i| data.x[i * data.n_features + f])
                    .filter(|v| !v.is_nan())
                    .collect();
                v.sort_unstable_by(f64::total_cmp);
                let mut distinct = v.clone();
                distinct.dedup();
                if distinct.len() <= max_bins {
                    distinct
                        .windows(2)
                        .map(|w| w[0] + (w[1] - w[0]) / 2.0)
                        .collect()
                } else {
                    let mut e: Vec<f64> = (1..max_bins)
                        .map(|k| {
                            let i = k * (v.len() - 1) / max_bins;
                            // midway to the next distinct value, so that ties stay together
                            let j = v.partition_point(|&x| x <= v[i]);
                            if j < v.len() {
                                v[i] + (v[j] - v[i]) / 2.0
                            } else {
                                v[i]
                            }
                        })
                        .collect();
                    e.dedup();
                    e
                }
            })
            .collect();
        Self { edges }
    }

    pub fn n_bins(&self, f: usize) -> usize {
        self.edges[f].len() + 1
    }

    pub fn bin(&self, f: usize, v: f64) -> u8 {
        self.edges[f].partition_point(|&e| e < v) as u8
    }

    /// Bins every value of `data` (row-major, rows in parallel).
    pub fn transform(&self, data: &Dataset) -> Binned {
        let d = data.n_features;
        let mut bins = vec![0u8; data.n_rows * d];
        bins.par_chunks_mut(d * 1024)
            .zip(data.x.par_chunks(d * 1024))
            .for_each(|(out, x)| {
                for (k, (o, v)) in out.iter_mut().zip(x).enumerate() {
                    *o = self.bin(k % d, *v);
                }
            });
        let mut columns = vec![0u8; bins.len()];
        columns
            .par_chunks_mut(data.n_rows.max(1))
            .enumerate()
            .for_each(|(f, col)| {
                for (c, row) in col.iter_mut().zip(bins.chunks_exact(d)) {
                    *c = row[f];
                }
            });
        Binned {
            n_rows: data.n_rows,
            n_features: d,
            bins,
            columns,
        }
    }
}

/// Binned features, twice: row-major, so that a histogram pass reads each row once and updates
/// every feature's histogram from it, and feature-major, so that partitioning a node on one
/// feature reads that feature's bins alone.
#[derive(Debug, Clone, PartialEq)]
pub struct Binned {
    pub n_rows: usize,
    pub n_features: usize,
    pub bins: Vec<u8>,
    pub columns: Vec<u8>,
}

impl Binned {
    #[inline]
    pub fn get(&self, row: usize, feature: usize) -> u8 {
        self.bins[row * self.n_features + feature]
    }

    /// Every row's bin of `feature`.
    #[inline]
    pub fn column(&self, feature: usize) -> &[u8] {
        &self.columns[feature * self.n_rows..(feature + 1) * self.n_rows]
    }

    #[inline]
    pub fn row(&self, row: usize) -> &[u8] {
        &self.bins[row * self.n_features..(row + 1) * self.n_features]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bins_respect_edges_and_ties() {
        let x: Vec<f64> = (0..1000).map(|i| f64::from(i % 10)).collect();
        let d = Dataset::new(x, vec![0.0; 1000], vec!["a".into()]).unwrap();
        let m = BinMapper::fit(&d, 256);
        assert_eq!(m.n_bins(0), 10);
        assert_eq!(m.bin(0, 0.0), 0);
        assert_eq!(m.bin(0, 3.0), 3);
        assert_eq!(m.bin(0, 3.4), 3);
        assert_eq!(m.bin(0, 3.6), 4);
        let x: Vec<f64> = (0..5000).map(f64::from).collect();
        let d = Dataset::new(x, vec![0.0; 5000], vec!["a".into()]).unwrap();
        let m = BinMapper::fit(&d, 16);
        assert_eq!(m.n_bins(0), 16);
    }
}

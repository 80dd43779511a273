//! Random forest regressor: bootstrap samples, per-split feature sampling, out-of-bag score.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::data::{BinMapper, Dataset};
use crate::error::{Result, invalid};
use crate::metrics::r2;
use crate::tree::{GrowParams, Grower, Tree};

/// Hyperparameters; checked by [`RandomForestParams::validate`] before any work.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RandomForestParams {
    pub n_trees: usize,
    pub max_depth: usize,
    pub min_samples_leaf: u32,
    /// Fraction of the features considered at each split (scikit-learn's regressor uses all).
    pub max_features: f64,
    pub bootstrap: bool,
    pub max_bins: usize,
    pub seed: u64,
}

impl Default for RandomForestParams {
    fn default() -> Self {
        Self {
            n_trees: 100,
            max_depth: 16,
            min_samples_leaf: 20,
            max_features: 0.6,
            bootstrap: true,
            max_bins: 255,
            seed: 0,
        }
    }
}

impl RandomForestParams {
    pub fn validate(&self) -> Result<()> {
        if self.n_trees == 0 || self.n_trees > 10_000 {
            return Err(invalid(
                "n_trees",
                format!("must be between 1 and 10000, got {}", self.n_trees),
            ));
        }
        if self.max_depth == 0 || self.max_depth > 64 {
            return Err(invalid(
                "max_depth",
                format!("must be between 1 and 64, got {}", self.max_depth),
            ));
        }
        if self.min_samples_leaf == 0 {
            return Err(invalid("min_samples_leaf", "must be at least 1"));
        }
        if !(self.max_features > 0.0 && self.max_features <= 1.0) {
            return Err(invalid(
                "max_features",
                format!("must be in (0, 1], got {}", self.max_features),
            ));
        }
        if !(2..=256).contains(&self.max_bins) {
            return Err(invalid(
                "max_bins",
                format!("must be between 2 and 256, got {}", self.max_bins),
            ));
        }
        Ok(())
    }

    /// Fits a forest; trees are grown in parallel, each from its own seeded stream, so the
    /// result does not depend on the number of threads.
    pub fn fit(&self, data: &Dataset, progress: &(dyn Fn(usize) + Sync)) -> Result<RandomForest> {
        self.validate()?;
        if data.n_rows < 2 {
            return Err(crate::error::ModelError::NotEnoughData {
                need: 2,
                got: data.n_rows,
            });
        }
        let bins = BinMapper::fit(data, self.max_bins);
        let binned = bins.transform(data);
        let d = data.n_features;
        let params = GrowParams {
            max_depth: self.max_depth,
            min_samples_leaf: self.min_samples_leaf,
            min_child_weight: 0.0,
            lambda: 0.0,
            max_features: ((self.max_features * d as f64).round() as usize).clamp(1, d),
            parallel: false,
            unit_hessian: false,
            max_leaves: 0,
        };
        let grower = Grower::new(&binned, &bins, params);
        let n = data.n_rows;
        let done = std::sync::atomic::AtomicUsize::new(0);
        let grown: Vec<(Tree, Vec<u32>)> = (0..self.n_trees)
            .into_par_iter()
            .map(|t| {
                let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
                rng.set_stream(t as u64 + 1);
                let mut w = vec![0.0f64; n];
                if self.bootstrap {
                    for _ in 0..n {
                        w[rng.random_range(0..n)] += 1.0;
                    }
                } else {
                    w.iter_mut().for_each(|v| *v = 1.0);
                }
                let g: Vec<f64> = w.iter().zip(&data.y).map(|(w, y)| w * y).collect();
                let mut rows: Vec<u32> = (0..n as u32).filter(|&i| w[i as usize] > 0.0).collect();
                let oob: Vec<u32> = (0..n as u32).filter(|&i| w[i as usize] == 0.0).collect();
                let tree = grower.grow(&mut rows, &g, &w, &[], &mut rng);
                progress(done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1);
                (tree, oob)
            })
            .collect();
        // Out-of-bag: each row predicted by the trees that did not see it.
        let mut sum = vec![0.0; n];
        let mut count = vec![0u32; n];
        for (tree, oob) in &grown {
            for &i in oob {
                sum[i as usize] += tree.predict_binned(&binned, i as usize);
                count[i as usize] += 1;
            }
        }
        let (mut y_oob, mut p_oob) = (Vec::new(), Vec::new());
        for i in 0..n {
            if count[i] > 0 {
                y_oob.push(data.y[i]);
                p_oob.push(sum[i] / f64::from(count[i]));
            }
        }
        let oob_r2 = (!y_oob.is_empty()).then(|| r2(&y_oob, &p_oob));
        let mut importance = vec![0.0; d];
        grown
            .iter()
            .for_each(|(t, _)| t.add_importance(&mut importance));
        Ok(RandomForest {
            params: self.clone(),
            feature_names: data.feature_names.clone(),
            trees: grown.into_iter().map(|(t, _)| t).collect(),
            oob_r2,
            importance,
        })
    }
}

/// A fitted random forest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RandomForest {
    pub params: RandomForestParams,
    pub feature_names: Vec<String>,
    pub trees: Vec<Tree>,
    /// R² of out-of-bag predictions (rows a tree did not see), when bootstrapping.
    pub oob_r2: Option<f64>,
    /// Total variance reduction by feature.
    pub importance: Vec<f64>,
}

impl RandomForest {
    /// The mean of the trees' predictions for one row.
    pub fn predict_row(&self, x: &[f64]) -> f64 {
        let mut acc = 0.0;
        for t in &self.trees {
            acc += t.predict(x);
        }
        acc / self.trees.len() as f64
    }
}

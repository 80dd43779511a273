//! Exact TreeSHAP: each feature's share of one prediction (Lundberg et al., the
//! path-dependent algorithm for tree ensembles).
//!
//! # The per-leaf form
//!
//! With features outside a set `S` "unknown", path-dependent TreeSHAP values a tree at the
//! cover-weighted mean over the leaves that `x` could reach: a split on a known feature
//! follows `x`, a split on an unknown one sends both ways, weighed by the training cover of
//! each side. That value is a sum over leaves of `v_l · Π_j (j ∈ S ? o_j : z_j)`, where for
//! each distinct feature `j` on the leaf's path `z_j` is the product of the cover ratios of its
//! edges and `o_j` is 1 when `x` takes all of them, else 0. The Shapley value of a product
//! game is exact and closed: for a path of `k` distinct features,
//!
//! `φ_i = Σ_l v_l (o_i − z_i) Σ_{S ⊆ P∖{i}} |S|!(k−|S|−1)!/k! Π_{j∈S} o_j Π_{j∉S, j≠i} z_j`.
//!
//! Because each `o_j` is 0 or 1, the inner sum depends only on which features `x` satisfies
//! (a mask), so it is `T(M∖{i}) / z_i` with `T(M) = Σ_{S⊆M} w(|S|) Π_{j∉S} z_j`, a table of
//! `2^k` numbers per leaf. Shallow trees (boosting's) keep those tables, and one explained
//! prediction is then a walk of each tree plus one lookup per feature of each leaf: the
//! table form of Fast TreeSHAP (Yang, 2021). Deep trees (the forest's), where the tables
//! would not fit in memory, multiply out `Π (z_j + o_j t)` at each leaf instead, `O(k²)`.
//!
//! Both agree with the `shap` package to within 1e-9 on this project's fixtures
//! (`tools/shap_fixtures.py`), and with brute-force Shapley values in the property tests.

use std::sync::OnceLock;

use crate::error::{ModelError, Result};
use crate::tree::Tree;

/// Leaves per tree up to which each leaf keeps its table (depth 6 gives 64); the tables then
/// take at most `64 · 2^6 · 8` bytes, 32 KB, per tree.
const TABLE_MAX_LEAVES: usize = 64;
/// Distinct features on a path up to which its leaf keeps a table.
const TABLE_MAX_K: usize = 6;
/// Distinct features a path can hold: trees are at most 64 deep.
const MAX_PATH: usize = 64;

/// One prediction taken apart: `expected + Σ contributions` is the prediction.
#[derive(Debug, Clone, PartialEq)]
pub struct Explanation {
    /// The model's mean prediction over its training data, as the trees' covers weigh it.
    pub expected: f64,
    /// One per feature, in the model's feature order.
    pub contributions: Vec<f64>,
}

/// What a tree needs to be explained, built once per tree on first use.
#[derive(Debug, Default)]
pub struct ExplainCache(OnceLock<std::result::Result<Prepared, String>>);

impl Clone for ExplainCache {
    fn clone(&self) -> Self {
        Self::default()
    }
}

impl PartialEq for ExplainCache {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

#[derive(Debug)]
pub struct Prepared {
    /// The tree's cover-weighted mean leaf value.
    expected: f64,
    /// Per node, the start of its leaf's table in `tables` (`u32::MAX`: none, or not a leaf).
    table_at: Vec<u32>,
    tables: Vec<f64>,
}

/// The distinct features on the path from the root to the current node, in the order they
/// first appear: what the walk carries down.
struct Path {
    k: usize,
    feature: [u32; MAX_PATH],
    z: [f64; MAX_PATH],
    /// Bit `u` set when `x` took every edge of feature `u` so far.
    mask: u64,
}

impl Path {
    fn new() -> Self {
        Self {
            k: 0,
            feature: [0; MAX_PATH],
            z: [0.0; MAX_PATH],
            mask: 0,
        }
    }

    /// Walks down one edge on `feature` that takes the share `ratio` of its parent's cover
    /// and that `x` does (`hot`) or does not take; `f` runs below it; the path is restored
    /// after.
    #[inline]
    fn descend(&mut self, feature: u32, ratio: f64, hot: bool, f: &mut impl FnMut(&mut Self)) {
        let found = self.feature[..self.k].iter().position(|&g| g == feature);
        match found {
            Some(u) => {
                let (z, mask) = (self.z[u], self.mask);
                self.z[u] *= ratio;
                if !hot {
                    self.mask &= !(1 << u);
                }
                f(self);
                self.z[u] = z;
                self.mask = mask;
            }
            None => {
                let u = self.k;
                self.feature[u] = feature;
                self.z[u] = ratio;
                let mask = self.mask;
                if hot {
                    self.mask |= 1 << u;
                }
                self.k += 1;
                f(self);
                self.k -= 1;
                self.mask = mask;
            }
        }
    }
}

/// The Shapley weights `w(s) = s!(k−1−s)!/k!` for `s = 0..k`.
fn weights(k: usize, out: &mut [f64; MAX_PATH]) {
    if k == 0 {
        return;
    }
    out[0] = 1.0 / k as f64;
    for s in 0..k - 1 {
        out[s + 1] = out[s] * (s + 1) as f64 / (k - 1 - s) as f64;
    }
}

impl Tree {
    /// The cover-weighted walk of every root-to-leaf path, calling `leaf(node, path)` at each
    /// leaf. `hot(feature, threshold)` says whether the row goes left at a split (`None`: no
    /// row, every edge counts as not taken).
    fn walk_paths(
        &self,
        go_left: &impl Fn(u32, f64) -> bool,
        leaf: &mut impl FnMut(usize, &Path),
    ) {
        fn below(
            t: &Tree,
            at: usize,
            path: &mut Path,
            go_left: &impl Fn(u32, f64) -> bool,
            leaf: &mut impl FnMut(usize, &Path),
        ) {
            let n = t.nodes[at];
            if n.left == 0 {
                leaf(at, path);
                return;
            }
            let l = n.left as usize;
            let parent = f64::from(t.covers[at]);
            let left = go_left(n.feature, n.value);
            for (child, hot) in [(l, left), (l + 1, !left)] {
                let ratio = f64::from(t.covers[child]) / parent;
                path.descend(n.feature, ratio, hot, &mut |p| {
                    below(t, child, p, go_left, leaf);
                });
            }
        }
        let mut path = Path::new();
        below(self, 0, &mut path, go_left, leaf);
    }

    /// Checks the covers and builds what explaining needs.
    fn prepare(&self) -> std::result::Result<Prepared, String> {
        if self.covers.len() != self.nodes.len() {
            return Err(
                "the model was saved without split covers (before explanations); train it again to explain its predictions"
                    .into(),
            );
        }
        for (i, n) in self.nodes.iter().enumerate() {
            let c = self.covers[i];
            if !(c.is_finite() && c > 0.0) {
                return Err(format!("node {i} has no training cover ({c})"));
            }
            // Children after their parent: a damaged file cannot make the walk loop.
            if n.left != 0 && (n.left as usize <= i || n.left as usize + 1 >= self.nodes.len()) {
                return Err(format!("node {i} has children outside the tree"));
            }
        }
        let n_leaves = self.n_leaves();
        let mut expected = 0.0;
        let mut table_at = vec![u32::MAX; self.nodes.len()];
        let mut tables = Vec::new();
        let mut w = [0.0; MAX_PATH];
        let mut terms = [0.0; 1 << TABLE_MAX_K];
        self.walk_paths(&|_, _| false, &mut |at, path| {
            let v = self.nodes[at].value;
            expected += v * path.z[..path.k].iter().product::<f64>();
            if n_leaves > TABLE_MAX_LEAVES || path.k > TABLE_MAX_K {
                return;
            }
            // T(M) = Σ_{S⊆M} w(|S|) Π_{j∉S} z_j: each subset's own term, then summed over
            // subsets (the zeta transform, k passes).
            let k = path.k;
            weights(k, &mut w);
            let size = 1usize << k;
            for (s, term) in terms[..size].iter_mut().enumerate() {
                let mut p = w[s.count_ones() as usize];
                for u in (0..k).filter(|u| s & (1 << u) == 0) {
                    p *= path.z[u];
                }
                *term = p;
            }
            for u in 0..k {
                for s in 0..size {
                    if s & (1 << u) != 0 {
                        terms[s] += terms[s ^ (1 << u)];
                    }
                }
            }
            table_at[at] = tables.len() as u32;
            tables.extend_from_slice(&terms[..size]);
        });
        Ok(Prepared {
            expected,
            table_at,
            tables,
        })
    }

    fn prepared(&self) -> Result<&Prepared> {
        self.explaining
            .0
            .get_or_init(|| self.prepare())
            .as_ref()
            .map_err(|e| ModelError::Explain(e.clone()))
    }

    /// The tree's expected value (its cover-weighted mean leaf value).
    pub fn expected_value(&self) -> Result<f64> {
        Ok(self.prepared()?.expected)
    }

    /// Adds `scale ×` this tree's SHAP values for row `x` to `phi` (one per feature).
    pub fn add_shap(&self, x: &[f64], scale: f64, phi: &mut [f64]) -> Result<()> {
        let prep = self.prepared()?;
        let mut w = [0.0; MAX_PATH];
        let mut poly = [0.0; MAX_PATH + 1];
        // The same rule as scoring: right when `x > threshold`, so NaN goes left.
        let go_left = |f: u32, thr: f64| !(x[f as usize] > thr);
        self.walk_paths(&go_left, &mut |at, path| {
            let v = scale * self.nodes[at].value;
            let k = path.k;
            let m = path.mask;
            if let Some(table) = prep
                .table_at
                .get(at)
                .filter(|&&t| t != u32::MAX)
                .map(|&t| &prep.tables[t as usize..t as usize + (1 << k)])
            {
                // Features x did not follow: v·(0 − z_i)·T(M)/z_i = −v·T(M), the same for all.
                let cold = -v * table[m as usize];
                for u in 0..k {
                    let f = path.feature[u] as usize;
                    if m & (1 << u) != 0 {
                        let z = path.z[u];
                        phi[f] += v * (1.0 - z) / z * table[(m & !(1 << u)) as usize];
                    } else {
                        phi[f] += cold;
                    }
                }
                return;
            }
            // P(t) = Π_j (z_j + o_j t), coefficients by degree.
            weights(k, &mut w);
            poly[0] = 1.0;
            let mut deg = 0;
            for u in 0..k {
                let z = path.z[u];
                if m & (1 << u) != 0 {
                    deg += 1;
                    poly[deg] = 0.0;
                    for s in (1..=deg).rev() {
                        poly[s] = poly[s] * z + poly[s - 1];
                    }
                    poly[0] *= z;
                } else {
                    for c in &mut poly[..=deg] {
                        *c *= z;
                    }
                }
            }
            let cold = -v * (0..=deg).map(|s| w[s] * poly[s]).sum::<f64>();
            for u in 0..k {
                let f = path.feature[u] as usize;
                if m & (1 << u) == 0 {
                    phi[f] += cold;
                    continue;
                }
                // P / (z + t) by synthetic division from the top, stable for z ≤ 1.
                let z = path.z[u];
                let mut q = poly[deg];
                let mut sum = w[deg - 1] * q;
                for s in (1..deg).rev() {
                    q = poly[s] - z * q;
                    sum += w[s - 1] * q;
                }
                phi[f] += v * (1.0 - z) * sum;
            }
        });
        Ok(())
    }
}

/// The model's trees in the custom-tree form `shap.TreeExplainer` accepts (a dict with
/// `trees`, each with `children_left`, `children_right`, `children_default`, `features`,
/// `thresholds`, `values` and `node_sample_weight`, plus `base_offset`), so that our values can
/// be checked against the `shap` package and its plots used on our models. A forest's leaf
/// values come divided by its number of trees, since shap sums trees. Internal nodes carry the
/// cover-weighted mean of their leaves, which shap reads as the expected value; a threshold of
/// infinity is written as `null`, JSON having no infinity.
pub fn shap_trees(model: &crate::Model) -> Result<serde_json::Value> {
    let (offset, scale) = match model {
        crate::Model::RandomForest(m) => (0.0, 1.0 / m.trees.len().max(1) as f64),
        crate::Model::GradientBoosting(m) => (m.base, 1.0),
    };
    let mut trees = Vec::new();
    for (i, t) in model.trees().iter().enumerate() {
        t.prepared()
            .map_err(|e| ModelError::Explain(format!("tree {i}: {e}")))?;
        let n = t.nodes.len();
        // Children come after parents, so one backward pass fills every mean.
        let mut values = vec![0.0; n];
        for at in (0..n).rev() {
            let node = t.nodes[at];
            values[at] = if node.left == 0 {
                scale * node.value
            } else {
                let (l, r) = (node.left as usize, node.left as usize + 1);
                (f64::from(t.covers[l]) * values[l] + f64::from(t.covers[r]) * values[r])
                    / f64::from(t.covers[at])
            };
        }
        let split = |f: &dyn Fn(&crate::tree::Node) -> serde_json::Value, leaf: serde_json::Value| {
            t.nodes
                .iter()
                .map(|n| if n.left == 0 { leaf.clone() } else { f(n) })
                .collect::<Vec<_>>()
        };
        let left = split(&|n| n.left.into(), (-1).into());
        trees.push(serde_json::json!({
            "children_left": left,
            "children_right": split(&|n| (n.left + 1).into(), (-1).into()),
            "children_default": left,
            "features": split(&|n| n.feature.into(), (-2).into()),
            "thresholds": split(&|n| n.value.into(), 0.0.into()),
            "values": values,
            "node_sample_weight": t.covers,
        }));
    }
    Ok(serde_json::json!({ "base_offset": offset, "trees": trees }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::Node;

    fn split(feature: u32, value: f64, left: u32) -> Node {
        Node {
            feature,
            left,
            value,
        }
    }

    fn leaf(value: f64) -> Node {
        Node {
            feature: 0,
            left: 0,
            value,
        }
    }

    fn tree(nodes: Vec<Node>, covers: Vec<f32>) -> Tree {
        Tree {
            bins: vec![0; nodes.len()],
            gains: vec![0.0; nodes.len()],
            nodes,
            covers,
            scoring: Default::default(),
            explaining: Default::default(),
        }
    }

    #[test]
    fn a_single_split_gives_its_feature_the_whole_difference() {
        // x0 <= 0.5 → 10 (cover 3), else 20 (cover 1): expected 12.5.
        let t = tree(
            vec![split(0, 0.5, 1), leaf(10.0), leaf(20.0)],
            vec![4.0, 3.0, 1.0],
        );
        assert_eq!(t.expected_value().unwrap(), 12.5);
        let mut phi = vec![0.0; 2];
        t.add_shap(&[1.0, 7.0], 1.0, &mut phi).unwrap();
        assert!((phi[0] - 7.5).abs() < 1e-12, "{phi:?}");
        assert_eq!(phi[1], 0.0);
    }

    #[test]
    fn a_model_saved_without_covers_says_so() {
        let t = tree(vec![split(0, 0.5, 1), leaf(1.0), leaf(2.0)], vec![]);
        let e = t.add_shap(&[0.0], 1.0, &mut [0.0]).unwrap_err().to_string();
        assert!(e.contains("train it again"), "{e}");
    }
}

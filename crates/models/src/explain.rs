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
//! edges and `o_j` is 1 when `x` takes all of them, else 0. The Shapley value of such a
//! product game is closed: for a path of `k` distinct features,
//!
//! `φ_i = Σ_l v_l (o_i − z_i) Σ_{S ⊆ P∖{i}} |S|!(k−|S|−1)!/k! Π_{j∈S} o_j Π_{j∉S, j≠i} z_j`.
//!
//! The Shapley weight `s!(k−1−s)!/k!` is the Beta integral `∫₀¹ t^s (1−t)^{k−1−s} dt`, so the
//! inner sum is `∫₀¹ Π_{j≠i} (z_j (1−t) + o_j t) dt`: the integral of a polynomial of degree
//! `k − 1`, which Gauss–Legendre quadrature with `⌈k/2⌉` points gives exactly (the idea of
//! Linear TreeSHAP, Yu et al., 2022). Per leaf that is `O(k · ⌈k/2⌉)` multiplications with
//! prefix and suffix products and no division, and paths of up to 8 features (all of
//! boosting's) use one 4-point rule in straight-line code of their length.
//!
//! What this replaced, measured with `cargo bench -p salescast-models --bench explain`
//! (boosting, 300 trees of depth 6, 18,334 leaves): per-leaf tables of the inner sum for
//! every subset of the path's features (Fast TreeSHAP v2's form), 645 µs, bound by reading
//! 10 MB of tables; the polynomial `Π (z_j + o_j t)` with a synthetic division per feature,
//! 716 µs, bound by mispredicted loop exits and chains of dependent multiply-adds.
//!
//! It agrees with the `shap` package to within 1e-12 on this project's fixtures
//! (`tools/shap_fixtures.py`), and with brute-force Shapley values in the property tests.

use std::sync::{LazyLock, OnceLock};

use crate::error::{ModelError, Result};
use crate::tree::Tree;

/// Distinct features a path can hold: trees are at most 64 deep.
const MAX_PATH: usize = 64;
/// The longest path [`short_leaf`] takes, with the 4-point rule (exact up to degree 7).
const SHORT: usize = 8;

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

/// A tree made ready to explain: which bit of a path's feature mask each edge stands for, and
/// its units, each a leaf or a pair of sibling leaves (see [`Unit`]).
#[derive(Debug)]
pub struct Prepared {
    /// The tree's cover-weighted mean leaf value.
    expected: f64,
    /// Per node, the bit of its path's feature mask that the edge into it stands for, and that
    /// bit again when the edge brings a feature new to the path (0 otherwise): a node's mask is
    /// `(parent | new) & !(bit if the row does not take the edge)`.
    bit: Vec<u64>,
    new: Vec<u64>,
    /// The splits whose children's masks some unit reads, parents first.
    splits: Vec<Split>,
    /// Sorted by path length and kind, so that the dispatch on them is predicted.
    units: Vec<Unit>,
    /// Per unit, its `k` distinct features (by first appearance on the path).
    features: Vec<u32>,
    /// Per unit and feature, the cover fraction `z` (unused for the last one).
    z: Vec<f64>,
}

/// A leaf, or two sibling leaves whose parent splits on a feature new to their path. Either
/// way the last of its `k` features enters the terms only through the linear factor
/// `h(t) = α (1 − t) + β t` with the leaf values folded in: `α = Σ v·z`, the cover-weighted
/// value, and `β` the value on the side the row takes (for a lone leaf, `v` or 0). A pair
/// then costs what one leaf does, and a full tree has half as many units as leaves.
/// A split as the mask pass reads it, in one place.
#[derive(Debug, Clone, Copy)]
struct Split {
    node: u32,
    feature: u32,
    left: u32,
    threshold: f64,
}

#[derive(Debug, Clone, Copy)]
struct Unit {
    /// The node whose mask gives the first `k − 1` features' bits: the leaf, or the parent.
    node: u32,
    k: u32,
    /// Where the unit's features and fractions start.
    at: u32,
    /// The pair's split feature, or `u32::MAX` for a lone leaf (its last mask bit decides).
    split: u32,
    threshold: f64,
    alpha: f64,
    /// `β` when the row takes the last feature's edge(s), and when it does not.
    beta_hot: f64,
    beta_cold: f64,
}

/// Gauss–Legendre rules on [0, 1] with `n = 0..=32` points (nodes, weights): exact for
/// polynomials of degree below `2n`. Nodes by Newton's method on the Legendre polynomial.
static GAUSS: LazyLock<Vec<(Vec<f64>, Vec<f64>)>> = LazyLock::new(|| {
    (0..=MAX_PATH / 2)
        .map(|n| {
            let (mut nodes, mut weights) = (vec![0.0; n], vec![0.0; n]);
            for i in 0..n {
                let mut x = (std::f64::consts::PI * (i as f64 + 0.75) / (n as f64 + 0.5)).cos();
                let mut dp = 1.0;
                for _ in 0..100 {
                    // P_n(x) and its derivative by the three-term recurrence.
                    let (mut p0, mut p1) = (1.0, x);
                    for k in 2..=n {
                        let p2 = ((2 * k - 1) as f64 * x * p1 - (k - 1) as f64 * p0) / k as f64;
                        p0 = p1;
                        p1 = p2;
                    }
                    let p = if n == 0 { 1.0 } else { p1 };
                    let pm1 = if n == 1 { 1.0 } else { p0 };
                    dp = n as f64 * (x * p - pm1) / (x * x - 1.0);
                    let step = p / dp;
                    x -= step;
                    if step.abs() < 1e-16 {
                        break;
                    }
                }
                nodes[i] = (1.0 - x) / 2.0;
                weights[i] = 1.0 / ((1.0 - x * x) * dp * dp);
            }
            (nodes, weights)
        })
        .collect()
});

/// The 4-point rule as arrays, for [`short_leaf`].
static GAUSS4: LazyLock<([f64; 4], [f64; 4])> = LazyLock::new(|| {
    let (t, a) = &GAUSS[4];
    let mut out = ([0.0; 4], [0.0; 4]);
    out.0.copy_from_slice(t);
    out.1.copy_from_slice(a);
    out
});

/// One unit's terms for `K ≤ SHORT` features: with `g_j(t) = z_j (1 − t) + o_j t`, the last
/// feature gets `(β − α) Σ_n a_n Π_{j<K−1} g_j(t_n)` and each other one
/// `(o_i − z_i) Σ_n a_n h(t_n) Π_{j≠i, j<K−1} g_j(t_n)`, the products as prefix times suffix.
/// Loops of constant length unroll into straight-line code with no branch on which features
/// the row follows.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn short_unit<const K: usize>(
    z: &[f64],
    features: &[u32],
    m: u64,
    alpha: f64,
    beta: f64,
    rule: &([f64; 4], [f64; 4]),
    lanes: &mut [[f64; 4]],
) {
    let (Some(z), Some(features)) = (z.first_chunk::<K>(), features.first_chunk::<K>()) else {
        return;
    };
    let (t, a) = rule;
    let mut g = [[0.0; 4]; SHORT];
    for u in 0..K - 1 {
        let o = ((m >> u) & 1) as f64;
        for n in 0..4 {
            g[u][n] = z[u] * (1.0 - t[n]) + o * t[n];
        }
    }
    // prefix[i] = Π_{j<i} g_j.
    let mut prefix = [[1.0; 4]; SHORT];
    for i in 1..K {
        for n in 0..4 {
            prefix[i][n] = prefix[i - 1][n] * g[i - 1][n];
        }
    }
    // Each feature's four weighted point values go to its own lanes; the lanes are summed
    // once per tree, not once per term (a horizontal sum per term was the longest chain).
    let c = beta - alpha;
    let lane = &mut lanes[features[K - 1] as usize];
    for n in 0..4 {
        lane[n] += c * a[n] * prefix[K - 1][n];
    }
    let mut suffix = [0.0; 4];
    for n in 0..4 {
        suffix[n] = a[n] * (alpha * (1.0 - t[n]) + beta * t[n]);
    }
    for i in (0..K - 1).rev() {
        let o = ((m >> i) & 1) as f64;
        let c = o - z[i];
        let lane = &mut lanes[features[i] as usize];
        for n in 0..4 {
            lane[n] += c * prefix[i][n] * suffix[n];
        }
        for n in 0..4 {
            suffix[n] *= g[i][n];
        }
    }
}

/// [`short_unit`] for any number of features, with `⌈k/2⌉` points.
fn long_unit(
    z: &[f64],
    features: &[u32],
    m: u64,
    (alpha, beta): (f64, f64),
    phi: &mut [f64],
    scratch: &mut Scratch,
) {
    let k = z.len();
    let (t, a) = &GAUSS[k.div_ceil(2)];
    let points = t.len();
    let Scratch { g, prefix } = scratch;
    for (u, &zu) in z[..k - 1].iter().enumerate() {
        let o = ((m >> u) & 1) as f64;
        for n in 0..points {
            g[u][n] = zu * (1.0 - t[n]) + o * t[n];
        }
    }
    prefix[0][..points].fill(1.0);
    for i in 1..k {
        for n in 0..points {
            prefix[i][n] = prefix[i - 1][n] * g[i - 1][n];
        }
    }
    let sum: f64 = (0..points).map(|n| a[n] * prefix[k - 1][n]).sum();
    phi[features[k - 1] as usize] += (beta - alpha) * sum;
    let mut suffix = [0.0; MAX_PATH / 2];
    for n in 0..points {
        suffix[n] = alpha * (1.0 - t[n]) + beta * t[n];
    }
    for i in (0..k - 1).rev() {
        let sum: f64 = (0..points).map(|n| a[n] * prefix[i][n] * suffix[n]).sum();
        let o = ((m >> i) & 1) as f64;
        phi[features[i] as usize] += (o - z[i]) * sum;
        for n in 0..points {
            suffix[n] *= g[i][n];
        }
    }
}

/// Space an explanation reuses from tree to tree: each node's mask, and four lanes per feature
/// (one per quadrature point) that the terms of a tree accumulate in.
#[derive(Debug, Default)]
pub struct ExplainScratch {
    masks: Vec<u64>,
    lanes: Vec<[f64; 4]>,
}

/// Per-feature, per-point space for [`long_unit`], reused across units.
struct Scratch {
    g: Vec<[f64; MAX_PATH / 2]>,
    prefix: Vec<[f64; MAX_PATH / 2]>,
}

/// Every unit's terms, given each node's mask; compiled also for AVX2 and FMA, chosen at run
/// time where the processor has them (four quadrature points fill one AVX2 register).
#[multiversion::multiversion(targets("x86_64+avx2+fma"))]
fn add_units(
    p: &Prepared,
    x: &[f64],
    masks: &[u64],
    scale: f64,
    phi: &mut [f64],
    lanes: &mut Vec<[f64; 4]>,
) {
    let rule = &*GAUSS4;
    let mut scratch: Option<Scratch> = None;
    lanes.clear();
    lanes.resize(phi.len(), [0.0; 4]);
    for unit in &p.units {
        let (k, at) = (unit.k as usize, unit.at as usize);
        let features = &p.features[at..at + k];
        let z = &p.z[at..at + k];
        let m = masks[unit.node as usize];
        // The same rule as scoring: right when `x > threshold`, so NaN goes left.
        let hot = if unit.split == u32::MAX {
            (m >> (k - 1)) & 1 != 0
        } else {
            let right = x[unit.split as usize] > unit.threshold;
            !right
        };
        let (alpha, beta) = (
            scale * unit.alpha,
            scale * if hot { unit.beta_hot } else { unit.beta_cold },
        );
        match k {
            1 => short_unit::<1>(z, features, m, alpha, beta, rule, lanes),
            2 => short_unit::<2>(z, features, m, alpha, beta, rule, lanes),
            3 => short_unit::<3>(z, features, m, alpha, beta, rule, lanes),
            4 => short_unit::<4>(z, features, m, alpha, beta, rule, lanes),
            5 => short_unit::<5>(z, features, m, alpha, beta, rule, lanes),
            6 => short_unit::<6>(z, features, m, alpha, beta, rule, lanes),
            7 => short_unit::<7>(z, features, m, alpha, beta, rule, lanes),
            8 => short_unit::<8>(z, features, m, alpha, beta, rule, lanes),
            _ => {
                let s = scratch.get_or_insert_with(|| Scratch {
                    g: vec![[0.0; MAX_PATH / 2]; MAX_PATH],
                    prefix: vec![[0.0; MAX_PATH / 2]; MAX_PATH],
                });
                long_unit(z, features, m, (alpha, beta), phi, s);
            }
        }
    }
    for (f, l) in phi.iter_mut().zip(lanes.iter()) {
        *f += (l[0] + l[1]) + (l[2] + l[3]);
    }
}

/// The distinct features on the path to a node while preparing, with their cover fractions.
#[derive(Clone)]
struct PathFeatures {
    feature: Vec<u32>,
    z: Vec<f64>,
}

impl Tree {
    /// Checks the covers and builds what explaining needs.
    fn prepare(&self) -> std::result::Result<Prepared, String> {
        let n = self.nodes.len();
        if self.covers.len() != n {
            return Err(
                "the model was saved without split covers (before explanations); train it again to explain its predictions"
                    .into(),
            );
        }
        for (i, node) in self.nodes.iter().enumerate() {
            let c = self.covers[i];
            if !(c.is_finite() && c > 0.0) {
                return Err(format!("node {i} has no training cover ({c})"));
            }
            // Children after their parent: a damaged file cannot make a walk loop.
            if node.left != 0 && (node.left as usize <= i || node.left as usize + 1 >= n) {
                return Err(format!("node {i} has children outside the tree"));
            }
        }
        let mut p = Prepared {
            expected: 0.0,
            bit: vec![0; n],
            new: vec![0; n],
            splits: Vec::new(),
            units: Vec::new(),
            features: Vec::new(),
            z: Vec::new(),
        };
        let root = PathFeatures {
            feature: Vec::new(),
            z: Vec::new(),
        };
        let mut stack = vec![(0usize, root)];
        while let Some((at, path)) = stack.pop() {
            let node = self.nodes[at];
            let weight: f64 = path.z.iter().product();
            if node.left == 0 {
                p.expected += node.value * weight;
                // A lone leaf: its last feature's bit in its own mask decides β.
                if let Some(&z_last) = path.z.last() {
                    p.units.push(Unit {
                        node: at as u32,
                        k: path.feature.len() as u32,
                        at: p.features.len() as u32,
                        split: u32::MAX,
                        threshold: 0.0,
                        alpha: node.value * z_last,
                        beta_hot: node.value,
                        beta_cold: 0.0,
                    });
                    p.features.extend(&path.feature);
                    p.z.extend(&path.z);
                }
                continue;
            }
            let l = node.left as usize;
            let parent = f64::from(self.covers[at]);
            let (left, right) = (self.nodes[l], self.nodes[l + 1]);
            let fresh = !path.feature.contains(&node.feature);
            if left.left == 0 && right.left == 0 && fresh && path.feature.len() < MAX_PATH {
                let (zl, zr) = (
                    f64::from(self.covers[l]) / parent,
                    f64::from(self.covers[l + 1]) / parent,
                );
                let alpha = left.value * zl + right.value * zr;
                p.expected += alpha * weight;
                p.units.push(Unit {
                    node: at as u32,
                    k: path.feature.len() as u32 + 1,
                    at: p.features.len() as u32,
                    split: node.feature,
                    threshold: node.value,
                    alpha,
                    beta_hot: left.value,
                    beta_cold: right.value,
                });
                p.features.extend(&path.feature);
                p.features.push(node.feature);
                p.z.extend(&path.z);
                p.z.push(0.0);
                continue;
            }
            p.splits.push(Split {
                node: at as u32,
                feature: node.feature,
                left: node.left,
                threshold: node.value,
            });
            for child in [l + 1, l] {
                let ratio = f64::from(self.covers[child]) / parent;
                let mut below = path.clone();
                let (u, new) = match below.feature.iter().position(|&f| f == node.feature) {
                    Some(u) => {
                        below.z[u] *= ratio;
                        (u, false)
                    }
                    None => {
                        below.feature.push(node.feature);
                        below.z.push(ratio);
                        (below.feature.len() - 1, true)
                    }
                };
                if u >= MAX_PATH {
                    return Err(format!("node {child} is deeper than {MAX_PATH} features"));
                }
                p.bit[child] = 1 << u;
                p.new[child] = if new { 1 << u } else { 0 };
                stack.push((child, below));
            }
        }
        p.units.sort_by_key(|u| (u.k, u.split == u32::MAX, u.node));
        p.splits.sort_by_key(|s| s.node);
        Ok(p)
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
        self.add_shap_with(x, scale, phi, &mut ExplainScratch::default())
    }

    /// [`Self::add_shap`] with scratch space reused across trees.
    pub fn add_shap_with(
        &self,
        x: &[f64],
        scale: f64,
        phi: &mut [f64],
        scratch: &mut ExplainScratch,
    ) -> Result<()> {
        let p = self.prepared()?;
        let ExplainScratch { masks, lanes } = scratch;
        // Each node's mask, parents first: which of its path's features the row follows.
        masks.clear();
        masks.resize(self.nodes.len(), 0);
        for s in &p.splits {
            let (l, m) = (s.left as usize, masks[s.node as usize]);
            // The same rule as scoring: right when `x > threshold`, so NaN goes left.
            let right = x[s.feature as usize] > s.threshold;
            let (cold_l, cold_r) = if right {
                (p.bit[l], 0)
            } else {
                (0, p.bit[l + 1])
            };
            masks[l] = (m | p.new[l]) & !cold_l;
            masks[l + 1] = (m | p.new[l + 1]) & !cold_r;
        }
        add_units(p, x, masks, scale, phi, lanes);
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
        let split = |f: &dyn Fn(&crate::tree::Node) -> serde_json::Value,
                     leaf: serde_json::Value| {
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

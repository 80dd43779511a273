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
//! inner sum is `∫₀¹ Π_{j≠i} G_j(t) dt` with `G_j(t) = z_j (1−t) + o_j t`: the integral of a
//! polynomial of degree `k − 1`, which Gauss–Legendre quadrature with `⌈k/2⌉` points gives
//! exactly.
//!
//! # The whole-tree form
//!
//! Summing those integrals leaf by leaf costs `O(leaves · k · ⌈k/2⌉)`; a forest's leaves sit 12
//! to 16 distinct features deep, and that was 13 ms a row for the default forest. Linear
//! TreeSHAP (Yu et al., 2022) shares the work between the leaves of a subtree instead: every
//! node carries its path's product at the quadrature points, so one row costs
//! `O(nodes · ⌈k/2⌉)`; see [`whole_tree`].
//!
//! What it replaced, measured with `cargo bench -p salescast-models --bench explain`: the
//! per-leaf form above (prefix and suffix products per leaf, straight-line code for paths of
//! up to 8 features), 7.2 ms a row for the benchmark's forest and 320 µs for boosting's 300
//! trees, against 2.7 ms and 161 µs now. Before that, per-leaf tables of the inner sum for
//! every subset of the path's features (Fast TreeSHAP v2's form), bound by reading 10 MB of
//! tables.
//!
//! It agrees with the `shap` package to within 1e-11 on this project's fixtures
//! (`tools/shap_fixtures.py`), and with brute-force Shapley values in the property tests.

use std::sync::{LazyLock, OnceLock};

use crate::error::{ModelError, Result};
use crate::tree::Tree;

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

/// A tree made ready to explain: its splits numbered breadth first (siblings stay side by
/// side), so that consecutive steps of [`whole_tree`]'s passes are on different paths and do
/// not wait on each other. Leaves have no number: each is summed by its parent's step.
#[derive(Debug)]
pub struct Prepared {
    /// The tree's cover-weighted mean leaf value.
    expected: f64,
    /// The most distinct features on any path: the degree the quadrature must integrate.
    depth: usize,
    /// Every split, parents first.
    forks: Vec<Fork>,
    /// Every split, for the second pass.
    rises: Vec<Rise>,
}

/// A split as [`whole_tree`]'s first pass reads it. Its two children share the edge feature
/// and that feature's previous occurrence (a split's number, 0 when none); per child, its
/// `Z`, `1 / Z`, its value when it is a leaf (0 when not), and where its state goes: its split
/// number, or the spare slot past the zero slot when it is a leaf.
#[derive(Debug, Clone, Copy)]
struct Fork {
    feature: u32,
    prev: u32,
    threshold: f64,
    z_prev: f64,
    slot: [u32; 2],
    z: [f64; 2],
    inverse_z: [f64; 2],
    value: [f64; 2],
}

/// A split as [`whole_tree`]'s second pass reads it: its children's sums (the zero slot for a
/// leaf, whose sum its own first-pass step took), and its own edge's feature, previous
/// occurrence and `Z`s.
#[derive(Debug, Clone, Copy)]
struct Rise {
    children: [u32; 2],
    prev: u32,
    feature: u32,
    z: f64,
    z_prev: f64,
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

/// Space an explanation reuses from tree to tree: per node, whether the row takes every edge
/// on the node's edge feature down to it (1 or 0), `1 / G` at the points, and the path's
/// product at the points, which the second pass replaces by the sum over the leaves below;
/// then the lanes, `N` a feature and two sets of them.
#[derive(Debug, Default)]
pub struct ExplainScratch {
    on: Vec<f64>,
    inverse: Vec<f64>,
    values: Vec<f64>,
    point_lanes: Vec<f64>,
}

/// The part of `v` from its first 64-byte boundary on, so that the blocks of 8 point values
/// cut from it never straddle a cache line.
fn aligned(v: &mut [f64]) -> &mut [f64] {
    let skip = (v.as_ptr() as usize).wrapping_neg() % 64 / std::mem::size_of::<f64>();
    let skip = skip.min(v.len());
    &mut v[skip..]
}

/// `1 / h` to a relative error below 4e-15, for `h` in (1e-30, 1]: single precision's
/// quotient refined by one Newton step (24 correct bits to 48). It vectorises to a fraction of
/// double precision's division time, and the explanations stay within 1e-11 of shap's.
#[inline(always)]
fn reciprocal(h: f64) -> f64 {
    let r = f64::from(1.0 / (h as f32));
    r * (2.0 - h * r)
}

/// Every contribution of one tree in two passes over its splits, with `N` Gauss–Legendre
/// points (Linear TreeSHAP's form, Yu et al., 2022): `O(nodes · N)` instead of the per-leaf
/// `O(leaves · k · N)`, which is what deep trees need (a forest's paths hold 12 to 16
/// features).
///
/// Each feature `j` of a leaf's path enters its product as `G_j(t) = Z_j (1 − t) + O_j t`, `Z_j`
/// the product of its edges' cover fractions and `O_j` whether the row takes all of them.
/// Down the tree (parents first), every node gets its path's product at the points: its
/// parent's times `G_node / G_prev`, `G_prev` the factor of the same feature one occurrence up
/// (1 when the feature is new). Up the tree (children first), every node holds the sum `S` of
/// `v · product` over its leaves and adds `Σ_n a_n S(t_n) (w_node − w_prev)(t_n)` to its edge
/// feature, with `w = (O − Z) / G`: summed over a leaf's path these telescope to
/// `(O_j − Z_j) / G_j` at the feature's deepest occurrence, which is the leaf's term. Every
/// quotient is of a factor that the product holds, so each point value is a polynomial's and
/// the rule is exact.
///
/// A split's step in the first pass does both children, and finishes a leaf child there (its
/// sum and its term), so only splits keep state between the passes: half the nodes. Of the two
/// children only the one the row takes can have `O = 1`; the other's `1 / G` is
/// `1 / (Z (1 − t))`, from tables, so there is one division per split. Neither pass branches
/// on the row.
#[inline(always)]
fn whole_tree<const N: usize>(
    p: &Prepared,
    x: &[f64],
    scale: f64,
    phi: &mut [f64],
    s: &mut ExplainScratch,
) {
    let (points, weights) = &GAUSS[N];
    let (mut at, mut below, mut inverse_below) = ([0.0; N], [0.0; N], [0.0; N]);
    for n in 0..N {
        at[n] = points[n];
        below[n] = 1.0 - points[n];
        inverse_below[n] = 1.0 / below[n];
    }
    let m = p.forks.len();
    if m == 0 {
        return;
    }
    let d = phi.len();
    let ExplainScratch {
        on,
        inverse,
        values,
        point_lanes,
    } = s;
    on.resize(m + 2, 0.0);
    for v in [&mut *inverse, &mut *values, &mut *point_lanes] {
        v.resize(((m + 2) * N).max(2 * d * N) + 8, 0.0);
    }
    let (inverse, _) = aligned(inverse).as_chunks_mut::<N>();
    let (values, _) = aligned(values).as_chunks_mut::<N>();
    let lanes = aligned(point_lanes);
    lanes[..2 * d * N].fill(0.0);
    let (lanes, _) = lanes.as_chunks_mut::<N>();
    on[0] = 1.0;
    inverse[0] = [1.0; N];
    values[0] = [1.0; N];
    values[m] = [0.0; N];
    for (i, f) in p.forks.iter().enumerate() {
        // The same rule as scoring: right when `x > threshold`, so NaN goes left.
        let t = usize::from(x[f.feature as usize] > f.threshold);
        let u = 1 - t;
        let prev = f.prev as usize;
        let (o, up, inverse_prev) = (on[prev], values[i], inverse[prev]);
        let dp = o - f.z_prev;
        let (vt, vu) = (scale * f.value[t], scale * f.value[u]);
        let (zt, zu, izu) = (f.z[t], f.z[u], f.inverse_z[u]);
        let mut g = [0.0; N];
        let mut inv = [0.0; N];
        for n in 0..N {
            g[n] = zt * below[n] + o * at[n];
            inv[n] = reciprocal(g[n]);
        }
        let (mut prod_t, mut prod_u, mut inv_u, mut sum) = ([0.0; N], [0.0; N], [0.0; N], [0.0; N]);
        let lane = &mut lanes[(i & 1) * d + f.feature as usize];
        for n in 0..N {
            prod_t[n] = up[n] * g[n] * inverse_prev[n];
            prod_u[n] = up[n] * zu * below[n] * inverse_prev[n];
            inv_u[n] = izu * inverse_below[n];
            let (st, su) = (vt * prod_t[n], vu * prod_u[n]);
            let wp = dp * inverse_prev[n];
            lane[n] += st * ((o - zt) * inv[n] - wp) + su * (-zu * inv_u[n] - wp);
            sum[n] = st + su;
        }
        values[i] = sum;
        let (st, su) = (f.slot[t] as usize, f.slot[u] as usize);
        (values[st], inverse[st], on[st]) = (prod_t, inv, o);
        (values[su], inverse[su], on[su]) = (prod_u, inv_u, 0.0);
    }
    for (i, r) in p.rises.iter().enumerate().skip(1).rev() {
        let (a, b, own) = (
            values[r.children[0] as usize],
            values[r.children[1] as usize],
            values[i],
        );
        let sum: [f64; N] = std::array::from_fn(|n| own[n] + a[n] + b[n]);
        values[i] = sum;
        let prev = r.prev as usize;
        let (dc, dp) = (on[i] - r.z, on[prev] - r.z_prev);
        let (inv, inv_prev) = (inverse[i], inverse[prev]);
        // Siblings share their feature: alternate lane sets keep their sums apart.
        let lane = &mut lanes[(i & 1) * d + r.feature as usize];
        for n in 0..N {
            lane[n] += sum[n] * (dc * inv[n] - dp * inv_prev[n]);
        }
    }
    let (even, odd) = lanes.split_at(d);
    for (f, (e, o)) in phi.iter_mut().zip(even.iter().zip(odd)) {
        *f += (0..N).map(|n| weights[n] * (e[n] + o[n])).sum::<f64>();
    }
}

/// [`whole_tree`] with the fewest points of 4, 8, 16 or 32 that the tree's paths need,
/// compiled also for AVX-512 and for AVX2, chosen at run time where the processor has them.
#[multiversion::multiversion(targets(
    "x86_64+avx512f+avx512vl+avx512dq+avx2+fma",
    "x86_64+avx2+fma"
))]
fn add_whole_tree(p: &Prepared, x: &[f64], scale: f64, phi: &mut [f64], s: &mut ExplainScratch) {
    match p.depth.div_ceil(2) {
        0 => {}
        1..=4 => whole_tree::<4>(p, x, scale, phi, s),
        5..=8 => whole_tree::<8>(p, x, scale, phi, s),
        9..=16 => whole_tree::<16>(p, x, scale, phi, s),
        _ => whole_tree::<32>(p, x, scale, phi, s),
    }
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
        // Each node reached once, so that the walks below are over a tree.
        let mut order = Vec::with_capacity(n);
        order.push(0usize);
        let mut next = 0;
        while let Some(&at) = order.get(next) {
            next += 1;
            let l = self.nodes[at].left as usize;
            if l != 0 {
                order.extend([l, l + 1]);
            }
            if order.len() > n {
                return Err(format!("node {l} has two parents"));
            }
        }
        if order.len() != n {
            return Err(format!(
                "{} nodes are not reached from the root",
                n - order.len()
            ));
        }
        let mut p = Prepared {
            expected: 0.0,
            depth: 0,
            forks: Vec::new(),
            rises: Vec::new(),
        };
        // Per node: the feature of the edge into it, its cover fraction `Z` for that feature
        // (the product of the fractions of every edge on that feature from the root down to
        // it), and the nearest ancestor whose edge is on the same feature (the root, standing
        // for the factor 1, when there is none). Per path: each distinct feature's fraction and
        // deepest node.
        let (mut edge, mut cover_z, mut prev) = (vec![0u32; n], vec![1.0f64; n], vec![0u32; n]);
        let mut stack = vec![(0usize, Vec::<(u32, f64, u32)>::new())];
        while let Some((at, path)) = stack.pop() {
            let node = self.nodes[at];
            p.depth = p.depth.max(path.len());
            if node.left == 0 {
                p.expected += node.value * path.iter().map(|e| e.1).product::<f64>();
                continue;
            }
            let l = node.left as usize;
            for child in [l, l + 1] {
                let ratio = f64::from(self.covers[child]) / f64::from(self.covers[at]);
                let mut below = path.clone();
                let (z, up) = match below.iter_mut().find(|e| e.0 == node.feature) {
                    Some(e) => {
                        let up = (e.1, e.2);
                        *e = (e.0, e.1 * ratio, child as u32);
                        (up.0 * ratio, up.1)
                    }
                    None => {
                        below.push((node.feature, ratio, child as u32));
                        (ratio, 0)
                    }
                };
                (edge[child], cover_z[child], prev[child]) = (node.feature, z, up);
                stack.push((child, below));
            }
        }
        if p.depth > MAX_PATH {
            return Err(format!("a path holds more than {MAX_PATH} features"));
        }
        // [`reciprocal`]'s range; a fraction is at least the node's share of the root's cover.
        if let Some(at) = cover_z.iter().position(|&z| z < 1e-30) {
            return Err(format!(
                "node {at}'s cover fraction {} is too small",
                cover_z[at]
            ));
        }
        // The tables, splits numbered in breadth-first order (see [`Prepared`]).
        let splits: Vec<usize> = order
            .into_iter()
            .filter(|&at| self.nodes[at].left != 0)
            .collect();
        let m = splits.len() as u32;
        let mut number = vec![m; n];
        for (i, &at) in splits.iter().enumerate() {
            number[at] = i as u32;
        }
        for &at in &splits {
            let node = self.nodes[at];
            let l = node.left as usize;
            let value = |c: usize| {
                let child = self.nodes[c];
                if child.left == 0 { child.value } else { 0.0 }
            };
            p.forks.push(Fork {
                feature: node.feature,
                prev: number[prev[l] as usize],
                threshold: node.value,
                z_prev: cover_z[prev[l] as usize],
                // A leaf's state goes to the spare slot, past the zero slot.
                slot: [l, l + 1].map(|c| number[c] + u32::from(number[c] == m)),
                z: [cover_z[l], cover_z[l + 1]],
                inverse_z: [1.0 / cover_z[l], 1.0 / cover_z[l + 1]],
                value: [value(l), value(l + 1)],
            });
            p.rises.push(Rise {
                children: [number[l], number[l + 1]],
                prev: number[prev[at] as usize],
                feature: edge[at],
                z: cover_z[at],
                z_prev: cover_z[prev[at] as usize],
            });
        }
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
        add_whole_tree(self.prepared()?, x, scale, phi, scratch);
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

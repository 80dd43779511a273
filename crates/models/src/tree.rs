//! The histogram tree learner shared by the forest and the boosting model.
//!
//! Every node's split is found from per-feature histograms of gradient and hessian sums over at
//! most 256 bins; a child's histogram is the parent's minus its sibling's, so only the smaller
//! child is ever scanned. With `g = w·y, h = w` the gain is the weighted variance reduction of a
//! regression tree (the forest); with `g = y − F, h = 1` and `λ > 0` it is XGBoost's
//! second-order gain for squared error (boosting).

use rand::Rng;
use rand::seq::index::sample;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::data::{BinMapper, Binned};

/// A node, 16 bytes so that deep trees stay cache-friendly when scoring: a split when
/// `left != 0` (the root is never a child; the right child is `left + 1`), where rows with
/// `x[feature] <= value` go left; else a leaf predicting `value`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Node {
    pub feature: u32,
    pub left: u32,
    pub value: f64,
}

/// A fitted regression tree. `bins` and `gains` (per node) serve training-time traversal of
/// binned data and feature importance; scoring touches only `nodes`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tree {
    pub nodes: Vec<Node>,
    pub bins: Vec<u8>,
    pub gains: Vec<f32>,
    /// The layout batch scoring walks, built from `nodes` on first use.
    #[serde(skip)]
    pub scoring: ScoringCache,
}

/// The tree's depth (its longest root-to-leaf path), derived from the nodes: never part of the
/// artifact, and never a reason for two trees to differ.
#[derive(Debug, Clone, Default)]
pub struct ScoringCache(std::sync::OnceLock<u32>);

impl PartialEq for ScoringCache {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Tree {
    #[inline]
    pub fn predict(&self, x: &[f64]) -> f64 {
        let mut i = 0usize;
        loop {
            let n = &self.nodes[i];
            if n.left == 0 {
                return n.value;
            }
            i = n.left as usize + usize::from(x[n.feature as usize] > n.value);
        }
    }

    /// Adds this tree's prediction for each row of the row-major `x` (`d` columns) to `acc`.
    /// Eight rows walk the tree together for exactly the tree's depth, a row that reached its
    /// leaf staying there: no branch depends on the data, and the eight chains of loads are
    /// independent, so the processor overlaps them. The sums are [`Self::predict`]'s.
    pub fn predict_many(&self, x: &[f64], d: usize, acc: &mut [f64]) {
        const LANES: usize = 8;
        let depth = *self.scoring.0.get_or_init(|| self.max_depth());
        let mut rows = x.chunks_exact(d * LANES);
        let mut accs = acc.chunks_exact_mut(LANES);
        let nodes = &self.nodes[..];
        for (block, out) in (&mut rows).zip(&mut accs) {
            let mut at = [0usize; LANES];
            for _ in 0..depth {
                for (k, i) in at.iter_mut().enumerate() {
                    let n = &nodes[*i];
                    let v = block[k * d + n.feature as usize];
                    let next = n.left as usize + usize::from(v > n.value);
                    *i = if n.left == 0 { *i } else { next };
                }
            }
            for (a, i) in out.iter_mut().zip(at) {
                *a += nodes[i].value;
            }
        }
        for (row, a) in rows.remainder().chunks_exact(d).zip(accs.into_remainder()) {
            *a += self.predict(row);
        }
    }

    /// The number of splits on the longest path from the root to a leaf.
    fn max_depth(&self) -> u32 {
        let mut depth = vec![0u32; self.nodes.len()];
        let mut max = 0;
        // Children always come after their parent, so one forward pass sees every parent first.
        for i in 0..self.nodes.len() {
            let n = self.nodes[i];
            if n.left != 0 {
                let (l, below) = (n.left as usize, depth[i] + 1);
                for c in [l, l + 1] {
                    if let Some(slot) = depth.get_mut(c) {
                        *slot = below;
                        max = max.max(below);
                    }
                }
            }
        }
        max
    }

    #[inline]
    pub fn predict_binned(&self, b: &Binned, row: usize) -> f64 {
        let mut i = 0usize;
        loop {
            let n = &self.nodes[i];
            if n.left == 0 {
                return n.value;
            }
            i = n.left as usize + usize::from(b.get(row, n.feature as usize) > self.bins[i]);
        }
    }

    pub fn n_leaves(&self) -> usize {
        self.nodes.iter().filter(|n| n.left == 0).count()
    }

    /// Adds each split's gain to its feature.
    pub fn add_importance(&self, out: &mut [f64]) {
        for (n, g) in self
            .nodes
            .iter()
            .zip(&self.gains)
            .filter(|(n, _)| n.left != 0)
        {
            out[n.feature as usize] += f64::from(*g);
        }
    }

    /// Multiplies every leaf value (boosting's learning rate).
    pub fn scale(&mut self, factor: f64) {
        for n in self.nodes.iter_mut().filter(|n| n.left == 0) {
            n.value *= factor;
        }
    }
}

/// How a tree grows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GrowParams {
    pub max_depth: usize,
    pub min_samples_leaf: u32,
    pub min_child_weight: f64,
    pub lambda: f64,
    /// Features considered at each split (all when equal to the number of features).
    pub max_features: usize,
    /// Build histograms of large nodes in parallel (boosting); the forest parallelises
    /// across trees instead.
    pub parallel: bool,
    /// Every hessian is 1 (squared-error boosting): the hessian array is not read.
    pub unit_hessian: bool,
}

#[derive(Debug, Clone, Copy, Default)]
struct Cell {
    g: f64,
    h: f64,
    n: u32,
}

/// Gradients and hessians of the rows, optionally with the gradients quantized to integers
/// (`g ≈ q · scale`): integer histograms add without floating-point latency chains, which is
/// most of the cost of boosting. Leaf values are then recomputed from the exact gradients.
#[derive(Debug, Clone, Copy)]
pub struct Gradients<'a> {
    pub g: &'a [f64],
    pub h: &'a [f64],
    pub quantized: Option<(&'a [i32], f64)>,
}

/// One 256-cell histogram per feature: a `u8` bin indexes it without a bounds check.
struct Hist {
    cells: Vec<[Cell; 256]>,
}

impl Hist {
    fn zeroed(features: usize) -> Self {
        Self {
            cells: vec![[Cell::default(); 256]; features],
        }
    }

    fn add(&mut self, other: &Hist) {
        for (a, b) in self.cells.iter_mut().zip(&other.cells) {
            for (x, y) in a.iter_mut().zip(b) {
                x.g += y.g;
                x.h += y.h;
                x.n += y.n;
            }
        }
    }

    fn subtract(&mut self, other: &Hist) {
        for (a, b) in self.cells.iter_mut().zip(&other.cells) {
            for (x, y) in a.iter_mut().zip(b) {
                x.g -= y.g;
                x.h -= y.h;
                x.n -= y.n;
            }
        }
    }
}

struct Task {
    node: usize,
    start: usize,
    end: usize,
    depth: usize,
    hist: Option<Hist>,
    g: f64,
    h: f64,
}

/// Grows trees over one binned dataset.
pub struct Grower<'a> {
    binned: &'a Binned,
    bins: &'a BinMapper,
    params: GrowParams,
}

impl std::fmt::Debug for Grower<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Grower")
            .field("params", &self.params)
            .finish()
    }
}

struct Split {
    feature: usize,
    bin: u8,
    gain: f64,
    left: (f64, f64, u32),
}

impl<'a> Grower<'a> {
    pub fn new(binned: &'a Binned, bins: &'a BinMapper, params: GrowParams) -> Self {
        Self {
            binned,
            bins,
            params,
        }
    }

    fn n_features(&self) -> usize {
        self.bins.edges.len()
    }

    /// Histograms of every feature over `rows`, reading each row's bins once. Large nodes are
    /// split across threads (boosting), each filling its own histogram, then summed.
    fn build_hist(&self, rows: &[u32], grads: &Gradients<'_>) -> Hist {
        let d = self.n_features();
        let (g, h) = (grads.g, grads.h);
        let unit = self.params.unit_hessian;
        let fill = |rows: &[u32]| {
            let mut hist = Hist::zeroed(d);
            if let Some((q, scale)) = grads.quantized {
                // 8-byte cells keep a node's histograms in L1; the caller bounds |q| so that
                // no sum over the rows can overflow an i32.
                let mut acc = vec![[(0i32, 0u32); 256]; d];
                for &r in rows {
                    let r = r as usize;
                    let qr = q[r];
                    for (cells, &b) in acc.iter_mut().zip(self.binned.row(r)) {
                        let c = &mut cells[b as usize];
                        c.0 += qr;
                        c.1 += 1;
                    }
                }
                for (out, a) in hist.cells.iter_mut().zip(&acc) {
                    for (c, &(gq, n)) in out.iter_mut().zip(a) {
                        *c = Cell {
                            g: gq as f64 * scale,
                            h: f64::from(n),
                            n,
                        };
                    }
                }
                return hist;
            }
            for &r in rows {
                let r = r as usize;
                let gr = g[r];
                let hr = if unit { 1.0 } else { h[r] };
                for (cells, &b) in hist.cells.iter_mut().zip(self.binned.row(r)) {
                    let c = &mut cells[b as usize];
                    c.g += gr;
                    c.h += hr;
                    c.n += 1;
                }
            }
            hist
        };
        if self.params.parallel && rows.len() >= 16_384 {
            let parts = rayon::current_num_threads().max(1);
            let chunk = rows.len().div_ceil(parts);
            rows.par_chunks(chunk)
                .map(fill)
                .reduce_with(|mut a, b| {
                    a.add(&b);
                    a
                })
                .unwrap_or_else(|| Hist::zeroed(d))
        } else {
            fill(rows)
        }
    }

    /// Reorders `rows` so that those with `bin <= split_bin` come first; returns their count.
    /// Large nodes (boosting) are partitioned in fixed-size chunks in parallel, whose left parts
    /// are then gathered by rotations; fixed chunks keep the order independent of thread count.
    fn partition(&self, rows: &mut [u32], feature: usize, split_bin: u8) -> usize {
        const CHUNK: usize = 1 << 16;
        let sequential = |part: &mut [u32]| {
            let mut i = 0;
            for j in 0..part.len() {
                if self.binned.get(part[j] as usize, feature) <= split_bin {
                    part.swap(i, j);
                    i += 1;
                }
            }
            i
        };
        if !self.params.parallel || rows.len() < 2 * CHUNK {
            return sequential(rows);
        }
        let lefts: Vec<usize> = rows.par_chunks_mut(CHUNK).map(sequential).collect();
        let mut left_end = lefts[0];
        for (k, &l) in lefts.iter().enumerate().skip(1) {
            let start = k * CHUNK;
            rows[left_end..start + l].rotate_left(start - left_end);
            left_end += l;
        }
        left_end
    }

    fn score(&self, g: f64, h: f64) -> f64 {
        g * g / (h + self.params.lambda)
    }

    fn best_split(&self, hist: &Hist, g: f64, h: f64, n: u32, features: &[usize]) -> Option<Split> {
        let p = &self.params;
        let parent = self.score(g, h);
        let mut best: Option<Split> = None;
        for &f in features {
            let cells = &hist.cells[f][..self.bins.n_bins(f)];
            let (mut gl, mut hl, mut nl) = (0.0, 0.0, 0u32);
            for (b, c) in cells.iter().enumerate().take(cells.len().saturating_sub(1)) {
                gl += c.g;
                hl += c.h;
                nl += c.n;
                let nr = n - nl;
                if nl < p.min_samples_leaf || hl < p.min_child_weight {
                    continue;
                }
                if nr < p.min_samples_leaf || h - hl < p.min_child_weight {
                    break;
                }
                let gain = self.score(gl, hl) + self.score(g - gl, h - hl) - parent;
                if gain > 1e-12 * parent.abs().max(1.0)
                    && best.as_ref().is_none_or(|s| gain > s.gain)
                {
                    best = Some(Split {
                        feature: f,
                        bin: b as u8,
                        gain,
                        left: (gl, hl, nl),
                    });
                }
            }
        }
        best
    }

    fn leaf(&self, g: f64, h: f64) -> Node {
        let denom = h + self.params.lambda;
        Node {
            feature: 0,
            left: 0,
            value: if denom > 0.0 { g / denom } else { 0.0 },
        }
    }

    fn can_split(&self, depth: usize, n: usize) -> bool {
        depth < self.params.max_depth && n >= 2 * self.params.min_samples_leaf.max(1) as usize
    }

    /// Grows a tree on `rows` (reordered in place) with gradients `g` and hessians `h`.
    /// `allowed` restricts the features (column subsampling); per-split sampling of
    /// `max_features` among them uses `rng`.
    pub fn grow<R: Rng>(
        &self,
        rows: &mut [u32],
        g: &[f64],
        h: &[f64],
        allowed: &[usize],
        rng: &mut R,
    ) -> Tree {
        let grads = Gradients {
            g,
            h,
            quantized: None,
        };
        self.grow_with_leaves(rows, &grads, allowed, rng).0
    }

    /// As [`Self::grow`], also returning each leaf's node and its range in `rows` (which ends
    /// up grouped by leaf), so that boosting updates its predictions without traversing.
    pub fn grow_with_leaves<R: Rng>(
        &self,
        rows: &mut [u32],
        grads: &Gradients<'_>,
        allowed: &[usize],
        rng: &mut R,
    ) -> (Tree, Vec<(usize, std::ops::Range<usize>)>) {
        let mut leaves = Vec::new();
        let all: Vec<usize> = (0..self.n_features()).collect();
        let allowed = if allowed.is_empty() {
            &all[..]
        } else {
            allowed
        };
        // Node totals live in the same space as the histograms (quantized or exact), so that a
        // parent minus its left child is its right child exactly.
        let (g0, h0) = match grads.quantized {
            Some((q, scale)) => {
                let s: i64 = rows.iter().map(|&r| i64::from(q[r as usize])).sum();
                (s as f64 * scale, rows.len() as f64)
            }
            None => rows.iter().fold((0.0, 0.0), |(a, b), &r| {
                (a + grads.g[r as usize], b + grads.h[r as usize])
            }),
        };
        let mut nodes = vec![self.leaf(g0, h0)];
        let mut bins = vec![0u8];
        let mut gains = vec![0f32];
        let mut stack = vec![Task {
            node: 0,
            start: 0,
            end: rows.len(),
            depth: 0,
            hist: None,
            g: g0,
            h: h0,
        }];
        while let Some(task) = stack.pop() {
            let n = task.end - task.start;
            if !self.can_split(task.depth, n) {
                leaves.push((task.node, task.start..task.end));
                continue;
            }
            let hist = match task.hist {
                Some(hist) => hist,
                None => self.build_hist(&rows[task.start..task.end], grads),
            };
            let k = self.params.max_features.min(allowed.len()).max(1);
            let features: Vec<usize> = if k < allowed.len() {
                sample(rng, allowed.len(), k)
                    .into_iter()
                    .map(|i| allowed[i])
                    .collect()
            } else {
                allowed.to_vec()
            };
            let Some(split) = self.best_split(&hist, task.g, task.h, n as u32, &features) else {
                leaves.push((task.node, task.start..task.end));
                continue;
            };
            let mid = task.start
                + self.partition(&mut rows[task.start..task.end], split.feature, split.bin);
            let (gl, hl, _) = split.left;
            let (gr, hr) = (task.g - gl, task.h - hl);
            let left = nodes.len();
            nodes.push(self.leaf(gl, hl));
            nodes.push(self.leaf(gr, hr));
            bins.extend([0, 0]);
            gains.extend([0.0, 0.0]);
            nodes[task.node] = Node {
                feature: split.feature as u32,
                left: left as u32,
                value: self.bins.edges[split.feature]
                    .get(split.bin as usize)
                    .copied()
                    .unwrap_or(f64::INFINITY),
            };
            bins[task.node] = split.bin;
            gains[task.node] = split.gain as f32;
            let depth = task.depth + 1;
            let (nl, nr) = (mid - task.start, task.end - mid);
            let (split_l, split_r) = (self.can_split(depth, nl), self.can_split(depth, nr));
            let (mut hist_l, mut hist_r) = (None, None);
            if split_l || split_r {
                // Scan the smaller child; the larger one's histogram is the parent's minus it.
                let left_small = nl <= nr;
                let (s, e) = if left_small {
                    (task.start, mid)
                } else {
                    (mid, task.end)
                };
                let small = self.build_hist(&rows[s..e], grads);
                let mut large = hist;
                large.subtract(&small);
                if left_small {
                    (hist_l, hist_r) = (Some(small), Some(large));
                } else {
                    (hist_l, hist_r) = (Some(large), Some(small));
                }
            }
            if split_r {
                stack.push(Task {
                    node: left + 1,
                    start: mid,
                    end: task.end,
                    depth,
                    hist: hist_r,
                    g: gr,
                    h: hr,
                });
            } else {
                leaves.push((left + 1, mid..task.end));
            }
            if split_l {
                stack.push(Task {
                    node: left,
                    start: task.start,
                    end: mid,
                    depth,
                    hist: hist_l,
                    g: gl,
                    h: hl,
                });
            } else {
                leaves.push((left, task.start..mid));
            }
        }
        (
            Tree {
                nodes,
                bins,
                gains,
                scoring: ScoringCache::default(),
            },
            leaves,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Dataset;

    #[test]
    fn parallel_partition_matches_the_rule_and_keeps_every_row() {
        let n = 300_000;
        let x: Vec<f64> = (0..n)
            .map(|i| f64::from((i * 7919 % 1000) as u32))
            .collect();
        let data = Dataset::new(x, vec![0.0; n], vec!["x".into()]).unwrap();
        let bins = BinMapper::fit(&data, 256);
        let binned = bins.transform(&data);
        let params = GrowParams {
            max_depth: 4,
            min_samples_leaf: 1,
            min_child_weight: 0.0,
            lambda: 0.0,
            max_features: 1,
            parallel: true,
            unit_hessian: true,
        };
        let grower = Grower::new(&binned, &bins, params);
        let mut rows: Vec<u32> = (0..n as u32).collect();
        let split = 100u8;
        let left = grower.partition(&mut rows, 0, split);
        assert!(
            rows[..left]
                .iter()
                .all(|&r| binned.get(r as usize, 0) <= split)
        );
        assert!(
            rows[left..]
                .iter()
                .all(|&r| binned.get(r as usize, 0) > split)
        );
        let expected = (0..n).filter(|&r| binned.get(r, 0) <= split).count();
        assert_eq!(left, expected);
        let mut sorted = rows.clone();
        sorted.sort_unstable();
        assert!(sorted.iter().enumerate().all(|(i, &r)| r as usize == i));
    }
}

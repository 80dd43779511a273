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

/// A node: a split when `left != 0` (the root is never a child), else a leaf with `value`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Node {
    pub feature: u32,
    /// Rows with `x[feature] <= threshold` go left.
    pub threshold: f64,
    pub left: u32,
    pub right: u32,
    pub value: f64,
    /// The split's bin, for training-time traversal of binned data.
    pub bin: u8,
    pub gain: f32,
}

/// A fitted regression tree.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tree {
    pub nodes: Vec<Node>,
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
            i = if x[n.feature as usize] <= n.threshold {
                n.left
            } else {
                n.right
            } as usize;
        }
    }

    #[inline]
    pub fn predict_binned(&self, b: &Binned, row: usize) -> f64 {
        let mut i = 0usize;
        loop {
            let n = &self.nodes[i];
            if n.left == 0 {
                return n.value;
            }
            i = if b.cols[n.feature as usize][row] <= n.bin {
                n.left
            } else {
                n.right
            } as usize;
        }
    }

    pub fn n_leaves(&self) -> usize {
        self.nodes.iter().filter(|n| n.left == 0).count()
    }

    /// Adds each split's gain to its feature.
    pub fn add_importance(&self, out: &mut [f64]) {
        for n in self.nodes.iter().filter(|n| n.left != 0) {
            out[n.feature as usize] += f64::from(n.gain);
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
    /// Build histograms feature-parallel (boosting); the forest parallelises across trees.
    pub parallel: bool,
}

#[derive(Debug, Clone, Copy, Default)]
struct Cell {
    g: f64,
    h: f64,
    n: u32,
}

struct Hist {
    cells: Vec<Cell>,
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
    offsets: Vec<usize>,
    n_cells: usize,
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
        let mut offsets = Vec::with_capacity(bins.edges.len() + 1);
        let mut acc = 0;
        for f in 0..bins.edges.len() {
            offsets.push(acc);
            acc += bins.n_bins(f);
        }
        offsets.push(acc);
        Self {
            binned,
            bins,
            offsets,
            n_cells: acc,
            params,
        }
    }

    fn n_features(&self) -> usize {
        self.bins.edges.len()
    }

    fn build_hist(&self, rows: &[u32], g: &[f64], h: &[f64], features: &[usize]) -> Hist {
        let mut cells = vec![Cell::default(); self.n_cells];
        let fill = |f: usize, out: &mut [Cell]| {
            let col = &self.binned.cols[f];
            for &r in rows {
                let c = &mut out[col[r as usize] as usize];
                c.g += g[r as usize];
                c.h += h[r as usize];
                c.n += 1;
            }
        };
        if self.params.parallel && rows.len() > 4096 {
            // Split the cell vector into per-feature slices and fill them in parallel.
            let mut slices: Vec<(usize, &mut [Cell])> = Vec::with_capacity(features.len());
            let mut rest: &mut [Cell] = &mut cells;
            let mut at = 0;
            let mut wanted: Vec<usize> = features.to_vec();
            wanted.sort_unstable();
            for f in wanted {
                let (_, tail) = rest.split_at_mut(self.offsets[f] - at);
                let (mine, tail) = tail.split_at_mut(self.offsets[f + 1] - self.offsets[f]);
                slices.push((f, mine));
                rest = tail;
                at = self.offsets[f + 1];
            }
            slices.into_par_iter().for_each(|(f, out)| fill(f, out));
        } else {
            for &f in features {
                let (a, b) = (self.offsets[f], self.offsets[f + 1]);
                fill(f, &mut cells[a..b]);
            }
        }
        Hist { cells }
    }

    fn score(&self, g: f64, h: f64) -> f64 {
        g * g / (h + self.params.lambda)
    }

    fn best_split(&self, hist: &Hist, g: f64, h: f64, n: u32, features: &[usize]) -> Option<Split> {
        let p = &self.params;
        let parent = self.score(g, h);
        let mut best: Option<Split> = None;
        for &f in features {
            let cells = &hist.cells[self.offsets[f]..self.offsets[f + 1]];
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
        Node {
            feature: 0,
            threshold: 0.0,
            left: 0,
            right: 0,
            value: if h + self.params.lambda > 0.0 {
                g / (h + self.params.lambda)
            } else {
                0.0
            },
            bin: 0,
            gain: 0.0,
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
        let all: Vec<usize> = (0..self.n_features()).collect();
        let allowed = if allowed.is_empty() {
            &all[..]
        } else {
            allowed
        };
        let (g0, h0) = rows.iter().fold((0.0, 0.0), |(a, b), &r| {
            (a + g[r as usize], b + h[r as usize])
        });
        let mut nodes = vec![self.leaf(g0, h0)];
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
                continue;
            }
            let hist = match task.hist {
                Some(hist) => hist,
                None => self.build_hist(&rows[task.start..task.end], g, h, allowed),
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
                continue;
            };
            // Partition the node's rows: left (bin <= split) first.
            let col = &self.binned.cols[split.feature];
            let part = &mut rows[task.start..task.end];
            let mut i = 0;
            for j in 0..part.len() {
                if col[part[j] as usize] <= split.bin {
                    part.swap(i, j);
                    i += 1;
                }
            }
            let mid = task.start + i;
            let (gl, hl, _) = split.left;
            let (gr, hr) = (task.g - gl, task.h - hl);
            let left = nodes.len();
            nodes.push(self.leaf(gl, hl));
            nodes.push(self.leaf(gr, hr));
            nodes[task.node] = Node {
                feature: split.feature as u32,
                threshold: self.bins.edges[split.feature]
                    .get(split.bin as usize)
                    .copied()
                    .unwrap_or(f64::INFINITY),
                left: left as u32,
                right: left as u32 + 1,
                value: nodes[task.node].value,
                bin: split.bin,
                gain: split.gain as f32,
            };
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
                let small = self.build_hist(&rows[s..e], g, h, allowed);
                let mut large = hist;
                for (l, c) in large.cells.iter_mut().zip(&small.cells) {
                    l.g -= c.g;
                    l.h -= c.h;
                    l.n -= c.n;
                }
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
            }
        }
        Tree { nodes }
    }
}

//! The histogram tree learner shared by the forest and the boosting model.
//!
//! Every node's split is found from per-feature histograms of gradient and hessian sums over at
//! most 256 bins; a child's histogram is the parent's minus its sibling's, so only the smaller
//! child is ever scanned. With `g = w·y, h = w` the gain is the weighted variance reduction of a
//! regression tree (the forest); with `g = y − F, h = 1` and `λ > 0` it is XGBoost's
//! second-order gain for squared error (boosting).
//!
//! What makes it fast, each measured on boosting's 300 rounds over 267,026 rows (2 cores;
//! 6.1 s before, about 3.3 s after): histogram cells that pack the quantized gradient sum and
//! the row count into one `u64` (one add per update instead of two; 5.2 → 3.8 s); joint
//! histograms of features that occur in few combinations, such as the calendar features of a
//! date (19 updates per row become 6; 2.9 → 2.5 s, and the forest 9.9 → 7.8 s); boosting splitting
//! several nodes at once, in parallel; a stable, branch-free partition on a feature-major
//! copy of the bins, into space reused across rounds; the histogram loops compiled also for
//! AVX2 and BMI, chosen at run time (about 8% less time in paired runs).
//!
//! Then, measured the same way (boosting's 300 rounds, alternating runs, medians): prefetching
//! the bins of rows 16 ahead in nodes whose rows are scattered, where a row's bins otherwise
//! came from far caches one row at a time (the small nodes' histograms took 3x less time);
//! each group's joint cells a fixed 1,024 long and a loop of known length for up to eight
//! groups, so a code indexes its cell with no bounds check (the root's histogram 35% less);
//! partitioning with the left count the histogram gives, one store per row, in one part per
//! thread. Together with running the rounds inside the worker pool (see `gbm`): 2.95 s → 2.33 s.
//! Then each feature's best split from all its bins' gains computed at once (vector divisions;
//! 13% less single-threaded time), and each node's children growing in parallel as soon as it
//! is split, with no wait for the rest of a batch of nodes (1.93 → 1.79 s).

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
    /// Per node, the training weight that reached it (rows for boosting, bootstrap counts for
    /// the forest): what TreeSHAP weighs a split's two sides by. Saved after the trees in the
    /// artifact (see `model`), so that models written before it still load; empty for those.
    #[serde(skip)]
    pub covers: Vec<f32>,
    /// The layout batch scoring walks, built from `nodes` on first use.
    #[serde(skip)]
    pub scoring: ScoringCache,
    /// What explaining a prediction needs, built on first use (see [`crate::explain`]).
    #[serde(skip)]
    pub explaining: crate::explain::ExplainCache,
}

const LANES: usize = 8;

/// The walk of [`Tree::predict_many`] over the whole groups of [`LANES`] rows, compiled also for
/// AVX2 and BMI, chosen at run time where the processor has them.
#[multiversion::multiversion(targets("x86_64+avx2+bmi1+bmi2+fma"))]
fn walk_many(nodes: &[Node], depth: u32, x: &[f64], d: usize, acc: &mut [f64]) {
    for (block, out) in x.chunks_exact(d * LANES).zip(acc.chunks_exact_mut(LANES)) {
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
}

/// A row's update of a packed histogram cell: its quantized gradient in the high half, a count
/// of one in the low half. The caller bounds |q| so that no sum over the rows overflows an
/// i32, and a count never reaches 2^32, so the two halves of a cell never carry into each
/// other.
#[inline]
fn packed_add(q: i32) -> u64 {
    ((i64::from(q) << 32) as u64).wrapping_add(1)
}

/// Rows ahead whose data a histogram pass asks the cache for. A node's rows are ascending but,
/// below the root, scattered over the data, which the hardware prefetcher does not follow:
/// without this a row's bins come from far caches one row at a time.
const PREFETCH_AHEAD: usize = 16;

/// Whether `rows` (ascending) are sparse enough over the data for prefetching to pay: the
/// root's and other dense nodes' reads are sequential, which the hardware prefetches already.
fn sparse(rows: &[u32]) -> bool {
    match (rows.first(), rows.last()) {
        (Some(&a), Some(&b)) => 2 * rows.len() < (b - a) as usize,
        _ => false,
    }
}

/// Adds each row's packed gradient and count into its groups' joint cells: the inner loop of
/// boosting's histograms, compiled also for AVX2 and BMI, chosen at run time where the
/// processor has them. Each group's cells are a fixed [`MAX_CODES`] long, so a code indexes
/// them with no bounds check, and the common numbers of groups get a loop of known length.
#[multiversion::multiversion(targets("x86_64+avx2+bmi1+bmi2+fma"))]
fn fill_joint(rows: &[u32], q: &[i32], codes: &[u16], joint: &mut [[u64; MAX_CODES]]) {
    match joint.len() {
        1 => fill_joint_of::<1>(rows, q, codes, joint),
        2 => fill_joint_of::<2>(rows, q, codes, joint),
        3 => fill_joint_of::<3>(rows, q, codes, joint),
        4 => fill_joint_of::<4>(rows, q, codes, joint),
        5 => fill_joint_of::<5>(rows, q, codes, joint),
        6 => fill_joint_of::<6>(rows, q, codes, joint),
        7 => fill_joint_of::<7>(rows, q, codes, joint),
        8 => fill_joint_of::<8>(rows, q, codes, joint),
        k => {
            let ahead = if sparse(rows) { PREFETCH_AHEAD } else { 0 };
            for (i, &r) in rows.iter().enumerate() {
                if let Some(&next) = rows.get(i + ahead).filter(|_| ahead > 0) {
                    prefetch_index::prefetch_index(codes, next as usize * k);
                    prefetch_index::prefetch_index(q, next as usize);
                }
                let r = r as usize;
                let add = packed_add(q[r]);
                for (cells, &c) in joint.iter_mut().zip(&codes[r * k..(r + 1) * k]) {
                    let cell = &mut cells[usize::from(c) % MAX_CODES];
                    *cell = cell.wrapping_add(add);
                }
            }
        }
    }
}

/// [`fill_joint`] for `K` groups.
#[inline(always)]
fn fill_joint_of<const K: usize>(
    rows: &[u32],
    q: &[i32],
    codes: &[u16],
    joint: &mut [[u64; MAX_CODES]],
) {
    let (codes, _) = codes.as_chunks::<K>();
    let Some(joint) = joint.first_chunk_mut::<K>() else {
        return;
    };
    let ahead = if sparse(rows) { PREFETCH_AHEAD } else { 0 };
    for (i, &r) in rows.iter().enumerate() {
        if let Some(&next) = rows.get(i + ahead).filter(|_| ahead > 0) {
            prefetch_index::prefetch_index(codes, next as usize);
            prefetch_index::prefetch_index(q, next as usize);
        }
        let r = r as usize;
        let add = packed_add(q[r]);
        for (cells, &c) in joint.iter_mut().zip(&codes[r]) {
            let cell = &mut cells[usize::from(c) % MAX_CODES];
            *cell = cell.wrapping_add(add);
        }
    }
}

/// As [`fill_joint`], one cell per feature (nodes too small to repay joint histograms).
#[multiversion::multiversion(targets("x86_64+avx2+bmi1+bmi2+fma"))]
fn fill_features(rows: &[u32], q: &[i32], binned: &Binned, cells: &mut [[u64; 256]]) {
    let d = binned.n_features;
    let ahead = if sparse(rows) { PREFETCH_AHEAD } else { 0 };
    for (i, &r) in rows.iter().enumerate() {
        if let Some(&next) = rows.get(i + ahead).filter(|_| ahead > 0) {
            // A row's bins may straddle two cache lines.
            let at = next as usize * d;
            prefetch_index::prefetch_index(&binned.bins, at);
            prefetch_index::prefetch_index(&binned.bins, at + d - 1);
            prefetch_index::prefetch_index(q, next as usize);
        }
        let r = r as usize;
        let add = packed_add(q[r]);
        for (cells, &c) in cells.iter_mut().zip(binned.row(r)) {
            let cell = &mut cells[usize::from(c)];
            *cell = cell.wrapping_add(add);
        }
    }
}

/// What a split must meet: rows and hessian weight on each side, and a gain above `floor`.
#[derive(Debug, Clone, Copy)]
struct Limits {
    min_rows: u32,
    min_weight: f64,
    lambda: f64,
    floor: f64,
}

/// The best split of one feature from its packed histogram (`cells`, all bins but the last):
/// the first bin of the largest gain above the floor among those whose both sides meet the
/// limits, with that gain and the left side's gradient sum and rows. The same sums, in the same
/// order, as weighing the bins one by one; but the gains of all bins are computed in one loop
/// without branches, which the compiler turns into vector divisions (four at once with AVX2),
/// instead of two divisions after one another per bin.
#[multiversion::multiversion(targets("x86_64+avx2+bmi1+bmi2+fma"))]
fn best_packed_bin(
    cells: &[u64],
    scale: f64,
    g: f64,
    h: f64,
    n: u32,
    parent: f64,
    limits: Limits,
) -> Option<(usize, f64, f64, u32)> {
    let m = cells.len().min(256);
    // Counts as floats too (exact below 2^53), so that the gains loop is all one lane width.
    let (mut gl, mut hl) = ([0f64; 256], [0f64; 256]);
    let (mut q, mut count) = (0i64, 0u32);
    for ((cell, gl), hl) in cells.iter().zip(&mut gl).zip(&mut hl) {
        q += i64::from((cell >> 32) as u32 as i32);
        count = count.wrapping_add(*cell as u32);
        *gl = q as f64 * scale;
        *hl = f64::from(count);
    }
    let score = |g: f64, h: f64| g * g / (h + limits.lambda);
    let (min_rows, rows) = (f64::from(limits.min_rows), f64::from(n));
    let mut gains = [f64::NEG_INFINITY; 256];
    for ((gain, &gl), &hl) in gains[..m].iter_mut().zip(&gl[..m]).zip(&hl[..m]) {
        // `&`, not `&&`: no branch, so that the loop vectorises.
        let fits = (hl >= min_rows)
            & (hl >= limits.min_weight)
            & (rows - hl >= min_rows)
            & (h - hl >= limits.min_weight);
        let value = score(gl, hl) + score(g - gl, h - hl) - parent;
        *gain = if fits { value } else { f64::NEG_INFINITY };
    }
    let mut best: Option<(usize, f64)> = None;
    for (b, &gain) in gains[..m].iter().enumerate() {
        if gain > limits.floor && best.is_none_or(|(_, top)| gain > top) {
            best = Some((b, gain));
        }
    }
    best.map(|(b, gain)| (b, gain, gl[b], hl[b] as u32))
}

/// Writes `rows` partitioned into `out` (as long): those with `column[r] <= split_bin` first,
/// then the others, each side in order, given that `left` of them go left. One store per row,
/// to its place. `None` when the count was wrong (`out` is then garbage, `rows` untouched).
/// Kept out of line: inlined into `split_node`, its loop ran short of registers and reloaded
/// four values from the stack every row.
#[inline(never)]
fn place(
    rows: &[u32],
    out: &mut [u32],
    column: &[u8],
    split_bin: u8,
    left: usize,
) -> Option<usize> {
    let (mut i, mut k) = (0, left);
    for &r in rows {
        let goes_left = column[r as usize] <= split_bin;
        *out.get_mut(if goes_left { i } else { k })? = r;
        i += usize::from(goes_left);
        k += usize::from(!goes_left);
    }
    (i == left).then_some(i)
}

/// The stable partition without a known count: each row is written to both sides and the side
/// that keeps it advances, so no branch depends on the data.
fn stable_partition(rows: &mut [u32], right: &mut [u32], column: &[u8], split_bin: u8) -> usize {
    let (mut i, mut k) = (0, 0);
    for j in 0..rows.len() {
        let r = rows[j];
        let left = column[r as usize] <= split_bin;
        rows[i] = r;
        right[k] = r;
        i += usize::from(left);
        k += usize::from(!left);
    }
    rows[i..].copy_from_slice(&right[..k]);
    i
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
    /// Checks a tree read from an artifact before anything walks it: every split's children
    /// exist and come after it (so every walk ends, at most one step per node), its feature is
    /// below `width`, and every threshold and leaf is finite; the per-node tables, when present,
    /// have one entry per node. A file that decodes but breaks one of these is refused here,
    /// instead of panicking or looping on a request.
    pub fn validate(&self, width: usize) -> Result<(), String> {
        let n = self.nodes.len();
        if n == 0 {
            return Err("no nodes".into());
        }
        for (i, node) in self.nodes.iter().enumerate() {
            if !node.value.is_finite() {
                return Err(format!("node {i}: value {} is not finite", node.value));
            }
            if node.left == 0 {
                continue;
            }
            let left = node.left as usize;
            if left <= i || left + 1 >= n {
                return Err(format!(
                    "node {i}: children {left} and {} are not after it within the {n} nodes",
                    left + 1
                ));
            }
            if node.feature as usize >= width {
                return Err(format!(
                    "node {i}: feature {} is not below the model's {width} features",
                    node.feature
                ));
            }
        }
        for (what, len) in [
            ("bins", self.bins.len()),
            ("gains", self.gains.len()),
            ("covers", self.covers.len()),
        ] {
            if len != 0 && len != n {
                return Err(format!("{len} {what} for {n} nodes"));
            }
        }
        Ok(())
    }

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
        let depth = *self.scoring.0.get_or_init(|| self.max_depth());
        walk_many(&self.nodes, depth, x, d, acc);
        let done = acc.len() / LANES * LANES;
        for (row, a) in x[done * d..].chunks_exact(d).zip(&mut acc[done..]) {
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
    /// Grow leaf-wise (best first, as LightGBM does) up to this many leaves, `max_depth` still
    /// bounding the depth; 0: level by level to `max_depth`. Used with `parallel` and every
    /// feature considered at each split (boosting).
    pub max_leaves: usize,
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
enum Hist {
    Exact(Vec<[Cell; 256]>),
    /// Quantized gradients (`g ≈ q · scale`, unit hessians): per bin, one 8-byte cell with the
    /// sum of `q` in its high half and the row count in its low half. A third of the exact
    /// form's size, and added or subtracted exactly.
    Packed {
        cells: Vec<[u64; 256]>,
        scale: f64,
    },
}

impl Hist {
    fn add(&mut self, other: &Hist) {
        match (self, other) {
            (Hist::Exact(a), Hist::Exact(b)) => {
                for (a, b) in a.iter_mut().zip(b) {
                    for (x, y) in a.iter_mut().zip(b) {
                        x.g += y.g;
                        x.h += y.h;
                        x.n += y.n;
                    }
                }
            }
            (Hist::Packed { cells: a, .. }, Hist::Packed { cells: b, .. }) => {
                for (a, b) in a.iter_mut().zip(b) {
                    for (x, y) in a.iter_mut().zip(b) {
                        *x = x.wrapping_add(*y);
                    }
                }
            }
            _ => debug_assert!(false, "histograms of different kinds"),
        }
    }

    fn subtract(&mut self, other: &Hist) {
        match (self, other) {
            (Hist::Exact(a), Hist::Exact(b)) => {
                for (a, b) in a.iter_mut().zip(b) {
                    for (x, y) in a.iter_mut().zip(b) {
                        x.g -= y.g;
                        x.h -= y.h;
                        x.n -= y.n;
                    }
                }
            }
            (Hist::Packed { cells: a, .. }, Hist::Packed { cells: b, .. }) => {
                for (a, b) in a.iter_mut().zip(b) {
                    for (x, y) in a.iter_mut().zip(b) {
                        *x = x.wrapping_sub(*y);
                    }
                }
            }
            _ => debug_assert!(false, "histograms of different kinds"),
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
    groups: Groups,
    /// Joint histograms' space, reused: a fresh 48 KB for every node was faulted in page by
    /// page and zeroed whole, where only the cells the groups use need clearing.
    joints: std::sync::Mutex<Vec<Vec<[u64; MAX_CODES]>>>,
}

/// Nodes with fewer rows build their histograms feature by feature.
const GROUPED_MIN_ROWS: usize = 4096;

/// Features histogrammed together. A group of features is read as one code per row, the index
/// of the row's combination of their bins among the combinations that occur, so a row costs one
/// histogram update per group instead of one per feature; each feature's histogram is then the
/// sum of the joint one over the others, a pass over the group's codes. Features that depend on
/// each other combine into few codes. On the transaction features: the nine calendar features
/// are a function of the date (977 codes); promotion, discount, segment, store and payment make
/// 720; category and product 200 (a product has one category); each price is alone. A row
/// costs 6 updates instead of 19.
#[derive(Debug, Clone)]
struct Groups {
    /// Per group, its features.
    members: Vec<Vec<usize>>,
    /// Per group, per code, its features' bins (code-major: `decode[g][code * members + j]`).
    decode: Vec<Vec<u8>>,
    /// Where each group's cells start in a joint histogram, then the total number of cells.
    offsets: Vec<usize>,
    /// Row-major codes: `codes[r * groups + g]` is row `r`'s code in group `g`.
    codes: Vec<u16>,
}

/// The most codes of a group: its cells stay within 8 KB of `u64`.
const MAX_CODES: usize = 1024;

/// Rows sampled to choose a group's next feature (the choice is then checked on every row).
const GROUPING_SAMPLE: usize = 16_384;

impl Groups {
    /// Builds groups greedily: a group starts from the feature with the fewest bins left and
    /// takes, while its codes stay within [`MAX_CODES`], the feature that multiplies its
    /// number of codes by the least relative to that feature's bins (the most dependent one).
    fn new(binned: &Binned, bins: &BinMapper) -> Self {
        let (n, d) = (binned.n_rows, bins.edges.len());
        let mut left: Vec<usize> = (0..d).collect();
        left.sort_by_key(|&f| (bins.n_bins(f), f));
        let step = (n / GROUPING_SAMPLE).max(1);
        // Pair markers for counting distinct (code, bin) pairs: a pair is seen in this count
        // when its marker equals the count's stamp, so the markers are never cleared.
        let mut marks = vec![0u32; MAX_CODES * 256];
        let mut stamp = 0u32;
        // The joint code of each pair marked in the current numbering.
        let mut ids = vec![0u16; MAX_CODES * 256];
        let (mut members, mut decode, mut columns) = (Vec::new(), Vec::new(), Vec::new());
        while !left.is_empty() {
            let first = left.remove(0);
            let mut group = vec![first];
            let mut code: Vec<u16> = binned.column(first).iter().map(|&b| u16::from(b)).collect();
            let mut table: Vec<u8> = (0..bins.n_bins(first)).map(|b| b as u8).collect();
            let mut refused: Vec<usize> = Vec::new();
            loop {
                let mut best: Option<(f64, usize, usize)> = None;
                for &f in left.iter().filter(|f| !refused.contains(f)) {
                    stamp += 1;
                    let column = binned.column(f);
                    let mut distinct = 0usize;
                    for r in (0..n).step_by(step) {
                        let key = usize::from(code[r]) * 256 + usize::from(column[r]);
                        if marks[key] != stamp {
                            marks[key] = stamp;
                            distinct += 1;
                        }
                    }
                    let count = (table.len() / group.len()).max(1);
                    let growth = distinct as f64 / (count * bins.n_bins(f).max(1)) as f64;
                    if distinct <= MAX_CODES
                        && best.is_none_or(|(g, dd, _)| (growth, distinct) < (g, dd))
                    {
                        best = Some((growth, distinct, f));
                    }
                }
                let Some((_, _, f)) = best else { break };
                // The joint codes on every row, numbered in order of first appearance.
                stamp += 1;
                let column = binned.column(f);
                let mut next = Vec::with_capacity(n);
                let (mut new_table, mut m) = (Vec::new(), 0usize);
                let width = group.len();
                for (r, &c) in code.iter().enumerate() {
                    let key = usize::from(c) * 256 + usize::from(column[r]);
                    if marks[key] != stamp {
                        marks[key] = stamp;
                        if m == MAX_CODES {
                            break;
                        }
                        new_table.extend_from_slice(&table[usize::from(c) * width..][..width]);
                        new_table.push(column[r]);
                        ids[key] = m as u16;
                        m += 1;
                    }
                    next.push(ids[key]);
                }
                if next.len() < n {
                    refused.push(f);
                    continue;
                }
                group.push(f);
                left.retain(|&g| g != f);
                (code, table) = (next, new_table);
            }
            members.push(group);
            decode.push(table);
            columns.push(code);
        }
        let k = members.len();
        let mut offsets = vec![0usize];
        for (table, group) in decode.iter().zip(&members) {
            offsets.push(offsets[offsets.len() - 1] + table.len() / group.len());
        }
        let mut codes = vec![0u16; n * k];
        for (g, column) in columns.iter().enumerate() {
            for (r, &c) in column.iter().enumerate() {
                codes[r * k + g] = c;
            }
        }
        Self {
            members,
            decode,
            offsets,
            codes,
        }
    }

    fn len(&self) -> usize {
        self.members.len()
    }

    fn row(&self, r: usize) -> &[u16] {
        let k = self.len();
        &self.codes[r * k..(r + 1) * k]
    }

    /// Adds each group's joint cells into its features' cells (`add(feature, bin, cell)`);
    /// group `g`'s cells start at `start(g)` in `joint`.
    fn marginalise<C: Copy>(
        &self,
        joint: &[C],
        start: impl Fn(usize) -> usize,
        mut add: impl FnMut(usize, usize, C),
    ) {
        for (g, group) in self.members.iter().enumerate() {
            let codes = self.offsets[g + 1] - self.offsets[g];
            let cells = &joint[start(g)..start(g) + codes];
            let table = self.decode[g].chunks_exact(group.len());
            for (&cell, bins) in cells.iter().zip(table) {
                for (&f, &b) in group.iter().zip(bins) {
                    add(f, usize::from(b), cell);
                }
            }
        }
    }
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
            groups: Groups::new(binned, bins),
            joints: std::sync::Mutex::default(),
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
        let k = self.groups.len();
        let offsets = &self.groups.offsets[..k];
        let fill = |rows: &[u32]| {
            // Joint histograms save updates per row but cost a pass over every code to split
            // up again, which small nodes (most of a deep forest tree) do not repay.
            let grouped = rows.len() >= GROUPED_MIN_ROWS && k > 0;
            if let Some((q, scale)) = grads.quantized {
                // A row costs one add per group (see `packed_add`).
                let mut cells = vec![[0u64; 256]; d];
                if !grouped {
                    fill_features(rows, q, self.binned, &mut cells);
                    return Hist::Packed { cells, scale };
                }
                let reused = self.joints.lock().ok().and_then(|mut pool| pool.pop());
                let mut joint = reused.unwrap_or_else(|| vec![[0u64; MAX_CODES]; k]);
                for (g, cells) in joint.iter_mut().enumerate() {
                    cells[..self.groups.offsets[g + 1] - self.groups.offsets[g]].fill(0);
                }
                fill_joint(rows, q, &self.groups.codes, &mut joint);
                let starts = |g: usize| g * MAX_CODES;
                self.groups
                    .marginalise(joint.as_flattened(), starts, |f, b, v| {
                        cells[f][b] = cells[f][b].wrapping_add(v);
                    });
                if let Ok(mut pool) = self.joints.lock() {
                    pool.push(joint);
                }
                return Hist::Packed { cells, scale };
            }
            let add_to = |cell: &mut Cell, gr: f64, hr: f64| {
                cell.g += gr;
                cell.h += hr;
                cell.n += 1;
            };
            let mut cells = vec![[Cell::default(); 256]; d];
            if !grouped {
                for &r in rows {
                    let r = r as usize;
                    let hr = if unit { 1.0 } else { h[r] };
                    for (cells, &c) in cells.iter_mut().zip(self.binned.row(r)) {
                        add_to(&mut cells[usize::from(c)], g[r], hr);
                    }
                }
                return Hist::Exact(cells);
            }
            let mut joint = vec![Cell::default(); self.groups.offsets[k]];
            for &r in rows {
                let r = r as usize;
                let hr = if unit { 1.0 } else { h[r] };
                for (&o, &c) in offsets.iter().zip(self.groups.row(r)) {
                    add_to(&mut joint[o + usize::from(c)], g[r], hr);
                }
            }
            let starts = |g: usize| self.groups.offsets[g];
            self.groups.marginalise(&joint, starts, |f, b, v| {
                let c = &mut cells[f][b];
                c.g += v.g;
                c.h += v.h;
                c.n += v.n;
            });
            Hist::Exact(cells)
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
                .unwrap_or_else(|| fill(&[]))
        } else {
            fill(rows)
        }
    }

    /// Reorders `rows` so that those with `bin <= split_bin` come first; returns their count.
    /// The partition is stable: a node's rows stay in ascending order, so histogram building
    /// reads the binned data front to back instead of jumping around it.
    ///
    /// `left` is the count the node's histogram gives, so each row is written once, straight
    /// to its place in `scratch`, and the whole is copied back. Large nodes (boosting) are cut
    /// into one part per thread, each partitioned into its own stretch of `scratch` (left rows
    /// from its start, right rows from its end); the parts' runs are then copied to their
    /// places. The result is the same however the rows are cut.
    fn partition(
        &self,
        rows: &mut [u32],
        scratch: &mut [u32],
        feature: usize,
        split_bin: u8,
        left: usize,
    ) -> usize {
        const MIN_PART: usize = 1 << 14;
        let column = self.binned.column(feature);
        let n = rows.len();
        let threads = if self.params.parallel {
            rayon::current_num_threads()
        } else {
            1
        };
        if threads < 2 || n < 2 * MIN_PART {
            if let Some(mid) = place(rows, &mut scratch[..n], column, split_bin, left) {
                rows.copy_from_slice(&scratch[..n]);
                return mid;
            }
            // Not reached while histograms count truly; kept so that a wrong count can never
            // lose a row.
            debug_assert!(false, "a node's histogram count differs from its rows");
            return stable_partition(rows, scratch, column, split_bin);
        }
        let part = n.div_ceil(threads);
        let lefts: Vec<usize> = rows
            .par_chunks(part)
            .zip(scratch.par_chunks_mut(part))
            .map(|(rows, out)| {
                let (mut i, mut k) = (0, rows.len());
                for &r in rows {
                    let goes_left = column[r as usize] <= split_bin;
                    k -= usize::from(!goes_left);
                    out[if goes_left { i } else { k }] = r;
                    i += usize::from(goes_left);
                }
                // The right rows were written from the end backwards.
                out[i..rows.len()].reverse();
                i
            })
            .collect();
        let total: usize = lefts.iter().sum();
        let (mut l, mut r) = (0, total);
        for (out, &nl) in scratch[..n].chunks(part).zip(&lefts) {
            rows[l..l + nl].copy_from_slice(&out[..nl]);
            rows[r..r + out.len() - nl].copy_from_slice(&out[nl..]);
            l += nl;
            r += out.len() - nl;
        }
        total
    }

    fn score(&self, g: f64, h: f64) -> f64 {
        g * g / (h + self.params.lambda)
    }

    fn best_split(&self, hist: &Hist, g: f64, h: f64, n: u32, features: &[usize]) -> Option<Split> {
        let p = &self.params;
        let parent = self.score(g, h);
        let mut best: Option<Split> = None;
        // Weighs the split after `bin` given the left side's totals; false once the right
        // side is too small for any later bin.
        let consider =
            |best: &mut Option<Split>, f: usize, bin: usize, gl: f64, hl: f64, nl: u32| -> bool {
                let nr = n - nl;
                if nl < p.min_samples_leaf || hl < p.min_child_weight {
                    return true;
                }
                if nr < p.min_samples_leaf || h - hl < p.min_child_weight {
                    return false;
                }
                let gain = self.score(gl, hl) + self.score(g - gl, h - hl) - parent;
                if gain > 1e-12 * parent.abs().max(1.0)
                    && best.as_ref().is_none_or(|s| gain > s.gain)
                {
                    *best = Some(Split {
                        feature: f,
                        bin: bin as u8,
                        gain,
                        left: (gl, hl, nl),
                    });
                }
                true
            };
        for &f in features {
            let last = self.bins.n_bins(f).saturating_sub(1);
            match hist {
                Hist::Exact(cells) => {
                    let (mut gl, mut hl, mut nl) = (0.0, 0.0, 0u32);
                    for (b, c) in cells[f][..last].iter().enumerate() {
                        gl += c.g;
                        hl += c.h;
                        nl += c.n;
                        if !consider(&mut best, f, b, gl, hl, nl) {
                            break;
                        }
                    }
                }
                Hist::Packed { cells, scale } => {
                    let limits = Limits {
                        min_rows: p.min_samples_leaf,
                        min_weight: p.min_child_weight,
                        lambda: p.lambda,
                        floor: 1e-12 * parent.abs().max(1.0),
                    };
                    let found = best_packed_bin(&cells[f][..last], *scale, g, h, n, parent, limits);
                    if let Some((bin, gain, gl, nl)) = found
                        && best.as_ref().is_none_or(|s| gain > s.gain)
                    {
                        best = Some(Split {
                            feature: f,
                            bin: bin as u8,
                            gain,
                            left: (gl, f64::from(nl), nl),
                        });
                    }
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
    ///
    /// With `parallel` (boosting) and no sampling of features per split, a node's two children
    /// grow in parallel ([`Self::grow_below`]) and the nodes are numbered afterwards, level by
    /// level, so the tree does not depend on the number of threads. Otherwise nodes split one
    /// at a time, depth first, sampling features in that fixed order.
    pub fn grow_with_leaves<R: Rng>(
        &self,
        rows: &mut [u32],
        grads: &Gradients<'_>,
        allowed: &[usize],
        rng: &mut R,
    ) -> (Tree, Vec<(usize, std::ops::Range<usize>)>) {
        self.grow_in(rows, &mut Vec::new(), grads, allowed, rng)
    }

    /// As [`Self::grow_with_leaves`], with the partitioning space from the caller, so that
    /// boosting does not fault in fresh memory for it every round.
    pub fn grow_in<R: Rng>(
        &self,
        rows: &mut [u32],
        scratch: &mut Vec<u32>,
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
        // Quantized, they are the root histogram's totals over any one feature's bins (every
        // row is in one bin of each), exact sums, which spares a pass over the rows.
        let mut root_hist = None;
        let (g0, h0) = match grads.quantized {
            Some((_, scale)) if self.n_features() > 0 => {
                let hist = self.build_hist(rows, grads);
                let (mut sum, mut count) = (0i64, 0u64);
                if let Hist::Packed { cells, .. } = &hist {
                    for &c in &cells[0] {
                        sum += i64::from((c >> 32) as u32 as i32);
                        count += u64::from(c as u32);
                    }
                }
                root_hist = Some(hist);
                (sum as f64 * scale, count as f64)
            }
            _ => rows.iter().fold((0.0, 0.0), |(a, b), &r| {
                (a + grads.g[r as usize], b + grads.h[r as usize])
            }),
        };
        // Scratch space for partitioning.
        scratch.resize(rows.len(), 0);
        let root = Task {
            node: 0,
            start: 0,
            end: rows.len(),
            depth: 0,
            hist: root_hist,
            g: g0,
            h: h0,
        };
        if self.params.parallel && self.params.max_features >= allowed.len() {
            let grown = if self.params.max_leaves > 0 {
                self.grow_best_first(root, rows, &mut scratch[..], grads, allowed)
            } else {
                self.grow_below(root, rows, &mut scratch[..], grads, allowed)
            };
            return self.number(grown);
        }
        let mut nodes = vec![self.leaf(g0, h0)];
        let mut bins = vec![0u8];
        let mut gains = vec![0f32];
        let mut covers = vec![h0 as f32];
        let mut stack = vec![root];
        // One node at a time, depth first, which keeps a deep tree's histograms few (the forest
        // grows its trees in parallel instead).
        let batch = 1;
        while !stack.is_empty() {
            let mut tasks = Vec::with_capacity(batch);
            while tasks.len() < batch
                && let Some(task) = stack.pop()
            {
                if self.can_split(task.depth, task.end - task.start) {
                    tasks.push(task);
                } else {
                    leaves.push((task.node, task.start..task.end));
                }
            }
            let k = self.params.max_features.min(allowed.len()).max(1);
            let features: Vec<Vec<usize>> = tasks
                .iter()
                .map(|_| {
                    if k < allowed.len() {
                        sample(rng, allowed.len(), k)
                            .into_iter()
                            .map(|i| allowed[i])
                            .collect()
                    } else {
                        allowed.to_vec()
                    }
                })
                .collect();
            // Each task's rows and scratch space, as disjoint slices.
            let mut by_start: Vec<usize> = (0..tasks.len()).collect();
            by_start.sort_unstable_by_key(|&i| tasks[i].start);
            let mut slices: Vec<Option<(&mut [u32], &mut [u32])>> =
                (0..tasks.len()).map(|_| None).collect();
            let (mut rest, mut spare, mut offset) = (&mut rows[..], &mut scratch[..], 0usize);
            for i in by_start {
                let t = &tasks[i];
                let (_, tail) = rest.split_at_mut(t.start - offset);
                let (mine, tail) = tail.split_at_mut(t.end - t.start);
                let (_, spare_tail) = spare.split_at_mut(t.start - offset);
                let (my_spare, spare_tail) = spare_tail.split_at_mut(t.end - t.start);
                slices[i] = Some((mine, my_spare));
                rest = tail;
                spare = spare_tail;
                offset = t.end;
            }
            let split = |((task, slice), features): ((&mut Task, _), &Vec<usize>)| {
                let (rows, scratch): (&mut [u32], &mut [u32]) = slice?;
                self.split_node(task, rows, scratch, grads, features)
            };
            let outcomes: Vec<Option<Outcome>> = tasks
                .iter_mut()
                .zip(slices)
                .zip(&features)
                .map(split)
                .collect();
            // Children go on the stack last task first, right child first, so that the next
            // node taken is the first task's left child, as depth first would have it.
            for (task, outcome) in tasks.into_iter().zip(outcomes).rev() {
                let Some(o) = outcome else {
                    leaves.push((task.node, task.start..task.end));
                    continue;
                };
                let mid = task.start + o.left_rows;
                let (gl, hl, _) = o.split.left;
                let (gr, hr) = (task.g - gl, task.h - hl);
                let left = nodes.len();
                nodes.push(self.leaf(gl, hl));
                nodes.push(self.leaf(gr, hr));
                bins.extend([0, 0]);
                gains.extend([0.0, 0.0]);
                covers.extend([hl as f32, hr as f32]);
                nodes[task.node] = Node {
                    feature: o.split.feature as u32,
                    left: left as u32,
                    value: self.bins.edges[o.split.feature]
                        .get(o.split.bin as usize)
                        .copied()
                        .unwrap_or(f64::INFINITY),
                };
                bins[task.node] = o.split.bin;
                gains[task.node] = o.split.gain as f32;
                let depth = task.depth + 1;
                stack.push(Task {
                    node: left + 1,
                    start: mid,
                    end: task.end,
                    depth,
                    hist: o.hist_right,
                    g: gr,
                    h: hr,
                });
                stack.push(Task {
                    node: left,
                    start: task.start,
                    end: mid,
                    depth,
                    hist: o.hist_left,
                    g: gl,
                    h: hl,
                });
            }
        }
        (
            Tree {
                nodes,
                bins,
                gains,
                covers,
                scoring: ScoringCache::default(),
                explaining: Default::default(),
            },
            leaves,
        )
    }

    /// Grows the subtree of `task` (whose rows are `rows`) as nodes split, each node's two
    /// children growing in parallel (`rayon::join`): a core that finishes a small subtree
    /// takes up part of a larger one, with no wait for the rest of a level or a batch.
    fn grow_below(
        &self,
        mut task: Task,
        rows: &mut [u32],
        scratch: &mut [u32],
        grads: &Gradients<'_>,
        features: &[usize],
    ) -> Grown {
        let leaf = |task: &Task| Grown::Leaf {
            g: task.g,
            h: task.h,
            rows: task.start..task.end,
        };
        if !self.can_split(task.depth, rows.len()) {
            return leaf(&task);
        }
        let Some(o) = self.split_node(&mut task, rows, scratch, grads, features) else {
            return leaf(&task);
        };
        let mid = o.left_rows;
        let (gl, hl, _) = o.split.left;
        let child = |start: usize, end: usize, hist: Option<Hist>, g: f64, h: f64| Task {
            node: 0,
            start,
            end,
            depth: task.depth + 1,
            hist,
            g,
            h,
        };
        let left = child(task.start, task.start + mid, o.hist_left, gl, hl);
        let right = child(
            task.start + mid,
            task.end,
            o.hist_right,
            task.g - gl,
            task.h - hl,
        );
        let (rows_l, rows_r) = rows.split_at_mut(mid);
        let (scratch_l, scratch_r) = scratch.split_at_mut(mid);
        let (l, r) = rayon::join(
            || self.grow_below(left, rows_l, scratch_l, grads, features),
            || self.grow_below(right, rows_r, scratch_r, grads, features),
        );
        Grown::Split {
            split: o.split,
            h: task.h,
            children: Box::new((l, r)),
        }
    }

    /// Grows leaf-wise: of all the leaves so far, the one whose best split gains most is split
    /// next, until the tree has `max_leaves` leaves or no leaf can gain. With a leaf budget this
    /// spends the splits where the loss falls most, instead of on every node of a level (the
    /// growth LightGBM is known for). Each leaf's histogram is kept until it is split, so a
    /// child's is still the parent's minus its smaller sibling's. Deterministic: ties go to the
    /// leaf found last.
    fn grow_best_first(
        &self,
        mut root: Task,
        rows: &mut [u32],
        scratch: &mut [u32],
        grads: &Gradients<'_>,
        features: &[usize],
    ) -> Grown {
        enum Slot {
            Leaf(f64, f64, std::ops::Range<usize>),
            Split(Split, f64, usize, usize),
        }
        let evaluate = |task: &mut Task, rows: &[u32]| -> Option<Split> {
            if !self.can_split(task.depth, rows.len()) {
                return None;
            }
            let hist = task
                .hist
                .take()
                .unwrap_or_else(|| self.build_hist(rows, grads));
            let split = self.best_split(&hist, task.g, task.h, rows.len() as u32, features);
            task.hist = Some(hist);
            split
        };
        let mut slots = vec![Slot::Leaf(root.g, root.h, root.start..root.end)];
        let mut open: Vec<(usize, Task, Split)> = Vec::new();
        let range = root.start..root.end;
        if let Some(s) = evaluate(&mut root, &rows[range]) {
            open.push((0, root, s));
        }
        let mut leaves = 1;
        while leaves < self.params.max_leaves {
            let Some(k) =
                (0..open.len()).max_by(|&a, &b| open[a].2.gain.total_cmp(&open[b].2.gain))
            else {
                break;
            };
            let (at, mut task, split) = open.swap_remove(k);
            let (start, end) = (task.start, task.end);
            let mine = &mut rows[start..end];
            let mid = self.partition(
                mine,
                &mut scratch[start..end],
                split.feature,
                split.bin,
                split.left.2 as usize,
            );
            let parent_hist = task
                .hist
                .take()
                .unwrap_or_else(|| self.build_hist(mine, grads));
            let left_small = mid <= end - start - mid;
            let small = if left_small {
                self.build_hist(&mine[..mid], grads)
            } else {
                self.build_hist(&mine[mid..], grads)
            };
            let mut large = parent_hist;
            large.subtract(&small);
            let (hist_l, hist_r) = if left_small {
                (small, large)
            } else {
                (large, small)
            };
            let (gl, hl, _) = split.left;
            let depth = task.depth + 1;
            let children = [
                Task {
                    node: 0,
                    start,
                    end: start + mid,
                    depth,
                    hist: Some(hist_l),
                    g: gl,
                    h: hl,
                },
                Task {
                    node: 0,
                    start: start + mid,
                    end,
                    depth,
                    hist: Some(hist_r),
                    g: task.g - gl,
                    h: task.h - hl,
                },
            ];
            let first = slots.len();
            slots[at] = Slot::Split(split, task.h, first, first + 1);
            leaves += 1;
            for (i, mut child) in children.into_iter().enumerate() {
                slots.push(Slot::Leaf(child.g, child.h, child.start..child.end));
                let range = child.start..child.end;
                if let Some(s) = evaluate(&mut child, &rows[range]) {
                    open.push((first + i, child, s));
                }
            }
        }
        // Slots into the nested form `number` takes.
        fn build(slots: &mut Vec<Option<Slot>>, at: usize) -> Grown {
            match slots[at].take() {
                Some(Slot::Leaf(g, h, rows)) => Grown::Leaf { g, h, rows },
                Some(Slot::Split(split, h, l, r)) => Grown::Split {
                    split,
                    h,
                    children: Box::new((build(slots, l), build(slots, r))),
                },
                None => Grown::Leaf {
                    g: 0.0,
                    h: 0.0,
                    rows: 0..0,
                },
            }
        }
        let mut slots: Vec<Option<Slot>> = slots.into_iter().map(Some).collect();
        build(&mut slots, 0)
    }

    /// Numbers a grown tree's nodes level by level (a split's children next to each other) and
    /// lists its leaves with their rows.
    fn number(&self, root: Grown) -> (Tree, Vec<(usize, std::ops::Range<usize>)>) {
        let (mut nodes, mut bins, mut gains, mut leaves) = (vec![], vec![], vec![], vec![]);
        let mut covers = vec![];
        let mut queue = std::collections::VecDeque::from([(0usize, root)]);
        nodes.push(self.leaf(0.0, 0.0));
        bins.push(0);
        gains.push(0.0);
        covers.push(0.0);
        while let Some((at, grown)) = queue.pop_front() {
            match grown {
                Grown::Leaf { g, h, rows } => {
                    nodes[at] = self.leaf(g, h);
                    covers[at] = h as f32;
                    leaves.push((at, rows));
                }
                Grown::Split { split, h, children } => {
                    let left = nodes.len();
                    nodes.extend([self.leaf(0.0, 0.0); 2]);
                    bins.extend([0, 0]);
                    gains.extend([0.0, 0.0]);
                    covers.extend([0.0, 0.0]);
                    covers[at] = h as f32;
                    nodes[at] = Node {
                        feature: split.feature as u32,
                        left: left as u32,
                        value: self.bins.edges[split.feature]
                            .get(split.bin as usize)
                            .copied()
                            .unwrap_or(f64::INFINITY),
                    };
                    bins[at] = split.bin;
                    gains[at] = split.gain as f32;
                    let (l, r) = *children;
                    queue.extend([(left, l), (left + 1, r)]);
                }
            }
        }
        // The leaves in the order of their rows, as the depth-first grower lists them.
        leaves.sort_unstable_by_key(|(_, rows)| rows.start);
        let tree = Tree {
            nodes,
            bins,
            gains,
            covers,
            scoring: ScoringCache::default(),
            explaining: Default::default(),
        };
        (tree, leaves)
    }

    /// Finds the best split of one node, partitions its rows, and builds the histograms of the
    /// children that may split again: the smaller child is scanned, the larger one is the
    /// parent's minus it. `None` when no split gains.
    fn split_node(
        &self,
        task: &mut Task,
        rows: &mut [u32],
        scratch: &mut [u32],
        grads: &Gradients<'_>,
        features: &[usize],
    ) -> Option<Outcome> {
        let n = rows.len();
        let hist = match task.hist.take() {
            Some(hist) => hist,
            None => self.build_hist(rows, grads),
        };
        let split = self.best_split(&hist, task.g, task.h, n as u32, features)?;
        let mid = self.partition(
            rows,
            scratch,
            split.feature,
            split.bin,
            split.left.2 as usize,
        );
        let depth = task.depth + 1;
        let (nl, nr) = (mid, n - mid);
        let (mut hist_left, mut hist_right) = (None, None);
        if self.can_split(depth, nl) || self.can_split(depth, nr) {
            let left_small = nl <= nr;
            let small = if left_small {
                self.build_hist(&rows[..mid], grads)
            } else {
                self.build_hist(&rows[mid..], grads)
            };
            let mut large = hist;
            large.subtract(&small);
            if left_small {
                (hist_left, hist_right) = (Some(small), Some(large));
            } else {
                (hist_left, hist_right) = (Some(large), Some(small));
            }
        }
        Some(Outcome {
            split,
            left_rows: mid,
            hist_left,
            hist_right,
        })
    }
}

/// A subtree grown by [`Grower::grow_below`], before its nodes are numbered.
enum Grown {
    Leaf {
        g: f64,
        h: f64,
        rows: std::ops::Range<usize>,
    },
    Split {
        split: Split,
        /// The node's hessian sum: its cover.
        h: f64,
        children: Box<(Grown, Grown)>,
    },
}

/// What splitting one node produced.
struct Outcome {
    split: Split,
    left_rows: usize,
    hist_left: Option<Hist>,
    hist_right: Option<Hist>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Dataset;

    /// Depth 4, no limit on leaves, unit hessians.
    fn shallow(max_features: usize, parallel: bool) -> GrowParams {
        GrowParams {
            max_depth: 4,
            min_samples_leaf: 1,
            min_child_weight: 0.0,
            lambda: 1.0,
            max_features,
            parallel,
            unit_hessian: true,
            max_leaves: 0,
        }
    }

    #[test]
    fn groups_join_dependent_features_and_decode_to_every_rows_bins() {
        // A "date" with 250 values, two features that are functions of it (a weekday and a
        // month) and one that is not.
        let n = 20_000;
        let mut x = Vec::with_capacity(n * 4);
        for i in 0..n {
            let day = (i / 40) % 250;
            x.extend([day % 7, day / 25, (i * 7919) % 200, day].map(|v| v as f64));
        }
        let names = ["weekday", "month", "noise", "day"]
            .map(String::from)
            .to_vec();
        let data = Dataset::new(x, vec![0.0; n], names).unwrap();
        let bins = BinMapper::fit(&data, 256);
        let binned = bins.transform(&data);
        let groups = Groups::new(&binned, &bins);
        let mut seen: Vec<usize> = groups.members.iter().flatten().copied().collect();
        seen.sort_unstable();
        assert_eq!(seen, vec![0, 1, 2, 3], "every feature in exactly one group");
        let of = |f: usize| groups.members.iter().position(|g| g.contains(&f)).unwrap();
        assert_eq!(of(0), of(3));
        assert_eq!(of(1), of(3));
        assert_ne!(of(2), of(3));
        let k = groups.len();
        for (g, members) in groups.members.iter().enumerate() {
            let size = groups.offsets[g + 1] - groups.offsets[g];
            assert!(size <= MAX_CODES);
            assert_eq!(groups.decode[g].len(), size * members.len());
            for r in 0..n {
                let code = usize::from(groups.codes[r * k + g]);
                assert!(code < size);
                for (j, &f) in members.iter().enumerate() {
                    assert_eq!(groups.decode[g][code * members.len() + j], binned.get(r, f));
                }
            }
        }
    }

    /// Joint histograms, marginalised, give each feature's histogram exactly as counting row by
    /// row does: for few groups (a loop of known length) and many (the general loop), over all
    /// rows (read in order) and over scattered rows (read with prefetching).
    #[test]
    fn joint_histograms_equal_per_feature_counts() {
        for d in [3usize, 11] {
            let n = 15_000;
            let mut x = Vec::with_capacity(n * d);
            for i in 0..n {
                // Features that do not determine each other, so that each is its own group.
                x.extend((0..d).map(|f| {
                    // splitmix64's finaliser: well mixed, so the features look independent.
                    let mut h = ((i * d + f) as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
                    h = (h ^ (h >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
                    h = (h ^ (h >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
                    ((h ^ (h >> 31)) % 97) as f64
                }));
            }
            let names = (0..d).map(|f| format!("f{f}")).collect();
            let data = Dataset::new(x, vec![0.0; n], names).unwrap();
            let bins = BinMapper::fit(&data, 256);
            let binned = bins.transform(&data);
            let grower = Grower::new(&binned, &bins, shallow(d, false));
            assert_eq!(grower.groups.len(), d, "each feature its own group");
            let q: Vec<i32> = (0..n).map(|i| (i as i32 * 37) % 2001 - 1000).collect();
            let g = vec![0.0; n];
            let grads = Gradients {
                g: &g,
                h: &g,
                quantized: Some((&q, 1.0)),
            };
            let all: Vec<u32> = (0..n as u32).collect();
            let scattered: Vec<u32> = (0..n as u32).step_by(3).collect();
            for rows in [&all[..], &scattered[..]] {
                assert!(rows.len() >= GROUPED_MIN_ROWS);
                let Hist::Packed { cells: joint, .. } = grower.build_hist(rows, &grads) else {
                    panic!("quantized gradients give packed histograms");
                };
                let mut direct = vec![[0u64; 256]; d];
                fill_features(rows, &q, &binned, &mut direct);
                assert_eq!(joint, direct, "{d} features, {} rows", rows.len());
            }
        }
    }

    #[test]
    fn a_wrong_left_count_is_refused_not_trusted() {
        let column = [0u8, 5, 0, 5, 5];
        let rows = [0u32, 1, 2, 3, 4];
        let mut out = [0u32; 5];
        assert_eq!(place(&rows, &mut out, &column, 0, 2), Some(2));
        assert_eq!(out, [0, 2, 1, 3, 4]);
        assert_eq!(place(&rows, &mut out, &column, 0, 1), None);
        assert_eq!(place(&rows, &mut out, &column, 0, 3), None);
    }

    #[test]
    fn parallel_partition_matches_the_rule_and_keeps_every_row() {
        let n = 300_000;
        let x: Vec<f64> = (0..n)
            .map(|i| f64::from((i * 7919 % 1000) as u32))
            .collect();
        let data = Dataset::new(x, vec![0.0; n], vec!["x".into()]).unwrap();
        let bins = BinMapper::fit(&data, 256);
        let binned = bins.transform(&data);
        let params = shallow(1, true);
        let grower = Grower::new(&binned, &bins, params);
        let mut rows: Vec<u32> = (0..n as u32).collect();
        let split = 100u8;
        let expected = (0..n).filter(|&r| binned.get(r, 0) <= split).count();
        let left = grower.partition(&mut rows, &mut vec![0; n], 0, split, expected);
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
        assert_eq!(left, expected);
        let mut sorted = rows.clone();
        sorted.sort_unstable();
        assert!(sorted.iter().enumerate().all(|(i, &r)| r as usize == i));
    }
}

//! Palette fitting: color histograms and weighted k-means in ImageGPT's normalized color space.
//!
//! ImageGPT's color clusters are k-means centers of pixels in the normalized space
//! `x / 127.5 - 1` (each channel in [-1, 1]). Pixels are uint8 RGB, so a dataset has at most 2^24
//! distinct colors and usually far fewer: [`ColorHistogram`] counts them, and [`kmeans`] clusters the
//! distinct colors weighted by their counts, which gives exactly the clustering of the pixels
//! themselves at a cost of distinct colors x clusters per iteration instead of pixels x clusters.
//!
//! The k-means follows scikit-learn's `KMeans(algorithm="lloyd")` step for step (greedy k-means++
//! initialization, Lloyd iterations, the same stopping rules, empty clusters moved to the points
//! farthest from their centers), so from the same initial centers it reaches the same centers (the
//! k-means++ draws use our own SplitMix64 generator, so they differ from scikit-learn's). What makes
//! it fast, all exact (no approximation changes a result):
//! - points are visited in Morton (Z-curve) order, so consecutive points are close in color space;
//! - k-means++ keeps points in blocks with bounding boxes and skips every block that a candidate
//!   center cannot bring closer (its box is farther than the block's largest current distance);
//! - the assignment step prunes with Hamerly's bounds (one upper bound to the assigned center and
//!   one lower bound to every other center per point), and when a point must be searched, it
//!   searches outward from its center through that center's neighbors sorted by distance, stopping
//!   by the triangle inequality (for up to 2048 clusters);
//! - bound updates, assignment and the M-step sums share one pass over the points.
//!
//! Results do not depend on the number of threads: every floating-point sum is taken over fixed
//! chunks and reduced in chunk order.
//!
//! Palettes with fewer distinct colors than clusters: see [`fit_palette`].

use rayon::prelude::*;
use std::sync::atomic::{AtomicU32, Ordering};

/// Points per parallel work item; fixed so that sums (and results) do not depend on the threads.
const CHUNK: usize = 4096;
/// Keys kept as a plain list before the histogram switches to the dense 2^24 table.
const PENDING_MAX: usize = 1 << 20;
/// Number of possible 24-bit colors.
const N_COLORS: usize = 1 << 24;
/// Largest number of clusters accepted (a palette bigger than this makes no sense for ImageGPT's
/// vocabulary and would only exhaust memory).
pub const MAX_CLUSTERS: usize = 1 << 16;
/// Largest number of k-means++ candidates per step.
pub const MAX_LOCAL_TRIALS: usize = 1000;

/// What can go wrong when fitting. Every message names the offending value.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum KMeansError {
    /// The pixel buffer is not a whole number of RGB triples.
    #[error("pixel buffer has {len} bytes, which is not a multiple of 3 (RGB)")]
    PixelLength { len: usize },
    /// Nothing to cluster.
    #[error("no pixels to fit: the input is empty (or every weight is 0)")]
    Empty,
    /// Number of clusters out of range.
    #[error("n_clusters must be between 1 and {MAX_CLUSTERS}, got {0}")]
    Clusters(usize),
    /// Fewer points with positive weight than clusters (general k-means only; palettes pad).
    #[error("n_samples={n_points} should be >= n_clusters={n_clusters}")]
    TooFewPoints { n_points: usize, n_clusters: usize },
    /// Lengths of points and weights differ.
    #[error("weights has {weights} entries but there are {points} points")]
    WeightLength { points: usize, weights: usize },
    /// A weight that is negative, NaN or infinite.
    #[error("weight {index} is {value}: weights must be finite and >= 0")]
    Weight { index: usize, value: f64 },
    /// A point coordinate that is NaN or infinite.
    #[error("point {index} has a non-finite coordinate {value}")]
    Point { index: usize, value: f64 },
    /// Initial centers of the wrong count or with non-finite values.
    #[error("init: {0}")]
    Init(String),
    /// A bad option value.
    #[error("{name} {message}, got {value}")]
    Option {
        name: &'static str,
        value: String,
        message: &'static str,
    },
    /// The progress callback asked to stop.
    #[error("cancelled")]
    Cancelled,
}

// ------------------------------------------------------------------------------------ histogram

/// Counts of distinct uint8 RGB colors, filled image by image.
///
/// Small inputs are kept as a list of 24-bit keys and counted by sorting; once more than
/// `PENDING_MAX` pixels arrived the counts move to a dense table of 2^24 `u32` (64 MiB) filled in
/// parallel with atomic increments. Before a count could overflow `u32` the table is folded into an
/// exact `u64` list, so any number of pixels is counted exactly.
#[derive(Debug, Default)]
pub struct ColorHistogram {
    /// Sorted distinct keys and their counts folded out of the dense table.
    keys: Vec<u32>,
    counts: Vec<u64>,
    /// Keys not counted yet (small inputs).
    pending: Vec<u32>,
    /// Dense table, once allocated.
    dense: Option<Vec<AtomicU32>>,
    /// Pixels in the dense table since it was last folded (bounds every entry).
    dense_pixels: u64,
    n_pixels: u64,
}

#[inline]
fn key(p: &[u8]) -> u32 {
    (u32::from(p[0]) << 16) | (u32::from(p[1]) << 8) | u32::from(p[2])
}

/// The RGB color of a 24-bit key.
#[inline]
pub fn key_color(k: u32) -> [u8; 3] {
    [(k >> 16) as u8, (k >> 8) as u8, k as u8]
}

/// Merges two sorted (key, count) lists.
fn merge_sorted(ak: &[u32], ac: &[u64], bk: &[u32], bc: &[u64]) -> (Vec<u32>, Vec<u64>) {
    let mut keys = Vec::with_capacity(ak.len() + bk.len());
    let mut counts = Vec::with_capacity(ak.len() + bk.len());
    let (mut i, mut j) = (0, 0);
    while i < ak.len() && j < bk.len() {
        match ak[i].cmp(&bk[j]) {
            std::cmp::Ordering::Less => {
                keys.push(ak[i]);
                counts.push(ac[i]);
                i += 1;
            }
            std::cmp::Ordering::Greater => {
                keys.push(bk[j]);
                counts.push(bc[j]);
                j += 1;
            }
            std::cmp::Ordering::Equal => {
                keys.push(ak[i]);
                counts.push(ac[i] + bc[j]);
                i += 1;
                j += 1;
            }
        }
    }
    keys.extend_from_slice(&ak[i..]);
    counts.extend_from_slice(&ac[i..]);
    keys.extend_from_slice(&bk[j..]);
    counts.extend_from_slice(&bc[j..]);
    (keys, counts)
}

/// Run-length counts of a key list (sorted in place).
fn count_sorted(keys: &mut [u32]) -> (Vec<u32>, Vec<u64>) {
    keys.par_sort_unstable();
    let mut out_k = Vec::new();
    let mut out_c: Vec<u64> = Vec::new();
    for &k in keys.iter() {
        if out_k.last() == Some(&k) {
            if let Some(c) = out_c.last_mut() {
                *c += 1;
            }
        } else {
            out_k.push(k);
            out_c.push(1);
        }
    }
    (out_k, out_c)
}

/// Nonzero entries of the dense table, in key order.
fn scan_dense(table: &[AtomicU32]) -> (Vec<u32>, Vec<u64>) {
    let parts: Vec<(Vec<u32>, Vec<u64>)> = table
        .par_chunks(1 << 16)
        .enumerate()
        .map(|(ci, chunk)| {
            let mut k = Vec::new();
            let mut c = Vec::new();
            for (i, v) in chunk.iter().enumerate() {
                let n = v.load(Ordering::Relaxed);
                if n != 0 {
                    k.push((ci * (1 << 16) + i) as u32);
                    c.push(u64::from(n));
                }
            }
            (k, c)
        })
        .collect();
    let total: usize = parts.iter().map(|p| p.0.len()).sum();
    let mut keys = Vec::with_capacity(total);
    let mut counts = Vec::with_capacity(total);
    for (k, c) in parts {
        keys.extend(k);
        counts.extend(c);
    }
    (keys, counts)
}

impl ColorHistogram {
    /// An empty histogram.
    pub fn new() -> Self {
        Self::default()
    }

    /// Pixels counted so far.
    pub fn n_pixels(&self) -> u64 {
        self.n_pixels
    }

    /// Adds interleaved RGB pixels (`len` must be a multiple of 3).
    pub fn add_rgb(&mut self, pixels: &[u8]) -> Result<(), KMeansError> {
        if pixels.len() % 3 != 0 {
            return Err(KMeansError::PixelLength { len: pixels.len() });
        }
        let n = pixels.len() / 3;
        if self.dense.is_none() && self.pending.len() + n <= PENDING_MAX {
            self.pending.extend(pixels.chunks_exact(3).map(key));
            self.n_pixels += n as u64;
            return Ok(());
        }
        if self.dense.is_none() {
            let table: Vec<AtomicU32> = (0..N_COLORS)
                .into_par_iter()
                .map(|_| AtomicU32::new(0))
                .collect();
            self.dense = Some(table);
            let pending = std::mem::take(&mut self.pending);
            self.add_dense(pending.len(), |i| pending[i]);
        }
        // Pieces small enough that one piece alone cannot overflow a u32 entry.
        for piece in pixels.chunks(3 * (1 << 30)) {
            self.add_dense(piece.len() / 3, |i| key(&piece[3 * i..3 * i + 3]));
        }
        self.n_pixels += n as u64;
        Ok(())
    }

    /// Counts the keys `key_of(0..n)` into the dense table (which must exist).
    fn add_dense(&mut self, n: usize, key_of: impl Fn(usize) -> u32 + Sync) {
        if n == 0 {
            return;
        }
        if self.dense_pixels + n as u64 > u64::from(u32::MAX) {
            self.fold_dense();
        }
        if let Some(table) = &self.dense {
            (0..n).into_par_iter().with_min_len(1 << 16).for_each(|i| {
                table[key_of(i) as usize].fetch_add(1, Ordering::Relaxed);
            });
        }
        self.dense_pixels += n as u64;
    }

    /// Moves the dense counts into the exact u64 list and zeroes the table.
    fn fold_dense(&mut self) {
        if let Some(table) = &self.dense {
            let (k, c) = scan_dense(table);
            let merged = merge_sorted(&self.keys, &self.counts, &k, &c);
            self.keys = merged.0;
            self.counts = merged.1;
            table.par_iter().for_each(|v| v.store(0, Ordering::Relaxed));
        }
        self.dense_pixels = 0;
    }

    /// The distinct colors as sorted 24-bit keys (`r << 16 | g << 8 | b`) and their counts.
    pub fn keys_counts(&self) -> (Vec<u32>, Vec<u64>) {
        let mut pending = self.pending.clone();
        let (pk, pc) = count_sorted(&mut pending);
        let (mut keys, mut counts) = merge_sorted(&self.keys, &self.counts, &pk, &pc);
        if let Some(table) = &self.dense {
            let (dk, dc) = scan_dense(table);
            (keys, counts) = merge_sorted(&keys, &counts, &dk, &dc);
        }
        (keys, counts)
    }
}

// ------------------------------------------------------------------------------------ k-means

/// Options of [`kmeans`] and [`fit_palette`].
#[derive(Debug, Clone)]
pub struct KMeansOptions {
    /// Number of clusters `K` (1..=[`MAX_CLUSTERS`]).
    pub n_clusters: usize,
    /// Maximum number of Lloyd iterations (>= 1).
    pub max_iter: usize,
    /// Relative tolerance: stop when the summed squared center shift is at most `tol` times the mean
    /// per-channel variance of the (weighted) points, as scikit-learn's `tol`.
    pub tol: f64,
    /// Seed of the k-means++ sampling.
    pub seed: u64,
    /// Candidates tried per k-means++ step; `None` = scikit-learn's `2 + floor(ln K)`.
    pub n_local_trials: Option<usize>,
    /// Start from these centers (`K` rows) instead of k-means++.
    pub init: Option<Vec<[f64; 3]>>,
}

impl KMeansOptions {
    /// Defaults for `n_clusters`: 300 iterations, tol 1e-4, seed 0, k-means++ as scikit-learn.
    pub fn new(n_clusters: usize) -> Self {
        Self {
            n_clusters,
            max_iter: 300,
            tol: 1e-4,
            seed: 0,
            n_local_trials: None,
            init: None,
        }
    }
}

/// Result of [`kmeans`].
#[derive(Debug, Clone)]
pub struct KMeansResult {
    /// The `K` centers.
    pub centers: Vec<[f64; 3]>,
    /// Sum over points of weight x squared distance to its cluster's center, the points being
    /// assigned with the final centers (so to their nearest center).
    pub inertia: f64,
    /// Lloyd iterations run.
    pub n_iter: usize,
    /// Whether a stopping rule (labels unchanged or shift within tolerance) ended the run before
    /// `max_iter`.
    pub converged: bool,
}

/// Progress of a fit, reported between steps. Returning `false` from the callback cancels the fit
/// ([`KMeansError::Cancelled`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Progress {
    /// `done` of `total` initial centers chosen.
    Init { done: usize, total: usize },
    /// Lloyd iteration `iter` (1-based) of at most `max_iter` finished; `changed` points changed
    /// cluster; `shift` is the summed squared center shift.
    Iteration {
        iter: usize,
        max_iter: usize,
        changed: usize,
        shift: f64,
    },
}

/// A progress callback.
pub type ProgressFn<'a> = dyn FnMut(Progress) -> bool + Send + 'a;

/// SplitMix64: a tiny, well-mixed deterministic generator (enough for k-means++ sampling).
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator for `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

/// Points in structure-of-arrays layout with their weights (all weights > 0).
struct Points {
    x: Vec<f64>,
    y: Vec<f64>,
    z: Vec<f64>,
    w: Vec<f64>,
}

impl Points {
    fn len(&self) -> usize {
        self.w.len()
    }
    #[inline]
    fn get(&self, i: usize) -> [f64; 3] {
        [self.x[i], self.y[i], self.z[i]]
    }
}

/// Centers in structure-of-arrays layout.
#[derive(Clone)]
struct Centers {
    x: Vec<f64>,
    y: Vec<f64>,
    z: Vec<f64>,
}

impl Centers {
    fn from_rows(rows: &[[f64; 3]]) -> Self {
        Self {
            x: rows.iter().map(|r| r[0]).collect(),
            y: rows.iter().map(|r| r[1]).collect(),
            z: rows.iter().map(|r| r[2]).collect(),
        }
    }
    fn rows(&self) -> Vec<[f64; 3]> {
        (0..self.x.len())
            .map(|j| [self.x[j], self.y[j], self.z[j]])
            .collect()
    }
    #[inline]
    fn get(&self, j: usize) -> [f64; 3] {
        [self.x[j], self.y[j], self.z[j]]
    }
}

#[inline]
fn d2(a: [f64; 3], b: [f64; 3]) -> f64 {
    let dx = a[0] - b[0];
    let dy = a[1] - b[1];
    let dz = a[2] - b[2];
    dx * dx + dy * dy + dz * dz
}

/// Nearest and second-nearest squared distances and the nearest index (lowest index on ties).
#[inline]
fn nearest2(p: [f64; 3], c: &Centers) -> (usize, f64, f64) {
    let (mut best, mut d1, mut d2nd) = (0usize, f64::INFINITY, f64::INFINITY);
    let (cx, cy, cz) = (&c.x[..], &c.y[..], &c.z[..]);
    for j in 0..cx.len() {
        let dx = p[0] - cx[j];
        let dy = p[1] - cy[j];
        let dz = p[2] - cz[j];
        let d = dx * dx + dy * dy + dz * dz;
        if d < d2nd {
            if d < d1 {
                d2nd = d1;
                d1 = d;
                best = j;
            } else {
                d2nd = d;
            }
        }
    }
    (best, d1, d2nd)
}

fn check_options(opts: &KMeansOptions) -> Result<(), KMeansError> {
    if opts.n_clusters == 0 || opts.n_clusters > MAX_CLUSTERS {
        return Err(KMeansError::Clusters(opts.n_clusters));
    }
    if opts.max_iter == 0 {
        return Err(KMeansError::Option {
            name: "max_iter",
            value: "0".into(),
            message: "must be >= 1",
        });
    }
    if !(opts.tol.is_finite() && opts.tol >= 0.0) {
        return Err(KMeansError::Option {
            name: "tol",
            value: format!("{}", opts.tol),
            message: "must be finite and >= 0",
        });
    }
    if let Some(t) = opts.n_local_trials {
        if t == 0 || t > MAX_LOCAL_TRIALS {
            return Err(KMeansError::Option {
                name: "n_local_trials",
                value: t.to_string(),
                message: "must be between 1 and 1000",
            });
        }
    }
    if let Some(init) = &opts.init {
        if init.len() != opts.n_clusters {
            return Err(KMeansError::Init(format!(
                "has {} centers but n_clusters is {}",
                init.len(),
                opts.n_clusters
            )));
        }
        for (i, row) in init.iter().enumerate() {
            for (c, v) in row.iter().enumerate() {
                if !v.is_finite() {
                    return Err(KMeansError::Init(format!(
                        "center {i} column {c} is {v}: must be finite"
                    )));
                }
            }
        }
    }
    Ok(())
}

/// Weighted k-means of 3-D points (see the module documentation). `weights = None` weighs every
/// point 1; points with weight 0 are ignored.
pub fn kmeans(
    points: &[[f64; 3]],
    weights: Option<&[f64]>,
    opts: &KMeansOptions,
    progress: Option<&mut ProgressFn<'_>>,
) -> Result<KMeansResult, KMeansError> {
    check_options(opts)?;
    if let Some(w) = weights {
        if w.len() != points.len() {
            return Err(KMeansError::WeightLength {
                points: points.len(),
                weights: w.len(),
            });
        }
    }
    let mut pts = Points {
        x: Vec::new(),
        y: Vec::new(),
        z: Vec::new(),
        w: Vec::new(),
    };
    for (i, p) in points.iter().enumerate() {
        for v in p {
            if !v.is_finite() {
                return Err(KMeansError::Point {
                    index: i,
                    value: *v,
                });
            }
        }
        let w = weights.map_or(1.0, |w| w[i]);
        if !(w.is_finite() && w >= 0.0) {
            return Err(KMeansError::Weight { index: i, value: w });
        }
        if w > 0.0 {
            pts.x.push(p[0]);
            pts.y.push(p[1]);
            pts.z.push(p[2]);
            pts.w.push(w);
        }
    }
    if pts.len() == 0 {
        return Err(KMeansError::Empty);
    }
    if pts.len() < opts.n_clusters {
        return Err(KMeansError::TooFewPoints {
            n_points: pts.len(),
            n_clusters: opts.n_clusters,
        });
    }
    let pts = morton_sorted(pts);
    let mut noop = |_: Progress| true;
    let progress: &mut ProgressFn<'_> = match progress {
        Some(p) => p,
        None => &mut noop,
    };
    run(&pts, opts, progress)
}

/// Spreads the low 21 bits of `v` to every third bit.
fn spread3(v: u64) -> u64 {
    let mut x = v & 0x1F_FFFF;
    x = (x | (x << 32)) & 0x1F_0000_0000_FFFF;
    x = (x | (x << 16)) & 0x1F_0000_FF00_00FF;
    x = (x | (x << 8)) & 0x100F_00F0_0F00_F00F;
    x = (x | (x << 4)) & 0x10C3_0C30_C30C_30C3;
    x = (x | (x << 2)) & 0x1249_2492_4924_9249;
    x
}

/// The points reordered along a Morton (Z-order) curve, so that consecutive points are close in
/// space: blocks of them have small bounding boxes (k-means++ prunes whole blocks) and neighbors
/// usually share a cluster. Only the order of floating-point sums changes.
fn morton_sorted(pts: Points) -> Points {
    let n = pts.len();
    let mut lo = [f64::INFINITY; 3];
    let mut hi = [f64::NEG_INFINITY; 3];
    for i in 0..n {
        let p = pts.get(i);
        for q in 0..3 {
            lo[q] = lo[q].min(p[q]);
            hi[q] = hi[q].max(p[q]);
        }
    }
    let scale: Vec<f64> = (0..3)
        .map(|q| {
            if hi[q] > lo[q] {
                2_097_151.0 / (hi[q] - lo[q])
            } else {
                0.0
            }
        })
        .collect();
    let mut order: Vec<(u64, u32)> = (0..n)
        .into_par_iter()
        .map(|i| {
            let p = pts.get(i);
            let code = (0..3).fold(0u64, |acc, q| {
                acc | (spread3(((p[q] - lo[q]) * scale[q]) as u64) << (2 - q))
            });
            (code, i as u32)
        })
        .collect();
    order.par_sort_unstable();
    let pick = |v: &Vec<f64>| {
        order
            .iter()
            .map(|&(_, i)| v[i as usize])
            .collect::<Vec<f64>>()
    };
    Points {
        x: pick(&pts.x),
        y: pick(&pts.y),
        z: pick(&pts.z),
        w: pick(&pts.w),
    }
}

fn run(
    pts: &Points,
    opts: &KMeansOptions,
    progress: &mut ProgressFn<'_>,
) -> Result<KMeansResult, KMeansError> {
    let centers = match &opts.init {
        Some(init) => Centers::from_rows(init),
        None => kmeans_plus_plus(pts, opts, progress)?,
    };
    lloyd(pts, centers, opts, progress)
}

/// Sum of per-chunk values in chunk order (deterministic).
fn chunk_sum(parts: &[f64]) -> f64 {
    parts.iter().sum()
}

/// The first point whose running total of `mass` exceeds `r` (scikit-learn's `searchsorted` on the
/// cumulative sum), found through per-chunk totals. Never returns a zero-mass point.
fn sample(mass: &[f64], chunk_totals: &[f64], block: usize, r: f64) -> usize {
    let mut acc = 0.0;
    for (ci, &t) in chunk_totals.iter().enumerate() {
        if acc + t > r {
            let start = ci * block;
            let end = (start + block).min(mass.len());
            let mut a = acc;
            for (i, &m) in mass[start..end].iter().enumerate() {
                a += m;
                if a > r && m > 0.0 {
                    return start + i;
                }
            }
        }
        acc += t;
    }
    // Rounding left r at or beyond the total: the last point with mass.
    mass.iter().rposition(|&m| m > 0.0).unwrap_or(0)
}

/// Points per k-means++ block (the unit of pruning and of the sampling totals).
const INIT_BLOCK: usize = 256;

/// Squared distance from `p` to the box `[lo, hi]`.
#[inline]
fn box_d2(p: [f64; 3], lo: [f64; 3], hi: [f64; 3]) -> f64 {
    let mut s = 0.0;
    for q in 0..3 {
        let d = (lo[q] - p[q]).max(p[q] - hi[q]).max(0.0);
        s += d * d;
    }
    s
}

/// Greedy k-means++ (scikit-learn's `_kmeans_plusplus` with sample weights).
///
/// Points are handled in blocks of `INIT_BLOCK` with their bounding boxes: a candidate no nearer to
/// a block's box than the block's largest current distance changes nothing in it, so the block's
/// total is reused without touching its points (exactly the same sum).
fn kmeans_plus_plus(
    pts: &Points,
    opts: &KMeansOptions,
    progress: &mut ProgressFn<'_>,
) -> Result<Centers, KMeansError> {
    const B: usize = INIT_BLOCK;
    let n = pts.len();
    let k = opts.n_clusters;
    let trials = opts
        .n_local_trials
        .unwrap_or(2 + (k as f64).ln().floor() as usize);
    let mut rng = SplitMix64::new(opts.seed);
    let nb = n.div_ceil(B);
    let boxes: Vec<([f64; 3], [f64; 3])> = (0..nb)
        .into_par_iter()
        .map(|b| {
            let mut lo = [f64::INFINITY; 3];
            let mut hi = [f64::NEG_INFINITY; 3];
            for i in b * B..((b + 1) * B).min(n) {
                let p = pts.get(i);
                for q in 0..3 {
                    lo[q] = lo[q].min(p[q]);
                    hi[q] = hi[q].max(p[q]);
                }
            }
            (lo, hi)
        })
        .collect();

    let wtot: Vec<f64> = pts.w.par_chunks(B).map(|c| c.iter().sum()).collect();
    let first = sample(&pts.w, &wtot, B, rng.next_f64() * chunk_sum(&wtot));
    let mut chosen = vec![pts.get(first)];

    // closest[i] = squared distance to the nearest chosen center; mass = w * closest; per block:
    // the total mass and the largest `closest`.
    let c0 = pts.get(first);
    let mut closest: Vec<f64> = (0..n).into_par_iter().map(|i| d2(pts.get(i), c0)).collect();
    let mut mass: Vec<f64> = closest.par_iter().zip(&pts.w).map(|(d, w)| d * w).collect();
    let mut totals: Vec<f64> = mass.par_chunks(B).map(|c| c.iter().sum()).collect();
    let mut maxc: Vec<f64> = closest
        .par_chunks(B)
        .map(|c| c.iter().fold(0.0f64, |m, &v| m.max(v)))
        .collect();
    if !progress(Progress::Init { done: 1, total: k }) {
        return Err(KMeansError::Cancelled);
    }

    for c in 1..k {
        let pot = chunk_sum(&totals);
        let cands: Vec<[f64; 3]> = (0..trials)
            .map(|_| pts.get(sample(&mass, &totals, B, rng.next_f64() * pot)))
            .collect();
        // Potential of each candidate: sum of w * min(closest, d(x, cand)), per block.
        let per_block: Vec<Vec<f64>> = (0..nb)
            .into_par_iter()
            .with_min_len(16)
            .map(|b| {
                let (start, end) = (b * B, ((b + 1) * B).min(n));
                let (lo, hi) = boxes[b];
                let (xs, ys, zs, ws, cl) = (
                    &pts.x[start..end],
                    &pts.y[start..end],
                    &pts.z[start..end],
                    &pts.w[start..end],
                    &closest[start..end],
                );
                cands
                    .iter()
                    .map(|cand| {
                        if box_d2(*cand, lo, hi) >= maxc[b] {
                            return totals[b];
                        }
                        let mut s = 0.0;
                        for i in 0..xs.len() {
                            let (dx, dy, dz) = (xs[i] - cand[0], ys[i] - cand[1], zs[i] - cand[2]);
                            let d = dx * dx + dy * dy + dz * dz;
                            s += ws[i] * if d < cl[i] { d } else { cl[i] };
                        }
                        s
                    })
                    .collect()
            })
            .collect();
        let mut best = 0;
        let mut best_pot = f64::INFINITY;
        for t in 0..cands.len() {
            let s: f64 = per_block.iter().map(|v| v[t]).sum();
            if s < best_pot {
                best_pot = s;
                best = t;
            }
        }
        let cb = cands[best];
        chosen.push(cb);
        closest
            .par_chunks_mut(B)
            .zip(mass.par_chunks_mut(B))
            .zip(totals.par_iter_mut())
            .zip(maxc.par_iter_mut())
            .enumerate()
            .with_min_len(16)
            .for_each(|(b, (((cl, ms), tot), mx))| {
                let (lo, hi) = boxes[b];
                if box_d2(cb, lo, hi) >= *mx {
                    return;
                }
                let start = b * B;
                let mut s = 0.0;
                let mut m = 0.0f64;
                for i in 0..cl.len() {
                    let p = start + i;
                    let d = d2(pts.get(p), cb);
                    if d < cl[i] {
                        cl[i] = d;
                    }
                    ms[i] = pts.w[p] * cl[i];
                    s += ms[i];
                    m = m.max(cl[i]);
                }
                *tot = s;
                *mx = m;
            });
        if !progress(Progress::Init {
            done: c + 1,
            total: k,
        }) {
            return Err(KMeansError::Cancelled);
        }
    }
    Ok(Centers::from_rows(&chosen))
}

/// Per-point Hamerly state.
#[derive(Clone, Copy)]
struct Bound {
    label: u32,
    /// Upper bound of the distance to the assigned center.
    upper: f64,
    /// Lower bound of the distance to every other center.
    lower: f64,
}

/// Largest `K` for which the per-center neighbor lists (K^2 entries) are built; above it the
/// assignment falls back to scanning every center.
const NEIGHBOR_LIST_MAX_K: usize = 2048;

/// For each center, the other centers sorted by distance from it (when `K` is small enough), and
/// half the distance to its nearest other center (Hamerly's `s`).
struct CenterGeometry {
    k: usize,
    /// `k * (k - 1)` entries: row `a` lists `(distance(c_a, c_j), j)` ascending.
    neighbors: Option<Vec<(f64, u32)>>,
    half_sep: Vec<f64>,
}

impl CenterGeometry {
    fn new(c: &Centers) -> Self {
        let k = c.x.len();
        if k <= NEIGHBOR_LIST_MAX_K {
            let rows: Vec<Vec<(f64, u32)>> = (0..k)
                .into_par_iter()
                .map(|a| {
                    let ca = c.get(a);
                    let mut row: Vec<(f64, u32)> = (0..k)
                        .filter(|&j| j != a)
                        .map(|j| (d2(ca, c.get(j)).sqrt(), j as u32))
                        .collect();
                    row.sort_unstable_by(|x, y| x.0.total_cmp(&y.0).then(x.1.cmp(&y.1)));
                    row
                })
                .collect();
            let half_sep = rows
                .iter()
                .map(|r| r.first().map_or(f64::INFINITY, |x| 0.5 * x.0))
                .collect();
            Self {
                k,
                neighbors: Some(rows.concat()),
                half_sep,
            }
        } else {
            let half_sep = (0..k)
                .into_par_iter()
                .map(|j| {
                    let cj = c.get(j);
                    let mut m = f64::INFINITY;
                    for i in 0..k {
                        if i != j {
                            m = m.min(d2(cj, c.get(i)));
                        }
                    }
                    0.5 * m.sqrt()
                })
                .collect();
            Self {
                k,
                neighbors: None,
                half_sep,
            }
        }
    }

    /// Exact nearest center (lowest index on ties), its squared distance and the squared distance
    /// of the second nearest, searching outward from center `a`: a center `j` with
    /// `d(c_a, c_j) - d(p, c_a) >= second-nearest distance so far` can be neither (triangle
    /// inequality), and the lists are sorted, so the scan stops there.
    #[inline]
    fn nearest2_from(&self, p: [f64; 3], c: &Centers, a: usize) -> (usize, f64, f64) {
        let Some(nb) = &self.neighbors else {
            return nearest2(p, c);
        };
        let row = &nb[a * (self.k - 1)..(a + 1) * (self.k - 1)];
        let da2 = d2(p, c.get(a));
        let u = da2.sqrt();
        let (mut best, mut d1, mut d2nd) = (a, da2, f64::INFINITY);
        for &(dist, j) in row {
            // Slack keeps the cut safe from rounding in the distances.
            if dist - u > d2nd.sqrt() * (1.0 + 1e-12) {
                break;
            }
            let j = j as usize;
            let d = d2(p, c.get(j));
            if d < d1 || (d == d1 && j < best) {
                d2nd = d1;
                d1 = d;
                best = j;
            } else if d < d2nd {
                d2nd = d;
            }
        }
        (best, d1, d2nd)
    }
}

/// Assigns every point to its nearest center, setting tight bounds. The search for a point starts
/// at the previous point's center (points come sorted by color, so neighbors are usually close).
fn assign_full(pts: &Points, c: &Centers, bounds: &mut [Bound]) {
    let geo = CenterGeometry::new(c);
    bounds
        .par_chunks_mut(CHUNK)
        .enumerate()
        .for_each(|(ci, bs)| {
            let start = ci * CHUNK;
            let mut prev = 0usize;
            for (i, b) in bs.iter_mut().enumerate() {
                let (a, d1, d2nd) = geo.nearest2_from(pts.get(start + i), c, prev);
                prev = a;
                *b = Bound {
                    label: a as u32,
                    upper: d1.sqrt(),
                    lower: d2nd.sqrt(),
                };
            }
        });
}

/// How far every center moved in the last update, to loosen the bounds with.
struct Shift {
    by: Vec<f64>,
    /// Largest shift, its center, and the second largest.
    max1: f64,
    arg: usize,
    max2: f64,
}

impl Shift {
    fn new(by: Vec<f64>) -> Self {
        let (mut max1, mut max2, mut arg) = (0.0f64, 0.0f64, usize::MAX);
        for (j, &s) in by.iter().enumerate() {
            if s > max1 {
                max2 = max1;
                max1 = s;
                arg = j;
            } else if s > max2 {
                max2 = s;
            }
        }
        Self {
            by,
            max1,
            arg,
            max2,
        }
    }
}

/// Hamerly's assignment step fused with the bound update for the last center shift and with the
/// per-cluster sums of the M-step (one pass over the points). Returns how many points changed
/// cluster and the sums `[wx, wy, wz, w]` per cluster (reduced over chunks in order).
fn assign_hamerly(
    pts: &Points,
    c: &Centers,
    bounds: &mut [Bound],
    shift: &Shift,
) -> (usize, Vec<[f64; 4]>) {
    let k = c.x.len();
    let geo = CenterGeometry::new(c);
    let s = &geo.half_sep;
    let parts: Vec<(usize, Vec<[f64; 4]>)> = bounds
        .par_chunks_mut(sum_chunk(k))
        .enumerate()
        .map(|(ci, bs)| {
            let start = ci * sum_chunk(k);
            let mut changed = 0;
            let mut acc = vec![[0.0f64; 4]; k];
            for (i, b) in bs.iter_mut().enumerate() {
                let a = b.label as usize;
                b.upper += shift.by[a];
                b.lower -= if a == shift.arg {
                    shift.max2
                } else {
                    shift.max1
                };
                let m = s[a].max(b.lower);
                let p = pts.get(start + i);
                if b.upper > m {
                    b.upper = d2(p, c.get(a)).sqrt();
                    if b.upper > m {
                        let (na, d1, d2nd) = geo.nearest2_from(p, c, a);
                        if na != a {
                            changed += 1;
                        }
                        *b = Bound {
                            label: na as u32,
                            upper: d1.sqrt(),
                            lower: d2nd.sqrt(),
                        };
                    }
                }
                let w = pts.w[start + i];
                let e = &mut acc[b.label as usize];
                e[0] += w * p[0];
                e[1] += w * p[1];
                e[2] += w * p[2];
                e[3] += w;
            }
            (changed, acc)
        })
        .collect();
    let mut changed = 0;
    let mut sums = vec![[0.0f64; 4]; k];
    for (ch, part) in parts {
        changed += ch;
        for (s, v) in sums.iter_mut().zip(part) {
            for q in 0..4 {
                s[q] += v[q];
            }
        }
    }
    (changed, sums)
}

/// Points per chunk of the per-cluster sums: each chunk holds `K` accumulators, so chunks grow with
/// `K` to keep that memory near 4 bytes per point (fixed for given inputs: results stay
/// independent of the thread count).
fn sum_chunk(k: usize) -> usize {
    CHUNK.max(8 * k)
}

/// Weighted per-cluster sums `[wx, wy, wz, w]`, reduced over chunks in order.
fn cluster_sums(pts: &Points, bounds: &[Bound], k: usize) -> Vec<[f64; 4]> {
    let parts: Vec<Vec<[f64; 4]>> = bounds
        .par_chunks(sum_chunk(k))
        .enumerate()
        .map(|(ci, bs)| {
            let start = ci * sum_chunk(k);
            let mut acc = vec![[0.0f64; 4]; k];
            for (i, b) in bs.iter().enumerate() {
                let p = start + i;
                let w = pts.w[p];
                let e = &mut acc[b.label as usize];
                e[0] += w * pts.x[p];
                e[1] += w * pts.y[p];
                e[2] += w * pts.z[p];
                e[3] += w;
            }
            acc
        })
        .collect();
    let mut sums = vec![[0.0f64; 4]; k];
    for part in parts {
        for (s, v) in sums.iter_mut().zip(part) {
            for q in 0..4 {
                s[q] += v[q];
            }
        }
    }
    sums
}

/// The M-step: new centers from the labels; empty clusters are moved to the points farthest from
/// their (current) centers, as scikit-learn does. Returns the new centers.
fn update_centers(pts: &Points, c: &Centers, bounds: &[Bound], mut sums: Vec<[f64; 4]>) -> Centers {
    let k = c.x.len();
    let empty: Vec<usize> = (0..k).filter(|&j| sums[j][3] <= 0.0).collect();
    let mut fixed = vec![false; k];
    if !empty.is_empty() {
        let mut dist: Vec<(f64, usize)> = (0..pts.len())
            .into_par_iter()
            .map(|i| (d2(pts.get(i), c.get(bounds[i].label as usize)), i))
            .collect();
        let m = empty.len().min(dist.len());
        // Largest distances first; lower index first on ties.
        dist.select_nth_unstable_by(m - 1, |a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        let mut far: Vec<(f64, usize)> = dist[..m].to_vec();
        far.sort_unstable_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        for (&j, &(_, i)) in empty.iter().zip(&far) {
            let old = bounds[i].label as usize;
            let w = pts.w[i];
            let p = pts.get(i);
            fixed[j] = true;
            sums[old][0] -= w * p[0];
            sums[old][1] -= w * p[1];
            sums[old][2] -= w * p[2];
            sums[old][3] -= w;
        }
        // A relocated point's center is the point itself (not the rounded sum / weight).
        for (&j, &(_, i)) in empty.iter().zip(&far) {
            let p = pts.get(i);
            sums[j] = [p[0], p[1], p[2], 1.0];
        }
    }
    let mut out = c.clone();
    for j in 0..k {
        let s = sums[j];
        if fixed[j] {
            out.x[j] = s[0];
            out.y[j] = s[1];
            out.z[j] = s[2];
        } else if s[3] > 0.0 {
            let a = 1.0 / s[3];
            out.x[j] = s[0] * a;
            out.y[j] = s[1] * a;
            out.z[j] = s[2] * a;
        }
        // else: a cluster emptied by relocation keeps its center.
    }
    out
}

/// Weighted mean per-channel variance of the points (the scale of `tol`).
fn mean_variance(pts: &Points) -> f64 {
    let ranges: Vec<(usize, usize)> = (0..pts.len())
        .step_by(CHUNK)
        .map(|s| (s, (s + CHUNK).min(pts.len())))
        .collect();
    let part: Vec<[f64; 4]> = ranges
        .par_iter()
        .map(|&(a, b)| {
            let mut s = [0.0; 4];
            for i in a..b {
                let w = pts.w[i];
                s[0] += w * pts.x[i];
                s[1] += w * pts.y[i];
                s[2] += w * pts.z[i];
                s[3] += w;
            }
            s
        })
        .collect();
    let mut s = [0.0; 4];
    for p in &part {
        for q in 0..4 {
            s[q] += p[q];
        }
    }
    let mean = [s[0] / s[3], s[1] / s[3], s[2] / s[3]];
    let part: Vec<f64> = ranges
        .par_iter()
        .map(|&(a, b)| {
            (a..b)
                .map(|i| {
                    let p = pts.get(i);
                    pts.w[i]
                        * ((p[0] - mean[0]).powi(2)
                            + (p[1] - mean[1]).powi(2)
                            + (p[2] - mean[2]).powi(2))
                })
                .sum()
        })
        .collect();
    chunk_sum(&part) / s[3] / 3.0
}

fn inertia(pts: &Points, c: &Centers, bounds: &[Bound]) -> f64 {
    let part: Vec<f64> = bounds
        .par_chunks(CHUNK)
        .enumerate()
        .map(|(ci, bs)| {
            let start = ci * CHUNK;
            bs.iter()
                .enumerate()
                .map(|(i, b)| pts.w[start + i] * d2(pts.get(start + i), c.get(b.label as usize)))
                .sum()
        })
        .collect();
    chunk_sum(&part)
}

/// Lloyd iterations with scikit-learn's stopping rules, Hamerly-pruned.
fn lloyd(
    pts: &Points,
    mut centers: Centers,
    opts: &KMeansOptions,
    progress: &mut ProgressFn<'_>,
) -> Result<KMeansResult, KMeansError> {
    let k = centers.x.len();
    let tol = if opts.tol == 0.0 {
        0.0
    } else {
        mean_variance(pts) * opts.tol
    };
    let mut bounds = vec![
        Bound {
            label: 0,
            upper: 0.0,
            lower: 0.0
        };
        pts.len()
    ];
    assign_full(pts, &centers, &mut bounds);
    let mut sums = cluster_sums(pts, &bounds, k);
    let mut changed = pts.len();
    let mut shift = Shift::new(vec![0.0; k]);
    let mut strict = false;
    let mut converged = false;
    let mut n_iter = opts.max_iter;
    for it in 0..opts.max_iter {
        if it > 0 {
            (changed, sums) = assign_hamerly(pts, &centers, &mut bounds, &shift);
        }
        let new = update_centers(pts, &centers, &bounds, std::mem::take(&mut sums));
        let by: Vec<f64> = (0..k)
            .map(|j| d2(new.get(j), centers.get(j)).sqrt())
            .collect();
        let shift_tot: f64 = by.iter().map(|s| s * s).sum();
        centers = new;
        // The next assignment loosens the bounds by these shifts.
        shift = Shift::new(by);
        if !progress(Progress::Iteration {
            iter: it + 1,
            max_iter: opts.max_iter,
            changed,
            shift: shift_tot,
        }) {
            return Err(KMeansError::Cancelled);
        }
        if it > 0 && changed == 0 {
            strict = true;
            converged = true;
            n_iter = it + 1;
            break;
        }
        if shift_tot <= tol {
            converged = true;
            n_iter = it + 1;
            break;
        }
    }
    if !strict {
        // Labels consistent with the final centers.
        assign_hamerly(pts, &centers, &mut bounds, &shift);
    }
    let inertia = inertia(pts, &centers, &bounds);
    Ok(KMeansResult {
        centers: centers.rows(),
        inertia,
        n_iter,
        converged,
    })
}

// ------------------------------------------------------------------------------------ palettes

/// A fitted palette.
#[derive(Debug, Clone)]
pub struct PaletteFit {
    /// `K` centers in the normalized [-1, 1] space.
    pub centers: Vec<[f64; 3]>,
    /// Sum over pixels of squared distance to the nearest center (normalized space).
    pub inertia: f64,
    /// Lloyd iterations run (0 when there were no more distinct colors than clusters).
    pub n_iter: usize,
    /// Whether k-means stopped on a convergence rule (always true without iterations).
    pub converged: bool,
    /// Pixels the histogram counted.
    pub n_pixels: u64,
    /// Distinct colors among them.
    pub n_distinct: usize,
}

/// A uint8 channel in the normalized space: `v / 127.5 - 1`.
#[inline]
pub fn normalize(v: u8) -> f64 {
    f64::from(v) / 127.5 - 1.0
}

/// Fits a `K`-color palette to the histogram's colors (each weighted by its count).
///
/// With at most `K` distinct colors no clustering is needed: the palette is the distinct colors
/// themselves, most frequent first (ties by color), and when there are fewer than `K` the list is
/// repeated cyclically to fill `K` rows, so the palette always has exactly `K` rows (and the model
/// vocabulary the size asked for). The repeated rows are never the nearest cluster of any pixel
/// under first-index tie breaking; `n_distinct` tells how many rows are distinct. Inertia is 0.
pub fn fit_palette(
    hist: &ColorHistogram,
    opts: &KMeansOptions,
    progress: Option<&mut ProgressFn<'_>>,
) -> Result<PaletteFit, KMeansError> {
    check_options(opts)?;
    let (keys, counts) = hist.keys_counts();
    if keys.is_empty() {
        return Err(KMeansError::Empty);
    }
    let n_distinct = keys.len();
    let norm = |k: u32| {
        let c = key_color(k);
        [normalize(c[0]), normalize(c[1]), normalize(c[2])]
    };
    if n_distinct <= opts.n_clusters {
        let mut order: Vec<usize> = (0..n_distinct).collect();
        order.sort_by(|&a, &b| counts[b].cmp(&counts[a]).then(keys[a].cmp(&keys[b])));
        let centers = (0..opts.n_clusters)
            .map(|i| norm(keys[order[i % n_distinct]]))
            .collect();
        return Ok(PaletteFit {
            centers,
            inertia: 0.0,
            n_iter: 0,
            converged: true,
            n_pixels: hist.n_pixels(),
            n_distinct,
        });
    }
    let points: Vec<[f64; 3]> = keys.par_iter().map(|&k| norm(k)).collect();
    let weights: Vec<f64> = counts.iter().map(|&c| c as f64).collect();
    let r = kmeans(&points, Some(&weights), opts, progress)?;
    Ok(PaletteFit {
        centers: r.centers,
        inertia: r.inertia,
        n_iter: r.n_iter,
        converged: r.converged,
        n_pixels: hist.n_pixels(),
        n_distinct,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn brute_inertia(points: &[[f64; 3]], w: &[f64], c: &[[f64; 3]]) -> f64 {
        points
            .iter()
            .zip(w)
            .map(|(p, w)| w * c.iter().map(|q| d2(*p, *q)).fold(f64::INFINITY, f64::min))
            .sum()
    }

    fn cloud(n: usize, seed: u64) -> Vec<[f64; 3]> {
        let mut r = SplitMix64::new(seed);
        (0..n)
            .map(|i| {
                let blob = (i % 7) as f64 * 0.25 - 0.75;
                [
                    blob + 0.1 * r.next_f64(),
                    -blob + 0.1 * r.next_f64(),
                    0.3 * r.next_f64(),
                ]
            })
            .collect()
    }

    /// Plain Lloyd (no pruning) following scikit-learn's loop, as a reference.
    fn plain_lloyd(
        points: &[[f64; 3]],
        w: &[f64],
        init: &[[f64; 3]],
        max_iter: usize,
    ) -> (Vec<[f64; 3]>, usize) {
        let mut c = init.to_vec();
        let mut labels_old = vec![usize::MAX; points.len()];
        for it in 0..max_iter {
            let labels: Vec<usize> = points
                .iter()
                .map(|p| {
                    let mut best = 0;
                    for j in 1..c.len() {
                        if d2(*p, c[j]) < d2(*p, c[best]) {
                            best = j;
                        }
                    }
                    best
                })
                .collect();
            let mut s = vec![[0.0; 4]; c.len()];
            for (i, &l) in labels.iter().enumerate() {
                for q in 0..3 {
                    s[l][q] += w[i] * points[i][q];
                }
                s[l][3] += w[i];
            }
            for j in 0..c.len() {
                if s[j][3] > 0.0 {
                    c[j] = [s[j][0] / s[j][3], s[j][1] / s[j][3], s[j][2] / s[j][3]];
                }
            }
            if labels == labels_old {
                return (c, it + 1);
            }
            labels_old = labels;
        }
        (c, max_iter)
    }

    #[test]
    fn histogram_counts_sparse_and_dense_agree() {
        let mut r = SplitMix64::new(3);
        let px: Vec<u8> = (0..3 * 300_000)
            .map(|_| (r.next_u64() % 7) as u8 * 40)
            .collect();
        let mut small = ColorHistogram::new();
        small.add_rgb(&px).unwrap();
        let mut big = ColorHistogram::new();
        for _ in 0..5 {
            big.add_rgb(&px).unwrap(); // crosses PENDING_MAX -> dense
        }
        assert!(big.dense.is_some());
        let (k1, c1) = small.keys_counts();
        let (k2, c2) = big.keys_counts();
        assert_eq!(k1, k2);
        assert_eq!(c1.iter().map(|c| c * 5).collect::<Vec<_>>(), c2);
        assert_eq!(c2.iter().sum::<u64>(), 1_500_000);
        assert_eq!(big.n_pixels(), 1_500_000);
        // Naive count.
        let mut naive = std::collections::BTreeMap::new();
        for p in px.chunks_exact(3) {
            *naive.entry(key(p)).or_insert(0u64) += 1;
        }
        assert_eq!(k1, naive.keys().copied().collect::<Vec<_>>());
        assert_eq!(c1, naive.values().copied().collect::<Vec<_>>());
        // Folding keeps counts exact.
        big.fold_dense();
        big.add_rgb(&px).unwrap();
        let (k3, c3) = big.keys_counts();
        assert_eq!(k3, k1);
        assert_eq!(c3, c1.iter().map(|c| c * 6).collect::<Vec<_>>());
    }

    #[test]
    fn histogram_rejects_partial_pixels() {
        let mut h = ColorHistogram::new();
        assert_eq!(
            h.add_rgb(&[1, 2, 3, 4]),
            Err(KMeansError::PixelLength { len: 4 })
        );
    }

    #[test]
    fn lloyd_matches_plain_lloyd_from_same_init() {
        let pts = cloud(5000, 1);
        let w: Vec<f64> = (0..pts.len()).map(|i| 1.0 + (i % 3) as f64).collect();
        let init: Vec<[f64; 3]> = pts.iter().step_by(97).take(40).copied().collect();
        let mut o = KMeansOptions::new(40);
        o.init = Some(init.clone());
        o.tol = 0.0;
        o.max_iter = 500;
        let r = kmeans(&pts, Some(&w), &o, None).unwrap();
        let (c, n) = plain_lloyd(&pts, &w, &init, 500);
        assert_eq!(r.n_iter, n);
        for (a, b) in r.centers.iter().zip(&c) {
            for q in 0..3 {
                assert!((a[q] - b[q]).abs() < 1e-12, "{a:?} vs {b:?}");
            }
        }
        let bi = brute_inertia(&pts, &w, &r.centers);
        assert!((r.inertia - bi).abs() <= 1e-9 * bi);
    }

    #[test]
    fn many_clusters_without_neighbor_lists_match_plain_lloyd() {
        // K above NEIGHBOR_LIST_MAX_K: full scans instead of neighbor lists, bigger sum chunks.
        let pts = cloud(6000, 11);
        let k = NEIGHBOR_LIST_MAX_K + 52;
        let init: Vec<[f64; 3]> = pts.iter().step_by(2).take(k).copied().collect();
        let mut o = KMeansOptions::new(k);
        o.init = Some(init.clone());
        o.tol = 0.0;
        o.max_iter = 30;
        let w = vec![1.0; pts.len()];
        let r = kmeans(&pts, None, &o, None).unwrap();
        let (c, n) = plain_lloyd(&pts, &w, &init, 30);
        assert_eq!(r.n_iter, n);
        for (a, b) in r.centers.iter().zip(&c) {
            for q in 0..3 {
                assert!((a[q] - b[q]).abs() < 1e-12, "{a:?} vs {b:?}");
            }
        }
    }

    #[test]
    fn deterministic_and_thread_independent() {
        let pts = cloud(20_000, 2);
        let o = KMeansOptions::new(32);
        let a = kmeans(&pts, None, &o, None).unwrap();
        let b = crate::parallel::install_with(Some(1), || kmeans(&pts, None, &o, None)).unwrap();
        assert_eq!(a.centers, b.centers);
        assert_eq!(a.inertia.to_bits(), b.inertia.to_bits());
        let mut o2 = o.clone();
        o2.seed = 1;
        let c = kmeans(&pts, None, &o2, None).unwrap();
        assert_ne!(a.centers, c.centers);
    }

    #[test]
    fn kmeans_plus_plus_picks_distinct_points() {
        let pts = cloud(300, 5);
        let mut o = KMeansOptions::new(300);
        o.max_iter = 1;
        let r = kmeans(&pts, None, &o, None).unwrap();
        // K == n: every point becomes its own center.
        assert!(r.inertia.abs() < 1e-20);
    }

    #[test]
    fn empty_clusters_are_reseeded() {
        // Two far-apart initial centers at the same place plus one far away: the duplicate ends up
        // empty and must be moved to the farthest point.
        let pts: Vec<[f64; 3]> = vec![
            [0.0, 0.0, 0.0],
            [0.1, 0.0, 0.0],
            [1.0, 1.0, 1.0],
            [0.9, 1.0, 1.0],
        ];
        let mut o = KMeansOptions::new(3);
        o.init = Some(vec![[0.05, 0.0, 0.0], [0.05, 0.0, 0.0], [0.95, 1.0, 1.0]]);
        o.tol = 0.0;
        let r = kmeans(&pts, None, &o, None).unwrap();
        let bi = brute_inertia(&pts, &[1.0; 4], &r.centers);
        assert!((r.inertia - bi).abs() < 1e-12);
        // The duplicate was emptied and moved to a far point: the far pair is split, the near pair
        // keeps its mean (inertia 2 x 0.05^2), instead of one center staying unused.
        assert!((r.inertia - 0.005).abs() < 1e-12, "{r:?}");
        assert!(
            r.centers.contains(&[1.0, 1.0, 1.0]) && r.centers.contains(&[0.9, 1.0, 1.0]),
            "{r:?}"
        );
    }

    #[test]
    fn one_cluster_is_the_weighted_mean() {
        let pts = cloud(1000, 7);
        let w: Vec<f64> = (0..1000).map(|i| (i % 5) as f64).collect();
        let r = kmeans(&pts, Some(&w), &KMeansOptions::new(1), None).unwrap();
        let sw: f64 = w.iter().sum();
        for q in 0..3 {
            let m: f64 = pts.iter().zip(&w).map(|(p, w)| p[q] * w).sum::<f64>() / sw;
            assert!((r.centers[0][q] - m).abs() < 1e-12);
        }
    }

    #[test]
    fn palette_with_few_colors_returns_them_by_frequency() {
        let mut h = ColorHistogram::new();
        h.add_rgb(&[10, 20, 30, 10, 20, 30, 255, 0, 0]).unwrap();
        let f = fit_palette(&h, &KMeansOptions::new(5), None).unwrap();
        assert_eq!(f.n_distinct, 2);
        assert_eq!(f.inertia, 0.0);
        let a = [normalize(10), normalize(20), normalize(30)];
        let b = [normalize(255), normalize(0), normalize(0)];
        assert_eq!(f.centers, vec![a, b, a, b, a]);
        let one = fit_palette(&h, &KMeansOptions::new(1), None).unwrap();
        // Labels cannot change with one cluster: strict convergence at the second iteration, as
        // scikit-learn counts.
        assert_eq!(one.n_iter, 2);
        let m = [
            (2.0 * a[0] + b[0]) / 3.0,
            (2.0 * a[1] + b[1]) / 3.0,
            (2.0 * a[2] + b[2]) / 3.0,
        ];
        for (got, want) in one.centers[0].iter().zip(m) {
            assert!((got - want).abs() < 1e-12);
        }
    }

    #[test]
    fn errors_are_reported() {
        let pts = cloud(10, 1);
        assert_eq!(
            kmeans(&pts, None, &KMeansOptions::new(0), None).unwrap_err(),
            KMeansError::Clusters(0)
        );
        assert!(matches!(
            kmeans(&pts, None, &KMeansOptions::new(11), None),
            Err(KMeansError::TooFewPoints {
                n_points: 10,
                n_clusters: 11
            })
        ));
        assert_eq!(
            kmeans(&[], None, &KMeansOptions::new(1), None).unwrap_err(),
            KMeansError::Empty
        );
        let mut w = vec![1.0; 10];
        w[3] = f64::NAN;
        assert!(matches!(
            kmeans(&pts, Some(&w), &KMeansOptions::new(2), None),
            Err(KMeansError::Weight { index: 3, .. })
        ));
        let mut bad = pts.clone();
        bad[4][1] = f64::INFINITY;
        assert!(matches!(
            kmeans(&bad, None, &KMeansOptions::new(2), None),
            Err(KMeansError::Point { index: 4, .. })
        ));
        let mut o = KMeansOptions::new(2);
        o.init = Some(vec![[0.0; 3]]);
        assert!(matches!(
            kmeans(&pts, None, &o, None),
            Err(KMeansError::Init(_))
        ));
        let mut o = KMeansOptions::new(2);
        o.tol = -1.0;
        assert!(matches!(
            kmeans(&pts, None, &o, None),
            Err(KMeansError::Option { name: "tol", .. })
        ));
        let h = ColorHistogram::new();
        assert_eq!(
            fit_palette(&h, &KMeansOptions::new(2), None).unwrap_err(),
            KMeansError::Empty
        );
        let mut stop = |_: Progress| false;
        assert_eq!(
            kmeans(&pts, None, &KMeansOptions::new(2), Some(&mut stop)).unwrap_err(),
            KMeansError::Cancelled
        );
    }
}

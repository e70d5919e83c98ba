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
//!
//! # Files
//!
//! - `mod.rs`: options, results, errors, [`kmeans`] and [`fit_palette`];
//! - `histogram.rs`: [`ColorHistogram`];
//! - `points.rs`: points and centers (structure of arrays), distances, the Morton order;
//! - `init.rs`: k-means++ with block pruning;
//! - `lloyd.rs`: Lloyd iterations with Hamerly bounds and neighbor lists;
//! - `tests.rs`: tests against brute force and a plain Lloyd.

use rayon::prelude::*;

mod histogram;
mod init;
mod lloyd;
mod points;

pub use histogram::{key_color, ColorHistogram};
use init::kmeans_plus_plus;
use lloyd::lloyd;
#[cfg(test)]
use lloyd::NEIGHBOR_LIST_MAX_K;
#[cfg(test)]
use points::d2;
use points::{morton_sorted, Centers, Points};

/// Points per parallel work item; fixed so that sums (and results) do not depend on the threads.
const CHUNK: usize = 4096;
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
mod tests;

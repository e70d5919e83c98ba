//! Exact color quantization: the token id transformers 4.57 gives every pixel, at memory speed.
//!
//! # The reference
//!
//! `ImageGPTImageProcessor` normalizes a uint8 pixel `p` to `x = f32(f64(p) * (1/127.5)) - 1f32`
//! ([`normalize_u8`]) and then runs `color_quantize(x, clusters)` over the whole batch at once:
//!
//! ```text
//! a2 = np.sum(np.square(x), axis=1)          # pixel dtype:   (x0*x0 + x1*x1) + x2*x2
//! b2 = np.sum(np.square(clusters), axis=1)   # cluster dtype: (c0*c0 + c1*c1) + c2*c2
//! ab = x @ clusters.T                        # promoted dtype, computed by the BLAS
//! d  = a2[:, None] - 2 * ab + b2[None, :]    # promoted dtype: (a2 - 2ab) + b2
//! ids = np.argmin(d, axis=1)                 # first index of the minimum (first NaN if any)
//! ```
//!
//! Everything but `ab` is fixed by IEEE arithmetic. `ab` is a 3-term dot product whose rounding
//! depends on how the BLAS (OpenBLAS 0.3.31, SkylakeX kernels, on the reference machine) evaluates
//! it. Measured bit for bit against numpy on this machine (tie-heavy and random inputs, every shape
//! class; see `tests/test_quantization.py`):
//!
//! - more than one pixel row and more than one cluster (`?gemm`): an FMA chain in k order from a
//!   zeroed accumulator, `fma(x2, c2, fma(x1, c1, x0 * c0))` ([`gemm_dot`]). This holds for every
//!   float32 shape we measured (K from 2 to 65535, sampled) and for float64 unless `K % 8` is 4..=7 with
//!   `K >= 196` (measured: 188 and below are unaffected). There OpenBLAS computes the 4 columns
//!   `K & !7 .. K & !3` as `fma(x2, c2, x0*c0 + x1*c1)` on the rows of whole 12-row blocks of each
//!   thread's share of the rows and as the chain on the rest, so numpy's own id of a color for
//!   those 4 clusters depends on where the color sits in the array and on the thread partition
//!   (`OPENBLAS_NUM_THREADS`): no per-color rule reproduces it. We use the majority form for those
//!   4 clusters ([`dgemm_tail`], [`dgemm_tail_dot`]): exact on every row of whole 12-row blocks,
//!   and a documented gap on the up to 11 other rows per thread share (a difference needs a
//!   near-tie involving one of those 4 clusters).
//! - exactly one pixel row (`?gemv`): float64 `fma(x2, c2, fma(x0, c0, x1 * c1))` for every
//!   cluster; float32 with `K <= 16384` depends on the cluster position (AVX-512 blocks of 16/8
//!   use the FMA chain, a block of 4 and the last odd cluster the float64 form, a pair the plain
//!   `(x0*c0 + x1*c1) + x2*c2`), and float32 with `K > 16384` the float64 form ([`gemv_dot`]).
//! - one cluster: `argmin` of one column is 0 whatever the arithmetic.
//!
//! # The lookup table and why it is exact
//!
//! For uint8 input with more than one pixel, the id only depends on the color, so a table of
//! `2^24` `u16` ids (32 MiB, see [`LookupTable`]) answers every pixel. Building it by
//! evaluating all `K` clusters for all `2^24` colors would cost `K * 2^24` distance evaluations; we
//! prune instead, with a bound that provably never drops the reference's answer:
//!
//! Let `D_j(x) = |x - c_j|^2` (exact real arithmetic) and `d_j(x)` the reference's rounded value.
//! `a2` is one rounded number shared by every cluster of a pixel, so write
//! `d_j = A - 2*ab_j + b2_j` evaluated in floating point with `A` = the rounded `a2`. Standard error
//! analysis (unit roundoff `u` of the promoted dtype; 3-term dot with or without FMA, 3-term sum,
//! one subtraction, one addition) gives `|d_j - (D_j + (A - |x|^2))| <= 6u(|x| + |c_j|)^2`; we use
//! `E_j = 32u(X + |c_j|)^2 + 1e-30` with `X` the largest `|x|` in the box, which also covers the
//! float64 rounding of the box bounds below and underflow. For an axis-aligned box of colors,
//! `L_j = min_box D_j` and `M_j = max_box D_j` are computed per axis. If `L_j - E_j > M_s + E_s` for
//! some cluster `s`, then at every color of the box `d_j > d_s` strictly (the shared `A - |x|^2`
//! cancels), so `j` is not the argmin and is dropped. Taking `s` minimizing `M_s + E_s` is the
//! strongest such test. The reference's answer `g` (the first index with the minimal `d`) is never
//! dropped, at any level of the box hierarchy, because no cluster has `d < d_g`. The leaves then
//! evaluate the exact reference formula over their candidates in index order with a strict `<`, so
//! the first index reaching the minimum wins: exactly `g`.
//!
//! Clusters with a coordinate beyond `2^20` in magnitude ("extreme"; their `d` may overflow to inf
//! or NaN) are never pruned: they are candidates of every box, and the NaN rule of `np.argmin`
//! (the first NaN wins) is applied. Since normal clusters never give NaN, the argument above holds.
//!
//! The table is built lazily, once per palette (a `OnceLock` per quantizer plus a small process-wide
//! cache keyed by the palette's bits), in parallel over slabs of 8 red values. Small inputs without a
//! built table are answered directly (all clusters, the same per-pixel formula).
//!
//! # Files
//!
//! - `mod.rs`: the [`Quantizer`] (lookups, the direct path, the table cache), errors, output types;
//! - `arith.rs`: the [`Real`] float trait, the reference's dot products and the palette prepared in
//!   one arithmetic dtype;
//! - `kernel.rs`: the evaluation kernel (a block of pixels against candidate clusters) and its
//!   AVX2/AVX-512 builds, chosen once at run time;
//! - `table_build.rs`: the pruned construction of the lookup table;
//! - `table.rs`: the table's storage (brick layout, huge-page alignment);
//! - `tests.rs`: tests against the reference formula evaluated directly.

use std::sync::{Arc, Mutex, OnceLock};

use rayon::prelude::*;
use thiserror::Error;

use crate::palette::{Clusters, Palette};

mod arith;
mod kernel;
mod table;
mod table_build;

use arith::{better, distance, sum_sq, Arith};
pub use arith::{dgemm_tail, dgemm_tail_dot, gemm_dot, gemv_dot, Real};
pub use kernel::kernel_isa;
use kernel::{eval, Block};
pub use table::{advise_huge_pages, brick_index, LookupTable};
use table_build::{build_table, Geometry};

/// Number of entries of the lookup table (every uint8 RGB color).
pub const TABLE_LEN: usize = 1 << 24;

/// Pixels per block of the evaluation kernel (one 8x8x8 box of colors).
const BLOCK: usize = 512;
/// Coordinates beyond this magnitude make a cluster "extreme" (never pruned).
const EXTREME: f64 = (1u64 << 20) as f64;
/// Inputs with `pixels * clusters` up to this many distance evaluations are answered directly
/// when the table is not built yet.
const DIRECT_LIMIT: usize = 1 << 26;
/// Red values per parallel slab of the table build.
const SLAB: usize = 8;
/// Pixels per parallel task of the lookups and the direct path.
const CHUNK: usize = 1 << 14;

/// The value transformers gives the uint8 channel value `p` after `normalize`:
/// `rescale` computes `f64(p) * (1/127.5)`, casts it to float32, then `image - 1` in float32.
#[inline]
pub fn normalize_u8(p: u8) -> f32 {
    ((p as f64) * (1.0 / 127.5)) as f32 - 1.0f32
}

fn norm_table() -> &'static [f32; 256] {
    static T: OnceLock<[f32; 256]> = OnceLock::new();
    T.get_or_init(|| std::array::from_fn(|p| normalize_u8(p as u8)))
}

/// Errors of the quantizer; [`QuantizeError::describe`] names the position in the caller's shape.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum QuantizeError {
    /// The flat pixel buffer does not hold whole RGB triples.
    #[error("pixels must have a last dimension of 3 (R, G, B); got {0} values")]
    Shape(usize),
    /// The output buffer length differs from the number of pixels.
    #[error("out holds {got} elements but the input has {expected} pixels")]
    OutLength { expected: usize, got: usize },
    /// A NaN or infinite float pixel value.
    #[error("pixel {pixel}, channel {channel} = {value} is not finite")]
    NonFinite {
        pixel: usize,
        channel: usize,
        value: String,
    },
    /// A token id outside `0..n_clusters`.
    #[error("ids[{index}] = {id} is out of range for {n_clusters} clusters (valid ids: 0..{n_clusters})")]
    IdOutOfRange {
        index: usize,
        id: i64,
        n_clusters: usize,
    },
}

fn unravel(mut flat: usize, dims: &[usize]) -> String {
    let mut idx = vec![0usize; dims.len()];
    for (i, &d) in dims.iter().enumerate().rev() {
        if d > 0 {
            idx[i] = flat % d;
            flat /= d;
        }
    }
    idx.iter()
        .map(|v| v.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

impl QuantizeError {
    /// The message with positions written as indices of an array whose leading dimensions
    /// (everything but the last, RGB axis) are `lead_shape`.
    pub fn describe(&self, lead_shape: &[usize]) -> String {
        match self {
            QuantizeError::NonFinite {
                pixel,
                channel,
                value,
            } => {
                let pos = unravel(*pixel, lead_shape);
                let sep = if pos.is_empty() { "" } else { ", " };
                format!(
                    "pixels[{pos}{sep}{channel}] = {value} is not finite (every pixel value must be a finite number)"
                )
            }
            QuantizeError::IdOutOfRange {
                index,
                id,
                n_clusters,
            } => format!(
                "ids[{}] = {id} is out of range for {n_clusters} clusters (valid ids: 0..{})",
                unravel(*index, lead_shape),
                n_clusters - 1
            ),
            other => other.to_string(),
        }
    }
}

// ------------------------------------------------------------------------------------------------
// Output id types
// ------------------------------------------------------------------------------------------------

/// Integer types the ids can be written as.
pub trait OutId: Copy + Send + Sync + 'static {
    fn from_id(id: u16) -> Self;
}
impl OutId for u16 {
    #[inline(always)]
    fn from_id(id: u16) -> Self {
        id
    }
}
impl OutId for i32 {
    #[inline(always)]
    fn from_id(id: u16) -> Self {
        id as i32
    }
}
impl OutId for i64 {
    #[inline(always)]
    fn from_id(id: u16) -> Self {
        id as i64
    }
}

// ------------------------------------------------------------------------------------------------
// The quantizer
// ------------------------------------------------------------------------------------------------

type Table = Arc<LookupTable>;

/// Process-wide cache of the most recently built tables, so that a new quantizer on the same
/// palette (e.g. one per `preprocess` call) does not rebuild the 32 MiB table.
const CACHE_SIZE: usize = 2;
type CacheKey = (bool, Vec<u64>);
fn table_cache() -> &'static Mutex<Vec<(CacheKey, Table)>> {
    static C: OnceLock<Mutex<Vec<(CacheKey, Table)>>> = OnceLock::new();
    C.get_or_init(|| Mutex::new(Vec::new()))
}

/// The nearest-cluster engine of one palette. `Sync`: one quantizer may serve many threads.
pub struct Quantizer {
    palette: Palette,
    /// Arithmetic in float64 (always usable: float32 clusters and b2 converted exactly).
    a64: Arith<f64>,
    /// Arithmetic in float32 (float32 palettes only).
    a32: Option<Arith<f32>>,
    geo: Geometry,
    key: CacheKey,
    table: OnceLock<Table>,
    /// A pool of this many threads from [`crate::parallel`] (fork-aware), or the caller's.
    threads: Option<usize>,
}

impl std::fmt::Debug for Quantizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Quantizer")
            .field("n_clusters", &self.palette.len())
            .field("dtype", &self.palette.dtype_name())
            .field("table_built", &self.table.get().is_some())
            .finish()
    }
}

impl Quantizer {
    /// A quantizer over `palette`. `num_threads`: `None` runs on the caller's pool (the bindings run
    /// on [`crate::parallel::install`]'s, all cores), `Some(n)` on the process's pool of `n` threads
    /// (see [`crate::parallel::check_threads`] for the valid counts).
    pub fn new(
        palette: Palette,
        num_threads: Option<usize>,
    ) -> Result<Self, crate::parallel::ThreadCountError> {
        let c64: Vec<[f64; 3]> = palette
            .to_f64_vec()
            .chunks_exact(3)
            .map(|c| [c[0], c[1], c[2]])
            .collect();
        let (a32, b2_64, unit, is_f32, bits) = match palette.clusters() {
            Clusters::F32(c) => {
                let b2: Vec<f32> = c.iter().map(|v| sum_sq(*v)).collect();
                let b2_64 = b2.iter().map(|&v| v as f64).collect();
                let bits = c
                    .iter()
                    .flat_map(|v| v.iter().map(|x| x.to_bits() as u64))
                    .collect();
                (
                    Some(Arith {
                        cl: c.clone(),
                        b2,
                        is_f32: true,
                        tail: 0..0,
                    }),
                    b2_64,
                    <f32 as Real>::unit(),
                    true,
                    bits,
                )
            }
            Clusters::F64(c) => {
                let b2: Vec<f64> = c.iter().map(|v| sum_sq(*v)).collect();
                let bits = c
                    .iter()
                    .flat_map(|v| v.iter().map(|x| x.to_bits()))
                    .collect();
                (None, b2, <f64 as Real>::unit(), false, bits)
            }
        };
        let threads = crate::parallel::check_threads(num_threads)?;
        Ok(Quantizer {
            a64: Arith {
                tail: dgemm_tail(c64.len()),
                cl: c64.clone(),
                b2: b2_64,
                is_f32,
            },
            a32,
            geo: Geometry::new(c64, unit),
            key: (is_f32, bits),
            palette,
            table: OnceLock::new(),
            threads,
        })
    }

    /// The palette.
    pub fn palette(&self) -> &Palette {
        &self.palette
    }

    /// Number of clusters.
    pub fn n_clusters(&self) -> usize {
        self.palette.len()
    }

    /// Number of threads the quantizer runs on.
    pub fn num_threads(&self) -> usize {
        match self.threads {
            None => rayon::current_num_threads(),
            t => crate::parallel::num_threads(t),
        }
    }

    /// Whether the lookup table is built (or was found in the process-wide cache).
    pub fn table_built(&self) -> bool {
        self.table.get().is_some()
    }

    fn install<R: Send>(&self, f: impl FnOnce() -> R + Send) -> R {
        match self.threads {
            None => f(),
            t => crate::parallel::install_with(t, f),
        }
    }

    fn cached_table(&self) -> Option<Table> {
        if let Some(t) = self.table.get() {
            return Some(t.clone());
        }
        let cache = table_cache().lock().unwrap_or_else(|p| p.into_inner());
        let hit = cache
            .iter()
            .find(|(k, _)| *k == self.key)
            .map(|(_, t)| t.clone());
        drop(cache);
        hit.map(|t| self.table.get_or_init(|| t).clone())
    }

    /// The complete lookup table (built on first use, then cached), in brick layout
    /// ([`brick_index`]; [`LookupTable::to_linear`] gives the `(r << 16) | (g << 8) | b` order).
    pub fn table(&self) -> Table {
        if let Some(t) = self.cached_table() {
            return t;
        }
        // The OnceLock wait happens on the calling thread, outside the pool (no worker blocks).
        self.table
            .get_or_init(|| {
                let t: Table = Arc::new(self.install(|| match &self.a32 {
                    Some(a) => build_table(a, &self.geo),
                    None => build_table(&self.a64, &self.geo),
                }));
                let mut cache = table_cache().lock().unwrap_or_else(|p| p.into_inner());
                cache.retain(|(k, _)| *k != self.key);
                cache.insert(0, (self.key.clone(), t.clone()));
                cache.truncate(CACHE_SIZE);
                t
            })
            .clone()
    }

    /// The table in linear order (`(r << 16) | (g << 8) | b`), built first if needed.
    pub fn linear_table(&self) -> Vec<u16> {
        let t = self.table();
        self.install(|| t.to_linear())
    }

    /// The reference's id for one normalized pixel row evaluated with the single-row (`gemv`)
    /// arithmetic, over all clusters.
    fn single_row<T: Real>(ar: &Arith<T>, x: [T; 3], a2: T) -> u16 {
        let k = ar.cl.len();
        let mut best = T::infinity();
        let mut arg = 0usize;
        for (j, c) in ar.cl.iter().enumerate() {
            let d = distance(a2, gemv_dot(x, c, j, k, ar.is_f32), ar.b2[j]);
            if better::<T, true>(d, best) {
                best = d;
                arg = j;
            }
        }
        arg as u16
    }

    /// Quantizes uint8 RGB pixels (`pixels.len() == 3 * out.len()`), as
    /// `color_quantize(normalize(pixels), clusters)` over the whole array at once.
    pub fn quantize_u8<O: OutId>(&self, pixels: &[u8], out: &mut [O]) -> Result<(), QuantizeError> {
        let n = pixel_count(pixels.len(), out.len())?;
        if n == 0 {
            return Ok(());
        }
        if self.n_clusters() == 1 {
            out.iter_mut().for_each(|o| *o = O::from_id(0));
            return Ok(());
        }
        if n == 1 {
            let nt = norm_table();
            let x = [
                nt[pixels[0] as usize],
                nt[pixels[1] as usize],
                nt[pixels[2] as usize],
            ];
            let a2 = sum_sq(x);
            out[0] = O::from_id(match &self.a32 {
                Some(a) => Self::single_row(a, x, a2),
                None => Self::single_row(&self.a64, x.map(|v| v as f64), a2 as f64),
            });
            return Ok(());
        }
        let table = match self.cached_table() {
            Some(t) => t,
            None if n.saturating_mul(self.n_clusters()) <= DIRECT_LIMIT => {
                self.install(|| match &self.a32 {
                    Some(a) => self.direct_u8(a, pixels, out),
                    None => self.direct_u8(&self.a64, pixels, out),
                });
                return Ok(());
            }
            None => self.table(),
        };
        let table = table.as_array();
        self.install(|| {
            out.par_chunks_mut(CHUNK)
                .zip(pixels.par_chunks(3 * CHUNK))
                .for_each(|(o, p)| {
                    for (oi, px) in o.iter_mut().zip(p.chunks_exact(3)) {
                        let idx = brick_index(px[0] as usize, px[1] as usize, px[2] as usize);
                        *oi = O::from_id(table[idx]);
                    }
                })
        });
        Ok(())
    }

    fn all_candidates(&self) -> Vec<u32> {
        (0..self.n_clusters() as u32).collect()
    }

    fn direct_u8<T: Real, O: OutId>(&self, ar: &Arith<T>, pixels: &[u8], out: &mut [O]) {
        let cands = self.all_candidates();
        let nan = !self.geo.extreme.is_empty();
        let nt = norm_table();
        out.par_chunks_mut(BLOCK)
            .zip(pixels.par_chunks(3 * BLOCK))
            .for_each_init(Block::<T>::new, |blk, (o, p)| {
                blk.n = 0;
                for px in p.chunks_exact(3) {
                    let x = [nt[px[0] as usize], nt[px[1] as usize], nt[px[2] as usize]];
                    blk.push(x.map(T::from_f32), T::from_f32(sum_sq(x)));
                }
                eval(blk, &cands, ar, nan);
                for (oi, &b) in o.iter_mut().zip(blk.best_i.iter()) {
                    *oi = O::from_id(b.to_index());
                }
            });
    }

    /// Quantizes already-normalized float32 pixels with the reference formula (all clusters).
    pub fn quantize_f32<O: OutId>(
        &self,
        pixels: &[f32],
        out: &mut [O],
    ) -> Result<(), QuantizeError> {
        self.quantize_float(pixels, out)
    }

    /// Quantizes already-normalized float64 pixels with the reference formula (all clusters).
    pub fn quantize_f64<O: OutId>(
        &self,
        pixels: &[f64],
        out: &mut [O],
    ) -> Result<(), QuantizeError> {
        self.quantize_float(pixels, out)
    }

    fn quantize_float<P: Real, O: OutId>(
        &self,
        pixels: &[P],
        out: &mut [O],
    ) -> Result<(), QuantizeError> {
        let n = pixel_count(pixels.len(), out.len())?;
        if let Some(i) = pixels.iter().position(|v| !v.as_f64().is_finite()) {
            let v = pixels[i].as_f64();
            let value = if v.is_nan() {
                "nan".to_owned()
            } else if v > 0.0 {
                "inf".to_owned()
            } else {
                "-inf".to_owned()
            };
            return Err(QuantizeError::NonFinite {
                pixel: i / 3,
                channel: i % 3,
                value,
            });
        }
        if n == 0 {
            return Ok(());
        }
        if self.n_clusters() == 1 {
            out.iter_mut().for_each(|o| *o = O::from_id(0));
            return Ok(());
        }
        let pixels_are_f32 = P::unit() == <f32 as Real>::unit();
        if n == 1 {
            let x = [pixels[0], pixels[1], pixels[2]];
            let a2 = sum_sq(x).as_f64();
            out[0] = O::from_id(match (&self.a32, pixels_are_f32) {
                (Some(a), true) => Self::single_row(a, x.map(|v| v.as_f64() as f32), a2 as f32),
                _ => Self::single_row(&self.a64, x.map(|v| v.as_f64()), a2),
            });
            return Ok(());
        }
        // float32 pixels that are all exact normalized uint8 values (what `normalize` produces) have
        // the uint8 path's arithmetic exactly (a2 in float32, the rest in the clusters' dtype): use
        // the lookup table when the input is large enough to pay for it.
        if pixels_are_f32
            && (self.table_built() || n.saturating_mul(self.n_clusters()) > DIRECT_LIMIT)
        {
            if let Some(bytes) = self.install(|| on_grid_bytes(pixels)) {
                return self.quantize_u8(&bytes, out);
            }
        }
        self.install(|| match (&self.a32, pixels_are_f32) {
            (Some(a), true) => self.direct_float(a, pixels, out),
            _ => self.direct_float(&self.a64, pixels, out),
        });
        Ok(())
    }

    fn direct_float<P: Real, T: Real, O: OutId>(&self, ar: &Arith<T>, pixels: &[P], out: &mut [O]) {
        let cands = self.all_candidates();
        // Arbitrary finite pixels can overflow a2 or ab (e.g. 1e30 in float32): apply argmin's NaN rule.
        let nan = true;
        out.par_chunks_mut(BLOCK)
            .zip(pixels.par_chunks(3 * BLOCK))
            .for_each_init(Block::<T>::new, |blk, (o, p)| {
                blk.n = 0;
                for px in p.chunks_exact(3) {
                    let x = [px[0], px[1], px[2]];
                    // a2 in the pixel dtype, then converted exactly to the promoted dtype T; the pixel
                    // values converted exactly too (T is float64 whenever P is).
                    let a2 = sum_sq(x).as_f64();
                    blk.push(x.map(|v| T::from_f64(v.as_f64())), T::from_f64(a2));
                }
                eval(blk, &cands, ar, nan);
                for (oi, &b) in o.iter_mut().zip(blk.best_i.iter()) {
                    *oi = O::from_id(b.to_index());
                }
            });
    }

    /// The uint8 color of each id, `rint(127.5 * (c + 1))` in the palette's dtype, clipped to
    /// `0..=255` (the inverse transformers' docs use to view tokens as images, which does not clip).
    pub fn decode(&self, ids: &[i64], out: &mut [u8]) -> Result<(), QuantizeError> {
        if out.len() != 3 * ids.len() {
            return Err(QuantizeError::OutLength {
                expected: 3 * ids.len(),
                got: out.len(),
            });
        }
        let k = self.n_clusters();
        if let Some(i) = ids.iter().position(|&v| v < 0 || v as u64 >= k as u64) {
            return Err(QuantizeError::IdOutOfRange {
                index: i,
                id: ids[i],
                n_clusters: k,
            });
        }
        let colors = self.colors();
        for (o, &id) in out.chunks_exact_mut(3).zip(ids) {
            o.copy_from_slice(&colors[id as usize]);
        }
        Ok(())
    }

    /// The uint8 color of every cluster (see [`Quantizer::decode`]).
    pub fn colors(&self) -> Vec<[u8; 3]> {
        fn clip(v: f64) -> u8 {
            v.clamp(0.0, 255.0) as u8
        }
        match self.palette.clusters() {
            Clusters::F32(c) => c
                .iter()
                .map(|v| v.map(|x| clip(((x + 1.0f32) * 127.5f32).round_ties_even() as f64)))
                .collect(),
            Clusters::F64(c) => c
                .iter()
                .map(|v| v.map(|x| clip(((x + 1.0) * 127.5).round_ties_even())))
                .collect(),
        }
    }
}

/// The number of RGB pixels in `values` channel values, checked against an output of `out` ids.
fn pixel_count(values: usize, out: usize) -> Result<usize, QuantizeError> {
    if values % 3 != 0 {
        return Err(QuantizeError::Shape(values));
    }
    let n = values / 3;
    if out != n {
        return Err(QuantizeError::OutLength {
            expected: n,
            got: out,
        });
    }
    Ok(n)
}

/// The uint8 values of float pixels when every value is exactly a normalized uint8 value.
fn on_grid_bytes<P: Real>(pixels: &[P]) -> Option<Vec<u8>> {
    let nt = norm_table();
    pixels
        .par_iter()
        .map(|v| {
            let v = v.as_f64();
            let p = ((v + 1.0) * 127.5).round();
            if (0.0..=255.0).contains(&p) && nt[p as usize] as f64 == v {
                Some(p as u8)
            } else {
                None
            }
        })
        .collect()
}

#[cfg(test)]
mod tests;

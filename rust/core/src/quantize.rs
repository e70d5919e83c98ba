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

use std::ops::{Add, Mul, Sub};
use std::sync::{Arc, Mutex, OnceLock};

use rayon::prelude::*;
use thiserror::Error;

use crate::palette::{Clusters, Palette};

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
// Arithmetic
// ------------------------------------------------------------------------------------------------

/// float32 / float64 with the operations the reference formula needs.
pub trait Real:
    Copy
    + Send
    + Sync
    + PartialOrd
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + 'static
{
    /// Unit roundoff (half an ulp of 1).
    const UNIT: f64;
    const INFINITY: Self;
    /// `self * a + b` with one rounding (IEEE fma).
    fn fma(self, a: Self, b: Self) -> Self;
    fn from_f32(v: f32) -> Self;
    /// Conversion from float64; only called with values exactly representable in `Self`.
    fn from_f64(v: f64) -> Self;
    fn to_f64(self) -> f64;
    fn from_index(j: u32) -> Self;
    fn to_index(self) -> u16;
    fn is_nan(self) -> bool;
}

impl Real for f32 {
    const UNIT: f64 = f32::EPSILON as f64 / 2.0;
    const INFINITY: Self = f32::INFINITY;
    #[inline(always)]
    fn fma(self, a: Self, b: Self) -> Self {
        self.mul_add(a, b)
    }
    #[inline(always)]
    fn from_f32(v: f32) -> Self {
        v
    }
    #[inline(always)]
    fn from_f64(v: f64) -> Self {
        v as f32
    }
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self as f64
    }
    #[inline(always)]
    fn from_index(j: u32) -> Self {
        j as f32 // exact: j < 2^16
    }
    #[inline(always)]
    fn to_index(self) -> u16 {
        self as u16
    }
    #[inline(always)]
    fn is_nan(self) -> bool {
        f32::is_nan(self)
    }
}

impl Real for f64 {
    const UNIT: f64 = f64::EPSILON / 2.0;
    const INFINITY: Self = f64::INFINITY;
    #[inline(always)]
    fn fma(self, a: Self, b: Self) -> Self {
        self.mul_add(a, b)
    }
    #[inline(always)]
    fn from_f32(v: f32) -> Self {
        v as f64
    }
    #[inline(always)]
    fn from_f64(v: f64) -> Self {
        v
    }
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self
    }
    #[inline(always)]
    fn from_index(j: u32) -> Self {
        j as f64
    }
    #[inline(always)]
    fn to_index(self) -> u16 {
        self as u16
    }
    #[inline(always)]
    fn is_nan(self) -> bool {
        f64::is_nan(self)
    }
}

/// `ab` as OpenBLAS `?gemm` computes it (more than one pixel row): `fma(x2, c2, fma(x1, c1, x0*c0))`.
#[inline(always)]
pub fn gemm_dot<T: Real>(x0: T, x1: T, x2: T, c: &[T; 3]) -> T {
    x2.fma(c[2], x1.fma(c[1], x0 * c[0]))
}

/// `ab` as OpenBLAS `dgemm` computes it for the clusters of [`dgemm_tail`] on most rows:
/// `fma(x2, c2, x0*c0 + x1*c1)`.
#[inline(always)]
pub fn dgemm_tail_dot<T: Real>(x0: T, x1: T, x2: T, c: &[T; 3]) -> T {
    x2.fma(c[2], x0 * c[0] + x1 * c[1])
}

/// The clusters whose float64 products OpenBLAS' `dgemm` rounds as [`dgemm_tail_dot`] on the
/// rows of whole 12-row blocks (all rows but at most 11 per thread): the 4 columns
/// `K & !7 .. K & !3` when `K % 8` is 4..=7 and `K >= 196` (measured; see the module docs). Using
/// the majority form there makes the per-color answer match numpy on those rows.
pub fn dgemm_tail(k: usize) -> std::ops::Range<u32> {
    if k >= 196 && k % 8 >= 4 {
        let lo = (k & !7) as u32;
        lo..lo + 4
    } else {
        0..0
    }
}

/// `ab` as OpenBLAS `?gemv` computes it for a single pixel row against cluster `j` of `k`.
#[inline(always)]
pub fn gemv_dot<T: Real>(x: [T; 3], c: &[T; 3], j: usize, k: usize, is_f32: bool) -> T {
    let fused_middle = || x[2].fma(c[2], x[0].fma(c[0], x[1] * c[1]));
    if !is_f32 || k > 16384 {
        return fused_middle();
    }
    let (t8, t4, t2) = (k & !7, k & !3, k & !1);
    if j < t8 {
        x[2].fma(c[2], x[1].fma(c[1], x[0] * c[0]))
    } else if j < t4 {
        fused_middle()
    } else if j < t2 {
        (x[0] * c[0] + x[1] * c[1]) + x[2] * c[2]
    } else {
        fused_middle()
    }
}

/// `d = (a2 - 2*ab) + b2` (`2*ab` is exact as `ab + ab`).
#[inline(always)]
fn distance<T: Real>(a2: T, ab: T, b2: T) -> T {
    (a2 - (ab + ab)) + b2
}

/// `np.sum(np.square(x), axis=1)` for one row: `(x0*x0 + x1*x1) + x2*x2`.
#[inline(always)]
fn sum_sq<T: Real>(x: [T; 3]) -> T {
    (x[0] * x[0] + x[1] * x[1]) + x[2] * x[2]
}

/// Whether `d` replaces the current best `bd` under `np.argmin` rules scanning in index order.
#[inline(always)]
fn better<T: Real, const NAN: bool>(d: T, bd: T) -> bool {
    if NAN {
        d < bd || (d.is_nan() && !bd.is_nan())
    } else {
        d < bd
    }
}

// ------------------------------------------------------------------------------------------------
// The evaluation kernel: up to BLOCK pixels (structure of arrays) against a candidate list
// ------------------------------------------------------------------------------------------------

struct Block<T> {
    x0: [T; BLOCK],
    x1: [T; BLOCK],
    x2: [T; BLOCK],
    a2: [T; BLOCK],
    best_d: [T; BLOCK],
    best_i: [T; BLOCK],
    n: usize,
}

impl<T: Real> Block<T> {
    fn new() -> Box<Self> {
        let z = T::INFINITY;
        Box::new(Block {
            x0: [z; BLOCK],
            x1: [z; BLOCK],
            x2: [z; BLOCK],
            a2: [z; BLOCK],
            best_d: [z; BLOCK],
            best_i: [z; BLOCK],
            n: 0,
        })
    }

    #[inline(always)]
    fn push(&mut self, x: [T; 3], a2: T) {
        let t = self.n;
        self.x0[t] = x[0];
        self.x1[t] = x[1];
        self.x2[t] = x[2];
        self.a2[t] = a2;
        self.n = t + 1;
    }
}

/// One candidate against every pixel of the block; `ALT` selects [`dgemm_tail_dot`].
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn eval_one<T: Real, const NAN: bool, const ALT: bool>(
    x0: &[T],
    x1: &[T],
    x2: &[T],
    a2: &[T],
    bd: &mut [T],
    bi: &mut [T],
    c: &[T; 3],
    bb: T,
    jf: T,
) {
    for t in 0..x0.len() {
        let ab = if ALT {
            dgemm_tail_dot(x0[t], x1[t], x2[t], c)
        } else {
            gemm_dot(x0[t], x1[t], x2[t], c)
        };
        let d = distance(a2[t], ab, bb);
        let take = better::<T, NAN>(d, bd[t]);
        bd[t] = if take { d } else { bd[t] };
        bi[t] = if take { jf } else { bi[t] };
    }
}

#[inline(always)]
fn eval_body<T: Real, const NAN: bool>(blk: &mut Block<T>, cands: &[u32], ar: &Arith<T>) {
    let n = blk.n;
    let Some(&first) = cands.first() else { return };
    let Block {
        x0,
        x1,
        x2,
        a2,
        best_d,
        best_i,
        ..
    } = blk;
    let (x0, x1, x2, a2) = (&x0[..n], &x1[..n], &x2[..n], &a2[..n]);
    let (bd, bi) = (&mut best_d[..n], &mut best_i[..n]);
    bd.fill(T::INFINITY);
    bi.fill(T::from_index(first));
    for &j in cands {
        let (c, bb, jf) = (&ar.cl[j as usize], ar.b2[j as usize], T::from_index(j));
        if ar.tail.contains(&j) {
            eval_one::<T, NAN, true>(x0, x1, x2, a2, bd, bi, c, bb, jf);
        } else {
            eval_one::<T, NAN, false>(x0, x1, x2, a2, bd, bi, c, bb, jf);
        }
    }
}

/// [`eval_body`] compiled for AVX2 + FMA.
///
/// # Safety
/// The CPU must support AVX2 and FMA; the dispatcher calls it only after detecting both at run time.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn eval_avx2<T: Real, const NAN: bool>(blk: &mut Block<T>, cands: &[u32], ar: &Arith<T>) {
    eval_body::<T, NAN>(blk, cands, ar)
}

/// [`eval_body`] compiled for AVX-512.
///
/// # Safety
/// The CPU must support AVX-512F, AVX-512VL, AVX2 and FMA; the dispatcher calls it only after
/// detecting all four at run time.
#[cfg(all(target_arch = "x86_64", imagegpt_avx512))]
#[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
unsafe fn eval_avx512<T: Real, const NAN: bool>(blk: &mut Block<T>, cands: &[u32], ar: &Arith<T>) {
    eval_body::<T, NAN>(blk, cands, ar)
}

#[derive(Clone, Copy, PartialEq)]
enum Isa {
    Generic,
    #[cfg(target_arch = "x86_64")]
    Avx2,
    #[cfg(all(target_arch = "x86_64", imagegpt_avx512))]
    Avx512,
}

/// The name of the instruction set the quantizer's distance kernels run on here: `"avx512"`,
/// `"avx2+fma"` or `"generic"` (every one computes the same IEEE results; see [`eval`]).
pub fn kernel_isa() -> &'static str {
    match isa() {
        #[cfg(all(target_arch = "x86_64", imagegpt_avx512))]
        Isa::Avx512 => "avx512",
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => "avx2+fma",
        Isa::Generic => "generic",
    }
}

fn isa() -> Isa {
    static I: OnceLock<Isa> = OnceLock::new();
    *I.get_or_init(|| {
        #[cfg(target_arch = "x86_64")]
        {
            if std::env::var_os("IMAGEGPT_RS_NO_SIMD").is_none() {
                #[cfg(imagegpt_avx512)]
                if is_x86_feature_detected!("avx512f")
                    && is_x86_feature_detected!("avx512vl")
                    && is_x86_feature_detected!("avx2")
                    && is_x86_feature_detected!("fma")
                {
                    return Isa::Avx512;
                }
                if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
                    return Isa::Avx2;
                }
            }
        }
        Isa::Generic
    })
}

/// Evaluates the reference formula of every pixel of `blk` over `cands` (ascending indices) and
/// leaves the argmin in `blk.best_i`. Every ISA computes the same IEEE results: `fma` is exact
/// fused multiply-add in all of them (a library call without hardware FMA), nothing else is fused.
fn eval<T: Real>(blk: &mut Block<T>, cands: &[u32], ar: &Arith<T>, nan: bool) {
    match isa() {
        #[cfg(all(target_arch = "x86_64", imagegpt_avx512))]
        // SAFETY: `isa()` returned Avx512 only after `is_x86_feature_detected!` confirmed avx512f,
        // avx512vl, avx2 and fma on this CPU, the features `eval_avx512` is compiled for.
        Isa::Avx512 => unsafe {
            if nan {
                eval_avx512::<T, true>(blk, cands, ar)
            } else {
                eval_avx512::<T, false>(blk, cands, ar)
            }
        },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `isa()` returned Avx2 only after `is_x86_feature_detected!` confirmed avx2 and fma.
        Isa::Avx2 => unsafe {
            if nan {
                eval_avx2::<T, true>(blk, cands, ar)
            } else {
                eval_avx2::<T, false>(blk, cands, ar)
            }
        },
        Isa::Generic => {
            if nan {
                eval_body::<T, true>(blk, cands, ar)
            } else {
                eval_body::<T, false>(blk, cands, ar)
            }
        }
    }
}

// ------------------------------------------------------------------------------------------------
// Prepared palette data in one arithmetic dtype
// ------------------------------------------------------------------------------------------------

/// Clusters and `b2` in the dtype `T` of the distance arithmetic (`b2` computed in the palette's
/// own dtype, then converted exactly, as numpy does).
struct Arith<T> {
    cl: Vec<[T; 3]>,
    b2: Vec<T>,
    is_f32: bool,
    /// Clusters that `dgemm` computes with [`dgemm_tail_dot`] (float64 arithmetic only).
    tail: std::ops::Range<u32>,
}

/// Pruning data (float64, exact copies of the cluster values).
struct Geometry {
    c: Vec<[f64; 3]>,
    norm: Vec<f64>,
    normal: Vec<u32>,
    extreme: Vec<u32>,
    unit: f64,
}

impl Geometry {
    fn new(c: Vec<[f64; 3]>, unit: f64) -> Self {
        let norm = c
            .iter()
            .map(|v| (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt())
            .collect();
        let (mut normal, mut extreme) = (Vec::new(), Vec::new());
        for (j, v) in c.iter().enumerate() {
            if v.iter().any(|x| x.abs() > EXTREME) {
                extreme.push(j as u32);
            } else {
                normal.push(j as u32);
            }
        }
        Geometry {
            c,
            norm,
            normal,
            extreme,
            unit,
        }
    }
}

/// An axis-aligned box of uint8 colors, `lo[a] .. hi[a]` (exclusive) per channel.
#[derive(Clone, Copy, Debug)]
struct ColorBox {
    lo: [usize; 3],
    hi: [usize; 3],
}

impl ColorBox {
    fn volume(&self) -> usize {
        (0..3).map(|a| self.hi[a] - self.lo[a]).product()
    }
    fn longest_axis(&self) -> usize {
        let s = |a: usize| self.hi[a] - self.lo[a];
        if s(0) >= s(1) && s(0) >= s(2) {
            0
        } else if s(1) >= s(2) {
            1
        } else {
            2
        }
    }
    fn split(&self) -> (ColorBox, ColorBox) {
        let a = self.longest_axis();
        let mid = (self.lo[a] + self.hi[a]) / 2;
        let (mut l, mut r) = (*self, *self);
        l.hi[a] = mid;
        r.lo[a] = mid;
        (l, r)
    }
}

/// The clusters of `cands` that may be the reference's answer somewhere in `bx` (see the module
/// documentation for the bound), in ascending order.
fn prune(geo: &Geometry, bx: &ColorBox, cands: &[u32], scratch: &mut Vec<(f64, f64)>) -> Vec<u32> {
    let nt = norm_table();
    let lo: [f64; 3] = std::array::from_fn(|a| nt[bx.lo[a]] as f64);
    let hi: [f64; 3] = std::array::from_fn(|a| nt[bx.hi[a] - 1] as f64);
    let xmax = (0..3)
        .map(|a| lo[a].abs().max(hi[a].abs()))
        .map(|v| v * v)
        .sum::<f64>()
        .sqrt();
    scratch.clear();
    let mut best_upper = f64::INFINITY;
    for &j in cands {
        let c = &geo.c[j as usize];
        let (mut l, mut m) = (0.0f64, 0.0f64);
        for a in 0..3 {
            let below = lo[a] - c[a];
            let above = c[a] - hi[a];
            let g = below.max(above).max(0.0);
            l += g * g;
            let far = (c[a] - lo[a]).abs().max((c[a] - hi[a]).abs());
            m += far * far;
        }
        let r = xmax + geo.norm[j as usize];
        let e = 32.0 * geo.unit * r * r + 1e-30;
        scratch.push((l - e, m + e));
        best_upper = best_upper.min(m + e);
    }
    cands
        .iter()
        .zip(scratch.iter())
        .filter(|(_, &(le, _))| le <= best_upper)
        .map(|(&j, _)| j)
        .collect()
}

/// Merges the always-kept extreme clusters into a sorted candidate list.
fn with_extreme(kept: Vec<u32>, extreme: &[u32]) -> Vec<u32> {
    if extreme.is_empty() {
        return kept;
    }
    let mut all = kept;
    all.extend_from_slice(extreme);
    all.sort_unstable();
    all
}

fn fill_leaf<T: Real>(
    ar: &Arith<T>,
    geo: &Geometry,
    bx: &ColorBox,
    cands: &[u32],
    slab: &mut [u16],
    r0: usize,
    blk: &mut Block<T>,
) {
    let cands = with_extreme(cands.to_vec(), &geo.extreme);
    let nt = norm_table();
    blk.n = 0;
    for r in bx.lo[0]..bx.hi[0] {
        for g in bx.lo[1]..bx.hi[1] {
            for b in bx.lo[2]..bx.hi[2] {
                let x = [nt[r], nt[g], nt[b]];
                blk.push(
                    [T::from_f32(x[0]), T::from_f32(x[1]), T::from_f32(x[2])],
                    T::from_f32(sum_sq(x)),
                );
            }
        }
    }
    eval(blk, &cands, ar, !geo.extreme.is_empty());
    let mut t = 0;
    for r in bx.lo[0]..bx.hi[0] {
        for g in bx.lo[1]..bx.hi[1] {
            for b in bx.lo[2]..bx.hi[2] {
                // the slab holds red values r0..r0+SLAB: a contiguous range of the brick layout
                slab[brick_index(r, g, b) - (r0 << 16)] = blk.best_i[t].to_index();
                t += 1;
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn fill_box<T: Real>(
    ar: &Arith<T>,
    geo: &Geometry,
    bx: ColorBox,
    parent: &[u32],
    slab: &mut [u16],
    r0: usize,
    blk: &mut Block<T>,
    scratch: &mut Vec<(f64, f64)>,
) {
    let kept = prune(geo, &bx, parent, scratch);
    let longest = bx.hi[bx.longest_axis()] - bx.lo[bx.longest_axis()];
    let leaf = bx.volume() <= BLOCK && (kept.len() <= 32 || longest <= 2);
    if leaf {
        fill_leaf(ar, geo, &bx, &kept, slab, r0, blk);
    } else {
        let (l, r) = bx.split();
        fill_box(ar, geo, l, &kept, slab, r0, blk, scratch);
        fill_box(ar, geo, r, &kept, slab, r0, blk, scratch);
    }
}

fn build_table<T: Real>(ar: &Arith<T>, geo: &Geometry) -> LookupTable {
    let mut table = LookupTable::new_zeroed();
    table
        .as_mut_slice()
        .par_chunks_mut(SLAB << 16)
        .enumerate()
        .for_each(|(s, slab)| {
            let r0 = s * SLAB;
            let bx = ColorBox {
                lo: [r0, 0, 0],
                hi: [r0 + SLAB, 256, 256],
            };
            let mut blk = Block::<T>::new();
            let mut scratch = Vec::new();
            fill_box(ar, geo, bx, &geo.normal, slab, r0, &mut blk, &mut scratch);
        });
    table
}

// ------------------------------------------------------------------------------------------------
// The lookup table storage
// ------------------------------------------------------------------------------------------------

/// Position of color `(r, g, b)` in the table's brick layout: 4x4x4 bricks of 64 ids (128 bytes,
/// two cache lines) in (r, g, b) order, bricks in (r, g, b) order. Neighbouring colors, which
/// neighbouring pixels of natural images have, share cache lines far more often than in the linear
/// `(r << 16) | (g << 8) | b` layout, where a red step is 128 KiB away.
#[inline(always)]
pub fn brick_index(r: usize, g: usize, b: usize) -> usize {
    let brick = ((r >> 2) << 12) | ((g >> 2) << 6) | (b >> 2);
    (brick << 6) | ((r & 3) << 4) | ((g & 3) << 2) | (b & 3)
}

const TABLE_ALIGN: usize = 2 << 20;

/// `2^24` ids in brick layout, in one 2 MiB-aligned allocation that Linux is asked to back with
/// transparent huge pages (16 TLB entries instead of 8192 for random color lookups).
pub struct LookupTable {
    ptr: std::ptr::NonNull<u16>,
}

// SAFETY: LookupTable uniquely owns its allocation (like Box<[u16]>); u16 is Send + Sync, and shared
// access only reads.
unsafe impl Send for LookupTable {}
// SAFETY: see above; `&LookupTable` only gives `&[u16]`.
unsafe impl Sync for LookupTable {}

#[cfg(target_os = "linux")]
extern "C" {
    fn madvise(addr: *mut std::ffi::c_void, len: usize, advice: std::ffi::c_int)
        -> std::ffi::c_int;
}

/// Asks Linux to back a fresh output buffer with transparent huge pages: the 2 MiB-aligned part of
/// `out`, which the quantizer's worker threads then fault in as 2 MiB pages while they write it
/// (one fault and one kernel zeroing per 512 small pages; for 20 M int64 ids that is the difference
/// between about 15 and 100 ms of CPU time on the development machine). NumPy advises its own large
/// allocations the same way unless `NUMPY_MADVISE_HUGEPAGE=0`; this makes it independent of that
/// setting. No-op for buffers under 2 MiB and off Linux; contents are unchanged.
pub fn advise_huge_pages<O>(out: &mut [O]) {
    #[cfg(target_os = "linux")]
    {
        let start = out.as_mut_ptr() as usize;
        let end = start + std::mem::size_of_val(out);
        let (a, b) = (
            start.next_multiple_of(TABLE_ALIGN),
            end / TABLE_ALIGN * TABLE_ALIGN,
        );
        if b > a {
            // SAFETY: [a, b) is page aligned (2 MiB multiples) and lies inside `out`, which we
            // borrow exclusively; MADV_HUGEPAGE (14) only changes how the kernel backs these
            // anonymous pages, never their contents, and fails harmlessly (ignored) where THP is
            // off or the memory is not anonymous.
            unsafe {
                madvise(a as *mut std::ffi::c_void, b - a, 14);
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = out;
}

impl LookupTable {
    fn layout() -> std::alloc::Layout {
        match std::alloc::Layout::from_size_align(TABLE_LEN * 2, TABLE_ALIGN) {
            Ok(l) => l,
            Err(_) => unreachable!("32 MiB with a 2 MiB power-of-two alignment is a valid layout"),
        }
    }

    fn new_zeroed() -> Self {
        let layout = Self::layout();
        // SAFETY: the layout has a non-zero size.
        let raw = unsafe { std::alloc::alloc(layout) } as *mut u16;
        let Some(ptr) = std::ptr::NonNull::new(raw) else {
            std::alloc::handle_alloc_error(layout)
        };
        #[cfg(target_os = "linux")]
        // SAFETY: [raw, raw + 32 MiB) is our allocation, 2 MiB aligned (so page aligned);
        // MADV_HUGEPAGE (14) only changes how the kernel backs it and fails harmlessly if THP is off.
        unsafe {
            madvise(raw as *mut std::ffi::c_void, TABLE_LEN * 2, 14);
        }
        // SAFETY: the allocation holds TABLE_LEN u16 (2 * TABLE_LEN bytes, u16-aligned); writing
        // zeros initializes every element before any read.
        unsafe { std::ptr::write_bytes(raw, 0, TABLE_LEN) };
        LookupTable { ptr }
    }

    /// The ids in brick layout.
    pub fn as_array(&self) -> &[u16; TABLE_LEN] {
        // SAFETY: ptr points to TABLE_LEN initialized u16 owned by self, alive while &self is.
        unsafe { &*(self.ptr.as_ptr() as *const [u16; TABLE_LEN]) }
    }

    fn as_mut_slice(&mut self) -> &mut [u16] {
        // SAFETY: as in `as_array`, and &mut self guarantees exclusive access.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), TABLE_LEN) }
    }

    /// The id of color `(r, g, b)`.
    pub fn get(&self, r: u8, g: u8, b: u8) -> u16 {
        self.as_array()[brick_index(r as usize, g as usize, b as usize)]
    }

    /// The ids in linear order: entry `(r << 16) | (g << 8) | b` is the id of `(r, g, b)`.
    pub fn to_linear(&self) -> Vec<u16> {
        let t = self.as_array();
        let mut out = vec![0u16; TABLE_LEN];
        out.par_chunks_mut(1 << 16)
            .enumerate()
            .for_each(|(r, plane)| {
                for (gb, o) in plane.iter_mut().enumerate() {
                    *o = t[brick_index(r, gb >> 8, gb & 255)];
                }
            });
        out
    }
}

impl Drop for LookupTable {
    fn drop(&mut self) {
        // SAFETY: ptr was allocated in `new_zeroed` with exactly this layout and is freed once.
        unsafe { std::alloc::dealloc(self.ptr.as_ptr() as *mut u8, Self::layout()) }
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
    pub fn new(palette: Palette, num_threads: Option<usize>) -> Result<Self, String> {
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
                    f32::UNIT,
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
                (None, b2, f64::UNIT, false, bits)
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
        let mut best = T::INFINITY;
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
        if pixels.len() % 3 != 0 {
            return Err(QuantizeError::Shape(pixels.len()));
        }
        let n = pixels.len() / 3;
        if out.len() != n {
            return Err(QuantizeError::OutLength {
                expected: n,
                got: out.len(),
            });
        }
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
        if pixels.len() % 3 != 0 {
            return Err(QuantizeError::Shape(pixels.len()));
        }
        let n = pixels.len() / 3;
        if out.len() != n {
            return Err(QuantizeError::OutLength {
                expected: n,
                got: out.len(),
            });
        }
        if let Some(i) = pixels.iter().position(|v| !v.to_f64().is_finite()) {
            let v = pixels[i].to_f64();
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
        let pixels_are_f32 = P::UNIT == f32::UNIT;
        if n == 1 {
            let x = [pixels[0], pixels[1], pixels[2]];
            let a2 = sum_sq(x).to_f64();
            out[0] = O::from_id(match (&self.a32, pixels_are_f32) {
                (Some(a), true) => Self::single_row(a, x.map(|v| v.to_f64() as f32), a2 as f32),
                _ => Self::single_row(&self.a64, x.map(|v| v.to_f64()), a2),
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
                    let a2 = sum_sq(x).to_f64();
                    blk.push(x.map(|v| T::from_f64(v.to_f64())), T::from_f64(a2));
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

/// The uint8 values of float pixels when every value is exactly a normalized uint8 value.
fn on_grid_bytes<P: Real>(pixels: &[P]) -> Option<Vec<u8>> {
    let nt = norm_table();
    pixels
        .par_iter()
        .map(|v| {
            let v = v.to_f64();
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
mod tests {
    use super::*;

    fn reference_u8<T: Real>(ar: &Arith<T>, rgb: [u8; 3]) -> u16 {
        let x = rgb.map(normalize_u8);
        let a2 = T::from_f32(sum_sq(x));
        let xt = x.map(T::from_f32);
        let mut best = T::INFINITY;
        let mut arg = 0;
        for (j, c) in ar.cl.iter().enumerate() {
            let d = distance(a2, gemm_dot(xt[0], xt[1], xt[2], c), ar.b2[j]);
            if better::<T, true>(d, best) {
                best = d;
                arg = j;
            }
        }
        arg as u16
    }

    fn lcg(seed: &mut u64) -> f64 {
        *seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (*seed >> 11) as f64 / (1u64 << 53) as f64
    }

    fn check_table(q: &Quantizer, samples: usize) {
        let t = q.table();
        let mut seed = 7u64;
        let check = |r: u8, g: u8, b: u8| {
            let want = match &q.a32 {
                Some(a) => reference_u8(a, [r, g, b]),
                None => reference_u8(&q.a64, [r, g, b]),
            };
            assert_eq!(t.get(r, g, b), want, "color ({r}, {g}, {b})");
        };
        for _ in 0..samples {
            let v = (lcg(&mut seed) * TABLE_LEN as f64) as usize;
            check((v >> 16) as u8, (v >> 8) as u8, v as u8);
        }
        for v in [0u8, 1, 127, 128, 254, 255] {
            check(v, v, v);
            check(v, 255 - v, v);
        }
    }

    #[test]
    fn normalize_matches_transformers_rule() {
        assert_eq!(normalize_u8(0), -1.0);
        assert_eq!(normalize_u8(255), 1.0);
        // 127.5 is not representable as a pixel; 127 and 128 straddle 0.
        assert!(normalize_u8(127) < 0.0 && normalize_u8(128) > 0.0);
        for p in 0..=255u8 {
            let want = ((p as f64) * (1.0 / 127.5)) as f32 - 1.0f32;
            assert_eq!(normalize_u8(p).to_bits(), want.to_bits());
        }
    }

    #[test]
    fn brick_index_is_a_permutation() {
        let mut seen = vec![false; TABLE_LEN];
        for r in 0..256 {
            for g in 0..256 {
                for b in 0..256 {
                    let i = brick_index(r, g, b);
                    assert!(!seen[i]);
                    seen[i] = true;
                }
            }
        }
        // an 8-red slab is one contiguous range
        assert_eq!(brick_index(8, 0, 0), 8 << 16);
        assert_eq!(brick_index(15, 255, 255), (16 << 16) - 1);
    }

    #[test]
    fn dgemm_tail_columns() {
        assert_eq!(dgemm_tail(512), 0..0);
        assert_eq!(dgemm_tail(188), 0..0);
        assert_eq!(dgemm_tail(196), 192..196);
        assert_eq!(dgemm_tail(199), 192..196);
        assert_eq!(dgemm_tail(65535), 65528..65532);
        assert_eq!(dgemm_tail(65531), 0..0);
    }

    #[test]
    fn gemm_dot_is_the_fma_chain() {
        let x = [0.1f64, -0.7, 0.3];
        let c = [0.9f64, 0.25, -0.6];
        let want = x[2].mul_add(c[2], x[1].mul_add(c[1], x[0] * c[0]));
        assert_eq!(gemm_dot(x[0], x[1], x[2], &c).to_bits(), want.to_bits());
    }

    fn random_palette(k: usize, seed: u64, scale: f64) -> Vec<f64> {
        let mut s = seed;
        (0..3 * k)
            .map(|_| (lcg(&mut s) * 2.0 - 1.0) * scale)
            .collect()
    }

    #[test]
    fn table_matches_brute_force_f64_and_f32() {
        let vals = random_palette(512, 1, 1.0);
        let q = Quantizer::new(Palette::from_f64(&vals).unwrap(), None).unwrap();
        check_table(&q, 20000);
        let v32: Vec<f32> = vals.iter().map(|&v| v as f32).collect();
        let q = Quantizer::new(Palette::from_f32(&v32).unwrap(), None).unwrap();
        check_table(&q, 20000);
    }

    #[test]
    fn table_exact_on_ties_and_duplicates() {
        // Clusters on the normalized grid, duplicated, and mirrored pairs equidistant from many colors.
        let nt = norm_table();
        let mut vals = Vec::new();
        for i in 0..64usize {
            let a = nt[(i * 4) % 256] as f64;
            let b = nt[(i * 37) % 256] as f64;
            vals.extend_from_slice(&[a, b, 0.0]);
            vals.extend_from_slice(&[a, b, 0.0]); // duplicate: the first index must win
            vals.extend_from_slice(&[-a, b, 0.0]);
        }
        let q = Quantizer::new(Palette::from_f64(&vals).unwrap(), None).unwrap();
        check_table(&q, 20000);
        // every odd (duplicate) index never wins over its twin
        assert!(q.table().as_array().iter().all(|&id| id % 3 != 1));
    }

    #[test]
    fn extreme_clusters_follow_argmin_nan_rule() {
        let vals = vec![
            1e200, 1e200, 1e200, 0.5, 0.5, 0.5, -1e300, 0.0, 0.0, 0.1, 0.1, 0.1,
        ];
        let q = Quantizer::new(Palette::from_f64(&vals).unwrap(), None).unwrap();
        check_table(&q, 2000);
    }

    #[test]
    fn direct_path_matches_table() {
        let vals = random_palette(100, 3, 1.3);
        let q = Quantizer::new(Palette::from_f64(&vals).unwrap(), Some(2)).unwrap();
        let mut s = 11u64;
        let px: Vec<u8> = (0..3 * 5000).map(|_| (lcg(&mut s) * 256.0) as u8).collect();
        let mut direct = vec![0i64; 5000];
        q.quantize_u8(&px, &mut direct).unwrap();
        assert!(!q.table_built());
        let t = q.table();
        let linear = t.to_linear();
        for (i, p) in px.chunks_exact(3).enumerate() {
            assert_eq!(direct[i], t.get(p[0], p[1], p[2]) as i64);
            let idx = ((p[0] as usize) << 16) | ((p[1] as usize) << 8) | p[2] as usize;
            assert_eq!(direct[i], linear[idx] as i64);
        }
        let mut via_table = vec![0u16; 5000];
        q.quantize_u8(&px, &mut via_table).unwrap();
        assert!(direct.iter().zip(&via_table).all(|(&a, &b)| a == b as i64));
    }

    #[test]
    fn float_path_and_errors() {
        let vals = random_palette(50, 5, 1.0);
        let q = Quantizer::new(Palette::from_f64(&vals).unwrap(), None).unwrap();
        let px: Vec<f32> = [0u8, 10, 200, 255, 3, 77]
            .iter()
            .map(|&p| normalize_u8(p))
            .collect();
        let mut a = vec![0i64; 2];
        q.quantize_f32(&px, &mut a).unwrap();
        let mut b = vec![0i64; 2];
        q.quantize_u8(&[0, 10, 200, 255, 3, 77], &mut b).unwrap();
        assert_eq!(a, b);
        let e = q
            .quantize_f64(&[0.0, 0.0, 0.0, 0.0, f64::NAN, 0.0], &mut [0i64; 2])
            .unwrap_err();
        assert_eq!(
            e,
            QuantizeError::NonFinite {
                pixel: 1,
                channel: 1,
                value: "nan".into()
            }
        );
        assert!(e.describe(&[1, 2]).starts_with("pixels[0, 1, 1] = nan"));
        let e = q.decode(&[0, 50], &mut [0u8; 6]).unwrap_err();
        assert_eq!(
            e.describe(&[2]),
            "ids[1] = 50 is out of range for 50 clusters (valid ids: 0..49)"
        );
        assert!(q.decode(&[-1], &mut [0u8; 3]).is_err());
    }

    #[test]
    fn decode_rounds_half_to_even_and_clips() {
        let q = Quantizer::new(
            Palette::from_f64(&[-1.0, 0.0, 1.0, 2.0, -3.0, 1.0 / 127.5 - 1.0]).unwrap(),
            None,
        )
        .unwrap();
        let mut out = [0u8; 6];
        q.decode(&[0, 1], &mut out).unwrap();
        // 127.5 * 1.0 = 127.5 -> 128 (ties to even), 2.0 -> 382.5 -> clipped 255
        assert_eq!(out, [0, 128, 255, 255, 0, 1]);
    }
}

//! The arithmetic of the reference formula: the float trait, the dot products OpenBLAS computes, and
//! the palette prepared in one arithmetic dtype.

use num_traits::{AsPrimitive, Float};

/// float32 / float64 as the reference formula uses them: IEEE arithmetic, `mul_add` (one rounding,
/// IEEE fma), `infinity` and `is_nan` from num-traits' [`Float`], plus the plain `as` conversions
/// ([`AsPrimitive`]) between the dtypes the quantizer mixes. Implemented for every type num-traits
/// gives all of these (f32 and f64).
pub trait Real: Float + AsPrimitive<f64> + AsPrimitive<u16> + Send + Sync + 'static {
    /// Unit roundoff (half an ulp of 1).
    #[inline(always)]
    fn unit() -> f64 {
        <Self as AsPrimitive<f64>>::as_(Self::epsilon()) / 2.0
    }
    /// Exact conversion from float32.
    fn from_f32(v: f32) -> Self;
    /// Conversion from float64; only called with values exactly representable in `Self`.
    fn from_f64(v: f64) -> Self;
    /// A cluster index as a value (exact: indices are below 2^16).
    fn from_index(j: u32) -> Self;
    /// Exact conversion to float64.
    #[inline(always)]
    fn as_f64(self) -> f64 {
        <Self as AsPrimitive<f64>>::as_(self)
    }
    /// A stored index back (`as`: the value is a whole number below 2^16).
    #[inline(always)]
    fn to_index(self) -> u16 {
        <Self as AsPrimitive<u16>>::as_(self)
    }
}

impl<T> Real for T
where
    T: Float + AsPrimitive<f64> + AsPrimitive<u16> + Send + Sync + 'static,
    f32: AsPrimitive<T>,
    f64: AsPrimitive<T>,
    u32: AsPrimitive<T>,
{
    #[inline(always)]
    fn from_f32(v: f32) -> Self {
        v.as_()
    }
    #[inline(always)]
    fn from_f64(v: f64) -> Self {
        v.as_()
    }
    #[inline(always)]
    fn from_index(j: u32) -> Self {
        j.as_()
    }
}

/// `ab` as OpenBLAS `?gemm` computes it (more than one pixel row): `fma(x2, c2, fma(x1, c1, x0*c0))`.
#[inline(always)]
pub fn gemm_dot<T: Real>(x0: T, x1: T, x2: T, c: &[T; 3]) -> T {
    x2.mul_add(c[2], x1.mul_add(c[1], x0 * c[0]))
}

/// `ab` as OpenBLAS `dgemm` computes it for the clusters of [`dgemm_tail`] on most rows:
/// `fma(x2, c2, x0*c0 + x1*c1)`.
#[inline(always)]
pub fn dgemm_tail_dot<T: Real>(x0: T, x1: T, x2: T, c: &[T; 3]) -> T {
    x2.mul_add(c[2], x0 * c[0] + x1 * c[1])
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
    let fused_middle = || x[2].mul_add(c[2], x[0].mul_add(c[0], x[1] * c[1]));
    if !is_f32 || k > 16384 {
        return fused_middle();
    }
    let (t8, t4, t2) = (k & !7, k & !3, k & !1);
    if j < t8 {
        x[2].mul_add(c[2], x[1].mul_add(c[1], x[0] * c[0]))
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
pub(super) fn distance<T: Real>(a2: T, ab: T, b2: T) -> T {
    (a2 - (ab + ab)) + b2
}

/// `np.sum(np.square(x), axis=1)` for one row: `(x0*x0 + x1*x1) + x2*x2`.
#[inline(always)]
pub(super) fn sum_sq<T: Real>(x: [T; 3]) -> T {
    (x[0] * x[0] + x[1] * x[1]) + x[2] * x[2]
}

/// Whether `d` replaces the current best `bd` under `np.argmin` rules scanning in index order.
#[inline(always)]
pub(super) fn better<T: Real, const NAN: bool>(d: T, bd: T) -> bool {
    if NAN {
        d < bd || (d.is_nan() && !bd.is_nan())
    } else {
        d < bd
    }
}

// ------------------------------------------------------------------------------------------------
// Prepared palette data in one arithmetic dtype
// ------------------------------------------------------------------------------------------------

/// Clusters and `b2` in the dtype `T` of the distance arithmetic (`b2` computed in the palette's
/// own dtype, then converted exactly, as numpy does).
pub(super) struct Arith<T> {
    pub(super) cl: Vec<[T; 3]>,
    pub(super) b2: Vec<T>,
    pub(super) is_f32: bool,
    /// Clusters that `dgemm` computes with [`dgemm_tail_dot`] (float64 arithmetic only).
    pub(super) tail: std::ops::Range<u32>,
}

//! The resampling weights of one axis, as Pillow computes them ([`AxisCoeffs`]): each output pixel's
//! window of input pixels (its geometry from the scale and the filter's support) and its weights in
//! 22-bit fixed point, stored as a table or computed per window when the table would be too large;
//! and NEAREST's index tables ([`nearest_indices`]).

use super::{check_side, try_vec, Filter, ResizeError, PRECISION_BITS};

/// Largest weight table (entries of 4 bytes) kept per axis; a larger one (extreme downscales of very
/// long axes, or outputs of hundreds of millions of pixels) is not stored: each window's weights are
/// computed when used, into a scratch buffer of at most one window.
const TABLE_ENTRIES: usize = 1 << 22;

/// The resampling weights of one axis, as Pillow computes them.
#[derive(Debug, Clone, PartialEq)]
pub struct AxisCoeffs {
    /// Per output pixel: first input pixel and number of input pixels.
    pub bounds: Vec<(usize, usize)>,
    /// Pillow's `ksize` (the window bound its table uses).
    pub ksize: usize,
    /// Row length of `fixed`: `min(ksize, in_size)` (no window is longer than the axis).
    pub stride: usize,
    /// The weights in 22-bit fixed point, `stride` per output pixel (unused slots are 0); empty when
    /// the table would exceed [`TABLE_ENTRIES`] (see [`AxisCoeffs::window`]).
    pub fixed: Vec<i32>,
    /// The longest window (the scratch a lazily computed window needs).
    pub max_count: usize,
    geom: WindowGeom,
}

/// What computing one window's weights needs (Pillow's `precompute_coeffs` state).
#[derive(Debug, Clone, Copy, PartialEq)]
struct WindowGeom {
    in_size: usize,
    in0: f64,
    scale: f64,
    support: f64,
    ss: f64,
    filter: Filter,
}

impl WindowGeom {
    /// Output pixel `xx`'s centre, first input pixel and input pixel count.
    fn window(&self, xx: usize) -> (f64, usize, usize, usize) {
        let center = self.in0 + (xx as f64 + 0.5) * self.scale;
        // `as i64` truncates toward zero like C's (int) cast (and saturates instead of overflowing).
        let xmin = ((center - self.support + 0.5) as i64).max(0) as usize;
        let xmax = ((center + self.support + 0.5) as i64)
            .min(self.in_size as i64)
            .max(0) as usize;
        (center, xmin, xmax.saturating_sub(xmin), xmax)
    }

    /// The fixed-point weights of output pixel `xx` into `k` (its window's length): the double
    /// weights are summed in order, then each is divided by the sum and rounded, as Pillow does. The
    /// weights are evaluated twice instead of stored, so no double table is needed.
    fn weights(&self, xx: usize, k: &mut [i32]) {
        let (center, xmin, _, _) = self.window(xx);
        let w = |x: usize| {
            self.filter
                .eval(((x + xmin) as f64 - center + 0.5) * self.ss)
        };
        let mut ww = 0.0f64;
        for x in 0..k.len() {
            ww += w(x);
        }
        for (x, slot) in k.iter_mut().enumerate() {
            let v = w(x);
            *slot = to_fixed(if ww != 0.0 { v / ww } else { v });
        }
    }
}

impl AxisCoeffs {
    /// Weights for resampling `in_size` pixels (the whole axis) to `out_size` pixels with `filter`
    /// (a convolution filter; NEAREST gives its box kernel, which Pillow never uses for resize).
    pub fn new(in_size: usize, out_size: usize, filter: Filter) -> Result<Self, ResizeError> {
        check_side("input size", in_size)?;
        check_side("output size", out_size)?;
        Self::with_box(in_size, 0.0, in_size as f32, out_size, filter)
    }

    /// Pillow's `precompute_coeffs` with a box `[in0, in1)` given as C floats.
    pub(super) fn with_box(
        in_size: usize,
        in0: f32,
        in1: f32,
        out_size: usize,
        filter: Filter,
    ) -> Result<Self, ResizeError> {
        Self::with_box_limit(in_size, in0, in1, out_size, filter, TABLE_ENTRIES)
    }

    /// [`AxisCoeffs::with_box`] storing the table only up to `table_entries` entries.
    fn with_box_limit(
        in_size: usize,
        in0: f32,
        in1: f32,
        out_size: usize,
        filter: Filter,
        table_entries: usize,
    ) -> Result<Self, ResizeError> {
        let scale = f64::from(in1 - in0) / out_size as f64;
        let filterscale = if scale < 1.0 { 1.0 } else { scale };
        let support = filter.support() * filterscale;
        // Pillow: (int)ceil(support) * 2 + 1
        let ksize = (support.ceil() as usize)
            .saturating_mul(2)
            .saturating_add(1);
        let stride = ksize.min(in_size).max(1);
        let geom = WindowGeom {
            in_size,
            in0: f64::from(in0),
            scale,
            support,
            ss: 1.0 / filterscale,
            filter,
        };
        let mut bounds = try_vec((0usize, 0usize), out_size)?;
        let mut max_count = 0;
        for (xx, b) in bounds.iter_mut().enumerate() {
            let (_, xmin, count, _) = geom.window(xx);
            let count = count.min(ksize);
            *b = (xmin, count);
            max_count = max_count.max(count);
        }
        let mut fixed = Vec::new();
        if out_size.saturating_mul(stride) <= table_entries {
            fixed = try_vec(0i32, out_size * stride)?;
            for (xx, k) in fixed.chunks_exact_mut(stride).enumerate() {
                geom.weights(xx, &mut k[..bounds[xx].1]);
            }
        }
        Ok(AxisCoeffs {
            bounds,
            ksize,
            stride,
            fixed,
            max_count,
            geom,
        })
    }

    /// Whether the weights are computed per window instead of stored.
    pub(super) fn lazy(&self) -> bool {
        self.fixed.is_empty()
    }

    /// A scratch buffer for [`AxisCoeffs::window`]: empty when the table is stored, else one window.
    pub(super) fn scratch(&self) -> Result<Vec<i32>, ResizeError> {
        if self.lazy() {
            try_vec(0i32, self.max_count)
        } else {
            Ok(Vec::new())
        }
    }

    /// Output pixel `xx`'s window: its first input pixel and its fixed-point weights, from the table
    /// or computed into `scratch` (from [`AxisCoeffs::scratch`]).
    #[inline]
    pub(super) fn window<'a>(&'a self, xx: usize, scratch: &'a mut [i32]) -> (usize, &'a [i32]) {
        let (start, count) = self.bounds[xx];
        if self.lazy() {
            let k = &mut scratch[..count];
            self.geom.weights(xx, k);
            (start, k)
        } else {
            (
                start,
                &self.fixed[xx * self.stride..xx * self.stride + count],
            )
        }
    }

    /// The input range `[first, last)` any output pixel reads.
    pub(super) fn span(&self) -> (usize, usize) {
        let first = self.bounds.iter().map(|b| b.0).min().unwrap_or(0);
        let last = self.bounds.iter().map(|b| b.0 + b.1).max().unwrap_or(0);
        (first, last.max(first))
    }

    /// The same weights with every window moved `by` pixels left (for an input cropped to the span).
    pub(super) fn shifted(&self, by: usize) -> Result<AxisCoeffs, ResizeError> {
        let mut bounds = try_vec((0usize, 0usize), self.bounds.len())?;
        for (b, &(s, n)) in bounds.iter_mut().zip(&self.bounds) {
            *b = (s - by, n);
        }
        let mut fixed = try_vec(0i32, self.fixed.len())?;
        fixed.copy_from_slice(&self.fixed);
        Ok(AxisCoeffs {
            bounds,
            fixed,
            ..*self
        })
    }

    pub(super) fn taps_total(&self) -> usize {
        self.bounds.iter().map(|b| b.1).sum()
    }
}

/// A weight in 22-bit fixed point, rounded half away from zero and truncated like C's `(int)` cast.
pub fn to_fixed(w: f64) -> i32 {
    let scaled = w * f64::from(1u32 << PRECISION_BITS);
    if w < 0.0 {
        (-0.5 + scaled) as i32
    } else {
        (0.5 + scaled) as i32
    }
}

/// Pillow's NEAREST column (or row) table: input index per output index, `None` where the
/// accumulated coordinate falls outside the image (Pillow leaves those pixels 0).
pub fn nearest_indices(in_size: usize, out_size: usize) -> Result<Vec<Option<usize>>, ResizeError> {
    // a = (double)(box1 - box0) / out, with the box in C floats; o = box0 + a * 0.5; o += a per pixel.
    let a = f64::from(in_size as f32) / out_size as f64;
    let mut o = a * 0.5;
    let mut table = try_vec(None, out_size)?;
    for slot in table.iter_mut() {
        // COORD(v): v < 0 -> -1, else (int)v
        let idx = if o < 0.0 { None } else { Some(o as usize) };
        *slot = idx.filter(|&i| i < in_size);
        o += a;
    }
    Ok(table)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_point_rounds_half_away_from_zero() {
        assert_eq!(to_fixed(1.0), 1 << 22);
        assert_eq!(to_fixed(0.5), 1 << 21);
        // 2^-23 * 2^22 = 0.5 -> rounds away from zero
        assert_eq!(to_fixed(2f64.powi(-23)), 1);
        assert_eq!(to_fixed(-(2f64.powi(-23))), -1);
        assert_eq!(to_fixed(2f64.powi(-24)), 0);
        assert_eq!(to_fixed(-0.25), -(1 << 20));
    }

    #[test]
    fn downscale_by_two_bilinear_weights() {
        // 4 -> 2, scale 2: support 2, centers 1.0 and 3.0
        let c = AxisCoeffs::new(4, 2, Filter::Bilinear).unwrap();
        assert_eq!(c.ksize, 5);
        assert_eq!(c.bounds, vec![(0, 3), (1, 3)]);
        // weights (1 - |i + 0.5 - 1| / 2) = 0.75, 0.75, 0.25 normalized by 1.75
        let w: Vec<i32> = [0.75 / 1.75, 0.75 / 1.75, 0.25 / 1.75]
            .iter()
            .map(|&w| to_fixed(w))
            .collect();
        assert_eq!(&c.fixed[0..3], &w[..]);
        assert_eq!(c.bounds[1], (1, 3));
        // the table's rows are no longer than the axis (4), though Pillow's ksize is 5
        assert_eq!(c.stride, 4);
    }

    #[test]
    fn windows_computed_on_use_equal_the_stored_table() {
        for f in [
            Filter::Lanczos,
            Filter::Bilinear,
            Filter::Bicubic,
            Filter::Box,
            Filter::Hamming,
        ] {
            for (i, o) in [(1000, 7), (7, 1000), (50_000, 3), (3, 17), (12345, 12344)] {
                let eager = AxisCoeffs::with_box_limit(i, 0.0, i as f32, o, f, usize::MAX).unwrap();
                let lazy = AxisCoeffs::with_box_limit(i, 0.0, i as f32, o, f, 0).unwrap();
                assert!(lazy.fixed.is_empty() && !eager.fixed.is_empty());
                assert_eq!(eager.bounds, lazy.bounds);
                let (mut s1, mut s2) = (eager.scratch().unwrap(), lazy.scratch().unwrap());
                for xx in 0..o {
                    assert_eq!(
                        eager.window(xx, &mut s1),
                        lazy.window(xx, &mut s2),
                        "{f} {i}->{o} {xx}"
                    );
                }
            }
        }
    }

    #[test]
    fn upscale_window_is_clipped_at_the_edges() {
        let c = AxisCoeffs::new(2, 5, Filter::Lanczos).unwrap();
        assert_eq!(c.ksize, 7);
        for &(s, n) in &c.bounds {
            assert!(s + n <= 2);
            assert!(n >= 1);
        }
        // one input pixel: every output copies it
        let c = AxisCoeffs::new(1, 3, Filter::Bicubic).unwrap();
        assert!(c.bounds.iter().all(|&b| b == (0, 1)));
        assert!(c.fixed.chunks(c.stride).all(|k| k[0] == 1 << 22));
    }

    #[test]
    fn nearest_table_accumulates_like_pillow() {
        assert_eq!(nearest_indices(4, 2).unwrap(), vec![Some(1), Some(3)]);
        assert_eq!(nearest_indices(1, 3).unwrap(), vec![Some(0); 3]);
        assert_eq!(nearest_indices(3, 1).unwrap(), vec![Some(1)]);
        let t = nearest_indices(10, 3).unwrap();
        assert_eq!(t, vec![Some(1), Some(5), Some(8)]);
    }
}

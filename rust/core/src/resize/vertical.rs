//! The vertical pass: each output row is a weighted sum of whole input rows (contiguous,
//! vectorizes). Runs of [`V_BLOCK`] columns are accumulated in registers over all taps before being
//! stored.
//!
//! Here: the split into rows (threads, weights computed per window when not stored) and the row body
//! [`vertical_row`], written once in portable Rust; `kernels` compiles the row body per CPU level and
//! chooses the build at run time.

use rayon::prelude::*;

use super::kernels::vertical_row_dispatch;
use super::{clip8, AxisCoeffs, Img, ResizeError, HALF};

pub(super) const V_BLOCK: usize = 64;

/// Vertical pass over the whole width of `img`.
pub(super) fn vertical_pass<const C: usize>(
    img: Img<'_>,
    coeffs: &AxisCoeffs,
    dst: &mut [u8],
    parallel: bool,
) -> Result<(), ResizeError> {
    vertical_pass_cols::<C>(img, 0, img.width, coeffs, dst, parallel)
}

/// Vertical pass over columns `[x0, x0 + w)` of `img` into `dst` (`out_h` rows of `w * C` bytes).
pub(super) fn vertical_pass_cols<const C: usize>(
    img: Img<'_>,
    x0: usize,
    w: usize,
    coeffs: &AxisCoeffs,
    dst: &mut [u8],
    parallel: bool,
) -> Result<(), ResizeError> {
    let in_stride = img.width * C;
    let out_stride = w * C;
    let col0 = x0 * C;
    let run = |scratch: &mut Vec<i32>, (yy, out_row): (usize, &mut [u8])| {
        let (start, k) = coeffs.window(yy, scratch);
        vertical_row_dispatch(img.data, in_stride, col0 + start * in_stride, k, out_row);
    };
    // Weights computed per window need a scratch buffer of up to a whole axis: one, serially.
    if parallel && !coeffs.lazy() {
        dst.par_chunks_mut(out_stride)
            .enumerate()
            .for_each_init(Vec::new, run);
    } else {
        let mut scratch = coeffs.scratch()?;
        dst.chunks_mut(out_stride)
            .enumerate()
            .for_each(|item| run(&mut scratch, item));
    }
    Ok(())
}

/// `out_row[j] = clip8(HALF + Σ_i data[first + i * in_stride + j] * k[i])`.
#[inline(always)]
pub(super) fn vertical_row(
    data: &[u8],
    in_stride: usize,
    first: usize,
    k: &[i32],
    out_row: &mut [u8],
) {
    let width = out_row.len();
    let mut c0 = 0;
    while c0 + V_BLOCK <= width {
        vertical_block::<V_BLOCK>(
            data,
            in_stride,
            first + c0,
            k,
            &mut out_row[c0..c0 + V_BLOCK],
        );
        c0 += V_BLOCK;
    }
    while c0 + 16 <= width {
        vertical_block::<16>(data, in_stride, first + c0, k, &mut out_row[c0..c0 + 16]);
        c0 += 16;
    }
    if c0 < width {
        let len = width - c0;
        let mut acc = [HALF; 16];
        for (i, &w) in k.iter().enumerate() {
            let off = first + i * in_stride + c0;
            for (a, &p) in acc[..len].iter_mut().zip(&data[off..off + len]) {
                *a = a.wrapping_add(i32::from(p).wrapping_mul(w));
            }
        }
        for (o, &a) in out_row[c0..].iter_mut().zip(acc.iter()) {
            *o = clip8(a);
        }
    }
}

/// `N` columns starting at byte `first` of the first tap's row, accumulated in registers.
#[inline(always)]
fn vertical_block<const N: usize>(
    data: &[u8],
    in_stride: usize,
    first: usize,
    k: &[i32],
    out: &mut [u8],
) {
    let mut acc = [HALF; N];
    for (i, &w) in k.iter().enumerate() {
        let off = first + i * in_stride;
        let src: &[u8; N] = match data[off..off + N].try_into() {
            Ok(s) => s,
            Err(_) => continue, // unreachable: the slice has exactly N bytes
        };
        for j in 0..N {
            acc[j] = acc[j].wrapping_add(i32::from(src[j]).wrapping_mul(w));
        }
    }
    for (o, &a) in out.iter_mut().zip(acc.iter()) {
        *o = clip8(a);
    }
}

//! The one place that chooses which build of each inner loop runs.
//!
//! The passes' inner loops (`horizontal::horizontal_block`, `vertical::vertical_row`) are written
//! once in portable Rust; the exact 32-bit sums leave the compiler free to vectorize them. Each CPU
//! architecture with a file here adds builds of them compiled for wider instruction sets, chosen at
//! run time, and its own versions of the small pieces the portable Rust cannot express well (the
//! strip transposes' 16-byte registers, prefetches):
//!
//! * `x86_64.rs`: AVX2 builds of both loops (used when the CPU has AVX2, else the baseline SSE2
//!   build), SSE2 16-byte loads, stores and 16x16 byte transposes, prefetches;
//! * `scalar.rs`: the portable pieces (every other architecture) and the scalar reference that the
//!   tests below hold every build to, byte for byte.
//!
//! A new architecture is a file beside these (e.g. `aarch64.rs`) with its builds and pieces, chosen
//! below by `cfg(target_arch)` (and run-time feature detection when its feature is not in the
//! baseline), plus its case in the tests.

mod scalar;
#[cfg(target_arch = "x86_64")]
mod x86_64;

#[cfg(test)]
pub(super) use scalar::resize as reference_resize;
#[cfg(not(target_arch = "x86_64"))]
pub(super) use scalar::{load16, prefetch, store16, transpose16x16, Col16};
#[cfg(target_arch = "x86_64")]
pub(super) use x86_64::{load16, prefetch, store16, transpose16x16, Col16};

use super::horizontal::{horizontal_block, HGeom};
use super::vertical::vertical_row;

/// One block of rows of the horizontal pass (see `horizontal::horizontal_block`), with the best
/// build for this CPU.
pub(super) fn horizontal_block_dispatch<const C: usize, const L: usize>(
    rows: &[u8],
    n: usize,
    geom: HGeom<'_>,
    out: &mut [u8],
    strips: &mut [u8],
    scratch: &mut [i32],
) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2 (checked just above), which is all `horizontal_block_avx2`
            // requires; the function itself is safe Rust.
            unsafe { x86_64::horizontal_block_avx2::<C, L>(rows, n, geom, out, strips, scratch) };
            return;
        }
    }
    horizontal_block::<C, L>(rows, n, geom, out, strips, scratch);
}

/// One output row of the vertical pass (see `vertical::vertical_row`), with the best build for this
/// CPU.
pub(super) fn vertical_row_dispatch(
    data: &[u8],
    in_stride: usize,
    first: usize,
    k: &[i32],
    out_row: &mut [u8],
) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2 (checked just above), which is all `vertical_row_avx2`
            // requires; the function itself is safe Rust.
            unsafe { x86_64::vertical_row_avx2(data, in_stride, first, k, out_row) };
            return;
        }
    }
    vertical_row(data, in_stride, first, k, out_row);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_transpose() {
        let m: [[u8; 16]; 16] =
            std::array::from_fn(|i| std::array::from_fn(|j| (i * 16 + j) as u8));
        let cols = transpose16x16(std::array::from_fn(|i| load16(&m[i])));
        for (j, col) in cols.into_iter().enumerate() {
            let mut t = [0u8; 16];
            store16(&mut t, col);
            for i in 0..16 {
                assert_eq!(t[i], m[i][j]);
            }
        }
    }
}

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
pub(super) use scalar::{horizontal_pass as reference_horizontal_pass, resize as reference_resize};
#[cfg(not(target_arch = "x86_64"))]
pub(super) use scalar::{load16, prefetch, store16, transpose16x16, Col16};
#[cfg(target_arch = "x86_64")]
pub(super) use x86_64::{load16, prefetch, store16, transpose16x16, Col16};

use super::horizontal::{horizontal_block, HGeom};
use super::vertical::vertical_row;

/// The instruction set of the builds the dispatchers below choose on this CPU (`"avx2"`, `"sse2"`, or
/// `"scalar"`), as `build_info` reports it.
pub fn kernel_isa() -> &'static str {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx2") {
            return "avx2";
        }
        "sse2"
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        "scalar"
    }
}

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
    use super::super::vertical::V_BLOCK;
    use super::super::{noise, AxisCoeffs, Filter};
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

    /// The transpose, loads and stores in use (SSE2 on x86_64) against the portable ones, on random
    /// matrices.
    #[test]
    fn byte_transpose_equals_the_portable_one() {
        for seed in 0..64 {
            let bytes = noise(16 * 16 + 7, seed);
            let off = (seed % 8) as usize; // unaligned starts
            let rows: [&[u8]; 16] = std::array::from_fn(|i| &bytes[off + i * 16..]);
            let want = scalar::transpose16x16(std::array::from_fn(|i| scalar::load16(rows[i])));
            let got = transpose16x16(std::array::from_fn(|i| load16(rows[i])));
            for (g, w) in got.into_iter().zip(want) {
                let mut t = [0u8; 16 + 3];
                store16(&mut t[3..], g);
                let mut u = [0u8; 16 + 3];
                scalar::store16(&mut u[3..], w);
                assert_eq!(t, u, "seed {seed}");
            }
        }
    }

    /// Coefficients of `w` input pixels for a few outputs and filters: downscales (long windows),
    /// upscales and a one-pixel change (windows clipped at both edges), LANCZOS's negative lobes
    /// (sums below 0 and above 255, clipped).
    fn awkward_coeffs(w: usize) -> Vec<AxisCoeffs> {
        let outs = [(w / 3).max(1), w + 1, 2 * w + 1];
        let filters = [Filter::Bicubic, Filter::Bilinear, Filter::Box];
        let mut all = Vec::new();
        for (i, &ow) in outs.iter().enumerate() {
            all.push(AxisCoeffs::new(w, ow, filters[i % 3]).unwrap());
            all.push(AxisCoeffs::new(w, ow, Filter::Lanczos).unwrap());
        }
        all
    }

    /// Every build of the horizontal block (the dispatched one, the baseline one and, where the CPU
    /// has it, AVX2) against the scalar reference: every row count of a block (`1..=L / C`), every
    /// width remainder of the 16-pixel transposes (widths 1 to 49), edge windows, and strips holding
    /// the whole span or tiles of 5 or 17 columns (tile moves inside windows), over stale strips.
    fn check_horizontal_block<const C: usize, const L: usize>() -> usize {
        let mut checked = 0;
        let mut seed = 1000 * C as u64;
        for w in 1..=49usize {
            for coeffs in awkward_coeffs(w) {
                let (x0, x1) = coeffs.span();
                let out_w = coeffs.bounds.len();
                for n in 1..=L / C {
                    seed += 1;
                    let rows = noise(n * w * C, seed);
                    let want = reference_horizontal_pass(&rows, w, n, C, &coeffs);
                    let geom = HGeom {
                        in_stride: w * C,
                        x1,
                        coeffs: &coeffs,
                    };
                    for tile in [x1 - x0, 5, 17] {
                        let stale = noise(tile * L, seed + 7);
                        let mut builds: Vec<(&str, Vec<u8>)> = Vec::new();
                        let mut run = |name, f: &dyn Fn(&mut [u8], &mut [u8])| {
                            let mut out = vec![0xA5u8; n * out_w * C];
                            let mut strips = stale.clone();
                            f(&mut out, &mut strips);
                            builds.push((name, out));
                        };
                        run("dispatch", &|out, strips| {
                            horizontal_block_dispatch::<C, L>(&rows, n, geom, out, strips, &mut [])
                        });
                        run("baseline", &|out, strips| {
                            horizontal_block::<C, L>(&rows, n, geom, out, strips, &mut [])
                        });
                        #[cfg(target_arch = "x86_64")]
                        if std::is_x86_feature_detected!("avx2") {
                            run("avx2", &|out, strips| {
                                // SAFETY: the CPU supports AVX2 (checked just above), all that
                                // `horizontal_block_avx2` requires.
                                unsafe {
                                    x86_64::horizontal_block_avx2::<C, L>(
                                        &rows,
                                        n,
                                        geom,
                                        out,
                                        strips,
                                        &mut [],
                                    )
                                }
                            });
                        }
                        for (name, got) in builds {
                            assert_eq!(got, want, "{name} C={C} {w} -> {out_w} n={n} tile={tile}");
                            checked += 1;
                        }
                    }
                }
            }
        }
        checked
    }

    #[test]
    fn horizontal_block_builds_equal_the_scalar_reference() {
        let checked = check_horizontal_block::<1, 32>()
            + check_horizontal_block::<3, 48>()
            + check_horizontal_block::<4, 64>();
        assert!(checked >= 2 * 49 * 6 * 3 * (32 + 16 + 16), "{checked}");
    }

    /// Every build of the vertical row against the scalar reference: every width remainder of the
    /// 64- and 16-byte column blocks (widths 1 to `2 * V_BLOCK + 17`), rows starting inside the input
    /// rows, edge windows.
    #[test]
    fn vertical_row_builds_equal_the_scalar_reference() {
        let h = 9;
        let mut checked = 0;
        for width in 1..=2 * V_BLOCK + 17 {
            let col0 = width % 5;
            let in_stride = width + col0 + 2;
            let data = noise(h * in_stride, width as u64);
            for coeffs in awkward_coeffs(h) {
                let mut scratch = coeffs.scratch().unwrap();
                for yy in 0..coeffs.bounds.len() {
                    let (start, k) = coeffs.window(yy, &mut scratch);
                    let first = start * in_stride + col0;
                    let mut want = vec![0u8; width];
                    scalar::vertical_row(&data, in_stride, first, k, &mut want);
                    let mut builds: Vec<(&str, Vec<u8>)> = Vec::new();
                    let mut run = |name, f: &dyn Fn(&mut [u8])| {
                        let mut out = vec![0xA5u8; width];
                        f(&mut out);
                        builds.push((name, out));
                    };
                    run("dispatch", &|out| {
                        vertical_row_dispatch(&data, in_stride, first, k, out)
                    });
                    run("baseline", &|out| {
                        vertical_row(&data, in_stride, first, k, out)
                    });
                    #[cfg(target_arch = "x86_64")]
                    if std::is_x86_feature_detected!("avx2") {
                        run("avx2", &|out| {
                            // SAFETY: the CPU supports AVX2 (checked just above), all that
                            // `vertical_row_avx2` requires.
                            unsafe { x86_64::vertical_row_avx2(&data, in_stride, first, k, out) }
                        });
                    }
                    for (name, got) in builds {
                        assert_eq!(got, want, "{name} width={width} row {yy}");
                        checked += 1;
                    }
                }
            }
        }
        assert!(checked >= 2 * (2 * V_BLOCK + 17) * 6 * 3, "{checked}");
    }
}

//! Pillow-exact image resampling for 8-bit images (L, RGB, RGBA).
//!
//! Gives the same bytes as `PIL.Image.resize((w, h), resample, reducing_gap=None)` on a whole image,
//! which is how transformers resizes. The algorithm follows the public description of Pillow's
//! `libImaging/Resample.c` (convolution filters) and `Geometry.c` (NEAREST), written anew here:
//!
//! * per axis, `scale = in / out` and `filterscale = max(scale, 1)`; the kernel support is widened by
//!   `filterscale`; output pixel `x` is centred at `(x + 0.5) * scale`; the window of input pixels is
//!   `[trunc(center - support + 0.5), trunc(center + support + 0.5))` clipped to the image; the weights
//!   `f((i - center + 0.5) / filterscale)` (computed as a product with `1 / filterscale`) are summed in
//!   double precision and divided by their sum;
//! * the weights become 22-bit fixed-point integers (rounded half away from zero); each output sample
//!   is `clip8(((1 << 21) + Σ pixel · k) >> 22)` in 32-bit integers, which is exact, so the summation
//!   order is free and the loops vectorize;
//! * two separable passes through an 8-bit intermediate; which pass runs first matters for the result
//!   and depends on the Pillow version (see [`PillowCompat`]);
//! * NEAREST is an affine "scale" transform: source column `trunc(x0 + 0.5·a + n·a)` with `a = in / out`
//!   accumulated by repeated addition, exactly as Pillow does;
//! * RGBA is resized premultiplied (`RGBA → RGBa → resize → RGBA`) except with NEAREST.
//!
//! Speed: the vertical pass sums whole rows (contiguous lanes); the horizontal pass transposes blocks
//! of 16 or 32 rows into per-column strips (16x16 byte transposes with SSE2 for L and RGB) so that it,
//! too, sums contiguous lanes, and prefetches the next block. Both passes have AVX2 builds chosen at
//! run time. Large images are split over rayon.
//!
//! Use [`resize`] for one image (plans are cached), or [`cached_plan`] / [`ResizePlan`] and
//! [`ResizePlan::run_into`] to write many images of one size into buffers you own.
//!
//! Files of this module (each starts with what it holds):
//! * `mod.rs`: the public API (every public name is re-exported here), errors, image views, the
//!   one-image and many-image entry points, and the helpers every file shares;
//! * `filters.rs`: [`Filter`], Pillow's kernels and supports;
//! * `compat.rs`: [`PillowCompat`], which pass runs first in each Pillow release;
//! * `coefficients.rs`: [`AxisCoeffs`] (window geometry, fixed-point weights) and NEAREST's tables;
//! * `plan.rs`: [`ResizePlan`] (what to run for a size pair), the plan cache, RGBA premultiplication;
//! * `rows.rs`: [`RowResizer`], the same plan fed a few input rows at a time;
//! * `horizontal.rs` and `vertical.rs`: the two passes (blocks, tiles, threads, strip transposes);
//! * `kernels/`: the per-CPU builds of the passes' inner loops and the one place that chooses among
//!   them (`kernels/mod.rs`): `x86_64.rs` (AVX2 builds, SSE2 transposes) and `scalar.rs` (the
//!   portable versions and the scalar reference every build must equal).

mod coefficients;
mod compat;
mod filters;
mod horizontal;
mod kernels;
mod plan;
mod rows;
mod vertical;

pub use coefficients::{nearest_indices, to_fixed, AxisCoeffs};
pub use compat::PillowCompat;
pub use filters::Filter;
pub use kernels::kernel_isa;
pub use plan::{cached_plan, ResizePlan};
pub use rows::RowResizer;

use rayon::prelude::*;

/// Fixed-point precision of the weights (Pillow's `PRECISION_BITS = 32 - 8 - 2`).
pub const PRECISION_BITS: u32 = 22;
const HALF: i32 = 1 << (PRECISION_BITS - 1);

/// Why a resize cannot run. Messages name the offending value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResizeError {
    #[error("{what} must be at least 1, got {value}")]
    ZeroSize { what: &'static str, value: usize },
    #[error("{what} = {value} is too large (at most {max})")]
    TooLarge {
        what: &'static str,
        value: usize,
        max: usize,
    },
    #[error("channels must be 1 (L), 3 (RGB) or 4 (RGBA), got {0}")]
    Channels(usize),
    #[error("buffer of {got} bytes does not match width {width} x height {height} x channels {channels} = {expected}")]
    BufferLength {
        got: usize,
        expected: usize,
        width: usize,
        height: usize,
        channels: usize,
    },
    #[error("output buffer of {got} bytes does not match {expected} (width {width} x height {height} x channels {channels})")]
    OutputLength {
        got: usize,
        expected: usize,
        width: usize,
        height: usize,
        channels: usize,
    },
    #[error(
        "unknown resampling filter {0}: use 0 (NEAREST), 1 (LANCZOS), 2 (BILINEAR), 3 (BICUBIC), 4 (BOX) or 5 (HAMMING)"
    )]
    Filter(i64),
    #[error("cannot allocate {bytes} bytes for the resized image")]
    OutOfMemory { bytes: usize },
    #[error("pillow_compat version {major}.{minor} is not a Pillow version")]
    Compat { major: i64, minor: i64 },
}

/// Largest width or height accepted (Pillow stores sizes in a C `int`).
pub const MAX_SIDE: usize = i32::MAX as usize;

/// A borrowed 8-bit image: `height` rows of `width * channels` bytes, packed.
#[derive(Debug, Clone, Copy)]
pub struct ImageView<'a> {
    pub data: &'a [u8],
    pub width: usize,
    pub height: usize,
    pub channels: usize,
}

impl<'a> ImageView<'a> {
    /// Checks the sizes and the buffer length.
    pub fn new(
        data: &'a [u8],
        width: usize,
        height: usize,
        channels: usize,
    ) -> Result<Self, ResizeError> {
        check_side("width", width)?;
        check_side("height", height)?;
        check_channels(channels)?;
        let expected = byte_len(width, height, channels)?;
        if data.len() != expected {
            return Err(ResizeError::BufferLength {
                got: data.len(),
                expected,
                width,
                height,
                channels,
            });
        }
        Ok(ImageView {
            data,
            width,
            height,
            channels,
        })
    }
}

fn check_side(what: &'static str, value: usize) -> Result<(), ResizeError> {
    if value == 0 {
        return Err(ResizeError::ZeroSize { what, value });
    }
    if value > MAX_SIDE {
        return Err(ResizeError::TooLarge {
            what,
            value,
            max: MAX_SIDE,
        });
    }
    Ok(())
}

fn check_channels(channels: usize) -> Result<(), ResizeError> {
    match channels {
        1 | 3 | 4 => Ok(()),
        c => Err(ResizeError::Channels(c)),
    }
}

fn byte_len(width: usize, height: usize, channels: usize) -> Result<usize, ResizeError> {
    width
        .checked_mul(height)
        .and_then(|n| n.checked_mul(channels))
        .filter(|&n| n <= isize::MAX as usize)
        .ok_or(ResizeError::TooLarge {
            what: "width x height x channels",
            value: usize::MAX,
            max: isize::MAX as usize,
        })
}

#[inline(always)]
fn clip8(acc: i32) -> u8 {
    (acc >> PRECISION_BITS).clamp(0, 255) as u8
}

/// `n` copies of `value`, or [`ResizeError::OutOfMemory`] when they cannot be allocated.
fn try_vec<T: Clone>(value: T, n: usize) -> Result<Vec<T>, ResizeError> {
    let bytes = n.saturating_mul(std::mem::size_of::<T>());
    let mut v = Vec::new();
    v.try_reserve_exact(n)
        .map_err(|_| ResizeError::OutOfMemory { bytes })?;
    v.resize(n, value);
    Ok(v)
}

/// A zeroed buffer, or [`ResizeError::OutOfMemory`] when it cannot be allocated.
fn zeroed(bytes: usize) -> Result<Vec<u8>, ResizeError> {
    crate::buffers::zeroed_bytes(bytes).ok_or(ResizeError::OutOfMemory { bytes })
}

/// A packed image with `C` channels (the channel count is a const parameter of the kernels).
#[derive(Clone, Copy)]
struct Img<'a> {
    data: &'a [u8],
    width: usize,
    height: usize,
}

/// Resizes one image to `out_w x out_h` like `PIL.Image.resize((out_w, out_h), filter)` with the pass
/// order of `compat`; large images use the rayon thread pool. Plans are cached (a few recent sizes), so
/// batches of same-sized images compute their weights once.
pub fn resize(
    src: &ImageView<'_>,
    out_w: usize,
    out_h: usize,
    filter: Filter,
    compat: PillowCompat,
) -> Result<Vec<u8>, ResizeError> {
    resize_one(src, out_w, out_h, filter, compat, true)
}

fn resize_one(
    src: &ImageView<'_>,
    out_w: usize,
    out_h: usize,
    filter: Filter,
    compat: PillowCompat,
    parallel: bool,
) -> Result<Vec<u8>, ResizeError> {
    check_side("output width", out_w)?;
    check_side("output height", out_h)?;
    // The output is allocated first: an impossible size fails here, before any weights are computed.
    let mut out = zeroed(byte_len(out_w, out_h, src.channels)?)?;
    cached_plan(src.width, src.height, out_w, out_h, filter, compat)?
        .run_into(src, &mut out, parallel)?;
    Ok(out)
}

/// Resizes many images (of any sizes and channel counts) to one size, in parallel over the images
/// (rayon). On failure, returns the index of the first image that failed with its error.
pub fn resize_many(
    images: &[ImageView<'_>],
    out_w: usize,
    out_h: usize,
    filter: Filter,
    compat: PillowCompat,
) -> Result<Vec<Vec<u8>>, (usize, ResizeError)> {
    let one_each = images.len() <= 1;
    images
        .par_iter()
        .enumerate()
        .map(|(i, img)| resize_one(img, out_w, out_h, filter, compat, one_each).map_err(|e| (i, e)))
        .collect::<Vec<_>>()
        .into_iter()
        .collect()
}

/// `n` pseudo-random bytes (a linear congruential generator seeded with `seed`), for the tests of
/// every file of this module.
#[cfg(test)]
fn noise(n: usize, seed: u64) -> Vec<u8> {
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (s >> 56) as u8
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_value_and_never_panic() {
        let px = [0u8; 12];
        assert_eq!(
            ImageView::new(&px, 0, 4, 3).unwrap_err(),
            ResizeError::ZeroSize {
                what: "width",
                value: 0
            }
        );
        assert_eq!(
            ImageView::new(&px, 4, 0, 3).unwrap_err(),
            ResizeError::ZeroSize {
                what: "height",
                value: 0
            }
        );
        let e = ImageView::new(&px, 2, 2, 2).unwrap_err();
        assert_eq!(e, ResizeError::Channels(2));
        assert!(e.to_string().contains("got 2"));
        assert!(ImageView::new(&px, 2, 2, 5).is_err());
        let e = ImageView::new(&px, 2, 3, 3).unwrap_err();
        assert!(
            matches!(
                e,
                ResizeError::BufferLength {
                    got: 12,
                    expected: 18,
                    ..
                }
            ),
            "{e}"
        );
        assert!(e.to_string().contains("12 bytes"));
        let img = ImageView::new(&px, 2, 2, 3).unwrap();
        let e = resize(&img, 0, 3, Filter::Bilinear, PillowCompat::V13).unwrap_err();
        assert_eq!(
            e,
            ResizeError::ZeroSize {
                what: "output width",
                value: 0
            }
        );
        let e = resize(&img, 3, 0, Filter::Bilinear, PillowCompat::V13).unwrap_err();
        assert_eq!(
            e,
            ResizeError::ZeroSize {
                what: "output height",
                value: 0
            }
        );
        assert!(ImageView::new(&px, usize::MAX, 2, 3).is_err());
        assert!(resize(
            &img,
            usize::MAX / 2,
            usize::MAX / 2,
            Filter::Box,
            PillowCompat::V13
        )
        .is_err());
        // an output too large to allocate is an error, not an abort
        for f in [Filter::Nearest, Filter::Bilinear] {
            let e = resize(&img, MAX_SIDE, 1 << 30, f, PillowCompat::V13).unwrap_err();
            assert!(matches!(e, ResizeError::OutOfMemory { .. }), "{e}");
            assert!(e.to_string().contains("cannot allocate"));
        }
        // a plan for another size refuses the image
        let plan = ResizePlan::new(3, 3, 2, 2, Filter::Box, PillowCompat::V13).unwrap();
        assert!(plan.run(&img, false).is_err());
        let mut small = [0u8; 3];
        let plan = ResizePlan::new(2, 2, 2, 1, Filter::Box, PillowCompat::V13).unwrap();
        assert!(matches!(
            plan.run_into(&img, &mut small, false),
            Err(ResizeError::OutputLength { .. })
        ));
        assert_eq!(
            PillowCompat::from_version(0, 0),
            Err(ResizeError::Compat { major: 0, minor: 0 })
        );
    }

    #[test]
    fn resize_many_matches_one_by_one_and_names_the_failing_image() {
        let a = noise(40 * 30 * 3, 5);
        let b = noise(17 * 60, 6);
        let views = [
            ImageView::new(&a, 40, 30, 3).unwrap(),
            ImageView::new(&b, 17, 60, 1).unwrap(),
        ];
        let many = resize_many(&views, 8, 9, Filter::Bicubic, PillowCompat::V13).unwrap();
        for (v, out) in views.iter().zip(&many) {
            assert_eq!(
                out,
                &resize(v, 8, 9, Filter::Bicubic, PillowCompat::V13).unwrap()
            );
        }
        assert_eq!(
            resize_many(&[], 8, 9, Filter::Box, PillowCompat::V13),
            Ok(vec![])
        );
        let bad = ImageView {
            data: &a[..10],
            width: 40,
            height: 30,
            channels: 3,
        };
        let e = resize_many(&[views[0], bad], 8, 9, Filter::Box, PillowCompat::V13).unwrap_err();
        assert_eq!(e.0, 1);
        assert!(matches!(e.1, ResizeError::BufferLength { got: 10, .. }));
    }
}

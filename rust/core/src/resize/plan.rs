//! What to run for one size pair: [`ResizePlan`] (copy, NEAREST's index tables, or the coefficients
//! of the passes needed and their order), running it on an image (channel dispatch, RGBA
//! premultiplication, threads), and the cache of recent plans behind [`cached_plan`].

use std::sync::{Arc, Mutex};

use super::horizontal::horizontal_pass;
use super::vertical::{vertical_pass, vertical_pass_cols};
use super::{
    byte_len, check_channels, check_side, nearest_indices, zeroed, AxisCoeffs, Filter, ImageView,
    Img, PillowCompat, ResizeError,
};

/// Work (multiply-adds) above which one image is split over the rayon thread pool.
const PARALLEL_WORK: usize = 1 << 22;

/// Everything that depends only on the sizes, the filter and the Pillow version: build once, run on
/// many images (of any channel count).
#[derive(Debug, Clone)]
pub struct ResizePlan {
    pub(super) in_w: usize,
    pub(super) in_h: usize,
    pub(super) out_w: usize,
    pub(super) out_h: usize,
    filter: Filter,
    pub(super) kind: PlanKind,
}

/// What a plan runs (read by [`super::RowResizer`] too).
#[derive(Debug, Clone)]
pub(super) enum PlanKind {
    Copy,
    Nearest {
        cols: Vec<Option<usize>>,
        rows: Vec<Option<usize>>,
    },
    Convolve {
        horiz: Option<AxisCoeffs>,
        vert: Option<AxisCoeffs>,
        vertical_first: bool,
    },
}

impl ResizePlan {
    /// Plans a resize from `in_w x in_h` to `out_w x out_h`.
    pub fn new(
        in_w: usize,
        in_h: usize,
        out_w: usize,
        out_h: usize,
        filter: Filter,
        compat: PillowCompat,
    ) -> Result<Self, ResizeError> {
        check_side("width", in_w)?;
        check_side("height", in_h)?;
        check_side("output width", out_w)?;
        check_side("output height", out_h)?;
        let kind = if in_w == out_w && in_h == out_h {
            PlanKind::Copy
        } else if filter == Filter::Nearest {
            PlanKind::Nearest {
                cols: nearest_indices(in_w, out_w)?,
                rows: nearest_indices(in_h, out_h)?,
            }
        } else {
            let horiz = (in_w != out_w)
                .then(|| AxisCoeffs::with_box(in_w, 0.0, in_w as f32, out_w, filter))
                .transpose()?;
            let vert = match &horiz {
                Some(h) if (in_h, out_h) == (in_w, out_w) => Some(h.clone()),
                _ => (in_h != out_h)
                    .then(|| AxisCoeffs::with_box(in_h, 0.0, in_h as f32, out_h, filter))
                    .transpose()?,
            };
            let vertical_first = horiz.is_some()
                && vert.is_some()
                && compat.vertical_first(in_w, in_h, out_w, out_h);
            PlanKind::Convolve {
                horiz,
                vert,
                vertical_first,
            }
        };
        Ok(ResizePlan {
            in_w,
            in_h,
            out_w,
            out_h,
            filter,
            kind,
        })
    }

    /// The filter.
    pub fn filter(&self) -> Filter {
        self.filter
    }

    /// Output `(width, height)`.
    pub fn output_size(&self) -> (usize, usize) {
        (self.out_w, self.out_h)
    }

    /// Input `(width, height)` the plan accepts.
    pub fn input_size(&self) -> (usize, usize) {
        (self.in_w, self.in_h)
    }

    /// Whether the vertical pass runs first.
    pub fn vertical_first(&self) -> bool {
        matches!(
            self.kind,
            PlanKind::Convolve {
                vertical_first: true,
                ..
            }
        )
    }

    /// Rough count of multiply-adds per channel (to decide on threading).
    pub fn work(&self) -> usize {
        match &self.kind {
            PlanKind::Copy | PlanKind::Nearest { .. } => self.out_w * self.out_h,
            PlanKind::Convolve {
                horiz,
                vert,
                vertical_first,
            } => {
                let h = horiz.as_ref().map_or(0, |c| c.taps_total());
                let v = vert.as_ref().map_or(0, |c| c.taps_total());
                if *vertical_first {
                    v * self.in_w + h * self.out_h
                } else {
                    h * self.in_h + v * self.out_w
                }
            }
        }
    }

    /// Resizes `src` (which must have the plan's input size) into a new buffer.
    pub fn run(&self, src: &ImageView<'_>, parallel: bool) -> Result<Vec<u8>, ResizeError> {
        let mut out = zeroed(byte_len(self.out_w, self.out_h, src.channels)?)?;
        self.run_into(src, &mut out, parallel)?;
        Ok(out)
    }

    /// Resizes `src` into `dst` (`out_w * out_h * channels` bytes). With `parallel`, large images are
    /// split over the rayon thread pool.
    pub fn run_into(
        &self,
        src: &ImageView<'_>,
        dst: &mut [u8],
        parallel: bool,
    ) -> Result<(), ResizeError> {
        let c = src.channels;
        check_channels(c)?;
        if (src.width, src.height) != (self.in_w, self.in_h) {
            return Err(ResizeError::BufferLength {
                got: src.data.len(),
                expected: byte_len(self.in_w, self.in_h, c)?,
                width: self.in_w,
                height: self.in_h,
                channels: c,
            });
        }
        let expected_in = byte_len(self.in_w, self.in_h, c)?;
        if src.data.len() != expected_in {
            return Err(ResizeError::BufferLength {
                got: src.data.len(),
                expected: expected_in,
                width: self.in_w,
                height: self.in_h,
                channels: c,
            });
        }
        let expected = byte_len(self.out_w, self.out_h, c)?;
        if dst.len() != expected {
            return Err(ResizeError::OutputLength {
                got: dst.len(),
                expected,
                width: self.out_w,
                height: self.out_h,
                channels: c,
            });
        }
        let parallel =
            parallel && self.work() * c >= PARALLEL_WORK && rayon::current_num_threads() > 1;
        match &self.kind {
            PlanKind::Copy => dst.copy_from_slice(src.data),
            PlanKind::Nearest { cols, rows } => nearest(src, cols, rows, dst),
            PlanKind::Convolve {
                horiz,
                vert,
                vertical_first,
            } => {
                let premultiplied;
                let data = if c == 4 {
                    premultiplied = premultiply(src.data)?;
                    &premultiplied[..]
                } else {
                    src.data
                };
                let img = Img {
                    data,
                    width: self.in_w,
                    height: self.in_h,
                };
                match c {
                    1 => convolve::<1>(
                        img,
                        horiz.as_ref(),
                        vert.as_ref(),
                        *vertical_first,
                        dst,
                        parallel,
                    ),
                    3 => convolve::<3>(
                        img,
                        horiz.as_ref(),
                        vert.as_ref(),
                        *vertical_first,
                        dst,
                        parallel,
                    ),
                    _ => convolve::<4>(
                        img,
                        horiz.as_ref(),
                        vert.as_ref(),
                        *vertical_first,
                        dst,
                        parallel,
                    ),
                }?;
                if c == 4 {
                    unpremultiply(dst);
                }
            }
        }
        Ok(())
    }
}

type PlanKey = (usize, usize, usize, usize, Filter, PillowCompat);

/// Recently used plans, most recent last.
static PLAN_CACHE: Mutex<Vec<(PlanKey, Arc<ResizePlan>)>> = Mutex::new(Vec::new());
const PLAN_CACHE_SIZE: usize = 16;

/// A shared plan for these sizes, from the cache or built (and cached).
pub fn cached_plan(
    in_w: usize,
    in_h: usize,
    out_w: usize,
    out_h: usize,
    filter: Filter,
    compat: PillowCompat,
) -> Result<Arc<ResizePlan>, ResizeError> {
    let key = (in_w, in_h, out_w, out_h, filter, compat);
    if let Ok(cache) = PLAN_CACHE.lock() {
        if let Some((_, plan)) = cache.iter().rev().find(|(k, _)| *k == key) {
            return Ok(Arc::clone(plan));
        }
    }
    let plan = Arc::new(ResizePlan::new(in_w, in_h, out_w, out_h, filter, compat)?);
    // A poisoned lock (a panic elsewhere while holding it) only disables caching.
    if let Ok(mut cache) = PLAN_CACHE.lock() {
        if cache.len() >= PLAN_CACHE_SIZE {
            cache.remove(0);
        }
        cache.push((key, Arc::clone(&plan)));
    }
    Ok(plan)
}

/// Pillow's `RGBA -> RGBa`: `v * a / 255` rounded as `MULDIV255`.
fn premultiply(data: &[u8]) -> Result<Vec<u8>, ResizeError> {
    let mut out = zeroed(data.len())?;
    out.copy_from_slice(data);
    for px in out.chunks_exact_mut(4) {
        let a = u32::from(px[3]);
        for v in &mut px[..3] {
            let t = u32::from(*v) * a + 128;
            *v = (((t >> 8) + t) >> 8) as u8;
        }
    }
    Ok(out)
}

/// Pillow's `RGBa -> RGBA`: `255 * v / a` (integer division, clipped), unchanged where `a` is 0 or 255.
fn unpremultiply(data: &mut [u8]) {
    for px in data.chunks_exact_mut(4) {
        let a = u32::from(px[3]);
        if a != 0 && a != 255 {
            for v in &mut px[..3] {
                *v = ((255 * u32::from(*v)) / a).min(255) as u8;
            }
        }
    }
}

fn nearest(src: &ImageView<'_>, cols: &[Option<usize>], rows: &[Option<usize>], dst: &mut [u8]) {
    let c = src.channels;
    let in_stride = src.width * c;
    let out_stride = cols.len() * c;
    for (out_row, yi) in dst.chunks_exact_mut(out_stride).zip(rows) {
        match yi {
            Some(y) => {
                let in_row = &src.data[y * in_stride..(y + 1) * in_stride];
                for (out_px, xi) in out_row.chunks_exact_mut(c).zip(cols) {
                    match xi {
                        Some(x) => out_px.copy_from_slice(&in_row[x * c..(x + 1) * c]),
                        None => out_px.fill(0),
                    }
                }
            }
            None => out_row.fill(0),
        }
    }
}

fn convolve<const C: usize>(
    img: Img<'_>,
    horiz: Option<&AxisCoeffs>,
    vert: Option<&AxisCoeffs>,
    vertical_first: bool,
    dst: &mut [u8],
    parallel: bool,
) -> Result<(), ResizeError> {
    debug_assert_eq!(img.data.len(), img.width * img.height * C);
    match (horiz, vert) {
        (None, None) => dst.copy_from_slice(img.data),
        (Some(h), None) => horizontal_pass::<C>(img, h, dst, parallel)?,
        (None, Some(v)) => vertical_pass::<C>(img, v, dst, parallel)?,
        (Some(h), Some(v)) => {
            let out_w = h.bounds.len();
            let out_h = v.bounds.len();
            if vertical_first {
                // Only the columns the horizontal pass reads are needed.
                let (x0, x1) = h.span();
                let mid_w = x1 - x0;
                let mut mid = zeroed(byte_len(mid_w, out_h, C)?)?;
                vertical_pass_cols::<C>(img, x0, mid_w, v, &mut mid, parallel)?;
                let h = h.shifted(x0)?;
                let mid_img = Img {
                    data: &mid,
                    width: mid_w,
                    height: out_h,
                };
                horizontal_pass::<C>(mid_img, &h, dst, parallel)?;
            } else {
                // Only the rows the vertical pass reads are needed (as Pillow does).
                let (y0, y1) = v.span();
                let mut mid = zeroed(byte_len(out_w, y1 - y0, C)?)?;
                let rows = Img {
                    data: &img.data[y0 * img.width * C..y1 * img.width * C],
                    width: img.width,
                    height: y1 - y0,
                };
                horizontal_pass::<C>(rows, h, &mut mid, parallel)?;
                let v = v.shifted(y0)?;
                let mid_img = Img {
                    data: &mid,
                    width: out_w,
                    height: y1 - y0,
                };
                vertical_pass::<C>(mid_img, &v, dst, parallel)?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::kernels::reference_resize as reference;
    use super::super::{horizontal::TILE_COLS, noise, resize};
    use super::*;

    #[test]
    fn kernels_match_the_scalar_reference() {
        let sizes = [
            (1, 1),
            (1, 5),
            (5, 1),
            (2, 3),
            (7, 7),
            (33, 17),
            (64, 40),
            (100, 9),
        ];
        let mut seed = 7;
        for &(w, h) in &sizes {
            for c in [1, 3] {
                seed += 1;
                let px = noise(w * h * c, seed);
                let img = ImageView::new(&px, w, h, c).unwrap();
                for &(ow, oh) in &[
                    (1, 1),
                    (3, 2),
                    (8, 8),
                    (32, 32),
                    (13, 50),
                    (w, h + 3),
                    (w + 2, h),
                ] {
                    for f in Filter::ALL.into_iter().skip(1) {
                        for compat in [PillowCompat::V12Legacy, PillowCompat::V13] {
                            let plan = ResizePlan::new(w, h, ow, oh, f, compat).unwrap();
                            let want = reference(&px, w, h, c, ow, oh, f, plan.vertical_first());
                            assert_eq!(
                                plan.run(&img, false).unwrap(),
                                want,
                                "{w}x{h}x{c} -> {ow}x{oh} {f}"
                            );
                            assert_eq!(plan.run(&img, true).unwrap(), want);
                        }
                    }
                }
            }
        }
    }

    /// Extreme aspect ratios: windows far wider than the strips (tiled), tables too large to store
    /// (weights per window), both pass orders; the same bytes as the scalar reference.
    #[test]
    fn extreme_aspect_ratios_match_the_reference() {
        let cases = [
            (100_000usize, 1usize, 32usize, 32usize, 1usize),
            (1, 100_000, 32, 32, 1),
            (40_000, 3, 7, 5, 3),
            (3, 40_000, 5, 7, 3),
            (TILE_COLS + 1000, 2, TILE_COLS + 999, 1, 3),
            (TILE_COLS * 2 + 5, 1, 3, 1, 4),
            (2_000_000, 1, 1, 1, 1),
            (5_000_000, 1, 1, 1, 1),
            (1, 5_000_000, 2, 1, 1),
            (3, 1, 1_500_000, 3, 1),
        ];
        for &(w, h, ow, oh, c) in &cases {
            let px = noise(w * h * c, (w + 3 * h) as u64);
            let img = ImageView::new(&px, w, h, c).unwrap();
            for f in [Filter::Bilinear, Filter::Lanczos] {
                for compat in [PillowCompat::V13, PillowCompat::V12Legacy] {
                    let plan = ResizePlan::new(w, h, ow, oh, f, compat).unwrap();
                    if c == 4 {
                        // premultiplied: compare with the serial path only
                        assert_eq!(
                            plan.run(&img, true).unwrap(),
                            plan.run(&img, false).unwrap()
                        );
                        continue;
                    }
                    let want = reference(&px, w, h, c, ow, oh, f, plan.vertical_first());
                    assert_eq!(
                        plan.run(&img, true).unwrap(),
                        want,
                        "{w}x{h}x{c} -> {ow}x{oh} {f}"
                    );
                }
            }
        }
        // 5,000,000 -> 1 with LANCZOS: a window of the whole axis, not stored as a table
        let c = AxisCoeffs::new(5_000_000, 1, Filter::Lanczos).unwrap();
        assert!(c.fixed.is_empty());
        assert_eq!(c.bounds, vec![(0, 5_000_000)]);
    }

    #[test]
    fn parallel_path_matches_serial_on_a_large_image() {
        let (w, h) = (1200, 900);
        let px = noise(w * h * 3, 99);
        let img = ImageView::new(&px, w, h, 3).unwrap();
        for (ow, oh) in [(64, 64), (1300, 100), (100, 1000)] {
            let plan = ResizePlan::new(w, h, ow, oh, Filter::Bicubic, PillowCompat::V13).unwrap();
            assert_eq!(
                plan.run(&img, true).unwrap(),
                plan.run(&img, false).unwrap()
            );
        }
    }

    #[test]
    fn rgba_is_resized_premultiplied() {
        // a transparent black pixel next to an opaque white one: premultiplied, the black does not
        // darken the white (white stays 255 where alpha > 0)
        let px = [0, 0, 0, 0, 255, 255, 255, 255];
        let img = ImageView::new(&px, 2, 1, 4).unwrap();
        let out = resize(&img, 1, 1, Filter::Bilinear, PillowCompat::V13).unwrap();
        assert_eq!(out[3], 128);
        assert_eq!(&out[..3], &[255, 255, 255]);
        // NEAREST skips the premultiplication
        let out = resize(&img, 1, 1, Filter::Nearest, PillowCompat::V13).unwrap();
        assert_eq!(out, vec![255, 255, 255, 255]);
    }

    #[test]
    fn same_size_is_a_copy() {
        let px = noise(5 * 7 * 3, 1);
        let img = ImageView::new(&px, 5, 7, 3).unwrap();
        for f in Filter::ALL {
            assert_eq!(resize(&img, 5, 7, f, PillowCompat::V13).unwrap(), px);
        }
    }

    #[test]
    fn constant_images_stay_constant() {
        for c in [1, 3, 4] {
            let px = vec![200u8; 37 * 23 * c];
            let img = ImageView::new(&px, 37, 23, c).unwrap();
            for f in Filter::ALL {
                for (ow, oh) in [(1, 1), (8, 8), (50, 9), (3, 40)] {
                    let out = resize(&img, ow, oh, f, PillowCompat::V13).unwrap();
                    assert!(out.iter().all(|&v| v == 200), "{f} {c} {ow}x{oh}");
                }
            }
        }
    }

    #[test]
    fn nearest_picks_pixels() {
        let px: Vec<u8> = (0..12).collect();
        let img = ImageView::new(&px, 4, 3, 1).unwrap();
        let out = resize(&img, 2, 1, Filter::Nearest, PillowCompat::V13).unwrap();
        assert_eq!(out, vec![5, 7]);
    }
}

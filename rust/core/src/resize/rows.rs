//! [`RowResizer`]: a plan fed with the input rows top to bottom, a few at a time (for decoders that
//! produce rows), giving the same bytes as running the plan on the whole image.

use std::sync::Arc;

use super::horizontal::horizontal_pass;
use super::plan::PlanKind;
use super::vertical::vertical_pass;
use super::{byte_len, zeroed, AxisCoeffs, Img, ResizeError, ResizePlan};

/// A resize fed with the input rows top to bottom, a few at a time, for decoders that produce rows:
/// the full-size image never has to exist at once. It gives the same bytes as [`ResizePlan::run`]
/// (the same passes; the horizontal one works row by row anyway). Only plans that run the horizontal
/// pass first (or alone) on 1- or 3-channel images qualify, see [`RowResizer::new`].
pub struct RowResizer {
    plan: Arc<ResizePlan>,
    channels: usize,
    /// Rows received so far.
    next_row: usize,
    /// The input rows the vertical pass reads (all rows when there is no vertical pass).
    rows_used: (usize, usize),
    /// The horizontal pass's output for those rows.
    mid: Vec<u8>,
}

impl RowResizer {
    /// A row-fed resize for `plan` on `channels`-channel rows, or None when the plan cannot run on
    /// rows as they come: vertical pass first, nearest neighbour, no horizontal pass, or 4
    /// channels (premultiplied) - callers then resize the whole image with [`ResizePlan::run`].
    pub fn new(plan: Arc<ResizePlan>, channels: usize) -> Result<Option<RowResizer>, ResizeError> {
        if channels != 1 && channels != 3 {
            return Ok(None);
        }
        let rows_used = match &plan.kind {
            PlanKind::Copy => (0, plan.in_h),
            PlanKind::Convolve {
                horiz: Some(_),
                vert,
                vertical_first: false,
            } => vert.as_ref().map_or((0, plan.in_h), AxisCoeffs::span),
            _ => return Ok(None),
        };
        let mid = zeroed(byte_len(plan.out_w, rows_used.1 - rows_used.0, channels)?)?;
        Ok(Some(RowResizer {
            plan,
            channels,
            next_row: 0,
            rows_used,
            mid,
        }))
    }

    /// The next rows of the input: whole rows of `width * channels` bytes.
    pub fn push(&mut self, rows: &[u8]) -> Result<(), ResizeError> {
        let plan = &*self.plan;
        let c = self.channels;
        let in_stride = plan.in_w * c;
        let n = rows.len() / in_stride;
        if n * in_stride != rows.len() || self.next_row + n > plan.in_h {
            return Err(ResizeError::BufferLength {
                got: (self.next_row * in_stride).saturating_add(rows.len()),
                expected: byte_len(plan.in_w, plan.in_h, c)?,
                width: plan.in_w,
                height: plan.in_h,
                channels: c,
            });
        }
        // The part of these rows the vertical pass will read.
        let (y0, y1) = self.rows_used;
        let (first, last) = (self.next_row.max(y0), (self.next_row + n).min(y1));
        self.next_row += n;
        if first >= last {
            return Ok(());
        }
        let src = &rows
            [(first - (self.next_row - n)) * in_stride..(last - (self.next_row - n)) * in_stride];
        let out_stride = plan.out_w * c;
        let dst = &mut self.mid[(first - y0) * out_stride..(last - y0) * out_stride];
        let img = Img {
            data: src,
            width: plan.in_w,
            height: last - first,
        };
        match &plan.kind {
            PlanKind::Convolve { horiz: Some(h), .. } => match c {
                1 => horizontal_pass::<1>(img, h, dst, false)?,
                _ => horizontal_pass::<3>(img, h, dst, false)?,
            },
            _ => dst.copy_from_slice(src),
        }
        Ok(())
    }

    /// The resized image, once every input row has been pushed.
    pub fn finish(self) -> Result<Vec<u8>, ResizeError> {
        let plan = &*self.plan;
        let c = self.channels;
        if self.next_row != plan.in_h {
            return Err(ResizeError::BufferLength {
                got: self.next_row * plan.in_w * c,
                expected: byte_len(plan.in_w, plan.in_h, c)?,
                width: plan.in_w,
                height: plan.in_h,
                channels: c,
            });
        }
        let vert = match &plan.kind {
            PlanKind::Convolve { vert: Some(v), .. } => v,
            _ => return Ok(self.mid),
        };
        let (y0, y1) = self.rows_used;
        let mut out = zeroed(byte_len(plan.out_w, plan.out_h, c)?)?;
        let mid = Img {
            data: &self.mid,
            width: plan.out_w,
            height: y1 - y0,
        };
        let v = vert.shifted(y0)?;
        match c {
            1 => vertical_pass::<1>(mid, &v, &mut out, false),
            _ => vertical_pass::<3>(mid, &v, &mut out, false),
        }?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::super::{noise, Filter, ImageView, PillowCompat};
    use super::*;

    #[test]
    fn row_resizer_equals_run_for_any_row_batches() {
        let sizes = [
            (1usize, 1usize, 1usize, 1usize),
            (7, 5, 3, 2),
            (40, 30, 8, 8),
            (33, 100, 5, 4),
            (100, 33, 4, 5),
            (64, 64, 64, 64),
            (64, 48, 32, 48),
            (5, 9, 11, 13),
            (300, 200, 32, 32),
        ];
        let mut seed = 1u64;
        let mut streamed = 0;
        for &(w, h, ow, oh) in &sizes {
            for filter in Filter::ALL {
                for compat in [
                    PillowCompat::V12Legacy,
                    PillowCompat::V12,
                    PillowCompat::V13,
                ] {
                    for c in [1usize, 3, 4] {
                        seed += 1;
                        let src = noise(w * h * c, seed);
                        let plan = Arc::new(ResizePlan::new(w, h, ow, oh, filter, compat).unwrap());
                        let want = plan
                            .run(&ImageView::new(&src, w, h, c).unwrap(), false)
                            .unwrap();
                        let Some(mut rr) = RowResizer::new(Arc::clone(&plan), c).unwrap() else {
                            // Only what cannot stream is refused.
                            assert!(
                                c == 4
                                    || filter == Filter::Nearest
                                    || plan.vertical_first()
                                    || w == ow,
                                "{w}x{h} -> {ow}x{oh} {filter:?} {compat:?} c{c}"
                            );
                            continue;
                        };
                        // Batches of 1 to 37 rows.
                        let mut y = 0;
                        while y < h {
                            let n = (1 + (seed as usize * 7 + y * 13) % 37).min(h - y);
                            rr.push(&src[y * w * c..(y + n) * w * c]).unwrap();
                            y += n;
                        }
                        assert_eq!(
                            rr.finish().unwrap(),
                            want,
                            "{w}x{h} -> {ow}x{oh} {filter:?} {compat:?} c{c}"
                        );
                        streamed += 1;
                    }
                }
            }
        }
        assert!(streamed > 150, "{streamed}");
    }

    #[test]
    fn row_resizer_refuses_wrong_row_counts() {
        let plan =
            Arc::new(ResizePlan::new(10, 4, 3, 2, Filter::Bilinear, PillowCompat::V13).unwrap());
        let mut rr = RowResizer::new(Arc::clone(&plan), 3).unwrap().unwrap();
        assert!(rr.push(&[0u8; 29]).is_err(), "not whole rows");
        rr.push(&[0u8; 3 * 30]).unwrap();
        assert!(rr.push(&[0u8; 2 * 30]).is_err(), "more rows than the image");
        assert!(rr.finish().is_err(), "one row missing");
    }
}

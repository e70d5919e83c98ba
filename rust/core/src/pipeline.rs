//! The batch pipeline: decode → resize → quantize, one image per task, in parallel over images.
//!
//! Each image is handled start to finish by one worker (its decoded pixels never leave that worker), so
//! memory is bounded by the number of workers times the largest image, not by the batch. A failure
//! (an undecodable file, a decompression bomb, even a panic inside a decoder) is reported for that item
//! alone: the other items are still encoded, each into its own row of the output.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use rayon::prelude::*;
use thiserror::Error;

use crate::decode::{decode, decode_rows, read_file, DecodeOptions, RgbRows};
use crate::quantize::{OutId, Quantizer};
use crate::resize::{cached_plan, Filter, ImageView, PillowCompat, RowResizer};

/// One input of a batch.
#[derive(Clone, Copy, Debug)]
pub enum Source<'a> {
    /// An image file, read whole and decoded.
    Path(&'a Path),
    /// Encoded image bytes (JPEG, PNG, ...).
    Bytes(&'a [u8]),
    /// Decoded uint8 RGB pixels, `height` rows of `width` triples, no padding.
    Rgb {
        data: &'a [u8],
        width: usize,
        height: usize,
    },
}

/// A target size whose `height * width` ids cannot be held in memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error(
    "size {height}x{width} is too large: height * width = {} ids do not fit in memory",
    *height as u128 * *width as u128
)]
pub struct SequenceLengthError {
    pub height: usize,
    pub width: usize,
}

/// What every image of a batch is turned into.
#[derive(Clone, Copy, Debug)]
pub struct EncodeSettings {
    pub height: usize,
    pub width: usize,
    pub filter: Filter,
    pub compat: PillowCompat,
    pub decode: DecodeOptions,
}

impl EncodeSettings {
    /// Tokens per image (`height * width`), or an error naming the size when the product does not
    /// fit in memory's address space.
    pub fn sequence_length(&self) -> Result<usize, SequenceLengthError> {
        self.height
            .checked_mul(self.width)
            .filter(|&n| n <= isize::MAX as usize / 8)
            .ok_or(SequenceLengthError {
                height: self.height,
                width: self.width,
            })
    }
}

fn describe_panic(payload: Box<dyn std::any::Any + Send>) -> String {
    let what = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_owned());
    format!("internal error while decoding (please report it): {what}")
}

/// Feeds decoded rows straight into a row-fed resize (no full-size image in memory).
struct ResizeRows<'s> {
    settings: &'s EncodeSettings,
    resizer: Option<RowResizer>,
}

impl RgbRows for ResizeRows<'_> {
    fn start(&mut self, width: usize, height: usize) -> bool {
        let s = self.settings;
        self.resizer = cached_plan(width, height, s.width, s.height, s.filter, s.compat)
            .ok()
            .and_then(|plan| RowResizer::new(plan, 3).ok().flatten());
        self.resizer.is_some()
    }

    fn rows(&mut self, rgb: &[u8]) -> bool {
        self.resizer.as_mut().is_some_and(|r| r.push(rgb).is_ok())
    }
}

/// The image in `bytes` resized, streaming its rows into the resize when the format allows it (see
/// [`decode_rows`]), else decoded whole first.
fn decode_resized(bytes: &[u8], settings: &EncodeSettings) -> Result<Vec<u8>, String> {
    let mut sink = ResizeRows {
        settings,
        resizer: None,
    };
    if decode_rows(bytes, &settings.decode, &mut sink) {
        if let Some(Ok(resized)) = sink.resizer.map(RowResizer::finish) {
            return Ok(resized);
        }
    }
    let decoded = decode(bytes, &settings.decode).map_err(|e| e.to_string())?;
    resize_rgb(
        &decoded.data,
        decoded.width as usize,
        decoded.height as usize,
        settings,
    )
}

fn resize_rgb(
    data: &[u8],
    width: usize,
    height: usize,
    settings: &EncodeSettings,
) -> Result<Vec<u8>, String> {
    let view = ImageView::new(data, width, height, 3).map_err(|e| e.to_string())?;
    let plan = cached_plan(
        width,
        height,
        settings.width,
        settings.height,
        settings.filter,
        settings.compat,
    )
    .map_err(|e| e.to_string())?;
    plan.run(&view, false).map_err(|e| e.to_string())
}

fn encode_one<O: OutId>(
    source: Source<'_>,
    settings: &EncodeSettings,
    quantizer: &Quantizer,
    batched: bool,
    out: &mut [O],
) -> Result<(), String> {
    let resized = match source {
        Source::Rgb {
            data,
            width,
            height,
        } => resize_rgb(data, width, height, settings)?,
        Source::Path(path) => {
            let bytes = read_file(path).map_err(|e| e.to_string())?;
            decode_resized(&bytes, settings)?
        }
        Source::Bytes(bytes) => decode_resized(bytes, settings)?,
    };
    if batched && out.len() == 1 {
        // transformers quantizes the stacked batch in one matrix product; a lone pixel on its own
        // would take the single-row (gemv) arithmetic instead, so use the batch's (the table's).
        out[0] = O::from_id(quantizer.table().get(resized[0], resized[1], resized[2]));
        return Ok(());
    }
    quantizer
        .quantize_u8(&resized, out)
        .map_err(|e| e.describe(&[settings.height, settings.width]))
}

/// What an item that was not started because the batch was cancelled reports.
pub const CANCELLED: &str = "cancelled";

/// Encodes every source into its row of `out` (`sources.len()` rows of `settings.sequence_length()`
/// ids). Returns one result per source, in order; the rows of failed sources are left as they were.
/// Once `cancel` is set, items not yet started fail with [`CANCELLED`] (the running ones finish), so a
/// caller can stop a long batch within about one image's time.
pub fn encode_batch<O: OutId>(
    sources: &[Source<'_>],
    settings: &EncodeSettings,
    quantizer: &Quantizer,
    out: &mut [O],
    cancel: &AtomicBool,
) -> Vec<Result<(), String>> {
    let len = match settings.sequence_length() {
        Ok(len) => len,
        Err(e) => return sources.iter().map(|_| Err(e.to_string())).collect(),
    };
    let needed = sources.len().checked_mul(len);
    if len == 0 || needed != Some(out.len()) {
        let msg = format!(
            "output holds {} ids but {} images of {}x{} need {}",
            out.len(),
            sources.len(),
            settings.height,
            settings.width,
            sources.len() as u128 * len as u128
        );
        return sources.iter().map(|_| Err(msg.clone())).collect();
    }
    // Build (or fetch) the lookup table once, before the workers need it, when the batch is large
    // enough for it to pay off; small batches take the quantizer's direct path.
    let batched = sources.len() > 1;
    if sources.len() * len >= 1 << 16 || (batched && len == 1) {
        quantizer.table();
    }
    out.par_chunks_mut(len)
        .zip(sources.par_iter())
        .map(|(row, source)| {
            if cancel.load(Ordering::Relaxed) {
                return Err(CANCELLED.to_owned());
            }
            catch_unwind(AssertUnwindSafe(|| {
                encode_one(*source, settings, quantizer, batched, row)
            }))
            .unwrap_or_else(|p| Err(describe_panic(p)))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::palette::Palette;
    use crate::resize::resize;

    fn grid_palette() -> Palette {
        let mut v = Vec::new();
        for r in 0..4 {
            for g in 0..4 {
                for b in 0..4 {
                    for c in [r, g, b] {
                        v.push((c as f64 + 0.5) / 4.0 * 2.0 - 1.0);
                    }
                }
            }
        }
        Palette::from_f64(&v).expect("valid palette")
    }

    fn settings() -> EncodeSettings {
        EncodeSettings {
            height: 4,
            width: 5,
            filter: Filter::Bilinear,
            compat: PillowCompat::V13,
            decode: DecodeOptions::default(),
        }
    }

    #[test]
    fn absurd_sizes_are_an_error_not_a_wrapped_length() {
        let q = Quantizer::new(grid_palette(), None).expect("quantizer");
        let mut s = settings();
        s.height = usize::MAX / 2;
        s.width = 3;
        let e = s.sequence_length().unwrap_err().to_string();
        assert!(
            e.contains("too large") && e.contains(&format!("{}x3", usize::MAX / 2)),
            "{e}"
        );
        let px = gradient(2, 2);
        let src = Source::Rgb {
            data: &px,
            width: 2,
            height: 2,
        };
        let r = encode_batch(&[src], &s, &q, &mut [0u16; 4], &AtomicBool::new(false));
        assert!(r[0].as_ref().unwrap_err().contains("too large"));
        s.height = 1 << 20;
        s.width = 1 << 20;
        assert_eq!(s.sequence_length(), Ok(1 << 40));
    }

    fn gradient(w: usize, h: usize) -> Vec<u8> {
        (0..w * h * 3).map(|i| ((i * 7) % 251) as u8).collect()
    }

    #[test]
    fn rows_equal_resize_then_quantize_and_failures_stay_local() {
        let q = Quantizer::new(grid_palette(), None).expect("quantizer");
        let s = settings();
        let a = gradient(13, 9);
        let b = gradient(6, 11);
        let sources = [
            Source::Rgb {
                data: &a,
                width: 13,
                height: 9,
            },
            Source::Bytes(b"not an image"),
            Source::Rgb {
                data: &b,
                width: 6,
                height: 11,
            },
            Source::Path(Path::new("/definitely/not/here.png")),
        ];
        let mut out = vec![-1i64; 4 * 20];
        let res = encode_batch(&sources, &s, &q, &mut out, &AtomicBool::new(false));
        assert!(res[0].is_ok() && res[2].is_ok());
        assert!(
            res[1]
                .as_ref()
                .unwrap_err()
                .contains("not a supported image"),
            "{:?}",
            res[1]
        );
        assert!(
            res[3].as_ref().unwrap_err().contains("cannot read"),
            "{:?}",
            res[3]
        );
        assert!(
            out[20..40].iter().all(|&x| x == -1),
            "a failed row is left untouched"
        );
        for (k, (img, w, h)) in [(0usize, (&a, 13usize, 9usize)), (2, (&b, 6, 11))] {
            let view = ImageView::new(img, w, h, 3).expect("view");
            let small = resize(&view, 5, 4, Filter::Bilinear, PillowCompat::V13).expect("resize");
            let mut want = vec![0i64; 20];
            q.quantize_u8(&small, &mut want).expect("quantize");
            assert_eq!(&out[k * 20..(k + 1) * 20], &want[..]);
        }
    }

    #[test]
    fn a_cancelled_batch_starts_no_item() {
        let q = Quantizer::new(grid_palette(), None).expect("quantizer");
        let a = gradient(8, 8);
        let sources = vec![
            Source::Rgb {
                data: &a,
                width: 8,
                height: 8
            };
            5
        ];
        let mut out = vec![7u16; 5 * 20];
        let res = encode_batch(&sources, &settings(), &q, &mut out, &AtomicBool::new(true));
        assert!(res
            .iter()
            .all(|r| r.as_ref().err().map(String::as_str) == Some(CANCELLED)));
        assert!(out.iter().all(|&x| x == 7));
    }

    /// Encodes one 3x3 RGB buffer `a` into `out` (expected: 4x5 = 20 ids).
    fn encode_3x3<O: OutId>(a: &[u8], out: &mut [O]) -> Result<(), String> {
        let q = Quantizer::new(grid_palette(), None).expect("quantizer");
        let source = Source::Rgb {
            data: a,
            width: 3,
            height: 3,
        };
        let mut res = encode_batch(&[source], &settings(), &q, out, &AtomicBool::new(false));
        res.remove(0)
    }

    /// A `w x h` PNG of `color` (png crate encoder, its default adaptive filters) from smooth noise.
    fn png_bytes(w: u32, h: u32, color: png::ColorType) -> Vec<u8> {
        let channels = color.samples();
        let data: Vec<u8> = (0..(w * h) as usize * channels)
            .map(|i| {
                ((i / channels) as f64 * 0.37).sin().mul_add(90.0, 128.0) as u8 ^ (i % 7) as u8
            })
            .collect();
        let mut file = Vec::new();
        {
            let mut enc = png::Encoder::new(&mut file, w, h);
            enc.set_color(color);
            enc.set_depth(png::BitDepth::Eight);
            if color == png::ColorType::Indexed {
                enc.set_palette(
                    (0..=255u8)
                        .flat_map(|v| [v, 255 - v, v / 2])
                        .collect::<Vec<_>>(),
                );
            }
            let mut writer = enc.write_header().expect("header");
            writer.write_image_data(&data).expect("data");
        }
        file
    }

    /// The batch result of one source, streaming rows into the resize where the pipeline can.
    fn streamed(bytes: &[u8], s: &EncodeSettings, q: &Quantizer) -> Result<Vec<u16>, String> {
        let mut out = vec![0u16; s.sequence_length().expect("size")];
        let mut res = encode_batch(
            &[Source::Bytes(bytes)],
            s,
            q,
            &mut out,
            &AtomicBool::new(false),
        );
        res.remove(0).map(|()| out)
    }

    /// The same, decoding the whole image first.
    fn whole(bytes: &[u8], s: &EncodeSettings, q: &Quantizer) -> Result<Vec<u16>, String> {
        let img = decode(bytes, &s.decode).map_err(|e| e.to_string())?;
        let (w, h) = (img.width as usize, img.height as usize);
        let mut out = vec![0u16; s.sequence_length().expect("size")];
        let source = Source::Rgb {
            data: &img.data,
            width: w,
            height: h,
        };
        let mut res = encode_batch(&[source], s, q, &mut out, &AtomicBool::new(false));
        res.remove(0).map(|()| out)
    }

    /// A deterministic xorshift generator.
    fn xorshift(mut state: u64) -> impl FnMut() -> u64 {
        move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        }
    }

    /// How [`same_outcome_when_damaged`] damages a file: `rounds` copies, every third one cut to a
    /// length in `cut_from..len`, the others with one to three bits flipped at or after byte
    /// `flip_from` (past the header, so mostly in the compressed pixel data).
    struct Damage {
        rounds: usize,
        cut_from: usize,
        flip_from: usize,
    }

    /// Damages `file` as `damage` says (positions drawn from `next`) and checks that streaming the
    /// rows into the resize and decoding the whole image first give the same outcome: both an
    /// error, or the same ids.
    fn same_outcome_when_damaged(
        file: &[u8],
        s: &EncodeSettings,
        q: &Quantizer,
        damage: &Damage,
        next: &mut impl FnMut() -> u64,
        what: &str,
    ) {
        for round in 0..damage.rounds {
            let mut bad = file.to_vec();
            if round % 3 == 0 {
                bad.truncate(damage.cut_from + next() as usize % (file.len() - damage.cut_from));
            } else {
                for _ in 0..1 + round % 3 {
                    let at = damage.flip_from + next() as usize % (file.len() - damage.flip_from);
                    bad[at] ^= 1 << (next() % 8);
                }
            }
            let a = streamed(&bad, s, q);
            let b = whole(&bad, s, q);
            assert_eq!(a.is_ok(), b.is_ok(), "{what} round {round}: {a:?} vs {b:?}");
            if let (Ok(a), Ok(b)) = (a, b) {
                assert_eq!(a, b, "{what} round {round}");
            }
        }
    }

    #[test]
    fn streamed_png_rows_equal_whole_decoding_even_on_damaged_files() {
        let q = Quantizer::new(grid_palette(), None).expect("quantizer");
        let mut s = settings();
        let mut next = xorshift(0x9E37_79B9_7F4A_7C15);
        // Bits flipped from byte 33 (after IHDR), cuts to 40 bytes or more.
        let damage = Damage {
            rounds: 60,
            cut_from: 40,
            flip_from: 33,
        };
        use png::ColorType as C;
        for color in [C::Rgb, C::Rgba, C::Grayscale, C::Indexed, C::GrayscaleAlpha] {
            for filter in [Filter::Bilinear, Filter::Bicubic, Filter::Nearest] {
                s.filter = filter;
                let file = png_bytes(61, 47, color);
                let good = streamed(&file, &s, &q);
                assert!(good.is_ok(), "{color:?}: {good:?}");
                assert_eq!(good, whole(&file, &s, &q), "{color:?} {filter:?}");
                let what = format!("{color:?} {filter:?}");
                same_outcome_when_damaged(&file, &s, &q, &damage, &mut next, &what);
            }
        }
    }

    /// A `w x h` JPEG of smooth noise from libjpeg-turbo's own encoder: `pf` TJPF_RGB, TJPF_GRAY or
    /// TJPF_CMYK (the last gives an Adobe YCCK file), `subsamp` a TJSAMP, optionally progressive
    /// and with a restart marker every row of MCUs.
    #[cfg(feature = "libjpeg-turbo")]
    fn jpeg_bytes(
        w: usize,
        h: usize,
        pf: i32,
        subsamp: i32,
        progressive: bool,
        restart: bool,
    ) -> Vec<u8> {
        use turbojpeg_sys as tj;
        let channels = if pf == tj::TJPF_TJPF_GRAY {
            1
        } else if pf == tj::TJPF_TJPF_CMYK {
            4
        } else {
            3
        };
        let src: Vec<u8> = (0..w * h * channels)
            .map(|i| {
                let (p, c) = (i / channels, i % channels);
                let (x, y) = ((p % w) as f64, (p / w) as f64);
                ((x * 0.21 + c as f64).sin() * (y * 0.13).cos()).mul_add(100.0, 128.0) as u8
                    ^ ((p * 31 + c) % 5) as u8
            })
            .collect();
        // SAFETY: the handle comes from tj3Init (checked non-null) and is destroyed once at the
        // end; src holds h rows of w * channels bytes (the pitch given); tj3Compress8 allocates
        // jpeg_buf itself (it starts null) and sets its size, and we copy it out and free it with
        // tj3Free exactly once.
        unsafe {
            let handle = tj::tj3Init(tj::TJINIT_TJINIT_COMPRESS as i32);
            assert!(!handle.is_null());
            assert_eq!(
                tj::tj3Set(handle, tj::TJPARAM_TJPARAM_QUALITY as i32, 88),
                0
            );
            assert_eq!(
                tj::tj3Set(handle, tj::TJPARAM_TJPARAM_SUBSAMP as i32, subsamp),
                0
            );
            assert_eq!(
                tj::tj3Set(
                    handle,
                    tj::TJPARAM_TJPARAM_PROGRESSIVE as i32,
                    progressive as i32
                ),
                0
            );
            assert_eq!(
                tj::tj3Set(
                    handle,
                    tj::TJPARAM_TJPARAM_RESTARTROWS as i32,
                    restart as i32
                ),
                0
            );
            let mut jpeg_buf: *mut u8 = std::ptr::null_mut();
            let mut size: tj::size_t = 0;
            let rc = tj::tj3Compress8(
                handle,
                src.as_ptr(),
                w as i32,
                (w * channels) as i32,
                h as i32,
                pf,
                &mut jpeg_buf,
                &mut size,
            );
            assert_eq!(rc, 0);
            let out = std::slice::from_raw_parts(jpeg_buf, size as usize).to_vec();
            tj::tj3Free(jpeg_buf as *mut _);
            tj::tj3Destroy(handle);
            out
        }
    }

    /// Collects the rows `decode_rows` sends.
    #[cfg(feature = "libjpeg-turbo")]
    struct Collect(Vec<u8>, usize, usize);
    #[cfg(feature = "libjpeg-turbo")]
    impl RgbRows for Collect {
        fn start(&mut self, width: usize, height: usize) -> bool {
            (self.1, self.2) = (width, height);
            true
        }
        fn rows(&mut self, rgb: &[u8]) -> bool {
            self.0.extend_from_slice(rgb);
            true
        }
    }

    #[cfg(feature = "libjpeg-turbo")]
    #[test]
    fn streamed_jpeg_rows_equal_whole_decoding_even_on_damaged_files() {
        use turbojpeg_sys as tj;
        let q = Quantizer::new(grid_palette(), None).expect("quantizer");
        let mut s = settings();
        let mut next = xorshift(0x2545_F491_4F6C_DD1D);
        // Bits flipped and cuts anywhere after SOI (the first two bytes).
        let damage = Damage {
            rounds: 90,
            cut_from: 2,
            flip_from: 2,
        };
        let (rgb, gray, cmyk) = (tj::TJPF_TJPF_RGB, tj::TJPF_TJPF_GRAY, tj::TJPF_TJPF_CMYK);
        let (s444, s422, s420) = (
            tj::TJSAMP_TJSAMP_444,
            tj::TJSAMP_TJSAMP_422,
            tj::TJSAMP_TJSAMP_420,
        );
        let cases = [
            (rgb, s420, false, false, 61, 47),
            (rgb, s420, true, false, 203, 150),
            (rgb, s422, false, true, 90, 33),
            (rgb, s444, true, true, 17, 131),
            (gray, tj::TJSAMP_TJSAMP_GRAY, false, false, 75, 40),
            (gray, tj::TJSAMP_TJSAMP_GRAY, true, false, 40, 75),
            (cmyk, s420, false, false, 64, 48),
        ];
        for (i, &(pf, subsamp, progressive, restart, w, h)) in cases.iter().enumerate() {
            let file = jpeg_bytes(w, h, pf, subsamp, progressive, restart);
            // The rows streamed are exactly the whole image's bytes.
            let whole_image = decode(&file, &s.decode).expect("decodes");
            let mut sink = Collect(Vec::new(), 0, 0);
            assert!(
                decode_rows(&file, &s.decode, &mut sink),
                "case {i}: not streamed"
            );
            assert_eq!((sink.1, sink.2), (w, h), "case {i}");
            assert!(sink.0 == whole_image.data, "case {i}: streamed rows differ");
            for filter in [Filter::Bilinear, Filter::Bicubic, Filter::Lanczos] {
                s.filter = filter;
                let good = streamed(&file, &s, &q);
                assert!(good.is_ok(), "case {i}: {good:?}");
                assert_eq!(good, whole(&file, &s, &q), "case {i} {filter:?}");
            }
            same_outcome_when_damaged(&file, &s, &q, &damage, &mut next, &format!("case {i}"));
        }
        // Draft scaling keeps the whole-image path (the DCT-scaled decode).
        s.decode.draft = Some((8, 8));
        let file = jpeg_bytes(203, 150, rgb, s420, false, false);
        assert!(!decode_rows(
            &file,
            &s.decode,
            &mut Collect(Vec::new(), 0, 0)
        ));
    }

    #[test]
    fn wrong_output_length_is_an_error_for_every_item() {
        let err = encode_3x3(&gradient(3, 3), &mut [0u16; 7]).unwrap_err();
        assert!(err.contains("need 20"), "{err}");
    }

    #[test]
    fn bad_pixel_buffer_is_an_error() {
        assert!(encode_3x3(&[0u8; 10], &mut [0u16; 20]).is_err());
        assert!(encode_3x3(&gradient(3, 3), &mut [0u16; 20]).is_ok());
    }
}

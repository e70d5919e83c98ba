//! Image decoding to 8-bit RGB, pixel for pixel like Pillow's `Image.open(f).convert("RGB")`.
//!
//! [`decode`] sniffs the format from the leading bytes (never the file name), checks the size in the
//! header against [`DecodeOptions::max_pixels`] *before* allocating pixel memory (Pillow's
//! decompression-bomb guard), decodes, and converts the decoded mode to RGB with Pillow 13's rules:
//!
//! | source                         | Pillow mode  | to RGB (as Pillow)                                  |
//! |--------------------------------|--------------|-----------------------------------------------------|
//! | JPEG YCbCr / RGB               | `RGB`        | libjpeg-turbo, accurate integer IDCT, smooth upsampling |
//! | JPEG grayscale                 | `L`          | gray replicated                                     |
//! | JPEG CMYK / YCCK               | `CMYK`       | inverted (Adobe), then `nk - nk*c/255` per channel    |
//! | PNG gray 1 bit                 | `1`          | 0 or 255                                            |
//! | PNG gray 2 / 4 / 8 bit         | `L`          | `v * 85`, `v * 17`, `v`                             |
//! | PNG gray 16 bit                | `I;16`       | `min(v, 255)` (Pillow clips, it does not rescale)   |
//! | PNG gray+alpha 8 / 16 bit      | `LA`/`RGBA`  | gray (high byte for 16 bit), alpha dropped          |
//! | PNG RGB / RGBA 8 / 16 bit      | `RGB`/`RGBA` | high byte for 16 bit, alpha dropped (no compositing)|
//! | PNG palette 1 / 2 / 4 / 8 bit  | `P`          | palette lookup; an index past the palette is black  |
//! | GIF first frame                | `P` / `L`    | see [`decode`]'s GIF notes                          |
//! | WebP (lossy, lossless, first frame of an animation) | `RGB`/`RGBA` | image-webp (same output as libwebp), alpha dropped |
//! | TIFF first page, 8-bit RGB/RGBA/L/LA/CMYK, 1-bit, 16-bit gray/RGB(A) | as PNG | as PNG; WhiteIsZero inverted; premultiplied alpha undone like Pillow (`v * 255 / a`) |
//! | BMP 1/4/8-bit palette (BI_RGB, RLE8, RLE4) | `P` / `L` / `1` | palette lookup; index past the palette black; a gray-ramp palette opens as `L` (or `1` for black/white) |
//! | BMP 16-bit (5-5-5, BI_BITFIELDS 5-6-5 / 5-5-5) | `RGB`     | `v * 255 / max` truncated per channel               |
//! | BMP 24-bit, 32-bit BI_RGB (4th byte ignored), 32-bit BI_BITFIELDS | `RGB`/`RGBA` | the masked bytes, alpha dropped         |
//!
//! PNG pixel data of well-formed, non-interlaced files is read by a fast path (`png/scanlines.rs`:
//! zlib-rs and a SIMD Paeth, identical bytes, 2-3x faster); interlaced and damaged files go
//! through the `png` crate's row reader, whose behaviour on damage is the one described below.
//!
//! Transparency (`tRNS`, alpha channels) never changes the RGB values, exactly as in Pillow's
//! `convert("RGB")`. EXIF orientation and ICC profiles are ignored, as `Image.open` ignores them.
//!
//! JPEG goes through libjpeg-turbo (the library Pillow links; `turbojpeg-sys` builds its vendored
//! 3.1.0 from source with cmake, and nasm for SIMD) when the `libjpeg-turbo` feature is on (default).
//! Without it (`--no-default-features`: no C toolchain needed), or with [`JpegDecoder::ZuneJpeg`],
//! the pure-Rust zune-jpeg decodes. Measured against Pillow 13.0 (libjpeg-turbo 3.2.0) on 65 JPEGs
//! (china/flower/rocket/retina/hubble files, and five real photos re-encoded at quality 50/75/95 with
//! 4:4:4/4:2:2/4:2:0, progressive, grayscale and CMYK), share of identical pixels:
//!
//! | decoder        | all    | 4:4:4  | 4:2:2  | 4:2:0  | progressive | gray   | CMYK   | max diff |
//! |----------------|--------|--------|--------|--------|-------------|--------|--------|----------|
//! | libjpeg-turbo  | 100 %  | 100 %  | 100 %  | 100 %  | 100 %       | 100 %  | 100 %  | 0        |
//! | zune-jpeg      | 89.6 % | 98.7 % | 88.2 % | 76.2 % | 76.0 %      | 99.4 % | 98.1 % | 6        |
//!
//! The draft mode (DCT scaling) is identical to Pillow's `Image.draft` with libjpeg-turbo (171/171
//! file/size pairs); zune-jpeg ignores it.
//!
//! Errors follow Pillow: whatever Pillow refuses is refused (truncated at any byte, bad zlib checksum,
//! bad CRC before the image data, ...), and what Pillow decodes from a damaged file we decode to the
//! same pixels (libjpeg's corrupt-data warnings are ignored as Pillow ignores them; a PNG whose last
//! bytes are cut after the pixel data still decodes). Known differences: a GIF cut inside its last
//! LZW sub-block after the last pixel decodes (Pillow raises); a cut at the tail of an *interlaced*
//! PNG raises (Pillow may decode); Pillow-side "broken data stream" on about 0.5 % of randomly
//! mutated JPEGs that libjpeg-turbo decodes; progressive JPEGs with more than [`MAX_JPEG_SCANS`]
//! scans are refused; libwebp (behind Pillow) rejects about 1 % of randomly mutated WebP files that
//! image-webp decodes. WebP output is identical to Pillow's on lossy, lossless, alpha and animated
//! files tested. TIFF (uncompressed, PackBits, LZW, Deflate; tiles, predictors, both byte
//! orders) is identical to Pillow on every case tested; palette, JPEG-compressed, CCITT, float,
//! planar and 16-bit premultiplied TIFFs raise [`DecodeError::Unsupported`], and about 1 % of
//! randomly mutated TIFFs are refused where Pillow's tolerant tag reader decodes them. APNG: the
//! default image, which is Pillow's frame 0.
//!
//! BMP has its own decoder (written when no BMP crate fit the crate's Rust floor) that copies Pillow 13's
//! `BmpImagePlugin` rule by rule: the OS/2 core, INFO, V2-V5 and OS/2 2.x headers; bottom-up and
//! top-down rows (top-down when the height's top byte is 0xFF); only the BI_BITFIELDS masks Pillow
//! lists; RLE8/RLE4 with Pillow's decoder (runs clipped at the row end, absolute runs padded to an
//! even file offset, an image the stream does not fill is refused); a palette shorter than its
//! header says is read as far as the data goes. It decodes exactly when Pillow decodes from bytes,
//! to the same pixels, on every case tested (hand-built variants and 27,000 random mutations).
//! JPEG/PNG-compressed BMPs, other depths and other masks raise [`DecodeError::Unsupported`], data
//! ending before the last row [`DecodeError::Truncated`] (the last row needs no padding). Known
//! difference: opened from a *path*, Pillow memory-maps 8-bit `L`/`P` BMPs and then also requires
//! the last row's padding; we do not.
//!
//! Nothing here panics on malformed input: every failure is a [`DecodeError`] naming the reason.
//!
//! # Layout
//!
//! This file holds the public API: the types, [`decode`] and [`decode_rows`] (which dispatch on
//! the sniffed format), [`decode_file`] and [`draft_scale`]. Beside it:
//!
//! - `input.rs`: [`read_file`] and the format signatures ([`ImageFormat::sniff`]);
//! - `limits.rs`: the size check against [`DecodeOptions::max_pixels`] and fallible allocation;
//! - `convert.rs`: Pillow's conversions to RGB that several codecs share (CMYK, gray, packed bits);
//! - one file or folder per codec: `jpeg/` (libjpeg-turbo whole-image and row decoding, the C
//!   file for the latter, zune-jpeg), `png/` (with `png/scanlines.rs`, the fast path),
//!   `gif.rs`, `webp.rs`, `tiff.rs`, `bmp.rs`; each with its tests;
//! - `test_support.rs` (tests only): the fuzz loop every codec's tests run.
//!
//! A new codec: a variant of [`ImageFormat`] (its name here, its signature in `input.rs`, the
//! list in [`DecodeError::UnknownFormat`]'s message), a file `<codec>.rs` (a folder if it grows
//! past ~1,000 lines) with `decode_<codec>(data, options)` that checks the header's size with
//! `limits::check_size` before allocating anything, its tests beside it (with
//! `test_support::fuzz`), and one arm in [`decode`]'s dispatch.

mod bmp;
mod convert;
mod gif;
mod input;
mod jpeg;
mod limits;
// Public for its fast path, `png::scanlines` (inflate + unfiltering), which fuzz/ checks against the
// `png` crate directly.
pub mod png;
#[cfg(test)]
mod test_support;
mod tiff;
mod webp;

use std::fmt;
use std::path::Path;

pub use input::read_file;

/// Pillow's `Image.MAX_IMAGE_PIXELS` (`1024 * 1024 * 1024 // 4 // 3`): above it Pillow warns.
pub const PILLOW_MAX_IMAGE_PIXELS: u64 = 89_478_485;

/// The default pixel limit: Pillow raises `DecompressionBombError` above twice its warning limit.
pub const DEFAULT_MAX_PIXELS: u64 = 2 * PILLOW_MAX_IMAGE_PIXELS;

/// Progressive JPEGs with more scans than this are refused (real files have about 10; crafted ones
/// with thousands make libjpeg spin). Pillow has no such limit.
pub const MAX_JPEG_SCANS: i32 = 1000;

/// The image formats [`decode`] recognises (by their leading bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImageFormat {
    Jpeg,
    Png,
    Gif,
    WebP,
    Tiff,
    Bmp,
}

impl ImageFormat {
    /// The format's name as Pillow's `Image.format` (`"JPEG"`, `"PNG"`, `"GIF"`, `"WEBP"`, `"TIFF"`, `"BMP"`).
    pub fn name(self) -> &'static str {
        match self {
            ImageFormat::Jpeg => "JPEG",
            ImageFormat::Png => "PNG",
            ImageFormat::Gif => "GIF",
            ImageFormat::WebP => "WEBP",
            ImageFormat::Tiff => "TIFF",
            ImageFormat::Bmp => "BMP",
        }
    }
}

impl fmt::Display for ImageFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Which JPEG decoder to use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JpegDecoder {
    /// libjpeg-turbo built from source (feature `libjpeg-turbo`): the same pixels as Pillow.
    LibjpegTurbo,
    /// The pure-Rust zune-jpeg: no C toolchain, close to but not always identical with Pillow.
    /// Ignores [`DecodeOptions::draft`].
    ZuneJpeg,
}

impl JpegDecoder {
    /// libjpeg-turbo when it is compiled in, else zune-jpeg.
    pub const DEFAULT: JpegDecoder = if cfg!(feature = "libjpeg-turbo") {
        JpegDecoder::LibjpegTurbo
    } else {
        JpegDecoder::ZuneJpeg
    };

    /// `"libjpeg-turbo"` or `"zune-jpeg"`.
    pub fn name(self) -> &'static str {
        match self {
            JpegDecoder::LibjpegTurbo => "libjpeg-turbo",
            JpegDecoder::ZuneJpeg => "zune-jpeg",
        }
    }

    /// Parses [`JpegDecoder::name`]; `None` for an unknown name.
    pub fn from_name(name: &str) -> Option<JpegDecoder> {
        match name {
            "libjpeg-turbo" => Some(JpegDecoder::LibjpegTurbo),
            "zune-jpeg" => Some(JpegDecoder::ZuneJpeg),
            _ => None,
        }
    }

    /// Whether this build can use the decoder.
    pub fn available(self) -> bool {
        match self {
            JpegDecoder::LibjpegTurbo => cfg!(feature = "libjpeg-turbo"),
            JpegDecoder::ZuneJpeg => true,
        }
    }
}

/// Settings of [`decode`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DecodeOptions {
    /// Refuse images with more than this many pixels (width * height from the header), before
    /// allocating them. `None`: no limit (like `PIL.Image.MAX_IMAGE_PIXELS = None`).
    pub max_pixels: Option<u64>,
    /// JPEG only: a target size `(w, h)` for DCT-domain downscaling like Pillow's
    /// `Image.draft("RGB", (w, h))`: scale 1/s with the largest s in {8, 4, 2, 1} such that
    /// `s <= min(W // w, H // h)`; the result is `ceil(W / s) x ceil(H / s)`. Other formats ignore it.
    pub draft: Option<(u32, u32)>,
    /// The JPEG decoder.
    pub jpeg_decoder: JpegDecoder,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        DecodeOptions {
            max_pixels: Some(DEFAULT_MAX_PIXELS),
            draft: None,
            jpeg_decoder: JpegDecoder::DEFAULT,
        }
    }
}

/// A decoded image: `height` rows of `width` RGB triples, row-major, no padding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodedImage {
    pub width: u32,
    pub height: u32,
    /// `width * height * 3` bytes.
    pub data: Vec<u8>,
    /// The format the bytes were in.
    pub format: ImageFormat,
    /// The mode Pillow opens the image in (`"RGB"`, `"L"`, `"P"`, `"CMYK"`, `"I;16"`, ...).
    pub source_mode: &'static str,
    /// The JPEG draft scale denominator applied (1, 2, 4 or 8; 1 when no draft was applied).
    /// Pillow's `draft` returns the box `(0, 0, W / s, H / s)` of the full image in these pixels.
    pub draft_scale: u32,
    /// The size in the file's header (before any draft scaling).
    pub original_size: (u32, u32),
}

impl DecodedImage {
    /// An image decoded at its full size (no draft scaling).
    fn full_size(
        width: u32,
        height: u32,
        data: Vec<u8>,
        format: ImageFormat,
        source_mode: &'static str,
    ) -> Self {
        DecodedImage {
            width,
            height,
            data,
            format,
            source_mode,
            draft_scale: 1,
            original_size: (width, height),
        }
    }
}

/// Why an image could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// No bytes at all.
    #[error("empty input (0 bytes)")]
    Empty,
    /// The leading bytes match no supported format.
    #[error(
        "not a supported image (JPEG, PNG, GIF, WebP, TIFF or BMP): the data starts with {head}"
    )]
    UnknownFormat { head: String },
    /// The data ends before the image does.
    #[error("truncated {format} data: {detail}")]
    Truncated { format: ImageFormat, detail: String },
    /// The data is malformed.
    #[error("corrupt {format} data: {detail}")]
    Corrupt { format: ImageFormat, detail: String },
    /// A valid file of a kind that is not supported (12-bit JPEG, ...).
    #[error("unsupported {format} image: {detail}")]
    Unsupported { format: ImageFormat, detail: String },
    /// Width or height is zero.
    #[error("{format} image has zero size ({width}x{height})")]
    ZeroSize {
        format: ImageFormat,
        width: u64,
        height: u64,
    },
    /// More pixels than allowed (decompression bomb guard).
    #[error(
        "{format} image of {width}x{height} = {pixels} pixels exceeds the limit of {max_pixels} pixels \
         (decompression bomb guard; raise max_pixels to allow it)"
    )]
    TooManyPixels {
        format: ImageFormat,
        width: u64,
        height: u64,
        pixels: u64,
        max_pixels: u64,
    },
    /// The pixel buffer could not be allocated.
    #[error("cannot allocate {bytes} bytes for the decoded image")]
    OutOfMemory { bytes: u64 },
    /// Reading the file failed (path helper only).
    #[error("cannot read the file: {reason}")]
    Io { reason: String },
    /// The requested decoder is not compiled into this build.
    #[error("the {0} JPEG decoder is not available in this build")]
    DecoderUnavailable(&'static str),
}

impl DecodeError {
    /// A short stable name of the error kind (for reports): `"empty"`, `"unknown-format"`,
    /// `"truncated"`, `"corrupt"`, `"unsupported"`, `"zero-size"`, `"too-many-pixels"`,
    /// `"out-of-memory"`, `"io"`, `"decoder-unavailable"`.
    pub fn kind(&self) -> &'static str {
        match self {
            DecodeError::Empty => "empty",
            DecodeError::UnknownFormat { .. } => "unknown-format",
            DecodeError::Truncated { .. } => "truncated",
            DecodeError::Corrupt { .. } => "corrupt",
            DecodeError::Unsupported { .. } => "unsupported",
            DecodeError::ZeroSize { .. } => "zero-size",
            DecodeError::TooManyPixels { .. } => "too-many-pixels",
            DecodeError::OutOfMemory { .. } => "out-of-memory",
            DecodeError::Io { .. } => "io",
            DecodeError::DecoderUnavailable(_) => "decoder-unavailable",
        }
    }
}

/// Decodes an image file (read whole) to RGB; see [`decode`]. The error does not name the path:
/// callers add it.
pub fn decode_file(path: &Path, options: &DecodeOptions) -> Result<DecodedImage, DecodeError> {
    decode(&read_file(path)?, options)
}

/// Decodes JPEG, PNG, GIF, WebP, TIFF or BMP bytes to 8-bit RGB exactly like Pillow's
/// `Image.open(...).convert("RGB")`.
///
/// GIF: the first frame on the logical screen, as Pillow shows it: the screen is filled with the
/// frame's transparent index (or index 0), the frame's indices are drawn at their offset, and the
/// local (else global) palette maps indices to RGB; an index past the palette is black, no palette
/// means gray levels equal to the index.
pub fn decode(data: &[u8], options: &DecodeOptions) -> Result<DecodedImage, DecodeError> {
    if data.is_empty() {
        return Err(DecodeError::Empty);
    }
    let Some(format) = ImageFormat::sniff(data) else {
        return Err(DecodeError::UnknownFormat {
            head: input::describe_head(data),
        });
    };
    // The decoders are meant never to panic on any input; should one do so anyway (a bug in a
    // third-party crate), the caller gets an error for this file instead of an abort.
    let run = || match format {
        ImageFormat::Jpeg => match options.jpeg_decoder {
            JpegDecoder::LibjpegTurbo => jpeg::decode_jpeg_turbo(data, options),
            JpegDecoder::ZuneJpeg => jpeg::decode_jpeg_zune(data, options),
        },
        ImageFormat::Png => png::decode_png(data, options),
        ImageFormat::Gif => gif::decode_gif(data, options),
        ImageFormat::WebP => webp::decode_webp(data, options),
        ImageFormat::Tiff => tiff::decode_tiff(data, options),
        ImageFormat::Bmp => bmp::decode_bmp(data, options),
    };
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(run)).unwrap_or_else(|_| {
        Err(DecodeError::Corrupt {
            format,
            detail: String::from("the decoder failed on this data (internal panic)"),
        })
    })
}

/// Receives an image's RGB rows from [`decode_rows`].
pub trait RgbRows {
    /// The image is `width x height`; false declines it (then nothing else is sent).
    fn start(&mut self, width: usize, height: usize) -> bool;
    /// The next rows, top to bottom: whole rows of `width * 3` bytes. False stops the decoding.
    fn rows(&mut self, rgb: &[u8]) -> bool;
}

/// Decodes `data` into `sink` a window of rows at a time, never holding the whole image, when the
/// file allows it: a well-formed, non-interlaced PNG within the size limit, or a JPEG decoded at
/// full size with libjpeg-turbo that decodes without any warning (returns true; the rows are
/// exactly [`decode`]'s). Otherwise returns false, and the sink may have received some rows:
/// the caller then decodes with [`decode`], which gives the image, or the error for the file, as
/// for any other file.
pub fn decode_rows(data: &[u8], options: &DecodeOptions, sink: &mut dyn RgbRows) -> bool {
    let run = || match ImageFormat::sniff(data) {
        Some(ImageFormat::Png) => png::png_rows(data, options, sink).is_some(),
        Some(ImageFormat::Jpeg) => jpeg::jpeg_rows(data, options, sink).is_some(),
        _ => false,
    };
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(run)).unwrap_or(false)
}

/// The DCT scale denominator Pillow's `draft` picks for a `width x height` image and target size.
pub fn draft_scale(width: u32, height: u32, target: (u32, u32)) -> u32 {
    let (tw, th) = target;
    if tw == 0 || th == 0 {
        return 1;
    }
    let scale = (width / tw).min(height / th);
    [8, 4, 2, 1].into_iter().find(|&s| scale >= s).unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draft_scale_matches_pillow_rule() {
        assert_eq!(draft_scale(800, 600, (100, 75)), 8);
        assert_eq!(draft_scale(800, 600, (101, 75)), 4);
        assert_eq!(draft_scale(800, 600, (400, 300)), 2);
        assert_eq!(draft_scale(800, 600, (401, 300)), 1);
        assert_eq!(draft_scale(800, 600, (2000, 2000)), 1);
    }

    #[test]
    fn empty_and_unknown() {
        let o = DecodeOptions::default();
        assert_eq!(decode(&[], &o).unwrap_err().kind(), "empty");
        let e = decode(b"<html>hello</html>", &o).unwrap_err();
        assert_eq!(e.kind(), "unknown-format");
        assert!(e.to_string().contains("3c 68 74 6d"), "{e}");
    }
}

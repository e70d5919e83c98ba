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
//! PNG pixel data of well-formed, non-interlaced files is read by [`crate::png_scanlines`] (zlib-rs and a
//! SIMD Paeth, identical bytes, 2-3x faster); interlaced and damaged files go through the `png` crate's
//! row reader, whose behaviour on damage is the one described below.
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

use std::fmt;
use std::io::Cursor;
use std::path::Path;

use crate::buffers::zeroed_bytes;
use crate::png_scanlines::{chunks as png_chunks, for_each_rows, read_scanlines, Scanlines};

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

    /// Sniffs the format from the first bytes, with the signatures Pillow's plugins accept.
    pub fn sniff(data: &[u8]) -> Option<ImageFormat> {
        if data.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(ImageFormat::Jpeg)
        } else if data.starts_with(b"\x89PNG\r\n\x1a\n") {
            Some(ImageFormat::Png)
        } else if data.starts_with(b"GIF87a") || data.starts_with(b"GIF89a") {
            Some(ImageFormat::Gif)
        } else if data.len() >= 12 && &data[..4] == b"RIFF" && &data[8..12] == b"WEBP" {
            Some(ImageFormat::WebP)
        } else if data.starts_with(b"II*\0")
            || data.starts_with(b"MM\0*")
            || data.starts_with(b"II+\0")
            || data.starts_with(b"MM\0+")
        {
            Some(ImageFormat::Tiff)
        } else if data.starts_with(b"BM") {
            Some(ImageFormat::Bmp)
        } else {
            None
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

/// Bytes read from a file before its format is checked: enough for every signature [`ImageFormat::sniff`]
/// knows.
const SNIFF_BYTES: usize = 16;

/// The bytes of an image file, or [`DecodeError::Io`] (without the path: callers add it).
///
/// Only regular files are read: a FIFO would block forever and a device (`/dev/zero`) never ends,
/// so anything else is refused before it is opened. The first [`SNIFF_BYTES`] are read and checked
/// against the known signatures before the rest: a file that is not an image costs one small read,
/// whatever its size. The buffer is allocated fallibly from the file's size.
pub fn read_file(path: &Path) -> Result<Vec<u8>, DecodeError> {
    use std::io::Read;
    let io = |e: std::io::Error| DecodeError::Io {
        reason: e.to_string(),
    };
    let meta = std::fs::metadata(path).map_err(io)?;
    if !meta.is_file() {
        return Err(DecodeError::Io {
            reason: format!("not a regular file ({})", file_kind(&meta.file_type())),
        });
    }
    let mut file = std::fs::File::open(path).map_err(io)?;
    let mut head = [0u8; SNIFF_BYTES];
    let mut got = 0;
    while got < head.len() {
        match file.read(&mut head[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(io(e)),
        }
    }
    let mut data = Vec::new();
    if got < head.len() || ImageFormat::sniff(&head).is_none() {
        // empty, too short or not an image: `decode` says which, from these bytes alone
        data.extend_from_slice(&head[..got]);
        return Ok(data);
    }
    let size = usize::try_from(meta.len()).unwrap_or(usize::MAX);
    data.try_reserve_exact(size.max(got))
        .map_err(|_| DecodeError::OutOfMemory { bytes: meta.len() })?;
    data.extend_from_slice(&head);
    // The file may have grown since: read to its end anyway (the decoders bound what they use).
    file.read_to_end(&mut data).map_err(io)?;
    Ok(data)
}

/// What a non-regular file is, for the error message.
fn file_kind(t: &std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return "a FIFO";
        }
        if t.is_char_device() {
            return "a character device";
        }
        if t.is_block_device() {
            return "a block device";
        }
        if t.is_socket() {
            return "a socket";
        }
    }
    if t.is_dir() {
        "a directory"
    } else {
        "not a file"
    }
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
            head: describe_head(data),
        });
    };
    // The decoders are meant never to panic on any input; should one do so anyway (a bug in a
    // third-party crate), the caller gets an error for this file instead of an abort.
    let run = || match format {
        ImageFormat::Jpeg => match options.jpeg_decoder {
            JpegDecoder::LibjpegTurbo => decode_jpeg_turbo(data, options),
            JpegDecoder::ZuneJpeg => decode_jpeg_zune(data, options),
        },
        ImageFormat::Png => decode_png(data, options),
        ImageFormat::Gif => decode_gif(data, options),
        ImageFormat::WebP => decode_webp(data, options),
        ImageFormat::Tiff => decode_tiff(data, options),
        ImageFormat::Bmp => decode_bmp(data, options),
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
        Some(ImageFormat::Png) => png_rows(data, options, sink).is_some(),
        Some(ImageFormat::Jpeg) => jpeg_rows(data, options, sink).is_some(),
        _ => false,
    };
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(run)).unwrap_or(false)
}

fn png_rows(data: &[u8], options: &DecodeOptions, sink: &mut dyn RgbRows) -> Option<()> {
    let reader = png_reader(data, options).ok()?;
    let info = reader.info();
    if info.interlaced {
        return None;
    }
    let pixels = PngPixels::new(info);
    let (width, height) = (info.width as usize, info.height as usize);
    let shape = Scanlines::new(width, height, info.color_type.samples(), pixels.bits)?;
    if !sink.start(width, height) {
        return None;
    }
    let mut rgb = Vec::new();
    for_each_rows(data, shape, |rows| {
        if pixels.is_rgb8() {
            return sink.rows(rows).then_some(());
        }
        let n = rows.len() / shape.row_bytes;
        rgb.resize(n * width * 3, 0);
        pixels.to_rgb(rows, shape.row_bytes, &mut rgb);
        sink.rows(&rgb).then_some(())
    })
}

/// The first bytes in hex plus their printable ASCII, for error messages.
fn describe_head(data: &[u8]) -> String {
    let head = &data[..data.len().min(8)];
    let hex: Vec<String> = head.iter().map(|b| format!("{b:02x}")).collect();
    let text: String = head
        .iter()
        .map(|&b| {
            if (0x20..0x7f).contains(&b) {
                b as char
            } else {
                '.'
            }
        })
        .collect();
    format!("{} ({:?})", hex.join(" "), text)
}

/// Refuses zero sizes and sizes past the pixel limit; returns the pixel count.
fn check_size(
    format: ImageFormat,
    width: u64,
    height: u64,
    options: &DecodeOptions,
) -> Result<u64, DecodeError> {
    if width == 0 || height == 0 {
        return Err(DecodeError::ZeroSize {
            format,
            width,
            height,
        });
    }
    let pixels = width.saturating_mul(height);
    if let Some(max_pixels) = options.max_pixels {
        if pixels > max_pixels {
            return Err(DecodeError::TooManyPixels {
                format,
                width,
                height,
                pixels,
                max_pixels,
            });
        }
    }
    Ok(pixels)
}

/// A zeroed buffer of `len` bytes, or [`DecodeError::OutOfMemory`] instead of aborting.
fn alloc_zeroed(len: u64) -> Result<Vec<u8>, DecodeError> {
    usize::try_from(len)
        .ok()
        .and_then(zeroed_bytes)
        .ok_or(DecodeError::OutOfMemory { bytes: len })
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

// ---------------------------------------------------------------------------------------------
// Pillow's conversions to RGB
// ---------------------------------------------------------------------------------------------

/// Pillow's `MULDIV255(a, b)`: `a * b / 255` rounded, in integers.
#[inline]
fn muldiv255(a: i32, b: i32) -> i32 {
    let t = a * b + 128;
    ((t >> 8) + t) >> 8
}

/// Pillow's CMYK -> RGB (`cmyk2rgb` in Convert.c) on Pillow's CMYK values.
#[inline]
fn pillow_cmyk_to_rgb(c: u8, m: u8, y: u8, k: u8) -> [u8; 3] {
    let nk = 255 - k as i32;
    let f = |v: u8| (nk - muldiv255(v as i32, nk)).clamp(0, 255) as u8;
    [f(c), f(m), f(y)]
}

/// Converts libjpeg's CMYK output in place of a new RGB buffer. Pillow reads JPEG CMYK with the
/// `CMYK;I` raw mode (Adobe's inverted convention), so each sample is inverted first.
fn jpeg_cmyk_to_rgb(cmyk: &[u8], pixels: u64) -> Result<Vec<u8>, DecodeError> {
    let mut out = alloc_zeroed(pixels * 3)?;
    for (o, p) in out.chunks_exact_mut(3).zip(cmyk.chunks_exact(4)) {
        o.copy_from_slice(&pillow_cmyk_to_rgb(
            255 - p[0],
            255 - p[1],
            255 - p[2],
            255 - p[3],
        ));
    }
    Ok(out)
}

/// Gray bytes to RGB by replication (Pillow's `L` -> `RGB`).
fn gray_to_rgb(gray: &[u8], pixels: u64) -> Result<Vec<u8>, DecodeError> {
    let mut out = alloc_zeroed(pixels * 3)?;
    for (o, &g) in out.chunks_exact_mut(3).zip(gray) {
        o.fill(g);
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// JPEG: libjpeg-turbo through the TurboJPEG 3 API
// ---------------------------------------------------------------------------------------------

#[cfg(feature = "libjpeg-turbo")]
mod turbo {
    //! A minimal safe wrapper of the TurboJPEG 3 functions the decoder needs.

    use std::ffi::{c_int, CStr};
    use turbojpeg_sys as tj;

    /// An owned TurboJPEG decompressor handle (never null).
    pub struct Decompressor(tj::tjhandle);

    /// The outcome of a TurboJPEG call that failed or warned.
    pub struct TjError {
        /// `true` for a warning (the output is complete), `false` for a fatal error.
        pub warning: bool,
        pub message: String,
    }

    pub struct Header {
        pub width: i32,
        pub height: i32,
        pub colorspace: i32,
        pub precision: i32,
        pub lossless: bool,
    }

    impl Decompressor {
        pub fn new() -> Option<Decompressor> {
            // SAFETY: tj3Init has no preconditions; it returns NULL on failure, checked here.
            let h = unsafe { tj::tj3Init(tj::TJINIT_TJINIT_DECOMPRESS as c_int) };
            if h.is_null() {
                None
            } else {
                Some(Decompressor(h))
            }
        }

        fn error(&self) -> TjError {
            // SAFETY: self.0 is a live handle; tj3GetErrorStr returns a pointer to a NUL-terminated
            // string owned by the handle (or a static one), valid until the next call on the handle;
            // we copy it out at once. tj3GetErrorCode only reads the handle.
            let (message, code) = unsafe {
                let s = tj::tj3GetErrorStr(self.0);
                let message = if s.is_null() {
                    String::from("unknown error")
                } else {
                    CStr::from_ptr(s).to_string_lossy().into_owned()
                };
                (message, tj::tj3GetErrorCode(self.0))
            };
            TjError {
                warning: code == tj::TJERR_TJERR_WARNING as c_int,
                message,
            }
        }

        fn get(&self, param: tj::TJPARAM) -> i32 {
            // SAFETY: self.0 is a live handle; tj3Get only reads it (unknown params return -1).
            unsafe { tj::tj3Get(self.0, param as c_int) }
        }

        pub fn set(&mut self, param: tj::TJPARAM, value: i32) -> Result<(), TjError> {
            // SAFETY: self.0 is a live handle; tj3Set validates param and value.
            let rc = unsafe { tj::tj3Set(self.0, param as c_int, value) };
            if rc == 0 {
                Ok(())
            } else {
                Err(self.error())
            }
        }

        /// Reads the headers (no pixel memory is allocated).
        pub fn header(&mut self, data: &[u8]) -> Result<Header, TjError> {
            // SAFETY: self.0 is a live handle; data.as_ptr() is valid for data.len() bytes, which
            // TurboJPEG only reads, and only during this call.
            let rc = unsafe { tj::tj3DecompressHeader(self.0, data.as_ptr(), data.len() as _) };
            if rc != 0 {
                let e = self.error();
                if !e.warning {
                    return Err(e);
                }
            }
            Ok(Header {
                width: self.get(tj::TJPARAM_TJPARAM_JPEGWIDTH),
                height: self.get(tj::TJPARAM_TJPARAM_JPEGHEIGHT),
                colorspace: self.get(tj::TJPARAM_TJPARAM_COLORSPACE),
                precision: self.get(tj::TJPARAM_TJPARAM_PRECISION),
                lossless: self.get(tj::TJPARAM_TJPARAM_LOSSLESS) == 1,
            })
        }

        /// Sets DCT scaling 1/denom for the next decompression.
        pub fn set_scale(&mut self, denom: i32) -> Result<(), TjError> {
            let sf = tj::tjscalingfactor { num: 1, denom };
            // SAFETY: self.0 is a live handle; the factor is passed by value and validated.
            let rc = unsafe { tj::tj3SetScalingFactor(self.0, sf) };
            if rc == 0 {
                Ok(())
            } else {
                Err(self.error())
            }
        }

        /// Decompresses `data` into `out`, `height` rows of `width * channels` bytes (the scaled size
        /// set with [`Decompressor::set_scale`]). `Ok(Some(warning))` when libjpeg warned.
        pub fn decompress(
            &mut self,
            data: &[u8],
            out: &mut [u8],
            width: usize,
            height: usize,
            pixel_format: tj::TJPF,
            channels: usize,
        ) -> Result<Option<String>, TjError> {
            let pitch = width
                .checked_mul(channels)
                .filter(|p| *p <= i32::MAX as usize);
            let Some(pitch) = pitch else {
                return Err(TjError {
                    warning: false,
                    message: String::from("row too wide"),
                });
            };
            if out.len() < pitch.saturating_mul(height) {
                return Err(TjError {
                    warning: false,
                    message: String::from("output buffer too small"),
                });
            }
            // SAFETY: self.0 is a live handle; data is valid for reads of data.len() bytes; out is
            // valid for writes of pitch * height bytes (checked just above), and TurboJPEG writes
            // exactly `height` rows of `pitch` bytes, where width/height are the scaled header size
            // the caller computed with TJSCALED for the factor set on this handle.
            let rc = unsafe {
                tj::tj3Decompress8(
                    self.0,
                    data.as_ptr(),
                    data.len() as _,
                    out.as_mut_ptr(),
                    pitch as c_int,
                    pixel_format,
                )
            };
            if rc == 0 {
                return Ok(None);
            }
            let e = self.error();
            if e.warning {
                Ok(Some(e.message))
            } else {
                Err(e)
            }
        }
    }

    impl Drop for Decompressor {
        fn drop(&mut self) {
            // SAFETY: self.0 came from tj3Init, is non-null and is destroyed exactly once here.
            unsafe { tj::tj3Destroy(self.0) }
        }
    }

    pub use tj::{
        TJCS_TJCS_CMYK as CS_CMYK, TJCS_TJCS_GRAY as CS_GRAY, TJCS_TJCS_YCCK as CS_YCCK,
        TJPARAM_TJPARAM_SCANLIMIT as SCANLIMIT, TJPF_TJPF_CMYK as PF_CMYK,
        TJPF_TJPF_GRAY as PF_GRAY, TJPF_TJPF_RGB as PF_RGB,
    };
}

/// Maps a libjpeg message to the error kind: premature end of data is truncation.
#[cfg(feature = "libjpeg-turbo")]
fn jpeg_error(message: String) -> DecodeError {
    let detail = message
        .trim_start_matches("tj3DecompressHeader(): ")
        .trim_start_matches("tj3Decompress8(): ")
        .to_owned();
    let lower = detail.to_ascii_lowercase();
    let format = ImageFormat::Jpeg;
    if lower.contains("premature end") {
        DecodeError::Truncated { format, detail }
    } else if lower.contains("empty jpeg image") {
        DecodeError::ZeroSize {
            format,
            width: 0,
            height: 0,
        }
    } else if lower.contains("unsupported") || lower.contains("precision") {
        DecodeError::Unsupported { format, detail }
    } else {
        DecodeError::Corrupt { format, detail }
    }
}

/// Walks the JPEG marker structure (segments and entropy-coded data) looking for the EOI marker.
/// `Err` names where the data ends early. Pillow fails on such files ("image file is truncated"),
/// while libjpeg-turbo pads them with gray and only warns (and reports just its first warning, so
/// a truncation after another warning cannot be seen from its messages).
fn jpeg_truncation(data: &[u8]) -> Result<(), String> {
    let n = data.len();
    let mut pos = 2; // after SOI
    loop {
        // Find the next marker: libjpeg skips (and warns about) stray bytes, then 0xFF fill bytes.
        while pos < n && data[pos] != 0xFF {
            pos += 1;
        }
        while pos < n && data[pos] == 0xFF {
            pos += 1;
        }
        let Some(&marker) = data.get(pos) else {
            return Err(String::from("the data ends before the EOI marker"));
        };
        pos += 1;
        match marker {
            0xD9 => return Ok(()),
            0x00 | 0x01 | 0xD0..=0xD8 => continue,
            _ => {}
        }
        if pos + 2 > n {
            return Err(format!(
                "the data ends inside the length of marker 0xFF{marker:02X}"
            ));
        }
        let len = u16::from_be_bytes([data[pos], data[pos + 1]]) as usize;
        if pos + len > n {
            return Err(format!(
                "the data ends inside the segment of marker 0xFF{marker:02X}"
            ));
        }
        pos += len.max(2);
        if marker == 0xDA {
            // Entropy-coded data: runs until a 0xFF that is not stuffing (0xFF00) nor a restart marker.
            loop {
                while pos < n && data[pos] != 0xFF {
                    pos += 1;
                }
                let mut next = pos;
                while next < n && data[next] == 0xFF {
                    next += 1;
                }
                match data.get(next) {
                    None => return Err(String::from("the data ends inside the scan data")),
                    Some(0x00) | Some(0xD0..=0xD7) => pos = next + 1,
                    Some(_) => break,
                }
            }
        }
    }
}

/// A TurboJPEG handle with the headers read and every check of the whole-image path passed:
/// the size limit, truncation, 8-bit samples; the draft scale set.
#[cfg(feature = "libjpeg-turbo")]
struct TurboSetup {
    d: turbo::Decompressor,
    original: (u32, u32),
    scale: u32,
    /// The output size (scaled).
    size: (u32, u32),
    pf: turbojpeg_sys::TJPF,
    channels: usize,
    mode: &'static str,
}

#[cfg(feature = "libjpeg-turbo")]
fn turbo_setup(data: &[u8], options: &DecodeOptions) -> Result<TurboSetup, DecodeError> {
    let format = ImageFormat::Jpeg;
    let mut d = turbo::Decompressor::new().ok_or(DecodeError::OutOfMemory { bytes: 0 })?;
    let h = d.header(data).map_err(|e| match jpeg_truncation(data) {
        Err(detail) => DecodeError::Truncated { format, detail },
        Ok(()) => jpeg_error(e.message),
    })?;
    if h.width < 0 || h.height < 0 {
        return Err(match jpeg_truncation(data) {
            Err(detail) => DecodeError::Truncated { format, detail },
            Ok(()) => DecodeError::Corrupt {
                format,
                detail: String::from("no frame header (SOF) before the image data"),
            },
        });
    }
    let (w, hgt) = (h.width as u32, h.height as u32);
    check_size(format, w as u64, hgt as u64, options)?;
    if let Err(detail) = jpeg_truncation(data) {
        return Err(DecodeError::Truncated { format, detail });
    }
    if h.precision != 8 {
        return Err(DecodeError::Unsupported {
            format,
            detail: format!("{}-bit samples (only 8-bit JPEG)", h.precision),
        });
    }
    d.set(turbo::SCANLIMIT, MAX_JPEG_SCANS)
        .map_err(|e| jpeg_error(e.message))?;
    let mut scale = 1u32;
    if let Some(target) = options.draft {
        if !h.lossless {
            scale = draft_scale(w, hgt, target);
        }
    }
    if scale > 1 {
        d.set_scale(scale as i32)
            .map_err(|e| jpeg_error(e.message))?;
    }
    let (pf, channels, mode) = if h.colorspace == turbo::CS_GRAY as i32 {
        (turbo::PF_GRAY, 1usize, "L")
    } else if h.colorspace == turbo::CS_CMYK as i32 || h.colorspace == turbo::CS_YCCK as i32 {
        (turbo::PF_CMYK, 4, "CMYK")
    } else {
        (turbo::PF_RGB, 3, "RGB")
    };
    Ok(TurboSetup {
        d,
        original: (w, hgt),
        scale,
        // TJSCALED: ceil(dim / scale), as Pillow's draft size.
        size: (w.div_ceil(scale), hgt.div_ceil(scale)),
        pf,
        channels,
        mode,
    })
}

#[cfg(feature = "libjpeg-turbo")]
fn decode_jpeg_turbo(data: &[u8], options: &DecodeOptions) -> Result<DecodedImage, DecodeError> {
    let TurboSetup {
        mut d,
        original,
        scale,
        size: (sw, sh),
        pf,
        channels,
        mode,
    } = turbo_setup(data, options)?;
    let pixels = sw as u64 * sh as u64;
    let mut buf = alloc_zeroed(pixels * channels as u64)?;
    match d.decompress(data, &mut buf, sw as usize, sh as usize, pf, channels) {
        Ok(None) => {}
        // Pillow ignores libjpeg's warnings ("extraneous bytes before marker", ...) but fails when
        // the data runs out before the image ends.
        Ok(Some(warning)) => {
            if warning
                .to_ascii_lowercase()
                .contains("premature end of jpeg file")
            {
                return Err(jpeg_error(warning));
            }
        }
        Err(e) => return Err(jpeg_error(e.message)),
    }
    let data = match channels {
        1 => gray_to_rgb(&buf, pixels)?,
        4 => jpeg_cmyk_to_rgb(&buf, pixels)?,
        _ => buf,
    };
    Ok(DecodedImage {
        width: sw,
        height: sh,
        data,
        format: ImageFormat::Jpeg,
        source_mode: mode,
        draft_scale: scale,
        original_size: original,
    })
}

#[cfg(feature = "libjpeg-turbo")]
mod jpeg_scanlines {
    //! Row-by-row decoding through the libjpeg API of the same vendored libjpeg-turbo, by way of
    //! the small C file `jpeg_rows.c` (libjpeg's errors longjmp, which only C frames may see).

    use std::ffi::{c_char, c_int, c_uint, c_ulong, c_void, CStr};

    extern "C" {
        fn igpt_jpeg_new() -> *mut c_void;
        fn igpt_jpeg_free(h: *mut c_void);
        fn igpt_jpeg_start(
            h: *mut c_void,
            data: *const u8,
            len: c_ulong,
            scan_limit: c_int,
            width: *mut c_uint,
            height: *mut c_uint,
            components: *mut c_int,
        ) -> c_int;
        fn igpt_jpeg_read(h: *mut c_void, buf: *mut u8, stride: usize, max_rows: c_uint) -> c_int;
        fn igpt_jpeg_finish(h: *mut c_void) -> c_int;
        fn igpt_jpeg_warned(h: *const c_void) -> c_int;
        fn igpt_jpeg_message(h: *const c_void) -> *const c_char;
    }

    /// Most rows one [`RowDecoder::read`] returns (the C side's row-pointer array).
    pub const MAX_ROWS: usize = 64;

    /// A started libjpeg decompression of a borrowed buffer.
    pub struct RowDecoder<'a> {
        h: std::ptr::NonNull<c_void>,
        pub width: usize,
        pub height: usize,
        pub components: usize,
        _data: std::marker::PhantomData<&'a [u8]>,
    }

    impl<'a> RowDecoder<'a> {
        /// Reads the headers and starts decompressing `data`; None on any error.
        pub fn start(data: &'a [u8], scan_limit: i32) -> Option<Self> {
            let len = c_ulong::try_from(data.len()).ok()?;
            // SAFETY: igpt_jpeg_new has no preconditions and returns NULL on failure.
            let h = std::ptr::NonNull::new(unsafe { igpt_jpeg_new() })?;
            let (mut w, mut ht, mut c): (c_uint, c_uint, c_int) = (0, 0, 0);
            let mut dec = RowDecoder {
                h,
                width: 0,
                height: 0,
                components: 0,
                _data: std::marker::PhantomData,
            };
            // SAFETY: h is a live handle from igpt_jpeg_new (freed only by Drop); data is valid
            // for reads of len bytes for 'a, which outlives the handle's use of it (the handle is
            // dropped, or finished, within 'a: RowDecoder<'a> borrows data); the out-pointers
            // point to live locals.
            let rc = unsafe {
                igpt_jpeg_start(
                    h.as_ptr(),
                    data.as_ptr(),
                    len,
                    scan_limit,
                    &mut w,
                    &mut ht,
                    &mut c,
                )
            };
            if rc != 0 {
                return None;
            }
            dec.width = w as usize;
            dec.height = ht as usize;
            dec.components = usize::try_from(c).ok()?;
            Some(dec)
        }

        /// Decodes the next rows into `buf` (rows of `stride` bytes, at most [`MAX_ROWS`] and
        /// `buf.len() / stride`); the number of rows, 0 at the end, None on an error.
        pub fn read(&mut self, buf: &mut [u8], stride: usize) -> Option<usize> {
            if stride < self.width.checked_mul(self.components)? || stride == 0 {
                return None;
            }
            let rows = (buf.len() / stride).min(MAX_ROWS);
            // SAFETY: the handle is live and started; buf is valid for writes of rows * stride
            // bytes, and libjpeg writes at most `rows` rows of width * components <= stride
            // bytes, row i at buf + i * stride (checked above).
            let n = unsafe {
                igpt_jpeg_read(self.h.as_ptr(), buf.as_mut_ptr(), stride, rows as c_uint)
            };
            usize::try_from(n).ok()
        }

        /// Reads to the end of the image; false on an error.
        pub fn finish(&mut self) -> bool {
            // SAFETY: the handle is live and started.
            unsafe { igpt_jpeg_finish(self.h.as_ptr()) == 0 }
        }

        /// Whether libjpeg warned (corrupt data worked around, premature end).
        pub fn warned(&self) -> bool {
            // SAFETY: the handle is live; the call only reads it.
            unsafe { igpt_jpeg_warned(self.h.as_ptr()) != 0 }
        }

        /// The error message, else the first warning.
        #[allow(dead_code)]
        pub fn message(&self) -> String {
            // SAFETY: the handle is live; the message is a NUL-terminated array inside it
            // (zeroed at creation, written with snprintf-like bounds by libjpeg), copied at once.
            unsafe { CStr::from_ptr(igpt_jpeg_message(self.h.as_ptr())) }
                .to_string_lossy()
                .into_owned()
        }
    }

    impl Drop for RowDecoder<'_> {
        fn drop(&mut self) {
            // SAFETY: h came from igpt_jpeg_new and is freed exactly once, here.
            unsafe { igpt_jpeg_free(self.h.as_ptr()) }
        }
    }
}

/// Streams a JPEG that the whole-image path would decode at full size into `sink`, a band of rows
/// at a time; None (the caller then decodes whole) on anything else: draft scaling, another
/// decoder, a file the whole path refuses, or any libjpeg error or warning.
#[cfg(feature = "libjpeg-turbo")]
fn jpeg_rows(data: &[u8], options: &DecodeOptions, sink: &mut dyn RgbRows) -> Option<()> {
    if options.jpeg_decoder != JpegDecoder::LibjpegTurbo {
        return None;
    }
    let setup = turbo_setup(data, options).ok()?;
    if setup.scale != 1 {
        return None;
    }
    let (width, height) = (setup.size.0 as usize, setup.size.1 as usize);
    let channels = setup.channels;
    drop(setup);
    let mut dec = jpeg_scanlines::RowDecoder::start(data, MAX_JPEG_SCANS)?;
    if (dec.width, dec.height, dec.components) != (width, height, channels) {
        return None;
    }
    let stride = width.checked_mul(channels)?;
    // 16 rows a band (at most MAX_ROWS): a few hundred KiB for the widest photos.
    let band = 16.min(jpeg_scanlines::MAX_ROWS);
    let mut buf = zeroed_bytes(stride.checked_mul(band)?)?;
    let mut rgb = if channels == 3 {
        Vec::new()
    } else {
        zeroed_bytes(width.checked_mul(3 * band)?)?
    };
    if !sink.start(width, height) {
        return None;
    }
    let mut done = 0;
    while done < height {
        let n = dec.read(&mut buf, stride)?;
        if n == 0 || dec.warned() {
            return None;
        }
        done += n;
        let rows = &buf[..n * stride];
        let out: &[u8] = match channels {
            3 => rows,
            1 => {
                for (o, &g) in rgb.chunks_exact_mut(3).zip(rows) {
                    o.fill(g);
                }
                &rgb[..n * width * 3]
            }
            _ => {
                for (o, p) in rgb.chunks_exact_mut(3).zip(rows.chunks_exact(4)) {
                    // As `jpeg_cmyk_to_rgb`: Pillow reads JPEG CMYK inverted (`CMYK;I`).
                    o.copy_from_slice(&pillow_cmyk_to_rgb(
                        255 - p[0],
                        255 - p[1],
                        255 - p[2],
                        255 - p[3],
                    ));
                }
                &rgb[..n * width * 3]
            }
        };
        if !sink.rows(out) {
            return None;
        }
    }
    (dec.finish() && !dec.warned()).then_some(())
}

#[cfg(not(feature = "libjpeg-turbo"))]
fn jpeg_rows(_data: &[u8], _options: &DecodeOptions, _sink: &mut dyn RgbRows) -> Option<()> {
    None
}

#[cfg(not(feature = "libjpeg-turbo"))]
fn decode_jpeg_turbo(_data: &[u8], _options: &DecodeOptions) -> Result<DecodedImage, DecodeError> {
    Err(DecodeError::DecoderUnavailable("libjpeg-turbo"))
}

// ---------------------------------------------------------------------------------------------
// JPEG: zune-jpeg (pure Rust)
// ---------------------------------------------------------------------------------------------

fn decode_jpeg_zune(data: &[u8], options: &DecodeOptions) -> Result<DecodedImage, DecodeError> {
    use zune_core::bytestream::ZCursor;
    use zune_core::colorspace::ColorSpace;
    use zune_core::options::DecoderOptions as ZOptions;
    use zune_jpeg::errors::DecodeErrors;

    let format = ImageFormat::Jpeg;
    let to_err = |e: DecodeErrors| {
        let detail = e.to_string();
        let lower = detail.to_ascii_lowercase();
        if lower.contains("eof") || lower.contains("end of") || lower.contains("exhausted") {
            DecodeError::Truncated { format, detail }
        } else {
            DecodeError::Corrupt { format, detail }
        }
    };
    let base = ZOptions::default()
        .set_max_width(u16::MAX as usize)
        .set_max_height(u16::MAX as usize)
        .set_strict_mode(false)
        .jpeg_set_max_scans(MAX_JPEG_SCANS as usize);
    let mut probe = zune_jpeg::JpegDecoder::new_with_options(ZCursor::new(data), base);
    probe
        .decode_headers()
        .map_err(|e| match jpeg_truncation(data) {
            Err(detail) => DecodeError::Truncated { format, detail },
            Ok(()) => to_err(e),
        })?;
    let (w, h) = probe.dimensions().ok_or_else(|| DecodeError::Corrupt {
        format,
        detail: String::from("no frame header"),
    })?;
    let pixels = check_size(format, w as u64, h as u64, options)?;
    if let Err(detail) = jpeg_truncation(data) {
        return Err(DecodeError::Truncated { format, detail });
    }
    let input = probe.input_colorspace().unwrap_or(ColorSpace::YCbCr);
    let (out_cs, mode) = match input {
        ColorSpace::Luma => (ColorSpace::Luma, "L"),
        ColorSpace::CMYK | ColorSpace::YCCK => (ColorSpace::CMYK, "CMYK"),
        _ => (ColorSpace::RGB, "RGB"),
    };
    let mut dec = zune_jpeg::JpegDecoder::new_with_options(
        ZCursor::new(data),
        base.jpeg_set_out_colorspace(out_cs),
    );
    // zune-jpeg is a third-party pure-Rust decoder: contain a panic on hostile input as an error.
    let decoded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| dec.decode()));
    let buf = match decoded {
        Ok(result) => result.map_err(to_err)?,
        Err(_) => {
            return Err(DecodeError::Corrupt {
                format,
                detail: String::from("zune-jpeg failed on this data"),
            })
        }
    };
    let need = pixels * out_cs.num_components() as u64;
    if (buf.len() as u64) < need {
        return Err(DecodeError::Corrupt {
            format,
            detail: String::from("decoder returned too few pixels"),
        });
    }
    let data = match out_cs {
        ColorSpace::Luma => gray_to_rgb(&buf, pixels)?,
        // zune-jpeg returns the stored (Adobe-inverted) samples, as libjpeg does.
        ColorSpace::CMYK => jpeg_cmyk_to_rgb(&buf, pixels)?,
        _ => buf,
    };
    Ok(DecodedImage::full_size(
        w as u32, h as u32, data, format, mode,
    ))
}

// ---------------------------------------------------------------------------------------------
// PNG
// ---------------------------------------------------------------------------------------------

/// CRC-32 (ISO-HDLC, as PNG uses), bitwise: only run over the few small chunks before IDAT.
pub(crate) fn crc32(parts: &[&[u8]]) -> u32 {
    let mut c = !0u32;
    for part in parts {
        for &b in *part {
            c ^= b as u32;
            for _ in 0..8 {
                c = if c & 1 != 0 {
                    0xEDB8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
            }
        }
    }
    !c
}

/// Pillow verifies the CRC of every chunk it reads before the image data (IHDR, PLTE, tRNS, text,
/// ...) and fails on a mismatch; it does not check IDAT CRCs. Truncation is left to the decoder.
fn png_check_header_crcs(data: &[u8]) -> Result<(), DecodeError> {
    for chunk in png_chunks(data) {
        if chunk.kind == b"IDAT" || chunk.kind == b"IEND" {
            break;
        }
        if crc32(&[chunk.kind, chunk.body]) != chunk.crc {
            return Err(DecodeError::Corrupt {
                format: ImageFormat::Png,
                detail: format!(
                    "bad CRC in the {} chunk",
                    String::from_utf8_lossy(chunk.kind)
                ),
            });
        }
    }
    Ok(())
}

fn png_error(e: png::DecodingError) -> DecodeError {
    let format = ImageFormat::Png;
    match e {
        png::DecodingError::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            DecodeError::Truncated {
                format,
                detail: String::from("the data ends before the image does"),
            }
        }
        png::DecodingError::LimitsExceeded => DecodeError::Corrupt {
            format,
            detail: String::from("decoder memory limit exceeded"),
        },
        other => DecodeError::Corrupt {
            format,
            detail: other.to_string(),
        },
    }
}

/// Unpacks `bits`-bit samples (1, 2, 4) of one row, MSB first.
#[inline]
fn packed_sample(row: &[u8], i: usize, bits: usize) -> u8 {
    let bit = i * bits;
    let byte = row.get(bit / 8).copied().unwrap_or(0);
    let shift = 8 - bits - (bit % 8);
    (byte >> shift) & ((1u16 << bits) - 1) as u8
}

/// A PNG's header checked like Pillow checks it, and a `png` reader positioned at the pixel data.
fn png_reader<'a>(
    data: &'a [u8],
    options: &DecodeOptions,
) -> Result<png::Reader<Cursor<&'a [u8]>>, DecodeError> {
    let format = ImageFormat::Png;
    // The size from IHDR, checked before the decoder allocates anything.
    if data.len() < 33 {
        return Err(DecodeError::Truncated {
            format,
            detail: format!("{} bytes, shorter than the PNG header", data.len()),
        });
    }
    if &data[12..16] != b"IHDR" {
        return Err(DecodeError::Corrupt {
            format,
            detail: String::from("the first chunk is not IHDR"),
        });
    }
    let be32 = |s: &[u8]| u32::from_be_bytes([s[0], s[1], s[2], s[3]]) as u64;
    let (w, h) = (be32(&data[16..20]), be32(&data[20..24]));
    check_size(format, w, h, options)?;

    let limit = options.max_pixels.map_or(usize::MAX, |m| {
        usize::try_from(m.saturating_mul(16).saturating_add(64 << 20)).unwrap_or(usize::MAX)
    });
    png_check_header_crcs(data)?;
    // Like Pillow: chunk CRCs are checked before the image data (above) but not on IDAT; the zlib
    // stream's Adler-32 is checked when present.
    let mut stream_options = png::DecodeOptions::default();
    stream_options.set_ignore_crc(true);
    stream_options.set_ignore_adler32(false);
    let mut decoder = png::Decoder::new_with_options(Cursor::new(data), stream_options);
    decoder.set_limits(png::Limits { bytes: limit });
    decoder.set_transformations(png::Transformations::IDENTITY);
    decoder.read_info().map_err(png_error)
}

/// How a PNG's raw rows (`png` crate layout, IDENTITY transformations) become RGB.
struct PngPixels {
    width: usize,
    color: png::ColorType,
    bits: usize,
    /// The palette, padded with black to 256 entries as Pillow pads a short one.
    lut: [[u8; 3]; 256],
}

impl PngPixels {
    fn new(info: &png::Info<'_>) -> Self {
        let mut lut = [[0u8; 3]; 256];
        if let Some(p) = &info.palette {
            for (entry, rgb) in lut.iter_mut().zip(p.chunks_exact(3)) {
                entry.copy_from_slice(rgb);
            }
        }
        PngPixels {
            width: info.width as usize,
            color: info.color_type,
            bits: info.bit_depth as usize,
            lut,
        }
    }

    /// Pillow's mode for this PNG.
    fn mode(&self) -> &'static str {
        use png::ColorType as C;
        match (self.color, self.bits) {
            (C::Grayscale, 1) => "1",
            (C::Grayscale, 16) => "I;16",
            (C::Grayscale, _) => "L",
            (C::Rgb, _) => "RGB",
            (C::Indexed, _) => "P",
            (C::GrayscaleAlpha, 8) => "LA",
            (C::GrayscaleAlpha, _) => "RGBA",
            (C::Rgba, _) => "RGBA",
        }
    }

    /// Whether the raw rows are already packed RGB.
    fn is_rgb8(&self) -> bool {
        self.color == png::ColorType::Rgb && self.bits == 8
    }

    /// Raw rows of `line` bytes to RGB rows of `width * 3` bytes, with Pillow's conversions.
    fn to_rgb(&self, rows: &[u8], line: usize, out: &mut [u8]) {
        use png::ColorType as C;
        let (width, bits, lut) = (self.width, self.bits, &self.lut);
        for (row, orow) in rows.chunks_exact(line).zip(out.chunks_exact_mut(width * 3)) {
            let px = orow.chunks_exact_mut(3);
            match (self.color, bits) {
                (C::Grayscale, 16) => {
                    for (o, s) in px.zip(row.chunks_exact(2)) {
                        // Pillow's I;16 -> RGB clips to 255.
                        let v = u16::from_be_bytes([s[0], s[1]]).min(255) as u8;
                        o.fill(v);
                    }
                }
                (C::Grayscale, 8) => {
                    for (o, &v) in px.zip(row) {
                        o.fill(v);
                    }
                }
                (C::Grayscale, b) => {
                    let mul = match b {
                        1 => 255,
                        2 => 85,
                        _ => 17,
                    };
                    for (i, o) in px.enumerate() {
                        o.fill(packed_sample(row, i, b) * mul);
                    }
                }
                (C::Rgb, 8) => orow.copy_from_slice(&row[..width * 3]),
                (C::Rgb, _) => {
                    for (o, s) in px.zip(row.chunks_exact(6)) {
                        o.copy_from_slice(&[s[0], s[2], s[4]]);
                    }
                }
                (C::Rgba, 8) => {
                    for (o, s) in px.zip(row.chunks_exact(4)) {
                        o.copy_from_slice(&s[..3]);
                    }
                }
                (C::Rgba, _) => {
                    for (o, s) in px.zip(row.chunks_exact(8)) {
                        o.copy_from_slice(&[s[0], s[2], s[4]]);
                    }
                }
                (C::GrayscaleAlpha, 8) => {
                    for (o, s) in px.zip(row.chunks_exact(2)) {
                        o.fill(s[0]);
                    }
                }
                (C::GrayscaleAlpha, _) => {
                    for (o, s) in px.zip(row.chunks_exact(4)) {
                        o.fill(s[0]);
                    }
                }
                (C::Indexed, 8) => {
                    for (o, &i) in px.zip(row) {
                        o.copy_from_slice(&lut[i as usize]);
                    }
                }
                (C::Indexed, b) => {
                    for (i, o) in px.enumerate() {
                        o.copy_from_slice(&lut[packed_sample(row, i, b) as usize]);
                    }
                }
            }
        }
    }
}

fn decode_png(data: &[u8], options: &DecodeOptions) -> Result<DecodedImage, DecodeError> {
    let format = ImageFormat::Png;
    let mut reader = png_reader(data, options)?;
    let info = reader.info();
    let pixels_of = PngPixels::new(info);
    let (width, height) = (info.width as usize, info.height as usize);
    let pixels = width * height;
    let color = info.color_type;
    let bits = info.bit_depth as usize;
    let interlaced = info.interlaced;
    let size = reader
        .output_buffer_size()
        .ok_or(DecodeError::OutOfMemory { bytes: u64::MAX })?;
    let mut buf = alloc_zeroed(size as u64)?;
    let fast = Scanlines::new(width, height, color.samples(), bits)
        .filter(|shape| !interlaced && shape.row_bytes * height == size)
        .and_then(|shape| read_scanlines(data, shape, &mut buf).map(|()| shape.row_bytes));
    let line = if let Some(line) = fast {
        // Well-formed pixel data, inflated and unfiltered by png_scanlines (identical bytes).
        line
    } else if interlaced {
        reader.next_frame(&mut buf).map_err(png_error)?.line_size
    } else {
        // Row by row, stopping after the last row: like Pillow, an image whose pixel data is
        // complete decodes even when the end of the zlib stream / IDAT CRC / IEND is cut off.
        let line = size / height.max(1);
        for row in buf.chunks_exact_mut(line.max(1)).take(height) {
            match reader.read_row(row).map_err(png_error)? {
                Some(_) => {}
                None => {
                    return Err(DecodeError::Truncated {
                        format,
                        detail: String::from("fewer rows than the header says"),
                    })
                }
            }
        }
        // The rest of the zlib stream: a bad checksum fails (as in Pillow), a missing end does not.
        match reader.finish() {
            Err(png::DecodingError::IoError(e))
                if e.kind() == std::io::ErrorKind::UnexpectedEof => {}
            Err(png::DecodingError::Format(e))
                if e.to_string().to_ascii_lowercase().contains("deflate") =>
            {
                return Err(DecodeError::Corrupt {
                    format,
                    detail: e.to_string(),
                });
            }
            _ => {}
        }
        line
    };
    if line.saturating_mul(height) > buf.len() {
        return Err(DecodeError::Corrupt {
            format,
            detail: String::from("inconsistent row size"),
        });
    }
    let rgb = if pixels_of.is_rgb8() && line == width * 3 {
        buf.truncate(width * height * 3);
        buf
    } else {
        let mut out = alloc_zeroed(pixels as u64 * 3)?;
        pixels_of.to_rgb(&buf[..line * height], line, &mut out);
        out
    };
    let (w, h) = (width as u32, height as u32);
    Ok(DecodedImage::full_size(w, h, rgb, format, pixels_of.mode()))
}

// ---------------------------------------------------------------------------------------------
// GIF (first frame)
// ---------------------------------------------------------------------------------------------

fn gif_error(e: gif::DecodingError) -> DecodeError {
    let format = ImageFormat::Gif;
    match e {
        gif::DecodingError::Io(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            DecodeError::Truncated {
                format,
                detail: String::from("the data ends before the first frame does"),
            }
        }
        gif::DecodingError::UnexpectedEof => DecodeError::Truncated {
            format,
            detail: String::from("the data ends before the first frame does"),
        },
        gif::DecodingError::OutOfMemory | gif::DecodingError::MemoryLimit => {
            DecodeError::OutOfMemory { bytes: 0 }
        }
        other => DecodeError::Corrupt {
            format,
            detail: other.to_string(),
        },
    }
}

/// Pillow's `GifImageFile._is_palette_needed`: a palette that is exactly the gray ramp
/// `i -> (i, i, i)` is dropped (the image opens in mode `L`).
fn gif_palette_needed(p: &[u8]) -> bool {
    p.chunks(3).enumerate().any(|(i, c)| {
        c.len() < 3 || !(c[0] as usize == i && c[1] as usize == i && c[2] as usize == i)
    })
}

fn decode_gif(data: &[u8], options: &DecodeOptions) -> Result<DecodedImage, DecodeError> {
    let format = ImageFormat::Gif;
    if data.len() < 13 {
        return Err(DecodeError::Truncated {
            format,
            detail: format!("{} bytes, shorter than the GIF header", data.len()),
        });
    }
    let mut opts = gif::DecodeOptions::new();
    opts.set_color_output(gif::ColorOutput::Indexed);
    opts.check_lzw_end_code(false);
    opts.allow_unknown_blocks(true);
    if let Some(max) = options.max_pixels {
        if let Some(limit) =
            std::num::NonZeroU64::new(max.saturating_mul(2).saturating_add(1 << 20))
        {
            opts.set_memory_limit(gif::MemoryLimit::Bytes(limit));
        }
    }
    let mut dec = opts.read_info(Cursor::new(data)).map_err(gif_error)?;
    let (screen_w, screen_h) = (dec.width() as u64, dec.height() as u64);
    let global: Option<Vec<u8>> = dec
        .global_palette()
        .filter(|p| gif_palette_needed(p))
        .map(|p| p.to_vec());
    let Some(frame) = dec.next_frame_info().map_err(gif_error)? else {
        return Err(DecodeError::Corrupt {
            format,
            detail: String::from("no image in the file"),
        });
    };
    let (left, top) = (frame.left as u64, frame.top as u64);
    let (fw, fh) = (frame.width as u64, frame.height as u64);
    let transparent = frame.transparent;
    // A local palette replaces the global one; a gray-ramp local palette means mode L.
    let palette: Option<Vec<u8>> = match &frame.palette {
        Some(p) => gif_palette_needed(p).then(|| p.clone()),
        None => global,
    };
    // Pillow grows the canvas to hold a frame that overflows the logical screen.
    let (w, h) = (screen_w.max(left + fw), screen_h.max(top + fh));
    let pixels = check_size(format, w, h, options)?;
    let mut indices = alloc_zeroed(fw * fh)?;
    dec.read_into_buffer(&mut indices).map_err(gif_error)?;
    // The canvas: the transparent index (or 0) everywhere, the frame drawn at its offset.
    let mut canvas = alloc_zeroed(pixels)?;
    if let Some(t) = transparent {
        canvas.fill(t);
    }
    if fw > 0 {
        for (y, row) in indices.chunks_exact(fw as usize).enumerate() {
            let start = ((top + y as u64) * w + left) as usize;
            canvas[start..start + row.len()].copy_from_slice(row);
        }
    }
    let mut lut = [[0u8; 3]; 256];
    let mode = match &palette {
        Some(p) => {
            for (entry, rgb) in lut.iter_mut().zip(p.chunks_exact(3)) {
                entry.copy_from_slice(rgb);
            }
            "P"
        }
        None => {
            for (i, entry) in lut.iter_mut().enumerate() {
                *entry = [i as u8; 3];
            }
            "L"
        }
    };
    let mut out = alloc_zeroed(pixels * 3)?;
    for (o, &i) in out.chunks_exact_mut(3).zip(&canvas) {
        o.copy_from_slice(&lut[i as usize]);
    }
    Ok(DecodedImage::full_size(
        w as u32, h as u32, out, format, mode,
    ))
}

// ---------------------------------------------------------------------------------------------
// WebP (image-webp, pure Rust)
// ---------------------------------------------------------------------------------------------

fn webp_error(e: image_webp::DecodingError) -> DecodeError {
    let format = ImageFormat::WebP;
    match e {
        image_webp::DecodingError::IoError(io)
            if io.kind() == std::io::ErrorKind::UnexpectedEof =>
        {
            DecodeError::Truncated {
                format,
                detail: String::from("the data ends before the image does"),
            }
        }
        image_webp::DecodingError::MemoryLimitExceeded => DecodeError::OutOfMemory { bytes: 0 },
        other => DecodeError::Corrupt {
            format,
            detail: other.to_string(),
        },
    }
}

fn decode_webp(data: &[u8], options: &DecodeOptions) -> Result<DecodedImage, DecodeError> {
    let format = ImageFormat::WebP;
    // libwebp's demuxer (behind Pillow) refuses a file shorter than its RIFF header says.
    let riff_size = u32::from_le_bytes([data[4], data[5], data[6], data[7]]) as u64;
    if riff_size + 8 > data.len() as u64 {
        return Err(DecodeError::Truncated {
            format,
            detail: format!(
                "the RIFF header announces {} bytes, the data has {}",
                riff_size + 8,
                data.len()
            ),
        });
    }
    // ... and one whose chunks do not tile the RIFF payload exactly.
    let riff_end = (riff_size + 8) as usize;
    let mut pos = 12usize;
    while pos < riff_end {
        if pos + 8 > riff_end {
            return Err(DecodeError::Corrupt {
                format,
                detail: format!("a chunk header at byte {pos} overruns the RIFF payload"),
            });
        }
        let size = u32::from_le_bytes([data[pos + 4], data[pos + 5], data[pos + 6], data[pos + 7]])
            as usize;
        let end = pos
            .saturating_add(8)
            .saturating_add(size)
            .saturating_add(size & 1);
        if end > riff_end {
            return Err(DecodeError::Corrupt {
                format,
                detail: format!(
                    "the {} chunk at byte {pos} overruns the RIFF payload",
                    String::from_utf8_lossy(&data[pos..pos + 4])
                ),
            });
        }
        pos = end;
    }
    let mut dec = image_webp::WebPDecoder::new(Cursor::new(data)).map_err(webp_error)?;
    let (w, h) = dec.dimensions();
    let pixels = check_size(format, w as u64, h as u64, options)?;
    dec.set_memory_limit(
        usize::try_from(pixels.saturating_mul(8).saturating_add(64 << 20)).unwrap_or(usize::MAX),
    );
    let alpha = dec.has_alpha();
    let size = dec
        .output_buffer_size()
        .ok_or(DecodeError::OutOfMemory { bytes: u64::MAX })?;
    let mut buf = alloc_zeroed(size as u64)?;
    if dec.is_animated() {
        // The first frame on the canvas (checked against Pillow in tests/test_decoding.py).
        dec.read_frame(&mut buf).map_err(webp_error)?;
    } else {
        dec.read_image(&mut buf).map_err(webp_error)?;
    }
    let data = if alpha {
        let mut out = alloc_zeroed(pixels * 3)?;
        for (o, p) in out.chunks_exact_mut(3).zip(buf.chunks_exact(4)) {
            o.copy_from_slice(&p[..3]);
        }
        out
    } else {
        buf
    };
    Ok(DecodedImage::full_size(
        w,
        h,
        data,
        format,
        if alpha { "RGBA" } else { "RGB" },
    ))
}

// ---------------------------------------------------------------------------------------------
// TIFF (first page; uncompressed, PackBits, LZW, Deflate)
// ---------------------------------------------------------------------------------------------

fn tiff_error(e: tiff::TiffError) -> DecodeError {
    let format = ImageFormat::Tiff;
    match e {
        tiff::TiffError::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            DecodeError::Truncated {
                format,
                detail: String::from("the data ends before the image does"),
            }
        }
        tiff::TiffError::UnsupportedError(u) => DecodeError::Unsupported {
            format,
            detail: u.to_string(),
        },
        tiff::TiffError::LimitsExceeded => DecodeError::Unsupported {
            format,
            detail: "its strips or tiles need more memory than 16 bytes per pixel (or 1 MiB)"
                .into(),
        },
        other => DecodeError::Corrupt {
            format,
            detail: other.to_string(),
        },
    }
}

fn decode_tiff(data: &[u8], options: &DecodeOptions) -> Result<DecodedImage, DecodeError> {
    use tiff::ColorType as T;
    let format = ImageFormat::Tiff;
    let mut dec = tiff::decoder::Decoder::new(Cursor::new(data)).map_err(tiff_error)?;
    let (w, h) = dec.dimensions().map_err(tiff_error)?;
    let pixels = check_size(format, w as u64, h as u64, options)?;
    let mut limits = tiff::decoder::Limits::default();
    // 16 bytes per pixel, but at least 1 MiB: a tiny image's strip buffers may be larger than its
    // pixels (a 1x1 image in a 8x8 tile, padding), which Pillow reads fine.
    limits.decoding_buffer_size = usize::try_from(pixels.saturating_mul(16))
        .unwrap_or(usize::MAX)
        .max(1 << 20);
    limits.intermediate_buffer_size = limits.decoding_buffer_size;
    let mut dec = dec.with_limits(limits);
    let color = dec.colortype().map_err(tiff_error)?;
    let unsupported = |what: String| DecodeError::Unsupported {
        format,
        detail: what,
    };
    let (mode, channels) = match color {
        T::Gray(1) => ("1", 1),
        T::Gray(8) => ("L", 1),
        T::Gray(16) => ("I;16", 1),
        T::RGB(8) | T::RGB(16) => ("RGB", 3),
        T::RGBA(8) | T::RGBA(16) => ("RGBA", 4),
        T::GrayA(8)
        | T::Multiband {
            bit_depth: 8,
            num_samples: 2,
        } => ("LA", 2),
        T::CMYK(8) => ("CMYK", 4),
        other => return Err(unsupported(format!("{other:?} samples"))),
    };
    // ExtraSamples = 1: premultiplied ("associated") alpha, which Pillow un-premultiplies.
    let premultiplied = mode == "RGBA"
        && dec
            .find_tag_unsigned_vec::<u16>(tiff::tags::Tag::ExtraSamples)
            .map_err(tiff_error)?
            .is_some_and(|e| e.first() == Some(&1));
    let result = dec.read_image().map_err(tiff_error)?;
    let (wu, hu) = (w as usize, h as usize);
    let short = || DecodeError::Corrupt {
        format,
        detail: String::from("fewer samples than the image size"),
    };
    let mut out = alloc_zeroed(pixels * 3)?;
    match result {
        tiff::decoder::DecodingResult::U8(v) if mode == "1" => {
            let row_bytes = wu.div_ceil(8);
            if v.len() < row_bytes * hu {
                return Err(short());
            }
            for (row, orow) in v.chunks_exact(row_bytes).zip(out.chunks_exact_mut(wu * 3)) {
                for (i, o) in orow.chunks_exact_mut(3).enumerate() {
                    o.fill(packed_sample(row, i, 1) * 255);
                }
            }
        }
        tiff::decoder::DecodingResult::U8(v) => {
            if v.len() < pixels as usize * channels {
                return Err(short());
            }
            for (o, p) in out.chunks_exact_mut(3).zip(v.chunks_exact(channels)) {
                match mode {
                    "L" | "LA" => o.fill(p[0]),
                    "CMYK" => o.copy_from_slice(&pillow_cmyk_to_rgb(p[0], p[1], p[2], p[3])),
                    // Pillow's `RGBa` unpacker: 0 where alpha is 0, else min(255, v * 255 / a).
                    "RGBA" if premultiplied && p[3] != 255 => {
                        let a = p[3] as u32;
                        for (oc, &v) in o.iter_mut().zip(&p[..3]) {
                            *oc = (v as u32 * 255)
                                .checked_div(a)
                                .map_or(0, |x| x.min(255) as u8);
                        }
                    }
                    _ => o.copy_from_slice(&p[..3]),
                }
            }
        }
        tiff::decoder::DecodingResult::U16(v) => {
            if premultiplied {
                return Err(unsupported(String::from(
                    "16-bit premultiplied (associated) alpha",
                )));
            }
            if v.len() < pixels as usize * channels {
                return Err(short());
            }
            for (o, p) in out.chunks_exact_mut(3).zip(v.chunks_exact(channels)) {
                if mode == "I;16" {
                    // Pillow's I;16 -> RGB clips to 255.
                    o.fill(p[0].min(255) as u8);
                } else {
                    // Pillow keeps the high byte of 16-bit RGB(A) samples.
                    o.copy_from_slice(&[(p[0] >> 8) as u8, (p[1] >> 8) as u8, (p[2] >> 8) as u8]);
                }
            }
        }
        _ => return Err(unsupported(String::from("sample format"))),
    }
    Ok(DecodedImage::full_size(w, h, out, format, mode))
}

// ---------------------------------------------------------------------------------------------
// BMP (own decoder, following Pillow 13's BmpImagePlugin)
// ---------------------------------------------------------------------------------------------

/// How the pixels of a BMP row are turned into RGB.
enum BmpPixels {
    /// 1/4/8-bit indices (MSB first) looked up in a 256-entry table (Pillow's `P`, `L` and `1`).
    Indexed { bits: u64, lut: Box<[[u8; 3]; 256]> },
    /// 16-bit little-endian words, 5 bits red at `r_shift`, `g_bits` green at 5, 5 blue at 0;
    /// each channel scaled with `v * 255 / max` truncated (Pillow's `BGR;15` / `BGR;16`).
    Packed16 { r_shift: u32, g_bits: u32 },
    /// `bpp` bytes a pixel, red/green/blue at these byte positions (alpha or padding ignored).
    Bytes { bpp: u64, rgb: [usize; 3] },
}

impl BmpPixels {
    fn bits(&self) -> u64 {
        match self {
            BmpPixels::Indexed { bits, .. } => *bits,
            BmpPixels::Packed16 { .. } => 16,
            BmpPixels::Bytes { bpp, .. } => bpp * 8,
        }
    }
}

fn le16(d: &[u8], at: usize) -> Option<u64> {
    d.get(at..at.checked_add(2)?)
        .map(|b| u16::from_le_bytes([b[0], b[1]]) as u64)
}

fn le32(d: &[u8], at: usize) -> Option<u64> {
    d.get(at..at.checked_add(4)?)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as u64)
}

/// Decodes a BMP like Pillow 13 (`BmpImagePlugin`): BITMAPCOREHEADER (OS/2 1.x), INFO, V2-V5
/// and OS/2 2.x headers; bottom-up and top-down (height's top byte 0xFF); BI_RGB 1/4/8-bit
/// palettes, 16-bit (5-5-5), 24-bit and 32-bit (4th byte ignored: Pillow opens it as RGB);
/// BI_BITFIELDS with exactly the masks Pillow accepts; RLE8 and RLE4 with Pillow's decoder rules.
fn decode_bmp(data: &[u8], options: &DecodeOptions) -> Result<DecodedImage, DecodeError> {
    let format = ImageFormat::Bmp;
    let truncated = |detail: String| DecodeError::Truncated { format, detail };
    let unsupported = |detail: String| DecodeError::Unsupported { format, detail };
    let (Some(offset), Some(header_size)) = (le32(data, 10), le32(data, 14)) else {
        return Err(truncated(format!(
            "{} bytes, shorter than the 18 bytes of the file header and the header size",
            data.len()
        )));
    };
    if ![12, 40, 52, 56, 64, 108, 124].contains(&header_size) {
        return Err(unsupported(format!("header type (size {header_size})")));
    }
    let header_end = 14 + header_size as usize;
    let Some(hd) = data.get(18..header_end) else {
        return Err(truncated(format!(
            "the {header_size}-byte info header ends at byte {header_end}, the data has {} bytes",
            data.len()
        )));
    };
    // Every field is in range: `hd` has at least 8 (core) or 36 (info) bytes.
    let field16 = |at: usize| le16(hd, at).unwrap_or(0);
    let field32 = |at: usize| le32(hd, at).unwrap_or(0);
    let mut pos = header_end;
    let (width, height, top_down, bits, compression, colors, padding);
    let mut masks = [0u64; 4];
    if header_size == 12 {
        (width, height, top_down) = (field16(0), field16(2), false);
        bits = field16(6);
        (compression, colors, padding) = (0, 0, 3u64);
    } else {
        top_down = hd[7] == 0xFF;
        width = field32(0);
        height = if top_down {
            (1u64 << 32) - field32(4)
        } else {
            field32(4)
        };
        bits = field16(10);
        compression = field32(12);
        colors = field32(28);
        padding = 4;
        if compression == 3 {
            if hd.len() >= 48 {
                for (i, m) in masks
                    .iter_mut()
                    .enumerate()
                    .take(if hd.len() >= 52 { 4 } else { 3 })
                {
                    *m = field32(36 + 4 * i);
                }
            } else {
                for (i, m) in masks.iter_mut().take(3).enumerate() {
                    *m = le32(data, pos + 4 * i).ok_or_else(|| {
                        truncated(String::from("the data ends inside the BI_BITFIELDS masks"))
                    })?;
                }
                pos += 12;
            }
        }
    }
    let colors = if colors == 0 && bits < 64 {
        1u64 << bits
    } else {
        colors
    };
    let mut offset = offset;
    if offset == header_end as u64 && bits <= 8 {
        offset += padding * colors;
    }
    if ![1, 4, 8, 16, 24, 32].contains(&bits) {
        return Err(unsupported(format!("pixel depth ({bits} bits)")));
    }
    let bgr = |bpp: u64| BmpPixels::Bytes {
        bpp,
        rgb: [2, 1, 0],
    };
    let mut rle = None;
    let mut pixels = match compression {
        0..=2 => match bits {
            16 => BmpPixels::Packed16 {
                r_shift: 10,
                g_bits: 5,
            },
            24 => bgr(3),
            32 => bgr(4),
            _ => BmpPixels::Indexed {
                bits,
                lut: Box::new([[0; 3]; 256]),
            },
        },
        3 => {
            let rgb = (masks[0], masks[1], masks[2]);
            let layout = match (bits, rgb, masks[3]) {
                (32, (0xFF0000, 0xFF00, 0xFF), 0 | 0xFF00_0000) => Some([2, 1, 0]),
                (32, (0xFF00_0000, 0xFF0000, 0xFF00), 0 | 0xFF) => Some([3, 2, 1]),
                (32, (0xFF00_0000, 0xFF00, 0xFF), 0 | 0xFF0000) => Some([3, 1, 0]),
                (32, (0xFF, 0xFF00, 0xFF0000), 0xFF00_0000) => Some([0, 1, 2]),
                (32, (0, 0, 0), 0) => Some([2, 1, 0]),
                (24, (0xFF0000, 0xFF00, 0xFF), _) => Some([2, 1, 0]),
                _ => None,
            };
            match (bits, layout, rgb) {
                (_, Some(rgb), _) => BmpPixels::Bytes { bpp: bits / 8, rgb },
                (16, None, (0xF800, 0x7E0, 0x1F)) => BmpPixels::Packed16 {
                    r_shift: 11,
                    g_bits: 6,
                },
                (16, None, (0x7C00, 0x3E0, 0x1F)) => BmpPixels::Packed16 {
                    r_shift: 10,
                    g_bits: 5,
                },
                _ => {
                    return Err(unsupported(format!(
                    "BI_BITFIELDS layout: {bits} bits with masks r={:#x} g={:#x} b={:#x} a={:#x}",
                    masks[0], masks[1], masks[2], masks[3]
                )))
                }
            }
        }
        _ => return Err(unsupported(format!("compression ({compression})"))),
    };
    if compression == 1 || compression == 2 {
        if bits > 8 {
            return Err(unsupported(format!(
                "RLE compression with {bits} bits a pixel (Pillow: unknown raw mode)"
            )));
        }
        rle = Some(compression == 2);
    }
    let mut mode = "RGB";
    if let BmpPixels::Indexed { bits, lut } = &mut pixels {
        if !(1..=65536).contains(&colors) {
            return Err(unsupported(format!("palette size ({colors} colors)")));
        }
        let p = padding as usize;
        let want = p * colors as usize;
        let start = pos.min(data.len());
        let palette = &data[start..(start + want).min(data.len())];
        pos = start + palette.len();
        let entry = |i: usize| {
            palette
                .get(i * p..)
                .map(|s| &s[..s.len().min(3)])
                .unwrap_or(&[])
        };
        let gray = (0..colors as usize).all(|i| {
            let v = if colors == 2 { [0u8, 255][i] } else { i as u8 };
            entry(i) == [v, v, v]
        });
        if gray && colors <= 2 {
            // Pillow's mode "1" with raw mode "1": 1-bit pixels whatever the depth.
            mode = "1";
            *bits = 1;
            for (i, e) in lut.iter_mut().enumerate() {
                *e = [if i == 0 { 0 } else { 255 }; 3];
            }
        } else if gray {
            // Mode "L" with raw mode "L": one byte a pixel whatever the depth.
            mode = "L";
            *bits = 8;
            for (i, e) in lut.iter_mut().enumerate() {
                *e = [i as u8; 3];
            }
        } else {
            mode = "P";
            let entries = palette.len() / p;
            if entries > 256 {
                return Err(DecodeError::Corrupt {
                    format,
                    detail: format!("palette of {entries} colors (Pillow: invalid palette size)"),
                });
            }
            for (e, c) in lut.iter_mut().zip(palette.chunks_exact(p)) {
                *e = [c[2], c[1], c[0]];
            }
        }
    }
    let npixels = check_size(format, width, height, options)?;
    let start = if offset != 0 { offset } else { pos as u64 };
    let (w, h) = (width as usize, height as usize);
    let mut out;
    if let Some(rle4) = rle {
        let indices = bmp_rle(data, start, w, npixels, rle4)?;
        out = alloc_zeroed(npixels * 3)?;
        let BmpPixels::Indexed { lut, .. } = &pixels else {
            return Err(unsupported(String::from("RLE without a palette")));
        };
        for (y, row) in indices.chunks_exact(w).enumerate() {
            let dst = if top_down { y } else { h - 1 - y };
            for (o, &i) in out[dst * w * 3..(dst + 1) * w * 3]
                .chunks_exact_mut(3)
                .zip(row)
            {
                o.copy_from_slice(&lut[i as usize]);
            }
        }
    } else {
        // Pillow's raw decoder: rows of `stride` bytes (the file's bit depth, padded to 4 bytes),
        // of which it unpacks `line` bytes; the last row needs no padding.
        let stride = ((width * bits + 31) >> 3) & !3;
        let line = (width * pixels.bits()).div_ceil(8);
        if line > stride {
            // A gray-ramp palette on a 1/4-bit image makes Pillow read bytes as 8-bit gray.
            return Err(DecodeError::Corrupt {
                format,
                detail: format!(
                    "rows of {stride} bytes cannot hold {line} bytes of mode {mode} pixels \
                     (Pillow: codec configuration error)"
                ),
            });
        }
        let step = stride;
        let need = (height - 1)
            .checked_mul(step)
            .and_then(|n| n.checked_add(line))
            .and_then(|n| n.checked_add(start));
        if need.is_none_or(|n| n > data.len() as u64) {
            return Err(truncated(format!(
                "{height} rows of {line} bytes (every {step} bytes) from byte {start} need {} bytes, the data has {}",
                need.map_or(String::from("more than 2^64"), |n| n.to_string()),
                data.len()
            )));
        }
        out = alloc_zeroed(npixels * 3)?;
        let (start, step, line) = (start as usize, step as usize, line as usize);
        for y in 0..h {
            let row = &data[start + y * step..start + y * step + line];
            let dst = if top_down { y } else { h - 1 - y };
            let orow = &mut out[dst * w * 3..(dst + 1) * w * 3];
            match &pixels {
                BmpPixels::Indexed { bits, lut } => {
                    let bits = *bits;
                    let per_byte = (8 / bits) as usize;
                    let mask = ((1u16 << bits) - 1) as u8;
                    for (x, o) in orow.chunks_exact_mut(3).enumerate() {
                        let shift = 8 - bits as usize * (x % per_byte + 1);
                        let i = (row[x / per_byte] >> shift) & mask;
                        o.copy_from_slice(&lut[i as usize]);
                    }
                }
                BmpPixels::Packed16 { r_shift, g_bits } => {
                    let gmax = (1u32 << g_bits) - 1;
                    for (o, p) in orow.chunks_exact_mut(3).zip(row.chunks_exact(2)) {
                        let v = u16::from_le_bytes([p[0], p[1]]) as u32;
                        o[0] = (((v >> r_shift) & 31) * 255 / 31) as u8;
                        o[1] = (((v >> 5) & gmax) * 255 / gmax) as u8;
                        o[2] = ((v & 31) * 255 / 31) as u8;
                    }
                }
                BmpPixels::Bytes { bpp, rgb } => {
                    for (o, p) in orow
                        .chunks_exact_mut(3)
                        .zip(row.chunks_exact(*bpp as usize))
                    {
                        o.copy_from_slice(&[p[rgb[0]], p[rgb[1]], p[rgb[2]]]);
                    }
                }
            }
        }
    }
    Ok(DecodedImage::full_size(
        width as u32,
        height as u32,
        out,
        format,
        mode,
    ))
}

/// Up to `n` bytes at `*at` (fewer at the end of the data), advancing `*at`.
fn rle_read<'a>(data: &'a [u8], n: usize, at: &mut usize) -> &'a [u8] {
    let from = (*at).min(data.len());
    let s = &data[from..from.saturating_add(n).min(data.len())];
    *at = from + s.len();
    s
}

/// Pillow's `BmpRleDecoder`: the indices of the image in file row order. Runs past the row end
/// are clipped, a delta fills with index 0, an absolute run is padded to an even *file* position.
/// Like Pillow, an image the stream does not fill completely (end of data or an early
/// end-of-bitmap) is an error.
fn bmp_rle(
    data: &[u8],
    start: u64,
    width: usize,
    npixels: u64,
    rle4: bool,
) -> Result<Vec<u8>, DecodeError> {
    let dest = usize::try_from(npixels).map_err(|_| DecodeError::OutOfMemory { bytes: npixels })?;
    // Reserved whole: the stream never writes past `dest`, so `out` never reallocates.
    let mut out: Vec<u8> = Vec::new();
    out.try_reserve_exact(dest)
        .map_err(|_| DecodeError::OutOfMemory { bytes: npixels })?;
    let mut at = usize::try_from(start).unwrap_or(usize::MAX).min(data.len());
    let mut x = 0usize;
    while out.len() < dest {
        let pair = rle_read(data, 2, &mut at);
        if pair.len() < 2 {
            break;
        }
        let (count, byte) = (pair[0] as usize, pair[1]);
        if count > 0 {
            let n = if x + count > width {
                width.saturating_sub(x)
            } else {
                count
            };
            if rle4 {
                out.extend((0..n).map(|i| if i % 2 == 0 { byte >> 4 } else { byte & 15 }));
            } else {
                out.extend(std::iter::repeat_n(byte, n));
            }
            x += n;
        } else if byte == 0 {
            let row_end = out.len().div_ceil(width) * width;
            out.resize(row_end, 0);
            x = 0;
        } else if byte == 1 {
            break;
        } else if byte == 2 {
            let d = rle_read(data, 2, &mut at);
            if d.len() < 2 {
                break;
            }
            let n = (d[0] as usize + d[1] as usize * width).min(dest - out.len());
            out.resize(out.len() + n, 0);
            x = out.len() % width;
        } else {
            let count = (dest - out.len()).min(byte as usize);
            let want = if rle4 { count.div_ceil(2) } else { count };
            let got = rle_read(data, want, &mut at);
            if rle4 {
                for (i, b) in got.iter().enumerate() {
                    out.push(b >> 4);
                    if i * 2 + 1 < count {
                        out.push(b & 15);
                    }
                }
            } else {
                out.extend_from_slice(got);
            }
            if got.len() < want || out.len() == dest {
                break;
            }
            x += byte as usize;
            if at % 2 != 0 {
                at += 1;
            }
        }
    }
    if out.len() < dest {
        return Err(DecodeError::Truncated {
            format: ImageFormat::Bmp,
            detail: format!(
                "the RLE data fills {} of {dest} pixels before it ends (Pillow: not enough image data)",
                out.len()
            ),
        });
    }
    out.truncate(dest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_file_refuses_what_is_not_a_regular_file_and_sniffs_first() {
        let t = std::time::Instant::now();
        let e = read_file(Path::new("/dev/zero")).unwrap_err();
        assert!(
            e.to_string()
                .contains("not a regular file (a character device)"),
            "{e}"
        );
        let dir = std::env::temp_dir().join(format!("igr-read-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let e = read_file(&dir).unwrap_err();
        assert!(e.to_string().contains("a directory"), "{e}");
        // a large file that is not an image: one small read, then decode says what it is
        let big = dir.join("big.png");
        std::fs::File::create(&big)
            .and_then(|f| f.set_len(3 << 30))
            .expect("sparse file");
        let head = read_file(&big).expect("head");
        assert_eq!(head.len(), SNIFF_BYTES);
        assert_eq!(
            decode(&head, &DecodeOptions::default()).unwrap_err().kind(),
            "unknown-format"
        );
        assert!(t.elapsed().as_secs_f64() < 1.0);
        // short files and real images are read whole
        std::fs::write(&big, b"GIF8").expect("write");
        assert_eq!(read_file(&big).expect("short"), b"GIF8");
        let png = b"\x89PNG\r\n\x1a\n0123456789abcdefghij";
        std::fs::write(&big, png).expect("write");
        assert_eq!(read_file(&big).expect("png"), png);
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }

    #[test]
    fn draft_scale_matches_pillow_rule() {
        assert_eq!(draft_scale(800, 600, (100, 75)), 8);
        assert_eq!(draft_scale(800, 600, (101, 75)), 4);
        assert_eq!(draft_scale(800, 600, (400, 300)), 2);
        assert_eq!(draft_scale(800, 600, (401, 300)), 1);
        assert_eq!(draft_scale(800, 600, (2000, 2000)), 1);
    }

    #[test]
    fn muldiv255_is_rounded_division() {
        for a in 0..256 {
            for b in 0..256 {
                let exact = (a * b) as f64 / 255.0;
                assert_eq!(muldiv255(a, b), exact.round() as i32, "{a} {b}");
            }
        }
    }

    #[test]
    fn empty_and_unknown() {
        let o = DecodeOptions::default();
        assert_eq!(decode(&[], &o).unwrap_err().kind(), "empty");
        let e = decode(b"<html>hello</html>", &o).unwrap_err();
        assert_eq!(e.kind(), "unknown-format");
        assert!(e.to_string().contains("3c 68 74 6d"), "{e}");
    }
    /// A 24x16 progressive 4:2:0 JPEG of a crop of skimage's astronaut photo, written by Pillow.
    const TINY_JPEG_HEX: &str = concat!(
        "ffd8ffe000104a46494600010100000100010000ffdb0043000a07070807060a0808080b0a0a0b0e18100e0d0d0e1d15",
        "161118231f2524221f2221262b372f26293429212230413134393b3e3e3e252e4449433c48373d3e3bffdb0043010a0b",
        "0b0e0d0e1c10101c3b2822283b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b",
        "3b3b3b3b3b3b3b3b3b3b3b3b3b3bffc20011080010001803012200021101031101ffc400180000020300000000000000",
        "0000000000000001030405ffc4001501010100000000000000000000000000000003ffda000c03010002100310000001",
        "7774a385d0c3ffc4001a100003000301000000000000000000000000010203041221ffda00080101000105025a5516e3",
        "ac91e1c9494927ffc40014110100000000000000000000000000000010ffda0008010301013f013fffc4001411010000",
        "0000000000000000000000000010ffda0008010201013f013fffc4001a10000202030000000000000000000000000111",
        "0210002141ffda0008010100063f0289326070e34ab66fffc40019100003010101000000000000000000000000013111",
        "2141ffda0008010100013f21ea11e226886ae0fc1646ae846a708fffda000c03010002000300000010fb0fffc4001511",
        "010100000000000000000000000000000100ffda0008010301013f1024bfffc400161100030000000000000000000000",
        "000000000131ffda0008010201013f107050ffc4001b10000202030100000000000000000000000111002141516131ff",
        "da0008010100013f1075048a407a5dec0002837a8a21601ab81ec2d9812acb73203ccfffd9",
    );

    fn tiny_jpeg() -> Vec<u8> {
        (0..TINY_JPEG_HEX.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&TINY_JPEG_HEX[i..i + 2], 16).unwrap())
            .collect()
    }

    /// A deterministic xorshift generator (no dev-dependency needed).
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n.max(1) as u64) as usize
        }
    }

    fn encode_png(
        w: u32,
        h: u32,
        color: png::ColorType,
        depth: png::BitDepth,
        data: &[u8],
        palette: Option<&[u8]>,
    ) -> Vec<u8> {
        let mut out = Vec::new();
        {
            let mut enc = png::Encoder::new(&mut out, w, h);
            enc.set_color(color);
            enc.set_depth(depth);
            if let Some(p) = palette {
                enc.set_palette(p.to_vec());
            }
            let mut writer = enc.write_header().unwrap();
            writer.write_image_data(data).unwrap();
        }
        out
    }

    /// Every truncation and many random mutations: never a panic, only images or errors.
    fn fuzz(data: &[u8], seed: u64) {
        let decoders = [JpegDecoder::ZuneJpeg, JpegDecoder::DEFAULT];
        for cut in 0..data.len() {
            for jpeg_decoder in decoders {
                let o = DecodeOptions {
                    jpeg_decoder,
                    ..DecodeOptions::default()
                };
                if let Ok(img) = decode(&data[..cut], &o) {
                    assert_eq!(img.data.len(), img.width as usize * img.height as usize * 3);
                }
            }
        }
        let mut rng = Rng(seed);
        for _ in 0..1500 {
            let mut m = data.to_vec();
            for _ in 0..1 + rng.below(6) {
                let i = rng.below(m.len());
                m[i] = rng.next() as u8;
            }
            if rng.below(4) == 0 {
                m.truncate(1 + rng.below(m.len()));
            }
            for jpeg_decoder in decoders {
                let o = DecodeOptions {
                    jpeg_decoder,
                    draft: Some((4, 4)),
                    max_pixels: Some(1 << 22),
                };
                if let Ok(img) = decode(&m, &o) {
                    assert_eq!(img.data.len(), img.width as usize * img.height as usize * 3);
                }
            }
        }
    }

    #[test]
    fn jpeg_decodes_and_survives_fuzzing() {
        let data = tiny_jpeg();
        let img = decode(&data, &DecodeOptions::default()).unwrap();
        assert_eq!((img.width, img.height, img.source_mode), (24, 16, "RGB"));
        let zune = decode(
            &data,
            &DecodeOptions {
                jpeg_decoder: JpegDecoder::ZuneJpeg,
                ..DecodeOptions::default()
            },
        )
        .unwrap();
        assert_eq!((zune.width, zune.height), (24, 16));
        assert!(img
            .data
            .iter()
            .zip(&zune.data)
            .all(|(a, b)| a.abs_diff(*b) <= 8));
        for cut in [3, 20, data.len() / 2, data.len() - 1] {
            let e = decode(&data[..cut], &DecodeOptions::default()).unwrap_err();
            assert_eq!(e.kind(), "truncated", "{cut}: {e}");
        }
        fuzz(&data, 0x9E37_79B9_7F4A_7C15);
    }

    #[test]
    fn png_all_color_types_and_depths_follow_pillow_rules() {
        use png::{BitDepth as D, ColorType as C};
        let (w, h) = (5u32, 3u32);
        // 8-bit gray and RGB
        let gray: Vec<u8> = (0..15).map(|i| (i * 17) as u8).collect();
        let img = decode(
            &encode_png(w, h, C::Grayscale, D::Eight, &gray, None),
            &DecodeOptions::default(),
        )
        .unwrap();
        assert_eq!(img.source_mode, "L");
        assert!(img.data.chunks(3).zip(&gray).all(|(p, &g)| p == [g, g, g]));
        // 16-bit gray: Pillow clips to 255
        let g16: Vec<u8> = [
            0u16, 1, 255, 256, 4660, 65535, 7, 8, 9, 10, 11, 12, 13, 14, 300,
        ]
        .iter()
        .flat_map(|v| v.to_be_bytes())
        .collect();
        let img = decode(
            &encode_png(w, h, C::Grayscale, D::Sixteen, &g16, None),
            &DecodeOptions::default(),
        )
        .unwrap();
        assert_eq!(img.source_mode, "I;16");
        let firsts: Vec<u8> = img.data.chunks(3).map(|p| p[0]).collect();
        assert_eq!(&firsts[..6], &[0, 1, 255, 255, 255, 255]);
        // 16-bit RGBA: high bytes, alpha dropped
        let rgba16: Vec<u8> = (0..15 * 8).map(|i| (i * 7) as u8).collect();
        let img = decode(
            &encode_png(w, h, C::Rgba, D::Sixteen, &rgba16, None),
            &DecodeOptions::default(),
        )
        .unwrap();
        assert_eq!(&img.data[..3], &[rgba16[0], rgba16[2], rgba16[4]]);
        // 2-bit palette with a 2-entry palette: index 2 and 3 are black
        let packed = vec![
            0b0001_1011u8,
            0b1100_0000,
            0b0110_1100,
            0b0100_0000,
            0b1110_0100,
            0b0000_0000,
        ];
        let plte = [10u8, 20, 30, 40, 50, 60];
        let img = decode(
            &encode_png(w, h, C::Indexed, D::Two, &packed, Some(&plte)),
            &DecodeOptions::default(),
        )
        .unwrap();
        assert_eq!(img.source_mode, "P");
        assert_eq!(
            &img.data[..15],
            &[10, 20, 30, 40, 50, 60, 0, 0, 0, 0, 0, 0, 0, 0, 0]
        );
        // 1-bit gray: 0 / 255
        let bits = vec![0b1010_0000u8, 0b0100_0000, 0b1111_1000];
        let img = decode(
            &encode_png(w, h, C::Grayscale, D::One, &bits, None),
            &DecodeOptions::default(),
        )
        .unwrap();
        assert_eq!(img.source_mode, "1");
        let firsts: Vec<u8> = img.data.chunks(3).map(|p| p[0]).collect();
        assert_eq!(
            firsts,
            [255, 0, 255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255, 255]
        );
    }

    #[test]
    fn png_survives_fuzzing() {
        let (w, h) = (9u32, 7u32);
        let rgba: Vec<u8> = (0..w * h * 4).map(|i| (i * 31 % 251) as u8).collect();
        fuzz(
            &encode_png(
                w,
                h,
                png::ColorType::Rgba,
                png::BitDepth::Eight,
                &rgba,
                None,
            ),
            7,
        );
        let idx: Vec<u8> = (0..w * h).map(|i| (i % 5) as u8).collect();
        fuzz(
            &encode_png(
                w,
                h,
                png::ColorType::Indexed,
                png::BitDepth::Eight,
                &idx,
                Some(&[1, 2, 3, 4, 5, 6]),
            ),
            8,
        );
    }

    #[test]
    fn gif_survives_fuzzing() {
        // 3x2 GIF, global 4-color palette, LZW min code size 2, one frame.
        let mut g = b"GIF89a\x03\x00\x02\x00\x81\x00\x00".to_vec();
        g.extend_from_slice(&[255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255]);
        g.extend_from_slice(b",\x00\x00\x00\x00\x03\x00\x02\x00\x00\x02");
        // codes (3 bits): clear(4) 0 1 2 3 0 1 end(5)
        let codes = [4u32, 0, 1, 2, 3, 0, 1, 5];
        let widths = [3u32, 3, 3, 3, 4, 4, 4, 4];
        let (mut acc, mut n, mut bytes) = (0u32, 0u32, Vec::new());
        for (c, b) in codes.iter().zip(widths) {
            acc |= c << n;
            n += b;
            while n >= 8 {
                bytes.push(acc as u8);
                acc >>= 8;
                n -= 8;
            }
        }
        if n > 0 {
            bytes.push(acc as u8);
        }
        g.push(bytes.len() as u8);
        g.extend_from_slice(&bytes);
        g.extend_from_slice(b"\x00;");
        let img = decode(&g, &DecodeOptions::default()).unwrap();
        assert_eq!((img.width, img.height, img.source_mode), (3, 2, "P"));
        assert_eq!(
            img.data,
            [255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255, 255, 0, 0, 0, 255, 0]
        );
        fuzz(&g, 9);
    }

    #[test]
    fn webp_lossless_roundtrip_and_fuzzing() {
        let (w, h) = (11u32, 6u32);
        let rgb: Vec<u8> = (0..w * h * 3).map(|i| (i * 37 % 253) as u8).collect();
        let mut webp = Vec::new();
        image_webp::WebPEncoder::new(&mut webp)
            .encode(&rgb, w, h, image_webp::ColorType::Rgb8)
            .unwrap();
        let img = decode(&webp, &DecodeOptions::default()).unwrap();
        assert_eq!(
            (img.width, img.height, img.format),
            (w, h, ImageFormat::WebP)
        );
        assert_eq!(img.data, rgb);
        fuzz(&webp, 10);
    }

    #[test]
    fn tiff_roundtrip_and_fuzzing() {
        use tiff::encoder::{colortype, TiffEncoder};
        let (w, h) = (13u32, 5u32);
        let rgb: Vec<u8> = (0..w * h * 3).map(|i| (i * 29 % 251) as u8).collect();
        let mut cursor = Cursor::new(Vec::new());
        TiffEncoder::new(&mut cursor)
            .unwrap()
            .write_image::<colortype::RGB8>(w, h, &rgb)
            .unwrap();
        let data = cursor.into_inner();
        let img = decode(&data, &DecodeOptions::default()).unwrap();
        assert_eq!(
            (img.width, img.height, img.format),
            (w, h, ImageFormat::Tiff)
        );
        assert_eq!(img.data, rgb);
        fuzz(&data, 11);
    }

    #[test]
    fn bomb_refused_from_the_header() {
        let mut p = b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR".to_vec();
        p.extend_from_slice(&60_000u32.to_be_bytes());
        p.extend_from_slice(&60_000u32.to_be_bytes());
        p.extend_from_slice(&[8, 2, 0, 0, 0, 0, 0, 0, 0]);
        let e = decode(&p, &DecodeOptions::default()).unwrap_err();
        assert_eq!(e.kind(), "too-many-pixels", "{e}");
        let e = decode(
            &p,
            &DecodeOptions {
                max_pixels: None,
                ..DecodeOptions::default()
            },
        )
        .unwrap_err();
        assert_ne!(e.kind(), "too-many-pixels");
        let mut z = p.clone();
        z[16..20].copy_from_slice(&0u32.to_be_bytes());
        assert_eq!(
            decode(&z, &DecodeOptions::default()).unwrap_err().kind(),
            "zero-size"
        );
    }

    /// A BMP with a 40-byte (or larger, zero-filled) info header; `masks` follow the 40 bytes.
    #[allow(clippy::too_many_arguments)]
    fn bmp_file(
        w: i32,
        h: i32,
        bits: u16,
        compression: u32,
        colors: u32,
        header_size: u32,
        masks: &[u32],
        palette: &[u8],
        pixels: &[u8],
    ) -> Vec<u8> {
        let mut info = Vec::new();
        info.extend_from_slice(&header_size.to_le_bytes());
        info.extend_from_slice(&w.to_le_bytes());
        info.extend_from_slice(&h.to_le_bytes());
        info.extend_from_slice(&1u16.to_le_bytes());
        info.extend_from_slice(&bits.to_le_bytes());
        info.extend_from_slice(&compression.to_le_bytes());
        info.extend_from_slice(&(pixels.len() as u32).to_le_bytes());
        info.extend_from_slice(&[0; 8]);
        info.extend_from_slice(&colors.to_le_bytes());
        info.extend_from_slice(&[0; 4]);
        for m in masks {
            info.extend_from_slice(&m.to_le_bytes());
        }
        if info.len() < header_size as usize {
            info.resize(header_size as usize, 0);
        }
        let off = (14 + info.len() + palette.len()) as u32;
        let mut f = b"BM".to_vec();
        f.extend_from_slice(&(off + pixels.len() as u32).to_le_bytes());
        f.extend_from_slice(&[0; 4]);
        f.extend_from_slice(&off.to_le_bytes());
        f.extend_from_slice(&info);
        f.extend_from_slice(palette);
        f.extend_from_slice(pixels);
        f
    }

    #[test]
    fn bmp_24_bit_both_row_orders_and_sniffing() {
        // 3x2 image, rows padded to 12 bytes; pixel (x, y) = (10x + y, 100 + x, 200 + y) as RGB
        let rgb = |x: u8, y: u8| [10 * x + y, 100 + x, 200 + y];
        let row = |y: u8| {
            let mut r: Vec<u8> = (0..3)
                .flat_map(|x| {
                    let [r, g, b] = rgb(x, y);
                    [b, g, r]
                })
                .collect();
            r.resize(12, 0);
            r
        };
        let bottom_up: Vec<u8> = [row(1), row(0)].concat();
        let top_down: Vec<u8> = [row(0), row(1)].concat();
        let want: Vec<u8> = (0..2)
            .flat_map(|y| (0..3).flat_map(move |x| rgb(x, y)))
            .collect();
        for (h, px, hs) in [
            (2, &bottom_up, 40),
            (-2, &top_down, 40),
            (2, &bottom_up, 124),
            (-2, &top_down, 108),
        ] {
            let f = bmp_file(3, h, 24, 0, 0, hs, &[], &[], px);
            assert_eq!(ImageFormat::sniff(&f), Some(ImageFormat::Bmp));
            let img = decode(&f, &DecodeOptions::default()).unwrap();
            assert_eq!(
                (img.width, img.height, img.format.name(), img.source_mode),
                (3, 2, "BMP", "RGB")
            );
            assert_eq!(img.data, want, "height {h}, header {hs}");
        }
        // the last row needs no padding; one byte less is truncated
        let f = bmp_file(3, 2, 24, 0, 0, 40, &[], &[], &bottom_up);
        assert!(decode(&f[..f.len() - 3], &DecodeOptions::default()).is_ok());
        let e = decode(&f[..f.len() - 4], &DecodeOptions::default()).unwrap_err();
        assert_eq!(e.kind(), "truncated", "{e}");
        fuzz(&f, 0x1234_5678);
    }

    #[test]
    fn bmp_16_bit_scales_like_pillow() {
        // Pillow's BGR;15 / BGR;16 unpackers: v * 255 / max, truncated
        let words: Vec<u16> = vec![0x0000, 0xFFFF, 0x7C00, 0x03E0, 0x001F, 0x1234];
        let px: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
        for (masks, r_shift, g_bits) in [
            (&[0x7C00u32, 0x3E0, 0x1F][..], 10, 5),
            (&[0xF800, 0x7E0, 0x1F][..], 11, 6),
            (&[][..], 10, 5),
        ] {
            let comp = if masks.is_empty() { 0 } else { 3 };
            let f = bmp_file(6, 1, 16, comp, 0, 40, masks, &[], &px);
            let img = decode(&f, &DecodeOptions::default()).unwrap();
            for (p, &w) in img.data.chunks(3).zip(&words) {
                let w = w as u32;
                let gmax = (1 << g_bits) - 1;
                let want = [
                    ((w >> r_shift) & 31) * 255 / 31,
                    ((w >> 5) & gmax) * 255 / gmax,
                    (w & 31) * 255 / 31,
                ];
                assert_eq!(p, want.map(|v| v as u8), "{w:#x} {masks:?}");
            }
        }
        let e = decode(
            &bmp_file(6, 1, 16, 3, 0, 40, &[0xF00, 0xF0, 0xF], &[], &px),
            &DecodeOptions::default(),
        )
        .unwrap_err();
        assert_eq!(e.kind(), "unsupported", "{e}");
        assert!(e.to_string().contains("BI_BITFIELDS"), "{e}");
    }

    #[test]
    fn bmp_palettes_rle_and_errors() {
        // 4-bit, 3 colors: indices past the palette are black
        let pal = [1, 2, 3, 0, 4, 5, 6, 0, 7, 8, 9, 0];
        let f = bmp_file(4, 1, 4, 0, 3, 40, &[], &pal, &[0x01, 0x2F]);
        let img = decode(&f, &DecodeOptions::default()).unwrap();
        assert_eq!(img.source_mode, "P");
        assert_eq!(img.data, [3, 2, 1, 6, 5, 4, 9, 8, 7, 0, 0, 0]);
        // 1-bit black/white palette: Pillow's mode "1"
        let f = bmp_file(
            10,
            1,
            1,
            0,
            2,
            40,
            &[],
            &[0, 0, 0, 0, 255, 255, 255, 0],
            &[0b1010_0000, 0b0100_0000, 0, 0],
        );
        let img = decode(&f, &DecodeOptions::default()).unwrap();
        assert_eq!(img.source_mode, "1");
        let on: Vec<bool> = img.data.chunks(3).map(|p| p[0] == 255).collect();
        assert_eq!(
            on,
            [true, false, true, false, false, false, false, false, false, true]
        );
        // RLE8: a clipped run, end of line, an absolute run (padded to an even offset), end of line
        let rle = [9, 1, 0, 0, 0, 3, 2, 0, 1, 0, 0, 0];
        let f = bmp_file(4, 2, 8, 1, 3, 40, &[], &pal, &rle);
        let img = decode(&f, &DecodeOptions::default()).unwrap();
        let idx = |i: usize| {
            if i < 3 {
                [pal[4 * i + 2], pal[4 * i + 1], pal[4 * i]]
            } else {
                [0; 3]
            }
        };
        let want: Vec<u8> = [2, 0, 1, 0, 1, 1, 1, 1]
            .iter()
            .flat_map(|&i| idx(i))
            .collect();
        assert_eq!(img.data, want);
        fuzz(&f, 42);
        // an RLE stream that does not fill the image is refused, as Pillow does
        let e = decode(
            &bmp_file(4, 2, 8, 1, 3, 40, &[], &pal, &[4, 1, 0, 1]),
            &DecodeOptions::default(),
        )
        .unwrap_err();
        assert_eq!(e.kind(), "truncated", "{e}");
        // unsupported depth, compression and header; bomb guard before reading any pixels
        let o = DecodeOptions::default();
        for (f, what) in [
            (
                bmp_file(4, 2, 2, 0, 0, 40, &[], &[], &[0; 8]),
                "pixel depth",
            ),
            (
                bmp_file(4, 2, 24, 4, 0, 40, &[], &[], &[0; 8]),
                "compression",
            ),
            (
                bmp_file(4, 2, 24, 0, 0, 20, &[], &[], &[0; 8]),
                "header type",
            ),
        ] {
            let e = decode(&f, &o).unwrap_err();
            assert_eq!(e.kind(), "unsupported", "{e}");
            assert!(e.to_string().contains(what), "{e}");
        }
        let e = decode(
            &bmp_file(100_000, 100_000, 24, 0, 0, 40, &[], &[], &[0; 8]),
            &o,
        )
        .unwrap_err();
        assert_eq!(e.kind(), "too-many-pixels", "{e}");
        let e = decode(b"BM\x10\0", &o).unwrap_err();
        assert_eq!(e.kind(), "truncated", "{e}");
        fuzz(
            &bmp_file(
                5,
                3,
                32,
                3,
                0,
                108,
                &[0xFF, 0xFF00, 0xFF0000, 0xFF00_0000],
                &[],
                &[7; 60],
            ),
            7,
        );
    }
}

//! What each fuzz target checks, one function per target (`fuzz_targets/<target>.rs` calls it).
//!
//! A finding is a panic (libfuzzer-sys turns every panic into an abort, even one that `decode` or
//! `decode_rows` would catch and report as an error), an abort (an infallible allocation that fails),
//! a sanitizer report, an input slower than `-timeout` or an allocation past `-malloc_limit_mb`.
//! Beyond "never panic", the checks below are properties the code documents (the RGB buffer's size,
//! the pixel limit, the draft size) or that two paths must agree on (the streaming and whole-image
//! decoders, the PNG fast path and the `png` crate, parallel, serial and row-fed resizes).
//!
//! Only public paths of `imagegpt_core` are used.

use std::io::Cursor;
use std::sync::Arc;

use imagegpt_core::config::{validate_imagegpt_config, validated_fields, Value};
use imagegpt_core::decode::{self, DecodeOptions, DecodedImage, ImageFormat, JpegDecoder, RgbRows};
use imagegpt_core::decode::png::scanlines::{read_scanlines, Scanlines};
use imagegpt_core::resize::{cached_plan, Filter, ImageView, PillowCompat, ResizePlan, RowResizer};
use imagegpt_core::tar::index_tar;

/// Pixel limit of every decode: small enough that a bomb-sized header is refused at once (as the
/// default limit does in production), large enough for what 4 KB of compressed input can hold.
pub const MAX_PIXELS: u64 = 1 << 22;

fn options(data: &[u8], jpeg_decoder: JpegDecoder) -> DecodeOptions {
    DecodeOptions {
        max_pixels: Some(MAX_PIXELS),
        // JPEG: sometimes a DCT-domain draft (the other formats ignore it)
        draft: data.len().is_multiple_of(7).then_some((8, 8)),
        jpeg_decoder,
    }
}

/// The documented properties of a decoded image.
fn check_image(img: &DecodedImage, format: ImageFormat, opts: &DecodeOptions) {
    assert_eq!(img.format, format, "format");
    let (w, h) = (img.width as usize, img.height as usize);
    assert!(w > 0 && h > 0, "zero size {w}x{h}");
    assert_eq!(img.data.len(), w * h * 3, "RGB buffer of a {w}x{h} image");
    let (ow, oh) = img.original_size;
    assert!(
        u64::from(ow) * u64::from(oh) <= MAX_PIXELS,
        "{ow}x{oh} past the pixel limit"
    );
    let s = img.draft_scale;
    if opts.draft.is_none() || format != ImageFormat::Jpeg {
        assert_eq!(s, 1, "draft scale without a draft");
    }
    assert!(matches!(s, 1 | 2 | 4 | 8), "draft scale {s}");
    assert_eq!(
        (img.width, img.height),
        (ow.div_ceil(s), oh.div_ceil(s)),
        "draft size"
    );
}

/// Collects what `decode_rows` sends, checking the protocol (`start` once, then whole rows).
struct Collect {
    size: Option<(usize, usize)>,
    data: Vec<u8>,
}

impl RgbRows for Collect {
    fn start(&mut self, width: usize, height: usize) -> bool {
        assert!(self.size.is_none(), "start called twice");
        self.size = Some((width, height));
        true
    }
    fn rows(&mut self, rgb: &[u8]) -> bool {
        let (w, h) = self.size.expect("rows before start");
        assert_eq!(rgb.len() % (w * 3), 0, "partial row");
        self.data.extend_from_slice(rgb);
        assert!(self.data.len() <= w * h * 3, "more rows than the image has");
        true
    }
}

/// `decode_rows` must give exactly `decode`'s pixels whenever it says it succeeded.
fn check_rows(
    data: &[u8],
    opts: &DecodeOptions,
    whole: &Result<DecodedImage, decode::DecodeError>,
) {
    let mut sink = Collect {
        size: None,
        data: Vec::new(),
    };
    if decode::decode_rows(data, opts, &mut sink) {
        let img = whole
            .as_ref()
            .expect("decode_rows succeeded where decode fails");
        assert_eq!(
            sink.size,
            Some((img.width as usize, img.height as usize)),
            "row size"
        );
        assert!(
            sink.data == img.data,
            "decode_rows pixels differ from decode's"
        );
    }
}

/// Targets `jpeg`, `png`, `gif`, `webp`, `tiff`, `bmp`: `decode` of bytes that start like `format`
/// (other inputs are skipped, so that each target stays on its decoder). JPEG runs both decoders
/// (libjpeg-turbo with or without a draft, and zune-jpeg) and checks the streaming path against
/// the whole-image decode.
pub fn decode_as(format: ImageFormat, data: &[u8]) {
    if ImageFormat::sniff(data) != Some(format) {
        return;
    }
    let opts = options(data, JpegDecoder::DEFAULT);
    let whole = decode::decode(data, &opts);
    if let Ok(img) = &whole {
        check_image(img, format, &opts);
    }
    if format == ImageFormat::Jpeg {
        let full = DecodeOptions {
            draft: None,
            ..opts
        };
        let whole = if opts.draft.is_some() {
            decode::decode(data, &full)
        } else {
            whole
        };
        check_rows(data, &full, &whole);
        let zune = options(data, JpegDecoder::ZuneJpeg);
        if let Ok(img) = decode::decode(data, &zune) {
            // zune-jpeg ignores the draft: the checks without one (draft scale 1)
            check_image(
                &img,
                format,
                &DecodeOptions {
                    draft: None,
                    ..zune
                },
            );
        }
    }
}

/// Target `png_rows`, the PNG fast path (`png_scanlines`): on a PNG file, `decode_rows` against
/// `decode`, and `read_scanlines` against the `png` crate's unfiltered rows. Any other input is
/// taken as raw filtered scanlines (see [`synth_png`]) wrapped into a valid PNG, so that mutations
/// reach the filter types and pixel bytes directly instead of through deflate.
pub fn png_rows(data: &[u8]) {
    let built;
    let data = if ImageFormat::sniff(data) == Some(ImageFormat::Png) {
        data
    } else {
        match synth_png(data) {
            Some(png) => {
                built = png;
                &built[..]
            }
            None => return,
        }
    };
    let opts = options(data, JpegDecoder::DEFAULT);
    let whole = decode::decode(data, &opts);
    if let Ok(img) = &whole {
        check_image(img, ImageFormat::Png, &opts);
    }
    check_rows(data, &opts, &whole);
    check_scanlines(data);
}

/// `read_scanlines` (the SIMD unfiltering) must give the `png` crate's bytes whenever both succeed.
fn check_scanlines(data: &[u8]) {
    let mut decoder =
        png::Decoder::new_with_limits(Cursor::new(data), png::Limits { bytes: 64 << 20 });
    decoder.set_transformations(png::Transformations::IDENTITY);
    // The fast path does not check chunk CRCs (neither does Pillow); compare on CRC-damaged files too.
    decoder.ignore_checksums(true);
    let Ok(mut reader) = decoder.read_info() else {
        return;
    };
    let info = reader.info();
    let (w, h) = (info.width as usize, info.height as usize);
    if info.interlaced || (w as u64) * (h as u64) > MAX_PIXELS {
        return;
    }
    let Some(shape) = Scanlines::new(w, h, info.color_type.samples(), info.bit_depth as usize)
    else {
        return;
    };
    let Some(size) = reader.output_buffer_size() else {
        return;
    };
    if size != shape.row_bytes * h {
        return;
    }
    let mut fast = vec![0u8; size];
    if read_scanlines(data, shape, &mut fast).is_none() {
        return;
    }
    let mut slow = vec![0u8; size];
    match reader.next_frame(&mut slow) {
        Ok(out)
            if out.width as usize == w
                && out.height as usize == h
                && out.line_size == shape.row_bytes =>
        {
            assert!(
                fast == slow,
                "png_scanlines rows differ from the png crate's ({w}x{h}, {shape:?})"
            );
        }
        _ => {}
    }
}

/// A PNG built from fuzz bytes: `[width, height, kind, ...filtered scanlines]`, with `kind` picking
/// the color type and bit depth, the scanlines (filter byte + row) padded with zeros to the size the
/// header needs, stored in an uncompressed zlib stream split into two IDAT chunks.
pub fn synth_png(data: &[u8]) -> Option<Vec<u8>> {
    let (&[w, h, kind], rest) = data.split_first_chunk::<3>()?;
    // (color type, bit depth, samples)
    const KINDS: [(u8, u8, usize); 12] = [
        (0, 1, 1),
        (0, 2, 1),
        (0, 4, 1),
        (0, 8, 1),
        (0, 16, 1),
        (2, 8, 3),
        (2, 16, 3),
        (3, 4, 1),
        (3, 8, 1),
        (4, 8, 2),
        (6, 8, 4),
        (6, 16, 4),
    ];
    let (color, depth, samples) = KINDS[kind as usize % KINDS.len()];
    let (w, h) = (1 + usize::from(w), 1 + usize::from(h) % 64);
    let row = (w * samples * usize::from(depth)).div_ceil(8);
    let mut raw = rest.to_vec();
    raw.resize((row + 1) * h, 0);
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&(w as u32).to_be_bytes());
    ihdr.extend_from_slice(&(h as u32).to_be_bytes());
    ihdr.extend_from_slice(&[depth, color, 0, 0, 0]);
    chunk(&mut png, b"IHDR", &ihdr);
    if color == 3 {
        let palette: Vec<u8> = (0..=255u8)
            .flat_map(|i| [i, i.wrapping_mul(7), !i])
            .collect();
        chunk(&mut png, b"PLTE", &palette);
    }
    let z = zlib_stored(&raw);
    let cut = kind as usize % (z.len() + 1);
    chunk(&mut png, b"IDAT", &z[..cut]);
    chunk(&mut png, b"IDAT", &z[cut..]);
    chunk(&mut png, b"IEND", &[]);
    Some(png)
}

fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], body: &[u8]) {
    out.extend_from_slice(&(body.len() as u32).to_be_bytes());
    out.extend_from_slice(kind);
    out.extend_from_slice(body);
    out.extend_from_slice(&crc32(&[kind, body]).to_be_bytes());
}

/// CRC-32 (ISO-HDLC, as PNG), bit by bit: the inputs are small.
fn crc32(parts: &[&[u8]]) -> u32 {
    let mut c = !0u32;
    for &b in parts.iter().flat_map(|p| p.iter()) {
        c ^= u32::from(b);
        for _ in 0..8 {
            c = if c & 1 == 1 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
        }
    }
    !c
}

/// A zlib stream of stored (uncompressed) deflate blocks, with its Adler-32.
fn zlib_stored(data: &[u8]) -> Vec<u8> {
    let mut z = vec![0x78, 0x01];
    let blocks: Vec<&[u8]> = if data.is_empty() {
        vec![&[]]
    } else {
        data.chunks(0xFFFF).collect()
    };
    for (i, block) in blocks.iter().enumerate() {
        z.push(u8::from(i + 1 == blocks.len()));
        let n = block.len() as u16;
        z.extend_from_slice(&n.to_le_bytes());
        z.extend_from_slice(&(!n).to_le_bytes());
        z.extend_from_slice(block);
    }
    let (mut a, mut b) = (1u32, 0u32);
    for &x in data {
        a = (a + u32::from(x)) % 65521;
        b = (b + a) % 65521;
    }
    z.extend_from_slice(&((b << 16) | a).to_be_bytes());
    z
}

/// Target `resize`: a random geometry, filter, channel count and Pillow version from the first 8
/// bytes, pixels from the rest; the parallel, serial and row-fed resizes must agree.
pub fn resize(data: &[u8]) {
    let Some((head, tail)) = data.split_first_chunk::<8>() else {
        return;
    };
    let w = 1 + head[0] as usize % 64 * (1 + head[4] as usize % 4);
    let h = 1 + head[1] as usize % 48;
    let ow = 1 + head[2] as usize % 80;
    let oh = 1 + head[3] as usize % 40;
    let filter = Filter::ALL[head[5] as usize % Filter::ALL.len()];
    let c = [1, 3, 4][head[6] as usize % 3];
    let compat = [
        PillowCompat::V12Legacy,
        PillowCompat::V12,
        PillowCompat::V13,
    ][head[7] as usize % 3];
    let px: Vec<u8> = if tail.is_empty() {
        vec![0; w * h * c]
    } else {
        (0..w * h * c)
            .map(|i| tail[i % tail.len()].wrapping_mul(i as u8 | 1))
            .collect()
    };
    let img = ImageView::new(&px, w, h, c).expect("view");
    let plan = ResizePlan::new(w, h, ow, oh, filter, compat).expect("plan");
    let a = plan.run(&img, true).expect("parallel");
    assert_eq!(a.len(), ow * oh * c, "output size");
    let b = plan.run(&img, false).expect("serial");
    assert!(a == b, "parallel and serial resizes differ");
    let shared = cached_plan(w, h, ow, oh, filter, compat).expect("cached plan");
    if let Some(mut rows) = RowResizer::new(Arc::clone(&shared), c).expect("row resizer") {
        let stride = w * c;
        let mut y = 0;
        while y < h {
            let n = (1 + (y * 7 + usize::from(head[0])) % 5).min(h - y);
            rows.push(&px[y * stride..(y + n) * stride]).expect("push");
            y += n;
        }
        assert!(
            rows.finish().expect("finish") == a,
            "row-fed resize differs"
        );
    }
}

/// Target `config`: config fields built from the bytes (a field name and a value of any type per
/// 10 bytes); the rules must answer, never panic, and name the field and rule of each violation.
pub fn config(data: &[u8]) {
    let names: Vec<&str> = validated_fields().collect();
    let mut fields = Vec::new();
    for rec in data.chunks(10) {
        let [n, t, raw @ ..] = rec else { break };
        let name = names[usize::from(*n) % names.len()].to_owned();
        let mut b = [0u8; 8];
        b[..raw.len()].copy_from_slice(raw);
        let value = match t % 8 {
            0 => Value::None,
            1 => Value::Bool(b[0] & 1 == 1),
            2 => Value::Int(i64::from_le_bytes(b)),
            3 => Value::Float(f64::from_le_bytes(b)),
            4 => Value::BigInt(format!(
                "{}{}",
                u64::from_le_bytes(b),
                u64::from_le_bytes(b)
            )),
            5 => Value::Str(String::from_utf8_lossy(raw).into_owned()),
            6 => Value::List(
                (0..b[0] % 5)
                    .map(|k| Value::Int(i64::from(b[usize::from(k)])))
                    .collect(),
            ),
            _ => Value::Other {
                repr: format!("{b:?}"),
                type_name: "bytes".into(),
            },
        };
        fields.push((name, value));
    }
    for v in validate_imagegpt_config(&fields) {
        assert!(
            !v.field.is_empty() && !v.rule.is_empty(),
            "violation without field or rule: {v:?}"
        );
    }
}

/// Target `tar`: the WebDataset tar reader on any bytes; every member it lists lies inside the
/// archive, after its 512-byte header, in archive order.
pub fn tar(data: &[u8]) {
    let len = data.len() as u64;
    let index = index_tar(Cursor::new(data), len);
    let mut end = 0u64;
    for m in &index.members {
        assert!(
            m.offset >= end + 512 && m.offset.is_multiple_of(512),
            "member {m:?} after byte {end}"
        );
        end = m
            .offset
            .checked_add(m.size)
            .expect("offset + size overflows");
        assert!(end <= len, "member {m:?} past the end ({len} bytes)");
    }
}

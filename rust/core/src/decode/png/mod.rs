//! PNG: Pillow's header checks (size before allocation, chunk CRCs before the image data), the
//! `png` crate's reader for interlaced and damaged files, Pillow's conversions of every color
//! type and bit depth to RGB, and the streamed rows of [`decode_rows`](super::decode_rows).
//! The fast path for well-formed pixel data is in `scanlines.rs`.

pub mod scanlines;

use std::io::Cursor;

use scanlines::{chunks as png_chunks, for_each_rows, read_scanlines, Scanlines};

use super::convert::packed_sample;
use super::limits::{alloc_zeroed, check_size};
use super::{DecodeError, DecodeOptions, DecodedImage, ImageFormat, RgbRows};

/// The CRC-32 of a chunk (ISO-HDLC, as PNG uses), over its type and body: the value stored after it.
fn chunk_crc(kind: &[u8], body: &[u8]) -> u32 {
    let mut crc = crc32fast::Hasher::new();
    crc.update(kind);
    crc.update(body);
    crc.finalize()
}

/// Pillow verifies the CRC of every chunk it reads before the image data (IHDR, PLTE, tRNS, text,
/// ...) and fails on a mismatch; it does not check IDAT CRCs. Truncation is left to the decoder.
fn png_check_header_crcs(data: &[u8]) -> Result<(), DecodeError> {
    for chunk in png_chunks(data) {
        if chunk.kind == b"IDAT" || chunk.kind == b"IEND" {
            break;
        }
        if chunk_crc(chunk.kind, chunk.body) != chunk.crc {
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

pub(super) fn decode_png(
    data: &[u8],
    options: &DecodeOptions,
) -> Result<DecodedImage, DecodeError> {
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

pub(super) fn png_rows(data: &[u8], options: &DecodeOptions, sink: &mut dyn RgbRows) -> Option<()> {
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

#[cfg(test)]
mod tests {
    use crate::decode::test_support::fuzz;
    use crate::decode::{decode, DecodeOptions};

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

    #[test]
    fn chunk_crc_matches_published_values() {
        // The PNG specification's IEND chunk is always 00 00 00 00 49 45 4E 44 AE 42 60 82.
        assert_eq!(super::chunk_crc(b"IEND", b""), 0xAE42_6082);
        // The check value of CRC-32/ISO-HDLC in the CRC catalogue: "123456789" -> 0xCBF43926.
        assert_eq!(super::chunk_crc(b"1234", b"56789"), 0xCBF4_3926);
    }

    #[test]
    fn a_bad_crc_before_the_image_data_is_refused() {
        let plte = [10u8, 20, 30, 40, 50, 60];
        let file = encode_png(
            3,
            2,
            png::ColorType::Indexed,
            png::BitDepth::Eight,
            &[0, 1, 1, 0, 1, 0],
            Some(&plte),
        );
        assert!(decode(&file, &DecodeOptions::default()).is_ok());
        assert_eq!(&file[37..41], b"PLTE");
        // IHDR's CRC is bytes 29..33; PLTE's follows its 6-byte body at 33 + 8.
        for (at, kind) in [(30, "IHDR"), (33 + 8 + 6 + 1, "PLTE")] {
            let mut bad = file.clone();
            bad[at] ^= 0x10;
            let e = decode(&bad, &DecodeOptions::default()).unwrap_err();
            assert_eq!(e.kind(), "corrupt", "{e}");
            assert!(
                e.to_string()
                    .contains(&format!("bad CRC in the {kind} chunk")),
                "{e}"
            );
        }
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
}

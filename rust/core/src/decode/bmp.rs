//! BMP: our own decoder, rule by rule Pillow 13's `BmpImagePlugin` (headers, row order,
//! BI_BITFIELDS masks, palettes, RLE8/RLE4); see the [module documentation](super) for what is
//! supported and the one known difference.

use super::limits::{alloc_zeroed, check_size};
use super::{DecodeError, DecodeOptions, DecodedImage, ImageFormat};

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
pub(super) fn decode_bmp(
    data: &[u8],
    options: &DecodeOptions,
) -> Result<DecodedImage, DecodeError> {
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
    use crate::decode::test_support::fuzz;
    use crate::decode::{decode, DecodeOptions, ImageFormat};

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

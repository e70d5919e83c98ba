//! GIF: the first frame on the logical screen as Pillow shows it (`gif` crate, indexed output),
//! palettes and gray-ramp palettes as Pillow reads them.

use std::io::Cursor;

use super::limits::{alloc_zeroed, check_size};
use super::{DecodeError, DecodeOptions, DecodedImage, ImageFormat};

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

pub(super) fn decode_gif(
    data: &[u8],
    options: &DecodeOptions,
) -> Result<DecodedImage, DecodeError> {
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

#[cfg(test)]
mod tests {
    use crate::decode::test_support::fuzz;
    use crate::decode::{decode, DecodeOptions};

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
}

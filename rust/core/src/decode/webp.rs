//! WebP (lossy, lossless, alpha, the first frame of an animation) with the pure-Rust image-webp,
//! after the RIFF checks libwebp's demuxer makes; alpha dropped.

use std::io::Cursor;

use super::limits::{alloc_zeroed, check_size};
use super::{DecodeError, DecodeOptions, DecodedImage, ImageFormat};

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

pub(super) fn decode_webp(
    data: &[u8],
    options: &DecodeOptions,
) -> Result<DecodedImage, DecodeError> {
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

#[cfg(test)]
mod tests {
    use crate::decode::test_support::fuzz;
    use crate::decode::{decode, DecodeOptions, ImageFormat};

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
}

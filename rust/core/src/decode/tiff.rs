//! TIFF: the first page with the `tiff` crate (uncompressed, PackBits, LZW, Deflate; tiles,
//! predictors), its sample layouts (1-bit, 8/16-bit gray and RGB(A), gray+alpha, CMYK) converted
//! to RGB as Pillow converts them, premultiplied alpha undone like Pillow.

use std::io::Cursor;

use super::convert::{packed_sample, pillow_cmyk_to_rgb};
use super::limits::{alloc_zeroed, check_size};
use super::{DecodeError, DecodeOptions, DecodedImage, ImageFormat};

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

pub(super) fn decode_tiff(
    data: &[u8],
    options: &DecodeOptions,
) -> Result<DecodedImage, DecodeError> {
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

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use crate::decode::test_support::fuzz;
    use crate::decode::{decode, DecodeOptions, ImageFormat};

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
}

//! JPEG decoding with the pure-Rust zune-jpeg: the decoder of builds without libjpeg-turbo, or on
//! request ([`JpegDecoder::ZuneJpeg`](crate::decode::JpegDecoder::ZuneJpeg)). Close to, but not
//! always identical with, Pillow; ignores draft scaling.

use super::jpeg_truncation;
use crate::decode::convert::{gray_to_rgb, jpeg_cmyk_to_rgb};
use crate::decode::limits::check_size;
use crate::decode::{DecodeError, DecodeOptions, DecodedImage, ImageFormat, MAX_JPEG_SCANS};

pub(in crate::decode) fn decode_jpeg_zune(
    data: &[u8],
    options: &DecodeOptions,
) -> Result<DecodedImage, DecodeError> {
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

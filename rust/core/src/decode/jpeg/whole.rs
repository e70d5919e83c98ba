//! Whole-image JPEG decoding with libjpeg-turbo (TurboJPEG `tj3Decompress8`): the header and size
//! checks, truncation as Pillow sees it, draft (DCT) scaling, and libjpeg messages mapped to
//! [`DecodeError`] kinds. `rows.rs` reuses the same checks through [`turbo_setup`].

use super::jpeg_truncation;
use super::turbojpeg;
use crate::decode::convert::{gray_to_rgb, jpeg_cmyk_to_rgb};
use crate::decode::limits::{alloc_zeroed, check_size};
use crate::decode::{
    draft_scale, DecodeError, DecodeOptions, DecodedImage, ImageFormat, MAX_JPEG_SCANS,
};

/// Maps a libjpeg message to the error kind: premature end of data is truncation.
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

/// A TurboJPEG handle with the headers read and every check of the whole-image path passed:
/// the size limit, truncation, 8-bit samples; the draft scale set.
pub(super) struct TurboSetup {
    d: turbojpeg::Decompressor,
    original: (u32, u32),
    pub(super) scale: u32,
    /// The output size (scaled).
    pub(super) size: (u32, u32),
    pf: turbojpeg_sys::TJPF,
    pub(super) channels: usize,
    mode: &'static str,
}

pub(super) fn turbo_setup(data: &[u8], options: &DecodeOptions) -> Result<TurboSetup, DecodeError> {
    let format = ImageFormat::Jpeg;
    let mut d = turbojpeg::Decompressor::new().ok_or(DecodeError::OutOfMemory { bytes: 0 })?;
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
    d.set(turbojpeg::SCANLIMIT, MAX_JPEG_SCANS)
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
    let (pf, channels, mode) = if h.colorspace == turbojpeg::CS_GRAY as i32 {
        (turbojpeg::PF_GRAY, 1usize, "L")
    } else if h.colorspace == turbojpeg::CS_CMYK as i32 || h.colorspace == turbojpeg::CS_YCCK as i32
    {
        (turbojpeg::PF_CMYK, 4, "CMYK")
    } else {
        (turbojpeg::PF_RGB, 3, "RGB")
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

pub(in crate::decode) fn decode_jpeg_turbo(
    data: &[u8],
    options: &DecodeOptions,
) -> Result<DecodedImage, DecodeError> {
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

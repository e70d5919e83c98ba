//! Size checks and pixel buffers shared by every codec: the zero-size and pixel-limit check on the
//! header's size (Pillow's decompression-bomb guard, before any pixel memory is allocated) and
//! fallible zeroed allocation.

use crate::buffers::zeroed_bytes;

use super::{DecodeError, DecodeOptions, ImageFormat};

/// Refuses zero sizes and sizes past the pixel limit; returns the pixel count.
pub(super) fn check_size(
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
pub(super) fn alloc_zeroed(len: u64) -> Result<Vec<u8>, DecodeError> {
    usize::try_from(len)
        .ok()
        .and_then(zeroed_bytes)
        .ok_or(DecodeError::OutOfMemory { bytes: len })
}

#[cfg(test)]
mod tests {
    use crate::decode::{decode, DecodeOptions};

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
}

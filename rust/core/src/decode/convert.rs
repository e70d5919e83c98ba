//! Pillow's conversions to RGB shared by several codecs: `MULDIV255`, CMYK (Pillow's and JPEG's
//! inverted Adobe convention), gray replication, and unpacking 1/2/4-bit samples.

use super::limits::alloc_zeroed;
use super::DecodeError;

/// Pillow's `MULDIV255(a, b)`: `a * b / 255` rounded, in integers.
#[inline]
fn muldiv255(a: i32, b: i32) -> i32 {
    let t = a * b + 128;
    ((t >> 8) + t) >> 8
}

/// Pillow's CMYK -> RGB (`cmyk2rgb` in Convert.c) on Pillow's CMYK values.
#[inline]
pub(super) fn pillow_cmyk_to_rgb(c: u8, m: u8, y: u8, k: u8) -> [u8; 3] {
    let nk = 255 - k as i32;
    let f = |v: u8| (nk - muldiv255(v as i32, nk)).clamp(0, 255) as u8;
    [f(c), f(m), f(y)]
}

/// Converts libjpeg's CMYK output in place of a new RGB buffer. Pillow reads JPEG CMYK with the
/// `CMYK;I` raw mode (Adobe's inverted convention), so each sample is inverted first.
pub(super) fn jpeg_cmyk_to_rgb(cmyk: &[u8], pixels: u64) -> Result<Vec<u8>, DecodeError> {
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
pub(super) fn gray_to_rgb(gray: &[u8], pixels: u64) -> Result<Vec<u8>, DecodeError> {
    let mut out = alloc_zeroed(pixels * 3)?;
    for (o, &g) in out.chunks_exact_mut(3).zip(gray) {
        o.fill(g);
    }
    Ok(out)
}

/// Unpacks `bits`-bit samples (1, 2, 4) of one row, MSB first.
#[inline]
pub(super) fn packed_sample(row: &[u8], i: usize, bits: usize) -> u8 {
    let bit = i * bits;
    let byte = row.get(bit / 8).copied().unwrap_or(0);
    let shift = 8 - bits - (bit % 8);
    (byte >> shift) & ((1u16 << bits) - 1) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn muldiv255_is_rounded_division() {
        for a in 0..256 {
            for b in 0..256 {
                let exact = (a * b) as f64 / 255.0;
                assert_eq!(muldiv255(a, b), exact.round() as i32, "{a} {b}");
            }
        }
    }
}

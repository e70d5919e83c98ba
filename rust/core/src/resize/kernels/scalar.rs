//! Portable kernels: the 16-byte column type of the horizontal pass's strip transposes, its loads
//! and stores and the 16x16 byte transpose as plain arrays, and a no-op prefetch. They are what CPUs
//! without an architecture file here run (the compiler vectorizes the loops as it can); on x86-64 they
//! are compiled for the tests only, which check that the SSE2 versions equal them.
//!
//! For the tests of every build, also the scalar reference of the resampling itself: each pass one
//! output sample at a time in 64-bit integers, straight from the definition
//! `clip8((HALF + Σ pixel · weight) >> 22)`. Every kernel build must give exactly these bytes.

#[cfg(test)]
use super::super::{AxisCoeffs, Filter, HALF};

/// 16 bytes (the portable stand-in for a 128-bit register).
#[cfg(any(test, not(target_arch = "x86_64")))]
pub(in crate::resize) type Col16 = [u8; 16];

#[cfg(any(test, not(target_arch = "x86_64")))]
#[inline(always)]
pub(in crate::resize) fn load16(bytes: &[u8]) -> Col16 {
    let mut v = [0u8; 16];
    v.copy_from_slice(&bytes[..16]);
    v
}

#[cfg(any(test, not(target_arch = "x86_64")))]
#[inline(always)]
pub(in crate::resize) fn store16(dst: &mut [u8], v: Col16) {
    dst[..16].copy_from_slice(&v);
}

/// Transposes a 16x16 byte matrix held as 16 rows: column `j` of the result holds byte `j` of every
/// row, in row order.
#[cfg(any(test, not(target_arch = "x86_64")))]
#[inline(always)]
pub(in crate::resize) fn transpose16x16(m: [Col16; 16]) -> [Col16; 16] {
    let mut out = [[0u8; 16]; 16];
    for (i, row) in m.iter().enumerate() {
        for (j, &v) in row.iter().enumerate() {
            out[j][i] = v;
        }
    }
    out
}

/// Prefetching is left to the CPU here.
#[cfg(not(target_arch = "x86_64"))]
#[inline]
pub(in crate::resize) fn prefetch(bytes: &[u8]) {
    let _ = bytes;
}

/// `clip8((HALF + Σ_i data[first + i * in_stride + j] · k[i]) >> 22)` for each byte `j` of `out_row`,
/// in 64-bit sums.
#[cfg(test)]
pub(in crate::resize) fn vertical_row(
    data: &[u8],
    in_stride: usize,
    first: usize,
    k: &[i32],
    out_row: &mut [u8],
) {
    for (j, o) in out_row.iter_mut().enumerate() {
        let mut acc = i64::from(HALF);
        for (i, &w) in k.iter().enumerate() {
            acc += i64::from(data[first + i * in_stride + j]) * i64::from(w);
        }
        *o = (acc >> 22).clamp(0, 255) as u8;
    }
}

/// The horizontal pass of a packed `w x h` image with `c` channels, one sample at a time.
#[cfg(test)]
pub(in crate::resize) fn horizontal_pass(
    data: &[u8],
    w: usize,
    h: usize,
    c: usize,
    co: &AxisCoeffs,
) -> Vec<u8> {
    assert_eq!(data.len(), w * h * c);
    let ow = co.bounds.len();
    let mut out = vec![0u8; ow * h * c];
    let mut scratch = co.scratch().unwrap();
    for y in 0..h {
        for x in 0..ow {
            let (s, k) = co.window(x, &mut scratch);
            for ch in 0..c {
                let mut acc = i64::from(HALF);
                for (i, &kk) in k.iter().enumerate() {
                    acc += i64::from(data[(y * w + s + i) * c + ch]) * i64::from(kk);
                }
                out[(y * ow + x) * c + ch] = (acc >> 22).clamp(0, 255) as u8;
            }
        }
    }
    out
}

/// The vertical pass of a packed `w x h` image with `c` channels, one row at a time.
#[cfg(test)]
pub(in crate::resize) fn vertical_pass(
    data: &[u8],
    w: usize,
    h: usize,
    c: usize,
    co: &AxisCoeffs,
) -> Vec<u8> {
    assert_eq!(data.len(), w * h * c);
    let oh = co.bounds.len();
    let mut out = vec![0u8; w * oh * c];
    let mut scratch = co.scratch().unwrap();
    for (y, out_row) in out.chunks_exact_mut(w * c).enumerate() {
        let (s, k) = co.window(y, &mut scratch);
        vertical_row(data, w * c, s * w * c, k, out_row);
    }
    out
}

/// A whole convolution resize from `w x h` to `ow x oh` (`c` channels, not premultiplied): the
/// passes needed, vertical first when `vfirst` and both are needed.
#[cfg(test)]
#[allow(clippy::too_many_arguments)]
pub(in crate::resize) fn resize(
    src: &[u8],
    w: usize,
    h: usize,
    c: usize,
    ow: usize,
    oh: usize,
    f: Filter,
    vfirst: bool,
) -> Vec<u8> {
    let hc = AxisCoeffs::new(w, ow, f).unwrap();
    let vc = AxisCoeffs::new(h, oh, f).unwrap();
    match (w != ow, h != oh) {
        (false, false) => src.to_vec(),
        (true, false) => horizontal_pass(src, w, h, c, &hc),
        (false, true) => vertical_pass(src, w, h, c, &vc),
        (true, true) if vfirst => {
            let mid = vertical_pass(src, w, h, c, &vc);
            horizontal_pass(&mid, w, oh, c, &hc)
        }
        (true, true) => {
            let mid = horizontal_pass(src, w, h, c, &hc);
            vertical_pass(&mid, ow, h, c, &vc)
        }
    }
}

//! x86-64 kernels: the AVX2 builds of the passes' inner loops (the same portable source as the
//! baseline build, compiled with AVX2 enabled; `kernels/mod.rs` calls them when the CPU has AVX2),
//! and the SSE2 pieces every x86-64 CPU has: 16-byte loads and stores, the 16x16 byte transpose of
//! the horizontal pass's strips, and cache prefetches.
//!
//! Each has a portable counterpart in `scalar.rs` that it must equal (tests in `kernels/mod.rs`).

use std::arch::x86_64::{
    __m128i, _mm_loadu_si128, _mm_prefetch, _mm_storeu_si128, _mm_unpackhi_epi16,
    _mm_unpackhi_epi32, _mm_unpackhi_epi64, _mm_unpackhi_epi8, _mm_unpacklo_epi16,
    _mm_unpacklo_epi32, _mm_unpacklo_epi64, _mm_unpacklo_epi8, _MM_HINT_T1,
};

use super::super::horizontal::{horizontal_block, HGeom};
use super::super::vertical::vertical_row;

/// [`horizontal_block`] compiled with AVX2.
///
/// # Safety
/// The CPU must support AVX2 (the dispatcher checks it first). `unsafe fn`: a safe `#[target_feature]`
/// function needs Rust 1.86, and the workspace's rust-version is 1.85.
#[target_feature(enable = "avx2")]
pub(super) unsafe fn horizontal_block_avx2<const C: usize, const L: usize>(
    rows: &[u8],
    n: usize,
    geom: HGeom<'_>,
    out: &mut [u8],
    strips: &mut [u8],
    scratch: &mut [i32],
) {
    horizontal_block::<C, L>(rows, n, geom, out, strips, scratch);
}

/// [`vertical_row`] compiled with AVX2.
///
/// # Safety
/// The CPU must support AVX2 (the dispatcher checks it first); `unsafe fn` for Rust 1.85, as above.
#[target_feature(enable = "avx2")]
pub(super) unsafe fn vertical_row_avx2(
    data: &[u8],
    in_stride: usize,
    first: usize,
    k: &[i32],
    out_row: &mut [u8],
) {
    vertical_row(data, in_stride, first, k, out_row);
}

/// Hints the CPU to load `bytes` into the caches.
#[inline]
pub(in crate::resize) fn prefetch(bytes: &[u8]) {
    for line in bytes.chunks(64) {
        // SAFETY: a prefetch is only a hint: it never faults and changes no program state; the
        // pointer is inside `bytes` anyway. SSE is part of the x86_64 baseline.
        unsafe { _mm_prefetch::<{ _MM_HINT_T1 }>(line.as_ptr().cast()) };
    }
}

/// 16 bytes in an SSE2 register.
pub(in crate::resize) type Col16 = __m128i;

#[inline(always)]
pub(in crate::resize) fn load16(bytes: &[u8]) -> Col16 {
    assert!(bytes.len() >= 16);
    // SAFETY: `bytes` has at least 16 readable bytes (asserted); `_mm_loadu_si128` (SSE2, in the
    // x86_64 baseline) has no alignment requirement.
    unsafe { _mm_loadu_si128(bytes.as_ptr().cast()) }
}

#[inline(always)]
pub(in crate::resize) fn store16(dst: &mut [u8], v: Col16) {
    assert!(dst.len() >= 16);
    // SAFETY: `dst` has at least 16 writable bytes (asserted); `_mm_storeu_si128` (SSE2, in the
    // x86_64 baseline) has no alignment requirement.
    unsafe { _mm_storeu_si128(dst.as_mut_ptr().cast(), v) }
}

/// Transposes a 16x16 byte matrix held as 16 rows: column `j` of the result holds byte `j` of every
/// row, in row order.
#[inline(always)]
pub(in crate::resize) fn transpose16x16(a: [Col16; 16]) -> [Col16; 16] {
    // Round k interleaves 2^k-byte units of neighbouring row groups (registers are indexed
    // `column group * row groups + row group`; each round halves the row groups and doubles the
    // column groups), so after four rounds register j holds column j.
    // SAFETY: SSE2 is part of the x86_64 baseline: every x86_64 CPU has these instructions, and they
    // only compute on register values.
    unsafe {
        let [a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15] = a;
        let r0_0 = _mm_unpacklo_epi8(a0, a1);
        let r0_8 = _mm_unpackhi_epi8(a0, a1);
        let r0_1 = _mm_unpacklo_epi8(a2, a3);
        let r0_9 = _mm_unpackhi_epi8(a2, a3);
        let r0_2 = _mm_unpacklo_epi8(a4, a5);
        let r0_10 = _mm_unpackhi_epi8(a4, a5);
        let r0_3 = _mm_unpacklo_epi8(a6, a7);
        let r0_11 = _mm_unpackhi_epi8(a6, a7);
        let r0_4 = _mm_unpacklo_epi8(a8, a9);
        let r0_12 = _mm_unpackhi_epi8(a8, a9);
        let r0_5 = _mm_unpacklo_epi8(a10, a11);
        let r0_13 = _mm_unpackhi_epi8(a10, a11);
        let r0_6 = _mm_unpacklo_epi8(a12, a13);
        let r0_14 = _mm_unpackhi_epi8(a12, a13);
        let r0_7 = _mm_unpacklo_epi8(a14, a15);
        let r0_15 = _mm_unpackhi_epi8(a14, a15);
        let r1_0 = _mm_unpacklo_epi16(r0_0, r0_1);
        let r1_4 = _mm_unpackhi_epi16(r0_0, r0_1);
        let r1_1 = _mm_unpacklo_epi16(r0_2, r0_3);
        let r1_5 = _mm_unpackhi_epi16(r0_2, r0_3);
        let r1_2 = _mm_unpacklo_epi16(r0_4, r0_5);
        let r1_6 = _mm_unpackhi_epi16(r0_4, r0_5);
        let r1_3 = _mm_unpacklo_epi16(r0_6, r0_7);
        let r1_7 = _mm_unpackhi_epi16(r0_6, r0_7);
        let r1_8 = _mm_unpacklo_epi16(r0_8, r0_9);
        let r1_12 = _mm_unpackhi_epi16(r0_8, r0_9);
        let r1_9 = _mm_unpacklo_epi16(r0_10, r0_11);
        let r1_13 = _mm_unpackhi_epi16(r0_10, r0_11);
        let r1_10 = _mm_unpacklo_epi16(r0_12, r0_13);
        let r1_14 = _mm_unpackhi_epi16(r0_12, r0_13);
        let r1_11 = _mm_unpacklo_epi16(r0_14, r0_15);
        let r1_15 = _mm_unpackhi_epi16(r0_14, r0_15);
        let r2_0 = _mm_unpacklo_epi32(r1_0, r1_1);
        let r2_2 = _mm_unpackhi_epi32(r1_0, r1_1);
        let r2_1 = _mm_unpacklo_epi32(r1_2, r1_3);
        let r2_3 = _mm_unpackhi_epi32(r1_2, r1_3);
        let r2_4 = _mm_unpacklo_epi32(r1_4, r1_5);
        let r2_6 = _mm_unpackhi_epi32(r1_4, r1_5);
        let r2_5 = _mm_unpacklo_epi32(r1_6, r1_7);
        let r2_7 = _mm_unpackhi_epi32(r1_6, r1_7);
        let r2_8 = _mm_unpacklo_epi32(r1_8, r1_9);
        let r2_10 = _mm_unpackhi_epi32(r1_8, r1_9);
        let r2_9 = _mm_unpacklo_epi32(r1_10, r1_11);
        let r2_11 = _mm_unpackhi_epi32(r1_10, r1_11);
        let r2_12 = _mm_unpacklo_epi32(r1_12, r1_13);
        let r2_14 = _mm_unpackhi_epi32(r1_12, r1_13);
        let r2_13 = _mm_unpacklo_epi32(r1_14, r1_15);
        let r2_15 = _mm_unpackhi_epi32(r1_14, r1_15);
        let r3_0 = _mm_unpacklo_epi64(r2_0, r2_1);
        let r3_1 = _mm_unpackhi_epi64(r2_0, r2_1);
        let r3_2 = _mm_unpacklo_epi64(r2_2, r2_3);
        let r3_3 = _mm_unpackhi_epi64(r2_2, r2_3);
        let r3_4 = _mm_unpacklo_epi64(r2_4, r2_5);
        let r3_5 = _mm_unpackhi_epi64(r2_4, r2_5);
        let r3_6 = _mm_unpacklo_epi64(r2_6, r2_7);
        let r3_7 = _mm_unpackhi_epi64(r2_6, r2_7);
        let r3_8 = _mm_unpacklo_epi64(r2_8, r2_9);
        let r3_9 = _mm_unpackhi_epi64(r2_8, r2_9);
        let r3_10 = _mm_unpacklo_epi64(r2_10, r2_11);
        let r3_11 = _mm_unpackhi_epi64(r2_10, r2_11);
        let r3_12 = _mm_unpacklo_epi64(r2_12, r2_13);
        let r3_13 = _mm_unpackhi_epi64(r2_12, r2_13);
        let r3_14 = _mm_unpacklo_epi64(r2_14, r2_15);
        let r3_15 = _mm_unpackhi_epi64(r2_14, r2_15);
        [
            r3_0, r3_1, r3_2, r3_3, r3_4, r3_5, r3_6, r3_7, r3_8, r3_9, r3_10, r3_11, r3_12, r3_13,
            r3_14, r3_15,
        ]
    }
}

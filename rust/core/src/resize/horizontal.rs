//! The horizontal pass: blocks of rows are transposed into column-major strips (one strip of
//! `L = rows * C` bytes per input column), so that each output pixel is a sum of whole strips times a
//! scalar weight: no horizontal reductions, and the inner loop is `L` independent lanes.
//!
//! Here: the split into blocks (threads, prefetching the next block, tiles of at most [`TILE_COLS`]
//! columns), the block body [`horizontal_block`] and the strip transposes, written once in portable
//! Rust; `kernels` compiles the block body per CPU level and chooses the build at run time.

use rayon::prelude::*;

use super::kernels::{horizontal_block_dispatch, load16, prefetch, store16, transpose16x16, Col16};
use super::{clip8, AxisCoeffs, Img, ResizeError, HALF};

/// Rows per block: 32 for L (32 lanes), 16 for RGB (48 lanes) and RGBA (64 lanes).
const fn strip_rows(c: usize) -> usize {
    if c == 1 {
        32
    } else {
        16
    }
}

pub(super) fn horizontal_pass<const C: usize>(
    img: Img<'_>,
    coeffs: &AxisCoeffs,
    dst: &mut [u8],
    parallel: bool,
) -> Result<(), ResizeError> {
    match C {
        1 => horizontal_rows::<C, 32>(img, coeffs, dst, parallel),
        3 => horizontal_rows::<C, 48>(img, coeffs, dst, parallel),
        _ => horizontal_rows::<C, 64>(img, coeffs, dst, parallel),
    }
}

/// Geometry of one horizontal pass, shared by its blocks.
#[derive(Clone, Copy)]
pub(super) struct HGeom<'a> {
    /// Bytes per input row.
    pub(super) in_stride: usize,
    /// End of the input columns any window reads (the tiles stop there).
    pub(super) x1: usize,
    pub(super) coeffs: &'a AxisCoeffs,
}

/// Input columns one block's strips hold at most (1 MiB for RGBA): wider spans are transposed a
/// tile at a time, so the strips never grow with the image (a 178-megapixel row would otherwise need
/// 8.5 GB of them). Images up to this wide are transposed whole, as before.
pub(super) const TILE_COLS: usize = 16384;

fn horizontal_rows<const C: usize, const L: usize>(
    img: Img<'_>,
    coeffs: &AxisCoeffs,
    dst: &mut [u8],
    parallel: bool,
) -> Result<(), ResizeError> {
    let rows_per_block = strip_rows(C);
    debug_assert_eq!(rows_per_block * C, L);
    let out_stride = coeffs.bounds.len() * C;
    let in_stride = img.width * C;
    let (x0, x1) = coeffs.span();
    let geom = HGeom {
        in_stride,
        x1,
        coeffs,
    };
    let block_bytes = rows_per_block * out_stride;
    let run = |(strips, scratch): &mut (Vec<u8>, Vec<i32>), (b, out_block): (usize, &mut [u8])| {
        let y = b * rows_per_block;
        let n = out_block.len() / out_stride;
        let rows = &img.data[y * in_stride..(y + n) * in_stride];
        // The next block's rows start streaming in from memory while this block is computed.
        let next_end = ((y + n + rows_per_block) * in_stride).min(img.data.len());
        prefetch(img.data.get((y + n) * in_stride..next_end).unwrap_or(&[]));
        horizontal_block_dispatch::<C, L>(rows, n, geom, out_block, strips, scratch);
    };
    let strip_len = (x1 - x0).min(TILE_COLS) * L;
    prefetch(&img.data[..(rows_per_block * in_stride).min(img.data.len())]);
    // Weights computed per window need a scratch buffer of up to a whole axis: one, serially.
    if parallel && !coeffs.lazy() {
        dst.par_chunks_mut(block_bytes)
            .enumerate()
            .for_each_init(|| (vec![0u8; strip_len], Vec::new()), run);
    } else {
        let mut state = (vec![0u8; strip_len], coeffs.scratch()?);
        dst.chunks_mut(block_bytes)
            .enumerate()
            .for_each(|item| run(&mut state, item));
    }
    Ok(())
}

/// One block of `n <= L / C` rows. `strips` holds up to [`TILE_COLS`] columns of `L` bytes: channel
/// `ch` of column `x` of row `r` at `(x - t0) * L + lane` for the tile `[t0, t1)` currently transposed,
/// with lane `ch * 16 + r` for RGB and `r * C + ch` otherwise. A window reaching past the tile moves
/// the tile to start where the remaining taps start (windows start in increasing order) and goes on
/// summing: the 32-bit integer sums are exact, so the order does not matter. A span no wider than the
/// strips is transposed once. Lanes of rows `>= n` hold copies of row `n - 1` (or stale bytes) whose
/// results are not written.
#[inline(always)]
pub(super) fn horizontal_block<const C: usize, const L: usize>(
    rows: &[u8],
    n: usize,
    geom: HGeom<'_>,
    out: &mut [u8],
    strips: &mut [u8],
    scratch: &mut [i32],
) {
    let HGeom {
        in_stride,
        x1,
        coeffs,
    } = geom;
    let out_stride = coeffs.bounds.len() * C;
    let tile_cols = strips.len() / L;
    let transpose = |t0: usize, t1: usize, strips: &mut [u8]| {
        let npx = t1 - t0;
        if C == 3 && L == 48 {
            transpose_rgb_block(rows, n, in_stride, t0, npx, strips);
        } else if C == 1 && L == 32 {
            transpose_l_block(rows, n, in_stride, t0, npx, strips);
        } else {
            for r in 0..n {
                let row = &rows[r * in_stride + t0 * C..r * in_stride + t1 * C];
                let lane = r * C;
                for (px, strip) in row.chunks_exact(C).zip(strips.chunks_exact_mut(L)) {
                    strip[lane..lane + C].copy_from_slice(px);
                }
            }
        }
    };
    // The tile of input columns in `strips`: [t0, t1) (empty at first).
    let (mut t0, mut t1) = (0usize, 0usize);
    for xx in 0..coeffs.bounds.len() {
        let (start, k) = coeffs.window(xx, scratch);
        let mut acc = [HALF; L];
        let mut pos = start;
        let end = start + k.len();
        while pos < end {
            if pos < t0 || pos >= t1 {
                t0 = pos;
                t1 = (pos + tile_cols).min(x1);
                transpose(t0, t1, strips);
            }
            let stop = end.min(t1);
            let base = (pos - t0) * L;
            for (i, &w) in k[pos - start..stop - start].iter().enumerate() {
                let strip: &[u8; L] = match strips[base + i * L..base + i * L + L].try_into() {
                    Ok(s) => s,
                    Err(_) => continue, // unreachable: the slice has exactly L bytes
                };
                for j in 0..L {
                    acc[j] = acc[j].wrapping_add(i32::from(strip[j]).wrapping_mul(w));
                }
            }
            pos = stop;
        }
        let mut bytes = [0u8; L];
        for j in 0..L {
            bytes[j] = clip8(acc[j]);
        }
        for r in 0..n {
            let o = r * out_stride + xx * C;
            if C == 3 && L == 48 {
                // RGB strips are channel-planar: lane `ch * 16 + r`.
                let px = &mut out[o..o + 3];
                px[0] = bytes[r];
                px[1] = bytes[16 + r];
                px[2] = bytes[32 + r];
            } else {
                out[o..o + C].copy_from_slice(&bytes[r * C..r * C + C]);
            }
        }
    }
}

/// The RGB transposition of [`horizontal_block`] for 16 rows, channel-planar: byte `ch` of pixel `x`
/// of row `r` goes to `strips[x * 48 + ch * 16 + r]`. Runs of 16 pixels are three 16x16 byte transposes
/// (SSE2) whose 48 columns land at offsets known at compile time; the rest is copied byte by byte.
/// Rows `>= n` repeat row `n - 1`.
#[inline(always)]
fn transpose_rgb_block(
    rows: &[u8],
    n: usize,
    in_stride: usize,
    x0: usize,
    npx: usize,
    strips: &mut [u8],
) {
    if n == 0 || npx == 0 {
        return;
    }
    let row = |r: usize| {
        let r = r.min(n - 1);
        &rows[r * in_stride + x0 * 3..r * in_stride + (x0 + npx) * 3]
    };
    let src: [&[u8]; 16] = std::array::from_fn(row);
    let mut p0 = 0;
    while p0 + 16 <= npx {
        let chunk: &mut [u8; 768] = match (&mut strips[p0 * 48..(p0 + 16) * 48]).try_into() {
            Ok(c) => c,
            Err(_) => return, // unreachable: the range is 768 bytes
        };
        let b0 = p0 * 3;
        store_rgb_cols::<0>(chunk, transpose16x16(load_cols(&src, b0)));
        store_rgb_cols::<1>(chunk, transpose16x16(load_cols(&src, b0 + 16)));
        store_rgb_cols::<2>(chunk, transpose16x16(load_cols(&src, b0 + 32)));
        p0 += 16;
    }
    for (r, row) in src.iter().enumerate() {
        for x in p0..npx {
            for ch in 0..3 {
                strips[x * 48 + ch * 16 + r] = row[x * 3 + ch];
            }
        }
    }
}

/// The L transposition of [`horizontal_block`] for 32 rows: pixel `x` of row `r` goes to
/// `strips[x * 32 + r]`, by 16x16 byte transposes (SSE2) for runs of 16 pixels. Rows `>= n` repeat row
/// `n - 1`.
#[inline(always)]
fn transpose_l_block(
    rows: &[u8],
    n: usize,
    in_stride: usize,
    x0: usize,
    npx: usize,
    strips: &mut [u8],
) {
    if n == 0 || npx == 0 {
        return;
    }
    let row = |r: usize| {
        let r = r.min(n - 1);
        &rows[r * in_stride + x0..r * in_stride + x0 + npx]
    };
    for r0 in [0, 16] {
        let src: [&[u8]; 16] = std::array::from_fn(|i| row(r0 + i));
        let mut p0 = 0;
        while p0 + 16 <= npx {
            let cols = transpose16x16(load_cols(&src, p0));
            for (j, col) in cols.into_iter().enumerate() {
                let off = (p0 + j) * 32 + r0;
                store16(&mut strips[off..off + 16], col);
            }
            p0 += 16;
        }
        for (r, row) in src.iter().enumerate() {
            for x in p0..npx {
                strips[x * 32 + r0 + r] = row[x];
            }
        }
    }
}

/// Bytes `b0 .. b0 + 16` of each of 16 rows (all long enough).
#[inline(always)]
fn load_cols(rows: &[&[u8]; 16], b0: usize) -> [Col16; 16] {
    std::array::from_fn(|i| load16(&rows[i][b0..b0 + 16]))
}

/// Stores the 16 byte columns `16 * T .. 16 * T + 16` of a run of 16 RGB pixels into their strips.
#[inline(always)]
fn store_rgb_cols<const T: usize>(chunk: &mut [u8; 768], cols: [Col16; 16]) {
    for (j, col) in cols.into_iter().enumerate() {
        let b = 16 * T + j;
        let off = (b / 3) * 48 + (b % 3) * 16;
        store16(&mut chunk[off..off + 16], col);
    }
}

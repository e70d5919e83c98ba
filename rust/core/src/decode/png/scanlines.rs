//! PNG pixel data, the fast way: the IDAT chunks inflated as one zlib stream (zlib-rs, streaming into
//! a small window of rows) and unfiltered straight into the output, with the Paeth filter of rows of
//! 1- to 4-byte pixels (gray to RGBA) run as a SIMD wavefront over up to eight rows at once.
//!
//! Paeth reconstruction is a serial chain along a row (each pixel needs its left neighbour), which
//! is why it is the slowest part of decoding a photo saved as PNG. But the pixel `x` of row `r + 1`
//! needs only the pixels `x - 1` and `x` of row `r` above it, so row `r + j` can work on pixel
//! `k - j` while row `r` works on pixel `k`: 2G rows advance together, two rows per SSE2 register
//! (16-bit lanes 0..3 and 4..7), which hides the chain's latency. The result is byte-identical to
//! reconstructing row by row (the rows are the same arithmetic, only interleaved).
//!
//! [`read_scanlines`] fills a whole-image buffer; [`for_each_rows`] hands out a window of rows at a
//! time (the encoding pipeline feeds them to the resize, so the full-size image never exists). Both
//! handle only the well-formed case of a non-interlaced image: every IDAT chunk complete, the zlib
//! stream intact (Adler-32 checked), ending exactly after the last row. Anything else returns `None`
//! and the caller decodes with the `png` crate's row reader, whose behaviour on damaged files (what
//! fails, what decodes) is the one tested against Pillow.

use crate::buffers::zeroed_bytes;

/// The shape of the scanlines of a non-interlaced PNG.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Scanlines {
    pub height: usize,
    /// Bytes per row, without the filter-type byte.
    pub row_bytes: usize,
    /// Bytes per complete pixel, at least 1: the distance of the "left" byte in the filters.
    pub bpp: usize,
}

impl Scanlines {
    /// The layout of `width x height` pixels of `channels` samples of `bits` bits, or None if it
    /// does not fit in memory addresses.
    pub fn new(width: usize, height: usize, channels: usize, bits: usize) -> Option<Scanlines> {
        let bits_per_row = width.checked_mul(channels)?.checked_mul(bits)?;
        let row_bytes = bits_per_row.checked_add(7)? / 8;
        row_bytes.checked_add(1)?.checked_mul(height)?;
        Some(Scanlines {
            height,
            row_bytes,
            bpp: (channels * bits / 8).max(1),
        })
    }
}

/// One chunk of a PNG file.
pub struct Chunk<'a> {
    pub kind: &'a [u8],
    pub body: &'a [u8],
    /// The CRC stored after the body (not checked here).
    pub crc: u32,
}

/// The chunks of a PNG file (whose first chunk starts at byte 8), in order, stopping at the first
/// one that runs past the end of the data (its header, body or CRC cut off).
pub fn chunks(data: &[u8]) -> impl Iterator<Item = Chunk<'_>> {
    let mut pos = 8usize;
    std::iter::from_fn(move || {
        let header = data.get(pos..pos.checked_add(8)?)?;
        let len = u32::from_be_bytes([header[0], header[1], header[2], header[3]]) as usize;
        let body_end = pos.checked_add(8)?.checked_add(len)?;
        let body = data.get(pos + 8..body_end)?;
        let crc = data.get(body_end..body_end.checked_add(4)?)?;
        pos = body_end + 4;
        Some(Chunk {
            kind: &header[4..8],
            body,
            crc: u32::from_be_bytes([crc[0], crc[1], crc[2], crc[3]]),
        })
    })
}

/// The data of the IDAT chunks, in order. None unless they are all complete and followed by a
/// complete chunk (their CRCs are not checked, as Pillow does not check them).
fn idat_chunks(data: &[u8]) -> Option<Vec<&[u8]>> {
    let mut idat = Vec::new();
    for chunk in chunks(data) {
        if chunk.kind == b"IDAT" {
            idat.push(chunk.body);
        } else if !idat.is_empty() || chunk.kind == b"IEND" {
            return (!idat.is_empty()).then_some(idat);
        }
    }
    None
}

/// Inflates the IDAT data of `data` (a whole PNG file) and unfilters it into `out`, which holds
/// `shape.height` rows of `shape.row_bytes` bytes. Returns None (leaving `out` in an unspecified
/// state) unless the file is well formed; see the module documentation.
pub fn read_scanlines(data: &[u8], shape: Scanlines, out: &mut [u8]) -> Option<()> {
    if out.len() != shape.height.checked_mul(shape.row_bytes)? {
        return None;
    }
    let zero_row = vec![0u8; shape.row_bytes];
    inflate_windows(data, shape, |filtered, row| {
        unfilter_rows(filtered, out, row, shape, &zero_row)
    })
}

/// Like [`read_scanlines`], but hands the reconstructed rows to `each` a window (about 1 MiB) at a
/// time, top to bottom, instead of keeping them all: `each` gets whole rows of `row_bytes` bytes.
/// `each` returning None stops the decoding (and this returns None). A None after some windows
/// were handed out means the rest of the file is not well formed.
pub fn for_each_rows(
    data: &[u8],
    shape: Scanlines,
    mut each: impl FnMut(&[u8]) -> Option<()>,
) -> Option<()> {
    let rb = shape.row_bytes;
    let rows = window_rows(shape);
    // Row 0: the last row of the previous window (zeros before the first), the row above.
    let mut window = zeroed_bytes((rows + 1).checked_mul(rb)?)?;
    let zero_row = vec![0u8; rb];
    inflate_windows(data, shape, |filtered, _| {
        let n = filtered.len() / (rb + 1);
        unfilter_rows(filtered, &mut window, 1, shape, &zero_row)?;
        each(&window[rb..(n + 1) * rb])?;
        window.copy_within(n * rb..(n + 1) * rb, 0);
        Some(())
    })
}

/// Rows per window: about 1 MiB of filtered rows (at least 8, the widest wavefront), which stays in
/// cache between inflating and unfiltering.
fn window_rows(shape: Scanlines) -> usize {
    ((1usize << 20) / (shape.row_bytes + 1))
        .clamp(8, shape.height.max(8))
        .min(shape.height)
}

/// The IDAT stream of `data`, inflated a window of filtered rows at a time: `unfilter(filtered,
/// first_row)` for each window in order. Some only when every row was there and the stream ended
/// right after the last one with a valid checksum.
fn inflate_windows(
    data: &[u8],
    shape: Scanlines,
    mut unfilter: impl FnMut(&[u8], usize) -> Option<()>,
) -> Option<()> {
    let Scanlines {
        height, row_bytes, ..
    } = shape;
    if height == 0 || row_bytes == 0 {
        return None;
    }
    let chunks = idat_chunks(data)?;
    let stride = row_bytes.checked_add(1)?;
    let window_rows = window_rows(shape);
    let mut window = zeroed_bytes(window_rows.checked_mul(stride)?)?;
    let mut stream = IdatStream::new(chunks);
    let mut row = 0;
    while row < height {
        let rows = window_rows.min(height - row);
        let filtered = &mut window[..rows * stride];
        if !stream.fill(filtered) {
            return None;
        }
        unfilter(filtered, row)?;
        row += rows;
    }
    stream.ends_here().then_some(())
}

/// The zlib stream spread over the IDAT chunks.
struct IdatStream<'a> {
    inflate: zlib_rs::Inflate,
    pending: std::vec::IntoIter<&'a [u8]>,
    input: &'a [u8],
    ended: bool,
}

impl<'a> IdatStream<'a> {
    fn new(chunks: Vec<&'a [u8]>) -> Self {
        let mut pending = chunks.into_iter();
        let input = pending.next().unwrap_or(&[]);
        IdatStream {
            inflate: zlib_rs::Inflate::new(true, 15),
            pending,
            input,
            ended: false,
        }
    }

    /// Inflates into `buf`; returns how many bytes it wrote, or None on a zlib error or when no
    /// progress is possible (input exhausted).
    fn step(&mut self, buf: &mut [u8]) -> Option<usize> {
        let (in0, out0) = (self.inflate.total_in(), self.inflate.total_out());
        let status = self
            .inflate
            .decompress(self.input, buf, zlib_rs::InflateFlush::NoFlush)
            .ok()?;
        let used = (self.inflate.total_in() - in0) as usize;
        let produced = (self.inflate.total_out() - out0) as usize;
        self.input = self.input.get(used..)?;
        if status == zlib_rs::Status::StreamEnd {
            self.ended = true;
        } else if self.input.is_empty() {
            match self.pending.next() {
                Some(next) => self.input = next,
                // Output may still be pending inside the inflater when `buf` was filled.
                None if produced > 0 => {}
                None => return None,
            }
        } else if used == 0 && produced == 0 {
            return None;
        }
        Some(produced)
    }

    /// Fills `buf` completely; false if the stream ends, fails or runs out of input first.
    fn fill(&mut self, buf: &mut [u8]) -> bool {
        let mut filled = 0;
        while filled < buf.len() {
            if self.ended {
                return false;
            }
            match self.step(&mut buf[filled..]) {
                Some(n) => filled += n,
                None => return false,
            }
        }
        true
    }

    /// True if the stream ends here: no more output, a valid Adler-32, all within the chunks.
    fn ends_here(&mut self) -> bool {
        let mut extra = [0u8; 1];
        while !self.ended {
            match self.step(&mut extra) {
                Some(0) => {}
                _ => return false,
            }
        }
        true
    }
}

/// Unfilters `filtered` (whole rows of a filter-type byte and `row_bytes` bytes) into the rows
/// `first_row..` of `out`, whose row `first_row - 1` (when `first_row > 0`) is already
/// reconstructed. `zero_row` is `row_bytes` zeros (the row above the first). None on a filter type
/// byte above 4.
pub fn unfilter_rows(
    filtered: &[u8],
    out: &mut [u8],
    first_row: usize,
    shape: Scanlines,
    zero_row: &[u8],
) -> Option<()> {
    let (rb, bpp) = (shape.row_bytes, shape.bpp);
    let stride = rb + 1;
    let rows = filtered.len() / stride;
    if zero_row.len() != rb || out.len() < (first_row + rows) * rb {
        return None;
    }
    let mut r = 0;
    while r < rows {
        let (above, below) = out.split_at_mut((first_row + r) * rb);
        let prev = if first_row + r == 0 {
            zero_row
        } else {
            &above[above.len() - rb..]
        };
        #[cfg(target_arch = "x86_64")]
        {
            let paeth_run = filtered[r * stride..]
                .chunks_exact(stride)
                .take(8)
                .take_while(|row| row[0] == 4)
                .count();
            // The wavefront's edge handling needs at least 2 + 2G pixels per row. Pixels of 1 and
            // 2 bytes (gray, gray + alpha, palette; sub-byte rows filter whole bytes) use it too.
            let pixels = if (1..=4).contains(&bpp) { rb / bpp } else { 0 };
            if paeth_run >= 2 && pixels >= 12 && pixels * bpp == rb {
                let groups = if paeth_run >= 8 {
                    4
                } else if paeth_run >= 4 {
                    2
                } else {
                    1
                };
                let n = 2 * groups;
                let cur: Vec<&[u8]> = filtered[r * stride..(r + n) * stride]
                    .chunks_exact(stride)
                    .map(|row| &row[1..])
                    .collect();
                let mut rows_out: Vec<&mut [u8]> = below[..n * rb].chunks_exact_mut(rb).collect();
                let (c, o) = (&cur[..], &mut rows_out[..]);
                match bpp {
                    1 => wavefront::paeth_rows::<1>(groups, c, prev, o),
                    2 => wavefront::paeth_rows::<2>(groups, c, prev, o),
                    3 => wavefront::paeth_rows::<3>(groups, c, prev, o),
                    _ => wavefront::paeth_rows::<4>(groups, c, prev, o),
                }
                r += n;
                continue;
            }
        }
        let line = &filtered[r * stride..(r + 1) * stride];
        unfilter_row(line[0], &line[1..], prev, &mut below[..rb], bpp)?;
        r += 1;
    }
    Some(())
}

/// The Paeth predictor of the PNG specification (ties: left, then above, then upper left).
#[inline(always)]
fn paeth_predictor(a: u8, b: u8, c: u8) -> u8 {
    let (ia, ib, ic) = (i16::from(a), i16::from(b), i16::from(c));
    let pa = (ib - ic).abs();
    let pb = (ia - ic).abs();
    let pc = (ia + ib - 2 * ic).abs();
    if pa <= pb && pa <= pc {
        a
    } else if pb <= pc {
        b
    } else {
        c
    }
}

/// One row: `out = unfilter(filter, cur)` given the reconstructed row above (`prev`).
fn unfilter_row(filter: u8, cur: &[u8], prev: &[u8], out: &mut [u8], bpp: usize) -> Option<()> {
    match bpp {
        1 => unfilter_row_n::<1>(filter, cur, prev, out),
        2 => unfilter_row_n::<2>(filter, cur, prev, out),
        3 => unfilter_row_n::<3>(filter, cur, prev, out),
        4 => unfilter_row_n::<4>(filter, cur, prev, out),
        6 => unfilter_row_n::<6>(filter, cur, prev, out),
        8 => unfilter_row_n::<8>(filter, cur, prev, out),
        _ => None,
    }
}

fn unfilter_row_n<const B: usize>(
    filter: u8,
    cur: &[u8],
    prev: &[u8],
    out: &mut [u8],
) -> Option<()> {
    let n = out.len();
    if cur.len() != n || prev.len() != n {
        return None;
    }
    // Rows of 2+ byte pixels hold whole pixels; 1-byte "pixels" (including sub-byte ones, whose
    // filters use the byte to the left, as the specification says) always do.
    if n % B != 0 || n == 0 {
        return None;
    }
    // The first pixel has no left neighbour (a = c = 0).
    let head = B;
    match filter {
        0 => out.copy_from_slice(cur),
        1 => {
            out[..head].copy_from_slice(&cur[..head]);
            for i in head..n {
                out[i] = cur[i].wrapping_add(out[i - B]);
            }
        }
        2 => {
            for ((o, &x), &b) in out.iter_mut().zip(cur).zip(prev) {
                *o = x.wrapping_add(b);
            }
        }
        3 => {
            for i in 0..head {
                out[i] = cur[i].wrapping_add(prev[i] >> 1);
            }
            for i in head..n {
                let avg = ((u16::from(out[i - B]) + u16::from(prev[i])) >> 1) as u8;
                out[i] = cur[i].wrapping_add(avg);
            }
        }
        4 => {
            for i in 0..head {
                out[i] = cur[i].wrapping_add(prev[i]);
            }
            // B independent chains per pixel; the arrays keep them in registers.
            let mut a = [0u8; B];
            let mut c = [0u8; B];
            a.copy_from_slice(&out[..B]);
            c.copy_from_slice(&prev[..B]);
            for ((x, b), o) in cur[B..]
                .chunks_exact(B)
                .zip(prev[B..].chunks_exact(B))
                .zip(out[B..].chunks_exact_mut(B))
            {
                for j in 0..B {
                    a[j] = x[j].wrapping_add(paeth_predictor(a[j], b[j], c[j]));
                    c[j] = b[j];
                }
                o.copy_from_slice(&a);
            }
        }
        _ => return None,
    }
    Some(())
}

#[cfg(target_arch = "x86_64")]
mod wavefront {
    //! The Paeth filter of 2G consecutive rows of BPP-byte pixels (1 to 4), G SSE2 registers.
    //!
    //! Register g holds row 2g at pixel `k - 2g` (lanes 0..3) and row 2g + 1 at pixel
    //! `k - 2g - 1` (lanes 4..7), as 16-bit values; step k advances every row by one pixel. The
    //! pixel above row j's current pixel is the one row j - 1 produced in the previous step, and the
    //! upper-left one is what row j used as "above" in the previous step, so no row reads memory
    //! another row of the group writes.
    use std::arch::x86_64::*;

    /// The Paeth prediction for each 16-bit lane of `a` (left), `b` (above), `c` (upper left).
    #[inline(always)]
    unsafe fn predict(a: __m128i, b: __m128i, c: __m128i) -> __m128i {
        let abs = |x: __m128i| _mm_max_epi16(x, _mm_sub_epi16(_mm_setzero_si128(), x));
        let sel = |m: __m128i, x: __m128i, y: __m128i| {
            _mm_or_si128(_mm_and_si128(m, x), _mm_andnot_si128(m, y))
        };
        let bc = _mm_sub_epi16(b, c);
        let ac = _mm_sub_epi16(a, c);
        let pa = abs(bc);
        let pb = abs(ac);
        let pc = abs(_mm_add_epi16(ac, bc));
        let smallest = _mm_min_epi16(_mm_min_epi16(pa, pb), pc);
        sel(
            _mm_cmpeq_epi16(smallest, pa),
            a,
            sel(_mm_cmpeq_epi16(smallest, pb), b, c),
        )
    }

    /// Four bytes at `p` as 16-bit lanes 0..3.
    #[inline(always)]
    unsafe fn load4(p: *const u8) -> __m128i {
        _mm_unpacklo_epi8(
            _mm_cvtsi32_si128((p as *const i32).read_unaligned()),
            _mm_setzero_si128(),
        )
    }

    /// Lanes 0..3 as bytes, to `p` (four bytes).
    #[inline(always)]
    unsafe fn store4(p: *mut u8, v: __m128i) {
        (p as *mut i32).write_unaligned(_mm_cvtsi128_si32(_mm_packus_epi16(v, v)));
    }

    /// Pixel `px` of `row` as lanes 0..3 (zero outside the row), reading only inside the row.
    #[inline(always)]
    fn load_checked<const BPP: usize>(row: &[u8], px: isize) -> __m128i {
        let mut v = [0u8; 4];
        if px >= 0 {
            if let Some(p) = row.get(px as usize * BPP..px as usize * BPP + BPP) {
                v[..BPP].copy_from_slice(p);
            }
        }
        // SAFETY: SSE2 is part of the x86_64 baseline; these intrinsics only touch registers.
        unsafe {
            _mm_unpacklo_epi8(
                _mm_cvtsi32_si128(i32::from_le_bytes(v)),
                _mm_setzero_si128(),
            )
        }
    }

    /// [`paeth`] with G = `groups` (1, 2 or 4).
    pub fn paeth_rows<const BPP: usize>(
        groups: usize,
        cur: &[&[u8]],
        prev: &[u8],
        out: &mut [&mut [u8]],
    ) {
        match groups {
            4 => paeth::<4, BPP>(cur, prev, out),
            2 => paeth::<2, BPP>(cur, prev, out),
            _ => paeth::<1, BPP>(cur, prev, out),
        }
    }

    /// `cur[j]` (filtered, without the type byte) to `out[j]`, for the 2G rows under `prev`.
    /// Every slice is `n * BPP` bytes with `n >= 2G + 2` and at least 4 bytes; BPP is 1 to 4.
    pub fn paeth<const G: usize, const BPP: usize>(
        cur: &[&[u8]],
        prev: &[u8],
        out: &mut [&mut [u8]],
    ) {
        let rows = 2 * G;
        let len = prev.len();
        let n = len / BPP;
        assert!(
            (1..=4).contains(&BPP)
                && G <= 4
                && cur.len() == rows
                && out.len() == rows
                && n * BPP == len
                && n >= rows + 2
                && len >= 4
                && cur.iter().all(|r| r.len() == len)
                && out.iter().all(|r| r.len() == len)
        );
        // Every write goes through these pointers, taken once from the disjoint `&mut` rows, which
        // are not used again in this function.
        let mut out_ptr = [std::ptr::null_mut::<u8>(); 8];
        for (p, row) in out_ptr.iter_mut().zip(out.iter_mut()) {
            *p = row.as_mut_ptr();
        }
        let (rows_i, n_i) = (rows as isize, n as isize);
        // The middle steps run while every row's pixel has 4 readable bytes: px * BPP + 4 <= len.
        let mid_end = (((len - 4) / BPP + 1) as isize).max(rows_i);
        // SAFETY: SSE2 is part of the x86_64 baseline. Memory: row j's pixel at step k is
        // `px = k - j`. Edge steps (`edge`) read through bounds-checked slices and write BPP bytes at
        // `px * BPP` only when `0 <= px < n`, inside the `len`-byte row `out_ptr[j]` points to. In
        // middle steps, `rows <= k < mid_end`, so for every j < rows, `0 <= px <= (len - 4) / BPP`,
        // and the 4 bytes at `px * BPP` end at or before `len`: inside the `len`-byte rows of `cur`,
        // `prev` (read at px = k) and `out`. Writes never alias reads: `out` rows are distinct
        // `&mut` slices, `cur` and `prev` shared ones. When BPP < 4, the bytes written after the
        // pixel's own belong to the next pixels of the same row (inside it, as just shown), which
        // that row writes again in its next steps before anything reads them (the rows below take
        // their "above" pixels from registers, and the final edge steps write exact bytes).
        unsafe {
            let mut state = ([_mm_setzero_si128(); G], [_mm_setzero_si128(); G]);
            for k in 0..rows_i {
                step::<G, BPP, true>(k, n_i, cur, prev, &out_ptr, &mut state);
            }
            for k in rows_i..mid_end {
                step::<G, BPP, false>(k, n_i, cur, prev, &out_ptr, &mut state);
            }
            for k in mid_end..n_i + rows_i {
                step::<G, BPP, true>(k, n_i, cur, prev, &out_ptr, &mut state);
            }
        }
    }

    /// Step `k` of [`paeth`]: every row j of the group advances to pixel `k - j`. `state` is the
    /// previous step's results (r) and "above" pixels (c). EDGE: check every access (see the
    /// safety comment in [`paeth`], which states what the caller guarantees otherwise).
    #[inline(always)]
    #[allow(clippy::needless_range_loop)] // g indexes r, b, c and the rows together
    unsafe fn step<const G: usize, const BPP: usize, const EDGE: bool>(
        k: isize,
        n: isize,
        cur: &[&[u8]],
        prev: &[u8],
        out_ptr: &[*mut u8; 8],
        state: &mut ([__m128i; G], [__m128i; G]),
    ) {
        let load = |px: isize, row: &[u8]| {
            if EDGE {
                load_checked::<BPP>(row, px)
            } else {
                load4(row.as_ptr().add(px as usize * BPP))
            }
        };
        let (r, c) = state;
        let mut b = [_mm_setzero_si128(); G];
        b[0] = _mm_unpacklo_epi64(load(k, prev), r[0]);
        for g in 1..G {
            b[g] = _mm_castpd_si128(_mm_shuffle_pd(
                _mm_castsi128_pd(r[g - 1]),
                _mm_castsi128_pd(r[g]),
                0b01,
            ));
        }
        let mask = _mm_set1_epi16(0xff);
        for g in 0..G {
            let (j0, j1) = (2 * g, 2 * g + 1);
            let x = _mm_unpacklo_epi64(
                load(k - j0 as isize, cur[j0]),
                load(k - j1 as isize, cur[j1]),
            );
            r[g] = _mm_and_si128(_mm_add_epi16(x, predict(r[g], b[g], c[g])), mask);
        }
        *c = b;
        for g in 0..G {
            for (j, v) in [(2 * g, r[g]), (2 * g + 1, _mm_unpackhi_epi64(r[g], r[g]))] {
                let px = k - j as isize;
                if !EDGE {
                    store4(out_ptr[j].add(px as usize * BPP), v);
                } else if px >= 0 && px < n {
                    let bytes = _mm_cvtsi128_si32(_mm_packus_epi16(v, v)).to_le_bytes();
                    std::ptr::copy_nonoverlapping(
                        bytes.as_ptr(),
                        out_ptr[j].add(px as usize * BPP),
                        BPP,
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small deterministic generator (xorshift64*).
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
        fn bytes(&mut self, n: usize) -> Vec<u8> {
            (0..n).map(|_| self.next() as u8).collect()
        }
    }

    /// The specification's reconstruction, byte by byte, with no shortcut.
    fn reference_unfilter(filtered: &[u8], rb: usize, bpp: usize) -> Option<Vec<u8>> {
        let rows = filtered.len() / (rb + 1);
        let mut out = vec![0u8; rows * rb];
        for r in 0..rows {
            let f = filtered[r * (rb + 1)];
            for i in 0..rb {
                let x = filtered[r * (rb + 1) + 1 + i];
                let a = if i >= bpp { out[r * rb + i - bpp] } else { 0 };
                let b = if r > 0 { out[(r - 1) * rb + i] } else { 0 };
                let c = if r > 0 && i >= bpp {
                    out[(r - 1) * rb + i - bpp]
                } else {
                    0
                };
                let (ia, ib, ic) = (a as i32, b as i32, c as i32);
                let p = ia + ib - ic;
                let (pa, pb, pc) = ((p - ia).abs(), (p - ib).abs(), (p - ic).abs());
                let pred = match f {
                    0 => 0,
                    1 => a,
                    2 => b,
                    3 => ((ia + ib) / 2) as u8,
                    4 if pa <= pb && pa <= pc => a,
                    4 if pb <= pc => b,
                    4 => c,
                    _ => return None,
                };
                out[r * rb + i] = x.wrapping_add(pred);
            }
        }
        Some(out)
    }

    /// Random filtered rows: runs of Paeth rows of random lengths (to hit every wavefront width and
    /// its boundaries) mixed with the other filters.
    fn random_filtered(rng: &mut Rng, rows: usize, rb: usize) -> Vec<u8> {
        let mut data = Vec::with_capacity(rows * (rb + 1));
        let mut paeth_left = 0;
        for _ in 0..rows {
            if paeth_left == 0 && rng.below(3) == 0 {
                paeth_left = 1 + rng.below(12);
            }
            let f = if paeth_left > 0 {
                paeth_left -= 1;
                4
            } else {
                rng.below(5) as u8
            };
            data.push(f);
            // Smooth-ish bytes make every Paeth branch (a, b, c) happen, as in photos.
            let noise = rng.bytes(rb);
            data.extend(
                noise
                    .iter()
                    .map(|&v| if rng.below(4) == 0 { v } else { v % 5 }),
            );
        }
        data
    }

    #[test]
    fn unfilter_equals_the_specification_for_every_filter_and_pixel_size() {
        let mut rng = Rng(0x1234_5678_9abc_def1);
        for &bpp in &[1usize, 2, 3, 4, 6, 8] {
            for &pixels in &[1usize, 2, 5, 11, 12, 13, 14, 17, 31, 64, 97] {
                for _ in 0..6 {
                    let rows = 1 + rng.below(40) as usize;
                    let rb = pixels * bpp;
                    let shape = Scanlines {
                        height: rows,
                        row_bytes: rb,
                        bpp,
                    };
                    let filtered = random_filtered(&mut rng, rows, rb);
                    let want = reference_unfilter(&filtered, rb, bpp).expect("valid filters");
                    // All at once, and in windows of random sizes (first_row > 0).
                    let zero = vec![0u8; rb];
                    let mut out = vec![0xAAu8; rows * rb];
                    unfilter_rows(&filtered, &mut out, 0, shape, &zero).expect("unfilter");
                    assert_eq!(out, want, "bpp {bpp}, {pixels} px, {rows} rows");
                    let mut out = vec![0x55u8; rows * rb];
                    let mut row = 0;
                    while row < rows {
                        let take = (1 + rng.below(9) as usize).min(rows - row);
                        let part = &filtered[row * (rb + 1)..(row + take) * (rb + 1)];
                        unfilter_rows(part, &mut out, row, shape, &zero).expect("unfilter");
                        row += take;
                    }
                    assert_eq!(out, want, "windows: bpp {bpp}, {pixels} px, {rows} rows");
                }
            }
        }
    }

    #[test]
    fn paeth_ties_and_extremes_match_the_specification() {
        // Every (a, b, c) combination of extreme and tied values, in a two-row RGB image.
        let values = [0u8, 1, 2, 127, 128, 129, 253, 254, 255];
        for &x in &[0u8, 1, 255] {
            let mut rows = Vec::new();
            for &a in &values {
                for &b in &values {
                    for &c in &values {
                        rows.push((a, b, c));
                    }
                }
            }
            // Row 0 (filter 0) holds c, b pairs; row 1 (Paeth) starts with a then x.
            let pixels = rows.len() * 2;
            let rb = pixels * 3;
            let mut filtered = vec![0u8];
            for &(_, b, c) in &rows {
                filtered.extend([c, c, c, b, b, b]);
            }
            filtered.push(4);
            for _ in 0..pixels {
                filtered.extend([x, x, x]);
            }
            // Eight Paeth rows so the widest wavefront runs too.
            for _ in 0..7 {
                filtered.push(4);
                filtered.extend(std::iter::repeat_n(x, rb));
            }
            let shape = Scanlines {
                height: 9,
                row_bytes: rb,
                bpp: 3,
            };
            let want = reference_unfilter(&filtered, rb, 3).expect("valid");
            let mut out = vec![0u8; 9 * rb];
            unfilter_rows(&filtered, &mut out, 0, shape, &vec![0u8; rb]).expect("unfilter");
            assert_eq!(out, want, "x = {x}");
        }
    }

    #[test]
    fn unknown_filter_type_is_refused() {
        let shape = Scanlines::new(4, 2, 3, 8).expect("shape");
        let mut filtered = vec![0u8; 2 * 13];
        filtered[13] = 5;
        let mut out = vec![0u8; 24];
        assert!(unfilter_rows(&filtered, &mut out, 0, shape, &[0u8; 12]).is_none());
    }

    fn chunk(kind: &[u8], body: &[u8]) -> Vec<u8> {
        let mut out = (body.len() as u32).to_be_bytes().to_vec();
        out.extend_from_slice(kind);
        out.extend_from_slice(body);
        out.extend(crate::decode::png::chunk_crc(kind, body).to_be_bytes());
        out
    }

    fn zlib(raw: &[u8]) -> Vec<u8> {
        let mut out = vec![0u8; zlib_rs::compress_bound(raw.len())];
        let (z, rc) = zlib_rs::compress_slice(&mut out, raw, zlib_rs::DeflateConfig::new(6));
        assert_eq!(rc, zlib_rs::ReturnCode::Ok);
        z.to_vec()
    }

    /// A PNG of `filtered` scanlines, its zlib stream cut into IDAT chunks at `cuts`.
    fn png_file(w: u32, h: u32, bits: u8, color: u8, stream: &[u8], cuts: &[usize]) -> Vec<u8> {
        let mut ihdr = w.to_be_bytes().to_vec();
        ihdr.extend(h.to_be_bytes());
        ihdr.extend([bits, color, 0, 0, 0]);
        let mut file = b"\x89PNG\r\n\x1a\n".to_vec();
        file.extend(chunk(b"IHDR", &ihdr));
        if color == 3 {
            file.extend(chunk(b"PLTE", &[7u8; 3 * 256]));
        }
        let mut start = 0;
        for &cut in cuts.iter().chain([stream.len()].iter()) {
            file.extend(chunk(b"IDAT", &stream[start..cut]));
            start = cut;
        }
        file.extend(chunk(b"tEXt", b"Comment\0after the pixels"));
        file.extend(chunk(b"IEND", b""));
        file
    }

    /// What the png crate (the independent decoder) makes of the same file.
    fn png_crate_rows(file: &[u8]) -> Vec<u8> {
        let mut decoder = png::Decoder::new(std::io::Cursor::new(file));
        decoder.set_transformations(png::Transformations::IDENTITY);
        let mut reader = decoder.read_info().expect("png crate reads the header");
        let mut buf = vec![0u8; reader.output_buffer_size().expect("size")];
        let info = reader.next_frame(&mut buf).expect("png crate decodes");
        buf.truncate(info.buffer_size());
        buf
    }

    #[test]
    fn read_scanlines_equals_the_png_crate_for_every_color_type_and_depth() {
        let mut rng = Rng(42);
        // (color type, channels, bit depths)
        let kinds: [(u8, usize, &[u8]); 5] = [
            (0, 1, &[1, 2, 4, 8, 16]),
            (2, 3, &[8, 16]),
            (3, 1, &[1, 2, 4, 8]),
            (4, 2, &[8, 16]),
            (6, 4, &[8, 16]),
        ];
        for (color, channels, depths) in kinds {
            for &bits in depths {
                for &(w, h) in &[(1u32, 1u32), (3, 7), (13, 9), (40, 33), (200, 70)] {
                    let shape = Scanlines::new(w as usize, h as usize, channels, bits as usize)
                        .expect("shape");
                    let filtered = random_filtered(&mut rng, h as usize, shape.row_bytes);
                    let stream = zlib(&filtered);
                    let n_cuts = rng.below(4) as usize;
                    let mut cuts: Vec<usize> = (0..n_cuts)
                        .map(|_| rng.below(stream.len() as u64) as usize)
                        .collect();
                    cuts.sort_unstable();
                    let file = png_file(w, h, bits, color, &stream, &cuts);
                    let mut out = vec![0u8; shape.height * shape.row_bytes];
                    read_scanlines(&file, shape, &mut out).expect("well-formed file");
                    assert_eq!(
                        out,
                        png_crate_rows(&file),
                        "color {color}, {bits} bits, {w}x{h}, cuts {cuts:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn anything_but_a_well_formed_stream_is_left_to_the_slow_path() {
        let mut rng = Rng(7);
        let (w, h) = (30u32, 20u32);
        let shape = Scanlines::new(30, 20, 3, 8).expect("shape");
        let filtered = random_filtered(&mut rng, 20, shape.row_bytes);
        let stream = zlib(&filtered);
        let mut out = vec![0u8; 20 * shape.row_bytes];
        let good = png_file(w, h, 8, 2, &stream, &[10]);
        assert!(read_scanlines(&good, shape, &mut out).is_some());

        // The stream cut short, at every length.
        for cut in 0..stream.len() {
            let file = png_file(w, h, 8, 2, &stream[..cut], &[]);
            assert!(
                read_scanlines(&file, shape, &mut out).is_none(),
                "cut at {cut}"
            );
        }
        // A wrong Adler-32.
        let mut bad = stream.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert!(read_scanlines(&png_file(w, h, 8, 2, &bad, &[]), shape, &mut out).is_none());
        // More data than rows.
        let mut longer = filtered.clone();
        longer.extend(vec![0u8; shape.row_bytes + 1]);
        let file = png_file(w, h, 8, 2, &zlib(&longer), &[]);
        assert!(read_scanlines(&file, shape, &mut out).is_none());
        // Fewer rows than the header says.
        let file = png_file(
            w,
            h,
            8,
            2,
            &zlib(&filtered[..19 * (shape.row_bytes + 1)]),
            &[],
        );
        assert!(read_scanlines(&file, shape, &mut out).is_none());
        // A bad filter type.
        let mut wrong = filtered.clone();
        wrong[5 * (shape.row_bytes + 1)] = 9;
        let file = png_file(w, h, 8, 2, &zlib(&wrong), &[]);
        assert!(read_scanlines(&file, shape, &mut out).is_none());
        // The file cut anywhere (chunks run past the end): never a panic, never Some.
        for cut in 0..good.len() - 12 {
            assert!(
                read_scanlines(&good[..cut], shape, &mut out).is_none(),
                "file cut at {cut}"
            );
        }
        // No IDAT at all, and an output buffer of the wrong size.
        let no_idat = [&good[..33], &chunk(b"IEND", b"")[..]].concat();
        assert!(read_scanlines(&no_idat, shape, &mut out).is_none());
        assert!(read_scanlines(&good, shape, &mut out[1..]).is_none());
    }

    #[test]
    fn shape_overflow_is_none() {
        assert!(Scanlines::new(usize::MAX, 2, 4, 16).is_none());
        assert_eq!(
            Scanlines::new(5, 3, 1, 1),
            Some(Scanlines {
                height: 3,
                row_bytes: 1,
                bpp: 1
            })
        );
        assert_eq!(Scanlines::new(3, 1, 4, 16).map(|s| s.bpp), Some(8));
    }
}

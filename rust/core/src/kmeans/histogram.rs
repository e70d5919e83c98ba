//! Counting the distinct colors of uint8 RGB pixels: [`ColorHistogram`].

use rayon::prelude::*;
use std::sync::atomic::{AtomicU32, Ordering};

use super::KMeansError;

/// Keys kept as a plain list before the histogram switches to the dense 2^24 table.
const PENDING_MAX: usize = 1 << 20;
/// Number of possible 24-bit colors.
const N_COLORS: usize = 1 << 24;

/// Counts of distinct uint8 RGB colors, filled image by image.
///
/// Small inputs are kept as a list of 24-bit keys and counted by sorting; once more than
/// `PENDING_MAX` pixels arrived the counts move to a dense table of 2^24 `u32` (64 MiB) filled in
/// parallel with atomic increments. Before a count could overflow `u32` the table is folded into an
/// exact `u64` list, so any number of pixels is counted exactly.
#[derive(Debug, Default)]
pub struct ColorHistogram {
    /// Sorted distinct keys and their counts folded out of the dense table.
    keys: Vec<u32>,
    counts: Vec<u64>,
    /// Keys not counted yet (small inputs).
    pending: Vec<u32>,
    /// Dense table, once allocated.
    dense: Option<Vec<AtomicU32>>,
    /// Pixels in the dense table since it was last folded (bounds every entry).
    dense_pixels: u64,
    n_pixels: u64,
}

#[inline]
fn key(p: &[u8]) -> u32 {
    (u32::from(p[0]) << 16) | (u32::from(p[1]) << 8) | u32::from(p[2])
}

/// The RGB color of a 24-bit key.
#[inline]
pub fn key_color(k: u32) -> [u8; 3] {
    [(k >> 16) as u8, (k >> 8) as u8, k as u8]
}

/// Merges two sorted (key, count) lists.
fn merge_sorted(ak: &[u32], ac: &[u64], bk: &[u32], bc: &[u64]) -> (Vec<u32>, Vec<u64>) {
    let mut keys = Vec::with_capacity(ak.len() + bk.len());
    let mut counts = Vec::with_capacity(ak.len() + bk.len());
    let (mut i, mut j) = (0, 0);
    while i < ak.len() && j < bk.len() {
        match ak[i].cmp(&bk[j]) {
            std::cmp::Ordering::Less => {
                keys.push(ak[i]);
                counts.push(ac[i]);
                i += 1;
            }
            std::cmp::Ordering::Greater => {
                keys.push(bk[j]);
                counts.push(bc[j]);
                j += 1;
            }
            std::cmp::Ordering::Equal => {
                keys.push(ak[i]);
                counts.push(ac[i] + bc[j]);
                i += 1;
                j += 1;
            }
        }
    }
    keys.extend_from_slice(&ak[i..]);
    counts.extend_from_slice(&ac[i..]);
    keys.extend_from_slice(&bk[j..]);
    counts.extend_from_slice(&bc[j..]);
    (keys, counts)
}

/// Run-length counts of a key list (sorted in place).
fn count_sorted(keys: &mut [u32]) -> (Vec<u32>, Vec<u64>) {
    keys.par_sort_unstable();
    let mut out_k = Vec::new();
    let mut out_c: Vec<u64> = Vec::new();
    for &k in keys.iter() {
        if out_k.last() == Some(&k) {
            if let Some(c) = out_c.last_mut() {
                *c += 1;
            }
        } else {
            out_k.push(k);
            out_c.push(1);
        }
    }
    (out_k, out_c)
}

/// Nonzero entries of the dense table, in key order.
fn scan_dense(table: &[AtomicU32]) -> (Vec<u32>, Vec<u64>) {
    let parts: Vec<(Vec<u32>, Vec<u64>)> = table
        .par_chunks(1 << 16)
        .enumerate()
        .map(|(ci, chunk)| {
            let mut k = Vec::new();
            let mut c = Vec::new();
            for (i, v) in chunk.iter().enumerate() {
                let n = v.load(Ordering::Relaxed);
                if n != 0 {
                    k.push((ci * (1 << 16) + i) as u32);
                    c.push(u64::from(n));
                }
            }
            (k, c)
        })
        .collect();
    let total: usize = parts.iter().map(|p| p.0.len()).sum();
    let mut keys = Vec::with_capacity(total);
    let mut counts = Vec::with_capacity(total);
    for (k, c) in parts {
        keys.extend(k);
        counts.extend(c);
    }
    (keys, counts)
}

impl ColorHistogram {
    /// An empty histogram.
    pub fn new() -> Self {
        Self::default()
    }

    /// Pixels counted so far.
    pub fn n_pixels(&self) -> u64 {
        self.n_pixels
    }

    /// Adds interleaved RGB pixels (`len` must be a multiple of 3).
    pub fn add_rgb(&mut self, pixels: &[u8]) -> Result<(), KMeansError> {
        if pixels.len() % 3 != 0 {
            return Err(KMeansError::PixelLength { len: pixels.len() });
        }
        let n = pixels.len() / 3;
        if self.dense.is_none() && self.pending.len() + n <= PENDING_MAX {
            self.pending.extend(pixels.chunks_exact(3).map(key));
            self.n_pixels += n as u64;
            return Ok(());
        }
        if self.dense.is_none() {
            let table: Vec<AtomicU32> = (0..N_COLORS)
                .into_par_iter()
                .map(|_| AtomicU32::new(0))
                .collect();
            self.dense = Some(table);
            let pending = std::mem::take(&mut self.pending);
            self.add_dense(pending.len(), |i| pending[i]);
        }
        // Pieces small enough that one piece alone cannot overflow a u32 entry.
        for piece in pixels.chunks(3 * (1 << 30)) {
            self.add_dense(piece.len() / 3, |i| key(&piece[3 * i..3 * i + 3]));
        }
        self.n_pixels += n as u64;
        Ok(())
    }

    /// Counts the keys `key_of(0..n)` into the dense table (which must exist).
    fn add_dense(&mut self, n: usize, key_of: impl Fn(usize) -> u32 + Sync) {
        if n == 0 {
            return;
        }
        if self.dense_pixels + n as u64 > u64::from(u32::MAX) {
            self.fold_dense();
        }
        if let Some(table) = &self.dense {
            (0..n).into_par_iter().with_min_len(1 << 16).for_each(|i| {
                table[key_of(i) as usize].fetch_add(1, Ordering::Relaxed);
            });
        }
        self.dense_pixels += n as u64;
    }

    /// Moves the dense counts into the exact u64 list and zeroes the table.
    fn fold_dense(&mut self) {
        if let Some(table) = &self.dense {
            let (k, c) = scan_dense(table);
            let merged = merge_sorted(&self.keys, &self.counts, &k, &c);
            self.keys = merged.0;
            self.counts = merged.1;
            table.par_iter().for_each(|v| v.store(0, Ordering::Relaxed));
        }
        self.dense_pixels = 0;
    }

    /// The distinct colors as sorted 24-bit keys (`r << 16 | g << 8 | b`) and their counts.
    pub fn keys_counts(&self) -> (Vec<u32>, Vec<u64>) {
        let mut pending = self.pending.clone();
        let (pk, pc) = count_sorted(&mut pending);
        let (mut keys, mut counts) = merge_sorted(&self.keys, &self.counts, &pk, &pc);
        if let Some(table) = &self.dense {
            let (dk, dc) = scan_dense(table);
            (keys, counts) = merge_sorted(&keys, &counts, &dk, &dc);
        }
        (keys, counts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kmeans::SplitMix64;

    #[test]
    fn histogram_counts_sparse_and_dense_agree() {
        let mut r = SplitMix64::new(3);
        let px: Vec<u8> = (0..3 * 300_000)
            .map(|_| (r.next_u64() % 7) as u8 * 40)
            .collect();
        let mut small = ColorHistogram::new();
        small.add_rgb(&px).unwrap();
        let mut big = ColorHistogram::new();
        for _ in 0..5 {
            big.add_rgb(&px).unwrap(); // crosses PENDING_MAX -> dense
        }
        assert!(big.dense.is_some());
        let (k1, c1) = small.keys_counts();
        let (k2, c2) = big.keys_counts();
        assert_eq!(k1, k2);
        assert_eq!(c1.iter().map(|c| c * 5).collect::<Vec<_>>(), c2);
        assert_eq!(c2.iter().sum::<u64>(), 1_500_000);
        assert_eq!(big.n_pixels(), 1_500_000);
        // Naive count.
        let mut naive = std::collections::BTreeMap::new();
        for p in px.chunks_exact(3) {
            *naive.entry(key(p)).or_insert(0u64) += 1;
        }
        assert_eq!(k1, naive.keys().copied().collect::<Vec<_>>());
        assert_eq!(c1, naive.values().copied().collect::<Vec<_>>());
        // Folding keeps counts exact.
        big.fold_dense();
        big.add_rgb(&px).unwrap();
        let (k3, c3) = big.keys_counts();
        assert_eq!(k3, k1);
        assert_eq!(c3, c1.iter().map(|c| c * 6).collect::<Vec<_>>());
    }

    #[test]
    fn histogram_rejects_partial_pixels() {
        let mut h = ColorHistogram::new();
        assert_eq!(
            h.add_rgb(&[1, 2, 3, 4]),
            Err(KMeansError::PixelLength { len: 4 })
        );
    }
}

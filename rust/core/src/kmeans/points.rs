//! Weighted points and centers in structure-of-arrays layout, distances, and the Morton order.

use rayon::prelude::*;

/// Points in structure-of-arrays layout with their weights (all weights > 0).
pub(super) struct Points {
    pub(super) x: Vec<f64>,
    pub(super) y: Vec<f64>,
    pub(super) z: Vec<f64>,
    pub(super) w: Vec<f64>,
}

impl Points {
    pub(super) fn len(&self) -> usize {
        self.w.len()
    }
    #[inline]
    pub(super) fn get(&self, i: usize) -> [f64; 3] {
        [self.x[i], self.y[i], self.z[i]]
    }
}

/// Centers in structure-of-arrays layout.
#[derive(Clone)]
pub(super) struct Centers {
    pub(super) x: Vec<f64>,
    pub(super) y: Vec<f64>,
    pub(super) z: Vec<f64>,
}

impl Centers {
    pub(super) fn from_rows(rows: &[[f64; 3]]) -> Self {
        Self {
            x: rows.iter().map(|r| r[0]).collect(),
            y: rows.iter().map(|r| r[1]).collect(),
            z: rows.iter().map(|r| r[2]).collect(),
        }
    }
    pub(super) fn rows(&self) -> Vec<[f64; 3]> {
        (0..self.x.len())
            .map(|j| [self.x[j], self.y[j], self.z[j]])
            .collect()
    }
    #[inline]
    pub(super) fn get(&self, j: usize) -> [f64; 3] {
        [self.x[j], self.y[j], self.z[j]]
    }
}

#[inline]
pub(super) fn d2(a: [f64; 3], b: [f64; 3]) -> f64 {
    let dx = a[0] - b[0];
    let dy = a[1] - b[1];
    let dz = a[2] - b[2];
    dx * dx + dy * dy + dz * dz
}

/// Nearest and second-nearest squared distances and the nearest index (lowest index on ties).
#[inline]
pub(super) fn nearest2(p: [f64; 3], c: &Centers) -> (usize, f64, f64) {
    let (mut best, mut d1, mut d2nd) = (0usize, f64::INFINITY, f64::INFINITY);
    let (cx, cy, cz) = (&c.x[..], &c.y[..], &c.z[..]);
    for j in 0..cx.len() {
        let dx = p[0] - cx[j];
        let dy = p[1] - cy[j];
        let dz = p[2] - cz[j];
        let d = dx * dx + dy * dy + dz * dz;
        if d < d2nd {
            if d < d1 {
                d2nd = d1;
                d1 = d;
                best = j;
            } else {
                d2nd = d;
            }
        }
    }
    (best, d1, d2nd)
}

/// Spreads the low 21 bits of `v` to every third bit.
pub(super) fn spread3(v: u64) -> u64 {
    let mut x = v & 0x1F_FFFF;
    x = (x | (x << 32)) & 0x1F_0000_0000_FFFF;
    x = (x | (x << 16)) & 0x1F_0000_FF00_00FF;
    x = (x | (x << 8)) & 0x100F_00F0_0F00_F00F;
    x = (x | (x << 4)) & 0x10C3_0C30_C30C_30C3;
    x = (x | (x << 2)) & 0x1249_2492_4924_9249;
    x
}

/// The points reordered along a Morton (Z-order) curve, so that consecutive points are close in
/// space: blocks of them have small bounding boxes (k-means++ prunes whole blocks) and neighbors
/// usually share a cluster. Only the order of floating-point sums changes.
pub(super) fn morton_sorted(pts: Points) -> Points {
    let n = pts.len();
    let mut lo = [f64::INFINITY; 3];
    let mut hi = [f64::NEG_INFINITY; 3];
    for i in 0..n {
        let p = pts.get(i);
        for q in 0..3 {
            lo[q] = lo[q].min(p[q]);
            hi[q] = hi[q].max(p[q]);
        }
    }
    let scale: Vec<f64> = (0..3)
        .map(|q| {
            if hi[q] > lo[q] {
                2_097_151.0 / (hi[q] - lo[q])
            } else {
                0.0
            }
        })
        .collect();
    let mut order: Vec<(u64, u32)> = (0..n)
        .into_par_iter()
        .map(|i| {
            let p = pts.get(i);
            let code = (0..3).fold(0u64, |acc, q| {
                acc | (spread3(((p[q] - lo[q]) * scale[q]) as u64) << (2 - q))
            });
            (code, i as u32)
        })
        .collect();
    order.par_sort_unstable();
    let pick = |v: &Vec<f64>| {
        order
            .iter()
            .map(|&(_, i)| v[i as usize])
            .collect::<Vec<f64>>()
    };
    Points {
        x: pick(&pts.x),
        y: pick(&pts.y),
        z: pick(&pts.z),
        w: pick(&pts.w),
    }
}

/// Sum of per-chunk values in chunk order (deterministic).
pub(super) fn chunk_sum(parts: &[f64]) -> f64 {
    parts.iter().sum()
}

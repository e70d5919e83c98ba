//! Building the lookup table: box pruning with a proven error bound, then exact leaves.

use rayon::prelude::*;

use super::arith::{sum_sq, Arith, Real};
use super::kernel::{eval, Block};
use super::table::{brick_index, LookupTable};
use super::{norm_table, BLOCK, EXTREME, SLAB};

/// Pruning data (float64, exact copies of the cluster values).
pub(super) struct Geometry {
    pub(super) c: Vec<[f64; 3]>,
    pub(super) norm: Vec<f64>,
    pub(super) normal: Vec<u32>,
    pub(super) extreme: Vec<u32>,
    pub(super) unit: f64,
}

impl Geometry {
    pub(super) fn new(c: Vec<[f64; 3]>, unit: f64) -> Self {
        let norm = c
            .iter()
            .map(|v| (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt())
            .collect();
        let (mut normal, mut extreme) = (Vec::new(), Vec::new());
        for (j, v) in c.iter().enumerate() {
            if v.iter().any(|x| x.abs() > EXTREME) {
                extreme.push(j as u32);
            } else {
                normal.push(j as u32);
            }
        }
        Geometry {
            c,
            norm,
            normal,
            extreme,
            unit,
        }
    }
}

/// An axis-aligned box of uint8 colors, `lo[a] .. hi[a]` (exclusive) per channel.
#[derive(Clone, Copy, Debug)]
pub(super) struct ColorBox {
    pub(super) lo: [usize; 3],
    pub(super) hi: [usize; 3],
}

impl ColorBox {
    pub(super) fn volume(&self) -> usize {
        (0..3).map(|a| self.hi[a] - self.lo[a]).product()
    }
    pub(super) fn longest_axis(&self) -> usize {
        let s = |a: usize| self.hi[a] - self.lo[a];
        if s(0) >= s(1) && s(0) >= s(2) {
            0
        } else if s(1) >= s(2) {
            1
        } else {
            2
        }
    }
    pub(super) fn split(&self) -> (ColorBox, ColorBox) {
        let a = self.longest_axis();
        let mid = (self.lo[a] + self.hi[a]) / 2;
        let (mut l, mut r) = (*self, *self);
        l.hi[a] = mid;
        r.lo[a] = mid;
        (l, r)
    }
}

/// The clusters of `cands` that may be the reference's answer somewhere in `bx` (see the module
/// documentation for the bound), in ascending order.
pub(super) fn prune(
    geo: &Geometry,
    bx: &ColorBox,
    cands: &[u32],
    scratch: &mut Vec<(f64, f64)>,
) -> Vec<u32> {
    let nt = norm_table();
    let lo: [f64; 3] = std::array::from_fn(|a| nt[bx.lo[a]] as f64);
    let hi: [f64; 3] = std::array::from_fn(|a| nt[bx.hi[a] - 1] as f64);
    let xmax = (0..3)
        .map(|a| lo[a].abs().max(hi[a].abs()))
        .map(|v| v * v)
        .sum::<f64>()
        .sqrt();
    scratch.clear();
    let mut best_upper = f64::INFINITY;
    for &j in cands {
        let c = &geo.c[j as usize];
        let (mut l, mut m) = (0.0f64, 0.0f64);
        for a in 0..3 {
            let below = lo[a] - c[a];
            let above = c[a] - hi[a];
            let g = below.max(above).max(0.0);
            l += g * g;
            let far = (c[a] - lo[a]).abs().max((c[a] - hi[a]).abs());
            m += far * far;
        }
        let r = xmax + geo.norm[j as usize];
        let e = 32.0 * geo.unit * r * r + 1e-30;
        scratch.push((l - e, m + e));
        best_upper = best_upper.min(m + e);
    }
    cands
        .iter()
        .zip(scratch.iter())
        .filter(|(_, &(le, _))| le <= best_upper)
        .map(|(&j, _)| j)
        .collect()
}

/// Merges the always-kept extreme clusters into a sorted candidate list.
pub(super) fn with_extreme(kept: Vec<u32>, extreme: &[u32]) -> Vec<u32> {
    if extreme.is_empty() {
        return kept;
    }
    let mut all = kept;
    all.extend_from_slice(extreme);
    all.sort_unstable();
    all
}

pub(super) fn fill_leaf<T: Real>(
    ar: &Arith<T>,
    geo: &Geometry,
    bx: &ColorBox,
    cands: &[u32],
    slab: &mut [u16],
    r0: usize,
    blk: &mut Block<T>,
) {
    let cands = with_extreme(cands.to_vec(), &geo.extreme);
    let nt = norm_table();
    blk.n = 0;
    for r in bx.lo[0]..bx.hi[0] {
        for g in bx.lo[1]..bx.hi[1] {
            for b in bx.lo[2]..bx.hi[2] {
                let x = [nt[r], nt[g], nt[b]];
                blk.push(
                    [T::from_f32(x[0]), T::from_f32(x[1]), T::from_f32(x[2])],
                    T::from_f32(sum_sq(x)),
                );
            }
        }
    }
    eval(blk, &cands, ar, !geo.extreme.is_empty());
    let mut t = 0;
    for r in bx.lo[0]..bx.hi[0] {
        for g in bx.lo[1]..bx.hi[1] {
            for b in bx.lo[2]..bx.hi[2] {
                // the slab holds red values r0..r0+SLAB: a contiguous range of the brick layout
                slab[brick_index(r, g, b) - (r0 << 16)] = blk.best_i[t].to_index();
                t += 1;
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
pub(super) fn fill_box<T: Real>(
    ar: &Arith<T>,
    geo: &Geometry,
    bx: ColorBox,
    parent: &[u32],
    slab: &mut [u16],
    r0: usize,
    blk: &mut Block<T>,
    scratch: &mut Vec<(f64, f64)>,
) {
    let kept = prune(geo, &bx, parent, scratch);
    let longest = bx.hi[bx.longest_axis()] - bx.lo[bx.longest_axis()];
    let leaf = bx.volume() <= BLOCK && (kept.len() <= 32 || longest <= 2);
    if leaf {
        fill_leaf(ar, geo, &bx, &kept, slab, r0, blk);
    } else {
        let (l, r) = bx.split();
        fill_box(ar, geo, l, &kept, slab, r0, blk, scratch);
        fill_box(ar, geo, r, &kept, slab, r0, blk, scratch);
    }
}

pub(super) fn build_table<T: Real>(ar: &Arith<T>, geo: &Geometry) -> LookupTable {
    let mut table = LookupTable::new_zeroed();
    table
        .as_mut_slice()
        .par_chunks_mut(SLAB << 16)
        .enumerate()
        .for_each(|(s, slab)| {
            let r0 = s * SLAB;
            let bx = ColorBox {
                lo: [r0, 0, 0],
                hi: [r0 + SLAB, 256, 256],
            };
            let mut blk = Block::<T>::new();
            let mut scratch = Vec::new();
            fill_box(ar, geo, bx, &geo.normal, slab, r0, &mut blk, &mut scratch);
        });
    table
}

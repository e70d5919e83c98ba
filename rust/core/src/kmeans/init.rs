//! Greedy k-means++ initialization: weighted sampling with block pruning.

use rayon::prelude::*;

use super::points::{chunk_sum, d2, Centers, Points};
use super::{KMeansError, KMeansOptions, Progress, ProgressFn, SplitMix64};

/// The first point whose running total of `mass` exceeds `r` (scikit-learn's `searchsorted` on the
/// cumulative sum), found through per-chunk totals. Never returns a zero-mass point.
fn sample(mass: &[f64], chunk_totals: &[f64], block: usize, r: f64) -> usize {
    let mut acc = 0.0;
    for (ci, &t) in chunk_totals.iter().enumerate() {
        if acc + t > r {
            let start = ci * block;
            let end = (start + block).min(mass.len());
            let mut a = acc;
            for (i, &m) in mass[start..end].iter().enumerate() {
                a += m;
                if a > r && m > 0.0 {
                    return start + i;
                }
            }
        }
        acc += t;
    }
    // Rounding left r at or beyond the total: the last point with mass.
    mass.iter().rposition(|&m| m > 0.0).unwrap_or(0)
}

/// Points per k-means++ block (the unit of pruning and of the sampling totals).
const INIT_BLOCK: usize = 256;

/// Squared distance from `p` to the box `[lo, hi]`.
#[inline]
fn box_d2(p: [f64; 3], lo: [f64; 3], hi: [f64; 3]) -> f64 {
    let mut s = 0.0;
    for q in 0..3 {
        let d = (lo[q] - p[q]).max(p[q] - hi[q]).max(0.0);
        s += d * d;
    }
    s
}

/// Greedy k-means++ (scikit-learn's `_kmeans_plusplus` with sample weights).
///
/// Points are handled in blocks of `INIT_BLOCK` with their bounding boxes: a candidate no nearer to
/// a block's box than the block's largest current distance changes nothing in it, so the block's
/// total is reused without touching its points (exactly the same sum).
pub(super) fn kmeans_plus_plus(
    pts: &Points,
    opts: &KMeansOptions,
    progress: &mut ProgressFn<'_>,
) -> Result<Centers, KMeansError> {
    const B: usize = INIT_BLOCK;
    let n = pts.len();
    let k = opts.n_clusters;
    let trials = opts
        .n_local_trials
        .unwrap_or(2 + (k as f64).ln().floor() as usize);
    let mut rng = SplitMix64::new(opts.seed);
    let nb = n.div_ceil(B);
    let boxes: Vec<([f64; 3], [f64; 3])> = (0..nb)
        .into_par_iter()
        .map(|b| {
            let mut lo = [f64::INFINITY; 3];
            let mut hi = [f64::NEG_INFINITY; 3];
            for i in b * B..((b + 1) * B).min(n) {
                let p = pts.get(i);
                for q in 0..3 {
                    lo[q] = lo[q].min(p[q]);
                    hi[q] = hi[q].max(p[q]);
                }
            }
            (lo, hi)
        })
        .collect();

    let wtot: Vec<f64> = pts.w.par_chunks(B).map(|c| c.iter().sum()).collect();
    let first = sample(&pts.w, &wtot, B, rng.next_f64() * chunk_sum(&wtot));
    let mut chosen = vec![pts.get(first)];

    // closest[i] = squared distance to the nearest chosen center; mass = w * closest; per block:
    // the total mass and the largest `closest`.
    let c0 = pts.get(first);
    let mut closest: Vec<f64> = (0..n).into_par_iter().map(|i| d2(pts.get(i), c0)).collect();
    let mut mass: Vec<f64> = closest.par_iter().zip(&pts.w).map(|(d, w)| d * w).collect();
    let mut totals: Vec<f64> = mass.par_chunks(B).map(|c| c.iter().sum()).collect();
    let mut maxc: Vec<f64> = closest
        .par_chunks(B)
        .map(|c| c.iter().fold(0.0f64, |m, &v| m.max(v)))
        .collect();
    if !progress(Progress::Init { done: 1, total: k }) {
        return Err(KMeansError::Cancelled);
    }

    for c in 1..k {
        let pot = chunk_sum(&totals);
        let cands: Vec<[f64; 3]> = (0..trials)
            .map(|_| pts.get(sample(&mass, &totals, B, rng.next_f64() * pot)))
            .collect();
        // Potential of each candidate: sum of w * min(closest, d(x, cand)), per block.
        let per_block: Vec<Vec<f64>> = (0..nb)
            .into_par_iter()
            .with_min_len(16)
            .map(|b| {
                let (start, end) = (b * B, ((b + 1) * B).min(n));
                let (lo, hi) = boxes[b];
                let (xs, ys, zs, ws, cl) = (
                    &pts.x[start..end],
                    &pts.y[start..end],
                    &pts.z[start..end],
                    &pts.w[start..end],
                    &closest[start..end],
                );
                cands
                    .iter()
                    .map(|cand| {
                        if box_d2(*cand, lo, hi) >= maxc[b] {
                            return totals[b];
                        }
                        let mut s = 0.0;
                        for i in 0..xs.len() {
                            let (dx, dy, dz) = (xs[i] - cand[0], ys[i] - cand[1], zs[i] - cand[2]);
                            let d = dx * dx + dy * dy + dz * dz;
                            s += ws[i] * if d < cl[i] { d } else { cl[i] };
                        }
                        s
                    })
                    .collect()
            })
            .collect();
        let mut best = 0;
        let mut best_pot = f64::INFINITY;
        for t in 0..cands.len() {
            let s: f64 = per_block.iter().map(|v| v[t]).sum();
            if s < best_pot {
                best_pot = s;
                best = t;
            }
        }
        let cb = cands[best];
        chosen.push(cb);
        closest
            .par_chunks_mut(B)
            .zip(mass.par_chunks_mut(B))
            .zip(totals.par_iter_mut())
            .zip(maxc.par_iter_mut())
            .enumerate()
            .with_min_len(16)
            .for_each(|(b, (((cl, ms), tot), mx))| {
                let (lo, hi) = boxes[b];
                if box_d2(cb, lo, hi) >= *mx {
                    return;
                }
                let start = b * B;
                let mut s = 0.0;
                let mut m = 0.0f64;
                for i in 0..cl.len() {
                    let p = start + i;
                    let d = d2(pts.get(p), cb);
                    if d < cl[i] {
                        cl[i] = d;
                    }
                    ms[i] = pts.w[p] * cl[i];
                    s += ms[i];
                    m = m.max(cl[i]);
                }
                *tot = s;
                *mx = m;
            });
        if !progress(Progress::Init {
            done: c + 1,
            total: k,
        }) {
            return Err(KMeansError::Cancelled);
        }
    }
    Ok(Centers::from_rows(&chosen))
}

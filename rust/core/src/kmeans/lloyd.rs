//! Lloyd iterations with Hamerly bounds and neighbor-list search.

use rayon::prelude::*;

use super::points::{chunk_sum, d2, nearest2, Centers, Points};
use super::{KMeansError, KMeansOptions, KMeansResult, Progress, ProgressFn, CHUNK};

/// Per-point Hamerly state.
#[derive(Clone, Copy)]
struct Bound {
    label: u32,
    /// Upper bound of the distance to the assigned center.
    upper: f64,
    /// Lower bound of the distance to every other center.
    lower: f64,
}

/// Largest `K` for which the per-center neighbor lists (K^2 entries) are built; above it the
/// assignment falls back to scanning every center.
pub(super) const NEIGHBOR_LIST_MAX_K: usize = 2048;

/// For each center, the other centers sorted by distance from it (when `K` is small enough), and
/// half the distance to its nearest other center (Hamerly's `s`).
struct CenterGeometry {
    k: usize,
    /// `k * (k - 1)` entries: row `a` lists `(distance(c_a, c_j), j)` ascending.
    neighbors: Option<Vec<(f64, u32)>>,
    half_sep: Vec<f64>,
}

impl CenterGeometry {
    fn new(c: &Centers) -> Self {
        let k = c.x.len();
        if k <= NEIGHBOR_LIST_MAX_K {
            let rows: Vec<Vec<(f64, u32)>> = (0..k)
                .into_par_iter()
                .map(|a| {
                    let ca = c.get(a);
                    let mut row: Vec<(f64, u32)> = (0..k)
                        .filter(|&j| j != a)
                        .map(|j| (d2(ca, c.get(j)).sqrt(), j as u32))
                        .collect();
                    row.sort_unstable_by(|x, y| x.0.total_cmp(&y.0).then(x.1.cmp(&y.1)));
                    row
                })
                .collect();
            let half_sep = rows
                .iter()
                .map(|r| r.first().map_or(f64::INFINITY, |x| 0.5 * x.0))
                .collect();
            Self {
                k,
                neighbors: Some(rows.concat()),
                half_sep,
            }
        } else {
            let half_sep = (0..k)
                .into_par_iter()
                .map(|j| {
                    let cj = c.get(j);
                    let mut m = f64::INFINITY;
                    for i in 0..k {
                        if i != j {
                            m = m.min(d2(cj, c.get(i)));
                        }
                    }
                    0.5 * m.sqrt()
                })
                .collect();
            Self {
                k,
                neighbors: None,
                half_sep,
            }
        }
    }

    /// Exact nearest center (lowest index on ties), its squared distance and the squared distance
    /// of the second nearest, searching outward from center `a`: a center `j` with
    /// `d(c_a, c_j) - d(p, c_a) >= second-nearest distance so far` can be neither (triangle
    /// inequality), and the lists are sorted, so the scan stops there.
    #[inline]
    fn nearest2_from(&self, p: [f64; 3], c: &Centers, a: usize) -> (usize, f64, f64) {
        let Some(nb) = &self.neighbors else {
            return nearest2(p, c);
        };
        let row = &nb[a * (self.k - 1)..(a + 1) * (self.k - 1)];
        let da2 = d2(p, c.get(a));
        let u = da2.sqrt();
        let (mut best, mut d1, mut d2nd) = (a, da2, f64::INFINITY);
        for &(dist, j) in row {
            // Slack keeps the cut safe from rounding in the distances.
            if dist - u > d2nd.sqrt() * (1.0 + 1e-12) {
                break;
            }
            let j = j as usize;
            let d = d2(p, c.get(j));
            if d < d1 || (d == d1 && j < best) {
                d2nd = d1;
                d1 = d;
                best = j;
            } else if d < d2nd {
                d2nd = d;
            }
        }
        (best, d1, d2nd)
    }
}

/// Assigns every point to its nearest center, setting tight bounds. The search for a point starts
/// at the previous point's center (points come sorted by color, so neighbors are usually close).
fn assign_full(pts: &Points, c: &Centers, bounds: &mut [Bound]) {
    let geo = CenterGeometry::new(c);
    bounds
        .par_chunks_mut(CHUNK)
        .enumerate()
        .for_each(|(ci, bs)| {
            let start = ci * CHUNK;
            let mut prev = 0usize;
            for (i, b) in bs.iter_mut().enumerate() {
                let (a, d1, d2nd) = geo.nearest2_from(pts.get(start + i), c, prev);
                prev = a;
                *b = Bound {
                    label: a as u32,
                    upper: d1.sqrt(),
                    lower: d2nd.sqrt(),
                };
            }
        });
}

/// How far every center moved in the last update, to loosen the bounds with.
struct Shift {
    by: Vec<f64>,
    /// Largest shift, its center, and the second largest.
    max1: f64,
    arg: usize,
    max2: f64,
}

impl Shift {
    fn new(by: Vec<f64>) -> Self {
        let (mut max1, mut max2, mut arg) = (0.0f64, 0.0f64, usize::MAX);
        for (j, &s) in by.iter().enumerate() {
            if s > max1 {
                max2 = max1;
                max1 = s;
                arg = j;
            } else if s > max2 {
                max2 = s;
            }
        }
        Self {
            by,
            max1,
            arg,
            max2,
        }
    }
}

/// Hamerly's assignment step fused with the bound update for the last center shift and with the
/// per-cluster sums of the M-step (one pass over the points). Returns how many points changed
/// cluster and the sums `[wx, wy, wz, w]` per cluster (reduced over chunks in order).
fn assign_hamerly(
    pts: &Points,
    c: &Centers,
    bounds: &mut [Bound],
    shift: &Shift,
) -> (usize, Vec<[f64; 4]>) {
    let k = c.x.len();
    let geo = CenterGeometry::new(c);
    let s = &geo.half_sep;
    let parts: Vec<(usize, Vec<[f64; 4]>)> = bounds
        .par_chunks_mut(sum_chunk(k))
        .enumerate()
        .map(|(ci, bs)| {
            let start = ci * sum_chunk(k);
            let mut changed = 0;
            let mut acc = vec![[0.0f64; 4]; k];
            for (i, b) in bs.iter_mut().enumerate() {
                let a = b.label as usize;
                b.upper += shift.by[a];
                b.lower -= if a == shift.arg {
                    shift.max2
                } else {
                    shift.max1
                };
                let m = s[a].max(b.lower);
                let p = pts.get(start + i);
                if b.upper > m {
                    b.upper = d2(p, c.get(a)).sqrt();
                    if b.upper > m {
                        let (na, d1, d2nd) = geo.nearest2_from(p, c, a);
                        if na != a {
                            changed += 1;
                        }
                        *b = Bound {
                            label: na as u32,
                            upper: d1.sqrt(),
                            lower: d2nd.sqrt(),
                        };
                    }
                }
                let w = pts.w[start + i];
                let e = &mut acc[b.label as usize];
                e[0] += w * p[0];
                e[1] += w * p[1];
                e[2] += w * p[2];
                e[3] += w;
            }
            (changed, acc)
        })
        .collect();
    let mut changed = 0;
    let mut sums = vec![[0.0f64; 4]; k];
    for (ch, part) in parts {
        changed += ch;
        for (s, v) in sums.iter_mut().zip(part) {
            for q in 0..4 {
                s[q] += v[q];
            }
        }
    }
    (changed, sums)
}

/// Points per chunk of the per-cluster sums: each chunk holds `K` accumulators, so chunks grow with
/// `K` to keep that memory near 4 bytes per point (fixed for given inputs: results stay
/// independent of the thread count).
fn sum_chunk(k: usize) -> usize {
    CHUNK.max(8 * k)
}

/// Weighted per-cluster sums `[wx, wy, wz, w]`, reduced over chunks in order.
fn cluster_sums(pts: &Points, bounds: &[Bound], k: usize) -> Vec<[f64; 4]> {
    let parts: Vec<Vec<[f64; 4]>> = bounds
        .par_chunks(sum_chunk(k))
        .enumerate()
        .map(|(ci, bs)| {
            let start = ci * sum_chunk(k);
            let mut acc = vec![[0.0f64; 4]; k];
            for (i, b) in bs.iter().enumerate() {
                let p = start + i;
                let w = pts.w[p];
                let e = &mut acc[b.label as usize];
                e[0] += w * pts.x[p];
                e[1] += w * pts.y[p];
                e[2] += w * pts.z[p];
                e[3] += w;
            }
            acc
        })
        .collect();
    let mut sums = vec![[0.0f64; 4]; k];
    for part in parts {
        for (s, v) in sums.iter_mut().zip(part) {
            for q in 0..4 {
                s[q] += v[q];
            }
        }
    }
    sums
}

/// The M-step: new centers from the labels; empty clusters are moved to the points farthest from
/// their (current) centers, as scikit-learn does. Returns the new centers.
fn update_centers(pts: &Points, c: &Centers, bounds: &[Bound], mut sums: Vec<[f64; 4]>) -> Centers {
    let k = c.x.len();
    let empty: Vec<usize> = (0..k).filter(|&j| sums[j][3] <= 0.0).collect();
    let mut fixed = vec![false; k];
    if !empty.is_empty() {
        let mut dist: Vec<(f64, usize)> = (0..pts.len())
            .into_par_iter()
            .map(|i| (d2(pts.get(i), c.get(bounds[i].label as usize)), i))
            .collect();
        let m = empty.len().min(dist.len());
        // Largest distances first; lower index first on ties.
        dist.select_nth_unstable_by(m - 1, |a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        let mut far: Vec<(f64, usize)> = dist[..m].to_vec();
        far.sort_unstable_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        for (&j, &(_, i)) in empty.iter().zip(&far) {
            let old = bounds[i].label as usize;
            let w = pts.w[i];
            let p = pts.get(i);
            fixed[j] = true;
            sums[old][0] -= w * p[0];
            sums[old][1] -= w * p[1];
            sums[old][2] -= w * p[2];
            sums[old][3] -= w;
        }
        // A relocated point's center is the point itself (not the rounded sum / weight).
        for (&j, &(_, i)) in empty.iter().zip(&far) {
            let p = pts.get(i);
            sums[j] = [p[0], p[1], p[2], 1.0];
        }
    }
    let mut out = c.clone();
    for j in 0..k {
        let s = sums[j];
        if fixed[j] {
            out.x[j] = s[0];
            out.y[j] = s[1];
            out.z[j] = s[2];
        } else if s[3] > 0.0 {
            let a = 1.0 / s[3];
            out.x[j] = s[0] * a;
            out.y[j] = s[1] * a;
            out.z[j] = s[2] * a;
        }
        // else: a cluster emptied by relocation keeps its center.
    }
    out
}

/// Weighted mean per-channel variance of the points (the scale of `tol`).
fn mean_variance(pts: &Points) -> f64 {
    let ranges: Vec<(usize, usize)> = (0..pts.len())
        .step_by(CHUNK)
        .map(|s| (s, (s + CHUNK).min(pts.len())))
        .collect();
    let part: Vec<[f64; 4]> = ranges
        .par_iter()
        .map(|&(a, b)| {
            let mut s = [0.0; 4];
            for i in a..b {
                let w = pts.w[i];
                s[0] += w * pts.x[i];
                s[1] += w * pts.y[i];
                s[2] += w * pts.z[i];
                s[3] += w;
            }
            s
        })
        .collect();
    let mut s = [0.0; 4];
    for p in &part {
        for q in 0..4 {
            s[q] += p[q];
        }
    }
    let mean = [s[0] / s[3], s[1] / s[3], s[2] / s[3]];
    let part: Vec<f64> = ranges
        .par_iter()
        .map(|&(a, b)| {
            (a..b)
                .map(|i| {
                    let p = pts.get(i);
                    pts.w[i]
                        * ((p[0] - mean[0]).powi(2)
                            + (p[1] - mean[1]).powi(2)
                            + (p[2] - mean[2]).powi(2))
                })
                .sum()
        })
        .collect();
    chunk_sum(&part) / s[3] / 3.0
}

fn inertia(pts: &Points, c: &Centers, bounds: &[Bound]) -> f64 {
    let part: Vec<f64> = bounds
        .par_chunks(CHUNK)
        .enumerate()
        .map(|(ci, bs)| {
            let start = ci * CHUNK;
            bs.iter()
                .enumerate()
                .map(|(i, b)| pts.w[start + i] * d2(pts.get(start + i), c.get(b.label as usize)))
                .sum()
        })
        .collect();
    chunk_sum(&part)
}

/// Lloyd iterations with scikit-learn's stopping rules, Hamerly-pruned.
pub(super) fn lloyd(
    pts: &Points,
    mut centers: Centers,
    opts: &KMeansOptions,
    progress: &mut ProgressFn<'_>,
) -> Result<KMeansResult, KMeansError> {
    let k = centers.x.len();
    let tol = if opts.tol == 0.0 {
        0.0
    } else {
        mean_variance(pts) * opts.tol
    };
    let mut bounds = vec![
        Bound {
            label: 0,
            upper: 0.0,
            lower: 0.0
        };
        pts.len()
    ];
    assign_full(pts, &centers, &mut bounds);
    let mut sums = cluster_sums(pts, &bounds, k);
    let mut changed = pts.len();
    let mut shift = Shift::new(vec![0.0; k]);
    let mut strict = false;
    let mut converged = false;
    let mut n_iter = opts.max_iter;
    for it in 0..opts.max_iter {
        if it > 0 {
            (changed, sums) = assign_hamerly(pts, &centers, &mut bounds, &shift);
        }
        let new = update_centers(pts, &centers, &bounds, std::mem::take(&mut sums));
        let by: Vec<f64> = (0..k)
            .map(|j| d2(new.get(j), centers.get(j)).sqrt())
            .collect();
        let shift_tot: f64 = by.iter().map(|s| s * s).sum();
        centers = new;
        // The next assignment loosens the bounds by these shifts.
        shift = Shift::new(by);
        if !progress(Progress::Iteration {
            iter: it + 1,
            max_iter: opts.max_iter,
            changed,
            shift: shift_tot,
        }) {
            return Err(KMeansError::Cancelled);
        }
        if it > 0 && changed == 0 {
            strict = true;
            converged = true;
            n_iter = it + 1;
            break;
        }
        if shift_tot <= tol {
            converged = true;
            n_iter = it + 1;
            break;
        }
    }
    if !strict {
        // Labels consistent with the final centers.
        assign_hamerly(pts, &centers, &mut bounds, &shift);
    }
    let inertia = inertia(pts, &centers, &bounds);
    Ok(KMeansResult {
        centers: centers.rows(),
        inertia,
        n_iter,
        converged,
    })
}

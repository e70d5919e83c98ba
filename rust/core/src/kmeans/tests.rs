//! Tests of the k-means and the histogram against brute force and plain Lloyd.

use super::*;

fn brute_inertia(points: &[[f64; 3]], w: &[f64], c: &[[f64; 3]]) -> f64 {
    points
        .iter()
        .zip(w)
        .map(|(p, w)| w * c.iter().map(|q| d2(*p, *q)).fold(f64::INFINITY, f64::min))
        .sum()
}

fn cloud(n: usize, seed: u64) -> Vec<[f64; 3]> {
    let mut r = SplitMix64::new(seed);
    (0..n)
        .map(|i| {
            let blob = (i % 7) as f64 * 0.25 - 0.75;
            [
                blob + 0.1 * r.next_f64(),
                -blob + 0.1 * r.next_f64(),
                0.3 * r.next_f64(),
            ]
        })
        .collect()
}

/// Plain Lloyd (no pruning) following scikit-learn's loop, as a reference.
fn plain_lloyd(
    points: &[[f64; 3]],
    w: &[f64],
    init: &[[f64; 3]],
    max_iter: usize,
) -> (Vec<[f64; 3]>, usize) {
    let mut c = init.to_vec();
    let mut labels_old = vec![usize::MAX; points.len()];
    for it in 0..max_iter {
        let labels: Vec<usize> = points
            .iter()
            .map(|p| {
                let mut best = 0;
                for j in 1..c.len() {
                    if d2(*p, c[j]) < d2(*p, c[best]) {
                        best = j;
                    }
                }
                best
            })
            .collect();
        let mut s = vec![[0.0; 4]; c.len()];
        for (i, &l) in labels.iter().enumerate() {
            for q in 0..3 {
                s[l][q] += w[i] * points[i][q];
            }
            s[l][3] += w[i];
        }
        for j in 0..c.len() {
            if s[j][3] > 0.0 {
                c[j] = [s[j][0] / s[j][3], s[j][1] / s[j][3], s[j][2] / s[j][3]];
            }
        }
        if labels == labels_old {
            return (c, it + 1);
        }
        labels_old = labels;
    }
    (c, max_iter)
}

#[test]
fn lloyd_matches_plain_lloyd_from_same_init() {
    let pts = cloud(5000, 1);
    let w: Vec<f64> = (0..pts.len()).map(|i| 1.0 + (i % 3) as f64).collect();
    let init: Vec<[f64; 3]> = pts.iter().step_by(97).take(40).copied().collect();
    let mut o = KMeansOptions::new(40);
    o.init = Some(init.clone());
    o.tol = 0.0;
    o.max_iter = 500;
    let r = kmeans(&pts, Some(&w), &o, None).unwrap();
    let (c, n) = plain_lloyd(&pts, &w, &init, 500);
    assert_eq!(r.n_iter, n);
    for (a, b) in r.centers.iter().zip(&c) {
        for q in 0..3 {
            assert!((a[q] - b[q]).abs() < 1e-12, "{a:?} vs {b:?}");
        }
    }
    let bi = brute_inertia(&pts, &w, &r.centers);
    assert!((r.inertia - bi).abs() <= 1e-9 * bi);
}

#[test]
fn many_clusters_without_neighbor_lists_match_plain_lloyd() {
    // K above NEIGHBOR_LIST_MAX_K: full scans instead of neighbor lists, bigger sum chunks.
    let pts = cloud(6000, 11);
    let k = NEIGHBOR_LIST_MAX_K + 52;
    let init: Vec<[f64; 3]> = pts.iter().step_by(2).take(k).copied().collect();
    let mut o = KMeansOptions::new(k);
    o.init = Some(init.clone());
    o.tol = 0.0;
    o.max_iter = 30;
    let w = vec![1.0; pts.len()];
    let r = kmeans(&pts, None, &o, None).unwrap();
    let (c, n) = plain_lloyd(&pts, &w, &init, 30);
    assert_eq!(r.n_iter, n);
    for (a, b) in r.centers.iter().zip(&c) {
        for q in 0..3 {
            assert!((a[q] - b[q]).abs() < 1e-12, "{a:?} vs {b:?}");
        }
    }
}

#[test]
fn deterministic_and_thread_independent() {
    let pts = cloud(20_000, 2);
    let o = KMeansOptions::new(32);
    let a = kmeans(&pts, None, &o, None).unwrap();
    let b = crate::parallel::install_with(Some(1), || kmeans(&pts, None, &o, None)).unwrap();
    assert_eq!(a.centers, b.centers);
    assert_eq!(a.inertia.to_bits(), b.inertia.to_bits());
    let mut o2 = o.clone();
    o2.seed = 1;
    let c = kmeans(&pts, None, &o2, None).unwrap();
    assert_ne!(a.centers, c.centers);
}

#[test]
fn kmeans_plus_plus_picks_distinct_points() {
    let pts = cloud(300, 5);
    let mut o = KMeansOptions::new(300);
    o.max_iter = 1;
    let r = kmeans(&pts, None, &o, None).unwrap();
    // K == n: every point becomes its own center.
    assert!(r.inertia.abs() < 1e-20);
}

#[test]
fn empty_clusters_are_reseeded() {
    // Two far-apart initial centers at the same place plus one far away: the duplicate ends up
    // empty and must be moved to the farthest point.
    let pts: Vec<[f64; 3]> = vec![
        [0.0, 0.0, 0.0],
        [0.1, 0.0, 0.0],
        [1.0, 1.0, 1.0],
        [0.9, 1.0, 1.0],
    ];
    let mut o = KMeansOptions::new(3);
    o.init = Some(vec![[0.05, 0.0, 0.0], [0.05, 0.0, 0.0], [0.95, 1.0, 1.0]]);
    o.tol = 0.0;
    let r = kmeans(&pts, None, &o, None).unwrap();
    let bi = brute_inertia(&pts, &[1.0; 4], &r.centers);
    assert!((r.inertia - bi).abs() < 1e-12);
    // The duplicate was emptied and moved to a far point: the far pair is split, the near pair
    // keeps its mean (inertia 2 x 0.05^2), instead of one center staying unused.
    assert!((r.inertia - 0.005).abs() < 1e-12, "{r:?}");
    assert!(
        r.centers.contains(&[1.0, 1.0, 1.0]) && r.centers.contains(&[0.9, 1.0, 1.0]),
        "{r:?}"
    );
}

#[test]
fn one_cluster_is_the_weighted_mean() {
    let pts = cloud(1000, 7);
    let w: Vec<f64> = (0..1000).map(|i| (i % 5) as f64).collect();
    let r = kmeans(&pts, Some(&w), &KMeansOptions::new(1), None).unwrap();
    let sw: f64 = w.iter().sum();
    for q in 0..3 {
        let m: f64 = pts.iter().zip(&w).map(|(p, w)| p[q] * w).sum::<f64>() / sw;
        assert!((r.centers[0][q] - m).abs() < 1e-12);
    }
}

#[test]
fn palette_with_few_colors_returns_them_by_frequency() {
    let mut h = ColorHistogram::new();
    h.add_rgb(&[10, 20, 30, 10, 20, 30, 255, 0, 0]).unwrap();
    let f = fit_palette(&h, &KMeansOptions::new(5), None).unwrap();
    assert_eq!(f.n_distinct, 2);
    assert_eq!(f.inertia, 0.0);
    let a = [normalize(10), normalize(20), normalize(30)];
    let b = [normalize(255), normalize(0), normalize(0)];
    assert_eq!(f.centers, vec![a, b, a, b, a]);
    let one = fit_palette(&h, &KMeansOptions::new(1), None).unwrap();
    // Labels cannot change with one cluster: strict convergence at the second iteration, as
    // scikit-learn counts.
    assert_eq!(one.n_iter, 2);
    let m = [
        (2.0 * a[0] + b[0]) / 3.0,
        (2.0 * a[1] + b[1]) / 3.0,
        (2.0 * a[2] + b[2]) / 3.0,
    ];
    for (got, want) in one.centers[0].iter().zip(m) {
        assert!((got - want).abs() < 1e-12);
    }
}

#[test]
fn errors_are_reported() {
    let pts = cloud(10, 1);
    assert_eq!(
        kmeans(&pts, None, &KMeansOptions::new(0), None).unwrap_err(),
        KMeansError::Clusters(0)
    );
    assert!(matches!(
        kmeans(&pts, None, &KMeansOptions::new(11), None),
        Err(KMeansError::TooFewPoints {
            n_points: 10,
            n_clusters: 11
        })
    ));
    assert_eq!(
        kmeans(&[], None, &KMeansOptions::new(1), None).unwrap_err(),
        KMeansError::Empty
    );
    let mut w = vec![1.0; 10];
    w[3] = f64::NAN;
    assert!(matches!(
        kmeans(&pts, Some(&w), &KMeansOptions::new(2), None),
        Err(KMeansError::Weight { index: 3, .. })
    ));
    let mut bad = pts.clone();
    bad[4][1] = f64::INFINITY;
    assert!(matches!(
        kmeans(&bad, None, &KMeansOptions::new(2), None),
        Err(KMeansError::Point { index: 4, .. })
    ));
    let mut o = KMeansOptions::new(2);
    o.init = Some(vec![[0.0; 3]]);
    assert!(matches!(
        kmeans(&pts, None, &o, None),
        Err(KMeansError::Init(_))
    ));
    let mut o = KMeansOptions::new(2);
    o.tol = -1.0;
    assert!(matches!(
        kmeans(&pts, None, &o, None),
        Err(KMeansError::Option { name: "tol", .. })
    ));
    let h = ColorHistogram::new();
    assert_eq!(
        fit_palette(&h, &KMeansOptions::new(2), None).unwrap_err(),
        KMeansError::Empty
    );
    let mut stop = |_: Progress| false;
    assert_eq!(
        kmeans(&pts, None, &KMeansOptions::new(2), Some(&mut stop)).unwrap_err(),
        KMeansError::Cancelled
    );
}

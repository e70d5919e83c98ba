//! Tests of the quantizer against the reference formula.

use super::*;

fn reference_u8<T: Real>(ar: &Arith<T>, rgb: [u8; 3]) -> u16 {
    let x = rgb.map(normalize_u8);
    let a2 = T::from_f32(sum_sq(x));
    let xt = x.map(T::from_f32);
    let mut best = T::infinity();
    let mut arg = 0;
    for (j, c) in ar.cl.iter().enumerate() {
        let d = distance(a2, gemm_dot(xt[0], xt[1], xt[2], c), ar.b2[j]);
        if better::<T, true>(d, best) {
            best = d;
            arg = j;
        }
    }
    arg as u16
}

fn lcg(seed: &mut u64) -> f64 {
    *seed = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (*seed >> 11) as f64 / (1u64 << 53) as f64
}

fn check_table(q: &Quantizer, samples: usize) {
    let t = q.table();
    let mut seed = 7u64;
    let check = |r: u8, g: u8, b: u8| {
        let want = match &q.a32 {
            Some(a) => reference_u8(a, [r, g, b]),
            None => reference_u8(&q.a64, [r, g, b]),
        };
        assert_eq!(t.get(r, g, b), want, "color ({r}, {g}, {b})");
    };
    for _ in 0..samples {
        let v = (lcg(&mut seed) * TABLE_LEN as f64) as usize;
        check((v >> 16) as u8, (v >> 8) as u8, v as u8);
    }
    for v in [0u8, 1, 127, 128, 254, 255] {
        check(v, v, v);
        check(v, 255 - v, v);
    }
}

#[test]
fn normalize_matches_transformers_rule() {
    assert_eq!(normalize_u8(0), -1.0);
    assert_eq!(normalize_u8(255), 1.0);
    // 127.5 is not representable as a pixel; 127 and 128 straddle 0.
    assert!(normalize_u8(127) < 0.0 && normalize_u8(128) > 0.0);
    for p in 0..=255u8 {
        let want = ((p as f64) * (1.0 / 127.5)) as f32 - 1.0f32;
        assert_eq!(normalize_u8(p).to_bits(), want.to_bits());
    }
}

#[test]
fn brick_index_is_a_permutation() {
    let mut seen = vec![false; TABLE_LEN];
    for r in 0..256 {
        for g in 0..256 {
            for b in 0..256 {
                let i = brick_index(r, g, b);
                assert!(!seen[i]);
                seen[i] = true;
            }
        }
    }
    // an 8-red slab is one contiguous range
    assert_eq!(brick_index(8, 0, 0), 8 << 16);
    assert_eq!(brick_index(15, 255, 255), (16 << 16) - 1);
}

#[test]
fn dgemm_tail_columns() {
    assert_eq!(dgemm_tail(512), 0..0);
    assert_eq!(dgemm_tail(188), 0..0);
    assert_eq!(dgemm_tail(196), 192..196);
    assert_eq!(dgemm_tail(199), 192..196);
    assert_eq!(dgemm_tail(65535), 65528..65532);
    assert_eq!(dgemm_tail(65531), 0..0);
}

#[test]
fn gemm_dot_is_the_fma_chain() {
    let x = [0.1f64, -0.7, 0.3];
    let c = [0.9f64, 0.25, -0.6];
    let want = x[2].mul_add(c[2], x[1].mul_add(c[1], x[0] * c[0]));
    assert_eq!(gemm_dot(x[0], x[1], x[2], &c).to_bits(), want.to_bits());
}

fn random_palette(k: usize, seed: u64, scale: f64) -> Vec<f64> {
    let mut s = seed;
    (0..3 * k)
        .map(|_| (lcg(&mut s) * 2.0 - 1.0) * scale)
        .collect()
}

#[test]
fn table_matches_brute_force_f64_and_f32() {
    let vals = random_palette(512, 1, 1.0);
    let q = Quantizer::new(Palette::from_f64(&vals).unwrap(), None).unwrap();
    check_table(&q, 20000);
    let v32: Vec<f32> = vals.iter().map(|&v| v as f32).collect();
    let q = Quantizer::new(Palette::from_f32(&v32).unwrap(), None).unwrap();
    check_table(&q, 20000);
}

#[test]
fn table_exact_on_ties_and_duplicates() {
    // Clusters on the normalized grid, duplicated, and mirrored pairs equidistant from many colors.
    let nt = norm_table();
    let mut vals = Vec::new();
    for i in 0..64usize {
        let a = nt[(i * 4) % 256] as f64;
        let b = nt[(i * 37) % 256] as f64;
        vals.extend_from_slice(&[a, b, 0.0]);
        vals.extend_from_slice(&[a, b, 0.0]); // duplicate: the first index must win
        vals.extend_from_slice(&[-a, b, 0.0]);
    }
    let q = Quantizer::new(Palette::from_f64(&vals).unwrap(), None).unwrap();
    check_table(&q, 20000);
    // every odd (duplicate) index never wins over its twin
    assert!(q.table().as_array().iter().all(|&id| id % 3 != 1));
}

#[test]
fn extreme_clusters_follow_argmin_nan_rule() {
    let vals = vec![
        1e200, 1e200, 1e200, 0.5, 0.5, 0.5, -1e300, 0.0, 0.0, 0.1, 0.1, 0.1,
    ];
    let q = Quantizer::new(Palette::from_f64(&vals).unwrap(), None).unwrap();
    check_table(&q, 2000);
}

#[test]
fn direct_path_matches_table() {
    let vals = random_palette(100, 3, 1.3);
    let q = Quantizer::new(Palette::from_f64(&vals).unwrap(), Some(2)).unwrap();
    let mut s = 11u64;
    let px: Vec<u8> = (0..3 * 5000).map(|_| (lcg(&mut s) * 256.0) as u8).collect();
    let mut direct = vec![0i64; 5000];
    q.quantize_u8(&px, &mut direct).unwrap();
    assert!(!q.table_built());
    let t = q.table();
    let linear = t.to_linear();
    for (i, p) in px.chunks_exact(3).enumerate() {
        assert_eq!(direct[i], t.get(p[0], p[1], p[2]) as i64);
        let idx = ((p[0] as usize) << 16) | ((p[1] as usize) << 8) | p[2] as usize;
        assert_eq!(direct[i], linear[idx] as i64);
    }
    let mut via_table = vec![0u16; 5000];
    q.quantize_u8(&px, &mut via_table).unwrap();
    assert!(direct.iter().zip(&via_table).all(|(&a, &b)| a == b as i64));
}

#[test]
fn float_path_and_errors() {
    let vals = random_palette(50, 5, 1.0);
    let q = Quantizer::new(Palette::from_f64(&vals).unwrap(), None).unwrap();
    let px: Vec<f32> = [0u8, 10, 200, 255, 3, 77]
        .iter()
        .map(|&p| normalize_u8(p))
        .collect();
    let mut a = vec![0i64; 2];
    q.quantize_f32(&px, &mut a).unwrap();
    let mut b = vec![0i64; 2];
    q.quantize_u8(&[0, 10, 200, 255, 3, 77], &mut b).unwrap();
    assert_eq!(a, b);
    let e = q
        .quantize_f64(&[0.0, 0.0, 0.0, 0.0, f64::NAN, 0.0], &mut [0i64; 2])
        .unwrap_err();
    assert_eq!(
        e,
        QuantizeError::NonFinite {
            pixel: 1,
            channel: 1,
            value: "nan".into()
        }
    );
    assert!(e.describe(&[1, 2]).starts_with("pixels[0, 1, 1] = nan"));
    let e = q.decode(&[0, 50], &mut [0u8; 6]).unwrap_err();
    assert_eq!(
        e.describe(&[2]),
        "ids[1] = 50 is out of range for 50 clusters (valid ids: 0..49)"
    );
    assert!(q.decode(&[-1], &mut [0u8; 3]).is_err());
}

#[test]
fn decode_rounds_half_to_even_and_clips() {
    let q = Quantizer::new(
        Palette::from_f64(&[-1.0, 0.0, 1.0, 2.0, -3.0, 1.0 / 127.5 - 1.0]).unwrap(),
        None,
    )
    .unwrap();
    let mut out = [0u8; 6];
    q.decode(&[0, 1], &mut out).unwrap();
    // 127.5 * 1.0 = 127.5 -> 128 (ties to even), 2.0 -> 382.5 -> clipped 255
    assert_eq!(out, [0, 128, 255, 255, 0, 1]);
}

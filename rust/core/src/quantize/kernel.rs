//! The evaluation kernel: up to BLOCK pixels against a candidate list, with its AVX2/AVX-512 builds.

use std::sync::OnceLock;

use super::arith::{better, dgemm_tail_dot, distance, gemm_dot, Arith, Real};
use super::BLOCK;

pub(super) struct Block<T> {
    pub(super) x0: [T; BLOCK],
    pub(super) x1: [T; BLOCK],
    pub(super) x2: [T; BLOCK],
    pub(super) a2: [T; BLOCK],
    pub(super) best_d: [T; BLOCK],
    pub(super) best_i: [T; BLOCK],
    pub(super) n: usize,
}

impl<T: Real> Block<T> {
    pub(super) fn new() -> Box<Self> {
        let z = T::infinity();
        Box::new(Block {
            x0: [z; BLOCK],
            x1: [z; BLOCK],
            x2: [z; BLOCK],
            a2: [z; BLOCK],
            best_d: [z; BLOCK],
            best_i: [z; BLOCK],
            n: 0,
        })
    }

    #[inline(always)]
    pub(super) fn push(&mut self, x: [T; 3], a2: T) {
        let t = self.n;
        self.x0[t] = x[0];
        self.x1[t] = x[1];
        self.x2[t] = x[2];
        self.a2[t] = a2;
        self.n = t + 1;
    }
}

/// One candidate against every pixel of the block; `ALT` selects [`dgemm_tail_dot`].
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(super) fn eval_one<T: Real, const NAN: bool, const ALT: bool>(
    x0: &[T],
    x1: &[T],
    x2: &[T],
    a2: &[T],
    bd: &mut [T],
    bi: &mut [T],
    c: &[T; 3],
    bb: T,
    jf: T,
) {
    for t in 0..x0.len() {
        let ab = if ALT {
            dgemm_tail_dot(x0[t], x1[t], x2[t], c)
        } else {
            gemm_dot(x0[t], x1[t], x2[t], c)
        };
        let d = distance(a2[t], ab, bb);
        let take = better::<T, NAN>(d, bd[t]);
        bd[t] = if take { d } else { bd[t] };
        bi[t] = if take { jf } else { bi[t] };
    }
}

#[inline(always)]
pub(super) fn eval_body<T: Real, const NAN: bool>(
    blk: &mut Block<T>,
    cands: &[u32],
    ar: &Arith<T>,
) {
    let n = blk.n;
    let Some(&first) = cands.first() else { return };
    let Block {
        x0,
        x1,
        x2,
        a2,
        best_d,
        best_i,
        ..
    } = blk;
    let (x0, x1, x2, a2) = (&x0[..n], &x1[..n], &x2[..n], &a2[..n]);
    let (bd, bi) = (&mut best_d[..n], &mut best_i[..n]);
    bd.fill(T::infinity());
    bi.fill(T::from_index(first));
    for &j in cands {
        let (c, bb, jf) = (&ar.cl[j as usize], ar.b2[j as usize], T::from_index(j));
        if ar.tail.contains(&j) {
            eval_one::<T, NAN, true>(x0, x1, x2, a2, bd, bi, c, bb, jf);
        } else {
            eval_one::<T, NAN, false>(x0, x1, x2, a2, bd, bi, c, bb, jf);
        }
    }
}

/// [`eval_body`] compiled for AVX2 + FMA.
///
/// # Safety
/// The CPU must support AVX2 and FMA; the dispatcher calls it only after detecting both at run time.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn eval_avx2<T: Real, const NAN: bool>(
    blk: &mut Block<T>,
    cands: &[u32],
    ar: &Arith<T>,
) {
    eval_body::<T, NAN>(blk, cands, ar)
}

/// [`eval_body`] compiled for AVX-512.
///
/// # Safety
/// The CPU must support AVX-512F, AVX-512VL, AVX2 and FMA; the dispatcher calls it only after
/// detecting all four at run time.
#[cfg(all(target_arch = "x86_64", imagegpt_avx512))]
#[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
pub(super) unsafe fn eval_avx512<T: Real, const NAN: bool>(
    blk: &mut Block<T>,
    cands: &[u32],
    ar: &Arith<T>,
) {
    eval_body::<T, NAN>(blk, cands, ar)
}

#[derive(Clone, Copy, PartialEq)]
pub(super) enum Isa {
    Generic,
    #[cfg(target_arch = "x86_64")]
    Avx2,
    #[cfg(all(target_arch = "x86_64", imagegpt_avx512))]
    Avx512,
}

/// The name of the instruction set the quantizer's distance kernels run on here: `"avx512"`,
/// `"avx2+fma"` or `"generic"` (every one computes the same IEEE results; see [`eval`]).
pub fn kernel_isa() -> &'static str {
    match isa() {
        #[cfg(all(target_arch = "x86_64", imagegpt_avx512))]
        Isa::Avx512 => "avx512",
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => "avx2+fma",
        Isa::Generic => "generic",
    }
}

pub(super) fn isa() -> Isa {
    static I: OnceLock<Isa> = OnceLock::new();
    *I.get_or_init(|| {
        #[cfg(target_arch = "x86_64")]
        {
            if std::env::var_os("IMAGEGPT_RS_NO_SIMD").is_none() {
                #[cfg(imagegpt_avx512)]
                if is_x86_feature_detected!("avx512f")
                    && is_x86_feature_detected!("avx512vl")
                    && is_x86_feature_detected!("avx2")
                    && is_x86_feature_detected!("fma")
                {
                    return Isa::Avx512;
                }
                if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
                    return Isa::Avx2;
                }
            }
        }
        Isa::Generic
    })
}

/// Evaluates the reference formula of every pixel of `blk` over `cands` (ascending indices) and
/// leaves the argmin in `blk.best_i`. Every ISA computes the same IEEE results: `fma` is exact
/// fused multiply-add in all of them (a library call without hardware FMA), nothing else is fused.
pub(super) fn eval<T: Real>(blk: &mut Block<T>, cands: &[u32], ar: &Arith<T>, nan: bool) {
    match isa() {
        #[cfg(all(target_arch = "x86_64", imagegpt_avx512))]
        // SAFETY: `isa()` returned Avx512 only after `is_x86_feature_detected!` confirmed avx512f,
        // avx512vl, avx2 and fma on this CPU, the features `eval_avx512` is compiled for.
        Isa::Avx512 => unsafe {
            if nan {
                eval_avx512::<T, true>(blk, cands, ar)
            } else {
                eval_avx512::<T, false>(blk, cands, ar)
            }
        },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `isa()` returned Avx2 only after `is_x86_feature_detected!` confirmed avx2 and fma.
        Isa::Avx2 => unsafe {
            if nan {
                eval_avx2::<T, true>(blk, cands, ar)
            } else {
                eval_avx2::<T, false>(blk, cands, ar)
            }
        },
        Isa::Generic => {
            if nan {
                eval_body::<T, true>(blk, cands, ar)
            } else {
                eval_body::<T, false>(blk, cands, ar)
            }
        }
    }
}

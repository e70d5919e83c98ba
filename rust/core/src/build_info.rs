//! What this build contains: the package version, the JPEG decoder and whether libjpeg-turbo's SIMD
//! code is linked in and used on this CPU, and which instruction sets the core's kernels use.
//!
//! The JPEG SIMD answer comes from the linked libjpeg-turbo itself at run time (its `jsimd_can_*`
//! functions exist only when its SIMD code was built, and say whether this CPU runs it), so it
//! cannot disagree with what decoding does.

/// One build fact per field; the binding turns it into a Python dict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildInfo {
    /// The crate (and package) version.
    pub version: &'static str,
    /// `"libjpeg-turbo"` or `"zune-jpeg"` (a build without the `libjpeg-turbo` feature).
    pub jpeg_decoder: &'static str,
    /// The vendored libjpeg-turbo's version, `None` when it is not linked.
    pub libjpeg_turbo_version: Option<&'static str>,
    /// Whether libjpeg-turbo's SIMD IDCT, upsampling and color conversion run on this CPU; `None`
    /// when libjpeg-turbo is not linked or has no SIMD code for this architecture.
    pub jpeg_simd: Option<bool>,
    /// `target_arch` of the build (`"x86_64"`, `"aarch64"`, ...).
    pub target_arch: &'static str,
    /// `target_os` of the build.
    pub target_os: &'static str,
    /// Instruction sets the build assumes of every CPU (compile-time target features).
    pub compiled_target_features: Vec<&'static str>,
    /// The ISA the quantizer's distance kernels dispatch to on this CPU.
    pub quantize_kernel: &'static str,
    /// The ISA of the resize passes on this CPU (`"avx2"`, `"sse2"`, or `"scalar"`).
    pub resize_kernel: &'static str,
    /// Whether the Rust code was built with optimizations (`false` for debug builds).
    pub optimized: bool,
}

/// The facts of this build, read on this CPU.
pub fn build_info() -> BuildInfo {
    let libjpeg_turbo = cfg!(feature = "libjpeg-turbo");
    BuildInfo {
        version: env!("CARGO_PKG_VERSION"),
        jpeg_decoder: if libjpeg_turbo {
            "libjpeg-turbo"
        } else {
            "zune-jpeg"
        },
        libjpeg_turbo_version: libjpeg_turbo
            .then_some(env!("IMAGEGPT_LIBJPEG_TURBO_VERSION"))
            .filter(|v| !v.is_empty()),
        jpeg_simd: jpeg_simd(),
        target_arch: std::env::consts::ARCH,
        target_os: std::env::consts::OS,
        compiled_target_features: compiled_target_features(),
        quantize_kernel: crate::quantize::kernel_isa(),
        resize_kernel: crate::resize::kernel_isa(),
        optimized: !cfg!(debug_assertions),
    }
}

#[cfg(all(
    feature = "libjpeg-turbo",
    any(
        target_arch = "x86_64",
        target_arch = "x86",
        target_arch = "aarch64",
        target_arch = "arm"
    )
))]
fn jpeg_simd() -> Option<bool> {
    use std::os::raw::c_int;
    extern "C" {
        // libjpeg-turbo's SIMD dispatchers (simd/<arch>/jsimd.c). They are compiled only when its
        // SIMD code is (turbojpeg-sys's `require-simd` makes the build fail otherwise), so linking
        // against them is itself a check. Each returns 1 when the SIMD routine will be used.
        fn jsimd_can_idct_islow() -> c_int;
        fn jsimd_can_h2v2_fancy_upsample() -> c_int;
        fn jsimd_can_ycc_rgb() -> c_int;
    }
    // SAFETY: the three functions take no arguments and only read CPU flags (cpuid on x86, the
    // auxiliary vector or compile-time Neon on Arm) and the JSIMD_FORCE* environment variables into
    // libjpeg-turbo's static state, which its own decoder does on every call as well.
    let all = unsafe {
        jsimd_can_idct_islow() != 0
            && jsimd_can_h2v2_fancy_upsample() != 0
            && jsimd_can_ycc_rgb() != 0
    };
    Some(all)
}

#[cfg(not(all(
    feature = "libjpeg-turbo",
    any(
        target_arch = "x86_64",
        target_arch = "x86",
        target_arch = "aarch64",
        target_arch = "arm"
    )
)))]
fn jpeg_simd() -> Option<bool> {
    None
}

fn compiled_target_features() -> Vec<&'static str> {
    let mut features = Vec::new();
    macro_rules! check {
        ($($name:tt),*) => {$(
            if cfg!(target_feature = $name) {
                features.push($name);
            }
        )*};
    }
    check!("sse2", "sse4.1", "avx", "avx2", "fma", "avx512f", "neon");
    features
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_this_build() {
        let info = build_info();
        assert_eq!(info.version, env!("CARGO_PKG_VERSION"));
        if cfg!(feature = "libjpeg-turbo") {
            let version = info.libjpeg_turbo_version.expect("jconfig.h version");
            assert_eq!(version.split('.').count(), 3, "{version}");
        }
        // The shipped build requires libjpeg-turbo's SIMD on these architectures.
        if cfg!(all(
            feature = "libjpeg-turbo",
            any(target_arch = "x86_64", target_arch = "aarch64")
        )) {
            assert_eq!(info.jpeg_simd, Some(true));
        }
    }
}

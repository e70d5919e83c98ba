//! Build steps of the core: `--cfg imagegpt_avx512` when the compiler is Rust 1.89 or newer (the AVX-512
//! quantize kernel; see `avx512_cfg`) and, when the `libjpeg-turbo` feature is on:
//! - compiles `src/decode/jpeg/jpeg_rows.c` (row-by-row JPEG decoding through the libjpeg API)
//!   against the headers of the libjpeg-turbo that turbojpeg-sys builds;
//! - records that libjpeg-turbo's version for `build_info`.
//!
//! turbojpeg-sys builds the vendored libjpeg-turbo with cmake and publishes its include directories
//! (`cargo:include=...`, comma separated, seen here as `DEP_TURBOJPEG_INCLUDE` since it declares
//! `links = "turbojpeg"`). Its generated `jconfig.h` holds `LIBJPEG_TURBO_VERSION`, passed on as the
//! compile-time variable `IMAGEGPT_LIBJPEG_TURBO_VERSION`. SIMD is not recorded here: `build_info` asks
//! the linked library at run time.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};

fn main() {
    avx512_cfg();
    println!("cargo:rerun-if-changed=src/decode/jpeg/jpeg_rows.c");
    println!("cargo:rerun-if-env-changed=DEP_TURBOJPEG_INCLUDE");
    let include_dirs: Vec<PathBuf> = env::var("DEP_TURBOJPEG_INCLUDE")
        .map(|dirs| {
            dirs.split(',')
                .filter(|d| !d.is_empty())
                .map(PathBuf::from)
                .collect()
        })
        .unwrap_or_default();
    let version = include_dirs
        .iter()
        .find_map(|dir| read_version(&dir.join("jconfig.h")))
        .unwrap_or_default();
    println!("cargo:rustc-env=IMAGEGPT_LIBJPEG_TURBO_VERSION={version}");

    if env::var_os("CARGO_FEATURE_LIBJPEG_TURBO").is_none() {
        return;
    }
    let mut build = cc::Build::new();
    build.file("src/decode/jpeg/jpeg_rows.c").warnings(true);
    for dir in &include_dirs {
        build.include(dir);
    }
    build.compile("imagegpt_jpeg_rows");
}

fn read_version(jconfig: &Path) -> Option<String> {
    let text = fs::read_to_string(jconfig).ok()?;
    println!("cargo:rerun-if-changed={}", jconfig.display());
    text.lines().find_map(|line| {
        let mut words = line.split_whitespace();
        match (words.next(), words.next(), words.next()) {
            (Some("#define"), Some("LIBJPEG_TURBO_VERSION"), Some(v)) => {
                Some(v.trim_matches('"').to_string())
            }
            _ => None,
        }
    })
}

/// `imagegpt_avx512` when the compiler has the avx512f/avx512vl target features (stable since Rust 1.89):
/// older compilers (down to the workspace's rust-version) build the quantizer without its AVX-512 kernel
/// (the AVX2 one computes the same results).
fn avx512_cfg() {
    println!("cargo:rustc-check-cfg=cfg(imagegpt_avx512)");
    let rustc = env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let minor = std::process::Command::new(rustc)
        .arg("--version")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .and_then(|v| {
            v.split_whitespace()
                .nth(1)?
                .split('.')
                .nth(1)?
                .parse::<u32>()
                .ok()
        });
    if minor.is_some_and(|m| m >= 89) {
        println!("cargo:rustc-cfg=imagegpt_avx512");
    }
}

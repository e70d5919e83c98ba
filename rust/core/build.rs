//! Records which libjpeg-turbo the core was built against, for `build_info`.
//!
//! turbojpeg-sys builds the vendored libjpeg-turbo with cmake and publishes its include directory
//! (`cargo:include=...`, seen here as `DEP_TURBOJPEG_INCLUDE`, since it declares `links = "turbojpeg"`).
//! Its generated `jconfig.h` holds `LIBJPEG_TURBO_VERSION`; we pass that on as a compile-time
//! environment variable. SIMD is not recorded here: `build_info` asks the linked library at run time.

use std::env;
use std::fs;
use std::path::Path;

fn main() {
    println!("cargo:rerun-if-env-changed=DEP_TURBOJPEG_INCLUDE");
    let version = env::var("DEP_TURBOJPEG_INCLUDE")
        .ok()
        .and_then(|dirs| dirs.split(',').find_map(|dir| read_version(&Path::new(dir).join("jconfig.h"))))
        .unwrap_or_default();
    println!("cargo:rustc-env=IMAGEGPT_LIBJPEG_TURBO_VERSION={version}");
}

fn read_version(jconfig: &Path) -> Option<String> {
    let text = fs::read_to_string(jconfig).ok()?;
    println!("cargo:rerun-if-changed={}", jconfig.display());
    text.lines().find_map(|line| {
        let mut words = line.split_whitespace();
        match (words.next(), words.next(), words.next()) {
            (Some("#define"), Some("LIBJPEG_TURBO_VERSION"), Some(v)) => Some(v.trim_matches('"').to_string()),
            _ => None,
        }
    })
}

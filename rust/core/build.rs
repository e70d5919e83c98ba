//! Compiles `src/jpeg_rows.c` (row-by-row JPEG decoding through the libjpeg API) against the headers
//! of the libjpeg-turbo that turbojpeg-sys builds, when the `libjpeg-turbo` feature is on.

fn main() {
    println!("cargo:rerun-if-changed=src/jpeg_rows.c");
    if std::env::var_os("CARGO_FEATURE_LIBJPEG_TURBO").is_none() {
        return;
    }
    let mut build = cc::Build::new();
    build.file("src/jpeg_rows.c").warnings(true);
    // turbojpeg-sys (links = "turbojpeg") exports its include directories, comma separated.
    if let Some(dirs) = std::env::var_os("DEP_TURBOJPEG_INCLUDE") {
        for dir in dirs.to_string_lossy().split(',').filter(|d| !d.is_empty()) {
            build.include(dir);
        }
    }
    build.compile("imagegpt_jpeg_rows");
}

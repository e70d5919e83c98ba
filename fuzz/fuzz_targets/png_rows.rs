#![no_main]
//! See `imagegpt_fuzz::png_rows`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| imagegpt_fuzz::png_rows(data));

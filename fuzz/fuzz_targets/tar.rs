#![no_main]
//! See `imagegpt_fuzz::tar`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| imagegpt_fuzz::tar(data));

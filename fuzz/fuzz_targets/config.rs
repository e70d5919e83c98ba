#![no_main]
//! See `imagegpt_fuzz::config`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| imagegpt_fuzz::config(data));

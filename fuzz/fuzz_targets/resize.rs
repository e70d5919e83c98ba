#![no_main]
//! See `imagegpt_fuzz::resize`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| imagegpt_fuzz::resize(data));

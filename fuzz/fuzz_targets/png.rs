#![no_main]
//! `decode` of Png bytes: see `imagegpt_fuzz::decode_as`.
use imagegpt_core::decode::ImageFormat;
libfuzzer_sys::fuzz_target!(|data: &[u8]| imagegpt_fuzz::decode_as(ImageFormat::Png, data));

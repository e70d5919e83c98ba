//! Pure-Rust core of imagegpt-rs.
//!
//! No Python here: the binding crate (`rust/python`) converts types and errors and calls into these
//! modules. Each module holds one concept:
//! - [`config`]: validation rules of `ImageGPTConfig`.
//! - [`palette`] and [`quantize`]: color clusters and the exact nearest-cluster quantizer.
//! - [`resize`]: Pillow-exact resampling of 8-bit images.
//! - [`decode`]: image files to RGB like Pillow's `Image.open(...).convert("RGB")`, a folder: the
//!   public API in `decode/mod.rs`, file reading and format sniffing in `input.rs`, one file (or
//!   folder) per codec (`jpeg/`, `png/` with its fast path `png/scanlines.rs`, `gif.rs`, `webp.rs`,
//!   `tiff.rs`, `bmp.rs`), shared conversions in `convert.rs`, size checks in `limits.rs`.
//! - [`pipeline`]: decode, resize and quantize a batch in parallel; [`parallel`]: the worker pool.
//! - [`kmeans`]: palette fitting; [`buffers`]: fallible zeroed buffers.
//! - [`build_info`]: what this build contains (JPEG decoder and its SIMD, kernel instruction sets).
//! - [`tar`]: a strict tar reader (WebDataset shards) listing members for the pipeline.

pub mod buffers;
pub mod build_info;
pub mod config;
pub mod decode;
pub mod kmeans;
pub mod palette;
pub mod parallel;
pub mod pipeline;
pub mod quantize;
pub mod resize;
pub mod tar;

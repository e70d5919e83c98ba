//! Pure-Rust core of imagegpt-rs.
//!
//! No Python here: the binding crate (`rust/python`) converts types and errors and calls into these
//! modules. Each module holds one concept:
//! - [`config`]: validation rules of `ImageGPTConfig`.
//! - [`resize`]: Pillow-exact resampling of 8-bit images.

pub mod config;
pub mod decode;
pub mod kmeans;
pub mod palette;
pub mod parallel;
pub mod pipeline;
pub mod png_scanlines;
pub mod quantize;
pub mod resize;

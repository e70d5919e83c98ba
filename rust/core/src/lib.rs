//! Pure-Rust core of imagegpt-rs.
//!
//! No Python here: the binding crate (`rust/python`) converts types and errors and calls into these
//! modules. Each module holds one concept:
//! - [`config`]: validation rules of `ImageGPTConfig`.

pub mod config;
pub mod kmeans;

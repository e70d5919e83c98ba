//! `imagegpt_rs._native`: the PyO3 bindings of `imagegpt-core`.
//!
//! This crate only converts types and errors and releases the GIL around core calls; every rule and
//! algorithm lives in `rust/core`. One module per concept of the core.

use pyo3::prelude::*;

mod build_info;
mod config;
mod decode;
mod errors;
mod kmeans;
mod pipeline;
mod quantize;
mod resize;
mod tar;
mod threads;

/// The native module. It holds no Python-global state, so it is declared safe for free-threaded
/// Python (`gil_used = false`).
#[pymodule(gil_used = false)]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    build_info::register(m)?;
    config::register(m)?;
    resize::register(m)?;
    quantize::register(m)?;
    pipeline::register(m)?;
    decode::register(m)?;
    kmeans::register(m)?;
    tar::register(m)?;
    // setattr, not add_function: the test-only trigger stays out of `__all__`.
    m.setattr(
        "_panic_for_test",
        wrap_pyfunction!(threads::_panic_for_test, m)?,
    )?;
    Ok(())
}

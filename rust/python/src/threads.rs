//! Releasing the GIL around core work, on the core's fork-safe pool.

use pyo3::prelude::*;

/// `py.detach(f)`, with `f` running inside `imagegpt_core::parallel::install` so that its parallel
/// iterators use this process's pool (rayon's global pool deadlocks in forked children).
pub fn detach<R: Send>(py: Python<'_>, f: impl FnOnce() -> R + Send) -> R {
    py.detach(|| imagegpt_core::parallel::install(f))
}

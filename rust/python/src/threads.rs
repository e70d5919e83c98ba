//! Releasing the GIL around core work, on the core's fork-safe pool.

use std::panic::{catch_unwind, AssertUnwindSafe};

use pyo3::prelude::*;

use crate::errors::py_error;

/// `py.detach(f)`, with `f` running inside `imagegpt_core::parallel::install` so that its parallel
/// iterators use this process's pool (rayon's global pool deadlocks in forked children).
pub fn detach<R: Send>(py: Python<'_>, f: impl FnOnce() -> R + Send) -> R {
    py.detach(|| imagegpt_core::parallel::install(f))
}

/// [`detach`] with a last-resort guard: a panic inside `f` (a bug: the core reports errors as
/// values) becomes `imagegpt_rs.errors.InternalError` (an `ImageGPTError` and `RuntimeError`) naming
/// `what`, instead of pyo3's `PanicException`, which is a `BaseException`.
pub fn detach_guarded<R: Send>(
    py: Python<'_>,
    what: &str,
    f: impl FnOnce() -> R + Send,
) -> PyResult<R> {
    // AssertUnwindSafe: after a panic the closure's captures are dropped unused; nothing it touched
    // is read again (the error is returned instead of the value).
    let result =
        py.detach(|| catch_unwind(AssertUnwindSafe(|| imagegpt_core::parallel::install(f))));
    result.map_err(|payload| {
        let why = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".to_owned());
        py_error(
            py,
            "InternalError",
            format!("internal error in {what} (please report it): {why}"),
        )
    })
}

//! The panic guard every entry point runs in, and releasing the GIL around core work on the core's
//! fork-safe pool.

use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};

use pyo3::prelude::*;

use crate::errors::Class;

/// Runs the body of the native entry point `what` (`"resize"`, `"ColorQuantizer.decode"`, ...): a
/// panic inside it (a bug: the core reports errors as values) becomes
/// `imagegpt_rs.errors.InternalError` (an `ImageGPTError` and `RuntimeError`) naming `what`, instead
/// of pyo3's `PanicException`, which is a `BaseException` that `except Exception` misses.
///
/// Every `#[pyfunction]` and `#[pymethods]` function's body is one call of this
/// (`tests/test_native_errors.py` checks the source). A panic on the GIL-free side ([`detach`]) or on
/// a worker of the pool (rayon re-raises it in the caller) unwinds to here too.
pub fn guard<R>(what: &str, body: impl FnOnce() -> PyResult<R>) -> PyResult<R> {
    // AssertUnwindSafe: after a panic nothing the body touched is read by this call again (the error
    // is returned instead of the value). Objects it was mutating (`&mut self` of a pyclass) keep
    // whatever state they reached; the core's shared state (the pool registry, the quantizer's
    // lookup table) does not poison (`OnceLock`, and `Mutex` locks that take poisoned guards).
    catch_unwind(AssertUnwindSafe(body))
        .unwrap_or_else(|payload| Err(internal_error(what, payload)))
}

/// The `InternalError` of a panic in `what` with `payload` (the panic's message when it has one).
pub fn internal_error(what: &str, payload: Box<dyn Any + Send>) -> PyErr {
    let why = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_owned());
    // The GIL is held again here (pyo3 re-attaches when a `detach` unwinds); `attach` only gets
    // the token.
    Python::attach(|py| {
        Class::Internal.err(
            py,
            format!("internal error in {what} (please report it): {why}"),
        )
    })
}

/// `py.detach(f)`, with `f` running inside `imagegpt_core::parallel::install` so that its parallel
/// iterators use this process's pool (rayon's global pool deadlocks in forked children). A panic in
/// `f` unwinds to the entry point's [`guard`].
pub fn detach<R: Send>(py: Python<'_>, f: impl FnOnce() -> R + Send) -> R {
    py.detach(|| imagegpt_core::parallel::install(f))
}

/// Test-only: panics where `site` says, inside the guard, so that the tests can see a real panic
/// reach Python as `InternalError` (the guard's behaviour cannot be shown without one; no real entry
/// point panics on purpose). `"here"`: with the GIL held; `"detached"`: with the GIL released;
/// `"worker"`: on a worker thread of the pool; `"payload"`: a panic whose payload is not a string.
/// Not in `__all__`; the underscore keeps it out of the public API.
#[pyfunction]
pub fn _panic_for_test(py: Python<'_>, site: &str) -> PyResult<()> {
    guard("_panic_for_test", || {
        use rayon::prelude::*;
        match site {
            "here" => panic!("test panic with the GIL held"),
            "detached" => {
                detach(py, || panic!("test panic with the GIL released"));
                Ok(())
            }
            "worker" => {
                detach(py, || {
                    (0..64u32).into_par_iter().for_each(|i| {
                        if i == 63 {
                            panic!("test panic on a worker thread");
                        }
                    })
                });
                Ok(())
            }
            "payload" => std::panic::panic_any(42u32),
            _ => Err(Class::Input.err(
                py,
                format!("site must be 'here', 'detached', 'worker' or 'payload', got {site:?}"),
            )),
        }
    })
}

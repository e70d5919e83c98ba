//! Maps core errors to the Python exception hierarchy defined in `imagegpt_rs/errors.py`.
//!
//! The classes live in Python so that they can subclass two built-ins at once (for example
//! `ImageGPTError` and `ValueError`); the binding looks them up by name when it raises.

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::PyType;

/// Builds an exception of class `imagegpt_rs.errors.<name>` with `message`.
pub fn py_error(py: Python<'_>, name: &str, message: String) -> PyErr {
    let class = py
        .import("imagegpt_rs.errors")
        .and_then(|m| m.getattr(name))
        .and_then(|c| c.cast_into::<PyType>().map_err(PyErr::from));
    match class {
        Ok(class) => PyErr::from_type(class, message),
        Err(e) => PyRuntimeError::new_err(format!(
            "{message} (and imagegpt_rs.errors.{name} is missing: {e})"
        )),
    }
}

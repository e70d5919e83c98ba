//! Bindings of `imagegpt_core::resize`: a uint8 NumPy image in, a new resized uint8 array out.

use imagegpt_core::resize::{self as core_resize, Filter, ImageView, PillowCompat, ResizeError};
use numpy::{PyArray1, PyArrayDyn, PyArrayMethods, PyUntypedArrayMethods};
use pyo3::exceptions::PyMemoryError;
use pyo3::prelude::*;

use crate::errors::py_error;

fn input_error(py: Python<'_>, e: ResizeError) -> PyErr {
    match e {
        ResizeError::OutOfMemory { .. } => PyMemoryError::new_err(e.to_string()),
        _ => py_error(py, "InputError", e.to_string()),
    }
}

/// Resizes `image` (uint8, `H x W` or `H x W x C` with C in 1, 3, 4; any strides) to `width x height`
/// like `PIL.Image.resize((width, height), resample, reducing_gap=None)` of the Pillow release
/// `pillow_compat = (major, minor)`. Returns a new C-contiguous array of the same rank. The GIL is
/// released while resizing.
#[pyfunction]
fn resize<'py>(
    py: Python<'py>,
    image: &Bound<'py, PyAny>,
    width: usize,
    height: usize,
    resample: i64,
    pillow_compat: (i64, i64),
) -> PyResult<Bound<'py, PyAny>> {
    let array = image.cast::<PyArrayDyn<u8>>().map_err(|_| {
        let what = image
            .getattr("dtype")
            .and_then(|d| d.str().map(|s| format!("an array of dtype {s}")))
            .or_else(|_| image.get_type().name().map(|n| format!("a {n}")))
            .unwrap_or_else(|_| "another object".to_owned());
        py_error(
            py,
            "InputError",
            format!("image must be a uint8 NumPy array, got {what}"),
        )
    })?;
    let filter = Filter::from_code(resample).map_err(|e| input_error(py, e))?;
    let compat = PillowCompat::from_version(pillow_compat.0, pillow_compat.1)
        .map_err(|e| input_error(py, e))?;
    let readonly = array.readonly();
    let shape = readonly.shape().to_vec();
    let (h, w, c) = match shape[..] {
        [h, w] => (h, w, 1),
        [h, w, c] => (h, w, c),
        _ => {
            return Err(py_error(
                py,
                "InputError",
                format!("image must have 2 (H, W) or 3 (H, W, C) dimensions, got shape {shape:?}"),
            ))
        }
    };
    let owned;
    // `as_slice` also accepts Fortran-ordered arrays, whose bytes are not in row-major order.
    let contiguous = if readonly.is_c_contiguous() {
        readonly.as_slice().ok()
    } else {
        None
    };
    let data: &[u8] = match contiguous {
        Some(s) => s,
        None => {
            owned = readonly.as_array().iter().copied().collect::<Vec<u8>>();
            &owned
        }
    };
    let out = py
        .detach(|| {
            let view = ImageView::new(data, w, h, c)?;
            core_resize::resize(&view, width, height, filter, compat)
        })
        .map_err(|e| input_error(py, e))?;
    let flat = PyArray1::from_vec(py, out);
    let result = if shape.len() == 2 {
        flat.reshape(vec![height, width])?
    } else {
        flat.reshape(vec![height, width, c])?
    };
    Ok(result.into_any())
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(resize, m)?)?;
    Ok(())
}

//! Bindings of `imagegpt_core::resize`: uint8 NumPy images in, new resized uint8 arrays out.

use imagegpt_core::resize::{self as core_resize, Filter, ImageView, PillowCompat, ResizeError};
use numpy::{PyArray1, PyArrayDyn, PyArrayMethods, PyReadonlyArrayDyn, PyUntypedArrayMethods};
use pyo3::prelude::*;
use pyo3::types::PyList;

use crate::errors::{Class, CoreError};
use crate::threads::{detach, guard};

/// One input image: the borrowed array, a C-ordered copy when the array is not C-contiguous, and its
/// geometry.
pub(crate) struct Input<'py> {
    array: PyReadonlyArrayDyn<'py, u8>,
    owned: Option<Vec<u8>>,
    pub(crate) height: usize,
    pub(crate) width: usize,
    pub(crate) channels: usize,
    pub(crate) rank: usize,
}

impl Input<'_> {
    pub(crate) fn data(&self) -> &[u8] {
        match &self.owned {
            Some(v) => v,
            // C-contiguous (checked in `extract`); an empty slice would fail the length check.
            None => self.array.as_slice().unwrap_or(&[]),
        }
    }

    fn view(&self) -> Result<ImageView<'_>, ResizeError> {
        ImageView::new(self.data(), self.width, self.height, self.channels)
    }
}

pub(crate) fn extract<'py>(
    py: Python<'py>,
    image: &Bound<'py, PyAny>,
    what: &str,
) -> PyResult<Input<'py>> {
    let array = image.cast::<PyArrayDyn<u8>>().map_err(|_| {
        let got = image
            .getattr("dtype")
            .and_then(|d| d.str().map(|s| format!("an array of dtype {s}")))
            .or_else(|_| image.get_type().name().map(|n| format!("a {n}")))
            .unwrap_or_else(|_| "another object".to_owned());
        Class::Input.err(py, format!("{what} must be a uint8 NumPy array, got {got}"))
    })?;
    // The fallible borrow: another thread may be writing this array (`quantize(out=...)`), which
    // the panicking `readonly()` would turn into a PanicException.
    let array = array.try_readonly().map_err(|e| {
        Class::Input.err(
            py,
            format!("{what} cannot be read: {e} (is another thread writing to it?)"),
        )
    })?;
    let shape = array.shape().to_vec();
    let (height, width, channels) = match shape[..] {
        [h, w] => (h, w, 1),
        [h, w, c] => (h, w, c),
        _ => {
            return Err(Class::Input.err(
                py,
                format!("{what} must have 2 (H, W) or 3 (H, W, C) dimensions, got shape {shape:?}"),
            ))
        }
    };
    // `as_slice` also accepts Fortran-ordered arrays, whose bytes are not in row-major order.
    let owned = if array.is_c_contiguous() && array.as_slice().is_ok() {
        None
    } else {
        // A strided view can stand for far more bytes than exist (broadcasting, as_strided): the
        // row-major copy is allocated fallibly, so a copy that cannot be made is an error, not an abort.
        let len = height
            .checked_mul(width)
            .and_then(|n| n.checked_mul(channels))
            .ok_or_else(|| {
                Class::Input.err(py, format!("{what} of shape {shape:?} is too large"))
            })?;
        let mut copy = Vec::new();
        copy.try_reserve_exact(len).map_err(|_| {
            Class::Input.err(py, format!("{what} of shape {shape:?} is not contiguous and its {len}-byte copy cannot be allocated"),
            )
        })?;
        copy.extend(array.as_array().iter().copied());
        Some(copy)
    };
    Ok(Input {
        array,
        owned,
        height,
        width,
        channels,
        rank: shape.len(),
    })
}

fn to_array<'py>(
    py: Python<'py>,
    data: Vec<u8>,
    height: usize,
    width: usize,
    input: &Input<'_>,
) -> PyResult<Bound<'py, PyAny>> {
    let flat = PyArray1::from_vec(py, data);
    let shaped = if input.rank == 2 {
        flat.reshape(vec![height, width])?
    } else {
        flat.reshape(vec![height, width, input.channels])?
    };
    Ok(shaped.into_any())
}

fn settings(
    py: Python<'_>,
    resample: i64,
    pillow_compat: (i64, i64),
) -> PyResult<(Filter, PillowCompat)> {
    let filter = Filter::from_code(resample).map_err(|e| e.to_py(py))?;
    let compat =
        PillowCompat::from_version(pillow_compat.0, pillow_compat.1).map_err(|e| e.to_py(py))?;
    Ok((filter, compat))
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
    guard("resize", || {
        let input = extract(py, image, "image")?;
        let (filter, compat) = settings(py, resample, pillow_compat)?;
        let view = input.view().map_err(|e| e.to_py(py))?;
        let out = detach(py, || {
            core_resize::resize(&view, width, height, filter, compat)
        })
        .map_err(|e| e.to_py(py))?;
        to_array(py, out, height, width, &input)
    })
}

/// Resizes every image of `images` (a sequence of arrays as `resize` takes them, of any sizes) to
/// `width x height`, in parallel over the images with the GIL released. Errors name the image's index.
#[pyfunction]
fn resize_many<'py>(
    py: Python<'py>,
    images: Vec<Bound<'py, PyAny>>,
    width: usize,
    height: usize,
    resample: i64,
    pillow_compat: (i64, i64),
) -> PyResult<Bound<'py, PyList>> {
    guard("resize_many", || {
        let inputs = images
            .iter()
            .enumerate()
            .map(|(i, image)| extract(py, image, &format!("images[{i}]")))
            .collect::<PyResult<Vec<_>>>()?;
        let (filter, compat) = settings(py, resample, pillow_compat)?;
        let views = inputs
            .iter()
            .enumerate()
            .map(|(i, input)| {
                input
                    .view()
                    .map_err(|e| e.to_py_prefixed(py, &format!("images[{i}]: ")))
            })
            .collect::<PyResult<Vec<_>>>()?;
        let outs = detach(py, || {
            core_resize::resize_many(&views, width, height, filter, compat)
        })
        .map_err(|(i, e)| e.to_py_prefixed(py, &format!("images[{i}]: ")))?;
        let arrays = outs
            .into_iter()
            .zip(&inputs)
            .map(|(out, input)| to_array(py, out, height, width, input))
            .collect::<PyResult<Vec<_>>>()?;
        PyList::new(py, arrays)
    })
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(resize, m)?)?;
    m.add_function(wrap_pyfunction!(resize_many, m)?)?;
    Ok(())
}

//! Bindings of `imagegpt_core::quantize`: the native `ColorQuantizer` the Python class wraps.
//!
//! Arrays arrive C-contiguous with the dtypes checked by `imagegpt_rs/quantization.py`; this layer
//! borrows their buffers, releases the GIL around the core call and maps errors.

use std::sync::Arc;

use imagegpt_core::palette::{Clusters, Palette, PaletteError};
use imagegpt_core::quantize::{advise_huge_pages, OutId, QuantizeError, Quantizer};
use numpy::{
    Element, PyArray1, PyArray2, PyArrayDyn, PyArrayMethods, PyUntypedArray, PyUntypedArrayMethods,
};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use crate::errors::{Class, CoreError};
use crate::threads::{detach, guard};

/// `e` with its positions written in the caller's shape (see [`QuantizeError::describe`]).
fn input_error(py: Python<'_>, e: QuantizeError, lead_shape: &[usize]) -> PyErr {
    e.class().err(py, e.describe(lead_shape))
}

fn slice_error(e: impl std::fmt::Display) -> PyErr {
    PyValueError::new_err(format!("array must be C-contiguous: {e}"))
}

/// The nearest-cluster engine of one palette (see `imagegpt_rs.ColorQuantizer`).
#[pyclass(frozen, module = "imagegpt_rs._native", name = "ColorQuantizer")]
pub struct PyColorQuantizer {
    pub(crate) inner: Arc<Quantizer>,
}

fn palette_from(py: Python<'_>, clusters: &Bound<'_, PyUntypedArray>) -> PyResult<Palette> {
    let shape = clusters.shape();
    if shape.len() != 2 || shape[1] != 3 {
        let s = shape
            .iter()
            .map(|d| d.to_string())
            .collect::<Vec<_>>()
            .join(", ");
        let s = if shape.len() == 1 {
            format!("({s},)")
        } else {
            format!("({s})")
        };
        return Err(PaletteError::Shape(s).to_py(py));
    }
    if let Ok(a) = clusters.cast::<PyArray2<f32>>() {
        let r = a.try_readonly()?;
        Palette::from_f32(r.as_slice().map_err(slice_error)?).map_err(|e| e.to_py(py))
    } else if let Ok(a) = clusters.cast::<PyArray2<f64>>() {
        let r = a.try_readonly()?;
        Palette::from_f64(r.as_slice().map_err(slice_error)?).map_err(|e| e.to_py(py))
    } else {
        Err(Class::Type.err(
            py,
            format!(
                "clusters must be float32 or float64, got {}",
                clusters.dtype()
            ),
        ))
    }
}

/// Runs `f` on the GIL-free side with the output slice of the right id type.
/// `fresh`: `out` was just allocated for this call (never written), so its pages are advised as
/// huge pages before the worker threads fault them in (see `advise_huge_pages`).
fn with_out<'py>(
    py: Python<'py>,
    out: &Bound<'py, PyUntypedArray>,
    fresh: bool,
    f: &(dyn Fn(OutSlice<'_>) -> Result<(), QuantizeError> + Sync),
) -> PyResult<Result<(), QuantizeError>> {
    fn run<'py, O: OutId + Element>(
        py: Python<'py>,
        a: &Bound<'py, PyArrayDyn<O>>,
        fresh: bool,
        wrap: for<'a> fn(&'a mut [O]) -> OutSlice<'a>,
        f: &(dyn Fn(OutSlice<'_>) -> Result<(), QuantizeError> + Sync),
    ) -> PyResult<Result<(), QuantizeError>> {
        let mut w = a.try_readwrite()?;
        let s = w.as_slice_mut().map_err(slice_error)?;
        if fresh {
            advise_huge_pages(s);
        }
        Ok(detach(py, || f(wrap(s))))
    }
    if let Ok(a) = out.cast::<PyArrayDyn<i64>>() {
        run(py, a, fresh, |s| OutSlice::I64(s), f)
    } else if let Ok(a) = out.cast::<PyArrayDyn<i32>>() {
        run(py, a, fresh, |s| OutSlice::I32(s), f)
    } else if let Ok(a) = out.cast::<PyArrayDyn<u16>>() {
        run(py, a, fresh, |s| OutSlice::U16(s), f)
    } else {
        Err(Class::Type.err(
            py,
            format!("out must be uint16, int32 or int64, got {}", out.dtype()),
        ))
    }
}

/// A mutable id buffer of one of the supported integer types.
pub enum OutSlice<'a> {
    U16(&'a mut [u16]),
    I32(&'a mut [i32]),
    I64(&'a mut [i64]),
}

#[pymethods]
impl PyColorQuantizer {
    /// `clusters`: C-contiguous float32/float64 array of shape (K, 3); `num_threads`: None = all cores.
    #[new]
    #[pyo3(signature = (clusters, num_threads=None))]
    fn new(
        py: Python<'_>,
        clusters: &Bound<'_, PyUntypedArray>,
        num_threads: Option<i64>,
    ) -> PyResult<Self> {
        guard("ColorQuantizer.__new__", || {
            let palette = palette_from(py, clusters)?;
            let threads =
                imagegpt_core::parallel::check_threads(num_threads).map_err(|m| m.to_py(py))?;
            let q = Quantizer::new(palette, threads).map_err(|m| m.to_py(py))?;
            Ok(Self { inner: Arc::new(q) })
        })
    }

    /// Number of clusters.
    #[getter]
    fn n_clusters(&self) -> PyResult<usize> {
        guard("ColorQuantizer.n_clusters", || Ok(self.inner.n_clusters()))
    }

    /// Number of threads the quantizer runs on.
    #[getter]
    fn num_threads(&self) -> PyResult<usize> {
        guard("ColorQuantizer.num_threads", || {
            Ok(self.inner.num_threads())
        })
    }

    /// Whether the 2^24 lookup table is built.
    #[getter]
    fn table_built(&self) -> PyResult<bool> {
        guard("ColorQuantizer.table_built", || {
            Ok(self.inner.table_built())
        })
    }

    /// A new (K, 3) array of the clusters in their dtype.
    fn clusters<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        guard("ColorQuantizer.clusters", || {
            Ok(match self.inner.palette().clusters() {
                Clusters::F32(c) => PyArray1::from_vec(py, c.iter().flatten().copied().collect())
                    .reshape([c.len(), 3])?
                    .into_any(),
                Clusters::F64(c) => PyArray1::from_vec(py, c.iter().flatten().copied().collect())
                    .reshape([c.len(), 3])?
                    .into_any(),
            })
        })
    }

    /// Writes the ids of C-contiguous uint8 `pixels` (..., 3) into C-contiguous `out` (...);
    /// `fresh`: `out` is a new, untouched array (the default call), advised as huge pages.
    #[pyo3(signature = (pixels, out, fresh=false))]
    fn quantize_u8<'py>(
        &self,
        py: Python<'py>,
        pixels: &Bound<'py, PyArrayDyn<u8>>,
        out: &Bound<'py, PyUntypedArray>,
        fresh: bool,
    ) -> PyResult<()> {
        guard("ColorQuantizer.quantize_u8", || {
            let r = pixels.try_readonly()?;
            let px = r.as_slice().map_err(slice_error)?;
            let q = &self.inner;
            let res = with_out(py, out, fresh, &|o| match o {
                OutSlice::U16(s) => q.quantize_u8(px, s),
                OutSlice::I32(s) => q.quantize_u8(px, s),
                OutSlice::I64(s) => q.quantize_u8(px, s),
            })?;
            let lead = &pixels.shape()[..pixels.ndim().saturating_sub(1)];
            res.map_err(|e| input_error(py, e, lead))
        })
    }

    /// Writes the ids of C-contiguous float32/float64 normalized `pixels` (..., 3) into `out`
    /// (`fresh` as in `quantize_u8`).
    #[pyo3(signature = (pixels, out, fresh=false))]
    fn quantize_float<'py>(
        &self,
        py: Python<'py>,
        pixels: &Bound<'py, PyUntypedArray>,
        out: &Bound<'py, PyUntypedArray>,
        fresh: bool,
    ) -> PyResult<()> {
        guard("ColorQuantizer.quantize_float", || {
            let q = &self.inner;
            let lead = pixels.shape()[..pixels.ndim().saturating_sub(1)].to_vec();
            let res = if let Ok(a) = pixels.cast::<PyArrayDyn<f32>>() {
                let r = a.try_readonly()?;
                let px = r.as_slice().map_err(slice_error)?;
                with_out(py, out, fresh, &|o| match o {
                    OutSlice::U16(s) => q.quantize_f32(px, s),
                    OutSlice::I32(s) => q.quantize_f32(px, s),
                    OutSlice::I64(s) => q.quantize_f32(px, s),
                })?
            } else if let Ok(a) = pixels.cast::<PyArrayDyn<f64>>() {
                let r = a.try_readonly()?;
                let px = r.as_slice().map_err(slice_error)?;
                with_out(py, out, fresh, &|o| match o {
                    OutSlice::U16(s) => q.quantize_f64(px, s),
                    OutSlice::I32(s) => q.quantize_f64(px, s),
                    OutSlice::I64(s) => q.quantize_f64(px, s),
                })?
            } else {
                return Err(Class::Type.err(
                    py,
                    format!("pixels must be float32 or float64, got {}", pixels.dtype()),
                ));
            };
            res.map_err(|e| input_error(py, e, &lead))
        })
    }

    /// Writes the uint8 colors of C-contiguous int64 `ids` (...) into C-contiguous `out` (..., 3).
    fn decode<'py>(
        &self,
        py: Python<'py>,
        ids: &Bound<'py, PyArrayDyn<i64>>,
        out: &Bound<'py, PyArrayDyn<u8>>,
    ) -> PyResult<()> {
        guard("ColorQuantizer.decode", || {
            let r = ids.try_readonly()?;
            let id = r.as_slice().map_err(slice_error)?;
            let mut w = out.try_readwrite()?;
            let o = w.as_slice_mut().map_err(slice_error)?;
            let q = &self.inner;
            detach(py, || q.decode(id, o)).map_err(|e| input_error(py, e, ids.shape()))
        })
    }

    /// A new uint16 array of shape (2**24,): the id of color (r, g, b) at `(r << 16) | (g << 8) | b`.
    fn lookup_table<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray1<u16>>> {
        guard("ColorQuantizer.lookup_table", || {
            let q = &self.inner;
            let t = detach(py, || q.linear_table());
            Ok(PyArray1::from_vec(py, t))
        })
    }

    /// Builds the lookup table now (otherwise built on first large input).
    fn build_table(&self, py: Python<'_>) -> PyResult<()> {
        guard("ColorQuantizer.build_table", || {
            let q = &self.inner;
            detach(py, || {
                q.table();
            });
            Ok(())
        })
    }

    /// The uint8 color of every cluster, shape (K, 3).
    fn colors<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        guard("ColorQuantizer.colors", || {
            let c = self.inner.colors();
            Ok(
                PyArray1::from_vec(py, c.iter().flatten().copied().collect())
                    .reshape([c.len(), 3])?
                    .into_any(),
            )
        })
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyColorQuantizer>()?;
    Ok(())
}

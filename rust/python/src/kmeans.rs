//! Bindings of `imagegpt_core::kmeans`: color histograms and weighted k-means, GIL released.

use imagegpt_core::kmeans::{self, KMeansError, KMeansOptions, Progress};
use imagegpt_core::parallel::ThreadCountError;
use numpy::{
    PyArray1, PyArrayMethods, PyReadonlyArray1, PyReadonlyArray2, PyReadonlyArrayDyn,
    PyUntypedArrayMethods,
};
use pyo3::prelude::*;

use crate::errors::{Class, CoreError};
use crate::threads::{detach, guard};

fn rows3(py: Python<'_>, a: &PyReadonlyArray2<'_, f64>, name: &str) -> PyResult<Vec<[f64; 3]>> {
    if a.shape()[1] != 3 {
        return Err(Class::Input.err(
            py,
            format!("{name} must have shape (n, 3), got {:?}", a.shape()),
        ));
    }
    Ok(a.as_array()
        .rows()
        .into_iter()
        .map(|r| [r[0], r[1], r[2]])
        .collect())
}

#[allow(clippy::too_many_arguments)]
fn options(
    py: Python<'_>,
    n_clusters: usize,
    max_iter: usize,
    tol: f64,
    seed: u64,
    init: Option<PyReadonlyArray2<'_, f64>>,
    n_local_trials: Option<usize>,
) -> PyResult<KMeansOptions> {
    let init = match init {
        Some(a) => Some(
            rows3(py, &a, "init").map_err(|e| Class::Palette.err(py, e.value(py).to_string()))?,
        ),
        None => None,
    };
    Ok(KMeansOptions {
        n_clusters,
        max_iter,
        tol,
        seed,
        n_local_trials,
        init,
    })
}

/// Runs `f` with the GIL released, on the core's fork-aware pool of `num_threads` threads (None: all cores),
/// handing it a progress callback that calls `progress(stage, done, total)` and checks for
/// Ctrl-C. A Python exception raised there cancels the fit and is re-raised.
fn run_detached<T: Send>(
    py: Python<'_>,
    num_threads: Option<i64>,
    progress: Option<Py<PyAny>>,
    f: impl FnOnce(&mut kmeans::ProgressFn<'_>) -> Result<T, KMeansError> + Send,
) -> PyResult<T> {
    imagegpt_core::parallel::check_threads(num_threads).map_err(|m| m.to_py(py))?;
    let mut failure: Option<PyErr> = None;
    let result = {
        let failure = &mut failure;
        let mut callback = move |p: Progress| -> bool {
            Python::attach(|py| {
                let r = py.check_signals().and_then(|()| match &progress {
                    Some(cb) => {
                        let (stage, done, total) = match p {
                            Progress::Init { done, total } => ("init", done, total),
                            Progress::Iteration { iter, max_iter, .. } => {
                                ("iteration", iter, max_iter)
                            }
                        };
                        cb.call1(py, (stage, done, total)).map(|_| ())
                    }
                    None => Ok(()),
                });
                match r {
                    Ok(()) => true,
                    Err(e) => {
                        *failure = Some(e);
                        false
                    }
                }
            })
        };
        py.detach(|| -> Result<Result<T, KMeansError>, ThreadCountError> {
            let threads = imagegpt_core::parallel::check_threads(num_threads)?;
            Ok(imagegpt_core::parallel::install_with(threads, || {
                f(&mut callback)
            }))
        })
    };
    match result {
        Err(msg) => Err(msg.to_py(py)),
        Ok(Ok(v)) => Ok(v),
        Ok(Err(KMeansError::Cancelled)) => {
            Err(failure.unwrap_or_else(|| KMeansError::Cancelled.to_py(py)))
        }
        Ok(Err(e)) => Err(e.to_py(py)),
    }
}

fn centers_array<'py>(py: Python<'py>, centers: &[[f64; 3]]) -> PyResult<Bound<'py, PyAny>> {
    let flat: Vec<f64> = centers.iter().flatten().copied().collect();
    Ok(PyArray1::from_vec(py, flat)
        .reshape([centers.len(), 3])?
        .into_any())
}

/// Counts of distinct uint8 RGB colors, filled batch by batch (see `imagegpt_core::kmeans`).
#[pyclass(module = "imagegpt_rs._native", name = "ColorHistogram")]
struct PyColorHistogram {
    inner: kmeans::ColorHistogram,
}

#[pymethods]
impl PyColorHistogram {
    #[new]
    fn new() -> PyResult<Self> {
        guard("ColorHistogram.__new__", || {
            Ok(Self {
                inner: kmeans::ColorHistogram::new(),
            })
        })
    }

    /// Adds a C-contiguous uint8 array whose last axis holds R, G, B.
    fn add(&mut self, py: Python<'_>, pixels: PyReadonlyArrayDyn<'_, u8>) -> PyResult<()> {
        guard("ColorHistogram.add", || {
            let shape = pixels.shape().to_vec();
            if shape.last() != Some(&3) {
                return Err(Class::Input.err(
                    py,
                    format!("pixels must have a last axis of 3 (RGB), got shape {shape:?}"),
                ));
            }
            let data = pixels
                .as_slice()
                .map_err(|_| Class::Input.err(py, "pixels must be C-contiguous"))?;
            let inner = &mut self.inner;
            detach(py, || inner.add_rgb(data)).map_err(|e| e.to_py(py))
        })
    }

    /// Pixels counted so far.
    #[getter]
    fn n_pixels(&self) -> PyResult<u64> {
        guard("ColorHistogram.n_pixels", || Ok(self.inner.n_pixels()))
    }

    /// The distinct colors (uint8, (m, 3), sorted by r, g, b) and their counts (uint64, (m,)).
    fn colors<'py>(
        &self,
        py: Python<'py>,
    ) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyArray1<u64>>)> {
        guard("ColorHistogram.colors", || {
            let inner = &self.inner;
            let (keys, counts) = detach(py, || inner.keys_counts());
            let flat: Vec<u8> = keys.iter().flat_map(|&k| kmeans::key_color(k)).collect();
            let colors = PyArray1::from_vec(py, flat)
                .reshape([keys.len(), 3])?
                .into_any();
            Ok((colors, PyArray1::from_vec(py, counts)))
        })
    }

    /// Fits a palette to the counted colors: `(centers, inertia, n_iter, converged, n_pixels,
    /// n_distinct)`.
    #[pyo3(signature = (n_clusters, max_iter=300, tol=1e-4, seed=0, init=None, n_local_trials=None, num_threads=None, progress=None))]
    #[allow(clippy::too_many_arguments)]
    fn fit<'py>(
        &self,
        py: Python<'py>,
        n_clusters: usize,
        max_iter: usize,
        tol: f64,
        seed: u64,
        init: Option<PyReadonlyArray2<'_, f64>>,
        n_local_trials: Option<usize>,
        num_threads: Option<i64>,
        progress: Option<Py<PyAny>>,
    ) -> PyResult<(Bound<'py, PyAny>, f64, usize, bool, u64, usize)> {
        guard("ColorHistogram.fit", || {
            let opts = options(py, n_clusters, max_iter, tol, seed, init, n_local_trials)?;
            let inner = &self.inner;
            let fit = run_detached(py, num_threads, progress, |cb| {
                kmeans::fit_palette(inner, &opts, Some(cb))
            })?;
            Ok((
                centers_array(py, &fit.centers)?,
                fit.inertia,
                fit.n_iter,
                fit.converged,
                fit.n_pixels,
                fit.n_distinct,
            ))
        })
    }
}

/// Weighted k-means of float64 points (n, 3): `(centers, inertia, n_iter, converged)`.
#[pyfunction]
#[pyo3(signature = (points, n_clusters, weights=None, max_iter=300, tol=1e-4, seed=0, init=None, n_local_trials=None, num_threads=None, progress=None))]
#[allow(clippy::too_many_arguments)]
fn kmeans_fit<'py>(
    py: Python<'py>,
    points: PyReadonlyArray2<'_, f64>,
    n_clusters: usize,
    weights: Option<PyReadonlyArray1<'_, f64>>,
    max_iter: usize,
    tol: f64,
    seed: u64,
    init: Option<PyReadonlyArray2<'_, f64>>,
    n_local_trials: Option<usize>,
    num_threads: Option<i64>,
    progress: Option<Py<PyAny>>,
) -> PyResult<(Bound<'py, PyAny>, f64, usize, bool)> {
    guard("kmeans_fit", || {
        let pts = rows3(py, &points, "points")?;
        let w: Option<Vec<f64>> = weights.map(|w| w.as_array().to_vec());
        let opts = options(py, n_clusters, max_iter, tol, seed, init, n_local_trials)?;
        let r = run_detached(py, num_threads, progress, |cb| {
            kmeans::kmeans(&pts, w.as_deref(), &opts, Some(cb))
        })?;
        Ok((
            centers_array(py, &r.centers)?,
            r.inertia,
            r.n_iter,
            r.converged,
        ))
    })
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyColorHistogram>()?;
    m.add_function(wrap_pyfunction!(kmeans_fit, m)?)?;
    Ok(())
}

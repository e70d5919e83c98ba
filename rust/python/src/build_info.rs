//! `build_info()`: the core's build facts as a dict.

use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::threads::guard;

/// What this build contains, as a dict: ``version`` (the package version), ``jpeg_decoder``
/// (``"libjpeg-turbo"``, or ``"zune-jpeg"`` in a build without it), ``libjpeg_turbo_version``,
/// ``jpeg_simd`` (libjpeg-turbo's SIMD code is linked in and runs on this CPU; ``None`` where it has
/// none), ``target_arch``, ``target_os``, ``compiled_target_features``, ``quantize_kernel`` and
/// ``resize_kernel`` (the instruction sets the kernels dispatch to on this CPU) and ``optimized``.
#[pyfunction]
fn build_info(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    guard("build_info", || {
        let info = imagegpt_core::build_info::build_info();
        let d = PyDict::new(py);
        d.set_item("version", info.version)?;
        d.set_item("jpeg_decoder", info.jpeg_decoder)?;
        d.set_item("libjpeg_turbo_version", info.libjpeg_turbo_version)?;
        d.set_item("jpeg_simd", info.jpeg_simd)?;
        d.set_item("target_arch", info.target_arch)?;
        d.set_item("target_os", info.target_os)?;
        d.set_item("compiled_target_features", info.compiled_target_features)?;
        d.set_item("quantize_kernel", info.quantize_kernel)?;
        d.set_item("resize_kernel", info.resize_kernel)?;
        d.set_item("optimized", info.optimized)?;
        Ok(d)
    })
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(build_info, m)?)
}

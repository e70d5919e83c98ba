//! Bindings of `imagegpt_core::tar`: the member listing of a tar shard.

use std::fs::File;
use std::path::PathBuf;

use imagegpt_core::tar::index_tar;
use numpy::PyArray1;
use pyo3::prelude::*;

use crate::threads::guard;

/// (member names, data offsets, data sizes, the error that stopped the listing as (header offset,
/// member name or None, reason), or None).
type IndexResult<'py> = (
    Vec<String>,
    Bound<'py, PyArray1<u64>>,
    Bound<'py, PyArray1<u64>>,
    Option<(u64, Option<String>, String)>,
);

/// Lists the regular-file members of a tar archive (with the GIL released); a damaged archive gives
/// the members before the damage and the error. Raises OSError when the file cannot be opened.
#[pyfunction]
fn tar_index(py: Python<'_>, path: PathBuf) -> PyResult<IndexResult<'_>> {
    guard("tar_index", || {
        let index = py.detach(|| -> std::io::Result<_> {
            let file = File::open(&path)?;
            let len = file.metadata()?.len();
            // Unbuffered: the reader seeks to every header and reads 512 bytes, so a buffer would only
            // read member data it then discards.
            Ok(index_tar(file, len))
        })?;
        let mut names = Vec::with_capacity(index.members.len());
        let mut offsets = Vec::with_capacity(index.members.len());
        let mut sizes = Vec::with_capacity(index.members.len());
        for m in index.members {
            names.push(m.name);
            offsets.push(m.offset);
            sizes.push(m.size);
        }
        let error = index.error.map(|e| (e.offset, e.member, e.reason));
        Ok((
            names,
            PyArray1::from_vec(py, offsets),
            PyArray1::from_vec(py, sizes),
            error,
        ))
    })
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(tar_index, m)?)?;
    Ok(())
}

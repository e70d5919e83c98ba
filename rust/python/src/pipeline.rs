//! Bindings of `imagegpt_core::pipeline`: an `EncodeJob` (quantizer + target size + decode settings)
//! that encodes lists of paths, byte strings or uint8 arrays with the GIL released.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use imagegpt_core::decode::{DecodeOptions, JpegDecoder, DEFAULT_MAX_PIXELS};
use imagegpt_core::pipeline::{encode_batch, EncodeSettings, Source};
use imagegpt_core::quantize::{OutId, Quantizer};
use imagegpt_core::resize::{Filter, PillowCompat};
use numpy::{PyArray1, PyArrayMethods};
use pyo3::prelude::*;

use crate::errors::{Class, CoreError};
use crate::quantize::PyColorQuantizer;
use crate::resize::extract;
use crate::threads::guard;

#[derive(Clone, Copy)]
enum Dtype {
    U16,
    I32,
    I64,
}

/// Decode + resize + quantize settings, reusable across calls.
#[pyclass(frozen, module = "imagegpt_rs._native", name = "EncodeJob")]
pub struct EncodeJob {
    quantizer: Arc<Quantizer>,
    settings: EncodeSettings,
    dtype: Dtype,
    /// Worker threads (None: all cores), on the core's fork-aware pools.
    threads: Option<usize>,
}

/// (ids of the good items as an (n_ok, H*W) array, indices of the good items, (index, reason) failures)
type RunResult<'py> = (Bound<'py, PyAny>, Vec<usize>, Vec<(usize, String)>);

impl EncodeJob {
    fn run_typed<'py, O: OutId + numpy::Element>(
        &self,
        py: Python<'py>,
        sources: &[Source<'_>],
        interruptible: bool,
    ) -> PyResult<RunResult<'py>> {
        let len = self.settings.sequence_length().map_err(|m| m.to_py(py))?;
        let total = sources.len().checked_mul(len).ok_or_else(|| {
            Class::Input.err(
                py,
                format!("{} images of {len} ids do not fit in memory", sources.len()),
            )
        })?;
        let mut out: Vec<O> = Vec::new();
        out.try_reserve_exact(total)
            .map_err(|_| Class::Memory.err(py, "cannot allocate the output ids"))?;
        out.resize(total, O::from_id(0));
        let mut batch = |cancel: &AtomicBool| {
            let work = || encode_batch(sources, &self.settings, &self.quantizer, &mut out, cancel);
            imagegpt_core::parallel::install_with(self.threads, work)
        };
        let results = if interruptible {
            self.run_interruptibly(py, batch)?
        } else {
            py.detach(|| batch(&AtomicBool::new(false)))
        };
        let mut ok = Vec::with_capacity(sources.len());
        let mut failures = Vec::new();
        for (i, r) in results.into_iter().enumerate() {
            match r {
                Ok(()) => ok.push(i),
                Err(reason) => failures.push((i, reason)),
            }
        }
        // Keep the good rows only, in order (failed rows are compacted away).
        if !failures.is_empty() {
            for (w, &i) in ok.iter().enumerate() {
                if i != w {
                    out.copy_within(i * len..(i + 1) * len, w * len);
                }
            }
            out.truncate(ok.len() * len);
        }
        let arr = PyArray1::from_vec(py, out).reshape(vec![ok.len(), len])?;
        Ok((arr.into_any(), ok, failures))
    }

    /// Runs `work` on a helper thread while this (the calling) thread waits with the GIL released,
    /// waking every 50 ms to let Python run its signal handlers: on Ctrl-C (a `KeyboardInterrupt`
    /// from `check_signals`) the batch is cancelled, the images already started finish, and the
    /// exception propagates, so a long run stops within about one image's time.
    fn run_interruptibly<R: Send>(
        &self,
        py: Python<'_>,
        work: impl FnOnce(&AtomicBool) -> R + Send,
    ) -> PyResult<R> {
        let cancel = AtomicBool::new(false);
        let done = (Mutex::new(false), Condvar::new());
        // Waits up to `timeout` (forever if None) for the worker to finish; true when it has.
        let wait = |timeout: Option<Duration>| {
            let (flag, cv) = &done;
            let guard = flag.lock().unwrap_or_else(|p| p.into_inner());
            match timeout {
                Some(t) => *cv
                    .wait_timeout_while(guard, t, |d| !*d)
                    .map(|(g, _)| g)
                    .unwrap_or_else(|p| p.into_inner().0),
                None => *cv
                    .wait_while(guard, |d| !*d)
                    .unwrap_or_else(|p| p.into_inner()),
            }
        };
        std::thread::scope(|scope| {
            let handle = scope.spawn(|| {
                let result = work(&cancel);
                let (flag, cv) = &done;
                *flag.lock().unwrap_or_else(|p| p.into_inner()) = true;
                cv.notify_all();
                result
            });
            loop {
                let finished = py.detach(|| wait(Some(Duration::from_millis(50))));
                if finished || handle.is_finished() {
                    // A panic of the helper thread goes on unwinding here, up to the entry
                    // point's guard (an InternalError naming the method).
                    return Ok(handle
                        .join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic)));
                }
                if let Err(interrupt) = py.check_signals() {
                    cancel.store(true, Ordering::Relaxed);
                    // Only the images already started still run; wait for them outside the GIL.
                    py.detach(|| wait(None));
                    // The interrupt is what the user asked for; a panic of the helper is dropped.
                    let _ = handle.join();
                    return Err(interrupt);
                }
            }
        })
    }

    /// `interruptible`: for long runs (files): Ctrl-C stops them (see `run_interruptibly`).
    fn run<'py>(
        &self,
        py: Python<'py>,
        sources: &[Source<'_>],
        interruptible: bool,
    ) -> PyResult<RunResult<'py>> {
        match self.dtype {
            Dtype::U16 => self.run_typed::<u16>(py, sources, interruptible),
            Dtype::I32 => self.run_typed::<i32>(py, sources, interruptible),
            Dtype::I64 => self.run_typed::<i64>(py, sources, interruptible),
        }
    }
}

#[pymethods]
impl EncodeJob {
    /// `max_pixels`: None for Pillow's limit (2 x 89,478,485), a negative number for no limit.
    /// `draft`: JPEG DCT-domain downscaling towards the target size (fast mode, not bit-exact).
    #[new]
    #[pyo3(signature = (quantizer, height, width, resample, pillow_compat, dtype, num_threads=None, max_pixels=None, draft=false))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        quantizer: PyRef<'_, PyColorQuantizer>,
        height: usize,
        width: usize,
        resample: i64,
        pillow_compat: (i64, i64),
        dtype: &str,
        num_threads: Option<i64>,
        max_pixels: Option<i64>,
        draft: bool,
    ) -> PyResult<Self> {
        guard("EncodeJob.__new__", || {
            let input_error = |msg: String| Class::Input.err(py, msg);
            if height == 0 || width == 0 {
                return Err(input_error(format!(
                    "size must be positive, got {height}x{width}"
                )));
            }
            let filter = Filter::from_code(resample).map_err(|e| e.to_py(py))?;
            let compat = PillowCompat::from_version(pillow_compat.0, pillow_compat.1)
                .map_err(|e| e.to_py(py))?;
            let dtype = match dtype {
                "uint16" => Dtype::U16,
                "int32" => Dtype::I32,
                "int64" => Dtype::I64,
                other => {
                    return Err(input_error(format!(
                        "dtype must be uint16, int32 or int64, got {other}"
                    )))
                }
            };
            let max_pixels = match max_pixels {
                None => Some(DEFAULT_MAX_PIXELS),
                Some(n) if n < 0 => None,
                Some(n) => Some(n as u64),
            };
            let threads =
                imagegpt_core::parallel::check_threads(num_threads).map_err(|m| m.to_py(py))?;
            let decode = DecodeOptions {
                max_pixels,
                // a size past u32 cannot be a draft target (and fails the check below anyway)
                draft: if draft {
                    Some((
                        u32::try_from(width).unwrap_or(u32::MAX),
                        u32::try_from(height).unwrap_or(u32::MAX),
                    ))
                } else {
                    None
                },
                jpeg_decoder: JpegDecoder::DEFAULT,
            };
            let settings = EncodeSettings {
                height,
                width,
                filter,
                compat,
                decode,
            };
            settings.sequence_length().map_err(|m| m.to_py(py))?;
            Ok(EncodeJob {
                quantizer: Arc::clone(&quantizer.inner),
                settings,
                dtype,
                threads,
            })
        })
    }

    /// Tokens per image.
    #[getter]
    fn sequence_length(&self, py: Python<'_>) -> PyResult<usize> {
        guard("EncodeJob.sequence_length", || {
            self.settings.sequence_length().map_err(|m| m.to_py(py))
        })
    }

    /// The NumPy dtype name of the ids.
    #[getter]
    fn dtype(&self) -> PyResult<&'static str> {
        guard("EncodeJob.dtype", || {
            Ok(match self.dtype {
                Dtype::U16 => "uint16",
                Dtype::I32 => "int32",
                Dtype::I64 => "int64",
            })
        })
    }

    /// Encodes image files; see the class docs for the result.
    fn run_paths<'py>(&self, py: Python<'py>, paths: Vec<PathBuf>) -> PyResult<RunResult<'py>> {
        guard("EncodeJob.run_paths", || {
            let sources: Vec<Source<'_>> = paths.iter().map(|p| Source::Path(p)).collect();
            self.run(py, &sources, true)
        })
    }

    /// Encodes encoded images held in byte strings.
    fn run_bytes<'py>(&self, py: Python<'py>, blobs: Vec<Vec<u8>>) -> PyResult<RunResult<'py>> {
        guard("EncodeJob.run_bytes", || {
            let sources: Vec<Source<'_>> = blobs.iter().map(|b| Source::Bytes(b)).collect();
            self.run(py, &sources, true)
        })
    }

    /// Encodes byte ranges of files (the members of tar shards): item `i` is `sizes[i]` bytes at
    /// `offsets[i]` of `paths[files[i]]`. The ranges are read in order on one thread (sequential
    /// I/O, each file opened once per run of its items, only this call's bytes in memory), then
    /// decoded in parallel, so the members of several small shards share one parallel batch; a range
    /// that cannot be read fails alone, with the read error.
    fn run_ranges<'py>(
        &self,
        py: Python<'py>,
        paths: Vec<PathBuf>,
        files: Vec<usize>,
        offsets: Vec<u64>,
        sizes: Vec<u64>,
    ) -> PyResult<RunResult<'py>> {
        guard("EncodeJob.run_ranges", || {
            if offsets.len() != sizes.len() || files.len() != sizes.len() {
                return Err(Class::Input.err(
                    py,
                    format!(
                        "{} file indices, {} offsets and {} sizes",
                        files.len(),
                        offsets.len(),
                        sizes.len()
                    ),
                ));
            }
            if let Some(&bad) = files.iter().find(|&&f| f >= paths.len()) {
                return Err(
                    Class::Input.err(py, format!("file index {bad} but {} paths", paths.len()))
                );
            }
            let blobs: Vec<Result<Vec<u8>, String>> = py.detach(|| {
                // Unbuffered: each member is one seek and one read of exactly its bytes.
                let mut open: Option<(usize, Result<std::fs::File, String>)> = None;
                files
                    .iter()
                    .zip(offsets.iter().zip(&sizes))
                    .map(|(&f, (&o, &n))| {
                        if open.as_ref().map(|(k, _)| *k) != Some(f) {
                            let file = std::fs::File::open(&paths[f]).map_err(|e| e.to_string());
                            open = Some((f, file));
                        }
                        match open.as_mut().map(|(_, file)| file) {
                            Some(Ok(file)) => imagegpt_core::tar::read_range(file, o, n)
                                .map_err(|e| format!("cannot read: {e}")),
                            Some(Err(e)) => Err(format!("cannot read: {e}")),
                            None => Err("cannot read: no file".to_owned()),
                        }
                    })
                    .collect()
            });
            let sources: Vec<Source<'_>> = blobs
                .iter()
                .map(|b| Source::Bytes(b.as_deref().unwrap_or(&[])))
                .collect();
            let (ids, ok, mut failures) = self.run(py, &sources, true)?;
            for (i, reason) in &mut failures {
                if let Some(Err(e)) = blobs.get(*i) {
                    reason.clone_from(e);
                }
            }
            Ok((ids, ok, failures))
        })
    }

    /// Encodes uint8 RGB arrays of shape (H, W, 3) (any strides, any sizes).
    fn run_arrays<'py>(
        &self,
        py: Python<'py>,
        images: Vec<Bound<'py, PyAny>>,
    ) -> PyResult<RunResult<'py>> {
        guard("EncodeJob.run_arrays", || {
            let inputs = images
                .iter()
                .enumerate()
                .map(|(i, image)| extract(py, image, &format!("images[{i}]")))
                .collect::<PyResult<Vec<_>>>()?;
            let mut sources = Vec::with_capacity(inputs.len());
            for (i, input) in inputs.iter().enumerate() {
                if input.channels != 3 || input.rank != 3 {
                    return Err(Class::Input.err(
                        py,
                        format!(
                            "images[{i}] must have shape (H, W, 3), got {} channels",
                            input.channels
                        ),
                    ));
                }
                sources.push(Source::Rgb {
                    data: input.data(),
                    width: input.width,
                    height: input.height,
                });
            }
            self.run(py, &sources, false)
        })
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<EncodeJob>()?;
    Ok(())
}

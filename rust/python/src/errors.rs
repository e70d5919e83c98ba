//! The Python classes the binding raises, and the one mapping from core errors to them.
//!
//! The package's classes live in `imagegpt_rs/errors.py` so that they can subclass two built-ins at
//! once (for example `ImageGPTError` and `ValueError`). The binding fetches them together, once, the
//! first time it raises one ([`CLASSES`], a `PyOnceLock`). At first use rather than at module init:
//! `imagegpt_rs/__init__.py` imports `_native` before `errors`, and binding them at init would make
//! `_native`'s import depend on `errors.py` never importing the package back; by the time a native
//! call fails, both modules are loaded.
//!
//! - Every raise names its class through [`Class`]: a misspelt class is a compile error, and adding a
//!   class does not compile until [`Classes`] fetches it.
//! - Every core error type maps to its class in one exhaustive `match` ([`CoreError`], no wildcard): a
//!   new core variant does not compile until it is mapped here.
//! - Core results that are data, not errors, are not mapped: config rule violations and the tar
//!   listing's `TarError` come back as tuples and `imagegpt_rs` builds `ConfigValidationError` /
//!   the failed tar item from them; the pipeline's per-image failures are reasons in the result.

use imagegpt_core::decode::DecodeError;
use imagegpt_core::kmeans::KMeansError;
use imagegpt_core::palette::PaletteError;
use imagegpt_core::parallel::ThreadCountError;
use imagegpt_core::pipeline::SequenceLengthError;
use imagegpt_core::quantize::QuantizeError;
use imagegpt_core::resize::ResizeError;
use pyo3::exceptions::{PyMemoryError, PyRuntimeError, PyTypeError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyType;

/// An exception class the binding raises.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    /// `imagegpt_rs.errors.InputError` (a `ValueError`): pixels, ids, sizes or options that cannot
    /// be processed.
    Input,
    /// `imagegpt_rs.errors.PaletteError` (a `ValueError`): clusters that cannot form a palette.
    Palette,
    /// `imagegpt_rs.errors.ImageDecodeError` (an `OSError`): an image that cannot be decoded.
    ImageDecode,
    /// `imagegpt_rs.errors.InternalError` (a `RuntimeError`): a bug (a panic caught at the boundary).
    Internal,
    /// The built-in `MemoryError`.
    Memory,
    /// The built-in `TypeError` (an array of a dtype the call does not take).
    Type,
}

/// The package's classes, fetched from `imagegpt_rs.errors` together.
struct Classes {
    input: Py<PyType>,
    palette: Py<PyType>,
    image_decode: Py<PyType>,
    internal: Py<PyType>,
}

static CLASSES: PyOnceLock<Classes> = PyOnceLock::new();

fn classes(py: Python<'_>) -> PyResult<&'static Classes> {
    CLASSES.get_or_try_init(py, || {
        let module = py.import("imagegpt_rs.errors")?;
        let get = |name: &str| -> PyResult<Py<PyType>> {
            Ok(module.getattr(name)?.cast_into::<PyType>()?.unbind())
        };
        Ok(Classes {
            input: get("InputError")?,
            palette: get("PaletteError")?,
            image_decode: get("ImageDecodeError")?,
            internal: get("InternalError")?,
        })
    })
}

impl Class {
    /// An exception of this class with `message`.
    ///
    /// Should `imagegpt_rs.errors` be unimportable (a broken installation), a `RuntimeError` carrying
    /// `message` and the reason; the failed lookup is not cached, the next raise tries again.
    pub fn err(self, py: Python<'_>, message: impl Into<String>) -> PyErr {
        let message = message.into();
        let pick: fn(&Classes) -> &Py<PyType> = match self {
            Class::Input => |c| &c.input,
            Class::Palette => |c| &c.palette,
            Class::ImageDecode => |c| &c.image_decode,
            Class::Internal => |c| &c.internal,
            Class::Memory => return PyMemoryError::new_err(message),
            Class::Type => return PyTypeError::new_err(message),
        };
        match classes(py) {
            Ok(c) => PyErr::from_type(pick(c).bind(py).clone(), message),
            Err(e) => PyRuntimeError::new_err(format!(
                "{message} (and the imagegpt_rs.errors classes cannot be loaded: {e})"
            )),
        }
    }
}

/// A core error type and the class each of its variants is raised as.
pub trait CoreError: std::fmt::Display {
    fn class(&self) -> Class;

    /// The exception, with the core's message (which names the field, index or value).
    fn to_py(&self, py: Python<'_>) -> PyErr {
        self.class().err(py, self.to_string())
    }

    /// The exception, with the core's message after `prefix` (such as `"images[3]: "`).
    fn to_py_prefixed(&self, py: Python<'_>, prefix: &str) -> PyErr {
        self.class().err(py, format!("{prefix}{self}"))
    }
}

impl CoreError for DecodeError {
    fn class(&self) -> Class {
        match self {
            DecodeError::Empty
            | DecodeError::UnknownFormat { .. }
            | DecodeError::Truncated { .. }
            | DecodeError::Corrupt { .. }
            | DecodeError::Unsupported { .. }
            | DecodeError::ZeroSize { .. }
            | DecodeError::TooManyPixels { .. }
            // the decoder's own allocation: reported per file like the others (the path is named)
            | DecodeError::OutOfMemory { .. }
            | DecodeError::Io { .. }
            | DecodeError::DecoderUnavailable(_) => Class::ImageDecode,
        }
    }
}

impl CoreError for ResizeError {
    fn class(&self) -> Class {
        match self {
            ResizeError::ZeroSize { .. }
            | ResizeError::TooLarge { .. }
            | ResizeError::Channels(_)
            | ResizeError::BufferLength { .. }
            | ResizeError::OutputLength { .. }
            | ResizeError::Filter(_)
            | ResizeError::Compat { .. } => Class::Input,
            ResizeError::OutOfMemory { .. } => Class::Memory,
        }
    }
}

impl CoreError for PaletteError {
    fn class(&self) -> Class {
        match self {
            PaletteError::Shape(_)
            | PaletteError::Empty
            | PaletteError::TooMany(_)
            | PaletteError::NonFinite { .. } => Class::Palette,
        }
    }
}

/// Raised through [`CoreError::class`] with [`QuantizeError::describe`]'s message (positions in the
/// caller's shape), not `to_string`.
impl CoreError for QuantizeError {
    fn class(&self) -> Class {
        match self {
            QuantizeError::Shape(_)
            | QuantizeError::OutLength { .. }
            | QuantizeError::NonFinite { .. }
            | QuantizeError::IdOutOfRange { .. } => Class::Input,
        }
    }
}

impl CoreError for KMeansError {
    fn class(&self) -> Class {
        match self {
            KMeansError::Init(_) => Class::Palette,
            KMeansError::PixelLength { .. }
            | KMeansError::Empty
            | KMeansError::Clusters(_)
            | KMeansError::TooFewPoints { .. }
            | KMeansError::WeightLength { .. }
            | KMeansError::Weight { .. }
            | KMeansError::Point { .. }
            | KMeansError::Option { .. }
            // only when no Python exception stopped the fit (that one is re-raised instead)
            | KMeansError::Cancelled => Class::Input,
        }
    }
}

impl CoreError for ThreadCountError {
    fn class(&self) -> Class {
        Class::Input
    }
}

impl CoreError for SequenceLengthError {
    fn class(&self) -> Class {
        Class::Input
    }
}

//! Bindings of `imagegpt_core::decode`: bytes or a path in, an `H x W x 3` uint8 array out.

use std::path::PathBuf;

use imagegpt_core::decode::{
    self, DecodeError, DecodeOptions, DecodedImage, JpegDecoder, DEFAULT_MAX_PIXELS,
};
use numpy::{PyArray1, PyArrayMethods};
use pyo3::prelude::*;

use crate::errors::{Class, CoreError};
use crate::threads::{detach, guard};

/// Builds an `ImageDecodeError` (an `OSError`) whose message names the source and the reason, with
/// the attributes `path` (the path, or None for bytes) and `kind` (`DecodeError::kind`). (Not
/// `filename`: setting it would make `OSError.__str__` print `[Errno None] None: <filename>`.)
fn decode_error(py: Python<'_>, source: Option<&str>, e: &DecodeError) -> PyErr {
    let message = match source {
        Some(path) => format!("cannot decode image file '{path}': {e}"),
        None => format!("cannot decode image bytes: {e}"),
    };
    let err = e.class().err(py, message);
    let value = err.value(py);
    // Best effort: the message already carries everything.
    let _ = value.setattr("path", source);
    let _ = value.setattr("kind", e.kind());
    err
}

fn options(
    py: Python<'_>,
    max_pixels: Option<u64>,
    draft: Option<(u32, u32)>,
    jpeg_decoder: Option<&str>,
) -> PyResult<DecodeOptions> {
    let jpeg_decoder = match jpeg_decoder {
        None => JpegDecoder::DEFAULT,
        Some(name) => match JpegDecoder::from_name(name) {
            Some(d) if d.available() => d,
            Some(_) => {
                let msg = format!(
                    "jpeg_decoder={name:?} is not compiled into this build (use {:?})",
                    JpegDecoder::DEFAULT.name()
                );
                return Err(Class::Input.err(py, msg));
            }
            None => {
                return Err(Class::Input.err(
                    py,
                    format!("jpeg_decoder must be 'libjpeg-turbo' or 'zune-jpeg', got {name:?}"),
                ))
            }
        },
    };
    if let Some((w, h)) = draft {
        if w == 0 || h == 0 {
            return Err(
                Class::Input.err(py, format!("draft size must be positive, got ({w}, {h})"))
            );
        }
    }
    if max_pixels == Some(0) {
        return Err(Class::Input.err(
            py,
            String::from("max_pixels must be positive or None, got 0"),
        ));
    }
    Ok(DecodeOptions {
        max_pixels,
        draft,
        jpeg_decoder,
    })
}

fn to_array<'py>(py: Python<'py>, img: DecodedImage) -> PyResult<Bound<'py, PyAny>> {
    let (h, w) = (img.height as usize, img.width as usize);
    let flat = PyArray1::from_vec(py, img.data);
    Ok(flat.reshape([h, w, 3])?.into_any())
}

/// Decodes JPEG/PNG/GIF/WebP/TIFF/BMP bytes to an `H x W x 3` uint8 RGB array like Pillow's
/// `Image.open(...).convert("RGB")`, with the GIL released.
#[pyfunction]
#[pyo3(signature = (data, max_pixels=Some(DEFAULT_MAX_PIXELS), draft=None, jpeg_decoder=None))]
fn decode_image<'py>(
    py: Python<'py>,
    data: &[u8],
    max_pixels: Option<u64>,
    draft: Option<(u32, u32)>,
    jpeg_decoder: Option<&str>,
) -> PyResult<Bound<'py, PyAny>> {
    guard("decode_image", || {
        let opts = options(py, max_pixels, draft, jpeg_decoder)?;
        match detach(py, || decode::decode(data, &opts)) {
            Ok(img) => to_array(py, img),
            Err(e) => Err(decode_error(py, None, &e)),
        }
    })
}

/// Reads and decodes an image file; errors name the file. See `decode_image`. `path` is a `str`
/// (non-UTF-8 names in their `surrogateescape` form, as `os.fsdecode` gives them), `bytes` or an
/// `os.PathLike`: any name the file system has.
#[pyfunction]
#[pyo3(signature = (path, max_pixels=Some(DEFAULT_MAX_PIXELS), draft=None, jpeg_decoder=None))]
fn decode_image_file<'py>(
    py: Python<'py>,
    path: PathBuf,
    max_pixels: Option<u64>,
    draft: Option<(u32, u32)>,
    jpeg_decoder: Option<&str>,
) -> PyResult<Bound<'py, PyAny>> {
    guard("decode_image_file", || {
        let opts = options(py, max_pixels, draft, jpeg_decoder)?;
        match detach(py, || decode::decode_file(&path, &opts)) {
            Ok(img) => to_array(py, img),
            // the name as the file system spells it, undecodable bytes shown as U+FFFD
            Err(e) => Err(decode_error(py, Some(&path.to_string_lossy()), &e)),
        }
    })
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(decode_image, m)?)?;
    m.add_function(wrap_pyfunction!(decode_image_file, m)?)?;
    m.add("DEFAULT_MAX_PIXELS", DEFAULT_MAX_PIXELS)?;
    m.add("DEFAULT_JPEG_DECODER", JpegDecoder::DEFAULT.name())?;
    Ok(())
}

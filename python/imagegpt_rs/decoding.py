"""Image decoding in Rust: JPEG, PNG, GIF, WebP, TIFF (first frame) and BMP to RGB arrays, like Pillow.

``decode_image(source)`` returns what ``np.asarray(PIL.Image.open(source).convert("RGB"))`` returns,
pixel for pixel (JPEG through libjpeg-turbo, the library Pillow uses), without Pillow and with the GIL
released while decoding. See ``rust/core/src/decode/mod.rs`` for the per-mode conversion rules.
"""

from __future__ import annotations

import os
from typing import Union

import numpy as np

from . import _native
from .errors import InputError

__all__ = ["decode_image", "DEFAULT_MAX_PIXELS", "DEFAULT_JPEG_DECODER"]

#: Pillow's decompression-bomb error threshold: ``2 * PIL.Image.MAX_IMAGE_PIXELS`` (178,956,970).
DEFAULT_MAX_PIXELS: int = _native.DEFAULT_MAX_PIXELS

#: ``"libjpeg-turbo"`` in the wheels (exact); ``"zune-jpeg"`` in builds without the C library.
DEFAULT_JPEG_DECODER: str = _native.DEFAULT_JPEG_DECODER

Source = Union[bytes, bytearray, memoryview, str, "os.PathLike[str]"]


def _check_size(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or int(value) < 1:
        raise InputError(f"{name} must be a positive int, got {value!r}")
    return int(value)


def decode_image(
    source: Source,
    *,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    draft: tuple[int, int] | None = None,
    jpeg_decoder: str | None = None,
) -> np.ndarray:
    """Decodes an image to an ``(height, width, 3)`` uint8 RGB array, as Pillow's ``convert("RGB")``.

    Args:
        source: the encoded bytes (``bytes``, ``bytearray``, ``memoryview``) or a file path
            (``str`` / ``os.PathLike``). The format is recognised from the content, not the name.
        max_pixels: refuse images with more pixels than this (from the header, before any pixel
            memory is allocated). The default is the size at which Pillow raises
            ``DecompressionBombError``; ``None`` removes the limit.
        draft: JPEG only, opt-in fast mode: a target ``(width, height)``; the decoder downscales by
            1/2, 1/4 or 1/8 in the DCT domain, exactly like ``Image.draft("RGB", draft)`` (the largest
            ``s`` with ``s <= min(W // width, H // height)``; the result is ``ceil(W/s) x ceil(H/s)``).
            Ignored for other formats.
        jpeg_decoder: ``"libjpeg-turbo"`` (default when compiled in: identical to Pillow) or
            ``"zune-jpeg"`` (pure Rust; may differ from Pillow by a level on some pixels).

    Returns:
        A C-contiguous ``np.uint8`` array of shape ``(height, width, 3)``.

    Raises:
        ImageDecodeError: (an ``OSError``) empty, truncated, corrupt, zero-size, too large or
            non-image input, or an unreadable file; the message names the file (for paths) and the
            reason; ``.path`` is the path (``None`` for bytes) and ``.kind`` a short reason code
            (``"truncated"``, ``"corrupt"``, ``"too-many-pixels"``, ...).
        InputError: invalid arguments.
        TypeError: ``source`` is neither bytes-like nor a path.
    """
    if max_pixels is not None:
        max_pixels = _check_size("max_pixels", max_pixels)
    if draft is not None:
        try:
            w, h = draft
        except (TypeError, ValueError):
            raise InputError(f"draft must be None or a (width, height) pair, got {draft!r}") from None
        draft = (_check_size("draft width", w), _check_size("draft height", h))
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = source if isinstance(source, bytes) else bytes(source)
        return _native.decode_image(data, max_pixels, draft, jpeg_decoder)
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        if isinstance(path, bytes):
            path = os.fsdecode(path)
        return _native.decode_image_file(path, max_pixels, draft, jpeg_decoder)
    raise TypeError(f"source must be bytes or a path, got {type(source).__name__}")

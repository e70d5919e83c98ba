"""Pillow-exact image resizing, backed by the Rust core.

:func:`resize` gives the same bytes as ``PIL.Image.fromarray(image).resize((width, height), resample,
reducing_gap=None)``, the call transformers' image processors make, for uint8 L, RGB and RGBA images,
every Pillow filter, up- and down-scaling and any size down to 1 pixel, without importing Pillow.

Pillow's two 1-D passes round to 8 bits in between, and the order of the passes changed between
releases, which changes a few output values. ``pillow_compat`` picks the release to reproduce:

* ``13`` (Pillow 13.x): the vertical pass runs first when the height shrinks by more than twice as
  many pixels as the width (``in_h - out_h > 0 and in_h - out_h > 2 * (in_w - out_w)``);
* ``12`` (Pillow 12.2 and 12.3): the horizontal pass first, except for images more than 100 times
  taller than wide whose height shrinks (``Image.resize`` then resizes vertically first);
* ``"12.1"`` or ``(12, 1)`` (Pillow 12.1 and older): always the horizontal pass first;
* ``None`` (the default): the behaviour of the installed Pillow when Pillow is importable, else 13.

RGBA images are resized premultiplied by alpha, as Pillow does (except with NEAREST). A 4-channel
array is always taken as RGBA.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable
from enum import IntEnum
from typing import Any

import numpy as np

from . import _native
from ._jobs import compat_version, filter_code, installed_pillow_version
from .errors import InputError

__all__ = ["Resampling", "resize", "resize_many", "default_pillow_compat", "PillowCompat"]

#: What ``pillow_compat`` accepts: None, a major version (12 or 13), a version string ("12.1",
#: "12.3.0") or a ``(major, minor)`` tuple.
PillowCompat = int | str | tuple[int, int] | None


class Resampling(IntEnum):
    """Pillow's resampling filters, with ``PIL.Image.Resampling``'s numbers."""

    NEAREST = 0
    LANCZOS = 1
    BILINEAR = 2
    BICUBIC = 3
    BOX = 4
    HAMMING = 5


# Pillow keeps sizes in a C int.
_MAX_SIDE = 2**31 - 1


def default_pillow_compat() -> int:
    """The Pillow major version whose pass order :func:`resize` follows by default.

    The installed Pillow's major version when Pillow is importable (12 for Pillow 12 and older),
    else 13. Pillow is imported on the first call only, and the answer is cached.
    """
    version = installed_pillow_version()
    if version is None:
        return 13
    return 13 if version[0] >= 13 else 12


def _size(size: Any) -> tuple[int, int]:
    try:
        height, width = size
    except (TypeError, ValueError):
        raise InputError(f"size must be a (height, width) pair, got {size!r}") from None
    out = []
    for name, value in (("height", height), ("width", width)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise InputError(f"size {name} must be an integer, got {value!r}")
        if int(value) < 1:
            raise InputError(f"size {name} must be at least 1, got {int(value)}")
        if int(value) > _MAX_SIDE:
            raise InputError(f"size {name} must be at most {_MAX_SIDE}, got {int(value)}")
        out.append(int(value))
    return out[0], out[1]


def resize(
    image: np.ndarray,
    size: tuple[int, int],
    resample: int = Resampling.BILINEAR,
    pillow_compat: PillowCompat = None,
) -> np.ndarray:
    """Resizes a uint8 image exactly like Pillow's ``Image.resize``.

    Args:
        image: uint8 array of shape ``(H, W)`` (L), ``(H, W, 1)``, ``(H, W, 3)`` (RGB) or
            ``(H, W, 4)`` (RGBA, resized premultiplied); any strides.
        size: the output ``(height, width)``.
        resample: a :class:`Resampling` filter or Pillow's number for it (``PIL.Image.Resampling``
            members work too).
        pillow_compat: the Pillow release whose pass order to reproduce; see the module docstring.

    Returns:
        A new C-contiguous uint8 array of shape ``(height, width)`` or ``(height, width, C)``, equal to
        ``np.asarray(PIL.Image.fromarray(image).resize((width, height), resample, reducing_gap=None))``.

    Raises:
        InputError: for a non-uint8 or badly shaped image, a bad size, an unknown filter or
            ``pillow_compat``.
        MemoryError: when the output cannot be allocated.
    """
    _check_image(image, "image")
    height, width = _size(size)
    code = filter_code(resample)
    version = compat_version(pillow_compat)
    return _native.resize(image, width, height, code, version)


def resize_many(
    images: Iterable[np.ndarray],
    size: tuple[int, int],
    resample: int = Resampling.BILINEAR,
    pillow_compat: PillowCompat = None,
) -> list[np.ndarray]:
    """Resizes many uint8 images (of any sizes) to one ``size``, in parallel, exactly like :func:`resize`.

    The images are resized on all cores with the GIL released, which is faster than calling
    :func:`resize` in a loop for batches of small images. Errors name the index of the image
    (``images[3] must have dtype uint8 ...``).

    Returns:
        A list of new arrays, in the order of ``images``.
    """
    images = list(images)
    for i, image in enumerate(images):
        _check_image(image, f"images[{i}]")
    height, width = _size(size)
    code = filter_code(resample)
    version = compat_version(pillow_compat)
    return _native.resize_many(images, width, height, code, version)


def _check_image(image: Any, what: str) -> None:
    if not isinstance(image, np.ndarray):
        raise InputError(f"{what} must be a NumPy array, got {type(image).__name__}")
    if image.dtype != np.uint8:
        raise InputError(f"{what} must have dtype uint8, got {image.dtype}")
    if image.ndim not in (2, 3):
        raise InputError(f"{what} must have shape (H, W) or (H, W, C), got shape {image.shape}")
    if image.ndim == 3 and image.shape[2] not in (1, 3, 4):
        raise InputError(
            f"{what} must have 1 (L), 3 (RGB) or 4 (RGBA) channels, got {image.shape[2]} (shape {image.shape})"
        )
    if image.shape[0] < 1 or image.shape[1] < 1:
        raise InputError(f"{what} must be at least 1x1, got shape {image.shape}")

"""Color quantization: pixels to ImageGPT token ids, exactly as transformers 4.57 computes them.

transformers' ``ImageGPTImageProcessor`` normalizes uint8 pixels to ``x = f32(f64(p) / 127.5) - 1``
and assigns each pixel the first index minimizing ``a2 - 2 * (x @ clusters.T) + b2`` (its
``color_quantize``), with NumPy's float32/float64 promotion and OpenBLAS' rounding. `ColorQuantizer`
returns the same ids, bit for bit, through a lookup table of all 2**24 colors built once per palette
in Rust (the exactness argument is in ``rust/core/src/quantize/mod.rs``), and computes small inputs
directly. Calls release the GIL and run on all cores (or ``num_threads``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from . import _native
from .errors import InputError, PaletteError

__all__ = ["ColorQuantizer"]

_ID_DTYPES = (np.dtype(np.uint16), np.dtype(np.int32), np.dtype(np.int64))


def _shape_text(shape: tuple[int, ...]) -> str:
    return str(tuple(shape))


def _prepare_clusters(clusters: Any) -> np.ndarray:
    try:
        arr = np.asarray(clusters)
    except (ValueError, TypeError) as e:  # ragged nested lists
        raise PaletteError(f"clusters must be an array of shape (n_clusters, 3): {e}") from None
    if arr.dtype == np.float32 or arr.dtype == np.float64:
        pass
    elif arr.dtype.kind in "iub":
        # np.array of integer clusters; float64 holds them exactly (|v| < 2**53).
        arr = arr.astype(np.float64)
    else:
        raise PaletteError(f"clusters must hold float32, float64 or integer values, got dtype {arr.dtype}")
    if arr.ndim != 2 or arr.shape[1] != 3:
        raise PaletteError(f"clusters must have shape (n_clusters, 3), got {_shape_text(arr.shape)}")
    return np.ascontiguousarray(arr)


MAX_THREADS = 1024  # thread-count arguments above this are refused (the CLI's --workers bound too)


def check_num_threads(num_threads: Any, what: str = "num_threads") -> int | None:
    """None, or an integer in 1..MAX_THREADS (bools, floats, strings and out-of-range values raise
    :class:`InputError`, a ValueError, instead of overflowing in the native code)."""
    if num_threads is None:
        return None
    if isinstance(num_threads, bool) or not isinstance(num_threads, (int, np.integer)):
        raise InputError(f"{what} must be None (all cores) or an integer from 1 to {MAX_THREADS}, got {num_threads!r}")
    if not 1 <= int(num_threads) <= MAX_THREADS:
        raise InputError(
            f"{what} must be None (all cores) or an integer from 1 to {MAX_THREADS}, got {int(num_threads)}"
        )
    return int(num_threads)


def _rebuild(clusters: np.ndarray, num_threads: int | None) -> ColorQuantizer:
    return ColorQuantizer(clusters, num_threads=num_threads)


class ColorQuantizer:
    """Nearest-cluster token ids of a palette, identical to transformers' ``color_quantize``.

    Args:
        clusters: the palette, shape ``(n_clusters, 3)`` with ``1 <= n_clusters <= 65535`` finite
            values in normalized space (transformers' ``clusters``). Its dtype is kept (float32 or
            float64; integers become float64) because it decides the arithmetic, as in NumPy.
        num_threads: threads used by every call; ``None`` (default) uses all cores.

    The instance is immutable and thread-safe: several Python threads may call it at once.
    """

    __slots__ = ("_native", "_clusters", "_num_threads")

    def __init__(self, clusters: npt.ArrayLike, *, num_threads: int | None = None) -> None:
        num_threads = check_num_threads(num_threads)
        arr = _prepare_clusters(clusters)
        self._native = _native.ColorQuantizer(arr, num_threads)
        kept = self._native.clusters()
        kept.flags.writeable = False
        self._clusters = kept
        self._num_threads = num_threads

    # ------------------------------------------------------------------ properties
    @property
    def clusters(self) -> np.ndarray:
        """The palette, shape ``(n_clusters, 3)``, in its kept dtype (read-only)."""
        return self._clusters

    @property
    def n_clusters(self) -> int:
        """Number of clusters (the number of distinct token ids)."""
        return int(self._native.n_clusters)

    @property
    def num_threads(self) -> int:
        """Number of threads the calls run on."""
        return int(self._native.num_threads)

    @property
    def table_built(self) -> bool:
        """Whether the 2**24-entry lookup table is built (it is built on the first large input)."""
        return bool(self._native.table_built)

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def _out(lead: tuple[int, ...], dtype: npt.DTypeLike, out: np.ndarray | None) -> np.ndarray:
        if out is None:
            dt = np.dtype(dtype)
            if dt not in _ID_DTYPES:
                raise InputError(f"dtype must be uint16, int32 or int64, got {dt}")
            return np.empty(lead, dtype=dt)
        if not isinstance(out, np.ndarray):
            raise InputError(f"out must be a numpy array, got {type(out).__name__}")
        if out.dtype not in _ID_DTYPES:
            raise InputError(f"out must have dtype uint16, int32 or int64, got {out.dtype}")
        if out.shape != lead:
            raise InputError(f"out has shape {_shape_text(out.shape)} but the ids have shape {_shape_text(lead)}")
        if not out.flags.c_contiguous or not out.flags.writeable:
            raise InputError("out must be a writeable C-contiguous array")
        return out

    @staticmethod
    def _pixels(images: npt.ArrayLike, name: str) -> np.ndarray:
        arr = np.asarray(images)
        if arr.ndim < 1 or arr.shape[-1] != 3:
            raise InputError(f"{name} must have shape (..., 3) (RGB last), got {_shape_text(arr.shape)}")
        return arr

    # ------------------------------------------------------------------ API
    def quantize(
        self,
        images: npt.ArrayLike,
        dtype: npt.DTypeLike = np.int64,
        out: np.ndarray | None = None,
    ) -> np.ndarray:
        """Token ids of uint8 RGB pixels.

        Equals ``color_quantize(normalize(images), clusters).reshape(images.shape[:-1])`` of
        transformers 4.57, the whole array being one call (one pixel in total takes the BLAS'
        single-row arithmetic, as NumPy does).

        Args:
            images: uint8 array of shape ``(..., 3)`` (any strides); other integer arrays are
                accepted when their values are in 0..255.
            dtype: id dtype, ``np.uint16``, ``np.int32`` or ``np.int64`` (transformers' dtype).
            out: optional C-contiguous array of shape ``images.shape[:-1]`` receiving the ids;
                its dtype (one of the above) is used and ``dtype`` is ignored.

        Returns:
            The ids, shape ``images.shape[:-1]`` (``out`` when given).
        """
        arr = self._pixels(images, "images")
        if arr.dtype.kind in "iu" and arr.dtype != np.uint8:
            # integer pixels (e.g. from a nested list) are accepted when they are uint8 values
            if arr.size and (int(arr.min()) < 0 or int(arr.max()) > 255):
                raise InputError(
                    f"images of dtype {arr.dtype} must hold values in 0..255, got {int(arr.min())}..{int(arr.max())}"
                )
            arr = arr.astype(np.uint8)
        if arr.dtype != np.uint8:
            raise InputError(
                f"images must be uint8 (0..255), got dtype {arr.dtype}; "
                "use quantize_normalized() for normalized float pixels"
            )
        res = self._out(arr.shape[:-1], dtype, out)
        self._native.quantize_u8(np.ascontiguousarray(arr), res, out is None)
        return res

    def quantize_normalized(
        self,
        pixels: npt.ArrayLike,
        dtype: npt.DTypeLike = np.int64,
        out: np.ndarray | None = None,
    ) -> np.ndarray:
        """Token ids of already-normalized float32/float64 pixels ``(..., 3)``.

        Equals transformers' ``color_quantize(pixels, clusters)`` with NumPy's dtype promotion
        (``a2`` in the pixels' dtype, ``b2`` in the clusters', the rest in the wider one). Any
        finite values are accepted; NaN or inf raise :class:`InputError` naming the position.
        """
        arr = self._pixels(pixels, "pixels")
        if arr.dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
            raise InputError(f"pixels must be float32 or float64, got dtype {arr.dtype}")
        res = self._out(arr.shape[:-1], dtype, out)
        self._native.quantize_float(np.ascontiguousarray(arr), res, out is None)
        return res

    def decode(self, ids: npt.ArrayLike) -> np.ndarray:
        """The uint8 colors of token ids, shape ``ids.shape + (3,)``.

        Each cluster ``c`` becomes ``rint(127.5 * (c + 1))`` (the inverse used to view ImageGPT
        samples), computed in the clusters' dtype and clipped to 0..255. Ids outside
        ``0..n_clusters-1`` raise :class:`InputError` naming the index.
        """
        arr = np.asarray(ids)
        if arr.dtype.kind not in "iu":
            raise InputError(f"ids must be integers, got dtype {arr.dtype}")
        if arr.dtype == np.uint64 and arr.size and int(arr.max()) > np.iinfo(np.int64).max:
            bad = np.unravel_index(int(np.argmax(arr)), arr.shape)
            raise InputError(
                f"ids[{', '.join(map(str, bad))}] = {int(arr.max())} is out of range "
                f"for {self.n_clusters} clusters (valid ids: 0..{self.n_clusters - 1})"
            )
        ids64 = np.ascontiguousarray(arr, dtype=np.int64)
        out = np.empty(arr.shape + (3,), dtype=np.uint8)
        self._native.decode(ids64, out)
        return out

    def lookup_table(self) -> np.ndarray:
        """The id of every uint8 color: uint16 array of shape ``(2**24,)`` indexed by
        ``(r << 16) | (g << 8) | b`` (built on first use, then cached). Valid for inputs of more
        than one pixel (one pixel alone takes the BLAS' single-row arithmetic)."""
        return self._native.lookup_table()

    def build_table(self) -> ColorQuantizer:
        """Builds the lookup table now instead of on the first large input; returns ``self``."""
        self._native.build_table()
        return self

    def colors(self) -> np.ndarray:
        """The uint8 color of every cluster, shape ``(n_clusters, 3)`` (see :meth:`decode`)."""
        return self._native.colors()

    # ------------------------------------------------------------------ Python protocol
    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (np.array(self._clusters), self._num_threads))

    def __repr__(self) -> str:
        return (
            f"ColorQuantizer(n_clusters={self.n_clusters}, dtype={self._clusters.dtype}, "
            f"num_threads={self.num_threads})"
        )

"""Internal: processor settings -> the native encode job, and running it.

The one place that turns an image processor's settings (size, resample filter, palette, Pillow
compatibility, threads) into :class:`imagegpt_rs._native.EncodeJob`. The processor's array path, the
file encoders (``encoding``, ``containers``) and the integrations (datasets, Dask, Spark) all build
their job here, so they accept and refuse the same values. Nothing here imports the processor class:
a processor is anything with its attributes (``image_processing.as_image_processor`` makes one).
"""

from __future__ import annotations

import dataclasses
import functools
import numbers
import operator
import os
import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from . import _native
from .errors import ConfigValidationError, ImageDecodeError, InputError
from .quantization import check_num_threads

__all__ = [
    "DTYPES",
    "LATEST_MINOR",
    "EncodeFailure",
    "EncodeOptions",
    "EncodeResult",
    "array_job",
    "check_on_error",
    "check_size",
    "collect",
    "encode_blobs",
    "encode_paths",
    "compat_version",
    "file_job",
    "filter_code",
    "get_size_dict",
    "installed_pillow_version",
    "parse_version",
    "positive_int",
]

DTYPES = {"uint16": np.uint16, "int32": np.int32, "int64": np.int64}

# The newest minor release of each major version we know the behaviour of.
LATEST_MINOR = {12: 3, 13: 0}

# Pillow's filters we implement: NEAREST, LANCZOS, BILINEAR, BICUBIC, BOX, HAMMING.
_FILTERS = (0, 1, 2, 3, 4, 5)
_FILTER_NAMES = "0 (NEAREST), 1 (LANCZOS), 2 (BILINEAR), 3 (BICUBIC), 4 (BOX) or 5 (HAMMING)"


# ----------------------------------------------------------------------------- settings
def filter_code(resample: Any) -> int:
    """A resample value -> Pillow's filter number, accepting and refusing what transformers 4.57 does.

    transformers hands ``resample`` to ``PIL.Image.resize`` unchanged, which first checks
    ``resample in (NEAREST, ..., HAMMING)`` (Python ``==``, so ``True`` is LANCZOS, ``False`` NEAREST and
    ``1.0`` passes) and then gives it to C as an ``int`` (``__index__``: a float or a ``numpy.bool_``
    is a TypeError). So: ints, bools, NumPy integers and ``Resampling`` members (ours or Pillow's) are
    their number; a value equal to no filter is an :class:`InputError` (a ValueError, as Pillow's);
    a float or ``numpy.bool_`` equal to a filter number is a TypeError. Pillow 13's MKS2013/MKS2021
    (6, 7) are not implemented: InputError.
    """
    try:
        known = resample in _FILTERS
    except Exception:  # an array of several values, or an __eq__ that raises
        known = False
    if not known:
        if resample in (6, 7) and not isinstance(resample, float):
            mks = "MKS2013" if resample == 6 else "MKS2021"
            raise InputError(
                f"unknown resampling filter {resample!r} (Pillow 13's {mks}, not supported): use {_FILTER_NAMES}"
            )
        if isinstance(resample, numbers.Number):
            raise InputError(f"unknown resampling filter {resample!r}: use {_FILTER_NAMES}")
        raise InputError(f"resample must be a Resampling filter (an integer 0-5), got {resample!r}")
    try:
        return operator.index(resample)
    except TypeError:
        raise TypeError(
            f"resample must be an integer Pillow filter, got {type(resample).__name__} {resample!r} "
            "(Pillow refuses it too)"
        ) from None


@functools.lru_cache(maxsize=1)
def installed_pillow_version() -> tuple[int, int] | None:
    try:
        import PIL  # imported lazily: only when the default is asked for
    except ImportError:
        return None
    return parse_version(str(getattr(PIL, "__version__", "")))


def parse_version(text: str) -> tuple[int, int] | None:
    m = re.match(r"\s*(\d+)(?:\.(\d+))?", text)
    if m is None:
        return None
    return int(m.group(1)), int(m.group(2) or 0)


def compat_version(pillow_compat: Any) -> tuple[int, int]:
    """Normalizes ``pillow_compat`` to the ``(major, minor)`` release to reproduce."""
    if pillow_compat is None:
        installed = installed_pillow_version()
        return installed if installed is not None else (13, 0)
    if isinstance(pillow_compat, bool):
        raise InputError(f"pillow_compat must be 12, 13, a version string or None, got {pillow_compat!r}")
    if isinstance(pillow_compat, numbers.Integral):
        major = int(pillow_compat)
        if major not in LATEST_MINOR:
            raise InputError(f"pillow_compat must be 12 or 13 (or a version such as '12.1'), got {major}")
        return major, LATEST_MINOR[major]
    if isinstance(pillow_compat, str):
        version = parse_version(pillow_compat)
        if version is None or not re.fullmatch(r"\s*\d+(\.\d+)*\S*\s*", pillow_compat):
            raise InputError(f"pillow_compat must be a Pillow version such as '12.1', got {pillow_compat!r}")
        return version
    if (
        isinstance(pillow_compat, tuple)
        and len(pillow_compat) == 2
        and all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in pillow_compat)
    ):
        return int(pillow_compat[0]), int(pillow_compat[1])
    raise InputError(
        f"pillow_compat must be None, 12, 13, a version string or a (major, minor) tuple, got {pillow_compat!r}"
    )


_VALID_SIZE_KEYS = (
    {"height", "width"},
    {"shortest_edge"},
    {"shortest_edge", "longest_edge"},
    {"longest_edge"},
    {"max_height", "max_width"},
)


def get_size_dict(size: Any, param_name: str = "size") -> dict[str, int]:
    """Normalizes ``size`` as transformers' ``get_size_dict`` does (int -> square, (h, w) -> dict)."""
    if isinstance(size, dict):
        size_dict = dict(size)
    elif isinstance(size, int) and not isinstance(size, bool):
        size_dict = {"height": size, "width": size}
    elif isinstance(size, (tuple, list)) and len(size) >= 2:
        size_dict = {"height": size[0], "width": size[1]}
    else:
        raise ValueError(f"Could not convert {param_name} input to size dict: {size!r}")
    if set(size_dict) not in _VALID_SIZE_KEYS:
        raise ValueError(
            f"{param_name} must have one of the following set of keys: "
            f"{[sorted(k) for k in _VALID_SIZE_KEYS]}, got {list(size_dict)}"
        )
    return size_dict


def check_size(size: dict[str, int]) -> tuple[int, int]:
    """A ``{"height", "width"}`` size dict -> (height, width), or the error transformers raises."""
    if "height" not in size or "width" not in size:
        raise ValueError(f"The `size` dictionary must contain the keys `height` and `width`. Got {size.keys()}")
    problems = []
    for key in ("height", "width"):
        v = size[key]
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            problems.append((f"size.{key}", repr(v), "must be an integer >= 1"))
    if problems:
        raise ConfigValidationError.from_violations("ImageGPTImageProcessor", problems)
    return int(size["height"]), int(size["width"])


def positive_int(name: str, value: Any, high: int = (1 << 63) - 1) -> int:
    """An integer argument in 1..high, or a TypeError / ValueError naming it."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__} {value!r}")
    if not 1 <= int(value) <= high:
        raise ValueError(f"{name} must be in 1..{high}, got {int(value)}")
    return int(value)


def check_on_error(on_error: str) -> None:
    if on_error not in ("raise", "skip"):
        raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")


# ----------------------------------------------------------------------------- jobs
def array_job(quantizer: Any, h: int, w: int, resample: Any, pillow_compat: Any, num_threads: int | None) -> Any:
    """The job of the processor's array path (decoded uint8 images -> int64 ids)."""
    return _native.EncodeJob(
        quantizer._native, h, w, filter_code(resample), compat_version(pillow_compat), "int64", num_threads
    )


def file_job(processor: Any, dtype: Any, num_threads: int | None, max_pixels: int | None, draft: bool) -> Any:
    """The native encode job (quantizer, size, filter, Pillow compatibility, dtype) of a processor,
    for encoded images (files, bytes, container members)."""
    if not processor.do_resize:
        raise ValueError("encoding files needs do_resize=True (every image must come out at the same size)")
    if not (processor.do_normalize and processor.do_color_quantize):
        raise ValueError("encoding files needs do_normalize=True and do_color_quantize=True")
    h, w = check_size(get_size_dict(processor.size))
    code = filter_code(processor.resample)
    compat = compat_version(getattr(processor, "_igr_pillow_compat", None))
    name = np.dtype(dtype).name
    if name not in DTYPES:
        raise ValueError(f"dtype must be one of {sorted(DTYPES)}, got {name}")
    if num_threads is None:
        num_threads = getattr(processor, "_igr_num_threads", None)
    num_threads = check_num_threads(num_threads)
    if max_pixels is not None and max_pixels is not False:
        max_pixels = positive_int("max_pixels", max_pixels, (1 << 63) - 1)
    return _native.EncodeJob(
        processor.quantizer._native, h, w, code, compat, name, num_threads, max_pixels, bool(draft)
    )


# ----------------------------------------------------------------------------- running
@dataclasses.dataclass(frozen=True)
class EncodeFailure:
    """An input that could not be encoded: its position in the inputs, its path and why."""

    index: int
    path: str
    reason: str


@dataclasses.dataclass
class EncodeResult:
    """``ids[k]`` are the tokens of input ``indices[k]`` (good inputs only, in input order)."""

    ids: np.ndarray
    indices: np.ndarray
    failures: list[EncodeFailure]

    def __len__(self) -> int:
        return len(self.indices)


EncodeFailure.__module__ = EncodeResult.__module__ = "imagegpt_rs.encoding"  # where users import them from


def run_chunk(
    job: Any, items: Sequence[Any], offset: int, names: Sequence[str], on_error: str, kind: str
) -> tuple[np.ndarray, np.ndarray, list[EncodeFailure]]:
    ids, ok, errors = job.run_paths(list(items)) if kind == "paths" else job.run_bytes(list(items))
    failures = [EncodeFailure(offset + i, names[i], reason) for i, reason in errors]
    if failures and on_error == "raise":
        f = failures[0]
        raise ImageDecodeError(f"{f.path}: {f.reason}")
    return ids, np.asarray(ok, dtype=np.int64) + offset, failures


def collect(job: Any, items: list[Any], names: list[str], on_error: str, chunk_size: int, kind: str) -> EncodeResult:
    """Runs ``job`` over ``items`` (paths or bytes) ``chunk_size`` at a time."""
    chunk_size = positive_int("chunk_size", chunk_size)
    all_ids, all_idx, failures = [], [], []
    for start in range(0, len(items), chunk_size):
        stop = start + chunk_size
        ids, idx, fails = run_chunk(job, items[start:stop], start, names[start:stop], on_error, kind)
        all_ids.append(ids)
        all_idx.append(idx)
        failures.extend(fails)
    if all_ids:
        ids = np.concatenate(all_ids)
        idx = np.concatenate(all_idx)
    else:
        ids = np.zeros((0, job.sequence_length), dtype=job.dtype)
        idx = np.zeros(0, dtype=np.int64)
    return EncodeResult(ids, idx, failures)


@dataclasses.dataclass(frozen=True, kw_only=True)
class EncodeOptions:
    """The options every file encoder takes (``encoding.encode_files`` and ``encode_bytes``,
    ``containers.encode_sources``, the processor's ``encode_files``), with their defaults: the public
    function builds one and passes it down whole, so a new option is a field here (and a keyword of those
    public signatures, which tests/test_code_quality.py checks against these fields). The values are
    checked where they are used (``check_on_error``, ``job``, ``collect``), in the order they always were."""

    dtype: Any = np.int64
    on_error: str = "raise"
    num_threads: int | None = None
    chunk_size: int = 256
    max_pixels: int | None = None
    draft: bool = False

    def job(self, processor: Any) -> Any:
        """:func:`file_job` of ``processor`` with these options."""
        return file_job(processor, self.dtype, self.num_threads, self.max_pixels, self.draft)


def encode_paths(paths: Any, processor: Any, options: EncodeOptions) -> EncodeResult:
    """:func:`imagegpt_rs.encoding.encode_files` for a processor already made (see there)."""
    check_on_error(options.on_error)
    names = [os.fspath(p) for p in paths]
    job = options.job(processor)
    return collect(job, names, names, options.on_error, options.chunk_size, "paths")


def encode_blobs(
    blobs: Sequence[bytes], processor: Any, names: Sequence[str] | None, options: EncodeOptions
) -> EncodeResult:
    """:func:`imagegpt_rs.encoding.encode_bytes` for a processor already made (see there)."""
    check_on_error(options.on_error)
    labels = list(names) if names is not None else [f"<bytes {i}>" for i in range(len(blobs))]
    job = options.job(processor)
    return collect(job, list(blobs), labels, options.on_error, options.chunk_size, "bytes")

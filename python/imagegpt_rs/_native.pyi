"""Type stubs of the native module built from ``rust/python`` (keep in sync: tests/test_package.py)."""

__version__: str

def build_info() -> dict[str, object]:
    """What this build contains: ``version``, ``jpeg_decoder``, ``libjpeg_turbo_version``, ``jpeg_simd``
    (libjpeg-turbo's SIMD code linked in and used on this CPU), ``target_arch``, ``target_os``,
    ``compiled_target_features``, ``quantize_kernel``, ``resize_kernel``, ``optimized``."""

def config_violations(fields: dict[str, object]) -> list[tuple[str, str, str, bool]]: ...
def validated_config_fields() -> list[str]: ...
def activation_functions() -> list[str]: ...
def compatibility_violations(
    vocab_size: int,
    n_positions: int,
    n_clusters: int | None = None,
    image_size: tuple[int, int] | None = None,
) -> list[tuple[str, str, str]]: ...
def resize(
    image: object, width: int, height: int, resample: int, pillow_compat: tuple[int, int]
) -> object: ...
def resize_many(
    images: list[object], width: int, height: int, resample: int, pillow_compat: tuple[int, int]
) -> list[object]: ...

class ColorQuantizer:
    def __init__(self, clusters: object, num_threads: int | None = None) -> None: ...
    @property
    def n_clusters(self) -> int: ...
    @property
    def num_threads(self) -> int: ...
    @property
    def table_built(self) -> bool: ...
    def clusters(self) -> object: ...
    def quantize_u8(self, pixels: object, out: object, fresh: bool = ...) -> None: ...
    def quantize_float(self, pixels: object, out: object, fresh: bool = ...) -> None: ...
    def decode(self, ids: object, out: object) -> None: ...
    def lookup_table(self) -> object: ...
    def build_table(self) -> None: ...
    def colors(self) -> object: ...

import os

import numpy as np

DEFAULT_MAX_PIXELS: int
DEFAULT_JPEG_DECODER: str

def decode_image(
    data: bytes,
    max_pixels: int | None = ...,
    draft: tuple[int, int] | None = None,
    jpeg_decoder: str | None = None,
) -> np.ndarray: ...
def decode_image_file(
    path: str | bytes | "os.PathLike[str] | os.PathLike[bytes]",
    max_pixels: int | None = ...,
    draft: tuple[int, int] | None = None,
    jpeg_decoder: str | None = None,
) -> np.ndarray: ...

# palette fitting (rust/python/src/kmeans.rs)
import numpy as _np
from typing import Callable as _Callable

class ColorHistogram:
    def __init__(self) -> None: ...
    def add(self, pixels: _np.ndarray) -> None: ...
    @property
    def n_pixels(self) -> int: ...
    def colors(self) -> tuple[_np.ndarray, _np.ndarray]: ...
    def fit(
        self,
        n_clusters: int,
        max_iter: int = 300,
        tol: float = 1e-4,
        seed: int = 0,
        init: _np.ndarray | None = None,
        n_local_trials: int | None = None,
        num_threads: int | None = None,
        progress: _Callable[[str, int, int], object] | None = None,
    ) -> tuple[_np.ndarray, float, int, bool, int, int]: ...

def tar_index(
    path: str,
) -> tuple[list[str], _np.ndarray, _np.ndarray, tuple[int, str | None, str] | None]: ...
def kmeans_fit(
    points: _np.ndarray,
    n_clusters: int,
    weights: _np.ndarray | None = None,
    max_iter: int = 300,
    tol: float = 1e-4,
    seed: int = 0,
    init: _np.ndarray | None = None,
    n_local_trials: int | None = None,
    num_threads: int | None = None,
    progress: _Callable[[str, int, int], object] | None = None,
) -> tuple[_np.ndarray, float, int, bool]: ...

class EncodeJob:
    def __init__(
        self,
        quantizer: ColorQuantizer,
        height: int,
        width: int,
        resample: int,
        pillow_compat: tuple[int, int],
        dtype: str,
        num_threads: int | None = None,
        max_pixels: int | None = None,
        draft: bool = False,
    ) -> None: ...
    @property
    def sequence_length(self) -> int: ...
    @property
    def dtype(self) -> str: ...
    def run_paths(self, paths: list[str]) -> tuple[object, list[int], list[tuple[int, str]]]: ...
    def run_bytes(self, blobs: list[bytes]) -> tuple[object, list[int], list[tuple[int, str]]]: ...
    def run_arrays(self, images: list[object]) -> tuple[object, list[int], list[tuple[int, str]]]: ...
    def run_ranges(
        self, paths: list[str], files: list[int], offsets: list[int], sizes: list[int]
    ) -> tuple[object, list[int], list[tuple[int, str]]]: ...

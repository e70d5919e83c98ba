"""Type stubs of the native module built from ``rust/python`` (checked against the built module by
``python -m mypy.stubtest imagegpt_rs._native``: tests/test_code_quality.py; also tests/test_package.py)."""

import os
from collections.abc import Callable, Sequence
from typing import final

import numpy as np
import numpy.typing as npt

__all__ = [
    "__version__",
    "build_info",
    "config_violations",
    "validated_config_fields",
    "activation_functions",
    "compatibility_violations",
    "resize",
    "resize_many",
    "ColorQuantizer",
    "EncodeJob",
    "decode_image",
    "decode_image_file",
    "DEFAULT_MAX_PIXELS",
    "DEFAULT_JPEG_DECODER",
    "ColorHistogram",
    "kmeans_fit",
    "tar_index",
]

_U8Array = npt.NDArray[np.uint8]
_F64Array = npt.NDArray[np.float64]
# Clusters are float32 or float64, (K, 3); token ids are uint16, int32 or int64 (the job's dtype).
_ClusterArray = npt.NDArray[np.float32] | npt.NDArray[np.float64]
_IdArray = npt.NDArray[np.uint16] | npt.NDArray[np.int32] | npt.NDArray[np.int64]
# (ids of the good items, their positions among the inputs, (position, reason) of the failures)
_RunResult = tuple[_IdArray, list[int], list[tuple[int, str]]]

__version__: str

def build_info() -> dict[str, object]:
    """What this build contains: ``version``, ``jpeg_decoder``, ``libjpeg_turbo_version``, ``jpeg_simd``
    (libjpeg-turbo's SIMD code linked in and used on this CPU), ``target_arch``, ``target_os``,
    ``compiled_target_features``, ``quantize_kernel``, ``resize_kernel``, ``optimized``."""

def _panic_for_test(site: str) -> None:
    """Test-only (tests/test_native_errors.py), not public API: panics inside the entry-point guard at
    ``site`` ("here", "detached", "worker", "payload"), so raises ``imagegpt_rs.errors.InternalError``."""

def config_violations(fields: dict[str, object]) -> list[tuple[str, str, str, bool]]: ...
def validated_config_fields() -> list[str]: ...
def activation_functions() -> list[str]: ...
def compatibility_violations(
    vocab_size: int,
    n_positions: int,
    n_clusters: int | None = None,
    image_size: tuple[int, int] | None = None,
) -> list[tuple[str, str, str]]: ...

# resize (rust/python/src/resize.rs): uint8 (H, W) or (H, W, C) images, C in 1, 3, 4
def resize(image: _U8Array, width: int, height: int, resample: int, pillow_compat: tuple[int, int]) -> _U8Array: ...
def resize_many(
    images: Sequence[_U8Array], width: int, height: int, resample: int, pillow_compat: tuple[int, int]
) -> list[_U8Array]: ...

# color quantization (rust/python/src/quantize.rs)
@final
class ColorQuantizer:
    def __new__(cls, clusters: _ClusterArray, num_threads: int | None = None) -> ColorQuantizer: ...
    @property
    def n_clusters(self) -> int: ...
    @property
    def num_threads(self) -> int: ...
    @property
    def table_built(self) -> bool: ...
    def clusters(self) -> _ClusterArray: ...
    def quantize_u8(self, pixels: _U8Array, out: _IdArray, fresh: bool = False) -> None: ...
    def quantize_float(
        self, pixels: npt.NDArray[np.float32] | npt.NDArray[np.float64], out: _IdArray, fresh: bool = False
    ) -> None: ...
    def decode(self, ids: npt.NDArray[np.int64], out: _U8Array) -> None: ...
    def lookup_table(self) -> npt.NDArray[np.uint16]: ...
    def build_table(self) -> None: ...
    def colors(self) -> _U8Array: ...

# decoding (rust/python/src/decode.rs): (H, W, 3) uint8 RGB
DEFAULT_MAX_PIXELS: int
DEFAULT_JPEG_DECODER: str

def decode_image(
    data: bytes,
    max_pixels: int | None = ...,
    draft: tuple[int, int] | None = None,
    jpeg_decoder: str | None = None,
) -> _U8Array: ...
def decode_image_file(
    path: str | bytes | os.PathLike[str] | os.PathLike[bytes],
    max_pixels: int | None = ...,
    draft: tuple[int, int] | None = None,
    jpeg_decoder: str | None = None,
) -> _U8Array: ...

# palette fitting (rust/python/src/kmeans.rs): centers are (K, 3) float64
@final
class ColorHistogram:
    def __new__(cls) -> ColorHistogram: ...
    def add(self, pixels: _U8Array) -> None: ...
    @property
    def n_pixels(self) -> int: ...
    def colors(self) -> tuple[_F64Array, npt.NDArray[np.uint64]]: ...
    def fit(
        self,
        n_clusters: int,
        max_iter: int = 300,
        tol: float = 1e-4,
        seed: int = 0,
        init: _F64Array | None = None,
        n_local_trials: int | None = None,
        num_threads: int | None = None,
        progress: Callable[[str, int, int], object] | None = None,
    ) -> tuple[_F64Array, float, int, bool, int, int]: ...

def kmeans_fit(
    points: _F64Array,
    n_clusters: int,
    weights: _F64Array | None = None,
    max_iter: int = 300,
    tol: float = 1e-4,
    seed: int = 0,
    init: _F64Array | None = None,
    n_local_trials: int | None = None,
    num_threads: int | None = None,
    progress: Callable[[str, int, int], object] | None = None,
) -> tuple[_F64Array, float, int, bool]: ...

# WebDataset shards (rust/python/src/tar.rs): member names, data offsets, sizes, and the error if any
def tar_index(
    path: str | os.PathLike[str],
) -> tuple[list[str], npt.NDArray[np.uint64], npt.NDArray[np.uint64], tuple[int, str | None, str] | None]: ...

# the file/array pipeline (rust/python/src/pipeline.rs)
@final
class EncodeJob:
    def __new__(
        cls,
        quantizer: ColorQuantizer,
        height: int,
        width: int,
        resample: int,
        pillow_compat: tuple[int, int],
        dtype: str,
        num_threads: int | None = None,
        max_pixels: int | None = None,
        draft: bool = False,
    ) -> EncodeJob: ...
    @property
    def sequence_length(self) -> int: ...
    @property
    def dtype(self) -> str: ...
    def run_paths(self, paths: Sequence[str | os.PathLike[str]]) -> _RunResult: ...
    def run_bytes(self, blobs: Sequence[bytes]) -> _RunResult: ...
    def run_arrays(self, images: Sequence[_U8Array]) -> _RunResult: ...
    def run_ranges(
        self,
        paths: Sequence[str | os.PathLike[str]],
        files: Sequence[int],
        offsets: Sequence[int],
        sizes: Sequence[int],
    ) -> _RunResult: ...

"""Type stubs of the native module built from ``rust/python`` (keep in sync: tests/test_package.py)."""

__version__: str

def config_violations(fields: dict[str, object]) -> list[tuple[str, str, str]]: ...
def validated_config_fields() -> list[str]: ...
def activation_functions() -> list[str]: ...
def compatibility_violations(
    vocab_size: int,
    n_positions: int,
    n_clusters: int | None = None,
    image_size: tuple[int, int] | None = None,
) -> list[tuple[str, str, str]]: ...

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
    path: str,
    max_pixels: int | None = ...,
    draft: tuple[int, int] | None = None,
    jpeg_decoder: str | None = None,
) -> np.ndarray: ...

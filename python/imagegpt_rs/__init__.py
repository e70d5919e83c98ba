"""imagegpt-rs: transformers-compatible ImageGPT classes backed by a Rust core.

Public names are imported lazily (PEP 562), so ``import imagegpt_rs`` stays fast and never imports
transformers, torch, onnx or PIL.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._native import __version__, build_info
from .errors import (
    ConfigValidationError,
    ConfigValidationWarning,
    ImageDecodeError,
    ImageGPTError,
    InputError,
    ManifestError,
    PaletteError,
)

# public name -> submodule that defines it
_LAZY: dict[str, str] = {
    "ImageGPTConfig": "configuration",
    "check_compatible": "configuration",
    "ImageGPTImageProcessor": "image_processing",
    "BatchFeature": "batch_feature",
    "default_palette": "palettes",
    "Resampling": "resampling",
    "ColorQuantizer": "quantization",
    "decode_image": "decoding",
    "fit_palette": "palette_fitting",
    "PaletteFit": "palette_fitting",
}

__all__ = [
    "__version__",
    "build_info",
    "ImageGPTError",
    "ConfigValidationError",
    "ConfigValidationWarning",
    "PaletteError",
    "InputError",
    "ImageDecodeError",
    "ManifestError",
    *_LAZY,
]

if TYPE_CHECKING:  # pragma: no cover
    from .batch_feature import BatchFeature
    from .configuration import ImageGPTConfig, check_compatible
    from .decoding import decode_image
    from .image_processing import ImageGPTImageProcessor
    from .palette_fitting import PaletteFit, fit_palette
    from .palettes import default_palette
    from .quantization import ColorQuantizer
    from .resampling import Resampling


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'imagegpt_rs' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))

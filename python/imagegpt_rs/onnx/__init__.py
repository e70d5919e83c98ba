"""ONNX export of ImageGPT with the semantics of transformers 4.57's ``transformers.onnx``.

transformers 5 removed ``transformers.onnx``; this subpackage keeps ImageGPT exportable:

- :class:`OnnxConfig`, :class:`ImageGPTOnnxConfig`, :class:`PatchingSpec`, :class:`FeaturesManager`: the
  export metadata (task table, dynamic axes, dummy inputs), same public behaviour as transformers 4.57.
- :func:`export` / :func:`validate_model_outputs`: PyTorch export and onnxruntime validation (need torch).
- :func:`check_onnx_model`: checks an existing .onnx file against an OnnxConfig (no torch).
- :func:`export_preprocessor` / :func:`build_preprocessor_model`: ImageGPT's color quantization as an ONNX
  graph (uint8 pixels in, ``input_ids`` out), exact.

Importing this package imports only numpy: transformers, torch, onnx, onnxruntime and Pillow are imported
inside the functions that need them.
"""

from __future__ import annotations

from .check import OnnxModelReport, check_onnx_model
from .config import (
    DEFAULT_ONNX_OPSET,
    EXTERNAL_DATA_FORMAT_SIZE_LIMIT,
    OnnxConfig,
    ParameterFormat,
    PatchingSpec,
    compute_effective_axis_dimension,
    compute_serialized_parameters_size,
)
from .convert import ensure_model_and_config_inputs_match, export, export_model, validate_model_outputs
from .features import FeaturesManager
from .imagegpt import ImageGPTOnnxConfig
from .preprocessor import build_preprocessor_model, export_preprocessor

__all__ = [
    "DEFAULT_ONNX_OPSET",
    "EXTERNAL_DATA_FORMAT_SIZE_LIMIT",
    "FeaturesManager",
    "ImageGPTOnnxConfig",
    "OnnxConfig",
    "OnnxModelReport",
    "ParameterFormat",
    "PatchingSpec",
    "build_preprocessor_model",
    "check_onnx_model",
    "compute_effective_axis_dimension",
    "compute_serialized_parameters_size",
    "ensure_model_and_config_inputs_match",
    "export",
    "export_model",
    "export_preprocessor",
    "validate_model_outputs",
]

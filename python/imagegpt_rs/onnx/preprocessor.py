"""ImageGPT's color quantization (its "tokenizer") as an ONNX graph.

The graph maps every RGB color to its cluster index with a lookup table of 2**24 entries, gathered by the
color index ``r << 16 | g << 8 | b``: exact by construction (the table holds the reference answers), and it
runs wherever onnxruntime runs, without Python.

Graph: ``pixel_values`` uint8 (batch, H, W, 3) -> Cast int32 -> Mul by (65536, 256, 1) -> ReduceSum over the
channel axis -> Reshape (batch, H*W) -> Gather from the table -> Cast int64 -> ``input_ids`` (batch, H*W).
"""

from __future__ import annotations

import numbers
import os
from typing import Any

import numpy as np

__all__ = ["build_preprocessor_model", "export_preprocessor", "PREPROCESSOR_OPSET"]

#: Opset of the preprocessor graph (ReduceSum takes its axes as an input from 13 on).
PREPROCESSOR_OPSET = 13
_TABLE_SIZE = 1 << 24
_TABLE_DTYPES = (np.uint8, np.uint16, np.int32, np.int64)


def _optional_size(name: str, value: int | None) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be a positive int or None, got {value!r} ({type(value).__name__})")
    if value <= 0:
        raise ValueError(f"{name} must be a positive int or None, got {value}")
    return int(value)


def build_preprocessor_model(
    table: np.ndarray,
    height: int | None = None,
    width: int | None = None,
    *,
    input_name: str = "pixel_values",
    output_name: str = "input_ids",
) -> Any:
    """The color-quantization ONNX model (an ``onnx.ModelProto``) for a color -> cluster lookup table.

    Args:
        table: shape ``(2**24,)``, integer dtype (uint8, uint16, int32 or int64), ``table[r << 16 | g << 8 | b]``
            is the cluster index of color (r, g, b); stored as an initializer (32 MiB for uint16).
        height: image height fixed in the graph's input shape, or ``None`` for a dynamic ``"height"`` axis.
        width: image width fixed in the graph's input shape, or ``None`` for a dynamic ``"width"`` axis.
        input_name: name of the uint8 ``(batch, height, width, 3)`` input.
        output_name: name of the int64 ``(batch, height * width)`` output.

    Raises:
        TypeError / ValueError: the table has the wrong shape, dtype or negative entries, or a size is not a
            positive int.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    height = _optional_size("height", height)
    width = _optional_size("width", width)
    table = np.asarray(table)
    if table.dtype.type not in _TABLE_DTYPES:
        raise TypeError(f"table must have dtype uint8, uint16, int32 or int64, got {table.dtype}")
    if table.shape != (_TABLE_SIZE,):
        raise ValueError(f"table must have shape ({_TABLE_SIZE},) (one entry per 24-bit color), got {table.shape}")
    if table.dtype.kind == "i" and table.size and int(table.min()) < 0:
        raise ValueError(f"table entries must be cluster indices >= 0, got {int(table.min())}")
    table = np.ascontiguousarray(table)

    seq = height * width if height is not None and width is not None else "sequence"
    pixels = helper.make_tensor_value_info(
        input_name,
        TensorProto.UINT8,
        ["batch", height if height is not None else "height", width if width is not None else "width", 3],
    )
    ids = helper.make_tensor_value_info(output_name, TensorProto.INT64, ["batch", seq])
    initializers = [
        numpy_helper.from_array(table, "color_table"),
        numpy_helper.from_array(np.array([65536, 256, 1], dtype=np.int32), "channel_weights"),
        numpy_helper.from_array(np.array([-1], dtype=np.int64), "channel_axis"),
        numpy_helper.from_array(np.array([0, -1], dtype=np.int64), "flat_shape"),
    ]
    nodes = [
        helper.make_node("Cast", [input_name], ["pixels_i32"], to=TensorProto.INT32, name="to_int32"),
        helper.make_node("Mul", ["pixels_i32", "channel_weights"], ["weighted"], name="weigh_channels"),
        helper.make_node("ReduceSum", ["weighted", "channel_axis"], ["color_index"], keepdims=0, name="color_index"),
        helper.make_node("Reshape", ["color_index", "flat_shape"], ["flat_index"], name="flatten"),
        helper.make_node("Gather", ["color_table", "flat_index"], ["cluster"], axis=0, name="lookup"),
        helper.make_node("Cast", ["cluster"], [output_name], to=TensorProto.INT64, name="to_int64"),
    ]
    graph = helper.make_graph(nodes, "imagegpt_color_quantization", [pixels], [ids], initializers)
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", PREPROCESSOR_OPSET)],
        producer_name="imagegpt-rs",
        doc_string="ImageGPT color quantization: uint8 RGB pixels -> nearest-cluster input_ids via a lookup table",
    )
    model.ir_version = 8  # readable by onnxruntime >= 1.10
    onnx.checker.check_model(model)
    return model


def export_preprocessor(processor: Any, path: str | os.PathLike[str]) -> Any:
    """Writes the color quantization of an ImageGPT image processor as an ONNX file and returns the model.

    The graph takes uint8 images ``(batch, H, W, 3)`` already at the processor's target size
    (``size["height"]`` x ``size["width"]`` when ``do_resize``, any size otherwise) and gives the processor's
    int64 ``input_ids`` ``(batch, H*W)``. The table comes from
    ``imagegpt_rs.ColorQuantizer(processor.clusters).lookup_table()``.

    Raises:
        ValueError: the processor does not color-quantize normalized pixels (``do_color_quantize`` or
            ``do_normalize`` false, or no clusters).
    """
    import onnx

    import imagegpt_rs

    clusters = getattr(processor, "clusters", None)
    if clusters is None:
        raise ValueError(f"{type(processor).__name__} has no clusters: cannot export its color quantization")
    if not getattr(processor, "do_color_quantize", True):
        raise ValueError("processor.do_color_quantize is False: it gives pixel_values, not input_ids")
    if not getattr(processor, "do_normalize", True):
        raise ValueError("processor.do_normalize is False: the lookup table assumes pixels normalized to [-1, 1]")
    height = width = None
    if getattr(processor, "do_resize", False):
        size = getattr(processor, "size", None) or {}
        height, width = size.get("height"), size.get("width")
    table = imagegpt_rs.ColorQuantizer(clusters).lookup_table()
    model = build_preprocessor_model(table, height, width)
    onnx.save(model, os.fspath(path))
    return model

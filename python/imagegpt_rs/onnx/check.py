"""``check_onnx_model``: does an exported .onnx file match an OnnxConfig? (no torch needed)."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from typing import Any

__all__ = ["OnnxModelReport", "check_onnx_model"]

# Element types assumed when the OnnxConfig does not declare them (``input_element_types`` /
# ``output_element_types``): token-like inputs are int64, outputs are floating point.
_INT_INPUTS = ("input_ids", "attention_mask", "token_type_ids", "position_ids")
_FLOAT_OUTPUTS = ("float32", "float16", "bfloat16", "float64")


@dataclasses.dataclass
class OnnxModelReport:
    """The result of :func:`check_onnx_model`.

    Attributes:
        path: the checked file.
        problems: every mismatch with the OnnxConfig or checker failure, one sentence each.
        notes: differences that do not break the config's contract (e.g. other symbolic axis names).
    """

    path: str
    problems: list[str] = dataclasses.field(default_factory=list)
    notes: list[str] = dataclasses.field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when there is no problem."""
        return not self.problems

    def __bool__(self) -> bool:
        return self.ok

    def __str__(self) -> str:
        head = f"{self.path}: " + (
            "matches the OnnxConfig" if self.ok else f"{len(self.problems)} problem(s) against the OnnxConfig"
        )
        lines = [head] + [f"  - {p}" for p in self.problems] + [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)

    def raise_for_problems(self) -> None:
        """Raises ValueError with the report text when there are problems."""
        if self.problems:
            raise ValueError(str(self))


def _expected_types(onnx_config: Any, attr: str, name: str, is_input: bool) -> tuple[str, ...] | None:
    declared = getattr(onnx_config, attr, None)
    if isinstance(declared, Mapping) and name in declared:
        return tuple(declared[name])
    if is_input:
        return ("int64",) if name in _INT_INPUTS else None
    return _FLOAT_OUTPUTS


def _type_name(elem_type: int) -> str:
    from onnx import helper

    try:
        return str(helper.tensor_dtype_to_np_dtype(elem_type))
    except Exception:  # unknown or non-numpy type (e.g. string)
        from onnx import TensorProto

        return TensorProto.DataType.Name(elem_type).lower()


def _check_values(
    report: OnnxModelReport,
    kind: str,
    actual: list[Any],
    expected: Mapping[str, Mapping[int, str]],
    onnx_config: Any,
) -> None:
    is_input = kind == "input"
    by_name = {v.name: v for v in actual}
    missing = [n for n in expected if n not in by_name]
    extra = [n for n in by_name if n not in expected]
    if missing:
        report.problems.append(f"missing {kind}(s) {missing}; the file has {list(by_name)}")
    if extra:
        report.problems.append(f"unexpected {kind}(s) {extra} not in the OnnxConfig {list(expected)}")
    present = [n for n in expected if n in by_name]
    file_order = [n for n in by_name if n in expected]
    if present != file_order:
        report.notes.append(f"{kind} order is {file_order}, the OnnxConfig lists {present}")

    for name in present:
        value = by_name[name]
        ttype = value.type
        if not ttype.HasField("tensor_type"):
            report.problems.append(f"{kind} {name!r} is not a tensor")
            continue
        tensor = ttype.tensor_type
        got = _type_name(tensor.elem_type)
        allowed = _expected_types(
            onnx_config, "input_element_types" if is_input else "output_element_types", name, is_input
        )
        if allowed is not None and got not in allowed:
            report.problems.append(f"{kind} {name!r} has element type {got}, expected {' or '.join(allowed)}")
        axes = expected[name]
        if not tensor.HasField("shape"):
            report.problems.append(f"{kind} {name!r} has no shape: cannot check its dynamic axes {dict(axes)}")
            continue
        dims = list(tensor.shape.dim)
        need_rank = max(axes) + 1 if axes else 0
        if len(dims) < need_rank:
            report.problems.append(
                f"{kind} {name!r} has rank {len(dims)}, but the OnnxConfig names axis {max(axes)} ({dict(axes)})"
            )
            continue
        for axis, symbol in axes.items():
            dim = dims[axis]
            if dim.HasField("dim_value"):
                report.problems.append(
                    f"{kind} {name!r} axis {axis} is static ({dim.dim_value}), the OnnxConfig makes it dynamic "
                    f"({symbol!r})"
                )
            elif dim.HasField("dim_param") and dim.dim_param != symbol:
                report.notes.append(
                    f"{kind} {name!r} axis {axis} is named {dim.dim_param!r}, the OnnxConfig calls it {symbol!r}"
                )


def check_onnx_model(path: str | os.PathLike[str], onnx_config: Any) -> OnnxModelReport:
    """Checks an .onnx file against an OnnxConfig without torch; returns what differs.

    Runs ``onnx.checker`` on the file, then compares the graph's inputs (initializers excluded) and outputs
    with ``onnx_config.inputs`` / ``onnx_config.outputs``: names, element types (int64 ``input_ids``,
    floating-point outputs, or the config's ``input_element_types`` / ``output_element_types``), and that
    every axis the config names is dynamic (symbolic) in the file.

    Args:
        path: the .onnx file (external data next to it is fine).
        onnx_config: an :class:`OnnxConfig` (ours or transformers').

    Returns:
        An :class:`OnnxModelReport`; ``report.ok`` is True when nothing differs, ``str(report)`` says what does,
        ``report.raise_for_problems()`` raises ValueError with that text.

    Raises:
        FileNotFoundError: ``path`` does not exist.
    """
    import onnx

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no ONNX file at {path!r}")
    report = OnnxModelReport(path)
    try:
        onnx.checker.check_model(path)
    except Exception as exc:  # onnx raises ValidationError and friends
        report.problems.append(f"onnx.checker failed: {type(exc).__name__}: {str(exc).strip()}")
    try:
        model = onnx.load(path, load_external_data=False)
    except Exception as exc:
        report.problems.append(f"cannot be parsed as an ONNX model: {type(exc).__name__}: {exc}")
        return report
    graph = model.graph
    initializers = {t.name for t in graph.initializer}
    graph_inputs = [v for v in graph.input if v.name not in initializers]
    _check_values(report, "input", graph_inputs, onnx_config.inputs, onnx_config)
    _check_values(report, "output", list(graph.output), onnx_config.outputs, onnx_config)
    return report

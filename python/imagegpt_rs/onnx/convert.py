"""``export`` and ``validate_model_outputs``: transformers 4.57's ``transformers.onnx`` conversion, for PyTorch.

``export`` needs torch (and a transformers model); ``validate_model_outputs`` needs onnxruntime and works with
a torch model or with any callable returning a mapping of numpy arrays.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Iterable, Mapping
from itertools import chain
from pathlib import Path
from typing import Any, Union

import numpy as np

from .config import OnnxConfig

__all__ = ["ensure_model_and_config_inputs_match", "export", "validate_model_outputs"]

PathLike = Union[str, "os.PathLike[str]"]


def _is_torch_model(model: Any) -> bool:
    """Whether ``model`` is a ``torch.nn.Module`` (checked without importing torch)."""
    return any(c.__module__.startswith("torch.nn") and c.__name__ == "Module" for c in type(model).__mro__)


def _forward(model: Any) -> Any:
    return model.forward if hasattr(model, "forward") else model


def _needs_position_ids(model: Any, inputs: Mapping[str, Any]) -> bool:
    """Whether to pass ``position_ids`` to a transformers ImageGPT model.

    transformers 4.57's ImageGPT models crash when ``use_cache`` is False (which ``values_override`` sets for
    export) and no ``position_ids`` are given: ``past_length`` stays ``None`` and ``arange(None, ...)`` fails.
    Passing ``arange(sequence)``, what the model computes itself without a cache, gives the same outputs.
    """
    config = getattr(model, "config", None)
    if getattr(config, "model_type", None) != "imagegpt" or "position_ids" in inputs or "input_ids" not in inputs:
        return False
    return "position_ids" in inspect.signature(_forward(model)).parameters


def _position_ids(torch: Any, input_ids: Any) -> Any:
    return torch.arange(input_ids.shape[-1], dtype=torch.long, device=input_ids.device).unsqueeze(0)


def _with_position_ids(torch: Any, model: Any) -> Any:
    """``model`` wrapped so that its traced forward takes ``input_ids`` only and computes ``position_ids``."""

    class _ImageGPTExportWrapper(torch.nn.Module):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner
            self.config = inner.config

        def forward(self, input_ids: Any) -> Any:
            return self.inner(input_ids=input_ids, position_ids=_position_ids(torch, input_ids))

    wrapper = _ImageGPTExportWrapper(model)
    # a new Module starts in training mode, and torch.onnx.export restores the mode it found recursively:
    # match the model's, or the model would be left with dropout on
    wrapper.train(model.training)
    return wrapper


def ensure_model_and_config_inputs_match(model: Any, model_inputs: Iterable[str]) -> tuple[bool, list[str]]:
    """Whether every dummy input is a parameter of ``model.forward``, and those inputs in forward's order."""
    parameters = inspect.signature(_forward(model)).parameters
    wanted = set(model_inputs)
    ok = wanted.issubset(parameters.keys())
    return ok, [name for name in parameters if name in wanted]


def export(
    preprocessor: Any,
    model: Any,
    config: OnnxConfig,
    opset: int | None = None,
    output: PathLike | None = None,
    tokenizer: Any = None,
    device: str = "cpu",
) -> tuple[list[str], list[str]]:
    """Exports a PyTorch transformers model to ONNX with ``torch.onnx.export`` (TorchScript exporter).

    Same call as transformers 4.57's ``transformers.onnx.export(preprocessor, model, config, opset, output)``;
    ``opset=None`` uses ``config.default_onnx_opset``. The config's :attr:`~OnnxConfig.values_override` is
    applied to ``model.config``, dummy inputs come from ``config.generate_dummy_inputs(preprocessor,
    framework="pt")``, input/output names and dynamic axes from ``config.inputs`` / ``config.outputs``, and
    the config's patching specs are applied during the export (and restored even if it fails).

    Unlike transformers 4.57, whose ImageGPT models crash once ``use_cache`` is off and no ``position_ids`` are
    given, ImageGPT models are traced with ``position_ids = arange(sequence)`` computed inside the graph (what
    the model computes itself); the graph's only input stays ``input_ids``.

    Returns:
        ``(inputs of model.forward that are fed, in forward's order; ONNX output names)``.

    Raises:
        ImportError: torch is not installed.
        TypeError: ``model`` is not a torch module.
        ValueError: no output path, or the dummy inputs are not parameters of ``model.forward``.
    """
    if output is None:
        raise ValueError("output (the .onnx file to write) is required")
    if tokenizer is not None:
        if preprocessor is not None and preprocessor is not tokenizer:
            raise ValueError("You cannot provide both a tokenizer and a preprocessor to export the model.")
        preprocessor = tokenizer
    try:
        import torch
    except ImportError as exc:
        raise ImportError(
            "imagegpt_rs.onnx.export needs PyTorch: pip install 'imagegpt-rs[torch,transformers,onnx]'"
        ) from exc
    if not _is_torch_model(model):
        raise TypeError(f"model must be a PyTorch transformers model (torch.nn.Module), got {type(model).__name__}")
    opset = config.default_onnx_opset if opset is None else int(opset)
    output = Path(output)

    with torch.no_grad():
        model.config.return_dict = True
        model.eval()
        overrides = config.values_override
        if overrides is not None:
            for key, value in overrides.items():
                setattr(model.config, key, value)

        model_inputs = config.generate_dummy_inputs(preprocessor, framework="pt")
        dev = torch.device(device)
        if dev.type == "cuda" and torch.cuda.is_available():
            model.to(dev)
            model_inputs = {k: v.to(dev) for k, v in model_inputs.items()}

        inputs_match, matched_inputs = ensure_model_and_config_inputs_match(model, model_inputs.keys())
        if not inputs_match:
            raise ValueError(
                f"Model and config inputs don't match: dummy inputs {sorted(model_inputs)} are not all parameters "
                f"of {type(model).__name__}.forward"
            )
        onnx_outputs = list(config.outputs.keys())
        kwargs: dict[str, Any] = dict(
            f=output.as_posix(),
            input_names=list(config.inputs.keys()),
            output_names=onnx_outputs,
            dynamic_axes=dict(chain(config.inputs.items(), config.outputs.items())),
            do_constant_folding=True,
            opset_version=opset,
        )
        if "dynamo" in inspect.signature(torch.onnx.export).parameters:
            kwargs["dynamo"] = False  # dynamic_axes belong to the TorchScript exporter
        traced = _with_position_ids(torch, model) if _needs_position_ids(model, model_inputs) else model
        config.patch_ops()
        try:
            torch.onnx.export(traced, (model_inputs,), **kwargs)
        finally:
            config.restore_ops()
    return matched_inputs, onnx_outputs


def _to_numpy(value: Any) -> np.ndarray:
    if hasattr(value, "detach"):
        return value.detach().cpu().numpy()
    if hasattr(value, "numpy") and not isinstance(value, np.ndarray):
        return np.asarray(value.numpy())
    return np.asarray(value)


def _items(outputs: Any) -> Iterable[tuple[str, Any]]:
    if hasattr(outputs, "items"):
        return outputs.items()
    raise TypeError(
        f"the reference model must return a mapping of outputs (e.g. a ModelOutput), got {type(outputs).__name__}"
    )


def _compare_output(name: str, ref: np.ndarray, got: np.ndarray, atol: float) -> float:
    """Max absolute difference of one output; ValueError with a report when shapes or values differ."""
    if ref.shape != got.shape:
        raise ValueError(
            f"Outputs shape doesn't match between reference model and ONNX exported model for {name!r}: "
            f"Got {ref.shape} (reference) and {got.shape} (ONNX)"
        )
    if ref.size == 0:
        return 0.0
    diff = np.abs(ref.astype(np.float64) - got.astype(np.float64))
    worst_flat = int(np.nanargmax(diff)) if not np.all(np.isnan(diff)) else 0
    worst = float(diff.flat[worst_flat])
    close = np.isclose(ref, got, atol=atol)
    if not close.all():
        where = np.unravel_index(worst_flat, ref.shape)
        bad = int((~close).sum())
        raise ValueError(
            f"Outputs values doesn't match between reference model and ONNX exported model for {name!r}: "
            f"Got max absolute difference of: {worst} at index {tuple(int(i) for i in where)} "
            f"(reference {ref.flat[worst_flat]!r}, ONNX {got.flat[worst_flat]!r}); "
            f"{bad} of {ref.size} values are not close (atol: {atol})"
        )
    return worst


def export_model(
    model: Any,
    onnx_config: OnnxConfig,
    output: PathLike,
    opset: int | None = None,
    preprocessor: Any = None,
    device: str = "cpu",
) -> tuple[list[str], list[str]]:
    """:func:`export` with the model first: ``export_model(model, onnx_config, output, opset=None)``.

    Without ``preprocessor``, dummy inputs come from an :class:`~imagegpt_rs.ImageGPTImageProcessor`
    with the built-in palette at the largest square size the model's ``n_positions`` holds (32x32 for
    1024 positions), so no preprocessor config is needed to export a model.
    """
    if preprocessor is None:
        from ..image_processing import ImageGPTImageProcessor

        n_positions = int(getattr(onnx_config._config, "n_positions", 1024))
        side = max(1, int(n_positions**0.5))
        while (side + 1) * (side + 1) <= n_positions:
            side += 1
        while side * side > n_positions:
            side -= 1
        preprocessor = ImageGPTImageProcessor(size=side)
    return export(preprocessor, model, onnx_config, opset, output, device=device)


def validate_model_outputs(
    config: OnnxConfig,
    preprocessor: Any,
    reference_model: Any,
    onnx_model: PathLike,
    onnx_named_outputs: list[str],
    atol: float,
    tokenizer: Any = None,
    *,
    seed: int | None = None,
) -> dict[str, float]:
    """Runs the ONNX file in onnxruntime and compares it with the reference model, as transformers 4.57 does.

    Dummy inputs use a batch size of ``config.default_fixed_batch + 1`` (3), different from the export's, to
    exercise the dynamic axes. A torch reference model gets ``framework="pt"`` inputs; any other callable gets
    ``framework="np"`` inputs and must return a mapping of arrays. Nested outputs are flattened with
    :meth:`OnnxConfig.flatten_output_collection_property` (``past_key_values`` renamed ``present``).

    Args:
        seed: beyond transformers: seed of the dummy images (``None``: global ``np.random`` state).

    Returns:
        Output name -> max absolute difference (beyond transformers, which returns ``None``).

    Raises:
        ValueError: names, shapes or values (beyond ``atol``) differ; the message gives the largest difference,
            where it is, both values there, and how many values are not close.
    """
    from onnxruntime import InferenceSession, SessionOptions

    if tokenizer is not None:
        if preprocessor is not None and preprocessor is not tokenizer:
            raise ValueError("You cannot provide both a tokenizer and a preprocessor to validate the model outputs.")
        preprocessor = tokenizer
    is_torch = _is_torch_model(reference_model)
    kwargs: dict[str, Any] = dict(
        batch_size=config.default_fixed_batch + 1,
        seq_length=config.default_fixed_sequence + 1,
        framework="pt" if is_torch else "np",
    )
    if seed is not None:
        kwargs["seed"] = seed
    reference_inputs = config.generate_dummy_inputs(preprocessor, **kwargs)

    session = InferenceSession(Path(onnx_model).as_posix(), SessionOptions(), providers=["CPUExecutionProvider"])

    if is_torch:
        import torch

        reference_model.to("cpu")
        call_inputs = dict(reference_inputs)
        if _needs_position_ids(reference_model, call_inputs):
            call_inputs["position_ids"] = _position_ids(torch, call_inputs["input_ids"])
        with torch.no_grad():
            ref_outputs = reference_model(**call_inputs)
    else:
        ref_outputs = reference_model(**reference_inputs)
    ref_dict: dict[str, Any] = {}
    for name, value in _items(ref_outputs):
        if name == "past_key_values":
            name = "present"
        if isinstance(value, (list, tuple)):
            ref_dict.update(config.flatten_output_collection_property(name, value))
        else:
            ref_dict[name] = value

    ort_inputs: dict[str, np.ndarray] = {}
    for name, value in config.generate_dummy_inputs_onnxruntime(reference_inputs).items():
        if isinstance(value, (list, tuple)):
            flat = config.flatten_output_collection_property(name, value)
            ort_inputs.update({k: _to_numpy(v) for k, v in flat.items()})
        else:
            ort_inputs[name] = _to_numpy(value)

    missing = set(onnx_named_outputs) - set(ref_dict)
    if missing:
        raise ValueError(
            "Outputs doesn't match between reference model and ONNX exported model: "
            f"{sorted(missing)} are not outputs of the reference model (it has {sorted(ref_dict)})"
        )
    ort_outputs = session.run(list(onnx_named_outputs), ort_inputs)
    return {
        name: _compare_output(name, _to_numpy(ref_dict[name]), np.asarray(got), atol)
        for name, got in zip(onnx_named_outputs, ort_outputs)
    }

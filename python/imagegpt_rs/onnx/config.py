"""``OnnxConfig``: export metadata with the semantics of transformers 4.57's ``transformers.onnx.OnnxConfig``.

Nothing here imports transformers, torch or onnx; Pillow is imported only when dummy images are made.
"""

from __future__ import annotations

import copy
import dataclasses
import importlib.metadata
import importlib.util
import numbers
import re
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from enum import Enum
from itertools import chain
from typing import Any

import numpy as np

__all__ = [
    "DEFAULT_ONNX_OPSET",
    "EXTERNAL_DATA_FORMAT_SIZE_LIMIT",
    "OnnxConfig",
    "ParameterFormat",
    "PatchingSpec",
    "compute_effective_axis_dimension",
    "compute_serialized_parameters_size",
]

#: The ONNX opset ``export`` uses when none is given (transformers 4.57: 11).
DEFAULT_ONNX_OPSET = 11

#: 2 GiB: protobuf's limit; models whose float32 weights reach it need the external data format.
EXTERNAL_DATA_FORMAT_SIZE_LIMIT = 2 * 1024 * 1024 * 1024


class ParameterFormat(Enum):
    """Storage format of serialized parameters (only float32, as in transformers)."""

    Float = "float32"

    @property
    def size(self) -> int:
        """Bytes per parameter."""
        return int(np.dtype(self.value).itemsize)


def compute_effective_axis_dimension(dimension: int, fixed_dimension: int, num_token_to_add: int = 0) -> int:
    """The size to use for an axis: ``fixed_dimension`` when ``dimension <= 0`` (a dynamic axis), minus tokens."""
    if dimension <= 0:
        dimension = fixed_dimension
    return dimension - num_token_to_add


def compute_serialized_parameters_size(num_parameters: int, dtype: ParameterFormat) -> int:
    """Bytes taken by ``num_parameters`` parameters stored as ``dtype``."""
    return num_parameters * dtype.size


@dataclasses.dataclass
class PatchingSpec:
    """An operation to monkey-patch while exporting.

    Attributes:
        o: the module or object holding the operation.
        name: the attribute name of the operation on ``o``.
        custom_op: what to put in its place during export.
        orig_op: the original operation (looked up on ``o`` when the config is built if ``None``).
        op_wrapper: optional wrapper applied to both ``custom_op`` and ``orig_op`` when setting them
            (for ``staticmethod`` / ``classmethod`` attributes, for instance).
    """

    o: Any
    name: str
    custom_op: Callable
    orig_op: Callable | None = None
    op_wrapper: Callable | None = None


# transformers 4.57 disables torch below 2.1 (is_torch_available() is then False).
_TRANSFORMERS_MIN_TORCH = (2, 1)


def _torch_version() -> tuple[int, ...] | None:
    """The installed torch's (major, minor) version without importing torch, or ``None`` if absent."""
    if importlib.util.find_spec("torch") is None:
        return None
    try:
        raw = importlib.metadata.version("torch")
    except importlib.metadata.PackageNotFoundError:
        return None
    match = re.match(r"(\d+)(?:\.(\d+))?", raw)
    if match is None:
        return None
    return (int(match.group(1)), int(match.group(2) or 0))


def check_dimension(name: str, value: Any) -> int:
    """``value`` as a positive int, or a ValueError/TypeError naming the argument."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be a positive int, got {value!r} ({type(value).__name__})")
    if value <= 0:
        raise ValueError(f"{name} must be a positive int, got {value}")
    return int(value)


class OnnxConfig(ABC):
    """Describes how a model is exported to ONNX: inputs, outputs per task, dummy inputs, tolerances.

    Same public behaviour as transformers 4.57's ``transformers.onnx.OnnxConfig``. Subclasses define
    :attr:`inputs`. ``config`` is the model config (ours or transformers'; only attributes are read).

    Args:
        config: the model's configuration.
        task: one of :attr:`supported_tasks` (``"default"`` exports the base model).
        patching_specs: operations to monkey-patch during export (see :meth:`patch_ops`).

    Raises:
        ValueError: ``task`` is not in the task table; the message lists the supported tasks.
    """

    default_fixed_batch = 2
    default_fixed_sequence = 8
    default_fixed_num_choices = 4
    #: Minimum torch version for export, as a string (transformers keeps a ``packaging`` Version).
    torch_onnx_minimum_version = "1.8"
    _tasks_to_common_outputs: dict[str, OrderedDict[str, dict[int, str]]] = {
        "causal-lm": OrderedDict({"logits": {0: "batch", 1: "sequence"}}),
        "default": OrderedDict({"last_hidden_state": {0: "batch", 1: "sequence"}}),
        "image-classification": OrderedDict({"logits": {0: "batch", 1: "sequence"}}),
        "image-segmentation": OrderedDict(
            {
                "logits": {0: "batch", 1: "sequence"},
                "pred_boxes": {0: "batch", 1: "sequence"},
                "pred_masks": {0: "batch", 1: "sequence"},
            }
        ),
        "masked-im": OrderedDict({"logits": {0: "batch", 1: "sequence"}}),
        "masked-lm": OrderedDict({"logits": {0: "batch", 1: "sequence"}}),
        "multiple-choice": OrderedDict({"logits": {0: "batch"}}),
        "object-detection": OrderedDict(
            {"logits": {0: "batch", 1: "sequence"}, "pred_boxes": {0: "batch", 1: "sequence"}}
        ),
        "question-answering": OrderedDict(
            {"start_logits": {0: "batch", 1: "sequence"}, "end_logits": {0: "batch", 1: "sequence"}}
        ),
        "semantic-segmentation": OrderedDict({"logits": {0: "batch", 1: "num_labels", 2: "height", 3: "width"}}),
        "seq2seq-lm": OrderedDict({"logits": {0: "batch", 1: "decoder_sequence"}}),
        "sequence-classification": OrderedDict({"logits": {0: "batch"}}),
        "token-classification": OrderedDict({"logits": {0: "batch", 1: "sequence"}}),
        "vision2seq-lm": OrderedDict({"logits": {0: "batch", 1: "sequence"}}),
        "speech2seq-lm": OrderedDict({"logits": {0: "batch", 1: "sequence"}}),
    }

    def __init__(self, config: Any, task: str = "default", patching_specs: list[PatchingSpec] | None = None) -> None:
        self._config = config
        if not isinstance(task, str) or task not in self._tasks_to_common_outputs:
            raise ValueError(
                f"{task!r} is not a supported task, supported tasks: {', '.join(self._tasks_to_common_outputs)}"
            )
        self.task = task
        self._patching_specs: list[Any] = []
        for spec in patching_specs if patching_specs is not None else []:
            if spec.orig_op is None:
                original = getattr(spec.o, spec.name)
                if dataclasses.is_dataclass(spec):
                    spec = dataclasses.replace(spec, orig_op=original)
                else:
                    spec = PatchingSpec(spec.o, spec.name, spec.custom_op, original, spec.op_wrapper)
            self._patching_specs.append(spec)

    @classmethod
    def supported_tasks(cls) -> list[str]:
        """The task names the task table knows, in table order (not in transformers)."""
        return list(cls._tasks_to_common_outputs)

    @classmethod
    def from_model_config(cls, config: Any, task: str = "default") -> OnnxConfig:
        """Builds the OnnxConfig for ``config`` and ``task``."""
        return cls(config, task=task)

    @property
    @abstractmethod
    def inputs(self) -> Mapping[str, Mapping[int, str]]:
        """Input name -> {axis index: symbolic axis name} for every model input."""
        raise NotImplementedError()

    @property
    def outputs(self) -> Mapping[str, Mapping[int, str]]:
        """Output name -> {axis index: symbolic axis name} for the task (a fresh deep copy each time)."""
        return copy.deepcopy(self._tasks_to_common_outputs[self.task])

    @property
    def values_override(self) -> Mapping[str, Any] | None:
        """Config attributes to override before export: ``{"use_cache": False}`` if the config has
        ``use_cache``, else ``None``."""
        if hasattr(self._config, "use_cache"):
            return {"use_cache": False}
        return None

    @property
    def default_batch_size(self) -> int:
        """Batch size used for dynamic axes (2, so ONNX does not specialise on a single sample)."""
        return OnnxConfig.default_fixed_batch

    @property
    def default_sequence_length(self) -> int:
        """Sequence length used for dynamic axes (8)."""
        return OnnxConfig.default_fixed_sequence

    @property
    def default_num_choices(self) -> int:
        """Number of choices used for dynamic axes (4)."""
        return OnnxConfig.default_fixed_num_choices

    @property
    def default_onnx_opset(self) -> int:
        """The ONNX opset to export with by default."""
        return DEFAULT_ONNX_OPSET

    @property
    def atol_for_validation(self) -> float:
        """Absolute tolerance used by :func:`validate_model_outputs`."""
        return 1e-5

    @property
    def is_torch_support_available(self) -> bool:
        """Whether torch is installed at a version transformers 4.57 can use (>= 2.1) and at least
        :attr:`torch_onnx_minimum_version` (torch is not imported)."""
        installed = _torch_version()
        if installed is None:
            return False
        minimum = tuple(int(p) for p in self.torch_onnx_minimum_version.split("."))
        return installed >= _TRANSFORMERS_MIN_TORCH and installed >= minimum

    @staticmethod
    def use_external_data_format(num_parameters: int) -> bool:
        """Whether ``num_parameters`` float32 parameters reach the 2 GiB protobuf limit."""
        if isinstance(num_parameters, bool) or not isinstance(num_parameters, numbers.Integral):
            raise TypeError(f"num_parameters must be an int, got {num_parameters!r} ({type(num_parameters).__name__})")
        if num_parameters < 0:
            raise ValueError(f"num_parameters must be >= 0, got {num_parameters}")
        return (
            compute_serialized_parameters_size(int(num_parameters), ParameterFormat.Float)
            >= EXTERNAL_DATA_FORMAT_SIZE_LIMIT
        )

    def _generate_dummy_images(
        self,
        batch_size: int = 2,
        num_channels: int = 3,
        image_height: int = 40,
        image_width: int = 40,
        *,
        seed: int | None = None,
    ) -> list[Any]:
        """``batch_size`` random RGB PIL images drawn like transformers 4.57 draws them.

        Each image is ``np.random.rand(image_height, image_width, num_channels) * 255`` truncated to uint8 and
        converted to RGB. With ``seed=None`` the global ``np.random`` state is used (as transformers does, so
        seeding ``np.random`` before both calls gives the same images); with an int seed a private
        ``np.random.RandomState(seed)`` is used, giving what ``np.random.seed(seed)`` would, without touching
        the global state. ``num_channels`` may be 1 (gray), 2 (gray + alpha), 3 (RGB) or 4 (RGBA); transformers
        fails on 1.
        """
        try:
            from PIL import Image
        except ImportError as exc:  # pragma: no cover - Pillow is in the test extra
            raise ImportError("dummy images need Pillow: pip install 'imagegpt-rs[pillow]'") from exc

        batch_size = check_dimension("batch_size", batch_size)
        num_channels = check_dimension("num_channels", num_channels)
        image_height = check_dimension("image_height", image_height)
        image_width = check_dimension("image_width", image_width)
        if num_channels > 4:
            raise ValueError(f"num_channels must be 1, 2, 3 or 4, got {num_channels}")
        rand = np.random.rand if seed is None else np.random.RandomState(seed).rand
        images = []
        for _ in range(batch_size):
            data = (rand(image_height, image_width, num_channels) * 255).astype("uint8")
            if num_channels == 1:
                data = data[:, :, 0]
            images.append(Image.fromarray(data).convert("RGB"))
        return images

    def generate_dummy_inputs(
        self,
        preprocessor: Any,
        batch_size: int = -1,
        seq_length: int = -1,
        num_choices: int = -1,
        is_pair: bool = False,
        framework: str | None = None,
        num_channels: int = 3,
        image_width: int = 40,
        image_height: int = 40,
        sampling_rate: int = 22050,
        time_duration: float = 5.0,
        frequency: int = 220,
        tokenizer: Any = None,
        *,
        seed: int | None = None,
    ) -> dict[str, Any]:
        """Inputs for the exporter: random images run through an image processor.

        Same signature as transformers 4.57. A batch size <= 0 means a dynamic axis and uses
        :attr:`default_fixed_batch`, as transformers does. Only image processors are supported here
        (ImageGPT has no tokenizer and no audio): a tokenizer (as ``preprocessor`` or the deprecated
        ``tokenizer``) or anything that is not a callable image processor raises TypeError; the audio
        arguments are accepted and unused. ``seed`` is as in :meth:`_generate_dummy_images`.
        """
        if tokenizer is not None:
            preprocessor = tokenizer
        check_image_processor(preprocessor)
        batch_size = compute_effective_axis_dimension(batch_size, fixed_dimension=OnnxConfig.default_fixed_batch)
        images = self._generate_dummy_images(batch_size, num_channels, image_height, image_width, seed=seed)
        return dict(preprocessor(images=images, return_tensors=framework))

    def generate_dummy_inputs_onnxruntime(self, reference_model_inputs: Mapping[str, Any]) -> Mapping[str, Any]:
        """The onnxruntime inputs for the reference model inputs (returned unchanged; override for seq2seq)."""
        return reference_model_inputs

    def patch_ops(self) -> None:
        """Puts every patching spec's ``custom_op`` (wrapped by ``op_wrapper`` if any) in place."""
        for spec in self._patching_specs:
            op = spec.custom_op if spec.op_wrapper is None else spec.op_wrapper(spec.custom_op)
            setattr(spec.o, spec.name, op)

    def restore_ops(self) -> None:
        """Puts every patching spec's ``orig_op`` (wrapped by ``op_wrapper`` if any) back."""
        for spec in self._patching_specs:
            op = spec.orig_op if spec.op_wrapper is None else spec.op_wrapper(spec.orig_op)
            setattr(spec.o, spec.name, op)

    @classmethod
    def flatten_output_collection_property(cls, name: str, field: Iterable[Any]) -> dict[str, Any]:
        """Flattens one level of nesting: ``{"name.0": field[0][0], "name.1": field[0][1], ...}``."""
        return {f"{name}.{idx}": item for idx, item in enumerate(chain.from_iterable(field))}


def check_image_processor(preprocessor: Any) -> None:
    """TypeError unless ``preprocessor`` looks like an image processor (callable, not a tokenizer)."""
    kind = type(preprocessor).__name__
    if preprocessor is None or not callable(preprocessor):
        raise TypeError(
            f"preprocessor must be an image processor (e.g. imagegpt_rs.ImageGPTImageProcessor or "
            f"transformers.ImageGPTImageProcessor), got {kind}"
        )
    if hasattr(preprocessor, "num_special_tokens_to_add") or hasattr(preprocessor, "convert_tokens_to_ids"):
        raise TypeError(
            f"preprocessor must be an image processor, got the tokenizer {kind}: ImageGPT's dummy inputs are "
            f"images quantized by its image processor"
        )

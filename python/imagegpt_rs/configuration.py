"""``ImageGPTConfig``: transformers 4.57's ImageGPT model configuration, without transformers.

:class:`ImageGPTConfig` behaves like ``transformers.ImageGPTConfig`` of transformers 4.57.x, including what
it inherits from ``PretrainedConfig``: the constructor, the aliases of ``attribute_map``, the derived
attributes (``num_labels``, ``use_return_dict``, ``output_attentions``, ``name_or_path``, ``torch_dtype``),
``to_dict``/``to_diff_dict``/``to_json_string``/``to_json_file``, ``from_dict``/``from_json_file``/
``from_pretrained``/``save_pretrained``, ``update``/``update_from_string``, equality, ``repr``, copying and
pickling. The instance ``__dict__`` holds the same names and values as transformers' (so dicts, JSON text and
key order are the same), and :meth:`ImageGPTConfig.to_transformers` / :meth:`ImageGPTConfig.from_transformers`
convert losslessly.

``transformers_version``
    ``to_dict()`` and the JSON we write put ``"transformers_version": "4.57.6"`` (:data:`TRANSFORMERS_VERSION`),
    the version of the oracle whose semantics this module reproduces, so that transformers loads our files
    without version warnings and our JSON text is byte-identical to transformers 4.57.6's. The attribute keeps
    whatever was loaded (``None`` for a fresh config), as in transformers.

Deliberate differences from transformers (which validates almost nothing):

* Validation (the README's "Validation policy"). The rules live in the Rust core (``rust/core/src/config.rs``):
  sizes are ints in [1, 2**63 - 1] (a bool is not an int), ``n_embd`` is divisible by ``n_head``, ``n_inner``
  is None or >= 1, the dropouts are finite numbers in [0, 1], ``layer_norm_epsilon`` is finite and > 0,
  ``initializer_range`` finite and >= 0, the boolean switches are bools, ``activation_function`` is one of
  transformers' ``ACT2FN`` names, ``problem_type`` is None or one of its three values, and the
  ``PretrainedConfig`` fields have the types transformers 5 gives them. By default only what transformers also
  refuses raises :class:`~imagegpt_rs.errors.ConfigValidationError` (a ``ValueError``): the types transformers
  5's strict ``ImageGPTConfig`` rejects (at construction, loading and assignment) and transformers 4.57's own
  errors. Everything else gives one :class:`~imagegpt_rs.errors.ConfigValidationWarning` listing every problem.
  ``strict=True`` (constructor, ``from_dict``, ``from_json_file``, ``from_pretrained``) and :meth:`validate`
  raise for every rule. A single assignment checks that field's own rules only (never ``n_embd``/``n_head``
  divisibility, which the next line may fix); ``update``/``update_from_string`` raise before changing anything
  (transformers applies the keys one by one and stops at the first bad one) and warn about the merged result.
  ``id2label``/``label2id`` that are not dicts, non-integer ``id2label`` keys and a ``num_labels``/``id2label``
  conflict in ``from_dict`` raise ``ConfigValidationError`` (a ``ValueError``, as transformers raises).
* An int given for ``layer_norm_epsilon`` or ``initializer_range`` (typed ``float`` in transformers 5, which
  refuses an int) is stored as a float: ``to_dict()`` stays ``==`` to transformers 4.57's, and the JSON says
  ``1.0`` where 4.57 writes ``1``.
* ``dtype``: as in transformers 4.57, a dtype name becomes the ``torch.dtype`` when torch is installed (torch is
  imported then, and only then); an unknown name raises ``ConfigValidationError`` (transformers: AttributeError).
* A malformed JSON file raises :class:`ConfigFileError` (a ``ConfigValidationError``, so a ``ValueError``, and
  an ``OSError`` like transformers' ``from_pretrained`` error) naming the file, line and column.
* ``from_pretrained`` reads a local directory or file; a hub id goes through ``huggingface_hub`` (imported only
  then; a clear ``OSError`` when it is missing). URLs and ``configuration_files`` indirections are not
  supported. ``save_pretrained(push_to_hub=True)`` uploads ``config.json`` with ``huggingface_hub``.
"""

from __future__ import annotations

import contextvars
import copy
import importlib.util
import json
import logging
import operator
import os
import re
import sys
import warnings
from collections.abc import Iterator, Mapping
from typing import Any, TypeVar

from . import _native
from ._io import hub_download, import_hub, read_json_file
from .errors import ConfigFileError, ConfigValidationError, ConfigValidationWarning

__all__ = [
    "ImageGPTConfig",
    "PretrainedConfigBase",
    "ConfigFileError",
    "check_compatible",
    "TRANSFORMERS_VERSION",
    "CONFIG_NAME",
]

logger = logging.getLogger(__name__)

#: The ``transformers_version`` we write: the oracle whose semantics this module reproduces.
TRANSFORMERS_VERSION = "4.57.6"
#: The file name ``save_pretrained`` writes and ``from_pretrained`` reads in a directory.
CONFIG_NAME = "config.json"

_PROBLEM_TYPES = ("regression", "single_label_classification", "multi_label_classification")

# Generation parameters transformers 4.57 still stores on every model config (name, default), in its order.
_GENERATION_DEFAULTS: tuple[tuple[str, Any], ...] = (
    ("max_length", 20),
    ("min_length", 0),
    ("do_sample", False),
    ("early_stopping", False),
    ("num_beams", 1),
    ("temperature", 1.0),
    ("top_k", 50),
    ("top_p", 1.0),
    ("typical_p", 1.0),
    ("repetition_penalty", 1.0),
    ("length_penalty", 1.0),
    ("no_repeat_ngram_size", 0),
    ("encoder_no_repeat_ngram_size", 0),
    ("bad_words_ids", None),
    ("num_return_sequences", 1),
    ("output_scores", False),
    ("return_dict_in_generate", False),
    ("forced_bos_token_id", None),
    ("forced_eos_token_id", None),
    ("remove_invalid_values", False),
    ("exponential_decay_length_penalty", None),
    ("suppress_tokens", None),
    ("begin_suppress_tokens", None),
    ("num_beam_groups", 1),
    ("diversity_penalty", 0.0),
)

# True while a config is being assembled (construction inside from_*, bulk updates): assignments are then
# not checked one by one; the finished state is checked once.
_ASSEMBLING: contextvars.ContextVar[bool] = contextvars.ContextVar("imagegpt_rs_config_assembling", default=False)

_C = TypeVar("_C", bound="PretrainedConfigBase")

_torch_dtype_warned = False


class PretrainedConfigBase:
    """What ``ImageGPTConfig`` inherits from transformers 4.57's ``PretrainedConfig`` (no model fields).

    A plain instance is what ``to_diff_dict`` compares against, as transformers compares against a plain
    ``PretrainedConfig()``.
    """

    model_type: str = ""
    base_config_key: str = ""
    sub_configs: dict[str, type] = {}
    has_no_defaults_at_init: bool = False
    attribute_map: dict[str, str] = {}
    base_model_tp_plan: dict[str, Any] | None = None
    base_model_pp_plan: dict[str, Any] | None = None
    base_model_ep_plan: dict[str, Any] | None = None
    _auto_class: str | None = None
    # Fields the Rust core validates for this class (none for the base).
    _validated_fields: frozenset[str] = frozenset()

    def __init__(
        self,
        *,
        output_hidden_states: bool = False,
        output_attentions: bool = False,
        return_dict: bool = True,
        torchscript: bool = False,
        dtype: Any = None,
        pruned_heads: dict[int, list[int]] | None = None,
        tie_word_embeddings: bool = True,
        chunk_size_feed_forward: int = 0,
        is_encoder_decoder: bool = False,
        is_decoder: bool = False,
        cross_attention_hidden_size: int | None = None,
        add_cross_attention: bool = False,
        tie_encoder_decoder: bool = False,
        architectures: list[str] | None = None,
        finetuning_task: str | None = None,
        id2label: dict[int, str] | None = None,
        label2id: dict[str, int] | None = None,
        num_labels: int | None = None,
        task_specific_params: dict[str, Any] | None = None,
        problem_type: str | None = None,
        tokenizer_class: str | None = None,
        prefix: str | None = None,
        bos_token_id: int | None = None,
        pad_token_id: int | None = None,
        eos_token_id: int | None = None,
        sep_token_id: int | None = None,
        decoder_start_token_id: int | None = None,
        **kwargs: Any,
    ) -> None:
        owner = type(self).__name__
        if label2id is not None and not isinstance(label2id, dict):
            raise ConfigValidationError.from_violations(
                owner, [("label2id", repr(label2id), f"must be a dict, got {type(label2id).__name__}")]
            )
        if id2label is not None and not isinstance(id2label, dict):
            raise ConfigValidationError.from_violations(
                owner, [("id2label", repr(id2label), f"must be a dict, got {type(id2label).__name__}")]
            )
        if num_labels is not None and id2label is not None and len(id2label) != num_labels:
            logger.warning(
                "You passed `num_labels=%s` which is incompatible to the `id2label` map of length `%s`.",
                num_labels,
                len(id2label),
            )
        if problem_type is not None and problem_type not in _PROBLEM_TYPES:  # as transformers 4.57 raises
            violations = _native.config_violations({"problem_type": problem_type})
            raise ConfigValidationError.from_violations(owner, [v[:3] for v in violations])
        torch_dtype = kwargs.pop("torch_dtype", None)
        if torch_dtype is not None:
            dtype = dtype if dtype is not None else torch_dtype
        if dtype is not None and isinstance(dtype, str) and _torch_available():
            # As transformers 4.57: a dtype name becomes the torch.dtype when torch is installed (torch is
            # imported only here, so `import imagegpt_rs` and configs without a dtype never import it).
            import torch

            try:
                dtype = getattr(torch, dtype)
            except AttributeError:
                raise ConfigValidationError.from_violations(
                    owner, [("dtype", repr(dtype), "must name a torch dtype such as 'float16' (torch is installed)")]
                ) from None

        s = self._set
        s("return_dict", return_dict)
        s("output_hidden_states", output_hidden_states)
        s("torchscript", torchscript)
        s("dtype", dtype)
        s("_output_attentions", output_attentions)

        s("pruned_heads", pruned_heads if pruned_heads is not None else {})
        s("tie_word_embeddings", tie_word_embeddings)
        s("chunk_size_feed_forward", chunk_size_feed_forward)

        s("is_encoder_decoder", is_encoder_decoder)
        s("is_decoder", is_decoder)
        s("cross_attention_hidden_size", cross_attention_hidden_size)
        s("add_cross_attention", add_cross_attention)
        s("tie_encoder_decoder", tie_encoder_decoder)

        s("architectures", architectures)
        s("finetuning_task", finetuning_task)
        s("id2label", id2label)
        s("label2id", label2id)
        s("task_specific_params", task_specific_params)
        s("problem_type", problem_type)

        if id2label is None:
            self._create_id_label_maps(num_labels if num_labels is not None else 2)
        else:
            # JSON keys are strings: ids become ints again.
            converted: dict[int, str] = {}
            for label_id, label in id2label.items():
                try:
                    converted[int(label_id)] = label
                except (TypeError, ValueError) as e:
                    raise ConfigValidationError.from_violations(
                        owner, [("id2label", repr(id2label), f"keys must be integers, got {label_id!r}")]
                    ) from e
            s("id2label", converted)

        s("tokenizer_class", tokenizer_class)
        s("prefix", prefix)
        s("bos_token_id", bos_token_id)
        s("pad_token_id", pad_token_id)
        s("eos_token_id", eos_token_id)
        s("sep_token_id", sep_token_id)
        s("decoder_start_token_id", decoder_start_token_id)

        for name, default in _GENERATION_DEFAULTS:
            s(name, kwargs.pop(name, default))

        s("_name_or_path", str(kwargs.pop("name_or_path", "")))
        s("_commit_hash", kwargs.pop("_commit_hash", None))
        s("_attn_implementation", kwargs.pop("attn_implementation", None))
        s("transformers_version", kwargs.pop("transformers_version", None))

        if kwargs.get("gradient_checkpointing", False):
            warnings.warn(
                "Passing `gradient_checkpointing` to a config initialization is deprecated and will be removed in v5 "
                "Transformers. Using `model.gradient_checkpointing_enable()` instead, or if you are using the "
                "`Trainer` API, pass `gradient_checkpointing=True` in your `TrainingArguments`.",
                stacklevel=2,
            )

        # Unknown keyword arguments become attributes (aliases write their real field).
        for key, value in kwargs.items():
            try:
                s(key, value)
            except AttributeError:
                logger.error("Can't set %s with value %s for %s", key, value, owner)
                raise

        s("tf_legacy_loss", kwargs.pop("tf_legacy_loss", False))
        s("use_bfloat16", kwargs.pop("use_bfloat16", False))

    # ----------------------------------------------------------------------------------------- attributes

    def _set(self, key: str, value: Any) -> None:
        """Assigns without validation, through the alias map and property setters."""
        key = type(self).attribute_map.get(key, key)
        _assign(self, key, value)

    def __setattr__(self, key: str, value: Any) -> None:
        self._set(key, value)

    def __getattr__(self, key: str) -> Any:
        # Only called when normal lookup fails: aliases read their real field.
        attribute_map = type(self).attribute_map
        if key in attribute_map:
            return getattr(self, attribute_map[key])
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{key}'")

    def _create_id_label_maps(self, num_labels: int) -> None:
        num_labels = _label_count(type(self).__name__, num_labels)
        self.id2label = {i: f"LABEL_{i}" for i in range(num_labels)}
        self.label2id = dict(zip(self.id2label.values(), self.id2label.keys()))

    @property
    def name_or_path(self) -> str | None:
        """The name or path the config was loaded from (always a string once set)."""
        return getattr(self, "_name_or_path", None)

    @name_or_path.setter
    def name_or_path(self, value: Any) -> None:
        self._name_or_path = str(value)

    @property
    def output_attentions(self) -> bool:
        """Whether the model returns all attentions (needs the eager attention implementation)."""
        return self._output_attentions

    @output_attentions.setter
    def output_attentions(self, value: bool) -> None:
        if value and self._attn_implementation is None:
            self._attn_implementation = "eager"
        if value and self._attn_implementation != "eager":
            raise ValueError(
                "The `output_attentions` attribute is not supported when using the `attn_implementation` set to "
                f"{self._attn_implementation}. Please set it to 'eager' instead."
            )
        self._output_attentions = value

    @property
    def use_return_dict(self) -> bool:
        """``return_dict``, forced off under torchscript."""
        return self.return_dict and not self.torchscript

    @property
    def num_labels(self) -> int:
        """The number of labels: the length of ``id2label`` (setting it rebuilds the label maps)."""
        return len(self.id2label)

    @num_labels.setter
    def num_labels(self, num_labels: int) -> None:
        if self.id2label is None or self.num_labels != num_labels:
            self._create_id_label_maps(num_labels)

    @property
    def _attn_implementation(self) -> Any:
        return self._attn_implementation_internal

    @_attn_implementation.setter
    def _attn_implementation(self, value: Any) -> None:
        current = getattr(self, "_attn_implementation", None)
        self._attn_implementation_internal = value if not isinstance(value, dict) else value.get("", current)

    @property
    def torch_dtype(self) -> Any:
        """Deprecated alias of ``dtype``."""
        _warn_torch_dtype()
        return self.dtype

    @torch_dtype.setter
    def torch_dtype(self, value: Any) -> None:
        _warn_torch_dtype()
        self.dtype = value

    # ------------------------------------------------------------------------------------ serialization

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PretrainedConfigBase) and self.__dict__ == other.__dict__

    __hash__ = None  # type: ignore[assignment]  # mutable, like transformers' configs

    def __repr__(self) -> str:
        return f"{type(self).__name__} {self.to_json_string()}"

    def __iter__(self) -> Iterator[str]:
        yield from self.__dict__

    def to_dict(self) -> dict[str, Any]:
        """Every attribute of this config as a dict (deep copy), as transformers 4.57 serializes it."""
        output = copy.deepcopy(self.__dict__)
        if hasattr(type(self), "model_type"):
            output["model_type"] = type(self).model_type
        output["transformers_version"] = TRANSFORMERS_VERSION
        for key, value in output.items():
            if isinstance(value, PretrainedConfigBase):
                value = value.to_dict()
                del value["transformers_version"]
            output[key] = value
        self._remove_keys_not_serialized(output)
        if hasattr(self, "quantization_config"):
            q = self.quantization_config
            output["quantization_config"] = q if isinstance(q, dict) else q.to_dict()
        self.dict_dtype_to_str(output)
        return output

    def to_diff_dict(self) -> dict[str, Any]:
        """Only the attributes that differ from a plain ``PretrainedConfig`` or from this class's defaults."""
        config_dict = self.to_dict()
        default_config_dict = PretrainedConfigBase().to_dict()
        class_config_dict = type(self)().to_dict() if not self.has_no_defaults_at_init else {}
        out: dict[str, Any] = {}
        for key, value in config_dict.items():
            nested = getattr(self, key, None)
            if (
                isinstance(nested, PretrainedConfigBase)
                and key in class_config_dict
                and isinstance(class_config_dict[key], dict)
            ) or key in self.sub_configs:
                diff = _recursive_diff_dict(value, default_config_dict, nested)
                if "model_type" in value:
                    diff["model_type"] = value["model_type"]
                out[key] = diff
            elif (
                key not in default_config_dict
                or key == "transformers_version"
                or key == "vocab_file"
                or value != default_config_dict[key]
                or (key in default_config_dict and value != class_config_dict.get(key, value))
            ):
                out[key] = value
        self._remove_keys_not_serialized(out)
        out.pop("_name_or_path", None)
        if hasattr(self, "quantization_config"):
            q = self.quantization_config
            out["quantization_config"] = q if isinstance(q, dict) else q.to_dict()
        self.dict_dtype_to_str(out)
        return out

    def to_json_string(self, use_diff: bool = True) -> str:
        """The config as JSON text (2-space indent, sorted keys, final newline); only the diff by default."""
        config_dict = self.to_diff_dict() if use_diff is True else self.to_dict()
        return json.dumps(config_dict, indent=2, sort_keys=True) + "\n"

    def to_json_file(self, json_file_path: str | os.PathLike[str], use_diff: bool = True) -> None:
        """Writes :meth:`to_json_string` to ``json_file_path`` (UTF-8)."""
        with open(json_file_path, "w", encoding="utf-8") as writer:
            writer.write(self.to_json_string(use_diff=use_diff))

    def dict_dtype_to_str(self, d: dict[str, Any]) -> None:
        """Turns a ``torch.dtype`` under a ``dtype`` key (at any depth) into its short name, in place."""
        if d.get("dtype") is not None:
            if isinstance(d["dtype"], dict):
                d["dtype"] = {k: str(v).split(".")[-1] for k, v in d["dtype"].items()}
            elif not isinstance(d["dtype"], (str, int)):
                d["dtype"] = str(d["dtype"]).split(".")[1]
        for value in d.values():
            if isinstance(value, dict):
                self.dict_dtype_to_str(value)

    def _remove_keys_not_serialized(self, d: dict[str, Any]) -> None:
        if hasattr(self, "quantization_config"):
            d.pop("_pre_quantization_dtype", None)
        d.pop("_auto_class", None)
        if "_output_attentions" in d:
            d["output_attentions"] = d.pop("_output_attentions")
        for key in ("_commit_hash", "_attn_implementation_internal", "base_model_tp_plan", "base_model_pp_plan"):
            d.pop(key, None)
        for value in d.values():
            if isinstance(value, dict):
                self._remove_keys_not_serialized(value)

    # ------------------------------------------------------------------------------------------ updates

    def update(self, config_dict: Mapping[str, Any]) -> None:
        """Sets every ``key: value`` of ``config_dict`` as an attribute (aliases write their real field)."""
        for key, value in config_dict.items():
            setattr(self, key, value)

    def update_from_string(self, update_str: str) -> None:
        """Updates existing attributes from ``"key=value,key=value"`` text, typed like their current values.

        Booleans accept true/false/1/0/y/n/yes/no; ints, floats and strings are parsed as such.
        """
        self.update(self._parse_update_string(update_str))

    def _parse_update_string(self, update_str: str) -> dict[str, Any]:
        d = dict(x.split("=") for x in update_str.split(","))
        out: dict[str, Any] = {}
        for k, v in d.items():
            if not hasattr(self, k):
                raise ValueError(f"key {k} isn't in the original config dict")
            old_v = getattr(self, k)
            new_v: bool | int | float | str
            if isinstance(old_v, bool):
                if v.lower() in ["true", "1", "y", "yes"]:
                    new_v = True
                elif v.lower() in ["false", "0", "n", "no"]:
                    new_v = False
                else:
                    raise ValueError(f"can't derive true or false from {v} (key {k})")
            elif isinstance(old_v, int):
                new_v = int(v)
            elif isinstance(old_v, float):
                new_v = float(v)
            elif isinstance(old_v, str):
                new_v = v
            else:
                raise TypeError(
                    f"You can only update int, float, bool or string values in the config, got {v} for key {k}"
                )
            out[k] = new_v
        return out

    # ------------------------------------------------------------------------------------------ loading

    @classmethod
    def from_dict(cls: type[_C], config_dict: dict[str, Any], **kwargs: Any) -> Any:
        """Builds a config from ``config_dict``, then applies the keyword arguments that name attributes.

        With ``return_unused_kwargs=True`` returns ``(config, unused_kwargs)``. Like transformers, this adds
        an ``attn_implementation`` key to ``config_dict``.
        """
        return_unused_kwargs = kwargs.pop("return_unused_kwargs", False)
        strict = kwargs.pop("strict", False)
        source = kwargs.pop("_igr_source", None)
        kwargs.pop("_from_auto", None)
        kwargs.pop("_from_pipeline", None)
        if "_commit_hash" in kwargs and "_commit_hash" in config_dict:
            kwargs["_commit_hash"] = config_dict["_commit_hash"]
        torch_dtype = kwargs.pop("torch_dtype", None)
        if torch_dtype is not None:
            _warn_torch_dtype()
            kwargs["dtype"] = kwargs.get("dtype", torch_dtype)
        config_dict["attn_implementation"] = kwargs.pop("attn_implementation", None)

        token = _ASSEMBLING.set(True)
        try:
            config = cls(**config_dict)
            if hasattr(config, "pruned_heads"):
                try:
                    config.pruned_heads = {int(key): value for key, value in config.pruned_heads.items()}
                except (AttributeError, TypeError, ValueError) as e:
                    raise ConfigValidationError.from_violations(
                        cls.__name__,
                        [("pruned_heads", _short_repr(config.pruned_heads), "must be a dict with integer keys")],
                        source=source,
                    ) from e
            if "num_labels" in kwargs and "id2label" in kwargs:
                num_labels = kwargs["num_labels"]
                id2label = kwargs["id2label"] if kwargs["id2label"] is not None else []
                if len(id2label) != num_labels:
                    raise ConfigValidationError.from_violations(
                        cls.__name__,
                        [
                            (
                                "num_labels",
                                repr(num_labels),
                                f"is inconsistent with id2label={kwargs['id2label']!r} "
                                f"({len(id2label)} labels): remove one of them",
                            )
                        ],
                    )
            to_remove = []
            for key, value in kwargs.items():
                if hasattr(config, key):
                    setattr(config, key, value)
                    if key != "dtype":
                        to_remove.append(key)
            for key in to_remove:
                kwargs.pop(key, None)
        finally:
            _ASSEMBLING.reset(token)
        config._validate(source=source, strict=strict, stacklevel=3 if source is None else 5)
        logger.info("Model config %s", config)
        if return_unused_kwargs:
            return config, kwargs
        return config

    @classmethod
    def from_json_file(cls: type[_C], json_file: str | os.PathLike[str], strict: bool = False) -> _C:
        """Builds a config from a JSON file; a malformed file raises :class:`ConfigFileError` naming it.

        ``strict=True`` (beyond transformers) raises for every rule the config breaks, not only for what
        transformers also refuses."""
        config_dict = read_json_file(json_file)
        token = _ASSEMBLING.set(True)
        try:
            try:
                config = cls(**config_dict)
            except ConfigFileError:
                raise
            except ConfigValidationError as e:
                raise _with_source(cls.__name__, e, os.fspath(json_file)) from None
        finally:
            _ASSEMBLING.reset(token)
        config._validate(source=os.fspath(json_file), strict=strict, stacklevel=3)
        return config

    @classmethod
    def get_config_dict(
        cls, pretrained_model_name_or_path: str | os.PathLike[str], **kwargs: Any
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Resolves a directory, a file or a hub id to ``(config_dict, remaining_kwargs)``."""
        cache_dir = kwargs.pop("cache_dir", None)
        force_download = kwargs.pop("force_download", False)
        local_files_only = kwargs.pop("local_files_only", False)
        token = kwargs.pop("token", None)
        revision = kwargs.pop("revision", None)
        subfolder = kwargs.pop("subfolder", "")
        commit_hash = kwargs.pop("_commit_hash", None)
        configuration_file = kwargs.pop("_configuration_file", CONFIG_NAME)
        for ignored in ("proxies", "resume_download", "trust_remote_code", "_from_pipeline", "_from_auto"):
            kwargs.pop(ignored, None)
        name = os.fspath(pretrained_model_name_or_path)

        if os.path.isfile(os.path.join(subfolder, name)):
            resolved = name
        elif re.match(r"^https?://", name):
            raise OSError(f"Can't load the configuration of '{name}': URLs are not supported, use a hub id or a path")
        elif os.path.isdir(name):
            resolved = os.path.join(name, subfolder, configuration_file)
            if not os.path.isfile(resolved):
                raise OSError(
                    f"{name} does not appear to have a file named {os.path.join(subfolder, configuration_file)}."
                )
        else:
            resolved = hub_download(
                name,
                configuration_file,
                subfolder=subfolder,
                revision=revision,
                cache_dir=cache_dir,
                force_download=force_download,
                token=token,
                local_files_only=local_files_only,
            )
            m = re.search(r"snapshots[/\\]([0-9a-f]{40})(?:[/\\]|$)", resolved)
            commit_hash = m.group(1) if m else commit_hash
        config_dict = read_json_file(resolved)
        config_dict["_commit_hash"] = commit_hash
        return config_dict, kwargs

    @classmethod
    def from_pretrained(
        cls: type[_C],
        pretrained_model_name_or_path: str | os.PathLike[str],
        cache_dir: str | os.PathLike[str] | None = None,
        force_download: bool = False,
        local_files_only: bool = False,
        token: str | bool | None = None,
        revision: str = "main",
        **kwargs: Any,
    ) -> Any:
        """Loads ``config.json`` from a directory, a JSON file path, or a hub id (needs ``huggingface_hub``).

        Keyword arguments naming attributes override the loaded values; ``subfolder`` selects a folder;
        ``return_unused_kwargs=True`` returns ``(config, unused_kwargs)``.
        """
        kwargs.update(
            cache_dir=cache_dir,
            force_download=force_download,
            local_files_only=local_files_only,
            revision=revision,
            token=token,
        )
        config_dict, kwargs = cls.get_config_dict(pretrained_model_name_or_path, **kwargs)
        if "model_type" in config_dict and config_dict["model_type"] != cls.model_type:
            for v in config_dict.values():
                if isinstance(v, dict) and v.get("model_type") == cls.model_type:
                    config_dict = v
            if config_dict["model_type"] != cls.model_type:
                logger.warning(
                    "You are using a model of type %s to instantiate a model of type %s. This is not supported "
                    "for all configurations of models and can yield errors.",
                    config_dict["model_type"],
                    cls.model_type,
                )
        source = os.fspath(pretrained_model_name_or_path)
        try:
            return cls.from_dict(config_dict, _igr_source=source, **kwargs)
        except ConfigFileError:
            raise
        except ConfigValidationError as e:
            raise _with_source(cls.__name__, e, source) from None

    def save_pretrained(self, save_directory: str | os.PathLike[str], push_to_hub: bool = False, **kwargs: Any) -> None:
        """Writes ``config.json`` (the diff JSON) into ``save_directory``, creating it if needed.

        With ``push_to_hub=True`` the file is uploaded with ``huggingface_hub`` to ``repo_id`` (default: the
        directory name), using ``token`` and ``commit_message`` from ``kwargs``.
        """
        save_directory = os.fspath(save_directory)
        if os.path.isfile(save_directory):
            raise AssertionError(f"Provided path ({save_directory}) should be a directory, not a file")
        non_default = self._get_non_default_generation_parameters()
        if non_default:
            warnings.warn(
                "Some non-default generation parameters are set in the model config. These should go into either a) "
                "`model.generation_config` (as opposed to `model.config`); OR b) a GenerationConfig file "
                "(https://huggingface.co/docs/transformers/generation_strategies#save-a-custom-decoding-strategy-with-your-model)."
                "This warning will become an exception in the future."
                f"\nNon-default generation parameters: {str(non_default)}",
                UserWarning,
                stacklevel=2,
            )
        os.makedirs(save_directory, exist_ok=True)
        if "transformers_weights" in self:
            delattr(self, "transformers_weights")
        output_config_file = os.path.join(save_directory, CONFIG_NAME)
        self.to_json_file(output_config_file, use_diff=True)
        logger.info("Configuration saved in %s", output_config_file)
        if push_to_hub:
            hub = import_hub("push a config to the hub")
            repo_id = kwargs.pop("repo_id", save_directory.split(os.path.sep)[-1])
            api = hub.HfApi(token=kwargs.get("token"))
            repo_id = api.create_repo(repo_id, private=kwargs.get("private"), exist_ok=True).repo_id
            api.upload_file(
                path_or_fileobj=output_config_file,
                path_in_repo=CONFIG_NAME,
                repo_id=repo_id,
                commit_message=kwargs.get("commit_message") or "Upload config",
            )

    def _get_non_default_generation_parameters(self) -> dict[str, Any]:
        try:
            default_config: PretrainedConfigBase | None = type(self)()
        except ValueError:
            default_config = None
        out: dict[str, Any] = {}
        for name, global_default in _GENERATION_DEFAULTS:
            if hasattr(self, name):
                value = getattr(self, name)
                if value is None:
                    continue
                if default_config is not None:
                    non_default = value != getattr(default_config, name)
                else:
                    non_default = value != global_default
                if non_default:
                    out[name] = value
        return out

    def get_text_config(self, decoder: bool | None = None, encoder: bool | None = None) -> PretrainedConfigBase:
        """The text config: the config itself (ImageGPT has no sub-configs)."""
        return self

    def _validate(self, source: str | None = None, strict: bool = False, stacklevel: int = 2) -> None:
        """Raises one ConfigValidationError listing every broken rule of the current state."""


# More labels than this is taken as a hostile file: transformers would try to build the label maps
# (num_labels=10**12 never finishes); any real classification head is far smaller.
_MAX_LABELS = 2**24


def _label_count(owner: str, num_labels: Any) -> int:
    try:
        n = operator.index(num_labels)
    except TypeError:  # transformers raises TypeError from range()
        error = ConfigValidationError.from_violations(
            owner, [("num_labels", _short_repr(num_labels), f"must be an integer, got {type(num_labels).__name__}")]
        )
        raise _ConfigTypeError(str(error), error.errors) from None
    if n > _MAX_LABELS:
        raise ConfigValidationError.from_violations(
            owner, [("num_labels", _short_repr(n), f"must be at most {_MAX_LABELS} (2**24)")]
        )
    return n


def _with_source(owner: str, error: ConfigValidationError, source: str) -> ConfigValidationError:
    """The same problems, with the message naming the file they came from."""
    if not error.errors or source in str(error):
        return error
    return type(error).from_violations(  # the same class: _ConfigTypeError stays a TypeError
        owner, [(x["field"], x["value"], x["rule"]) for x in error.errors], source=source
    )


def _torch_available() -> bool:
    return "torch" in sys.modules or importlib.util.find_spec("torch") is not None


def _short_repr(value: Any, limit: int = 200) -> str:
    try:
        text = repr(value)
    except Exception:  # a repr that fails (e.g. an int over Python's digit limit)
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _assign(obj: Any, key: str, value: Any) -> None:
    """``object.__setattr__`` whose failures (a property setter refusing the value, a reserved name such as
    ``__class__`` in a config file) raise :class:`ConfigValidationError` naming the field."""
    try:
        object.__setattr__(obj, key, value)
    except ConfigValidationError:
        raise
    except ValueError as e:  # a setter refusing the value as transformers does: keep its message
        raise ConfigValidationError(str(e), [{"field": str(key), "value": _short_repr(value), "rule": str(e)}]) from e
    except (TypeError, AttributeError, OverflowError, KeyError) as e:
        # still the exception type transformers raises (AttributeError for a read-only property, TypeError
        # for `__class__`), and a ConfigValidationError naming the field
        base = {AttributeError: _ConfigAttributeError, TypeError: _ConfigTypeError}.get(type(e), ConfigValidationError)
        error = ConfigValidationError.from_violations(
            type(obj).__name__, [(str(key), _short_repr(value), f"cannot be set: {type(e).__name__}: {e}")]
        )
        raise base(str(error), error.errors) from e


class _ConfigAttributeError(ConfigValidationError, AttributeError):
    """A field that cannot be set (a read-only property): transformers raises AttributeError."""


class _ConfigTypeError(ConfigValidationError, TypeError):
    """A field that cannot be set to this value's type (``__class__``): transformers raises TypeError."""


def _recursive_diff_dict(dict_a: dict[str, Any], dict_b: dict[str, Any], config_obj: Any = None) -> dict[str, Any]:
    diff: dict[str, Any] = {}
    default = type(config_obj)().to_dict() if config_obj is not None else {}
    for key, value in dict_a.items():
        obj_value = getattr(config_obj, str(key), None)
        if isinstance(obj_value, PretrainedConfigBase) and key in dict_b and isinstance(dict_b[key], dict):
            diff[key] = _recursive_diff_dict(value, dict_b[key], config_obj=obj_value)
        elif key not in dict_b or value != default[key]:
            diff[key] = value
    return diff


def _warn_torch_dtype() -> None:
    global _torch_dtype_warned
    if not _torch_dtype_warned:
        _torch_dtype_warned = True
        logger.warning("`torch_dtype` is deprecated! Use `dtype` instead!")


class ImageGPTConfig(PretrainedConfigBase):
    """The configuration of an ImageGPT model, with transformers 4.57's ``ImageGPTConfig`` semantics.

    Args:
        vocab_size: number of tokens: the color clusters plus the start-of-sequence token (513).
        n_positions: maximum sequence length, at least height * width of the images (1024 = 32 * 32).
        n_embd: dimensionality of the embeddings and hidden states (512); divisible by ``n_head``.
        n_layer: number of transformer blocks (24).
        n_head: number of attention heads per block (8).
        n_inner: inner feed-forward size; None means 4 * n_embd.
        activation_function: one of transformers' activation names (``"quick_gelu"``).
        resid_pdrop: dropout of the fully connected layers (0.1).
        embd_pdrop: dropout of the embeddings (0.1).
        attn_pdrop: dropout of the attention (0.1).
        layer_norm_epsilon: epsilon of the layer norms (1e-5).
        initializer_range: standard deviation of the weight initializer (0.02).
        scale_attn_weights: scale attention weights by 1/sqrt(head size) (True).
        use_cache: return the past key/values (True).
        tie_word_embeddings: tie input and output embeddings (False).
        scale_attn_by_inverse_layer_idx: also scale attention by 1/(layer index + 1) (False).
        reorder_and_upcast_attn: scale keys first and upcast attention to float32 (False).
        **kwargs: ``PretrainedConfig`` arguments (``num_labels``, ``id2label``, ``return_dict``, ``dtype``,
            token ids, ...) and any other attribute; ``hidden_size``, ``max_position_embeddings``,
            ``num_attention_heads`` and ``num_hidden_layers`` set ``n_embd``, ``n_positions``, ``n_head`` and
            ``n_layer``.

        strict: (keyword, not stored) raise for every broken rule, not only for what transformers refuses.

    Raises:
        ConfigValidationError: for values transformers also refuses (wrong types), listing each; with
            ``strict=True`` for every broken rule. Other problems give a ``ConfigValidationWarning``.

    Example:
        >>> from imagegpt_rs import ImageGPTConfig
        >>> config = ImageGPTConfig(n_embd=1024, n_layer=36)
        >>> config.hidden_size, config.num_hidden_layers
        (1024, 36)
    """

    model_type = "imagegpt"
    keys_to_ignore_at_inference = ["past_key_values"]
    attribute_map = {
        "hidden_size": "n_embd",
        "max_position_embeddings": "n_positions",
        "num_attention_heads": "n_head",
        "num_hidden_layers": "n_layer",
    }
    _validated_fields = frozenset(_native.validated_config_fields())
    # Fields transformers 5 types as float only: an int given there is stored as a float.
    _float_fields = frozenset({"layer_norm_epsilon", "initializer_range"})

    def __init__(
        self,
        vocab_size: int = 512 + 1,
        n_positions: int = 32 * 32,
        n_embd: int = 512,
        n_layer: int = 24,
        n_head: int = 8,
        n_inner: int | None = None,
        activation_function: str = "quick_gelu",
        resid_pdrop: float = 0.1,
        embd_pdrop: float = 0.1,
        attn_pdrop: float = 0.1,
        layer_norm_epsilon: float = 1e-5,
        initializer_range: float = 0.02,
        scale_attn_weights: bool = True,
        use_cache: bool = True,
        tie_word_embeddings: bool = False,
        scale_attn_by_inverse_layer_idx: bool = False,
        reorder_and_upcast_attn: bool = False,
        **kwargs: Any,
    ) -> None:
        # Our keyword when called directly; inside from_dict/from_json_file a "strict" key of the file is an
        # ordinary attribute, as transformers keeps it.
        strict = False if _ASSEMBLING.get() else kwargs.pop("strict", False)
        token = _ASSEMBLING.set(True)
        try:
            s = self._set
            s("vocab_size", vocab_size)
            s("n_positions", n_positions)
            s("n_embd", n_embd)
            s("n_layer", n_layer)
            s("n_head", n_head)
            s("n_inner", n_inner)
            s("activation_function", activation_function)
            s("resid_pdrop", resid_pdrop)
            s("embd_pdrop", embd_pdrop)
            s("attn_pdrop", attn_pdrop)
            s("layer_norm_epsilon", layer_norm_epsilon)
            s("initializer_range", initializer_range)
            s("scale_attn_weights", scale_attn_weights)
            s("use_cache", use_cache)
            s("scale_attn_by_inverse_layer_idx", scale_attn_by_inverse_layer_idx)
            s("reorder_and_upcast_attn", reorder_and_upcast_attn)
            s("tie_word_embeddings", tie_word_embeddings)
            super().__init__(tie_word_embeddings=tie_word_embeddings, **kwargs)
        finally:
            _ASSEMBLING.reset(token)
        if not _ASSEMBLING.get():
            self._validate(strict=strict, stacklevel=3)

    # ------------------------------------------------------------------------------------- validation

    def _set(self, key: str, value: Any) -> None:
        key = type(self).attribute_map.get(key, key)
        _assign(self, key, self._coerce(key, value))

    def _coerce(self, key: str, value: Any) -> Any:
        if key in self._float_fields and type(value) is int:
            try:
                return float(value)
            except OverflowError:
                pass  # too large for a float: validation reports it
        return value

    def _field_values(self) -> dict[str, Any]:
        d = self.__dict__
        return {name: d[name] for name in self._validated_fields if name in d}

    def _validate(self, source: str | None = None, strict: bool = False, stacklevel: int = 2) -> None:
        """Raises for what transformers also refuses (or everything, ``strict``); warns for the rest."""
        _check(type(self).__name__, self._field_values(), source, strict, stacklevel + 1)

    def validate(self, raise_on_error: bool = True) -> list[dict[str, str]]:
        """Checks every rule, including those transformers does not check (see the README's validation policy).

        Returns the problems as ``{"field", "value", "rule"}`` dicts (empty when the config can build a model);
        with ``raise_on_error`` (the default) any problem raises one :class:`ConfigValidationError` listing all.
        """
        violations = [v[:3] for v in _native.config_violations(self._field_values())]
        if violations and raise_on_error:
            raise ConfigValidationError.from_violations(type(self).__name__, violations)
        return [{"field": f, "value": v, "rule": r} for f, v, r in violations]

    def __setattr__(self, key: str, value: Any) -> None:
        real = type(self).attribute_map.get(key, key)
        if real in self._validated_fields and not _ASSEMBLING.get():
            # This field's own rules only: a cross-field rule (n_embd divisible by n_head) is never checked on
            # one assignment, since the next line may set the other field.
            _check(type(self).__name__, {real: self._coerce(real, value)}, None, False, 3)
        self._set(real, value)

    def update(self, config_dict: Mapping[str, Any]) -> None:
        """Sets every ``key: value`` of ``config_dict``. Values transformers 5 refuses (wrong types) raise
        before anything changes; the merged result's other problems are warned about."""
        fields = self._field_values()
        amap = type(self).attribute_map
        for key, value in config_dict.items():
            real = amap.get(key, key)
            if real in fields or real in self._validated_fields:
                fields[real] = value
        _check(type(self).__name__, fields, None, False, 3, warn=False)
        token = _ASSEMBLING.set(True)
        try:
            super().update(config_dict)
        finally:
            _ASSEMBLING.reset(token)
        self._validate(stacklevel=3)

    # ---------------------------------------------------------------------------------------- interop

    def to_transformers(self) -> Any:
        """The equal ``transformers.ImageGPTConfig`` (imports transformers; install the ``transformers`` extra)."""
        import transformers

        tcls = transformers.ImageGPTConfig
        if transformers.__version__.split(".")[0] == "4":
            state = copy.deepcopy(self.__dict__)
            if isinstance(state.get("dtype"), str):
                import importlib.util

                if importlib.util.find_spec("torch") is not None:
                    import torch

                    state["dtype"] = getattr(torch, state["dtype"])
            obj = tcls.__new__(tcls)
            obj.__dict__.update(state)
            return obj
        return tcls.from_dict(self.to_diff_dict())

    @classmethod
    def from_transformers(cls, config: Any) -> ImageGPTConfig:
        """Converts a ``transformers.ImageGPTConfig`` (or any config with ``model_type == "imagegpt"``)."""
        model_type = getattr(config, "model_type", None)
        if model_type != cls.model_type or not hasattr(config, "to_dict"):
            raise ConfigValidationError.from_violations(
                cls.__name__,
                [("model_type", repr(model_type), f"must be {cls.model_type!r} (a transformers ImageGPTConfig)")],
            )
        state = getattr(config, "__dict__", {})
        if "_output_attentions" in state and "_attn_implementation_internal" in state:
            obj = cls.__new__(cls)
            obj.__dict__.update(copy.deepcopy(state))
            for name in cls._float_fields & obj.__dict__.keys():
                obj._set(name, obj.__dict__[name])
            obj._validate(source=f"{type(config).__module__}.{type(config).__name__}")
            return obj
        return cls.from_dict(config.to_dict())


def _check(
    owner: str, fields: dict[str, Any], source: str | None, strict: bool, stacklevel: int, warn: bool = True
) -> None:
    """The validation policy: every problem raises with ``strict``; otherwise only the problems transformers
    also refuses raise (wrong types, which transformers 5's strict configs reject) and the rest are warned about
    with one :class:`ConfigValidationWarning`."""
    violations = _native.config_violations(fields)
    if not violations:
        return
    fatal = [v[:3] for v in violations if strict or v[3]]
    if fatal:
        raise ConfigValidationError.from_violations(owner, fatal, source=source)
    if warn:
        warnings.warn(
            ConfigValidationWarning.from_violations(owner, [v[:3] for v in violations], source=source),
            stacklevel=stacklevel + 1,
        )


def _as_size(name: str, value: Any) -> int:
    try:
        if isinstance(value, bool):
            raise TypeError("bool")
        i = operator.index(value)
    except TypeError:
        raise ConfigValidationError.from_violations(
            "check_compatible", [(name, repr(value), f"must be an integer, got {type(value).__name__}")]
        ) from None
    if not -(2**63) <= i < 2**63:
        raise ConfigValidationError.from_violations("check_compatible", [(name, str(i), "is out of range")])
    return i


def check_compatible(config: Any, n_clusters: Any = None, image_size: Any = None) -> None:
    """Checks that a model config fits its preprocessing, and explains any mismatch.

    Args:
        config: an :class:`ImageGPTConfig` (or a transformers one: anything with ``vocab_size`` and
            ``n_positions``).
        n_clusters: the number of color clusters, or the clusters themselves (anything with a length, such
            as the ``(n, 3)`` array of an image processor); ``vocab_size`` must be ``n_clusters + 1``.
        image_size: the size images are resized to: an int (square), ``(height, width)`` or a
            ``{"height": h, "width": w}`` dict; ``n_positions`` must be ``>= height * width``.

    Raises:
        ConfigValidationError: naming each mismatched field, its value and what it must be.
    """
    if n_clusters is not None and not isinstance(n_clusters, int) and hasattr(n_clusters, "__len__"):
        n_clusters = len(n_clusters)
    k = None if n_clusters is None else _as_size("n_clusters", n_clusters)
    hw = None
    if image_size is not None:
        if isinstance(image_size, Mapping) and "height" in image_size and "width" in image_size:
            h, w = image_size["height"], image_size["width"]
        elif isinstance(image_size, (tuple, list)) and len(image_size) == 2:
            h, w = image_size
        elif not isinstance(image_size, (str, bytes, Mapping)) and not hasattr(image_size, "__len__"):
            h = w = image_size
        else:
            raise ConfigValidationError.from_violations(
                "check_compatible",
                [("image_size", repr(image_size), "must be an int, a (height, width) pair or a {height, width} dict")],
            )
        hw = (_as_size("image_size height", h), _as_size("image_size width", w))
    vocab_size = _as_size("vocab_size", getattr(config, "vocab_size", None))
    n_positions = _as_size("n_positions", getattr(config, "n_positions", None))
    violations = _native.compatibility_violations(vocab_size, n_positions, k, hw)
    if violations:
        raise ConfigValidationError.from_violations(
            f"{type(config).__name__} and its preprocessing (n_clusters={k}, image_size={hw})", violations
        )

"""``FeaturesManager``: the ImageGPT part of transformers 4.57's ``transformers.onnx.FeaturesManager``.

ImageGPT supports the features ``"default"`` (``ImageGPTModel``) and ``"image-classification"``
(``ImageGPTForImageClassification``), both exported with :class:`ImageGPTOnnxConfig`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from .config import OnnxConfig
from .imagegpt import ImageGPTOnnxConfig

__all__ = ["FeaturesManager"]

# feature -> transformers model class name (transformers' AutoModel / AutoModelForImageClassification pick these)
_IMAGEGPT_MODEL_CLASSES = {
    "default": "ImageGPTModel",
    "image-classification": "ImageGPTForImageClassification",
}


def _feature_map() -> dict[str, Callable[..., OnnxConfig]]:
    return {feature: partial(ImageGPTOnnxConfig.from_model_config, task=feature) for feature in _IMAGEGPT_MODEL_CLASSES}


class FeaturesManager:
    """Feature name -> OnnxConfig constructor and model class, for the ``imagegpt`` model type."""

    AVAILABLE_FEATURES: list[str] = sorted(_IMAGEGPT_MODEL_CLASSES)
    _SUPPORTED_MODEL_TYPE: dict[str, dict[str, Callable[..., OnnxConfig]]] = {"imagegpt": _feature_map()}

    @staticmethod
    def get_supported_features_for_model_type(
        model_type: str, model_name: str | None = None
    ) -> dict[str, Callable[..., OnnxConfig]]:
        """Feature -> OnnxConfig constructor (``constructor(config)``) of ``model_type``.

        Raises:
            KeyError: ``model_type`` is not ``"imagegpt"`` (the message names the supported types).
        """
        key = str(model_type).lower()
        if key not in FeaturesManager._SUPPORTED_MODEL_TYPE:
            shown = f"{key} ({model_name})" if model_name else key
            raise KeyError(
                f"{shown} is not supported by imagegpt_rs.onnx: only "
                f"{list(FeaturesManager._SUPPORTED_MODEL_TYPE)} are supported"
            )
        return dict(FeaturesManager._SUPPORTED_MODEL_TYPE[key])

    @staticmethod
    def feature_to_task(feature: str) -> str:
        """The task of a feature (``"-with-past"`` removed)."""
        return feature.replace("-with-past", "")

    @staticmethod
    def _check_feature(feature: str) -> None:
        if feature not in _IMAGEGPT_MODEL_CLASSES:
            raise ValueError(
                f"imagegpt doesn't support feature {feature!r}. Supported values are: "
                f"{', '.join(FeaturesManager.AVAILABLE_FEATURES)}"
            )

    @staticmethod
    def get_model_class_for_feature(feature: str, framework: str = "pt") -> type:
        """The transformers (PyTorch) model class exported for ``feature`` (imports transformers)."""
        if framework != "pt":
            raise ValueError(f"only the PyTorch framework ('pt') is supported, got {framework!r}")
        FeaturesManager._check_feature(FeaturesManager.feature_to_task(feature))
        import transformers

        return getattr(transformers, _IMAGEGPT_MODEL_CLASSES[FeaturesManager.feature_to_task(feature)])

    @staticmethod
    def check_supported_model_or_raise(model: Any, feature: str = "default") -> tuple[str, Callable[..., OnnxConfig]]:
        """``(model_type, OnnxConfig constructor)`` for a model instance and feature.

        Raises:
            KeyError: the model is not an ImageGPT model.
            ValueError: the feature is not supported.
        """
        model_type = model.config.model_type.replace("_", "-")
        features = FeaturesManager.get_supported_features_for_model_type(model_type, getattr(model, "name", ""))
        FeaturesManager._check_feature(feature)
        return model.config.model_type, features[feature]

    @staticmethod
    def get_config(model_type: str, feature: str) -> Callable[..., OnnxConfig]:
        """The OnnxConfig constructor for ``model_type`` and ``feature``."""
        features = FeaturesManager.get_supported_features_for_model_type(model_type)
        FeaturesManager._check_feature(feature)
        return features[feature]

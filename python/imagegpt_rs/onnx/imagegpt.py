"""``ImageGPTOnnxConfig``: transformers 4.57's ``ImageGPTOnnxConfig`` without transformers."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from .config import OnnxConfig, check_dimension, check_image_processor

__all__ = ["ImageGPTOnnxConfig"]


class ImageGPTOnnxConfig(OnnxConfig):
    """ONNX export metadata of ImageGPT models (``ImageGPTModel``, ``ImageGPTForImageClassification``...).

    Accepts :class:`imagegpt_rs.ImageGPTConfig` or ``transformers.ImageGPTConfig`` (any object with the
    same attributes). Use ``task="default"`` for ``ImageGPTModel`` and ``task="image-classification"`` for
    ``ImageGPTForImageClassification`` (see :class:`imagegpt_rs.onnx.FeaturesManager`).
    """

    # Beyond transformers: element types of the exported graph, used by ``check_onnx_model``.
    input_element_types: Mapping[str, tuple[str, ...]] = {"input_ids": ("int64",)}
    output_element_types: Mapping[str, tuple[str, ...]] = {
        "last_hidden_state": ("float32", "float16"),
        "logits": ("float32", "float16"),
    }

    @property
    def inputs(self) -> Mapping[str, Mapping[int, str]]:
        """``OrderedDict([("input_ids", {0: "batch", 1: "sequence"})])``."""
        return OrderedDict([("input_ids", {0: "batch", 1: "sequence"})])

    # The override's ignore: transformers' ImageGPTOnnxConfig narrows OnnxConfig's signature the same way (no
    # num_choices, sampling_rate, ...; another positional order), and this class mirrors it.
    def generate_dummy_inputs(  # type: ignore[override]
        self,
        preprocessor: Any,
        batch_size: int = 1,
        seq_length: int = -1,
        is_pair: bool = False,
        framework: str | None = None,
        num_channels: int = 3,
        image_width: int = 32,
        image_height: int = 32,
        *,
        seed: int | None = None,
    ) -> dict[str, Any]:
        """Random images run through ``preprocessor``: what transformers 4.57 returns for the same processor.

        Args:
            preprocessor: an ImageGPT image processor (ours or transformers').
            batch_size: number of images (must be >= 1; transformers fails with an IndexError otherwise).
            seq_length: ignored (the sequence length is set by the processor's size), as in transformers.
            is_pair: ignored, as in transformers.
            framework: ``None`` (lists of arrays), ``"np"`` or ``"pt"``: passed to the processor as
                ``return_tensors``.
            num_channels: channels of the random images before conversion to RGB (1 to 4).
            image_width: width of the random images.
            image_height: height of the random images.
            seed: beyond transformers: ``None`` draws from the global ``np.random`` state like transformers;
                an int draws from ``np.random.RandomState(seed)`` (same values as ``np.random.seed(seed)``
                followed by transformers' call) for reproducible inputs.

        Returns:
            ``{"input_ids": ...}`` as the processor returns it.
        """
        check_image_processor(preprocessor)
        batch_size = check_dimension("batch_size", batch_size)
        images = self._generate_dummy_images(batch_size, num_channels, image_height, image_width, seed=seed)
        return dict(preprocessor(images=images, return_tensors=framework))

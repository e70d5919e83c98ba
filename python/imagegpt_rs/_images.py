"""Internal: image inputs as transformers reads them (PIL, NumPy, torch; channel order; 0-1 floats).

Shared by the processor and palette fitting, so both read an image the same way.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from .errors import InputError

__all__ = [
    "channel_format",
    "is_image",
    "is_pil",
    "is_torch",
    "make_list_of_images",
    "needs_rescale_for_pil",
    "parse_format",
    "rescale",
    "to_rgb_hwc",
]

# The processor's logger: the channel-order warnings are the processor's.
logger = logging.getLogger("imagegpt_rs.image_processing")


def is_pil(x: Any) -> bool:
    return type(x).__module__.startswith("PIL.") and hasattr(x, "convert") and hasattr(x, "mode")


def is_torch(x: Any) -> bool:
    return type(x).__module__.startswith("torch") and hasattr(x, "detach")


def is_image(x: Any) -> bool:
    return isinstance(x, np.ndarray) or is_pil(x) or is_torch(x)


def make_list_of_images(images: Any) -> list[Any]:
    """A single image (PIL, array, tensor), a batch array/tensor (4-D) or a list -> a list of images."""
    if isinstance(images, (list, tuple)):
        if len(images) == 0:
            raise InputError("no images: the list of images is empty")
        for i, im in enumerate(images):
            if not is_image(im):
                raise InputError(
                    f"image {i} has type {type(im).__name__}: expected a PIL image, a numpy array or a torch tensor"
                )
        return list(images)
    if is_pil(images):
        return [images]
    if isinstance(images, np.ndarray) or is_torch(images):
        if images.ndim == 4:
            return list(images)
        if images.ndim in (2, 3):
            return [images]
        raise InputError(
            f"Invalid image shape {tuple(images.shape)}: expected (H, W), (H, W, C), (C, H, W) or a "
            "batch of (N, ...) images"
        )
    raise InputError(
        f"Invalid image type {type(images).__name__}: expected a PIL image, a numpy array, a torch "
        "tensor or a list of them"
    )


def channel_format(image: np.ndarray, index: int) -> str:
    """transformers' ``infer_channel_dimension_format`` (channels 1 or 3), plus 'none' for 2-D."""
    if image.ndim == 2:
        return "none"
    if image.ndim != 3:
        raise InputError(f"image {index} has shape {image.shape}: expected 2 or 3 dimensions")
    if image.shape[0] in (1, 3):
        if image.shape[2] in (1, 3):
            # transformers' warning, word for word (image_utils.infer_channel_dimension_format)
            logger.warning(
                f"The channel dimension is ambiguous. Got image shape {image.shape}. Assuming channels are "
                "the first dimension. Use the [input_data_format](https://huggingface.co/docs/transformers/main/"
                "internal/image_processing_utils#transformers.image_transforms.rescale.input_data_format) "
                "parameter to assign the channel dimension."
            )
        return "channels_first"
    if image.shape[2] in (1, 3):
        return "channels_last"
    raise InputError(
        f"image {index} has shape {image.shape}: cannot find a channel axis of size 1 or 3"
        + (
            " (4 channels: drop alpha with image[..., :3] or pass a PIL image, which is converted to RGB)"
            if 4 in (image.shape[0], image.shape[2])
            else ""
        )
    )


def parse_format(fmt: Any) -> str | None:
    if fmt is None:
        return None
    name = getattr(fmt, "value", fmt)
    if name in ("channels_first", "channels_last", "none"):
        return name
    raise ValueError(f"Unsupported data format: {fmt!r} (use 'channels_first' or 'channels_last')")


def to_rgb_hwc(image: Any, fmt: str | None, index: int) -> np.ndarray:
    """One input image -> an (H, W, 3) array in its own dtype, following the rules in the module doc."""
    if type(image) is np.ndarray and fmt == "channels_last" and image.ndim == 3 and image.shape[2] == 3:
        if image.shape[0] == 0 or image.shape[1] == 0:
            raise InputError(f"image {index} is empty: shape {image.shape}")
        if image.dtype.kind not in "uifb":
            raise InputError(f"image {index} has dtype {image.dtype}: expected an integer or float array")
        return image  # the common case, checked without the general path below
    if is_pil(image):
        if image.mode != "RGB":
            image = image.convert("RGB")
        return np.asarray(image)
    if is_torch(image):
        image = image.detach().cpu().numpy()
    arr = np.asarray(image)
    own = fmt if fmt is not None else channel_format(arr, index)
    if arr.ndim == 2 or own == "none":
        if arr.ndim != 2:
            raise InputError(
                f"image {index} has shape {arr.shape} but input_data_format (given, or inferred from image 0) is 'none'"
            )
        arr = arr[:, :, None]
    elif own == "channels_first":
        arr = np.moveaxis(arr, 0, -1)
    if arr.ndim != 3:
        raise InputError(f"image {index} has shape {arr.shape}: expected 2 or 3 dimensions")
    c = arr.shape[-1]
    if c == 1:
        arr = np.repeat(arr, 3, axis=-1)
    elif c != 3:
        raise InputError(
            f"image {index} has {c} channels"
            + (f" as {own} (input_data_format given, or inferred from image 0)" if fmt is not None else "")
            + ": expected 1 or 3"
            + (" (drop alpha with image[..., :3])" if c == 4 else "")
        )
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise InputError(f"image {index} is empty: shape {arr.shape}")
    if arr.dtype.kind not in "uifb":
        raise InputError(f"image {index} has dtype {arr.dtype}: expected an integer or float array")
    return arr


def needs_rescale_for_pil(image: np.ndarray, index: int) -> bool:
    """transformers' ``_rescale_for_pil_conversion``: float images in [0, 1] are scaled by 255."""
    if image.dtype == np.uint8:
        return False
    if np.allclose(image, image.astype(int)):
        if np.all(image >= 0) and np.all(image <= 255):
            return False
        raise InputError(
            f"image {index} contains values outside the range [0, 255], got "
            f"[{image.min()}, {image.max()}] which cannot be converted to uint8"
        )
    if np.all(image >= 0) and np.all(image <= 1):
        return True
    raise InputError(
        f"image {index} contains values outside the range [0, 1], got [{image.min()}, "
        f"{image.max()}] which cannot be converted to uint8"
    )


def rescale(image: np.ndarray, scale: float) -> np.ndarray:
    """transformers' ``rescale``: float64 multiply, then float32."""
    return (image.astype(np.float64) * scale).astype(np.float32)

"""`ImageGPTImageProcessor`: transformers 4.57's ImageGPT image processor, backed by the Rust core.

Semantics follow ``transformers.ImageGPTImageProcessor`` (the slow, NumPy/PIL one) of transformers 4.57:
resize with Pillow's algorithm (our bit-exact Rust port), normalize to [-1, 1] with the same float
arithmetic, then map every pixel to the nearest color cluster with the same rounding as transformers'
NumPy formula, so the ``input_ids`` are identical. Where transformers fails or does something silent
we deliberately differ, and say so here:

- no ``clusters``: the processor uses :func:`imagegpt_rs.palettes.default_palette` (a uniform 8x8x8 RGB
  grid, 512 clusters) and stores it in ``clusters``, so a saved config reproduces the same ids in
  transformers; transformers would fail at preprocessing time instead;
- PIL images of any mode other than RGB (L, LA, RGBA, P, PA, CMYK, I;16, ...) are converted with
  Pillow's own ``Image.convert("RGB")`` (alpha is dropped, not composited); transformers breaks on
  most of them or quantizes garbage;
- grayscale arrays (H, W), (H, W, 1) or (1, H, W) are replicated to three channels (Pillow's resize
  treats channels independently, so this equals resizing first); transformers raises on (H, W) and
  quantizes scrambled pixels for one channel;
- arrays with 4 channels raise :class:`~imagegpt_rs.errors.InputError` (drop alpha yourself with
  ``image[..., :3]`` or pass a PIL image) instead of transformers' "Unable to infer channel dimension";
- images of different sizes without resizing give one id array per image with
  ``return_tensors=None`` (transformers raises).
"""

from __future__ import annotations

import copy
import functools
import json
import logging
import os
import warnings
from typing import Any, Iterable, Sequence

import numpy as np

from .batch_feature import BatchFeature
from .errors import ConfigValidationError, InputError

__all__ = ["ImageGPTImageProcessor", "PREPROCESSOR_CONFIG_NAME", "processor_config_violations"]

logger = logging.getLogger(__name__)

PREPROCESSOR_CONFIG_NAME = "preprocessor_config.json"
_VALID_SIZE_KEYS = (
    {"height", "width"},
    {"shortest_edge"},
    {"shortest_edge", "longest_edge"},
    {"longest_edge"},
    {"max_height", "max_width"},
)
# Keys transformers' ImageGPT to_dict() blanks out when present.
_BLANKED_KEYS = ("image_mean", "image_std", "rescale_factor", "do_rescale")
# Our own settings, kept out of to_dict() so that saved files stay transformers' files.
_PRIVATE_PREFIX = "_igr_"


def get_size_dict(size: Any, param_name: str = "size") -> dict[str, int]:
    """Normalizes ``size`` as transformers' ``get_size_dict`` does (int -> square, (h, w) -> dict)."""
    if isinstance(size, dict):
        size_dict = dict(size)
    elif isinstance(size, int) and not isinstance(size, bool):
        size_dict = {"height": size, "width": size}
    elif isinstance(size, (tuple, list)) and len(size) >= 2:
        size_dict = {"height": size[0], "width": size[1]}
    else:
        raise ValueError(f"Could not convert {param_name} input to size dict: {size!r}")
    if set(size_dict) not in _VALID_SIZE_KEYS:
        raise ValueError(
            f"{param_name} must have one of the following set of keys: "
            f"{[sorted(k) for k in _VALID_SIZE_KEYS]}, got {list(size_dict)}"
        )
    return size_dict


def _check_size(size: dict[str, int]) -> tuple[int, int]:
    if "height" not in size or "width" not in size:
        raise ValueError(
            f"The `size` dictionary must contain the keys `height` and `width`. Got {size.keys()}"
        )
    problems = []
    for key in ("height", "width"):
        v = size[key]
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            problems.append((f"size.{key}", repr(v), "must be an integer >= 1"))
    if problems:
        raise ConfigValidationError.from_violations("ImageGPTImageProcessor", problems)
    return int(size["height"]), int(size["width"])


@functools.lru_cache(maxsize=8)
def _quantizer_for(dtype: str, shape: tuple[int, ...], data: bytes) -> Any:
    from .quantization import ColorQuantizer

    clusters = np.frombuffer(data, dtype=np.dtype(dtype)).reshape(shape)
    return ColorQuantizer(clusters)


def quantizer_for(clusters: np.ndarray) -> Any:
    """A cached :class:`~imagegpt_rs.ColorQuantizer` for these clusters (keeps the lookup table warm)."""
    c = np.ascontiguousarray(clusters)
    return _quantizer_for(c.dtype.str, c.shape, c.tobytes())


# float32(float64(p) * (1 / 127.5)) - 1, as transformers' rescale + "- 1" computes it for uint8 pixels.
_NORMALIZED_U8 = (np.arange(256, dtype=np.float64) * (1 / 127.5)).astype(np.float32) - np.float32(1)


def _is_pil(x: Any) -> bool:
    return type(x).__module__.startswith("PIL.") and hasattr(x, "convert") and hasattr(x, "mode")


def _is_torch(x: Any) -> bool:
    return type(x).__module__.startswith("torch") and hasattr(x, "detach")


def _is_image(x: Any) -> bool:
    return isinstance(x, np.ndarray) or _is_pil(x) or _is_torch(x)


def make_list_of_images(images: Any) -> list[Any]:
    """A single image (PIL, array, tensor), a batch array/tensor (4-D) or a list -> a list of images."""
    if isinstance(images, (list, tuple)):
        if len(images) == 0:
            raise InputError("no images: the list of images is empty")
        for i, im in enumerate(images):
            if not _is_image(im):
                raise InputError(
                    f"image {i} has type {type(im).__name__}: expected a PIL image, a numpy array or "
                    "a torch tensor"
                )
        return list(images)
    if _is_pil(images):
        return [images]
    if isinstance(images, np.ndarray) or _is_torch(images):
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


def _channel_format(image: np.ndarray, index: int) -> str:
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
            " (4 channels: drop alpha with image[..., :3] or pass a PIL image, which is converted "
            "to RGB)"
            if 4 in (image.shape[0], image.shape[2])
            else ""
        )
    )


def _parse_format(fmt: Any) -> str | None:
    if fmt is None:
        return None
    name = getattr(fmt, "value", fmt)
    if name in ("channels_first", "channels_last", "none"):
        return name
    raise ValueError(f"Unsupported data format: {fmt!r} (use 'channels_first' or 'channels_last')")


def _to_rgb_hwc(image: Any, fmt: str | None, index: int) -> np.ndarray:
    """One input image -> an (H, W, 3) array in its own dtype, following the rules in the module doc."""
    if type(image) is np.ndarray and fmt == "channels_last" and image.ndim == 3 and image.shape[2] == 3:
        if image.shape[0] == 0 or image.shape[1] == 0:
            raise InputError(f"image {index} is empty: shape {image.shape}")
        if image.dtype.kind not in "uifb":
            raise InputError(f"image {index} has dtype {image.dtype}: expected an integer or float array")
        return image  # the common case, checked without the general path below
    if _is_pil(image):
        if image.mode != "RGB":
            image = image.convert("RGB")
        return np.asarray(image)
    if _is_torch(image):
        image = image.detach().cpu().numpy()
    arr = np.asarray(image)
    own = fmt if fmt is not None else _channel_format(arr, index)
    if arr.ndim == 2 or own == "none":
        if arr.ndim != 2:
            raise InputError(f"image {index} has shape {arr.shape} but input_data_format (given, or inferred from image 0) is 'none'")
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


def _needs_rescale_for_pil(image: np.ndarray, index: int) -> bool:
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


def _rescale(image: np.ndarray, scale: float) -> np.ndarray:
    """transformers' ``rescale``: float64 multiply, then float32."""
    return (image.astype(np.float64) * scale).astype(np.float32)


def _filter_out_non_signature_kwargs(func: Any) -> Any:
    """Drops keyword arguments ``func`` does not take, with the ``UserWarning`` transformers 4.57 issues.

    transformers decorates ``ImageGPTImageProcessor.preprocess`` with ``filter_out_non_signature_kwargs()``:
    an unknown keyword (``processor(images, extra_argument=1)``) is ignored after a warning naming it, and the
    function carries ``_filter_out_non_signature_kwargs = True`` (its common tests look for that mark).
    """
    import inspect

    valid = set(inspect.signature(func).parameters)
    func._filter_out_non_signature_kwargs = True

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        invalid = [k for k in kwargs if k not in valid]
        if invalid:
            names = ", ".join(f"'{k}'" for k in invalid)
            warnings.warn(
                f"The following named arguments are not valid for `{type(args[0]).__name__}.{func.__name__}`"
                f" and were ignored: {names}",
                UserWarning,
                stacklevel=2,
            )
            kwargs = {k: v for k, v in kwargs.items() if k in valid}
        return func(*args, **kwargs)

    return wrapper


def _reference_color_quantize(x: np.ndarray, clusters: np.ndarray) -> np.ndarray:
    """transformers' NumPy formula, for the rare inputs the Rust paths do not take (integer pixels
    that were not normalized); it keeps NumPy's integer arithmetic, wrap-around included."""
    x = x.reshape(-1, 3)
    a2 = np.sum(np.square(x), axis=1)
    ab = np.matmul(x, clusters.T)
    b2 = np.sum(np.square(clusters.T), axis=0)
    return np.argmin(a2[:, None] - 2 * ab + b2[None, :], axis=1)


def processor_config_violations(config: dict[str, Any]) -> list[tuple[str, str, str]]:
    """Every problem of a ``preprocessor_config.json`` dict, as ``(field, value, rule)`` tuples.

    Checks the fields ImageGPT's processor reads: ``clusters`` (shape (K, 3), 1 <= K <= 65535, finite),
    ``size`` (a valid size dict with positive integers), ``resample`` (a Pillow filter 0-5), and the
    ``do_*`` flags (booleans). An empty list means the config is usable.
    """
    out: list[tuple[str, str, str]] = []

    def short(v: Any) -> str:
        text = repr(v)
        return text if len(text) <= 60 else text[:57] + "..."

    clusters = config.get("clusters")
    if clusters is not None:
        try:
            arr = np.asarray(clusters, dtype=np.float64)
        except (TypeError, ValueError):
            out.append(("clusters", short(clusters), "must be a (n_clusters, 3) array of numbers"))
        else:
            if arr.ndim != 2 or arr.shape[1] != 3:
                out.append(("clusters", f"shape {arr.shape}", "must have shape (n_clusters, 3)"))
            elif not 1 <= arr.shape[0] <= 65535:
                out.append(("clusters", f"{arr.shape[0]} clusters", "must hold 1 to 65535 clusters"))
            elif not np.isfinite(arr).all():
                r, c = map(int, np.argwhere(~np.isfinite(arr))[0])
                out.append((f"clusters[{r}][{c}]", repr(float(arr[r, c])), "must be finite"))
    if "size" in config:
        size = config["size"]
        try:
            sd = get_size_dict(size)
        except ValueError as err:
            out.append(("size", short(size), str(err)))
        else:
            for key, v in sd.items():
                if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                    out.append((f"size.{key}", short(v), "must be an integer >= 1"))
            if config.get("do_resize", True) and not {"height", "width"} <= set(sd):
                out.append(("size", short(size), "must have height and width when do_resize is true"))
    if "resample" in config:
        r = config["resample"]
        if isinstance(r, bool) or not isinstance(r, int) or not 0 <= r <= 5:
            out.append(("resample", short(r), "must be a Pillow filter number 0-5 (NEAREST..HAMMING)"))
    for flag in ("do_resize", "do_normalize", "do_color_quantize"):
        if flag in config and not isinstance(config[flag], bool):
            out.append((flag, short(config[flag]), "must be a bool (true or false)"))
    return out


class ImageGPTImageProcessor:
    r"""Resizes, normalizes and color-quantizes images into ImageGPT ``input_ids``.

    Args:
        clusters: color clusters, shape (n_clusters, 3), in the normalized [-1, 1] space. ``None``
            uses the built-in 512-color grid (:func:`imagegpt_rs.palettes.default_palette`).
        do_resize: resize to ``size`` first (Pillow-exact, in Rust).
        size: ``{"height": h, "width": w}``, an int (square) or ``(h, w)``; default 256x256.
        resample: a Pillow filter number (``PIL.Image.Resampling``), default BILINEAR (2).
        do_normalize: scale pixels to [-1, 1].
        do_color_quantize: map pixels to cluster indices (``input_ids``); otherwise return
            ``pixel_values``.
        pillow_compat: 12 or 13 (or "12.1"): which Pillow's pass order to reproduce (default: the
            installed Pillow's, or 13 without Pillow). Not saved in the config.
        num_threads: threads for batch preprocessing (default: all cores). Not saved in the config.
        **kwargs: kept as attributes, as transformers does.

    Example:
        >>> from imagegpt_rs import ImageGPTImageProcessor
        >>> processor = ImageGPTImageProcessor(size=32)            # built-in palette
        >>> batch = processor(images, return_tensors="np")         # doctest: +SKIP
        >>> batch.input_ids.shape                                   # doctest: +SKIP
        (len(images), 1024)
    """

    model_input_names = ["pixel_values"]

    def __init__(
        self,
        clusters: Sequence[Sequence[float]] | np.ndarray | None = None,
        do_resize: bool = True,
        size: dict[str, int] | int | None = None,
        resample: int = 2,
        do_normalize: bool = True,
        do_color_quantize: bool = True,
        **kwargs: Any,
    ) -> None:
        pillow_compat = kwargs.pop("pillow_compat", None)
        from .quantization import check_num_threads

        num_threads = check_num_threads(kwargs.pop("num_threads", None))
        kwargs.pop("feature_extractor_type", None)
        self._processor_class = kwargs.pop("processor_class", None)
        for key, value in kwargs.items():
            setattr(self, key, value)
        size = size if size is not None else {"height": 256, "width": 256}
        if clusters is None:
            from .palettes import default_palette

            clusters = default_palette()
        self.clusters = np.array(clusters)
        self.do_resize = do_resize
        self.size = get_size_dict(size)
        self.resample = resample
        self.do_normalize = do_normalize
        self.do_color_quantize = do_color_quantize
        setattr(self, _PRIVATE_PREFIX + "pillow_compat", pillow_compat)
        setattr(self, _PRIVATE_PREFIX + "num_threads", num_threads)
        if self.do_resize:
            _check_size(self.size)

    # ------------------------------------------------------------------ transforms
    @property
    def is_fast(self) -> bool:
        """transformers' flag for torchvision-backed processors: this one is not (it is faster)."""
        return False

    @property
    def quantizer(self) -> Any:
        """The :class:`~imagegpt_rs.ColorQuantizer` of the current ``clusters`` (cached)."""
        return quantizer_for(np.asarray(self.clusters))

    def resize(
        self,
        image: np.ndarray,
        size: dict[str, int] | int,
        resample: int = 2,
        data_format: Any = None,
        input_data_format: Any = None,
        **kwargs: Any,
    ) -> np.ndarray:
        """Resizes one image to ``(size["height"], size["width"])`` exactly as Pillow would."""
        h, w = _check_size(get_size_dict(size))
        fmt = _parse_format(input_data_format)
        arr = np.asarray(image)
        own = fmt if fmt is not None else _channel_format(arr, 0)
        hwc = np.moveaxis(arr, 0, -1) if own == "channels_first" else arr
        if hwc.ndim == 2:
            hwc = hwc[:, :, None]
        out = self._resize_hwc(hwc, h, w, resample, 0)
        out_fmt = _parse_format(data_format) or own
        return np.moveaxis(out, -1, 0) if out_fmt == "channels_first" else out

    def _resize_hwc(self, hwc: np.ndarray, h: int, w: int, resample: int, index: int) -> np.ndarray:
        from .resampling import resize as pillow_resize

        rescaled = _needs_rescale_for_pil(hwc, index)
        if rescaled:
            u8 = _rescale(hwc, 255).astype(np.uint8)
        else:
            u8 = hwc.astype(np.uint8, copy=False)
        compat = getattr(self, _PRIVATE_PREFIX + "pillow_compat", None)
        out = pillow_resize(u8, (h, w), int(resample), pillow_compat=compat)
        if out.ndim == 2:
            out = out[:, :, None]
        return _rescale(out, 1 / 255) if rescaled else out

    def normalize(self, image: np.ndarray, data_format: Any = None, input_data_format: Any = None) -> np.ndarray:
        """Scales pixel values to [-1, 1]: ``float32(x * (1/127.5)) - 1`` as transformers computes it."""
        arr = np.asarray(image)
        if arr.dtype == np.uint8:
            out = _NORMALIZED_U8[arr]
        else:
            out = _rescale(arr, 1 / 127.5) - 1
        fmt, in_fmt = _parse_format(data_format), _parse_format(input_data_format)
        if fmt and in_fmt and fmt != in_fmt and arr.ndim == 3:
            out = np.moveaxis(out, 0, -1) if in_fmt == "channels_first" else np.moveaxis(out, -1, 0)
        return out

    # ------------------------------------------------------------------ preprocess
    def __call__(self, images: Any, **kwargs: Any) -> BatchFeature:
        """Preprocesses an image or a batch of images (see :meth:`preprocess`)."""
        return self.preprocess(images, **kwargs)

    @_filter_out_non_signature_kwargs
    def preprocess(
        self,
        images: Any,
        do_resize: bool | None = None,
        size: dict[str, int] | int | None = None,
        resample: int | None = None,
        do_normalize: bool | None = None,
        do_color_quantize: bool | None = None,
        clusters: Sequence[Sequence[float]] | np.ndarray | None = None,
        return_tensors: str | None = None,
        data_format: Any = "channels_first",
        input_data_format: Any = None,
    ) -> BatchFeature:
        """Turns images into ``input_ids`` (or ``pixel_values`` when not quantizing).

        Every argument overrides the processor's setting for this call. ``return_tensors``: None
        (a list of arrays), "np" or "pt". ``data_format`` applies to ``pixel_values`` only.
        """
        do_resize = self.do_resize if do_resize is None else do_resize
        size = get_size_dict(self.size if size is None else size)
        resample = self.resample if resample is None else resample
        do_normalize = self.do_normalize if do_normalize is None else do_normalize
        do_color_quantize = self.do_color_quantize if do_color_quantize is None else do_color_quantize
        clusters = np.array(self.clusters if clusters is None else clusters)

        image_list = make_list_of_images(images)
        if do_resize and (size is None or resample is None):
            raise ValueError("`size` and `resample` must be specified if `do_resize` is `True`.")
        if do_resize:
            h, w = _check_size(size)
        in_fmt = _parse_format(input_data_format)
        if in_fmt is None and not _is_pil(image_list[0]):
            first = image_list[0]
            first = first.detach().cpu().numpy() if _is_torch(first) else np.asarray(first)
            in_fmt = _channel_format(first, 0)

        arrays = [_to_rgb_hwc(image, None if _is_pil(image) else in_fmt, i) for i, image in enumerate(image_list)]
        if (
            do_resize
            and do_normalize
            and do_color_quantize
            and clusters.ndim == 2
            and all(a.dtype == np.uint8 for a in arrays)
        ):
            # The whole batch in one native call: resize + quantize per image, in parallel, GIL released.
            ids = self._encode_uint8(arrays, clusters, h, w, resample)
            # Already one (N, H*W) array: hand it over whole when a tensor is asked for (no restacking).
            return BatchFeature({"input_ids": ids if return_tensors else list(ids)}, tensor_type=return_tensors)
        if do_resize:
            arrays = [self._resize_hwc(arr, h, w, resample, i) for i, arr in enumerate(arrays)]

        if do_color_quantize:
            ids = self._quantize(arrays, clusters, do_normalize)
            return BatchFeature({"input_ids": ids}, tensor_type=return_tensors)

        out_fmt = _parse_format(data_format)
        values = []
        for arr in arrays:
            if do_normalize:
                arr = self.normalize(arr)
            values.append(np.moveaxis(arr, -1, 0) if out_fmt == "channels_first" else arr)
        return BatchFeature({"pixel_values": values}, tensor_type=return_tensors)

    def _encode_uint8(self, arrays: list[np.ndarray], clusters: np.ndarray, h: int, w: int, resample: Any) -> np.ndarray:
        from . import _native
        from .resampling import _compat_version, _filter_code

        job = _native.EncodeJob(
            quantizer_for(clusters)._native,
            h,
            w,
            _filter_code(resample),
            _compat_version(getattr(self, _PRIVATE_PREFIX + "pillow_compat", None)),
            "int64",
            getattr(self, _PRIVATE_PREFIX + "num_threads", None),
        )
        ids, ok, failures = job.run_arrays(arrays)
        if failures:
            index, reason = failures[0]
            raise InputError(f"image {index}: {reason}")
        return ids

    def _quantize(self, arrays: list[np.ndarray], clusters: np.ndarray, do_normalize: bool) -> list[np.ndarray]:
        if clusters.ndim != 2 or clusters.shape[-1] != 3:
            from .errors import PaletteError

            raise PaletteError(f"clusters must have shape (n_clusters, 3), got {clusters.shape}")
        # transformers stacks the batch into one array and quantizes it in one matrix product: the
        # batch's dtype decides the arithmetic, and so does its row count (a batch of 1x1 images is
        # many rows, not one), so a batch of equal shapes is quantized stacked, as there.
        dtype = np.result_type(*[a.dtype for a in arrays])
        if do_normalize and dtype == np.uint8:
            q = quantizer_for(clusters)

            def one(a: np.ndarray) -> np.ndarray:
                return q.quantize(a)

        elif do_normalize:
            q = quantizer_for(clusters)

            def one(a: np.ndarray) -> np.ndarray:
                x = a.astype(dtype, copy=False)
                x = _NORMALIZED_U8[x] if x.dtype == np.uint8 else _rescale(x, 1 / 127.5) - 1
                return q.quantize_normalized(x)

        elif dtype.kind == "f":
            q = quantizer_for(clusters)

            def one(a: np.ndarray) -> np.ndarray:
                return q.quantize_normalized(a.astype(dtype, copy=False))

        else:

            def one(a: np.ndarray) -> np.ndarray:
                return _reference_color_quantize(a.astype(dtype, copy=False), clusters)

        if len(arrays) > 1 and all(a.shape == arrays[0].shape for a in arrays):
            stacked = np.stack([a.astype(dtype, copy=False) for a in arrays])
            return list(one(stacked).reshape(len(arrays), -1))
        # Shapes differ (transformers cannot stack them and fails): one image at a time.
        return [one(a).reshape(-1) for a in arrays]

    def encode_files(self, paths: Iterable[Any], **kwargs: Any) -> Any:
        """Decodes, resizes and quantizes image files in parallel with this processor's settings;
        see :func:`imagegpt_rs.encoding.encode_files` for the options and the result."""
        from .encoding import encode_files

        return encode_files(paths, self, **kwargs)

    def decode(self, input_ids: Any, size: dict[str, int] | int | tuple[int, int] | None = None) -> np.ndarray:
        """Token ids back to uint8 RGB images (each pixel the color of its cluster).

        ``input_ids`` of shape (N, H*W) or (H*W,) are reshaped to ``size`` (default: the processor's
        size); (N, H, W) and (H, W) keep their shape. Returns (..., H, W, 3) uint8.
        """
        ids = np.asarray(input_ids.detach().cpu().numpy() if _is_torch(input_ids) else input_ids)
        if ids.ndim in (1, 2) and not (ids.ndim == 2 and size is None and ids.shape[-1] != self._pixels()):
            h, w = _check_size(get_size_dict(self.size if size is None else size))
            if ids.shape[-1] != h * w:
                raise InputError(
                    f"input_ids have {ids.shape[-1]} tokens per image but size is {h}x{w} = {h * w}: "
                    "pass size=(height, width)"
                )
            ids = ids.reshape(ids.shape[:-1] + (h, w))
        return self.quantizer.decode(ids)

    def _pixels(self) -> int:
        return int(self.size.get("height", 0)) * int(self.size.get("width", 0))

    # ------------------------------------------------------------------ serialization
    def to_dict(self) -> dict[str, Any]:
        """The config as transformers' ``to_dict`` gives it (clusters as nested lists)."""
        output = {k: copy.deepcopy(v) for k, v in self.__dict__.items() if not k.startswith(_PRIVATE_PREFIX)}
        output["image_processor_type"] = type(self).__name__
        if isinstance(output.get("clusters"), np.ndarray):
            output["clusters"] = output["clusters"].tolist()
        for key in _BLANKED_KEYS:
            if key in output:
                output[key] = None
        return output

    def to_json_string(self) -> str:
        """JSON text as transformers writes ``preprocessor_config.json`` (sorted keys, indent 2)."""
        d = self.to_dict()
        for key, value in d.items():
            if isinstance(value, np.ndarray):
                d[key] = value.tolist()
        processor_class = d.pop("_processor_class", None)
        if processor_class is not None:
            d["processor_class"] = processor_class
        return json.dumps(d, indent=2, sort_keys=True, default=_json_default) + "\n"

    def to_json_file(self, json_file_path: str | os.PathLike[str]) -> None:
        """Writes :meth:`to_json_string` to a file."""
        with open(json_file_path, "w", encoding="utf-8") as f:
            f.write(self.to_json_string())

    def save_pretrained(self, save_directory: str | os.PathLike[str], **kwargs: Any) -> list[str]:
        """Writes ``preprocessor_config.json`` into ``save_directory`` (created if needed)."""
        if os.path.isfile(save_directory):
            raise AssertionError(f"Provided path ({save_directory}) should be a directory, not a file")
        os.makedirs(save_directory, exist_ok=True)
        path = os.path.join(save_directory, PREPROCESSOR_CONFIG_NAME)
        self.to_json_file(path)
        return [path]

    @classmethod
    def from_dict(cls, image_processor_dict: dict[str, Any], **kwargs: Any) -> Any:
        """Builds a processor from a dict; ``kwargs`` override attributes (``return_unused_kwargs``
        returns the ones that matched nothing), as transformers does."""
        d = dict(image_processor_dict)
        d.pop("image_processor_type", None)
        return_unused = kwargs.pop("return_unused_kwargs", False)
        if "size" in kwargs and "size" in d:
            d["size"] = kwargs.pop("size")
        processor = cls(**d)
        for key in [k for k in kwargs if hasattr(processor, k)]:
            setattr(processor, key, kwargs.pop(key))
        return (processor, kwargs) if return_unused else processor

    @classmethod
    def from_json_file(cls, json_file: str | os.PathLike[str]) -> "ImageGPTImageProcessor":
        """Loads a ``preprocessor_config.json``; a malformed file names the file, line and column."""
        return cls(**_read_json(json_file))

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: str | os.PathLike[str], **kwargs: Any) -> Any:
        """Loads from a directory holding ``preprocessor_config.json``, a JSON file, or a Hub id
        (through ``huggingface_hub`` when it is installed and online)."""
        path = os.fspath(pretrained_model_name_or_path)
        hub_kwargs = {k: kwargs.pop(k) for k in ("revision", "cache_dir", "token", "local_files_only") if k in kwargs}
        subfolder = kwargs.pop("subfolder", "")
        if os.path.isdir(path):
            file = os.path.join(path, subfolder, PREPROCESSOR_CONFIG_NAME)
        elif os.path.isfile(path):
            file = path
        else:
            try:
                from huggingface_hub import hf_hub_download
            except ImportError as err:
                raise OSError(
                    f"{path!r} is not a local directory or file, and huggingface_hub is not installed "
                    "to fetch it from the Hub (pip install huggingface_hub)"
                ) from err
            file = hf_hub_download(path, PREPROCESSOR_CONFIG_NAME, subfolder=subfolder or None, **hub_kwargs)
        if not os.path.isfile(file):
            raise OSError(f"no {PREPROCESSOR_CONFIG_NAME} in {path!r}")
        return cls.from_dict(_read_json(file), **kwargs)

    def __repr__(self) -> str:
        return f"{type(self).__name__} {self.to_json_string()}"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ImageGPTImageProcessor):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]

    # ------------------------------------------------------------------ interop
    def to_transformers(self) -> Any:
        """The same processor as a transformers 4.57/5.x ``ImageGPTImageProcessor`` (slow, PIL)."""
        from transformers import ImageGPTImageProcessor as TfProcessor

        return TfProcessor.from_dict(self.to_dict())

    @classmethod
    def from_transformers(cls, processor: Any) -> "ImageGPTImageProcessor":
        """Our processor from a transformers ``ImageGPTImageProcessor`` (slow or fast)."""
        return cls.from_dict(processor.to_dict())


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _read_json(path: str | os.PathLike[str]) -> dict[str, Any]:
    with open(path, encoding="utf-8") as f:
        text = f.read()
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise ConfigValidationError(
            f"{os.fspath(path)}: invalid JSON at line {err.lineno}, column {err.colno}: {err.msg}"
        ) from err
    if not isinstance(data, dict):
        raise ConfigValidationError(f"{os.fspath(path)}: expected a JSON object, got {type(data).__name__}")
    return data

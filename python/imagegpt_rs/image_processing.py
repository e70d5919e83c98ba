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
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from ._images import (
    channel_format,
    is_pil,
    is_torch,
    make_list_of_images,
    needs_rescale_for_pil,
    parse_format,
    rescale,
    to_rgb_hwc,
)
from ._io import hub_download, read_json_file
from ._jobs import EncodeOptions, array_job, check_size, encode_paths, filter_code, get_size_dict
from .batch_feature import BatchFeature
from .errors import InputError

__all__ = ["ImageGPTImageProcessor", "PREPROCESSOR_CONFIG_NAME", "processor_config_violations"]

logger = logging.getLogger(__name__)

PREPROCESSOR_CONFIG_NAME = "preprocessor_config.json"
# Keys transformers' ImageGPT to_dict() blanks out when present.
_BLANKED_KEYS = ("image_mean", "image_std", "rescale_factor", "do_rescale")
# Our own settings, kept out of to_dict() so that saved files stay transformers' files.
_PRIVATE_PREFIX = "_igr_"


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
            check_size(self.size)

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
        h, w = check_size(get_size_dict(size))
        fmt = parse_format(input_data_format)
        arr = np.asarray(image)
        own = fmt if fmt is not None else channel_format(arr, 0)
        hwc = np.moveaxis(arr, 0, -1) if own == "channels_first" else arr
        if hwc.ndim == 2:
            hwc = hwc[:, :, None]
        out = self._resize_hwc(hwc, h, w, resample, 0)
        out_fmt = parse_format(data_format) or own
        return np.moveaxis(out, -1, 0) if out_fmt == "channels_first" else out

    def _resize_hwc(self, hwc: np.ndarray, h: int, w: int, resample: int, index: int) -> np.ndarray:
        from .resampling import resize as pillow_resize

        rescaled = needs_rescale_for_pil(hwc, index)
        if rescaled:
            u8 = rescale(hwc, 255).astype(np.uint8)
        else:
            u8 = hwc.astype(np.uint8, copy=False)
        compat = getattr(self, _PRIVATE_PREFIX + "pillow_compat", None)
        out = pillow_resize(u8, (h, w), filter_code(resample), pillow_compat=compat)
        if out.ndim == 2:
            out = out[:, :, None]
        return rescale(out, 1 / 255) if rescaled else out

    def normalize(self, image: np.ndarray, data_format: Any = None, input_data_format: Any = None) -> np.ndarray:
        """Scales pixel values to [-1, 1]: ``float32(x * (1/127.5)) - 1`` as transformers computes it."""
        arr = np.asarray(image)
        if arr.dtype == np.uint8:
            out = _NORMALIZED_U8[arr]
        else:
            out = rescale(arr, 1 / 127.5) - 1
        fmt, in_fmt = parse_format(data_format), parse_format(input_data_format)
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
            h, w = check_size(size)
        in_fmt = parse_format(input_data_format)
        if in_fmt is None and not is_pil(image_list[0]):
            first = image_list[0]
            first = first.detach().cpu().numpy() if is_torch(first) else np.asarray(first)
            in_fmt = channel_format(first, 0)

        arrays = [to_rgb_hwc(image, None if is_pil(image) else in_fmt, i) for i, image in enumerate(image_list)]
        if (
            do_resize
            and do_normalize
            and do_color_quantize
            and clusters.ndim == 2
            and all(a.dtype == np.uint8 for a in arrays)
        ):
            # The whole batch in one native call: resize + quantize per image, in parallel, GIL released.
            batch_ids = self._encode_uint8(arrays, clusters, h, w, resample)
            # Already one (N, H*W) array: hand it over whole when a tensor is asked for (no restacking).
            return BatchFeature(
                {"input_ids": batch_ids if return_tensors else list(batch_ids)}, tensor_type=return_tensors
            )
        if do_resize:
            arrays = [self._resize_hwc(arr, h, w, resample, i) for i, arr in enumerate(arrays)]

        if do_color_quantize:
            ids = self._quantize(arrays, clusters, do_normalize)
            return BatchFeature({"input_ids": ids}, tensor_type=return_tensors)

        out_fmt = parse_format(data_format)
        values = []
        for arr in arrays:
            if do_normalize:
                arr = self.normalize(arr)
            values.append(np.moveaxis(arr, -1, 0) if out_fmt == "channels_first" else arr)
        return BatchFeature({"pixel_values": values}, tensor_type=return_tensors)

    def _encode_uint8(
        self, arrays: list[np.ndarray], clusters: np.ndarray, h: int, w: int, resample: Any
    ) -> np.ndarray:
        job = array_job(
            quantizer_for(clusters),
            h,
            w,
            resample,
            getattr(self, _PRIVATE_PREFIX + "pillow_compat", None),
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
                x = _NORMALIZED_U8[x] if x.dtype == np.uint8 else rescale(x, 1 / 127.5) - 1
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
        return encode_paths(paths, self, EncodeOptions(**kwargs))

    def decode(self, input_ids: Any, size: dict[str, int] | int | tuple[int, int] | None = None) -> np.ndarray:
        """Token ids back to uint8 RGB images (each pixel the color of its cluster).

        ``input_ids`` of shape (N, H*W) or (H*W,) are reshaped to ``size`` (default: the processor's
        size); (N, H, W) and (H, W) keep their shape. Returns (..., H, W, 3) uint8.
        """
        ids = np.asarray(input_ids.detach().cpu().numpy() if is_torch(input_ids) else input_ids)
        if ids.ndim in (1, 2) and not (ids.ndim == 2 and size is None and ids.shape[-1] != self._pixels()):
            h, w = check_size(get_size_dict(self.size if size is None else size))
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
    def from_json_file(cls, json_file: str | os.PathLike[str]) -> ImageGPTImageProcessor:
        """Loads a ``preprocessor_config.json``; a malformed file names the file, line and column."""
        return cls(**read_json_file(json_file))

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
            file = hub_download(path, PREPROCESSOR_CONFIG_NAME, subfolder=subfolder, **hub_kwargs)
        if not os.path.isfile(file):
            raise OSError(f"no {PREPROCESSOR_CONFIG_NAME} in {path!r}")
        return cls.from_dict(read_json_file(file), **kwargs)

    def __repr__(self) -> str:
        return f"{type(self).__name__} {self.to_json_string()}"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ImageGPTImageProcessor):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]  # unhashable: mutable, and __eq__ compares the settings

    # ------------------------------------------------------------------ interop
    def to_transformers(self) -> Any:
        """The same processor as a transformers 4.57/5.x ``ImageGPTImageProcessor`` (slow, PIL)."""
        from transformers import ImageGPTImageProcessor as TfProcessor

        return TfProcessor.from_dict(self.to_dict())

    @classmethod
    def from_transformers(cls, processor: Any) -> ImageGPTImageProcessor:
        """Our processor from a transformers ``ImageGPTImageProcessor`` (slow or fast)."""
        return cls.from_dict(processor.to_dict())


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def as_image_processor(processor: Any) -> ImageGPTImageProcessor:
    """An :class:`ImageGPTImageProcessor` from one, a saved one's path or Hub id, anything with a
    ``to_dict`` (a transformers processor), or None (the built-in palette at 32x32)."""
    if processor is None:
        return ImageGPTImageProcessor(size=32)
    if isinstance(processor, (str, os.PathLike)):
        return ImageGPTImageProcessor.from_pretrained(processor)
    if not isinstance(processor, ImageGPTImageProcessor):
        if hasattr(processor, "to_dict"):
            return ImageGPTImageProcessor.from_dict(processor.to_dict())
        raise TypeError(f"processor must be an ImageGPTImageProcessor or a path, got {type(processor).__name__}")
    return processor

"""Fit a color palette (ImageGPT's color clusters) to your own images.

ImageGPT's 512 clusters are k-means centers of ImageNet pixels in the normalized space
``x / 127.5 - 1``. :func:`fit_palette` does the same for any images, in the Rust core: the pixels are
counted into a histogram of distinct uint8 colors, and a weighted k-means over the distinct colors
(greedy k-means++ initialization, Lloyd iterations with scikit-learn's stopping rules, pruned with
triangle-inequality bounds) gives exactly the clustering of the pixels themselves, at a cost that
depends on the number of distinct colors rather than on the number of pixels.

The result, a :class:`PaletteFit`, turns into an :class:`~imagegpt_rs.ImageGPTImageProcessor`
(``.processor()``), a matching :class:`~imagegpt_rs.ImageGPTConfig` (``.model_config()``: vocab_size
= clusters + 1) and a directory transformers loads (``.save(dir)``).

Example:
    >>> from imagegpt_rs import fit_palette
    >>> fit = fit_palette("photos/", n_clusters=512, size=32, max_pixels=10_000_000)  # doctest: +SKIP
    >>> fit.save("my-palette")                                                      # doctest: +SKIP
    >>> # imagegpt-rs encode more_photos/ -o tokens/ --config my-palette
"""

from __future__ import annotations

import dataclasses
import os
import warnings
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from .errors import InputError, PaletteError

__all__ = ["PaletteFit", "fit_palette", "color_histogram", "kmeans"]

#: ``progress(stage, done, total)``: stage is ``"images"`` (images read), ``"init"`` (initial
#: centers chosen) or ``"iteration"`` (Lloyd iterations run, out of ``max_iter``).
ProgressCallback = Callable[[str, int, int], Any]

_MAX_CLUSTERS = 1 << 16


@dataclasses.dataclass(frozen=True, eq=False)
class PaletteFit:
    """A fitted palette.

    Attributes:
        clusters: float64 array (n_clusters, 3) in the normalized [-1, 1] space, the
            ``clusters`` of an ImageGPT image processor.
        inertia: sum over the sampled pixels of the squared distance to the nearest cluster
            (normalized space).
        n_iter: Lloyd iterations run (0 when there were no more distinct colors than clusters).
        converged: whether a stopping rule (no label changed, or center shift within ``tol``)
            ended the fit before ``max_iter``.
        n_pixels: pixels the palette was fitted on (after resizing and subsampling).
        n_distinct_colors: distinct colors among them. When it is below ``n_clusters`` the
            palette is those colors (most frequent first) repeated to fill ``n_clusters`` rows.
        size: the ``(height, width)`` images were resized to before taking pixels, or None.
    """

    clusters: np.ndarray
    inertia: float
    n_iter: int
    converged: bool
    n_pixels: int
    n_distinct_colors: int
    size: tuple[int, int] | None = None

    @property
    def n_clusters(self) -> int:
        """Number of clusters (rows of :attr:`clusters`)."""
        return int(self.clusters.shape[0])

    def processor(self, **kwargs: Any) -> Any:
        """An :class:`~imagegpt_rs.ImageGPTImageProcessor` with these clusters.

        ``size`` defaults to the size the palette was fitted at, else 32x32 (ImageGPT's checkpoints'
        size; the processor's own default, 256x256, would make 65536-token sequences); every keyword
        overrides the processor's defaults.
        """
        from .image_processing import ImageGPTImageProcessor

        h, w = self.size if self.size is not None else (32, 32)
        kwargs.setdefault("size", {"height": h, "width": w})
        return ImageGPTImageProcessor(clusters=self.clusters.copy(), **kwargs)

    def model_config(self, image_size: Any = None, **kwargs: Any) -> Any:
        """An :class:`~imagegpt_rs.ImageGPTConfig` whose ``vocab_size`` is ``n_clusters + 1`` and
        whose ``n_positions`` covers ``image_size`` (default: the fitted ``size``, else 32x32).

        Keywords set other fields (``n_embd``, ``n_layer``, ...). Raises
        :class:`~imagegpt_rs.ConfigValidationError` when ``vocab_size``/``n_positions`` given here
        do not fit the palette and the image size.
        """
        from .configuration import ImageGPTConfig, check_compatible

        if image_size is None:
            image_size = self.size if self.size is not None else (32, 32)
        h, w = _size_pair(image_size)
        kwargs.setdefault("vocab_size", self.n_clusters + 1)
        kwargs.setdefault("n_positions", h * w)
        config = ImageGPTConfig(**kwargs)
        check_compatible(config, self.n_clusters, (h, w))
        return config

    def save(
        self,
        directory: str | os.PathLike[str],
        *,
        model_config: bool = True,
        processor_kwargs: dict[str, Any] | None = None,
        config_kwargs: dict[str, Any] | None = None,
    ) -> list[str]:
        """Writes ``preprocessor_config.json`` (and ``config.json`` unless ``model_config=False``)
        into ``directory``, which transformers' ``from_pretrained`` and ``imagegpt-rs encode
        --config`` load. Returns the files written."""
        processor = self.processor(**(processor_kwargs or {}))
        files = list(processor.save_pretrained(directory))
        if model_config:
            size = processor.size
            image_size = (size["height"], size["width"]) if "height" in size else None
            config = self.model_config(image_size, **(config_kwargs or {}))
            config.save_pretrained(directory)
            files.append(os.path.join(os.fspath(directory), "config.json"))
        return files

    def __repr__(self) -> str:
        size = f", size={self.size}" if self.size else ""
        return (
            f"PaletteFit(n_clusters={self.n_clusters}, inertia={self.inertia:.6g}, n_iter={self.n_iter}, "
            f"converged={self.converged}, n_pixels={self.n_pixels}, n_distinct_colors={self.n_distinct_colors}{size})"
        )


def _size_pair(size: Any) -> tuple[int, int]:
    from ._jobs import check_size, get_size_dict

    try:
        d = get_size_dict(tuple(size) if isinstance(size, list) else size)
    except ValueError as err:
        raise InputError(f"size must be an int, (height, width) or a {{height, width}} dict: {err}") from None
    return check_size(d)


def _int_option(name: str, value: Any, low: int, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise InputError(f"{name} must be an int, got {value!r}")
    v = int(value)
    if v < low or (high is not None and v > high):
        rng = f">= {low}" if high is None else f"between {low} and {high}"
        raise InputError(f"{name} must be {rng}, got {v}")
    return v


def _is_path(x: Any) -> bool:
    return isinstance(x, (str, os.PathLike))


def _items(images_or_paths: Any) -> tuple[Iterable[Any], int | None]:
    """The input as an iterable of arrays, PIL images and file paths (directories, globs and
    ``@lists`` expanded), and its length when known. Lists are expanded now; other iterables
    (generators, dataset columns) are streamed."""
    from ._images import is_pil, is_torch

    if _is_path(images_or_paths):
        images_or_paths = [images_or_paths]
    elif isinstance(images_or_paths, np.ndarray) or is_torch(images_or_paths):
        arr = images_or_paths
        out = list(arr) if arr.ndim == 4 else [arr]
        if not out:
            raise InputError("no images: the batch array is empty")
        return out, len(out)
    elif is_pil(images_or_paths):
        return [images_or_paths], 1
    if isinstance(images_or_paths, (list, tuple)):
        out = list(_expand(images_or_paths))
        if not out:
            raise InputError("no images: the input is empty (or a directory without image files)")
        return out, len(out)
    try:
        it = iter(images_or_paths)
    except TypeError:
        raise InputError(
            f"images_or_paths has type {type(images_or_paths).__name__}: expected an image, a path, or a list of them"
        ) from None
    return _expand(it), None


def _expand(items: Iterable[Any]) -> Iterable[Any]:
    for item in items:
        if _is_path(item):
            from ._io import expand_inputs

            yield from expand_inputs([item])
        else:
            yield item


def _decode(path: str) -> np.ndarray:
    try:
        from .decoding import decode_image
    except ImportError:  # the Rust decoder not built in: Pillow gives the same pixels
        from PIL import Image

        with Image.open(path) as im:
            return np.asarray(im.convert("RGB"))
    return decode_image(path)


def _resize(u8: np.ndarray, size: tuple[int, int], resample: int) -> np.ndarray:
    try:
        from .resampling import resize
    except ImportError:  # the Rust resizer not built in: Pillow itself (what it reproduces)
        from PIL import Image

        out = Image.fromarray(u8).resize((size[1], size[0]), resample, reducing_gap=None)
        return np.asarray(out)
    return resize(u8, size, resample)


def _to_u8(item: Any, index: int) -> np.ndarray:
    """One input -> (H, W, 3) uint8 RGB, converting as the image processor does before resizing."""
    from ._images import is_pil, needs_rescale_for_pil, rescale, to_rgb_hwc

    if _is_path(item):
        return _decode(os.fspath(item))
    if not (is_pil(item) or isinstance(item, np.ndarray) or hasattr(item, "__array__")):
        raise InputError(f"image {index} has type {type(item).__name__}: expected an array, a PIL image or a path")
    hwc = to_rgb_hwc(item, None, index)
    if hwc.dtype == np.uint8:
        return hwc
    if needs_rescale_for_pil(hwc, index):
        return rescale(hwc, 255).astype(np.uint8)
    return hwc.astype(np.uint8)


def _shape_of(item: Any, index: int) -> tuple[int, int]:
    """(H, W) of an input without decoding its pixels when possible."""
    if _is_path(item):
        try:
            from PIL import Image

            with Image.open(os.fspath(item)) as im:
                return im.size[1], im.size[0]
        except ImportError:
            pass
        h, w = _decode(os.fspath(item)).shape[:2]
        return h, w
    h, w = _to_u8(item, index).shape[:2]
    return h, w


def _in_order(fn: Callable[[int, Any], np.ndarray], items: Iterable[Any], threads: int | None) -> Iterable[np.ndarray]:
    """``fn(0, item0), fn(1, item1), ...`` in order, computed ahead on a few threads (decoding and
    resizing release the GIL), with at most ``2 x threads`` images in flight."""
    workers = threads or os.cpu_count() or 1
    if workers == 1:
        for i, item in enumerate(items):
            yield fn(i, item)
        return
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor

    source = enumerate(items)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        pending: deque[Any] = deque()
        try:
            exhausted = False
            while True:
                while not exhausted and len(pending) < 2 * workers:
                    nxt = next(source, None)
                    if nxt is None:
                        exhausted = True
                    else:
                        pending.append(pool.submit(fn, *nxt))
                if not pending:
                    return
                yield pending.popleft().result()
        finally:
            for f in pending:
                f.cancel()


def fit_palette(
    images_or_paths: Any,
    n_clusters: int = 512,
    *,
    size: int | tuple[int, int] | dict[str, int] | None = None,
    resample: int = 2,
    max_pixels_per_image: int | None = None,
    max_pixels: int | None = None,
    max_iter: int = 100,
    tol: float = 1e-4,
    seed: int = 0,
    init: np.ndarray | Sequence[Sequence[float]] | None = None,
    n_local_trials: int | None = None,
    num_threads: int | None = None,
    progress: ProgressCallback | None = None,
) -> PaletteFit:
    """Fits ``n_clusters`` color clusters to the pixels of images, as ImageGPT's palette was made.

    Args:
        images_or_paths: an image (uint8 array (H, W, 3), (H, W) gray, a PIL image), a batch array
            (N, H, W, 3), a path (file, directory searched recursively, glob, ``@list.txt``) or a
            list or any iterable of these (a generator or a dataset column is streamed, a few images
            at a time, except with ``max_pixels``, which needs every image's pixel count first and so
            keeps the items of an iterable in a list).
            Non-uint8 arrays are converted as the image processor does. Arrays
            are read as images the way the image processor reads them, so a plain list of pixels
            ``(N, 3)`` would be a gray image of width 3: pass it as ``pixels.reshape(-1, 1, 3)``.
        n_clusters: palette size K (the model's vocab_size will be K + 1).
        size: resize every image to this (height, width) (an int for square) with Pillow's
            ``resample`` filter before taking pixels, as ImageGPT took pixels of the images it saw.
            None: use the pixels at their original size.
        resample: Pillow filter number (default BILINEAR, the processor's).
        max_pixels_per_image: take at most this many pixels per image (uniformly, without
            replacement).
        max_pixels: take at most this many pixels in total, uniformly over all (capped) pixels of
            all images (the per-image counts follow the multivariate hypergeometric law, so the sample
            is exactly a uniform sample without replacement).
        max_iter: maximum number of Lloyd iterations.
        tol: stop when the summed squared center shift is at most ``tol`` times the mean
            per-channel pixel variance (scikit-learn's rule); 0 runs until no pixel changes cluster.
        seed: seed of the subsampling and of the k-means++ initialization; the same seed gives
            the same palette whatever ``num_threads``.
        init: start from these (n_clusters, 3) centers (normalized space) instead of k-means++
            (unused when the images have no more distinct colors than ``n_clusters``).
        n_local_trials: k-means++ candidates per center (default ``2 + ln(n_clusters)``, as
            scikit-learn).
        num_threads: threads for reading/resizing images and for the k-means (default: all
            cores). The result does not depend on it.
        progress: ``progress(stage, done, total)`` called as images are read (``"images"``; total
            0 when streaming an iterable of unknown length), as
            initial centers are chosen (``"init"``) and after each iteration (``"iteration"``).

    Returns:
        A :class:`PaletteFit`.

    Raises:
        InputError: bad images or options (a ``ValueError``).
        PaletteError: ``init`` of the wrong shape or with non-finite values.
        ImageDecodeError: an image file that cannot be decoded.
    """
    from . import _native

    k = _int_option("n_clusters", n_clusters, 1, _MAX_CLUSTERS)
    max_iter = _int_option("max_iter", max_iter, 1)
    seed = _int_option("seed", seed, 0, 2**64 - 1)
    resample = _int_option("resample", resample, 0, 5)
    if (
        isinstance(tol, bool)
        or not isinstance(tol, (int, float, np.floating, np.integer))
        or not (np.isfinite(tol) and tol >= 0)
    ):
        raise InputError(f"tol must be a finite number >= 0, got {tol!r}")
    cap = None if max_pixels_per_image is None else _int_option("max_pixels_per_image", max_pixels_per_image, 1)
    total_cap = None if max_pixels is None else _int_option("max_pixels", max_pixels, 1)
    trials = None if n_local_trials is None else _int_option("n_local_trials", n_local_trials, 1)
    threads = None if num_threads is None else _int_option("num_threads", num_threads, 1, 1024)
    hw = None if size is None else _size_pair(size)
    init_arr = None
    if init is not None:
        init_arr = np.array(init, dtype=np.float64)
        if init_arr.shape != (k, 3):
            raise PaletteError(f"init must have shape ({k}, 3) (n_clusters, RGB), got {init_arr.shape}")
        bad = np.argwhere(~np.isfinite(init_arr))
        if len(bad):
            r, c = bad[0]
            raise PaletteError(f"init[{r}, {c}] is {init_arr[r, c]}: centers must be finite")

    items, n_items = _items(images_or_paths)
    rng = np.random.default_rng(seed)
    # Pixels to take from each image, when a total cap needs every image's pixel count first.
    take: list[int] | None = None
    if total_cap is not None:
        if n_items is None:
            items = list(items)  # two passes needed: keep the (expanded) items
            n_items = len(items)
        counts = np.array(
            [hw[0] * hw[1] if hw is not None else int(np.prod(_shape_of(it, i))) for i, it in enumerate(items)],
            dtype=np.int64,
        )
        if cap is not None:
            counts = np.minimum(counts, cap)
        if counts.sum() > total_cap:
            take = [int(v) for v in rng.multivariate_hypergeometric(counts, total_cap)]
        else:
            take = [int(v) for v in counts]

    def load(i: int, item: Any) -> np.ndarray:
        u8 = _to_u8(item, i)
        if hw is not None:
            u8 = _resize(np.ascontiguousarray(u8), hw, resample)
            if u8.ndim == 2:
                u8 = np.repeat(u8[:, :, None], 3, axis=2)
        return u8.reshape(-1, 3)

    hist = _native.ColorHistogram()
    n_seen = 0
    for i, pixels in enumerate(_in_order(load, items, threads)):
        n = len(pixels)
        want = take[i] if take is not None else (n if cap is None else min(n, cap))
        want = min(want, n)
        if want < n:
            pixels = pixels[rng.choice(n, size=want, replace=False)]
        if want:
            hist.add(np.ascontiguousarray(pixels))
        n_seen = i + 1
        if progress is not None:
            progress("images", n_seen, n_items if n_items is not None else 0)
    if n_seen == 0:
        raise InputError("no images: the input is empty (or a directory without image files)")

    centers, inertia, n_iter, converged, n_pixels, n_distinct = hist.fit(
        k,
        max_iter=max_iter,
        tol=float(tol),
        seed=seed,
        init=init_arr,
        n_local_trials=trials,
        num_threads=threads,
        progress=progress,
    )
    if n_distinct < k:
        warnings.warn(
            f"the images have only {n_distinct} distinct colors for n_clusters={k}: the palette holds "
            f"each of them once, then repeats them to fill {k} rows",
            UserWarning,
            stacklevel=2,
        )
    return PaletteFit(
        clusters=np.asarray(centers, dtype=np.float64),
        inertia=float(inertia),
        n_iter=int(n_iter),
        converged=bool(converged),
        n_pixels=int(n_pixels),
        n_distinct_colors=int(n_distinct),
        size=hw,
    )


def color_histogram(images: Iterable[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Distinct colors (uint8 (m, 3), sorted by R, G, B) and their counts (uint64 (m,)) of uint8
    RGB images (any shape with a last axis of 3)."""
    from . import _native

    hist = _native.ColorHistogram()
    for i, im in enumerate(images):
        arr = np.asarray(im)
        if arr.dtype != np.uint8 or arr.ndim < 1 or arr.shape[-1] != 3:
            raise InputError(f"image {i} must be a uint8 array with a last axis of 3, got {arr.dtype} {arr.shape}")
        hist.add(np.ascontiguousarray(arr))
    return hist.colors()


def kmeans(
    points: np.ndarray,
    n_clusters: int,
    *,
    sample_weight: np.ndarray | None = None,
    max_iter: int = 300,
    tol: float = 1e-4,
    seed: int = 0,
    init: np.ndarray | None = None,
    n_local_trials: int | None = None,
    num_threads: int | None = None,
) -> tuple[np.ndarray, float, int, bool]:
    """Weighted k-means of float (n, 3) points, the engine of :func:`fit_palette`:
    ``(centers, inertia, n_iter, converged)``. Semantics of scikit-learn's ``KMeans(n_init=1,
    algorithm="lloyd")`` (its own k-means++ draws differ); raises InputError when there are fewer
    points (with positive weight) than clusters."""
    from . import _native

    pts = np.ascontiguousarray(points, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[1] != 3:
        raise InputError(f"points must have shape (n, 3), got {pts.shape}")
    w = None if sample_weight is None else np.ascontiguousarray(sample_weight, dtype=np.float64)
    if w is not None and w.shape != (len(pts),):
        raise InputError(f"sample_weight must have shape ({len(pts)},), got {w.shape}")
    ini = None if init is None else np.ascontiguousarray(init, dtype=np.float64)
    if ini is not None and ini.ndim != 2:
        raise PaletteError(f"init must have shape ({n_clusters}, 3), got {ini.shape}")
    k = _int_option("n_clusters", n_clusters, 1, _MAX_CLUSTERS)
    return _native.kmeans_fit(
        pts,
        k,
        weights=w,
        max_iter=_int_option("max_iter", max_iter, 1),
        tol=float(tol),
        seed=_int_option("seed", seed, 0, 2**64 - 1),
        init=ini,
        n_local_trials=None if n_local_trials is None else _int_option("n_local_trials", n_local_trials, 1),
        num_threads=None if num_threads is None else _int_option("num_threads", num_threads, 1, 1024),
    )

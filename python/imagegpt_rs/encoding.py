"""Dataset-scale encoding: image files (or bytes) to ImageGPT ``input_ids``, in parallel, in bounded memory.

:func:`encode_files` returns the ids of a list of files; :func:`encode_to_directory` writes a whole dataset
as shards with a manifest, atomically, and can resume a killed run. Decoding, resizing and quantization run
in Rust on all cores with the GIL released; Python only walks chunks of files and writes shards, so Ctrl-C
stops a run between chunks (each takes well under a second).
"""

from __future__ import annotations

import dataclasses
import glob
import json
import os
import sys
import tempfile
import time
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from .errors import ImageDecodeError

__all__ = [
    "EncodeFailure",
    "EncodeResult",
    "encode_files",
    "encode_bytes",
    "encode_to_directory",
    "expand_inputs",
    "MANIFEST_NAME",
]

MANIFEST_NAME = "manifest.json"
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff")
_DTYPES = {"uint16": np.uint16, "int32": np.int32, "int64": np.int64}


@dataclasses.dataclass(frozen=True)
class EncodeFailure:
    """An input that could not be encoded: its position in the inputs, its path and why."""

    index: int
    path: str
    reason: str


@dataclasses.dataclass
class EncodeResult:
    """``ids[k]`` are the tokens of input ``indices[k]`` (good inputs only, in input order)."""

    ids: np.ndarray
    indices: np.ndarray
    failures: list[EncodeFailure]

    def __len__(self) -> int:
        return len(self.indices)


def _processor(processor: Any) -> Any:
    from .image_processing import ImageGPTImageProcessor

    if processor is None:
        return ImageGPTImageProcessor(size=32)
    if isinstance(processor, (str, os.PathLike)):
        return ImageGPTImageProcessor.from_pretrained(processor)
    if not isinstance(processor, ImageGPTImageProcessor):
        if hasattr(processor, "to_dict"):
            return ImageGPTImageProcessor.from_dict(processor.to_dict())
        raise TypeError(f"processor must be an ImageGPTImageProcessor or a path, got {type(processor).__name__}")
    return processor


def _job(processor: Any, dtype: Any, num_threads: int | None, max_pixels: int | None, draft: bool) -> Any:
    """The native encode job (quantizer, size, filter, Pillow compatibility, dtype) of a processor."""
    from . import _native
    from .image_processing import _check_size, get_size_dict
    from .resampling import _compat_version

    if not processor.do_resize:
        raise ValueError("encoding files needs do_resize=True (every image must come out at the same size)")
    if not (processor.do_normalize and processor.do_color_quantize):
        raise ValueError("encoding files needs do_normalize=True and do_color_quantize=True")
    h, w = _check_size(get_size_dict(processor.size))
    compat = _compat_version(getattr(processor, "_igr_pillow_compat", None))
    name = np.dtype(dtype).name
    if name not in _DTYPES:
        raise ValueError(f"dtype must be one of {sorted(_DTYPES)}, got {name}")
    if num_threads is None:
        num_threads = getattr(processor, "_igr_num_threads", None)
    if max_pixels is not None and max_pixels is not False:
        max_pixels = int(max_pixels)
    return _native.EncodeJob(
        processor.quantizer._native,
        h,
        w,
        int(processor.resample),
        compat,
        name,
        num_threads,
        max_pixels,
        bool(draft),
    )


def _check_on_error(on_error: str) -> None:
    if on_error not in ("raise", "skip"):
        raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")


def _run(job: Any, items: Sequence[Any], offset: int, names: Sequence[str], on_error: str, kind: str) -> tuple[np.ndarray, np.ndarray, list[EncodeFailure]]:
    ids, ok, errors = job.run_paths(list(items)) if kind == "paths" else job.run_bytes(list(items))
    failures = [EncodeFailure(offset + i, names[i], reason) for i, reason in errors]
    if failures and on_error == "raise":
        f = failures[0]
        raise ImageDecodeError(f"{f.path}: {f.reason}")
    return ids, np.asarray(ok, dtype=np.int64) + offset, failures


def encode_files(
    paths: Iterable[str | os.PathLike[str]],
    processor: Any = None,
    *,
    dtype: Any = np.int64,
    on_error: str = "raise",
    num_threads: int | None = None,
    chunk_size: int = 256,
    max_pixels: int | None = None,
    draft: bool = False,
) -> EncodeResult:
    """Decodes, resizes and quantizes image files in parallel; results in input order.

    Args:
        paths: image files (JPEG, PNG, WebP, BMP, GIF first frame, TIFF).
        processor: an :class:`~imagegpt_rs.ImageGPTImageProcessor`, a path to a saved one, or None
            (the built-in palette at 32x32).
        dtype: uint16, int32 or int64 ids.
        on_error: "raise" stops at the first bad file with an :class:`~imagegpt_rs.ImageDecodeError`
            naming it; "skip" goes on and lists the failures in the result.
        num_threads: worker threads (default: all cores).
        chunk_size: files per native call; bounds memory and how quickly Ctrl-C is seen.
        max_pixels: decompression-bomb guard (default: Pillow's limit, 2 x 89,478,485 pixels).
        draft: JPEG DCT-domain downscaling while decoding (faster, not bit-exact; see README).
    """
    _check_on_error(on_error)
    names = [os.fspath(p) for p in paths]
    job = _job(_processor(processor), dtype, num_threads, max_pixels, draft)
    return _collect(job, names, names, on_error, chunk_size, "paths")


def encode_bytes(
    blobs: Sequence[bytes],
    processor: Any = None,
    *,
    names: Sequence[str] | None = None,
    dtype: Any = np.int64,
    on_error: str = "raise",
    num_threads: int | None = None,
    chunk_size: int = 256,
    max_pixels: int | None = None,
    draft: bool = False,
) -> EncodeResult:
    """Like :func:`encode_files` for encoded images held in memory (``names`` label errors)."""
    _check_on_error(on_error)
    labels = list(names) if names is not None else [f"<bytes {i}>" for i in range(len(blobs))]
    job = _job(_processor(processor), dtype, num_threads, max_pixels, draft)
    return _collect(job, list(blobs), labels, on_error, chunk_size, "bytes")


def _collect(job: Any, items: list[Any], names: list[str], on_error: str, chunk_size: int, kind: str) -> EncodeResult:
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    all_ids, all_idx, failures = [], [], []
    for start in range(0, len(items), chunk_size):
        ids, idx, fails = _run(job, items[start : start + chunk_size], start, names[start : start + chunk_size], on_error, kind)
        all_ids.append(ids)
        all_idx.append(idx)
        failures.extend(fails)
    if all_ids:
        ids = np.concatenate(all_ids)
        idx = np.concatenate(all_idx)
    else:
        ids = np.zeros((0, job.sequence_length), dtype=job.dtype)
        idx = np.zeros(0, dtype=np.int64)
    return EncodeResult(ids, idx, failures)


def expand_inputs(inputs: Iterable[str | os.PathLike[str]]) -> list[str]:
    """Files, directories (searched recursively for image files), globs, or ``@list.txt`` (one path a
    line) -> a sorted-per-input list of file paths. Missing inputs raise FileNotFoundError."""
    out: list[str] = []
    for raw in inputs:
        item = os.fspath(raw)
        if item.startswith("@"):
            with open(item[1:], encoding="utf-8") as f:
                out.extend(line.strip() for line in f if line.strip() and not line.startswith("#"))
        elif os.path.isdir(item):
            found = []
            for root, _dirs, files in os.walk(item):
                found.extend(os.path.join(root, n) for n in files if n.lower().endswith(IMAGE_SUFFIXES))
            out.extend(sorted(found))
        elif os.path.isfile(item):
            out.append(item)
        elif glob.has_magic(item):
            matches = sorted(p for p in glob.glob(item, recursive=True) if os.path.isfile(p))
            if not matches:
                raise FileNotFoundError(f"no file matches {item!r}")
            out.extend(matches)
        else:
            raise FileNotFoundError(f"no such file or directory: {item!r}")
    return out


# --------------------------------------------------------------------------- sharded writer
def _atomic_write(path: str, write: Callable[[Any], None], mode: str = "wb") -> None:
    directory = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=os.path.basename(path), dir=directory)
    try:
        with os.fdopen(fd, mode) as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def _write_shard(
    out_dir: str,
    shard: int,
    fmt: str,
    ids: np.ndarray,
    idx: np.ndarray,
    paths: list[str],
    columns: dict[str, Any] | None = None,
    metadata: dict[str, Any] | None = None,
) -> list[str]:
    stem = f"shard-{shard:05d}"
    if fmt == "npy":
        files = [f"{stem}.npy", f"{stem}.index.npy"]
        _atomic_write(os.path.join(out_dir, files[1]), lambda f: np.save(f, idx))
        _atomic_write(os.path.join(out_dir, files[0]), lambda f: np.save(f, ids))
        return files
    if fmt in ("parquet", "webdataset"):
        from .writers import write_shard

        return write_shard(_atomic_write, out_dir, stem, fmt, ids, idx, paths, columns, metadata)
    raise ValueError(f"format must be 'npy', 'parquet' or 'webdataset', got {fmt!r}")


def encode_to_directory(
    inputs: Iterable[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    processor: Any = None,
    *,
    fmt: str = "npy",
    dtype: Any = np.uint16,
    shard_size: int = 4096,
    on_error: str = "raise",
    resume: bool = False,
    num_threads: int | None = None,
    chunk_size: int = 256,
    max_pixels: int | None = None,
    draft: bool = False,
    progress: Callable[[int, int, int], None] | None = None,
    image_column: str | None = None,
    keep_columns: Sequence[str] = (),
) -> dict[str, Any]:
    """Encodes every input image into shards in ``out_dir`` and returns the manifest.

    Inputs may also be WebDataset ``.tar`` shards (each image member is an input) and ``.parquet``
    files (each row of ``image_column`` is an input; ``keep_columns`` are carried into parquet and
    webdataset shards); see :mod:`imagegpt_rs.containers`. ``fmt`` is ``npy``, ``parquet`` or
    ``webdataset`` (see :mod:`imagegpt_rs.writers`).

    Each shard covers ``shard_size`` consecutive inputs: ``shard-NNNNN.npy`` (ids of its good images,
    in order) with ``shard-NNNNN.index.npy`` (their input indices), or one ``shard-NNNNN.parquet`` with
    columns index, path, input_ids. ``manifest.json`` lists the sources, the processor config and
    every shard's range, files and failures. Files are written to a temporary name and renamed, so a
    killed run leaves only complete shards; ``resume=True`` keeps the shards the manifest lists and
    encodes the rest. ``progress(done, total, failed)`` is called after every chunk.
    """
    _check_on_error(on_error)
    if shard_size < 1:
        raise ValueError(f"shard_size must be >= 1, got {shard_size}")
    from .containers import expand_sources

    if fmt not in ("npy", "parquet", "webdataset"):
        raise ValueError(f"format must be 'npy', 'parquet' or 'webdataset', got {fmt!r}")
    sources = expand_sources(inputs, image_column=image_column, keep_columns=keep_columns)
    paths = sources.names
    proc = _processor(processor)
    job = _job(proc, dtype, num_threads, max_pixels, draft)
    out = os.fspath(out_dir)
    os.makedirs(out, exist_ok=True)
    manifest_path = os.path.join(out, MANIFEST_NAME)
    settings = {
        "format": fmt,
        "dtype": np.dtype(dtype).name,
        "shard_size": shard_size,
        "sequence_length": job.sequence_length,
        "processor": proc.to_dict(),
    }
    if image_column is not None or keep_columns:
        settings.update(image_column=image_column, keep_columns=list(keep_columns))
    manifest: dict[str, Any] = {"version": 1, **settings, "sources": paths, "shards": [], "complete": False}
    if os.path.exists(manifest_path):
        if not resume:
            raise FileExistsError(f"{manifest_path} exists: pass resume=True (--resume) or use another directory")
        with open(manifest_path, encoding="utf-8") as f:
            old = json.load(f)
        for key, value in settings.items():
            if old.get(key) != value:
                raise ValueError(f"cannot resume {out}: {key} differs from the existing manifest")
        if old.get("sources") != paths:
            raise ValueError(f"cannot resume {out}: the list of inputs differs from the existing manifest")
        manifest["shards"] = [
            s for s in old.get("shards", []) if all(os.path.exists(os.path.join(out, n)) for n in s["files"])
        ]
    done_starts = {s["start"] for s in manifest["shards"]}
    total = len(paths)
    done = sum(s["stop"] - s["start"] for s in manifest["shards"])
    failed = sum(len(s["failures"]) for s in manifest["shards"])

    def save_manifest() -> None:
        manifest["shards"].sort(key=lambda s: s["start"])
        text = json.dumps(manifest, indent=2) + "\n"
        _atomic_write(manifest_path, lambda f: f.write(text), mode="w")

    save_manifest()
    for shard, start in enumerate(range(0, total, shard_size)):
        if start in done_starts:
            continue
        stop = min(start + shard_size, total)
        ids_parts, idx_parts, shard_failures, extras = [], [], [], []
        for c in range(start, stop, chunk_size):
            ids, idx, fails, extra = sources.encode(job, c, min(c + chunk_size, stop), on_error)
            ids_parts.append(ids)
            idx_parts.append(idx)
            shard_failures.extend(fails)
            extras.append(extra)
            done += min(c + chunk_size, stop) - c
            failed += len(fails)
            if progress is not None:
                progress(done, total, failed)
        ids = np.concatenate(ids_parts) if ids_parts else np.zeros((0, job.sequence_length), job.dtype)
        idx = np.concatenate(idx_parts) if idx_parts else np.zeros(0, np.int64)
        columns = None
        if fmt != "npy":
            from .containers import merge_columns

            columns = merge_columns(extras)
        files = _write_shard(out, shard, fmt, ids, idx, paths, columns, settings)
        manifest["shards"].append(
            {
                "start": start,
                "stop": stop,
                "rows": int(len(idx)),
                "files": files,
                "failures": [dataclasses.asdict(f) for f in shard_failures],
            }
        )
        save_manifest()
    manifest["complete"] = True
    save_manifest()
    return manifest


def load_directory(out_dir: str | os.PathLike[str]) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Reads an :func:`encode_to_directory` output back: (ids, input indices, manifest)."""
    out = os.fspath(out_dir)
    with open(os.path.join(out, MANIFEST_NAME), encoding="utf-8") as f:
        manifest = json.load(f)
    ids, idx = [], []
    for s in manifest["shards"]:
        if manifest["format"] == "npy":
            ids.append(np.load(os.path.join(out, s["files"][0])))
            idx.append(np.load(os.path.join(out, s["files"][1])))
        else:
            from .writers import read_shard

            i, x = read_shard(out, s, manifest)
            ids.append(i)
            idx.append(x)
    length = manifest["sequence_length"]
    if not ids:
        return np.zeros((0, length), manifest["dtype"]), np.zeros(0, np.int64), manifest
    return np.concatenate(ids), np.concatenate(idx), manifest

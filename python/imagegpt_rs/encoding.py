"""Dataset-scale encoding: image files (or bytes) to ImageGPT ``input_ids``, in parallel, in bounded memory.

:func:`encode_files` returns the ids of a list of files; :func:`encode_to_directory` writes a whole dataset
as shards with a manifest, atomically, and can resume a killed run. Decoding, resizing and quantization run
in Rust on all cores with the GIL released; Python only walks chunks of files and writes shards, so Ctrl-C
stops a run between chunks (each takes well under a second).
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import stat
import sys
import zlib
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from ._io import (
    IMAGE_SUFFIXES,  # noqa: F401  (kept where it was: encoding.IMAGE_SUFFIXES)
    expand_inputs,
)
from ._io import atomic_write as _atomic_write  # module global: the crash tests patch it here
from ._jobs import (
    DTYPES,
    EncodeFailure,
    EncodeOptions,
    EncodeResult,
    check_on_error,
    encode_blobs,
    encode_paths,
    file_job,
    positive_int,
)
from .errors import ManifestError
from .image_processing import as_image_processor

__all__ = [
    "EncodeFailure",
    "EncodeResult",
    "encode_files",
    "encode_bytes",
    "encode_to_directory",
    "expand_inputs",
    "MANIFEST_NAME",
    "load_directory",
    "read_manifest",
]

# Shard formats: .npy pairs, Parquet files, WebDataset tar shards (see writers.py).
FORMATS = ("npy", "parquet", "webdataset")
MANIFEST_NAME = "manifest.json"
# 2: shards record "sizes" and "crc32" per file (version 1 manifests, without them, still load and resume).
MANIFEST_VERSION = 2


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
    options = EncodeOptions(
        dtype=dtype,
        on_error=on_error,
        num_threads=num_threads,
        chunk_size=chunk_size,
        max_pixels=max_pixels,
        draft=draft,
    )
    return encode_paths(paths, as_image_processor(processor), options)


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
    options = EncodeOptions(
        dtype=dtype,
        on_error=on_error,
        num_threads=num_threads,
        chunk_size=chunk_size,
        max_pixels=max_pixels,
        draft=draft,
    )
    return encode_blobs(blobs, as_image_processor(processor), names, options)


# --------------------------------------------------------------------------- sharded writer
# Temporary files of _atomic_write (tempfile's 8 random characters between the prefix and the name).
_STALE_TMP = re.compile(r"^\.tmp-[a-z0-9_]{8}(manifest\.json|shard-\d+(\.index)?\.(npy|parquet|tar))$")


def _remove_stale_temporaries(out: str) -> list[str]:
    """Removes what a killed run left of its temporary files (never anything else)."""
    removed = []
    for name in os.listdir(out):
        if _STALE_TMP.match(name):
            try:
                os.unlink(os.path.join(out, name))
                removed.append(name)
            except FileNotFoundError:
                pass
    return removed


def write_shard_files(
    out_dir: str,
    shard: int,
    fmt: str,
    ids: np.ndarray,
    idx: np.ndarray,
    paths: list[str],
    columns: dict[str, Any] | None = None,
    metadata: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Writes one shard; returns its manifest fields: files, sizes (bytes) and crc32 (hex) per file."""
    stem = f"shard-{shard:05d}"
    stats: dict[str, tuple[int, int]] = {}

    def atomic_write(path: str, write: Any, mode: str = "wb") -> None:
        result = _atomic_write(path, write, mode)
        if result is not None:
            stats[os.path.basename(path)] = result

    if fmt == "npy":
        files = [f"{stem}.npy", f"{stem}.index.npy"]
        atomic_write(os.path.join(out_dir, files[1]), lambda f: np.save(f, idx))
        atomic_write(os.path.join(out_dir, files[0]), lambda f: np.save(f, ids))
    elif fmt in ("parquet", "webdataset"):
        from .writers import write_shard

        files = write_shard(atomic_write, out_dir, stem, fmt, ids, idx, paths, columns, metadata)
    else:
        raise ValueError(f"format must be 'npy', 'parquet' or 'webdataset', got {fmt!r}")
    return {
        "files": files,
        "sizes": [stats[name][0] for name in files],
        "crc32": [f"{stats[name][1]:08x}" for name in files],
    }


# --------------------------------------------------------------------------- manifest verification
def read_manifest(out_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """Reads ``manifest.json`` of an output directory; a missing, truncated or malformed file raises an
    error naming it (:class:`~imagegpt_rs.errors.ManifestError`, or FileNotFoundError)."""
    path = os.path.join(os.fspath(out_dir), MANIFEST_NAME)
    try:
        with open(path, encoding="utf-8") as f:
            manifest = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ManifestError(f"{path}: not a valid manifest (truncated or corrupt JSON: {err})") from None
    if not isinstance(manifest, dict):
        raise ManifestError(f"{path}: not a valid manifest (a JSON {type(manifest).__name__}, not an object)")
    problems = []
    for key, kind in (("format", str), ("dtype", str), ("sequence_length", int), ("shards", list), ("sources", list)):
        if not isinstance(manifest.get(key), kind) or isinstance(manifest.get(key), bool):
            problems.append(f"{key} missing or not a {kind.__name__}")
    if not problems:
        if manifest["format"] not in FORMATS:
            problems.append(f"format {manifest['format']!r} is not one of {', '.join(FORMATS)}")
        if manifest["dtype"] not in DTYPES:
            problems.append(f"dtype {manifest['dtype']!r} is not one of {sorted(DTYPES)}")
        if manifest["sequence_length"] < 1:
            problems.append(f"sequence_length {manifest['sequence_length']} < 1")
    if problems:
        raise ManifestError(f"{path}: not a valid manifest: " + "; ".join(problems))
    return manifest


def _shard_label(s: Any, k: int) -> str:
    files = s.get("files") if isinstance(s, dict) else None
    if isinstance(files, list) and files and isinstance(files[0], str):
        return f"shard {k} ({files[0]})"
    return f"shard {k}"


def _check_entry(s: Any, n_files: int, n_sources: int) -> None:
    """The fields of a shard entry: types, ranges, and file names that stay inside the directory."""
    if not isinstance(s, dict):
        raise ManifestError("not a JSON object")
    for key in ("start", "stop", "rows"):
        v = s.get(key)
        if not isinstance(v, int) or isinstance(v, bool) or v < 0:
            raise ManifestError(f"{key} missing or not a non-negative integer")
    if not (s["start"] <= s["stop"] <= n_sources):
        raise ManifestError(f"range {s['start']}..{s['stop']} is outside the {n_sources} sources")
    if s["rows"] > s["stop"] - s["start"]:
        raise ManifestError(f"rows {s['rows']} > the {s['stop'] - s['start']} inputs of its range")
    files = s.get("files")
    if not isinstance(files, list) or len(files) != n_files or not all(isinstance(n, str) for n in files):
        raise ManifestError(f"files must list {n_files} file name(s), got {files!r}")
    for name in files:
        if (
            not name
            or name in (".", "..")
            or os.path.isabs(name)
            or "/" in name
            or "\\" in name
            or os.sep in name
            or (os.altsep and os.altsep in name)
            or "\0" in name
        ):
            raise ManifestError(f"file name {name!r} is not a plain name inside the output directory")
    for key, kind in (("sizes", int), ("crc32", str)):
        v = s.get(key)
        if v is not None and (not isinstance(v, list) or len(v) != n_files or not all(isinstance(x, kind) for x in v)):
            raise ManifestError(f"{key} must list one {kind.__name__} per file, got {v!r}")
    if not isinstance(s.get("failures", []), list):
        raise ManifestError("failures is not a list")


def _file_crc32(path: str) -> int:
    crc = 0
    with open(path, "rb") as f:
        while True:
            block = f.read(1 << 20)
            if not block:
                return crc
            crc = zlib.crc32(block, crc)


def _check_files(out: str, s: dict[str, Any], checksums: bool) -> None:
    """Each file exists as a regular file with the recorded size and (if asked and recorded) CRC-32."""
    for k, name in enumerate(s["files"]):
        path = os.path.join(out, name)
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            raise ManifestError(f"{name} is missing") from None
        if not stat.S_ISREG(st.st_mode):  # a symlink (possibly leading out of the directory), FIFO, directory...
            raise ManifestError(f"{name} is not a regular file")
        if s.get("sizes") is not None and st.st_size != s["sizes"][k]:
            raise ManifestError(f"{name} has {st.st_size} bytes, the manifest records {s['sizes'][k]}")
        if checksums and s.get("crc32") is not None:
            crc = f"{_file_crc32(path):08x}"
            if crc != s["crc32"][k].lower():
                raise ManifestError(f"{name} has CRC-32 {crc}, the manifest records {s['crc32'][k]}")


def _read_shard_arrays(out: str, manifest: dict[str, Any], s: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """Loads a shard and checks its arrays against the entry: dtype, shape, rows, indices in range."""
    length, dtype = manifest["sequence_length"], np.dtype(manifest["dtype"])
    try:
        if manifest["format"] == "npy":
            ids = np.load(os.path.join(out, s["files"][0]), allow_pickle=False)
            idx = np.load(os.path.join(out, s["files"][1]), allow_pickle=False)
        else:
            from .writers import read_shard

            ids, idx = read_shard(out, s, manifest)
    except ManifestError:
        raise
    except ImportError:
        raise
    except Exception as err:  # numpy / pyarrow / our readers raise ValueError, OSError, EOFError, ArrowInvalid...
        raise ManifestError(f"cannot be read: {type(err).__name__}: {err}") from None
    if ids.dtype != dtype or ids.ndim != 2 or ids.shape[1] != length:
        raise ManifestError(f"ids have dtype {ids.dtype} and shape {ids.shape}, expected {dtype} (rows, {length})")
    if idx.ndim != 1 or idx.dtype.kind not in "iu":
        raise ManifestError(f"indices have dtype {idx.dtype} and shape {idx.shape}, expected integer (rows,)")
    if not (len(ids) == len(idx) == s["rows"]):
        raise ManifestError(f"{len(ids)} id rows and {len(idx)} indices, the manifest records {s['rows']} rows")
    idx = idx.astype(np.int64, copy=False)
    if len(idx) and (idx[0] < s["start"] or idx[-1] >= s["stop"] or (len(idx) > 1 and np.any(np.diff(idx) <= 0))):
        raise ManifestError(f"indices are not increasing within {s['start']}..{s['stop']}")
    return ids, idx


def _verify_shard(out: str, manifest: dict[str, Any], s: Any, checksums: bool = True) -> tuple[np.ndarray, np.ndarray]:
    n_files = len(_shard_files(0, manifest["format"]))
    _check_entry(s, n_files, len(manifest["sources"]))
    _check_files(out, s, checksums)
    return _read_shard_arrays(out, manifest, s)


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
    check_on_error(on_error)
    shard_size = positive_int("shard_size", shard_size)
    chunk_size = positive_int("chunk_size", chunk_size)  # a negative one used to encode nothing, silently
    redone: list[str] = []
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(map(repr, FORMATS))}, got {fmt!r}")
    from .containers import expand_sources

    sources = expand_sources(inputs, image_column=image_column, keep_columns=keep_columns)
    paths = sources.names
    proc = as_image_processor(processor)
    job = file_job(proc, dtype, num_threads, max_pixels, draft)
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
    manifest: dict[str, Any] = {
        "version": MANIFEST_VERSION,
        **settings,
        "sources": paths,
        "shards": [],
        "complete": False,
    }
    if os.path.exists(manifest_path):
        if not resume:
            raise FileExistsError(f"{manifest_path} exists: pass resume=True (--resume) or use another directory")
        old = read_manifest(out)
        for key, value in settings.items():
            if old.get(key) != value:
                raise ValueError(f"cannot resume {out}: {key} differs from the existing manifest")
        if old.get("sources") != paths:
            raise ValueError(f"cannot resume {out}: the list of inputs differs from the existing manifest")
        manifest["shards"] = _verified_shards(out, old, shard_size, redone)
    _remove_stale_temporaries(out)
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
        written = write_shard_files(out, shard, fmt, ids, idx, paths, columns, settings)
        manifest["shards"].append(
            {
                "start": start,
                "stop": stop,
                "rows": int(len(idx)),
                **written,
                "failures": [dataclasses.asdict(f) for f in shard_failures],
            }
        )
        save_manifest()
    manifest["complete"] = True
    save_manifest()
    return manifest


def _verified_shards(out: str, old: dict[str, Any], shard_size: int, redone: list[str]) -> list[dict[str, Any]]:
    """The shards of an existing manifest that are intact (entry, file sizes, CRC-32s, rows and indices)
    and where this run would put them; the others are left out, to be encoded again, and their reasons
    appended to ``redone``."""
    kept: list[dict[str, Any]] = []
    for k, s in enumerate(old.get("shards", [])):
        try:
            _verify_shard(out, old, s, checksums=True)
            if s["start"] % shard_size or s["stop"] != min(s["start"] + shard_size, len(old["sources"])):
                raise ManifestError(f"range {s['start']}..{s['stop']} does not match shard_size {shard_size}")
            expected = _shard_files(s["start"] // shard_size, old["format"])
            if s["files"] != expected:
                raise ManifestError(f"files {s['files']} are not this shard's {expected}")
            if any(k["start"] == s["start"] for k in kept):
                raise ManifestError(f"a second entry for range {s['start']}..{s['stop']}")
        except ManifestError as err:
            redone.append(f"{_shard_label(s, k)}: {err}")
            continue
        kept.append(s)
    if redone:
        print("resume: encoding again " + "; ".join(redone), file=sys.stderr)
    return kept


def _shard_files(shard: int, fmt: str) -> list[str]:
    stem = f"shard-{shard:05d}"
    if fmt == "npy":
        return [f"{stem}.npy", f"{stem}.index.npy"]
    if fmt == "webdataset":
        return [f"{stem}.tar", f"{stem}.index.npy"]
    return [f"{stem}.parquet"]


def load_directory(
    out_dir: str | os.PathLike[str], *, verify_checksums: bool = True
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Reads an :func:`encode_to_directory` output back: (ids, input indices, manifest).

    Every shard is checked against its manifest entry before its rows are used: file names inside the
    directory, file sizes and CRC-32s (when recorded; ``verify_checksums=False`` skips the CRC-32s),
    dtype, sequence length, row count, and indices increasing within the shard's range. A mismatch raises
    :class:`~imagegpt_rs.errors.ManifestError` naming the shard and what is wrong.
    """
    out = os.fspath(out_dir)
    manifest = read_manifest(out)
    ids, idx = [], []
    covered = 0  # shards in input order, not overlapping: every input index appears at most once
    for k, s in enumerate(manifest["shards"]):
        try:
            a, b = _verify_shard(out, manifest, s, checksums=verify_checksums)
            if s["start"] < covered:
                raise ManifestError(f"range {s['start']}..{s['stop']} overlaps or precedes the shard before it")
            covered = s["stop"]
        except ManifestError as err:
            raise ManifestError(f"{os.path.join(out, MANIFEST_NAME)}: {_shard_label(s, k)}: {err}") from None
        ids.append(a)
        idx.append(b)
    length = manifest["sequence_length"]
    if not ids:
        return np.zeros((0, length), manifest["dtype"]), np.zeros(0, np.int64), manifest
    return np.concatenate(ids), np.concatenate(idx), manifest

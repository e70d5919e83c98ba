"""Shard writers and readers for the ``parquet`` and ``webdataset`` output formats of
:func:`~imagegpt_rs.encoding.encode_to_directory` (``npy`` lives in ``encoding``).

- ``parquet``: ``shard-NNNNN.parquet`` with columns ``index`` (int64, the input's position), ``path``
  (its label: file, ``shard.tar:member`` or ``file.parquet:row``), ``key`` (the WebDataset key, the file
  path, or ``file.parquet:row``), ``input_ids`` (a fixed-size list of the chosen dtype) and the kept
  columns; the schema metadata ``imagegpt_rs`` holds the processor config, dtype and sequence length
  as JSON. ``datasets.load_dataset("parquet", data_files=...)`` and ``pyarrow.dataset`` read it.
- ``webdataset``: ``shard-NNNNN.tar`` with, per row, ``KEY.input_ids.npy`` (a 1-D array) and ``KEY.json``
  (index, path, key and the kept columns), plus ``shard-NNNNN.index.npy`` (the row indices, for fast
  reloading). KEY is the source's WebDataset key when it is a valid one (no dot in its last component,
  relative, unique in the shard), else the zero-padded input index. ``webdataset.WebDataset`` streams it.

Reading back (:func:`read_shard`) takes whole columns or one pass over the tar: no Python object per row.
"""

from __future__ import annotations

import io
import json
import os
import tarfile
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["write_shard", "read_shard", "METADATA_KEY"]

METADATA_KEY = b"imagegpt_rs"


def _valid_wds_key(key: str) -> bool:
    if not key or key.startswith("/") or "\\" in key:
        return False
    parts = key.split("/")
    return "." not in parts[-1] and all(p not in ("", ".", "..") for p in parts)


def _output_keys(keys: list[str], idx: np.ndarray) -> list[str]:
    seen: set[str] = set()
    out = []
    for key, i in zip(keys, idx.tolist()):
        k = key if _valid_wds_key(key) and key not in seen else f"{i:09d}"
        if k in seen:  # a source key that looks like an index; keep keys unique
            k = f"{i:09d}-{len(seen)}"
        seen.add(k)
        out.append(k)
    return out


def _json_value(v: Any) -> Any:
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    if isinstance(v, (list, tuple)):
        return [_json_value(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _json_value(x) for k, x in v.items()}
    if isinstance(v, (str, int, float, bool)) or v is None:
        return v
    return str(v)


def _text_path(path: str) -> str:
    """A path as valid UTF-8 text for Parquet and JSON: a file name that is not UTF-8 (os.fsdecode gives it
    lone surrogates) keeps its undecodable bytes as backslash escapes (b'\\xff' -> '\\xff')."""
    try:
        path.encode("utf-8")
        return path
    except UnicodeEncodeError:
        return os.fsencode(path).decode("utf-8", "backslashreplace")


def write_shard(
    atomic_write: Callable[..., None],
    out_dir: str,
    stem: str,
    fmt: str,
    ids: np.ndarray,
    idx: np.ndarray,
    names: list[str],
    columns: dict[str, Any] | None,
    metadata: dict[str, Any] | None,
) -> list[str]:
    columns = dict(columns or {})
    keys = columns.pop("key", None)
    keys = [_text_path(names[i]) for i in idx] if keys is None else [_text_path(k) for k in keys]
    if fmt == "parquet":
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError as err:
            raise ImportError("--format parquet needs pyarrow: pip install pyarrow") from err
        data = {
            "index": pa.array(idx, pa.int64()),
            "path": pa.array([_text_path(names[i]) for i in idx], pa.string()),
            "key": pa.array(list(keys), pa.string()),
            "input_ids": pa.FixedSizeListArray.from_arrays(pa.array(ids.reshape(-1)), ids.shape[1]),
        }
        for c, values in columns.items():
            if c in data:
                raise ValueError(f"kept column {c!r} clashes with an output column")
            data[c] = values
        table = pa.table(data)
        if metadata is not None:
            table = table.replace_schema_metadata({METADATA_KEY: json.dumps(metadata).encode()})
        name = f"{stem}.parquet"
        atomic_write(os.path.join(out_dir, name), lambda f: pq.write_table(table, f))
        return [name]
    if fmt == "webdataset":
        out_keys = _output_keys(list(keys), idx)
        kept = {c: (v.to_pylist() if hasattr(v, "to_pylist") else list(v)) for c, v in columns.items()}

        def write(f: Any) -> None:
            with tarfile.open(fileobj=f, mode="w", format=tarfile.PAX_FORMAT) as tar:

                def add(name: str, payload: bytes) -> None:
                    info = tarfile.TarInfo(name)
                    info.size = len(payload)
                    info.mode = 0o644
                    tar.addfile(info, io.BytesIO(payload))

                for r, (key, i) in enumerate(zip(out_keys, idx.tolist())):
                    buf = io.BytesIO()
                    np.save(buf, ids[r])
                    add(f"{key}.input_ids.npy", buf.getvalue())
                    meta = {"index": i, "path": _text_path(names[i]), "key": keys[r]}
                    meta.update({c: _json_value(v[r]) for c, v in kept.items()})
                    add(f"{key}.json", json.dumps(meta).encode())

        tar_name, index_name = f"{stem}.tar", f"{stem}.index.npy"
        atomic_write(os.path.join(out_dir, index_name), lambda f: np.save(f, idx))
        atomic_write(os.path.join(out_dir, tar_name), write)
        return [tar_name, index_name]
    raise ValueError(f"format must be 'npy', 'parquet' or 'webdataset', got {fmt!r}")


def read_shard(out_dir: str, record: dict[str, Any], manifest: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """(ids, indices) of one shard, as whole arrays."""
    fmt, dtype, length = manifest["format"], np.dtype(manifest["dtype"]), manifest["sequence_length"]
    if fmt == "parquet":
        import pyarrow.parquet as pq

        t = pq.read_table(os.path.join(out_dir, record["files"][0]), columns=["index", "input_ids"])
        idx = t.column("index").to_numpy()
        col = t.column("input_ids").combine_chunks()
        flat = col.flatten() if len(col) else col.values
        ids = np.asarray(flat.to_numpy(zero_copy_only=False), dtype=dtype).reshape(len(idx), length)
        return ids, idx
    if fmt == "webdataset":
        from . import _native

        tar_path = os.path.join(out_dir, record["files"][0])
        idx = np.load(os.path.join(out_dir, record["files"][1]))
        names, offsets, sizes, error = _native.tar_index(tar_path)
        if error is not None:
            raise ValueError(f"{tar_path}: damaged tar: {error[2]}")
        pick = np.fromiter((n.endswith(".input_ids.npy") for n in names), bool, len(names))
        offsets, sizes = np.asarray(offsets)[pick].astype(np.int64), np.asarray(sizes)[pick].astype(np.int64)
        if len(offsets) != len(idx):
            raise ValueError(f"{tar_path}: {len(offsets)} input_ids members but {len(idx)} indices")
        if not len(idx):
            return np.zeros((0, length), dtype), idx
        raw = np.fromfile(tar_path, dtype=np.uint8)
        payload = length * dtype.itemsize
        if not (sizes == sizes[0]).all() or sizes[0] < payload:
            raise ValueError(f"{tar_path}: input_ids members of different sizes")
        header = int(sizes[0]) - payload
        head = io.BytesIO(bytes(raw[offsets[0] : offsets[0] + header]))
        version = np.lib.format.read_magic(head)
        read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, _, got = read_header(head)
        if shape != (length,) or got != dtype:
            raise ValueError(f"{tar_path}: input_ids members hold {got}{shape}, expected {dtype}({length},)")
        gather = (offsets + header)[:, None] + np.arange(payload)[None, :]
        ids = raw[gather].view(dtype).reshape(len(idx), length)
        return ids, idx
    raise ValueError(f"unknown shard format {fmt!r}")

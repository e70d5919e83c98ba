"""Dask: encode a file list on a cluster, each partition writing its own shard from the worker.

>>> from dask.distributed import Client, LocalCluster
>>> from imagegpt_rs.integrations.dask import encode_with_dask
>>> with Client(LocalCluster(n_workers=2, processes=True)):                       # doctest: +SKIP
...     manifest = encode_with_dask(paths, "tokens/", processor, partition_size=4096)

Every partition becomes one ``.npy`` shard (plus its index file) written atomically by the worker
that encoded it; the driver collects the shard records into ``manifest.json``, the same layout
:func:`imagegpt_rs.encoding.encode_to_directory` writes, so ``load_directory`` and ``preview`` read it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["encode_partition", "encode_with_dask"]


def encode_partition(
    paths: Sequence[str], start: int, shard: int, out_dir: str, processor: Any, dtype: str, on_error: str
) -> dict[str, Any]:
    """Encodes one partition of files and writes its shard; returns the shard record."""
    from ..encoding import encode_files, write_shard_files

    paths = list(paths)
    result = encode_files(paths, processor, dtype=dtype, on_error=on_error)
    idx = result.indices + start
    written = write_shard_files(out_dir, shard, "npy", result.ids, idx, [""] * start + paths)  # files, sizes, crc32
    return {
        "start": start,
        "stop": start + len(paths),
        "rows": int(len(idx)),
        **written,
        "failures": [{"index": f.index + start, "path": f.path, "reason": f.reason} for f in result.failures],
    }


def encode_with_dask(
    paths: Sequence[str],
    out_dir: str | os.PathLike[str],
    processor: Any = None,
    *,
    partition_size: int = 4096,
    dtype: str = "uint16",
    on_error: str = "raise",
) -> dict[str, Any]:
    """Encodes ``paths`` with ``dask.bag`` on the current Dask scheduler (a ``distributed.Client`` if
    one is active), one shard per partition, and writes ``manifest.json``; returns the manifest."""
    import dask.bag as db

    from .._io import atomic_write, expand_inputs
    from ..encoding import MANIFEST_NAME, MANIFEST_VERSION
    from ..image_processing import as_image_processor

    files = expand_inputs(paths)
    proc = as_image_processor(processor)
    out = os.fspath(out_dir)
    os.makedirs(out, exist_ok=True)
    starts = list(range(0, len(files), partition_size))
    bag = db.from_sequence(
        [(files[s : s + partition_size], s, k) for k, s in enumerate(starts)], npartitions=max(1, len(starts))
    )
    records = bag.map(lambda t: encode_partition(t[0], t[1], t[2], out, proc, dtype, on_error)).compute()
    h, w = proc.size["height"], proc.size["width"]
    manifest = {
        "version": MANIFEST_VERSION,
        "format": "npy",
        "dtype": np.dtype(dtype).name,
        "shard_size": partition_size,
        "sequence_length": h * w,
        "processor": proc.to_dict(),
        "sources": files,
        "shards": sorted(records, key=lambda r: r["start"]),
        "complete": True,
    }
    text = json.dumps(manifest, indent=2) + "\n"
    atomic_write(os.path.join(out, MANIFEST_NAME), lambda f: f.write(text), mode="w")
    return manifest

"""Dataset containers as encoding inputs: WebDataset tar shards and Parquet files with an image column.

The inputs of :func:`~imagegpt_rs.encoding.encode_to_directory` (and the CLI) are expanded into one flat,
ordered list of *items*: loose image files, tar members (each image member of a ``.tar`` shard), and
Parquet rows. Each item has a global index and a label (``file``, ``shard.tar:member``, ``file.parquet:row``)
recorded in the manifest, so sharding, ``on_error`` and ``--resume`` work on containers exactly as on files.

- Tar shards are listed by a strict reader in Rust (``_native.tar_index``: ustar, GNU long names, pax;
  checksums verified, sizes bounded); the members of a chunk are then read in order by Rust from their
  byte ranges (never extracted to disk) and decoded in parallel. Members whose extension is not an image
  (``.txt``, ``.cls``, ``.json``, ...) are not samples. A damaged archive keeps the members before the
  damage and reports the damage as one failed item.
- Parquet files are read a row group at a time (``ParquetFile.iter_batches``); the image column is a
  Hugging Face ``Image`` struct ``{bytes, path}`` (null bytes: the file at ``path``, relative to the
  Parquet file's directory) or a binary column; each chunk's bytes go to the native pipeline in one call.
  ``keep_columns`` are carried into the output for every good row.
"""

from __future__ import annotations

import dataclasses
import os
import tarfile
import zlib
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

__all__ = [
    "TAR_SUFFIXES",
    "PARQUET_SUFFIXES",
    "SourceList",
    "ContainerResult",
    "expand_sources",
    "encode_sources",
    "wds_key",
]

TAR_SUFFIXES = (".tar",)  # and .tar.gz / .tgz, streamed through Python's tarfile
PARQUET_SUFFIXES = (".parquet",)
COMPRESSED_TAR_SUFFIXES = (".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".tar.zst")


def wds_key(member: str) -> str:
    """The WebDataset key of a member name: everything up to the first dot of the last path component
    (``dir/000123.seg.png`` -> ``dir/000123``), as webdataset's ``base_plus_ext`` splits it."""
    slash = member.rfind("/") + 1
    dot = member.find(".", slash)
    return member if dot < 0 else member[:dot]


def _is_image_member(name: str) -> bool:
    from ._io import IMAGE_SUFFIXES

    return name.lower().endswith(IMAGE_SUFFIXES)


# --------------------------------------------------------------------------- groups of items
class _Files:
    kind = "files"

    def __init__(self, paths: list[str]) -> None:
        self.paths = paths

    def __len__(self) -> int:
        return len(self.paths)

    def labels(self) -> list[str]:
        return list(self.paths)

    def encode(
        self, job: Any, a: int, b: int
    ) -> tuple[np.ndarray, list[int], list[tuple[int, str, str]], dict[str, Any]]:
        ids, ok, errors = job.run_paths(self.paths[a:b])
        return ids, ok, [(i, self.paths[a + i], r) for i, r in errors], {"key": [self.paths[a + i] for i in ok]}


class _Tar:
    kind = "tar"

    def __init__(self, path: str) -> None:
        from . import _native

        self.path = path
        names, offsets, sizes, error = _native.tar_index(path)
        keep = np.fromiter((_is_image_member(n) for n in names), dtype=bool, count=len(names))
        self.members = [n for n, k in zip(names, keep) if k]
        self.offsets = np.asarray(offsets)[keep]
        self.sizes = np.asarray(sizes)[keep]
        self.error: str | None = None
        if error is not None:
            offset, member, reason = error
            where = f"member '{member}' (header at byte {offset})" if member else f"header at byte {offset}"
            self.error = f"damaged tar: {where}: {reason}"

    def __len__(self) -> int:
        return len(self.members) + (self.error is not None)

    def labels(self) -> list[str]:
        out = [f"{self.path}:{m}" for m in self.members]
        if self.error is not None:
            out.append(f"{self.path}:<damaged>")
        return out


class _TarGz:
    """A gzip-compressed tar shard: listed and read by streaming through Python's ``tarfile`` (gzip
    cannot seek, so members are read in one forward pass per run of chunks; resuming mid-shard
    re-decompresses up to the resume point). Errors name the shard and member like ``.tar``'s."""

    kind = "targz"

    def __init__(self, path: str) -> None:
        self.path = path
        self.members: list[str] = []
        self.error: str | None = None
        try:
            with tarfile.open(path, "r|gz") as tar:
                for m in tar:
                    if m.isfile() and _is_image_member(m.name):
                        self.members.append(m.name)
        except (tarfile.TarError, OSError, EOFError, zlib.error) as err:
            after = f" after member '{self.members[-1]}'" if self.members else ""
            self.error = f"damaged tar.gz{after}: {err}"
        self._tar: Any = None
        self._iter: Any = None
        self._pos = 0  # image members consumed by the open stream

    def __len__(self) -> int:
        return len(self.members) + (self.error is not None)

    def labels(self) -> list[str]:
        out = [f"{self.path}:{m}" for m in self.members]
        if self.error is not None:
            out.append(f"{self.path}:<damaged>")
        return out

    def _read(self, a: int, b: int) -> list[bytes | str]:
        """The bytes of image members a..b (or the error text for a member that cannot be read)."""
        if self._tar is None or a < self._pos:
            if self._tar is not None:
                self._tar.close()
            self._tar = tarfile.open(self.path, "r|gz")
            self._iter = iter(self._tar)
            self._pos = 0
        out: list[bytes | str] = []
        while self._pos < b:
            try:
                m = next(self._iter, None)
                if m is None:
                    break
                if not (m.isfile() and _is_image_member(m.name)):
                    continue
                data = self._tar.extractfile(m).read() if self._pos >= a else None
            except (tarfile.TarError, OSError, EOFError, zlib.error) as err:
                out.extend([f"cannot read: {err}"] * (b - max(a, self._pos)))
                self._tar = None
                break
            if data is not None:
                out.append(data)
            self._pos += 1
        return out

    def encode(self, job: Any, a: int, b: int):
        n = len(self.members)
        hi = min(b, n)
        got = self._read(a, hi) if hi > a else []
        got += ["cannot read: the shard changed"] * (hi - a - len(got))
        blobs = [g if isinstance(g, bytes) else b"" for g in got]
        ids, ok, errors = job.run_bytes(blobs)
        failures = [
            (i, f"{self.path}: member '{self.members[a + i]}'", got[i] if isinstance(got[i], str) else r)
            for i, r in errors
        ]
        if b > n and self.error is not None:
            failures.append((n - a, self.path, self.error))
        return ids, ok, failures, {"key": [wds_key(self.members[a + i]) for i in ok]}


def _encode_tars(job: Any, segments: list[tuple[Any, int, int]]):
    """Encodes items a..b of each of several consecutive tar shards in one native call (so that the
    members of small shards share one parallel batch); positions are relative to the first item."""
    paths: list[str] = []
    files: list[int] = []
    offsets: list[int] = []
    sizes: list[int] = []
    call_pos: list[int] = []  # each item's position, relative to the first item
    call_member: list[tuple[str, str]] = []  # each item's (tar path, member name)
    pre: list[tuple[int, str, str]] = []
    pos = 0
    for k, (tar, a, b) in enumerate(segments):
        hi = min(b, len(tar.members))
        paths.append(tar.path)
        files += [k] * (hi - a)
        offsets += tar.offsets[a:hi].tolist()
        sizes += tar.sizes[a:hi].tolist()
        call_pos += range(pos, pos + hi - a)
        call_member += [(tar.path, m) for m in tar.members[a:hi]]
        if b > hi and tar.error is not None:
            pre.append((pos + hi - a, tar.path, tar.error))
        pos += b - a
    ids, ok, errors = job.run_ranges(paths, files, offsets, sizes)
    failures = [(call_pos[i], f"{call_member[i][0]}: member '{call_member[i][1]}'", r) for i, r in errors]
    failures = sorted(failures + pre)
    return ids, [call_pos[i] for i in ok], failures, {"key": [wds_key(call_member[i][1]) for i in ok]}


def _image_column(schema: Any, wanted: str | None, path: str) -> str:
    import pyarrow as pa

    if wanted is not None:
        if wanted not in schema.names:
            raise ValueError(f"{path}: no column {wanted!r} (columns: {', '.join(schema.names)})")
        return wanted
    for field in schema:
        t = field.type
        if pa.types.is_struct(t) and {t.field(i).name for i in range(t.num_fields)} >= {"bytes", "path"}:
            return field.name
    for field in schema:
        if pa.types.is_binary(field.type) or pa.types.is_large_binary(field.type):
            return field.name
    raise ValueError(
        f"{path}: no image column (an Image struct {{bytes, path}} or a binary column); name one with --image-column"
    )


class _Parquet:
    kind = "parquet"

    def __init__(self, path: str, image_column: str | None, keep_columns: Sequence[str]) -> None:
        import pyarrow.parquet as pq

        self.path = path
        self.file = pq.ParquetFile(path)
        schema = self.file.schema_arrow
        self.column = _image_column(schema, image_column, path)
        missing = [c for c in keep_columns if c not in schema.names]
        if missing:
            raise ValueError(
                f"{path}: no column {', '.join(map(repr, missing))} to keep (columns: {', '.join(schema.names)})"
            )
        self.keep = list(keep_columns)
        meta = self.file.metadata
        self.n = meta.num_rows
        self.group_starts = np.cumsum([0] + [meta.row_group(i).num_rows for i in range(meta.num_row_groups)])
        self._it: Any = None
        self._pos = -1  # global row of the first row in self._buffer
        self._buffer: Any = None

    def __len__(self) -> int:
        return self.n

    def labels(self) -> list[str]:
        return [f"{self.path}:{r}" for r in range(self.n)]

    def _rows(self, a: int, b: int) -> Any:
        """Rows a..b as one Arrow table (image + kept columns), continuing the current row-group
        iterator when the request follows the previous one (the usual sequential case)."""
        import pyarrow as pa

        if self._it is None or self._pos < 0 or a < self._pos:
            group = int(np.searchsorted(self.group_starts, a, side="right") - 1)
            columns = [self.column] + [c for c in self.keep if c != self.column]
            # One row group at a time: given them all, pyarrow pre-buffers every row group's column
            # chunks at once (the whole file's images in memory).
            self._it = (
                batch
                for g in range(group, self.file.num_row_groups)
                for batch in self.file.iter_batches(batch_size=128, row_groups=[g], columns=columns)
            )
            self._pos = int(self.group_starts[group])
            self._buffer = None
        have = 0 if self._buffer is None else self._buffer.num_rows
        while self._pos + have < b:
            batch = next(self._it, None)
            if batch is None:
                break
            tab = pa.Table.from_batches([batch])
            self._buffer = tab if self._buffer is None else pa.concat_tables([self._buffer, tab])
            have = self._buffer.num_rows
        if self._buffer is None:
            raise ValueError(f"{self.path}: rows {a}..{b} are missing (the file changed?)")
        skip = a - self._pos
        out = self._buffer.slice(skip, b - a)
        # Drop what is consumed (a table of no rows holds no buffers).
        rest = self._buffer.num_rows - (b - self._pos)
        self._buffer = self._buffer.slice(b - self._pos) if rest > 0 else None
        self._pos = b
        return out

    def encode(self, job: Any, a: int, b: int):
        import pyarrow as pa

        table = self._rows(a, b)
        base = os.path.dirname(os.path.abspath(self.path))
        failures: list[tuple[int, str, str]] = []
        blobs: list[Any] = []
        paths: list[Any] = []
        for chunk in table.column(self.column).chunks:
            if pa.types.is_struct(chunk.type):
                # flatten(): the children with the chunk's offset and nulls applied (field() may not).
                children = dict(zip((f.name for f in chunk.type), chunk.flatten()))
                blobs += children["bytes"].to_pylist()
                paths += children["path"].to_pylist() if "path" in children else [None] * len(chunk)
            else:
                blobs += chunk.to_pylist()
                paths += [None] * len(chunk)
        for i, (blob, p) in enumerate(zip(blobs, paths)):
            if blob is not None:
                continue
            blobs[i] = b""
            if p is None:
                failures.append((i, f"{self.path}: row {a + i}", "no image (null bytes and null path)"))
                continue
            full = p if os.path.isabs(p) else os.path.join(base, p)
            try:
                with open(full, "rb") as f:
                    blobs[i] = f.read()
            except OSError as err:
                failures.append((i, f"{self.path}: row {a + i}", f"cannot read {full}: {err.strerror or err}"))
        ids, ok, errors = job.run_bytes(blobs)
        pre = {i for i, _, _ in failures}
        failures += [(i, f"{self.path}: row {a + i}", r) for i, r in errors if i not in pre]
        failures.sort()
        extra: dict[str, Any] = {"key": [f"{os.path.basename(self.path)}:{a + i}" for i in ok]}
        if self.keep:
            kept = table.take(pa.array(ok, pa.int64()))
            for c in self.keep:
                extra[c] = kept.column(c).combine_chunks()
        return ids, ok, failures, extra


# --------------------------------------------------------------------------- the list of items
class SourceList:
    """The expanded inputs: groups (loose files, a tar shard, a Parquet file) of consecutive items."""

    def __init__(self, groups: list[Any], keep_columns: Sequence[str] = ()) -> None:
        self.groups = groups
        self.keep_columns = list(keep_columns)
        # The Arrow type of each kept column (from the first Parquet file): rows from other sources
        # get nulls of that type, so every output shard has the same schema.
        self.keep_types: dict[str, Any] = {}
        for g in groups:
            if g.kind == "parquet":
                for c in self.keep_columns:
                    self.keep_types.setdefault(c, g.file.schema_arrow.field(c).type)
        self.starts = np.cumsum([0] + [len(g) for g in groups])

    def __len__(self) -> int:
        return int(self.starts[-1])

    @property
    def names(self) -> list[str]:
        """One label per item: the file path, ``shard.tar:member`` or ``file.parquet:row``."""
        out: list[str] = []
        for g in self.groups:
            out.extend(g.labels())
        return out

    def encode(
        self, job: Any, start: int, stop: int, on_error: str
    ) -> tuple[np.ndarray, np.ndarray, list[Any], dict[str, Any]]:
        """Encodes items start..stop: (ids of the good items, their global indices, failures,
        per-good-row extra columns ``key`` and the kept columns)."""
        from ._jobs import EncodeFailure
        from .errors import ImageDecodeError

        ids_parts, idx_parts, failures = [], [], []
        keys: list[str] = []
        kept: dict[str, list[Any]] = {c: [] for c in self.keep_columns}
        g = int(np.searchsorted(self.starts, start, side="right") - 1)
        while g < len(self.groups) and self.starts[g] < stop:
            group, base = self.groups[g], int(self.starts[g])
            a, b = max(start, base) - base, min(stop, int(self.starts[g + 1])) - base
            if group.kind == "tar":
                # This and the following tar shards within the range: one native call.
                segments = [(group, a, b)]
                while g + 1 < len(self.groups) and self.groups[g + 1].kind == "tar" and self.starts[g + 1] < stop:
                    g += 1
                    segments.append((self.groups[g], 0, min(stop, int(self.starts[g + 1])) - int(self.starts[g])))
                b = a + sum(y - x for _, x, y in segments)
            if b > a:
                if group.kind == "tar":
                    ids, ok, fails, extra = _encode_tars(job, segments)
                else:
                    ids, ok, fails, extra = group.encode(job, a, b)
                fails = [EncodeFailure(base + a + i, name, reason) for i, name, reason in fails]
                if fails and on_error == "raise":
                    f = fails[0]
                    raise ImageDecodeError(f"{f.path}: {f.reason}")
                ok = np.asarray(ok, dtype=np.int64)
                ids_parts.append(ids)
                idx_parts.append(ok + base + a)
                failures.extend(fails)
                keys.extend(extra["key"])
                for c in self.keep_columns:
                    if c in extra:
                        kept[c].append(extra[c])
                    else:
                        kept[c].append([None] * len(ok))
            g += 1
        ids = np.concatenate(ids_parts) if ids_parts else np.zeros((0, job.sequence_length), job.dtype)
        idx = np.concatenate(idx_parts) if idx_parts else np.zeros(0, np.int64)
        columns: dict[str, Any] = {"key": keys}
        for c, parts in kept.items():
            columns[c] = _concat_column(parts, self.keep_types.get(c))
        return ids, idx, failures, columns


def merge_columns(extras: list[dict[str, Any]]) -> dict[str, Any]:
    """The per-chunk extra columns of :meth:`SourceList.encode` joined into one per shard."""
    if not extras:
        return {"key": []}
    out: dict[str, Any] = {"key": [k for e in extras for k in e["key"]]}
    for c in extras[0]:
        if c != "key":
            out[c] = _concat_column([e[c] for e in extras])
    return out


def _concat_column(parts: list[Any], type: Any = None) -> Any:
    import pyarrow as pa

    chunks: list[Any] = []
    for p in parts:
        if isinstance(p, pa.ChunkedArray):
            chunks.extend(p.chunks)
        elif isinstance(p, pa.Array):
            chunks.append(p)
        else:
            chunks.append(pa.array(p))
    typed = [c for c in chunks if not pa.types.is_null(c.type)]
    t = type if type is not None else typed[0].type if typed else pa.null()
    chunks = [c if c.type == t else c.cast(t) for c in chunks]
    return pa.chunked_array(chunks, t).combine_chunks()


def expand_sources(
    inputs: Iterable[str | os.PathLike[str]],
    *,
    image_column: str | None = None,
    keep_columns: Sequence[str] = (),
) -> SourceList:
    """Files, directories, globs and ``@list.txt`` as :func:`~imagegpt_rs.encoding.expand_inputs`, where
    ``.tar`` shards and ``.parquet`` files (given directly or matched by a glob) are containers whose
    images are the items. Directories contribute their image files only."""
    from ._io import expand_inputs

    groups: list[Any] = []
    loose: list[str] = []

    def flush() -> None:
        if loose:
            groups.append(_Files(list(loose)))
            loose.clear()

    for raw in inputs:
        item = os.fspath(raw)
        if item.startswith("@") or os.path.isdir(item):
            loose.extend(expand_inputs([item]))
            continue
        matches = [item] if os.path.isfile(item) else expand_inputs([item])
        for path in matches:
            low = path.lower()
            if low.endswith((".tar.gz", ".tgz")):
                flush()
                groups.append(_TarGz(path))
            elif low.endswith(COMPRESSED_TAR_SUFFIXES):
                raise ValueError(f"{path}: only .tar and .tar.gz shards are read; decompress it first")
            elif low.endswith(TAR_SUFFIXES):
                flush()
                groups.append(_Tar(path))
            elif low.endswith(PARQUET_SUFFIXES):
                flush()
                groups.append(_Parquet(path, image_column, keep_columns))
            else:
                loose.append(path)
    flush()
    if keep_columns and not any(g.kind == "parquet" for g in groups):
        raise ValueError("keep_columns needs Parquet inputs (it names columns of the Parquet files)")
    return SourceList(groups, keep_columns)


@dataclasses.dataclass
class ContainerResult:
    """``ids[k]`` are the tokens of item ``indices[k]``, whose label is ``names[indices[k]]`` and whose
    WebDataset key (or file path, or ``file.parquet:row``) is ``keys[k]``; ``columns`` holds the kept
    Parquet columns (pyarrow arrays, one value per good row)."""

    ids: np.ndarray
    indices: np.ndarray
    failures: list[Any]
    names: list[str]
    keys: list[str]
    columns: dict[str, Any]

    def __len__(self) -> int:
        return len(self.indices)


def encode_sources(
    inputs: Iterable[str | os.PathLike[str]],
    processor: Any = None,
    *,
    image_column: str | None = None,
    keep_columns: Sequence[str] = (),
    dtype: Any = np.int64,
    on_error: str = "raise",
    num_threads: int | None = None,
    chunk_size: int = 256,
    max_pixels: int | None = None,
    draft: bool = False,
) -> ContainerResult:
    """Like :func:`~imagegpt_rs.encoding.encode_files` for tar shards, Parquet files, image files and
    directories mixed: every image item in order. Errors name the shard and member (or file and row)."""
    from ._jobs import EncodeOptions, check_on_error
    from .image_processing import as_image_processor

    options = EncodeOptions(
        dtype=dtype,
        on_error=on_error,
        num_threads=num_threads,
        chunk_size=chunk_size,
        max_pixels=max_pixels,
        draft=draft,
    )
    check_on_error(options.on_error)
    if options.chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {options.chunk_size}")
    sources = expand_sources(inputs, image_column=image_column, keep_columns=keep_columns)
    job = options.job(as_image_processor(processor))
    ids, idx, failures, extras = [], [], [], []
    step = options.chunk_size
    for c in range(0, len(sources), step):
        i, x, f, extra = sources.encode(job, c, min(c + step, len(sources)), options.on_error)
        ids.append(i)
        idx.append(x)
        failures.extend(f)
        extras.append(extra)
    length = job.sequence_length
    columns = merge_columns(extras)
    keys = columns.pop("key")
    return ContainerResult(
        np.concatenate(ids) if ids else np.zeros((0, length), job.dtype),
        np.concatenate(idx) if idx else np.zeros(0, np.int64),
        failures,
        sources.names,
        keys,
        columns,
    )

"""Internal: files. Input expansion, crash-safe writes, and the one JSON reader.

Every JSON file the package reads (model configs, processor configs, the CLI's ``--config``) goes
through :func:`read_json_file`, which names the file, line and column of what is wrong, also for
nesting too deep for Python's parser and integers over its digit limit, instead of a bare
RecursionError or ValueError.
"""

from __future__ import annotations

import glob
import json
import os
import re
import sys
import tempfile
import zlib
from collections.abc import Callable, Iterable
from typing import Any

from .errors import ConfigFileError

__all__ = [
    "deepest_nesting",
    "hub_download",
    "import_hub",
    "int_digit_limit",
    "line_col",
    "IMAGE_SUFFIXES",
    "Checksummed",
    "atomic_write",
    "expand_inputs",
    "fsync_dir",
    "read_json_file",
]

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff")


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
            found: list[str] = []
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


class Checksummed:
    """A write-only file wrapper that counts the bytes and CRC-32s them on the way to the file."""

    def __init__(self, f: Any) -> None:
        self._f = f
        self.size = 0
        self.crc = 0

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        self.crc = zlib.crc32(view, self.crc)
        self.size += view.nbytes
        return self._f.write(view)

    def flush(self) -> None:
        self._f.flush()

    def tell(self) -> int:
        return self.size

    @property
    def closed(self) -> bool:
        return self._f.closed


def fsync_dir(directory: str) -> None:
    """Makes a rename in ``directory`` durable (POSIX; a no-op where directories cannot be opened)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(path: str, write: Callable[[Any], None], mode: str = "wb") -> tuple[int, int] | None:
    """Writes ``path`` through a temporary file, fsyncs it, renames it and fsyncs the directory.
    In binary mode returns (size in bytes, CRC-32) of what was written."""
    directory = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=os.path.basename(path), dir=directory)
    stats = None
    try:
        with os.fdopen(fd, mode) as f:
            if "b" in mode:
                sink = Checksummed(f)
                write(sink)
                stats = (sink.size, sink.crc)
            else:
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
    fsync_dir(directory)
    return stats


# --------------------------------------------------------------------------- JSON
def read_json_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Reads a JSON object from ``path``; a malformed file raises :class:`ConfigFileError` naming it."""
    path = os.fspath(path)
    try:
        with open(path, encoding="utf-8") as reader:
            text = reader.read()
    except UnicodeDecodeError as e:
        raise ConfigFileError(
            f"{path} is not valid UTF-8 (byte {e.start}: {e.reason})", path, rule=f"byte {e.start}: {e.reason}"
        ) from e
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        rule = f"line {e.lineno}, column {e.colno}: {e.msg}"
        raise ConfigFileError(f"{path} is not valid JSON: {rule}", path, e.lineno, e.colno, rule) from e
    except RecursionError as e:
        lineno, colno, depth = deepest_nesting(text)
        rule = (
            f"line {lineno}, column {colno}: arrays/objects nested {depth} deep, more than Python's JSON reader allows"
        )
        raise ConfigFileError(f"{path} is not a usable JSON file: {rule}", path, lineno, colno, rule) from e
    except ValueError as e:  # an integer literal over Python's int digit limit (sys.get_int_max_str_digits)
        m = re.search(r"-?\d{" + str(int_digit_limit() + 1) + ",}", text)
        if m is None:
            raise ConfigFileError(f"{path} is not a usable JSON file: {e}", path, None, None, str(e)) from e
        lineno, colno = line_col(text, m.start())
        rule = f"line {lineno}, column {colno}: {e}"
        raise ConfigFileError(f"{path} is not a usable JSON file: {rule}", path, lineno, colno, rule) from e
    if not isinstance(data, dict):
        rule = f"the top level must be a JSON object, got {type(data).__name__}"
        raise ConfigFileError(f"{path}: {rule}", path, 1, 1, rule)
    return data


def int_digit_limit() -> int:
    limit = getattr(sys, "get_int_max_str_digits", lambda: 4300)()
    return limit or 4300


def line_col(text: str, pos: int) -> tuple[int, int]:
    lineno = text.count("\n", 0, pos) + 1
    return lineno, pos - (text.rfind("\n", 0, pos) + 1) + 1


def deepest_nesting(text: str) -> tuple[int, int, int]:
    """Line, column and depth of the deepest ``[``/``{`` (outside strings) in JSON text."""
    depth = best = best_pos = 0
    in_string = escaped = False
    for pos, ch in enumerate(text):
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > best:
                best, best_pos = depth, pos
        elif ch in "]}":
            depth -= 1
    return (*line_col(text, best_pos), best)


# --------------------------------------------------------------------------- the Hub
def import_hub(what: str) -> Any:
    try:
        import huggingface_hub
    except ImportError as e:
        raise OSError(
            f"To {what}, install huggingface_hub (`pip install huggingface_hub`, or the `transformers` extra of "
            "imagegpt-rs); otherwise pass a local directory or a path to a config.json file."
        ) from e
    return huggingface_hub


def hub_download(repo_id: str, filename: str, **options: Any) -> str:
    hub = import_hub(f"load '{repo_id}' (neither a local directory nor a file, so taken as a hub id)")
    subfolder = options.pop("subfolder", "") or None
    try:
        return str(hub.hf_hub_download(repo_id, filename, subfolder=subfolder, **options))
    except Exception as e:  # the hub raises many kinds (network, auth, missing repo or file, bad id)
        raise OSError(
            f"Can't load {filename} of '{repo_id}': it is neither a local directory nor a file, and "
            f"downloading {filename} from the Hugging Face hub failed: {type(e).__name__}: {e}"
        ) from e

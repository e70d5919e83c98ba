"""The exceptions imagegpt-rs raises.

Every class subclasses :class:`ImageGPTError` and the built-in exception users already catch
(``ValueError``, ``TypeError``, ``OSError``), so ``except ValueError`` keeps working where
transformers would raise one. The native module raises ``InputError``, ``PaletteError``,
``ImageDecodeError`` and ``InternalError``: ``rust/python/src/errors.rs`` fetches them from this module once
(at its first raise) and maps every core error to one of them in a single exhaustive ``match``; renaming
one of those four here needs the same change there (tests/test_native_errors.py checks every mapping).
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ImageGPTError",
    "ConfigValidationError",
    "ConfigFileError",
    "ConfigValidationWarning",
    "PaletteError",
    "InputError",
    "ImageDecodeError",
    "ManifestError",
    "InternalError",
]


class ImageGPTError(Exception):
    """Base class of every error imagegpt-rs raises on purpose."""


class _ConfigProblems:
    """What ConfigValidationError and ConfigValidationWarning share: ``errors`` as ``{"field", "value",
    "rule"}`` dicts, and a message built from the Rust core's ``(field, value, rule)`` tuples."""

    def __init__(self, message: str, errors: list[dict[str, str]] | None = None) -> None:
        super().__init__(message)  # type: ignore[call-arg]
        self.errors: list[dict[str, str]] = list(errors or [])

    @staticmethod
    def _headline(n: int) -> str:
        raise NotImplementedError

    _footer: str | None = None

    @classmethod
    def from_violations(cls, owner: str, violations: list[tuple[str, str, str]], source: str | None = None) -> Any:
        """Builds the error (or warning) from ``(field, value, rule)`` tuples as the Rust core returns them."""
        where = f" (from {source})" if source else ""
        lines = [f"{owner}{where} has {cls._headline(len(violations))}:"]
        lines += [f"  {field} = {value}: {rule}" for field, value, rule in violations]
        if cls._footer:
            lines.append(cls._footer)
        return cls("\n".join(lines), [{"field": f, "value": v, "rule": r} for f, v, r in violations])


class ConfigValidationError(_ConfigProblems, ImageGPTError, ValueError):
    """A config (model or processor) breaks one or more rules.

    ``errors`` lists every problem as ``{"field", "value", "rule"}`` dicts; the message names each.
    """

    @staticmethod
    def _headline(n: int) -> str:
        return f"{n} invalid field{'s' if n != 1 else ''}"


class ConfigValidationWarning(_ConfigProblems, UserWarning):
    """A config that transformers accepts but that cannot build a working model (``n_embd`` not divisible by
    ``n_head``, a size of 0, a dropout of 1.5, an unknown activation name, ...).

    Issued instead of raising (see the README's validation policy); ``errors`` lists every problem as
    ``{"field", "value", "rule"}`` dicts. ``warnings.simplefilter("error", ConfigValidationWarning)``,
    ``strict=True`` or ``config.validate()`` turn these into :class:`ConfigValidationError`.
    """

    _footer = "(accepted as transformers accepts it; strict=True or config.validate() raises)"

    @staticmethod
    def _headline(n: int) -> str:
        return f"{n} value{'s' if n != 1 else ''} that cannot build a model"


class PaletteError(ImageGPTError, ValueError):
    """Color clusters that cannot form a palette (shape, count, non-finite values)."""


class InputError(ImageGPTError, ValueError):
    """Pixels or token ids that cannot be processed (shape, dtype, NaN/inf, out-of-range ids)."""


class ImageDecodeError(ImageGPTError, OSError):
    """An image file or byte string that cannot be decoded; the message names the file."""


class ManifestError(ImageGPTError, ValueError):
    """An encoded output directory whose manifest or shards do not agree (truncated, replaced or missing
    shard files, malformed entries, file names outside the directory); the message names the shard."""


class InternalError(ImageGPTError, RuntimeError):
    """A bug in imagegpt-rs (a Rust panic caught at the boundary); the message names the call.

    Every native entry point runs inside one guard that raises this instead of pyo3's ``PanicException``
    (a ``BaseException``), so ``except Exception`` sees it. Please report it."""


class ConfigFileError(ConfigValidationError, OSError):
    """A configuration file that cannot be read as a JSON object; the message names the file (and line/column).

    It is a :class:`~imagegpt_rs.errors.ConfigValidationError` (so a ``ValueError``, like the
    ``json.JSONDecodeError`` of ``transformers``' ``from_json_file``) and an ``OSError`` (like the error of
    ``transformers``' ``from_pretrained``). ``path``, ``lineno`` and ``colno`` are set when known.
    """

    def __init__(
        self, message: str, path: str, lineno: int | None = None, colno: int | None = None, rule: str = ""
    ) -> None:
        super().__init__(message, [{"field": "(file)", "value": path, "rule": rule or message}])
        self.path = path
        self.lineno = lineno
        self.colno = colno

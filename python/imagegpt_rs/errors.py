"""The exceptions imagegpt-rs raises.

Every class subclasses :class:`ImageGPTError` and the built-in exception users already catch
(``ValueError``, ``TypeError``, ``OSError``), so ``except ValueError`` keeps working where
transformers would raise one. The Rust core raises these by name (``rust/python/src/errors.rs``).
"""

from __future__ import annotations

__all__ = [
    "ImageGPTError",
    "ConfigValidationError",
    "PaletteError",
    "InputError",
    "ImageDecodeError",
    "InternalError",
]


class ImageGPTError(Exception):
    """Base class of every error imagegpt-rs raises on purpose."""


class ConfigValidationError(ImageGPTError, ValueError):
    """A config (model or processor) breaks one or more rules.

    ``errors`` lists every problem as ``{"field", "value", "rule"}`` dicts; the message names each.
    """

    def __init__(self, message: str, errors: list[dict[str, str]] | None = None) -> None:
        super().__init__(message)
        self.errors: list[dict[str, str]] = list(errors or [])

    @classmethod
    def from_violations(
        cls, owner: str, violations: list[tuple[str, str, str]], source: str | None = None
    ) -> "ConfigValidationError":
        """Builds the error from ``(field, value, rule)`` tuples as the Rust core returns them."""
        where = f" (from {source})" if source else ""
        n = len(violations)
        lines = [f"{owner}{where} has {n} invalid field{'s' if n != 1 else ''}:"]
        lines += [f"  {field} = {value}: {rule}" for field, value, rule in violations]
        errors = [{"field": f, "value": v, "rule": r} for f, v, r in violations]
        return cls("\n".join(lines), errors)


class PaletteError(ImageGPTError, ValueError):
    """Color clusters that cannot form a palette (shape, count, non-finite values)."""


class InputError(ImageGPTError, ValueError):
    """Pixels or token ids that cannot be processed (shape, dtype, NaN/inf, out-of-range ids)."""


class ImageDecodeError(ImageGPTError, OSError):
    """An image file or byte string that cannot be decoded; the message names the file."""


class InternalError(ImageGPTError, RuntimeError):
    """A bug in imagegpt-rs (a Rust panic caught at the boundary); the message names the call.

    Raised instead of pyo3's ``PanicException`` (a ``BaseException``), so ``except Exception`` sees
    it. Please report it."""

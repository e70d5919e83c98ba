"""`BatchFeature`: the mapping the image processor returns, as transformers' `BatchFeature` behaves."""

from __future__ import annotations

from collections import UserDict
from typing import Any

import numpy as np

__all__ = ["BatchFeature"]


def _to_numpy(value: Any) -> np.ndarray:
    if isinstance(value, np.ndarray):
        return value
    return np.array(value)


def _to_torch(value: Any) -> Any:
    try:
        import torch
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError("return_tensors='pt' needs PyTorch: pip install 'imagegpt-rs[torch]'") from err
    if isinstance(value, (list, tuple)) and value and isinstance(value[0], np.ndarray):
        value = np.array(value)
    if isinstance(value, np.ndarray):
        return torch.from_numpy(value)
    return torch.tensor(value)


class BatchFeature(UserDict):
    """A dict of model inputs (``input_ids`` or ``pixel_values``) with attribute access.

    ``tensor_type`` None keeps the values as they are (lists of arrays), ``"np"`` stacks them into one
    NumPy array and ``"pt"`` into a torch tensor, as transformers' ``BatchFeature`` does.
    """

    def __init__(self, data: dict[str, Any] | None = None, tensor_type: str | None = None) -> None:
        super().__init__(data)
        self.convert_to_tensors(tensor_type)

    def __getitem__(self, item: str) -> Any:
        if isinstance(item, str):
            return self.data[item]
        raise KeyError("Indexing with integers is not available; use a key such as 'input_ids'")

    def __getattr__(self, item: str) -> Any:
        try:
            return self.data[item]
        except KeyError:
            raise AttributeError(item) from None

    def __getstate__(self) -> dict[str, Any]:
        return {"data": self.data}

    def __setstate__(self, state: dict[str, Any]) -> None:
        if "data" in state:
            self.data = state["data"]

    def convert_to_tensors(self, tensor_type: Any = None) -> BatchFeature:
        """Converts every value to ``tensor_type`` ("np" or "pt"; None leaves them as they are)."""
        if tensor_type is None:
            return self
        name = getattr(tensor_type, "value", tensor_type)
        if name == "np":
            convert = _to_numpy
        elif name == "pt":
            convert = _to_torch
        else:
            raise ValueError(f"return_tensors={tensor_type!r} is not supported: use None, 'np' or 'pt'")
        for key, value in self.items():
            try:
                self.data[key] = convert(value)
            except Exception as err:
                raise ValueError(
                    f"Unable to create a tensor from {key!r} (images of different sizes cannot be "
                    "stacked: resize them or use return_tensors=None)"
                ) from err
        return self

    def to(self, *args: Any, **kwargs: Any) -> BatchFeature:
        """Moves torch tensors (``return_tensors="pt"``) to a device/dtype, like transformers."""
        for key, value in self.items():
            if hasattr(value, "to") and callable(value.to):
                self.data[key] = value.to(*args, **kwargs)
        return self

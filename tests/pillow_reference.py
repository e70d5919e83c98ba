"""The reference decoder of the decoding tests: what transformers users get from Pillow."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image


def pil_rgb(data: bytes) -> np.ndarray:
    """``np.asarray(Image.open(...).convert("RGB"))`` of encoded image bytes."""
    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(im.convert("RGB"))


def pil_outcome(data: bytes) -> np.ndarray | None:
    """Pillow's RGB array, or None when Pillow raises."""
    try:
        return pil_rgb(data)
    except Exception:  # noqa: BLE001 - any Pillow failure counts as "Pillow refuses"
        return None

"""Built-in color palettes.

``default_palette()`` is the palette `ImageGPTImageProcessor` uses when no ``clusters`` are given: the
centers of a uniform 8 x 8 x 8 grid over the RGB cube, in ImageGPT's normalized [-1, 1] space
(``(i + 0.5) / 8 * 2 - 1`` per channel, red slowest, blue fastest). It has 512 clusters like OpenAI's
ImageGPT palette, so a model config with ``vocab_size=513`` fits it, but it is NOT OpenAI's palette:
OpenAI's k-means clusters are data of their own and come with the checkpoint's
``preprocessor_config.json`` (load it with ``ImageGPTImageProcessor.from_pretrained``). The grid is
generated, not learned, so it ships no data and has no license strings attached.
"""

from __future__ import annotations

import numpy as np

__all__ = ["default_palette", "uniform_grid_palette"]


def uniform_grid_palette(levels: int = 8) -> np.ndarray:
    """Centers of a ``levels**3`` uniform grid over the RGB cube, float64, shape (levels**3, 3)."""
    if not isinstance(levels, int) or isinstance(levels, bool) or not 1 <= levels <= 40:
        raise ValueError(f"levels must be an int in [1, 40] (at most 65535 clusters), got {levels!r}")
    axis = (np.arange(levels, dtype=np.float64) + 0.5) / levels * 2.0 - 1.0
    r, g, b = np.meshgrid(axis, axis, axis, indexing="ij")
    return np.stack([r.ravel(), g.ravel(), b.ravel()], axis=1)


def default_palette() -> np.ndarray:
    """The processor's default palette: the 512 centers of a uniform 8x8x8 RGB grid (float64, (512, 3))."""
    return uniform_grid_palette(8)

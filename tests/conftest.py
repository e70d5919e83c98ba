"""Shared fixtures: real photographs shipped inside PyPI packages, and a palette fitted on them."""

from __future__ import annotations

import numpy as np
import pytest


def pytest_configure(config):
    # a marker of transformers' common test files, which test_transformers_common_tests.py imports
    config.addinivalue_line("markers", "torch_compile_test: transformers' torch.compile tests (never run here)")


def _photos() -> dict[str, np.ndarray]:
    skdata = pytest.importorskip("skimage.data", reason="scikit-image ships the test photographs")
    photos = {name: getattr(skdata, name)() for name in ("astronaut", "coffee", "chelsea", "rocket")}
    photos["camera"] = skdata.camera()  # grayscale
    try:
        from sklearn.datasets import load_sample_images

        for name, img in zip(("china", "flower"), load_sample_images().images):
            photos[name] = img
    except ImportError:  # pragma: no cover - scikit-learn is in the test extra
        pass
    return photos


@pytest.fixture(scope="session")
def real_photos() -> dict[str, np.ndarray]:
    """Real photographs as uint8 arrays (H, W, 3), plus the grayscale 'camera' (H, W)."""
    return _photos()


@pytest.fixture(scope="session")
def rgb_photos(real_photos) -> dict[str, np.ndarray]:
    return {k: v for k, v in real_photos.items() if v.ndim == 3}


@pytest.fixture(scope="session")
def photo_palette(rgb_photos) -> np.ndarray:
    """A realistic 512-cluster palette: k-means on real-photo pixels in the normalized [-1, 1] space,
    float64 as it comes back from a JSON config."""
    from sklearn.cluster import MiniBatchKMeans

    rng = np.random.default_rng(0)
    pixels = np.concatenate([p.reshape(-1, 3) for p in rgb_photos.values()])
    sample = pixels[rng.choice(len(pixels), size=60_000, replace=False)]
    x = sample.astype(np.float64) / 127.5 - 1
    km = MiniBatchKMeans(n_clusters=512, random_state=0, n_init=1, batch_size=4096, max_iter=30)
    km.fit(x)
    return np.asarray(km.cluster_centers_, dtype=np.float64)

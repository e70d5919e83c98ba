"""Records what a real Pillow 12 gives for a set of resizes: tests/data/pillow12_resize_oracle.npz.

Pillow 12 runs the two resampling passes in another order than Pillow 13 in some cases, so the
test-suite (which runs with one installed Pillow) checks ``pillow_compat=12`` against outputs recorded
here. Run it in an environment with Pillow 12 and NumPy only, passing the two PNG photos shipped
inside scikit-image (read by Pillow itself, so scikit-image need not be installed there):

    python3 -m venv /tmp/venv-pillow12
    /tmp/venv-pillow12/bin/pip install numpy "pillow==12.3.*"
    /tmp/venv-pillow12/bin/python tests/data/make_pillow12_oracle.py \\
        --astronaut .../skimage/data/astronaut.png --chelsea .../skimage/data/chelsea.png \\
        --out tests/data/pillow12_resize_oracle.npz

With ``pillow==12.1.*``, ``--tall-only`` and ``--out tests/data/pillow12_1_resize_oracle.npz`` it
records the older rule (12.1 has no vertical-first path for images over 100 times taller than wide).

The file holds the small source images (``src_<name>``), every output (``out_<i>``), a table of the
cases (``cases``: source index, mode, width, height, filter) and the Pillow version.
"""

from __future__ import annotations

import argparse

import numpy as np
import PIL
from PIL import Image

FILTERS = [0, 1, 2, 3, 4, 5]


def sources(astronaut: str, chelsea: str) -> dict[str, np.ndarray]:
    """Small real-photo crops, a tall strip, tiny images and noise."""
    rng = np.random.default_rng(20261125)
    astro = np.asarray(Image.open(astronaut).convert("RGB"))
    cat = np.asarray(Image.open(chelsea).convert("RGB"))
    return {
        "astro_face": np.ascontiguousarray(astro[60:124, 180:228]),  # 48 wide, 64 tall
        "cat_eyes": np.ascontiguousarray(cat[80:120, 120:186]),  # 66 wide, 40 tall
        "astro_l": np.ascontiguousarray(np.asarray(Image.fromarray(astro[300:356, 200:250]).convert("L"))),
        "tall_strip": np.ascontiguousarray(cat[:, 200:202]),  # 2 wide, 300 tall: > 100x taller than wide
        "tall_l": np.ascontiguousarray(np.asarray(Image.fromarray(astro[:, 100:103]).convert("L"))),  # 3 x 512
        "tiny": rng.integers(0, 256, (2, 3, 3), dtype=np.uint8),
        "noise": rng.integers(0, 256, (45, 31, 3), dtype=np.uint8),
    }


def targets(w: int, h: int) -> list[tuple[int, int]]:
    """Output sizes: typical ones, ones where the height shrinks much more than the width (Pillow 13
    runs the vertical pass first there) and ones where it does not."""
    out = [(16, 16), (1, 1), (w, max(1, h // 7)), (max(1, w - 3), max(1, h // 5))]
    if h > 100 * w:
        out += [(1, h // 10), (1, h - 1), (w + 1, h // 4), (1, 7)]
    else:
        out += [(w + 9, max(1, h // 3)), (max(1, w // 4), max(1, h // 2))]
    seen: list[tuple[int, int]] = []
    for t in out:
        if t not in seen and t != (w, h):
            seen.append(t)
    return seen


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--astronaut", required=True, help="path of skimage/data/astronaut.png")
    ap.add_argument("--chelsea", required=True, help="path of skimage/data/chelsea.png")
    ap.add_argument("--out", required=True)
    ap.add_argument("--tall-only", action="store_true", help="only the sources > 100x taller than wide")
    args = ap.parse_args()
    major = int(PIL.__version__.split(".")[0])
    if major != 12:
        raise SystemExit(f"run this with Pillow 12, not {PIL.__version__}")

    srcs = sources(args.astronaut, args.chelsea)
    if args.tall_only:
        srcs = {n: a for n, a in srcs.items() if a.shape[0] > 100 * a.shape[1]}
    names = list(srcs)
    arrays: dict[str, np.ndarray] = {f"src_{n}": a for n, a in srcs.items()}
    cases = []
    for si, name in enumerate(names):
        a = srcs[name]
        h, w = a.shape[:2]
        for tw, th in targets(w, h):
            for f in FILTERS:
                out = np.asarray(Image.fromarray(a).resize((tw, th), f, reducing_gap=None))
                arrays[f"out_{len(cases)}"] = out
                cases.append((si, tw, th, f))
    arrays["cases"] = np.array(cases, dtype=np.int32)
    arrays["source_names"] = np.array(names)
    arrays["pillow_version"] = np.array(PIL.__version__)
    np.savez_compressed(args.out, **arrays)
    print(f"{len(cases)} cases from Pillow {PIL.__version__} -> {args.out}")


if __name__ == "__main__":
    main()

"""Speed of imagegpt_rs.resampling.resize against Pillow's Image.resize, on real photographs.

Pillow's side is what transformers does per image: ``np.asarray(Image.fromarray(a).resize((w, h),
resample, reducing_gap=None))``. Ours returns the same bytes (tests/test_resampling.py checks that).
Each cell is the best of several timed runs. "ours 1 thread" runs in a child process with
``RAYON_NUM_THREADS=1`` (only images large enough are split over threads anyway). The "batch" rows
resize 512 crops one call at a time (for "N Python threads", from a thread pool: the GIL is released)
or with one ``resize_many`` call (parallel over the images in Rust).

    PYTHONPATH=python python benches/resize.py            # full table
    PYTHONPATH=python python benches/resize.py --quick    # fewer repetitions
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402

FILTERS = {"BILINEAR": 2, "BICUBIC": 3, "LANCZOS": 1}


def photos() -> dict[str, np.ndarray]:
    from PIL import Image
    from skimage import data
    from sklearn.datasets import load_sample_images

    china, flower = load_sample_images().images
    out = {
        "astronaut 512x512": data.astronaut(),
        "chelsea 451x300": data.chelsea(),
        "flower 640x427": flower,
        "crop 256x256": np.ascontiguousarray(china[100:356, 200:456]),
    }
    # A camera-sized frame: the china photo upscaled (BICUBIC) to 4000x3000.
    out["china up 4000x3000"] = np.asarray(Image.fromarray(china).resize((4000, 3000), Image.Resampling.BICUBIC))
    return out


CASES = [  # (photo, (height, width), filter)
    ("crop 256x256", (32, 32), "BILINEAR"),
    ("crop 256x256", (64, 64), "BILINEAR"),
    ("crop 256x256", (32, 32), "BICUBIC"),
    ("crop 256x256", (32, 32), "LANCZOS"),
    ("astronaut 512x512", (32, 32), "BILINEAR"),
    ("astronaut 512x512", (64, 64), "BILINEAR"),
    ("astronaut 512x512", (64, 64), "LANCZOS"),
    ("chelsea 451x300", (48, 48), "BILINEAR"),
    ("flower 640x427", (32, 48), "BICUBIC"),
    ("flower 640x427", (1024, 1536), "BILINEAR"),
    ("china up 4000x3000", (32, 32), "BILINEAR"),
    ("china up 4000x3000", (64, 64), "BICUBIC"),
    ("china up 4000x3000", (768, 1024), "LANCZOS"),
]


def best_ms(fn, repeat: int) -> float:
    fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times) * 1e3


def repeats(a: np.ndarray, quick: bool) -> int:
    n = 3 if a.size > 10_000_000 else 30
    return max(2, n // 5) if quick else n


def time_ours(quick: bool) -> dict[str, float]:
    from imagegpt_rs.resampling import resize, resize_many

    imgs = photos()
    out = {}
    for name, (h, w), f in CASES:
        a = imgs[name]
        out[f"{name}|{h}x{w}|{f}"] = best_ms(lambda: resize(a, (h, w), FILTERS[f]), repeats(a, quick))
    crops = batch_crops(imgs)
    out["batch"] = best_ms(lambda: [resize(c, (32, 32), 2) for c in crops], 2 if quick else 5)
    out["batch_many"] = best_ms(lambda: resize_many(crops, (32, 32), 2), 2 if quick else 5)
    return out


def batch_crops(imgs: dict[str, np.ndarray]) -> list[np.ndarray]:
    """512 different 256x256 crops of the large photo (real content, one size)."""
    big = imgs["china up 4000x3000"]
    rng = np.random.default_rng(0)
    ys = rng.integers(0, big.shape[0] - 256, 512)
    xs = rng.integers(0, big.shape[1] - 256, 512)
    return [np.ascontiguousarray(big[y : y + 256, x : x + 256]) for y, x in zip(ys, xs)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    _common.add_report_args(ap)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(time_ours(args.quick)))
        return

    from PIL import Image

    from imagegpt_rs.resampling import resize, resize_many

    env = dict(os.environ, RAYON_NUM_THREADS="1")
    cmd = [sys.executable, __file__, "--child"] + (["--quick"] if args.quick else [])
    single = json.loads(subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout)

    imgs = photos()
    _common.banner(["imagegpt-rs", "pillow"])
    rep = _common.Report("resize", ["imagegpt-rs", "pillow"], args)
    head = f"{'source':<20} {'to (h x w)':>11} {'filter':<9} {'Pillow ms':>10} {'ours ms':>9} {'1 thread':>9} {'speed-up':>9}"
    print(head)
    print("-" * len(head))
    single_rows = []
    for name, (h, w), f in CASES:
        a = imgs[name]
        n = repeats(a, args.quick)
        pil = best_ms(lambda: np.asarray(Image.fromarray(a).resize((w, h), FILTERS[f], reducing_gap=None)), n)
        ours = best_ms(lambda: resize(a, (h, w), FILTERS[f]), n)
        one = single[f"{name}|{h}x{w}|{f}"]
        print(f"{name:<20} {f'{h}x{w}':>11} {f:<9} {pil:>10.3f} {ours:>9.3f} {one:>9.3f} {pil / ours:>8.1f}x")
        single_rows.append([name, f"{h}x{w}", f, f"{pil:.3f}", f"{ours:.3f}", f"{one:.3f}", f"{pil / ours:.1f}x"])
    rep.table(
        "One image (identical bytes)",
        ["source", "to (h x w)", "filter", "Pillow ms", "ours ms", "ours 1 thread ms", "vs Pillow"],
        single_rows,
        show=False,
    )

    crops = batch_crops(imgs)
    nb = 2 if args.quick else 5
    pil_b = best_ms(lambda: [np.asarray(Image.fromarray(c).resize((32, 32), 2, reducing_gap=None)) for c in crops], nb)
    ours_b = single["batch"]
    threads = os.cpu_count() or 1
    with ThreadPoolExecutor(threads) as pool:
        par_b = best_ms(lambda: list(pool.map(lambda c: resize(c, (32, 32), 2), crops)), nb)
    many_b = best_ms(lambda: resize_many(crops, (32, 32), 2), nb)
    print()
    print("batch: 512 crops 256x256 -> 32x32 BILINEAR")
    rows = [
        ("Pillow, one call per image", pil_b),
        ("ours resize, 1 thread", ours_b),
        (f"ours resize, {threads} Python threads", par_b),
        ("ours resize_many, 1 thread", single["batch_many"]),
        (f"ours resize_many, {threads} threads", many_b),
    ]
    for label, ms in rows:
        print(f"  {label:<34} {ms:>8.1f} ms  {512 / ms * 1e3:>8.0f} images/s  {pil_b / ms:>6.1f}x Pillow")
    rep.table(
        "Batch: 512 crops 256x256 to 32x32 BILINEAR",
        ["method", "ms", "images/s", "vs Pillow"],
        [[label, f"{ms:,.1f}", f"{512 / ms * 1e3:,.0f}", f"{pil_b / ms:.1f}x"] for label, ms in rows],
        show=False,
    )
    rep.save()


if __name__ == "__main__":
    main()

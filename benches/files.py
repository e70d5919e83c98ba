"""Files to input_ids: real photos of varied sizes (JPEG and PNG, 0.2 to 20 megapixels) to 32x32 ids.

    python benches/files.py [--files N]

Each method runs in a fresh subprocess (for its own peak RSS), on the same files, in one run, timed
from after its imports and set-up (transformers' import alone takes about a second):
transformers 4.57 (PIL.Image.open + convert("RGB") + the slow processor, one image at a time; and its
fast, torchvision-backed processor when torch and torchvision are installed), PIL's
decode alone (one core), our decoder alone on all cores (the limit for exact mode), ours exact and
ours with --draft (JPEG DCT-domain downscaling), on all cores. Prints images/s, ratios and peak RSS.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from _common import banner, peak_rss_mib, real_photos, table  # noqa: E402

SIZES_MP = [0.25, 1, 4, 12, 20]


def make_files(directory: str, n: int) -> list[str]:
    from PIL import Image

    photos = real_photos()
    paths = []
    for i in range(n):
        src = Image.fromarray(photos[i % len(photos)])
        mp = SIZES_MP[i % len(SIZES_MP)]
        scale = (mp * 1e6 / (src.width * src.height)) ** 0.5
        im = src.resize((max(1, round(src.width * scale)), max(1, round(src.height * scale))), Image.BILINEAR)
        path = os.path.join(directory, f"photo{i:03d}.{'png' if i % 4 == 3 else 'jpg'}")
        im.save(path, quality=90) if path.endswith(".jpg") else im.save(path, compress_level=1)
        paths.append(path)
    return paths


def prepare(method: str, paths: list[str], clusters: np.ndarray):
    """The method's imports and set-up (not timed), and the work (timed) as a callable."""
    if method == "transformers":
        from PIL import Image
        from transformers import ImageGPTImageProcessor

        proc = ImageGPTImageProcessor(clusters, size=32)

        def transformers_all() -> None:
            for p in paths:
                proc(Image.open(p).convert("RGB"))

        return transformers_all
    if method == "transformers-fast":
        # transformers' torchvision-backed processor (needs torch and torchvision).
        from PIL import Image
        from transformers import ImageGPTImageProcessorFast

        # do_resize must be given: in transformers 4.57 the fast class leaves it unset (no resize).
        proc = ImageGPTImageProcessorFast(clusters=clusters, size={"height": 32, "width": 32}, do_resize=True)

        def transformers_fast_all() -> None:
            for p in paths:
                proc(Image.open(p).convert("RGB"))

        return transformers_fast_all
    if method == "pil-decode":
        from PIL import Image

        def pil_all() -> None:
            for p in paths:
                Image.open(p).convert("RGB").load()

        return pil_all
    if method == "ours-decode":
        from concurrent.futures import ThreadPoolExecutor

        from imagegpt_rs.decoding import decode_image

        def decode_all() -> None:
            with ThreadPoolExecutor(os.cpu_count()) as ex:
                for _ in ex.map(decode_image, paths):  # discard each image, as encoding does
                    pass

        return decode_all
    if method in ("ours-exact", "ours-draft"):
        from imagegpt_rs import ImageGPTImageProcessor
        from imagegpt_rs.encoding import encode_files

        proc = ImageGPTImageProcessor(clusters, size=32)
        return lambda: encode_files(paths, proc, draft=method == "ours-draft", chunk_size=64)
    if method.startswith("memory-"):
        # The same 1-megapixel JPEG listed n times, encoded to a shard directory: peak RSS must not
        # grow with n.
        from imagegpt_rs import ImageGPTImageProcessor
        from imagegpt_rs.encoding import encode_to_directory

        n = int(method.split("-")[1])
        one = next(p for p in paths if p.endswith(".jpg") and "001" in p)
        proc = ImageGPTImageProcessor(clusters, size=32)

        def encode_many() -> None:
            with tempfile.TemporaryDirectory() as out:
                encode_to_directory([one] * n, out, proc, shard_size=1024)

        return encode_many
    raise ValueError(method)


def run_method(method: str, paths: list[str], clusters: np.ndarray) -> dict[str, float]:
    """Images/s of one pass (imports and set-up excluded, for every method alike) and peak RSS."""
    work = prepare(method, paths, clusters)
    count = int(method.split("-")[1]) if method.startswith("memory-") else len(paths)
    t0 = time.perf_counter()
    work()
    dt = time.perf_counter() - t0
    return {"rate": count / dt, "rss": peak_rss_mib()}


def draft_agreement(paths: list[str]) -> None:
    """Share of --draft tokens equal to the exact path's, on the JPEGs (PNGs are never drafted)."""
    from imagegpt_rs import ImageGPTImageProcessor
    from imagegpt_rs.encoding import encode_files
    from imagegpt_rs.palette_fitting import fit_palette

    jpegs = [p for p in paths if p.endswith(".jpg")]
    fitted = fit_palette(jpegs, 512, size=64, seed=0).clusters
    for name, clusters in [("built-in 8x8x8 grid palette", None), ("512-color palette fitted on the JPEGs", fitted)]:
        for size in (32, 64):
            proc = ImageGPTImageProcessor(clusters, size=size)
            exact = encode_files(jpegs, proc).ids
            draft = encode_files(jpegs, proc, draft=True).ids
            print(f"--draft vs exact, {size}x{size}, {name}: {(exact == draft).mean():.1%} identical tokens")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=40)
    ap.add_argument("--method")
    ap.add_argument("--dir")
    args = ap.parse_args()
    clusters = np.random.default_rng(0).uniform(-1, 1, size=(512, 3))
    if args.method:
        paths = sorted(os.path.join(args.dir, n) for n in os.listdir(args.dir))
        print(json.dumps(run_method(args.method, paths, clusters)))
        return
    banner(["imagegpt-rs", "transformers", "pillow"])
    with tempfile.TemporaryDirectory() as d:
        paths = make_files(d, args.files)
        mp = sum(os.path.getsize(p) for p in paths) / 1e6
        print(f"{len(paths)} files ({mp:.0f} MB on disk), sizes {SIZES_MP} megapixels, JPEG q90 and PNG\n")
        rows, rss = [], {}
        names = {
            "transformers": "transformers 4.57 (PIL open + slow processor)",
            "transformers-fast": "transformers 4.57 (PIL open + fast processor, torch)",
            "pil-decode": "PIL decode alone, 1 core",
            "ours-decode": f"imagegpt-rs decode alone, {os.cpu_count()} cores",
            "ours-exact": f"imagegpt-rs exact, {os.cpu_count()} cores",
            "ours-draft": f"imagegpt-rs --draft, {os.cpu_count()} cores",
        }
        if importlib.util.find_spec("torch") is None or importlib.util.find_spec("torchvision") is None:
            print("transformers' fast processor: skipped (needs torch and torchvision)\n")
            del names["transformers-fast"]
        for method, name in names.items():
            out = subprocess.run(
                [sys.executable, __file__, "--method", method, "--dir", d], capture_output=True, text=True, check=True
            )
            res = json.loads(out.stdout.strip().splitlines()[-1])
            rows.append((name, res["rate"]))
            rss[name] = res["rss"]
        table(rows, "images/s", names["transformers"])
        for name, value in rss.items():
            print(f"peak RSS {name}: {value:.0f} MiB")
        print()
        draft_agreement(paths)
        print()
        for n in (1_000, 10_000):
            out = subprocess.run(
                [sys.executable, __file__, "--method", f"memory-{n}", "--dir", d], capture_output=True, text=True, check=True
            )
            res = json.loads(out.stdout.strip().splitlines()[-1])
            print(f"encode_to_directory of {n:,} files (1 MP JPEG): {res['rate']:,.0f} images/s, peak RSS {res['rss']:.0f} MiB")


if __name__ == "__main__":
    main()

"""Files to input_ids: real photos of varied sizes (JPEG and PNG, 0.2 to 20 megapixels) to 32x32 ids.

    python benches/files.py [--files N] [--imagenet N] [--json PATH] [--quick]

Each method runs in a fresh subprocess (for its own peak RSS), on the same files, in one run, timed
from after its imports and set-up (transformers' import alone takes about a second):
transformers 4.57 (PIL.Image.open + convert("RGB") + the slow processor, one image at a time; and its
fast, torchvision-backed processor when torch and torchvision are installed), PIL's
decode alone (one core), our decoder alone on all cores (the limit for exact mode), ours exact and
ours with --draft (JPEG DCT-domain downscaling), on all cores. Prints images/s, ratios and peak RSS.

Then the same methods on an ImageNet-like set (JPEGs around 500x375, quality 75-95, random crops and
scales of the sample photos, fixed seed) with the projected time for ImageNet-1k's 1,281,167 training
images, and how our exact path scales with image size (0.25 to 20 megapixels) and threads (1 and all).
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
from _common import Report, add_report_args, banner, peak_rss_mib, real_photos  # noqa: E402

SIZES_MP = [0.25, 1, 4, 12, 20]
IMAGENET_TRAIN = 1_281_167


def make_imagenet_like(directory: str, n: int, seed: int = 0) -> list[str]:
    """``n`` JPEGs like ImageNet's: random crops of the sample photos (height 35-100% of the photo's,
    aspect ratio the photo's times 3/4 to 4/3), scaled so the longer side is 400-500 px, saved at quality 75-95."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    photos = real_photos()
    paths = []
    for i in range(n):
        p = photos[rng.integers(len(photos))]
        h, w = p.shape[:2]
        frac = rng.uniform(0.35, 1.0)
        aspect = rng.uniform(0.75, 4 / 3)
        ch = max(8, min(h, int(h * frac)))
        cw = max(8, min(w, int(ch * aspect * w / h)))
        y, x = rng.integers(0, h - ch + 1), rng.integers(0, w - cw + 1)
        im = Image.fromarray(p[y : y + ch, x : x + cw])
        long_side = rng.integers(400, 501)
        scale = long_side / max(cw, ch)
        im = im.resize((max(1, round(cw * scale)), max(1, round(ch * scale))), Image.BICUBIC)
        path = os.path.join(directory, f"img{i:05d}.jpg")
        im.save(path, quality=int(rng.integers(75, 96)))
        paths.append(path)
    return paths


def make_sized(directory: str, mp: float, n: int) -> list[str]:
    """``n`` JPEGs (quality 90) of ``mp`` megapixels from the sample photos."""
    from PIL import Image

    photos = real_photos()
    paths = []
    for i in range(n):
        src = Image.fromarray(photos[i % len(photos)])
        scale = (mp * 1e6 / (src.width * src.height)) ** 0.5
        im = src.resize((max(1, round(src.width * scale)), max(1, round(src.height * scale))), Image.BILINEAR)
        path = os.path.join(directory, f"s{i:03d}.jpg")
        im.save(path, quality=90)
        paths.append(path)
    return paths


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
    if method in ("ours-exact", "ours-draft") or method.startswith("ours-exact-t"):
        from imagegpt_rs import ImageGPTImageProcessor
        from imagegpt_rs.encoding import encode_files

        proc = ImageGPTImageProcessor(clusters, size=32)
        threads = int(method.rsplit("t", 1)[1]) if method.startswith("ours-exact-t") else None
        return lambda: encode_files(paths, proc, draft=method == "ours-draft", chunk_size=64, num_threads=threads)
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


def draft_agreement(paths: list[str], rep: Report) -> None:
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
            rep.note(f"--draft vs exact, {size}x{size}, {name}: {(exact == draft).mean():.1%} identical tokens")


def run(method: str, directory: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--method", method, "--dir", directory], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=40)
    ap.add_argument("--imagenet", type=int, default=2000, help="files of the ImageNet-like set (0: skip)")
    ap.add_argument("--method")
    ap.add_argument("--dir")
    add_report_args(ap)
    args = ap.parse_args()
    clusters = np.random.default_rng(0).uniform(-1, 1, size=(512, 3))
    if args.method:
        paths = sorted(os.path.join(args.dir, n) for n in os.listdir(args.dir))
        print(json.dumps(run_method(args.method, paths, clusters)))
        return
    if args.quick:
        args.files, args.imagenet = min(args.files, 10), min(args.imagenet, 60)
    packages = ["imagegpt-rs", "transformers", "pillow"]
    banner(packages)
    rep = Report("files", packages, args)
    cores = os.cpu_count()
    names = {
        "transformers": "transformers 4.57 (PIL open + slow processor)",
        "transformers-fast": "transformers 4.57 (PIL open + fast processor, torch)",
        "pil-decode": "PIL decode alone, 1 core",
        "ours-decode": f"imagegpt-rs decode alone, {cores} cores",
        "ours-exact": f"imagegpt-rs exact, {cores} cores",
        "ours-draft": f"imagegpt-rs --draft, {cores} cores",
    }
    if importlib.util.find_spec("torch") is None or importlib.util.find_spec("torchvision") is None:
        print("transformers' fast processor: skipped (needs torch and torchvision)\n")
        del names["transformers-fast"]
    with tempfile.TemporaryDirectory() as d:
        paths = make_files(d, args.files)
        mp = sum(os.path.getsize(p) for p in paths) / 1e6
        rows = []
        for method, name in names.items():
            res = run(method, d)
            rows.append((name, res["rate"], res["rss"]))
        base = rows[0][1]
        rep.table(
            f"Files to 32x32 ids: {len(paths)} photos ({mp:.0f} MB), {SIZES_MP} megapixels, JPEG q90 and PNG",
            ["method", "images/s", "vs transformers", "peak RSS MiB"],
            [[name, f"{rate:,.1f}", f"{rate / base:.1f}x", f"{rss:,.0f}"] for name, rate, rss in rows],
        )
        if not args.quick:
            draft_agreement(paths, rep)
            print()
        for n in (100,) if args.quick else (1_000, 10_000):
            res = run(f"memory-{n}", d)
            rep.note(
                f"encode_to_directory of {n:,} files (1 MP JPEG): {res['rate']:,.0f} images/s, "
                f"peak RSS {res['rss']:.0f} MiB"
            )
        print()

    if args.imagenet:
        with tempfile.TemporaryDirectory() as d:
            paths = make_imagenet_like(d, args.imagenet)
            sizes = []
            from PIL import Image

            for p in paths:
                with Image.open(p) as im:
                    sizes.append(im.width * im.height)
            rows = []
            for method, name in names.items():
                res = run(method, d)
                rows.append((name, res["rate"]))
            base = rows[0][1]
            rep.table(
                f"ImageNet-like: {len(paths):,} JPEGs (random crops and scales of the sample photos, longer side "
                f"400-500 px, mean {np.mean(sizes) / 1e3:.0f} kpixels, quality 75-95) to 32x32 ids; "
                f"projected time for ImageNet-1k train ({IMAGENET_TRAIN:,} images)",
                ["method", "images/s", "vs transformers", "ImageNet-1k train"],
                [
                    [name, f"{rate:,.0f}", f"{rate / base:.1f}x", _duration(IMAGENET_TRAIN / rate)]
                    for name, rate in rows
                ],
            )

    per_size = 2 if args.quick else 8
    rows = []
    for mp_ in SIZES_MP:
        with tempfile.TemporaryDirectory() as d:
            make_sized(d, mp_, per_size)
            r1 = run("ours-exact-t1", d)["rate"]
            rn = run(f"ours-exact-t{cores}", d)["rate"]
            rd = run("ours-decode", d)["rate"]
            rows.append(
                [
                    f"{mp_:g}",
                    f"{r1:,.1f}",
                    f"{r1 * mp_:,.0f}",
                    f"{rn:,.1f}",
                    f"{rn * mp_:,.0f}",
                    f"{rn / r1:.2f}x",
                    f"{rd:,.1f}",
                ]
            )
    rep.table(
        f"Exact mode against image size and threads ({per_size} JPEGs q90 per size, to 32x32 ids)",
        [
            "megapixels",
            "images/s, 1 thread",
            "Mpixel/s, 1 thread",
            f"images/s, {cores} threads",
            f"Mpixel/s, {cores} threads",
            "thread scaling",
            f"decode alone images/s, {cores} threads",
        ],
        rows,
    )
    rep.save()


def _duration(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    if seconds >= 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds:.0f} s"


if __name__ == "__main__":
    main()

"""Dataset containers: the same images as loose files, WebDataset tar shards and HF-style Parquet, to 32x32 ids.

    python benches/containers.py [--images N] [--shards S]

Images: crops of real photos, 0.1 to 0.5 megapixels (typical WebDataset/LAION sample sizes), JPEG q90 with
every fourth a PNG. Each method runs in a fresh subprocess (its own peak RSS), timed after its imports:
ours (``encode_to_directory`` of the loose files, of the tar shards, of the Parquet file; npy shards
out) and transformers 4.57 reading the same containers (``PIL.Image.open`` on the files, on
``tarfile`` members, on Parquet bytes read with ``iter_batches``, then the slow processor one image at a
time). Then peak RSS of ours on the same images packed into 1 or many tar shards: it must stay flat.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from _common import banner, peak_rss_mib, real_photos, table  # noqa: E402


def make_data(d: str, n: int, shards: int) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq
    from PIL import Image

    rng = np.random.default_rng(0)
    photos = real_photos()
    os.makedirs(os.path.join(d, "files"))
    blobs, names = [], []
    for i in range(n):
        p = photos[i % len(photos)]
        mp = [0.1, 0.2, 0.3, 0.5][i % 4]
        h = min(p.shape[0], int((mp * 1e6 * 0.75) ** 0.5))
        w = min(p.shape[1], int(h / 0.75))
        y, x = rng.integers(0, p.shape[0] - h + 1), rng.integers(0, p.shape[1] - w + 1)
        im = Image.fromarray(np.ascontiguousarray(p[y : y + h, x : x + w]))
        b = io.BytesIO()
        ext = "png" if i % 4 == 3 else "jpg"
        im.save(b, "PNG", compress_level=1) if ext == "png" else im.save(b, "JPEG", quality=90)
        blobs.append(b.getvalue())
        names.append(f"{i:06d}.{ext}")
        with open(os.path.join(d, "files", names[-1]), "wb") as f:
            f.write(blobs[-1])
    for count in sorted({1, shards, 40}):
        sub = os.path.join(d, f"tar{count}")
        os.makedirs(sub)
        per = -(-n // count)
        for s in range(count):
            with tarfile.open(os.path.join(sub, f"shard-{s:04d}.tar"), "w") as tar:
                for i in range(s * per, min(n, (s + 1) * per)):
                    info = tarfile.TarInfo(names[i])
                    info.size = len(blobs[i])
                    tar.addfile(info, io.BytesIO(blobs[i]))
                    info = tarfile.TarInfo(names[i].split(".")[0] + ".txt")
                    info.size = 9
                    tar.addfile(info, io.BytesIO(b"a caption"))
    image = pa.StructArray.from_arrays(
        [pa.array(blobs, pa.binary()), pa.array([None] * n, pa.string())], names=["bytes", "path"]
    )
    pq.write_table(pa.table({"id": np.arange(n), "image": image}), os.path.join(d, "data.parquet"), row_group_size=100)


def prepare(method: str, d: str, clusters: np.ndarray, shards: int):
    import glob

    files = sorted(glob.glob(os.path.join(d, "files", "*")))
    tars = sorted(glob.glob(os.path.join(d, f"tar{shards}", "*.tar")))
    parquet = os.path.join(d, "data.parquet")
    if method.startswith("ours"):
        from imagegpt_rs import ImageGPTImageProcessor
        from imagegpt_rs.encoding import encode_to_directory

        proc = ImageGPTImageProcessor(clusters, size=32)
        if method == "ours-parquet":
            import pyarrow.parquet  # noqa: F401  (an import, not work: outside the timing as for transformers)
        if method.startswith("ours-tars-"):
            tars = sorted(glob.glob(os.path.join(d, f"tar{method.split('-')[2]}", "*.tar")))
        inputs = {"ours-files": [os.path.join(d, "files")], "ours-parquet": [parquet]}.get(method, tars)

        def ours() -> None:
            with tempfile.TemporaryDirectory() as out:
                encode_to_directory(inputs, out, proc, chunk_size=256)

        return ours
    from PIL import Image
    from transformers import ImageGPTImageProcessor

    proc = ImageGPTImageProcessor(clusters, size=32)
    if method == "transformers-files":

        def run() -> None:
            for p in files:
                proc(Image.open(p).convert("RGB"))

    elif method == "transformers-tar":

        def run() -> None:
            for t in tars:
                with tarfile.open(t) as tar:
                    for m in tar:
                        if m.name.endswith((".jpg", ".png")):
                            proc(Image.open(tar.extractfile(m)).convert("RGB"))

    elif method == "transformers-parquet":
        import pyarrow.parquet as pq

        def run() -> None:
            for batch in pq.ParquetFile(parquet).iter_batches(batch_size=100, columns=["image"]):
                for blob in batch.column(0).field("bytes").to_pylist():
                    proc(Image.open(io.BytesIO(blob)).convert("RGB"))

    else:
        raise ValueError(method)
    return run


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=400)
    ap.add_argument("--shards", type=int, default=4)
    ap.add_argument("--method")
    ap.add_argument("--dir")
    args = ap.parse_args()
    clusters = np.random.default_rng(0).uniform(-1, 1, size=(512, 3))
    if args.method:
        work = prepare(args.method, args.dir, clusters, args.shards)
        t0 = time.perf_counter()
        work()
        dt = time.perf_counter() - t0
        print(json.dumps({"rate": args.images / dt, "rss": peak_rss_mib()}))
        return
    banner(["imagegpt-rs", "transformers", "pillow", "pyarrow"])
    with tempfile.TemporaryDirectory() as d:
        make_data(d, args.images, args.shards)
        mb = sum(os.path.getsize(os.path.join(d, "files", n)) for n in os.listdir(os.path.join(d, "files"))) / 1e6
        print(f"{args.images} images ({mb:.0f} MB), 0.1-0.5 megapixels, JPEG q90 and PNG; {args.shards} tar shards\n")

        def measure(method: str) -> dict[str, float]:
            out = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--method",
                    method,
                    "--dir",
                    d,
                    "--images",
                    str(args.images),
                    "--shards",
                    str(args.shards),
                ],
                capture_output=True,
                text=True,
                check=True,
            )
            return json.loads(out.stdout.strip().splitlines()[-1])

        names = {
            "transformers-files": "transformers 4.57, loose files",
            "transformers-tar": "transformers 4.57, tar shards (tarfile)",
            "transformers-parquet": "transformers 4.57, Parquet (iter_batches)",
            "ours-files": f"imagegpt-rs, loose files, {os.cpu_count()} cores",
            "ours-tar": f"imagegpt-rs, tar shards, {os.cpu_count()} cores",
            "ours-parquet": f"imagegpt-rs, Parquet, {os.cpu_count()} cores",
        }
        rows, rss = [], {}
        for method, name in names.items():
            res = measure(method)
            rows.append((name, res["rate"]))
            rss[name] = res["rss"]
        table(rows, "images/s", names["transformers-files"])
        for name, value in rss.items():
            print(f"peak RSS {name}: {value:.0f} MiB")
        print()
        for count in sorted({1, args.shards, 40}):
            res = measure(f"ours-tars-{count}")
            print(
                f"imagegpt-rs, {args.images} images in {count} tar shard(s): {res['rate']:,.0f} images/s, peak RSS {res['rss']:.0f} MiB"
            )


if __name__ == "__main__":
    main()

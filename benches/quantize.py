"""Color quantization throughput: real-photo pixels to ImageGPT token ids.

    python benches/quantize.py [--pixels 20000000] [--rss-pixels 100000000] [--json PATH] [--quick]

Side by side on the same real-photo pixels (scikit-image and scikit-learn sample photos, tiled) and the
same 512-cluster k-means palette: transformers 4.57's NumPy ``color_quantize`` (normalize included),
the same formula in torch (if installed), faiss ``IndexFlatL2`` k=1 (if installed), and
``imagegpt_rs.ColorQuantizer`` cold (table build included) and warm. Also: the table build alone,
one 32x32 image on a fresh palette, and the peak RSS of a large call in a child process.
Prints the machine, the versions and a table of Mpixel/s with ratios.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402


def banner() -> None:
    _common.banner(["imagegpt-rs", "transformers", "torch", "faiss-cpu", "scikit-learn"])
    try:
        from threadpoolctl import threadpool_info

        blas = [
            f"{i['internal_api']} {i['version']} ({i['architecture']}, {i['num_threads']} threads)"
            for i in threadpool_info()
            if i["user_api"] == "blas"
        ]
        print("numpy BLAS:", ", ".join(blas) or "unknown")
    except ImportError:
        pass
    print()


def photo_pixels() -> np.ndarray:
    import skimage.data as d

    photos = [d.astronaut(), d.coffee(), d.chelsea(), d.rocket(), d.hubble_deep_field(), d.immunohistochemistry()]
    try:
        from sklearn.datasets import load_sample_images

        photos += list(load_sample_images().images)
    except ImportError:
        pass
    return np.concatenate([p.reshape(-1, 3) for p in photos])


def normalize(px: np.ndarray) -> np.ndarray:
    return (px.astype(np.float64) * (1 / 127.5)).astype(np.float32) - 1


def kmeans_palette(px: np.ndarray) -> np.ndarray:
    from sklearn.cluster import MiniBatchKMeans

    rng = np.random.default_rng(0)
    sample = normalize(px[rng.choice(len(px), 100_000, replace=False)])
    km = MiniBatchKMeans(n_clusters=512, random_state=0, n_init=1, batch_size=4096, max_iter=50)
    return km.fit(sample).cluster_centers_.astype(np.float64)


def best_time(fn: Callable[[], object], repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def fresh(clusters: np.ndarray, i: int) -> np.ndarray:
    """A palette equal up to 1 ulp-ish noise, so no cached table is reused ("cold")."""
    return clusters + (i + 1) * 1e-9


RSS_CHILD = r"""
import sys, time, numpy as np
from imagegpt_rs import ColorQuantizer
def hwm():  # peak resident set of this process (MiB); ru_maxrss would include the parent's across exec
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM"):
            return int(line.split()[1]) / 1024
n = int(sys.argv[1]); clusters = np.load(sys.argv[2]); px = np.load(sys.argv[3])
before = hwm()
images = np.empty((n, 3), np.uint8)        # input: n pixels uint8, filled in place
for s in range(0, n, len(px)):
    images[s : s + len(px)] = px[: n - s]
out = np.empty(n, dtype=np.int64)          # output: int64 ids
t = time.perf_counter(); ColorQuantizer(clusters).quantize(images, out=out); dt = time.perf_counter() - t
print(before, hwm(), dt)
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pixels", type=int, default=20_000_000, help="pixels for our warm/cold runs")
    ap.add_argument("--rss-pixels", type=int, default=100_000_000, help="pixels of the peak-RSS child (0: skip)")
    _common.add_report_args(ap)
    args = ap.parse_args()
    if args.quick:
        args.pixels, args.rss_pixels = min(args.pixels, 2_000_000), 0

    banner()
    rep = _common.Report("quantize", ["imagegpt-rs", "transformers", "torch", "faiss-cpu", "scikit-learn"], args)
    from imagegpt_rs import ColorQuantizer

    px = photo_pixels()
    clusters = kmeans_palette(px)
    big = np.resize(px, (args.pixels, 3))
    print(f"data: {len(px):,} real-photo pixels tiled to {len(big):,}; palette: 512-cluster k-means (float64)")
    print()

    rows: list[tuple[str, float, str]] = []
    sub = px[:65536]

    # ours
    q = ColorQuantizer(fresh(clusters, 0))
    t0 = time.perf_counter()
    ids = q.quantize(big)
    cold = time.perf_counter() - t0
    rows.append(("imagegpt-rs cold (table build included)", len(big) / cold / 1e6, f"{len(big):,} px"))
    del ids
    # The default call returns a new array (the README's call); out= writes into one already faulted in.
    t_new = best_time(lambda: q.quantize(big), repeat=5)
    rows.append(("imagegpt-rs warm, int64 ids: q.quantize(img)", len(big) / t_new / 1e6, f"{len(big):,} px"))
    out64 = np.empty(len(big), np.int64)
    out64.fill(0)
    t_out = best_time(lambda: q.quantize(big, out=out64), repeat=5)
    rows.append(("imagegpt-rs warm, int64 ids, out= preallocated", len(big) / t_out / 1e6, f"{len(big):,} px"))
    t = best_time(lambda: q.quantize(big, dtype=np.uint16), repeat=5)
    rows.append(
        ("imagegpt-rs warm, uint16 ids: q.quantize(img, dtype=np.uint16)", len(big) / t / 1e6, f"{len(big):,} px")
    )
    q1 = ColorQuantizer(q.clusters, num_threads=1)
    t = best_time(lambda: q1.quantize(big, out=out64), repeat=3)
    rows.append(("imagegpt-rs warm, int64 ids, out=, 1 thread", len(big) / t / 1e6, f"{len(big):,} px"))

    # transformers' NumPy formula (normalize + color_quantize), on a slice
    from transformers.models.imagegpt.image_processing_imagegpt import color_quantize

    t = best_time(lambda: color_quantize(normalize(sub), clusters), repeat=2)
    ref_ids = color_quantize(normalize(sub), clusters)
    rows.append(("transformers 4.57 NumPy color_quantize", len(sub) / t / 1e6, f"{len(sub):,} px"))

    try:
        import torch

        xt = torch.from_numpy(normalize(px[:262_144]))
        ct = torch.from_numpy(clusters)

        def torch_formula() -> object:
            res = []
            for s in range(0, len(xt), 32768):  # chunks keep the (n, 512) float64 matrix small
                x = xt[s : s + 32768]
                a2 = (x * x).sum(1).to(torch.float64)  # a2 in float32, the rest in float64, as numpy
                d = a2[:, None] - 2 * (x.to(torch.float64) @ ct.T) + (ct * ct).sum(1)[None, :]
                res.append(d.argmin(1))
            return torch.cat(res)

        t = best_time(torch_formula, repeat=2)
        rows.append(("torch, same formula (float64)", len(xt) / t / 1e6, f"{len(xt):,} px"))
    except ImportError:
        print("torch: skipped (not installed)")

    try:
        import faiss

        xf = normalize(px[: 200_000 if args.quick else 2_000_000])
        index = faiss.IndexFlatL2(3)
        index.add(np.ascontiguousarray(clusters, dtype=np.float32))
        t = best_time(lambda: index.search(xf, 1), repeat=2)
        rows.append(("faiss IndexFlatL2 k=1 (float32, normalized input)", len(xf) / t / 1e6, f"{len(xf):,} px"))
    except ImportError:
        print("faiss: skipped (not installed)")

    assert np.array_equal(ColorQuantizer(clusters).quantize(sub), ref_ids), "ids differ from transformers"
    rep.note(
        f"data: {len(px):,} real-photo pixels (scikit-image and scikit-learn sample photos) tiled to "
        f"{len(big):,}; palette: 512-cluster k-means (float64); ids identical to transformers' "
        "color_quantize on the NumPy sample"
    )
    print()
    base = next(r[1] for r in rows if r[0].startswith("transformers"))
    faiss_rate = next((r[1] for r in rows if r[0].startswith("faiss")), None)
    rows = [r for r in rows if not r[0].startswith("imagegpt")] + [r for r in rows if r[0].startswith("imagegpt")]
    rep.table(
        f"Color quantization, {q.num_threads} threads unless noted",
        ["method", "Mpixel/s", "vs NumPy formula", "vs faiss", "measured on"],
        [
            [
                name,
                f"{rate:,.3g}" if rate < 10 else f"{rate:,.0f}",
                f"{rate / base:,.0f}x",
                f"{rate / faiss_rate:,.1f}x" if faiss_rate else "",
                note,
            ]
            for name, rate, note in rows
        ],
    )
    rep.note(f"default call (new int64 array) / out= call: {t_out / t_new:.2f}x")

    builds = []
    for i in range(1, 4):
        qq = ColorQuantizer(fresh(clusters, i))
        t = time.perf_counter()
        qq.build_table()
        builds.append(time.perf_counter() - t)
    rep.note(
        f"table build, 512 clusters, {q.num_threads} threads: best {min(builds) * 1e3:.0f} ms "
        f"(runs: {', '.join(f'{b * 1e3:.0f}' for b in builds)} ms)"
    )
    # Table build against K: palettes of K distinct real-photo colors (k-means centers sit among them).
    uniq = np.unique(px, axis=0)
    rng = np.random.default_rng(1)
    ks = [16, 512] if args.quick else [16, 64, 256, 512, 1024, 4096, 16384, 65535]
    krows = []
    for k in ks:
        pal = normalize(uniq[rng.choice(len(uniq), k, replace=False)]).astype(np.float64)
        qq = ColorQuantizer(pal)
        t = time.perf_counter()
        qq.build_table()
        tb = time.perf_counter() - t
        tw = best_time(lambda: qq.quantize(big[:2_000_000], out=out64[:2_000_000]), repeat=3)
        krows.append([f"{k:,}", f"{tb * 1e3:,.0f}", f"{2_000_000 / tw / 1e6:,.0f}"])
    rep.table(
        f"Table build against the number of clusters K ({q.num_threads} threads; palettes of K distinct "
        "real-photo colors, float64); lookups after the build do not depend on K",
        ["K", "table build ms", "warm int64 Mpixel/s (out=)"],
        krows,
    )
    small = px[: 32 * 32].reshape(32, 32, 3)
    smalls = []
    for i in range(10, 20):
        c = fresh(clusters, i)
        t = time.perf_counter()
        ColorQuantizer(c).quantize(small)
        smalls.append(time.perf_counter() - t)
    rep.note(
        f"one 32x32 image from cold (new quantizer, new palette): median {np.median(smalls) * 1e3:.2f} ms, "
        f"max {max(smalls) * 1e3:.2f} ms"
    )

    if args.rss_pixels:
        import tempfile

        with tempfile.TemporaryDirectory() as d:
            cp, pp = os.path.join(d, "c.npy"), os.path.join(d, "p.npy")
            np.save(cp, fresh(clusters, 99))
            np.save(pp, px)
            res = subprocess.run(
                [sys.executable, "-c", RSS_CHILD, str(args.rss_pixels), cp, pp],
                capture_output=True,
                text=True,
                check=True,
            )
        before, peak, dt = map(float, res.stdout.split())
        n = args.rss_pixels
        io = (n * 3 + n * 8) / 2**20
        rep.note(
            f"peak RSS, {n:,} pixels cold (child process): {peak - before:,.0f} MiB above the interpreter's "
            f"{before:,.0f} MiB; input {n * 3 / 2**20:,.0f} + int64 output {n * 8 / 2**20:,.0f} + table 32 "
            f"= {io + 32:,.0f} MiB; {n / dt / 1e6:.0f} Mpixel/s"
        )
    print(f"\nself peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MiB")
    rep.save()


if __name__ == "__main__":
    main()

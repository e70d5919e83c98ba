"""Palette fitting: scikit-learn KMeans / MiniBatchKMeans against imagegpt_rs.fit_palette.

Same real-photo pixels, same k, same iteration budget (max_iter) and tolerance. Inertia is the sum
of squared distances of the pixels to their nearest center in the normalized [-1, 1] space, computed
for every method by the same NumPy code. Then ours alone on 10 million pixels x 512 clusters.

    python benches/palette.py            # 1M pixels x 512 clusters vs scikit-learn, then 10M ours
    python benches/palette.py --quick    # 200k pixels x 64 clusters (a minute)
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402
from _common import banner, peak_rss_mib, real_photos  # noqa: E402


def nearest_inertia(x: np.ndarray, centers: np.ndarray, chunk: int = 20_000) -> float:
    """Sum over points of the squared distance to the nearest center (exact, float64)."""
    c2 = (centers**2).sum(1)
    total = 0.0
    for s in range(0, len(x), chunk):
        xs = x[s : s + chunk]
        d = (xs**2).sum(1)[:, None] - 2 * xs @ centers.T + c2[None, :]
        j = d.argmin(1)
        total += float(((xs - centers[j]) ** 2).sum())
    return total


def pixel_pool(upscale: int = 1) -> np.ndarray:
    """All pixels of the real photos (RGB ones), optionally upscaled with Pillow's bilinear filter
    (which also makes new in-between colors)."""
    from PIL import Image

    out = []
    for p in real_photos():
        if p.ndim != 3:
            continue
        if upscale != 1:
            p = np.asarray(Image.fromarray(p).resize((p.shape[1] * upscale, p.shape[0] * upscale), Image.BILINEAR))
        out.append(p.reshape(-1, 3))
    return np.concatenate(out)


def timed(fn, repeat: int = 1):
    """Result and best wall time of ``repeat`` calls (the machine may be shared: best of a few)."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        r = fn()
        best = min(best, time.perf_counter() - t0)
    return r, best


def compare(rep, n_pixels: int, k: int, max_iter: int, tol: float, skip_kmeans: bool) -> None:
    from sklearn.cluster import KMeans, MiniBatchKMeans

    from imagegpt_rs import fit_palette

    pool = pixel_pool()
    rng = np.random.default_rng(0)
    px = pool[rng.choice(len(pool), min(n_pixels, len(pool)), replace=False)]
    x = px.astype(np.float64) / 127.5 - 1
    n_distinct = len(np.unique(px, axis=0))
    title = f"{len(px):,} real-photo pixels ({n_distinct:,} distinct colors), k={k}, max_iter={max_iter}, tol={tol}"
    print(f"== {title}")

    rows = []
    fit, t = timed(lambda: fit_palette(px.reshape(-1, 1, 3), k, max_iter=max_iter, tol=tol, seed=0), repeat=3)
    rows.append(("imagegpt_rs.fit_palette", t, nearest_inertia(x, fit.clusters), f"{fit.n_iter} iter"))
    fit1, t1 = timed(
        lambda: fit_palette(px.reshape(-1, 1, 3), k, max_iter=max_iter, tol=tol, seed=0, num_threads=1), repeat=3
    )
    rows.append(("imagegpt_rs.fit_palette 1 thread", t1, nearest_inertia(x, fit1.clusters), f"{fit1.n_iter} iter"))
    for seed in (1, 2):
        f, ts = timed(lambda: fit_palette(px.reshape(-1, 1, 3), k, max_iter=max_iter, tol=tol, seed=seed), repeat=3)
        rows.append((f"imagegpt_rs.fit_palette seed={seed}", ts, nearest_inertia(x, f.clusters), f"{f.n_iter} iter"))
    if not skip_kmeans:
        km, t = timed(lambda: KMeans(k, n_init=1, max_iter=max_iter, tol=tol, random_state=0).fit(x))
        rows.append(("sklearn KMeans (lloyd)", t, nearest_inertia(x, km.cluster_centers_), f"{km.n_iter_} iter"))
    mb, t = timed(
        lambda: MiniBatchKMeans(k, n_init=1, max_iter=max_iter, tol=tol, batch_size=4096, random_state=0).fit(x)
    )
    rows.append(("sklearn MiniBatchKMeans b=4096", t, nearest_inertia(x, mb.cluster_centers_), f"{mb.n_iter_} epochs"))

    base_name = "sklearn KMeans (lloyd)" if not skip_kmeans else "sklearn MiniBatchKMeans b=4096"
    base_t, base_i = next((r[1], r[2]) for r in rows if r[0] == base_name)
    width = max(len(r[0]) for r in rows)
    print("ours: best of 3 runs; scikit-learn: one run\n")
    print(f"{'method':{width}}  {'time s':>9}  {'inertia':>12}  {'inertia/base':>12}  {'speedup':>8}  notes")
    for name, t, inertia, note in rows:
        print(f"{name:{width}}  {t:9.2f}  {inertia:12.4f}  {inertia / base_i:12.4f}  {base_t / t:7.1f}x  {note}")
    print(f"(base: {base_name})\n")
    rep.table(
        f"Palette fitting: {title}; ours best of 3 runs, scikit-learn one run",
        ["method", "time s", "inertia / " + base_name, "vs " + base_name, "notes"],
        [[name, f"{t:.2f}", f"{inertia / base_i:.4f}", f"{base_t / t:.1f}x", note] for name, t, inertia, note in rows],
        show=False,
    )


def big(rep, n_pixels: int, k: int, max_iter: int, tol: float) -> None:
    from imagegpt_rs import _native
    from imagegpt_rs.palette_fitting import fit_palette

    pool = pixel_pool(upscale=2)
    reps = -(-n_pixels // len(pool))
    px = np.concatenate([pool] * reps)[:n_pixels] if reps > 1 else pool[:n_pixels]
    print(f"== ours on {len(px):,} pixels (real photos upscaled 2x, bilinear), k={k}, max_iter={max_iter}, tol={tol}")
    hist = _native.ColorHistogram()
    _, t_hist = timed(lambda: hist.add(px))
    stages = {}
    t0 = [time.perf_counter()]

    def progress(stage, done, total):
        now = time.perf_counter()
        stages[stage] = stages.get(stage, 0.0) + now - t0[0]
        t0[0] = now

    t0[0] = time.perf_counter()
    r, t_fit = timed(lambda: hist.fit(k, max_iter=max_iter, tol=tol, seed=0, progress=progress))
    centers, inertia, n_iter, converged, n, n_distinct = r
    print(
        f"distinct colors {n_distinct:,}; histogram {t_hist:.2f} s; k-means++ {stages.get('init', 0):.2f} s; "
        f"{n_iter} Lloyd iterations {stages.get('iteration', 0):.2f} s ({'converged' if converged else 'max_iter'})"
    )
    rep.note(
        f"ours on {len(px):,} pixels (real photos upscaled 2x) x {k} clusters: {t_hist + t_fit:.2f} s in all "
        f"(histogram {t_hist:.2f} s, {n_iter} Lloyd iterations)"
    )
    # End to end through the public function (array input, no resizing).
    fit, t_api = timed(lambda: fit_palette(px.reshape(-1, 1, 3), k, max_iter=max_iter, tol=tol, seed=0), repeat=3)
    print(
        f"fit_palette(...) end to end, best of 3: {t_api:.2f} s; same palette: {np.array_equal(fit.clusters, centers)}"
    )
    print(f"peak RSS {peak_rss_mib():,.0f} MiB\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    _common.add_report_args(ap)
    ap.add_argument("--skip-kmeans", action="store_true", help="leave out scikit-learn's KMeans (slowest)")
    args = ap.parse_args()
    banner(["imagegpt-rs", "scikit-learn", "pillow"])
    rep = _common.Report("palette", ["imagegpt-rs", "scikit-learn", "pillow"], args)
    print("threads: imagegpt_rs rayon default (all cores); scikit-learn OpenMP default (all cores)\n")
    if args.quick:
        compare(rep, 200_000, 64, 100, 1e-4, args.skip_kmeans)
        big(rep, 2_000_000, 64, 100, 1e-4)
    else:
        compare(rep, 1_000_000, 512, 100, 1e-4, args.skip_kmeans)
        big(rep, 10_000_000, 512, 100, 1e-4)
    rep.save()


if __name__ == "__main__":
    main()

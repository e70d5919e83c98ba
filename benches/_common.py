"""Shared helpers of the benchmarks: machine/version banner, real photos, timing, tables."""

from __future__ import annotations

import os
import platform
import resource
import sys
import time
from typing import Callable

import numpy as np


def banner(packages: list[str]) -> None:
    from importlib.metadata import PackageNotFoundError, version

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    print(f"machine: {cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}")
    print(f"python {sys.version.split()[0]}, numpy {np.__version__}")
    vs = []
    for p in packages:
        try:
            vs.append(f"{p} {version(p)}")
        except PackageNotFoundError:
            vs.append(f"{p} (not installed)")
    print(", ".join(vs))
    print()


def real_photos() -> list[np.ndarray]:
    """Real photographs shipped in scikit-image and scikit-learn."""
    import skimage.data as d

    photos = [d.astronaut(), d.coffee(), d.chelsea(), d.rocket(), d.hubble_deep_field(), d.immunohistochemistry()]
    try:
        from sklearn.datasets import load_sample_images

        photos += list(load_sample_images().images)
    except ImportError:
        pass
    return photos


def crops(n: int, size: int, seed: int = 0) -> list[np.ndarray]:
    """``n`` random size x size crops of the real photos."""
    rng = np.random.default_rng(seed)
    photos = [p for p in real_photos() if min(p.shape[:2]) >= size]
    out = []
    for i in range(n):
        p = photos[i % len(photos)]
        y = rng.integers(0, p.shape[0] - size + 1)
        x = rng.integers(0, p.shape[1] - size + 1)
        out.append(np.ascontiguousarray(p[y : y + size, x : x + size]))
    return out


def best_time(fn: Callable[[], object], repeat: int = 3, min_time: float = 0.2) -> float:
    """Best wall time of one call over ``repeat`` rounds (each round loops until ``min_time``)."""
    best = float("inf")
    for _ in range(repeat):
        n, t0 = 0, time.perf_counter()
        while True:
            fn()
            n += 1
            t = time.perf_counter() - t0
            if t >= min_time:
                break
        best = min(best, t / n)
    return best


def peak_rss_mib() -> float:
    """Peak resident memory of this process in MiB: VmHWM, which (unlike ru_maxrss) starts afresh at
    exec, so a child started by a big parent reports its own peak."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def table(rows: list[tuple[str, float]], unit: str, baseline: str) -> None:
    """Prints name, rate and ratio to the baseline row."""
    base = dict(rows)[baseline]
    width = max(len(r[0]) for r in rows)
    print(f"{'':{width}}  {unit:>16}  {'vs ' + baseline:>24}")
    for name, rate in rows:
        print(f"{name:{width}}  {rate:16,.1f}  {rate / base:23.1f}x")
    print()

"""Shared helpers of the benchmarks: machine/version banner, real photos, timing, tables."""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import resource
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np


def machine() -> dict[str, Any]:
    """The CPU, core count and OS of this machine."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "os": f"{platform.system()} {platform.release()}"}


def versions(packages: list[str]) -> dict[str, str | None]:
    """Python, NumPy and the installed versions of ``packages`` (None: not installed)."""
    from importlib.metadata import PackageNotFoundError, version

    out: dict[str, str | None] = {"python": sys.version.split()[0], "numpy": np.__version__}
    for p in packages:
        try:
            out[p] = version(p)
        except PackageNotFoundError:
            out[p] = None
    return out


def add_report_args(ap: argparse.ArgumentParser) -> None:
    """``--json PATH`` (write the results there) and ``--quick`` (a short smoke run)."""
    ap.add_argument("--json", metavar="PATH", help="also write the results (machine, versions, tables, notes) as JSON")
    ap.add_argument("--quick", action="store_true", help="a short smoke run: small inputs, few repeats")


def _without_json(argv: list[str]) -> list[str]:
    out, skip = [], False
    for a in argv:
        if skip:
            skip = False
        elif a == "--json":
            skip = True
        elif not a.startswith("--json="):
            out.append(a)
    return out


class Report:
    """What a bench prints, kept for ``--json``: tables (pre-formatted cells, as printed) and notes
    (sentences with figures). ``benches/run_all.py`` turns these files into the README's tables, so
    every figure there is one a bench printed."""

    def __init__(self, bench: str, packages: list[str], args: argparse.Namespace | None = None) -> None:
        self.path = getattr(args, "json", None)
        self.data: dict[str, Any] = {
            "bench": bench,
            "command": " ".join(["python", f"benches/{bench}.py", *_without_json(sys.argv[1:])]),
            "quick": bool(getattr(args, "quick", False)),
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": machine(),
            "versions": versions(packages),
            "tables": [],
            "notes": [],
        }

    def table(self, title: str, columns: list[str], rows: list[list[str]], show: bool = True) -> None:
        """A table of pre-formatted cells; printed unless ``show`` is False (already printed)."""
        self.data["tables"].append({"title": title, "columns": columns, "rows": rows})
        if show:
            widths = [max(len(str(c)), *(len(str(r[i])) for r in rows)) for i, c in enumerate(columns)]
            print(title)
            print("  ".join(f"{c:>{w}}" if i else f"{c:<{w}}" for i, (c, w) in enumerate(zip(columns, widths))))
            for r in rows:
                print("  ".join(f"{str(c):>{w}}" if i else f"{str(c):<{w}}" for i, (c, w) in enumerate(zip(r, widths))))
            print()

    def note(self, text: str) -> None:
        """Prints a line and keeps it."""
        print(text)
        self.data["notes"].append(text)

    def save(self) -> None:
        if self.path:
            os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
            with open(self.path, "w") as f:
                json.dump(self.data, f, indent=1)
                f.write("\n")
            print(f"results written to {self.path}")


def banner(packages: list[str]) -> None:
    from importlib.metadata import PackageNotFoundError, version

    m = machine()
    print(f"machine: {m['cpu']}, {m['cores']} cores, {m['os']}")
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

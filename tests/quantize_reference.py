"""The quantization reference, written as transformers 4.57 writes it, and a way to run it on a
chosen OpenBLAS kernel.

NumPy's result for the same inputs depends on the OpenBLAS kernel it picks for the CPU (Haswell, Zen,
SkylakeX, ...): they agree on the many-row ``gemm`` path the processor takes for real palettes, but
round differently in two edge cases, the float64 ``dgemm`` tail columns (K % 8 in 4..7, K >= 196)
and single-pixel (``gemv``) calls. imagegpt-rs reproduces one fixed arithmetic there, the SkylakeX
kernel's, on every CPU; the tests of those two cases compute their reference under
``OPENBLAS_CORETYPE=SkylakeX`` in a subprocess (OpenBLAS reads the variable when it loads).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest


def reference_normalize(pixels: np.ndarray) -> np.ndarray:
    """transformers' ``rescale(image, 1/127.5)`` then ``image - 1``."""
    return (pixels.astype(np.float64) * (1 / 127.5)).astype(np.float32) - 1


def reference_color_quantize(x: np.ndarray, clusters: np.ndarray) -> np.ndarray:
    """transformers' ``color_quantize``: ``argmin(a2 - 2 ab + b2)`` with NumPy's promotion."""
    x = x.reshape(-1, 3)
    b = clusters.T
    a2 = np.sum(np.square(x), axis=1)
    b2 = np.sum(np.square(b), axis=0)
    ab = np.matmul(x, b)
    d = a2[:, None] - 2 * ab + b2[None, :]
    return np.argmin(d, axis=1)


def reference_ids(colors: np.ndarray, clusters: np.ndarray, chunk: int = 8192) -> np.ndarray:
    """Reference ids of uint8 colors (n, 3), in chunks (each chunk is one >1-row call, like any image)."""
    out = np.empty(len(colors), dtype=np.int64)
    with np.errstate(over="ignore", invalid="ignore"):
        for s in range(0, len(colors), chunk):
            part = colors[s : s + chunk]
            if len(part) == 1:  # keep every chunk a multi-row (gemm) call
                part = colors[s - 1 : s + 1]
                out[s] = reference_color_quantize(reference_normalize(part), clusters)[1]
                continue
            out[s : s + chunk] = reference_color_quantize(reference_normalize(part), clusters)
    return out


def _cpu_flags() -> set[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    for line in text.splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


# The CPU features each forced kernel executes (OpenBLAS dies with SIGILL without them).
_KERNEL_NEEDS = {"SkylakeX": {"avx512f", "avx512vl", "avx512bw", "avx512dq"}, "Haswell": {"avx2", "fma"}}


def openblas_reference(
    coretype: str, mode: str, colors: np.ndarray, clusters: np.ndarray, chunk: int = 8192
) -> np.ndarray:
    """The reference computed by NumPy in a subprocess whose OpenBLAS runs the ``coretype`` kernel.

    ``mode="ids"``: :func:`reference_ids` with ``chunk``; ``mode="single"``: one call per color (gemv).
    Skips (naming why) on a CPU that cannot run that kernel, or outside x86-64 Linux.
    """
    missing = _KERNEL_NEEDS[coretype] - _cpu_flags()
    if missing:
        pytest.skip(
            f"the reference needs OpenBLAS's {coretype} kernel, which this CPU cannot run (no {sorted(missing)})"
        )
    with tempfile.TemporaryDirectory() as tmp:
        inputs, output = Path(tmp, "in.npz"), Path(tmp, "out.npy")
        np.savez(inputs, colors=colors, clusters=clusters)
        env = dict(os.environ, OPENBLAS_CORETYPE=coretype)
        subprocess.run(
            [sys.executable, __file__, mode, str(chunk), str(inputs), str(output)],
            check=True,
            env=env,
            timeout=600,
        )
        return np.load(output)


def _main(mode: str, chunk: str, inputs: str, output: str) -> None:
    data = np.load(inputs)
    colors, clusters = data["colors"], data["clusters"]
    if mode == "ids":
        ids = reference_ids(colors, clusters, chunk=int(chunk))
    else:
        with np.errstate(over="ignore", invalid="ignore"):
            ids = np.array([reference_color_quantize(reference_normalize(c[None]), clusters)[0] for c in colors])
    np.save(output, ids)


if __name__ == "__main__":
    _main(*sys.argv[1:])

"""What the installed build contains: the shipped build runs libjpeg-turbo's SIMD code.

A build of libjpeg-turbo without its SIMD code (on x86-64: built where nasm was missing) is half as fast
and decodes damaged JPEGs to other pixels than Pillow's libjpeg-turbo, which runs the SIMD code; so
the suite fails on such a build rather than testing it.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from importlib.metadata import version

import pytest

import imagegpt_rs

SIMD_ARCHES = {"x86_64", "amd64", "aarch64", "arm64"}


def test_build_info_fields():
    info = imagegpt_rs.build_info()
    assert info["version"] == imagegpt_rs.__version__ == version("imagegpt-rs")
    machine = {"amd64": "x86_64", "arm64": "aarch64"}.get(platform.machine().lower(), platform.machine().lower())
    assert info["target_arch"] == machine
    assert isinstance(info["compiled_target_features"], list)
    assert info["quantize_kernel"] in {"avx512", "avx2+fma", "generic"}
    assert info["resize_kernel"] in {"avx2", "sse2", "scalar"}
    assert info["optimized"] is True


def test_jpeg_decoder_is_libjpeg_turbo_with_simd():
    info = imagegpt_rs.build_info()
    assert info["jpeg_decoder"] == "libjpeg-turbo"
    major, minor, _patch = (int(p) for p in info["libjpeg_turbo_version"].split("."))
    assert (major, minor) >= (3, 0)
    if platform.machine().lower() in SIMD_ARCHES:
        assert info["jpeg_simd"] is True, "libjpeg-turbo was built without its SIMD code"


def test_jpeg_simd_answer_comes_from_the_library():
    """libjpeg-turbo's JSIMD_FORCENONE turns its SIMD dispatch off; build_info must see that."""
    if platform.machine().lower() not in SIMD_ARCHES:
        return
    code = "import imagegpt_rs; print(imagegpt_rs.build_info()['jpeg_simd'])"
    env = {k: v for k, v in os.environ.items() if not k.startswith("JSIMD_")}
    off = subprocess.run(
        [sys.executable, "-c", code], env={**env, "JSIMD_FORCENONE": "1"}, capture_output=True, text=True, check=True
    )
    on = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert (off.stdout.strip(), on.stdout.strip()) == ("False", "True")


def test_cli_version_prints_build_facts():
    out = subprocess.run(
        [sys.executable, "-m", "imagegpt_rs", "--version"], capture_output=True, text=True, check=True
    ).stdout
    lines = out.splitlines()
    assert lines[0] == f"imagegpt-rs {imagegpt_rs.__version__}"
    info = imagegpt_rs.build_info()
    assert f"libjpeg-turbo {info['libjpeg_turbo_version']}" in lines[1]
    if info["jpeg_simd"]:
        assert "(SIMD on)" in lines[1]


def test_source_build_without_nasm_says_what_to_install(monkeypatch):
    """The PEP 517 backend (build_backend/) stops an x86-64 build without nasm before cargo starts."""
    import importlib.util
    from pathlib import Path

    pytest.importorskip("maturin", reason="the backend wraps maturin's (.ci/run installs it)")
    path = Path(__file__).resolve().parents[1] / "build_backend" / "imagegpt_build_backend.py"
    spec = importlib.util.spec_from_file_location("imagegpt_build_backend", path)
    backend = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(backend)
    monkeypatch.delenv("ASM_NASM", raising=False)
    monkeypatch.delenv("CARGO_BUILD_TARGET", raising=False)
    monkeypatch.setattr(backend.shutil, "which", lambda name: None)
    monkeypatch.setattr(backend.platform, "machine", lambda: "x86_64")
    with pytest.raises(RuntimeError, match=r"needs nasm(.|\n)*apt-get install nasm"):
        backend.build_wheel("unused")
    monkeypatch.setattr(backend.platform, "machine", lambda: "aarch64")
    backend._check_nasm()  # Neon needs no assembler
    monkeypatch.setenv("CARGO_BUILD_TARGET", "x86_64-unknown-linux-gnu")
    with pytest.raises(RuntimeError, match="needs nasm"):
        backend._check_nasm()
    monkeypatch.setattr(backend.shutil, "which", lambda name: "/usr/bin/nasm" if name == "nasm" else None)
    backend._check_nasm()

"""The PEP 517 build backend of imagegpt-rs: maturin's, after one check.

On x86-64, libjpeg-turbo's SIMD code is assembled with nasm, and the build requires it (turbojpeg-sys's
``require-simd``): without nasm, cmake stops deep inside pip's output with "No CMAKE_ASM_NASM_COMPILER
could be found". This wrapper checks first and says what to install. Everything else is maturin.
"""

from __future__ import annotations

import os
import platform
import shutil
from typing import Any, Mapping

import maturin
from maturin import (  # noqa: F401  (re-exported PEP 517 hooks)
    build_sdist,
    get_requires_for_build_editable,
    get_requires_for_build_sdist,
    get_requires_for_build_wheel,
    prepare_metadata_for_build_editable,
    prepare_metadata_for_build_wheel,
)

_X86 = {"x86_64", "amd64", "x64", "i386", "i486", "i586", "i686", "x86"}

NO_NASM = """\
imagegpt-rs: building from source on x86-64 needs nasm, which assembles libjpeg-turbo's SIMD code.
Without it JPEG decoding would be about half as fast and differ from Pillow's on damaged files, so the
build does not go on. Install nasm and build again:
    Debian/Ubuntu: sudo apt-get install nasm      Fedora/RHEL: sudo dnf install nasm
    Alpine: apk add nasm      macOS: brew install nasm      Windows: choco install nasm
    or, from this source tree: bash dev/install-build-deps.sh
(or install a prebuilt wheel: pip install imagegpt-rs)"""


def _target_arch() -> str:
    target = os.environ.get("CARGO_BUILD_TARGET") or os.environ.get("MATURIN_TARGET")
    return (target.split("-")[0] if target else platform.machine()).lower()


def _check_nasm() -> None:
    if _target_arch() not in _X86:
        return
    if os.environ.get("ASM_NASM") or shutil.which("nasm") or shutil.which("yasm"):
        return
    raise RuntimeError(NO_NASM)


def build_wheel(
    wheel_directory: str,
    config_settings: Mapping[str, Any] | None = None,
    metadata_directory: str | None = None,
) -> str:
    _check_nasm()
    return maturin.build_wheel(wheel_directory, config_settings, metadata_directory)


def build_editable(
    wheel_directory: str,
    config_settings: Mapping[str, Any] | None = None,
    metadata_directory: str | None = None,
) -> str:
    _check_nasm()
    return maturin.build_editable(wheel_directory, config_settings, metadata_directory)

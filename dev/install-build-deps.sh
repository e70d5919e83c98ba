#!/usr/bin/env bash
# Installs what a source build needs beyond Rust and a C compiler: nasm (libjpeg-turbo's x86-64 SIMD
# code is assembled with it; the build fails without it rather than silently building the slower C-only
# decoder, whose pixels differ from Pillow's on damaged JPEGs) and cmake (pip fetches cmake from PyPI
# by itself; `maturin build` and `cargo` need it on PATH). Does nothing when both are there.
# Not needed on aarch64 (libjpeg-turbo's Neon code needs no assembler) nor for prebuilt wheels.
set -euo pipefail
if command -v nasm >/dev/null && command -v cmake >/dev/null; then
    exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null; then SUDO=sudo; fi
if command -v apt-get >/dev/null; then
    $SUDO apt-get update -qq && $SUDO apt-get install -y -qq nasm cmake
elif command -v dnf >/dev/null; then
    $SUDO dnf install -y nasm cmake
elif command -v yum >/dev/null; then
    $SUDO yum install -y nasm cmake
elif command -v apk >/dev/null; then
    $SUDO apk add --no-cache nasm cmake
elif command -v brew >/dev/null; then
    brew install nasm cmake
else
    echo "install nasm (https://nasm.us) and cmake with your system's package manager, then build again" >&2
    exit 1
fi

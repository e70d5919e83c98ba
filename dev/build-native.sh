#!/usr/bin/env bash
# Developer loop without a virtual environment per checkout: build the native module with the quick
# `fastbuild` profile and drop it into python/imagegpt_rs/, so that `PYTHONPATH=python python -m pytest`
# tests this checkout. CI does not use this: .ci/run builds and installs the real wheel.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --profile fastbuild -p imagegpt-rs-python --features pyo3/extension-module
cp target/fastbuild/lib_native.so python/imagegpt_rs/_native.abi3.so
echo "built python/imagegpt_rs/_native.abi3.so"

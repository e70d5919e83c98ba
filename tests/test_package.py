"""The package itself: import cost, optional dependencies kept out, stubs matching the native module."""

from __future__ import annotations

import ast
import inspect
import json
import pathlib
import subprocess
import sys

import pytest

import imagegpt_rs
from imagegpt_rs import _native

HEAVY = ["transformers", "torch", "onnx", "onnxruntime", "PIL", "datasets", "dask", "sklearn", "skimage"]


def _run(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout


def test_import_keeps_heavy_dependencies_out():
    out = _run(f"import sys, json, imagegpt_rs\nprint(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))")
    assert json.loads(out) == []


def test_import_is_fast():
    # Best of several fresh interpreters, measured inside the child to exclude interpreter start-up.
    code = "import time; t = time.perf_counter(); import imagegpt_rs; print(time.perf_counter() - t)"
    best = min(float(_run(code)) for _ in range(3))
    assert best < 0.1, f"import imagegpt_rs took {best * 1000:.1f} ms"


def test_exceptions_subclass_builtins():
    assert issubclass(imagegpt_rs.ConfigValidationError, ValueError)
    assert issubclass(imagegpt_rs.PaletteError, ValueError)
    assert issubclass(imagegpt_rs.InputError, ValueError)
    assert issubclass(imagegpt_rs.ImageDecodeError, OSError)
    for cls in (imagegpt_rs.ConfigValidationError, imagegpt_rs.PaletteError, imagegpt_rs.ImageDecodeError):
        assert issubclass(cls, imagegpt_rs.ImageGPTError)


def test_version_matches_metadata():
    from importlib.metadata import version

    assert imagegpt_rs.__version__ == version("imagegpt-rs")


def test_unknown_attribute_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no_such_thing"):
        imagegpt_rs.no_such_thing  # noqa: B018


def _stub_names() -> dict[str, ast.AST]:
    stub = pathlib.Path(_native.__file__).with_name("_native.pyi")
    tree = ast.parse(stub.read_text())
    names: dict[str, ast.AST] = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names[node.name] = node
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names[node.target.id] = node
    return names


def test_stub_matches_native_module():
    """Every public native name has a stub and every stub names something real, with the same parameters."""
    stub = _stub_names()
    real = {n for n in dir(_native) if not n.startswith("_") or n == "__version__"}
    assert {n for n in stub if not n.startswith("_") or n == "__version__"} == real
    # hidden names the stub types (the test-only `_panic_for_test`) exist too
    assert [n for n in stub if not hasattr(_native, n)] == []
    for name, node in stub.items():
        obj = getattr(_native, name)
        if isinstance(node, ast.FunctionDef):
            sig = inspect.signature(obj)
            stub_params = [a.arg for a in node.args.posonlyargs + node.args.args + node.args.kwonlyargs]
            assert list(sig.parameters) == stub_params, name
        elif isinstance(node, ast.ClassDef):
            methods = {m.name for m in node.body if isinstance(m, ast.FunctionDef)}
            for m in methods - {"__init__", "__new__"}:
                assert hasattr(obj, m), f"{name}.{m} is in the stub but not in the module"


def test_py_typed_ships():
    assert pathlib.Path(imagegpt_rs.__file__).with_name("py.typed").exists()

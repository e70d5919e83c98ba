"""Code-quality gates: ruff (lint and format), mypy over the package, the native module's stubs (mypy's
stubtest), and the package's import graph (no cycles, no other module's private names)."""

from __future__ import annotations

import ast
import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "python" / "imagegpt_rs"
LINTED = ["python", "tests", "benches"]


def _tool(module: str) -> list[str]:
    """``python -m <module>`` of this interpreter; missing tools fail (they are in the ``test`` extra)."""
    try:
        __import__(module.split(".")[0])
    except ImportError:
        pytest.fail(f"{module} is not installed: pip install imagegpt-rs[test] (ruff and mypy are test dependencies)")
    return [sys.executable, "-m", module]


def _run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600, **kwargs)


def test_ruff_check():
    r = _run(_tool("ruff") + ["check", "--no-cache", *LINTED])
    assert r.returncode == 0, r.stdout + r.stderr


def test_ruff_format():
    r = _run(_tool("ruff") + ["format", "--check", "--no-cache", *LINTED])
    assert r.returncode == 0, r.stdout + r.stderr


def test_mypy_package(tmp_path):
    """mypy over python/imagegpt_rs with pyproject.toml's [tool.mypy] settings (the source tree, with
    ``_native.pyi`` for the compiled module), from a fresh cache."""
    config = str(ROOT / "pyproject.toml")
    r = _run(_tool("mypy") + ["--config-file", config, "--cache-dir", str(tmp_path), str(PACKAGE)])
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Success: no issues found in" in r.stdout, r.stdout


def test_native_stubs_match_the_module():
    """``_native.pyi`` says what the compiled module has (stubtest imports it and compares)."""
    import imagegpt_rs._native as native

    allowlist = ROOT / "python" / "stubtest-allowlist.txt"
    env = dict(os.environ)
    # stubtest must see the package that holds the built module (the installed one, or python/ here).
    env["PYTHONPATH"] = os.pathsep.join([str(pathlib.Path(native.__file__).parent.parent), env.get("PYTHONPATH", "")])
    r = _run(
        _tool("mypy.stubtest")
        + ["imagegpt_rs._native", "--allowlist", str(allowlist), "--mypy-config-file", str(ROOT / "pyproject.toml")],
        env=env,
    )
    assert r.returncode == 0, r.stdout + r.stderr


# ----------------------------------------------------------------------------- encoder options
def test_file_encoders_take_every_encode_option():
    """Every field of ``_jobs.EncodeOptions`` is a keyword of each public file encoder, with the same
    default (a new option is a field there plus these keywords: this names the encoder missing it)."""
    import dataclasses
    import inspect

    from imagegpt_rs._jobs import EncodeOptions
    from imagegpt_rs.containers import encode_sources
    from imagegpt_rs.encoding import encode_bytes, encode_files

    fields = {f.name: f.default for f in dataclasses.fields(EncodeOptions)}
    assert {"dtype", "on_error", "draft"} <= set(fields)  # sees the fields (a guard against an empty check)
    for fn in (encode_files, encode_bytes, encode_sources):
        params = inspect.signature(fn).parameters
        for name, default in fields.items():
            assert name in params, f"{fn.__name__} lacks the keyword {name}"
            assert params[name].kind is inspect.Parameter.KEYWORD_ONLY, (fn.__name__, name)
            assert params[name].default is default or params[name].default == default, (fn.__name__, name)


# ----------------------------------------------------------------------------- import graph
def _modules() -> dict[str, pathlib.Path]:
    out = {}
    for f in PACKAGE.rglob("*.py"):
        parts = list(f.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = f
    return out


def _runtime_imports(tree: ast.AST):
    """Import statements, skipping ``if TYPE_CHECKING:`` blocks (never run)."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.orelse:
                yield from _runtime_imports(ast.Module(body=[child], type_ignores=[]))
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        yield from _runtime_imports(node)


def _graph() -> tuple[dict[str, set[str]], list[str]]:
    """Module -> package modules it imports (also inside functions), and the private names imported
    from other modules."""
    mods = _modules()
    known = set(mods) | {"imagegpt_rs._native"}
    edges: dict[str, set[str]] = {m: set() for m in mods}
    private = []
    for m, f in mods.items():
        pkg = m if f.name == "__init__.py" else m.rpartition(".")[0]
        for node in _runtime_imports(ast.parse(f.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                for a in node.names:
                    if a.name in known and a.name != m:
                        edges[m].add(a.name)
                continue
            if node.level:
                base = pkg.split(".")[: len(pkg.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target not in known:
                continue
            for a in node.names:
                sub = f"{target}.{a.name}"
                if sub in known:  # `from . import _native`: the submodule itself
                    if sub != m:
                        edges[m].add(sub)
                    continue
                if target != m:
                    edges[m].add(target)
                    if a.name.startswith("_") and not a.name.startswith("__"):
                        private.append(f"{m} imports {target}.{a.name}")
    return edges, private


def test_no_private_names_imported_across_modules():
    _, private = _graph()
    assert private == [], "share a public name of an internal module (_jobs, _io, _images) instead:\n" + "\n".join(
        private
    )


def test_no_import_cycles():
    edges, _ = _graph()
    cycles = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for t in sorted(edges.get(m, ())):
            if state.get(t) == 1:
                cycles.append(" -> ".join(stack[stack.index(t) :] + [t]))
            elif t not in state:
                visit(t)
        stack.pop()
        state[m] = 2

    for m in sorted(edges):
        if m not in state:
            visit(m)
    assert cycles == [], "import cycles:\n" + "\n".join(cycles)


def test_graph_sees_imports():
    """The walker finds real edges (a guard against a walker that finds nothing)."""
    edges, _ = _graph()
    assert "imagegpt_rs._jobs" in edges["imagegpt_rs.image_processing"]
    assert "imagegpt_rs._native" in edges["imagegpt_rs._jobs"]
    assert "imagegpt_rs.image_processing" in edges["imagegpt_rs.encoding"]

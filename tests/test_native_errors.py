"""The native module's errors (issues 12 and 14): each core error kind reaches Python as the class
``imagegpt_rs.errors`` documents, the classes are bound once, and no panic gets through any native entry
point (every one runs inside ``threads::guard``, which turns a panic into ``InternalError``)."""

from __future__ import annotations

import io
import pathlib
import re
import subprocess
import sys
import textwrap
import types

import numpy as np
import pytest
from PIL import Image

from imagegpt_rs import _native, errors
from imagegpt_rs.errors import ImageDecodeError, ImageGPTError, InputError, InternalError, PaletteError

SRC = pathlib.Path(__file__).resolve().parent.parent / "rust" / "python" / "src"


def _raises(cls: type[BaseException], fn, *args, **kwargs) -> str:
    """Calls fn, asserts it raises exactly `cls` (not a subclass, not a stand-in) and returns the message."""
    with pytest.raises(BaseException) as info:
        fn(*args, **kwargs)
    assert type(info.value) is cls, f"{type(info.value).__module__}.{type(info.value).__qualname__}: {info.value}"
    return str(info.value)


def _clusters(k: int = 4) -> np.ndarray:
    return np.linspace(-1, 1, k * 3).reshape(k, 3)


# --- issue 14: each core error kind reaches Python as its documented class ---------------------------


def _png(width: int, height: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height)).save(buf, "PNG")
    return buf.getvalue()


# (core error and variant, call, class, a piece of the message naming the field / index / value)
_U8 = np.zeros((4, 4, 3), np.uint8)
_PTS = np.linspace(0, 1, 30).reshape(10, 3)
CASES = [
    # DecodeError -> ImageDecodeError (an OSError)
    ("DecodeError::Empty", lambda: _native.decode_image(b""), ImageDecodeError, "empty input (0 bytes)"),
    (
        "DecodeError::UnknownFormat",
        lambda: _native.decode_image(b"hello world"),
        ImageDecodeError,
        "not a supported image",
    ),
    (
        "DecodeError::Truncated",
        lambda: _native.decode_image(b"\x89PNG\r\n\x1a\n\x00\x00"),
        ImageDecodeError,
        "PNG",
    ),
    (
        "DecodeError::Io",
        lambda: _native.decode_image_file("/nonexistent/x.png"),
        ImageDecodeError,
        "cannot decode image file '/nonexistent/x.png': cannot read the file",
    ),
    (
        "DecodeError::TooManyPixels",
        lambda: _native.decode_image(_png(5, 4), max_pixels=10),
        ImageDecodeError,
        "PNG image of 5x4 = 20 pixels exceeds the limit of 10 pixels",
    ),
    # ResizeError -> InputError (a ValueError); OutOfMemory -> MemoryError (test below)
    ("ResizeError::Filter", lambda: _native.resize(_U8, 2, 2, 9, (11, 0)), InputError, "unknown resampling filter 9"),
    (
        "ResizeError::Compat",
        lambda: _native.resize(_U8, 2, 2, 2, (0, 1)),
        InputError,
        "pillow_compat version 0.1 is not a Pillow version",
    ),
    ("ResizeError::ZeroSize", lambda: _native.resize(_U8, 0, 2, 2, (11, 0)), InputError, "width must be at least 1"),
    (
        "ResizeError::Channels",
        lambda: _native.resize(np.zeros((4, 4, 2), np.uint8), 2, 2, 2, (11, 0)),
        InputError,
        "channels must be 1 (L), 3 (RGB) or 4 (RGBA), got 2",
    ),
    (
        "ResizeError (index named)",
        lambda: _native.resize_many([_U8, np.zeros((4, 4, 2), np.uint8)], 2, 2, 2, (11, 0)),
        InputError,
        "images[1]: channels must be",
    ),
    # PaletteError -> PaletteError (a ValueError)
    ("PaletteError::Shape", lambda: _native.ColorQuantizer(np.zeros(3)), PaletteError, "got (3,)"),
    ("PaletteError::Empty", lambda: _native.ColorQuantizer(np.zeros((0, 3))), PaletteError, "got 0 rows"),
    ("PaletteError::TooMany", lambda: _native.ColorQuantizer(np.zeros((65536, 3))), PaletteError, "65536 rows"),
    (
        "PaletteError::NonFinite",
        lambda: _native.ColorQuantizer(np.array([[0.0, 0.0, 0.0], [0.0, np.nan, 0.0]])),
        PaletteError,
        "clusters[1, 1] = nan",
    ),
    # QuantizeError -> InputError, positions in the caller's shape
    (
        "QuantizeError::NonFinite",
        lambda: _native.ColorQuantizer(_clusters()).quantize_float(
            np.where(np.arange(12).reshape(2, 2, 3) == 10, np.inf, 0.0), np.zeros((2, 2), np.int64)
        ),
        InputError,
        "pixels[1, 1, 1] = inf",
    ),
    (
        "QuantizeError::IdOutOfRange",
        lambda: _native.ColorQuantizer(_clusters()).decode(np.array([[0, 1], [2, 7]]), np.zeros((2, 2, 3), np.uint8)),
        InputError,
        "ids[1, 1] = 7 is out of range for 4 clusters",
    ),
    (
        "QuantizeError::OutLength",
        lambda: _native.ColorQuantizer(_clusters()).quantize_u8(_U8, np.zeros(3, np.int64)),
        InputError,
        "out holds 3 elements but the input has 16 pixels",
    ),
    # KMeansError -> InputError, except a bad init -> PaletteError
    ("KMeansError::Init", lambda: _native.kmeans_fit(_PTS, 3, init=np.zeros((2, 3))), PaletteError, "init"),
    ("KMeansError::Clusters", lambda: _native.kmeans_fit(_PTS, 0), InputError, "n_clusters must be between 1 and"),
    (
        "KMeansError::TooFewPoints",
        lambda: _native.kmeans_fit(_PTS, 11),
        InputError,
        "n_samples=10 should be >= n_clusters=11",
    ),
    (
        "KMeansError::WeightLength",
        lambda: _native.kmeans_fit(_PTS, 2, weights=np.ones(3)),
        InputError,
        "weights has 3 entries but there are 10 points",
    ),
    (
        "KMeansError::Weight",
        lambda: _native.kmeans_fit(_PTS, 2, weights=np.array([1.0] * 4 + [-1.0] + [1.0] * 5)),
        InputError,
        "weight 4 is -1",
    ),
    (
        "KMeansError::Point",
        lambda: _native.kmeans_fit(np.where(np.arange(30).reshape(10, 3) == 7, np.nan, _PTS), 2),
        InputError,
        "point 2 has a non-finite coordinate",
    ),
    ("KMeansError::Empty", lambda: _native.ColorHistogram().fit(2), InputError, "no pixels to fit"),
    # the core's plain-message errors -> InputError
    (
        "check_threads",
        lambda: _native.ColorQuantizer(_clusters(), num_threads=0),
        InputError,
        "num_threads must be None (all cores) or an integer from 1 to 1024, got 0",
    ),
    (
        "check_threads (k-means)",
        lambda: _native.kmeans_fit(_PTS, 2, num_threads=0),
        InputError,
        "num_threads must be None",
    ),
    (
        "check_threads (EncodeJob)",
        lambda: _native.EncodeJob(_native.ColorQuantizer(_clusters()), 8, 8, 2, (11, 0), "int64", num_threads=0),
        InputError,
        "num_threads must be None",
    ),
    (
        "EncodeSettings::sequence_length",
        lambda: _native.EncodeJob(_native.ColorQuantizer(_clusters()), 2**40, 2**40, 2, (11, 0), "int64"),
        InputError,
        "size 1099511627776x1099511627776 is too large",
    ),
    (
        "ResizeError::Filter (EncodeJob)",
        lambda: _native.EncodeJob(_native.ColorQuantizer(_clusters()), 8, 8, 9, (11, 0), "int64"),
        InputError,
        "unknown resampling filter 9",
    ),
]


@pytest.mark.parametrize(("case", "call", "cls", "message"), CASES, ids=[c[0] for c in CASES])
def test_core_error_reaches_python_as_its_class(case: str, call, cls: type[Exception], message: str) -> None:
    text = _raises(cls, call)
    assert message in text
    assert isinstance(cls, type) and issubclass(cls, ImageGPTError)


@pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_AS")
def test_resize_out_of_memory_is_a_memory_error() -> None:
    # ResizeError::OutOfMemory: a 3 TB output under a 3 GiB address-space limit, in a child process.
    code = textwrap.dedent(
        """
        import resource
        import numpy as np
        resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))
        from imagegpt_rs import _native
        try:
            _native.resize(np.zeros((1, 1, 3), np.uint8), 1 << 20, 1 << 20, 2, (11, 0))
        except BaseException as e:
            print(type(e).__module__, type(e).__name__, "|", e)
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "builtins MemoryError | cannot allocate 3298534883328 bytes for the resized image"


def test_decode_error_keeps_its_attributes() -> None:
    with pytest.raises(ImageDecodeError) as info:
        _native.decode_image(b"")
    assert isinstance(info.value, OSError)
    assert getattr(info.value, "kind", None) == "empty" and getattr(info.value, "path", "unset") is None


def test_classes_are_bound_once(monkeypatch: pytest.MonkeyPatch) -> None:
    # The first raise fetched the classes; replacing the module attribute afterwards changes nothing
    # (no lookup by name per raise).
    _raises(InputError, _native.resize, _U8, 2, 2, 9, (11, 0))
    monkeypatch.setattr(errors, "InputError", type("Impostor", (Exception,), {}))
    _raises(InputError, _native.resize, _U8, 2, 2, 9, (11, 0))


def test_classes_are_fetched_at_first_use_not_at_import() -> None:
    # `_native` imports before `errors` (imagegpt_rs/__init__.py); loading the classes lazily keeps
    # that order free. In a fresh interpreter, break errors.py's classes before the first raise: the
    # import still works and the raise degrades to a RuntimeError that carries the message and why.
    code = textwrap.dedent(
        """
        import numpy as np
        from imagegpt_rs import _native, errors
        del errors.PaletteError
        try:
            _native.resize(np.zeros((2, 2), np.uint8), 1, 1, 9, (11, 0))
        except Exception as e:
            print(type(e).__name__, "|", e)
        errors.PaletteError = type("PaletteError", (ValueError,), {})
        try:
            _native.resize(np.zeros((2, 2), np.uint8), 1, 1, 9, (11, 0))
        except Exception as e:
            print(type(e).__module__, type(e).__name__)
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    first, second = out.stdout.strip().splitlines()
    assert first.startswith("RuntimeError | unknown resampling filter 9")
    assert "cannot be loaded" in first and "PaletteError" in first
    # the failed fetch was not cached: once the module is whole again, the real classes are bound
    assert second == "imagegpt_rs.errors InputError"


# --- issue 12 item 3: no panic gets through a native entry point -------------------------------------


@pytest.mark.parametrize(
    ("site", "why"),
    [
        ("here", "test panic with the GIL held"),
        ("detached", "test panic with the GIL released"),
        ("worker", "test panic on a worker thread"),
        ("payload", "unknown panic"),
    ],
)
def test_a_real_panic_reaches_python_as_internal_error(site: str, why: str) -> None:
    try:
        _native._panic_for_test(site)
    except Exception as e:  # noqa: BLE001 - PanicException (a BaseException) would escape this
        assert type(e) is InternalError
        assert isinstance(e, RuntimeError) and isinstance(e, ImageGPTError)
        assert str(e) == f"internal error in _panic_for_test (please report it): {why}"
    else:  # pragma: no cover
        pytest.fail("no exception")
    # the module (and its pool) still work after the panic
    assert _native.resize(_U8, 2, 2, 2, (11, 0)).shape == (2, 2, 3)


def test_panic_trigger_is_not_public() -> None:
    import imagegpt_rs

    assert "_panic_for_test" not in _native.__all__
    assert not hasattr(imagegpt_rs, "_panic_for_test")
    _raises(InputError, _native._panic_for_test, "nowhere")


_RAW = re.compile(r'b?r(#*)"')
_CHAR = re.compile(r"b?'(\\.[^']*|[^\\'])'")  # a char literal, not a lifetime


def _mask(code: str) -> str:
    """`code` with comments and the insides of string and char literals blanked (same length), so that
    braces and parentheses in them do not count."""
    out = list(code)
    i, n = 0, len(code)

    def blank(a: int, b: int) -> None:
        for k in range(a, b):
            if out[k] != "\n":
                out[k] = " "

    while i < n:
        c = code[i]
        word_start = i == 0 or not (code[i - 1].isalnum() or code[i - 1] == "_")
        if code.startswith("//", i):
            j = code.find("\n", i)
            j = n if j < 0 else j
            blank(i, j)
            i = j
        elif code.startswith("/*", i):
            j = code.index("*/", i) + 2
            blank(i, j)
            i = j
        elif word_start and (m := _RAW.match(code, i)):
            end = code.index('"' + m.group(1), m.end())
            blank(m.end(), end)
            i = end + 1 + len(m.group(1))
        elif c == '"':
            j = i + 1
            while code[j] != '"':
                j += 2 if code[j] == "\\" else 1
            blank(i + 1, j)
            i = j + 1
        elif word_start and (m := _CHAR.match(code, i)):
            blank(m.start(1), m.end(1))
            i = m.end()
        else:
            i += 1
    return "".join(out)


def _close(masked: str, start: int) -> int:
    """Index of the bracket closing the one at `start`."""
    pairs = {"(": ")", "{": "}", "[": "]"}
    stack = []
    for k in range(start, len(masked)):
        ch = masked[k]
        if ch in pairs:
            stack.append(pairs[ch])
        elif ch in ")}]":
            assert stack.pop() == ch
            if not stack:
                return k
    raise AssertionError("unbalanced")


_GUARD = re.compile(r'\s*guard\(\s*"([^"]*)"\s*,\s*\|\|')


def _check_fn(code: str, masked: str, fn_at: int, expected: str) -> str | None:
    """None when the function at `fn_at` has a body that is exactly one `guard("expected", || ...)`
    call, else what is wrong."""
    params = masked.index("(", fn_at)
    body = masked.index("{", _close(masked, params))
    end = _close(masked, body)
    m = _GUARD.match(masked, body + 1)
    if not m:
        return "its body does not start with guard(...)"
    name = code[m.start(1) : m.end(1)]
    if name != expected:
        return f'guard names "{name}", not "{expected}"'
    call_end = _close(masked, masked.index("(", m.start()))
    if masked[call_end + 1 : end].strip():
        return "code after the guard(...) call"
    return None


def _entry_points() -> tuple[dict[str, str | None], list[str]]:
    """{python name: problem or None} of every #[pyfunction] and #[pymethods] function of the binding
    crate, and the files scanned."""
    found: dict[str, str | None] = {}
    files = sorted(SRC.glob("*.rs"))
    py_names: dict[str, str] = {}
    sources = {f: f.read_text() for f in files}
    for code in sources.values():
        for m in re.finditer(r"#\[pyclass\(([^\]]*)\)\]\s*(?:pub(?:\([^)]*\))?\s+)?struct\s+(\w+)", code):
            given = re.search(r'name\s*=\s*"(\w+)"', m.group(1))
            py_names[m.group(2)] = given.group(1) if given else m.group(2)
    for code in sources.values():
        masked = _mask(code)
        for m in re.finditer(r"#\[pyfunction\]", masked):
            fn = re.compile(r"\bfn\s+(\w+)").search(masked, m.end())
            assert fn is not None
            name = fn.group(1)
            found[name] = _check_fn(code, masked, fn.start(), name)
        for m in re.finditer(r"#\[pymethods\]\s*impl\s+(\w+)\s*\{", masked):
            cls = py_names[m.group(1)]
            start = m.end() - 1
            end = _close(masked, start)
            depth = 0
            k = start + 1
            while k < end:
                ch = masked[k]
                if ch in "({[":
                    depth += 1
                elif ch in ")}]":
                    depth -= 1
                elif depth == 0 and (fn := re.compile(r"\bfn\s+(\w+)").match(masked, k)):
                    attrs = masked[max(masked.rfind("}", start, k), masked.rfind(";", start, k), start) : k]
                    py = "__new__" if "#[new]" in attrs else fn.group(1)
                    found[f"{cls}.{py}"] = _check_fn(code, masked, k, f"{cls}.{py}")
                    k = _close(masked, masked.index("{", _close(masked, masked.index("(", k))))
                k += 1
    return found, [f.name for f in files]


def _runtime_entry_points() -> set[str]:
    names = set()
    for name, obj in vars(_native).items():
        if isinstance(obj, types.BuiltinFunctionType):
            names.add(name)
        elif isinstance(obj, type):
            for attr, value in vars(obj).items():
                if attr == "__new__" or not attr.startswith("__"):
                    assert not isinstance(value, (str, int)), (name, attr)
                    names.add(f"{obj.__name__}.{attr}")
    return names


def test_every_native_entry_point_runs_inside_the_guard() -> None:
    found, files = _entry_points()
    assert "errors.rs" in files and "threads.rs" in files
    bypass = {name: problem for name, problem in found.items() if problem}
    assert not bypass, f"entry points outside threads::guard: {bypass}"
    # The scan saw every entry point the built module has (so it cannot pass by missing some).
    runtime = _runtime_entry_points()
    assert runtime - set(found) == set(), "entry points the source scan did not find"
    assert set(found) - runtime == set(), "scanned entry points the module does not have"
    assert {"resize", "kmeans_fit", "ColorQuantizer.__new__", "EncodeJob.dtype", "ColorHistogram.n_pixels"} <= runtime


def test_the_guard_check_catches_a_bypass() -> None:
    # The scanner itself: a body with work outside the guard, a wrong name, and no guard at all fail.
    cases = {
        'fn f(py: Python<\'_>) -> PyResult<()> { let x = "}"; guard("f", || Ok(())) }': "does not start",
        'fn f() -> PyResult<()> { guard("g", || Ok(())) }': 'names "g"',
        'fn f() -> PyResult<()> { guard("f", || Ok(()))?; Ok(()) }': "after the guard",
        "fn f() -> usize { 1 }": "does not start",
        "fn f<'py>(c: char) -> PyResult<()> {\n    // {\n    guard(\"f\", || { let _ = '{'; Ok(()) })\n}": None,
    }
    for src, problem in cases.items():
        got = _check_fn(src, _mask(src), 0, "f")
        assert (got is None) if problem is None else (got is not None and problem in got), (src, got)


def test_only_the_guard_catches_panics() -> None:
    # One guard: nothing else in the crate catches unwinds or builds pyo3's PanicException, and no
    # class is looked up by name outside errors.rs.
    for f in SRC.glob("*.rs"):
        code = _mask(f.read_text())
        if f.name != "threads.rs":
            assert "catch_unwind" not in code, f.name
        assert "PanicException" not in code, f.name
        if f.name != "errors.rs":
            assert '"imagegpt_rs.errors' not in f.read_text(), f.name

"""Hostile inputs, property-based: every public entry point either gives the oracle's values or raises an
ImageGPTError / ValueError / TypeError / OSError whose message names the input (index, argument or
file); never a crash, a hang or another exception. Risky cases (huge allocations, FIFOs, symlink loops)
run in a subprocess with a memory limit and a timeout. README: "Hostile inputs" summarizes these.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from imagegpt_rs import (
    ColorQuantizer,
    ImageDecodeError,
    ImageGPTError,
    ImageGPTImageProcessor,
    decode_image,
    fit_palette,
)
from imagegpt_rs.encoding import encode_files
from imagegpt_rs.resampling import Resampling, resize

PIL_Image = pytest.importorskip("PIL.Image")
transformers = pytest.importorskip("transformers")

ALLOWED = (ImageGPTError, ValueError, TypeError, OSError)
HYPOTHESIS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)

CLUSTERS = np.random.default_rng(7).uniform(-1, 1, (37, 3))
QUANTIZER = ColorQuantizer(CLUSTERS)


def reference_ids(pixels_u8: np.ndarray, clusters: np.ndarray) -> np.ndarray:
    """transformers 4.57's own normalize + ``color_quantize`` (the oracle)."""
    from transformers.models.imagegpt.image_processing_imagegpt import color_quantize

    x = (pixels_u8.astype(np.float64) * (1 / 127.5)).astype(np.float32) - 1
    return color_quantize(x.reshape(-1, 3), clusters).reshape(pixels_u8.shape[:-1])


# --------------------------------------------------------------------------- hostile arrays
DTYPES = [
    np.uint8,
    np.int8,
    np.uint16,
    np.int16,
    np.int32,
    np.int64,
    np.uint64,
    np.float16,
    np.float32,
    np.float64,
    np.bool_,
    np.complex64,
]


@st.composite
def hostile_arrays(draw, max_dims=5):
    dtype = np.dtype(draw(st.sampled_from(DTYPES)))
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=max_dims, min_side=0, max_side=5))
    if dtype.kind == "f":
        elements = st.floats(allow_nan=True, allow_infinity=True, width=dtype.itemsize * 8)
    else:
        elements = None
    arr = draw(hnp.arrays(dtype, shape, elements=elements))
    if dtype.kind == "f" and arr.size and draw(st.booleans()):
        arr = np.clip(np.nan_to_num(arr), 0, 255).round().astype(dtype)  # often valid pixel values too
    layout = draw(st.sampled_from(["c", "reversed", "transposed", "fortran", "strided", "readonly"]))
    if layout == "reversed" and arr.ndim:
        arr = arr[::-1]
    elif layout == "transposed":
        arr = arr.T
    elif layout == "fortran":
        arr = np.asfortranarray(arr)
    elif layout == "strided" and arr.ndim:
        arr = np.repeat(arr, 2, axis=0)[::2]
    elif layout == "readonly":
        arr = arr.copy()
        arr.setflags(write=False)
    return arr


def _message_names(err: BaseException, *names: str) -> bool:
    text = str(err)
    return bool(text) and any(n in text for n in names)


@HYPOTHESIS
@given(arr=hostile_arrays())
def test_quantize_hostile_arrays(arr):
    try:
        ids = QUANTIZER.quantize(arr)
    except ALLOWED as err:
        assert _message_names(err, "images", "pixels"), err
        return
    # Accepted: an integer array (..., 3) of values in 0..255; ids are transformers'.
    assert arr.dtype.kind in "iub" and arr.ndim >= 1 and arr.shape[-1] == 3
    np.testing.assert_array_equal(ids, reference_ids(np.asarray(arr).astype(np.uint8), CLUSTERS))


@HYPOTHESIS
@given(arr=hostile_arrays())
def test_quantize_normalized_hostile_arrays(arr):
    try:
        ids = QUANTIZER.quantize_normalized(arr)
    except ALLOWED as err:
        assert _message_names(err, "images", "pixels"), err
        return
    assert arr.ndim >= 1 and arr.shape[-1] == 3 and np.isfinite(arr.astype(np.float64)).all()
    assert ids.shape == arr.shape[:-1] and (0 <= ids).all() and (ids < len(CLUSTERS)).all()


@HYPOTHESIS
@given(arr=hostile_arrays())
def test_decode_hostile_id_arrays(arr):
    try:
        colors = QUANTIZER.decode(arr)
    except ALLOWED as err:
        assert _message_names(err, "ids"), err
        return
    assert arr.dtype.kind in "iu"
    # The inverse transformers' docs use to view samples: rint(127.5 * (c + 1)), clipped.
    table = np.clip(np.rint(127.5 * (CLUSTERS + 1.0)), 0, 255).astype(np.uint8)
    np.testing.assert_array_equal(colors, table[np.asarray(arr).astype(np.int64)])


@HYPOTHESIS
@given(
    arr=hostile_arrays(max_dims=4), resample=st.sampled_from(list(Resampling)), h=st.integers(1, 6), w=st.integers(1, 6)
)
def test_resize_hostile_arrays(arr, resample, h, w):
    try:
        out = resize(arr, (h, w), resample)
    except ALLOWED as err:
        assert _message_names(err, "image", "size"), err
        return
    assert arr.dtype == np.uint8
    src = np.ascontiguousarray(arr)
    if src.ndim == 3 and src.shape[2] == 1:
        src = src[:, :, 0]
    mode = {2: "L"}.get(src.ndim) or {3: "RGB", 4: "RGBA"}[src.shape[2]]
    expected = np.asarray(PIL_Image.fromarray(src, mode).resize((w, h), int(resample), reducing_gap=None))
    np.testing.assert_array_equal(out.reshape(expected.shape), expected)


@HYPOTHESIS
@given(arr=hostile_arrays(max_dims=4), position=st.integers(0, 2))
def test_processor_hostile_image_in_a_list(arr, position):
    """The hostile image sits among good ones; an error names its index."""
    good = np.random.default_rng(0).integers(0, 256, (5, 6, 3), dtype=np.uint8)
    images = [good, good]
    images.insert(position, arr)
    processor = ImageGPTImageProcessor(CLUSTERS, size=3)
    try:
        ids = processor(images, return_tensors="np")["input_ids"]
    except ALLOWED as err:
        # The first image's channel layout is inferred and applied to all (transformers' rule), so a
        # hostile first image can make a good one fail: then the message says so.
        names = [f"image {position}"] + (["inferred from image 0"] if position == 0 else [])
        assert _message_names(err, *names), err
        return
    assert ids.shape == (3, 9)
    theirs = transformers.ImageGPTImageProcessor(CLUSTERS, size=3)
    np.testing.assert_array_equal(
        ids[[i for i in range(3) if i != position]], theirs([good, good], return_tensors="np")["input_ids"]
    )


# --------------------------------------------------------------------------- huge arrays, in a subprocess
def _run_isolated(code: str, timeout: float = 120, memory: int = 3 << 30) -> subprocess.CompletedProcess:
    """Runs ``code`` with an address-space limit (an allocation fails instead of swapping the machine)."""
    prelude = (
        "import resource\n"
        f"resource.setrlimit(resource.RLIMIT_AS, ({memory}, {memory}))\n"
        "import numpy as np\n"
        "from imagegpt_rs import *\n"
        "from imagegpt_rs.resampling import resize\n"
        "from imagegpt_rs.encoding import encode_files\n"
        "from imagegpt_rs.palettes import default_palette\n"
    )
    body = (
        "try:\n" + textwrap.indent(textwrap.dedent(code), "    ") + "\n    print('OK')\n"
        "except (ImageGPTError, ValueError, TypeError, OSError, MemoryError) as err:\n"
        "    print('RAISED', type(err).__name__, str(err).replace(chr(10), ' '))\n"
    )
    env = {**os.environ, "RUST_BACKTRACE": "0"}
    return subprocess.run(
        [sys.executable, "-c", prelude + body], capture_output=True, text=True, timeout=timeout, env=env
    )


HUGE = "np.broadcast_to(np.zeros(3, np.uint8), (100000, 100000, 3))"  # 30 GB as a zero-stride view
HUGE_STRIDED = "np.lib.stride_tricks.as_strided(np.zeros(3, np.uint8), (1 << 40, 1 << 20, 3), (0, 0, 1))"


@pytest.mark.parametrize(
    "code",
    [
        f"ColorQuantizer(default_palette()).quantize({HUGE})",
        f"ColorQuantizer(default_palette()).quantize({HUGE_STRIDED})",
        "ColorQuantizer(default_palette()).decode(np.broadcast_to(np.zeros(1, np.int64), (1 << 40,)))",
        f"resize({HUGE}, (8, 8))",
        f"resize({HUGE_STRIDED}, (8, 8))",
        "resize(np.zeros((4, 4, 3), np.uint8), (1 << 20, 1 << 20))",
        f"ImageGPTImageProcessor(size=8)({HUGE})",
        f"ImageGPTImageProcessor(size=8)([np.zeros((4, 4, 3), np.uint8), {HUGE}])",
        "ImageGPTImageProcessor(size=(1 << 16, 1 << 16))(np.zeros((4, 4, 3), np.uint8))",
        "ColorQuantizer(np.broadcast_to(np.zeros(3), (1 << 30, 3)))",
    ],
    ids=[
        "quantize-30GB-view",
        "quantize-as_strided-2^60",
        "decode-2^40-ids",
        "resize-30GB-view",
        "resize-as_strided",
        "resize-to-2^40-pixels",
        "processor-30GB-view",
        "processor-list-30GB-view",
        "processor-size-2^32",
        "quantizer-2^30-clusters",
    ],
)
def test_huge_arrays_raise_instead_of_crashing(code):
    """Views far larger than memory: a clean exception (MemoryError included: these ask for outputs or
    copies of tens of GB to TB), never an abort; a 3 GiB address-space limit stands in for a small machine."""
    res = _run_isolated(code)
    assert res.returncode == 0, f"exit {res.returncode}: {res.stderr[-500:]}"
    assert res.stdout.startswith(("RAISED", "OK")), res.stdout + res.stderr[-500:]


# --------------------------------------------------------------------------- hostile file lists
@pytest.fixture(scope="module")
def file_zoo(tmp_path_factory, rgb_photos):
    d = tmp_path_factory.mktemp("zoo")
    photo = next(iter(rgb_photos.values()))
    good = []
    for k, (y, x) in enumerate([(0, 0), (100, 50), (200, 120)]):
        p = d / f"good{k}.{'png' if k % 2 else 'jpg'}"
        PIL_Image.fromarray(np.ascontiguousarray(photo[y : y + 40, x : x + 50])).save(p)
        good.append(str(p))
    (d / "empty.png").write_bytes(b"")
    (d / "text.jpg").write_text("not an image\n")
    (d / "truncated.png").write_bytes((d / "good1.png").read_bytes()[:100])
    (d / "subdir.png").mkdir()
    os.symlink(d / "loop_a.png", d / "loop_b.png")
    os.symlink(d / "loop_b.png", d / "loop_a.png")
    os.symlink(d / "nowhere.png", d / "dangling.png")
    bad = [
        str(d / n)
        for n in ("empty.png", "text.jpg", "truncated.png", "subdir.png", "loop_a.png", "dangling.png", "missing.png")
    ]
    return good, bad


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_encode_files_hostile_lists(file_zoo, data):
    good, bad = file_zoo
    paths = data.draw(st.lists(st.sampled_from(good + bad), min_size=0, max_size=12))  # duplicates included
    chunk = data.draw(st.integers(1, 5))
    processor = ImageGPTImageProcessor(CLUSTERS, size=4)
    result = encode_files(paths, processor, on_error="skip", chunk_size=chunk)
    good_at = [i for i, p in enumerate(paths) if p in good]
    np.testing.assert_array_equal(result.indices, good_at)
    assert sorted(f.index for f in result.failures) == [i for i, p in enumerate(paths) if p in bad]
    for f in result.failures:
        assert f.path == paths[f.index] and f.reason
    if good_at:
        theirs = transformers.ImageGPTImageProcessor(CLUSTERS, size=4)
        expected = theirs([PIL_Image.open(paths[i]).convert("RGB") for i in good_at], return_tensors="np")["input_ids"]
        np.testing.assert_array_equal(result.ids, expected)
    first_bad = next((p for p in paths if p in bad), None)
    if first_bad is None:
        assert len(encode_files(paths, processor, chunk_size=chunk)) == len(paths)
    else:
        with pytest.raises(ImageDecodeError) as info:
            encode_files(paths, processor, chunk_size=chunk)
        assert first_bad in str(info.value)


@pytest.mark.parametrize(
    "kind", ["empty.png", "text.jpg", "truncated.png", "subdir.png", "loop_a.png", "dangling.png", "missing.png"]
)
def test_decode_image_hostile_files(file_zoo, kind):
    _, bad = file_zoo
    path = next(p for p in bad if p.endswith(kind))
    with pytest.raises(ImageDecodeError) as info:
        decode_image(path)
    assert path in str(info.value) or repr(path) in str(info.value)
    with pytest.raises(OSError):  # what Pillow says too (the oracle refuses them all)
        with PIL_Image.open(path) as im:
            im.convert("RGB")


@pytest.mark.parametrize("special", ["fifo", "/dev/zero", "/dev/urandom"])
def test_special_files_do_not_hang(tmp_path, special):
    """A FIFO with no writer blocks open() forever; /dev/zero never ends. Both must fail (or be refused)
    within the timeout instead of hanging the run or growing memory without bound."""
    if special == "fifo":
        path = str(tmp_path / "pipe.png")
        os.mkfifo(path)
    else:
        path = special
    code = f"""
    r = encode_files([{path!r}], on_error='skip')
    assert len(r.failures) == 1 and {path!r} in r.failures[0].path, r
    decode_image({path!r})
    """
    res = _run_isolated(code, timeout=60)
    assert res.returncode == 0, res.stderr[-500:]
    assert res.stdout.startswith("RAISED ImageDecodeError") and path in res.stdout, res.stdout


# --------------------------------------------------------------------------- damaged encoded bytes
@pytest.fixture(scope="module")
def encoded_blobs(rgb_photos):
    import io

    photo = np.ascontiguousarray(next(iter(rgb_photos.values()))[:40, :50])
    blobs = []
    for fmt, kw in [("PNG", {}), ("JPEG", {"quality": 80}), ("WEBP", {}), ("BMP", {}), ("GIF", {}), ("TIFF", {})]:
        buf = io.BytesIO()
        PIL_Image.fromarray(photo).save(buf, fmt, **kw)
        blobs.append(buf.getvalue())
    return blobs


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_damaged_bytes_decode_or_fail_cleanly(encoded_blobs, data):
    """Byte flips, truncations and insertions in six formats: decode_image either decodes or raises
    ImageDecodeError; encode_bytes(on_error='skip') keeps the good blob's row and names the bad index."""
    which = data.draw(st.integers(0, len(encoded_blobs) - 1))
    blob = bytearray(encoded_blobs[which])
    for _ in range(data.draw(st.integers(0, 4))):
        pos = data.draw(st.integers(0, len(blob)))
        op = data.draw(st.sampled_from(["flip", "truncate", "insert"]))
        if op == "flip" and pos < len(blob):
            blob[pos] = data.draw(st.integers(0, 255))
        elif op == "truncate":
            del blob[pos:]
        else:
            blob[pos:pos] = data.draw(st.binary(min_size=1, max_size=16))
    damaged = bytes(blob)
    try:
        rgb = decode_image(damaged)
        assert rgb.dtype == np.uint8 and rgb.ndim == 3 and rgb.shape[2] == 3
        decoded = True
    except ImageDecodeError as err:
        assert str(err)
        decoded = False
    if damaged == encoded_blobs[which]:  # undamaged: Pillow's pixels
        import io

        with PIL_Image.open(io.BytesIO(damaged)) as im:
            np.testing.assert_array_equal(decode_image(damaged), np.asarray(im.convert("RGB")))
    from imagegpt_rs.encoding import encode_bytes

    result = encode_bytes([encoded_blobs[0], damaged], ImageGPTImageProcessor(CLUSTERS, size=4), on_error="skip")
    assert 0 in result.indices
    assert [f.index for f in result.failures] == ([] if decoded else [1])  # the same verdict as decode_image
    for f in result.failures:
        assert f.path == "<bytes 1>" and f.reason


# --------------------------------------------------------------------------- hostile scalar arguments
@pytest.mark.parametrize("value", [-1, 0, 1 << 70, 1.5, "2", True, 4096])
def test_thread_counts_are_checked_everywhere(value, tmp_path, file_zoo):
    """num_threads=-1 or 2**70 used to overflow in the native code (OverflowError, not a ValueError)."""
    good, _ = file_zoo
    img = np.zeros((4, 4, 3), np.uint8)
    calls = [
        lambda: ColorQuantizer(CLUSTERS, num_threads=value),
        lambda: ImageGPTImageProcessor(CLUSTERS, size=4, num_threads=value),
        lambda: encode_files(good[:1], ImageGPTImageProcessor(CLUSTERS, size=4), num_threads=value),
        lambda: fit_palette([img], 2, num_threads=value),
    ]
    for call in calls:
        with pytest.raises(ALLOWED, match="num_threads") as info:
            call()
        assert not isinstance(info.value, OverflowError)


@pytest.mark.parametrize("name", ["chunk_size", "shard_size", "max_pixels"])
@pytest.mark.parametrize("value", [-1, 0, 1 << 70, 2.0, "8"])
def test_sizes_of_encode_to_directory_are_checked(tmp_path, file_zoo, name, value):
    """chunk_size=-1 used to write empty shards for every input without a word."""
    from imagegpt_rs.encoding import encode_to_directory

    good, _ = file_zoo
    with pytest.raises(ALLOWED, match=name) as info:
        encode_to_directory(good, tmp_path / "out", ImageGPTImageProcessor(CLUSTERS, size=4), **{name: value})
    assert not isinstance(info.value, OverflowError)

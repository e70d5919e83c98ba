"""imagegpt_rs.resampling.resize against real Pillow: byte for byte, every filter, many sizes.

The installed Pillow is the oracle (``pillow_compat=None`` follows it); Pillow 12's pass order is
checked against outputs recorded by a real Pillow 12 (tests/data/make_pillow12_oracle.py).
"""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from imagegpt_rs import InputError
from imagegpt_rs.resampling import Resampling, default_pillow_compat, resize, resize_many

PIL = pytest.importorskip("PIL")
from PIL import Image  # noqa: E402

DATA = pathlib.Path(__file__).parent / "data"
FILTERS = list(Resampling)
INSTALLED_MAJOR = int(PIL.__version__.split(".")[0])


def pil_resize(a: np.ndarray, width: int, height: int, resample: int) -> np.ndarray:
    """The oracle: exactly what transformers does with a uint8 image."""
    return np.asarray(Image.fromarray(a).resize((width, height), resample, reducing_gap=None))


def to_l(a: np.ndarray) -> np.ndarray:
    return np.asarray(Image.fromarray(a).convert("L"))


def with_alpha(a: np.ndarray, seed: int) -> np.ndarray:
    """RGBA with a real-looking alpha: a gradient with holes (0) and opaque parts (255)."""
    h, w = a.shape[:2]
    rng = np.random.default_rng(seed)
    alpha = (np.linspace(0, 400, w)[None, :] + np.linspace(0, 200, h)[:, None] - 150).clip(0, 255)
    alpha = alpha.astype(np.uint8)
    alpha[rng.random((h, w)) < 0.05] = 0
    return np.dstack([a, alpha])


@pytest.fixture(scope="module")
def photos() -> dict[str, np.ndarray]:
    skdata = pytest.importorskip("skimage.data")
    sk = pytest.importorskip("sklearn.datasets")
    china, flower = sk.load_sample_images().images
    return {
        "astronaut": skdata.astronaut(),
        "coffee": skdata.coffee(),
        "chelsea": skdata.chelsea(),
        "china": china,
        "flower": flower,
    }


def assert_same(got: np.ndarray, want: np.ndarray, what: str) -> None:
    assert got.dtype == np.uint8, what
    assert got.shape == want.shape, what
    if not np.array_equal(got, want):
        diff = np.abs(got.astype(int) - want.astype(int))
        raise AssertionError(f"{what}: {np.count_nonzero(diff)} values differ (max {diff.max()})")


def downscale_targets(h: int, w: int) -> list[tuple[int, int]]:
    """(height, width) targets: ImageGPT's sizes, non-square, 1 pixel, extreme aspect changes on both
    sides of Pillow 13's vertical-first rule, one axis only."""
    return [
        (32, 32),
        (48, 48),
        (64, 64),
        (24, 40),
        (40, 24),
        (1, 1),
        (1, 17),
        (17, 1),
        (20, 700),  # height shrinks far more than width: vertical first in Pillow 13
        (h // 8, w - 5),  # vertical first in Pillow 13
        (h - 3, w // 8),  # horizontal first
        (h, 32),  # one pass only
        (32, w),
        (h + 1, w // 3),
        (700, 20),
    ]


@pytest.mark.parametrize("resample", FILTERS, ids=lambda f: f.name)
@pytest.mark.parametrize("name", ["astronaut", "coffee", "chelsea", "china", "flower"])
def test_photos_rgb_match_pillow(photos, name, resample):
    a = photos[name]
    h, w = a.shape[:2]
    for th, tw in downscale_targets(h, w):
        assert_same(resize(a, (th, tw), resample), pil_resize(a, tw, th, resample), f"{name} -> {th}x{tw}")


@pytest.mark.parametrize("resample", FILTERS, ids=lambda f: f.name)
@pytest.mark.parametrize("name", ["astronaut", "chelsea", "flower"])
def test_photos_l_match_pillow(photos, name, resample):
    a = to_l(photos[name])
    h, w = a.shape
    for th, tw in downscale_targets(h, w):
        assert_same(resize(a, (th, tw), resample), pil_resize(a, tw, th, resample), f"L {name} -> {th}x{tw}")


@pytest.mark.parametrize("resample", FILTERS, ids=lambda f: f.name)
def test_photos_rgba_match_pillow(photos, resample):
    # Pillow resizes RGBA premultiplied (RGBA -> RGBa -> RGBA), except with NEAREST.
    for i, name in enumerate(["coffee", "china"]):
        a = with_alpha(photos[name], i)
        h, w = a.shape[:2]
        for th, tw in [(32, 32), (64, 48), (h // 9, w - 2), (1, 1), (h + 7, w + 3)]:
            assert_same(resize(a, (th, tw), resample), pil_resize(a, tw, th, resample), f"RGBA {name} {th}x{tw}")


@pytest.mark.parametrize("resample", FILTERS, ids=lambda f: f.name)
def test_upscales_match_pillow(photos, resample):
    crops = {
        "face": photos["astronaut"][90:120, 200:240],
        "cat": photos["chelsea"][100:113, 150:157],
        "flower_l": to_l(photos["flower"][200:219, 300:331]),
    }
    for name, a in crops.items():
        h, w = a.shape[:2]
        for th, tw in [(64, 64), (256, 256), (2 * h, 3 * w), (h + 1, w + 1), (7, 100), (100, 7), (h, 5 * w)]:
            assert_same(resize(a, (th, tw), resample), pil_resize(a, tw, th, resample), f"{name} {th}x{tw}")


@pytest.mark.parametrize("resample", FILTERS, ids=lambda f: f.name)
def test_tiny_sources_match_pillow(resample):
    rng = np.random.default_rng(3)
    shapes = [(1, 1, 3), (1, 1), (2, 3, 3), (3, 2), (1, 9, 3), (9, 1, 3), (1, 5), (5, 1), (2, 2, 4)]
    targets = [(1, 1), (1, 2), (2, 1), (3, 2), (2, 3), (32, 32), (1, 40), (40, 1), (5, 5)]
    for shape in shapes:
        a = rng.integers(0, 256, shape, dtype=np.uint8)
        for th, tw in targets:
            assert_same(resize(a, (th, tw), resample), pil_resize(a, tw, th, resample), f"{shape} -> {th}x{tw}")


@pytest.mark.parametrize("resample", FILTERS, ids=lambda f: f.name)
def test_noise_matches_pillow(resample):
    # Noise has the most 8-bit ties and negative-lobe clipping: a hard case for the rounding.
    rng = np.random.default_rng(11)
    for shape in [(257, 123, 3), (123, 257), (600, 37, 3), (37, 600, 3)]:
        a = rng.integers(0, 256, shape, dtype=np.uint8)
        h, w = shape[:2]
        for th, tw in [(32, 32), (64, 48), (h // 3, w - 1), (h - 1, w // 3), (1, 1), (h * 2, w + 1)]:
            assert_same(resize(a, (th, tw), resample), pil_resize(a, tw, th, resample), f"{shape} -> {th}x{tw}")


def test_same_size_is_a_copy(photos):
    a = photos["chelsea"]
    for f in FILTERS:
        out = resize(a, a.shape[:2], f)
        assert_same(out, pil_resize(a, a.shape[1], a.shape[0], f), f.name)
        assert not np.shares_memory(out, a)


def test_pillow13_vertical_first_rule_changes_results(photos):
    """Where Pillow 13 runs the vertical pass first, some outputs differ from Pillow 12's horizontal
    first order; our modes reproduce both (the installed Pillow checks the current one)."""
    a = photos["astronaut"]
    differing = 0
    for f in [Resampling.BILINEAR, Resampling.BICUBIC, Resampling.LANCZOS]:
        for th, tw in [(20, 700), (64, 500), (32, 400)]:
            v12 = resize(a, (th, tw), f, pillow_compat=12)
            v13 = resize(a, (th, tw), f, pillow_compat=13)
            installed = resize(a, (th, tw), f, pillow_compat=None)
            assert_same(installed, v13 if INSTALLED_MAJOR >= 13 else v12, f"{f.name} {th}x{tw}")
            differing += int(not np.array_equal(v12, v13))
    assert differing >= 3
    # Where the rule does not apply, both modes agree.
    for th, tw in [(32, 32), (256, 100), (500, 64)]:
        assert np.array_equal(
            resize(a, (th, tw), Resampling.BICUBIC, pillow_compat=12),
            resize(a, (th, tw), Resampling.BICUBIC, pillow_compat=13),
        )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    h=st.integers(1, 90),
    w=st.integers(1, 90),
    th=st.integers(1, 130),
    tw=st.integers(1, 130),
    channels=st.sampled_from([0, 1, 3, 4]),
    resample=st.sampled_from(FILTERS),
    seed=st.integers(0, 2**32 - 1),
)
def test_random_sizes_match_pillow(h, w, th, tw, channels, resample, seed):
    rng = np.random.default_rng(seed)
    shape = (h, w) if channels in (0, 1) else (h, w, channels)
    a = rng.integers(0, 256, shape, dtype=np.uint8)
    if rng.random() < 0.5:  # smooth content too, not only noise
        a = np.sort(a, axis=0)
    assert_same(resize(a, (th, tw), resample), pil_resize(a, tw, th, resample), f"{shape} -> {th}x{tw}")


# --- Pillow 12 ------------------------------------------------------------------------------------


def _oracle(name: str) -> tuple[dict[str, np.ndarray], list[str], np.ndarray, str]:
    z = np.load(DATA / name)
    names = [str(n) for n in z["source_names"]]
    srcs = {n: z[f"src_{n}"] for n in names}
    outs = [z[f"out_{i}"] for i in range(len(z["cases"]))]
    return srcs, names, z["cases"], str(z["pillow_version"]), outs


def test_pillow12_mode_matches_recorded_pillow12():
    srcs, names, cases, version, outs = _oracle("pillow12_resize_oracle.npz")
    assert version.startswith("12.") and int(version.split(".")[1]) >= 2
    differ_from_13 = 0
    tall_differ = 0
    for (si, tw, th, f), want in zip(cases, outs):
        a = srcs[names[si]]
        what = f"{names[si]} {a.shape} -> {th}x{tw} filter {f}"
        assert_same(resize(a, (int(th), int(tw)), int(f), pillow_compat=12), want, what)
        assert_same(resize(a, (int(th), int(tw)), int(f), pillow_compat=version), want, what)
        v13 = resize(a, (int(th), int(tw)), int(f), pillow_compat=13)
        differ_from_13 += int(not np.array_equal(v13, want))
        legacy = resize(a, (int(th), int(tw)), int(f), pillow_compat="12.1")
        tall_differ += int(not np.array_equal(legacy, want))
    # The recorded cases include ones where Pillow 12 and 13 give different bytes ...
    assert differ_from_13 >= 10
    # ... and ones where 12.2+'s tall-image path differs from 12.1's horizontal-first order.
    assert tall_differ >= 3


def test_pillow12_1_mode_matches_recorded_pillow12_1():
    srcs, names, cases, version, outs = _oracle("pillow12_1_resize_oracle.npz")
    assert version.startswith("12.1")
    differ_from_12_3 = 0
    for (si, tw, th, f), want in zip(cases, outs):
        a = srcs[names[si]]
        assert a.shape[0] > 100 * a.shape[1]
        what = f"{names[si]} {a.shape} -> {th}x{tw} filter {f}"
        assert_same(resize(a, (int(th), int(tw)), int(f), pillow_compat=(12, 1)), want, what)
        assert_same(resize(a, (int(th), int(tw)), int(f), pillow_compat=version), want, what)
        differ_from_12_3 += int(not np.array_equal(resize(a, (int(th), int(tw)), int(f), pillow_compat=12), want))
    assert differ_from_12_3 >= 3


def test_pillow12_oracle_fixtures_are_small():
    for name in ["pillow12_resize_oracle.npz", "pillow12_1_resize_oracle.npz"]:
        assert (DATA / name).stat().st_size < 300_000


# --- defaults, API and errors ---------------------------------------------------------------------


def test_default_follows_installed_pillow():
    assert default_pillow_compat() == (13 if INSTALLED_MAJOR >= 13 else 12)
    a = np.random.default_rng(5).integers(0, 256, (300, 200, 3), dtype=np.uint8)
    for th, tw in [(20, 190), (32, 32)]:
        explicit = resize(a, (th, tw), Resampling.BICUBIC, pillow_compat=PIL.__version__)
        assert np.array_equal(resize(a, (th, tw), Resampling.BICUBIC), explicit)
        assert np.array_equal(resize(a, (th, tw), Resampling.BICUBIC), pil_resize(a, tw, th, 3))


def _run(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout


def test_pillow_is_imported_only_for_the_default():
    out = _run(
        "import sys, json, numpy as np\n"
        "from imagegpt_rs.resampling import resize\n"
        "a = np.zeros((8, 8, 3), np.uint8)\n"
        "before = 'PIL' in sys.modules\n"
        "resize(a, (4, 4), pillow_compat=13)\n"
        "explicit = 'PIL' in sys.modules\n"
        "resize(a, (4, 4))\n"
        "print(json.dumps([before, explicit, 'PIL' in sys.modules]))"
    )
    assert json.loads(out) == [False, False, True]


def test_default_without_pillow_is_13():
    out = _run(
        "import sys\n"
        "sys.modules['PIL'] = None  # makes `import PIL` raise ImportError\n"
        "from imagegpt_rs.resampling import default_pillow_compat\n"
        "print(default_pillow_compat())"
    )
    assert out.strip() == "13"


def test_resampling_enum_matches_pillow():
    for f in Resampling:
        assert int(getattr(Image.Resampling, f.name)) == int(f)
    import imagegpt_rs

    assert imagegpt_rs.Resampling is Resampling


def test_accepts_pillow_enum_and_plain_ints(photos):
    a = photos["coffee"]
    want = pil_resize(a, 32, 32, Image.Resampling.HAMMING)
    assert_same(resize(a, (32, 32), Image.Resampling.HAMMING), want, "PIL enum")
    assert_same(resize(a, (32, 32), 5), want, "int")
    assert_same(resize(a, [32, 32], np.int64(5)), want, "numpy ints, list size")
    # default filter is BILINEAR, as transformers' ImageGPT default
    assert_same(resize(a, (32, 32)), pil_resize(a, 32, 32, Image.Resampling.BILINEAR), "default")


def test_non_contiguous_inputs(photos):
    base = photos["astronaut"]
    views = {
        "flipped": base[:, ::-1],
        "strided": base[::3, ::2],
        "bgr": base[:, :, ::-1],
        "fortran": np.asfortranarray(base),
        "transposed": base.transpose(1, 0, 2),
        "l_column": to_l(base)[:, 100:101],
    }
    for name, v in views.items():
        c = np.ascontiguousarray(v)
        for f in [Resampling.NEAREST, Resampling.BICUBIC]:
            want = pil_resize(c, 33, 31, f)
            assert_same(resize(v, (31, 33), f), want, name)


def test_output_shape_and_layout(photos):
    a = photos["chelsea"]
    out = resize(a, (10, 20))
    assert out.shape == (10, 20, 3) and out.flags.c_contiguous and out.flags.writeable
    l_img = to_l(a)
    assert resize(l_img, (10, 20)).shape == (10, 20)
    one = resize(l_img[:, :, None], (10, 20), Resampling.LANCZOS)
    assert one.shape == (10, 20, 1)
    assert_same(one[:, :, 0], pil_resize(l_img, 20, 10, Resampling.LANCZOS), "(H, W, 1)")


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((np.zeros((4, 4, 3), np.float32), (2, 2)), "dtype uint8, got float32"),
        (([[1, 2], [3, 4]], (2, 2)), "NumPy array, got list"),
        ((np.zeros((4, 4, 3, 1), np.uint8), (2, 2)), r"shape \(H, W\) or \(H, W, C\), got shape \(4, 4, 3, 1\)"),
        ((np.zeros((4,), np.uint8), (2, 2)), r"got shape \(4,\)"),
        ((np.zeros((4, 4, 2), np.uint8), (2, 2)), "got 2"),
        ((np.zeros((4, 4, 5), np.uint8), (2, 2)), "got 5"),
        ((np.zeros((0, 4, 3), np.uint8), (2, 2)), "at least 1x1"),
        ((np.zeros((4, 4, 3), np.uint8), (0, 2)), "height must be at least 1, got 0"),
        ((np.zeros((4, 4, 3), np.uint8), (2, -3)), "width must be at least 1, got -3"),
        ((np.zeros((4, 4, 3), np.uint8), (2.0, 2)), "height must be an integer, got 2.0"),
        ((np.zeros((4, 4, 3), np.uint8), (True, 2)), "height must be an integer, got True"),
        ((np.zeros((4, 4, 3), np.uint8), (2, 2**31)), "width must be at most 2147483647, got 2147483648"),
        ((np.zeros((4, 4, 3), np.uint8), 32), "size must be a .height, width. pair, got 32"),
        ((np.zeros((4, 4, 3), np.uint8), (2, 2, 2)), "pair"),
        ((np.zeros((4, 4, 3), np.uint8), (2, 2), 6), "unknown resampling filter 6"),
        ((np.zeros((4, 4, 3), np.uint8), (2, 2), -1), "unknown resampling filter -1"),
        ((np.zeros((4, 4, 3), np.uint8), (2, 2), "bilinear"), "resample must be .*got 'bilinear'"),
        ((np.zeros((4, 4, 3), np.uint8), (2, 2), 2, 11), "12 or 13 .*got 11"),
        ((np.zeros((4, 4, 3), np.uint8), (2, 2), 2, True), "got True"),
        ((np.zeros((4, 4, 3), np.uint8), (2, 2), 2, "latest"), "got 'latest'"),
        ((np.zeros((4, 4, 3), np.uint8), (2, 2), 2, (12,)), r"got \(12,\)"),
        ((np.zeros((4, 4, 3), np.uint8), (2, 2), 2, "0.5"), "0.5 is not a Pillow version"),
    ],
)
def test_errors_name_the_problem(args, match):
    with pytest.raises(InputError, match=match):
        resize(*args)


def test_input_error_is_a_value_error():
    with pytest.raises(ValueError):
        resize(np.zeros((4, 4, 3), np.uint8), (0, 0))


def test_resize_many_matches_pillow(photos):
    rng = np.random.default_rng(8)
    images = [
        photos["astronaut"],
        to_l(photos["chelsea"]),
        with_alpha(photos["coffee"], 2),
        photos["flower"][::2, 1::3],  # non-contiguous
        rng.integers(0, 256, (3, 2, 3), dtype=np.uint8),
        to_l(photos["china"])[:, :, None],
    ]
    for f in FILTERS:
        outs = resize_many(images, (32, 48), f)
        assert len(outs) == len(images)
        for a, out in zip(images, outs):
            c = np.ascontiguousarray(a)
            want = pil_resize(c[:, :, 0] if c.ndim == 3 and c.shape[2] == 1 else c, 48, 32, f)
            assert_same(out.reshape(want.shape), want, f"{a.shape} {f.name}")
            assert out.ndim == a.ndim
    assert resize_many([], (4, 4)) == []
    assert_same(resize_many(iter([images[0]]), (5, 7))[0], pil_resize(images[0], 7, 5, 2), "iterator")


def test_resize_many_errors_name_the_image():
    ok = np.zeros((4, 4, 3), np.uint8)
    with pytest.raises(InputError, match=r"images\[1\] must have dtype uint8, got float64"):
        resize_many([ok, np.zeros((4, 4, 3))], (2, 2))
    with pytest.raises(InputError, match=r"images\[2\] must have 1 \(L\), 3 \(RGB\) or 4 \(RGBA\) channels, got 2"):
        resize_many([ok, ok, np.zeros((4, 4, 2), np.uint8)], (2, 2))
    with pytest.raises(InputError, match="height must be at least 1"):
        resize_many([ok], (0, 2))
    from imagegpt_rs import _native

    with pytest.raises(InputError, match=r"images\[1\]: channels must be 1 \(L\), 3 \(RGB\) or 4 \(RGBA\), got 5"):
        _native.resize_many([ok, np.zeros((2, 2, 5), np.uint8)], 2, 2, 2, (13, 0))
    with pytest.raises(InputError, match=r"images\[0\] must be a uint8 NumPy array"):
        _native.resize_many([np.zeros((2, 2))], 2, 2, 2, (13, 0))


def test_impossible_output_is_a_memory_error():
    with pytest.raises(MemoryError, match="cannot allocate"):
        resize(np.zeros((2, 2, 3), np.uint8), (2**30, 2**31 - 1))


def test_native_rejects_bad_input_without_crashing():
    from imagegpt_rs import _native

    with pytest.raises(InputError, match="dtype float64"):
        _native.resize(np.zeros((3, 3)), 2, 2, 2, (13, 0))
    with pytest.raises(InputError, match="got 2"):
        _native.resize(np.zeros((3, 3, 2), np.uint8), 2, 2, 2, (13, 0))
    with pytest.raises(InputError, match="output width must be at least 1, got 0"):
        _native.resize(np.zeros((3, 3, 3), np.uint8), 0, 2, 2, (13, 0))
    with pytest.raises(InputError, match="unknown resampling filter 9"):
        _native.resize(np.zeros((3, 3, 3), np.uint8), 2, 2, 9, (13, 0))
    with pytest.raises(InputError, match=r"6 dimensions|got shape \[1, 1, 1, 1, 1, 1\]"):
        _native.resize(np.zeros((1,) * 6, np.uint8), 2, 2, 2, (13, 0))


@pytest.mark.slow
@pytest.mark.parametrize("resample", FILTERS, ids=lambda f: f.name)
def test_exhaustive_sizes_match_pillow(photos, resample):
    """Every square size 1..128 and 300 random (h, w) pairs up to 1.5x, on three photos, RGB and L."""
    rng = np.random.default_rng(int(resample))
    for name in ["astronaut", "chelsea", "flower"]:
        for a in (photos[name], to_l(photos[name])):
            h, w = a.shape[:2]
            sizes = [(s, s) for s in range(1, 129)]
            sizes += [(int(rng.integers(1, h * 3 // 2)), int(rng.integers(1, w * 3 // 2))) for _ in range(300)]
            for th, tw in sizes:
                assert_same(resize(a, (th, tw), resample), pil_resize(a, tw, th, resample), f"{name} {th}x{tw}")

"""ColorQuantizer against the reference: transformers 4.57's NumPy ``color_quantize`` run side by side.

CI runs large random samples of the 2**24 colors (plus every color of real photos); the exhaustive
sweeps of all 2**24 colors are marked ``slow`` (``pytest -m slow``).
"""

from __future__ import annotations

import pickle
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import imagegpt_rs
from imagegpt_rs import ColorQuantizer, InputError, PaletteError

N_COLORS = 1 << 24
GRID = (np.arange(256, dtype=np.float64) * (1 / 127.5)).astype(np.float32) - np.float32(1)


from quantize_reference import (  # noqa: E402
    openblas_reference,
    reference_color_quantize,
    reference_ids,
    reference_normalize,
)


def colors_of(codes: np.ndarray) -> np.ndarray:
    codes = np.asarray(codes, dtype=np.int64)
    return np.stack([(codes >> 16) & 255, (codes >> 8) & 255, codes & 255], axis=-1).astype(np.uint8)


# ---------------------------------------------------------------------------------------------
# Palettes
# ---------------------------------------------------------------------------------------------
def _photos() -> list[np.ndarray]:
    from skimage import data
    from sklearn.datasets import load_sample_images

    return [data.astronaut(), data.coffee(), data.chelsea(), data.rocket(), *load_sample_images().images]


@pytest.fixture(scope="module")
def photos() -> list[np.ndarray]:
    return _photos()


@pytest.fixture(scope="module")
def photo_colors(photos) -> np.ndarray:
    """Every distinct color of the real photos."""
    codes = np.unique(np.concatenate([(p.reshape(-1, 3).astype(np.int64) * [65536, 256, 1]).sum(1) for p in photos]))
    return colors_of(codes)


def _kmeans_palette(photos: list[np.ndarray]) -> np.ndarray:
    from sklearn.cluster import MiniBatchKMeans

    px = np.concatenate([reference_normalize(p.reshape(-1, 3)) for p in photos])
    rng = np.random.default_rng(0)
    sample = px[rng.choice(len(px), 100_000, replace=False)]
    km = MiniBatchKMeans(n_clusters=512, random_state=0, n_init=1, batch_size=4096, max_iter=50)
    return km.fit(sample).cluster_centers_.astype(np.float64)


@pytest.fixture(scope="module")
def kmeans512(photos) -> np.ndarray:
    """A realistic 512-cluster palette: k-means on real photos in normalized space (float64)."""
    return _kmeans_palette(photos)


def tie_palette(seed: int = 1) -> np.ndarray:
    """256 clusters in mirrored pairs around grid colors: whole planes of colors are equidistant
    (in exact arithmetic) from both clusters of a pair, so rounding and first-index rules decide."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(128):
        g = GRID[rng.integers(0, 256, 3)].astype(np.float64)
        axis = rng.integers(0, 3)
        delta = rng.integers(1, 9) / 127.5
        a, b = g.copy(), g.copy()
        a[axis] += delta
        b[axis] -= delta
        rows += [a, b] if i % 2 else [b, a]
    return np.array(rows)


def grid_duplicate_palette(kmeans: np.ndarray) -> np.ndarray:
    """k-means clusters snapped to exact pixel colors, plus 32 duplicated rows (K = 544): exact
    zero distances and identical rows whose later copy must never win."""
    snapped = GRID[np.clip(np.rint((kmeans + 1) * 127.5), 0, 255).astype(int)].astype(np.float64)
    return np.concatenate([snapped, snapped[:16], snapped[200:216]])


def adversarial_palettes() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(7)
    return {
        "ties": tie_palette(),
        "one_cluster": np.array([[0.1, -0.2, 0.3]]),
        "outside_unit_cube": np.concatenate([rng.uniform(-3, 3, (56, 3)), rng.uniform(-40, 40, (8, 3))]),
        "coarse_grid_ties": np.stack(np.meshgrid(*[np.linspace(-1, 1, 8)] * 3, indexing="ij"), -1).reshape(-1, 3),
        "overflowing": np.array(
            [[1e308, 1e308, 1e308], [0.5, 0.5, 0.5], [-1e308, 0.0, 0.0], [1e200, 0, 0]]
            + [[v, -v, v / 2] for v in np.linspace(-1, 1, 12)]
        ),
    }


def assert_ids_equal(got: np.ndarray, want: np.ndarray, colors: np.ndarray, what: str) -> None:
    bad = np.flatnonzero(got != want)
    if len(bad):
        i = bad[0]
        pytest.fail(
            f"{what}: {len(bad)} of {len(want)} colors differ; first: color {tuple(colors[i])} "
            f"got id {got[i]}, reference {want[i]}"
        )


def check_palette(clusters: np.ndarray, colors: np.ndarray, what: str) -> None:
    q = ColorQuantizer(clusters)
    want = reference_ids(colors, clusters)
    got = q.quantize(colors)  # one multi-row call, like an image
    assert_ids_equal(got, want, colors, what)
    table = q.lookup_table()
    codes = (colors.astype(np.int64) * [65536, 256, 1]).sum(1)
    assert_ids_equal(table[codes].astype(np.int64), want, colors, what + " (lookup_table)")


def random_colors(n: int, seed: int) -> np.ndarray:
    return colors_of(np.random.default_rng(seed).choice(N_COLORS, n, replace=False))


# ---------------------------------------------------------------------------------------------
# Exactness on samples (CI)
# ---------------------------------------------------------------------------------------------
def test_reference_formula_is_transformers():
    """The formula above is transformers' own ``color_quantize`` (and normalize), on real data."""
    from transformers import ImageGPTImageProcessor
    from transformers.models.imagegpt.image_processing_imagegpt import color_quantize

    rng = np.random.default_rng(3)
    img = rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)
    norm = ImageGPTImageProcessor().normalize(img, input_data_format="channels_last")
    assert norm.dtype == np.float32
    np.testing.assert_array_equal(norm, reference_normalize(img))
    for clusters in (rng.uniform(-1, 1, (64, 3)), rng.uniform(-1, 1, (64, 3)).astype(np.float32)):
        np.testing.assert_array_equal(reference_color_quantize(norm, clusters), color_quantize(norm, clusters))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_kmeans_palette_random_sample(kmeans512, dtype):
    clusters = kmeans512.astype(dtype)
    check_palette(clusters, random_colors(1_000_000, seed=11), f"k-means 512 {np.dtype(dtype)}")


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_kmeans_palette_every_photo_color(kmeans512, photo_colors, dtype):
    check_palette(kmeans512.astype(dtype), photo_colors, f"k-means 512 {np.dtype(dtype)} on photo colors")


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", list(adversarial_palettes()))
def test_adversarial_palettes_random_sample(name, dtype):
    clusters = adversarial_palettes()[name]
    if dtype == np.float32:
        if name == "overflowing":
            clusters = clusters.clip(-1e38, 1e38)  # float32 cannot hold 1e308; 1e38 still overflows d
        clusters = clusters.astype(np.float32)
    check_palette(clusters, random_colors(300_000, seed=12), f"{name} {np.dtype(dtype)}")


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_duplicates_on_exact_colors(kmeans512, photo_colors, dtype):
    clusters = grid_duplicate_palette(kmeans512).astype(dtype)
    rng = np.random.default_rng(5)
    # colors at and right next to the clusters (zero and near-zero distances), plus random ones
    at = np.clip(np.rint((clusters.astype(np.float64) + 1) * 127.5), 0, 255).astype(np.int64)
    near = np.concatenate([at + d for d in rng.integers(-2, 3, (40, 1, 3))]).clip(0, 255).astype(np.uint8)
    colors = np.concatenate([near, random_colors(200_000, seed=13)])
    check_palette(clusters, colors, f"snapped + duplicated {np.dtype(dtype)}")
    ids = ColorQuantizer(clusters).lookup_table()
    assert ids.max() < 512  # the appended duplicates never win


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_65535_clusters(dtype):
    rng = np.random.default_rng(8)
    clusters = rng.uniform(-1.05, 1.05, (65535, 3)).astype(dtype)
    colors = random_colors(3_000, seed=14)
    want = reference_ids(colors, clusters, chunk=256)
    got = ColorQuantizer(clusters).quantize(colors)
    assert_ids_equal(got, want, colors, f"65535 clusters {np.dtype(dtype)}")


def test_float64_dgemm_tail_columns():
    """Against OpenBLAS's SkylakeX kernel (see quantize_reference.openblas_reference): float64 palettes with K % 8 in 4..7 and K >= 196: OpenBLAS rounds the 4 columns K&~7..K&~3
    differently on the rows of whole 12-row blocks than on the others, so NumPy's own ids depend on
    the row position. We follow the block rows (every row of 300-row calls); 9-row calls differ.
    The tail clusters come in pairs 1 ulp apart, so their order is decided by rounding alone."""
    rng = np.random.default_rng(4)
    far = rng.uniform(2, 3, (256, 3))
    c, h = rng.uniform(-0.5, 0.5, 3), rng.uniform(-0.5, 0.5, 3)
    tail = [c, c + [np.spacing(c[0]), 0, 0], h, h + [0, -np.spacing(h[1]), np.spacing(h[2])]]
    clusters = np.concatenate([far, tail])  # K = 260: columns 256..259 are the tail
    colors = random_colors(300 * 400, seed=1)
    want = openblas_reference("SkylakeX", "ids", colors, clusters, chunk=300)
    assert_ids_equal(ColorQuantizer(clusters).quantize(colors), want, colors, "dgemm tail columns")
    short_calls = openblas_reference("SkylakeX", "ids", colors, clusters, chunk=9)
    assert (short_calls != want).mean() > 0.01  # the gap: NumPy itself is position-dependent here


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_single_pixel_uses_the_single_row_arithmetic(kmeans512, dtype):
    """One pixel in total: NumPy calls the BLAS gemv, which rounds differently; we follow it (the
    SkylakeX kernel's gemv: see quantize_reference.openblas_reference)."""
    rng = np.random.default_rng(21)
    palettes = [kmeans512, tie_palette(), rng.uniform(-1, 1, (37, 3)), rng.uniform(-1, 1, (20000, 3))]
    colors = random_colors(300, seed=15)
    for clusters in palettes:
        clusters = clusters.astype(dtype)
        q = ColorQuantizer(clusters)
        some = colors[: 300 if len(clusters) < 20000 else 20]
        want = openblas_reference("SkylakeX", "single", some, clusters)
        for c, w in zip(some, want):
            got = q.quantize(c)
            assert got.shape == () and got == w, (c, len(clusters))


@pytest.mark.parametrize("pixel_dtype", [np.float32, np.float64])
@pytest.mark.parametrize("cluster_dtype", [np.float32, np.float64])
def test_random_float_inputs(kmeans512, pixel_dtype, cluster_dtype):
    rng = np.random.default_rng(31)
    clusters = kmeans512.astype(cluster_dtype)
    q = ColorQuantizer(clusters)
    px = rng.uniform(-1.5, 1.5, (40_000, 3)).astype(pixel_dtype)
    # also values on the pixel grid and exact ties, and huge values whose d overflows to inf/NaN
    px[:1000] = GRID[rng.integers(0, 256, (1000, 3))]
    px[1000:1100] = rng.choice([-3e38, -1e30, 1e20, 1e30, 3e38], (100, 3)).astype(pixel_dtype)
    if pixel_dtype == np.float64:  # beyond float32's range
        px[1100:1200] = rng.choice([-1e200, 1e160, 1e300], (100, 3))
    with np.errstate(over="ignore", invalid="ignore"):
        want = reference_color_quantize(px, clusters)
    np.testing.assert_array_equal(q.quantize_normalized(px), want)
    # a single pixel (gemv) and a (batch, h, w, 3) shape
    for row in np.concatenate([px[:50], px[1000:1010], px[1100:1110]]):
        with np.errstate(over="ignore", invalid="ignore"):
            assert q.quantize_normalized(row) == reference_color_quantize(row[None], clusters)[0], row
    np.testing.assert_array_equal(q.quantize_normalized(px.reshape(4, 100, 100, 3)), want.reshape(4, 100, 100))
    tq = ColorQuantizer(tie_palette().astype(cluster_dtype))
    with np.errstate(over="ignore", invalid="ignore"):
        np.testing.assert_array_equal(tq.quantize_normalized(px), reference_color_quantize(px, tq.clusters))


def test_direct_path_for_small_inputs(kmeans512):
    """Inputs too small to pay for the table are computed directly, with the same result."""
    clusters = kmeans512 + 1e-4  # a palette no other test built
    q = ColorQuantizer(clusters)
    colors = random_colors(100_000, seed=17)
    got = q.quantize(colors)
    assert not q.table_built
    assert_ids_equal(got, reference_ids(colors, clusters), colors, "direct path")
    q32 = ColorQuantizer(clusters.astype(np.float32))
    got = q32.quantize(colors[:50_000].reshape(100, 500, 3))
    assert not q32.table_built
    want = reference_ids(colors[:50_000], q32.clusters).reshape(100, 500)
    np.testing.assert_array_equal(got, want)


def test_uint8_and_normalized_paths_agree(kmeans512, photos):
    """Normalized float32 photos (all on the uint8 grid) take the table; one value off the grid
    makes the whole call take the direct float path. Both match the reference."""
    img = photos[2]
    for clusters in (kmeans512, kmeans512.astype(np.float32)):
        q = ColorQuantizer(clusters)
        x = reference_normalize(img)
        want = reference_ids(img.reshape(-1, 3), clusters).reshape(img.shape[:2])
        np.testing.assert_array_equal(q.quantize(img), want)
        np.testing.assert_array_equal(q.quantize_normalized(x), want)
        x[0, 0, 0] = np.nextafter(x[0, 0, 0], np.float32(2))
        flat = x.reshape(-1, 3)
        with np.errstate(over="ignore"):
            want = np.concatenate(
                [reference_color_quantize(flat[s : s + 8192], clusters) for s in range(0, len(flat), 8192)]
            )
        np.testing.assert_array_equal(q.quantize_normalized(x).ravel(), want)


# ---------------------------------------------------------------------------------------------
# transformers' own processor
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("as_list", [False, True])
def test_transformers_processor_on_a_real_photo(kmeans512, photos, as_list):
    from transformers import ImageGPTImageProcessor

    img = photos[2]  # chelsea, 300 x 451
    clusters = kmeans512.tolist() if as_list else kmeans512.astype(np.float32)
    proc = ImageGPTImageProcessor(clusters=clusters, do_resize=False)
    want = proc(img, return_tensors="np")["input_ids"]
    got = ColorQuantizer(clusters).quantize(img)
    assert want.shape == (1, img.shape[0] * img.shape[1])
    np.testing.assert_array_equal(got.reshape(1, -1), want)
    # a batch of two images is one call over both
    batch = np.stack([img[:100, :100], photos[0][:100, :100]])
    want = proc(list(batch), return_tensors="np")["input_ids"]
    np.testing.assert_array_equal(ColorQuantizer(clusters).quantize(batch).reshape(2, -1), want)


def test_transformers_processor_resized(kmeans512, photos):
    """With the default 32x32 resize the processor's normalized pixels are floats off the uint8
    grid; quantize_normalized on the same normalized array gives its ids."""
    from transformers import ImageGPTImageProcessor

    proc = ImageGPTImageProcessor(clusters=kmeans512, size={"height": 32, "width": 32})
    want = proc(photos[0], return_tensors="np")["input_ids"]
    pv = ImageGPTImageProcessor(clusters=kmeans512, size={"height": 32, "width": 32}, do_color_quantize=False)
    x = pv(photos[0], return_tensors="np", data_format="channels_last")["pixel_values"]
    np.testing.assert_array_equal(ColorQuantizer(kmeans512).quantize_normalized(x).reshape(1, -1), want)


# ---------------------------------------------------------------------------------------------
# API: dtypes, out=, strides, decode, pickling, threads
# ---------------------------------------------------------------------------------------------
def test_dtypes_out_and_strides(kmeans512, photos):
    q = ColorQuantizer(kmeans512)
    img = photos[0]
    want = reference_ids(img.reshape(-1, 3), kmeans512).reshape(img.shape[:2])
    ids = q.quantize(img)
    assert ids.dtype == np.int64 and ids.shape == img.shape[:2]
    np.testing.assert_array_equal(ids, want)
    for dt in (np.uint16, np.int32, np.int64):
        got = q.quantize(img, dtype=dt)
        assert got.dtype == dt
        np.testing.assert_array_equal(got, want)
        out = np.full(img.shape[:2], 7, dtype=dt)
        assert q.quantize(img, out=out) is out
        np.testing.assert_array_equal(out, want)
    # non-contiguous views: every other column, a channel-reversed view, a transposed view
    np.testing.assert_array_equal(q.quantize(img[:, ::2]), want[:, ::2])
    np.testing.assert_array_equal(q.quantize(img[..., ::-1][..., ::-1]), want)
    np.testing.assert_array_equal(q.quantize(img.transpose(1, 0, 2)), want.T)
    # lists and empty arrays
    np.testing.assert_array_equal(
        q.quantize([[0, 0, 0], [255, 255, 255]]),
        reference_ids(np.array([[0, 0, 0], [255, 255, 255]], np.uint8), kmeans512),
    )
    assert q.quantize(np.zeros((0, 5, 3), np.uint8)).shape == (0, 5)


def test_properties_lookup_table_and_pickle(kmeans512):
    q = ColorQuantizer(kmeans512.astype(np.float32), num_threads=1)
    assert q.n_clusters == 512 and q.num_threads == 1
    assert q.clusters.dtype == np.float32 and not q.clusters.flags.writeable
    np.testing.assert_array_equal(q.clusters, kmeans512.astype(np.float32))
    table = q.lookup_table()
    assert table.dtype == np.uint16 and table.shape == (N_COLORS,)
    colors = random_colors(2000, seed=3)
    np.testing.assert_array_equal(table[(colors.astype(np.int64) * [65536, 256, 1]).sum(1)], q.quantize(colors))
    q2 = pickle.loads(pickle.dumps(q))
    assert q2.clusters.dtype == np.float32 and q2.num_threads == 1
    np.testing.assert_array_equal(q2.clusters, q.clusters)
    np.testing.assert_array_equal(q2.quantize(colors), q.quantize(colors))
    assert "n_clusters=512" in repr(q)
    # integer clusters become float64, as np.array(list_of_ints) then promotes in the formula
    qi = ColorQuantizer([[0, 0, 0], [1, 1, 1], [-1, 0, 1]])
    assert qi.clusters.dtype == np.float64


def test_decode(kmeans512):
    for clusters in (kmeans512, kmeans512.astype(np.float32), np.array([[-1.0, 0.0, 1.0], [2.0, -3.0, 0.5]])):
        q = ColorQuantizer(clusters)
        ids = np.random.default_rng(0).integers(0, len(clusters), (7, 9))
        want = np.clip(np.rint(127.5 * (clusters[ids] + 1.0)), 0, 255).astype(np.uint8)
        got = q.decode(ids)
        assert got.dtype == np.uint8 and got.shape == (7, 9, 3)
        np.testing.assert_array_equal(got, want)
        np.testing.assert_array_equal(q.decode(ids.astype(np.uint16)), want)
        np.testing.assert_array_equal(q.colors(), np.clip(np.rint(127.5 * (clusters + 1.0)), 0, 255).astype(np.uint8))
    # round trip: decoding then quantizing the colors of the clusters of a grid palette is the identity
    q = ColorQuantizer(GRID[np.arange(0, 256, 17)][:, None].repeat(3, 1).astype(np.float64))
    np.testing.assert_array_equal(q.quantize(q.decode(np.arange(q.n_clusters))), np.arange(q.n_clusters))


def test_threads_give_identical_results(kmeans512, photos):
    clusters = kmeans512 * 0.999  # a palette no other test built: the table is built concurrently
    expected = [ColorQuantizer(clusters, num_threads=1).quantize_normalized(reference_normalize(p)) for p in photos]
    q = ColorQuantizer(clusters)
    barrier = threading.Barrier(4)

    def work(i: int) -> np.ndarray:
        barrier.wait()
        return q.quantize(photos[i % len(photos)])

    with ThreadPoolExecutor(4) as ex:
        results = list(ex.map(work, range(12)))
    for i, r in enumerate(results):
        np.testing.assert_array_equal(r, expected[i % len(photos)])
    for n in (1, 2, 3):
        np.testing.assert_array_equal(ColorQuantizer(clusters, num_threads=n).quantize(photos[0]), expected[0])


# ---------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------
def test_palette_errors():
    with pytest.raises(PaletteError, match=r"at least 1 cluster"):
        ColorQuantizer(np.zeros((0, 3)))
    with pytest.raises(PaletteError, match=r"65536 rows, more than the maximum of 65535"):
        ColorQuantizer(np.zeros((65536, 3)))
    with pytest.raises(PaletteError, match=r"shape \(n_clusters, 3\), got \(4, 2\)"):
        ColorQuantizer(np.zeros((4, 2)))
    with pytest.raises(PaletteError, match=r"shape \(n_clusters, 3\), got \(3,\)"):
        ColorQuantizer([0.0, 0.0, 0.0])
    bad = np.zeros((5, 3))
    bad[3, 1] = np.inf
    with pytest.raises(PaletteError, match=r"clusters\[3, 1\] = inf is not finite"):
        ColorQuantizer(bad)
    bad[3, 1] = np.nan
    with pytest.raises(PaletteError, match=r"clusters\[3, 1\] = nan"):
        ColorQuantizer(bad.astype(np.float32))
    with pytest.raises(PaletteError, match="complex128"):
        ColorQuantizer(np.zeros((2, 3), complex))
    with pytest.raises(ValueError, match="num_threads"):
        ColorQuantizer(np.zeros((2, 3)), num_threads=0)
    assert issubclass(PaletteError, ValueError)


def test_input_errors(kmeans512):
    q = ColorQuantizer(kmeans512)
    with pytest.raises(InputError, match=r"shape \(\.\.\., 3\).*got \(4, 4\)"):
        q.quantize(np.zeros((4, 4), np.uint8))
    with pytest.raises(InputError, match=r"got \(\)"):
        q.quantize(np.uint8(3))
    with pytest.raises(InputError, match=r"dtype int64 must hold values in 0\.\.255, got -1\.\.300"):
        q.quantize([[-1, 0, 300]])
    with pytest.raises(InputError, match="must be uint8.*float32.*quantize_normalized"):
        q.quantize(np.zeros((2, 3), np.float32))
    with pytest.raises(InputError, match="dtype must be uint16, int32 or int64, got uint8"):
        q.quantize(np.zeros((2, 3), np.uint8), dtype=np.uint8)
    with pytest.raises(InputError, match=r"out has shape \(3,\) but the ids have shape \(2,\)"):
        q.quantize(np.zeros((2, 3), np.uint8), out=np.empty(3, np.int64))
    with pytest.raises(InputError, match="out must have dtype"):
        q.quantize(np.zeros((2, 3), np.uint8), out=np.empty(2, np.float64))
    with pytest.raises(InputError, match="C-contiguous"):
        q.quantize(np.zeros((2, 3), np.uint8), out=np.empty(4, np.int64)[::2])
    px = np.zeros((2, 3, 3), np.float32)
    px[1, 2, 0] = np.nan
    with pytest.raises(InputError, match=r"pixels\[1, 2, 0\] = nan is not finite"):
        q.quantize_normalized(px)
    px[1, 2, 0] = -np.inf
    with pytest.raises(InputError, match=r"pixels\[1, 2, 0\] = -inf"):
        q.quantize_normalized(px.astype(np.float64))
    with pytest.raises(InputError, match="float32 or float64"):
        q.quantize_normalized(np.zeros((2, 3), np.float16))
    with pytest.raises(InputError, match=r"ids\[1, 2\] = 512 is out of range for 512 clusters \(valid ids: 0\.\.511\)"):
        q.decode(np.array([[0, 1, 2], [3, 4, 512]]))
    with pytest.raises(InputError, match=r"ids\[0\] = -1 is out of range"):
        q.decode([-1])
    with pytest.raises(InputError, match="integers"):
        q.decode(np.zeros(3, np.float64))
    assert issubclass(InputError, ValueError)


def test_lazy_registration():
    assert imagegpt_rs.ColorQuantizer is ColorQuantizer
    assert "ColorQuantizer" in imagegpt_rs.__all__


# ---------------------------------------------------------------------------------------------
# Exhaustive sweeps of all 2**24 colors (pytest -m slow)
# ---------------------------------------------------------------------------------------------
def _sweep(clusters: np.ndarray, what: str) -> None:
    q = ColorQuantizer(clusters)
    table = q.lookup_table()
    step = 1 << 18
    for s in range(0, N_COLORS, step):
        colors = colors_of(np.arange(s, s + step))
        want = reference_ids(colors, clusters, chunk=16384)
        assert_ids_equal(table[s : s + step].astype(np.int64), want, colors, what)
        if s % (1 << 21) == 0:  # the quantize path too, on part of the sweep
            assert_ids_equal(q.quantize(colors), want, colors, what + " (quantize)")


@pytest.mark.slow
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_full_sweep_kmeans(kmeans512, dtype):
    _sweep(kmeans512.astype(dtype), f"k-means 512 {np.dtype(dtype)}")


@pytest.mark.slow
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", ["ties", "one_cluster", "outside_unit_cube", "coarse_grid_ties", "overflowing"])
def test_full_sweep_adversarial(name, dtype):
    clusters = adversarial_palettes()[name]
    if dtype == np.float32:
        clusters = clusters.clip(-1e38, 1e38).astype(np.float32)
    _sweep(clusters, f"{name} {np.dtype(dtype)}")


@pytest.mark.slow
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_full_sweep_duplicates(kmeans512, dtype):
    _sweep(grid_duplicate_palette(kmeans512).astype(dtype), f"snapped + duplicated {np.dtype(dtype)}")


@pytest.mark.slow
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_large_sample_65535_clusters(dtype):
    """65535 clusters: the full sweep would take hours in NumPy; a 200k-color sample instead."""
    clusters = np.random.default_rng(8).uniform(-1.05, 1.05, (65535, 3)).astype(dtype)
    colors = random_colors(200_000, seed=99)
    got = ColorQuantizer(clusters).quantize(colors)
    assert_ids_equal(got, reference_ids(colors, clusters, chunk=1000), colors, f"65535 {np.dtype(dtype)}")

"""fit_palette / k-means against scikit-learn, numpy and transformers on real photographs."""

from __future__ import annotations

import json
import os
import warnings

import numpy as np
import pytest

import imagegpt_rs
from imagegpt_rs import InputError, PaletteError
from imagegpt_rs.palette_fitting import PaletteFit, color_histogram, fit_palette, kmeans

sklearn_cluster = pytest.importorskip("sklearn.cluster")


def _norm(u8: np.ndarray) -> np.ndarray:
    return u8.reshape(-1, 3).astype(np.float64) / 127.5 - 1


def _sample(photo: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    px = photo.reshape(-1, 3)
    return px[np.random.default_rng(seed).choice(len(px), n, replace=False)]


def _jittered_init(x: np.ndarray, k: int, seed: int) -> np.ndarray:
    # Data points moved slightly off the uint8 lattice: with centers on the lattice, exactly
    # equidistant points are common and scikit-learn's |c|^2 - 2 x.c rounding breaks those ties
    # differently from an exact distance; off the lattice both pick the same nearest center.
    rng = np.random.default_rng(seed)
    return x[rng.choice(len(x), k, replace=False)] + rng.normal(0, 1e-3, (k, 3))


def _sk_inertia(x: np.ndarray, centers: np.ndarray, w: np.ndarray | None = None) -> float:
    d = ((x[:, None, :] - centers[None, :, :]) ** 2).sum(-1).min(1)
    return float(d.sum() if w is None else (d * w).sum())


# ------------------------------------------------------------------------------ vs scikit-learn
@pytest.mark.parametrize("name,k", [("astronaut", 8), ("coffee", 32), ("chelsea", 16), ("flower", 48)])
def test_same_result_as_sklearn_from_same_init(rgb_photos, name, k):
    x = _norm(_sample(rgb_photos[name], 8000, seed=k))
    init = _jittered_init(x, k, seed=k)
    ref = sklearn_cluster.KMeans(k, init=init, n_init=1, max_iter=300, tol=0, algorithm="lloyd").fit(x)
    centers, inertia, n_iter, converged = kmeans(x, k, init=init, tol=0.0, max_iter=300)
    assert n_iter == ref.n_iter_
    assert converged
    np.testing.assert_allclose(centers, ref.cluster_centers_, rtol=0, atol=1e-12)
    assert inertia == pytest.approx(ref.inertia_, rel=1e-10)


@pytest.mark.parametrize("tol", [1e-4, 1e-2])
def test_same_stopping_as_sklearn_with_tolerance(rgb_photos, tol):
    x = _norm(_sample(rgb_photos["rocket"], 6000, seed=1))
    init = _jittered_init(x, 24, seed=3)
    ref = sklearn_cluster.KMeans(24, init=init, n_init=1, max_iter=300, tol=tol, algorithm="lloyd").fit(x)
    centers, inertia, n_iter, _ = kmeans(x, 24, init=init, tol=tol)
    assert n_iter == ref.n_iter_
    np.testing.assert_allclose(centers, ref.cluster_centers_, atol=1e-12)
    assert inertia == pytest.approx(ref.inertia_, rel=1e-10)


def test_histogram_weights_equal_clustering_the_pixels(rgb_photos):
    """fit_palette counts colors and weighs them: the same as k-means on every pixel, and as
    scikit-learn with sample_weight on the distinct colors."""
    img = rgb_photos["coffee"][100:180, 200:300]  # 8000 pixels, many repeated colors
    x = _norm(img)
    colors, counts = np.unique(img.reshape(-1, 3), axis=0, return_counts=True)
    assert len(colors) < len(x)
    init = _jittered_init(x, 16, seed=5)
    fit = fit_palette(img, 16, init=init, tol=1e-4, max_iter=300)
    on_pixels = sklearn_cluster.KMeans(16, init=init, n_init=1, tol=1e-4, algorithm="lloyd").fit(x)
    weighted = sklearn_cluster.KMeans(16, init=init, n_init=1, tol=0, algorithm="lloyd").fit(
        _norm(colors), sample_weight=counts.astype(np.float64)
    )
    assert fit.n_pixels == len(x)
    assert fit.n_distinct_colors == len(colors)
    assert fit.n_iter == on_pixels.n_iter_
    np.testing.assert_allclose(fit.clusters, on_pixels.cluster_centers_, atol=1e-12)
    assert fit.inertia == pytest.approx(on_pixels.inertia_, rel=1e-10)
    # To convergence (scikit-learn scales tol by the unweighted variance of what it is given, so
    # compare the weighted run without tolerance).
    fit0 = fit_palette(img, 16, init=init, tol=0, max_iter=300)
    np.testing.assert_allclose(fit0.clusters, weighted.cluster_centers_, atol=1e-12)
    assert fit0.inertia == pytest.approx(weighted.inertia_, rel=1e-10)
    assert fit0.n_iter == weighted.n_iter_
    assert fit.inertia == pytest.approx(_sk_inertia(x, fit.clusters), rel=1e-10)


def test_empty_cluster_relocated_like_sklearn(rgb_photos):
    """Two identical initial centers: the second gets no point (ties go to the lower index) and
    both implementations move it to the point farthest from its center."""
    x = _norm(_sample(rgb_photos["astronaut"], 4000, seed=9))
    init = _jittered_init(x, 10, seed=6)
    init[7] = init[2]
    ref = sklearn_cluster.KMeans(10, init=init, n_init=1, tol=0, algorithm="lloyd").fit(x)
    centers, inertia, n_iter, _ = kmeans(x, 10, init=init, tol=0.0)
    assert len(np.unique(np.round(centers, 9), axis=0)) == 10
    np.testing.assert_allclose(centers, ref.cluster_centers_, atol=1e-12)
    assert inertia == pytest.approx(ref.inertia_, rel=1e-10)
    assert n_iter == ref.n_iter_


def test_kmeans_plus_plus_quality_close_to_sklearn(rgb_photos):
    """Own k-means++ draws (not scikit-learn's RNG), so compare the quality, not the centers."""
    px = np.concatenate([_sample(p, 5000, seed=i) for i, p in enumerate(rgb_photos.values())])
    x = _norm(px)
    ref = sklearn_cluster.KMeans(64, n_init=1, random_state=0, max_iter=100).fit(x)
    fit = fit_palette(px.reshape(-1, 1, 3), 64, max_iter=100, seed=0)
    assert fit.inertia == pytest.approx(_sk_inertia(x, fit.clusters), rel=1e-9)
    assert fit.inertia <= 1.02 * ref.inertia_, (fit.inertia, ref.inertia_)


def test_weighted_kmeans_matches_sklearn_sample_weight(rgb_photos):
    x = _norm(_sample(rgb_photos["china"], 3000, seed=2))
    w = np.random.default_rng(0).integers(0, 5, len(x)).astype(np.float64)  # zeros included
    init = _jittered_init(x, 12, seed=4)
    ref = sklearn_cluster.KMeans(12, init=init, n_init=1, tol=0, algorithm="lloyd").fit(x, sample_weight=w)
    centers, inertia, n_iter, _ = kmeans(x, 12, sample_weight=w, init=init, tol=0.0)
    np.testing.assert_allclose(centers, ref.cluster_centers_, atol=1e-12)
    assert inertia == pytest.approx(ref.inertia_, rel=1e-10)
    assert n_iter == ref.n_iter_


# ------------------------------------------------------------------------------ histogram
def test_color_histogram_matches_numpy_unique(rgb_photos):
    photos = list(rgb_photos.values())
    total = sum(p.shape[0] * p.shape[1] for p in photos)
    assert total > 1 << 20  # crosses into the dense 2^24 table
    colors, counts = color_histogram(photos)
    ref_c, ref_n = np.unique(np.concatenate([p.reshape(-1, 3) for p in photos]), axis=0, return_counts=True)
    np.testing.assert_array_equal(colors, ref_c)
    np.testing.assert_array_equal(counts, ref_n)
    small_c, small_n = color_histogram([photos[0][:50]])
    ref_c, ref_n = np.unique(photos[0][:50].reshape(-1, 3), axis=0, return_counts=True)
    np.testing.assert_array_equal(small_c, ref_c)
    np.testing.assert_array_equal(small_n, ref_n)


# ------------------------------------------------------------------------------ determinism
def test_image_order_does_not_matter(rgb_photos):
    """Only the multiset of pixels counts (the colors are clustered in a fixed order)."""
    a = fit_palette([rgb_photos["astronaut"], rgb_photos["rocket"]], 16, seed=5)
    b = fit_palette([rgb_photos["rocket"], rgb_photos["astronaut"]], 16, seed=5)
    assert a.clusters.tobytes() == b.clusters.tobytes()


def test_deterministic_for_a_seed_and_any_thread_count(rgb_photos):
    imgs = [rgb_photos["astronaut"], rgb_photos["chelsea"]]
    a = fit_palette(imgs, 32, max_pixels=40_000, seed=7)
    b = fit_palette(imgs, 32, max_pixels=40_000, seed=7, num_threads=1)
    c = fit_palette(imgs, 32, max_pixels=40_000, seed=8)
    assert a.clusters.tobytes() == b.clusters.tobytes()
    assert a.inertia == b.inertia and a.n_iter == b.n_iter
    assert not np.array_equal(a.clusters, c.clusters)


# ------------------------------------------------------------------------------ sampling and sizes
def test_subsampling_counts(rgb_photos):
    imgs = [rgb_photos["astronaut"], rgb_photos["coffee"], rgb_photos["rocket"]]
    fit = fit_palette(imgs, 8, max_pixels=10_000, seed=1)
    assert fit.n_pixels == 10_000
    fit = fit_palette(imgs, 8, max_pixels_per_image=1_000, seed=1)
    assert fit.n_pixels == 3_000
    fit = fit_palette(imgs, 8, max_pixels_per_image=1_000, max_pixels=2_500, seed=1)
    assert fit.n_pixels == 2_500
    fit = fit_palette(imgs, 8, size=16, max_pixels=10**9)
    assert fit.n_pixels == 3 * 16 * 16
    # The sample holds only colors of the images.
    fit = fit_palette(rgb_photos["coffee"], 1, max_pixels=500, seed=3)
    assert fit.n_pixels == 500


def test_size_resizes_like_pillow_before_taking_pixels(rgb_photos):
    from PIL import Image

    imgs = [rgb_photos["astronaut"], rgb_photos["chelsea"]]
    resized = [np.asarray(Image.fromarray(im).resize((24, 20), Image.BILINEAR, reducing_gap=None)) for im in imgs]
    a = fit_palette(imgs, 16, size=(20, 24), seed=2)
    b = fit_palette(resized, 16, seed=2)
    assert a.size == (20, 24) and b.size is None
    assert a.clusters.tobytes() == b.clusters.tobytes()
    assert a.n_pixels == 2 * 20 * 24


def test_paths_and_directories_decode_like_pillow(rgb_photos, tmp_path):
    from PIL import Image

    names = ["astronaut", "coffee"]
    for n in names:
        Image.fromarray(rgb_photos[n]).save(tmp_path / f"{n}.png")
    Image.fromarray(rgb_photos["chelsea"]).save(tmp_path / "chelsea.jpg", quality=90)
    with Image.open(tmp_path / "chelsea.jpg") as im:
        chelsea = np.asarray(im.convert("RGB"))
    arrays = [rgb_photos["astronaut"], chelsea, rgb_photos["coffee"]]  # sorted file order
    a = fit_palette(str(tmp_path), 16, max_pixels=30_000, seed=4)
    b = fit_palette(arrays, 16, max_pixels=30_000, seed=4)
    assert a.n_pixels == 30_000
    assert a.clusters.tobytes() == b.clusters.tobytes()


def test_iterables_stream_like_lists(rgb_photos):
    imgs = [rgb_photos["astronaut"], rgb_photos["coffee"], rgb_photos["chelsea"]]
    seen = []
    a = fit_palette(iter(imgs), 8, seed=3, progress=lambda *p: seen.append(p))
    b = fit_palette(imgs, 8, seed=3, num_threads=1)
    assert a.clusters.tobytes() == b.clusters.tobytes()
    assert seen[2] == ("images", 3, 0)  # length unknown while streaming
    c = fit_palette((im for im in imgs), 8, seed=3, max_pixels=5_000, size=40)
    d = fit_palette(imgs, 8, seed=3, max_pixels=5_000, size=40)
    assert c.clusters.tobytes() == d.clusters.tobytes() and c.n_pixels == 4_800
    with pytest.raises(InputError, match="no images"):
        fit_palette(iter([]), 2)


def test_pil_and_gray_inputs(real_photos):
    from PIL import Image

    gray = real_photos["camera"]
    a = fit_palette(Image.fromarray(gray), 4, seed=0)
    b = fit_palette(np.repeat(gray[:, :, None], 3, axis=2), 4, seed=0)
    assert a.clusters.tobytes() == b.clusters.tobytes()
    assert np.allclose(a.clusters[:, 0], a.clusters[:, 1]) and np.allclose(a.clusters[:, 1], a.clusters[:, 2])


# ------------------------------------------------------------------------------ edge cases
def test_fewer_distinct_colors_than_clusters():
    img = np.zeros((10, 10, 3), np.uint8)
    img[:5] = (255, 0, 0)  # 50 red
    img[5:8] = (0, 128, 255)  # 30
    img[8:] = (7, 7, 7)  # 20
    with pytest.warns(UserWarning, match="only 3 distinct colors"):
        fit = fit_palette(img, 8)
    order = np.array([(255, 0, 0), (0, 128, 255), (7, 7, 7)], np.float64) / 127.5 - 1
    np.testing.assert_array_equal(fit.clusters, order[[0, 1, 2, 0, 1, 2, 0, 1]])
    assert (fit.inertia, fit.n_iter, fit.n_distinct_colors, fit.n_pixels) == (0.0, 0, 3, 100)
    # Exactly as many colors as clusters: the colors themselves, no warning.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fit = fit_palette(img, 3)
    np.testing.assert_array_equal(fit.clusters, order)


def test_one_color_and_one_cluster(rgb_photos):
    one = np.full((4, 6, 3), 200, np.uint8)
    with pytest.warns(UserWarning):
        fit = fit_palette(one, 5)
    np.testing.assert_array_equal(fit.clusters, np.full((5, 3), 200 / 127.5 - 1))
    fit = fit_palette(one, 1)
    np.testing.assert_array_equal(fit.clusters, [[200 / 127.5 - 1] * 3])
    img = rgb_photos["coffee"]
    fit = fit_palette(img, 1)
    x = _norm(img)
    np.testing.assert_allclose(fit.clusters[0], x.mean(axis=0), atol=1e-12)
    assert fit.inertia == pytest.approx(((x - x.mean(axis=0)) ** 2).sum(), rel=1e-9)


def test_single_image_batch_array(rgb_photos):
    img = rgb_photos["chelsea"]
    a = fit_palette(img, 8, seed=1)
    b = fit_palette(img[None], 8, seed=1)
    c = fit_palette([img], 8, seed=1)
    assert a.clusters.tobytes() == b.clusters.tobytes() == c.clusters.tobytes()


def test_float_images_convert_like_the_processor(rgb_photos):
    img = rgb_photos["astronaut"][:64, :64]
    a = fit_palette(img.astype(np.float32) / 255, 4, seed=0)
    b = fit_palette((img.astype(np.float64) / 255 * 255).astype(np.uint8), 4, seed=0)
    c = fit_palette(img.astype(np.int64), 4, seed=0)
    d = fit_palette(img, 4, seed=0)
    assert a.clusters.tobytes() == b.clusters.tobytes()
    assert c.clusters.tobytes() == d.clusters.tobytes()


# ------------------------------------------------------------------------------ outputs
def test_saved_directory_loads_in_transformers(rgb_photos, tmp_path):
    transformers = pytest.importorskip("transformers")
    fit = fit_palette([rgb_photos["astronaut"], rgb_photos["flower"]], 40, size=(24, 20), max_pixels=20_000)
    files = fit.save(tmp_path)
    assert sorted(os.path.basename(f) for f in files) == ["config.json", "preprocessor_config.json"]
    proc = transformers.ImageGPTImageProcessor.from_pretrained(tmp_path)
    np.testing.assert_array_equal(np.asarray(proc.clusters), fit.clusters)
    assert proc.size == {"height": 24, "width": 20}
    config = transformers.ImageGPTConfig.from_pretrained(tmp_path)
    assert config.vocab_size == 41
    assert config.n_positions >= 24 * 20
    # transformers' processor quantizes with the palette: ids are nearest clusters of its pixels.
    img = rgb_photos["coffee"]
    ids = proc(img, return_tensors="np")["input_ids"][0]
    pv = transformers.ImageGPTImageProcessor(
        clusters=fit.clusters, size={"height": 24, "width": 20}, do_color_quantize=False
    )(img, return_tensors="np")["pixel_values"][0]
    x = pv.transpose(1, 2, 0).reshape(-1, 3).astype(np.float64)
    d = ((x[:, None] - fit.clusters[None]) ** 2).sum(-1)
    assert (d[np.arange(len(ids)), ids] <= d.min(1) + 1e-9).all()
    # Our own classes load it too.
    ours = imagegpt_rs.ImageGPTImageProcessor.from_pretrained(tmp_path)
    np.testing.assert_array_equal(ours.clusters, fit.clusters)
    assert imagegpt_rs.ImageGPTConfig.from_pretrained(tmp_path).vocab_size == 41


def test_processor_and_model_config():
    from imagegpt_rs import ConfigValidationError

    fit = fit_palette(np.arange(3 * 40 * 40, dtype=np.int64).reshape(40, 40, 3) % 256, 16, size=8)
    proc = fit.processor()
    assert isinstance(proc, imagegpt_rs.ImageGPTImageProcessor)
    assert proc.size == {"height": 8, "width": 8}
    np.testing.assert_array_equal(proc.clusters, fit.clusters)
    assert fit.processor(size=4).size == {"height": 4, "width": 4}
    cfg = fit.model_config(n_embd=64, n_layer=2, n_head=4)
    assert (cfg.vocab_size, cfg.n_positions, cfg.n_embd) == (17, 64, 64)
    assert fit.model_config(image_size=32).n_positions == 1024
    with pytest.raises(ConfigValidationError, match="vocab_size"):
        fit.model_config(vocab_size=513)
    with pytest.raises(ConfigValidationError, match="n_positions"):
        fit.model_config(n_positions=10)
    assert "n_clusters=16" in repr(fit)
    unsized = fit_palette(np.arange(3 * 40 * 40, dtype=np.int64).reshape(40, 40, 3) % 256, 16)
    assert unsized.processor().size == {"height": 32, "width": 32}
    assert unsized.model_config().n_positions == 1024
    assert isinstance(fit, PaletteFit) and fit.n_clusters == 16


def test_saved_files_are_plain_json(tmp_path):
    fit = fit_palette(np.full((2, 2, 3), 9, np.uint8), 1)
    fit.save(tmp_path, model_config=False)
    assert os.listdir(tmp_path) == ["preprocessor_config.json"]
    data = json.loads((tmp_path / "preprocessor_config.json").read_text())
    assert data["clusters"] == fit.clusters.tolist()


# ------------------------------------------------------------------------------ progress & errors
def test_progress_reports_stages_and_exceptions_cancel(rgb_photos):
    seen = []
    fit_palette([rgb_photos["coffee"], rgb_photos["rocket"]], 16, max_pixels=20_000, progress=lambda *a: seen.append(a))
    stages = [s for s, _, _ in seen]
    assert stages[:2] == ["images", "images"] and seen[1] == ("images", 2, 2)
    assert ("init", 16, 16) in seen
    assert stages[-1] == "iteration"

    class Stop(Exception):
        pass

    def stop(stage, done, total):
        if stage == "iteration" and done == 2:
            raise Stop

    with pytest.raises(Stop):
        fit_palette(rgb_photos["coffee"], 16, progress=stop, tol=0)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"n_clusters": 0}, "n_clusters must be between 1 and 65536, got 0"),
        ({"n_clusters": 70000}, "n_clusters"),
        ({"n_clusters": True}, "n_clusters must be an int"),
        ({"n_clusters": 2.0}, "n_clusters must be an int"),
        ({"max_iter": 0}, "max_iter must be >= 1"),
        ({"tol": -1.0}, "tol"),
        ({"tol": float("nan")}, "tol"),
        ({"seed": -1}, "seed"),
        ({"max_pixels": 0}, "max_pixels"),
        ({"max_pixels_per_image": -5}, "max_pixels_per_image"),
        ({"num_threads": 0}, "num_threads"),
        ({"size": 0}, "size"),
        ({"n_local_trials": 0}, "n_local_trials"),
    ],
)
def test_bad_options_raise_input_error(kwargs, match):
    img = np.zeros((4, 4, 3), np.uint8)
    args = {"n_clusters": 2, **kwargs}
    with pytest.raises((InputError, imagegpt_rs.ConfigValidationError), match=match):
        fit_palette(img, **args)


def test_bad_inputs_raise():
    with pytest.raises(InputError, match="empty"):
        fit_palette([], 2)
    with pytest.raises(InputError, match="4 channels"):
        fit_palette(np.zeros((4, 4, 4), np.uint8), 2)
    with pytest.raises(InputError, match="type int"):
        fit_palette(5, 2)
    with pytest.raises(FileNotFoundError):
        fit_palette("/no/such/dir/anywhere", 2)
    with pytest.raises(PaletteError, match=r"init must have shape \(3, 3\)"):
        fit_palette(
            np.zeros((4, 4, 3), np.uint8) + np.arange(16, dtype=np.uint8).reshape(4, 4, 1), 3, init=np.zeros((2, 3))
        )
    bad = np.zeros((3, 3))
    bad[1, 2] = np.nan
    with pytest.raises(PaletteError, match=r"init\[1, 2\] is nan"):
        fit_palette(np.zeros((4, 4, 3), np.uint8), 3, init=bad)


def test_kmeans_errors_like_sklearn():
    x = np.random.default_rng(0).random((10, 3))
    with pytest.raises(ValueError, match="n_samples=10 should be >= n_clusters=11"):
        sklearn_cluster.KMeans(11, n_init=1).fit(x)
    with pytest.raises(InputError, match="n_samples=10 should be >= n_clusters=11"):
        kmeans(x, 11)
    x[3, 1] = np.inf
    with pytest.raises(InputError, match="point 3 has a non-finite coordinate inf"):
        kmeans(x, 2)
    with pytest.raises(InputError, match="weight 2 is -1"):
        kmeans(np.zeros((4, 3)), 1, sample_weight=np.array([1.0, 1.0, -1.0, 1.0]))
    with pytest.raises(InputError, match=r"shape \(n, 3\)"):
        kmeans(np.zeros((4, 2)), 1)


# ------------------------------------------------------------------------------ CLI
def test_cli_fit_palette_then_encode_and_preview(rgb_photos, tmp_path, capsys):
    from PIL import Image

    from imagegpt_rs.cli import main

    src = tmp_path / "imgs"
    src.mkdir()
    for n in ("astronaut", "coffee", "chelsea"):
        Image.fromarray(rgb_photos[n]).save(src / f"{n}.png")
    out = tmp_path / "palette"
    rc = main(
        [
            "fit-palette",
            str(src),
            "--clusters",
            "24",
            "--out",
            str(out),
            "--size",
            "12x10",
            "--max-pixels",
            "300",
            "--quiet",
        ]
    )
    assert rc == 0
    text = capsys.readouterr().out
    assert "fitted 24 clusters on 300 pixels" in text
    data = json.loads((out / "preprocessor_config.json").read_text())
    assert len(data["clusters"]) == 24 and data["size"] == {"height": 12, "width": 10}
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["vocab_size"] == 25 and cfg["n_positions"] == 120
    expected = fit_palette(
        [np.asarray(Image.open(src / f"{n}.png").convert("RGB")) for n in ("astronaut", "chelsea", "coffee")],
        24,
        size=(12, 10),
        max_pixels=300,
    )
    np.testing.assert_array_equal(np.array(data["clusters"]), expected.clusters)

    # The directory drives the processor and preview: ids are the nearest clusters, and the sheet
    # shows the palette's colors.
    pytest.importorskip("imagegpt_rs.quantization")
    processor = imagegpt_rs.ImageGPTImageProcessor.from_pretrained(out)
    imgs = [np.asarray(Image.open(src / f"{n}.png").convert("RGB")) for n in ("astronaut", "chelsea", "coffee")]
    ids = processor(imgs, return_tensors="np")["input_ids"]
    assert ids.shape == (3, 120) and ids.max() < 24
    pv = processor(imgs, do_color_quantize=False, return_tensors="np")["pixel_values"]
    x = pv.transpose(0, 2, 3, 1).reshape(-1, 3).astype(np.float64)
    d = ((x[:, None] - expected.clusters[None]) ** 2).sum(-1)
    assert (d[np.arange(len(x)), ids.reshape(-1)] <= d.min(1) + 1e-6).all()
    np.save(tmp_path / "ids.npy", ids)
    sheet = tmp_path / "sheet.png"
    assert main(["preview", str(tmp_path / "ids.npy"), "--config", str(out), "--size", "12x10", "-o", str(sheet)]) == 0
    with Image.open(sheet) as im:
        shown = {tuple(c) for c in np.asarray(im.convert("RGB")).reshape(-1, 3)}
    decoded = {tuple(c) for c in processor.decode(ids, size=(12, 10)).reshape(-1, 3)}
    assert decoded <= shown <= decoded | {(255, 255, 255)}

    # And `encode --config` (the batch pipeline).
    from imagegpt_rs import _native

    if not hasattr(_native, "EncodeJob"):
        pytest.skip("the batch encoder (EncodeJob) is not wired into this build")
    tokens = tmp_path / "tokens"
    assert main(["encode", str(src), "-o", str(tokens), "--config", str(out), "--quiet"]) == 0
    from imagegpt_rs.encoding import load_directory

    enc, _idx, _manifest = load_directory(tokens)
    np.testing.assert_array_equal(enc, ids)


def test_cli_fit_palette_bad_input(tmp_path, capsys):
    from imagegpt_rs.cli import main

    rc = main(["fit-palette", str(tmp_path / "missing"), "--out", str(tmp_path / "o")])
    assert rc == 1
    assert "no such file" in capsys.readouterr().err

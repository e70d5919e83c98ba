"""The color-quantization ONNX graph against transformers 4.57's ImageGPTImageProcessor on real photos."""

from __future__ import annotations

import numpy as np
import pytest

import imagegpt_rs
from imagegpt_rs.onnx import build_preprocessor_model, export_preprocessor

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
transformers = pytest.importorskip("transformers")
PIL_Image = pytest.importorskip("PIL.Image")
skimage_data = pytest.importorskip("skimage.data")
sklearn_datasets = pytest.importorskip("sklearn.datasets")
from onnx import numpy_helper  # noqa: E402
from transformers.models.imagegpt.image_processing_imagegpt import color_quantize  # noqa: E402

CLUSTERS = np.random.default_rng(1234).uniform(-1.0, 1.0, size=(16, 3))


def reference_table(clusters: np.ndarray) -> np.ndarray:
    """table[r << 16 | g << 8 | b] = transformers' color_quantize of the normalized color, for all 2**24 colors.

    transformers normalizes uint8 pixels to float32 ``(x * (1 / 127.5)).astype(float32) - 1`` and computes
    ``d = a2 - 2 a @ c.T + b2`` (a2 summed in float32, the rest in float64) then argmin. Done here with the
    same roundings, one red value at a time, from per-channel partial products (a dot product of 3 terms
    summed in order), which is exact and fast; checked against color_quantize itself in the tests below.
    """
    c = np.asarray(clusters, dtype=np.float64)
    v = (np.arange(256, dtype=np.float64) * (1 / 127.5)).astype(np.float32) - 1
    sq = np.square(v)  # float32
    p0, p1, p2 = (v.astype(np.float64)[:, None] * c[None, :, k] for k in range(3))  # (256, K)
    b2 = (np.square(c[:, 0]) + np.square(c[:, 1])) + np.square(c[:, 2])
    dtype = np.uint8 if len(c) <= 256 else np.uint16
    table = np.empty(1 << 24, dtype=dtype)
    for r in range(256):
        a2 = ((sq[r] + sq[:, None]) + sq[None, :]).astype(np.float64)  # (g, b)
        ab = (p0[r][None, None, :] + p1[:, None, :]) + p2[None, :, :]  # (g, b, K)
        d = (a2[:, :, None] - 2 * ab) + b2
        table[r << 16 : (r + 1) << 16] = d.argmin(axis=2).reshape(-1)
    return table


@pytest.fixture(scope="module")
def table() -> np.ndarray:
    return reference_table(CLUSTERS)


def _photos() -> dict[str, np.ndarray]:
    photos = {
        "astronaut": skimage_data.astronaut(),
        "coffee": skimage_data.coffee(),
        "chelsea": skimage_data.chelsea(),
        "rocket": skimage_data.rocket(),
    }
    sample = sklearn_datasets.load_sample_images()
    for name, image in zip(sample.filenames, sample.images):
        photos[name.rsplit("/", 1)[-1].split(".")[0]] = image
    return photos


@pytest.fixture(scope="module")
def photos() -> dict[str, np.ndarray]:
    return _photos()


def _resized(image: np.ndarray, height: int, width: int) -> np.ndarray:
    return np.asarray(PIL_Image.fromarray(image).resize((width, height), PIL_Image.Resampling.BICUBIC))


@pytest.fixture(params=["transformers", "imagegpt_rs"])
def make_processor(request):
    if request.param == "transformers":
        return transformers.ImageGPTImageProcessor
    try:
        cls = imagegpt_rs.ImageGPTImageProcessor
    except (AttributeError, ImportError):
        pytest.skip("imagegpt_rs.ImageGPTImageProcessor is not available in this build yet")
    try:  # the processor may rely on imagegpt_rs modules this build does not have yet
        cls(clusters=CLUSTERS)(np.zeros((4, 4, 3), dtype=np.uint8), return_tensors="np")
    except ModuleNotFoundError as exc:
        if not (exc.name or "").startswith("imagegpt_rs"):
            raise
        pytest.skip(f"imagegpt_rs.ImageGPTImageProcessor needs {exc.name}, not in this build yet")
    return cls


def _run(model, pixels: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    (ids,) = session.run(["input_ids"], {"pixel_values": pixels})
    return ids


def test_reference_table_matches_color_quantize(table, photos):
    # every color of the photos plus random colors, through transformers' own normalize + color_quantize
    processor = transformers.ImageGPTImageProcessor(clusters=CLUSTERS, do_resize=False)
    colors = [np.random.default_rng(5).integers(0, 256, size=(1 << 16, 3), dtype=np.uint8)]
    colors += [image.reshape(-1, 3) for image in photos.values()]
    rgb = np.unique(np.concatenate(colors), axis=0)
    x = processor.normalize(rgb[:, None, :], input_data_format="channels_last")
    expected = color_quantize(x, CLUSTERS)
    index = (rgb[:, 0].astype(np.int64) << 16) | (rgb[:, 1].astype(np.int64) << 8) | rgb[:, 2]
    np.testing.assert_array_equal(table[index], expected)


@pytest.mark.parametrize("height, width", [(32, 32), (None, None), (32, None)])
def test_graph_on_photos_matches_transformers(table, photos, make_processor, height, width):
    model = build_preprocessor_model(table, height, width)
    onnx.checker.check_model(model)
    batch = np.stack([_resized(image, 32, 32) for image in photos.values()])
    ids = _run(model, batch)
    expected = make_processor(clusters=CLUSTERS, do_resize=False)(list(batch), return_tensors="np")["input_ids"]
    assert ids.dtype == np.int64 and expected.dtype == np.int64
    assert ids.shape == expected.shape == (len(photos), 32 * 32)
    np.testing.assert_array_equal(ids, expected)
    # each image alone gives the same row
    np.testing.assert_array_equal(_run(model, batch[2:3]), expected[2:3])


def test_dynamic_graph_on_full_resolution_crops(table, photos, make_processor):
    model = build_preprocessor_model(table)
    processor = make_processor(clusters=CLUSTERS, do_resize=False)
    for image in photos.values():
        crop = np.ascontiguousarray(image[40:88, 17:81])  # 48 x 64, original pixels
        expected = processor(crop, return_tensors="np")["input_ids"]
        np.testing.assert_array_equal(_run(model, crop[None]), expected)


def test_graph_shapes_and_types(table):
    static = build_preprocessor_model(table, 24, 20)
    (inp,), (out,) = static.graph.input, static.graph.output
    assert inp.name == "pixel_values" and out.name == "input_ids"
    assert inp.type.tensor_type.elem_type == onnx.TensorProto.UINT8
    assert out.type.tensor_type.elem_type == onnx.TensorProto.INT64
    dims = [d.dim_param or d.dim_value for d in inp.type.tensor_type.shape.dim]
    assert dims == ["batch", 24, 20, 3]
    assert [d.dim_param or d.dim_value for d in out.type.tensor_type.shape.dim] == ["batch", 480]
    dynamic = build_preprocessor_model(table)
    assert [d.dim_param or d.dim_value for d in dynamic.graph.input[0].type.tensor_type.shape.dim] == [
        "batch",
        "height",
        "width",
        3,
    ]
    # the table is stored as given, below protobuf's 2 GB limit
    stored = numpy_helper.to_array(next(t for t in static.graph.initializer if t.name == "color_table"))
    np.testing.assert_array_equal(stored, table)
    assert static.ByteSize() < 2**31
    # a static graph refuses other sizes
    with pytest.raises(Exception, match="(?i)dimension|shape"):
        _run(static, np.zeros((1, 32, 32, 3), dtype=np.uint8))


@pytest.mark.parametrize("dtype", [np.uint16, np.int32])
def test_table_dtypes(table, photos, dtype):
    model = build_preprocessor_model(table.astype(dtype), 32, 32)
    pixels = _resized(photos["chelsea"], 32, 32)[None]
    index = (pixels[..., 0].astype(np.int64) << 16) | (pixels[..., 1].astype(np.int64) << 8) | pixels[..., 2]
    np.testing.assert_array_equal(_run(model, pixels), table[index].reshape(1, -1).astype(np.int64))


def test_large_indices_survive(photos):
    # a uint16 table using the whole range: ids above 32767 must come out unchanged (no sign issues)
    table = (np.arange(1 << 24, dtype=np.int64) * 2654435761 % 65536).astype(np.uint16)
    pixels = _resized(photos["astronaut"], 16, 16)[None]
    index = (pixels[..., 0].astype(np.int64) << 16) | (pixels[..., 1].astype(np.int64) << 8) | pixels[..., 2]
    ids = _run(build_preprocessor_model(table), pixels)
    np.testing.assert_array_equal(ids, table[index].reshape(1, -1).astype(np.int64))
    assert ids.max() > 32767


@pytest.mark.parametrize(
    "bad, error, match",
    [
        (np.zeros((1 << 24) - 1, dtype=np.uint16), ValueError, "shape"),
        (np.zeros((1 << 12, 1 << 12), dtype=np.uint16), ValueError, "shape"),
        (np.zeros(1 << 24, dtype=np.float32), TypeError, "dtype"),
        (np.full(1 << 24, -1, dtype=np.int32), ValueError, ">= 0"),
    ],
)
def test_bad_tables(bad, error, match):
    with pytest.raises(error, match=match):
        build_preprocessor_model(bad)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(height=0), ValueError, "height"),
        (dict(width=-2), ValueError, "width"),
        (dict(height=2.5), TypeError, "height"),
        (dict(width=True), TypeError, "width"),
    ],
)
def test_bad_sizes(table, kwargs, error, match):
    with pytest.raises(error, match=match):
        build_preprocessor_model(table, **kwargs)


@pytest.mark.parametrize(
    "settings, match",
    [
        (dict(do_color_quantize=False), "do_color_quantize"),
        (dict(do_normalize=False), "do_normalize"),
        (dict(clusters=None), "clusters"),
    ],
)
def test_export_preprocessor_refuses_processors_without_quantization(tmp_path, settings, match):
    settings = {"clusters": CLUSTERS, **settings}
    processor = transformers.ImageGPTImageProcessor(**settings)
    with pytest.raises(ValueError, match=match):
        export_preprocessor(processor, tmp_path / "p.onnx")
    assert not (tmp_path / "p.onnx").exists()


def test_export_preprocessor_with_color_quantizer(tmp_path, table, photos, make_processor):
    try:
        imagegpt_rs.ColorQuantizer  # noqa: B018
    except (AttributeError, ImportError):
        pytest.skip("imagegpt_rs.ColorQuantizer is not available in this build yet")
    processor = make_processor(clusters=CLUSTERS, size={"height": 32, "width": 32})
    path = tmp_path / "quantize.onnx"
    model = export_preprocessor(processor, path)
    onnx.checker.check_model(str(path))
    loaded = onnx.load(str(path))
    dims = [d.dim_param or d.dim_value for d in loaded.graph.input[0].type.tensor_type.shape.dim]
    assert dims == ["batch", 32, 32, 3]
    stored = numpy_helper.to_array(next(t for t in loaded.graph.initializer if t.name == "color_table"))
    np.testing.assert_array_equal(stored.astype(np.int64), table.astype(np.int64))
    batch = np.stack([_resized(image, 32, 32) for image in photos.values()])
    expected = transformers.ImageGPTImageProcessor(clusters=CLUSTERS, do_resize=False)(
        list(batch), return_tensors="np"
    )["input_ids"]
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    np.testing.assert_array_equal(session.run(None, {"pixel_values": batch})[0], expected)
    assert model.graph.output[0].name == "input_ids"


class _ReferenceQuantizer:
    """Stands in for imagegpt_rs.ColorQuantizer (same contract: uint16 table of 2**24 entries)."""

    seen: list = []
    cache: dict = {}

    def __init__(self, clusters):
        self.clusters = np.asarray(clusters)

    def lookup_table(self):
        _ReferenceQuantizer.seen.append(self.clusters)
        key = self.clusters.tobytes()
        if key not in _ReferenceQuantizer.cache:
            _ReferenceQuantizer.cache[key] = reference_table(self.clusters)
        return _ReferenceQuantizer.cache[key].astype(np.uint16)


@pytest.mark.parametrize(
    "settings, dims",
    [
        (dict(size={"height": 24, "width": 20}), ["batch", 24, 20, 3]),
        (dict(do_resize=False), ["batch", "height", "width", 3]),
    ],
)
def test_export_preprocessor_wiring(tmp_path, monkeypatch, table, photos, settings, dims):
    # export_preprocessor's own work (sizes, table source, file) with a reference quantizer in place of ours
    monkeypatch.setattr(imagegpt_rs, "ColorQuantizer", _ReferenceQuantizer, raising=False)
    _ReferenceQuantizer.seen.clear()
    _ReferenceQuantizer.cache[np.asarray(CLUSTERS).tobytes()] = table
    processor = transformers.ImageGPTImageProcessor(clusters=CLUSTERS, **settings)
    path = tmp_path / "q.onnx"
    export_preprocessor(processor, path)
    assert len(_ReferenceQuantizer.seen) == 1
    np.testing.assert_array_equal(_ReferenceQuantizer.seen[0], CLUSTERS)
    onnx.checker.check_model(str(path))
    loaded = onnx.load(str(path))
    assert [d.dim_param or d.dim_value for d in loaded.graph.input[0].type.tensor_type.shape.dim] == dims
    height, width = (24, 20) if settings.get("do_resize", True) else (40, 28)
    batch = np.stack([_resized(image, height, width) for image in photos.values()])
    expected = transformers.ImageGPTImageProcessor(clusters=CLUSTERS, do_resize=False)(
        list(batch), return_tensors="np"
    )["input_ids"]
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    np.testing.assert_array_equal(session.run(None, {"pixel_values": batch})[0], expected)

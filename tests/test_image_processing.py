"""ImageGPTImageProcessor against transformers 4.57's slow ImageGPTImageProcessor, side by side."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from imagegpt_rs import ImageGPTImageProcessor, InputError

transformers = pytest.importorskip("transformers")
PIL_Image = pytest.importorskip("PIL.Image")
TfProcessor = transformers.ImageGPTImageProcessor

SIZES = [(32, 32), (48, 48), (64, 64), (24, 40), (40, 24), (17, 5)]


def _pair(clusters, **kwargs):
    return ImageGPTImageProcessor(clusters, **kwargs), TfProcessor(clusters, **kwargs)


def _ids(processor, images, **kwargs):
    return processor(images, return_tensors="np", **kwargs)["input_ids"]


@pytest.mark.parametrize("size", SIZES)
def test_input_ids_equal_transformers_on_real_photos_numpy(size, rgb_photos, photo_palette):
    ours, theirs = _pair(photo_palette, size={"height": size[0], "width": size[1]})
    for name, photo in rgb_photos.items():
        a, b = _ids(ours, photo), _ids(theirs, photo)
        assert a.dtype == b.dtype == np.int64
        assert a.shape == b.shape == (1, size[0] * size[1])
        np.testing.assert_array_equal(a, b, err_msg=name)


@pytest.mark.parametrize("size", [(32, 32), (64, 64), (30, 50)])
def test_input_ids_equal_transformers_pil_and_chw(size, rgb_photos, photo_palette):
    ours, theirs = _pair(photo_palette, size=size)
    pil = [PIL_Image.fromarray(p) for p in rgb_photos.values()]
    np.testing.assert_array_equal(_ids(ours, pil), _ids(theirs, pil))
    chw = [np.ascontiguousarray(np.moveaxis(p, -1, 0)) for p in rgb_photos.values()]
    np.testing.assert_array_equal(_ids(ours, chw), _ids(theirs, chw))


@pytest.mark.parametrize("resample", [0, 1, 2, 3, 4, 5])
def test_every_filter_matches(resample, rgb_photos, photo_palette):
    ours, theirs = _pair(photo_palette, size=32, resample=resample)
    photos = list(rgb_photos.values())[:3]
    np.testing.assert_array_equal(_ids(ours, photos), _ids(theirs, photos))


def test_float32_clusters_match(rgb_photos, photo_palette):
    clusters = photo_palette.astype(np.float32)
    ours, theirs = _pair(clusters, size=48)
    assert ours.clusters.dtype == np.float32
    photos = list(rgb_photos.values())
    np.testing.assert_array_equal(_ids(ours, photos), _ids(theirs, photos))


def test_no_resize_matches(rgb_photos, photo_palette):
    ours, theirs = _pair(photo_palette, do_resize=False)
    crop = rgb_photos["astronaut"][100:164, 200:264]
    np.testing.assert_array_equal(_ids(ours, crop), _ids(theirs, crop))


def test_float_images_in_unit_range_match(rgb_photos, photo_palette):
    ours, theirs = _pair(photo_palette, size=32)
    x = rgb_photos["coffee"].astype(np.float32) / 255.0
    np.testing.assert_array_equal(_ids(ours, x), _ids(theirs, x))
    x64 = rgb_photos["chelsea"].astype(np.float64) / 255.0
    np.testing.assert_array_equal(_ids(ours, x64), _ids(theirs, x64))


def test_float_images_without_resize_match(rgb_photos, photo_palette):
    ours, theirs = _pair(photo_palette, do_resize=False)
    x = rgb_photos["coffee"][:40, :40].astype(np.float32)
    np.testing.assert_array_equal(_ids(ours, x), _ids(theirs, x))


def test_without_normalize_matches(rgb_photos, photo_palette):
    ours, theirs = _pair(photo_palette, size=16, do_normalize=False)
    photo = rgb_photos["rocket"]
    np.testing.assert_array_equal(_ids(ours, photo), _ids(theirs, photo))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n_clusters", [16, 512])
def test_batch_of_single_pixels_is_quantized_as_one_stack(dtype, n_clusters, photo_palette):
    """transformers quantizes the stacked batch in one matrix product, so a batch of 1x1 images is
    quantized with the many-rows arithmetic, not the single-row one; at exact ties (pixels halfway
    between two clusters) the two pick different clusters, so this must follow the batch."""
    rng = np.random.default_rng(n_clusters)
    clusters = photo_palette[rng.choice(len(photo_palette), n_clusters, replace=False)]
    i, j = rng.integers(0, n_clusters, (2, 3000))
    images = list(((clusters[i] + clusters[j]) / 2).astype(dtype).reshape(-1, 1, 1, 3))
    ours, theirs = _pair(clusters, do_resize=False, do_normalize=False)
    kw = {"input_data_format": "channels_last"}
    np.testing.assert_array_equal(_ids(ours, images, **kw), _ids(theirs, images, **kw))


def test_batch_array_and_list_outputs(rgb_photos, photo_palette):
    ours, theirs = _pair(photo_palette, size=32)
    batch = np.stack([rgb_photos["china"], rgb_photos["flower"]])
    a, b = ours(batch), theirs(batch)
    assert isinstance(a["input_ids"], list) and len(a["input_ids"]) == 2
    for x, y in zip(a.input_ids, b["input_ids"]):
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("data_format", ["channels_first", "channels_last"])
def test_pixel_values_match_without_quantization(data_format, rgb_photos, photo_palette):
    ours, theirs = _pair(photo_palette, size=(24, 36), do_color_quantize=False)
    photos = [rgb_photos["astronaut"], rgb_photos["flower"]]
    a = ours(photos, return_tensors="np", data_format=data_format)
    b = theirs(photos, return_tensors="np", data_format=data_format)
    assert "input_ids" not in a
    assert a.pixel_values.dtype == b["pixel_values"].dtype == np.float32
    np.testing.assert_array_equal(a.pixel_values, b["pixel_values"])


def test_per_call_overrides_match(rgb_photos, photo_palette):
    ours, theirs = _pair(photo_palette, size=64)
    other = photo_palette[::-1].copy()
    kw = dict(size={"height": 20, "width": 28}, resample=3, clusters=other)
    photo = rgb_photos["chelsea"]
    np.testing.assert_array_equal(_ids(ours, photo, **kw), _ids(theirs, photo, **kw))


def test_grayscale_pil_is_converted_to_rgb(real_photos, photo_palette):
    ours, theirs = _pair(photo_palette, size=32)
    gray = PIL_Image.fromarray(real_photos["camera"])
    expected = _ids(theirs, gray.convert("RGB"))
    np.testing.assert_array_equal(_ids(ours, gray), expected)
    # (H, W) arrays are replicated to three channels.
    np.testing.assert_array_equal(_ids(ours, real_photos["camera"]), expected)


def test_rgba_pil_is_converted_and_rgba_array_is_a_clear_error(rgb_photos, photo_palette):
    ours, theirs = _pair(photo_palette, size=32)
    rgb = PIL_Image.fromarray(rgb_photos["coffee"])
    rgba = rgb.copy()
    rgba.putalpha(128)
    np.testing.assert_array_equal(_ids(ours, rgba), _ids(theirs, rgba.convert("RGB")))
    with pytest.raises(InputError, match="4 channels"):
        ours(np.asarray(rgba))


def test_bad_inputs_are_clear_errors(photo_palette):
    p = ImageGPTImageProcessor(photo_palette, size=8)
    with pytest.raises(InputError, match="empty"):
        p([])
    with pytest.raises(InputError, match="image 1 has type str"):
        p([np.zeros((4, 4, 3), np.uint8), "nope"])
    with pytest.raises(ValueError, match="size.height"):
        ImageGPTImageProcessor(photo_palette, size={"height": 0, "width": 4})
    with pytest.raises(ValueError, match="outside the range"):
        p(np.full((4, 4, 3), 300.5, dtype=np.float32))


def test_mixed_sizes_without_resize_give_one_array_each(rgb_photos, photo_palette):
    ours, theirs = _pair(photo_palette, do_resize=False)
    a = rgb_photos["coffee"][:10, :12]
    b = rgb_photos["china"][:7, :5]
    got = ours([a, b])["input_ids"]
    assert [g.shape for g in got] == [(120,), (35,)]
    np.testing.assert_array_equal(got[0], _ids(theirs, a)[0])
    np.testing.assert_array_equal(got[1], _ids(theirs, b)[0])
    with pytest.raises(ValueError, match="different sizes"):
        ours([a, b], return_tensors="np")


def test_to_dict_and_json_equal_transformers(photo_palette):
    for kwargs in (
        {},
        {"size": 32},
        {"size": {"height": 24, "width": 48}, "resample": 3, "do_normalize": False},
        {"do_color_quantize": False, "foo": "bar"},
    ):
        ours, theirs = _pair(photo_palette, **kwargs)
        assert ours.to_dict() == theirs.to_dict()
        assert ours.to_json_string() == theirs.to_json_string()


def test_save_load_both_ways(tmp_path, photo_palette, rgb_photos):
    ours = ImageGPTImageProcessor(photo_palette, size=32)
    ours.save_pretrained(tmp_path / "ours")
    loaded = transformers.AutoImageProcessor.from_pretrained(tmp_path / "ours", use_fast=False)
    assert type(loaded).__name__ == "ImageGPTImageProcessor"
    assert loaded.to_dict() == ours.to_dict()
    photo = rgb_photos["astronaut"]
    np.testing.assert_array_equal(_ids(loaded, photo), _ids(ours, photo))

    theirs = TfProcessor(photo_palette.astype(np.float32).tolist(), size=48, resample=3)
    theirs.save_pretrained(tmp_path / "theirs")
    back = ImageGPTImageProcessor.from_pretrained(tmp_path / "theirs")
    assert back.to_json_string() == theirs.to_json_string()
    assert back == ImageGPTImageProcessor.from_json_file(tmp_path / "theirs" / "preprocessor_config.json")
    np.testing.assert_array_equal(_ids(back, photo), _ids(theirs, photo))


def test_from_dict_kwargs_and_unused(photo_palette):
    d = TfProcessor(photo_palette, size=32).to_dict()
    ours, unused = ImageGPTImageProcessor.from_dict(d, size=16, do_normalize=False, nope=1, return_unused_kwargs=True)
    theirs, t_unused = TfProcessor.from_dict(d, size=16, do_normalize=False, nope=1, return_unused_kwargs=True)
    assert unused == t_unused == {"nope": 1}
    assert ours.to_dict() == theirs.to_dict()


def test_malformed_json_names_file_line_and_column(tmp_path):
    bad = tmp_path / "preprocessor_config.json"
    bad.write_text('{\n  "size": 32,\n  "do_resize": tru\n}\n')
    with pytest.raises(ValueError, match=r"preprocessor_config.json is not valid JSON: line 3, column"):
        ImageGPTImageProcessor.from_pretrained(tmp_path)


def test_default_palette_is_a_uniform_grid_and_round_trips(rgb_photos):
    p = ImageGPTImageProcessor(size=32)
    assert p.clusters.shape == (512, 3)
    levels = np.unique(p.clusters[:, 0])
    np.testing.assert_allclose(levels, (np.arange(8) + 0.5) / 8 * 2 - 1)
    # Same ids as transformers with the same (stored) clusters.
    theirs = TfProcessor(p.clusters, size=32)
    photo = rgb_photos["flower"]
    ids = _ids(p, photo)
    np.testing.assert_array_equal(ids, _ids(theirs, photo))
    # Decoding then re-encoding the decoded image gives the same tokens (grid colors are exact).
    img = p.decode(ids)
    assert img.shape == (1, 32, 32, 3) and img.dtype == np.uint8
    np.testing.assert_array_equal(_ids(p, img[0], do_resize=False), ids)


def test_torch_inputs_and_outputs(rgb_photos, photo_palette):
    torch = pytest.importorskip("torch")
    ours, theirs = _pair(photo_palette, size=32)
    t = torch.from_numpy(np.ascontiguousarray(np.moveaxis(rgb_photos["coffee"], -1, 0)))
    a = ours(t, return_tensors="pt")["input_ids"]
    b = theirs(t, return_tensors="pt")["input_ids"]
    assert a.dtype == b.dtype == torch.int64
    assert torch.equal(a, b)


class _Records:
    """Collects the messages a logger emits (transformers' loggers do not propagate to the root)."""

    def __init__(self, name):
        self.logger = logging.getLogger(name)
        self.messages = []
        self.handler = logging.Handler(logging.WARNING)
        self.handler.emit = lambda record: self.messages.append((record.levelname, record.getMessage()))

    def __enter__(self):
        # Other test modules turn transformers' verbosity down (set_verbosity_error); look at warnings here.
        self.level = self.logger.level
        self.logger.setLevel(logging.WARNING)
        self.logger.addHandler(self.handler)
        return self.messages

    def __exit__(self, *exc):
        self.logger.removeHandler(self.handler)
        self.logger.setLevel(self.level)


@pytest.mark.parametrize("shape", [(3, 5, 3), (1, 4, 1), (3, 7, 1), (1, 6, 3), (3, 1, 3)])
def test_ambiguous_channel_axis_warns_as_transformers_does(shape, photo_palette):
    """Images 1 or 3 pixels tall (with 1 or 3 channels): the first axis is taken for channels, as in
    transformers' infer_channel_dimension_format, and the same warning is logged."""
    image = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    theirs = transformers.ImageGPTImageProcessor(photo_palette, size=4)
    ours = ImageGPTImageProcessor(photo_palette, size=4)
    from transformers.image_utils import ChannelDimension, infer_channel_dimension_format

    with _Records("transformers.image_utils") as their_log:
        assert infer_channel_dimension_format(image) == ChannelDimension.FIRST
    with _Records("imagegpt_rs.image_processing") as our_log:
        got = ours(image, return_tensors="np")["input_ids"]
    assert len(their_log) == 1 and their_log[0][1].startswith("The channel dimension is ambiguous")
    assert our_log == their_log
    # One channel: transformers' quantizer breaks on it; we replicate gray to RGB (see the module doc).
    rgb = np.repeat(image, 3, axis=0) if shape[0] == 1 else image
    expected = theirs(rgb, input_data_format="channels_first", return_tensors="np")["input_ids"]
    np.testing.assert_array_equal(got, expected)


def test_unambiguous_channel_axis_does_not_warn(photo_palette):
    ours = ImageGPTImageProcessor(photo_palette, size=4)
    with _Records("imagegpt_rs.image_processing") as log:
        ours(np.zeros((5, 4, 3), np.uint8))
        ours(np.zeros((3, 5, 4), np.uint8))
        ours(np.zeros((3, 5, 3), np.uint8), input_data_format="channels_last")
    assert log == []


def test_unknown_preprocess_kwargs_warn_and_are_ignored_as_in_transformers(rgb_photos, photo_palette):
    import warnings

    photo = rgb_photos["astronaut"]
    ours, theirs = _pair(photo_palette, size=32)
    caught = {}
    for name, processor in (("theirs", theirs), ("ours", ours)):
        for call in (processor, processor.preprocess):
            with warnings.catch_warnings(record=True) as got:
                warnings.simplefilter("always")
                ids = call([photo], return_tensors="np", extra_argument=1, other=None).input_ids
            caught.setdefault(name, []).append([(w.category, str(w.message), w.filename) for w in got])
            caught.setdefault(name + "_ids", []).append(ids)
    assert hasattr(theirs.preprocess, "_filter_out_non_signature_kwargs")
    assert hasattr(ours.preprocess, "_filter_out_non_signature_kwargs")
    theirs_warnings, ours_warnings = sum(caught["theirs"], []), sum(caught["ours"], [])
    assert len(ours_warnings) == len(theirs_warnings) == 2
    for (t_cat, t_msg, _), (o_cat, o_msg, _) in zip(theirs_warnings, ours_warnings):
        assert (o_cat, o_msg) == (t_cat, t_msg.replace("ImageGPTImageProcessor", type(ours).__name__))
    # the message names the arguments; the processor call itself goes on
    assert "'extra_argument', 'other'" in caught["ours"][0][0][1]
    for t, o in zip(caught["theirs_ids"], caught["ours_ids"], strict=True):
        np.testing.assert_array_equal(o, t)

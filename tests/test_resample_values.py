"""Every path that resizes takes ``resample`` values as transformers 4.57 does, side by side.

transformers passes ``resample`` on to ``PIL.Image.resize`` unchanged: Pillow accepts any value equal
(``==``) to a filter number and then needs an ``int`` (``__index__``). So True is LANCZOS and False
NEAREST, NumPy integers and Resampling members (Pillow's or ours) are their number, 1.0 and
``numpy.bool_`` are a TypeError, and values equal to no filter a ValueError. The processor call on
uint8 arrays, on float arrays (another code path), ``resize`` and the file encoders must all agree.
"""

from __future__ import annotations

import io

import numpy as np
import pytest

from imagegpt_rs import ImageGPTImageProcessor, InputError, Resampling
from imagegpt_rs.encoding import encode_bytes
from imagegpt_rs.resampling import resize

transformers = pytest.importorskip("transformers")
PIL_Image = pytest.importorskip("PIL.Image")
TfProcessor = transformers.ImageGPTImageProcessor

VALUES = [
    True,
    False,
    0,
    1,
    5,
    np.int64(3),
    np.uint8(4),
    PIL_Image.Resampling.LANCZOS,
    PIL_Image.Resampling.BOX,
    Resampling.HAMMING,
    1.0,
    2.0,
    np.float64(1.0),
    np.bool_(True),
    1.5,
    -1,
    99,
    "1",
]


def _outcome(fn):
    """The ids, or the kind of error (TypeError / ValueError) they raise."""
    try:
        return np.asarray(fn())
    except TypeError:
        return TypeError
    except ValueError:
        return ValueError


def _same(a, b) -> bool:
    if isinstance(a, type) or isinstance(b, type):
        return a is b
    return a.shape == b.shape and np.array_equal(a, b)


@pytest.fixture(scope="module")
def image(rgb_photos):
    return next(iter(rgb_photos.values()))[:90, :70]


@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_processor_call_takes_resample_like_transformers(value, image, photo_palette):
    ours = ImageGPTImageProcessor(photo_palette, size=(12, 9))
    theirs = TfProcessor(photo_palette, size=(12, 9))
    expected = _outcome(lambda: theirs(image, resample=value, return_tensors="np")["input_ids"])
    got = _outcome(lambda: ours(image, resample=value, return_tensors="np")["input_ids"])
    assert _same(got, expected), (value, got, expected)
    # float images in [0, 1] go through the per-image resize path
    unit = image.astype(np.float32) / 255
    expected = _outcome(lambda: theirs(unit, resample=value, return_tensors="np")["input_ids"])
    got = _outcome(lambda: ours(unit, resample=value, return_tensors="np")["input_ids"])
    assert _same(got, expected), (value, got, expected)


@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_file_encoders_take_resample_like_transformers(value, image, photo_palette):
    """encode_bytes / encode_files used to run int(value): True as LANCZOS, but 1.0 as well."""
    buf = io.BytesIO()
    PIL_Image.fromarray(image).save(buf, format="PNG")
    theirs = TfProcessor(photo_palette, size=(12, 9), resample=value)
    expected = _outcome(lambda: theirs(image, return_tensors="np")["input_ids"])
    ours = ImageGPTImageProcessor(photo_palette, size=(12, 9), resample=value)
    got = _outcome(lambda: encode_bytes([buf.getvalue()], ours).ids)
    assert _same(got, expected), (value, got, expected)


@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_resize_takes_resample_like_pillow(value, image):
    expected = _outcome(lambda: PIL_Image.fromarray(image).resize((9, 12), value, reducing_gap=None))
    got = _outcome(lambda: resize(image, (12, 9), value))
    assert _same(got, expected), (value, got, expected)


@pytest.mark.parametrize("value", [6, 7])
def test_pillow13_mks_filters_are_refused(value, image, photo_palette):
    """Pillow 13's MKS2013/MKS2021 are not implemented: a clear InputError, on every path."""
    with pytest.raises(InputError, match="MKS"):
        ImageGPTImageProcessor(photo_palette, size=8)(image, resample=value)
    with pytest.raises(InputError, match="MKS"):
        encode_bytes([b"x"], ImageGPTImageProcessor(photo_palette, size=8, resample=value))

"""Rust image decoding vs Pillow's ``Image.open(...).convert("RGB")``, run side by side on real photos.

PNG and GIF must be identical in every mode; JPEG must be identical with the default libjpeg-turbo
decoder (the library Pillow links), and close with the pure-Rust zune-jpeg fallback. Broken input
(empty, truncated, corrupt, zero-size, non-image, decompression bombs, random bytes) must raise
``ImageDecodeError`` naming the file and the reason, never crash.
"""

from __future__ import annotations

import io
import os
import pathlib
import struct
import zlib

import numpy as np
import pytest

import imagegpt_rs
from imagegpt_rs import ImageDecodeError, InputError
from imagegpt_rs.decoding import DEFAULT_JPEG_DECODER, DEFAULT_MAX_PIXELS, decode_image

Image = pytest.importorskip("PIL.Image")
from pillow_reference import pil_outcome, pil_rgb  # noqa: E402

skdata = pytest.importorskip("skimage.data")
sklearn_datasets = pytest.importorskip("sklearn.datasets")

EXACT_JPEG = DEFAULT_JPEG_DECODER == "libjpeg-turbo"

# Pillow's own advice when it converts palette images with byte transparency; not ours.
pytestmark = [
    pytest.mark.filterwarnings("ignore:Palette images with Transparency:UserWarning"),
    # Pillow's complaints while it reads the damaged TIFFs of the fuzz tests
    pytest.mark.filterwarnings("ignore::UserWarning:PIL.TiffImagePlugin"),
]


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def encoded(arr_or_im, fmt: str, **kw) -> bytes:
    im = arr_or_im if isinstance(arr_or_im, Image.Image) else Image.fromarray(arr_or_im)
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


def _chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


_ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def _filter_row(kind: int, raw: np.ndarray, prev: np.ndarray, bpp: int) -> np.ndarray:
    """PNG filter `kind` (0-4) applied to one row of bytes, as an encoder does."""
    a = np.concatenate([np.zeros(bpp, np.int16), raw[:-bpp]]) if raw.size > bpp else np.zeros_like(raw)
    c = np.concatenate([np.zeros(bpp, np.int16), prev[:-bpp]]) if prev.size > bpp else np.zeros_like(prev)
    a, c = a[: raw.size], c[: raw.size]
    b = prev
    if kind == 4:
        p = a + b - c
        pa, pb, pc = np.abs(p - a), np.abs(p - b), np.abs(p - c)
        pred = np.where((pa <= pb) & (pa <= pc), a, np.where(pb <= pc, b, c))
    else:
        pred = [np.zeros_like(raw), a, b, (a + b) // 2][kind]
    return ((raw - pred) % 256).astype(np.uint8)


def make_png(
    samples: np.ndarray,
    bit_depth: int,
    color_type: int,
    *,
    plte=None,
    trns=None,
    interlace=False,
    filters: np.random.Generator | None = None,
    idat_parts: int = 1,
) -> bytes:
    """A PNG of any bit depth / color type / interlacing from an (H, W, C) array of sample values
    (written here because Pillow cannot write most of them). Filter type 0 on every row, or with
    `filters`, a filter type drawn from it per row (mostly Paeth, as in photos); the zlib stream is
    cut into `idat_parts` IDAT chunks."""
    h, w = samples.shape[:2]
    samples = samples.reshape(h, w, -1)
    bpp = max(1, samples.shape[2] * bit_depth // 8)

    def pack_rows(block: np.ndarray) -> bytes:
        rows = []
        prev = None
        for row in block:
            flat = row.reshape(-1)
            if bit_depth == 16:
                data = flat.astype(">u2").tobytes()
            elif bit_depth == 8:
                data = flat.astype(np.uint8).tobytes()
            else:
                per = 8 // bit_depth
                padded = np.zeros(-(-flat.size // per) * per, np.uint8)
                padded[: flat.size] = flat
                grouped = padded.reshape(-1, per).astype(np.uint16)
                shifts = np.arange(per - 1, -1, -1) * bit_depth
                data = (grouped << shifts).sum(axis=1).astype(np.uint8).tobytes()
            raw = np.frombuffer(data, np.uint8).astype(np.int16)
            kind = 0 if filters is None else int(filters.choice(5, p=[0.1, 0.1, 0.1, 0.1, 0.6]))
            prev = np.zeros_like(raw) if prev is None else prev
            rows.append(bytes([kind]) + _filter_row(kind, raw, prev, bpp).tobytes())
            prev = raw
        return b"".join(rows)

    if interlace:
        raw = b"".join(pack_rows(samples[y0::dy, x0::dx]) for x0, y0, dx, dy in _ADAM7 if samples[y0::dy, x0::dx].size)
    else:
        raw = pack_rows(samples)
    out = b"\x89PNG\r\n\x1a\n" + _chunk(
        b"IHDR", struct.pack(">IIBBBBB", w, h, bit_depth, color_type, 0, 0, int(interlace))
    )
    if plte is not None:
        out += _chunk(b"PLTE", bytes(plte))
    if trns is not None:
        out += _chunk(b"tRNS", bytes(trns))
    stream = zlib.compress(raw)
    cuts = np.linspace(0, len(stream), idat_parts + 1).astype(int)
    idat = b"".join(_chunk(b"IDAT", stream[i:j]) for i, j in zip(cuts[:-1], cuts[1:]))
    return out + idat + _chunk(b"IEND", b"")


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    """A real photograph, cropped to keep the test fast (odd sizes on purpose)."""
    return skdata.astronaut()[40:239, 100:341]


@pytest.fixture(scope="module")
def photos() -> dict[str, np.ndarray]:
    return {
        "astronaut": skdata.astronaut(),
        "coffee": skdata.coffee(),
        "chelsea": skdata.chelsea(),
    }


def sample_jpeg_paths() -> list[pathlib.Path]:
    sk = pathlib.Path(sklearn_datasets.__file__).parent / "images"
    skd = pathlib.Path(skdata.__file__).parent
    paths = [sk / "china.jpg", sk / "flower.jpg", skd / "rocket.jpg", skd / "retina.jpg", skd / "hubble_deep_field.jpg"]
    return [p for p in paths if p.exists()]


# --------------------------------------------------------------------------------------------
# PNG: identical in every mode
# --------------------------------------------------------------------------------------------


PIL_PNG_MODES = ["RGB", "RGBA", "L", "LA", "P", "P-transparency", "1", "I;16"]


@pytest.mark.parametrize("mode", PIL_PNG_MODES)
def test_png_pillow_written_modes_identical(photo, mode, tmp_path):
    im = Image.fromarray(photo)
    if mode == "P":
        im = im.quantize(200)
    elif mode == "P-transparency":
        im = im.quantize(100)
        im.info["transparency"] = 3
    elif mode == "I;16":
        # 16-bit gray with values above 255 too (Pillow clips them when converting to RGB)
        g = np.asarray(im.convert("L")).astype(np.uint16)
        im = Image.fromarray((g * 3).astype(np.uint16))
        assert im.mode == "I;16"
    elif mode == "RGBA":
        a = np.asarray(im.convert("L"))
        im = Image.fromarray(np.dstack([photo, a]), "RGBA")
    else:
        im = im.convert(mode)
    data = encoded(im, "PNG")
    ref = pil_rgb(data)
    np.testing.assert_array_equal(decode_image(data), ref)
    path = tmp_path / f"img_{mode.replace(';', '')}.png"
    path.write_bytes(data)
    np.testing.assert_array_equal(decode_image(path), ref)
    np.testing.assert_array_equal(decode_image(str(path)), ref)


PNG_KINDS = [
    # (color_type, bit_depth)
    (0, 1), (0, 2), (0, 4), (0, 8), (0, 16),
    (2, 8), (2, 16),
    (3, 1), (3, 2), (3, 4), (3, 8),
    (4, 8), (4, 16),
    (6, 8), (6, 16),
]  # fmt: skip


@pytest.mark.parametrize("filtered", [False, True], ids=["filter0", "filters"])
@pytest.mark.parametrize("interlace", [False, True], ids=["plain", "adam7"])
@pytest.mark.parametrize(("color_type", "bit_depth"), PNG_KINDS)
def test_png_every_bit_depth_and_color_type_identical(photo, color_type, bit_depth, interlace, filtered):
    rgb = photo[:37, :53].astype(np.uint32)
    gray = (rgb @ np.array([299, 587, 114]) // 1000).astype(np.uint32)
    rng = np.random.default_rng(color_type * 100 + bit_depth)
    top = (1 << bit_depth) - 1
    plte = trns = None
    if color_type == 3:
        n = min(1 << bit_depth, 200)
        # a real palette from the photo, shorter than the index range: larger indices are black
        plte = np.asarray(Image.fromarray(photo).quantize(n).getpalette()[: 3 * (n - 3 if n > 4 else n)], np.uint8)
        samples = rng.integers(0, min(1 << bit_depth, 256), size=gray.shape)
        trns = bytes([0, 255, 128])
    elif bit_depth == 16:
        spread = lambda v: v * 257 + rng.integers(0, 257, size=v.shape)  # noqa: E731 - full 16-bit range
        chans = {
            0: [gray],
            2: [rgb[..., 0], rgb[..., 1], rgb[..., 2]],
            4: [gray, gray],
            6: list(np.moveaxis(rgb, -1, 0)) + [gray],
        }
        samples = np.dstack([spread(c) for c in chans[color_type]])
        if color_type == 0:
            samples[::3, :, 0] = gray[::3]  # small values too: Pillow clips I;16 at 255 rather than rescaling
    else:
        g = gray >> (8 - bit_depth)
        chans = {0: [g], 2: list(np.moveaxis(rgb, -1, 0)), 4: [g, 255 - g], 6: list(np.moveaxis(rgb, -1, 0)) + [g]}
        samples = np.dstack(chans[color_type])
    assert samples.max() <= top
    filters = np.random.default_rng(bit_depth) if filtered else None
    data = make_png(
        samples,
        bit_depth,
        color_type,
        plte=plte,
        trns=trns,
        interlace=interlace,
        filters=filters,
        idat_parts=1 + 2 * filtered,
    )
    ref = pil_rgb(data)
    out = decode_image(data)
    assert out.dtype == np.uint8 and out.flags.c_contiguous
    np.testing.assert_array_equal(out, ref)


@pytest.mark.parametrize("default_image", [False, True])
def test_apng_first_frame_identical(photo, default_image):
    im = Image.fromarray(photo)
    frames = [im.rotate(90), im.transpose(Image.Transpose.FLIP_LEFT_RIGHT)]
    data = encoded(im, "PNG", save_all=True, append_images=frames, default_image=default_image, duration=50)
    np.testing.assert_array_equal(decode_image(data), pil_rgb(data))


def test_png_real_files_identical():
    skd = pathlib.Path(skdata.__file__).parent
    files = sorted(skd.glob("*.png"))
    assert files
    for path in files:
        np.testing.assert_array_equal(decode_image(path), pil_rgb(path.read_bytes()), err_msg=str(path))


@pytest.mark.parametrize("mode", ["RGB", "RGBA"])
@pytest.mark.parametrize("options", [{"compress_level": 1}, {"compress_level": 9}, {"optimize": True}], ids=str)
def test_png_full_size_photos_identical(photos, mode, options):
    """Whole photos as Pillow writes them (adaptive filters, mostly Paeth; many IDAT chunks): the
    multi-row Paeth path and the chunked inflate on real data."""
    for name, photo in photos.items():
        im = Image.fromarray(photo).convert(mode)
        if mode == "RGBA":
            im.putalpha(Image.fromarray((photo[..., 0] // 2 + 60).astype(np.uint8)))
        data = encoded(im, "PNG", **options)
        assert data.count(b"IDAT") > 1
        np.testing.assert_array_equal(decode_image(data), pil_rgb(data), err_msg=f"{name} {mode} {options}")


# --------------------------------------------------------------------------------------------
# JPEG: identical with libjpeg-turbo
# --------------------------------------------------------------------------------------------


def jpeg_cases(photos) -> dict[str, bytes]:
    cases: dict[str, bytes] = {}
    for name, arr in photos.items():
        im = Image.fromarray(arr)
        for q in (50, 90):
            for ss, tag in ((0, "444"), (1, "422"), (2, "420")):
                cases[f"{name}_q{q}_{tag}"] = encoded(im, "JPEG", quality=q, subsampling=ss)
        cases[f"{name}_progressive"] = encoded(im, "JPEG", quality=80, progressive=True)
        cases[f"{name}_gray"] = encoded(im.convert("L"), "JPEG", quality=80)
        cases[f"{name}_cmyk"] = encoded(im.convert("CMYK"), "JPEG", quality=80)
        cases[f"{name}_odd"] = encoded(im.crop((3, 5, 304, 206)), "JPEG", quality=75, subsampling=2)
    for path in sample_jpeg_paths():
        cases[path.name] = path.read_bytes()
    return cases


def test_jpeg_identical_to_pillow(photos):
    same = total = 0
    for name, data in jpeg_cases(photos).items():
        ref = pil_rgb(data)
        out = decode_image(data)
        assert out.shape == ref.shape, name
        if EXACT_JPEG:
            np.testing.assert_array_equal(out, ref, err_msg=name)
        eq = (out == ref).all(axis=-1)
        same += int(eq.sum())
        total += eq.size
        assert np.abs(out.astype(int) - ref).max() <= 8, name
    # zune-jpeg (pure-Rust fallback builds) measured 89.7% identical pixels on this kind of set
    assert same / total >= (1.0 if EXACT_JPEG else 0.85)


def test_zune_jpeg_fallback_is_close(photos):
    """The pure-Rust decoder: same shapes, a level or so off on some pixels (figure in the README)."""
    same = total = 0
    for name, data in jpeg_cases(photos).items():
        ref = pil_rgb(data)
        out = decode_image(data, jpeg_decoder="zune-jpeg")
        assert out.shape == ref.shape, name
        assert np.abs(out.astype(int) - ref).max() <= 8, name
        eq = (out == ref).all(axis=-1)
        same += int(eq.sum())
        total += eq.size
    assert 0.85 <= same / total


@pytest.mark.skipif(not EXACT_JPEG, reason="draft needs libjpeg-turbo")
@pytest.mark.parametrize("size", [(32, 32), (100, 80), (150, 300), (256, 256), (10_000, 10)])
def test_jpeg_draft_identical_to_pillow_draft(photos, size):
    for name, data in jpeg_cases(photos).items():
        with Image.open(io.BytesIO(data)) as im:
            im.draft("RGB", size)
            ref = np.asarray(im.convert("RGB"))
        out = decode_image(data, draft=size)
        assert out.shape == ref.shape, (name, size)
        np.testing.assert_array_equal(out, ref, err_msg=f"{name} {size}")


def test_draft_ignored_for_png(photo):
    data = encoded(photo, "PNG")
    np.testing.assert_array_equal(decode_image(data, draft=(8, 8)), photo)


# --------------------------------------------------------------------------------------------
# GIF: first frame, identical
# --------------------------------------------------------------------------------------------


def test_gif_real_file_identical():
    path = pathlib.Path(skdata.__file__).parent / "no_time_for_that_tiny.gif"
    if not path.exists():
        pytest.skip("skimage ships no GIF")
    np.testing.assert_array_equal(decode_image(path), pil_rgb(path.read_bytes()))


@pytest.mark.parametrize("kind", ["palette", "transparent", "gray", "animated", "small_palette"])
def test_gif_identical(photo, kind):
    im = Image.fromarray(photo)
    if kind == "palette":
        data = encoded(im.quantize(256), "GIF")
    elif kind == "transparent":
        data = encoded(im.quantize(64), "GIF", transparency=5)
    elif kind == "gray":
        data = encoded(im.convert("L"), "GIF")
    elif kind == "small_palette":
        data = encoded(im.quantize(5), "GIF")
    else:
        frames = [im.quantize(32), im.rotate(90).quantize(32), im.crop((10, 10, 60, 60)).resize(im.size).quantize(32)]
        data = encoded(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=50, loop=0)
    np.testing.assert_array_equal(decode_image(data), pil_rgb(data))


def test_gif_frame_offset_inside_and_beyond_screen(photo):
    """A first frame smaller than, and one overflowing, the logical screen (canvas filled like Pillow)."""
    idx = np.asarray(Image.fromarray(photo[:20, :30]).quantize(16))
    pal = bytes(Image.fromarray(photo).quantize(16).getpalette()[:48])

    def gif(screen, pos, transparent=None):
        from PIL import GifImagePlugin  # noqa: F401 - ensures the plugin is registered

        out = b"GIF89a" + struct.pack("<HHBBB", *screen, 0xF3, 0, 0) + pal
        if transparent is not None:
            out += b"!\xf9\x04\x01\x00\x00" + bytes([transparent]) + b"\x00"
        out += b"," + struct.pack("<HHHHB", *pos, idx.shape[1], idx.shape[0], 0)
        # uncompressed-style LZW: code size 4, clear code before every 12 literals keeps codes 5 bits
        codes, bits = [], 5
        flat = idx.reshape(-1).tolist()
        for i in range(0, len(flat), 12):
            codes.append(16)
            codes.extend(flat[i : i + 12])
        codes.append(17)
        acc = nbits = 0
        stream = bytearray()
        for c in codes:
            acc |= c << nbits
            nbits += bits
            while nbits >= 8:
                stream.append(acc & 0xFF)
                acc >>= 8
                nbits -= 8
        if nbits:
            stream.append(acc & 0xFF)
        blocks = b"".join(
            bytes([len(stream[i : i + 255])]) + bytes(stream[i : i + 255]) for i in range(0, len(stream), 255)
        )
        return out + b"\x04" + blocks + b"\x00;"

    for screen, pos, t in [((50, 40), (7, 9), None), ((50, 40), (7, 9), 3), ((25, 15), (10, 5), None)]:
        data = gif(screen, pos, t)
        ref = pil_rgb(data)
        np.testing.assert_array_equal(decode_image(data), ref, err_msg=f"{screen} {pos} {t}")


# --------------------------------------------------------------------------------------------
# WebP: identical (image-webp matches libwebp, lossy included)
# --------------------------------------------------------------------------------------------


def _has_pillow_webp() -> bool:
    from PIL import features

    return bool(features.check("webp"))


needs_webp = pytest.mark.skipif(not _has_pillow_webp(), reason="Pillow built without WebP")


@needs_webp
@pytest.mark.parametrize("kind", ["lossy50", "lossy90", "lossless", "lossy_alpha", "lossless_alpha", "animated"])
def test_webp_identical(photos, kind):
    for name, arr in photos.items():
        im = Image.fromarray(arr)
        if "alpha" in kind:
            a = np.asarray(im.convert("L"))
            im = Image.fromarray(np.dstack([arr, a]), "RGBA")
        if kind == "animated":
            frames = [im, im.rotate(90), im.transpose(Image.Transpose.FLIP_LEFT_RIGHT)]
            data = encoded(frames[0], "WEBP", save_all=True, append_images=frames[1:], duration=80, quality=80)
        elif kind.startswith("lossless"):
            data = encoded(im, "WEBP", lossless=True)
        else:
            data = encoded(im, "WEBP", quality=50 if kind == "lossy50" else 90)
        np.testing.assert_array_equal(decode_image(data), pil_rgb(data), err_msg=f"{name} {kind}")


# --------------------------------------------------------------------------------------------
# TIFF: identical for uncompressed / PackBits / LZW / Deflate, first page
# --------------------------------------------------------------------------------------------

TIFF_COMPRESSIONS = [None, "packbits", "tiff_lzw", "tiff_deflate", "tiff_adobe_deflate"]


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L", "LA", "1", "CMYK", "I;16"])
def test_tiff_identical(photo, mode):
    im = Image.fromarray(photo)
    if mode == "I;16":
        im = Image.fromarray(np.asarray(im.convert("L")).astype(np.uint16) * 3)
    elif mode == "RGBA":
        im = Image.fromarray(np.dstack([photo, np.asarray(im.convert("L"))]), "RGBA")
    else:
        im = im.convert(mode)
    for compression in TIFF_COMPRESSIONS:
        data = encoded(im, "TIFF", **({"compression": compression} if compression else {}))
        np.testing.assert_array_equal(decode_image(data), pil_rgb(data), err_msg=f"{mode} {compression}")
    # multi-page: the first page, as Image.open shows it
    data = encoded(im, "TIFF", save_all=True, append_images=[im.rotate(90)])
    np.testing.assert_array_equal(decode_image(data), pil_rgb(data))


def test_tiff_layouts_identical(photo):
    """16-bit RGB(A) both byte orders, 16-bit big-endian gray, WhiteIsZero, tiles, predictor,
    premultiplied alpha (written with tifffile, as Pillow cannot write them)."""
    tifffile = pytest.importorskip("tifffile")
    rng = np.random.default_rng(5)
    a16 = photo.astype(np.uint16) * 257 + rng.integers(0, 257, photo.shape).astype(np.uint16)
    a8 = photo
    assoc = np.dstack([a8, rng.integers(0, 256, photo.shape[:2]).astype(np.uint8)])
    assoc[..., :3] = np.minimum(assoc[..., :3], assoc[..., 3:])
    assoc[:3, :, 3] = 0
    cases = [
        (a16, {"photometric": "rgb"}),
        (a16, {"photometric": "rgb", "byteorder": ">"}),
        (np.dstack([a16, a16[..., :1]]), {"photometric": "rgb", "extrasamples": ["unassalpha"]}),
        (a16[..., 1], {"photometric": "minisblack", "byteorder": ">"}),
        (a8[..., 0], {"photometric": "miniswhite"}),
        (a8, {"photometric": "rgb", "tile": (32, 48)}),
        (a8, {"photometric": "rgb", "compression": "zlib", "predictor": True}),
        (assoc, {"photometric": "rgb", "extrasamples": ["assocalpha"]}),
    ]
    for i, (arr, kw) in enumerate(cases):
        buf = io.BytesIO()
        tifffile.imwrite(buf, arr, **kw)
        data = buf.getvalue()
        np.testing.assert_array_equal(decode_image(data), pil_rgb(data), err_msg=f"case {i}: {kw}")


def test_tiff_unsupported_kinds_raise(photo):
    for im, kw in [(Image.fromarray(photo).quantize(50), {}), (Image.fromarray(photo), {"compression": "jpeg"})]:
        data = encoded(im, "TIFF", **kw)
        assert pil_outcome(data) is not None
        with pytest.raises(ImageDecodeError, match="unsupported TIFF") as info:
            decode_image(data)
        assert info.value.kind == "unsupported"


# --------------------------------------------------------------------------------------------
# errors: named, classified, never a crash
# --------------------------------------------------------------------------------------------


def test_errors_name_the_file_and_reason(tmp_path, photo):
    cases = {
        "empty.jpg": (b"", "empty"),
        "text.png": (b"hello, I am not an image\n", "unknown-format"),
        "html.jpg": (b"<!DOCTYPE html><html></html>", "unknown-format"),
        "cut.jpg": (encoded(photo, "JPEG")[:1500], "truncated"),
        "cut.png": (encoded(photo, "PNG")[:2000], "truncated"),
    }
    for name, (data, kind) in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(ImageDecodeError) as info:
            decode_image(path)
        err = info.value
        assert isinstance(err, OSError)
        assert str(path) in str(err) and err.path == str(path), str(err)
        assert err.kind == kind, (name, err.kind, str(err))
        assert pil_outcome(data) is None  # Pillow refuses these too
        with pytest.raises(ImageDecodeError) as info:
            decode_image(data)
        assert info.value.path is None and info.value.kind == kind
    with pytest.raises(ImageDecodeError, match="does-not-exist") as info:
        decode_image(tmp_path / "does-not-exist.png")
    assert info.value.kind == "io"


def test_zero_size_png(tmp_path):
    data = make_png(np.zeros((1, 1, 3), np.uint8), 8, 2).replace(struct.pack(">II", 1, 1), struct.pack(">II", 0, 1), 1)
    # fix the IHDR CRC so that only the size is wrong
    ihdr = data[12:29]
    data = data[:29] + struct.pack(">I", zlib.crc32(ihdr)) + data[33:]
    assert pil_outcome(data) is None
    with pytest.raises(ImageDecodeError, match="zero size") as info:
        decode_image(data)
    assert info.value.kind == "zero-size"


def test_decompression_bomb_refused_before_allocating(tmp_path):
    # a header claiming 20000 x 20000 pixels (400 M > 2 * 89,478,485) with almost no data
    ihdr = struct.pack(">IIBBBBB", 20_000, 20_000, 8, 2, 0, 0, 0)
    data = (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", ihdr)
        + _chunk(b"IDAT", zlib.compress(b"\x00" * 100))
        + _chunk(b"IEND", b"")
    )
    from PIL import Image as PILImage

    with pytest.raises(PILImage.DecompressionBombError):
        PILImage.open(io.BytesIO(data))
    path = tmp_path / "bomb.png"
    path.write_bytes(data)
    with pytest.raises(ImageDecodeError, match="400000000 pixels exceeds") as info:
        decode_image(path)
    assert info.value.kind == "too-many-pixels" and str(path) in str(info.value)
    assert DEFAULT_MAX_PIXELS == 2 * PILImage.MAX_IMAGE_PIXELS


def test_max_pixels_setting(photo):
    for fmt in ("PNG", "JPEG", "GIF", "WEBP", "TIFF"):
        data = encoded(photo, fmt)
        n = photo.shape[0] * photo.shape[1]
        assert decode_image(data, max_pixels=n).shape == photo.shape
        with pytest.raises(ImageDecodeError, match=f"exceeds the limit of {n - 1} pixels"):
            decode_image(data, max_pixels=n - 1)
        assert decode_image(data, max_pixels=None).shape == photo.shape


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "GIF", pytest.param("WEBP", marks=needs_webp), "TIFF"])
def test_truncations_agree_with_pillow(photo, fmt):
    """At every cut point we raise exactly when Pillow raises, and match it when it does not."""
    data = encoded(photo[:64, :80], fmt, **({"progressive": True} if fmt == "JPEG" else {}))
    rng = np.random.default_rng(7)
    cuts = sorted(
        {*rng.integers(1, len(data), 40).tolist(), 1, 2, 7, 8, 12, 30, len(data) - 1, len(data) - 2, len(data) - 12}
    )
    for cut in cuts:
        part = data[:cut]
        ref = pil_outcome(part)
        if ref is None and fmt == "GIF" and cut >= len(data) - 3:
            # known difference: a GIF cut inside its last LZW sub-block, after the last pixel, decodes
            continue
        if ref is None:
            with pytest.raises(ImageDecodeError):
                decode_image(part)
        else:
            np.testing.assert_array_equal(decode_image(part), ref, err_msg=f"cut at {cut}")


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "GIF", pytest.param("WEBP", marks=needs_webp), "TIFF"])
def test_fuzz_never_crashes(photo, fmt):
    """Random byte flips and cuts: an array or ImageDecodeError, nothing else; where both decode the
    pixels are Pillow's, and we raise where Pillow raises (but for a few JPEG cases)."""
    data = bytearray(encoded(photo[:48, :64], fmt))
    rng = np.random.default_rng(11)
    outcomes = {"ok": 0, "error": 0, "only Pillow raises": 0, "only we raise": 0}
    for i in range(150):
        mutated = bytearray(data)
        for pos in rng.integers(0, len(mutated), int(rng.integers(1, 8))):
            mutated[pos] = int(rng.integers(0, 256))
        if i % 5 == 0:
            mutated = mutated[: int(rng.integers(1, len(mutated)))]
        ref = pil_outcome(bytes(mutated))
        try:
            out = decode_image(bytes(mutated))
            assert out.dtype == np.uint8 and out.ndim == 3 and out.shape[2] == 3
            outcomes["ok"] += 1
            if ref is not None:
                np.testing.assert_array_equal(out, ref, err_msg=f"mutation {i}")
            else:
                outcomes["only Pillow raises"] += 1
        except ImageDecodeError:
            outcomes["error"] += 1
            outcomes["only we raise"] += ref is not None
    for _ in range(50):
        garbage = data[:8] + rng.integers(0, 256, int(rng.integers(0, 400)), dtype=np.uint8).tobytes()
        try:
            decode_image(bytes(garbage))
        except ImageDecodeError:
            pass
    assert outcomes["error"] > 0
    # measured: PNG and GIF agree with Pillow on every mutation, JPEG, WebP and TIFF on about 99%
    assert outcomes["only Pillow raises"] + outcomes["only we raise"] <= 4, outcomes


# --------------------------------------------------------------------------------------------
# API
# --------------------------------------------------------------------------------------------


def test_sources_and_lazy_export(photo, tmp_path):
    data = encoded(photo, "PNG")
    path = tmp_path / "a.png"
    path.write_bytes(data)
    for src in (data, bytearray(data), memoryview(data), str(path), path):
        np.testing.assert_array_equal(imagegpt_rs.decode_image(src), photo)
    with pytest.raises(TypeError):
        decode_image(12345)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_pixels": 0},
        {"max_pixels": -5},
        {"max_pixels": True},
        {"max_pixels": 1.5},
        {"draft": (0, 5)},
        {"draft": (5,)},
        {"draft": "ab"},
        {"jpeg_decoder": "libpng"},
    ],
)
def test_bad_arguments(photo, kwargs):
    with pytest.raises(InputError):
        decode_image(encoded(photo, "PNG"), **kwargs)


def test_decoding_releases_the_gil(photos):
    """Threads decode concurrently without errors and with the same results."""
    from concurrent.futures import ThreadPoolExecutor

    data = [encoded(a, "JPEG", quality=85) for a in photos.values()] * 3
    refs = [pil_rgb(d) for d in data]
    with ThreadPoolExecutor(4) as pool:
        outs = list(pool.map(decode_image, data))
    for out, ref in zip(outs, refs):
        np.testing.assert_array_equal(out, ref)


def test_import_does_not_pull_pillow():
    import subprocess
    import sys

    code = "import sys, imagegpt_rs; imagegpt_rs.decode_image; assert 'PIL' not in sys.modules, 'PIL imported'"
    env = {**os.environ}
    subprocess.run([sys.executable, "-c", code], check=True, env=env)

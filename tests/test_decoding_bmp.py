"""BMP decoding in Rust vs Pillow 13's ``Image.open(...).convert("RGB")``, side by side.

Files Pillow writes from real photos (modes RGB, RGBA, L, P, 1) and hand-built headers for the
variants Pillow reads but does not write (OS/2 core header, V4/V5 headers, top-down rows, 4-bit and
1-bit palettes, BI_BITFIELDS 5-6-5 / 5-5-5 / 32-bit masks, RLE8 / RLE4, short palettes, indices past
the palette) must decode to Pillow's pixels; files Pillow refuses (truncated, unsupported depth,
compression or masks, RLE data that does not fill the image) must raise ``ImageDecodeError``.
"""

from __future__ import annotations

import io
import struct

import numpy as np
import pytest

from imagegpt_rs import ImageDecodeError
from imagegpt_rs.decoding import decode_image

Image = pytest.importorskip("PIL.Image")
from pillow_reference import pil_outcome, pil_rgb  # noqa: E402

skdata = pytest.importorskip("skimage.data")


def saved(im, fmt: str = "BMP") -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt)
    return buf.getvalue()


def bmp(
    width: int,
    height: int,
    bits: int,
    pixels: bytes,
    *,
    compression: int = 0,
    palette: bytes = b"",
    colors: int = 0,
    masks: bytes = b"",
    header_size: int = 40,
    top_down: bool = False,
    offset: int | None = None,
) -> bytes:
    """A BMP file with the given info header fields (masks go in the header for V2+ headers)."""
    if header_size == 12:
        info = struct.pack("<IHHHH", 12, width, height, 1, bits)
    else:
        h = -height if top_down else height
        info = struct.pack("<IiiHHIIiiII", header_size, width, h, 1, bits, compression, len(pixels), 0, 0, colors, 0)
        info = (info + masks).ljust(header_size, b"\0") if header_size > 40 else info + masks
    off = 14 + len(info) + len(palette) if offset is None else offset
    return b"BM" + struct.pack("<IHHI", off + len(pixels), 0, 0, off) + info + palette + pixels


def rows(arr: np.ndarray, bits: int, top_down: bool = False) -> bytes:
    """Packs an (h, w) index array or (h, w, k) byte array to padded BMP rows."""
    out = []
    for row in arr if top_down else arr[::-1]:
        if bits < 8:
            b = np.packbits(np.unpackbits(row.astype(np.uint8)[:, None], axis=1)[:, 8 - bits :].ravel()).tobytes()
        else:
            b = row.astype(np.uint8).tobytes() if bits != 16 else row.astype("<u2").tobytes()
        out.append(b + b"\0" * (-len(b) % 4))
    return b"".join(out)


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    return skdata.astronaut()[100:160, 150:227]  # 60 x 77: odd width, rows need padding


def check(data: bytes, label: str = "") -> np.ndarray:
    ref = pil_rgb(data)
    out = decode_image(data)
    np.testing.assert_array_equal(out, ref, err_msg=label)
    return out


def refused(data: bytes, kind: str | None = None, match: str | None = None) -> None:
    assert pil_outcome(data) is None, "Pillow decodes this"
    with pytest.raises(ImageDecodeError, match=match) as info:
        decode_image(data)
    if kind is not None:
        assert info.value.kind == kind, str(info.value)


# --------------------------------------------------------------------------------------------
# files Pillow writes
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L", "P", "1"])
def test_pillow_written_photos(mode):
    for name in ("astronaut", "coffee", "chelsea"):
        arr = getattr(skdata, name)()[::3, ::3]
        arr = arr[: arr.shape[0] - 1, : arr.shape[1] - 1]  # odd sizes
        im = Image.fromarray(arr)
        if mode == "RGBA":
            a = np.asarray(Image.fromarray(arr).convert("L"))
            im = Image.fromarray(np.dstack([arr, a]), "RGBA")
        elif mode == "P":
            im = im.quantize(200)
        else:
            im = im.convert(mode)
        data = saved(im)
        out = check(data, f"{name} {mode}")
        if mode in ("RGB", "RGBA"):
            np.testing.assert_array_equal(out, arr)


# --------------------------------------------------------------------------------------------
# hand-built variants
# --------------------------------------------------------------------------------------------


def test_headers_and_row_order(photo):
    h, w, _ = photo.shape
    bgr = photo[..., ::-1]
    for header_size in (12, 40, 52, 56, 64, 108, 124):
        for top_down in (False, True) if header_size != 12 else (False,):
            data = bmp(w, h, 24, rows(bgr, 24, top_down), header_size=header_size, top_down=top_down)
            out = check(data, f"{header_size} {top_down}")
            np.testing.assert_array_equal(out, photo)


def test_32_bit_bi_rgb_ignores_the_fourth_byte(photo):
    h, w, _ = photo.shape
    x = np.dstack([photo[..., ::-1], np.full((h, w), 77, np.uint8)])
    np.testing.assert_array_equal(check(bmp(w, h, 32, rows(x, 32))), photo)


@pytest.mark.parametrize("bits", [1, 4, 8])
def test_palettes(photo, bits):
    h, w, _ = photo.shape
    n = 1 << bits
    q = Image.fromarray(photo).quantize(n)
    idx = np.asarray(q)
    pal = np.asarray(q.getpalette()[: 3 * n], np.uint8).reshape(-1, 3)
    bgrx = np.hstack([pal[:, ::-1], np.zeros((len(pal), 1), np.uint8)]).tobytes()
    check(bmp(w, h, bits, rows(idx, bits), palette=bgrx, colors=n), "full palette")
    # OS/2 core header: 3-byte palette entries
    check(bmp(w, h, bits, rows(idx, bits), palette=pal[:, ::-1].tobytes(), header_size=12), "core")
    # a palette shorter than the indices: Pillow shows black past its end
    k = max(1, n // 2 - 1)
    out = check(bmp(w, h, bits, rows(idx, bits), palette=bgrx[: 4 * k], colors=k), "short palette")
    if bits > 1:
        assert (out[idx >= k] == 0).all()
    # gray ramps: Pillow opens them as L / 1
    ramp = bytes(v for i in range(n) for v in (i, i, i, 0)) if n > 2 else bytes([0] * 4 + [255, 255, 255, 0])
    if bits == 4:  # Pillow reads the 4-bit rows as 8-bit gray: they are too short
        refused(bmp(w, h, bits, rows(idx, bits), palette=ramp, colors=n), "corrupt", "codec configuration")
        check(bmp(4, 2, bits, bytes(range(8)), palette=ramp, colors=n), "gray ramp, 4 wide")
    else:
        check(bmp(w, h, bits, rows(idx, bits), palette=ramp, colors=n), "gray ramp")
    # pixel data at an offset past a gap
    data = bmp(w, h, bits, b"\x55" * 10 + rows(idx, bits), palette=bgrx, colors=n, offset=14 + 40 + len(bgrx) + 10)
    check(data, "offset")


def test_bitfields(photo):
    h, w, _ = photo.shape
    r, g, b = (photo[..., i].astype(np.uint16) for i in range(3))
    v565 = (r >> 3) << 11 | (g >> 2) << 5 | (b >> 3)
    v555 = (r >> 3) << 10 | (g >> 3) << 5 | (b >> 3)
    for vals, m in ((v565, (0xF800, 0x7E0, 0x1F)), (v555, (0x7C00, 0x3E0, 0x1F))):
        for hs in (40, 56, 124):
            check(
                bmp(w, h, 16, rows(vals, 16), compression=3, masks=struct.pack("<III", *m), header_size=hs), f"{m} {hs}"
            )
    check(bmp(w, h, 16, rows(v555, 16)), "BI_RGB 16 bit = 5-5-5")
    # every 16-bit value
    allv = np.arange(65536, dtype=np.uint16).reshape(256, 256)
    for m in ((0xF800, 0x7E0, 0x1F), (0x7C00, 0x3E0, 0x1F)):
        check(bmp(256, 256, 16, rows(allv, 16), compression=3, masks=struct.pack("<III", *m)), f"all {m}")
    # 32-bit layouts Pillow accepts (RGBA ones drop alpha)
    x = np.dstack([photo, np.full((h, w), 200, np.uint8)])
    layouts = {
        (0xFF0000, 0xFF00, 0xFF, 0): (2, 1, 0, 3),
        (0xFF000000, 0xFF0000, 0xFF00, 0): (3, 0, 1, 2),
        (0xFF000000, 0xFF00, 0xFF, 0): (3, 1, 0, 2),
        (0xFF000000, 0xFF0000, 0xFF00, 0xFF): (3, 0, 1, 2),
        (0xFF, 0xFF00, 0xFF0000, 0xFF000000): (0, 1, 2, 3),
        (0xFF0000, 0xFF00, 0xFF, 0xFF000000): (2, 1, 0, 3),
        (0xFF000000, 0xFF00, 0xFF, 0xFF0000): (3, 1, 0, 2),
        (0, 0, 0, 0): (2, 1, 0, 3),
    }
    for m, order in layouts.items():
        # order[k]: which of R, G, B, A goes to byte k
        order = {0xFF: 0, 0xFF00: 1, 0xFF0000: 2, 0xFF000000: 3}
        pos = [order.get(mask) for mask in m]
        data_bytes = np.zeros((h, w, 4), np.uint8)
        for ch, p in enumerate(pos):
            if p is not None:
                data_bytes[..., p] = x[..., ch]
        if m == (0, 0, 0, 0):
            data_bytes = x[..., [2, 1, 0, 3]]
        for hs in (40, 108) if m[3] == 0 else (108,):
            out = check(
                bmp(w, h, 32, rows(data_bytes, 32), compression=3, masks=struct.pack("<IIII", *m), header_size=hs),
                f"{m}",
            )
            np.testing.assert_array_equal(out, photo)
    check(
        bmp(w, h, 24, rows(photo[..., ::-1], 24), compression=3, masks=struct.pack("<III", 0xFF0000, 0xFF00, 0xFF)),
        "24",
    )
    for bits, m in ((16, (0xF00, 0xF0, 0xF)), (32, (0xFF, 0xFF00, 0xFF0000, 0)), (24, (0xFF, 0xFF00, 0xFF0000))):
        data = bmp(
            w, h, bits, b"\0" * (h * w * 4), compression=3, masks=struct.pack(f"<{len(m)}I", *m), header_size=108
        )
        refused(data, "unsupported", "BI_BITFIELDS layout")


def rle8(idx: np.ndarray) -> bytes:
    """An RLE8 stream mixing encoded runs, absolute runs, deltas (for rows of zeros) and EOLs."""
    out = bytearray()
    h, w = idx.shape
    for y, row in enumerate(idx[::-1]):
        if y % 7 == 3 and not row.any():
            out += bytes([0, 2, 0, 1])  # delta one row up, x stays 0
            continue
        x = 0
        while x < w:
            run = 1
            while x + run < w and row[x + run] == row[x] and run < 255:
                run += 1
            if run >= 3 or w - x < 3:
                out += bytes([run, row[x]])
                x += run
            else:
                n = min(w - x, 40)
                out += bytes([0, n]) + row[x : x + n].tobytes() + b"\0" * (n % 2)
                x += n
        out += b"\0\0"
    return bytes(out + b"\0\1")


def test_rle(photo):
    h, w, _ = photo.shape
    q = Image.fromarray(photo).quantize(16)
    idx = np.asarray(q).copy()
    idx[5] = 0  # a row of zeros, encoded as a delta
    pal = np.asarray(q.getpalette()[:48], np.uint8).reshape(-1, 3)
    bgrx = np.hstack([pal[:, ::-1], np.zeros((16, 1), np.uint8)]).tobytes()
    stream = rle8(idx)
    out = check(bmp(w, h, 8, stream, compression=1, palette=bgrx, colors=16), "RLE8")
    np.testing.assert_array_equal(out, pal[idx])
    check(bmp(w, h, 8, stream, compression=1, palette=bgrx, colors=16, top_down=True), "RLE8 top-down")
    # RLE4: encoded runs alternate two nibbles; absolute runs pack two indices a byte
    rng = np.random.default_rng(3)
    stream4 = bytearray()
    for _ in range(h):
        x = 0
        while x < w:
            n = min(int(rng.integers(3, 20)), w - x)
            if n >= 3 and rng.random() < 0.5:
                stream4 += bytes([0, n]) + rng.integers(0, 256, (n + 1) // 2, dtype=np.uint8).tobytes()
                stream4 += b"\0" * (((n + 1) // 2) % 2)
            else:
                stream4 += bytes([n, int(rng.integers(0, 256))])
            x += n
        stream4 += b"\0\0"
    stream4 += b"\0\1"
    check(bmp(w, h, 4, bytes(stream4), compression=2, palette=bgrx, colors=16), "RLE4")
    # overlong runs are clipped at the row end; a stream that ends early is refused like Pillow
    check(bmp(5, 2, 8, bytes([9, 1, 0, 0, 9, 2, 0, 1]), compression=1, palette=bgrx, colors=16), "overlong")
    refused(bmp(5, 2, 8, bytes([5, 1, 0, 1]), compression=1, palette=bgrx, colors=16), "truncated", "RLE")
    refused(bmp(w, h, 8, stream[: len(stream) // 2], compression=1, palette=bgrx, colors=16), "truncated")


def test_unsupported_and_corrupt():
    refused(bmp(4, 4, 2, b"\0" * 16, palette=b"\0" * 16), "unsupported", "pixel depth")
    refused(bmp(4, 4, 24, b"\0" * 64, compression=4), "unsupported", "compression")
    refused(bmp(4, 4, 24, b"\0" * 64, header_size=20), "unsupported", "header type")
    refused(bmp(4, 4, 24, b"\0" * 64, compression=1), "unsupported", "RLE")
    refused(bmp(0, 4, 24, b""), "zero-size")
    refused(b"BM\0\0", "truncated")


def test_truncations_agree_with_pillow(photo):
    for mode in ("RGB", "P", "1"):
        im = (
            Image.fromarray(photo[:20, :23]).convert(mode)
            if mode != "P"
            else Image.fromarray(photo[:20, :23]).quantize(30)
        )
        data = saved(im)
        for cut in range(1, len(data)):
            part = data[:cut]
            ref = pil_outcome(part)
            if ref is None:
                with pytest.raises(ImageDecodeError):
                    decode_image(part)
            else:
                np.testing.assert_array_equal(decode_image(part), ref, err_msg=f"{mode} cut at {cut}")


def test_bomb_guard_before_allocating():
    data = bmp(40_000, 40_000, 24, b"\0" * 100)
    with pytest.raises(Image.DecompressionBombError):
        Image.open(io.BytesIO(data))
    with pytest.raises(ImageDecodeError, match="1600000000 pixels exceeds") as info:
        decode_image(data)
    assert info.value.kind == "too-many-pixels"
    with pytest.raises(ImageDecodeError) as info:
        decode_image(data, max_pixels=None)
    assert info.value.kind == "truncated"


@pytest.mark.parametrize("kind", ["RGB", "P", "RLE8", "BITFIELDS"])
def test_fuzz_agrees_with_pillow(photo, kind):
    """Random byte flips and cuts: our array equals Pillow's, and we raise exactly when it raises."""
    small = photo[:24, :29]
    if kind == "RGB":
        data = saved(Image.fromarray(small))
    elif kind == "P":
        data = saved(Image.fromarray(small).quantize(20))
    elif kind == "RLE8":
        q = Image.fromarray(small).quantize(16)
        pal = np.asarray(q.getpalette()[:48], np.uint8).reshape(-1, 3)
        bgrx = np.hstack([pal[:, ::-1], np.zeros((16, 1), np.uint8)]).tobytes()
        data = bmp(29, 24, 8, rle8(np.asarray(q)), compression=1, palette=bgrx, colors=16)
    else:
        r, g, b = (small[..., i].astype(np.uint16) for i in range(3))
        v = (r >> 3) << 11 | (g >> 2) << 5 | (b >> 3)
        data = bmp(29, 24, 16, rows(v, 16), compression=3, masks=struct.pack("<III", 0xF800, 0x7E0, 0x1F))
    rng = np.random.default_rng(5)
    disagree = []
    for i in range(300):
        m = bytearray(data)
        # flip bytes, mostly in the headers where the decisions are
        for _ in range(int(rng.integers(1, 4))):
            pos = int(rng.integers(0, 70)) if rng.random() < 0.7 else int(rng.integers(0, len(m)))
            m[pos] = int(rng.integers(0, 256))
        if i % 4 == 0:
            m = m[: int(rng.integers(1, len(m)))]
        try:
            out = decode_image(bytes(m), max_pixels=1 << 20)
        except ImageDecodeError as e:
            # a flipped width makes a small RLE stream claim millions of pixels: not worth Pillow's time
            if e.kind != "too-many-pixels" and pil_outcome(bytes(m)) is not None:
                disagree.append((i, "only we raise"))
            continue
        ref = pil_outcome(bytes(m))
        if ref is None:
            disagree.append((i, "only Pillow raises"))
        else:
            np.testing.assert_array_equal(out, ref, err_msg=f"mutation {i}")
    assert not disagree, disagree


def test_paths_and_error_messages(tmp_path, photo):
    data = saved(Image.fromarray(photo))
    path = tmp_path / "photo.bmp"
    path.write_bytes(data)
    np.testing.assert_array_equal(decode_image(path), photo)
    cut = tmp_path / "cut.bmp"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageDecodeError, match="truncated BMP") as info:
        decode_image(cut)
    assert info.value.path == str(cut) and str(cut) in str(info.value)
    with Image.open(cut) as im, pytest.raises(OSError):
        im.convert("RGB")

"""Writes the fuzz seed corpus (corpus/<format>/): tiny crops of scikit-image's `astronaut.png`
(NASA, public domain) and `coffee.png` (CC0, Rachel Michetti) in every decoder's variants, each a few
KB at most; small tar archives in each header format Python's tarfile writes (ustar, GNU long names,
pax), holding some of those images; random bytes for the resize and config targets.
Run with Pillow and scikit-image installed: `python fuzz/make_seeds.py`."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import numpy as np
from PIL import Image
from skimage import data

OUT = Path(__file__).parent / "corpus"


def save(fmt: str, name: str, img: Image.Image, **kw: object) -> None:
    buf = io.BytesIO()
    img.save(buf, format=fmt.upper() if fmt != "jpeg" else "JPEG", **kw)
    d = OUT / fmt
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(buf.getvalue())


def main() -> None:
    astro = Image.fromarray(data.astronaut()).resize((24, 18), Image.Resampling.BOX)
    coffee = Image.fromarray(data.coffee()).resize((17, 13), Image.Resampling.BOX)
    rgba = coffee.convert("RGBA")
    rgba.putalpha(Image.fromarray(np.tile(np.arange(0, 255, 15, dtype=np.uint8), (13, 1))[:, :17]))
    for i, img in enumerate([astro, coffee]):
        save("jpeg", f"baseline{i}.jpg", img, quality=80)
        save("jpeg", f"progressive{i}.jpg", img, quality=70, progressive=True)
        save("jpeg", f"gray{i}.jpg", img.convert("L"))
        save("jpeg", f"s422_{i}.jpg", img, subsampling=1)
        save("jpeg", f"s444_{i}.jpg", img, subsampling=0, optimize=True)
        save("jpeg", f"cmyk{i}.jpg", img.convert("CMYK"))
        save("png", f"rgb{i}.png", img)
        save("png", f"gray{i}.png", img.convert("L"))
        save("png", f"pal{i}.png", img.convert("P", palette=Image.Palette.ADAPTIVE, colors=16))
        save("png", f"interlaced{i}.png", img, interlace=1)
        save("png", f"la{i}.png", img.convert("LA"))
        save("png", f"bw{i}.png", img.convert("1"))
        save("png", f"i16_{i}.png", img.convert("I;16"))
        save("gif", f"pal{i}.gif", img.convert("P", palette=Image.Palette.ADAPTIVE, colors=32))
        save("gif", f"anim{i}.gif", img, save_all=True, append_images=[img.rotate(90)], transparency=0)
        save("webp", f"lossy{i}.webp", img, quality=60)
        save("webp", f"lossless{i}.webp", img, lossless=True)
        for comp in [None, "tiff_lzw", "tiff_adobe_deflate", "packbits"]:
            save("tiff", f"rgb_{comp}_{i}.tiff", img, compression=comp)
        save("tiff", f"gray{i}.tiff", img.convert("L"))
        save("tiff", f"bw{i}.tiff", img.convert("1"))
        save("tiff", f"i16_{i}.tiff", img.convert("I;16"))
        save("bmp", f"rgb{i}.bmp", img)
        save("bmp", f"pal{i}.bmp", img.convert("P", palette=Image.Palette.ADAPTIVE, colors=16))
        save("bmp", f"gray{i}.bmp", img.convert("L"))
        save("bmp", f"bw{i}.bmp", img.convert("1"))
    save("png", "rgba.png", rgba)
    save("webp", "rgba.webp", rgba)
    save("tiff", "rgba.tiff", rgba)
    save("bmp", "rgba.bmp", rgba)
    misc = OUT / "misc"
    misc.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(8):
        (misc / f"bytes{i}").write_bytes(rng.integers(0, 256, size=64, dtype=np.uint8).tobytes())
    tars()


def tars() -> None:
    """Tar seeds: a WebDataset-like shard per header format (member names past 100 bytes need the GNU
    long-name or pax records), plus a directory and a symlink, which the reader skips."""
    d = OUT / "tar"
    d.mkdir(parents=True, exist_ok=True)
    images = [OUT / "png" / "gray0.png", OUT / "bmp" / "bw1.bmp"]
    for fmt, name in [(tarfile.USTAR_FORMAT, "ustar"), (tarfile.GNU_FORMAT, "gnu"), (tarfile.PAX_FORMAT, "pax")]:
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=fmt) as tar:
            for i, path in enumerate(images):
                stem = f"sample{i:06d}" if fmt == tarfile.USTAR_FORMAT else "d/" * 60 + f"sample{i:06d}"
                body = path.read_bytes()
                info = tarfile.TarInfo(f"{stem}{path.suffix}")
                info.size = len(body)
                tar.addfile(info, io.BytesIO(body))
                cls = tarfile.TarInfo(f"{stem}.cls")
                cls.size = 2
                tar.addfile(cls, io.BytesIO(b"%d\n" % i))
            folder = tarfile.TarInfo("folder")
            folder.type = tarfile.DIRTYPE
            tar.addfile(folder)
            link = tarfile.TarInfo("link.png")
            link.type = tarfile.SYMTYPE
            link.linkname = "sample000000.png"
            tar.addfile(link)
        (d / f"{name}.tar").write_bytes(buf.getvalue())


if __name__ == "__main__":
    main()

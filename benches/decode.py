"""One large file at a time, one core: our decoder against Pillow's, per format.

    python benches/decode.py [--json PATH] [--quick]

Real photos upscaled to 12 and 20 megapixels and saved as JPEG (quality 90) and PNG (RGB and
grayscale, zlib level 1 and 6). For each file: Pillow (`np.asarray(Image.open(f).convert("RGB"))`)
and ours (`decode_image`, which decodes on the calling thread) give the same pixels (checked), and the
best time of each is printed with the ratio; then `encode_files` of the 20-megapixel PNG to 32x32 ids,
whose rows go straight into the resize.
"""

from __future__ import annotations

import argparse
import io
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from _common import Report, add_report_args, banner, best_time, real_photos  # noqa: E402


def main() -> None:
    from PIL import Image

    from imagegpt_rs import ImageGPTImageProcessor
    from imagegpt_rs.decoding import decode_image
    from imagegpt_rs.encoding import encode_bytes

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_report_args(ap)
    args = ap.parse_args()
    banner(["imagegpt-rs", "pillow"])
    rep = Report("decode", ["imagegpt-rs", "pillow"], args)
    photo = Image.fromarray(real_photos()[0])
    files: dict[str, bytes] = {}
    sizes = [(1, (1155, 866))] if args.quick else [(12, (4000, 3000)), (20, (4472, 4472))]
    for mp, size in sizes:
        big = photo.resize(size, Image.BILINEAR)
        for label, mode, fmt, kw in [
            ("JPEG q90", "RGB", "JPEG", {"quality": 90}),
            ("PNG RGB, level 1", "RGB", "PNG", {"compress_level": 1}),
            ("PNG RGB, level 6", "RGB", "PNG", {"compress_level": 6}),
            ("PNG gray, level 1", "L", "PNG", {"compress_level": 1}),
        ]:
            buf = io.BytesIO()
            big.convert(mode).save(buf, fmt, **kw)
            files[f"{mp} MP {label}"] = buf.getvalue()

    def pil(data: bytes) -> np.ndarray:
        with Image.open(io.BytesIO(data)) as im:
            return np.asarray(im.convert("RGB"))

    rows = []
    for name, data in files.items():
        assert np.array_equal(decode_image(data), pil(data)), name
        t_pil = best_time(lambda: pil(data), repeat=3, min_time=0.0)
        t_ours = best_time(lambda: decode_image(data), repeat=3, min_time=0.0)
        rows.append([name, f"{t_pil * 1e3:,.0f}", f"{t_ours * 1e3:,.0f}", f"{t_pil / t_ours:.1f}x"])
    rep.table(
        "Decoding one file on one core (identical pixels checked)", ["file", "Pillow ms", "ours ms", "vs Pillow"], rows
    )

    processor = ImageGPTImageProcessor(size=32)
    for name, data in files.items():
        if name.endswith(("JPEG q90", "PNG RGB, level 1")):
            t = best_time(lambda: encode_bytes([data], processor), repeat=3, min_time=0.0)
            rep.note(
                f"encode_bytes of the {name} file to 32x32 ids (rows streamed into the resize), "
                f"one image: {t * 1e3:.0f} ms"
            )
    rep.save()


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Smoke test of an installed imagegpt-rs wheel (run by .ci/wheel inside clean Debian systems, and by the
release workflow on each wheel). Needs only the wheel plus transformers==4.57.*, pillow, scikit-image, numpy.

    python .ci/smoke_test.py [--examples examples/images] [--workdir DIR]

Checks, each timed:
  (a) the README's main job: `imagegpt-rs encode examples/images -o tokens --size 32`, then
      `imagegpt-rs preview tokens -o preview.png`; outputs exist and have the expected shapes;
  (b) input_ids equal transformers 4.57's slow ImageGPTImageProcessor on real photos (scikit-image) at two
      sizes, for a random 512-cluster palette and the built-in one: on arrays, and through encode_files on
      saved JPEG/PNG files against PIL.Image.open + transformers;
  (c) damaged JPEGs (a real photo encoded by Pillow, then cut / bytes overwritten at fixed seeds) decode to
      Pillow's `Image.open(...).convert("RGB")` pixels or both refuse them, with the semantics of
      tests/test_decoding.py (cuts: always agree; byte flips: identical pixels whenever both decode);
  (d) prints imagegpt_rs.__version__ and build_info() when present (jpeg_simd must be on for x86-64/aarch64).

Exits non-zero on any failure; the last line is `SMOKE-RESULT {json}`.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

import numpy as np

RESULTS: dict[str, dict] = {}


def section(name: str):
    def wrap(fn):
        def run(*args, **kwargs):
            t0 = time.perf_counter()
            print(f"== {name}", flush=True)
            try:
                detail = fn(*args, **kwargs)
                RESULTS[name] = {"ok": True, "seconds": round(time.perf_counter() - t0, 2), **(detail or {})}
                print(f"   ok ({RESULTS[name]['seconds']} s) {detail or ''}", flush=True)
            except Exception as e:  # noqa: BLE001 - report every section, fail at the end
                traceback.print_exc()
                RESULTS[name] = {"ok": False, "seconds": round(time.perf_counter() - t0, 2), "error": repr(e)[:500]}
                print(f"   FAILED ({RESULTS[name]['seconds']} s): {e!r}", flush=True)

        return run

    return wrap


@section("d_version")
def check_version() -> dict:
    import imagegpt_rs
    from imagegpt_rs.decoding import DEFAULT_JPEG_DECODER

    out = {"version": imagegpt_rs.__version__, "jpeg_decoder": DEFAULT_JPEG_DECODER,
           "python": platform.python_version(), "machine": platform.machine()}
    print(f"   imagegpt_rs {imagegpt_rs.__version__} from {imagegpt_rs.__file__}")
    assert DEFAULT_JPEG_DECODER == "libjpeg-turbo", DEFAULT_JPEG_DECODER
    if hasattr(imagegpt_rs, "build_info"):
        info = imagegpt_rs.build_info()
        print(f"   build_info() = {info}")
        out["build_info"] = info
        if platform.machine().lower() in ("x86_64", "amd64", "aarch64", "arm64"):
            assert info.get("jpeg_simd") is True, f"libjpeg-turbo without SIMD on {platform.machine()}: {info}"
    else:
        print("   no imagegpt_rs.build_info() in this build")
    return out


def _cli() -> list[str]:
    """The installed console script of this interpreter's environment (bin/ or Scripts\\), else python -m."""
    here = Path(sys.executable).parent
    for folder in (here, here / "Scripts", None):
        found = shutil.which("imagegpt-rs", path=None if folder is None else str(folder))
        if found:
            return [found]
    return [sys.executable, "-m", "imagegpt_rs"]


@section("a_readme_main_job")
def check_main_job(examples: Path, work: Path) -> dict:
    from PIL import Image

    from imagegpt_rs.encoding import load_directory

    images = sorted(p for p in examples.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    assert images, f"no example images in {examples}"
    tokens, preview = work / "tokens", work / "preview.png"
    shutil.rmtree(tokens, ignore_errors=True)
    subprocess.run([*_cli(), "encode", str(examples), "-o", str(tokens), "--size", "32"], check=True, cwd=work)
    subprocess.run([*_cli(), "preview", str(tokens), "-o", str(preview)], check=True, cwd=work)
    assert (tokens / "manifest.json").is_file()
    ids, indices, manifest = load_directory(tokens)
    assert ids.shape == (len(images), 32 * 32), ids.shape
    assert int(ids.min()) >= 0 and int(ids.max()) < 512, (ids.min(), ids.max())
    assert sorted(indices.tolist()) == list(range(len(images)))
    with Image.open(preview) as im:
        im.load()
        assert im.mode == "RGB" and im.width >= 32 and im.height >= 32, (im.mode, im.size)
        size = im.size
    return {"images": len(images), "ids_shape": list(ids.shape), "preview_size": list(size)}


def _photos() -> dict[str, np.ndarray]:
    import skimage.data as skdata

    return {name: getattr(skdata, name)() for name in ("astronaut", "coffee", "chelsea", "rocket")}


@section("b_ids_equal_transformers")
def check_ids(work: Path) -> dict:
    import transformers
    from PIL import Image

    from imagegpt_rs import ImageGPTImageProcessor
    from imagegpt_rs.encoding import encode_files

    assert transformers.__version__.startswith("4.57."), transformers.__version__
    photos = _photos()
    files = []
    for name, arr in photos.items():
        im = Image.fromarray(arr)
        files.append(work / f"{name}.jpg")
        im.save(files[-1], quality=90)
        files.append(work / f"{name}.png")
        im.save(files[-1])
    files.append(work / "astronaut_444_progressive.jpg")
    Image.fromarray(photos["astronaut"]).save(files[-1], quality=95, subsampling=0, progressive=True)
    pil_images = [Image.open(p).convert("RGB") for p in files]

    random_palette = np.random.default_rng(0).uniform(-1, 1, (512, 3))
    builtin = np.asarray(ImageGPTImageProcessor(size=32).clusters, dtype=np.float64)
    tokens = 0
    for pal_name, clusters in (("random512", random_palette), ("builtin", builtin)):
        for size in (32, (24, 40)):
            ours = ImageGPTImageProcessor(clusters, size=size)
            theirs = transformers.ImageGPTImageProcessor(clusters, size=size)
            arrays = list(photos.values())
            a = ours(arrays, return_tensors="np")["input_ids"]
            b = theirs(arrays, return_tensors="np")["input_ids"]
            np.testing.assert_array_equal(a, b, err_msg=f"arrays, {pal_name}, size {size}")
            result = encode_files([str(p) for p in files], ours)
            assert result.failures == [], result.failures
            expected = theirs(pil_images, return_tensors="np")["input_ids"]
            np.testing.assert_array_equal(result.ids, expected, err_msg=f"files, {pal_name}, size {size}")
            tokens += a.size + expected.size
    return {"tokens_compared": int(tokens), "photos": len(photos), "files": len(files)}


def _pil_outcome(data: bytes, load_truncated: bool = False):
    """Pillow's np.asarray(Image.open(...).convert("RGB")), or None when Pillow raises (tests/pillow_reference.py);
    with load_truncated, under ImageFile.LOAD_TRUNCATED_IMAGES."""
    from PIL import Image, ImageFile

    saved = ImageFile.LOAD_TRUNCATED_IMAGES
    ImageFile.LOAD_TRUNCATED_IMAGES = load_truncated
    try:
        with Image.open(io.BytesIO(data)) as im:
            return np.asarray(im.convert("RGB"))
    except Exception:  # noqa: BLE001 - any Pillow failure counts as "Pillow refuses"
        return None
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = saved


@section("c_damaged_jpegs_vs_pillow")
def check_damaged_jpegs() -> dict:
    from PIL import Image

    from imagegpt_rs import ImageDecodeError
    from imagegpt_rs.decoding import decode_image

    photo = _photos()["astronaut"][100:196, 120:248]
    counts = {"cases": 0, "both_decode": 0, "both_refuse": 0, "only_pillow_refuses": 0, "only_we_refuse": 0}
    mismatched = []
    for kind, kw in (("baseline", {"quality": 85}), ("progressive", {"quality": 85, "progressive": True})):
        buf = io.BytesIO()
        Image.fromarray(photo).save(buf, "JPEG", **kw)
        data = buf.getvalue()
        cases = []
        rng = np.random.default_rng(7)
        for cut in sorted({*rng.integers(1, len(data), 12).tolist(), len(data) - 1, len(data) - 2, len(data) - 12}):
            cases.append((f"{kind} cut at {cut}", data[:cut], True))
        rng = np.random.default_rng(11)
        for i in range(20):
            mutated = bytearray(data)
            for pos in rng.integers(0, len(mutated), int(rng.integers(1, 8))):
                mutated[pos] = int(rng.integers(0, 256))
            cases.append((f"{kind} mutation {i}", bytes(mutated), False))
        for name, blob, is_cut in cases:
            counts["cases"] += 1
            ref = _pil_outcome(blob)
            try:
                out = decode_image(blob)
            except ImageDecodeError:
                out = None
            if out is None and ref is None:
                counts["both_refuse"] += 1
            elif out is not None and ref is not None:
                counts["both_decode"] += 1
                if out.shape != ref.shape or not np.array_equal(out, ref):
                    mismatched.append(f"{name}: pixels differ")
            elif out is None:
                counts["only_we_refuse"] += 1
                if is_cut:
                    mismatched.append(f"{name}: we refuse, Pillow decodes")
            else:
                # Pillow decodes corrupt progressive scans too, then raises "broken data stream" at the end;
                # with LOAD_TRUNCATED_IMAGES it returns those pixels, which must be ours.
                counts["only_pillow_refuses"] += 1
                lenient = _pil_outcome(blob, load_truncated=True)
                if is_cut:
                    mismatched.append(f"{name}: Pillow refuses, we decode")
                elif lenient is None or lenient.shape != out.shape or not np.array_equal(out, lenient):
                    mismatched.append(f"{name}: Pillow refuses, we decode other pixels than its LOAD_TRUNCATED_IMAGES")
                else:
                    counts["only_pillow_refuses_same_as_load_truncated"] = counts.get("only_pillow_refuses_same_as_load_truncated", 0) + 1
    # As tests/test_decoding.py: cuts always agree with Pillow; wherever both decode the pixels are identical;
    # on byte flips a few one-sided outcomes are allowed (the tests allow 4 in 150 JPEG mutations); here
    # every "only Pillow refuses" case must also give Pillow's LOAD_TRUNCATED_IMAGES pixels.
    assert not mismatched, mismatched
    assert counts["only_we_refuse"] <= 2, counts
    assert counts["both_decode"] > 0 and counts["both_refuse"] > 0, counts
    return counts


def main() -> int:
    here = Path(__file__).resolve().parent
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--examples", type=Path, default=here.parent / "examples" / "images")
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    t0 = time.perf_counter()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="imagegpt-rs-smoke-"))
    work.mkdir(parents=True, exist_ok=True)
    os.chdir(work)
    check_version()
    check_main_job(args.examples.resolve(), work)
    check_ids(work)
    check_damaged_jpegs()
    ok = all(r["ok"] for r in RESULTS.values())
    summary = {"ok": ok, "seconds": round(time.perf_counter() - t0, 1), "sections": RESULTS}
    print("SMOKE-RESULT " + json.dumps(summary, default=str), flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

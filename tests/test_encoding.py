"""Dataset-scale encoding: files to input_ids against PIL.Image.open + transformers' processor."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from imagegpt_rs import ImageDecodeError, ImageGPTError, ImageGPTImageProcessor, ManifestError
from imagegpt_rs.encoding import encode_bytes, encode_files, encode_to_directory, expand_inputs, load_directory

PIL_Image = pytest.importorskip("PIL.Image")
transformers = pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def photo_files(tmp_path_factory, rgb_photos):
    """Real photos written as PNG and JPEG (4:2:0 and 4:4:4), at their size and downscaled."""
    d = tmp_path_factory.mktemp("photos")
    paths = []
    for name, arr in rgb_photos.items():
        im = PIL_Image.fromarray(arr)
        paths.append(str(d / f"{name}.png"))
        im.save(paths[-1])
        paths.append(str(d / f"{name}.jpg"))
        im.save(paths[-1], quality=85)
        paths.append(str(d / f"{name}_444.jpg"))
        im.save(paths[-1], quality=95, subsampling=0)
    return paths


def _reference(paths, clusters, size):
    theirs = transformers.ImageGPTImageProcessor(clusters, size=size)
    images = [PIL_Image.open(p).convert("RGB") for p in paths]
    return theirs(images, return_tensors="np")["input_ids"]


@pytest.mark.parametrize("size", [32, (24, 40)])
def test_files_equal_pil_open_then_transformers(photo_files, photo_palette, size):
    processor = ImageGPTImageProcessor(photo_palette, size=size)
    result = encode_files(photo_files, processor)
    assert result.failures == []
    np.testing.assert_array_equal(result.indices, np.arange(len(photo_files)))
    expected = _reference(photo_files, photo_palette, size)
    png = [i for i, p in enumerate(photo_files) if p.endswith(".png")]
    np.testing.assert_array_equal(result.ids[png], expected[png])
    # JPEG: libjpeg-turbo, the decoder Pillow uses, gives identical pixels and so identical tokens.
    np.testing.assert_array_equal(result.ids, expected)


@pytest.mark.parametrize("resample", [PIL_Image.BILINEAR, PIL_Image.BICUBIC, PIL_Image.NEAREST])
def test_png_modes_and_shapes_equal_pil_open_then_transformers(tmp_path, rgb_photos, photo_palette, resample):
    """PNGs go from their rows straight into the resize (no full-size image) when the resize can run
    on rows; every mode, wide, square and very tall shapes (the last resizes vertically first and so
    decodes whole) must give transformers' ids either way."""
    photo = next(iter(rgb_photos.values()))
    shapes = [photo[:300, :400], photo[:200, :200], photo[:400, :30], photo[:33, :32]]
    paths = []
    for k, arr in enumerate(shapes):
        im = PIL_Image.fromarray(np.ascontiguousarray(arr))
        for mode in ["RGB", "RGBA", "L", "LA", "P", "1", "I;16"]:
            paths.append(str(tmp_path / f"{k}_{mode.replace(';', '')}.png"))
            im.convert(mode).save(paths[-1])
    processor = ImageGPTImageProcessor(photo_palette, size=32, resample=resample)
    result = encode_files(paths, processor)
    assert result.failures == []
    theirs = transformers.ImageGPTImageProcessor(photo_palette, size=32, resample=resample)
    expected = theirs([PIL_Image.open(p).convert("RGB") for p in paths], return_tensors="np")["input_ids"]
    np.testing.assert_array_equal(result.ids, expected)
    with open(paths[0], "rb") as f:
        np.testing.assert_array_equal(encode_bytes([f.read()], processor).ids[0], expected[0])


@pytest.mark.parametrize("resample", [PIL_Image.BILINEAR, PIL_Image.BICUBIC])
def test_jpeg_kinds_and_damaged_jpegs_equal_pil_open_then_transformers(tmp_path, rgb_photos, photo_palette, resample):
    """JPEG rows go straight into the resize (libjpeg-turbo's scanline decoding) when the file decodes
    cleanly, and take the whole-image path otherwise: baseline 4:2:0, 4:2:2 and 4:4:4, progressive,
    restart markers, grayscale and CMYK files, and damaged copies (flipped bits in the scan data, cut
    files) must give transformers' ids on what Pillow decodes, and fail where Pillow fails."""
    photo = next(iter(rgb_photos.values()))
    im = PIL_Image.fromarray(np.ascontiguousarray(photo[:301, :397]))
    kinds = {
        "420": dict(quality=85),
        "422": dict(quality=90, subsampling=1),
        "444": dict(quality=95, subsampling=0),
        "progressive": dict(quality=80, progressive=True),
        "restart": dict(quality=85, restart_marker_rows=1),
    }
    files = {}
    for name, kw in kinds.items():
        files[name] = _jpeg(im, **kw)
    files["gray"] = _jpeg(im.convert("L"), quality=85)
    files["cmyk"] = _jpeg(im.convert("CMYK"), quality=90)
    rng = np.random.default_rng(7)
    for name in ["420", "progressive", "gray"]:
        data = files[name]
        for k in range(6):
            bad = bytearray(data)
            if k % 3 == 0:
                bad = bad[: int(len(bad) * rng.uniform(0.3, 0.95))]
            else:
                for _ in range(k):
                    at = int(rng.integers(len(data) // 3, len(data) - 2))  # mostly scan data
                    bad[at] ^= 1 << int(rng.integers(8))
            files[f"{name}_damaged{k}"] = bytes(bad)
    paths = []
    for name, data in files.items():
        paths.append(str(tmp_path / f"{name}.jpg"))
        with open(paths[-1], "wb") as f:
            f.write(data)
    processor = ImageGPTImageProcessor(photo_palette, size=32, resample=resample)
    result = encode_files(paths, processor, on_error="skip")
    failed = {f.index for f in result.failures}
    theirs = transformers.ImageGPTImageProcessor(photo_palette, size=32, resample=resample)
    row = dict(zip(result.indices.tolist(), range(len(result.indices))))
    for i, p in enumerate(paths):
        try:
            pil = PIL_Image.open(p).convert("RGB")
        except OSError:
            assert i in failed, f"{p}: Pillow fails, we decoded it"
            continue
        assert i not in failed, f"{p}: Pillow decodes it, we failed"
        expected = theirs(pil, return_tensors="np")["input_ids"][0]
        np.testing.assert_array_equal(result.ids[row[i]], expected, err_msg=p)
    assert len(failed) <= len(paths) - 7  # the undamaged kinds at least


def _jpeg(im, **kw) -> bytes:
    import io

    buf = io.BytesIO()
    im.save(buf, "JPEG", **kw)
    return buf.getvalue()


def test_processor_method_is_encode_files(photo_files, photo_palette):
    processor = ImageGPTImageProcessor(photo_palette, size=12)
    a = processor.encode_files(photo_files[:4], dtype=np.int32)
    assert a.ids.dtype == np.int32
    np.testing.assert_array_equal(a.ids, _reference(photo_files[:4], photo_palette, 12))


def test_draft_agreement_with_exact_mode(photo_files, photo_palette):
    """--draft decodes JPEGs at 1/2-1/8 scale (Pillow's Image.draft), so its tokens differ from the
    exact path's on part of the image; PNGs are never drafted. The README quotes the measured share."""
    processor = ImageGPTImageProcessor(photo_palette, size=32)
    exact = encode_files(photo_files, processor)
    draft = encode_files(photo_files, processor, draft=True)
    png = [i for i, p in enumerate(photo_files) if p.endswith(".png")]
    jpg = [i for i, p in enumerate(photo_files) if not p.endswith(".png")]
    np.testing.assert_array_equal(draft.ids[png], exact.ids[png])
    share = (draft.ids[jpg] == exact.ids[jpg]).mean()
    assert 0.5 < share < 1.0, share  # 0.70 here with this fine 512-color palette


def test_bytes_and_dtypes(photo_files, photo_palette):
    processor = ImageGPTImageProcessor(photo_palette, size=16)
    blobs = [open(p, "rb").read() for p in photo_files[:6]]
    a = encode_bytes(blobs, processor, dtype=np.uint16)
    b = encode_files(photo_files[:6], processor, dtype=np.int64)
    assert a.ids.dtype == np.uint16 and b.ids.dtype == np.int64
    np.testing.assert_array_equal(a.ids.astype(np.int64), b.ids)


@pytest.fixture()
def bad_files(tmp_path, photo_files):
    good = photo_files[0]
    data = open(good, "rb").read()
    bad = {
        "truncated.png": data[: len(data) // 3],
        "empty.jpg": b"",
        "text.png": b"this is not an image\n",
        "corrupt.jpg": b"\xff\xd8\xff\xe0" + os.urandom(200),
    }
    out = {}
    for name, content in bad.items():
        (tmp_path / name).write_bytes(content)
        out[name] = str(tmp_path / name)
    return out


def test_skip_keeps_every_good_row_in_place(photo_files, bad_files, photo_palette):
    processor = ImageGPTImageProcessor(photo_palette, size=16)
    good = photo_files[:5]
    mixed = [
        good[0],
        bad_files["truncated.png"],
        good[1],
        bad_files["empty.jpg"],
        good[2],
        bad_files["text.png"],
        good[3],
        bad_files["corrupt.jpg"],
        good[4],
        "/no/such/file.png",
    ]
    result = encode_files(mixed, processor, on_error="skip", chunk_size=3)
    np.testing.assert_array_equal(result.indices, [0, 2, 4, 6, 8])
    np.testing.assert_array_equal(result.ids, encode_files(good, processor).ids)
    failed = {f.index: f for f in result.failures}
    assert sorted(failed) == [1, 3, 5, 7, 9]
    for f in result.failures:
        assert f.path == mixed[f.index] and f.reason
    assert "no such file" in failed[9].reason.lower() or "not found" in failed[9].reason.lower()


def test_raise_names_the_file(photo_files, bad_files, photo_palette):
    processor = ImageGPTImageProcessor(photo_palette, size=16)
    with pytest.raises(ImageDecodeError, match="text.png") as info:
        encode_files([photo_files[0], bad_files["text.png"]], processor)
    assert isinstance(info.value, OSError)


def test_decompression_bomb_is_refused(tmp_path, photo_palette):
    path = tmp_path / "big.png"
    PIL_Image.new("RGB", (2000, 1000)).save(path)
    processor = ImageGPTImageProcessor(photo_palette, size=8)
    with pytest.raises(ImageDecodeError, match="big.png"):
        encode_files([str(path)], processor, max_pixels=1_000_000)
    assert len(encode_files([str(path)], processor, max_pixels=2_000_000)) == 1


def test_directory_shards_manifest_and_load(tmp_path, photo_files, photo_palette):
    processor = ImageGPTImageProcessor(photo_palette, size=16)
    out = tmp_path / "out"
    manifest = encode_to_directory(photo_files, out, processor, shard_size=5, chunk_size=2)
    assert manifest["complete"] and len(manifest["shards"]) == -(-len(photo_files) // 5)
    on_disk = json.loads((out / "manifest.json").read_text())
    assert on_disk == manifest
    assert ImageGPTImageProcessor.from_dict(on_disk["processor"]) == processor
    ids, idx, _ = load_directory(out)
    np.testing.assert_array_equal(idx, np.arange(len(photo_files)))
    np.testing.assert_array_equal(ids, encode_files(photo_files, processor, dtype=np.uint16).ids)
    assert not [n for n in os.listdir(out) if n.startswith(".tmp-")]
    with pytest.raises(FileExistsError, match="resume"):
        encode_to_directory(photo_files, out, processor, shard_size=5)


def test_interrupted_run_resumes_without_redoing_shards(tmp_path, photo_files, photo_palette):
    processor = ImageGPTImageProcessor(photo_palette, size=16)
    out = tmp_path / "out"
    calls = []

    def stop_after_two_shards(done, total, failed):
        calls.append(done)
        if done >= 8:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        encode_to_directory(photo_files, out, processor, shard_size=4, chunk_size=4, progress=stop_after_two_shards)
    partial = json.loads((out / "manifest.json").read_text())
    assert not partial["complete"] and [s["start"] for s in partial["shards"]] == [0]
    first = out / "shard-00000.npy"
    mtime = first.stat().st_mtime_ns
    manifest = encode_to_directory(photo_files, out, processor, shard_size=4, chunk_size=4, resume=True)
    assert manifest["complete"]
    assert first.stat().st_mtime_ns == mtime
    ids, idx, _ = load_directory(out)
    np.testing.assert_array_equal(idx, np.arange(len(photo_files)))
    np.testing.assert_array_equal(ids, encode_files(photo_files, processor, dtype=np.uint16).ids)
    with pytest.raises(ValueError, match="inputs differs"):
        encode_to_directory(photo_files[:-1], out, processor, shard_size=4, resume=True)


def test_parquet_shards(tmp_path, photo_files, photo_palette):
    pytest.importorskip("pyarrow")
    processor = ImageGPTImageProcessor(photo_palette, size=8)
    out = tmp_path / "pq"
    encode_to_directory(photo_files[:7], out, processor, fmt="parquet", shard_size=3)
    ids, idx, manifest = load_directory(out)
    assert manifest["format"] == "parquet"
    np.testing.assert_array_equal(ids, encode_files(photo_files[:7], processor, dtype=np.uint16).ids)


def test_expand_inputs(tmp_path, photo_files):
    d = os.path.dirname(photo_files[0])
    listing = tmp_path / "list.txt"
    listing.write_text("\n".join(photo_files[:3]) + "\n")
    assert expand_inputs([d]) == sorted(photo_files)
    assert expand_inputs([f"@{listing}"]) == photo_files[:3]
    assert expand_inputs([os.path.join(d, "*.png")]) == sorted(p for p in photo_files if p.endswith(".png"))
    with pytest.raises(FileNotFoundError, match="nope"):
        expand_inputs([str(tmp_path / "nope")])


def test_ctrl_c_stops_a_long_native_batch_quickly(tmp_path, rgb_photos):
    """SIGINT during one long native call (thousands of files in one chunk) raises KeyboardInterrupt
    promptly: the workers stop starting new images instead of finishing the chunk."""
    import signal
    import subprocess
    import sys
    import time

    photo = tmp_path / "big.jpg"
    PIL_Image.fromarray(np.tile(rgb_photos["astronaut"], (3, 3, 1))).save(photo, quality=90)  # 1536x1536
    script = (
        "import sys, time\n"
        "from imagegpt_rs.encoding import encode_files\n"
        f"paths = [{str(photo)!r}] * 20000\n"
        "print('start', flush=True)\n"
        "t = time.perf_counter()\n"
        "try:\n"
        "    encode_files(paths, chunk_size=20000)\n"
        "    print('finished', time.perf_counter() - t, flush=True)\n"
        "except KeyboardInterrupt:\n"
        "    print('interrupted', time.perf_counter() - t, flush=True)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "start"
    time.sleep(1.0)
    sent = time.perf_counter()
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=60)
    waited = time.perf_counter() - sent
    assert out.startswith("interrupted"), out
    # 20,000 decodes take far longer than this; stopping takes about one image per worker.
    assert waited < 10, waited


# --------------------------------------------------------------------------- manifest verification
@pytest.fixture()
def encoded_dir(tmp_path, photo_files):
    """12 real photos encoded at 8x8 in shards of 4, with the ids PIL.Image.open + transformers give."""
    clusters = np.random.default_rng(1).uniform(-1, 1, (64, 3))
    processor = ImageGPTImageProcessor(clusters, size=8)
    files = (photo_files * 2)[:12]
    out = tmp_path / "out"
    encode_to_directory(files, out, processor, shard_size=4)
    return out, files, processor, _reference(files, clusters, 8)


def _shard_files(out):
    return json.loads((out / "manifest.json").read_text())["shards"]


def test_manifest_records_sizes_and_crc32_of_every_file(encoded_dir):
    import zlib

    out, files, _, expected = encoded_dir
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["version"] == 2
    for s in manifest["shards"]:
        assert len(s["sizes"]) == len(s["crc32"]) == len(s["files"]) == 2
        for name, size, crc in zip(s["files"], s["sizes"], s["crc32"]):
            data = (out / name).read_bytes()
            assert size == len(data) and crc == f"{zlib.crc32(data):08x}"
    ids, idx, _ = load_directory(out)
    np.testing.assert_array_equal(ids.astype(np.int64), expected)


@pytest.mark.parametrize("damage", ["truncate", "bitflip", "replace", "delete", "symlink", "fifo"])
def test_resume_redoes_a_damaged_shard_and_load_refuses_it(encoded_dir, damage, capsys):
    out, files, processor, expected = encoded_dir
    target = out / "shard-00001.npy"
    data = target.read_bytes()
    if damage == "truncate":
        target.write_bytes(data[: len(data) // 2])
    elif damage == "bitflip":  # same size, one byte changed inside the ids
        target.write_bytes(data[:-1] + bytes([data[-1] ^ 0x01]))
    elif damage == "replace":  # a valid .npy of another shard (fewer rows) under this name
        np.save(target, np.load(out / "shard-00000.npy")[:3])
    elif damage == "symlink":  # the same bytes, but through a link that could lead anywhere
        outside = out.parent / "outside.npy"
        outside.write_bytes(data)
        target.unlink()
        target.symlink_to(outside)
    elif damage == "fifo":  # np.load would block on it forever
        target.unlink()
        os.mkfifo(target)
    else:
        target.unlink()
    with pytest.raises(ImageGPTError, match="shard-00001.npy") as info:
        load_directory(out)
    assert isinstance(info.value, ValueError) or damage == "delete" and isinstance(info.value, (ValueError, OSError))
    before = (out / "shard-00000.npy").stat().st_mtime_ns
    manifest = encode_to_directory(files, out, processor, shard_size=4, resume=True)
    assert manifest["complete"]
    assert "shard-00001.npy" in capsys.readouterr().err  # the resume says what it encodes again
    assert (out / "shard-00000.npy").stat().st_mtime_ns == before  # intact shards are kept
    ids, idx, _ = load_directory(out)
    np.testing.assert_array_equal(idx, np.arange(12))
    np.testing.assert_array_equal(ids.astype(np.int64), expected)


def test_load_refuses_rows_that_do_not_match_the_indices(encoded_dir):
    """A replaced index file used to give 554 id rows against 601 indices without complaint."""
    out, *_ = encoded_dir
    manifest = json.loads((out / "manifest.json").read_text())
    for s in manifest["shards"]:  # a previous-version manifest: no sizes or checksums to catch it first
        del s["sizes"], s["crc32"]
    (out / "manifest.json").write_text(json.dumps(manifest))
    np.save(out / "shard-00002.index.npy", np.array([8, 9, 10], np.int64))
    with pytest.raises(ManifestError, match=r"shard 2 \(shard-00002.npy\).*4 id rows and 3 indices"):
        load_directory(out)


def test_duplicate_shard_entries_are_refused(encoded_dir):
    """The same shard listed twice used to give its rows twice."""
    out, files, processor, expected = encoded_dir
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["shards"].insert(1, manifest["shards"][0])
    (out / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ManifestError, match=r"shard 1 \(shard-00000.npy\): range 0..4 overlaps"):
        load_directory(out)
    encode_to_directory(files, out, processor, shard_size=4, resume=True)
    assert [s["start"] for s in _shard_files(out)] == [0, 4, 8]
    ids, idx, _ = load_directory(out)
    np.testing.assert_array_equal(idx, np.arange(12))
    np.testing.assert_array_equal(ids.astype(np.int64), expected)


def test_previous_version_manifest_still_loads_and_resumes(encoded_dir):
    out, files, processor, expected = encoded_dir
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["version"] = 1
    for s in manifest["shards"]:
        del s["sizes"], s["crc32"]
    del manifest["shards"][1]
    (out / "manifest.json").write_text(json.dumps(manifest))
    ids, idx, _ = load_directory(out)
    np.testing.assert_array_equal(idx, [0, 1, 2, 3, 8, 9, 10, 11])
    np.testing.assert_array_equal(ids.astype(np.int64), expected[idx])
    manifest = encode_to_directory(files, out, processor, shard_size=4, resume=True)
    assert manifest["complete"] and "sizes" in manifest["shards"][1] and "sizes" not in manifest["shards"][0]
    ids, idx, _ = load_directory(out)
    np.testing.assert_array_equal(ids.astype(np.int64), expected)


@pytest.mark.parametrize("name", ["../outside.npy", "/etc/passwd", "sub/shard-00001.npy", "..", ""])
def test_shard_names_must_stay_inside_the_directory(encoded_dir, name, capsys):
    out, files, processor, expected = encoded_dir
    np.save(out.parent / "outside.npy", np.zeros((4, 64), np.uint16))
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["shards"][1]["files"][0] = name
    for s in manifest["shards"]:
        del s["sizes"], s["crc32"]
    (out / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ManifestError, match="shard 1.*not a plain name inside the output directory"):
        load_directory(out)
    encode_to_directory(files, out, processor, shard_size=4, resume=True)
    assert _shard_files(out)[1]["files"][0] == "shard-00001.npy"
    np.testing.assert_array_equal(load_directory(out)[0].astype(np.int64), expected)


def test_malformed_manifests_name_the_file_or_shard(encoded_dir):
    out, files, processor, _ = encoded_dir
    path = out / "manifest.json"
    text = path.read_text()
    manifest = json.loads(text)
    del manifest["shards"][2]["files"]
    path.write_text(json.dumps(manifest))
    with pytest.raises(ManifestError, match=r"manifest.json: shard 2: files must list 2"):
        load_directory(out)
    manifest = encode_to_directory(files, out, processor, shard_size=4, resume=True)
    assert manifest["shards"][2]["files"] == ["shard-00002.npy", "shard-00002.index.npy"]
    assert len(load_directory(out)[1]) == 12
    path.write_text(text[: len(text) // 2])
    with pytest.raises(ManifestError, match=r"manifest.json: not a valid manifest \(truncated"):
        load_directory(out)
    with pytest.raises(ManifestError, match=r"manifest.json: not a valid manifest"):
        encode_to_directory(files, out, processor, shard_size=4, resume=True)
    path.write_text("[1, 2]")
    with pytest.raises(ManifestError, match="not an object"):
        load_directory(out)


def test_resume_removes_temporaries_a_killed_run_left(encoded_dir):
    """A SIGKILL during a manifest write (after mkstemp, before the rename) leaves .tmp-XXXXXXXXmanifest.json
    behind; the resume finishes the job and removes it (and stale shard temporaries), nothing else."""
    import signal
    import subprocess
    import sys

    out, files, processor, expected = encoded_dir
    script = (
        "import os, signal, sys\n"
        "from imagegpt_rs import encoding\n"
        "calls = []\n"
        "real_write = encoding._atomic_write\n"
        "def write(path, fn, mode='wb'):\n"
        "    if path.endswith('manifest.json'):\n"
        "        calls.append(path)\n"
        "        if len(calls) == 2:\n"  # the manifest write after the first shard
        "            def half(f):\n"
        "                f.write('{\"half')\n"
        "                f.flush()\n"
        "                os.kill(os.getpid(), signal.SIGKILL)\n"
        "            return real_write(path, half, mode)\n"
        "    return real_write(path, fn, mode)\n"
        "encoding._atomic_write = write\n"
        "encoding.encode_to_directory(sys.argv[2:], sys.argv[1], None, shard_size=4)\n"
    )
    killed = out.parent / "killed"
    proc = subprocess.run([sys.executable, "-c", script, str(killed), *files], timeout=120)
    assert proc.returncode == -signal.SIGKILL
    leftover = [n for n in os.listdir(killed) if n.startswith(".tmp-")]
    assert len(leftover) == 1 and leftover[0].endswith("manifest.json"), leftover
    (killed / ".tmp-abcdefghshard-00002.npy").write_bytes(b"\x93NUMPY")
    (killed / ".tmp-notes.txt").write_text("not ours")
    manifest = encode_to_directory(files, killed, None, shard_size=4, resume=True)
    assert manifest["complete"]
    assert sorted(n for n in os.listdir(killed) if n.startswith(".tmp-")) == [".tmp-notes.txt"]
    assert len(load_directory(killed)[1]) == 12


def test_renames_are_made_durable(encoded_dir, monkeypatch):
    """Each written file is fsynced before its rename and its directory after it."""
    import stat

    from imagegpt_rs import encoding

    out, files, processor, _ = encoded_dir
    synced = []
    real = os.fsync

    def record(fd):
        synced.append("dir" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file")
        return real(fd)

    monkeypatch.setattr(encoding.os, "fsync", record)
    encode_to_directory(files[:4], out.parent / "again", processor, shard_size=4)
    # 2 shard files + 3 manifest writes (start, after the shard, complete), each: file, then directory.
    assert synced == ["file", "dir"] * 5


def test_parquet_shard_is_verified(tmp_path, photo_files):
    pytest.importorskip("pyarrow")
    processor = ImageGPTImageProcessor(size=8)
    out = tmp_path / "pq"
    encode_to_directory(photo_files[:6], out, processor, fmt="parquet", shard_size=3)
    s = _shard_files(out)[1]
    assert s["files"] == ["shard-00001.parquet"] and len(s["crc32"]) == 1
    p = out / "shard-00001.parquet"
    p.write_bytes(p.read_bytes()[:-10])
    with pytest.raises(ManifestError, match="shard-00001.parquet"):
        load_directory(out)
    encode_to_directory(photo_files[:6], out, processor, fmt="parquet", shard_size=3, resume=True)
    ids, idx, _ = load_directory(out)
    np.testing.assert_array_equal(idx, np.arange(6))
    np.testing.assert_array_equal(ids.astype(np.int64), _reference(photo_files[:6], processor.clusters, 8))


def test_non_utf8_file_names_in_manifest_and_parquet(tmp_path, rgb_photos):
    """A file name that is not UTF-8 (os.fsdecode gives lone surrogates) used to break the Parquet writer
    after the whole shard was encoded. The manifest keeps the exact name (surrogateescape, JSON \\udcXX
    escapes) and Parquet's UTF-8 path column its undecodable bytes as backslash escapes."""
    pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    src = os.fsencode(tmp_path) + b"/src"
    os.mkdir(src)
    raw = src + b"/caf\xe9-\xff.png"
    try:
        PIL_Image.fromarray(rgb_photos["coffee"][:40, :50]).save(os.fsdecode(raw), format="PNG")
    except (OSError, UnicodeError):  # pragma: no cover - a file system that refuses such names
        pytest.skip("this file system refuses non-UTF-8 names")
    PIL_Image.fromarray(rgb_photos["astronaut"][:30, :20]).save(os.fsdecode(src + b"/plain.png"))
    out = tmp_path / "pq"
    processor = ImageGPTImageProcessor(size=8)
    manifest = encode_to_directory([os.fsdecode(src)], out, processor, fmt="parquet")
    sources = json.loads((out / "manifest.json").read_text())["sources"]
    assert [os.fsencode(p) for p in sources] == [raw, src + b"/plain.png"]
    assert manifest["shards"][0]["failures"] == []
    table = pq.read_table(out / "shard-00000.parquet")
    assert table.column("path").to_pylist() == [
        os.fsdecode(src) + "/caf\\xe9-\\xff.png",
        os.fsdecode(src) + "/plain.png",
    ]
    ids, idx, _ = load_directory(out)
    np.testing.assert_array_equal(idx, [0, 1])
    theirs = transformers.ImageGPTImageProcessor(processor.clusters, size=8)
    expected = theirs(
        [PIL_Image.open(os.fsdecode(p)).convert("RGB") for p in (raw, src + b"/plain.png")], return_tensors="np"
    )
    np.testing.assert_array_equal(ids.astype(np.int64), expected["input_ids"])

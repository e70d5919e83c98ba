"""Dataset containers: WebDataset tar shards and Parquet image columns in, Parquet and WebDataset out.

Every id is checked against PIL.Image.open + transformers 4.57's processor on the same bytes."""

from __future__ import annotations

import io
import json
import os
import tarfile

import numpy as np
import pytest

from imagegpt_rs import ImageDecodeError, ImageGPTImageProcessor
from imagegpt_rs.containers import encode_sources, wds_key
from imagegpt_rs.encoding import encode_to_directory, load_directory

PIL_Image = pytest.importorskip("PIL.Image")
transformers = pytest.importorskip("transformers")


def _jpeg(arr, **kw):
    b = io.BytesIO()
    PIL_Image.fromarray(arr).save(b, "JPEG", quality=kw.get("quality", 90), subsampling=kw.get("subsampling", 2))
    return b.getvalue()


def _png(arr):
    b = io.BytesIO()
    PIL_Image.fromarray(arr).save(b, "PNG")
    return b.getvalue()


@pytest.fixture(scope="module")
def samples(rgb_photos):
    """(key, extension, bytes) of real photos, small enough to keep the tests quick."""
    out = []
    for k, (_name, arr) in enumerate(sorted(rgb_photos.items())):
        arr = np.ascontiguousarray(arr[::2, ::2])
        out.append((f"{k:06d}", "jpg", _jpeg(arr)))
        out.append((f"{k:06d}_png", "png", _png(arr)))
    return out


def _reference(blobs, clusters, size):
    theirs = transformers.ImageGPTImageProcessor(clusters, size=size)
    images = [PIL_Image.open(io.BytesIO(b)).convert("RGB") for b in blobs]
    return theirs(images, return_tensors="np")["input_ids"]


def _add(tar, name, payload):
    info = tarfile.TarInfo(name)
    info.size = len(payload)
    tar.addfile(info, io.BytesIO(payload))


@pytest.mark.parametrize("fmt", [tarfile.USTAR_FORMAT, tarfile.GNU_FORMAT, tarfile.PAX_FORMAT])
def test_tarfile_shards_equal_pil_then_transformers(tmp_path, samples, photo_palette, fmt):
    """Shards written by Python's tarfile in each format, with long names (GNU/pax records), text
    members beside the images (not samples) and directories."""
    deep = "d" * 60 + "/" + "e" * 70 if fmt != tarfile.USTAR_FORMAT else "dir"
    path = tmp_path / "shard.tar"
    with tarfile.open(path, "w", format=fmt) as tar:
        tar.addfile(tarfile.TarInfo(deep + "/"))
        for key, ext, blob in samples:
            _add(tar, f"{deep}/{key}.{ext}", blob)
            _add(tar, f"{deep}/{key}.txt", b"a caption")
    processor = ImageGPTImageProcessor(photo_palette, size=16)
    result = encode_sources([path], processor)
    assert result.failures == []
    np.testing.assert_array_equal(result.ids, _reference([b for _, _, b in samples], photo_palette, 16))
    assert result.keys == [f"{deep}/{k}" for k, _, _ in samples]
    assert result.names[0] == f"{path}:{deep}/{samples[0][0]}.jpg"


def test_webdataset_writer_shards_several_at_once(tmp_path, samples, photo_palette):
    wds = pytest.importorskip("webdataset")
    paths = []
    for s in range(3):
        paths.append(str(tmp_path / f"train-{s}.tar"))
        with wds.TarWriter(paths[-1]) as sink:
            for key, ext, blob in samples[s::3]:
                sink.write({"__key__": f"s{s}_{key}", ext: blob, "cls": 7})
    processor = ImageGPTImageProcessor(photo_palette, size=(12, 20))
    result = encode_sources(paths, processor, chunk_size=3)
    blobs = [b for s in range(3) for _, _, b in samples[s::3]]
    np.testing.assert_array_equal(result.ids, _reference(blobs, photo_palette, (12, 20)))
    assert result.keys == [f"s{s}_{k}" for s in range(3) for k, _, _ in samples[s::3]]


def test_damaged_and_foreign_members(tmp_path, samples, photo_palette):
    good = [b for _, _, b in samples[:4]]  # jpg, png, jpg, png
    truncated_png = good[1][: len(good[1]) // 3]
    path = tmp_path / "mixed.tar"
    with tarfile.open(path, "w") as tar:
        _add(tar, "a.jpg", good[0])
        _add(tar, "b.png", truncated_png)
        _add(tar, "c.json", b"{}")  # not an image member: not a sample
        _add(tar, "d.png", b"this is not a png")  # an image name but not an image
        _add(tar, "e.jpg", good[2][: len(good[2]) // 2])  # truncated JPEG
        _add(tar, "f.png", good[3])
    for blob in (truncated_png, good[2][: len(good[2]) // 2]):
        with pytest.raises(OSError):  # Pillow refuses both truncated files too
            PIL_Image.open(io.BytesIO(blob)).convert("RGB")
    processor = ImageGPTImageProcessor(photo_palette, size=16)
    with pytest.raises(ImageDecodeError, match=r"mixed\.tar: member 'b\.png': truncated"):
        encode_sources([path], processor)
    result = encode_sources([path], processor, on_error="skip")
    np.testing.assert_array_equal(result.indices, [0, 4])
    assert [f.path for f in result.failures] == [f"{path}: member '{m}'" for m in ("b.png", "d.png", "e.jpg")]
    assert [f.index for f in result.failures] == [1, 2, 3]
    assert "not a supported image" in result.failures[1].reason
    np.testing.assert_array_equal(result.ids, _reference([good[0], good[3]], photo_palette, 16))


def test_broken_archives_name_the_shard_and_member(tmp_path, samples, photo_palette):
    blob = samples[0][2]
    whole = tmp_path / "whole.tar"
    with tarfile.open(whole, "w") as tar:
        _add(tar, "x.jpg", blob)
        _add(tar, "y.jpg", blob)
    data = whole.read_bytes()
    processor = ImageGPTImageProcessor(photo_palette, size=8)
    cut = tmp_path / "cut.tar"
    padded = (len(blob) + 511) // 512 * 512
    cut.write_bytes(data[: 512 + padded + 512 + 100])  # y.jpg's data cut short
    with pytest.raises(ImageDecodeError, match=r"cut\.tar: damaged tar: member 'y\.jpg'.*truncated"):
        encode_sources([cut], processor)
    result = encode_sources([cut], processor, on_error="skip")
    assert len(result) == 1 and len(result.failures) == 1
    # Followed by a sound shard (both in one native call): the damage is one failed item between them.
    result = encode_sources([cut, whole], processor, on_error="skip")
    np.testing.assert_array_equal(result.indices, [0, 2, 3])
    assert [f.index for f in result.failures] == [1] and result.keys == ["x", "x", "y"]
    np.testing.assert_array_equal(result.ids, _reference([blob] * 3, photo_palette, 8))
    garbage = tmp_path / "garbage.tar"
    garbage.write_bytes(os.urandom(4096))
    with pytest.raises(ImageDecodeError, match=r"garbage\.tar: damaged tar: header at byte 0: bad (header )?checksum"):
        encode_sources([garbage], processor)
    flipped = bytearray(data)
    flipped[512 + ((len(blob) + 511) // 512) * 512 + 3] ^= 0x20  # the second header's name
    bad = tmp_path / "flipped.tar"
    bad.write_bytes(bytes(flipped))
    with pytest.raises(ImageDecodeError, match="flipped.tar: damaged tar: header at byte"):
        encode_sources([bad], processor)
    xz = tmp_path / "s.tar.xz"
    xz.write_bytes(b"")
    with pytest.raises(ValueError, match="decompress it first"):
        encode_sources([xz], processor)


def test_tar_gz_shards(tmp_path, samples, photo_palette):
    """.tar.gz shards stream through tarfile: the same ids as PIL + transformers, resumable from any
    item, and a cut file names the shard."""
    import gzip

    path = tmp_path / "s.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for key, ext, blob in samples[:6]:
            _add(tar, f"{key}.{ext}", blob)
            _add(tar, f"{key}.txt", b"caption")
    processor = ImageGPTImageProcessor(photo_palette, size=8)
    expected = _reference([b for _, _, b in samples[:6]], photo_palette, 8)
    result = encode_sources([path], processor, chunk_size=4)
    np.testing.assert_array_equal(result.ids, expected)
    assert result.keys == [k for k, _, _ in samples[:6]]
    out = tmp_path / "out"
    encode_to_directory([path], out, processor, shard_size=2, chunk_size=1, dtype="int64")
    ids, idx, _ = load_directory(out)
    np.testing.assert_array_equal(ids, expected)
    raw = gzip.decompress(path.read_bytes())
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(gzip.compress(raw[: len(raw) // 2]))
    with pytest.raises(ImageDecodeError, match=r"cut\.tar\.gz"):
        encode_sources([cut], processor)
    partial = encode_sources([cut], processor, on_error="skip")
    assert len(partial) >= 1 and partial.failures
    np.testing.assert_array_equal(partial.ids, expected[partial.indices])


def test_wds_key():
    assert wds_key("dir/000123.seg.png") == "dir/000123"
    assert wds_key("a.b/c.jpg") == "a.b/c"
    assert wds_key("noext") == "noext"


@pytest.fixture()
def hf_parquet(tmp_path, samples):
    """Parquet written by `datasets` itself (an Image feature: {bytes, path} structs); then the last
    row's bytes are nulled with its path kept, relative to the file (as in Parquet files whose images
    were not embedded): the reader must load that file."""
    datasets = pytest.importorskip("datasets")
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    blobs = [b for _, _, b in samples[:5]]
    (tmp_path / "img").mkdir()
    (tmp_path / "img" / "on_disk.png").write_bytes(blobs[4])
    ds = datasets.Dataset.from_dict(
        {
            "id": list(range(10, 15)),
            "caption": [f"photo {i}" for i in range(5)],
            "image": [{"bytes": b, "path": None} for b in blobs],
        },
        features=datasets.Features(
            {"id": datasets.Value("int64"), "caption": datasets.Value("string"), "image": datasets.Image()}
        ),
    )
    path = tmp_path / "train.parquet"
    ds.to_parquet(str(path))
    table = pq.read_table(path)
    image = table.column("image").combine_chunks()
    nulled = pa.StructArray.from_arrays(
        [pa.array(blobs[:4] + [None], pa.binary()), pa.array([None] * 4 + ["img/on_disk.png"], pa.string())],
        fields=list(image.type),
    )
    table = table.set_column(table.schema.get_field_index("image"), table.schema.field("image"), nulled)
    pq.write_table(table, path, row_group_size=2)
    return str(path), blobs


def test_hf_parquet_equals_pil_then_transformers(hf_parquet, photo_palette):
    path, blobs = hf_parquet
    processor = ImageGPTImageProcessor(photo_palette, size=16)
    result = encode_sources([path], processor, keep_columns=["id", "caption"], chunk_size=2)
    assert result.failures == []
    np.testing.assert_array_equal(result.ids, _reference(blobs, photo_palette, 16))
    assert result.columns["id"].to_pylist() == [10, 11, 12, 13, 14]
    assert result.columns["caption"].to_pylist()[-1] == "photo 4"
    assert result.names[3] == f"{path}:3"


def test_parquet_binary_column_null_rows_and_errors(tmp_path, samples, photo_palette):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    blobs = [b for _, _, b in samples[:3]]
    table = pa.table({"name": ["a", "b", "c", "d"], "jpeg": pa.array(blobs[:2] + [None, blobs[2]], pa.binary())})
    path = tmp_path / "bin.parquet"
    pq.write_table(table, path, row_group_size=3)
    processor = ImageGPTImageProcessor(photo_palette, size=8)
    with pytest.raises(ImageDecodeError, match=r"bin\.parquet: row 2: no image"):
        encode_sources([path], processor)
    result = encode_sources([path], processor, on_error="skip", keep_columns=["name"])
    np.testing.assert_array_equal(result.indices, [0, 1, 3])
    np.testing.assert_array_equal(result.ids, _reference(blobs, photo_palette, 8))
    assert result.columns["name"].to_pylist() == ["a", "b", "d"]
    with pytest.raises(ValueError, match="no column 'image'"):
        encode_sources([path], processor, image_column="image")
    with pytest.raises(ValueError, match="to keep"):
        encode_sources([path], processor, keep_columns=["nope"])


def test_mixed_inputs_to_every_format_and_back(tmp_path, samples, hf_parquet, photo_palette):
    """Files, a tar shard and a Parquet file in one run; each output format loads back (load_directory)
    and in the readers it is meant for."""
    wds = pytest.importorskip("webdataset")
    datasets = pytest.importorskip("datasets")
    import pyarrow.dataset as pads

    pq_path, pq_blobs = hf_parquet
    loose = tmp_path / "loose.jpg"
    loose.write_bytes(samples[6][2])
    shard = tmp_path / "shard.tar"
    with tarfile.open(shard, "w") as tar:
        for key, ext, blob in samples[:3]:
            _add(tar, f"{key}.{ext}", blob)
    inputs = [str(loose), str(shard), pq_path]
    blobs = [samples[6][2]] + [b for _, _, b in samples[:3]] + pq_blobs
    processor = ImageGPTImageProcessor(photo_palette, size=8)
    expected = _reference(blobs, photo_palette, 8)
    for fmt in ["npy", "parquet", "webdataset"]:
        out = tmp_path / fmt
        manifest = encode_to_directory(
            inputs,
            out,
            processor,
            fmt=fmt,
            dtype="int32",
            shard_size=3,
            chunk_size=2,
            keep_columns=["id"] if fmt != "npy" else (),
        )
        ids, idx, _ = load_directory(out)
        assert ids.dtype == np.int32
        np.testing.assert_array_equal(idx, np.arange(len(blobs)))
        np.testing.assert_array_equal(ids, expected)
        assert manifest["sources"][1] == f"{shard}:000000.jpg"
    files = sorted(str(p) for p in (tmp_path / "parquet").glob("*.parquet"))
    ds = datasets.load_dataset("parquet", data_files=files, split="train")
    np.testing.assert_array_equal(np.asarray(ds["input_ids"]), expected)
    assert ds["key"][1:4] == ["000000", "000000_png", "000001"]
    assert ds["id"] == [None] * 4 + [10, 11, 12, 13, 14]
    table = pads.dataset(files, format="parquet").to_table()
    assert table.column("input_ids").type.list_size == 64
    meta = json.loads(table.schema.metadata[b"imagegpt_rs"])
    assert ImageGPTImageProcessor.from_dict(meta["processor"]) == processor
    tars = sorted(str(p) for p in (tmp_path / "webdataset").glob("*.tar"))
    rows = list(wds.WebDataset(tars, shardshuffle=False).decode())
    assert [r["__key__"] for r in rows[1:4]] == ["000000", "000000_png", "000001"]
    np.testing.assert_array_equal(np.stack([r["input_ids.npy"] for r in rows]), expected)
    assert [r["json"]["index"] for r in rows] == list(range(len(blobs)))
    assert rows[5]["json"]["id"] == 11


def test_resume_after_a_kill_mid_shard(tmp_path, samples, photo_palette):
    """A run killed (SIGKILL) in the middle of a tar shard leaves complete output shards only;
    --resume finishes it, and the result equals transformers'."""
    import signal
    import subprocess
    import sys

    shard = tmp_path / "big.tar"
    blobs = []
    with tarfile.open(shard, "w") as tar:
        for r in range(40):
            key, ext, blob = samples[r % len(samples)]
            _add(tar, f"{r:04d}.{ext}", blob)
            blobs.append(blob)
    processor = ImageGPTImageProcessor(photo_palette, size=8)
    processor.save_pretrained(tmp_path / "proc")
    out = tmp_path / "out"
    script = (
        "import sys, time\n"
        "from imagegpt_rs.encoding import encode_to_directory\n"
        "def slow(done, total, failed):\n"
        "    print(done, flush=True)\n"
        "    time.sleep(0.3)\n"
        f"encode_to_directory([{str(shard)!r}], {str(out)!r}, {str(tmp_path / 'proc')!r}, shard_size=8, chunk_size=4,"
        " fmt='webdataset', progress=slow)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    while True:
        line = proc.stdout.readline()
        assert line, "the run ended before it could be killed"
        if int(line) >= 20:  # mid-way through the third output shard
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    partial = json.loads((out / "manifest.json").read_text())
    assert not partial["complete"] and 1 <= len(partial["shards"]) < 5
    manifest = encode_to_directory([shard], out, processor, shard_size=8, chunk_size=4, fmt="webdataset", resume=True)
    assert manifest["complete"]
    ids, idx, _ = load_directory(out)
    np.testing.assert_array_equal(idx, np.arange(40))
    np.testing.assert_array_equal(ids, _reference(blobs, photo_palette, 8).astype(np.uint16))


def test_cli_tar_and_parquet(tmp_path, samples, hf_parquet, photo_palette):
    from imagegpt_rs.cli import main

    shard = tmp_path / "shards" / "a.tar"
    shard.parent.mkdir()
    with tarfile.open(shard, "w") as tar:
        for key, ext, blob in samples[:3]:
            _add(tar, f"{key}.{ext}", blob)
    processor = ImageGPTImageProcessor(photo_palette, size=8)
    processor.save_pretrained(tmp_path / "proc")
    out = tmp_path / "out"
    code = main(
        [
            "encode",
            str(tmp_path / "shards" / "*.tar"),
            hf_parquet[0],
            "--image-column",
            "image",
            "--keep-columns",
            "id,caption",
            "--format",
            "parquet",
            "-o",
            str(out),
            "--config",
            str(tmp_path / "proc"),
            "--quiet",
        ]
    )
    assert code == 0
    ids, idx, manifest = load_directory(out)
    blobs = [b for _, _, b in samples[:3]] + hf_parquet[1]
    np.testing.assert_array_equal(ids, _reference(blobs, photo_palette, 8))
    assert manifest["keep_columns"] == ["id", "caption"]


def test_hostile_tars_never_crash_or_hang(tmp_path, samples, photo_palette):
    """Random bit flips and cuts of a shard with long names: with on_error="skip" every outcome is a
    result (damage reported as failures), never an exception, a crash or a hang."""
    base = tmp_path / "base.tar"
    with tarfile.open(base, "w", format=tarfile.PAX_FORMAT) as tar:
        for key, ext, blob in samples[:3]:
            _add(tar, f"{'n' * 120}/{key}.{ext}", blob[:3000])
    data = base.read_bytes()
    processor = ImageGPTImageProcessor(photo_palette, size=4)
    rng = np.random.default_rng(0)
    for round in range(60):
        bad = bytearray(data)
        if round % 3 == 0:
            bad = bad[: int(rng.integers(0, len(bad)))]
        else:
            for at in rng.integers(0, len(bad), size=1 + round % 4):
                bad[at] ^= 1 << int(rng.integers(0, 8))
        path = tmp_path / f"bad{round}.tar"
        path.write_bytes(bytes(bad))
        result = encode_sources([path], processor, on_error="skip")
        assert len(result) + len(result.failures) == len(result.names)

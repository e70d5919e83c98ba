"""Hugging Face datasets and Dask: the same ids as the processor, on local data built in the test."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from imagegpt_rs import ImageGPTImageProcessor
from imagegpt_rs.encoding import encode_files, load_directory

PIL_Image = pytest.importorskip("PIL.Image")


@pytest.fixture(scope="module")
def small_files(tmp_path_factory, rgb_photos):
    d = tmp_path_factory.mktemp("ds")
    paths = []
    for i, (name, arr) in enumerate(rgb_photos.items()):
        p = d / (f"{name}.png" if i % 2 else f"{name}.jpg")
        PIL_Image.fromarray(arr[:200, :300]).save(p)
        paths.append(str(p))
    return paths


def test_processor_pickles(photo_palette, rgb_photos):
    p = ImageGPTImageProcessor(photo_palette, size=16)
    q = pickle.loads(pickle.dumps(p))
    assert q == p
    np.testing.assert_array_equal(q(rgb_photos["coffee"]).input_ids[0], p(rgb_photos["coffee"]).input_ids[0])


@pytest.mark.parametrize("decode", [True, False])
def test_datasets_map_adds_input_ids(small_files, photo_palette, decode):
    datasets = pytest.importorskip("datasets")
    from imagegpt_rs.integrations.datasets import ImageGPTMapper

    processor = ImageGPTImageProcessor(photo_palette, size=16)
    ds = datasets.Dataset.from_dict({"image": small_files, "n": list(range(len(small_files)))})
    ds = ds.cast_column("image", datasets.Image(decode=decode))
    out = ds.map(ImageGPTMapper(processor), batched=True, batch_size=3, num_proc=2)
    got = np.array(out["input_ids"])
    expected = encode_files(small_files, processor).ids
    np.testing.assert_array_equal(got, expected)
    assert out["n"] == list(range(len(small_files)))


def test_datasets_skip_marks_bad_rows(tmp_path, small_files, photo_palette):
    datasets = pytest.importorskip("datasets")
    from imagegpt_rs.integrations.datasets import ImageGPTMapper

    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not a jpeg")
    files = [small_files[0], str(bad), small_files[1]]
    ds = datasets.Dataset.from_dict({"image": files}).cast_column("image", datasets.Image(decode=False))
    processor = ImageGPTImageProcessor(photo_palette, size=8)
    out = ds.map(ImageGPTMapper(processor, on_error="skip"), batched=True)
    assert out["input_ids"][1] is None and "bad.jpg" in out["error"][1]
    assert out["error"][0] == out["error"][2] == ""
    expected = encode_files([small_files[0], small_files[1]], processor).ids
    np.testing.assert_array_equal(np.array([out["input_ids"][0], out["input_ids"][2]]), expected)


def test_dask_local_cluster_writes_shards_from_workers(tmp_path, small_files, photo_palette):
    pytest.importorskip("dask")
    distributed = pytest.importorskip("distributed")
    from imagegpt_rs.integrations.dask import encode_with_dask

    processor = ImageGPTImageProcessor(photo_palette, size=16)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
        ) as cluster,
        distributed.Client(cluster),
    ):
        manifest = encode_with_dask(small_files, tmp_path / "out", processor, partition_size=3)
    assert manifest["complete"] and len(manifest["shards"]) == -(-len(small_files) // 3)
    ids, idx, _ = load_directory(tmp_path / "out")
    np.testing.assert_array_equal(idx, np.arange(len(small_files)))
    np.testing.assert_array_equal(ids, encode_files(small_files, processor, dtype=np.uint16).ids)


def test_forked_worker_processes_do_not_hang(photo_palette, rgb_photos):
    """Parallel work in a forked child (multiprocessing, datasets' num_proc) after the parent used the
    pool: rayon's global pool would deadlock there; ours is rebuilt per process."""
    import multiprocessing

    p = ImageGPTImageProcessor(photo_palette, size=16)
    photos = list(rgb_photos.values())
    expected = p(photos, return_tensors="np").input_ids  # the parent's pool is now running
    with multiprocessing.get_context("fork").Pool(2) as pool:
        got = pool.apply_async(_encode_in_child, (p, photos)).get(timeout=120)
    np.testing.assert_array_equal(got, expected)


def _encode_in_child(processor, photos):
    return processor(photos, return_tensors="np").input_ids

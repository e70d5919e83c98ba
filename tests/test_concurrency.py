"""Stress: 8 Python threads calling every public entry point at once, on shared and on separate objects,
must give the serial results (which are first checked against Pillow and transformers); and a child
forked (multiprocessing's 'fork' context) after each kind of use must finish its own call in time.
Hangs fail the test through timeouts instead of hanging the run (daemon threads, killed children).
"""

from __future__ import annotations

import multiprocessing
import threading

import numpy as np
import pytest

from imagegpt_rs import ColorQuantizer, ImageGPTImageProcessor, decode_image, fit_palette
from imagegpt_rs.encoding import encode_files
from imagegpt_rs.resampling import Resampling, resize

PIL_Image = pytest.importorskip("PIL.Image")
transformers = pytest.importorskip("transformers")

N_THREADS = 8
TIMEOUT = 240  # seconds for the whole concurrent phase on a busy 2-core machine


@pytest.fixture(scope="module")
def world(tmp_path_factory, rgb_photos, photo_palette):
    """Inputs for every entry point, and a factory of fresh objects (quantizer, processor)."""
    d = tmp_path_factory.mktemp("stress")
    crops = [np.ascontiguousarray(p[:96, :128]) for p in rgb_photos.values()]
    files = []
    for k, crop in enumerate(crops):
        files.append(str(d / f"{k}.{'png' if k % 2 else 'jpg'}"))
        PIL_Image.fromarray(crop).save(files[-1])
    ids = np.random.default_rng(0).integers(0, len(photo_palette), (4, 256))
    return {"crops": crops, "files": files, "ids": ids, "clusters": photo_palette}


def _objects(world, num_threads=None):
    return {
        "quantizer": ColorQuantizer(world["clusters"], num_threads=num_threads),
        "processor": ImageGPTImageProcessor(world["clusters"], size=16, num_threads=num_threads),
    }


def _operations(world):
    """name -> fn(objects) for every public entry point."""
    crops, files = world["crops"], world["files"]
    return {
        "quantize": lambda o: o["quantizer"].quantize(crops[0]),
        "quantize_normalized": lambda o: o["quantizer"].quantize_normalized(crops[1].astype(np.float32) / 127.5 - 1),
        "decode": lambda o: o["quantizer"].decode(world["ids"]),
        "processor": lambda o: o["processor"](crops, return_tensors="np")["input_ids"],
        "resize": lambda o: resize(crops[2], (24, 40), Resampling.BICUBIC),
        "decode_image": lambda o: decode_image(files[1]),
        "encode_files": lambda o: encode_files(files, o["processor"], chunk_size=2).ids,
        "fit_palette": lambda o: fit_palette(crops[:2], 8, max_pixels=4000, max_iter=5, seed=3, num_threads=2).clusters,
    }


@pytest.fixture(scope="module")
def serial(world):
    """Every operation once, serially, checked against the oracles where one exists."""
    objects = _objects(world)
    results = {name: fn(objects) for name, fn in _operations(world).items()}
    theirs = transformers.ImageGPTImageProcessor(world["clusters"], size=16)
    np.testing.assert_array_equal(results["processor"], theirs(world["crops"], return_tensors="np")["input_ids"])
    pil_files = [PIL_Image.open(p).convert("RGB") for p in world["files"]]
    np.testing.assert_array_equal(results["encode_files"], theirs(pil_files, return_tensors="np")["input_ids"])
    np.testing.assert_array_equal(results["decode_image"], np.asarray(pil_files[1]))
    expected = PIL_Image.fromarray(world["crops"][2]).resize((40, 24), PIL_Image.BICUBIC, reducing_gap=None)
    np.testing.assert_array_equal(results["resize"], np.asarray(expected))
    return results


def _equal(a, b):
    return isinstance(a, np.ndarray) and a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b)


@pytest.mark.parametrize("sharing", ["shared", "separate", "separate-2-threads"])
def test_eight_threads_calling_everything_at_once(world, serial, sharing):
    ops = _operations(world)
    names = list(ops)
    shared = _objects(world)
    barrier = threading.Barrier(N_THREADS)
    mismatches, errors = [], []

    def worker(t):
        try:
            objects = shared if sharing == "shared" else _objects(world, 2 if sharing == "separate-2-threads" else None)
            order = names[t % len(names) :] + names[: t % len(names)]  # every operation runs alongside every other
            barrier.wait(timeout=60)
            for _round in range(2):
                for name in order:
                    got = ops[name](objects)
                    if not _equal(got, serial[name]):
                        mismatches.append((t, name))
        except BaseException as err:  # reported below, not lost in the thread
            errors.append((t, repr(err)))

    threads = [threading.Thread(target=worker, args=(t,), daemon=True) for t in range(N_THREADS)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(TIMEOUT)
    assert not any(th.is_alive() for th in threads), "threads still running after the timeout (deadlock?)"
    assert errors == [] and mismatches == [], (errors, mismatches)


def _child(fn, objects, conn):
    try:
        conn.send(("ok", fn(objects)))
    except BaseException as err:  # pragma: no cover - reported to the parent
        conn.send(("error", repr(err)))
    finally:
        conn.close()


@pytest.mark.parametrize("num_threads", [None, 2])
@pytest.mark.parametrize(
    "name",
    ["quantize", "quantize_normalized", "decode", "processor", "resize", "decode_image", "encode_files", "fit_palette"],
)
def test_fork_after_use_completes(world, serial, name, num_threads):
    """Use an entry point in the parent (starting its thread pools), fork, call it again in the child:
    the child must finish within the timeout with the serial result."""
    ops = _operations(world)
    objects = _objects(world, num_threads)
    assert _equal(ops[name](objects), serial[name])
    ctx = multiprocessing.get_context("fork")
    parent_conn, child_conn = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(ops[name], objects, child_conn), daemon=True)
    proc.start()
    child_conn.close()
    ready = parent_conn.poll(60)
    if not ready:
        proc.kill()
        proc.join(10)
        pytest.fail(f"forked child calling {name} (num_threads={num_threads}) did not finish in 60 s")
    status, value = parent_conn.recv()
    proc.join(30)
    assert status == "ok", value
    assert _equal(value, serial[name])
    assert proc.exitcode == 0

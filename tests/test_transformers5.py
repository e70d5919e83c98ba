"""transformers 5.x loads the processor configs we save and computes our input_ids with them.

transformers 5 is not importable beside 4.57 (the oracle of the rest of the suite), so these tests run a
transformers-5 interpreter in a subprocess: IMAGEGPT_RS_TF5_PYTHON (CI's .ci/run builds that side
environment, with torch and torchvision, which transformers 5's ImageGPT processors need). Its PIL
backend (``ImageGPTImageProcessorPil``) computes 4.57's slow formula and must give our ids exactly;
its default torchvision backend resizes with other arithmetic, so a few tokens may differ, as with
4.57's fast processor.
"""

from __future__ import annotations

import json
import os
import subprocess

import numpy as np
import pytest

from imagegpt_rs import ImageGPTImageProcessor

pytestmark = pytest.mark.skipif(
    not os.environ.get("IMAGEGPT_RS_TF5_PYTHON"),
    reason="set IMAGEGPT_RS_TF5_PYTHON to a python with transformers 5, torch and torchvision (.ci/run does)",
)

TF5_RUN = r"""
import json, sys
import numpy as np
import transformers
from transformers import AutoImageProcessor

assert transformers.__version__.startswith("5."), transformers.__version__
config_dir, photos_file, out_file = sys.argv[1:4]
photos = list(np.load(photos_file).values())
result = {}
for backend in ("pil", None):
    processor = AutoImageProcessor.from_pretrained(config_dir, backend=backend) if backend else AutoImageProcessor.from_pretrained(config_dir)
    ids = [np.asarray(processor(p, return_tensors="np")["input_ids"]).reshape(-1) for p in photos]
    result[backend or "default"] = {"class": type(processor).__name__, "ids": [i.tolist() for i in ids]}
json.dump(result, open(out_file, "w"))
"""


@pytest.mark.parametrize("size", [32, 48])
@pytest.mark.parametrize("palette", ["photo", "builtin"])
def test_transformers_5_processors_run_our_saved_config(tmp_path, rgb_photos, photo_palette, size, palette):
    clusters = photo_palette if palette == "photo" else None
    ours = ImageGPTImageProcessor(clusters=clusters, size={"height": size, "width": size})
    ours.save_pretrained(tmp_path / "processor")
    photos = list(rgb_photos.values())
    np.savez(tmp_path / "photos.npz", *photos)
    out = subprocess.run(
        [
            os.environ["IMAGEGPT_RS_TF5_PYTHON"],
            "-c",
            TF5_RUN,
            str(tmp_path / "processor"),
            str(tmp_path / "photos.npz"),
            str(tmp_path / "out.json"),
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    theirs = json.loads((tmp_path / "out.json").read_text())
    want = [np.asarray(ours(p)["input_ids"][0]) for p in photos]

    assert theirs["pil"]["class"] == "ImageGPTImageProcessorPil"
    for name, got, expected in zip(rgb_photos, theirs["pil"]["ids"], want):
        np.testing.assert_array_equal(np.asarray(got), expected, err_msg=f"{name}: PIL backend")

    assert theirs["default"]["class"] == "ImageGPTImageProcessor"  # the torchvision backend
    differ = sum(int((np.asarray(g) != w).sum()) for g, w in zip(theirs["default"]["ids"], want))
    total = sum(w.size for w in want)
    assert differ <= total // 500, f"torchvision backend: {differ} of {total} tokens differ"

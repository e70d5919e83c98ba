"""The command line: encode the repo's example images, preview them, validate configs."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from imagegpt_rs.cli import main

EXAMPLES = pathlib.Path(__file__).resolve().parents[1] / "examples" / "images"
PIL_Image = pytest.importorskip("PIL.Image")


def test_help_names_every_command():
    out = subprocess.run([sys.executable, "-m", "imagegpt_rs", "--help"], capture_output=True, text=True)
    assert out.returncode == 0
    for cmd in ("encode", "preview", "validate"):
        assert cmd in out.stdout


def test_encode_then_preview_the_examples(tmp_path, capsys):
    out = tmp_path / "tokens"
    assert main(["encode", str(EXAMPLES), "-o", str(out), "--size", "16", "--quiet"]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    n = len([p for p in os.listdir(EXAMPLES) if p.endswith((".png", ".jpg"))])
    assert sum(s["rows"] for s in manifest["shards"]) == n
    # The same ids as PIL.Image.open + convert("RGB") + transformers' processor with the same clusters.
    transformers = pytest.importorskip("transformers")
    proc = transformers.ImageGPTImageProcessor.from_dict(manifest["processor"])
    images = [PIL_Image.open(p).convert("RGB") for p in manifest["sources"]]
    expected = proc(images, return_tensors="np")["input_ids"]
    got = np.load(out / manifest["shards"][0]["files"][0])
    np.testing.assert_array_equal(got.astype(np.int64), expected)

    sheet = tmp_path / "sheet.png"
    assert main(["preview", str(out), "-o", str(sheet), "--columns", "3", "--scale", "2"]) == 0
    with PIL_Image.open(sheet) as im:
        assert im.mode == "RGB"
        rows = -(-n // 3)
        assert im.size == (3 * (32 + 2) + 2, rows * (32 + 2) + 2)
        pixels = np.asarray(im)
    # The first tile holds the decoded tokens of the first image, magnified twice.
    from imagegpt_rs import ImageGPTImageProcessor

    decoded = ImageGPTImageProcessor.from_dict(manifest["processor"]).decode(got[:1].astype(np.int64))
    np.testing.assert_array_equal(pixels[2:34:2, 2:34:2], decoded[0])


def test_encode_skips_bad_files_with_exit_code_3(tmp_path, capsys):
    src = tmp_path / "src"
    src.mkdir()
    for p in EXAMPLES.iterdir():
        if p.suffix in (".png", ".jpg"):
            (src / p.name).write_bytes(p.read_bytes())
    (src / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    out = tmp_path / "tokens"
    assert main(["encode", str(src), "-o", str(out), "--size", "8", "--on-error", "skip", "--quiet"]) == 3
    assert "broken.png" in capsys.readouterr().err
    assert main(["encode", str(src), "-o", str(tmp_path / "t2"), "--size", "8", "--quiet"]) == 1
    assert "broken.png" in capsys.readouterr().err


def test_validate_reports_every_problem(tmp_path, capsys):
    good = tmp_path / "good"
    from imagegpt_rs import ImageGPTConfig, ImageGPTImageProcessor

    ImageGPTConfig().save_pretrained(good)
    ImageGPTImageProcessor(size=32).save_pretrained(good)
    assert main(["validate", str(good)]) == 0
    assert capsys.readouterr().out.count(": OK") == 2
    bad = tmp_path / "config.json"
    bad.write_text(json.dumps({"model_type": "imagegpt", "n_embd": 100, "n_head": 8, "attn_pdrop": 2}))
    assert main(["validate", str(bad)]) == 3
    text = capsys.readouterr().out
    assert "n_embd" in text and "attn_pdrop" in text


def test_missing_input_is_exit_code_1(tmp_path, capsys):
    assert main(["encode", str(tmp_path / "nothing-here"), "-o", str(tmp_path / "o"), "--quiet"]) == 1
    assert "nothing-here" in capsys.readouterr().err


def test_validate_lists_every_processor_problem(tmp_path, capsys):
    bad = tmp_path / "preprocessor_config.json"
    bad.write_text(json.dumps({
        "clusters": [[0.0, 0.1, 0.2], [0.3, float("nan"), 0.5]],
        "size": {"height": 0, "width": 32},
        "resample": 9,
        "do_normalize": "yes",
        "image_processor_type": "ImageGPTImageProcessor",
    }))
    assert main(["validate", str(bad)]) == 3
    text = capsys.readouterr().out
    for field in ("clusters[1][1]", "size.height", "resample", "do_normalize"):
        assert field in text, text
    # transformers 4.57 loads such a file without complaint: these are our rules.
    from imagegpt_rs.image_processing import processor_config_violations

    assert processor_config_violations(json.loads(bad.read_text().replace("NaN", "0.4"))) != []
    good = {"clusters": [[0.0, 0.0, 0.0]], "size": {"height": 8, "width": 8}, "resample": 2, "do_resize": True}
    assert processor_config_violations(good) == []


def test_validate_reports_integers_beyond_64_bits(tmp_path, capsys):
    huge = tmp_path / "huge" / "config.json"
    huge.parent.mkdir()
    huge.write_text('{"model_type": "imagegpt", "n_embd": ' + "9" * 400 + ', "n_head": 8}')
    assert main(["validate", str(huge)]) == 3
    text = capsys.readouterr().out
    assert "INVALID" in text and "n_embd" in text and "2**63" in text

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
    bad.write_text(
        json.dumps(
            {
                "clusters": [[0.0, 0.1, 0.2], [0.3, float("nan"), 0.5]],
                "size": {"height": 0, "width": 32},
                "resample": 9,
                "do_normalize": "yes",
                "image_processor_type": "ImageGPTImageProcessor",
            }
        )
    )
    assert main(["validate", str(bad)]) == 3
    text = capsys.readouterr().out
    for field in ("clusters[1][1]", "size.height", "resample", "do_normalize"):
        assert field in text, text
    # transformers 4.57 loads such a file without complaint: these are our rules.
    from imagegpt_rs.image_processing import processor_config_violations

    assert processor_config_violations(json.loads(bad.read_text().replace("NaN", "0.4"))) != []
    good = {"clusters": [[0.0, 0.0, 0.0]], "size": {"height": 8, "width": 8}, "resample": 2, "do_resize": True}
    assert processor_config_violations(good) == []


# --------------------------------------------------------------------------- failures: one line, documented exit code
def _run_cli(*args, env=None):
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "imagegpt_rs", *args], capture_output=True, text=True, timeout=120, env=full_env
    )


@pytest.mark.parametrize(
    "args, message",
    [
        (["encode", "x", "-o", "y", "--workers", "-1"], "workers must be in 1..1024, got -1"),
        (["encode", "x", "-o", "y", "--workers", "0"], "workers must be in 1..1024, got 0"),
        (["encode", "x", "-o", "y", "--workers", "99999999999999999999"], "workers must be in 1..1024"),
        (["encode", "x", "-o", "y", "--size", "100000x100000"], "size 100000x100000 is too large"),
        (["encode", "x", "-o", "y", "--size", "2000"], "size 2000x2000 is too large"),
        (["encode", "x", "-o", "y", "--shard-size", "0"], "shard-size must be in 1.."),
        (["preview", "x", "--scale", "1000"], "scale must be in 1..64"),
        (["fit-palette", "x", "-o", "y", "--clusters", "70000"], "clusters must be in 1..65535"),
        (["fit-palette", "x", "-o", "y", "--tol", "nan"], "tol must be a finite number >= 0"),
        (["fit-palette", "x", "-o", "y", "--seed", "-1"], "seed must be in 0.."),
        (["fit-palette", "x", "-o", "y", "--workers", "2048"], "workers must be in 1..1024"),
    ],
)
def test_bad_numbers_are_usage_errors(args, message):
    """--workers -1 used to end in an OverflowError traceback, --size 100000x100000 in a MemoryError."""
    out = _run_cli(*args)
    assert out.returncode == 2, out.stderr
    assert len(out.stderr.splitlines()) == 1, out.stderr  # no usage block, no traceback
    assert message in out.stderr and out.stderr.startswith(f"imagegpt-rs {args[0]}: error: argument "), out.stderr


def test_usage_errors_are_one_line():
    for args in (["encode", "x"], ["nope"], [], ["encode", "x", "-o", "y", "--format", "tar"]):
        out = _run_cli(*args)
        assert out.returncode == 2 and len(out.stderr.splitlines()) == 1, out.stderr
        assert "error:" in out.stderr and "--help" in out.stderr


def test_size_bound_allows_1024x1024_and_rejects_one_more_row():
    from imagegpt_rs.cli import _parser

    assert _parser().parse_args(["encode", "x", "-o", "y", "--size", "1024x1024"]).size == (1024, 1024)
    with pytest.raises(SystemExit) as info:
        _parser().parse_args(["encode", "x", "-o", "y", "--size", "1025x1024"])
    assert info.value.code == 2


@pytest.fixture()
def encoded(tmp_path):
    out = tmp_path / "tokens"
    assert main(["encode", str(EXAMPLES), "-o", str(out), "--size", "8", "--quiet", "--shard-size", "2"]) == 0
    return out


def _one_error_line(capsys):
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def test_manifest_shard_without_files_is_one_line(encoded, tmp_path, capsys):
    manifest = json.loads((encoded / "manifest.json").read_text())
    del manifest["shards"][1]["files"]
    (encoded / "manifest.json").write_text(json.dumps(manifest))
    assert main(["preview", str(encoded), "-o", str(tmp_path / "s.png")]) == 1
    line = _one_error_line(capsys)
    assert line.startswith("imagegpt-rs preview: error: ") and "manifest.json: shard 1: files" in line


def test_truncated_manifest_names_the_file(encoded, tmp_path, capsys):
    text = (encoded / "manifest.json").read_text()
    (encoded / "manifest.json").write_text(text[:100])
    assert main(["preview", str(encoded), "-o", str(tmp_path / "s.png")]) == 1
    assert f"{encoded / 'manifest.json'}: not a valid manifest" in _one_error_line(capsys)
    assert (
        main(["encode", str(EXAMPLES), "-o", str(encoded), "--size", "8", "--quiet", "--shard-size", "2", "--resume"])
        == 1
    )
    assert f"{encoded / 'manifest.json'}: not a valid manifest" in _one_error_line(capsys)


def test_bad_config_is_one_line_listing_every_problem(tmp_path, capsys):
    bad = tmp_path / "preprocessor_config.json"
    bad.write_text(json.dumps({"clusters": [[0.0, 0.0, 0.5]], "size": {"height": 0, "width": -3}}))
    assert main(["encode", str(EXAMPLES), "-o", str(tmp_path / "o"), "--config", str(bad), "--quiet"]) == 1
    line = _one_error_line(capsys)
    assert "has 2 invalid fields: size.height = 0: must be an integer >= 1; size.width = -3" in line, line


@pytest.mark.parametrize(
    "exc, code, expected",
    [
        (
            RuntimeError("boom"),
            1,
            "imagegpt-rs encode: internal error: RuntimeError: boom (rerun with IMAGEGPT_RS_DEBUG=1 for the traceback)",
        ),
        (
            KeyError("files"),
            1,
            "imagegpt-rs encode: internal error: KeyError: 'files' (rerun with IMAGEGPT_RS_DEBUG=1 for the traceback)",
        ),
        (
            MemoryError(),
            1,
            "imagegpt-rs encode: error: out of memory (try a smaller --size, --shard-size or --workers)",
        ),
        (OverflowError("too big"), 1, "imagegpt-rs encode: error: too big"),
        (KeyboardInterrupt(), 130, "interrupted"),
    ],
)
def test_unexpected_exceptions_are_one_line(tmp_path, capsys, monkeypatch, exc, code, expected):
    from imagegpt_rs import encoding

    def fail(*args, **kwargs):
        raise exc

    monkeypatch.setattr(encoding, "encode_to_directory", fail)
    monkeypatch.delenv("IMAGEGPT_RS_DEBUG", raising=False)
    assert main(["encode", str(EXAMPLES), "-o", str(tmp_path / "o"), "--quiet"]) == code
    assert _one_error_line(capsys) == expected
    if code == 1:
        monkeypatch.setenv("IMAGEGPT_RS_DEBUG", "1")
        with pytest.raises(type(exc)):
            main(["encode", str(EXAMPLES), "-o", str(tmp_path / "o"), "--quiet"])


def test_internal_error_in_a_real_process_has_no_traceback(tmp_path):
    """The same through `python -m imagegpt_rs`, with a preview of a manifest whose shard entry is a list."""
    out = tmp_path / "tokens"
    assert main(["encode", str(EXAMPLES), "-o", str(out), "--size", "8", "--quiet"]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["processor"] = "not a dict"
    (out / "manifest.json").write_text(json.dumps(manifest))
    res = _run_cli("preview", str(out), "-o", str(tmp_path / "s.png"))
    assert res.returncode == 1 and "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1, res.stderr
    res = _run_cli("preview", str(out), "-o", str(tmp_path / "s.png"), env={"IMAGEGPT_RS_DEBUG": "1"})
    assert res.returncode == 1 and "Traceback" in res.stderr


@pytest.mark.parametrize("ids", [np.full((2, 16), 0.5), np.zeros((2, 2, 16), np.int64)])
def test_preview_refuses_ids_that_are_not_token_arrays(tmp_path, capsys, ids):
    """Float ids used to be truncated to 0 silently, 3-D ids drawn as if flattened."""
    np.save(tmp_path / "ids.npy", ids)
    assert main(["preview", str(tmp_path / "ids.npy"), "-o", str(tmp_path / "s.png")]) == 1
    assert "expected integer token ids of shape (N, H*W)" in _one_error_line(capsys)
    assert not (tmp_path / "s.png").exists()


def test_missing_config_file_is_not_looked_up_on_the_hub(tmp_path):
    res = _run_cli(
        "encode",
        str(EXAMPLES),
        "-o",
        str(tmp_path / "o"),
        "--config",
        str(tmp_path / "nope.json"),
        env={"HF_HUB_OFFLINE": "0"},
    )
    assert res.returncode == 1
    assert res.stderr.strip() == f"imagegpt-rs encode: error: --config {tmp_path / 'nope.json'}: no such file"


def test_validate_reports_integers_beyond_64_bits(tmp_path, capsys):
    huge = tmp_path / "huge" / "config.json"
    huge.parent.mkdir()
    huge.write_text('{"model_type": "imagegpt", "n_embd": ' + "9" * 400 + ', "n_head": 8}')
    assert main(["validate", str(huge)]) == 3
    text = capsys.readouterr().out
    assert "INVALID" in text and "n_embd" in text and "2**63" in text

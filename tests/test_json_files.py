"""Every JSON file the package reads goes through one reader: malformed, too deeply nested or
over-long-integer files raise ConfigFileError (a ValueError) naming the file, line and column, from the
model config, the image processor and the CLI alike (never a bare RecursionError or ValueError)."""

from __future__ import annotations

import pathlib
import sys

import pytest

from imagegpt_rs import ImageGPTConfig, ImageGPTImageProcessor
from imagegpt_rs.cli import main
from imagegpt_rs.configuration import ConfigFileError

EXAMPLES = pathlib.Path(__file__).resolve().parents[1] / "examples" / "images"
_DIGITS = (getattr(sys, "get_int_max_str_digits", lambda: 4300)() or 4300) + 10

CASES = {
    "malformed": ('{\n  "size": 32,\n  "do_resize": tru\n}\n', 3),
    "deeply-nested": ('{\n  "size": 32,\n  "clusters": ' + "[" * 100_000 + "]" * 100_000 + "\n}\n", 3),
    "long-integer": ('{\n  "size": 32,\n\n  "resample": ' + "9" * _DIGITS + "\n}\n", 4),
}


@pytest.fixture(params=sorted(CASES))
def bad_file(request, tmp_path):
    text, line = CASES[request.param]
    path = tmp_path / "preprocessor_config.json"
    path.write_text(text)
    return path, line


@pytest.mark.parametrize(
    "load",
    [ImageGPTImageProcessor.from_json_file, ImageGPTImageProcessor.from_pretrained, ImageGPTConfig.from_json_file],
    ids=["processor.from_json_file", "processor.from_pretrained", "config.from_json_file"],
)
def test_loaders_name_file_line_and_column(load, bad_file):
    path, line = bad_file
    with pytest.raises(ConfigFileError) as exc:
        load(path)
    assert exc.value.path == str(path) and exc.value.lineno == line and exc.value.colno is not None
    assert str(path) in str(exc.value) and f"line {line}, column" in str(exc.value)


def test_cli_validate_names_file_line_and_column(bad_file, capsys):
    path, line = bad_file
    assert main(["validate", str(path)]) == 3
    out = capsys.readouterr().out
    assert f"{path}: INVALID" in out and f"line {line}, column" in out and "Traceback" not in out


def test_cli_encode_config_names_file_line_and_column(bad_file, tmp_path, capsys):
    path, line = bad_file
    assert main(["encode", str(EXAMPLES), "-o", str(tmp_path / "o"), "--config", str(path), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert str(path) in err and f"line {line}, column" in err and "Traceback" not in err

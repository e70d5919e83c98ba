"""Validation of ImageGPTConfig (rules in the Rust core), malformed files, and check_compatible.

The policy (README, "Validation policy"): by default we raise only for values transformers also refuses
(types transformers 5's strict config rejects, transformers 4.57's own errors) and warn with a
ConfigValidationWarning for values transformers accepts but that cannot build a model; strict=True,
config.validate() and `imagegpt-rs validate` raise for every problem.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import math
import os
import pathlib
import subprocess
import warnings

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from imagegpt_rs import ConfigValidationError, ConfigValidationWarning, ImageGPTConfig, _native, check_compatible
from imagegpt_rs.configuration import ConfigFileError

VALID = dict(n_embd=512, n_head=8, n_layer=24)

# field -> values that break its rule
BAD_VALUES = {
    "vocab_size": [0, -1, True, 2.0, "513", None],
    "n_positions": [0, -1024, False, 1024.0, None],
    "n_embd": [0, -8, True, 512.0],
    "n_layer": [0, -1, True, 24.5, "24"],
    "n_head": [0, -8, False, 8.0],
    "n_inner": [0, -1, True, 2048.0, "2048"],
    "activation_function": ["gelu2", "GELU", "", None, 1],
    "resid_pdrop": [-0.1, 1.5, math.nan, math.inf, True, "0.1", None],
    "embd_pdrop": [-1, 2, -math.inf, False],
    "attn_pdrop": [1.0000001, math.nan, "x"],
    "layer_norm_epsilon": [0, 0.0, -1e-5, math.inf, math.nan, True, None],
    "initializer_range": [-0.02, -1, math.nan, math.inf, False, "0.02"],
    "scale_attn_weights": [1, 0, "True", None],
    "use_cache": [1, "yes"],
    "tie_word_embeddings": [0, None],
    "scale_attn_by_inverse_layer_idx": [1.0, "False"],
    "reorder_and_upcast_attn": [0, None],
    "problem_type": ["ranking", "", 1],
    # PretrainedConfig fields transformers 5 types strictly
    "output_hidden_states": [1, "no"],
    "return_dict": [0],
    "torchscript": [None, 1],
    "is_encoder_decoder": [1],
    "is_decoder": ["True"],
    "add_cross_attention": [0],
    "tie_encoder_decoder": [None],
    "chunk_size_feed_forward": [-1, True, 1.5],
    "architectures": ["ImageGPTForCausalImageModeling", [1]],
    "bos_token_id": [True, 1.0, "1"],
    "pad_token_id": ["0"],
    "eos_token_id": [[1, True], "2", 2.0],
    "sep_token_id": [False],
    "decoder_start_token_id": [0.5],
}
ALIASES = {
    "hidden_size": "n_embd",
    "max_position_embeddings": "n_positions",
    "num_attention_heads": "n_head",
    "num_hidden_layers": "n_layer",
}


def _check_error(err: ConfigValidationError, field: str, value) -> None:
    assert isinstance(err, ValueError)
    assert [e["field"] for e in err.errors] == [field]
    message = str(err)
    assert field in message
    shown = err.errors[0]["value"]
    assert shown in message
    # the value shown is the Python value (repr-like: strings quoted, floats as Python prints them)
    if isinstance(value, str):
        assert shown == json.dumps(value)
    elif isinstance(value, bool) or value is None:
        assert shown == repr(value)
    elif isinstance(value, float) and math.isfinite(value):
        assert float(shown) == value
    elif isinstance(value, int):
        # an int for a float-only field is stored as a float first (see configuration.py)
        assert shown == str(value) or (
            field in ("layer_norm_epsilon", "initializer_range") and shown == repr(float(value))
        )
    elif isinstance(value, list):
        assert shown.startswith("[")


def _default_mode(build):
    """Runs ``build()`` in the default mode: returns ("raised", error) or ("warned", warning) or ("silent", None)."""
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        try:
            build()
        except ConfigValidationError as e:
            return "raised", e
    ours = [w.message for w in got if issubclass(w.category, ConfigValidationWarning)]
    assert len(ours) <= 1, ours
    return ("warned", ours[0]) if ours else ("silent", None)


def _transformers_4_accepts(kw) -> bool:
    transformers = pytest.importorskip("transformers")
    try:
        transformers.ImageGPTConfig(**kw)
    except Exception:
        return False
    return True


@pytest.mark.parametrize(
    "field,value", [(f, v) for f, values in BAD_VALUES.items() for v in values], ids=lambda x: repr(x)
)
def test_each_rule_is_strict_on_demand_and_never_silent(field, value):
    # strict=True and validate() report every rule
    with pytest.raises(ConfigValidationError) as exc:
        ImageGPTConfig(**{field: value}, strict=True)
    _check_error(exc.value, field, value)

    # default: an error where transformers refuses the value too, otherwise a warning naming the same problem
    outcome, raised = _default_mode(lambda: ImageGPTConfig(**{field: value}))
    assert outcome in ("raised", "warned")
    _check_error(raised, field, value) if outcome == "raised" else None
    if outcome == "warned":
        assert raised.errors == exc.value.errors
        config = ImageGPTConfig(**{field: value}) if True else None
        with pytest.raises(ConfigValidationError) as again:
            config.validate()
        assert again.value.errors == exc.value.errors
        assert config.validate(raise_on_error=False) == exc.value.errors
    else:
        assert not _transformers_4_accepts({field: value}) or field in _TF5_REFUSES_BY_TYPE

    # assignment: the same outcome, and a refused assignment changes nothing
    config = ImageGPTConfig()
    before = config.to_dict()
    assigned, err = _default_mode(lambda: setattr(config, field, value))
    # transformers 4.57 checks problem_type at construction only
    assert assigned == ("warned" if field == "problem_type" else outcome)
    if assigned == "raised":
        _check_error(err, field, value)
        assert config.to_dict() == before
    else:
        assert err.errors == exc.value.errors


# Fields transformers 5.24's strict ImageGPTConfig types (a value of another type raises there); checked
# against transformers 5 itself by test_default_errors_are_what_transformers_refuses.
_TF5_REFUSES_BY_TYPE = {
    "vocab_size",
    "n_positions",
    "n_embd",
    "n_layer",
    "n_head",
    "n_inner",
    "activation_function",
    "resid_pdrop",
    "embd_pdrop",
    "attn_pdrop",
    "layer_norm_epsilon",
    "initializer_range",
    "scale_attn_weights",
    "use_cache",
    "tie_word_embeddings",
    "scale_attn_by_inverse_layer_idx",
    "reorder_and_upcast_attn",
    "add_cross_attention",
    "bos_token_id",
    "pad_token_id",
    "eos_token_id",
}

TF5_REFUSES = r"""
import json, sys, transformers
assert transformers.__version__.split(".")[0] == "5", transformers.__version__
out = []
for field, value in json.loads(sys.stdin.read()):
    results = []
    for how in ("init", "set"):
        try:
            if how == "init":
                transformers.ImageGPTConfig(**{field: value})
            else:
                setattr(transformers.ImageGPTConfig(), field, value)
            results.append(False)
        except Exception:
            results.append(True)
    out.append(results)
print(json.dumps(out))
"""


@pytest.mark.skipif(
    not os.environ.get("IMAGEGPT_RS_TF5_PYTHON"), reason="set IMAGEGPT_RS_TF5_PYTHON to a python with transformers 5"
)
def test_default_errors_are_what_transformers_refuses():
    """Side by side with transformers 5 (strict configs) and 4.57: by default we raise exactly where
    transformers 5 or 4.57 raise, with one documented leniency (an int for layer_norm_epsilon or
    initializer_range, which 4.57 accepts and we store as a float). Everything else is a warning."""
    cases = [(f, v) for f, values in BAD_VALUES.items() for v in values]
    cases += [
        ("n_embd", 37),
        ("hidden_size", 0),
        ("n_head", 5),
        ("n_head", 10**30),
        ("n_embd", 2**64),
        ("layer_norm_epsilon", 1),
        ("initializer_range", 0),
        ("dtype", "float16"),
    ]
    out = subprocess.run(
        [os.environ["IMAGEGPT_RS_TF5_PYTHON"], "-c", TF5_REFUSES],
        input=json.dumps(cases),
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    tf5 = json.loads(out.stdout.strip().splitlines()[-1])
    for (field, value), (tf5_init, tf5_set) in zip(cases, tf5, strict=True):
        real = ALIASES.get(field, field)
        tf4_init = not _transformers_4_accepts({field: value})
        ours_init = _default_mode(lambda: ImageGPTConfig(**{field: value}))[0] == "raised"
        lenient = real in ("layer_norm_epsilon", "initializer_range") and type(value) is int
        want = (tf5_init or tf4_init) and not lenient
        assert ours_init == want, (field, value, "tf5", tf5_init, "4.57", tf4_init)
        config = ImageGPTConfig()
        ours_set = _default_mode(lambda: setattr(config, field, value))[0] == "raised"
        # transformers 4.57 checks nothing on assignment; problem_type's check is at construction only
        want_set = tf5_set and not lenient
        assert ours_set == want_set, (field, value, "tf5", tf5_set)
        assert (real in _TF5_REFUSES_BY_TYPE and (tf5_init or tf5_set)) or not (tf5_init or tf5_set)


@pytest.mark.parametrize("alias,field", list(ALIASES.items()))
@pytest.mark.parametrize("value", [0, True, 3.0])
def test_aliases_are_validated(alias, field, value):
    with pytest.raises(ConfigValidationError) as exc:
        ImageGPTConfig(**{alias: value}, strict=True)
    _check_error(exc.value, field, value)
    outcome, err = _default_mode(lambda: ImageGPTConfig(**{alias: value}))
    assert outcome == ("warned" if value == 0 else "raised")  # 0 is an int: transformers accepts it
    assert err.errors == exc.value.errors
    config = ImageGPTConfig()
    outcome, err = _default_mode(lambda: setattr(config, alias, value))
    assert outcome == ("warned" if value == 0 else "raised")
    assert err.errors == exc.value.errors


def test_divisibility_and_all_problems_at_once():
    with pytest.raises(ConfigValidationError) as exc:
        ImageGPTConfig(n_embd=500, n_head=8, strict=True)
    assert exc.value.errors == [{"field": "n_embd", "value": "500", "rule": "must be divisible by n_head (8)"}]
    with pytest.warns(ConfigValidationWarning, match="divisible") as got:
        config = ImageGPTConfig(n_embd=500, n_head=8)
    assert got[0].message.errors == exc.value.errors
    assert config.n_embd == 500
    with pytest.raises(ConfigValidationError) as exc:
        ImageGPTConfig(
            vocab_size=0, resid_pdrop=2.0, use_cache=1, activation_function="nope", layer_norm_epsilon=0.0, strict=True
        )
    fields = [e["field"] for e in exc.value.errors]
    assert fields == ["vocab_size", "activation_function", "resid_pdrop", "layer_norm_epsilon", "use_cache"]
    assert "has 5 invalid fields" in str(exc.value)
    for field in fields:
        assert field in str(exc.value)
    # by default only the wrong type (use_cache=1) raises
    with pytest.raises(ConfigValidationError) as exc:
        ImageGPTConfig(vocab_size=0, resid_pdrop=2.0, use_cache=1, activation_function="nope", layer_norm_epsilon=0.0)
    assert [e["field"] for e in exc.value.errors] == ["use_cache"]


def test_official_configs_pass():
    for n_embd, n_head, n_layer in [(512, 8, 24), (1024, 8, 36), (1536, 16, 48)]:
        config = ImageGPTConfig(n_embd=n_embd, n_head=n_head, n_layer=n_layer)
        assert (config.hidden_size, config.num_attention_heads, config.num_hidden_layers) == (n_embd, n_head, n_layer)


def test_valid_edge_values_pass():
    ImageGPTConfig(resid_pdrop=0, embd_pdrop=1, attn_pdrop=1.0, initializer_range=0, n_inner=1, layer_norm_epsilon=1)
    ImageGPTConfig(vocab_size=2**70, n_embd=1, n_head=1)  # big ints are ints


def test_step_by_step_edits_as_transformers_allows():
    transformers = pytest.importorskip("transformers")
    for cls in (ImageGPTConfig, transformers.ImageGPTConfig):
        config = cls()
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a cross-field rule is never checked on one assignment
            config.n_head = 5  # 512 is not divisible by 5 ...
            config.n_embd = 40  # ... until the next line
        assert (config.n_embd, config.n_head) == (40, 5)
    config = ImageGPTConfig()
    config.update({"n_embd": 60, "num_attention_heads": 6})
    assert (config.n_embd, config.n_head) == (60, 6)
    assert config.validate() == []
    before = config.to_dict()
    with pytest.raises(ConfigValidationError) as exc:
        config.update({"n_layer": 0, "use_cache": "no", "custom": 1})
    assert [e["field"] for e in exc.value.errors] == ["use_cache"]  # the wrong type; n_layer=0 only warns
    assert config.to_dict() == before and not hasattr(config, "custom")  # nothing changes when update raises
    with pytest.warns(ConfigValidationWarning, match="n_layer"):
        config.update_from_string("n_layer=0")
    assert config.n_layer == 0
    with pytest.raises(ConfigValidationError, match="n_layer"):
        config.validate()


def test_from_dict_validates_the_final_state():
    d = ImageGPTConfig().to_dict()
    d["n_embd"] = 60
    # invalid on its own, fixed by the override: accepted, as transformers applies overrides after building
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        config = ImageGPTConfig.from_dict(dict(d), n_head=6, strict=True)
    assert (config.n_embd, config.n_head) == (60, 6)
    with pytest.raises(ConfigValidationError) as exc:
        ImageGPTConfig.from_dict(dict(d), n_layer=-1, strict=True)
    assert [e["field"] for e in exc.value.errors] == ["n_layer", "n_embd"]
    with pytest.warns(ConfigValidationWarning) as got:
        ImageGPTConfig.from_dict(dict(d), n_layer=-1)
    assert got[0].message.errors == exc.value.errors


def test_invalid_field_in_file_names_the_file(tmp_path):
    path = tmp_path / "config.json"
    d = json.loads(ImageGPTConfig().to_json_string())
    d["n_head"] = 0
    d["attn_pdrop"] = 3
    path.write_text(json.dumps(d, indent=2))
    for load in (ImageGPTConfig.from_json_file, ImageGPTConfig.from_pretrained):
        with pytest.raises(ConfigValidationError) as exc:
            load(path, strict=True)
        assert str(path) in str(exc.value)
        assert [e["field"] for e in exc.value.errors] == ["n_head", "attn_pdrop"]
        with pytest.warns(ConfigValidationWarning) as got:
            config = load(path)  # transformers loads it: so do we, with a warning naming the file
        assert str(path) in str(got[0].message)
        assert got[0].message.errors == exc.value.errors
        assert (config.n_head, config.attn_pdrop) == (0, 3)
    with pytest.raises(ConfigValidationError) as exc:
        ImageGPTConfig.from_pretrained(tmp_path, strict=True)
    assert str(tmp_path) in str(exc.value)
    d["n_layer"] = "24"  # a type transformers 5 refuses: an error by default, naming the file
    path.write_text(json.dumps(d, indent=2))
    for load in (ImageGPTConfig.from_json_file, ImageGPTConfig.from_pretrained):
        with pytest.raises(ConfigValidationError) as exc:
            load(path)
        assert str(path) in str(exc.value)
        assert [e["field"] for e in exc.value.errors] == ["n_layer"]


@pytest.mark.parametrize(
    "text",
    [
        '{\n  "n_embd": 512,\n  "n_head": 8,\n}\n',  # trailing comma
        '{\n  "n_embd": 512\n  "n_head": 8\n}',  # missing comma
        '{"n_embd": 512, "n_layer": }',
        "",
        "\n\n   [",
    ],
)
def test_malformed_json_names_file_line_and_column(tmp_path, text):
    path = tmp_path / "config.json"
    path.write_text(text)
    with pytest.raises(json.JSONDecodeError) as reference:
        json.loads(text)
    for load in (ImageGPTConfig.from_json_file, ImageGPTConfig.from_pretrained):
        for arg in (path, tmp_path) if load is ImageGPTConfig.from_pretrained else (path,):
            with pytest.raises(ConfigFileError) as exc:
                load(arg)
            err = exc.value
            assert isinstance(err, ConfigValidationError) and isinstance(err, ValueError) and isinstance(err, OSError)
            assert (err.lineno, err.colno) == (reference.value.lineno, reference.value.colno)
            assert str(path) in str(err)
            assert f"line {reference.value.lineno}, column {reference.value.colno}" in str(err)


def test_json_that_is_not_an_object(tmp_path):
    path = tmp_path / "config.json"
    path.write_text("[1, 2]")
    with pytest.raises(ConfigFileError, match="JSON object"):
        ImageGPTConfig.from_json_file(path)
    path.write_bytes(b'{"n_embd": "\xff"}')
    with pytest.raises(ConfigFileError, match="UTF-8") as exc:
        ImageGPTConfig.from_json_file(path)
    assert str(path) in str(exc.value)


def test_missing_config_file_is_an_os_error(tmp_path):
    with pytest.raises(OSError, match="config.json"):
        ImageGPTConfig.from_pretrained(tmp_path)


def test_validation_matches_transformers_where_it_also_rejects():
    transformers = pytest.importorskip("transformers")
    for kw in (dict(problem_type="ranking"), dict(label2id=[("a", 0)]), dict(id2label=["a"])):
        with pytest.raises(ValueError):
            transformers.ImageGPTConfig(**kw)
        with pytest.raises(ConfigValidationError):
            ImageGPTConfig(**kw)
    with pytest.raises(ConfigValidationError, match="id2label"):
        ImageGPTConfig(id2label={"zero": "a"})


def _act2fn_keys() -> list[str]:
    """transformers' ACT2FN keys, read from activations.py without importing it (it needs torch)."""
    spec = importlib.util.find_spec("transformers")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("transformers is not installed")
    source = pathlib.Path(list(spec.submodule_search_locations)[0], "activations.py").read_text()
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "ACT2CLS" for t in node.targets):
            return [ast.literal_eval(k) for k in node.value.keys]
    raise AssertionError("ACT2CLS not found in transformers/activations.py")


def test_activation_names_equal_transformers_act2fn():
    keys = _act2fn_keys()
    assert sorted(_native.activation_functions()) == sorted(keys)
    assert len(set(keys)) == len(keys)
    if importlib.util.find_spec("torch") is not None:
        from transformers.activations import ACT2FN

        assert sorted(ACT2FN) == sorted(_native.activation_functions())
    for name in keys:
        assert ImageGPTConfig(activation_function=name).activation_function == name


# ------------------------------------------------------------------------------------- check_compatible


def _processor():
    transformers = pytest.importorskip("transformers")
    np = pytest.importorskip("numpy")
    rng = np.random.default_rng(0)
    # the openai/imagegpt-* checkpoints resize to 32x32 (the processor's own default is 256x256)
    return transformers.ImageGPTImageProcessor(clusters=rng.uniform(-1, 1, (512, 3)), size={"height": 32, "width": 32})


def test_check_compatible_with_transformers_processor():
    processor = _processor()
    config = ImageGPTConfig()
    # the real processor's clusters and size dict, as transformers stores them
    check_compatible(config, n_clusters=processor.clusters, image_size=processor.size)
    check_compatible(
        config, n_clusters=len(processor.clusters), image_size=(processor.size["height"], processor.size["width"])
    )
    check_compatible(config.to_transformers(), n_clusters=512, image_size=32)
    default_size = type(processor)(clusters=processor.clusters).size  # transformers' default: 256x256
    with pytest.raises(ConfigValidationError, match="n_positions = 1024") as exc:
        check_compatible(config, n_clusters=processor.clusters, image_size=default_size)
    h, w = default_size["height"], default_size["width"]
    assert str(h * w) in str(exc.value)
    with pytest.raises(ConfigValidationError) as exc:
        check_compatible(
            ImageGPTConfig(vocab_size=512, n_positions=1000), n_clusters=processor.clusters, image_size=processor.size
        )
    err = exc.value
    assert [e["field"] for e in err.errors] == ["vocab_size", "n_positions"]
    assert err.errors[0]["value"] == "512" and "513" in err.errors[0]["rule"]
    assert err.errors[1]["value"] == "1000" and "1024" in err.errors[1]["rule"]
    assert "vocab_size = 512" in str(err) and "n_positions = 1000" in str(err)


def test_check_compatible_shapes_and_bad_arguments():
    config = ImageGPTConfig(n_positions=48 * 32)
    check_compatible(config, image_size=(48, 32))
    check_compatible(config)  # nothing to compare
    with pytest.raises(ConfigValidationError, match="n_positions"):
        check_compatible(config, image_size=(48, 33))
    with pytest.raises(ConfigValidationError, match="vocab_size"):
        check_compatible(config, n_clusters=511)
    for bad in (
        dict(n_clusters=0),
        dict(n_clusters=True),
        dict(n_clusters=2.5),
        dict(image_size=(0, 5)),
        dict(image_size=(1, 2, 3)),
        dict(image_size="32"),
        dict(image_size=2**80),
        dict(n_clusters=-(2**70)),
    ):
        with pytest.raises(ConfigValidationError):
            check_compatible(config, **bad)
    with pytest.raises(ConfigValidationError, match="image_size"):
        check_compatible(config, image_size=(0, 5))


def test_using_the_config_imports_nothing_heavy(tmp_path):
    import subprocess
    import sys

    code = (
        "import json, sys, imagegpt_rs\n"
        "c = imagegpt_rs.ImageGPTConfig(n_layer=12)\n"
        f"c.save_pretrained({str(tmp_path)!r}); c = imagegpt_rs.ImageGPTConfig.from_pretrained({str(tmp_path)!r})\n"
        "imagegpt_rs.check_compatible(c, n_clusters=512, image_size=32); c.to_diff_dict(); repr(c)\n"
        "print(json.dumps([m for m in ('transformers', 'torch', 'huggingface_hub', 'numpy', 'PIL', 'onnx') if m in sys.modules]))"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    assert json.loads(out) == []


# ------------------------------------------------------------------------------- hostile values and files


def test_integers_beyond_64_bits_are_reported():
    for kwargs, field in (
        (dict(n_head=10**30), "n_head"),
        (dict(n_embd=2**64, n_head=3), "n_embd"),
        (dict(n_embd=10**5000), "n_embd"),
        (dict(chunk_size_feed_forward=-(10**5000)), "chunk_size_feed_forward"),
    ):
        with pytest.warns(ConfigValidationWarning) as got:
            config = ImageGPTConfig(**kwargs)
        assert [e["field"] for e in got[0].message.errors] == [field]
        with pytest.raises(ConfigValidationError) as exc:
            config.validate()
        assert [e["field"] for e in exc.value.errors] == [field]
        with pytest.raises(ConfigValidationError):
            ImageGPTConfig(**kwargs, strict=True)
    # over Python's int digit limit the value is shown by its size
    assert "bits" in ImageGPTConfig(n_embd=10**5000).validate(raise_on_error=False)[0]["value"]


def test_lone_surrogates_are_values_like_any_other(tmp_path):
    with pytest.warns(ConfigValidationWarning, match="activation_function"):
        config = ImageGPTConfig(activation_function="\ud800")
    with pytest.raises(ConfigValidationError, match="activation_function"):
        config.validate()
    path = tmp_path / "config.json"
    path.write_text('{"activation_function": "\\ud800", "architectures": ["\\udfff"]}')
    with pytest.raises(ConfigValidationError) as exc:
        ImageGPTConfig.from_json_file(path, strict=True)
    assert str(path) in str(exc.value)
    assert [e["field"] for e in exc.value.errors] == ["activation_function"]


@pytest.mark.parametrize(
    "text,where",
    [
        ('{"n_embd": 1' + "0" * 5000 + "}", (1, 12)),
        ('{\n  "n_layer": 2,\n  "task_specific_params": ' + "[" * 100_000 + "]" * 100_000 + "}", None),
        ('{"a": "[[[[", "b": ' + "{" * 50_000 + "}" * 50_000 + "}", None),
    ],
    ids=["long-int", "deep-array", "deep-object"],
)
def test_unreadable_json_names_file_line_and_column(tmp_path, text, where):
    path = tmp_path / "config.json"
    path.write_text(text)
    for load in (ImageGPTConfig.from_json_file, ImageGPTConfig.from_pretrained):
        with pytest.raises(ConfigFileError) as exc:
            load(path)
        err = exc.value
        assert isinstance(err, ConfigValidationError) and str(path) in str(err)
        assert f"line {err.lineno}, column {err.colno}" in str(err)
        if where:
            assert (err.lineno, err.colno) == where
        else:
            assert err.lineno >= 1 and err.colno > 1


def test_reserved_names_in_a_file_are_config_errors(tmp_path):
    transformers = pytest.importorskip("transformers")
    path = tmp_path / "config.json"
    for key, value, theirs in (
        ("__class__", 1, TypeError),
        ("use_return_dict", False, AttributeError),
        ("pruned_heads", [1], AttributeError),
    ):
        path.write_text(json.dumps({key: value}))
        with pytest.raises(theirs):
            transformers.ImageGPTConfig.from_json_file(
                path
            ) if key != "pruned_heads" else transformers.ImageGPTConfig.from_pretrained(path)
        # transformers' from_json_file does not convert pruned_heads (so it does not fail on them)
        for load in (ImageGPTConfig.from_pretrained,) + (
            (ImageGPTConfig.from_json_file,) if key != "pruned_heads" else ()
        ):
            with pytest.raises(ConfigValidationError) as exc:
                load(path)
            assert key in str(exc.value) and str(path) in str(exc.value)
            assert isinstance(exc.value, theirs) or key == "pruned_heads"  # still what transformers raises


# JSON-like values, hostile ones included: huge ints, non-finite floats, lone surrogates, nesting.
_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=2**63 - 2, max_value=2**70)
    | st.integers(min_value=-(2**70), max_value=-(2**63) + 2)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(alphabet=st.characters(codec=None), max_size=8)
)
_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=8,
)
_keys = st.sampled_from(
    sorted(_native.validated_config_fields())
    + sorted(ALIASES)
    + [
        "num_labels",
        "id2label",
        "label2id",
        "dtype",
        "torch_dtype",
        "pruned_heads",
        "output_attentions",
        "attn_implementation",
        "name_or_path",
        "transformers_version",
        "task_specific_params",
        "use_return_dict",
        "__class__",
        "__dict__",
        "_name_or_path",
    ]
) | st.text(max_size=6)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(_keys, _values, max_size=6))
def test_hostile_config_dicts_give_config_errors_or_warnings_only(d):
    from hypothesis import note

    for strict in (False, True):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConfigValidationWarning)
            try:
                config = ImageGPTConfig.from_dict(dict(d), strict=strict)
            except ConfigValidationError:
                continue
        note(repr(config.__dict__))
        assert isinstance(config.validate(raise_on_error=False), list)
        if strict:
            assert config.validate(raise_on_error=False) == []


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(d=st.dictionaries(_keys, _values, max_size=6), junk=st.binary(max_size=40))
def test_hostile_config_files_give_config_errors_or_warnings_only(tmp_path, d, junk):
    path = tmp_path / "config.json"
    text = json.dumps(d)
    for data in (text.encode("utf-8", "surrogatepass"), junk, text.encode()[: len(junk)]):
        path.write_bytes(data)
        for strict in (False, True):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConfigValidationWarning)
                try:
                    ImageGPTConfig.from_json_file(path, strict=strict)
                    ImageGPTConfig.from_pretrained(tmp_path, strict=strict)
                except ConfigValidationError as e:
                    assert str(path) in str(e) or str(tmp_path) in str(e), str(e)

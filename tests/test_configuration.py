"""Differential tests: imagegpt_rs.ImageGPTConfig against transformers 4.57's ImageGPTConfig, side by side.

Every test builds the same config in both libraries (mostly from hypothesis-generated arguments) and compares
what users see: the instance state, to_dict / to_diff_dict (values and key order), JSON text, files written by
one and read by the other, from_dict with overrides, update_from_string, aliases, copies and pickles.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import os
import pickle
import sys
import tempfile

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

transformers = pytest.importorskip("transformers")
transformers.logging.set_verbosity_error()

from imagegpt_rs import (  # noqa: E402
    ConfigValidationError,
    ImageGPTConfig,
    _native,  # noqa: E402
)
from imagegpt_rs.configuration import TRANSFORMERS_VERSION  # noqa: E402

TConfig = transformers.ImageGPTConfig
pytestmark = pytest.mark.filterwarnings("ignore:Some non-default generation parameters")
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

ALIASES = {
    "hidden_size": "n_embd",
    "max_position_embeddings": "n_positions",
    "num_attention_heads": "n_head",
    "num_hidden_layers": "n_layer",
}


def _oracle_json(text: str) -> str:
    """The oracle's JSON with our documented transformers_version (identical when the oracle is 4.57.6)."""
    return text.replace(
        f'"transformers_version": "{transformers.__version__}"', f'"transformers_version": "{TRANSFORMERS_VERSION}"'
    )


def _oracle_dict(d: dict) -> dict:
    d = dict(d)
    if "transformers_version" in d and d["transformers_version"] == transformers.__version__:
        d["transformers_version"] = TRANSFORMERS_VERSION
    return d


def _state(cfg) -> list:
    """Instance state in order, with a torch dtype reduced to its name (transformers converts strings when torch
    is installed; we keep them, see the module docstring)."""
    out = []
    for k, v in cfg.__dict__.items():
        if k == "dtype" and v is not None and not isinstance(v, str):
            v = str(v).split(".")[1]
        out.append((k, v))
    return out


def theirs_kwargs(kw: dict) -> dict:
    """The arguments for transformers: ints for the float-only fields become floats (we store them as floats so
    that transformers 5, which types them ``float``, loads what we write; see the module docstring)."""
    kw = copy.deepcopy(kw)
    for name in ("layer_norm_epsilon", "initializer_range"):
        if type(kw.get(name)) is int:
            kw[name] = float(kw[name])
    return kw


def assert_same(ours, theirs) -> None:
    """Everything a user can observe matches, including key order."""
    assert _state(ours) == _state(theirs)
    assert list(ours.to_dict().items()) == list(_oracle_dict(theirs.to_dict()).items())
    assert list(ours.to_diff_dict().items()) == list(_oracle_dict(theirs.to_diff_dict()).items())
    assert ours.to_json_string() == _oracle_json(theirs.to_json_string())
    assert ours.to_json_string(use_diff=False) == _oracle_json(theirs.to_json_string(use_diff=False))
    assert repr(ours) == _oracle_json(repr(theirs))
    for attr in ("num_labels", "use_return_dict", "output_attentions", "name_or_path", *ALIASES):
        assert getattr(ours, attr) == getattr(theirs, attr), attr
    assert list(ours) == list(theirs)


# ----------------------------------------------------------------------------------------- strategies

finite = dict(allow_nan=False, allow_infinity=False)
probability = st.floats(0.0, 1.0, **finite) | st.sampled_from([0, 1])
json_scalar = (
    st.none() | st.booleans() | st.integers(-(10**6), 10**6) | st.floats(-1e6, 1e6, **finite) | st.text(max_size=8)
)
json_value = st.recursive(
    json_scalar,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(min_size=1, max_size=5), inner, max_size=3),
    max_leaves=6,
)
extra_names = st.from_regex(r"\Acustom_[a-z]{1,8}\Z")
token_id = st.none() | st.integers(0, 600)


@st.composite
def model_kwargs(draw, with_aliases: bool = True) -> dict:
    """Valid ImageGPTConfig arguments: model fields, PretrainedConfig kwargs, aliases and extra attributes."""
    kw: dict = {}
    n_head = draw(st.integers(1, 16))

    def maybe(name, strategy):
        if draw(st.booleans()):
            kw[name] = draw(strategy)

    maybe("vocab_size", st.integers(1, 70000))
    maybe("n_positions", st.integers(1, 70000))
    maybe("n_layer", st.integers(1, 64))
    if draw(st.booleans()):
        kw["n_head"] = n_head
        kw["n_embd"] = n_head * draw(st.integers(1, 128))
    maybe("n_inner", st.none() | st.integers(1, 8192))
    maybe("activation_function", st.sampled_from(_native.activation_functions()))
    for name in ("resid_pdrop", "embd_pdrop", "attn_pdrop"):
        maybe(name, probability)
    maybe("layer_norm_epsilon", st.floats(1e-12, 1.0, **finite) | st.just(1))
    maybe("initializer_range", st.floats(0.0, 10.0, **finite) | st.just(0))
    for name in (
        "scale_attn_weights",
        "use_cache",
        "tie_word_embeddings",
        "scale_attn_by_inverse_layer_idx",
        "reorder_and_upcast_attn",
        "return_dict",
        "output_hidden_states",
        "torchscript",
        "is_decoder",
        "add_cross_attention",
        "do_sample",
        "output_scores",
    ):
        maybe(name, st.booleans())
    maybe("output_attentions", st.booleans())
    labels = draw(st.integers(0, 4))
    how = draw(st.sampled_from(["none", "num_labels", "id2label_int", "id2label_str", "both"]))
    if how == "num_labels":
        kw["num_labels"] = labels
    elif how in ("id2label_int", "id2label_str", "both"):
        names = draw(st.lists(st.text(min_size=1, max_size=6), min_size=labels, max_size=labels, unique=True))
        key = int if how == "id2label_int" else str
        kw["id2label"] = {key(i): n for i, n in enumerate(names)}
        if how == "both":
            kw["label2id"] = {n: i for i, n in enumerate(names)}
            kw["num_labels"] = labels
    maybe(
        "problem_type",
        st.none() | st.sampled_from(["regression", "single_label_classification", "multi_label_classification"]),
    )
    maybe("dtype", st.none() | st.sampled_from(["float32", "float16", "bfloat16"]))
    maybe("torch_dtype", st.sampled_from(["float32", "float16"]))
    maybe("architectures", st.none() | st.just(["ImageGPTForCausalImageModeling"]))
    for name in ("bos_token_id", "pad_token_id", "eos_token_id", "sep_token_id", "decoder_start_token_id"):
        maybe(name, token_id)
    maybe("name_or_path", st.text(max_size=10) | st.integers(0, 9))
    maybe("max_length", st.integers(1, 2048))
    maybe("temperature", st.floats(0.1, 2.0, **finite))
    maybe("task_specific_params", st.none() | st.dictionaries(st.text(min_size=1, max_size=4), json_scalar, max_size=2))
    maybe("chunk_size_feed_forward", st.integers(0, 64))
    maybe("finetuning_task", st.none() | st.text(max_size=6))
    extras = draw(st.dictionaries(extra_names, json_value, max_size=3))
    kw.update(extras)
    if with_aliases:
        for alias, _real in ALIASES.items():
            if draw(st.integers(0, 4)) == 0:
                if alias in ("hidden_size", "num_attention_heads"):
                    continue  # drawn below together to keep n_embd % n_head == 0
                kw[alias] = draw(st.integers(1, 4096))
        if draw(st.integers(0, 3)) == 0:
            heads = draw(st.integers(1, 8))
            kw["num_attention_heads"] = heads
            kw["hidden_size"] = heads * draw(st.integers(1, 64))
    n_embd = kw.get("hidden_size", kw.get("n_embd", 512))
    n_head_final = kw.get("num_attention_heads", kw.get("n_head", 8))
    assume(n_embd % n_head_final == 0)
    return kw


# --------------------------------------------------------------------------------------------- tests


def test_class_attributes_and_signature():
    import inspect

    assert ImageGPTConfig.model_type == TConfig.model_type
    assert ImageGPTConfig.keys_to_ignore_at_inference == TConfig.keys_to_ignore_at_inference
    assert ImageGPTConfig.attribute_map == TConfig.attribute_map
    ours = inspect.signature(ImageGPTConfig.__init__).parameters
    theirs = inspect.signature(TConfig.__init__).parameters
    assert list(ours) == list(theirs)
    for name in ours:
        assert ours[name].default == theirs[name].default, name
        assert ours[name].kind == theirs[name].kind, name


@pytest.mark.parametrize("n_embd,n_head,n_layer", [(512, 8, 24), (1024, 8, 36), (1536, 16, 48)])
def test_official_configs(n_embd, n_head, n_layer):
    kw = dict(n_embd=n_embd, n_head=n_head, n_layer=n_layer)
    assert_same(ImageGPTConfig(**kw), TConfig(**kw))


def test_defaults():
    assert_same(ImageGPTConfig(), TConfig())


@SETTINGS
@given(model_kwargs())
def test_construction_matches(kw):
    assert_same(ImageGPTConfig(**theirs_kwargs(kw)), TConfig(**theirs_kwargs(kw)))


@SETTINGS
@given(model_kwargs(), st.sampled_from(list(ALIASES)), st.integers(1, 8))
def test_alias_write_and_read(kw, alias, factor):
    ours, theirs = ImageGPTConfig(**theirs_kwargs(kw)), TConfig(**theirs_kwargs(kw))
    value = theirs.n_head * factor if alias == "hidden_size" else factor
    if alias == "num_attention_heads":
        assume(theirs.n_embd % factor == 0)
    setattr(ours, alias, value)
    setattr(theirs, alias, value)
    assert getattr(ours, ALIASES[alias]) == value == getattr(theirs, ALIASES[alias])
    assert alias not in ours.__dict__
    assert_same(ours, theirs)


@SETTINGS
@given(model_kwargs())
def test_file_round_trips_both_directions(kw):
    ours, theirs = ImageGPTConfig(**theirs_kwargs(kw)), TConfig(**theirs_kwargs(kw))
    with tempfile.TemporaryDirectory() as tmp:
        d_ours, d_theirs = os.path.join(tmp, "ours"), os.path.join(tmp, "theirs")
        ours.save_pretrained(d_ours)
        theirs.save_pretrained(d_theirs)
        with open(os.path.join(d_ours, "config.json"), encoding="utf-8") as f:
            text_ours = f.read()
        with open(os.path.join(d_theirs, "config.json"), encoding="utf-8") as f:
            text_theirs = f.read()
        assert text_ours == _oracle_json(text_theirs)
        # ours written -> transformers reads it; theirs written -> we read it
        t_from_ours = TConfig.from_pretrained(d_ours)
        o_from_theirs = ImageGPTConfig.from_pretrained(d_theirs)
        assert_same(o_from_theirs, TConfig.from_pretrained(d_theirs))
        assert_same(ImageGPTConfig.from_pretrained(d_ours), t_from_ours)
        # the config file path itself, and from_json_file
        f_ours = os.path.join(d_ours, "config.json")
        assert_same(ImageGPTConfig.from_pretrained(f_ours), TConfig.from_pretrained(f_ours))
        assert_same(ImageGPTConfig.from_json_file(f_ours), TConfig.from_json_file(f_ours))
        # full (non-diff) JSON files too
        full = os.path.join(tmp, "full.json")
        ours.to_json_file(full, use_diff=False)
        assert_same(ImageGPTConfig.from_json_file(full), TConfig.from_json_file(full))


@SETTINGS
@given(model_kwargs(with_aliases=False), st.data())
def test_from_dict_with_kwargs(kw, data):
    base = TConfig(**theirs_kwargs(kw)).to_dict()
    overrides = data.draw(
        st.fixed_dictionaries(
            {},
            optional={
                "n_layer": st.integers(1, 48),
                "num_hidden_layers": st.integers(1, 48),
                "vocab_size": st.integers(1, 1000),
                "output_hidden_states": st.booleans(),
                "num_labels": st.integers(0, 5),
                "dtype": st.sampled_from(["float16", "bfloat16"]),
                "torch_dtype": st.sampled_from(["float32"]),
                "name_or_path": st.text(max_size=5),
                "custom_unknown": json_scalar,
                "not_an_attribute": json_scalar,
                "attn_implementation": st.sampled_from(["eager", "sdpa"]),
                "_from_auto": st.booleans(),
                "return_unused_kwargs": st.booleans(),
            },
        )
    )
    d_ours, d_theirs = copy.deepcopy(base), copy.deepcopy(base)
    got = ImageGPTConfig.from_dict(d_ours, **copy.deepcopy(overrides))
    want = TConfig.from_dict(d_theirs, **copy.deepcopy(overrides))
    assert d_ours == d_theirs  # from_dict adds attn_implementation to the caller's dict, as transformers does
    if overrides.get("return_unused_kwargs"):
        (got, unused_ours), (want, unused_theirs) = got, want
        assert unused_ours == unused_theirs
    assert_same(got, want)


def test_from_dict_num_labels_id2label_conflict():
    d = TConfig().to_dict()
    with pytest.raises(ValueError):
        TConfig.from_dict(copy.deepcopy(d), num_labels=3, id2label={0: "a"})
    with pytest.raises(ValueError, match="num_labels"):
        ImageGPTConfig.from_dict(copy.deepcopy(d), num_labels=3, id2label={0: "a"})
    ok = dict(num_labels=1, id2label={0: "a"})
    assert_same(ImageGPTConfig.from_dict(copy.deepcopy(d), **ok), TConfig.from_dict(copy.deepcopy(d), **ok))


@SETTINGS
@given(model_kwargs(with_aliases=False), st.data())
def test_update_from_string(kw, data):
    ours, theirs = ImageGPTConfig(**theirs_kwargs(kw)), TConfig(**theirs_kwargs(kw))
    parts = data.draw(
        st.lists(
            st.sampled_from(
                [
                    "n_layer=12",
                    "num_hidden_layers=7",
                    "resid_pdrop=0.25",
                    "use_cache=false",
                    "scale_attn_weights=No",
                    "reorder_and_upcast_attn=1",
                    "activation_function=gelu_new",
                    "max_length=99",
                    "temperature=0.5",
                    "output_hidden_states=yes",
                ]
            ),
            min_size=1,
            max_size=4,
            unique=True,
        )
    )
    text = ",".join(parts)
    try:
        theirs.update_from_string(text)
    except Exception as e:  # e.g. "resid_pdrop=0.25" when resid_pdrop holds the int 0
        with pytest.raises(type(e)) as ours_err:
            ours.update_from_string(text)
        assert str(ours_err.value) == str(e)
        return
    ours.update_from_string(text)
    assert_same(ours, theirs)


@pytest.mark.parametrize(
    "text",
    ["no_such_key=1", "use_cache=maybe", "n_layer=1.5", "n_inner=5", "n_layer"],
)
def test_update_from_string_errors_match(text):
    with pytest.raises(Exception) as theirs:
        TConfig().update_from_string(text)
    with pytest.raises(Exception) as ours:
        ImageGPTConfig().update_from_string(text)
    assert type(ours.value) is type(theirs.value)
    assert str(ours.value) == str(theirs.value)


@SETTINGS
@given(
    model_kwargs(),
    st.dictionaries(
        st.sampled_from(
            ["n_layer", "num_hidden_layers", "vocab_size", "custom_new", "use_cache", "max_length", "n_inner"]
        ),
        st.integers(1, 100),
        max_size=4,
    ),
)
def test_update(kw, upd):
    ours, theirs = ImageGPTConfig(**theirs_kwargs(kw)), TConfig(**theirs_kwargs(kw))
    upd = {k: (bool(v % 2) if k == "use_cache" else v) for k, v in upd.items()}
    ours.update(upd)
    theirs.update(upd)
    assert_same(ours, theirs)


@SETTINGS
@given(model_kwargs())
def test_copy_deepcopy_pickle_and_equality(kw):
    ours, theirs = ImageGPTConfig(**theirs_kwargs(kw)), TConfig(**theirs_kwargs(kw))
    for clone in (copy.copy(ours), copy.deepcopy(ours), pickle.loads(pickle.dumps(ours))):
        assert type(clone) is ImageGPTConfig
        assert clone == ours
        assert_same(clone, theirs)
    assert pickle.loads(pickle.dumps(theirs)) == theirs
    # equality follows transformers: a loaded config holds model_type in its state, a fresh one does not
    reloaded_o = ImageGPTConfig.from_dict(ours.to_dict())
    reloaded_t = TConfig.from_dict(theirs.to_dict())
    assert (reloaded_o == ours) == (reloaded_t == theirs)
    assert ours != theirs.to_dict()
    with pytest.raises(TypeError):
        hash(ours)


def test_equality_follows_state():
    a, b = ImageGPTConfig(), ImageGPTConfig()
    assert a == b
    b.n_layer = 12
    assert a != b
    ta, tb = TConfig(), TConfig()
    tb.n_layer = 12
    assert (ta == tb) is False


@SETTINGS
@given(model_kwargs())
def test_transformers_interop(kw):
    ours, theirs = ImageGPTConfig(**theirs_kwargs(kw)), TConfig(**theirs_kwargs(kw))
    converted = ours.to_transformers()
    assert type(converted) is TConfig
    assert converted.to_dict() == theirs.to_dict()
    assert _state(converted) == _state(theirs)
    back = ImageGPTConfig.from_transformers(theirs)
    assert back == ours
    assert_same(back, theirs)


def test_derived_attributes():
    ours, theirs = ImageGPTConfig(torchscript=True), TConfig(torchscript=True)
    assert ours.use_return_dict is theirs.use_return_dict is False
    for cfg in (ours, theirs):
        cfg.num_labels = 4
        cfg.output_attentions = True
        cfg.name_or_path = 123
        cfg.torch_dtype = "float16"
    assert_same(ours, theirs)
    assert ours.torch_dtype == theirs.torch_dtype
    assert ours.id2label == {0: "LABEL_0", 1: "LABEL_1", 2: "LABEL_2", 3: "LABEL_3"} == theirs.id2label
    for cfg in (ours, theirs):
        cfg._attn_implementation = "sdpa"
    with pytest.raises(ValueError) as t_err:
        theirs.output_attentions = True
    with pytest.raises(ValueError) as o_err:
        ours.output_attentions = True
    assert str(o_err.value) == str(t_err.value)
    with pytest.raises(AttributeError):
        ours.use_return_dict = False  # read-only, as in transformers
    with pytest.raises(AttributeError):
        theirs.use_return_dict = False


def test_label_maps_and_int_keys():
    kw = dict(id2label={"3": "cat", "7": "dog"}, label2id={"cat": 3, "dog": 7})
    ours, theirs = ImageGPTConfig(**kw), TConfig(**kw)
    assert ours.id2label == {3: "cat", 7: "dog"}
    assert_same(ours, theirs)
    ours, theirs = ImageGPTConfig(num_labels=3), TConfig(num_labels=3)
    assert ours.label2id == {"LABEL_0": 0, "LABEL_1": 1, "LABEL_2": 2}
    assert_same(ours, theirs)
    for bad in (dict(label2id=[1]), dict(id2label="x"), dict(problem_type="ranking")):
        with pytest.raises(ValueError):
            TConfig(**bad)
        with pytest.raises(ValueError):
            ImageGPTConfig(**bad)


def test_unknown_kwargs_and_generation_keys():
    kw = dict(
        custom_thing=[1, 2], max_length=77, num_beams=3, gradient_checkpointing=False, transformers_version="4.0.0"
    )
    assert_same(ImageGPTConfig(**kw), TConfig(**kw))
    gen_keys = [
        k for k in TConfig().to_dict() if k in ("max_length", "num_beams", "diversity_penalty", "suppress_tokens")
    ]
    assert gen_keys and all(k in ImageGPTConfig().to_dict() for k in gen_keys)


@pytest.mark.filterwarnings("default")
def test_save_pretrained_warns_on_generation_parameters_like_transformers(tmp_path):
    with pytest.warns(UserWarning, match="Non-default generation parameters") as theirs:
        TConfig(num_beams=4).save_pretrained(tmp_path / "t")
    with pytest.warns(UserWarning, match="Non-default generation parameters") as ours:
        ImageGPTConfig(num_beams=4).save_pretrained(tmp_path / "o")
    assert str(ours[0].message) == str(theirs[0].message)
    (tmp_path / "file").write_text("x")
    with pytest.raises(AssertionError):
        ImageGPTConfig().save_pretrained(tmp_path / "file")


def test_from_pretrained_subfolder_and_unused_kwargs(tmp_path):
    TConfig(n_layer=3).save_pretrained(tmp_path / "sub")
    got, unused = ImageGPTConfig.from_pretrained(tmp_path, subfolder="sub", return_unused_kwargs=True, foo=1, n_head=4)
    want, unused_t = TConfig.from_pretrained(tmp_path, subfolder="sub", return_unused_kwargs=True, foo=1, n_head=4)
    assert unused == unused_t == {"foo": 1}
    assert_same(got, want)


def test_int_for_float_only_fields_is_stored_as_float(tmp_path):
    ours = ImageGPTConfig(layer_norm_epsilon=1, initializer_range=0)
    theirs = TConfig(layer_norm_epsilon=1, initializer_range=0)
    assert type(ours.layer_norm_epsilon) is float and type(ours.initializer_range) is float
    assert ours.to_dict() == theirs.to_dict()  # 1.0 == 1
    ours.hidden_size = 64
    ours.initializer_range = 2
    assert ours.initializer_range == 2.0 and type(ours.initializer_range) is float
    ours.save_pretrained(tmp_path)
    loaded = TConfig.from_pretrained(tmp_path)
    assert loaded.to_dict() == TConfig(layer_norm_epsilon=1.0, initializer_range=2.0, n_embd=64).to_dict()
    assert type(loaded.initializer_range) is float
    back = ImageGPTConfig.from_transformers(theirs)
    assert type(back.layer_norm_epsilon) is float


def test_written_json_has_strict_types():
    """What we write keeps JSON types a typed loader (transformers 5) expects: ints stay ints, floats floats,
    booleans booleans, label ids as string keys."""
    data = json.loads(
        ImageGPTConfig(num_labels=2, layer_norm_epsilon=1, initializer_range=0).to_json_string(use_diff=False)
    )
    for name in ("vocab_size", "n_positions", "n_embd", "n_layer", "n_head"):
        assert type(data[name]) is int
    for name in ("resid_pdrop", "embd_pdrop", "attn_pdrop", "layer_norm_epsilon", "initializer_range"):
        assert type(data[name]) is float
    for name in (
        "scale_attn_weights",
        "use_cache",
        "tie_word_embeddings",
        "scale_attn_by_inverse_layer_idx",
        "reorder_and_upcast_attn",
        "return_dict",
        "output_attentions",
    ):
        assert type(data[name]) is bool
    assert data["n_inner"] is None
    assert data["id2label"] == {"0": "LABEL_0", "1": "LABEL_1"}
    assert data["model_type"] == "imagegpt"


def _fake_hub_cache(cache_dir, repo_id, text, commit="0123456789abcdef0123456789abcdef01234567"):
    repo = cache_dir / ("models--" + repo_id.replace("/", "--"))
    snap = repo / "snapshots" / commit
    snap.mkdir(parents=True)
    (snap / "config.json").write_text(text)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    return commit


def test_from_pretrained_hub_id_offline_cache(tmp_path, monkeypatch):
    pytest.importorskip("huggingface_hub")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    text = TConfig(n_layer=5).to_json_string()
    commit = _fake_hub_cache(tmp_path, "someone/tiny-imagegpt", text)
    got = ImageGPTConfig.from_pretrained("someone/tiny-imagegpt", cache_dir=tmp_path, local_files_only=True)
    want = TConfig.from_pretrained("someone/tiny-imagegpt", cache_dir=tmp_path, local_files_only=True)
    assert got._commit_hash == commit == want._commit_hash
    assert_same(got, want)
    with pytest.raises(OSError, match="someone/missing"):
        ImageGPTConfig.from_pretrained("someone/missing", cache_dir=tmp_path, local_files_only=True)


def test_from_pretrained_hub_id_without_huggingface_hub(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)  # makes `import huggingface_hub` fail
    with pytest.raises(OSError, match="install huggingface_hub"):
        ImageGPTConfig.from_pretrained("openai/imagegpt-small")


TF5_CHECK = r"""
import json, os, sys, tempfile, transformers
from imagegpt_rs import ImageGPTConfig
T = transformers.ImageGPTConfig
assert transformers.__version__.split(".")[0] == "5", transformers.__version__
cases = json.loads(sys.argv[1])
for kw in cases:
    with tempfile.TemporaryDirectory() as d:
        ImageGPTConfig(**kw).save_pretrained(os.path.join(d, "ours"))
        loaded = T.from_pretrained(os.path.join(d, "ours"))
        fresh = T(**{k: float(v) if k in ("layer_norm_epsilon", "initializer_range") else v for k, v in kw.items()})
        assert loaded.to_dict() == fresh.to_dict(), (kw, loaded.to_dict(), fresh.to_dict())
        fresh.save_pretrained(os.path.join(d, "theirs"))
        ours = ImageGPTConfig.from_pretrained(os.path.join(d, "theirs"))
        assert ours.to_transformers().to_dict() == fresh.to_dict()
        assert ImageGPTConfig.from_transformers(fresh).to_transformers().to_dict() == fresh.to_dict()
print("ok", len(cases))
"""


@pytest.mark.skipif(
    not os.environ.get("IMAGEGPT_RS_TF5_PYTHON"), reason="set IMAGEGPT_RS_TF5_PYTHON to a python with transformers 5"
)
def test_transformers_5_loads_what_we_write(tmp_path):
    """Manual check: IMAGEGPT_RS_TF5_PYTHON=/path/to/venv-with-transformers-5/bin/python (imagegpt_rs importable)."""
    import subprocess

    cases = [
        {},
        {"n_embd": 1024, "n_layer": 36},
        {"n_embd": 1536, "n_head": 16, "n_layer": 48, "num_labels": 3, "resid_pdrop": 0},
        {
            "layer_norm_epsilon": 1,
            "initializer_range": 0,
            "eos_token_id": [1, 2],
            "architectures": ["ImageGPTForCausalImageModeling"],
        },
        {"problem_type": "regression", "pad_token_id": 0, "output_hidden_states": True, "dtype": "float16"},
    ]
    import imagegpt_rs

    # only our package on the path (its site-packages may hold transformers 4.57)
    (tmp_path / "imagegpt_rs").symlink_to(os.path.dirname(imagegpt_rs.__file__))
    env = dict(os.environ, PYTHONPATH=str(tmp_path))
    out = subprocess.run(
        [os.environ["IMAGEGPT_RS_TF5_PYTHON"], "-c", TF5_CHECK, json.dumps(cases)],
        capture_output=True,
        text=True,
        env=env,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip().endswith(f"ok {len(cases)}")


@pytest.mark.parametrize(
    "kwargs", [{"dtype": "float16"}, {"torch_dtype": "bfloat16"}, {"dtype": "bfloat16", "torch_dtype": "float32"}]
)
def test_dtype_as_transformers(kwargs, tmp_path):
    """A dtype name becomes the torch.dtype when torch is installed (a string otherwise), files hold the name."""
    ours, theirs = ImageGPTConfig(**kwargs), TConfig(**kwargs)
    assert ours.dtype == theirs.dtype
    assert type(ours.dtype) is type(theirs.dtype)
    assert_same(ours, theirs)
    ours.save_pretrained(tmp_path / "ours")
    theirs.save_pretrained(tmp_path / "theirs")
    assert (tmp_path / "ours" / "config.json").read_text() == _oracle_json(
        (tmp_path / "theirs" / "config.json").read_text()
    )
    for folder in ("ours", "theirs"):
        loaded, t_loaded = ImageGPTConfig.from_pretrained(tmp_path / folder), TConfig.from_pretrained(tmp_path / folder)
        assert loaded.dtype == t_loaded.dtype and type(loaded.dtype) is type(t_loaded.dtype)
        # a keyword override is set as given (a string), as transformers does
        over, t_over = (c.from_pretrained(tmp_path / folder, dtype="float32") for c in (ImageGPTConfig, TConfig))
        assert over.dtype == t_over.dtype and type(over.dtype) is type(t_over.dtype)
    ours.dtype, theirs.dtype = "float16", "float16"  # plain assignment keeps the string in both
    assert ours.dtype == theirs.dtype == "float16"
    assert ImageGPTConfig.from_transformers(theirs) == ours
    assert ours.to_transformers().to_dict() == theirs.to_dict()


def test_unknown_dtype_name():
    if importlib.util.find_spec("torch") is None:
        assert ImageGPTConfig(dtype="float99").dtype == TConfig(dtype="float99").dtype == "float99"
        return
    with pytest.raises(AttributeError):
        TConfig(dtype="float99")
    with pytest.raises(ConfigValidationError, match="dtype"):
        ImageGPTConfig(dtype="float99")


def test_a_strict_key_in_a_file_is_an_attribute_as_in_transformers(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"n_layer": 2, "strict": True}))
    ours, theirs = ImageGPTConfig.from_pretrained(tmp_path), TConfig.from_pretrained(tmp_path)
    assert ours.strict is theirs.strict is True
    assert_same(ours, theirs)
    assert ImageGPTConfig.from_json_file(tmp_path / "config.json").to_dict() == ours.to_dict()

"""imagegpt_rs.onnx config classes against transformers 4.57's transformers.onnx, side by side."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import types
from collections import OrderedDict

import numpy as np
import pytest

import imagegpt_rs
from imagegpt_rs import onnx as ours

transformers = pytest.importorskip("transformers")
from transformers.models.imagegpt.configuration_imagegpt import ImageGPTOnnxConfig as TheirImageGPTOnnxConfig  # noqa: E402
from transformers.onnx import FeaturesManager as TheirFeaturesManager  # noqa: E402
from transformers.onnx import OnnxConfig as TheirOnnxConfig  # noqa: E402
from transformers.onnx import PatchingSpec as TheirPatchingSpec  # noqa: E402
from transformers.onnx import config as their_config_module  # noqa: E402

RNG = np.random.default_rng(20240607)
CLUSTERS = RNG.uniform(-1.0, 1.0, size=(16, 3))


def _our_attr(name: str):
    """imagegpt_rs.<name> if it exists (other parts of the package land separately), else None."""
    try:
        return getattr(imagegpt_rs, name)
    except (AttributeError, ImportError):
        return None


# ---------------------------------------------------------------- fixtures


@pytest.fixture(params=["transformers", "imagegpt_rs", "duck"])
def model_config(request):
    """A model config: transformers', ours, or a bare object with the attributes."""
    if request.param == "transformers":
        return transformers.ImageGPTConfig(vocab_size=17, n_positions=64, n_embd=16, n_layer=1, n_head=2)
    if request.param == "imagegpt_rs":
        cls = _our_attr("ImageGPTConfig")
        if cls is None:
            pytest.skip("imagegpt_rs.ImageGPTConfig is not available in this build yet")
        return cls(vocab_size=17, n_positions=64, n_embd=16, n_layer=1, n_head=2)
    return types.SimpleNamespace(model_type="imagegpt", use_cache=True, n_embd=16)


PROCESSOR_SETTINGS = [
    dict(),  # transformers' defaults: resize to 256x256
    dict(do_resize=False),
    dict(size={"height": 24, "width": 20}),
    dict(do_color_quantize=False, size={"height": 8, "width": 8}),
]


def _processor(impl: str, **settings):
    if impl == "transformers":
        return transformers.ImageGPTImageProcessor(clusters=CLUSTERS, **settings)
    cls = _our_attr("ImageGPTImageProcessor")
    if cls is None:
        pytest.skip("imagegpt_rs.ImageGPTImageProcessor is not available in this build yet")
    processor = cls(clusters=CLUSTERS, **settings)
    _skip_if_incomplete(processor)
    return processor


def _skip_if_incomplete(processor) -> None:
    """Skips when our processor relies on an imagegpt_rs module that this build does not have yet."""
    try:
        processor(np.zeros((4, 4, 3), dtype=np.uint8), return_tensors="np")
    except ModuleNotFoundError as exc:
        if not (exc.name or "").startswith("imagegpt_rs"):
            raise
        pytest.skip(f"imagegpt_rs.ImageGPTImageProcessor needs {exc.name}, not in this build yet")


@pytest.fixture(params=["transformers", "imagegpt_rs"])
def processor_impl(request):
    return request.param


def _same_inputs(a: dict, b: dict) -> None:
    assert list(a) == list(b)
    for key in a:
        x, y = a[key], b[key]
        assert type(x) is type(y), key
        if isinstance(x, list):
            assert len(x) == len(y)
            for u, v in zip(x, y):
                assert type(u) is type(v)
                assert u.dtype == v.dtype and u.shape == v.shape
                np.testing.assert_array_equal(u, v)
        else:
            assert x.dtype == y.dtype and x.shape == y.shape
            np.testing.assert_array_equal(x, y)


# ---------------------------------------------------------------- import hygiene


def test_subpackage_import_keeps_heavy_dependencies_out():
    code = (
        "import sys, json, imagegpt_rs.onnx\n"
        "print(json.dumps([m for m in ['transformers', 'torch', 'onnx', 'onnxruntime', 'PIL'] "
        "if m in sys.modules]))"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    assert out.strip() == "[]"


# ---------------------------------------------------------------- task table and outputs


def test_task_table_matches_transformers():
    ours_table = ours.OnnxConfig._tasks_to_common_outputs
    theirs_table = TheirOnnxConfig._tasks_to_common_outputs
    assert list(ours_table) == list(theirs_table)
    for task in theirs_table:
        assert type(ours_table[task]) is type(theirs_table[task])
        assert list(ours_table[task].items()) == list(theirs_table[task].items())
    assert ours.OnnxConfig.supported_tasks() == list(theirs_table)


@pytest.mark.parametrize("task", list(TheirOnnxConfig._tasks_to_common_outputs))
def test_inputs_and_outputs_per_task(model_config, task):
    mine = ours.ImageGPTOnnxConfig(model_config, task=task)
    theirs = TheirImageGPTOnnxConfig(model_config, task=task)
    assert mine.task == theirs.task == task
    for attr in ("inputs", "outputs"):
        a, b = getattr(mine, attr), getattr(theirs, attr)
        assert type(a) is type(b) is OrderedDict
        assert list(a.items()) == list(b.items())


def test_outputs_are_deep_copies(model_config):
    for cfg in (ours.ImageGPTOnnxConfig(model_config), TheirImageGPTOnnxConfig(model_config)):
        first = cfg.outputs
        first["last_hidden_state"][0] = "changed"
        first["extra"] = {0: "x"}
        assert cfg.outputs == OrderedDict({"last_hidden_state": {0: "batch", 1: "sequence"}})
        assert cfg.outputs is not cfg.outputs
    # and the class table is untouched
    assert ours.OnnxConfig._tasks_to_common_outputs["default"] == TheirOnnxConfig._tasks_to_common_outputs["default"]


@pytest.mark.parametrize("task", ["translation", "Default", "", "image_classification", None])
def test_unsupported_task_lists_the_tasks(model_config, task):
    with pytest.raises(ValueError):
        TheirImageGPTOnnxConfig(model_config, task=task)
    with pytest.raises(ValueError) as info:
        ours.ImageGPTOnnxConfig(model_config, task=task)
    message = str(info.value)
    assert repr(task) in message
    for name in TheirOnnxConfig._tasks_to_common_outputs:
        assert name in message


def test_base_class_is_abstract(model_config):
    with pytest.raises(TypeError):
        TheirOnnxConfig(model_config)
    with pytest.raises(TypeError, match="abstract"):
        ours.OnnxConfig(model_config)


@pytest.mark.parametrize("task", ["default", "image-classification", "causal-lm"])
def test_from_model_config(model_config, task):
    mine = ours.ImageGPTOnnxConfig.from_model_config(model_config, task=task)
    theirs = TheirImageGPTOnnxConfig.from_model_config(model_config, task=task)
    assert type(mine) is ours.ImageGPTOnnxConfig
    assert mine.task == theirs.task
    assert mine._config is model_config and theirs._config is model_config
    assert mine.outputs == theirs.outputs and mine.inputs == theirs.inputs
    default = ours.ImageGPTOnnxConfig.from_model_config(model_config)
    assert default.task == TheirImageGPTOnnxConfig.from_model_config(model_config).task


def test_values_override(model_config):
    assert (
        ours.ImageGPTOnnxConfig(model_config).values_override
        == TheirImageGPTOnnxConfig(model_config).values_override
        == {"use_cache": False}
    )
    bare = types.SimpleNamespace(n_embd=16)
    assert ours.ImageGPTOnnxConfig(bare).values_override is None
    assert TheirImageGPTOnnxConfig(bare).values_override is None


def test_defaults_and_constants(model_config):
    mine, theirs = ours.ImageGPTOnnxConfig(model_config), TheirImageGPTOnnxConfig(model_config)
    for attr in (
        "default_batch_size",
        "default_sequence_length",
        "default_num_choices",
        "default_onnx_opset",
        "atol_for_validation",
        "default_fixed_batch",
        "default_fixed_sequence",
        "default_fixed_num_choices",
    ):
        a, b = getattr(mine, attr), getattr(theirs, attr)
        assert a == b and type(a) is type(b), attr
    assert str(mine.torch_onnx_minimum_version) == str(theirs.torch_onnx_minimum_version)
    assert ours.DEFAULT_ONNX_OPSET == their_config_module.DEFAULT_ONNX_OPSET
    assert ours.EXTERNAL_DATA_FORMAT_SIZE_LIMIT == their_config_module.EXTERNAL_DATA_FORMAT_SIZE_LIMIT
    from transformers.onnx.utils import ParameterFormat

    assert ours.ParameterFormat.Float.size == ParameterFormat.Float.size


def test_is_torch_support_available_matches(model_config):
    mine, theirs = ours.ImageGPTOnnxConfig(model_config), TheirImageGPTOnnxConfig(model_config)
    assert mine.is_torch_support_available is theirs.is_torch_support_available


@pytest.mark.parametrize("installed", ["1.7.1", "1.8.0", "1.13.1+cu117", "2.0.1", "2.1.0", "2.5.1+cpu", "10.0"])
def test_is_torch_support_available_version_rule(monkeypatch, model_config, installed):
    from packaging import version

    from imagegpt_rs.onnx import config as config_module

    monkeypatch.setattr(config_module.importlib.util, "find_spec", lambda name: object())
    monkeypatch.setattr(config_module.importlib.metadata, "version", lambda name: installed)
    # transformers 4.57 disables torch below 2.1 (utils/import_utils.py), then checks the ONNX minimum
    parsed = version.parse(installed)
    expected = parsed >= version.parse("2.1.0") and parsed >= TheirOnnxConfig.torch_onnx_minimum_version
    assert ours.ImageGPTOnnxConfig(model_config).is_torch_support_available is expected


@pytest.mark.parametrize(
    "num_parameters", [0, 1, 2**29 - 1, 2**29, 2**29 + 1, 10**9, 124_000_000, 1_400_000_000, 10**12]
)
def test_use_external_data_format(num_parameters):
    expected = TheirOnnxConfig.use_external_data_format(num_parameters)
    assert ours.OnnxConfig.use_external_data_format(num_parameters) is expected
    assert ours.ImageGPTOnnxConfig.use_external_data_format(np.int64(num_parameters)) is expected


@pytest.mark.parametrize("bad, error", [(-1, ValueError), (1.5, TypeError), (True, TypeError), ("10", TypeError)])
def test_use_external_data_format_bad_input(bad, error):
    with pytest.raises(error, match="num_parameters"):
        ours.OnnxConfig.use_external_data_format(bad)


def test_generate_dummy_inputs_onnxruntime_is_identity(model_config):
    reference = {"input_ids": np.arange(6).reshape(2, 3)}
    assert ours.ImageGPTOnnxConfig(model_config).generate_dummy_inputs_onnxruntime(reference) is reference
    assert TheirImageGPTOnnxConfig(model_config).generate_dummy_inputs_onnxruntime(reference) is reference


@pytest.mark.parametrize(
    "field",
    [
        [(1, 2), (3,)],
        ((np.zeros(2), np.ones(3)), (np.full(4, 2.0),)),
        [],
        [[]],
        [np.arange(6).reshape(3, 2)],
        ["ab", "c"],
    ],
)
def test_flatten_output_collection_property(field):
    mine = ours.OnnxConfig.flatten_output_collection_property("present", field)
    theirs = TheirOnnxConfig.flatten_output_collection_property("present", field)
    assert list(mine) == list(theirs)
    for key in theirs:
        np.testing.assert_array_equal(mine[key], theirs[key])


# ---------------------------------------------------------------- patching specs


class _Target:
    """An object whose operations get patched."""

    def __init__(self):
        self.relu = lambda x: max(x, 0)
        self.gelu = lambda x: x * 2

    @staticmethod
    def scale(x):
        return x * 10


def _specs(spec_cls, target):
    def custom(x):
        return -x

    def custom2(x):
        return x + 1000

    return [
        spec_cls(target, "relu", custom),  # orig_op looked up at construction
        spec_cls(target, "gelu", custom2, orig_op=lambda x: x * 3),  # explicit orig_op
        spec_cls(type(target), "scale", custom, op_wrapper=staticmethod),
    ]


def _observe(target):
    return (target.relu(5), target.gelu(5), target.scale(5), type(target).__dict__["scale"].__class__)


@pytest.mark.parametrize("spec_source", ["ours", "transformers"])
def test_patch_and_restore_ops(model_config, spec_source):
    spec_cls = ours.PatchingSpec if spec_source == "ours" else TheirPatchingSpec

    class MineTarget(_Target):
        scale = staticmethod(_Target.scale.__func__ if hasattr(_Target.scale, "__func__") else _Target.scale)

    class TheirTarget(_Target):
        scale = staticmethod(_Target.scale.__func__ if hasattr(_Target.scale, "__func__") else _Target.scale)

    mine_target, their_target = MineTarget(), TheirTarget()
    mine = ours.ImageGPTOnnxConfig(model_config, patching_specs=_specs(spec_cls, mine_target))
    theirs = TheirImageGPTOnnxConfig(model_config, patching_specs=_specs(TheirPatchingSpec, their_target))
    assert [s.orig_op is not None for s in mine._patching_specs] == [True, True, True]
    before = _observe(mine_target)
    assert before == _observe(their_target)
    mine.patch_ops()
    theirs.patch_ops()
    assert _observe(mine_target) == _observe(their_target)
    assert _observe(mine_target) != before
    mine.restore_ops()
    theirs.restore_ops()
    assert _observe(mine_target) == _observe(their_target)
    # the explicit orig_op wins over what was there, in both
    assert mine_target.gelu(5) == 15


def test_patching_spec_fields_match():
    assert [f.name for f in dataclasses.fields(ours.PatchingSpec)] == [
        f.name for f in dataclasses.fields(TheirPatchingSpec)
    ]
    assert [f.default for f in dataclasses.fields(ours.PatchingSpec)] == [
        f.default for f in dataclasses.fields(TheirPatchingSpec)
    ]


def test_no_patching_specs_is_a_no_op(model_config):
    cfg = ours.ImageGPTOnnxConfig(model_config, patching_specs=None)
    cfg.patch_ops()
    cfg.restore_ops()
    assert cfg._patching_specs == TheirImageGPTOnnxConfig(model_config)._patching_specs == []


# ---------------------------------------------------------------- dummy images and inputs


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(),
        dict(batch_size=3, num_channels=3, image_height=17, image_width=9),
        dict(batch_size=1, num_channels=4, image_height=5, image_width=40),
        dict(batch_size=2, num_channels=2, image_height=32, image_width=32),
    ],
)
@pytest.mark.parametrize("np_seed", [0, 12345])
def test_generate_dummy_images_match(model_config, kwargs, np_seed):
    mine, theirs = ours.ImageGPTOnnxConfig(model_config), TheirImageGPTOnnxConfig(model_config)
    np.random.seed(np_seed)
    a = mine._generate_dummy_images(**kwargs)
    state_after_mine = np.random.get_state()[1].copy()
    np.random.seed(np_seed)
    b = theirs._generate_dummy_images(**kwargs)
    assert len(a) == len(b) == kwargs.get("batch_size", 2)
    for x, y in zip(a, b):
        assert (x.mode, x.size) == (y.mode, y.size)
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
    # the same amount of randomness was consumed
    np.testing.assert_array_equal(state_after_mine, np.random.get_state()[1])
    # seed= gives the same as seeding the global state, and leaves the global state alone
    np.random.seed(999)
    c = mine._generate_dummy_images(**kwargs, seed=np_seed)
    assert np.random.rand() == np.random.RandomState(999).rand()
    for x, y in zip(c, b):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def test_generate_dummy_images_one_channel_is_gray(model_config):
    # transformers fails on one channel (PIL cannot build an (H, W, 1) image); we make a gray image
    np.random.seed(3)
    expected = (np.random.rand(6, 7, 1) * 255).astype("uint8")
    (image,) = ours.ImageGPTOnnxConfig(model_config)._generate_dummy_images(1, 1, 6, 7, seed=3)
    assert image.mode == "RGB"
    np.testing.assert_array_equal(np.asarray(image), np.repeat(expected, 3, axis=2))


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(),
        dict(batch_size=3),
        dict(batch_size=2, image_height=40, image_width=24, num_channels=4),
        dict(seq_length=100, is_pair=True),
    ],
)
@pytest.mark.parametrize("framework", [None, "np", "pt"])
@pytest.mark.parametrize("settings", PROCESSOR_SETTINGS, ids=["defaults", "no-resize", "24x20", "no-quantize"])
def test_generate_dummy_inputs_match_transformers(processor_impl, kwargs, framework, settings):
    model_config = transformers.ImageGPTConfig()
    if framework == "pt":
        pytest.importorskip("torch", reason="framework='pt' needs torch: pip install 'imagegpt-rs[torch]'")
    processor = _processor(processor_impl, **settings)
    mine, theirs = ours.ImageGPTOnnxConfig(model_config), TheirImageGPTOnnxConfig(model_config)
    np.random.seed(7)
    a = mine.generate_dummy_inputs(processor, framework=framework, **kwargs)
    np.random.seed(7)
    b = theirs.generate_dummy_inputs(processor, framework=framework, **kwargs)
    if framework == "pt":
        a = {k: v.numpy() for k, v in a.items()}
        b = {k: v.numpy() for k, v in b.items()}
    _same_inputs(a, b)
    # and the same as transformers' own processor with the same settings (the oracle)
    if processor_impl != "transformers":
        np.random.seed(7)
        c = theirs.generate_dummy_inputs(_processor("transformers", **settings), framework=framework, **kwargs)
        if framework == "pt":
            c = {k: v.numpy() for k, v in c.items()}
        _same_inputs(a, c)
    key = "pixel_values" if settings.get("do_color_quantize") is False else "input_ids"
    assert list(a) == [key]
    assert len(a[key]) == kwargs.get("batch_size", 1)


def test_generate_dummy_inputs_transformers_enum_framework(model_config):
    from transformers.utils import TensorType

    processor = _processor("transformers", do_resize=False)
    np.random.seed(1)
    a = ours.ImageGPTOnnxConfig(model_config).generate_dummy_inputs(processor, framework=TensorType.NUMPY)
    np.random.seed(1)
    b = TheirImageGPTOnnxConfig(model_config).generate_dummy_inputs(processor, framework=TensorType.NUMPY)
    _same_inputs(a, b)


def test_generate_dummy_inputs_seed(model_config, processor_impl):
    processor = _processor(processor_impl, do_resize=False)
    cfg = ours.ImageGPTOnnxConfig(model_config)
    a = cfg.generate_dummy_inputs(processor, batch_size=2, framework="np", seed=42)
    b = cfg.generate_dummy_inputs(processor, batch_size=2, framework="np", seed=42)
    c = cfg.generate_dummy_inputs(processor, batch_size=2, framework="np", seed=43)
    _same_inputs(a, b)
    assert not np.array_equal(a["input_ids"], c["input_ids"])
    np.random.seed(42)
    d = TheirImageGPTOnnxConfig(model_config).generate_dummy_inputs(processor, batch_size=2, framework="np")
    _same_inputs(a, d)


def test_base_generate_dummy_inputs_matches_transformers(model_config):
    # the generic OnnxConfig path (dynamic batch -> 2, 40x40 images), through a concrete subclass of each base
    class Mine(ours.OnnxConfig):
        inputs = ours.ImageGPTOnnxConfig.inputs

    class Theirs(TheirOnnxConfig):
        inputs = TheirImageGPTOnnxConfig.inputs

    processor = _processor("transformers", do_resize=False)
    for batch_size in (-1, 0, 3):
        np.random.seed(5)
        a = Mine(model_config).generate_dummy_inputs(processor, batch_size=batch_size, framework="np")
        np.random.seed(5)
        b = Theirs(model_config).generate_dummy_inputs(processor, batch_size=batch_size, framework="np")
        _same_inputs(a, b)
        assert a["input_ids"].shape == (3 if batch_size == 3 else 2, 40 * 40)


# ---------------------------------------------------------------- bad inputs


def _tokenizer():
    tokenizers = pytest.importorskip("tokenizers")
    model = tokenizers.models.WordLevel({"[UNK]": 0, "a": 1}, unk_token="[UNK]")
    tok = tokenizers.Tokenizer(model)
    tok.pre_tokenizer = tokenizers.pre_tokenizers.Whitespace()
    return transformers.PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]")


@pytest.mark.parametrize("bad", ["tokenizer", None, "a string", 3])
def test_wrong_preprocessor_type(model_config, bad):
    preprocessor = _tokenizer() if bad == "tokenizer" else bad
    with pytest.raises(TypeError, match="image processor") as info:
        ours.ImageGPTOnnxConfig(model_config).generate_dummy_inputs(preprocessor)
    assert type(preprocessor).__name__ in str(info.value)


def test_signatures_extend_transformers():
    import inspect

    for mine, theirs in [
        (ours.OnnxConfig.generate_dummy_inputs, TheirOnnxConfig.generate_dummy_inputs),
        (ours.ImageGPTOnnxConfig.generate_dummy_inputs, TheirImageGPTOnnxConfig.generate_dummy_inputs),
        (ours.OnnxConfig._generate_dummy_images, TheirOnnxConfig._generate_dummy_images),
        (ours.OnnxConfig.__init__, TheirOnnxConfig.__init__),
        (ours.OnnxConfig.from_model_config.__func__, TheirOnnxConfig.from_model_config.__func__),
    ]:
        a = [(p.name, p.default) for p in inspect.signature(mine).parameters.values() if p.kind != p.KEYWORD_ONLY]
        b = [(p.name, p.default) for p in inspect.signature(theirs).parameters.values()]
        assert a == b, mine.__qualname__


def test_deprecated_tokenizer_argument_is_refused(model_config):
    class Mine(ours.OnnxConfig):
        inputs = ours.ImageGPTOnnxConfig.inputs

    processor = _processor("transformers", do_resize=False)
    with pytest.raises(TypeError, match="tokenizer"):
        Mine(model_config).generate_dummy_inputs(processor, tokenizer=_tokenizer())


@pytest.mark.parametrize(
    "kwargs, error, name",
    [
        (dict(batch_size=0), ValueError, "batch_size"),
        (dict(batch_size=-1), ValueError, "batch_size"),
        (dict(image_height=0), ValueError, "image_height"),
        (dict(image_width=-3), ValueError, "image_width"),
        (dict(num_channels=0), ValueError, "num_channels"),
        (dict(num_channels=5), ValueError, "num_channels"),
        (dict(image_width=2.5), TypeError, "image_width"),
        (dict(batch_size="2"), TypeError, "batch_size"),
    ],
)
def test_non_positive_sizes(model_config, kwargs, error, name):
    processor = _processor("transformers", do_resize=False)
    with pytest.raises(error, match=name):
        ours.ImageGPTOnnxConfig(model_config).generate_dummy_inputs(processor, **kwargs)


# ---------------------------------------------------------------- features


def test_features_match_transformers(model_config):
    mine = ours.FeaturesManager.get_supported_features_for_model_type("imagegpt")
    theirs = TheirFeaturesManager.get_supported_features_for_model_type("imagegpt")
    assert list(mine) == list(theirs) == ["default", "image-classification"]
    for feature in theirs:
        a, b = mine[feature](model_config), theirs[feature](model_config)
        assert type(a) is ours.ImageGPTOnnxConfig
        assert a.task == b.task and a.inputs == b.inputs and a.outputs == b.outputs
        assert ours.FeaturesManager.get_config("imagegpt", feature)(model_config).task == feature
        assert ours.FeaturesManager.feature_to_task(feature) == TheirFeaturesManager.feature_to_task(feature)
    assert ours.FeaturesManager.get_supported_features_for_model_type("ImageGPT").keys() == theirs.keys()


def test_features_check_supported_model(model_config):
    model = types.SimpleNamespace(config=types.SimpleNamespace(model_type="imagegpt"))
    model_type, ctor = ours.FeaturesManager.check_supported_model_or_raise(model, "image-classification")
    their_type, their_ctor = TheirFeaturesManager.check_supported_model_or_raise(model, "image-classification")
    assert model_type == their_type
    assert ctor(model_config).outputs == their_ctor(model_config).outputs
    with pytest.raises(ValueError, match="masked-lm"):
        ours.FeaturesManager.check_supported_model_or_raise(model, "masked-lm")
    other = types.SimpleNamespace(config=types.SimpleNamespace(model_type="bert"))
    with pytest.raises(KeyError, match="bert"):
        ours.FeaturesManager.check_supported_model_or_raise(other)


def test_features_bad_inputs():
    with pytest.raises(KeyError, match="gpt2.*imagegpt"):
        ours.FeaturesManager.get_supported_features_for_model_type("gpt2")
    with pytest.raises(ValueError, match="causal-lm.*default, image-classification"):
        ours.FeaturesManager.get_config("imagegpt", "causal-lm")
    with pytest.raises(ValueError, match="tf"):
        ours.FeaturesManager.get_model_class_for_feature("default", framework="tf")


def test_features_model_classes():
    pytest.importorskip("torch", reason="model classes need torch: pip install 'imagegpt-rs[torch,transformers]'")
    assert ours.FeaturesManager.get_model_class_for_feature("default") is transformers.ImageGPTModel
    assert (
        ours.FeaturesManager.get_model_class_for_feature("image-classification")
        is transformers.ImageGPTForImageClassification
    )

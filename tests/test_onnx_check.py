"""check_onnx_model on small ONNX files built with onnx.helper: one matching, several mismatching."""

from __future__ import annotations

import numpy as np
import pytest

from imagegpt_rs import onnx as ours

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

HIDDEN = 4


def _model(
    *,
    input_name="input_ids",
    input_type=TensorProto.INT64,
    input_shape=("batch", "sequence"),
    output_name="last_hidden_state",
    output_type=TensorProto.FLOAT,
    output_shape=("batch", "sequence", HIDDEN),
    extra_input=False,
    broken=False,
):
    """A runnable graph: output = float(input)[..., None] * ones(HIDDEN) (or the input cast, for rank 2)."""
    inputs = [helper.make_tensor_value_info(input_name, input_type, list(input_shape))]
    if extra_input:
        inputs.append(helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "sequence"]))
    np_out = helper.tensor_dtype_to_np_dtype(output_type)
    inits = [
        numpy_helper.from_array(np.array([-1], dtype=np.int64), "last_axis"),
        numpy_helper.from_array(np.ones(HIDDEN, dtype=np_out), "ones"),
    ]
    nodes = [helper.make_node("Cast", [input_name], ["as_float"], to=output_type)]
    if len(output_shape) == 3:
        nodes += [
            helper.make_node("Unsqueeze", ["as_float", "last_axis"], ["expanded"]),
            helper.make_node("Mul", ["expanded", "ones"], [output_name]),
        ]
    else:
        nodes += [helper.make_node("Identity", ["as_float"], [output_name])]
    if broken:
        nodes.append(helper.make_node("Relu", ["does_not_exist"], ["dangling"]))
    outputs = [helper.make_tensor_value_info(output_name, output_type, list(output_shape))]
    graph = helper.make_graph(nodes, "tiny", inputs, outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    return model


def _save(tmp_path, model, name="model.onnx"):
    path = tmp_path / name
    onnx.save(model, str(path))
    return path


@pytest.fixture(params=["transformers", "imagegpt_rs"])
def model_config(request):
    if request.param == "transformers":
        transformers = pytest.importorskip("transformers")
        return transformers.ImageGPTConfig(n_embd=16, n_head=2)
    import imagegpt_rs

    try:
        return imagegpt_rs.ImageGPTConfig(n_embd=16, n_head=2)
    except (AttributeError, ImportError):
        pytest.skip("imagegpt_rs.ImageGPTConfig is not available in this build yet")


def test_matching_model_passes_and_runs(tmp_path, model_config):
    path = _save(tmp_path, _model())
    report = ours.check_onnx_model(path, ours.ImageGPTOnnxConfig(model_config))
    assert report.ok and bool(report)
    assert report.problems == [] and report.notes == []
    assert "matches the OnnxConfig" in str(report)
    report.raise_for_problems()
    # the file is a real model: onnxruntime runs it with a dynamic batch and sequence
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    ids = np.arange(15, dtype=np.int64).reshape(3, 5)
    (out,) = session.run(None, {"input_ids": ids})
    np.testing.assert_array_equal(out, np.repeat(ids[..., None].astype(np.float32), HIDDEN, axis=2))


def test_image_classification_task(tmp_path, model_config):
    path = _save(tmp_path, _model(output_name="logits", output_shape=("batch", "sequence")))
    cfg = ours.ImageGPTOnnxConfig(model_config, task="image-classification")
    assert ours.check_onnx_model(path, cfg).ok
    # the same file against the default task: the output name differs
    report = ours.check_onnx_model(path, ours.ImageGPTOnnxConfig(model_config))
    assert not report.ok
    text = str(report)
    assert "missing output(s) ['last_hidden_state']; the file has ['logits']" in text
    assert "unexpected output(s) ['logits'] not in the OnnxConfig ['last_hidden_state']" in text


def test_transformers_onnx_config_is_accepted(tmp_path):
    transformers = pytest.importorskip("transformers")
    from transformers.models.imagegpt.configuration_imagegpt import ImageGPTOnnxConfig

    cfg = ImageGPTOnnxConfig(transformers.ImageGPTConfig())
    assert ours.check_onnx_model(_save(tmp_path, _model()), cfg).ok
    report = ours.check_onnx_model(_save(tmp_path, _model(input_type=TensorProto.INT32), "b.onnx"), cfg)
    assert report.problems == ["input 'input_ids' has element type int32, expected int64"]


def test_wrong_input_name(tmp_path, model_config):
    report = ours.check_onnx_model(
        _save(tmp_path, _model(input_name="pixel_values")), ours.ImageGPTOnnxConfig(model_config)
    )
    assert report.problems == [
        "missing input(s) ['input_ids']; the file has ['pixel_values']",
        "unexpected input(s) ['pixel_values'] not in the OnnxConfig ['input_ids']",
    ]
    with pytest.raises(ValueError, match="missing input"):
        report.raise_for_problems()


def test_extra_input(tmp_path, model_config):
    report = ours.check_onnx_model(_save(tmp_path, _model(extra_input=True)), ours.ImageGPTOnnxConfig(model_config))
    assert report.problems == ["unexpected input(s) ['attention_mask'] not in the OnnxConfig ['input_ids']"]


@pytest.mark.parametrize(
    "kwargs, expected",
    [
        (dict(input_type=TensorProto.FLOAT), "input 'input_ids' has element type float32, expected int64"),
        (dict(input_type=TensorProto.INT32), "input 'input_ids' has element type int32, expected int64"),
        (
            dict(output_type=TensorProto.DOUBLE),
            "output 'last_hidden_state' has element type float64, expected float32 or float16",
        ),
        (
            dict(output_type=TensorProto.INT64),
            "output 'last_hidden_state' has element type int64, expected float32 or float16",
        ),
    ],
)
def test_wrong_element_types(tmp_path, model_config, kwargs, expected):
    report = ours.check_onnx_model(_save(tmp_path, _model(**kwargs)), ours.ImageGPTOnnxConfig(model_config))
    assert report.problems == [expected]
    assert expected in str(report)
    assert "1 problem(s)" in str(report)


def test_float16_outputs_are_fine(tmp_path, model_config):
    path = _save(tmp_path, _model(output_type=TensorProto.FLOAT16))
    assert ours.check_onnx_model(path, ours.ImageGPTOnnxConfig(model_config)).ok


@pytest.mark.parametrize(
    "kwargs, expected",
    [
        (
            dict(input_shape=(1, "sequence"), output_shape=(1, "sequence", HIDDEN)),
            [
                "input 'input_ids' axis 0 is static (1), the OnnxConfig makes it dynamic ('batch')",
                "output 'last_hidden_state' axis 0 is static (1), the OnnxConfig makes it dynamic ('batch')",
            ],
        ),
        (
            dict(input_shape=("batch", 1024), output_shape=("batch", 1024, HIDDEN)),
            [
                "input 'input_ids' axis 1 is static (1024), the OnnxConfig makes it dynamic ('sequence')",
                "output 'last_hidden_state' axis 1 is static (1024), the OnnxConfig makes it dynamic ('sequence')",
            ],
        ),
    ],
)
def test_static_axes(tmp_path, model_config, kwargs, expected):
    report = ours.check_onnx_model(_save(tmp_path, _model(**kwargs)), ours.ImageGPTOnnxConfig(model_config))
    assert report.problems == expected


def test_rank_too_small(tmp_path, model_config):
    # a rank-1 input cannot carry the (batch, sequence) axes
    model = _model(input_shape=("batch",), output_shape=("batch",))
    report = ours.check_onnx_model(_save(tmp_path, model), ours.ImageGPTOnnxConfig(model_config))
    assert "input 'input_ids' has rank 1, but the OnnxConfig names axis 1 ({0: 'batch', 1: 'sequence'})" in (
        report.problems
    )


def test_other_axis_names_are_notes(tmp_path, model_config):
    model = _model(input_shape=("batch_size", "sequence_length"), output_shape=("batch_size", "sequence_length", 4))
    report = ours.check_onnx_model(_save(tmp_path, model), ours.ImageGPTOnnxConfig(model_config))
    assert report.ok
    assert "input 'input_ids' axis 0 is named 'batch_size', the OnnxConfig calls it 'batch'" in report.notes
    assert len(report.notes) == 4
    assert "note: " in str(report)


def test_checker_failure_is_reported(tmp_path, model_config):
    report = ours.check_onnx_model(_save(tmp_path, _model(broken=True)), ours.ImageGPTOnnxConfig(model_config))
    assert not report.ok
    assert report.problems[0].startswith("onnx.checker failed:")
    assert "does_not_exist" in report.problems[0]


def test_not_an_onnx_file(tmp_path, model_config):
    path = tmp_path / "garbage.onnx"
    path.write_bytes(b"\x08\x07this is not protobuf \xff\xff\xff")
    report = ours.check_onnx_model(path, ours.ImageGPTOnnxConfig(model_config))
    assert not report.ok
    assert any("onnx.checker failed" in p or "cannot be parsed" in p for p in report.problems)


def test_missing_file(tmp_path, model_config):
    with pytest.raises(FileNotFoundError, match="nope.onnx"):
        ours.check_onnx_model(tmp_path / "nope.onnx", ours.ImageGPTOnnxConfig(model_config))

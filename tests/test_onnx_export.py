"""export / validate_model_outputs.

validate_model_outputs runs here without torch, on an ONNX file built with onnx.helper and a numpy reference
model. The PyTorch export tests need torch: they skip without it; run them with
``pip install 'imagegpt-rs[test,torch]'`` (or torch in the dev venv) and ``pytest tests/test_onnx_export.py``.
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from imagegpt_rs import onnx as ours

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
transformers = pytest.importorskip("transformers")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

TORCH_REASON = "needs torch: pip install 'imagegpt-rs[test,torch]' then pytest tests/test_onnx_export.py"
CLUSTERS = np.random.default_rng(99).uniform(-1.0, 1.0, size=(16, 3))
HIDDEN = 4
EMBEDDING = np.random.default_rng(3).standard_normal((len(CLUSTERS) + 1, HIDDEN)).astype(np.float32)


def _processor():
    return transformers.ImageGPTImageProcessor(clusters=CLUSTERS, size={"height": 8, "width": 8})


def _embedding_model(tmp_path, output_name="last_hidden_state"):
    """input_ids (batch, sequence) -> EMBEDDING[input_ids] (batch, sequence, HIDDEN)."""
    graph = helper.make_graph(
        [helper.make_node("Gather", ["embedding", "input_ids"], [output_name], axis=0)],
        "embed",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "sequence"])],
        [helper.make_tensor_value_info(output_name, TensorProto.FLOAT, ["batch", "sequence", HIDDEN])],
        [numpy_helper.from_array(EMBEDDING, "embedding")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    path = tmp_path / "embed.onnx"
    onnx.save(model, str(path))
    return path


class NumpyModel:
    """A reference model in numpy: forward(input_ids) -> {"last_hidden_state": table[input_ids]}."""

    def __init__(self, table, extra=None):
        self.table = table
        self.extra = extra or {}

    def forward(self, input_ids):
        return {"last_hidden_state": self.table[input_ids], **self.extra}

    __call__ = forward


def _config():
    return ours.ImageGPTOnnxConfig(transformers.ImageGPTConfig())


def _dummy(config, seed):
    # what validate_model_outputs feeds: batch default_fixed_batch + 1, numpy tensors
    return config.generate_dummy_inputs(_processor(), batch_size=3, framework="np", seed=seed)["input_ids"]


def test_validate_matching_model(tmp_path):
    path = _embedding_model(tmp_path)
    config = _config()
    assert ours.check_onnx_model(path, config).ok
    result = ours.validate_model_outputs(
        config, _processor(), NumpyModel(EMBEDDING), path, ["last_hidden_state"], config.atol_for_validation, seed=1
    )
    assert result == {"last_hidden_state": 0.0}


def test_validate_within_tolerance_reports_the_difference(tmp_path):
    config = _config()
    ids = _dummy(config, seed=2)
    shifted = EMBEDDING.copy()
    shifted[ids[0, 0], 1] += np.float32(4e-6)
    result = ours.validate_model_outputs(
        config, _processor(), NumpyModel(shifted), _embedding_model(tmp_path), ["last_hidden_state"], 1e-5, seed=2
    )
    expected = float(np.abs(shifted.astype(np.float64) - EMBEDDING).max())
    assert result["last_hidden_state"] == pytest.approx(expected, rel=0, abs=0)
    assert 0 < result["last_hidden_state"] < 1e-5


def test_validate_reports_largest_difference(tmp_path):
    config = _config()
    ids = _dummy(config, seed=4)
    token = ids[1, 5]
    wrong = EMBEDDING.copy()
    wrong[token, 2] += np.float32(0.25)
    with pytest.raises(ValueError) as info:
        ours.validate_model_outputs(
            config, _processor(), NumpyModel(wrong), _embedding_model(tmp_path), ["last_hidden_state"], 1e-5, seed=4
        )
    message = str(info.value)
    ref, got = wrong[ids], EMBEDDING[ids]
    diff = np.abs(ref.astype(np.float64) - got)
    where = np.unravel_index(int(np.argmax(diff)), diff.shape)
    assert "'last_hidden_state'" in message
    assert f"max absolute difference of: {diff.max()}" in message
    assert f"at index {tuple(int(i) for i in where)}" in message
    assert f"{int((ids == token).sum())} of {ids.size * HIDDEN} values are not close (atol: 1e-05)" in message


def test_validate_shape_mismatch(tmp_path):
    config = _config()
    with pytest.raises(ValueError, match=r"shape.*\(3, 64, 3\) \(reference\) and \(3, 64, 4\) \(ONNX\)"):
        ours.validate_model_outputs(
            config,
            _processor(),
            NumpyModel(EMBEDDING[:, :3]),
            _embedding_model(tmp_path),
            ["last_hidden_state"],
            1e-5,
            seed=0,
        )


def test_validate_unknown_output_name(tmp_path):
    config = _config()
    path = _embedding_model(tmp_path, output_name="logits")
    with pytest.raises(ValueError, match=r"\['logits'\] are not outputs of the reference model"):
        ours.validate_model_outputs(config, _processor(), NumpyModel(EMBEDDING), path, ["logits"], 1e-5, seed=0)


def test_validate_flattens_nested_outputs(tmp_path):
    # past_key_values is renamed "present" and flattened, as transformers does; unused outputs are ignored
    config = _config()
    model = NumpyModel(EMBEDDING, extra={"past_key_values": ((np.zeros(1), np.ones(1)),)})
    result = ours.validate_model_outputs(
        config, _processor(), model, _embedding_model(tmp_path), ["last_hidden_state"], 1e-5, seed=0
    )
    assert result == {"last_hidden_state": 0.0}


def test_validate_rejects_tokenizer_and_preprocessor(tmp_path):
    with pytest.raises(ValueError, match="both a tokenizer and a preprocessor"):
        ours.validate_model_outputs(
            _config(),
            _processor(),
            NumpyModel(EMBEDDING),
            _embedding_model(tmp_path),
            ["last_hidden_state"],
            1e-5,
            tokenizer=object(),
        )


def test_inputs_match_uses_forward_signature():
    ok, ordered = ours.ensure_model_and_config_inputs_match(NumpyModel(EMBEDDING), ["input_ids"])
    assert ok and ordered == ["input_ids"]
    ok, _ = ours.ensure_model_and_config_inputs_match(NumpyModel(EMBEDDING), ["input_ids", "pixel_values"])
    assert not ok


def test_export_without_torch_says_how_to_install(tmp_path):
    """Run where torch cannot be imported (a subprocess whose import system refuses it)."""
    code = textwrap.dedent(
        f"""
        import sys
        class NoTorch:
            def find_spec(self, name, path=None, target=None):
                if name == "torch" or name.startswith("torch."):
                    raise ImportError("No module named 'torch' (hidden by the test)")
        sys.meta_path.insert(0, NoTorch())
        from imagegpt_rs import ImageGPTConfig, ImageGPTImageProcessor
        from imagegpt_rs.onnx import ImageGPTOnnxConfig, export
        try:
            export(ImageGPTImageProcessor(size=8), object(), ImageGPTOnnxConfig(ImageGPTConfig()), output={str(tmp_path / "m.onnx")!r})
        except ImportError as e:
            print("ImportError:", e)
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert re.search(r"ImportError: .*pip install 'imagegpt-rs\[torch", out.stdout), out.stdout


def test_export_needs_an_output_path():
    with pytest.raises(ValueError, match="output"):
        ours.export(_processor(), object(), _config())


# ---------------------------------------------------------------- with torch


def _tiny_model(feature):
    torch = pytest.importorskip("torch", reason=TORCH_REASON)
    torch.manual_seed(0)
    # head size 16: a perfect square. transformers 4.57 scales attention by torch_float(sqrt(head size)),
    # which truncates to an int in eager mode but not while tracing, so eager and exported models differ
    # for other head sizes (real ImageGPT checkpoints use 64).
    config = transformers.ImageGPTConfig(
        vocab_size=len(CLUSTERS) + 1, n_positions=64, n_embd=32, n_layer=2, n_head=2, num_labels=3
    )
    cls = ours.FeaturesManager.get_model_class_for_feature(feature)
    return cls(config).eval()


@pytest.mark.parametrize("feature", ["default", "image-classification"])
def test_export_check_and_validate_tiny_models(tmp_path, feature):
    model = _tiny_model(feature)
    _, ctor = ours.FeaturesManager.check_supported_model_or_raise(model, feature)
    config = ctor(model.config)
    path = tmp_path / f"{feature}.onnx"
    inputs, outputs = ours.export(_processor(), model, config, output=path)
    assert inputs == ["input_ids"]
    assert outputs == list(config.outputs)
    assert model.config.use_cache is False  # values_override applied
    report = ours.check_onnx_model(path, config)
    assert report.ok, str(report)
    diffs = ours.validate_model_outputs(config, _processor(), model, path, outputs, config.atol_for_validation)
    assert set(diffs) == set(outputs)
    assert all(d <= config.atol_for_validation for d in diffs.values())


def test_export_model_builds_its_own_dummy_inputs(tmp_path):
    """export_model(model, onnx_config, output): no preprocessor needed; the built-in palette at the
    largest square the positions hold (8x8 for 64 positions) feeds the dummy inputs."""
    torch = pytest.importorskip("torch", reason=TORCH_REASON)
    torch.manual_seed(0)
    config = transformers.ImageGPTConfig(vocab_size=513, n_positions=64, n_embd=32, n_layer=2, n_head=2)
    model = transformers.ImageGPTModel(config).eval()
    onnx_config = ours.ImageGPTOnnxConfig(model.config)
    path = tmp_path / "m.onnx"
    inputs, outputs = ours.export_model(model, onnx_config, path)
    assert inputs == ["input_ids"] and outputs == list(onnx_config.outputs)
    assert ours.check_onnx_model(path, onnx_config).ok
    from imagegpt_rs import ImageGPTImageProcessor

    diffs = ours.validate_model_outputs(
        onnx_config, ImageGPTImageProcessor(size=8), model, path, outputs, onnx_config.atol_for_validation
    )
    assert all(d <= onnx_config.atol_for_validation for d in diffs.values())


def test_exported_model_matches_torch_on_photos(tmp_path):
    torch = pytest.importorskip("torch", reason=TORCH_REASON)
    skimage_data = pytest.importorskip("skimage.data")
    model = _tiny_model("default")
    config = ours.ImageGPTOnnxConfig(model.config)
    path = tmp_path / "m.onnx"
    ours.export(_processor(), model, config, output=path)
    ids = _processor()([skimage_data.astronaut(), skimage_data.coffee()], return_tensors="np")["input_ids"]
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (onnx_out,) = session.run(["last_hidden_state"], {"input_ids": ids})
    with torch.no_grad():
        # explicit position_ids: transformers 4.57's ImageGPTModel fails without them once use_cache is off
        position_ids = torch.arange(ids.shape[1]).unsqueeze(0)
        torch_out = model(input_ids=torch.from_numpy(ids), position_ids=position_ids).last_hidden_state.numpy()
    np.testing.assert_allclose(onnx_out, torch_out, atol=config.atol_for_validation, rtol=0)


def test_patching_specs_are_applied_during_export_and_restored(tmp_path):
    torch = pytest.importorskip("torch", reason=TORCH_REASON)
    model = _tiny_model("default")
    holder = type("Holder", (), {"op": staticmethod(lambda: "original")})
    during = []

    class Probe(torch.nn.Module):
        # records which op the holder has while torch.onnx.export traces the model
        def __init__(self, inner):
            super().__init__()
            self.inner = inner
            self.config = inner.config

        def forward(self, input_ids, position_ids=None):
            during.append(holder.op())
            return self.inner(input_ids=input_ids, position_ids=position_ids)

    spec = ours.PatchingSpec(holder, "op", lambda: "patched", op_wrapper=staticmethod)
    config = ours.ImageGPTOnnxConfig(model.config, patching_specs=[spec])
    ours.export(_processor(), Probe(model), config, output=tmp_path / "p.onnx")
    assert during and set(during) == {"patched"}
    assert holder.op() == "original"


def test_signatures_follow_transformers():
    import inspect

    from transformers.onnx import convert as their_convert

    for mine, theirs in [
        (ours.export, their_convert.export),
        (ours.validate_model_outputs, their_convert.validate_model_outputs),
        (ours.ensure_model_and_config_inputs_match, their_convert.ensure_model_and_config_inputs_match),
    ]:
        a = [p.name for p in inspect.signature(mine).parameters.values() if p.kind != p.KEYWORD_ONLY]
        b = [p.name for p in inspect.signature(theirs).parameters.values()]
        assert a == b, mine.__name__
    # beyond transformers: opset may be omitted (config.default_onnx_opset)
    assert inspect.signature(ours.export).parameters["opset"].default is None

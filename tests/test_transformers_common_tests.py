"""transformers' own common tests, run against our classes, with transformers' classes beside them as the control.

At test time this module takes ``tests/test_configuration_common.py`` (``ConfigTester``) and
``tests/test_image_processing_common.py`` (``ImageProcessingTestMixin``) from the source distribution of the
installed transformers 4.57.x on PyPI (``pip download --no-binary :all: --no-deps``), caches them (the pytest
cache folder, or ``$IMAGEGPT_RS_TEST_CACHE``) and runs them through thin test classes with the parameters of
transformers' ImageGPT tests: ``ConfigTester(config_class, n_embd=37)``; the image-processing tester with 2
clusters, 18x18 images, batches of 7, PIL/NumPy/torch inputs. Every class runs twice: on
``imagegpt_rs.ImageGPTConfig`` / ``ImageGPTImageProcessor`` and on transformers' classes (the control).

The source distribution does not ship ``tests/utils/test_configuration_utils.py`` (from which
``ConfigTester`` imports ``config_common_kwargs``) nor ``tests/models/imagegpt/``: the dict is written below as
transformers 4.57 defines it, and ImageGPT's tester and overrides are rewritten here with its parameters (the
overrides that compare a value with itself in transformers compare the two processors here).

Without network the download fails and so does this module, unless ``IMAGEGPT_RS_ALLOW_OFFLINE=1`` is set
(then it is skipped, with the reason).
"""

from __future__ import annotations

import importlib
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tarfile
import tempfile
import unittest

import numpy as np
import pytest

transformers = pytest.importorskip("transformers", reason="transformers 4.57 (the test extra) is the oracle")

OFFLINE_ENV = "IMAGEGPT_RS_ALLOW_OFFLINE"
COMMON_FILES = ("test_configuration_common.py", "test_image_processing_common.py")
PACKAGE = "transformers_common_tests"

# transformers 4.57's tests/utils/test_configuration_utils.py (not in the source distribution): the values
# ConfigTester.check_config_arguments_init passes to a config and expects back.
CONFIG_COMMON_KWARGS_SOURCE = """
config_common_kwargs = {
    "return_dict": False,
    "output_hidden_states": True,
    "output_attentions": True,
    "dtype": "float16",
    "is_decoder": True,
    "cross_attention_hidden_size": 128,
    "add_cross_attention": True,
    "chunk_size_feed_forward": 5,
    "architectures": ["BertModel"],
    "finetuning_task": "translation",
    "id2label": {0: "label"},
    "label2id": {"label": "0"},
    "tokenizer_class": "BertTokenizerFast",
    "prefix": "prefix",
    "bos_token_id": 6,
    "pad_token_id": 7,
    "eos_token_id": 8,
    "sep_token_id": 9,
    "decoder_start_token_id": 10,
    "task_specific_params": {"translation": "some_params"},
    "problem_type": "regression",
}
"""


def _cache_root() -> pathlib.Path:
    root = os.environ.get("IMAGEGPT_RS_TEST_CACHE")
    if root:
        return pathlib.Path(root)
    # pytest's cache folder (CI runs pytest with --rootdir at the repository root)
    return pathlib.Path(__file__).resolve().parent.parent / ".pytest_cache" / "d"


def _fetch_common_tests() -> pathlib.Path:
    """The folder holding the package of transformers' common test files (downloaded once, then cached)."""
    version = transformers.__version__
    if not version.startswith("4.57."):
        raise RuntimeError(f"the oracle is transformers 4.57.x, found {version}")
    root = _cache_root() / f"transformers-{version}-common-tests"
    package = root / PACKAGE
    if all((package / name).is_file() for name in COMMON_FILES):
        return root
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError:
        root = pathlib.Path(tempfile.gettempdir()) / f"imagegpt-rs-transformers-{version}-common-tests"
        root.mkdir(parents=True, exist_ok=True)
        package = root / PACKAGE
    with tempfile.TemporaryDirectory(dir=root) as tmp:
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--no-binary",
            ":all:",
            "--no-deps",
            f"transformers=={version}",
            "-d",
            tmp,
        ]
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
        except subprocess.TimeoutExpired as e:
            raise RuntimeError(f"`{' '.join(cmd)}` timed out after {e.timeout} s") from e
        archives = list(pathlib.Path(tmp).glob("transformers-*.tar.gz"))
        if done.returncode != 0 or len(archives) != 1:
            raise RuntimeError(f"`{' '.join(cmd)}` failed (exit {done.returncode}): {done.stderr.strip()[-2000:]}")
        staging = pathlib.Path(tmp) / PACKAGE
        (staging / "utils").mkdir(parents=True)
        with tarfile.open(archives[0]) as tar:
            for name in COMMON_FILES:
                member = tar.getmember(f"transformers-{version}/tests/{name}")
                data = tar.extractfile(member).read()
                (staging / name).write_bytes(data)
        (staging / "__init__.py").write_text("")
        (staging / "utils" / "__init__.py").write_text("")
        (staging / "utils" / "test_configuration_utils.py").write_text(CONFIG_COMMON_KWARGS_SOURCE)
        shutil.rmtree(package, ignore_errors=True)
        staging.rename(package)
    return root


def _import_common_tests():
    root = _fetch_common_tests()
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    config_common = importlib.import_module(f"{PACKAGE}.test_configuration_common")
    image_common = importlib.import_module(f"{PACKAGE}.test_image_processing_common")
    return config_common, image_common


try:
    _config_common, _image_common = _import_common_tests()
    _FETCH_ERROR: Exception | None = None
except Exception as e:  # no network, no pip, a changed archive: reported below
    _FETCH_ERROR = e

if _FETCH_ERROR is not None and os.environ.get(OFFLINE_ENV):
    pytest.skip(
        f"transformers' common tests are unavailable ({_FETCH_ERROR}) and {OFFLINE_ENV} is set", allow_module_level=True
    )


def test_transformers_common_tests_are_available():
    """Fails (does not skip) when the common tests cannot be fetched, unless IMAGEGPT_RS_ALLOW_OFFLINE is set."""
    if _FETCH_ERROR is not None:
        pytest.fail(
            f"could not get transformers' common tests: {_FETCH_ERROR!r}; set {OFFLINE_ENV}=1 to skip "
            "this module offline"
        )
    for module in (_config_common, _image_common):
        assert pathlib.Path(module.__file__).name in COMMON_FILES


@pytest.mark.parametrize("allow_offline", [False, True])
def test_without_network_this_module_fails_unless_offline_is_allowed(tmp_path, allow_offline):
    """A fresh cache and a pip that finds nothing: the availability test fails, or the module is skipped
    with the reason when IMAGEGPT_RS_ALLOW_OFFLINE is set."""
    env = dict(
        os.environ, IMAGEGPT_RS_TEST_CACHE=str(tmp_path / "cache"), PIP_NO_INDEX="1", PIP_FIND_LINKS=str(tmp_path)
    )
    env.pop(OFFLINE_ENV, None)
    if allow_offline:
        env[OFFLINE_ENV] = "1"
    root = pathlib.Path(__file__).resolve().parent.parent
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-c",
            str(root / "pyproject.toml"),
            "--rootdir",
            str(root),
            "-q",
            "-rs",
            "-p",
            "no:cacheprovider",
            __file__,
            "-k",
            "test_transformers_common_tests_are_available",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=pathlib.Path(__file__).parent,
        timeout=600,
    )
    if allow_offline:
        assert done.returncode in (0, 5), done.stdout[-3000:]  # 5: the skipped module left nothing to run
        assert "1 skipped" in done.stdout and OFFLINE_ENV in done.stdout
    else:
        assert done.returncode == 1, done.stdout[-3000:]
        assert "1 failed" in done.stdout and "could not get transformers' common tests" in done.stdout


if _FETCH_ERROR is None:
    from transformers.testing_utils import check_json_file_has_correct_format, require_torch, require_vision
    from transformers.utils import is_torchvision_available

    import imagegpt_rs

    ConfigTester = _config_common.ConfigTester
    ImageProcessingTestMixin = _image_common.ImageProcessingTestMixin
    prepare_image_inputs = _image_common.prepare_image_inputs

    # ------------------------------------------------------------------------------------------ configs

    CONFIG_STEPS = (
        "create_and_test_config_common_properties",
        "create_and_test_config_to_json_string",
        "create_and_test_config_to_json_file",
        "create_and_test_config_from_and_save_pretrained",
        "create_and_test_config_from_and_save_pretrained_subfolder",
        "create_and_test_config_from_and_save_pretrained_composite",
        "create_and_test_config_with_num_labels",
        "check_config_can_be_init_without_params",
        "check_config_arguments_init",
        "create_and_test_config_from_pretrained_custom_kwargs",
    )

    class _ConfigCommonTests:
        config_class = None

        def setUp(self):
            # as transformers' ImageGPTModelTest.setUp
            self.config_tester = ConfigTester(self, config_class=self.config_class, n_embd=37)

        def test_steps_are_those_of_run_common_tests(self):
            import inspect

            source = inspect.getsource(ConfigTester.run_common_tests)
            called = [
                line.strip()[len("self.") : -2] for line in source.splitlines() if line.strip().startswith("self.")
            ]
            self.assertEqual(tuple(called), CONFIG_STEPS)

        def test_config(self):  # transformers' ImageGPTModelTest.test_config
            self.config_tester.run_common_tests()

    def _config_step(name):
        def test(self):
            getattr(self.config_tester, name)()

        test.__name__ = f"test_{name}"
        return test

    for _name in CONFIG_STEPS:
        setattr(_ConfigCommonTests, f"test_{_name}", _config_step(_name))

    class TestOurConfigCommon(_ConfigCommonTests, unittest.TestCase):
        config_class = imagegpt_rs.ImageGPTConfig

    class TestTransformersConfigCommonControl(_ConfigCommonTests, unittest.TestCase):
        config_class = transformers.ImageGPTConfig

    # ---------------------------------------------------------------------------------- image processors

    class ImageGPTImageProcessingTester:
        """transformers' ImageGPTImageProcessingTester (tests/models/imagegpt), same parameters."""

        def __init__(
            self,
            parent,
            batch_size=7,
            num_channels=3,
            image_size=18,
            min_resolution=30,
            max_resolution=400,
            do_resize=True,
            size=None,
            do_normalize=True,
        ):
            self.parent = parent
            self.batch_size = batch_size
            self.num_channels = num_channels
            self.image_size = image_size
            self.min_resolution = min_resolution
            self.max_resolution = max_resolution
            self.do_resize = do_resize
            self.size = size if size is not None else {"height": 18, "width": 18}
            self.do_normalize = do_normalize

        def prepare_image_processor_dict(self):
            return {
                # 2 clusters, as transformers' test
                "clusters": np.asarray(
                    [
                        [0.8866443634033203, 0.6618829369544983, 0.3891746401786804],
                        [-0.6042559146881104, -0.02295008860528469, 0.5423797369003296],
                    ]
                ),
                "do_resize": self.do_resize,
                "size": self.size,
                "do_normalize": self.do_normalize,
            }

        def expected_output_image_shape(self, images):
            return (self.size["height"] * self.size["width"],)

        def prepare_image_inputs(self, equal_resolution=False, numpify=False, torchify=False):
            return prepare_image_inputs(
                batch_size=self.batch_size,
                num_channels=self.num_channels,
                min_resolution=self.min_resolution,
                max_resolution=self.max_resolution,
                equal_resolution=equal_resolution,
                numpify=numpify,
                torchify=torchify,
            )

    class _ImageGPTImageProcessingTests(ImageProcessingTestMixin):
        """The overrides of transformers' ImageGPTImageProcessingTest (ImageGPT returns input_ids)."""

        def setUp(self):
            super().setUp()
            self.image_processor_tester = ImageGPTImageProcessingTester(self)

        @property
        def image_processor_dict(self):
            return self.image_processor_tester.prepare_image_processor_dict()

        def _assert_dicts_equal(self, first, second):
            self.assertEqual(first.keys(), second.keys())
            for key, value in first.items():
                if key == "clusters":
                    self.assertTrue(np.array_equal(value, second[key]))
                else:
                    self.assertEqual(value, second[key], key)

        def test_image_processor_properties(self):
            for image_processing_class in self.image_processor_list:
                image_processing = image_processing_class(**self.image_processor_dict)
                for name in ("clusters", "do_resize", "size", "do_normalize"):
                    self.assertTrue(hasattr(image_processing, name))

        def test_image_processor_from_dict_with_kwargs(self):
            for image_processing_class in self.image_processor_list:
                image_processor = image_processing_class.from_dict(self.image_processor_dict)
                self.assertEqual(image_processor.size, {"height": 18, "width": 18})
                image_processor = image_processing_class.from_dict(self.image_processor_dict, size=42)
                self.assertEqual(image_processor.size, {"height": 42, "width": 42})

        def test_image_processor_to_json_string(self):
            for image_processing_class in self.image_processor_list:
                image_processor = image_processing_class(**self.image_processor_dict)
                obj = json.loads(image_processor.to_json_string())
                for key, value in self.image_processor_dict.items():
                    if key == "clusters":
                        self.assertTrue(np.array_equal(value, obj[key]))
                    else:
                        self.assertEqual(obj[key], value)

        def test_image_processor_to_json_file(self):
            for image_processing_class in self.image_processor_list:
                first = image_processing_class(**self.image_processor_dict)
                with tempfile.TemporaryDirectory() as tmpdirname:
                    json_file_path = os.path.join(tmpdirname, "image_processor.json")
                    first.to_json_file(json_file_path)
                    second = image_processing_class.from_json_file(json_file_path).to_dict()
                self._assert_dicts_equal(first.to_dict(), second)

        def test_image_processor_from_and_save_pretrained(self):
            for image_processing_class in self.image_processor_list:
                first = image_processing_class(**self.image_processor_dict)
                with tempfile.TemporaryDirectory() as tmpdirname:
                    first.save_pretrained(tmpdirname)
                    second = image_processing_class.from_pretrained(tmpdirname).to_dict()
                self._assert_dicts_equal(first.to_dict(), second)

        def test_image_processor_save_load_with_autoimageprocessor(self):
            for image_processing_class in self.image_processor_list:
                first = image_processing_class(**self.image_processor_dict)
                with tempfile.TemporaryDirectory() as tmpdirname:
                    saved_file = first.save_pretrained(tmpdirname)[0]
                    check_json_file_has_correct_format(saved_file)
                    second = transformers.AutoImageProcessor.from_pretrained(tmpdirname)
                self._assert_dicts_equal(first.to_dict(), second.to_dict())

        @unittest.skip(reason="ImageGPT requires clusters at initialization")
        def test_init_without_params(self):
            pass

        def _check_call(self, **prepare):
            import torch
            from PIL import Image

            kind = torch.Tensor if prepare.get("torchify") else np.ndarray if prepare.get("numpify") else Image.Image
            for image_processing_class in self.image_processor_list:
                image_processing = image_processing_class(**self.image_processor_dict)
                image_inputs = self.image_processor_tester.prepare_image_inputs(equal_resolution=False, **prepare)
                for image in image_inputs:
                    self.assertIsInstance(image, kind)
                expected = self.image_processor_tester.expected_output_image_shape(image_inputs)
                encoded = image_processing(image_inputs[0], return_tensors="pt").input_ids
                self.assertEqual(tuple(encoded.shape), (1, *expected))
                encoded = image_processing(image_inputs, return_tensors="pt").input_ids
                self.assertEqual(tuple(encoded.shape), (self.image_processor_tester.batch_size, *expected))

        def test_call_pil(self):
            self._check_call()

        def test_call_numpy(self):
            self._check_call(numpify=True)

        def test_call_pytorch(self):
            self._check_call(torchify=True)

        @unittest.skip(reason="ImageGPT assumes clusters for 3 channels")
        def test_call_numpy_4_channels(self):
            pass

        def test_slow_fast_equivalence(self):
            # transformers' override compares input_ids (atol 1) on a COCO photo fetched over HTTP; a local
            # photo of the repository's examples here
            if self.image_processing_class is None or self.fast_image_processing_class is None:
                self.skipTest(
                    reason="Skipping slow/fast equivalence test as one of the image processors is not defined"
                )
            from PIL import Image

            path = next((pathlib.Path(__file__).parent.parent / "examples" / "images").iterdir())
            image = Image.open(path).convert("RGB")
            slow = self.image_processing_class(**self.image_processor_dict)(image, return_tensors="pt")
            fast = self.fast_image_processing_class(**self.image_processor_dict)(image, return_tensors="pt")
            self._assert_slow_fast_tensors_equivalence(slow.input_ids.float(), fast.input_ids.float(), atol=1.0, rtol=0)

        def test_slow_fast_equivalence_batched(self):
            if self.image_processing_class is None or self.fast_image_processing_class is None:
                self.skipTest(
                    reason="Skipping slow/fast equivalence test as one of the image processors is not defined"
                )
            images = self.image_processor_tester.prepare_image_inputs(equal_resolution=False, torchify=True)
            slow = self.image_processing_class(**self.image_processor_dict)(images, return_tensors="pt")
            fast = self.fast_image_processing_class(**self.image_processor_dict)(images, return_tensors="pt")
            self._assert_slow_fast_tensors_equivalence(slow.input_ids.float(), fast.input_ids.float(), atol=1.0, rtol=0)

    @require_torch
    @require_vision
    class TestOurImageProcessingCommon(_ImageGPTImageProcessingTests, unittest.TestCase):
        image_processing_class = imagegpt_rs.ImageGPTImageProcessor
        fast_image_processing_class = None  # ours is one class, already faster than transformers' fast one

        def test_init_without_params(self):
            # ours has a built-in palette, so the mixin's own test applies (transformers' ImageGPT skips it)
            ImageProcessingTestMixin.test_init_without_params(self)

    @require_torch
    @require_vision
    class TestTransformersImageProcessingCommonControl(_ImageGPTImageProcessingTests, unittest.TestCase):
        image_processing_class = transformers.ImageGPTImageProcessor
        fast_image_processing_class = transformers.ImageGPTImageProcessorFast if is_torchvision_available() else None

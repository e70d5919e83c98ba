"""Spark: a DataFrame's binary image column encoded on a local SparkSession against PIL + transformers."""

from __future__ import annotations

import io
import os
import shutil
import sys

import numpy as np
import pytest

pyspark = pytest.importorskip("pyspark", reason="pyspark is in the test extra")
PIL_Image = pytest.importorskip("PIL.Image")
transformers = pytest.importorskip("transformers")
pytestmark = pytest.mark.skipif(shutil.which("java") is None, reason="Spark needs a Java runtime")

from imagegpt_rs import ImageGPTImageProcessor  # noqa: E402
from imagegpt_rs.integrations.spark import encode_spark  # noqa: E402


@pytest.fixture(scope="module")
def spark():
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # the executors run this interpreter
    session = (
        SparkSession.builder.master("local[2]")
        .appName("imagegpt-rs-test")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.sql.execution.arrow.maxRecordsPerBatch", "3")
        .getOrCreate()
    )
    yield session
    session.stop()


def test_spark_binary_column_equals_pil_then_transformers(spark, rgb_photos, photo_palette):
    blobs = []
    for _name, arr in sorted(rgb_photos.items()):
        b = io.BytesIO()
        PIL_Image.fromarray(np.ascontiguousarray(arr[::2, ::2])).save(b, "JPEG" if len(blobs) % 2 else "PNG")
        blobs.append(b.getvalue())
    rows = [(i, blob) for i, blob in enumerate(blobs)]
    rows.insert(3, (99, b"not an image"))
    df = spark.createDataFrame(rows, "id long, image binary").repartition(2)
    processor = ImageGPTImageProcessor(photo_palette, size=16)
    out = sorted(encode_spark(df, processor, image_column="image", keep_columns=["id"]).collect())
    bad = out.pop()
    assert bad.id == 99 and bad.input_ids is None and "not a supported image" in bad.error
    assert [r.id for r in out] == list(range(len(blobs))) and all(r.error is None for r in out)
    ids = np.array([r.input_ids for r in out])
    theirs = transformers.ImageGPTImageProcessor(photo_palette, size=16)
    expected = theirs([PIL_Image.open(io.BytesIO(b)).convert("RGB") for b in blobs], return_tensors="np")["input_ids"]
    np.testing.assert_array_equal(ids, expected)
    with pytest.raises(Exception, match="not a supported image"):
        encode_spark(df, processor, on_error="raise").collect()

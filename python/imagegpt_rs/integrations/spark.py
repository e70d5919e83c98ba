"""Spark: encode a DataFrame's image column on the executors, one native call per Arrow batch.

>>> from imagegpt_rs.integrations.spark import encode_spark
>>> out = encode_spark(df, processor, image_column="image", keep_columns=["id"])   # doctest: +SKIP
>>> out.write.parquet("tokens.parquet")                                            # doctest: +SKIP

The image column is binary (encoded JPEG/PNG/... bytes) or a Hugging Face ``Image`` struct
``{bytes, path}`` (its bytes are used). ``DataFrame.mapInArrow`` hands each executor Arrow record batches;
each batch's bytes go to the Rust pipeline in one call (decode, resize, quantize on all the executor's
cores, GIL released), and the ids come back as one Arrow list column: no per-row or per-pixel Python.
The result has the kept columns, ``input_ids`` (``array<int>``, or ``array<bigint>`` for int64) and
``error`` (null for good rows). With ``on_error="skip"`` a bad image gets null ``input_ids`` and its
reason in ``error`` (no row is dropped or shifted); with ``"raise"`` the task fails naming the row.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

__all__ = ["encode_spark"]

_JOBS: dict[str, Any] = {}


def _executor_job(config: str, dtype: str, num_threads: int | None) -> Any:
    """The native job of a processor config, built once per executor process."""
    key = f"{dtype}:{num_threads}:{config}"
    job = _JOBS.get(key)
    if job is None:
        from .._jobs import file_job
        from ..image_processing import ImageGPTImageProcessor

        job = _JOBS[key] = file_job(
            ImageGPTImageProcessor.from_dict(json.loads(config)), dtype, num_threads, None, False
        )
    return job


def _encode_batches(
    batches: Iterator[Any],
    config: str,
    dtype: str,
    num_threads: int | None,
    image_column: str,
    keep_columns: Sequence[str],
    on_error: str,
) -> Iterator[Any]:
    import pyarrow as pa

    from ..errors import ImageDecodeError

    job = _executor_job(config, dtype, num_threads)
    length = job.sequence_length
    value_type = pa.int64() if dtype == "int64" else pa.int32()
    for batch in batches:
        col = batch.column(batch.schema.get_field_index(image_column))
        if pa.types.is_struct(col.type):
            # flatten(): the child with the batch's offset and nulls applied.
            col = dict(zip((f.name for f in col.type), col.flatten()))["bytes"]
        blobs = [b if b is not None else b"" for b in col.to_pylist()]
        ids, ok, errors = job.run_bytes(blobs)
        if errors and on_error == "raise":
            i, reason = errors[0]
            raise ImageDecodeError(f"{image_column} row {i} of a batch: {reason}")
        n = len(blobs)
        good = np.zeros(n, bool)
        good[np.asarray(ok, dtype=np.int64)] = True
        values = np.zeros((n, length), np.int64 if dtype == "int64" else np.int32)
        values[good] = ids
        offsets = pa.array(np.arange(n + 1, dtype=np.int32) * length)
        lists = pa.ListArray.from_arrays(offsets, pa.array(values.reshape(-1), value_type), mask=pa.array(~good))
        reasons: list[str | None] = [None] * n
        for i, reason in errors:
            reasons[i] = reason
        arrays = [batch.column(batch.schema.get_field_index(c)) for c in keep_columns]
        arrays += [lists, pa.array(reasons, pa.string())]
        yield pa.RecordBatch.from_arrays(arrays, names=list(keep_columns) + ["input_ids", "error"])


def encode_spark(
    df: Any,
    processor: Any = None,
    *,
    image_column: str = "image",
    keep_columns: Sequence[str] = (),
    dtype: str = "int32",
    on_error: str = "skip",
    num_threads: int | None = None,
) -> Any:
    """Returns a DataFrame of ``keep_columns``, ``input_ids`` and ``error`` for ``df[image_column]``
    (lazy, like any Spark transformation). ``dtype``: int32 (``array<int>``; uint16 ids fit) or int64."""
    from pyspark.sql import types as T

    from .._jobs import check_on_error
    from ..image_processing import as_image_processor

    check_on_error(on_error)
    if dtype not in ("int32", "int64"):
        raise ValueError(f"dtype must be 'int32' or 'int64' for Spark, got {dtype!r}")
    proc = as_image_processor(processor)
    config = json.dumps(proc.to_dict())
    _executor_job(config, dtype, num_threads)  # fail fast on the driver for a bad processor
    fields = [df.schema[c] for c in keep_columns]
    element = T.LongType() if dtype == "int64" else T.IntegerType()
    schema = T.StructType(
        fields
        + [
            T.StructField("input_ids", T.ArrayType(element, containsNull=False), True),
            T.StructField("error", T.StringType(), True),
        ]
    )
    keep = list(keep_columns)

    def run(batches: Iterator[Any]) -> Iterator[Any]:
        return _encode_batches(batches, config, dtype, num_threads, image_column, keep, on_error)

    columns = keep + ([image_column] if image_column not in keep else [])
    return df.select(*columns).mapInArrow(run, schema)

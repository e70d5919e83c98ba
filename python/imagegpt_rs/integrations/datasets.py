"""Hugging Face ``datasets``: add ``input_ids`` to a dataset with ``Dataset.map(batched=True, num_proc=N)``.

>>> from imagegpt_rs.integrations.datasets import ImageGPTMapper
>>> ds = ds.map(ImageGPTMapper(processor), batched=True, num_proc=2)   # doctest: +SKIP

The image column may hold decoded PIL images (the default of ``datasets.Image()``) or undecoded
``{"bytes": ..., "path": ...}`` dicts (``ds.cast_column("image", Image(decode=False))``): those are
decoded in Rust, which is much faster than letting ``datasets`` decode them with Pillow.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["ImageGPTMapper"]


class ImageGPTMapper:
    """A picklable batch function for ``Dataset.map(batched=True)`` that adds ``input_ids``.

    Args:
        processor: an :class:`~imagegpt_rs.ImageGPTImageProcessor` (or a saved one's path; None: the
            built-in palette at 32x32).
        image_column: the column holding images.
        output_column: the column to write the ids to (lists of ints, int64 by default).
        dtype: ids dtype (uint16, int32 or int64).
        on_error: "raise" stops at the first bad image; "skip" writes None for it and the reason to
            ``error_column``, so no good row is dropped or shifted.
        error_column: where "skip" records reasons ("" for good rows).
    """

    def __init__(
        self,
        processor: Any = None,
        image_column: str = "image",
        output_column: str = "input_ids",
        dtype: Any = np.int64,
        on_error: str = "raise",
        error_column: str = "error",
        num_threads: int | None = None,
    ) -> None:
        from .._jobs import check_on_error
        from ..image_processing import as_image_processor

        check_on_error(on_error)
        self.processor = as_image_processor(processor)
        self.image_column = image_column
        self.output_column = output_column
        self.dtype = np.dtype(dtype).name
        self.on_error = on_error
        self.error_column = error_column
        self.num_threads = num_threads

    def __call__(self, batch: dict[str, list[Any]]) -> dict[str, list[Any]]:
        from .._jobs import file_job
        from ..errors import ImageDecodeError

        images = batch[self.image_column]
        n = len(images)
        ids: list[Any] = [None] * n
        errors = [""] * n
        encoded = [i for i, im in enumerate(images) if isinstance(im, dict)]
        decoded = [i for i, im in enumerate(images) if not isinstance(im, dict) and im is not None]
        for i, im in enumerate(images):
            if im is None:
                errors[i] = "no image (None)"
        if encoded:
            job = file_job(self.processor, self.dtype, self.num_threads, None, False)
            blobs, labels = [], []
            for i in encoded:
                item = images[i]
                data = item.get("bytes")
                if data is None and item.get("path"):
                    with open(item["path"], "rb") as f:
                        data = f.read()
                blobs.append(data if data is not None else b"")
                labels.append(item.get("path") or f"row {i}")
            out, ok, fails = job.run_bytes(blobs)
            for row, k in zip(out, ok):
                ids[encoded[k]] = row
            for k, reason in fails:
                errors[encoded[k]] = f"{labels[k]}: {reason}"
        if decoded:
            result = self.processor([images[i] for i in decoded], return_tensors=None)
            for i, row in zip(decoded, result["input_ids"]):
                ids[i] = row.astype(self.dtype, copy=False)
        bad = [e for e in errors if e]
        if bad and self.on_error == "raise":
            raise ImageDecodeError(bad[0])
        out_batch: dict[str, list[Any]] = {self.output_column: [None if x is None else x.tolist() for x in ids]}
        if self.on_error == "skip":
            out_batch[self.error_column] = errors
        return out_batch

"""The ``imagegpt-rs`` command line (also ``python -m imagegpt_rs``).

Exit codes: 0 done; 1 failed (the message says why); 2 bad command line; 3 done but some inputs could
not be encoded (``--on-error skip``; the manifest lists them) or a config has problems (``validate``);
130 interrupted. Every failure is one line on stderr; an unexpected exception prints
``internal error: ...`` (exit 1), and ``IMAGEGPT_RS_DEBUG=1`` prints its traceback instead.
"""

from __future__ import annotations

import argparse
import os
import struct
import sys
import time
import zlib
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_PARTIAL, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
DEBUG_ENV = "IMAGEGPT_RS_DEBUG"
# Bounds of the numeric options (argparse rejects values outside them with exit code 2).
MAX_WORKERS = 1024
MAX_SIZE_PIXELS = 1 << 20  # H * W: 1,048,576 tokens per image (1024x1024); ImageGPT uses 32x32 to 64x64
MAX_SIZE_SIDE = 1 << 16


def _size(text: str) -> tuple[int, int]:
    try:
        if "x" in text.lower():
            h, w = text.lower().split("x", 1)
            size = (int(h), int(w))
        else:
            size = (int(text), int(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must be N or HxW (e.g. 32 or 32x48), got {text!r}") from None
    if min(size) < 1:
        raise argparse.ArgumentTypeError(f"size must be positive, got {text!r}")
    if max(size) > MAX_SIZE_SIDE or size[0] * size[1] > MAX_SIZE_PIXELS:
        raise argparse.ArgumentTypeError(
            f"size {size[0]}x{size[1]} is too large: at most {MAX_SIZE_PIXELS:,} pixels (H*W), e.g. 1024x1024"
        )
    return size


def _version_text() -> str:
    """``imagegpt-rs 0.1.0`` and what the build contains (imagegpt_rs.build_info())."""
    from . import __version__, build_info

    info = build_info()
    if info["jpeg_decoder"] == "libjpeg-turbo":
        simd_states: dict[object, str] = {True: "SIMD on", False: "SIMD off", None: "no SIMD for this CPU"}
        simd = simd_states[info["jpeg_simd"]]
        jpeg = f"libjpeg-turbo {info['libjpeg_turbo_version']} ({simd})"
    else:
        jpeg = str(info["jpeg_decoder"])
    return (
        f"imagegpt-rs {__version__}\n"
        f"JPEG: {jpeg}\n"
        f"kernels: quantize {info['quantize_kernel']}, resize {info['resize_kernel']}\n"
        f"target: {info['target_arch']}-{info['target_os']}"
        f"{'' if info['optimized'] else ' (debug build)'}"
    )


class _PrintVersion(argparse.Action):
    """``--version``: the text of :func:`_version_text` as is (argparse's own action reflows it)."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *args: Any, **kwargs: Any) -> None:
        print(_version_text())
        parser.exit()


def _int_range(lo: int, hi: int | None, what: str) -> Any:
    """An argparse type: an integer in [lo, hi] (hi None: no upper bound)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{what} must be an integer, got {text!r}") from None
        if value < lo or (hi is not None and value > hi):
            bounds = f"{lo}..{hi}" if hi is not None else f">= {lo}"
            raise argparse.ArgumentTypeError(f"{what} must be in {bounds}, got {text}")
        return value

    parse.__name__ = what  # argparse names the type in some messages
    return parse


def _tolerance(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"tol must be a number, got {text!r}") from None
    if not (0 <= value < float("inf")):
        raise argparse.ArgumentTypeError(f"tol must be a finite number >= 0, got {text}")
    return value


_WORKERS = _int_range(1, MAX_WORKERS, "workers")


class _Parser(argparse.ArgumentParser):
    """argparse with a one-line error (the usage is in --help) and exit code 2."""

    def error(self, message: str) -> Any:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="imagegpt-rs",
        description="Turn images into ImageGPT tokens (input_ids) fast, look at tokens as images, check configs.",
        epilog="Example: imagegpt-rs encode photos/ -o tokens/ --size 32 && imagegpt-rs preview tokens/ -o sheet.png",
    )
    p.add_argument("--version", action=_PrintVersion, help="print the version and build facts, then exit")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    e = sub.add_parser(
        "encode",
        help="encode image files into sharded token arrays",
        description="Decode, resize (Pillow-exact) and color-quantize images into input_ids, in parallel, "
        "writing shards and a manifest.json to OUT. A killed run can be finished with --resume.",
    )
    e.add_argument(
        "inputs",
        nargs="+",
        help="image files, directories (searched recursively), globs, @list.txt, WebDataset .tar shards, .parquet files",
    )
    e.add_argument("-o", "--out", required=True, help="output directory")
    e.add_argument(
        "--config", help="a preprocessor_config.json (or its directory); default: built-in 512-color palette"
    )
    e.add_argument("--size", type=_size, help="target size N or HxW (default: the config's, or 32)")
    e.add_argument(
        "--workers", type=_WORKERS, default=None, help=f"worker threads, 1..{MAX_WORKERS} (default: all cores)"
    )
    e.add_argument(
        "--on-error",
        choices=["raise", "skip"],
        default="raise",
        help="stop at the first bad file, or skip and report bad files",
    )
    e.add_argument(
        "--resume", action="store_true", help="finish an interrupted run in OUT without redoing complete shards"
    )
    e.add_argument(
        "--format",
        choices=["npy", "parquet", "webdataset"],
        default="npy",
        help="shard format: npy, parquet (needs pyarrow) or webdataset (tar shards of KEY.input_ids.npy + KEY.json)",
    )
    e.add_argument(
        "--image-column", help="the image column of .parquet inputs (default: the first Image struct or binary column)"
    )
    e.add_argument(
        "--keep-columns",
        type=lambda t: [c for c in t.split(",") if c],
        default=[],
        help="comma-separated columns of .parquet inputs to carry into parquet/webdataset output (e.g. id,caption)",
    )
    e.add_argument("--dtype", choices=["uint16", "int32", "int64"], default="uint16", help="token dtype in the shards")
    e.add_argument(
        "--shard-size", type=_int_range(1, 1 << 24, "shard-size"), default=4096, help="images per shard (default 4096)"
    )
    e.add_argument(
        "--draft",
        action="store_true",
        help=(
            "decode JPEGs at 1/2-1/8 scale in the DCT domain (Pillow's Image.draft): 2-4x faster on large "
            "photos, but not transformers' ids (70-94%% of tokens equal in our measurements, depending on the palette)"
        ),
    )
    e.add_argument("--quiet", action="store_true", help="no progress output")

    v = sub.add_parser(
        "preview",
        help="draw tokens back as images in a PNG contact sheet",
        description="Decode token ids to their cluster colors and tile them into one PNG.",
    )
    v.add_argument("tokens", help="an encode output directory, or a .npy file of ids (N, H*W)")
    v.add_argument("-o", "--out", default="preview.png", help="PNG file to write (default preview.png)")
    v.add_argument("--config", help="preprocessor_config.json for a .npy input (default: built-in palette)")
    v.add_argument("--size", type=_size, help="image size HxW for a .npy input (default: square)")
    v.add_argument(
        "--max-images",
        type=_int_range(1, 4096, "max-images"),
        default=64,
        help="at most this many images, 1..4096 (default 64)",
    )
    v.add_argument("--columns", type=_int_range(1, 4096, "columns"), default=8, help="images per row (default 8)")
    v.add_argument("--scale", type=_int_range(1, 64, "scale"), default=4, help="pixel magnification, 1..64 (default 4)")

    c = sub.add_parser(
        "validate",
        help="check config.json / preprocessor_config.json files and print every problem",
        description="Validate model configs (config.json) and processor configs (preprocessor_config.json).",
    )
    c.add_argument("files", nargs="+", help="config files or directories holding them")

    f = sub.add_parser(
        "fit-palette",
        help="fit a color palette (k-means clusters) to images and save it as a processor config",
        description="Count the colors of the images (optionally resized and subsampled), run k-means in "
        "ImageGPT's normalized color space, and write preprocessor_config.json + config.json to OUT, "
        "ready for `imagegpt-rs encode --config OUT` and transformers' from_pretrained.",
    )
    f.add_argument("inputs", nargs="+", help="image files, directories (searched recursively), globs, or @list.txt")
    f.add_argument(
        "--clusters",
        type=_int_range(1, 65535, "clusters"),
        default=512,
        help="palette size (default 512; vocab_size = clusters + 1)",
    )
    f.add_argument("-o", "--out", required=True, help="output directory")
    f.add_argument(
        "--size",
        type=_size,
        help="resize images to N or HxW before taking pixels, and save that size (default: full-size pixels, saved size 32x32)",
    )
    f.add_argument(
        "--max-pixels",
        type=_int_range(1, None, "max-pixels"),
        help="at most this many pixels in total (uniform sample)",
    )
    f.add_argument(
        "--max-pixels-per-image",
        type=_int_range(1, None, "max-pixels-per-image"),
        help="at most this many pixels per image",
    )
    f.add_argument(
        "--max-iter",
        type=_int_range(1, 1_000_000, "max-iter"),
        default=100,
        help="maximum k-means iterations (default 100)",
    )
    f.add_argument("--tol", type=_tolerance, default=1e-4, help="relative tolerance on center shift (default 1e-4)")
    f.add_argument(
        "--seed",
        type=_int_range(0, (1 << 64) - 1, "seed"),
        default=0,
        help="seed of sampling and initialization (default 0)",
    )
    f.add_argument("--workers", type=_WORKERS, default=None, help=f"threads, 1..{MAX_WORKERS} (default: all cores)")
    f.add_argument("--quiet", action="store_true", help="no progress output")
    return p


class _Progress:
    """The one progress display of every command: a one-line bar on a terminal (a new line per
    stage), a log line every few seconds otherwise. ``encoded`` is encode's callback, ``fit``
    fit-palette's (images read, then initial centers, then iterations)."""

    _LABELS = {"images": "reading images", "init": "choosing initial centers", "iteration": "k-means iterations"}

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.tty = sys.stderr.isatty()
        self.t0 = time.monotonic()
        self.last = 0.0
        self.stage = ""
        self.open_line = False

    def _show(self, stage: str, done: int, total: int, bar_text: Callable[[str], str], log_text: str) -> None:
        now = time.monotonic()
        new_stage = stage != self.stage
        if new_stage:
            self.close()
        self.stage = stage
        if not self.tty and not new_stage and now - self.last < 5 and done < total:
            return
        self.last = now
        if self.tty:
            width = 30
            filled = int(width * done / max(total, 1))
            sys.stderr.write("\r" + bar_text("#" * filled + "-" * (width - filled)))
            self.open_line = True
        else:
            sys.stderr.write(log_text + "\n")
        sys.stderr.flush()

    def encoded(self, done: int, total: int, failed: int) -> None:
        if not self.enabled:
            return
        elapsed = max(time.monotonic() - self.t0, 1e-9)
        rate = done / elapsed
        eta = (total - done) / rate if rate > 0 else float("inf")
        eta_text = f"{eta:,.0f}s" if eta != float("inf") else "?"
        fail = f", {failed} failed" if failed else ""
        self._show(
            "encode",
            done,
            total,
            lambda bar: f"[{bar}] {done}/{total} {rate:,.0f} img/s ETA {eta_text}{fail}   ",
            f"encoded {done}/{total} images, {rate:,.0f} img/s, ETA {eta_text}{fail}",
        )
        if done >= total:
            self.close()

    def fit(self, stage: str, done: int, total: int) -> None:
        if not self.enabled:
            return
        label = self._LABELS.get(stage, stage)
        elapsed = time.monotonic() - self.t0
        self._show(
            stage,
            done,
            total,
            lambda bar: f"{label:26} [{bar}] {done}/{total} {elapsed:,.1f}s   ",
            f"{label}: {done}/{total} ({elapsed:,.1f}s)",
        )

    def close(self) -> None:
        if self.enabled and self.tty and self.open_line:
            sys.stderr.write("\n")
            sys.stderr.flush()
        self.open_line = False


def _load_processor(config: str | None, size: tuple[int, int] | None) -> Any:
    from .image_processing import ImageGPTImageProcessor

    if config and config.lower().endswith(".json") and not os.path.exists(config):
        # A file name, not a Hub id: say so at once instead of trying the Hub (retries, network messages).
        raise FileNotFoundError(f"--config {config}: no such file")
    processor = ImageGPTImageProcessor.from_pretrained(config) if config else ImageGPTImageProcessor(size=32)
    if size is not None:
        processor.size = {"height": size[0], "width": size[1]}
    return processor


def _cmd_encode(args: argparse.Namespace) -> int:
    from .encoding import encode_to_directory

    processor = _load_processor(args.config, args.size)
    manifest = encode_to_directory(
        args.inputs,
        args.out,
        processor,
        fmt=args.format,
        dtype=args.dtype,
        shard_size=args.shard_size,
        on_error=args.on_error,
        resume=args.resume,
        num_threads=args.workers,
        draft=args.draft,
        progress=_Progress(not args.quiet).encoded,
        image_column=args.image_column,
        keep_columns=args.keep_columns,
    )
    failures = [f for s in manifest["shards"] for f in s["failures"]]
    rows = sum(s["rows"] for s in manifest["shards"])
    print(f"wrote {rows} encoded images in {len(manifest['shards'])} shard(s) to {args.out}")
    for f in failures[:20]:
        print(f"skipped {f['path']}: {f['reason']}", file=sys.stderr)
    if len(failures) > 20:
        print(f"... and {len(failures) - 20} more (see manifest.json)", file=sys.stderr)
    return EXIT_PARTIAL if failures else EXIT_OK


def _png_bytes(rgb: np.ndarray) -> bytes:
    """A minimal PNG encoder (8-bit RGB, no filter) so that preview needs no imaging library."""
    h, w, _ = rgb.shape
    raw = b"".join(b"\x00" + rgb[y].tobytes() for y in range(h))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b"")


def contact_sheet(images: np.ndarray, columns: int = 8, scale: int = 4, gap: int = 2) -> np.ndarray:
    """Tiles (N, H, W, 3) uint8 images into one (rows, columns) sheet, each magnified ``scale`` times."""
    n, h, w, _ = images.shape
    columns = max(1, min(columns, n))
    rows = -(-n // columns)
    big = images.repeat(scale, axis=1).repeat(scale, axis=2)
    H, W = h * scale, w * scale
    sheet = np.full((rows * (H + gap) + gap, columns * (W + gap) + gap, 3), 255, np.uint8)
    for i in range(n):
        r, c = divmod(i, columns)
        y, x = gap + r * (H + gap), gap + c * (W + gap)
        sheet[y : y + H, x : x + W] = big[i]
    return sheet


def _cmd_preview(args: argparse.Namespace) -> int:
    from .encoding import load_directory
    from .image_processing import ImageGPTImageProcessor

    if os.path.isdir(args.tokens):
        ids, _idx, manifest = load_directory(args.tokens)
        processor = ImageGPTImageProcessor.from_dict(manifest["processor"])
        h, w = processor.size["height"], processor.size["width"]
    else:
        ids = np.load(args.tokens)
        if ids.dtype.kind not in "iu" or ids.ndim not in (1, 2):
            raise ValueError(
                f"{args.tokens}: expected integer token ids of shape (N, H*W) or (H*W,), got {ids.dtype} {ids.shape}"
            )
        processor = _load_processor(args.config, None)
        if args.size:
            h, w = args.size
        else:
            side = int(round(ids.shape[-1] ** 0.5))
            h, w = side, side
    if ids.ndim == 1:
        ids = ids[None]
    if len(ids) == 0:
        print("no images to preview", file=sys.stderr)
        return EXIT_ERROR
    ids = ids[: args.max_images]
    images = processor.decode(ids.astype(np.int64), size=(h, w))
    sheet = contact_sheet(images, columns=args.columns, scale=args.scale)
    with open(args.out, "wb") as f:
        f.write(_png_bytes(sheet))
    print(f"wrote {args.out}: {len(images)} images of {h}x{w}, sheet {sheet.shape[1]}x{sheet.shape[0]}")
    return EXIT_OK


def _cmd_validate(args: argparse.Namespace) -> int:
    from .errors import ConfigValidationError

    bad = 0
    for item in args.files:
        files = (
            [
                os.path.join(item, n)
                for n in ("config.json", "preprocessor_config.json")
                if os.path.exists(os.path.join(item, n))
            ]
            if os.path.isdir(item)
            else [item]
        )
        if not files:
            print(f"{item}: no config.json or preprocessor_config.json here")
            bad += 1
        for path in files:
            try:
                kind = _validate_file(path)
                print(f"{path}: OK ({kind})")
            except (ConfigValidationError, OSError, ValueError, TypeError) as err:
                bad += 1
                print(f"{path}: INVALID\n{_indent(str(err))}")
    return EXIT_PARTIAL if bad else EXIT_OK


def _indent(text: str) -> str:
    return "\n".join("  " + line for line in text.splitlines())


def _validate_file(path: str) -> str:
    from ._io import read_json_file
    from .configuration import ImageGPTConfig
    from .image_processing import ImageGPTImageProcessor

    data = read_json_file(path)
    if "clusters" in data or data.get("image_processor_type") or os.path.basename(path) == "preprocessor_config.json":
        from .errors import ConfigValidationError
        from .image_processing import processor_config_violations

        problems = processor_config_violations(data)
        if problems:
            raise ConfigValidationError.from_violations("ImageGPTImageProcessor", problems, source=path)
        processor = ImageGPTImageProcessor(**data)
        n = processor.quantizer.n_clusters
        return f"image processor, {n} clusters, size {processor.size}"
    config = ImageGPTConfig.from_json_file(path, strict=True)  # every rule, not only what transformers refuses
    return f"model config, vocab_size {config.vocab_size}, n_positions {config.n_positions}"


def _cmd_fit_palette(args: argparse.Namespace) -> int:
    from ._io import expand_inputs
    from .palette_fitting import fit_palette

    paths = expand_inputs(args.inputs)
    if not paths:
        print("imagegpt-rs fit-palette: error: no image files found", file=sys.stderr)
        return EXIT_ERROR
    progress = _Progress(not args.quiet)
    try:
        fit = fit_palette(
            paths,
            args.clusters,
            size=args.size,
            max_pixels=args.max_pixels,
            max_pixels_per_image=args.max_pixels_per_image,
            max_iter=args.max_iter,
            tol=args.tol,
            seed=args.seed,
            num_threads=args.workers,
            progress=progress.fit,
        )
    finally:
        progress.close()
    files = fit.save(args.out)
    print(
        f"fitted {fit.n_clusters} clusters on {fit.n_pixels:,} pixels ({fit.n_distinct_colors:,} distinct colors) "
        f"from {len(paths)} image(s): inertia {fit.inertia:.6g}, {fit.n_iter} iterations"
        f"{'' if fit.converged else ' (max-iter reached)'}"
    )
    for path in files:
        print(f"wrote {path}")
    return EXIT_OK


def _one_line(err: BaseException) -> str:
    """An exception's message on one line (multi-line messages, e.g. every problem of a config, joined)."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    text = ""
    for k, line in enumerate(lines):
        text += line if k == 0 else (" " if lines[k - 1].endswith(":") else "; ") + line
    text = text or type(err).__name__
    if isinstance(err, MemoryError):
        return f"out of memory{': ' + text if lines else ''} (try a smaller --size, --shard-size or --workers)"
    return text


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = _parser().parse_args(argv)
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    handlers = {
        "encode": _cmd_encode,
        "preview": _cmd_preview,
        "validate": _cmd_validate,
        "fit-palette": _cmd_fit_palette,
    }
    try:
        return handlers[args.command](args)
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (OSError, ValueError, TypeError, ImportError, MemoryError, OverflowError) as err:
        if os.environ.get(DEBUG_ENV):
            raise
        print(f"imagegpt-rs {args.command}: error: {_one_line(err)}", file=sys.stderr)
        return EXIT_ERROR
    except Exception as err:  # a bug: one line, and the traceback on demand
        if os.environ.get(DEBUG_ENV):
            raise
        print(
            f"imagegpt-rs {args.command}: internal error: {type(err).__name__}: {_one_line(err)} "
            f"(rerun with {DEBUG_ENV}=1 for the traceback)",
            file=sys.stderr,
        )
        return EXIT_ERROR


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

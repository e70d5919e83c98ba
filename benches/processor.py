"""Image processor throughput: 512 real-photo crops of 256x256 to 32x32 input_ids.

    python benches/processor.py [--json PATH] [--quick]

Compares transformers 4.57's slow ImageGPTImageProcessor (one image per call, and batched), its fast
processor when torch is installed, and ours on one thread and on all cores. Prints images/s and ratios.
"""

from __future__ import annotations

import argparse
import os

import numpy as np

from _common import Report, add_report_args, banner, best_time, crops, peak_rss_mib


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_report_args(ap)
    args = ap.parse_args()
    packages = ["imagegpt-rs", "transformers", "pillow", "torch"]
    banner(packages)
    rep = Report("processor", packages, args)
    from transformers import ImageGPTImageProcessor as Slow

    import imagegpt_rs

    rng = np.random.default_rng(0)
    clusters = rng.uniform(-1, 1, size=(512, 3))
    images = crops(64 if args.quick else 512, 256)
    n = len(images)
    ours = imagegpt_rs.ImageGPTImageProcessor(clusters, size=32)
    slow = Slow(clusters, size=32)
    a = ours(images, return_tensors="np").input_ids
    b = slow(images, return_tensors="np")["input_ids"]
    rep.note(
        f"{n} real-photo crops of 256x256 to 32x32 ids; identical input_ids with the slow processor: "
        f"{np.array_equal(a, b)}"
    )

    rows = []
    sample = images[: 16 if args.quick else 64]
    t = best_time(lambda: [slow(im) for im in sample], repeat=2)
    rows.append(("transformers slow, one image per call", len(sample) / t))
    t = best_time(lambda: slow(sample, return_tensors="np"), repeat=2)
    rows.append(("transformers slow, batched", len(sample) / t))
    try:
        import torch  # noqa: F401
        from transformers import ImageGPTImageProcessorFast as Fast

        # do_resize must be given: in transformers 4.57 the fast class leaves it unset (no resize) unless
        # a saved config (which has "do_resize": true) or the caller sets it.
        fast = Fast(clusters=clusters, size={"height": 32, "width": 32}, do_resize=True)
        t = best_time(lambda: fast(images, return_tensors="pt"), repeat=2)
        rows.append(("transformers fast (torch)", n / t))
    except ImportError:
        print("transformers fast processor: skipped (torch not installed)")
    single = imagegpt_rs.ImageGPTImageProcessor(clusters, size=32, num_threads=1)
    t = best_time(lambda: single(images, return_tensors="np"))
    rows.append(("imagegpt-rs, 1 thread", n / t))
    t = best_time(lambda: ours(images, return_tensors="np"))
    rows.append((f"imagegpt-rs, all cores ({os.cpu_count()})", n / t))
    base = rows[0][1]
    rep.table(
        "Image processor, images/s",
        ["method", "images/s", "vs transformers (one per call)"],
        [[name, f"{rate:,.0f}", f"{rate / base:,.1f}x"] for name, rate in rows],
    )
    rep.note(f"peak RSS of this process (transformers' batched distance matrices dominate): {peak_rss_mib():.0f} MiB")
    code = (  # noqa: UP031  (a %r keeps the path a valid Python literal)
        "import sys, numpy as np; sys.path.insert(0, %r); from _common import crops, peak_rss_mib; "
        "import imagegpt_rs; imgs = crops(512, 256); base = peak_rss_mib(); "
        "p = imagegpt_rs.ImageGPTImageProcessor(np.random.default_rng(0).uniform(-1, 1, (512, 3)), size=32); "
        "[p(imgs, return_tensors='np') for _ in range(10)]; print(base, peak_rss_mib())"
    ) % os.path.dirname(os.path.abspath(__file__))
    import subprocess
    import sys

    base, peak = map(
        float, subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    )
    rep.note(
        f"peak RSS of ours alone (child process): {peak:.0f} MiB, of which the 512 input crops and photos "
        f"{base:.0f} MiB"
    )
    rep.save()


if __name__ == "__main__":
    main()

"""Runs every benchmark once and regenerates the README's tables from their JSON results.

    python benches/run_all.py            # all benches (tens of minutes), then rewrite README.md
    python benches/run_all.py --quick    # a short smoke run of every bench (CI): results in a temporary
                                         # directory, the README rendered but not written
    python benches/run_all.py --render   # only rewrite README.md from benches/results/*.json
    python benches/run_all.py --only quantize,files

Each bench is run as ``python benches/NAME.py --json benches/results/NAME.json`` (its printed output
also goes to ``benches/results/NAME.txt``). The README holds one block per bench between
``<!-- bench:NAME -->`` and ``<!-- /bench:NAME -->``: its command, date, machine, versions, tables and
notes. ``<!-- bench:NAME:WORD -->`` blocks hold only that bench's tables whose title contains WORD
(case-insensitive). Everything between the markers is replaced, so every figure in those blocks is
one that a bench printed in the same run. A bench that fails stops the run (exit code 1) and the
README is left alone.

The benches import the ``imagegpt_rs`` Python finds: install the release wheel (``pip install .``) or
put a release build of the native module in ``python/imagegpt_rs`` and set ``PYTHONPATH=python``.
They need transformers 4.57, Pillow, scikit-image and scikit-learn; faiss-cpu and torch rows are
added when installed. A full run takes tens of minutes on 2 cores; run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
# Cheapest first, so a broken environment shows early.
BENCHES = ["decode", "resize", "quantize", "processor", "palette", "files"]
MARKER = re.compile(r"(<!-- bench:([a-z_]+)(?::([A-Za-z0-9_-]+))? -->\n)(.*?)(<!-- /bench:\2(?::\3)? -->)", re.S)


def run_bench(name: str, outdir: str, quick: bool) -> None:
    cmd = [sys.executable, os.path.join(HERE, f"{name}.py"), "--json", os.path.join(outdir, f"{name}.json")]
    if quick:
        cmd.append("--quick")
    print(f"== {' '.join(cmd[1:])}", flush=True)
    t = time.perf_counter()
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in [env.get("PYTHONPATH", ""), HERE] if p)
    with open(os.path.join(outdir, f"{name}.txt"), "w") as log:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=ROOT)
        assert proc.stdout is not None
        for line in proc.stdout:
            sys.stdout.write(line)
            log.write(line)
        if proc.wait() != 0:
            raise SystemExit(f"benches/{name}.py failed (exit code {proc.returncode}); the README is unchanged")
    print(f"== {name}: {time.perf_counter() - t:.0f} s\n", flush=True)


def md_table(table: dict[str, Any]) -> str:
    cols = table["columns"]
    out = [f"| {' | '.join(cols)} |", "| " + " | ".join(["---"] + ["---:"] * (len(cols) - 1)) + " |"]
    out += [f"| {' | '.join(str(c) for c in row)} |" for row in table["rows"]]
    return "\n".join(out)


def header(data: dict[str, Any]) -> str:
    m, v = data["machine"], data["versions"]
    vs = ", ".join(f"{k} {val}" for k, val in v.items() if val is not None)
    quick = " (quick smoke run, not representative)" if data.get("quick") else ""
    return f"`{data['command']}`, {data['date']}{quick}: {m['cpu']}, {m['cores']} cores, {m['os']}; {vs}."


def render_block(data: dict[str, Any], word: str | None) -> str:
    if word:
        tables = [t for t in data["tables"] if word.lower() in t["title"].lower()]
        if not tables:
            raise SystemExit(f"no table of benches/{data['bench']}.py has {word!r} in its title")
        parts = [f"**{t['title']}** ({header(data)})\n\n{md_table(t)}" for t in tables]
        return "\n\n".join(parts) + "\n"
    parts = [header(data)]
    parts += [f"**{t['title']}**\n\n{md_table(t)}" for t in data["tables"]]
    if data["notes"]:
        parts.append("\n".join(f"- {n}" for n in data["notes"]))
    return "\n\n".join(parts) + "\n"


def render(readme: str, results: dict[str, dict[str, Any]]) -> tuple[str, list[str]]:
    """The README with every block whose bench has results replaced; and the blocks' names."""
    done: list[str] = []

    def sub(m: re.Match[str]) -> str:
        name, word = m.group(2), m.group(3)
        if name not in results:
            return m.group(0)
        done.append(f"{name}:{word}" if word else name)
        return m.group(1) + render_block(results[name], word) + m.group(5)

    return MARKER.sub(sub, readme), done


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="short smoke run; the README is not written")
    ap.add_argument("--render", action="store_true", help="no runs: rewrite the README from benches/results")
    ap.add_argument(
        "--only",
        help="comma-separated benches to run (the README blocks of the others keep their results from benches/results)",
    )
    ap.add_argument("--readme", default=os.path.join(ROOT, "README.md"))
    args = ap.parse_args()
    names = args.only.split(",") if args.only else BENCHES
    unknown = set(names) - set(BENCHES)
    if unknown:
        ap.error(f"unknown benches: {', '.join(sorted(unknown))}")

    resdir = os.path.join(HERE, "results")
    tmp = None
    if args.quick:
        tmp = tempfile.TemporaryDirectory()
        outdir = tmp.name
    else:
        outdir = resdir
        os.makedirs(outdir, exist_ok=True)
    if not args.render:
        for name in names:
            run_bench(name, outdir, args.quick)

    results = {}
    for name in BENCHES:
        for d in [outdir] if args.quick else [resdir]:
            path = os.path.join(d, f"{name}.json")
            if os.path.exists(path):
                with open(path) as f:
                    results[name] = json.load(f)
    with open(args.readme) as f:
        readme = f.read()
    new, done = render(readme, results)
    if args.quick:
        print(f"quick run: all {len(names)} benches ran; {len(done)} README blocks rendered (README not written)")
        if tmp is not None:
            tmp.cleanup()
        return
    if new != readme:
        with open(args.readme, "w") as f:
            f.write(new)
    print(f"README blocks regenerated: {', '.join(done) or 'none'}")


if __name__ == "__main__":
    main()

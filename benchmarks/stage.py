#!/usr/bin/env python3
"""Staging a 20,000-file base ROM vs `cp -a` of the same tree, measured in the same run.

Prints the median of several runs for each, and the ratio (target: stage ≤ 0.1× cp -a).
Also prints what opening the base (plan reads its metadata) and materializing a real
hardlinked directory cost, so the stage figure is not read out of context.

    .venv/bin/python benchmarks/stage.py [--files 20000] [--runs 5]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from romforge.samplerom import generate
from romforge.tree import RomTree, materialize, stage

CACHE = Path(__file__).resolve().parent / "out"


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    CACHE.mkdir(exist_ok=True)
    base_path = CACHE / f"sample-rom-{args.files}"
    if not base_path.exists():
        print(f"generating a {args.files}-file sample ROM in {base_path} …", file=sys.stderr)
        generate(base_path, files=args.files, seed=1)
    size = sum(p.stat().st_size for p in base_path.rglob("*") if p.is_file() and not p.is_symlink())
    nfiles = sum(1 for p in base_path.rglob("*") if p.is_file() and not p.is_symlink())

    with tempfile.TemporaryDirectory(prefix="romforge-bench-", dir=CACHE) as tmp:
        work = Path(tmp)
        subprocess.run(["cp", "-a", str(base_path), str(work / "warm")], check=True)  # same cache state for all
        shutil.rmtree(work / "warm")
        cp, opened, staged, linked = [], [], [], []
        for run in range(args.runs):
            cp.append(timed(lambda: subprocess.run(["cp", "-a", str(base_path), str(work / f"cp{run}")], check=True)))
            shutil.rmtree(work / f"cp{run}")
            holder: dict = {}
            opened.append(timed(lambda: holder.setdefault("base", RomTree.open(base_path))))
            base = holder["base"]
            staged.append(timed(lambda: holder.setdefault("tree", stage(base, work / f"stage{run}"))))
            linked.append(timed(lambda: materialize(holder["tree"], work / f"real{run}")))
            shutil.rmtree(work / f"stage{run}")
            shutil.rmtree(work / f"real{run}")

    med = statistics.median
    print(f"base ROM: {nfiles} files, {size / 2**20:.0f} MiB, median of {args.runs} runs")
    print(f"{'step':<44}{'seconds':>10}{'× cp -a':>10}")
    rows = [
        ("cp -a (baseline)", med(cp)),
        ("stage (copy-on-write work tree)", med(staged)),
        ("open base + read fs_config/labels (plan)", med(opened)),
        ("open + stage", med(opened) + med(staged)),
        ("materialize as hardlinked directory", med(linked)),
    ]
    for name, seconds in rows:
        print(f"{name:<44}{seconds:>10.4f}{seconds / med(cp):>10.3f}")
    ratio = med(staged) / med(cp)
    print(f"stage / cp -a = {ratio:.4f} (target ≤ 0.1): {'OK' if ratio <= 0.1 else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Incremental OTA size and generation time vs whole-image deltas, measured in the same run.

A sample ROM of at least 256 MiB (about 22,000 files plus a ~40 MB prebuilt app) is changed
the way a week changes it (`samplerom.mutate_week`: a few hundred files edited slightly,
some added, removed and moved, the large app rebuilt). Both versions become erofs images;
then for every partition:

    romforge      plan_delta + payload.bin + signed OTA zip (file-aware, both cores); the size
                  compared is payload.bin (manifest and signatures included), the time covers
                  the whole signed zip
    zstd          zstd --patch-from=OLD -19 --long=N NEW        (whole image)
    xdelta3       xdelta3 -9 -e -s OLD NEW                      (whole image)
    bsdiff4       bsdiff4.diff(OLD, NEW)                        (whole image, BSDIFF40)

Targets: romforge size <= 0.9x the best baseline, romforge time <= 0.5x whole-image bsdiff.

    .venv/bin/python benchmarks/ota.py [--files 22000] [--app-mb 48] [--skip-bsdiff]
"""

from __future__ import annotations

import argparse
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import bsdiff4

from romforge.ota.generate import build_state, dynamic_groups, ota_partitions, target_images, write_ota
from romforge.ota.keys import generate_test_key, load_signing_key
from romforge.samplerom import generate, mutate_week
from romforge.tree import RomTree

CACHE = Path(__file__).resolve().parent / "out"


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def tree_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file() and not p.is_symlink())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=23_000)
    parser.add_argument("--app-mb", type=int, default=48)
    parser.add_argument("--skip-bsdiff", action="store_true", help="skip the slow whole-image bsdiff4 baseline")
    args = parser.parse_args()

    CACHE.mkdir(exist_ok=True)
    old_rom = CACHE / f"ota-week1-{args.files}-{args.app_mb}"
    new_rom = CACHE / f"ota-week2-{args.files}-{args.app_mb}"
    if not old_rom.exists():
        print(f"generating the week-1 sample ROM ({args.files} files) in {old_rom} …", file=sys.stderr)
        generate(old_rom, files=args.files, seed=1, large_apk_mb=args.app_mb)
    if not new_rom.exists():
        print(f"making week 2 in {new_rom} …", file=sys.stderr)
        mutate_week(old_rom, new_rom, week=2, seed=1, edits=300, adds=40, removes=20, moves=20)
    size = tree_bytes(old_rom)
    print(f"sample ROM: {size / 2**20:.0f} MiB in {sum(1 for _ in old_rom.rglob('*'))} paths; week 2 edits 300 "
          f"files, adds 40, removes 20, moves 20, rebuilds the {args.app_mb} MB-class app")
    if size < 256 * 2**20:
        print("warning: the sample ROM is under 256 MiB; raise --files", file=sys.stderr)

    with tempfile.TemporaryDirectory(prefix="romforge-ota-bench-", dir=CACHE) as tmp:
        work = Path(tmp)
        trees = {"old": RomTree.open(old_rom), "new": RomTree.open(new_rom)}
        partitions = ota_partitions(trees["new"])
        images = {}
        for name, tree in trees.items():
            (work / name).mkdir()
            images[name], seconds = timed(lambda: target_images(tree, partitions, work / name))
            total = sum(p.stat().st_size for p in images[name].values())
            print(f"{name} images: {total / 2**20:.0f} MiB (mkfs.erofs, {seconds:.1f}s)", file=sys.stderr)

        generate_test_key(work / "benchkey")
        key = load_signing_key(work / "benchkey")
        groups, snapshot = dynamic_groups(trees["new"], partitions)
        (work / "ours").mkdir()
        ours, our_time = timed(lambda: write_ota(
            work / "ours" / "ota.zip", key, images["new"], build_state(trees["new"], partitions),
            old_images=images["old"], old_state=build_state(trees["old"], partitions), groups=groups,
            snapshot=snapshot, workdir=work / "ours"))
        results = {"romforge payload.bin": (ours.payload.size, our_time),
                   "romforge signed OTA zip": (ours.size, our_time)}

        def whole_image(label: str, run) -> None:
            total_size = 0
            total_time = 0.0
            for name in partitions:
                out = work / f"{label}-{name}"
                _, seconds = timed(lambda: run(images["old"][name], images["new"][name], out))
                total_size += out.stat().st_size
                total_time += seconds
            results[label] = (total_size, total_time)

        def zstd(old: Path, new: Path, out: Path) -> None:
            window = max(27, math.ceil(math.log2(max(old.stat().st_size, new.stat().st_size, 2))))
            subprocess.run(["zstd", "-q", "-f", f"--patch-from={old}", "-19", f"--long={window}", str(new),
                            "-o", str(out)], check=True)

        def xdelta(old: Path, new: Path, out: Path) -> None:
            subprocess.run(["xdelta3", "-f", "-9", "-e", "-s", str(old), str(new), str(out)], check=True)

        def bsdiff_whole(old: Path, new: Path, out: Path) -> None:
            out.write_bytes(bsdiff4.diff(old.read_bytes(), new.read_bytes()))

        print("baselines: zstd …", file=sys.stderr)
        whole_image("zstd --patch-from -19 --long", zstd)
        print("baselines: xdelta3 …", file=sys.stderr)
        whole_image("xdelta3 -9 -s", xdelta)
        if not args.skip_bsdiff:
            print("baselines: bsdiff4 on whole images (slow) …", file=sys.stderr)
            whole_image("bsdiff4 (whole image)", bsdiff_whole)

    baselines = {k: v for k, v in results.items() if not k.startswith("romforge")}
    best_label, (best_size, _) = min(baselines.items(), key=lambda kv: kv[1][0])
    print()
    print(f"{'method':<32} {'size':>12} {'time':>9} {'size vs payload.bin':>20}")
    for label, (size_bytes, seconds) in results.items():
        ratio = size_bytes / ours.payload.size
        print(f"{label:<32} {size_bytes / 1e6:>10.3f} MB {seconds:>8.1f}s {ratio:>19.2f}x")
    print()
    size_ratio = ours.payload.size / best_size
    print(f"size: romforge payload.bin / best baseline ({best_label}) = {size_ratio:.3f}  (target <= 0.90)"
          f"  {'OK' if size_ratio <= 0.9 else 'MISSED'}")
    print(f"      (the whole signed OTA zip, with metadata and signatures: {ours.size / best_size:.3f})")
    if "bsdiff4 (whole image)" in results:
        time_ratio = our_time / results["bsdiff4 (whole image)"][1]
        print(f"time: romforge / whole-image bsdiff4 = {time_ratio:.2f}  (target <= 0.50)"
              f"  {'OK' if time_ratio <= 0.5 else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

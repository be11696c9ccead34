#!/usr/bin/env python3
"""AVB hash-tree throughput and the image step with AVB against without, measured in the same run.

1. Hash tree. The image is the erofs image of a sample ROM's product partition (a prebuilt
   app of --app-mb MiB keeps it large), built once and read from the page cache by everything:

       baseline   hashlib.sha256 over the whole image once, 1 MiB reads, one thread
       romforge   romforge.avb.hashtree.write_hash_tree, 1 process and --jobs processes
       reference  veritysetup format (cryptsetup, C), same tree, printed for scale only

   Target: romforge >= 0.5x the baseline's throughput.

2. The image step of `romforge build`: romforge.ota.release.release_images for every partition
   the alioth profile builds (staging under fakeroot + mkfs.erofs), without AVB and with it
   (hashtree footers on every image, vbmeta_system.img and vbmeta.img signed with the bundled
   TEST key, from misc_info.txt avb_* keys as AOSP writes them), each with the same core budget.
   Target: with AVB <= 1.3x without.

Every figure is the best of --runs, the runs of the things compared interleaved, so a busy
machine slows them alike.

    .venv/bin/python benchmarks/avb.py [--files 3000] [--app-mb 160] [--jobs 2] [--runs 3]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from romforge.avb import bundled_test_key
from romforge.avb.build import AvbPlan, TEST_KEY_LABEL
from romforge.avb.hashtree import tree_layout, write_hash_tree
from romforge.avb.miscinfo import read_avb_settings
from romforge.ota.images import build_image
from romforge.ota.release import release_images
from romforge.profile import DEFAULT_PROFILE_DIR, load_profile
from romforge.run.cores import Cores
from romforge.run.progress import NullProgress
from romforge.samplerom import generate
from romforge.tree import RomTree

CACHE = Path(__file__).resolve().parent / "out"
SALT = hashlib.sha256(b"romforge benchmark salt").digest()
PARTITION = "product"
MISC_INFO = b"""avb_enable=true
avb_vbmeta_algorithm=SHA256_RSA4096
avb_vbmeta_args=--padding_size 4096 --rollback_index 0
avb_system_hashtree_enable=true
avb_system_add_hashtree_footer_args=--prop com.android.build.system.os_version:14
avb_system_ext_hashtree_enable=true
avb_product_hashtree_enable=true
avb_vendor_hashtree_enable=true
avb_odm_hashtree_enable=true
avb_vbmeta_system=system system_ext product
avb_vbmeta_system_algorithm=SHA256_RSA4096
avb_vbmeta_system_args=--padding_size 4096 --rollback_index 0
avb_vbmeta_system_rollback_index_location=1
"""


def avb_plan() -> AvbPlan:
    settings = read_avb_settings(MISC_INFO, source="benchmark misc_info.txt")
    assert settings is not None
    return AvbPlan(settings, bundled_test_key(), TEST_KEY_LABEL, {"vbmeta": 0, "vbmeta_system": 0})


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def hashlib_once(image: Path) -> None:
    hasher = hashlib.sha256()
    with open(image, "rb") as f:
        while chunk := f.read(1 << 20):
            hasher.update(chunk)


def hash_tree(image: Path, jobs: int) -> None:
    layout = tree_layout(image.stat().st_size)
    with tempfile.TemporaryFile(dir=image.parent) as scratch:
        write_hash_tree(image, layout, SALT, scratch.fileno(), 0, jobs=jobs)


def veritysetup(image: Path) -> None:
    with tempfile.NamedTemporaryFile(dir=image.parent) as hashes:
        subprocess.run(["veritysetup", "format", "--no-superblock", "--format=1", "--hash=sha256",
                        f"--salt={SALT.hex()}", str(image), hashes.name], check=True, capture_output=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=3000)
    parser.add_argument("--app-mb", type=int, default=160, help="size class of the prebuilt app in product")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="cores given to the hash tree")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    CACHE.mkdir(exist_ok=True)
    rom = CACHE / f"avb-rom-{args.files}-{args.app_mb}"
    if not rom.exists():
        print(f"generating the sample ROM in {rom} …", file=sys.stderr)
        generate(rom, files=args.files, seed=3, large_apk_mb=args.app_mb)
    tree = RomTree.open(rom)
    with tempfile.TemporaryDirectory(prefix="romforge-avb-bench-", dir=CACHE) as tmp:
        work = Path(tmp)
        image = work / f"{PARTITION}.img"
        build_image(tree, PARTITION, "erofs", image, workdir=work)
        size = image.stat().st_size
        mib = size / 2**20
        print(f"image: erofs {PARTITION}.img of the sample ROM, {mib:.0f} MiB; {args.jobs} core(s) given to the "
              f"hash tree; {os.cpu_count()} on the machine; best of {args.runs} runs")

        # -- 1: hash-tree throughput vs hashing the image once --------------------------------------
        hashlib_once(image)  # into the page cache
        cases = {"hashlib sha256, whole image once": lambda: hashlib_once(image),
                 "romforge hash tree, 1 process": lambda: hash_tree(image, 1),
                 f"romforge hash tree, {args.jobs} processes": lambda: hash_tree(image, args.jobs),
                 "veritysetup format (C, reference)": lambda: veritysetup(image)}
        if args.jobs <= 1:
            del cases[f"romforge hash tree, {args.jobs} processes"]
        if shutil.which("veritysetup", path=f"{os.environ.get('PATH', '')}:/usr/sbin:/sbin") is None:
            del cases["veritysetup format (C, reference)"]
        best = {name: float("inf") for name in cases}
        for _ in range(args.runs):
            for name, fn in cases.items():
                best[name] = min(best[name], timed(fn))
        baseline = best["hashlib sha256, whole image once"]
        print()
        print(f"{'hash tree':<40} {'MiB/s':>8} {'x hashlib':>10}")
        for name, seconds in best.items():
            print(f"{name:<40} {mib / seconds:>8.0f} {baseline / seconds:>10.2f}")
        ours = min(best["romforge hash tree, 1 process"], best.get(f"romforge hash tree, {args.jobs} processes",
                                                                   float("inf")))
        ratio = baseline / ours
        print(f"throughput: romforge (best setting) / hashlib once = {ratio:.2f}  (target >= 0.50)  "
              f"{'OK' if ratio >= 0.5 else 'MISSED'}")

        # -- 2: the build's image step with and without AVB -------------------------------------------
        profile = load_profile("alioth", [DEFAULT_PROFILE_DIR])
        plan = avb_plan()
        counter = iter(range(1 << 30))

        def step_of(avb: AvbPlan | None, cores: int) -> None:
            out = work / f"release-{next(counter)}"
            release_images(profile, tree, out / "images", out / "image-work", NullProgress(), cores=Cores(cores),
                           avb=avb, salt_seed=b"benchmark")
            shutil.rmtree(out)

        budgets = sorted({1, args.jobs})
        variants = {}
        for cores in budgets:
            variants[f"without AVB, {cores} core(s)"] = (lambda c=cores: step_of(None, c))
            variants[f"with AVB, {cores} core(s)"] = (lambda c=cores: step_of(plan, c))
        step = {name: float("inf") for name in variants}
        for _ in range(args.runs):
            for name, fn in variants.items():
                step[name] = min(step[name], timed(fn))
        total = sum(p.stat().st_size for p in (rom / "SYSTEM").rglob("*") if p.is_file()) / 2**20
        print()
        print(f"image step (release_images of the {len(profile.partitions)} partitions alioth builds; "
              f"SYSTEM/ alone holds {total:.0f} MiB):")
        for cores in budgets:
            plain = step[f"without AVB, {cores} core(s)"]
            signed = step[f"with AVB, {cores} core(s)"]
            ratio = signed / plain
            print(f"  {cores} core(s): without AVB {plain:6.2f}s   with AVB {signed:6.2f}s   {ratio:5.2f}x  "
                  f"(target <= 1.30)  {'OK' if ratio <= 1.3 else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

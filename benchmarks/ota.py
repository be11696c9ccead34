#!/usr/bin/env python3
"""Incremental OTA size, generation time and peak memory vs whole-image differs, in one run.

Two weeks (benchmarks/ota_week.py builds them; Debian packages are downloaded with
`apt-get download` on the first run and cached in benchmarks/out/):

    realistic   the sample ROM plus real ELF binaries and jars of Debian packages in two versions
    moved       week 1 with content under new paths (a renamed, rebuilt app; a moved library and jar)

Every method reads the same image pairs and runs in a fresh process; peak RSS is the largest
sum of the resident sets of the process and all its children, sampled every 50 ms:

    romforge      `romforge ota diff OLD NEW -o OTA` (the signed OTA zip; the size compared is its
                  payload.bin, manifest and signatures included)
    zstd          zstd -19 --long=N --patch-from=OLD NEW, N = max(27, log2 of the image size)
    xdelta3       xdelta3 -9 -e -s OLD NEW
    bsdiff        Debian's bsdiff OLD NEW PATCH on whole images, where it finishes (images up to
                  --bsdiff-max-mb: it needs about 17 bytes of memory per image byte)
    AOSP-style    an estimate on the same files (not a payload): per-file BSDIFF40 between the old
                  and new version of each changed file (paired by path, else by name with digits
                  stripped), where both are zips with the changed entries' deflate streams
                  inflated first; new files xz -6; unchanged files and filesystem metadata 0.
                  Printed twice: with the zips' changed streams inflated (the issue's wording),
                  and puffed as puffin's puffdiff does (literals and the LZ77 parse: what
                  update_engine's PUFFDIFF, the only deflate-aware operation it has, can carry)

Targets (realistic week): payload <= 0.3x the best general-purpose differ and <= the AOSP-style
estimate; generation <= 2x xdelta3's time; peak RSS <= 1.5 GiB. Moved week: payload <= 1x zstd.

    .venv/bin/python benchmarks/ota.py [--files 23000] [--app-mb 48] [--weeks realistic,moved]
        [--methods romforge,zstd,xdelta3,bsdiff,estimate] [--romforge-from CHECKOUT] [--bsdiff-max-mb 160]

--romforge-from runs another checkout's romforge on the same images too (the "before" row).
Each result is printed to stderr as soon as it is measured; the tables come at the end.
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

from ota_week import PACKAGES, Week, moved_week, realistic_week
from ota_estimate import aosp_estimate
from romforge.ota.keys import generate_test_key
from romforge.tree import RomTree, image_name

CACHE = Path(__file__).resolve().parent / "out"
ROMFORGE = Path(sys.executable).parent / "romforge"


@dataclass
class Measured:
    size: int | None
    seconds: float
    peak_rss: int  # bytes
    note: str = ""


def _tree_rss(root: int) -> int:
    """Resident bytes of `root` and every process below it."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            pid = int(entry.name)
            children.setdefault(int(fields[1]), []).append(pid)
            rss[pid] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, IndexError, ValueError):
            continue
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        todo.extend(children.get(pid, ()))
    return total


def run_measured(cmd: list[str], *, timeout: float | None = None, **kwargs) -> tuple[float, int, bool]:
    """(seconds, peak tree RSS, finished) of a command run in a fresh process."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, **kwargs)
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _tree_rss(proc.pid))
            done.wait(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        _, err = proc.communicate(timeout=timeout)
        finished = True
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        finished, err = False, b""
    done.set()
    sampler.join()
    seconds = time.perf_counter() - start
    if finished and proc.returncode != 0:
        raise SystemExit(f"{cmd[0]} failed ({proc.returncode}): {err.decode(errors='replace')[-2000:]}")
    return seconds, peak, finished


def partitions_of(week: Week) -> list[str]:
    tree = RomTree.open(week.new)
    return [p for p in tree.partitions() if (week.new / image_name(p)).is_file()]


def whole_image(week: Week, work: Path, label: str, command, *, max_mb: int | None = None,
                timeout: float | None = None) -> Measured:
    """One whole-image differ over every partition, summed; peak RSS is the largest of the runs."""
    size = 0
    seconds = 0.0
    peak = 0
    skipped = []
    for name in partitions_of(week):
        old, new = week.old / image_name(name), week.new / image_name(name)
        if max_mb is not None and max(old.stat().st_size, new.stat().st_size) > max_mb << 20:
            skipped.append(name)
            continue
        out = work / f"{label}-{name}.patch"
        s, rss, finished = run_measured(command(old, new, out), timeout=timeout)
        if not finished:
            skipped.append(name)
            continue
        size += out.stat().st_size
        seconds += s
        peak = max(peak, rss)
        out.unlink()
    note = f"not run on {', '.join(skipped)}" if skipped else ""
    return Measured(None if skipped else size, seconds, peak, note)


def zstd_command(old: Path, new: Path, out: Path) -> list[str]:
    window = max(27, math.ceil(math.log2(max(old.stat().st_size, new.stat().st_size, 2))))
    return ["zstd", "-q", "-f", "-T1", f"--patch-from={old}", "-19", f"--long={window}", str(new), "-o", str(out)]


def xdelta_command(old: Path, new: Path, out: Path) -> list[str]:
    return ["xdelta3", "-f", "-9", "-e", "-s", str(old), str(new), str(out)]


def bsdiff_command(old: Path, new: Path, out: Path) -> list[str]:
    return ["bsdiff", str(old), str(new), str(out)]


def romforge_diff(week: Week, work: Path, key: Path, code: Path | None = None) -> Measured:
    """`romforge ota diff` in a fresh process; `code`: another checkout's romforge/ to run instead."""
    out = work / f"romforge-{week.name}.zip"
    env = dict(os.environ, PYTHONPATH=str(code)) if code is not None else None
    seconds, peak, _ = run_measured([str(ROMFORGE), "ota", "diff", str(week.old), str(week.new), "-o", str(out),
                                     "--key", str(key)], env=env)
    with zipfile.ZipFile(out) as zf:
        payload = zf.getinfo("payload.bin").file_size
    zip_size = out.stat().st_size
    out.unlink()
    return Measured(payload, seconds, peak, f"signed OTA zip {zip_size / 1e6:.3f} MB")


def image_bytes(week: Week, which: str) -> int:
    root = week.old if which == "old" else week.new
    return sum((root / image_name(p)).stat().st_size for p in partitions_of(week))


def report(week: Week, results: dict[str, Measured]) -> list[str]:
    lines = [f"== {week.summary}",
             f"   images: {image_bytes(week, 'old') / 2**20:.0f} MiB old, {image_bytes(week, 'new') / 2**20:.0f} MiB new",
             "| method | bytes | time | peak RSS | |", "| --- | ---: | ---: | ---: | --- |"]
    for label, m in results.items():
        size = f"{m.size / 1e6:.3f} MB" if m.size is not None else "did not finish"
        lines.append(f"| {label} | {size} | {m.seconds:.1f} s | {m.peak_rss / 2**20:.0f} MiB | {m.note} |")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=23_000)
    parser.add_argument("--app-mb", type=int, default=48)
    parser.add_argument("--weeks", default="realistic,moved")
    parser.add_argument("--packages", default=",".join(PACKAGES), help="Debian packages of the realistic week")
    parser.add_argument("--bsdiff-max-mb", type=int, default=160, help="largest image whole-image bsdiff is run on")
    parser.add_argument("--methods", default="romforge,zstd,xdelta3,bsdiff,estimate",
                        help="which of romforge,zstd,xdelta3,bsdiff,estimate to run")
    parser.add_argument("--romforge-from", type=Path, action="append", default=[],
                        help="also run the romforge of another checkout (its top directory), e.g. main's")
    parser.add_argument("--cache", type=Path, default=CACHE, help="where downloads, ROMs and images are kept")
    args = parser.parse_args()

    cache = args.cache
    cache.mkdir(exist_ok=True)
    packages = {p: PACKAGES[p] for p in args.packages.split(",") if p}
    weeks = args.weeks.split(",")
    real = realistic_week(cache, files=args.files, app_mb=args.app_mb, packages=packages)
    chosen = [real] if "realistic" in weeks else []
    if "moved" in weeks:
        chosen.append(moved_week(cache, real, app_mb=args.app_mb))
    lines: list[str] = []
    verdicts: list[str] = []
    with tempfile.TemporaryDirectory(prefix="romforge-ota-bench-", dir=cache) as tmp:
        work = Path(tmp)
        key = work / "benchkey"
        generate_test_key(key)
        methods = set(args.methods.split(","))
        for week in chosen:
            results: dict[str, Measured] = {}

            def measure(label: str, run) -> None:
                print(f"{week.name}: {label} …", file=sys.stderr)
                results[label] = m = run()
                print(f"  {label}: {m.size} bytes, {m.seconds:.1f} s, {m.peak_rss >> 20} MiB {m.note}", file=sys.stderr)

            if "romforge" in methods:
                measure("romforge payload.bin", lambda: romforge_diff(week, work, key))
            for code in args.romforge_from:
                measure(f"romforge payload.bin ({code.name})", lambda: romforge_diff(week, work, key, code))
            if "xdelta3" in methods:
                measure("xdelta3 -9", lambda: whole_image(week, work, "xdelta3", xdelta_command))
            if "zstd" in methods:
                measure("zstd -19 --long --patch-from", lambda: whole_image(week, work, "zstd", zstd_command))
            if "bsdiff" in methods:
                measure("bsdiff (whole image)", lambda: whole_image(week, work, "bsdiff", bsdiff_command,
                                                                   max_mb=args.bsdiff_max_mb, timeout=1800))
            if "estimate" in methods and week.name == "realistic":
                def estimate() -> Measured:
                    start = time.perf_counter()
                    size = aosp_estimate(week.old, week.new)
                    return Measured(size, time.perf_counter() - start, 0, "computed in the benchmark process")

                def estimate_puffed() -> Measured:
                    start = time.perf_counter()
                    size = aosp_estimate(week.old, week.new, puffed=True)
                    return Measured(size, time.perf_counter() - start, 0, "computed in the benchmark process")

                measure("AOSP-style estimate (per-file bsdiff, zips inflated)", estimate)
                measure("AOSP-style estimate (per-file bsdiff, zips puffed as puffin does)", estimate_puffed)
            lines += report(week, results)
            verdicts += _verdicts(week, results)
    print()
    print("\n".join(lines))
    print()
    print("\n".join(verdicts))
    return 0


def _verdicts(week: Week, results: dict[str, Measured]) -> list[str]:
    ours = results.get("romforge payload.bin")
    if ours is None:
        return []
    out = [f"{week.name}: peak RSS {ours.peak_rss / 2**30:.2f} GiB (target <= 1.5)  "
           f"{'OK' if ours.peak_rss <= 1.5 * 2**30 else 'MISSED'}"]
    general = {k: v for k, v in results.items() if k.split()[0] in ("zstd", "xdelta3", "bsdiff") and v.size}
    if not general:
        return out
    best_label, best = min(general.items(), key=lambda kv: kv[1].size)
    ratio = ours.size / best.size
    if week.name == "realistic":
        out.append(f"realistic: payload / best general-purpose differ ({best_label}) = {ratio:.3f}  (target <= 0.30)"
                   f"  {'OK' if ratio <= 0.3 else 'MISSED'}")
        for label, aosp in results.items():
            if label.startswith("AOSP"):
                kind = label[label.index(", zips") + 2:-1]
                out.append(f"realistic: payload / AOSP-style estimate ({kind}) = {ours.size / aosp.size:.3f}"
                           f"  (target <= 1.00)  {'OK' if ours.size <= aosp.size else 'MISSED'}")
        xdelta = results.get("xdelta3 -9")
        if xdelta is not None:
            t = ours.seconds / xdelta.seconds
            out.append(f"realistic: time / xdelta3's = {t:.2f}  (target <= 2.00)  {'OK' if t <= 2 else 'MISSED'}"
                       f"; peak RSS / xdelta3's = {ours.peak_rss / max(1, xdelta.peak_rss):.1f} (target <= 3)")
    else:
        zstd = results.get("zstd -19 --long --patch-from")
        if zstd is not None and zstd.size:
            r = ours.size / zstd.size
            out.append(f"moved: payload / zstd = {r:.3f}  (target <= 1.00)  {'OK' if r <= 1 else 'MISSED'}")
    return out


if __name__ == "__main__":
    sys.exit(main())

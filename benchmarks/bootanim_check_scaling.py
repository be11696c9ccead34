#!/usr/bin/env python3
"""`bootanim check` work grows with the archive, not with parts × entries (issue #15).

Builds archives with P part lines, each its own folder of frames, at growing sizes up to
the limits (1,000 parts, 20,000 entries), times `read_bootanimation` on each, and prints
the time per entry against the smallest archive measured in the same run: a linear reader
keeps the ratio near 1 while the data grows 10x; one that compares every part with every
entry would grow it about 10x.

    .venv/bin/python benchmarks/bootanim_check_scaling.py [--runs 3]
"""

from __future__ import annotations

import argparse
import io
import statistics
import time
import zipfile

from PIL import Image

from romforge.bootscreen.archive import read_bootanimation


def _png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (16, 16), (200, 40, 40)).save(buf, "PNG")
    return buf.getvalue()


def archive(parts: int, frames_per_part: int) -> bytes:
    png = _png()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr("desc.txt", "16 16 30\n" + "".join(f"c 1 0 part{p}\n" for p in range(parts)))
        for p in range(parts):
            for f in range(frames_per_part):
                zf.writestr(f"part{p}/{f:05d}.png", png)
    return buf.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    rows = []
    for parts in (100, 316, 1000):
        data = archive(parts, 19)
        times = []
        for _ in range(args.runs):
            start = time.perf_counter()
            inspection = read_bootanimation(data, source="anim.zip")
            times.append(time.perf_counter() - start)
            assert not inspection.errors, inspection.errors[:3]
        entries = parts * 19 + 1
        rows.append((parts, entries, statistics.median(times)))
    base = rows[0][2] / rows[0][1]
    print(f"{'parts':>6} {'entries':>8} {'check s':>8} {'us/entry':>9} {'vs smallest':>12}")
    for parts, entries, seconds in rows:
        per = seconds / entries
        print(f"{parts:>6} {entries:>8} {seconds:>8.2f} {per * 1e6:>9.1f} {per / base:>11.2f}x")


if __name__ == "__main__":
    main()

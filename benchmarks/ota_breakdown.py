#!/usr/bin/env python3
"""Where an incremental payload's bytes go: per partition and per file kind, next to the
AOSP-style estimate of the same files (benchmarks/ota_estimate.py's per-file cost).

    .venv/bin/python benchmarks/ota_breakdown.py OLD_TARGET_FILES NEW_TARGET_FILES [--top 15]

Each partition's image pair (IMAGES/<name>.img) is planned with romforge's delta planner (no payload
written); every operation's data is shared out over the new files its blocks hold, in
proportion to blocks (blocks no file holds count as metadata). File kinds: zip (jar, apk,
any PK file), elf, other. The top files by romforge bytes are listed with their estimate, so
the biggest losses against AOSP's way show first.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter, defaultdict
from pathlib import Path

from ota_estimate import _pair_cost, changed_files, puffed_pair_cost
from romforge.ota.delta import plan_delta
from romforge.ota.images import file_map
from romforge.ota.payload import OP_NAMES
from romforge.tree import RomTree, image_name


def _kind(head: bytes) -> str:
    return "zip" if head[:4] == b"PK\x03\x04" else "elf" if head[:4] == b"\x7fELF" else "other"


def _estimates(old_tree: RomTree, new_tree: RomTree, partition: str) -> tuple[dict[str, int], dict[str, int]]:
    """(new file path → the AOSP-style estimate's bytes for it, changed and new files only;
    changed zip → the same estimate with the puffed streams diffed instead of the inflated ones)."""
    estimate, puffed = {}, {}
    for path, old, new in changed_files(old_tree, new_tree, partition):
        estimate[path] = _pair_cost((old, new))
        cost = puffed_pair_cost((old, new))
        if cost is not None:
            puffed[path] = cost
    return estimate, puffed


def _tree_path(tree: RomTree, partition: str, path: str) -> str | None:
    """The tree's path of an image path (a system-as-root system.img holds SYSTEM/ under system/)."""
    if tree.get(partition, path) is not None:
        return path
    if partition == "system" and path.startswith("system/") and tree.get(partition, path[7:]) is not None:
        return path[7:]
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old", type=Path)
    parser.add_argument("new", type=Path)
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--partitions", default="", help="comma-separated (default: every one with an image)")
    args = parser.parse_args()
    old_tree, new_tree = RomTree.open(args.old), RomTree.open(args.new)
    names = [p for p in (args.partitions.split(",") if args.partitions else new_tree.partitions())
             if (args.new / image_name(p)).is_file()]
    total_ours = total_est = total_puffed = 0
    for name in names:
        old_img, new_img = args.old / image_name(name), args.new / image_name(name)
        files = file_map(new_img)
        owner = {b: path for path, ext in files.items() for s, n in ext for b in range(s, s + n)}
        ops = plan_delta(old_img, new_img, minor_version=8, jobs=2)
        by_type: Counter[str] = Counter()
        per_file: Counter[str] = Counter()
        paths = {path: _tree_path(new_tree, name, path) or "(metadata)" for path in files}
        for op in ops:
            size = len(op.data)
            by_type[OP_NAMES[op.type]] += size
            blocks = [b for s, n in op.dst for b in range(s, s + n)]
            for b in blocks:
                per_file[paths.get(owner.get(b, ""), "(metadata)")] += size / len(blocks)
        estimate, puffed = _estimates(old_tree, new_tree, name)
        heads = {p: new_tree.read(name, p)[:4] for p in set(per_file) | set(estimate) if p != "(metadata)"}
        kinds: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
        for path, size in per_file.items():
            kinds["metadata" if path == "(metadata)" else _kind(heads[path])][0] += size
        for path, size in estimate.items():
            kinds[_kind(heads[path])][1] += size
            kinds[_kind(heads[path])][2] += puffed.get(path, size)
        total_puffed += sum(k[2] for k in kinds.values())
        ours, est = sum(per_file.values()), sum(estimate.values())
        total_ours += ours
        total_est += est
        print(f"== {name}: romforge {ours / 1e6:.3f} MB, estimate {est / 1e6:.3f} MB, "
              f"{len(ops)} operations; by type: " + ", ".join(f"{t} {v / 1e6:.3f}" for t, v in by_type.most_common()))
        for kind, (a, b, c) in sorted(kinds.items()):
            print(f"   {kind:9} romforge {a / 1e6:8.3f} MB   estimate {b / 1e6:8.3f} MB   "
                  f"(zips puffed, not inflated: {c / 1e6:8.3f} MB)")
        for path, size in per_file.most_common(args.top):
            print(f"   {size / 1e3:10.1f} kB  (estimate {estimate.get(path, 0) / 1e3:10.1f} kB"
                  + (f", puffed {puffed[path] / 1e3:10.1f} kB" if path in puffed else "") + f")  {path}")
        sys.stdout.flush()
    print(f"== all: romforge {total_ours / 1e6:.3f} MB of operation data, estimate {total_est / 1e6:.3f} MB "
          f"(with zips' puffed streams diffed as puffin does: {total_puffed / 1e6:.3f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

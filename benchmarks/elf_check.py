"""ELF check over a whole ROM tree vs. the shell way (readelf per file), measured in one run.

Usage: .venv/bin/python benchmarks/elf_check.py [FILES]   (default 4000 files in the sample ROM)
Prints seconds for each and the ratio; both look at the same ELF files.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

from romforge.elf import check_elf_tree, is_elf
from romforge.samplerom import generate
from romforge.tree import RomTree


def main() -> None:
    files = int(sys.argv[1]) if len(sys.argv) > 1 else 4000
    with tempfile.TemporaryDirectory(prefix="romforge-bench-elf-") as tmp:
        rom = generate(Path(tmp) / "rom", files=files, seed=11)
        tree = RomTree.open(rom)
        elves = []
        for entry in tree.iter_entries(kind="file"):
            path = rom / entry.tf_path
            with open(path, "rb") as f:
                if is_elf(f.read(4)):
                    elves.append(path)
        start = time.perf_counter()
        findings = check_elf_tree(tree, ("arm64-v8a", "armeabi-v7a", "armeabi"), 4096)
        ours = time.perf_counter() - start
        start = time.perf_counter()
        for path in elves:  # baseline: what a shell script would run to get the same facts
            subprocess.run(["readelf", "-W", "-h", "-l", "-d", str(path)], capture_output=True, check=True)
        baseline = time.perf_counter() - start
    print(f"ELF files: {len(elves)} in a {files}-file ROM; findings: {len(findings)}")
    print(f"romforge check_elf_tree (machine, class, DT_NEEDED closure, LOAD align): {ours:.2f} s")
    print(f"baseline readelf -h -l -d per file (facts only, no checks):               {baseline:.2f} s")
    print(f"ratio baseline/romforge: {baseline / ours:.1f}x")


if __name__ == "__main__":
    main()

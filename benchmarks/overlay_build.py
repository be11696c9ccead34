"""What the example overlays cost a build: cepheus with and without them, measured in one run.

Usage: .venv/bin/python benchmarks/overlay_build.py [FILES]   (default 2000 files in the sample ROM)
The first overlay build links and signs the RROs (aapt2 + apksigner); a second one reuses them,
as a weekly run building several devices does.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

from romforge.build import BuildRequest, build
from romforge.samplerom import generate
from romforge.workspace import load_workspace

REPO = Path(__file__).resolve().parent.parent


def _workspace(root: Path, rom: Path, with_overlays: bool) -> Path:
    root.mkdir()
    (root / "romforge.toml").write_text(f'[workspace]\nbase_rom = "{rom}"\n')
    profiles = root / "device-profiles"
    profiles.mkdir()
    text = (REPO / "device-profiles/cepheus.toml").read_text()
    (profiles / "bench.toml").write_text(("" if with_overlays else "overlays = []\n")
                                         + text.replace('codename = "cepheus"', 'codename = "bench"'))
    if with_overlays:
        shutil.copytree(REPO / "examples/workspace/overlays", root / "overlays")
    return root


def _time(ws: Path, version: str) -> float:
    start = time.perf_counter()
    build(load_workspace(ws), BuildRequest("bench", version, "2026-11-27"))
    return time.perf_counter() - start


def main() -> None:
    files = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    with tempfile.TemporaryDirectory(prefix="romforge-bench-overlays-") as tmp:
        rom = generate(Path(tmp) / "rom", files=files, seed=5)
        plain = _workspace(Path(tmp) / "plain", rom, False)
        full = _workspace(Path(tmp) / "full", rom, True)
        _time(plain, "0")  # warm the page cache and imports so the first timed build is not penalised
        base = _time(plain, "1")
        first = _time(full, "1")
        again = _time(full, "2")
    print(f"cepheus build, {files}-file base ROM")
    print(f"  without overlays:                       {base:.2f} s")
    print(f"  with the 3 example overlays (cold RROs): {first:.2f} s  ratio {first / base:.2f}x")
    print(f"  with the 3 example overlays (warm RROs): {again:.2f} s  ratio {again / base:.2f}x")


if __name__ == "__main__":
    main()

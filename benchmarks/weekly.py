#!/usr/bin/env python3
"""Weekly release of 4 devices with --jobs 2 vs --jobs 1, in the same run (target ≥ 1.7× speedup).

--jobs N is the run's budget of cores (romforge/run/cores.py); a third run releases the devices
one at a time with both cores (--parallel-devices 1), the strongest one-at-a-time baseline.
Each run is the real `romforge weekly` command in a fresh process.

    .venv/bin/python benchmarks/weekly.py [--files 3000] [--rounds 2]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from romforge.ota.keys import generate_test_key
from romforge.samplerom import generate

CACHE = Path(__file__).resolve().parent / "out"
ROMFORGE = Path(sys.executable).parent / "romforge"
DEVICES = {  # four arm64 phones with different screens, all buildable from the generic base
    "bench-a": (1080, 2340, 440), "bench-b": (1080, 2400, 395), "bench-c": (1440, 3200, 515),
    "bench-d": (720, 1600, 320),
}


def make_workspace(root: Path, base: Path) -> Path:
    (root / "device-profiles").mkdir(parents=True)
    (root / "romforge.toml").write_text(f'[workspace]\nbase_rom = "{base}"\n'
                                        f"devices = {list(DEVICES)!r}\n".replace("'", '"'))
    for name, (w, h, dpi) in DEVICES.items():
        (root / "device-profiles" / f"{name}.toml").write_text(
            f'inherits = "common-arm64"\ncodename = "{name}"\nmodel = "{name.upper()}"\n'
            f"[screen]\nwidth = {w}\nheight = {h}\ndensity = {dpi}\n")
    examples = Path(__file__).resolve().parent.parent / "examples/workspace"
    for folder in ("overlays", "locales", "credits"):  # what the bundled profiles enable: a real week's work
        shutil.copytree(examples / folder, root / folder)
    generate_test_key(root / "keys" / "releasekey")
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    subprocess.run(["git", "add", "-A"], cwd=root, check=True)
    subprocess.run(["git", "-c", "user.name=bench", "-c", "user.email=b@x", "commit", "-qm", "bench"], cwd=root,
                   check=True)
    return root


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=2, help="runs of each kind, interleaved; the best counts")
    args = parser.parse_args()
    CACHE.mkdir(exist_ok=True)
    base = CACHE / f"weekly-base-{args.files}"
    if not base.exists():
        generate(base, files=args.files, seed=5)
    runs = {  # label: weekly options
        "--jobs 1": ["--jobs", "1"],
        "--jobs 2": ["--jobs", "2"],
        "--jobs 2 --parallel-devices 1": ["--jobs", "2", "--parallel-devices", "1"],
    }
    timings: dict[str, list[float]] = {label: [] for label in runs}
    with tempfile.TemporaryDirectory(prefix="romforge-weekly-bench-", dir=CACHE) as tmp:
        for round_ in range(args.rounds):
            for i, (label, options) in enumerate(runs.items()):
                ws = make_workspace(Path(tmp) / f"run{round_}-{i}", base)
                start = time.perf_counter()  # the real command, a fresh process each time
                proc = subprocess.run([str(ROMFORGE), "weekly", "--workspace", str(ws), "--week", "2026-W48",
                                       "--keep-deltas", "0", *options],
                                      capture_output=True, text=True, env={**os.environ, "CI": "true"})
                timings[label].append(time.perf_counter() - start)
                if proc.returncode != 0:
                    print(f"run {label!r} failed:\n{proc.stderr}{proc.stdout}", file=sys.stderr)
                    return 1
                shutil.rmtree(ws)
    best = {label: min(times) for label, times in timings.items()}
    print(f"4 devices, base ROM of {args.files} files, {os.cpu_count()} cores, {args.rounds} rounds")
    print(f"{'run':<34}{'best s':>9}   each round")
    for label, times in timings.items():
        print(f"{label:<34}{best[label]:>9.2f}   {'  '.join(f'{t:.2f}' for t in times)}")
    speedup = best["--jobs 1"] / best["--jobs 2"]
    rounds = "  ".join(f"{a / b:.2f}×" for a, b in zip(timings["--jobs 1"], timings["--jobs 2"]))
    print(f"speedup --jobs 2 vs --jobs 1: {speedup:.2f}× (target ≥ 1.7×): {'OK' if speedup >= 1.7 else 'MISSED'}"
          f"   per round: {rounds}")
    # --jobs N is the run's budget of cores, so --jobs 1 is a one-core baseline. The strongest
    # one-device-at-a-time baseline is the same run with both cores and one device at a time:
    # each build compresses on both cores and the devices still share the run's results.
    serial = best["--jobs 2 --parallel-devices 1"] / best["--jobs 2"]
    print(f"speedup --jobs 2 vs one device at a time on both cores: {serial:.2f}×")
    return 0


if __name__ == "__main__":
    sys.exit(main())

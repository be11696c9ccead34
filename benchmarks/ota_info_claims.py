#!/usr/bin/env python3
"""`ota info` on a payload claiming huge partitions costs what its manifest costs (issue #15).

Two full OTAs made in this run with romforge's own payload writer, the same number of
partitions and operations, different claims:

    baseline   300 partitions of 16 MiB each (4 GiB in all)
    claims     300 partitions of 64 GiB each (19 TiB in all), the same few dozen KB of zip

Both are read by romforge.ota.apply.ota_info (every manifest check, signatures not checked).
Target: claims < 1 s, and claims / baseline <= 2 (the work does not grow with the claim; the
per-block checks before took minutes here). Best of --runs, interleaved.

    .venv/bin/python benchmarks/ota_info_claims.py [--partitions 300] [--runs 5]
"""

from __future__ import annotations

import argparse
import lzma
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from hostile.conftest import forged_ota  # noqa: E402  (the suite's forged-OTA builder)
from romforge.ota.apply import ota_info  # noqa: E402
from romforge.ota.keys import generate_test_key  # noqa: E402
from romforge.ota.payload import Op, Operation, PartitionPlan  # noqa: E402


def _plans(partitions: int, size: int) -> list[PartitionPlan]:
    blob = lzma.compress(b"\0" * 4096, format=lzma.FORMAT_XZ)
    return [PartitionPlan(f"p{i}", size, bytes([i % 256]) * 32, [Operation(Op.REPLACE_XZ, [(0, size // 4096)], data=blob)])
            for i in range(partitions)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--partitions", type=int, default=300)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="romforge-bench-info-") as tmp:
        work = Path(tmp)
        generate_test_key(work / "key")
        small = forged_ota(work / "small.zip", work / "key", _plans(args.partitions, 16 << 20), workdir=work / "w")
        huge = forged_ota(work / "huge.zip", work / "key", _plans(args.partitions, 64 << 30), workdir=work / "w")
        best = {"baseline": float("inf"), "claims": float("inf")}
        for _ in range(args.runs):
            for name, ota in (("baseline", small), ("claims", huge)):
                start = time.perf_counter()
                report = ota_info(ota)
                best[name] = min(best[name], time.perf_counter() - start)
                assert len(report.partitions) == args.partitions
        print(f"zip sizes: baseline {small.stat().st_size} B, claims {huge.stat().st_size} B")
        print(f"baseline  {args.partitions} x 16 MiB  {best['baseline'] * 1000:8.1f} ms")
        print(f"claims    {args.partitions} x 64 GiB  {best['claims'] * 1000:8.1f} ms")
        ratio = best["claims"] / best["baseline"]
        ok = best["claims"] < 1.0 and ratio <= 2.0
        print(f"ratio claims/baseline {ratio:.2f}  (target < 1 s and <= 2): {'ok' if ok else 'MISSED'}")


if __name__ == "__main__":
    main()

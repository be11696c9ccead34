"""Work proportional to real data: the block-coverage checks run per extent.

BlockWriters is checked against a per-block model (the obvious reading of update_engine's
rule) on random extents, and a 300 × 64 GiB full OTA of a few dozen KB is answered by
`ota info` inside the case time limit and the 4 GiB address-space limit (the old per-block
loop took minutes and a 128 MB list per partition).
"""

from __future__ import annotations

import lzma
import os
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from hostile.conftest import Case, check, forged_ota
from romforge.ota.coverage import BlockWriters
from romforge.ota.payload import Op, Operation, PartitionPlan

BLOCKS = 40
extents = st.lists(st.tuples(st.integers(0, BLOCKS - 1), st.integers(1, 8)).map(
    lambda t: (t[0], min(t[1], BLOCKS - t[0]))), max_size=12)


def _model(ops: list[list[tuple[int, int]]]) -> tuple[dict[int, list[int]], list[tuple[int, int, int]]]:
    writers: dict[int, list[int]] = {}
    flat = []
    for index, dst in enumerate(ops):
        for start, count in dst:
            flat.append((start, count, index))
            for b in range(start, start + count):
                writers.setdefault(b, []).append(index)
    return writers, flat


@settings(max_examples=300, deadline=None)
@given(st.lists(extents, max_size=8))
def test_block_writers_agree_with_a_per_block_model(ops) -> None:
    writers, flat = _model(ops)
    found = BlockWriters(flat)
    twice = sorted(b for b, w in writers.items() if len(w) > 1)
    got = found.written_twice()
    if twice:
        assert got is not None and got[0] == twice[0] and got[1] in writers[twice[0]]
        return
    assert got is None
    unwritten = [b for b in range(BLOCKS) if b not in writers]
    assert found.first_unwritten(BLOCKS) == (unwritten[0] if unwritten else None)


def test_a_small_ota_claiming_300_huge_partitions_is_answered_quickly(tmp_path: Path, ota_test_key: Path) -> None:
    blocks = (64 << 30) // 4096
    blob = lzma.compress(b"\0" * 4096, format=lzma.FORMAT_XZ)
    plans = [PartitionPlan(f"p{i}", 64 << 30, bytes([i % 256]) * 32, [Operation(Op.REPLACE_XZ, [(0, blocks)], data=blob)])
             for i in range(300)]
    ota = forged_ota(tmp_path / "huge.zip", ota_test_key, plans, workdir=tmp_path / "w")
    assert ota.stat().st_size < 100_000
    twice = [PartitionPlan("system", 64 << 30, b"\1" * 32, [Operation(Op.REPLACE_XZ, [(0, blocks)], data=blob),
                                                              Operation(Op.REPLACE_XZ, [(blocks - 1, 1)], data=blob)])]
    overlap = forged_ota(tmp_path / "twice.zip", ota_test_key, twice, workdir=tmp_path / "w")
    hole = [PartitionPlan("system", 64 << 30, b"\1" * 32, [Operation(Op.REPLACE_XZ, [(0, blocks - 1)], data=blob)])]
    unwritten = forged_ota(tmp_path / "hole.zip", ota_test_key, hole, workdir=tmp_path / "w")
    check([
        Case("info of 300 x 64 GiB", ["ota", "info", ota], cwd=tmp_path, exit=0, names="p299"),
        Case("a block written twice", ["ota", "info", overlap], cwd=tmp_path, names="twice.zip",
             says=f"block {blocks - 1} of system is written twice"),
        Case("a block never written", ["ota", "info", unwritten], cwd=tmp_path, names="hole.zip",
             says=f"block {blocks - 1} is never written"),
    ], tmp_path)


def test_a_corrupt_brotli_stream_in_ota_apply_is_refused(tmp_path: Path, ota_test_key: Path) -> None:
    """A BROTLI_BSDIFF whose control stream is not brotli: one message naming the package."""
    import hashlib
    import struct

    old = bytes(range(256)) * 32
    head = b"BSDF2" + bytes([2, 2, 2]) + struct.pack("<qqq", 64, 64, 8192)  # brotli streams, sizes
    patch = head + b"\xff" * 64 + b"\x0b\x00\x80" * 30 + b"\x00" * 8
    source = tmp_path / "source"
    source.mkdir()
    (source / "system.img").write_bytes(old)
    plans = [PartitionPlan("system", 8192, hashlib.sha256(old).digest(),
                           [Operation(Op.BROTLI_BSDIFF, [(0, 2)], [(0, 2)], patch, hashlib.sha256(old).digest())],
                           8192, hashlib.sha256(old).digest())]
    ota = forged_ota(tmp_path / "bad-brotli.zip", ota_test_key, plans, minor=7, workdir=tmp_path / "w")
    out = tmp_path / "out"
    fifo = tmp_path / "fifo-source"
    fifo.mkdir()
    os.mkfifo(fifo / "system.img")
    check([Case("corrupt brotli", ["ota", "apply", ota, "--source", source, "--out", out], cwd=tmp_path,
                names="bad-brotli.zip", says="cannot be applied", quiet_dirs=[source],
                absent=[out / "system.img"]),
           Case("a FIFO as the source image", ["ota", "apply", ota, "--source", fifo, "--out", out], cwd=tmp_path,
                names="system.img", says="not a regular file", absent=[out / "system.img"], timeout=20)],
          tmp_path)

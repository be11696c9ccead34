"""`ota apply`'s operations one by one on hostile data: decompression bombs, patches that claim
more output than their blocks, garbage puffin patches, a source that does not match. Each is
refused with a ValueError (the apply turns it into one message naming the package); outputs
larger than an operation's blocks are never produced."""

from __future__ import annotations

import hashlib
import lzma
from pathlib import Path

import pytest

from romforge.ota.bsdiff import bsdf2, make_patch
from romforge.ota.keys import load_signing_key
from romforge.ota.apply import apply_operation
from romforge.ota.payload import Op, Operation, PartitionPlan, parse_payload, write_payload
from romforge.ota.puff import PuffError


def _payload(tmp: Path, key: Path, op: Operation, *, minor: int = 7):
    plan = PartitionPlan("system", 2 * 4096, b"\0" * 32, [op], 2 * 4096, b"\0" * 32)
    path = tmp / "payload.bin"
    write_payload(path, [plan], load_signing_key(key), minor_version=minor)
    f = open(path, "rb")
    payload = parse_payload(f, size=path.stat().st_size, source=str(path))
    return f, payload, payload.manifest.partitions[0].operations[0]


def _run(tmp: Path, key: Path, op: Operation, source: bytes) -> bytes:
    f, payload, manifest_op = _payload(tmp, key, op)
    (tmp / "src.img").write_bytes(source)
    with f, open(tmp / "src.img", "rb") as src, open(tmp / "out.img", "w+b") as out:
        out.truncate(2 * 4096)
        apply_operation(manifest_op, payload, src, out)
    return (tmp / "out.img").read_bytes()


def test_a_decompression_bomb_stops_at_the_operations_blocks(tmp_path, ota_test_key) -> None:
    bomb = lzma.compress(bytes(64 << 20), format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC32)
    with pytest.raises(ValueError, match="does not fit its blocks"):
        _run(tmp_path, ota_test_key, Operation(Op.REPLACE_XZ, [(0, 1)], data=bomb), b"")


def test_a_patch_claiming_more_output_than_its_blocks_is_refused(tmp_path, ota_test_key) -> None:
    old, new = b"a" * 8192, b"b" * 8192 * 4
    patch = bsdf2(make_patch(old, new).streams(), len(new))
    op = Operation(Op.BROTLI_BSDIFF, [(0, 2)], [(0, 2)], patch, hashlib.sha256(old).digest())
    with pytest.raises(ValueError, match="does not fit"):
        _run(tmp_path, ota_test_key, op, old)


def test_a_diff_applies_streamed_and_checks_its_source(tmp_path, ota_test_key) -> None:
    old = bytes(range(256)) * 32
    new = old[:1000] + b"changed" + old[1007:]
    patch = bsdf2(make_patch(old, new).streams(), len(new))
    op = Operation(Op.BROTLI_BSDIFF, [(0, 2)], [(0, 2)], patch, hashlib.sha256(old).digest())
    assert _run(tmp_path, ota_test_key, op, old) == new
    with pytest.raises(ValueError, match="src_sha256_hash"):
        _run(tmp_path, ota_test_key, op, new)


@pytest.mark.parametrize("data", [b"PUF1", b"PUF1\xff\xff\xff\xff", b"PUF1\x00\x00\x00\x02\x08\x01BSDF2",
                                  b"not puffin at all"])
def test_garbage_puffdiff_data_is_refused(tmp_path, ota_test_key, data: bytes) -> None:
    old = bytes(8192)
    op = Operation(Op.PUFFDIFF, [(0, 2)], [(0, 2)], data, hashlib.sha256(old).digest())
    with pytest.raises((ValueError, PuffError)):
        _run(tmp_path, ota_test_key, op, old)

"""A full payload applied in one pass (romforge/ota/fullapply.py): operations side by side on
two workers or in one process, each blob's hash checked as it is read, FILE_HASH and each
image's hash computed while the workers run. Payloads come from the independent encoder in
the tests (xz data from Debian's `xz`, bzip2 data from `bzip2`), so romforge's writer is not
what is read."""

from __future__ import annotations

import hashlib
import random
import subprocess
from pathlib import Path

import pytest

from independent_payload import (REPLACE, REPLACE_BZ, REPLACE_XZ, RawOperation, RawPartitionUpdate, _local_spans,
                                 bzip2, encode_payload, write_ota_zip)
from romforge.ota import fullapply
from romforge.ota.apply import apply_ota
from romforge.ota.verify import OtaRejected
from romforge.run.cores import Cores, one_core

BLOCK = 4096
CORES = {"two workers": Cores(2), "one process": one_core()}


def _xz(data: bytes) -> bytes:
    return subprocess.run(["xz", "-c", "--check=crc32", "-0"], input=data, capture_output=True, check=True).stdout


def _partitions() -> list[RawPartitionUpdate]:
    """Two partitions; operations out of block order, one of two extents, all three full types."""
    rng = random.Random(16)
    text = b"".join(f"ro.vendor.line.{i}=value {i * 7}\n".encode() for i in range(3000))
    system = text[:6 * BLOCK] + rng.randbytes(3 * BLOCK) + text[-3 * BLOCK:]  # 12 blocks
    vendor = rng.randbytes(2 * BLOCK) + text[:2 * BLOCK]  # 4 blocks
    ops = [RawOperation(REPLACE_XZ, [(9, 3)], data=_xz(system[9 * BLOCK:])),
           RawOperation(REPLACE, [(6, 3)], data=system[6 * BLOCK:9 * BLOCK]),
           RawOperation(REPLACE_BZ, [(0, 2), (4, 2)], data=bzip2(system[:2 * BLOCK] + system[4 * BLOCK:6 * BLOCK])),
           RawOperation(REPLACE_XZ, [(2, 2)], data=_xz(system[2 * BLOCK:4 * BLOCK]))]
    vops = [RawOperation(REPLACE, [(0, 2)], data=vendor[:2 * BLOCK]),
            RawOperation(REPLACE_XZ, [(2, 2)], data=_xz(vendor[2 * BLOCK:]))]
    return [RawPartitionUpdate("system", system, ops), RawPartitionUpdate("vendor", vendor, vops)]


@pytest.fixture(scope="module")
def full_payload() -> tuple[bytes, list[RawPartitionUpdate], list[int]]:
    """The payload, its partitions, and where each blob starts in it."""
    parts = _partitions()
    payload = encode_payload(parts, minor_version=0)
    blobs = [op.data for p in parts for op in p.operations]
    start = len(payload) - sum(len(b) for b in blobs)
    starts = []
    for blob in blobs:
        starts.append(start)
        start += len(blob)
    return payload, parts, starts


class _Steps:
    def __init__(self) -> None:
        self.steps: list[list] = []

    def step(self, name: str, total: int | None = None) -> None:
        self.steps.append([name, total, 0])

    def advance(self, n: int = 1) -> None:
        self.steps[-1][2] += n

    def note(self, message: str) -> None:
        pass

    def close(self) -> None:
        pass


def _zipped(tmp: Path, payload: bytes) -> Path:
    ota = tmp / "ota.zip"
    write_ota_zip(ota, payload, {})
    return ota


@pytest.fixture
def one_op_per_job(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fullapply, "RANGE_BYTES", 1)  # read in this process, before the workers fork


@pytest.mark.parametrize("cores", CORES.values(), ids=CORES.keys())
def test_every_partition_is_written_as_the_encoder_meant_with_a_step_each(tmp_path: Path, full_payload, cores,
                                                                          one_op_per_job) -> None:
    payload, parts, _ = full_payload
    ota = _zipped(tmp_path, payload)
    steps = _Steps()
    apply_ota(ota, tmp_path / "out", progress=steps, cores=cores)
    for part in parts:
        assert (tmp_path / "out" / f"{part.name}.img").read_bytes() == part.new_image
    assert steps.steps == [["apply system", 4, 4], ["apply vendor", 2, 2]]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["system.img", "vendor.img"]


def test_blobs_too_large_to_hold_are_hashed_then_decoded_streaming(tmp_path: Path, full_payload,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    payload, parts, starts = full_payload
    monkeypatch.setattr(fullapply, "INLINE_BLOB", 100)
    bare = tmp_path / "payload.bin"
    bare.write_bytes(payload)
    apply_ota(bare, tmp_path / "out", cores=one_core())
    assert (tmp_path / "out/system.img").read_bytes() == parts[0].new_image
    bad = bytearray(payload)
    bad[starts[1] + 5] ^= 1
    bare.write_bytes(bad)
    with pytest.raises(OtaRejected, match=r"system operation 1 \(REPLACE\): data blob does not match"):
        apply_ota(bare, tmp_path / "out2", cores=one_core())
    assert not any((tmp_path / "out2").iterdir())


def _flip(payload: bytes, *at: int) -> bytes:
    bad = bytearray(payload)
    for i in at:
        bad[i] ^= 0x20
    return bytes(bad)


@pytest.mark.parametrize("cores", CORES.values(), ids=CORES.keys())
def test_the_first_bad_blob_is_named_whatever_order_the_workers_finish_in(tmp_path: Path, full_payload, cores,
                                                                          one_op_per_job) -> None:
    payload, _, starts = full_payload
    ota = _zipped(tmp_path, _flip(payload, starts[5] + 3, starts[2] + 3))  # properties describe the bad payload
    with pytest.raises(OtaRejected, match=r"system operation 2 \(REPLACE_BZ\): data blob does not match its "
                                          r"data_sha256_hash") as caught:
        apply_ota(ota, tmp_path / "out", cores=cores)
    assert caught.value.hint == "download the OTA again" and caught.value.file == str(ota)
    assert not any((tmp_path / "out").iterdir())


@pytest.mark.parametrize("cores", CORES.values(), ids=CORES.keys())
def test_a_payload_other_than_file_hash_says_so_before_any_blob(tmp_path: Path, full_payload, cores,
                                                                one_op_per_job) -> None:
    payload, _, starts = full_payload
    ota = _zipped(tmp_path, payload)
    where = _local_spans(ota)["payload.bin"][0]
    data = bytearray(ota.read_bytes())
    data[where + starts[3] + 1] ^= 0x20  # the zip is changed after payload_properties.txt was written
    ota.write_bytes(bytes(data))
    with pytest.raises(OtaRejected, match="payload.bin does not match FILE_HASH"):
        apply_ota(ota, tmp_path / "out", cores=cores)
    assert not any((tmp_path / "out").iterdir())


def test_data_that_is_not_xz_is_refused_naming_the_operation(tmp_path: Path) -> None:
    text = b"".join(f"line {i}\n".encode() for i in range(2000))[:2 * BLOCK]
    garbage = b"\xfd7zXZ\0" + bytes(200)  # an xz magic, then nothing xz can read
    parts = [RawPartitionUpdate("odm", text, [RawOperation(REPLACE_XZ, [(0, 2)], data=garbage)])]
    bare = tmp_path / "payload.bin"
    bare.write_bytes(encode_payload(parts, minor_version=0))
    with pytest.raises(OtaRejected, match=r"odm operation 0 \(REPLACE_XZ\) cannot be applied"):
        apply_ota(bare, tmp_path / "out", cores=Cores(2))
    assert not any((tmp_path / "out").iterdir())


def test_an_image_other_than_new_partition_info_is_refused(tmp_path: Path) -> None:
    image = bytes(range(256)) * 32
    other = image[:-1] + b"\x01"
    part = RawPartitionUpdate("product", other, [RawOperation(REPLACE, [(0, 2)], data=image)])
    bare = tmp_path / "payload.bin"
    bare.write_bytes(encode_payload([part], minor_version=0))  # the manifest's hash is other's
    assert hashlib.sha256(other).digest() != hashlib.sha256(image).digest()
    with pytest.raises(OtaRejected, match="product: the applied image does not match new_partition_info"):
        apply_ota(bare, tmp_path / "out", cores=Cores(2))
    assert not any((tmp_path / "out").iterdir())

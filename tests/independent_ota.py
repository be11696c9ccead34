"""A second, independent way to read and apply an OTA payload, for the tests.

Shares no code with romforge.ota: the payload header is unpacked by hand, the manifest is
decoded from the protobuf wire format here (field numbers written down from
update_metadata.proto, not taken from romforge's .proto), data is decompressed and patched by
Debian's command-line tools (`xz -d`, `bzip2 -d`, `bspatch`), BSDF2 patches are turned into BSDIFF40 with the `brotli` and
`bzip2` tools), PUFFDIFF's puffing and huffing is tests/independent_puffin.py's (a second
implementation of puffin's format) around Debian's bspatch. The update is applied as
update_engine applies an A/B payload: every source extent is read from the source image (the
other slot, opened read-only) and every operation writes a separate, new target image.
"""

from __future__ import annotations

import hashlib
import struct
import subprocess
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

BLOCK = 4096
REPLACE, REPLACE_BZ, SOURCE_COPY, SOURCE_BSDIFF, ZERO, REPLACE_XZ, PUFFDIFF, BROTLI_BSDIFF = 0, 1, 4, 5, 6, 8, 9, 10


def wire_fields(data: bytes) -> list[tuple[int, int, object]]:
    """(field number, wire type, value) of a protobuf message; length-delimited values stay bytes."""
    out = []
    pos = 0

    def varint() -> int:
        nonlocal pos
        shift = result = 0
        while True:
            byte = data[pos]
            pos += 1
            result |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return result
            shift += 7

    while pos < len(data):
        key = varint()
        number, wire = key >> 3, key & 7
        if wire == 0:
            out.append((number, wire, varint()))
        elif wire == 2:
            length = varint()
            out.append((number, wire, data[pos:pos + length]))
            pos += length
        elif wire == 5:
            out.append((number, wire, data[pos:pos + 4]))
            pos += 4
        elif wire == 1:
            out.append((number, wire, data[pos:pos + 8]))
            pos += 8
        else:
            raise ValueError(f"unexpected wire type {wire}")
    return out


def _get(fields, number):
    return [v for n, _, v in fields if n == number]


@dataclass
class RawOp:
    type: int
    fields: list
    data_offset: int | None
    data_length: int | None
    src: list[tuple[int, int]]
    dst: list[tuple[int, int]]


@dataclass
class RawPartition:
    name: str
    new_size: int
    new_hash: bytes
    old_size: int | None
    ops: list[RawOp] = field(default_factory=list)


@dataclass
class RawPayload:
    data: bytes
    manifest_fields: list
    data_start: int
    partitions: list[RawPartition]


def _extents(raw_list) -> list[tuple[int, int]]:
    result = []
    for raw in raw_list:
        f = wire_fields(raw)
        result.append((_get(f, 1)[0] if _get(f, 1) else None, _get(f, 2)[0]))
    return result


def read_payload_from_zip(ota: Path) -> RawPayload:
    with zipfile.ZipFile(ota) as zf:
        return read_payload(zf.read("payload.bin"))


def read_payload(data: bytes) -> RawPayload:
    magic, major, manifest_size, sig_size = struct.unpack(">4sQQI", data[:24])
    assert magic == b"CrAU" and major == 2
    manifest = wire_fields(data[24:24 + manifest_size])
    partitions = []
    for raw in _get(manifest, 13):
        p = wire_fields(raw)
        new_info = wire_fields(_get(p, 7)[0])
        old = _get(p, 6)
        part = RawPartition(_get(p, 1)[0].decode(), _get(new_info, 1)[0], _get(new_info, 2)[0],
                            _get(wire_fields(old[0]), 1)[0] if old else None)
        for raw_op in _get(p, 8):
            o = wire_fields(raw_op)
            part.ops.append(RawOp(_get(o, 1)[0], o, (_get(o, 2) or [None])[0], (_get(o, 3) or [None])[0],
                                  _extents(_get(o, 4)), _extents(_get(o, 6))))
        partitions.append(part)
    return RawPayload(data, manifest, 24 + manifest_size + sig_size, partitions)


def _tool(args: list[str], stdin: bytes) -> bytes:
    return subprocess.run(args, input=stdin, capture_output=True, check=True).stdout


def bsdf2_to_bsdiff40(patch: bytes) -> bytes:
    """AOSP's BSDF2 (per-stream bzip2 or brotli) rewritten as classic BSDIFF40 for Debian's bspatch:
    streams are decompressed with the `brotli`/`bzip2` tools and recompressed with `bzip2`."""
    if patch.startswith(b"BSDIFF40"):
        return patch
    assert patch[:5] == b"BSDF2", patch[:8]
    kinds = patch[5:8]
    ctrl_len, diff_len = struct.unpack_from("<QQ", patch, 8)
    new_size = patch[24:32]
    raw = [patch[32:32 + ctrl_len], patch[32 + ctrl_len:32 + ctrl_len + diff_len], patch[32 + ctrl_len + diff_len:]]
    plain = []
    for kind, data in zip(kinds, raw):
        if kind == 0:
            plain.append(data)
        elif kind == 1:
            plain.append(_tool(["bzip2", "-d", "-c"], data))
        elif kind == 2:
            plain.append(_tool(["brotli", "-d", "-c"], data))
        else:
            raise AssertionError(f"unknown BSDF2 compressor {kind}")
    packed = [_tool(["bzip2", "-9", "-c"], p) for p in plain]
    return b"BSDIFF40" + struct.pack("<QQ", len(packed[0]), len(packed[1])) + new_size + b"".join(packed)


def _bspatch(work: Path, old: bytes, patch: bytes) -> bytes:
    (work / "old").write_bytes(old)
    (work / "patch").write_bytes(bsdf2_to_bsdiff40(patch))
    subprocess.run(["bspatch", str(work / "old"), str(work / "new"), str(work / "patch")], check=True,
                   capture_output=True)
    return (work / "new").read_bytes()


def _puffpatch(work: Path, src: bytes, patch: bytes) -> bytes:
    """Puff the source, bspatch the puffed stream, huff the result (puffpatch.cc's steps)."""
    from independent_puffin import huffed_stream, puffed_stream, read_patch

    src_info, dst_info, inner = read_patch(patch, wire_fields)
    puffed, puffs = puffed_stream(src, src_info["deflates"])
    assert len(puffed) == src_info["puff_length"] and puffs == src_info["puffs"]
    dst_puffed = _bspatch(work, puffed, inner)
    assert len(dst_puffed) == dst_info["puff_length"]
    return huffed_stream(dst_puffed, dst_info["deflates"], dst_info["puffs"])


def apply_ab(payload: RawPayload, source: Path | None, out_dir: Path) -> dict[str, str]:
    """Apply every partition with Debian's tools, A/B style (source read-only, a new target);
    returns name → SHA-256 of the result."""
    digests = {}
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="independent-ota-") as tmp:
        work = Path(tmp)
        for part in payload.partitions:
            image = out_dir / f"{part.name}.img"
            old = open(source / f"{part.name}.img", "rb") if part.old_size is not None else None
            try:
                with open(image, "wb") as f:
                    f.truncate(part.new_size)
                    for op in part.ops:
                        _apply_op(work, payload, op, old, f)
            finally:
                if old is not None:
                    old.close()
            digests[part.name] = hashlib.sha256(image.read_bytes()).hexdigest()
    return digests


def _apply_op(work: Path, payload: RawPayload, op: RawOp, old, f) -> None:
    """One operation: its source blocks from `old`, its output into the target `f`."""
    size = sum(n for _, n in op.dst) * BLOCK
    blob = b""
    if op.data_length is not None:
        start = payload.data_start + op.data_offset
        blob = payload.data[start:start + op.data_length]
    src = b""
    for s, n in op.src:
        old.seek(s * BLOCK)
        src += old.read(n * BLOCK)
    if op.type == REPLACE:
        new = blob
    elif op.type == REPLACE_XZ:
        new = _tool(["xz", "-d", "-c"], blob)
    elif op.type == REPLACE_BZ:
        new = _tool(["bzip2", "-d", "-c"], blob)
    elif op.type == ZERO:
        new = b""
    elif op.type == SOURCE_COPY:
        new = src
    elif op.type in (SOURCE_BSDIFF, BROTLI_BSDIFF):
        new = _bspatch(work, src, blob)
    elif op.type == PUFFDIFF:
        new = _puffpatch(work, src, blob)
    else:
        raise AssertionError(f"operation type {op.type} is not expected in romforge payloads")
    assert len(new) <= size
    new += b"\0" * (size - len(new))
    pos = 0
    for s, n in op.dst:
        f.seek(s * BLOCK)
        f.write(new[pos:pos + n * BLOCK])
        pos += n * BLOCK

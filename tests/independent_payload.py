"""A second, independent payload.bin encoder, for the tests: protobuf wire format written by
hand from update_metadata.proto's field numbers, data compressed by Debian's `bzip2` tool, the
package zipped by Python's zipfile with AOSP-style property files. Shares no code with
romforge.ota (its writer signs every payload; this one writes unsigned payloads as
update_engine's own sample payloads and OEM test builds come)."""

from __future__ import annotations

import hashlib
import base64
import struct
import subprocess
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

BLOCK = 4096
REPLACE, REPLACE_BZ, SOURCE_COPY, ZERO, REPLACE_XZ, LZ4DIFF_BSDIFF, ZUCCHINI = 0, 1, 4, 6, 8, 12, 11


def varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def uint_field(number: int, value: int) -> bytes:
    return varint(number << 3) + varint(value)


def bytes_field(number: int, value: bytes) -> bytes:
    return varint(number << 3 | 2) + varint(len(value)) + value


def extent(start: int, count: int) -> bytes:
    return uint_field(1, start) + uint_field(2, count)


@dataclass
class RawOperation:
    type: int
    dst: list[tuple[int, int]]
    src: list[tuple[int, int]] = field(default_factory=list)
    data: bytes = b""
    src_sha256: bytes = b""


@dataclass
class RawPartitionUpdate:
    name: str
    new_image: bytes
    operations: list[RawOperation]
    old_image: bytes | None = None


def bzip2(data: bytes) -> bytes:
    return subprocess.run(["bzip2", "-9", "-c"], input=data, capture_output=True, check=True).stdout


def encode_payload(partitions: list[RawPartitionUpdate], *, minor_version: int) -> bytes:
    """An unsigned major-version-2 payload: header, manifest, no metadata signature, blobs."""
    blobs = []
    offset = 0
    parts = b""
    for p in partitions:
        body = bytes_field(1, p.name.encode())
        if p.old_image is not None:
            body += bytes_field(6, uint_field(1, len(p.old_image)) + bytes_field(2, hashlib.sha256(p.old_image).digest()))
        body += bytes_field(7, uint_field(1, len(p.new_image)) + bytes_field(2, hashlib.sha256(p.new_image).digest()))
        for op in p.operations:
            msg = uint_field(1, op.type)
            if op.data:
                msg += uint_field(2, offset) + uint_field(3, len(op.data))
            msg += b"".join(bytes_field(4, extent(*e)) for e in op.src)
            msg += b"".join(bytes_field(6, extent(*e)) for e in op.dst)
            if op.data:
                msg += bytes_field(8, hashlib.sha256(op.data).digest())
                blobs.append(op.data)
                offset += len(op.data)
            if op.src:
                msg += bytes_field(9, op.src_sha256)
            body += bytes_field(8, msg)
        parts += bytes_field(13, body)
    manifest = uint_field(3, BLOCK) + uint_field(12, minor_version) + parts
    header = b"CrAU" + struct.pack(">QQI", 2, len(manifest), 0)
    return header + manifest + b"".join(blobs)


def _local_spans(path: Path) -> dict[str, tuple[int, int]]:
    """Where each entry's bytes sit, read from the local file headers by hand."""
    spans = {}
    with zipfile.ZipFile(path) as zf, open(path, "rb") as f:
        for info in zf.infolist():
            f.seek(info.header_offset)
            head = f.read(30)
            name_len, extra_len = struct.unpack_from("<HH", head, 26)
            spans[info.filename] = (info.header_offset + 30 + name_len + extra_len, info.compress_size)
    return spans


def write_ota_zip(out: Path, payload: bytes, extras: dict[str, bytes], *, phantom: str | None = None) -> None:
    """A zip like AOSP's ota_utils writes: payload.bin, payload_properties.txt and the `extras`
    (care_map.pb, apex_info.pb…) STORED, named in ota-property-files; the metadata entry last,
    so the offsets of everything before it do not depend on its length. `phantom` is a name the
    property files list although the zip does not hold it."""
    metadata_size = 24 + struct.unpack(">Q", payload[12:20])[0]
    props = (f"FILE_HASH={base64.b64encode(hashlib.sha256(payload).digest()).decode()}\nFILE_SIZE={len(payload)}\n"
             f"METADATA_HASH={base64.b64encode(hashlib.sha256(payload[:metadata_size]).digest()).decode()}\n"
             f"METADATA_SIZE={metadata_size}\n").encode()
    entries = {"payload.bin": payload, "payload_properties.txt": props, **extras}

    def write(metadata: bytes) -> None:
        with zipfile.ZipFile(out, "w") as zf:
            for name, data in entries.items():
                zf.writestr(zipfile.ZipInfo(name, (2009, 1, 1, 0, 0, 0)), data, compress_type=zipfile.ZIP_STORED)
            zf.writestr(zipfile.ZipInfo("META-INF/com/android/metadata", (2009, 1, 1, 0, 0, 0)), metadata,
                        compress_type=zipfile.ZIP_STORED)

    write(b"ota-type=AB\n")
    spans = _local_spans(out)
    tokens = [f"payload_metadata.bin:{spans['payload.bin'][0]}:{metadata_size}"]
    tokens += [f"{name}:{spans[name][0]}:{spans[name][1]}" for name in entries]
    if phantom:
        tokens.append(f"{phantom}:0:1")
    value = ",".join(tokens).ljust(len(",".join(tokens)) + 15)
    write(f"ota-property-files={value}\nota-streaming-property-files={value}\nota-type=AB\n"
          "post-build=romforge/test/unsigned:14/TEST/1:user/test-keys\npost-timestamp=1700000000\n"
          "pre-device=test\n".encode())

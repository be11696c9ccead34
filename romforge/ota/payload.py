"""update_engine's payload.bin: "CrAU", major version 2, a DeltaArchiveManifest, signed.

Layout (system/update_engine update_metadata.proto):

    magic "CrAU" | u64 major version (2) | u64 manifest size | u32 metadata signature size
    manifest (DeltaArchiveManifest) | metadata signature (Signatures)
    data blobs, in manifest order | payload signature (Signatures), at signatures_offset

The metadata signature covers header + manifest; the payload signature covers header +
manifest + blobs (the metadata signature is skipped). Both are RSA-2048 PKCS#1 v1.5 over
SHA-256. This module writes and parses that format and nothing else.
"""

from __future__ import annotations

import base64
import bz2
import hashlib
import lzma
import struct
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Iterable

from romforge.run.cores import Cores, standalone
from romforge.errors import InputError
from romforge.ota.keys import SIGNATURE_SIZE, OtaKey
from romforge.ota.proto import update_metadata_pb2 as um
from romforge.run.cache import RunCache

MAGIC = b"CrAU"
MAJOR_VERSION = 2
HEADER = struct.Struct(">4sQQI")
BLOCK_SIZE = 4096
FULL_MINOR_VERSION = 0
DELTA_MINOR_VERSION = 7
SUPPORTED_DELTA_MINORS = (6, 7)
FULL_CHUNK_BLOCKS = 512  # 2 MiB per REPLACE* operation, like delta_generator's default chunk
MAX_MANIFEST = 256 << 20
Op = um.InstallOperation
OP_NAMES = {v: k for k, v in Op.Type.items()}
Extents = list[tuple[int, int]]


@dataclass
class Operation:
    """One InstallOperation before it gets its place in the blob area."""

    type: int
    dst: Extents
    src: Extents = field(default_factory=list)
    data: bytes = b""
    src_sha256: bytes = b""

    @property
    def dst_blocks(self) -> int:
        return sum(n for _, n in self.dst)


@dataclass
class PartitionPlan:
    name: str
    new_size: int
    new_sha256: bytes
    operations: list[Operation]
    old_size: int | None = None
    old_sha256: bytes | None = None
    version: str | None = None
    filesystem: str | None = None
    postinstall_path: str | None = None  # run_postinstall with this program (relative to the partition)
    postinstall_optional: bool = False


@dataclass(frozen=True)
class DynamicGroup:
    name: str
    size: int
    partitions: tuple[str, ...]


@dataclass(frozen=True)
class PayloadInfo:
    """What payload_properties.txt and META-INF/com/android/metadata say about a payload."""

    size: int
    sha256: bytes
    metadata_size: int  # header + manifest
    metadata_sha256: bytes
    metadata_signature_size: int

    def properties(self) -> str:
        b64 = lambda d: base64.b64encode(d).decode()  # noqa: E731
        return (f"FILE_HASH={b64(self.sha256)}\nFILE_SIZE={self.size}\n"
                f"METADATA_HASH={b64(self.metadata_sha256)}\nMETADATA_SIZE={self.metadata_size}\n")


# ---- compression of REPLACE data ----------------------------------------------------


def xz(data: bytes) -> bytes:
    """xz with CRC32 checks: update_engine's xz-embedded accepts only CRC32 or none."""
    return lzma.compress(data, format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC32, preset=6)


def best_replace(data: bytes, *, try_bz2: bool = True) -> tuple[int, bytes]:
    """REPLACE, REPLACE_XZ or REPLACE_BZ, whichever is smallest (compressed data must be smaller).

    bzip2 is tried only where xz left more than 3/4: where it wins on images it is on data xz
    can hardly shrink (README, payload.py section, has the measurement)."""
    best = (Op.REPLACE, data)
    packed = xz(data)
    candidates = [(Op.REPLACE_XZ, packed)]
    if try_bz2 and len(packed) * 4 > len(data) * 3:
        candidates.append((Op.REPLACE_BZ, bz2.compress(data, 9)))
    for kind, packed in candidates:
        if len(packed) < len(best[1]):
            best = (kind, packed)
    return best


def _read_blocks(path: str, start: int, count: int) -> bytes:
    with open(path, "rb") as f:
        f.seek(start * BLOCK_SIZE)
        return f.read(count * BLOCK_SIZE)


_REPLACE_KINDS = frozenset({Op.REPLACE, Op.REPLACE_XZ, Op.REPLACE_BZ})  # what a full chunk may be


def _full_chunk(args: tuple[str, int, int, RunCache | None, bool]) -> tuple[int, bytes] | None:
    """A chunk's REPLACE* operation; with a run's cache, None when another build is compressing
    the same chunk right now (unless `wait`: then wait for it and take its result)."""
    path, start, count, cache, wait = args
    data = _read_blocks(path, start, count)
    if cache is None:
        return best_replace(data)

    def make() -> bytes:
        kind, packed = best_replace(data)
        return bytes([kind]) + packed

    key = "replace-" + hashlib.sha256(data).hexdigest()
    value = cache.make(key, make, wait=wait)
    if value is None:
        return None
    kind, packed = value[0], value[1:]
    if kind not in _REPLACE_KINDS or (kind == Op.REPLACE and packed != data):
        return best_replace(data)  # not an entry this code wrote: never trust it into a payload
    return kind, packed


def full_operations(image: Path, *, jobs: int | None = None, cache: RunCache | None = None,
                    cores: Cores | None = None) -> list[Operation]:
    """Every block of the image written exactly once, in 2 MiB REPLACE* chunks.

    With a run's `cache`, chunks another device already compressed are taken from it, and
    chunks another device is compressing right now are done last."""
    size = image.stat().st_size
    if size % BLOCK_SIZE:
        raise InputError(f"image size {size} is not a multiple of {BLOCK_SIZE}", file=image)
    blocks = size // BLOCK_SIZE
    chunks = [(str(image), start, min(FULL_CHUNK_BLOCKS, blocks - start), cache, False)
              for start in range(0, blocks, FULL_CHUNK_BLOCKS)]
    results = parallel_map(_full_chunk, chunks, jobs=jobs, cores=cores)
    later = [i for i, result in enumerate(results) if result is None]
    for i, result in zip(later, parallel_map(_full_chunk, [chunks[i][:4] + (True,) for i in later], jobs=jobs,
                                                        cores=cores)):
        results[i] = result
    return [Operation(kind, [(start, count)], data=data)
            for (_, start, count, _, _), (kind, data) in zip(chunks, results)]


def parallel_map(fn, items: list, *, jobs: int | None = None, cores: Cores | None = None) -> list:
    """map over a process pool, in order; one process (this one) when it gets no more cores.

    `jobs` caps the processes; how many it gets is what the run's `cores` lend (every core for a
    standalone build, the idle share of a weekly run's --jobs)."""
    with (cores or standalone()).borrow(min(len(items), jobs or len(items))) as workers:
        if workers <= 1:
            return [fn(item) for item in items]
        with ProcessPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(fn, items, chunksize=max(1, len(items) // (workers * 8))))


# ---- writing ------------------------------------------------------------------------


def _extents(message_field, extents: Extents) -> None:
    for start, count in extents:
        e = message_field.add()
        e.start_block = start  # set explicitly even when 0: the checker insists on the field
        e.num_blocks = count


def _signatures(signature: bytes) -> bytes:
    sigs = um.Signatures()
    sig = sigs.signatures.add()
    sig.data = signature
    sig.unpadded_signature_size = len(signature)
    return sigs.SerializeToString()


SIGNATURES_SIZE = len(_signatures(b"\0" * SIGNATURE_SIZE))


def build_manifest(partitions: list[PartitionPlan], *, minor_version: int, max_timestamp: int | None,
                   dynamic_groups: Iterable[DynamicGroup] = (), snapshot: bool = False,
                   security_patch_level: str = "") -> tuple[um.DeltaArchiveManifest, list[bytes]]:
    """The manifest and the blobs in manifest order (data_offsets contiguous from 0)."""
    manifest = um.DeltaArchiveManifest()
    manifest.block_size = BLOCK_SIZE
    manifest.minor_version = minor_version
    if security_patch_level:
        manifest.security_patch_level = security_patch_level
    blobs: list[bytes] = []
    offset = 0
    for plan in partitions:
        part = manifest.partitions.add()
        part.partition_name = plan.name
        if plan.version:
            part.version = plan.version
        if plan.filesystem:
            part.filesystem_type = plan.filesystem
        if plan.postinstall_path:
            part.run_postinstall = True
            part.postinstall_path = plan.postinstall_path
            if plan.postinstall_optional:
                part.postinstall_optional = True
        if plan.old_size is not None:
            part.old_partition_info.size = plan.old_size
            part.old_partition_info.hash = plan.old_sha256 or b""
        part.new_partition_info.size = plan.new_size
        part.new_partition_info.hash = plan.new_sha256
        for op in plan.operations:
            msg = part.operations.add()
            msg.type = op.type
            _extents(msg.src_extents, op.src)
            _extents(msg.dst_extents, op.dst)
            if op.src:
                msg.src_sha256_hash = op.src_sha256
            if op.data:
                msg.data_offset = offset
                msg.data_length = len(op.data)
                msg.data_sha256_hash = hashlib.sha256(op.data).digest()
                offset += len(op.data)
                blobs.append(op.data)
    if max_timestamp is not None:
        manifest.max_timestamp = max_timestamp
    groups = list(dynamic_groups)
    if groups:
        meta = manifest.dynamic_partition_metadata
        for g in groups:
            group = meta.groups.add()
            group.name = g.name
            group.size = g.size
            group.partition_names.extend(g.partitions)
        meta.snapshot_enabled = snapshot
    manifest.signatures_offset = offset
    manifest.signatures_size = SIGNATURES_SIZE
    return manifest, blobs


def write_payload(out: Path, partitions: list[PartitionPlan], key: OtaKey, *, minor_version: int,
                  max_timestamp: int | None = None, dynamic_groups: Iterable[DynamicGroup] = (),
                  snapshot: bool = False, security_patch_level: str = "") -> PayloadInfo:
    """Write a signed payload.bin."""
    manifest, blobs = build_manifest(partitions, minor_version=minor_version, max_timestamp=max_timestamp,
                                     dynamic_groups=dynamic_groups, snapshot=snapshot,
                                     security_patch_level=security_patch_level)
    manifest_bytes = manifest.SerializeToString(deterministic=True)
    header = HEADER.pack(MAGIC, MAJOR_VERSION, len(manifest_bytes), SIGNATURES_SIZE)
    metadata = header + manifest_bytes
    metadata_sha = hashlib.sha256(metadata).digest()
    payload_hash = hashlib.sha256(metadata)
    for blob in blobs:
        payload_hash.update(blob)
    metadata_sig = _signatures(key.sign_digest(metadata_sha))
    payload_sig = _signatures(key.sign_digest(payload_hash.digest()))
    assert len(metadata_sig) == len(payload_sig) == SIGNATURES_SIZE
    file_hash = hashlib.sha256()
    size = 0
    with open(out, "wb") as f:
        for piece in (metadata, metadata_sig, *blobs, payload_sig):
            f.write(piece)
            file_hash.update(piece)
            size += len(piece)
    return PayloadInfo(size, file_hash.digest(), len(metadata), metadata_sha, SIGNATURES_SIZE)


# ---- reading ------------------------------------------------------------------------


@dataclass
class Payload:
    """A parsed payload over an open file: the manifest and where everything is."""

    file: BinaryIO
    base: int  # where payload.bin starts inside `file` (an OTA zip member is read in place)
    size: int
    manifest: um.DeltaArchiveManifest
    manifest_size: int
    metadata_signature_size: int
    source: str

    @property
    def metadata_size(self) -> int:
        return HEADER.size + self.manifest_size

    @property
    def data_offset(self) -> int:
        return self.metadata_size + self.metadata_signature_size

    @property
    def is_full(self) -> bool:
        return not any(p.HasField("old_partition_info") for p in self.manifest.partitions)

    def read(self, offset: int, length: int) -> bytes:
        if offset < 0 or length < 0 or offset + length > self.size:
            raise InputError(f"payload is truncated: needs bytes {offset}..{offset + length} of {self.size}",
                             file=self.source)
        self.file.seek(self.base + offset)
        data = self.file.read(length)
        if len(data) != length:
            raise InputError("payload is truncated", file=self.source)
        return data

    def metadata(self) -> bytes:
        return self.read(0, self.metadata_size)

    def metadata_signature(self) -> bytes:
        return self.read(self.metadata_size, self.metadata_signature_size)

    def blob(self, op: um.InstallOperation) -> bytes:
        return self.read(self.data_offset + op.data_offset, op.data_length)

    def blob_reader(self, op: um.InstallOperation):
        """(offset, length) → bytes of the operation's data blob, bounds-checked (for streaming)."""
        base, size = self.data_offset + op.data_offset, op.data_length

        def read(offset: int, length: int) -> bytes:
            if offset < 0 or length < 0 or offset + length > size:
                raise ValueError("read past the end of an operation's data")
            return self.read(base + offset, length)

        return read

    def signatures_blob(self) -> bytes:
        return self.read(self.data_offset + self.manifest.signatures_offset, self.manifest.signatures_size)


def parse_payload(file: BinaryIO, *, base: int = 0, size: int, source: str) -> Payload:
    """Header and manifest; every later read is bounds-checked against `size`."""
    if size < HEADER.size:
        raise InputError("payload is too short to hold a header", file=source)
    file.seek(base)
    magic, major, manifest_size, sig_size = HEADER.unpack(file.read(HEADER.size))
    if magic != MAGIC:
        raise InputError(f"not an update_engine payload (magic {magic!r}, expected b'CrAU')", file=source)
    if major != MAJOR_VERSION:
        raise InputError(f"payload major version {major}; romforge reads version {MAJOR_VERSION}", file=source)
    if manifest_size > min(MAX_MANIFEST, size) or HEADER.size + manifest_size + sig_size > size:
        raise InputError(f"manifest size {manifest_size} does not fit a {size}-byte payload", file=source)
    manifest = um.DeltaArchiveManifest()
    try:
        manifest.ParseFromString(file.read(manifest_size))
    except Exception as exc:  # protobuf's DecodeError and friends
        raise InputError(f"manifest is not a valid DeltaArchiveManifest ({exc})", file=source) from None
    return Payload(file, base, size, manifest, manifest_size, sig_size, source)


def parse_signatures(data: bytes, *, source: str, what: str) -> list[bytes]:
    sigs = um.Signatures()
    try:
        sigs.ParseFromString(data)
    except Exception:
        raise InputError(f"{what} is not a Signatures message", file=source) from None
    return [s.data[:s.unpadded_signature_size] if s.HasField("unpadded_signature_size") else s.data
            for s in sigs.signatures]

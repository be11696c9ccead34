"""Verify, apply and describe OTA packages, the way update_engine and its checker would.

Everything is checked before a single output byte is written: the zip's whole-file
signature, metadata and payload signatures (with a key), payload_properties hashes,
every data blob's SHA-256, manifest consistency (block size, minor version, contiguous
data offsets, extents inside partitions, every block written exactly once) and, for an
incremental, every source image's size and SHA-256. Images are then written to temporary
names in the output directory (operations read the source image and write that separate
target, as update_engine does on A/B devices, so their order is free), their SHA-256
checked against the manifest, and renamed into place together.
"""

from __future__ import annotations

import base64
import hashlib
import lzma
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from romforge.errors import InputError, ReleaseError
from romforge.ota.keys import verify_digest
from romforge.ota.package import PAYLOAD, OtaPackage, check_metadata, open_ota_package, verify_whole_file
from romforge.ota.bspatch import bspatch_bytes, bspatch_stream, decompress_stream
from romforge.ota.payload import (BLOCK_SIZE, FULL_MINOR_VERSION, OP_NAMES, SUPPORTED_DELTA_MINORS, Op, Payload,
                                  parse_payload, parse_signatures)
from romforge.ota.puff import PuffError
from romforge.ota.puffdiff import apply_puffdiff, read_puffdiff
from romforge.tree import sha256_file

FULL_OPS = {Op.REPLACE, Op.REPLACE_BZ, Op.REPLACE_XZ}
DELTA_OPS = FULL_OPS | {Op.SOURCE_COPY, Op.SOURCE_BSDIFF, Op.BROTLI_BSDIFF, Op.PUFFDIFF, Op.ZERO}
MIN_MINOR = {Op.BROTLI_BSDIFF: 4, Op.PUFFDIFF: 5}  # update_engine's kBrotliBsdiffMinorPayloadVersion, kPuffdiff…
PARTITION_NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")  # it names files in --out and --source
MAX_PARTITION_BYTES = 64 << 30  # larger claims are refused before anything is sized from them
MAX_PUFFDIFF_BYTES = 512 << 20  # a PUFFDIFF is applied in memory: larger source or destination is refused
COMPRESSED = {Op.REPLACE_BZ, Op.REPLACE_XZ, Op.SOURCE_BSDIFF, Op.BROTLI_BSDIFF, Op.PUFFDIFF}
DIFFS = {Op.SOURCE_BSDIFF, Op.BROTLI_BSDIFF, Op.PUFFDIFF}
PIECE = 1 << 20


class OtaRejected(InputError):
    """The OTA package failed verification; nothing was written."""


@dataclass
class OtaReport:
    path: Path
    kind: str  # "full" | "incremental"
    minor_version: int
    payload_size: int
    partitions: list[dict] = field(default_factory=list)
    metadata: dict[str, str] = field(default_factory=dict)
    signed_by_key: bool | None = None


# ---- verification -------------------------------------------------------------------


def _extent_blocks(extents) -> int:
    return sum(e.num_blocks for e in extents)


def _fail(pkg: OtaPackage | Path, message: str, hint: str | None = None) -> OtaRejected:
    path = pkg.path if isinstance(pkg, OtaPackage) else pkg
    return OtaRejected(message, file=path, hint=hint)


def check_manifest(payload: Payload, pkg: OtaPackage) -> None:
    """update_engine's checker rules over the manifest and every data blob."""
    m = payload.manifest
    if not m.HasField("block_size") or m.block_size != BLOCK_SIZE:
        raise _fail(pkg, f"manifest block_size is {m.block_size if m.HasField('block_size') else 'unset'}, "
                         f"expected {BLOCK_SIZE}")
    if not m.HasField("minor_version"):
        raise _fail(pkg, "manifest minor_version is not set")
    if not m.partitions:
        raise _fail(pkg, "manifest updates no partition")
    has_old = [p.HasField("old_partition_info") for p in m.partitions]
    if any(has_old) and not all(has_old):
        raise _fail(pkg, "old_partition_info is on some partitions but not all")
    full = not any(has_old)
    if full and m.minor_version != FULL_MINOR_VERSION:
        raise _fail(pkg, f"full payload with minor version {m.minor_version} (must be 0)")
    if not full and m.minor_version not in SUPPORTED_DELTA_MINORS:
        raise _fail(pkg, f"incremental payload with minor version {m.minor_version}; "
                         f"supported: {', '.join(map(str, SUPPORTED_DELTA_MINORS))}")
    if not (m.HasField("signatures_offset") and m.HasField("signatures_size")):
        raise _fail(pkg, "payload is unsigned (no signatures_offset/signatures_size)")
    names = [p.partition_name for p in m.partitions]
    bad = [n for n in names if not PARTITION_NAME.match(n)]
    if bad:
        raise _fail(pkg, f"partition name {bad[0][:40]!r} is not a plain partition name")
    if len(set(names)) != len(names):
        raise _fail(pkg, "a partition appears twice in the manifest")
    allowed = FULL_OPS if full else DELTA_OPS
    offset = 0
    for part in m.partitions:
        name = part.partition_name
        for info in (part.new_partition_info, part.old_partition_info):
            if info.size > MAX_PARTITION_BYTES:
                raise _fail(pkg, f"{name}: claims a {info.size}-byte partition, over the "
                                 f"{MAX_PARTITION_BYTES >> 30} GiB romforge accepts")
        new_blocks = part.new_partition_info.size // BLOCK_SIZE
        if part.new_partition_info.size % BLOCK_SIZE or len(part.new_partition_info.hash) != 32:
            raise _fail(pkg, f"{name}: new_partition_info needs a block-aligned size and a SHA-256 hash")
        old_blocks = None
        if not full:
            info = part.old_partition_info
            if info.size % BLOCK_SIZE or len(info.hash) != 32:
                raise _fail(pkg, f"{name}: old_partition_info needs a block-aligned size and a SHA-256 hash")
            old_blocks = info.size // BLOCK_SIZE
        writer = [-1] * new_blocks
        for index, op in enumerate(part.operations):
            where = f"{name} operation {index} ({OP_NAMES.get(op.type, op.type)})"
            if op.type not in allowed or m.minor_version < MIN_MINOR.get(op.type, 0):
                raise _fail(pkg, f"{where}: not allowed in a {'full' if full else 'minor ' + str(m.minor_version)} "
                                 "payload")
            if op.HasField("src_length") or op.HasField("dst_length"):
                raise _fail(pkg, f"{where}: src_length/dst_length are not used from minor version 4 on")
            if not op.dst_extents:
                raise _fail(pkg, f"{where}: no dst_extents")
            for e in op.dst_extents:
                if not e.HasField("start_block") or e.num_blocks == 0 or e.start_block + e.num_blocks > new_blocks:
                    raise _fail(pkg, f"{where}: dst extent {e.start_block}+{e.num_blocks} is outside {name} "
                                     f"({new_blocks} blocks)")
                for b in range(e.start_block, e.start_block + e.num_blocks):
                    if writer[b] != -1:
                        raise _fail(pkg, f"{where}: block {b} of {name} is written twice")
                    writer[b] = index
            for e in op.src_extents:
                if old_blocks is None or not e.HasField("start_block") or e.num_blocks == 0 \
                        or e.start_block + e.num_blocks > old_blocks:
                    raise _fail(pkg, f"{where}: src extent {e.start_block}+{e.num_blocks} is outside the source {name}")
            dst_bytes = _extent_blocks(op.dst_extents) * BLOCK_SIZE
            has_data = op.HasField("data_offset") or op.HasField("data_length")
            if op.type in (Op.SOURCE_COPY, Op.ZERO):
                if has_data:
                    raise _fail(pkg, f"{where}: carries data it must not have")
            else:
                if not (op.HasField("data_offset") and op.HasField("data_length")):
                    raise _fail(pkg, f"{where}: data_offset/data_length missing")
                if op.data_offset != offset:
                    raise _fail(pkg, f"{where}: data_offset {op.data_offset} is not contiguous (expected {offset})")
                if op.type in COMPRESSED and op.data_length >= dst_bytes:
                    raise _fail(pkg, f"{where}: {op.data_length} bytes of data are not smaller than its blocks")
                if op.type == Op.REPLACE and not dst_bytes - BLOCK_SIZE < op.data_length <= dst_bytes:
                    raise _fail(pkg, f"{where}: {op.data_length} bytes do not fill its {dst_bytes // BLOCK_SIZE} blocks")
                if len(op.data_sha256_hash) != 32 or _blob_sha256(payload, op) != op.data_sha256_hash:
                    raise _fail(pkg, f"{where}: data blob does not match its data_sha256_hash (corrupted or "
                                     "tampered payload)", hint="download the OTA again")
                offset += op.data_length
            if op.type == Op.SOURCE_COPY or op.type in DIFFS:
                if not op.src_extents:
                    raise _fail(pkg, f"{where}: a source operation without src_extents")
                if len(op.src_sha256_hash) != 32:
                    raise _fail(pkg, f"{where}: src_sha256_hash missing")
                if op.type == Op.SOURCE_COPY and _extent_blocks(op.src_extents) != _extent_blocks(op.dst_extents):
                    raise _fail(pkg, f"{where}: copies {_extent_blocks(op.src_extents)} blocks into "
                                     f"{_extent_blocks(op.dst_extents)}")
        if -1 in writer:
            raise _fail(pkg, f"{name}: block {writer.index(-1)} is never written")
    if m.signatures_offset != offset:
        raise _fail(pkg, f"signatures_offset {m.signatures_offset} is not the end of the data ({offset})")
    end = payload.data_offset + m.signatures_offset + m.signatures_size
    if end != payload.size:
        raise _fail(pkg, f"payload is {payload.size} bytes but its manifest accounts for {end}",
                    hint="the payload was truncated or has trailing bytes")


def _blob_sha256(payload: Payload, op) -> bytes:
    h = hashlib.sha256()
    read = payload.blob_reader(op)
    for at in range(0, op.data_length, PIECE):
        h.update(read(at, min(PIECE, op.data_length - at)))
    return h.digest()


def _open_payload(pkg: OtaPackage):
    offset, size = pkg.payload_span
    f = open(pkg.path, "rb")
    try:
        return f, parse_payload(f, base=offset, size=size, source=f"{pkg.path}:{PAYLOAD}")
    except Exception:
        f.close()
        raise


def _check_properties(pkg: OtaPackage, payload: Payload) -> None:
    props = pkg.properties
    try:
        size, metadata_size = int(props["FILE_SIZE"]), int(props["METADATA_SIZE"])
        file_hash, metadata_hash = base64.b64decode(props["FILE_HASH"]), base64.b64decode(props["METADATA_HASH"])
    except (KeyError, ValueError) as exc:
        raise _fail(pkg, f"payload_properties.txt is incomplete ({exc})") from None
    if size != payload.size or metadata_size != payload.metadata_size:
        raise _fail(pkg, "payload_properties.txt sizes do not match payload.bin (truncated or replaced payload)")
    if hashlib.sha256(payload.metadata()).digest() != metadata_hash:
        raise _fail(pkg, "payload metadata (header + manifest) does not match METADATA_HASH: the manifest was "
                         "changed", hint="download the OTA again")
    h = hashlib.sha256()
    done = 0
    while done < payload.size:
        chunk = payload.read(done, min(1 << 20, payload.size - done))
        h.update(chunk)
        done += len(chunk)
    if h.digest() != file_hash:
        raise _fail(pkg, "payload.bin does not match FILE_HASH in payload_properties.txt",
                    hint="download the OTA again")


def _check_signatures(pkg: OtaPackage, payload: Payload, public) -> None:
    reason = verify_whole_file(pkg.path, public)
    if reason:
        raise _fail(pkg, reason)
    metadata = payload.metadata()
    msig = parse_signatures(payload.metadata_signature(), source=str(pkg.path), what="metadata signature")
    if not any(verify_digest(public, s, hashlib.sha256(metadata).digest()) for s in msig):
        raise _fail(pkg, "payload metadata signature does not verify with this key (signed with another key, or "
                         "the manifest was changed)")
    h = hashlib.sha256(metadata)
    done = 0
    total = payload.manifest.signatures_offset
    while done < total:
        chunk = payload.read(payload.data_offset + done, min(1 << 20, total - done))
        h.update(chunk)
        done += len(chunk)
    psig = parse_signatures(payload.signatures_blob(), source=str(pkg.path), what="payload signature")
    if not any(verify_digest(public, s, h.digest()) for s in psig):
        raise _fail(pkg, "payload signature does not verify with this key (signed with another key, or the "
                         "payload was changed)")


def verify_ota(path: Path, public=None) -> OtaReport:
    """Every check short of applying; raises OtaRejected naming the first problem."""
    pkg = open_ota_package(Path(path))
    problems = check_metadata(pkg)
    if problems:
        raise _fail(pkg, problems[0])
    f, payload = _open_payload(pkg)
    with f:
        _check_properties(pkg, payload)
        check_manifest(payload, pkg)
        if public is not None:
            _check_signatures(pkg, payload, public)
        return _report(pkg, payload, signed=public is not None)


def _report(pkg: OtaPackage, payload: Payload, *, signed: bool) -> OtaReport:
    m = payload.manifest
    report = OtaReport(pkg.path, "full" if payload.is_full else "incremental", m.minor_version, payload.size,
                       metadata={k: v.strip() for k, v in pkg.metadata_text.items()},
                       signed_by_key=True if signed else None)
    for part in m.partitions:
        counts = Counter(OP_NAMES[op.type] for op in part.operations)
        data = Counter()
        for op in part.operations:
            data[OP_NAMES[op.type]] += op.data_length
        entry = {"name": part.partition_name, "new_size": part.new_partition_info.size,
                 "new_sha256": part.new_partition_info.hash.hex(), "operations": dict(sorted(counts.items())),
                 "data_bytes": dict(sorted(data.items())), "data_total": sum(data.values())}
        if part.HasField("old_partition_info"):
            entry["old_size"] = part.old_partition_info.size
            entry["old_sha256"] = part.old_partition_info.hash.hex()
        report.partitions.append(entry)
    return report


def ota_info(path: Path) -> OtaReport:
    """Partitions, operation counts by type and sizes (structure is checked, signatures are not)."""
    return verify_ota(path, None)


# ---- applying -----------------------------------------------------------------------


class _ExtentIO:
    """An operation's extents of an open image as one stream of bytes."""

    def __init__(self, f, extents) -> None:
        self.f = f
        self.spans = [(e.start_block * BLOCK_SIZE, e.num_blocks * BLOCK_SIZE) for e in extents]
        self.size = sum(n for _, n in self.spans)
        self.pos = 0  # for writing: bytes written so far

    def read(self, offset: int, length: int) -> bytes:
        parts = []
        for start, n in self.spans:
            if length <= 0:
                break
            if offset >= n:
                offset -= n
                continue
            take = min(n - offset, length)
            self.f.seek(start + offset)
            data = self.f.read(take)
            parts.append(data + bytes(take - len(data)))
            length -= take
            offset = 0
        return b"".join(parts)

    def write(self, data: bytes) -> None:
        if self.pos + len(data) > self.size:
            raise ValueError("operation output does not fit its blocks")
        view = memoryview(data)
        offset, done = self.pos, 0
        for start, n in self.spans:
            if offset >= n:
                offset -= n
                continue
            take = min(n - offset, len(view) - done)
            self.f.seek(start + offset)
            self.f.write(view[done:done + take])
            done += take
            offset = 0
            if done == len(view):
                break
        self.pos += len(data)

    def pad(self) -> None:
        """Zeros to the end of the last block (a stream shorter than its blocks)."""
        while self.pos < self.size:
            self.write(bytes(min(PIECE, self.size - self.pos)))

    def sha256(self) -> bytes:
        h = hashlib.sha256()
        for at in range(0, self.size, PIECE):
            h.update(self.read(at, min(PIECE, self.size - at)))
        return h.digest()


def apply_operation(op, payload: Payload, source, out) -> None:
    """Write one operation's output into `out`, streaming: never more than a few MiB at once
    (a PUFFDIFF, applied in memory, is capped at MAX_PUFFDIFF_BYTES)."""
    dst = _ExtentIO(out, op.dst_extents)
    blob = payload.blob_reader(op) if op.HasField("data_length") else None
    if op.type == Op.REPLACE:
        for at in range(0, op.data_length, PIECE):
            dst.write(blob(at, min(PIECE, op.data_length - at)))
    elif op.type in (Op.REPLACE_XZ, Op.REPLACE_BZ):
        decompress_stream("xz" if op.type == Op.REPLACE_XZ else "bz2", blob, op.data_length, dst.write, dst.size)
    elif op.type != Op.ZERO:
        src = _ExtentIO(source, op.src_extents)
        if src.sha256() != op.src_sha256_hash:
            raise ValueError("source blocks do not match src_sha256_hash")
        if op.type == Op.SOURCE_COPY:
            for at in range(0, src.size, PIECE):
                dst.write(src.read(at, min(PIECE, src.size - at)))
        elif op.type == Op.PUFFDIFF:
            if max(src.size, dst.size) > MAX_PUFFDIFF_BYTES:
                raise ValueError(f"a PUFFDIFF over more than {MAX_PUFFDIFF_BYTES >> 20} MiB")
            patch = read_puffdiff(blob(0, op.data_length))
            dst.write(apply_puffdiff(src.read(0, src.size), patch, dst.size,
                                     lambda old, p, limit: bspatch_bytes(old, p, limit)))
        else:
            bspatch_stream(blob, op.data_length, src.read, src.size, dst.write, limit=dst.size)
    dst.pad()


def apply_ota(path: Path, out_dir: Path, *, source_dir: Path | None = None, public=None) -> OtaReport:
    """Verify, then write out_dir/<partition>.img for every partition of the payload."""
    pkg = open_ota_package(Path(path))
    report = verify_ota(path, public)
    f, payload = _open_payload(pkg)
    with f:
        parts = list(payload.manifest.partitions)
        if not payload.is_full:
            if source_dir is None:
                raise _fail(pkg, "this is an incremental OTA; give the images it updates with --source DIR")
            for part in parts:
                image = Path(source_dir) / f"{part.partition_name}.img"
                if not image.is_file():
                    raise _fail(pkg, f"source image {image} is missing")
                if image.stat().st_size != part.old_partition_info.size or \
                        bytes.fromhex(sha256_file(image)) != part.old_partition_info.hash:
                    raise _fail(pkg, f"wrong source: {image} is not the {part.partition_name} image this incremental "
                                     f"OTA updates (size or SHA-256 differ)",
                                hint=f"it needs pre-build {pkg.metadata_text.get('pre-build', '?')}")
        out_dir = Path(out_dir)
        targets = [out_dir / f"{p.partition_name}.img" for p in parts]
        existing = [t for t in targets if t.exists()]
        if existing:
            raise ReleaseError("already exists; apply never overwrites images", file=existing[0])
        out_dir.mkdir(parents=True, exist_ok=True)
        temps = [out_dir / f".{t.name}.partial" for t in targets]
        try:
            for part, temp in zip(parts, temps):
                source = None if payload.is_full else Path(source_dir) / f"{part.partition_name}.img"
                _apply_partition(pkg, payload, part, temp, source)
            for temp, target in zip(temps, targets):
                os.replace(temp, target)
        finally:
            for temp in temps:
                temp.unlink(missing_ok=True)
    return report


def _apply_partition(pkg: OtaPackage, payload: Payload, part, temp: Path, source: Path | None) -> None:
    src = open(source, "rb") if source is not None else None
    try:
        with open(temp, "wb") as out:
            out.truncate(part.new_partition_info.size)
            for index, op in enumerate(part.operations):
                try:
                    apply_operation(op, payload, src, out)
                except (ValueError, PuffError, lzma.LZMAError, OSError, EOFError) as exc:
                    raise _fail(pkg, f"{part.partition_name} operation {index} ({OP_NAMES[op.type]}) cannot be "
                                     f"applied: {exc}") from None
    finally:
        if src is not None:
            src.close()
    if bytes.fromhex(sha256_file(temp)) != part.new_partition_info.hash:
        raise _fail(pkg, f"{part.partition_name}: the applied image does not match new_partition_info's SHA-256")


def check_ota(path: Path, public=None) -> OtaReport:
    """verify_ota for `romforge ota verify`: a failed check is a finding (exit 3), not a crash."""
    from romforge.errors import CheckFailed, Finding

    try:
        return verify_ota(path, public)
    except OtaRejected as exc:
        raise CheckFailed("the OTA package failed verification; do not ship or install it",
                          [Finding(exc.file or str(path), None, "ota-verify", "error",
                                   exc.message + (f" (hint: {exc.hint})" if exc.hint else ""))]) from None

"""Verify and describe OTA packages the way update_engine and its checker would: every real
package, signed or not, as a zip or a bare payload.bin, minor versions up to 9.

Everything is checked before a single output byte is written: the zip's whole-file
signature, metadata and payload signatures (with a key), payload_properties hashes,
every data blob's SHA-256, manifest consistency (block size, minor version, contiguous
data offsets, extents inside partitions, every block written exactly once, no operation
reading a block an earlier one wrote). Which operations a minor version may use follows
update_engine's payload_consumer (kBrotliBsdiffMinorPayloadVersion 4, kPuffdiff 5,
kZucchini 8, kLZ4DIFF 9).
"""

from __future__ import annotations

import base64
import hashlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from romforge.errors import InputError
from romforge.numbers import ascii_uint
from romforge.ota.coverage import BlockWriters
from romforge.ota.fullapply import BLOB_MISMATCH
from romforge.ota.keys import verify_digest
from romforge.ota.package import PAYLOAD, OtaPackage, check_metadata, open_ota_package, verify_whole_file, whole_file_signer
from romforge.ota.payload import BLOCK_SIZE, FULL_MINOR_VERSION, OP_NAMES, Op, Payload, parse_payload, parse_signatures
from romforge.tree.paths import PARTITION_NAME  # it names files in --out and --source

FULL_OPS = {Op.REPLACE, Op.REPLACE_BZ, Op.REPLACE_XZ}
DELTA_OPS = FULL_OPS | {Op.SOURCE_COPY, Op.SOURCE_BSDIFF, Op.BROTLI_BSDIFF, Op.PUFFDIFF, Op.ZERO, Op.DISCARD,
                        Op.ZUCCHINI, Op.LZ4DIFF_BSDIFF, Op.LZ4DIFF_PUFFDIFF}
MIN_MINOR = {Op.BROTLI_BSDIFF: 4, Op.PUFFDIFF: 5, Op.ZUCCHINI: 8, Op.LZ4DIFF_BSDIFF: 9, Op.LZ4DIFF_PUFFDIFF: 9}
READABLE_DELTA_MINORS = (2, 3, 4, 5, 6, 7, 8, 9)  # update_engine's kSourceMinorPayloadVersion … kLZ4DIFF
MAX_PARTITION_BYTES = 64 << 30  # larger claims are refused before anything is sized from them
COMPRESSED = {Op.REPLACE_BZ, Op.REPLACE_XZ, Op.SOURCE_BSDIFF, Op.BROTLI_BSDIFF, Op.PUFFDIFF, Op.ZUCCHINI,
              Op.LZ4DIFF_BSDIFF, Op.LZ4DIFF_PUFFDIFF}
DIFFS = {Op.SOURCE_BSDIFF, Op.BROTLI_BSDIFF, Op.PUFFDIFF, Op.ZUCCHINI, Op.LZ4DIFF_BSDIFF, Op.LZ4DIFF_PUFFDIFF}
PIECE = 1 << 20


class OtaRejected(InputError):
    """The OTA package failed verification; nothing was written."""


@dataclass(frozen=True)
class SignatureInfo:
    """One signature of a package: what it covers, how it was made, what became of it."""

    covers: str  # "zip (signapk -w)", "payload metadata", "payload"
    algorithm: str  # "SHA-256 with RSA-2048", or "none"
    status: str  # "present" (not checked), "verified", "absent"

    def to_dict(self) -> dict:
        return {"covers": self.covers, "algorithm": self.algorithm, "status": self.status}


@dataclass
class OtaReport:
    path: Path
    kind: str  # "full" | "incremental"
    minor_version: int
    payload_size: int
    partitions: list[dict] = field(default_factory=list)
    metadata: dict[str, str] = field(default_factory=dict)
    signed_by_key: bool | None = None
    signatures: list[SignatureInfo] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def payload_signed(self) -> bool:
        return any(s.covers == "payload" and s.status != "absent" for s in self.signatures)


# ---- verification -------------------------------------------------------------------


def _extent_blocks(extents) -> int:
    return sum(e.num_blocks for e in extents)


def _fail(pkg: OtaPackage | Path, message: str, hint: str | None = None) -> OtaRejected:
    path = pkg.path if isinstance(pkg, OtaPackage) else pkg
    return OtaRejected(message, file=path, hint=hint)


def _holds_text(descriptor, seen: frozenset = frozenset()) -> bool:
    """Whether messages of this type can hold a string field anywhere below them."""
    if descriptor.full_name in seen:
        return False
    return any(f.type == f.TYPE_STRING or (f.type == f.TYPE_MESSAGE and _holds_text(f.message_type,
                                                                                     seen | {descriptor.full_name}))
               for f in descriptor.fields)


def _undecodable_text(message, where: str = "") -> str | None:
    """The first string field that is not UTF-8 (protobuf hands those over as bytes), as a path."""
    for fd, value in message.ListFields():
        repeated = fd.is_repeated if hasattr(fd, "is_repeated") else fd.label == fd.LABEL_REPEATED  # protobuf 7 / 4
        for index, item in enumerate(value if repeated else [value]):
            path = f"{where}{fd.name}[{index}]" if repeated else f"{where}{fd.name}"
            if fd.type == fd.TYPE_STRING and not isinstance(item, str):
                return path
            if fd.type == fd.TYPE_MESSAGE and _holds_text(fd.message_type):
                found = _undecodable_text(item, path + ".")
                if found:
                    return found
    return None


def check_manifest(payload: Payload, pkg: OtaPackage, *, blobs: bool = True) -> None:
    """update_engine's checker rules over the manifest and (with `blobs`) every data blob; without,
    the caller checks each blob's hash as it reads it (fullapply.py)."""
    m = payload.manifest
    undecodable = _undecodable_text(m)
    if undecodable:
        raise _fail(pkg, f"manifest field {undecodable} is not UTF-8 text")
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
    if not full and m.minor_version not in READABLE_DELTA_MINORS:
        raise _fail(pkg, f"incremental payload with minor version {m.minor_version}; update_engine reads "
                         f"{READABLE_DELTA_MINORS[0]} to {READABLE_DELTA_MINORS[-1]}")
    signed = m.HasField("signatures_offset") or m.HasField("signatures_size")
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
        dst: list[tuple[int, int, int]] = []
        for index, op in enumerate(part.operations):
            where = f"{name} operation {index} ({OP_NAMES.get(op.type, op.type)})"
            if op.type not in allowed or m.minor_version < MIN_MINOR.get(op.type, 0):
                raise _fail(pkg, f"{where}: not allowed in a {'full' if full else 'minor ' + str(m.minor_version)} "
                                 "payload")
            if (full or m.minor_version >= 4) and (op.HasField("src_length") or op.HasField("dst_length")):
                raise _fail(pkg, f"{where}: src_length/dst_length are not used from minor version 4 on")
            if not op.dst_extents:
                raise _fail(pkg, f"{where}: no dst_extents")
            for e in op.dst_extents:
                if not e.HasField("start_block") or e.num_blocks == 0 or e.start_block + e.num_blocks > new_blocks:
                    raise _fail(pkg, f"{where}: dst extent {e.start_block}+{e.num_blocks} is outside {name} "
                                     f"({new_blocks} blocks)")
                dst.append((e.start_block, e.num_blocks, index))
            for e in op.src_extents:
                if old_blocks is None or not e.HasField("start_block") or e.num_blocks == 0 \
                        or e.start_block + e.num_blocks > old_blocks:
                    raise _fail(pkg, f"{where}: src extent {e.start_block}+{e.num_blocks} is outside the source {name}")
            dst_bytes = _extent_blocks(op.dst_extents) * BLOCK_SIZE
            has_data = op.HasField("data_offset") or op.HasField("data_length")
            if op.type in (Op.SOURCE_COPY, Op.ZERO, Op.DISCARD):
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
                if len(op.data_sha256_hash) != 32 or (blobs and _blob_sha256(payload, op) != op.data_sha256_hash):
                    raise _fail(pkg, f"{where}: {BLOB_MISMATCH}", hint="download the OTA again")
                offset += op.data_length
            if op.type == Op.SOURCE_COPY or op.type in DIFFS:
                if not op.src_extents:
                    raise _fail(pkg, f"{where}: a source operation without src_extents")
                if len(op.src_sha256_hash) != 32:
                    raise _fail(pkg, f"{where}: src_sha256_hash missing")
                if op.type == Op.SOURCE_COPY and _extent_blocks(op.src_extents) != _extent_blocks(op.dst_extents):
                    raise _fail(pkg, f"{where}: copies {_extent_blocks(op.src_extents)} blocks into "
                                     f"{_extent_blocks(op.dst_extents)}")
        _check_coverage(pkg, part, BlockWriters(dst), new_blocks)
    if signed and m.signatures_offset != offset:
        raise _fail(pkg, f"signatures_offset {m.signatures_offset} is not the end of the data ({offset})")
    end = payload.data_offset + (m.signatures_offset + m.signatures_size if signed else offset)
    if end != payload.size:
        raise _fail(pkg, f"payload is {payload.size} bytes but its manifest accounts for {end}",
                    hint="the payload was truncated or has trailing bytes")


def _blob_sha256(payload: Payload, op) -> bytes:
    h = hashlib.sha256()
    read = payload.blob_reader(op)
    for at in range(0, op.data_length, PIECE):
        h.update(read(at, min(PIECE, op.data_length - at)))
    return h.digest()


def _check_coverage(pkg: OtaPackage, part, writers: BlockWriters, blocks: int) -> None:
    """Every block written exactly once (per extent: a 64 GiB claim costs what its manifest lines
    cost). Operations read the source slot, so no order between them is required."""
    name = part.partition_name
    twice = writers.written_twice()
    if twice is not None:
        block, index = twice
        op = part.operations[index]
        raise _fail(pkg, f"{name} operation {index} ({OP_NAMES.get(op.type, op.type)}): block {block} of {name} "
                         "is written twice")
    unwritten = writers.first_unwritten(blocks)
    if unwritten is not None:
        raise _fail(pkg, f"{name}: block {unwritten} is never written")


def _open_payload(pkg: OtaPackage):
    offset, size = pkg.payload_span
    f = open(pkg.path, "rb")
    try:
        return f, parse_payload(f, base=offset, size=size, source=f"{pkg.path}:{PAYLOAD}")
    except Exception:
        f.close()
        raise


def _check_properties(pkg: OtaPackage, payload: Payload, *, whole: bool = True) -> None:
    """payload_properties.txt against the payload; FILE_HASH only with `whole` (else the
    caller hashes the payload as it applies it, expected_file_hash)."""
    if not pkg.is_zip:
        return  # a bare payload.bin comes without payload_properties.txt
    props = pkg.properties
    try:
        size, metadata_size = ascii_uint(props["FILE_SIZE"]), ascii_uint(props["METADATA_SIZE"])
        file_hash, metadata_hash = base64.b64decode(props["FILE_HASH"]), base64.b64decode(props["METADATA_HASH"])
    except (KeyError, ValueError) as exc:
        raise _fail(pkg, f"payload_properties.txt is incomplete ({exc})") from None
    if size is None or metadata_size is None:
        raise _fail(pkg, "payload_properties.txt: FILE_SIZE and METADATA_SIZE must be numbers (ASCII digits)")
    if size != payload.size or metadata_size != payload.metadata_size:
        raise _fail(pkg, "payload_properties.txt sizes do not match payload.bin (truncated or replaced payload)")
    if hashlib.sha256(payload.metadata()).digest() != metadata_hash:
        raise _fail(pkg, "payload metadata (header + manifest) does not match METADATA_HASH: the manifest was "
                         "changed", hint="download the OTA again")
    if not whole:
        return
    h = hashlib.sha256()
    done = 0
    while done < payload.size:
        chunk = payload.read(done, min(1 << 20, payload.size - done))
        h.update(chunk)
        done += len(chunk)
    if h.digest() != file_hash:
        raise _fail(pkg, "payload.bin does not match FILE_HASH in payload_properties.txt",
                    hint="download the OTA again")


def expected_file_hash(pkg: OtaPackage) -> bytes | None:
    """FILE_HASH of payload_properties.txt (checked readable by _check_properties); None for a
    bare payload.bin."""
    return base64.b64decode(pkg.properties["FILE_HASH"]) if pkg.is_zip else None


def _rsa_name(signature: bytes) -> str:
    return f"SHA-256 with RSA-{len(signature) * 8}"  # update_engine signs SHA-256 digests only


def describe_signatures(pkg: OtaPackage, payload: Payload) -> list[SignatureInfo]:
    """Every signature the package carries and its algorithm, without checking any."""
    infos = []
    if pkg.is_zip:
        try:
            signer = whole_file_signer(pkg.path)
        except InputError as exc:
            infos.append(SignatureInfo("zip (signapk -w)", "unreadable", exc.message))
        else:
            infos.append(SignatureInfo("zip (signapk -w)", signer.algorithm if signer else "none",
                                       "present" if signer else "absent"))
    m = payload.manifest
    parts = [("payload metadata", payload.metadata_signature() if payload.metadata_signature_size else b"")]
    if m.HasField("signatures_offset") and m.signatures_size:
        parts.append(("payload", payload.signatures_blob()))
    else:
        parts.append(("payload", b""))
    for covers, blob in parts:
        sigs = parse_signatures(blob, source=str(pkg.path), what=f"{covers} signature") if blob else []
        if not sigs:
            infos.append(SignatureInfo(covers, "none", "absent"))
        infos.extend(SignatureInfo(covers, _rsa_name(sig), "present") for sig in sigs)
    return infos


def _check_signatures(pkg: OtaPackage, payload: Payload, public, infos: list[SignatureInfo]) -> list[SignatureInfo]:
    """Each signature checked against `public`; the first failure raises, naming its algorithm."""
    weak = [i for i in infos if i.covers != "zip (signapk -w)" and i.status == "present" and "RSA-1024" in i.algorithm]
    if weak:
        raise _fail(pkg, f"the {weak[0].covers} signature uses {weak[0].algorithm}; RSA keys under 2048 bits are weak "
                         "and romforge does not trust them")
    if pkg.is_zip:
        reason = verify_whole_file(pkg.path, public)
        if reason:
            raise _fail(pkg, reason)
    if any(i.covers == "payload" and i.status == "absent" for i in infos):
        raise _fail(pkg, "the payload is unsigned: there is no signature to verify",
                    hint="sign it (romforge ota full/diff sign every payload), or use ota info / ota apply")
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
    return [SignatureInfo(i.covers, i.algorithm, "verified" if i.status == "present" else i.status) for i in infos]


def verify_ota(path: Path, public=None, *, full_data_later: bool = False) -> OtaReport:
    """Every check short of applying; raises OtaRejected naming the first problem. Without a key,
    signatures are described, not checked (that is `ota info`). With `full_data_later`, a full
    payload's FILE_HASH and blob hashes are left to the apply, which checks them as it decodes
    (fullapply.py: one pass over the bytes instead of three)."""
    pkg = open_ota_package(Path(path))
    problems = check_metadata(pkg)
    if problems:
        raise _fail(pkg, problems[0])
    f, payload = _open_payload(pkg)
    with f:
        data = not (full_data_later and payload.is_full)
        _check_properties(pkg, payload, whole=data)
        check_manifest(payload, pkg, blobs=data)
        infos = describe_signatures(pkg, payload)
        if public is not None:
            infos = _check_signatures(pkg, payload, public, infos)
        report = _report(pkg, payload, signed=public is not None)
        report.signatures = infos
        if not report.payload_signed:
            report.warnings.append("the payload is unsigned: nothing proves who made it")
        return report


def _report(pkg: OtaPackage, payload: Payload, *, signed: bool) -> OtaReport:
    m = payload.manifest
    report = OtaReport(pkg.path, "full" if payload.is_full else "incremental", m.minor_version, payload.size,
                       metadata={k: v.strip() for k, v in pkg.metadata_text.items()},
                       signed_by_key=True if signed else None)
    for part in m.partitions:
        counts = Counter(OP_NAMES.get(op.type, str(op.type)) for op in part.operations)
        data: Counter = Counter()
        for op in part.operations:
            data[OP_NAMES.get(op.type, str(op.type))] += op.data_length
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


def check_ota(path: Path, public=None) -> OtaReport:
    """verify_ota for `romforge ota verify`: a failed check is a finding (exit 3), not a crash."""
    from romforge.errors import CheckFailed, Finding

    try:
        return verify_ota(path, public)
    except OtaRejected as exc:
        raise CheckFailed("the OTA package failed verification; do not ship or install it",
                          [Finding(exc.file or str(path), None, "ota-verify", "error",
                                   exc.message + (f" (hint: {exc.hint})" if exc.hint else ""))]) from None

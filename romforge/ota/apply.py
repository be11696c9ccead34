"""Apply OTA packages to images, the way update_engine would, after verify.py has checked them.

Images are written to temporary names in the output directory, their SHA-256 checked against
the manifest, and renamed into place together. An operation romforge cannot apply (ZUCCHINI,
LZ4DIFF_*) stops the run before anything is written, naming the operation and partition; an
unsigned payload is applied with a warning in the report.
"""

from __future__ import annotations

import hashlib
import lzma
import os
from pathlib import Path

from romforge.errors import ReleaseError
from romforge.outputs import make_directory
from romforge.safeio import open_regular_file
from romforge.ota.bspatch import bspatch_bytes, bspatch_stream, decompress_stream
from romforge.ota.package import OtaPackage, open_ota_package
from romforge.ota.fullapply import apply_full_payload, write_at
from romforge.ota.payload import BLOCK_SIZE, OP_NAMES, Op, Payload
from romforge.ota.puff import PuffError
from romforge.ota.puffdiff import apply_puffdiff, read_puffdiff
from romforge.ota.verify import (OtaRejected, OtaReport, _fail, _open_payload, check_ota, expected_file_hash,  # noqa: F401
                                 ota_info, verify_ota)
from romforge.run.cores import Cores
from romforge.run.progress import NullProgress, Progress
from romforge.tree import sha256_file

APPLICABLE_OPS = {Op.REPLACE, Op.REPLACE_BZ, Op.REPLACE_XZ, Op.SOURCE_COPY, Op.SOURCE_BSDIFF, Op.BROTLI_BSDIFF,
                  Op.PUFFDIFF, Op.ZERO, Op.DISCARD}
MAX_PUFFDIFF_BYTES = 512 << 20  # a PUFFDIFF is applied in memory: larger source or destination is refused
PIECE = 1 << 20


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
        self.f.flush()  # the bytes go to the descriptor with pwrite, past the file object's buffer
        write_at(self.f.fileno(), self.spans, self.pos, data)
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
    elif op.type not in (Op.ZERO, Op.DISCARD):
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


def apply_ota(path: Path, out_dir: Path, *, source_dir: Path | None = None, public=None,
              progress: Progress | None = None, cores: Cores | None = None) -> OtaReport:
    """Verify, then write out_dir/<partition>.img for every partition of the payload (a step of
    `progress` per partition). A full payload's operations write disjoint blocks and read
    nothing but their data, so they are applied side by side on the cores the run lends."""
    pkg = open_ota_package(Path(path))
    report = verify_ota(path, public, full_data_later=True)
    f, payload = _open_payload(pkg)
    with f:
        parts = list(payload.manifest.partitions)
        for part in parts:
            for index, op in enumerate(part.operations):
                if op.type not in APPLICABLE_OPS:
                    raise _fail(pkg, f"{part.partition_name} operation {index} is "
                                     f"{OP_NAMES.get(op.type, op.type)}, which romforge cannot apply "
                                     f"(minor version {payload.manifest.minor_version}); nothing was written",
                                hint="update_engine on the device applies it; romforge applies REPLACE*, ZERO, "
                                     "SOURCE_COPY, *BSDIFF and PUFFDIFF")
        if not payload.is_full:
            if source_dir is None:
                raise _fail(pkg, "this is an incremental OTA; give the images it updates with --source DIR")
            for part in parts:
                image = Path(source_dir) / f"{part.partition_name}.img"
                if not image.is_file():
                    raise _fail(pkg, f"source image {image} is missing or not a regular file")
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
        make_directory(out_dir)
        temps = [out_dir / f".{t.name}.partial" for t in targets]
        progress = progress or NullProgress()
        try:
            for part, temp in zip(parts, temps):
                with open(temp, "wb") as out:
                    out.truncate(part.new_partition_info.size)
            if payload.is_full:
                problem = apply_full_payload(payload, pkg.path, parts, temps, file_hash=expected_file_hash(pkg),
                                             progress=progress, cores=cores)
                if problem is not None:
                    raise _fail(pkg, problem[0], hint=problem[1])
            else:
                for part, temp in zip(parts, temps):
                    _apply_delta_partition(pkg, payload, part, temp, Path(source_dir) / f"{part.partition_name}.img",
                                           progress)
            for temp, target in zip(temps, targets):
                os.replace(temp, target)
        finally:
            for temp in temps:
                temp.unlink(missing_ok=True)
    return report


def _apply_delta_partition(pkg: OtaPackage, payload: Payload, part, temp: Path, source: Path,
                           progress: Progress) -> None:
    operations = list(part.operations)
    progress.step(f"apply {part.partition_name}", total=len(operations))
    with open_regular_file(source, shown=str(source), follow_symlinks=True) as src, open(temp, "r+b") as out:
        for index, op in enumerate(operations):
            problem = _apply_one(part.partition_name, index, op, payload, src, out)
            if problem:
                raise _fail(pkg, problem)
            progress.advance(1)
    if bytes.fromhex(sha256_file(temp)) != part.new_partition_info.hash:
        raise _fail(pkg, f"{part.partition_name}: the applied image does not match new_partition_info's SHA-256")


def _apply_one(name: str, index: int, op, payload: Payload, src, out) -> str | None:
    try:
        apply_operation(op, payload, src, out)
    except (ValueError, PuffError, lzma.LZMAError, OSError, EOFError) as exc:
        return f"{name} operation {index} ({OP_NAMES[op.type]}) cannot be applied: {exc}"
    return None

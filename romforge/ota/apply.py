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
from romforge.ota.payload import BLOCK_SIZE, OP_NAMES, Op, Payload, parallel_map, parse_payload
from romforge.ota.puff import PuffError
from romforge.ota.puffdiff import apply_puffdiff, read_puffdiff
from romforge.ota.verify import (OtaRejected, OtaReport, _fail, _open_payload, check_ota, ota_info,  # noqa: F401
                                 verify_ota)
from romforge.run.cores import Cores
from romforge.run.progress import NullProgress, Progress
from romforge.tree import sha256_file

APPLICABLE_OPS = {Op.REPLACE, Op.REPLACE_BZ, Op.REPLACE_XZ, Op.SOURCE_COPY, Op.SOURCE_BSDIFF, Op.BROTLI_BSDIFF,
                  Op.PUFFDIFF, Op.ZERO, Op.DISCARD}
MAX_PUFFDIFF_BYTES = 512 << 20  # a PUFFDIFF is applied in memory: larger source or destination is refused
PIECE = 1 << 20
FULL_RANGE = 16  # full-payload operations per worker task (2 MiB each: 32 MiB of image)


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
    report = verify_ota(path, public)
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
        try:
            for part, temp in zip(parts, temps):
                source = None if payload.is_full else Path(source_dir) / f"{part.partition_name}.img"
                _apply_partition(pkg, payload, part, temp, source, progress or NullProgress(), cores)
            for temp, target in zip(temps, targets):
                os.replace(temp, target)
        finally:
            for temp in temps:
                temp.unlink(missing_ok=True)
    return report


def _apply_partition(pkg: OtaPackage, payload: Payload, part, temp: Path, source: Path | None,
                     progress: Progress, cores: Cores | None) -> None:
    operations = list(part.operations)
    with open(temp, "wb") as out:
        out.truncate(part.new_partition_info.size)
    if source is None:
        index = next(i for i, p in enumerate(payload.manifest.partitions) if p.partition_name == part.partition_name)
        ranges = [(str(pkg.path), payload.base, payload.size, index, start, min(start + FULL_RANGE, len(operations)),
                   str(temp)) for start in range(0, len(operations), FULL_RANGE)]
        progress.step(f"apply {part.partition_name}", total=len(ranges))
        for failure in parallel_map(_apply_full_range, ranges, cores=cores):
            if failure is not None:
                raise _fail(pkg, failure)
        progress.advance(len(ranges))
    else:
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


def _apply_full_range(job: tuple[str, int, int, int, int, int, str]) -> str | None:
    """Operations start..stop of one partition of a full payload, in a worker: the payload is
    opened and its manifest parsed again there (it was checked before any worker started)."""
    path, base, size, partition, start, stop, temp = job
    with open(path, "rb") as f, open(temp, "r+b") as out:
        payload = parse_payload(f, base=base, size=size, source=path)
        part = payload.manifest.partitions[partition]
        for index in range(start, stop):
            problem = _apply_one(part.partition_name, index, part.operations[index], payload, None, out)
            if problem:
                return problem
    return None

"""A full payload applied in one pass over its bytes, on the run's cores.

A full payload's operations write disjoint blocks and read nothing but their own data blob, so
forked workers apply ranges of them side by side, a bounded number in flight. A worker reads
each blob once: it checks data_sha256_hash on those bytes and only then decodes them (a blob
too large to hold is hashed in a streaming pass first, then decoded streaming), writing with
pwrite straight at the operation's extents. Meanwhile this process streams the payload once
for FILE_HASH and hashes each partition image in block order as the finished prefix grows, so
when the last worker stops only an unhashed tail is left. Every check verify.py makes on a
full payload still holds; what changes is only when the bytes are hashed. Nothing is renamed
into place by the caller before all of them agree, and the first problem reported is the one
a sequential check would have met first (FILE_HASH, then the lowest operation, then the image).
"""

from __future__ import annotations

import hashlib
import lzma
import os
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from pathlib import Path

from romforge.ota.bspatch import decompress_stream
from romforge.ota.payload import BLOCK_SIZE, OP_NAMES, Op, Payload
from romforge.run.cores import Cores, standalone
from romforge.run.progress import Progress

RANGE_BYTES = 32 << 20  # image bytes per worker task: few tasks, yet a short tail
INLINE_BLOB = 16 << 20  # a blob up to this size is read once, hashed and decoded from memory
HASH_PIECE = 8 << 20  # bytes this process hashes between looks at the workers' results
IN_FLIGHT = 2  # tasks queued per worker: none waits for work, memory stays bounded
PIECE = 1 << 20  # bytes per pwrite: bounds a worker's buffer for streamed blobs
BLOB_MISMATCH = "data blob does not match its data_sha256_hash (corrupted or tampered payload)"

# one operation as a worker gets it: (index, type, file offset of its blob, blob length,
# data_sha256_hash, output spans as (byte offset in the image, byte length))
OpJob = tuple[int, int, int, int, bytes, tuple[tuple[int, int], ...]]
Problem = tuple[str, str | None]  # (message, hint)


class _BlobMismatch(Exception):
    pass


def write_at(fd: int, spans, pos: int, data) -> int:
    """Write `data` at byte `pos` of an operation's output (its extents' bytes laid end to end)
    with pwrite; returns how many bytes fitted (the caller refuses output past its blocks)."""
    view = memoryview(data)
    done = 0
    for start, n in spans:
        if done == len(view):
            break
        if pos >= n:
            pos -= n
            continue
        take = min(n - pos, len(view) - done)
        at = start + pos
        piece = view[done:done + take]
        while piece:
            written = os.pwrite(fd, piece, at)
            piece, at = piece[written:], at + written
        done += take
        pos = 0
    return done


class _Sink:
    """An operation's output spans as a stream that refuses bytes past its blocks."""

    def __init__(self, fd: int, spans) -> None:
        self.fd, self.spans = fd, spans
        self.size = sum(n for _, n in spans)
        self.pos = 0

    def write(self, data) -> None:
        if self.pos + len(data) > self.size:
            raise ValueError("decompressed data does not fit its blocks")
        write_at(self.fd, self.spans, self.pos, data)
        self.pos += len(data)


def _pread(fd: int, offset: int, length: int) -> bytes:
    data = os.pread(fd, length, offset)
    if len(data) != length:
        raise EOFError("payload is truncated")
    return data


def _apply_op(fd_in: int, fd_out: int, op: OpJob) -> None:
    _, kind, offset, length, digest, spans = op
    if length <= INLINE_BLOB:
        view = memoryview(_pread(fd_in, offset, length))
        if hashlib.sha256(view).digest() != digest:
            raise _BlobMismatch

        def read(at: int, n: int):
            return view[at:at + n]
    else:
        h = hashlib.sha256()
        for at in range(0, length, HASH_PIECE):
            h.update(_pread(fd_in, offset + at, min(HASH_PIECE, length - at)))
        if h.digest() != digest:
            raise _BlobMismatch

        def read(at: int, n: int):
            return _pread(fd_in, offset + at, n)
    sink = _Sink(fd_out, spans)
    if kind == Op.REPLACE:
        for at in range(0, length, PIECE):
            sink.write(read(at, min(PIECE, length - at)))
    elif kind in (Op.REPLACE_XZ, Op.REPLACE_BZ):
        decompress_stream("xz" if kind == Op.REPLACE_XZ else "bz2", read, length, sink.write, sink.size)
    else:  # verify.py allows nothing else in a full payload
        raise ValueError("not an operation of a full payload")


def apply_range(job: tuple[str, str, str, tuple[OpJob, ...]]) -> tuple[int, Problem] | None:
    """Operations of one partition, in a worker: (operation index, problem) of the first that
    fails, None when all were written."""
    payload_path, name, image_path, ops = job
    fd_in = os.open(payload_path, os.O_RDONLY)
    try:
        fd_out = os.open(image_path, os.O_WRONLY)
        try:
            for op in ops:
                where = f"{name} operation {op[0]} ({OP_NAMES.get(op[1], op[1])})"
                try:
                    _apply_op(fd_in, fd_out, op)
                except _BlobMismatch:
                    return op[0], (f"{where}: {BLOB_MISMATCH}", "download the OTA again")
                except (ValueError, lzma.LZMAError, OSError, EOFError) as exc:  # bz2 says OSError
                    return op[0], (f"{where} cannot be applied: {exc}", None)
        finally:
            os.close(fd_out)
    finally:
        os.close(fd_in)
    return None


class _StreamHash:
    """SHA-256 of a span of a file, one piece per step."""

    def __init__(self, path: str, offset: int, size: int, buf: bytearray) -> None:
        self.fd = os.open(path, os.O_RDONLY)
        self.h, self.at, self.end = hashlib.sha256(), offset, offset + size
        self.buf = buf  # shared by every hash of one apply: one piece of memory, whatever the partitions

    @property
    def done(self) -> bool:
        return self.at >= self.end

    def step(self, limit: int | None = None) -> None:
        """Hash the next piece (not past `limit`); a short file leaves the digest wrong, never hangs."""
        stop = min(self.end, limit if limit is not None else self.end, self.at + HASH_PIECE)
        view = memoryview(self.buf)[:stop - self.at]
        got = os.preadv(self.fd, [view], self.at) if len(view) else 0
        self.h.update(view[:got])
        self.at = stop if got == len(view) else self.end

    def finish(self) -> bytes:
        while not self.done:
            self.step()
        return self.h.digest()

    def close(self) -> None:
        os.close(self.fd)


class _ImageHash:
    """SHA-256 of a partition image in block order, over the prefix its finished operations wrote."""

    def __init__(self, path: str, size: int, buf: bytearray) -> None:
        self.stream = _StreamHash(path, 0, size, buf)
        self.written: dict[int, int] = {}  # start → end byte of finished spans not yet reached
        self.ready = 0  # bytes from 0 that are written

    def finished(self, spans) -> None:
        for start, n in spans:
            self.written[start] = start + n
        while self.ready in self.written:
            self.ready = self.written.pop(self.ready)

    @property
    def can_step(self) -> bool:
        return self.stream.at < self.ready

    def step(self) -> None:
        self.stream.step(self.ready)


def _jobs(payload: Payload, path: str, parts, temps: list[Path]) -> list[tuple[int, tuple]]:
    """(partition index, worker job) for every range of operations, in manifest order."""
    jobs = []
    for k, (part, temp) in enumerate(zip(parts, temps)):
        batch: list[OpJob] = []
        size = 0
        for index, op in enumerate(part.operations):
            spans = tuple((e.start_block * BLOCK_SIZE, e.num_blocks * BLOCK_SIZE) for e in op.dst_extents)
            batch.append((index, op.type, payload.base + payload.data_offset + op.data_offset, op.data_length,
                          op.data_sha256_hash, spans))
            size += sum(n for _, n in spans)
            if size >= RANGE_BYTES or index == len(part.operations) - 1:
                jobs.append((k, (path, part.partition_name, str(temp), tuple(batch))))
                batch, size = [], 0
    return jobs


def apply_full_payload(payload: Payload, path: Path, parts, temps: list[Path], *, file_hash: bytes | None,
                       progress: Progress, cores: Cores | None) -> Problem | None:
    """Write every partition of a full payload into its (sized, zero) temp image and check it all:
    FILE_HASH (when given), each blob's hash, each image's new_partition_info hash. Returns the
    first problem, or None when the images are right."""
    jobs = _jobs(payload, str(path), parts, temps)
    buf = bytearray(HASH_PIECE)
    streams: list[_StreamHash] = []
    try:
        whole = None
        if file_hash is not None:
            whole = _StreamHash(str(path), payload.base, payload.size, buf)
            streams.append(whole)
        images = []
        for part, temp in zip(parts, temps):
            images.append(_ImageHash(str(temp), part.new_partition_info.size, buf))
            streams.append(images[-1].stream)
        problems = _run_jobs(jobs, images, whole, _PartitionSteps(parts, [sum(1 for k, _ in jobs if k == i)
                                                                          for i in range(len(parts))], progress),
                             cores)
        if whole is not None and whole.finish() != file_hash:
            return "payload.bin does not match FILE_HASH in payload_properties.txt", "download the OTA again"
        if problems:
            return problems[min(problems)]
        for part, image in zip(parts, images):
            if image.stream.finish() != part.new_partition_info.hash:
                return f"{part.partition_name}: the applied image does not match new_partition_info's SHA-256", None
        return None
    finally:
        for stream in streams:
            stream.close()


def _run_jobs(jobs: list[tuple[int, tuple]], images: list[_ImageHash], whole: _StreamHash | None,
              shown: _PartitionSteps, cores: Cores | None) -> dict[tuple[int, int], Problem]:
    """Every job on the borrowed cores, hashing between results; {(job, operation): problem}.
    Once a job fails no later one starts, but every earlier one finishes, so the lowest
    problem is the same whatever order the workers finish in."""
    problems: dict[tuple[int, int], Problem] = {}
    stop = len(jobs)

    def record(j: int, result) -> None:
        nonlocal stop
        k, job = jobs[j]
        if result is not None:
            problems[(j, result[0])] = result[1]
            stop = min(stop, j + 1)
        else:
            images[k].finished(span for op in job[3] for span in op[5])
        shown.done(k)

    def hash_a_piece() -> bool:
        for image in images:
            if image.can_step:
                image.step()
                return True
        if whole is not None and not whole.done:
            whole.step()
            return True
        return False

    with (cores or standalone()).borrow(len(jobs)) as workers:
        if workers <= 1:
            for j in range(len(jobs)):
                if j < stop:
                    record(j, apply_range(jobs[j][1]))
                while hash_a_piece():
                    pass
            return problems
        with ProcessPoolExecutor(max_workers=workers) as pool:
            pending: dict = {}
            submitted = 0
            while pending or submitted < stop:
                while submitted < stop and len(pending) < workers * IN_FLIGHT:
                    pending[pool.submit(apply_range, jobs[submitted][1])] = submitted
                    submitted += 1
                busy = any(i.can_step for i in images) or (whole is not None and not whole.done)
                finished, _ = wait(pending, timeout=0 if busy else None, return_when=FIRST_COMPLETED)
                for future in finished:
                    record(pending.pop(future), future.result())
                if not finished:
                    hash_a_piece()
    return problems


class _PartitionSteps:
    """One progress step per partition, in manifest order, though ranges finish out of order."""

    def __init__(self, parts, totals: list[int], progress: Progress) -> None:
        self.names, self.totals, self.progress = [p.partition_name for p in parts], totals, progress
        self.counts = [0] * len(parts)
        self.current = -1
        self._next()

    def _next(self) -> None:
        while self.current + 1 < len(self.names):
            self.current += 1
            k = self.current
            self.progress.step(f"apply {self.names[k]}", total=self.totals[k])
            if self.counts[k]:
                self.progress.advance(self.counts[k])
            if self.counts[k] < self.totals[k]:
                return

    def done(self, k: int) -> None:
        self.counts[k] += 1
        if k == self.current:
            self.progress.advance(1)
            if self.counts[k] == self.totals[k]:
                self._next()

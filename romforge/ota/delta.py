"""Incremental payload planning: which operations turn the old image into the new one, cheaply.

File-aware, like AOSP's delta_generator: the block map of every file in both images
(read from the filesystem) pairs each new file with its old version — same path, else
identical content elsewhere (a moved file), else the same name in another directory — and

- unchanged or moved files become SOURCE_COPY,
- changed files become SOURCE_BSDIFF (BSDIFF40 via bsdiff4; small files are diffed in
  groups so the patch headers and bzip2 streams are shared) or REPLACE_XZ when smaller,
- new files become REPLACE_XZ (grouped into chunks of up to 2 MiB),
- the remaining blocks (superblock, inodes, directories) are matched block by block
  against the whole old image, zero blocks become ZERO, and what is left is diffed
  against the old image's non-file blocks.

Operations are then ordered so that none reads a block an earlier one wrote (the rule an
in-place or snapshot-merged update needs); an operation caught in a cycle becomes a
REPLACE_XZ. Diffing runs on every core.
"""

from __future__ import annotations

import hashlib
import heapq
import mmap
import os
import posixpath
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import bsdiff4

from romforge.ota.images import file_map
from romforge.ota.payload import BLOCK_SIZE, FULL_CHUNK_BLOCKS, Op, Operation, best_replace, parallel_map

GROUP_BYTES = 1 << 20  # changed files smaller than this are diffed together up to this much
MAX_COPY_BLOCKS = 8192  # 32 MiB per merged SOURCE_COPY
ZERO_BLOCK = bytes(BLOCK_SIZE)
Extents = list[tuple[int, int]]


def _blocks_of(extents: Extents) -> list[int]:
    return [b for start, count in extents for b in range(start, start + count)]


def to_extents(blocks: list[int]) -> Extents:
    """Consecutive block numbers → (start, count) runs, in the given order."""
    extents: Extents = []
    for b in blocks:
        if extents and extents[-1][0] + extents[-1][1] == b:
            extents[-1] = (extents[-1][0], extents[-1][1] + 1)
        else:
            extents.append((b, 1))
    return extents


class _Image:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.size = path.stat().st_size
        self.blocks = self.size // BLOCK_SIZE
        self._f = open(path, "rb")
        self.data = mmap.mmap(self._f.fileno(), 0, access=mmap.ACCESS_READ) if self.size else b""
        self.files = file_map(path, directories=True)

    def block(self, b: int) -> bytes:
        return self.data[b * BLOCK_SIZE:(b + 1) * BLOCK_SIZE]

    def read(self, extents: Extents) -> bytes:
        return b"".join(self.data[s * BLOCK_SIZE:(s + n) * BLOCK_SIZE] for s, n in extents)

    def close(self) -> None:
        if isinstance(self.data, mmap.mmap):
            self.data.close()
        self._f.close()


def _digest(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=16).digest()


# ---- work done in worker processes ----------------------------------------------------


def _read(path: str, extents: Extents) -> bytes:
    with open(path, "rb") as f:
        parts = []
        for start, count in extents:
            f.seek(start * BLOCK_SIZE)
            parts.append(f.read(count * BLOCK_SIZE))
    return b"".join(parts)


def _diff_job(job: tuple[str, Extents, str, Extents]) -> tuple[int, bytes]:
    """SOURCE_BSDIFF or the best REPLACE, whichever carries fewer bytes."""
    old_path, src, new_path, dst = job
    new = _read(new_path, dst)
    kind, data = best_replace(new, try_bz2=False)
    if src:
        patch = bsdiff4.diff(_read(old_path, src), new)
        if len(patch) < len(data) and len(patch) < len(new):
            return Op.SOURCE_BSDIFF, patch
    return kind, data


# ---- planning ------------------------------------------------------------------------


@dataclass
class _Job:
    src: Extents
    dst: Extents

    @property
    def size(self) -> int:
        return sum(n for _, n in self.dst) * BLOCK_SIZE


def _pair_files(old: _Image, new: _Image) -> tuple[dict[int, int], list[_Job], list[Extents]]:
    """(block copy map new→old, diff jobs for changed files, extents of new files)."""
    copies: dict[int, int] = {}
    diffs: list[_Job] = []
    fresh: list[Extents] = []
    old_by_content: dict[bytes, str] = {}
    old_by_name: dict[str, list[str]] = defaultdict(list)
    old_digest: dict[str, bytes] = {}
    for path in sorted(old.files):
        d = _digest(old.read(old.files[path]))
        old_digest[path] = d
        old_by_content.setdefault(d, path)
        old_by_name[posixpath.basename(path)].append(path)
    for path in sorted(new.files):
        dst = new.files[path]
        d = _digest(new.read(dst))
        source = path if path in old.files else old_by_content.get(d)
        if source is None and len(old_by_name.get(posixpath.basename(path), ())) == 1:
            source = old_by_name[posixpath.basename(path)][0]
        if source is None:
            fresh.append(dst)
        elif old_digest[source] == d:
            for n, o in zip(_blocks_of(dst), _blocks_of(old.files[source])):
                copies[n] = o
        else:
            diffs.append(_Job(old.files[source], dst))
    return copies, diffs, fresh


def _group(jobs: list[_Job], limit: int) -> list[_Job]:
    """Small jobs concatenated (source and destination alike) up to `limit` bytes."""
    grouped: list[_Job] = []
    current: _Job | None = None
    for job in jobs:
        if job.size >= limit:
            grouped.append(job)
            continue
        if current is not None and current.size + job.size > limit:
            grouped.append(current)
            current = None
        if current is None:
            current = _Job(list(job.src), list(job.dst))
        else:
            current.src.extend(job.src)
            current.dst.extend(job.dst)
    if current is not None:
        grouped.append(current)
    return grouped


def _chunks(extents: list[Extents], limit_blocks: int) -> list[Extents]:
    """Destination extents packed into chunks of at most `limit_blocks` blocks."""
    blocks = [b for e in extents for b in _blocks_of(e)]
    return [to_extents(blocks[i:i + limit_blocks]) for i in range(0, len(blocks), limit_blocks)]


def plan_delta(old_image: Path, new_image: Path, *, jobs: int | None = None,
               advance: Callable[[int], None] | None = None) -> list[Operation]:
    """Operations that turn `old_image` into `new_image`, every new block written exactly once."""
    old, new = _Image(old_image), _Image(new_image)
    try:
        copies, diff_jobs, fresh = _pair_files(old, new)
        covered = set(copies)
        for job in diff_jobs:
            covered.update(_blocks_of(job.dst))
        for e in fresh:
            covered.update(_blocks_of(e))
        # the rest: superblock, inodes — matched block by block against the whole old image
        old_index: dict[bytes, int] = {}
        for b in range(old.blocks):
            old_index.setdefault(_digest(old.block(b)), b)
        zeros: list[int] = []
        leftover: list[int] = []
        for b in range(new.blocks):
            if b in covered:
                continue
            data = new.block(b)
            if data == ZERO_BLOCK:
                zeros.append(b)
            elif b < old.blocks and old.block(b) == data:
                copies[b] = b
            else:
                match = old_index.get(_digest(data))
                if match is not None and old.block(match) == data:
                    copies[b] = match
                else:
                    leftover.append(b)
        # changed metadata is diffed against old non-file blocks that no other operation
        # overwrites (those it rewrites itself, or past the new end), so it joins no cycle
        old_file_blocks = {b for e in old.files.values() for b in _blocks_of(e)}
        own = set(leftover)
        safe_meta = to_extents([b for b in range(old.blocks)
                                if b not in old_file_blocks and (b in own or b >= new.blocks)])
        pending: list[Operation] = []
        for job in diff_jobs:
            pending.append(Operation(Op.SOURCE_BSDIFF, job.dst, job.src))
        for chunk in _chunks([to_extents(leftover)], FULL_CHUNK_BLOCKS * 4):
            pending.append(Operation(Op.SOURCE_BSDIFF if safe_meta else Op.REPLACE_XZ, chunk, safe_meta))
        for e in fresh:
            pending.append(Operation(Op.REPLACE_XZ, e))
        for run_dst, run_src in _copy_runs(copies):
            pending.append(Operation(Op.SOURCE_COPY, [run_dst], [run_src]))
        for e in to_extents(zeros):
            pending.append(Operation(Op.ZERO, [e]))
        pending.sort(key=lambda op: (_RANK[op.type], op.dst[0]))
        ordered = _merge_neighbours(order_operations(pending, new.blocks))
        work = [i for i, op in enumerate(ordered) if op.type in (Op.SOURCE_BSDIFF, Op.REPLACE_XZ)]
        biggest_first = sorted(work, key=lambda i: -ordered[i].dst_blocks)  # keeps both cores busy to the end
        results = parallel_map(_diff_job, [(str(old.path), ordered[i].src if ordered[i].type == Op.SOURCE_BSDIFF
                                            else [], str(new.path), ordered[i].dst) for i in biggest_first],
                               jobs=jobs)
        if advance:
            advance(len(work))
        for i, (kind, data) in zip(biggest_first, results):
            op = ordered[i]
            ordered[i] = Operation(kind, op.dst, op.src if kind == Op.SOURCE_BSDIFF else [], data)
        for op in ordered:
            if op.src:
                op.src_sha256 = hashlib.sha256(old.read(op.src)).digest()
        return ordered
    finally:
        old.close()
        new.close()


_RANK = {Op.SOURCE_COPY: 0, Op.ZERO: 1, Op.SOURCE_BSDIFF: 2, Op.REPLACE_XZ: 3}


def _copy_runs(copies: dict[int, int]) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    runs: list[list[int]] = []  # [dst_start, src_start, count]
    for n in sorted(copies):
        o = copies[n]
        if runs and runs[-1][0] + runs[-1][2] == n and runs[-1][1] + runs[-1][2] == o:
            runs[-1][2] += 1
        else:
            runs.append([n, o, 1])
    return [((d, c), (s, c)) for d, s, c in runs]


# ---- ordering ------------------------------------------------------------------------


def _graph(ops: list[Operation], new_blocks: int) -> tuple[list[int], list[set[int]], list[set[int]]]:
    """writer of each block, and edges reader → writer (the reader must run first)."""
    writer = [-1] * new_blocks
    for i, op in enumerate(ops):
        for start, count in op.dst:
            writer[start:start + count] = [i] * count
    succ: list[set[int]] = [set() for _ in ops]
    pred: list[set[int]] = [set() for _ in ops]
    for i, op in enumerate(ops):
        for start, count in op.src:
            for w in set(writer[start:min(start + count, new_blocks)]):
                if w != -1 and w != i:
                    succ[i].add(w)
                    pred[w].add(i)
    return writer, succ, pred


def _topological(succ: list[set[int]], pred: list[set[int]]) -> tuple[list[int], list[bool]]:
    indegree = [len(p) for p in pred]
    ready = [i for i, d in enumerate(indegree) if d == 0]
    heapq.heapify(ready)
    order: list[int] = []
    done = [False] * len(succ)
    while ready:
        i = heapq.heappop(ready)
        done[i] = True
        order.append(i)
        for w in succ[i]:
            indegree[w] -= 1
            if indegree[w] == 0:
                heapq.heappush(ready, w)
    return order, done


def order_operations(ops: list[Operation], new_blocks: int) -> list[Operation]:
    """A valid order: an operation that reads block b runs before the one that writes b.

    A cycle is broken at one of its edges: when the reader is a SOURCE_COPY, only the blocks
    it would read after they were overwritten become a REPLACE*; otherwise the cheapest
    operation on the cycle becomes a REPLACE* and reads nothing. Operations are still
    pending here (no data): a REPLACE_XZ without data is compressed later."""
    ops = list(ops)
    while True:
        writer, succ, pred = _graph(ops, new_blocks)
        order, done = _topological(succ, pred)
        if len(order) == len(ops):
            return [ops[i] for i in order]
        cycle = _find_cycle(pred, done)
        edges = [(cycle[k], cycle[k - 1]) for k in range(len(cycle))]  # (reader, writer): reader → writer
        copies = [(r, w) for r, w in edges if ops[r].type == Op.SOURCE_COPY]
        if copies:
            reader, target = min(copies, key=lambda e: (_overlap(ops[e[0]], ops[e[1]]), e))
            ops.extend(_split_copy(ops, reader, target))
        else:
            victim = min(cycle, key=lambda i: (ops[i].dst_blocks, i))
            ops[victim] = Operation(Op.REPLACE_XZ, ops[victim].dst)


def _find_cycle(pred: list[set[int]], done: list[bool]) -> list[int]:
    """Walk predecessors from a waiting operation until one repeats: [n0, n1, …] with n(k+1) → n(k)."""
    node = next(i for i, d in enumerate(done) if not d)
    seen: dict[int, int] = {}
    path: list[int] = []
    while node not in seen:
        seen[node] = len(path)
        path.append(node)
        node = min(p for p in pred[node] if not done[p])
    return path[seen[node]:]


def _overlap(reader: Operation, writer: Operation) -> int:
    written = set(_blocks_of(writer.dst))
    return sum(1 for b in _blocks_of(reader.src) if b in written)


def _split_copy(ops: list[Operation], reader: int, target: int) -> list[Operation]:
    """Keep `reader` a SOURCE_COPY for the blocks `target` does not overwrite; the rest is replaced."""
    op = ops[reader]
    written = set(_blocks_of(ops[target].dst))
    keep_src: list[int] = []
    keep_dst: list[int] = []
    moved_dst: list[int] = []
    for s, d in zip(_blocks_of(op.src), _blocks_of(op.dst)):
        if s in written:
            moved_dst.append(d)
        else:
            keep_src.append(s)
            keep_dst.append(d)
    if not keep_dst:
        ops[reader] = Operation(Op.REPLACE_XZ, op.dst)
        return []
    ops[reader] = Operation(Op.SOURCE_COPY, to_extents(keep_dst), to_extents(keep_src))
    return [Operation(Op.REPLACE_XZ, to_extents(sorted(moved_dst)))]


def _merge_neighbours(ops: list[Operation]) -> list[Operation]:
    """Consecutive operations of one kind as one: copies up to 32 MiB, small diffs up to 1 MiB
    (one patch header and one set of bzip2 streams), replacements up to 2 MiB. Merging
    neighbours keeps the order valid: the merged operation reads everything before it writes."""
    limits = {Op.SOURCE_COPY: MAX_COPY_BLOCKS, Op.ZERO: MAX_COPY_BLOCKS,
              Op.SOURCE_BSDIFF: GROUP_BYTES // BLOCK_SIZE, Op.REPLACE_XZ: FULL_CHUNK_BLOCKS}
    merged: list[Operation] = []
    for op in ops:
        last = merged[-1] if merged else None
        limit = limits.get(op.type, 0)
        if (last is not None and last.type == op.type and not op.data and not last.data
                and last.dst_blocks + op.dst_blocks <= limit):
            last.dst = _join(last.dst + op.dst)
            last.src = _join(last.src + op.src)
        else:
            merged.append(Operation(op.type, list(op.dst), list(op.src), op.data, op.src_sha256))
    return merged


def _join(extents: Extents) -> Extents:
    out: Extents = []
    for start, count in extents:
        if out and out[-1][0] + out[-1][1] == start:
            out[-1] = (out[-1][0], out[-1][1] + count)
        else:
            out.append((start, count))
    return out

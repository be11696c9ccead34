"""Incremental payload planning: which operations turn the old image into the new one, cheaply.

File-aware, like AOSP's delta_generator: the block map of every file and directory in both
images (read from the filesystem) pairs each new file with its old version — same path,
else identical content elsewhere (a moved file), else the same name in another directory,
else an old file of the same kind and size as a diff base — and

- unchanged or moved files become SOURCE_COPY,
- changed files are diffed against their old version (bsdiff, written as BSDF2 with each
  stream in bzip2 or brotli, whichever is smaller: a BROTLI_BSDIFF operation), or
  REPLACE_XZ when that is smaller; where bsdiff's approximate match is no match (mostly
  non-zero diff bytes) the new bytes go to the literal stream, which compresses,
- short unchanged stretches between changed files join the diff next to them,
- the remaining blocks (superblock, inodes) are matched block by block against the whole
  old image, zero blocks become ZERO, and what is left is diffed against the old
  image's non-file blocks.

Order: no operation may read a block an earlier one wrote (what an in-place or
snapshot-merged update needs). Operations that depend on each other in a cycle are fused
into one operation, which reads all its sources before writing: its patch is composed from
the per-file patches plus copy entries, so fusing costs a few control bytes, not a diff
of the whole region. The strongly connected components of the read/write graph, in
topological order, give a valid order; neighbours are then fused the same way, up to 64 MiB,
so small diffs share patch headers and compression context. A fused operation reads the
union of its sources in image order (its patch moves the old pointer accordingly), which
keeps its extents in the manifest few. Diffing runs on every core; files over 8 MiB are
diffed in windows.
"""

from __future__ import annotations

import hashlib
import heapq
import mmap
import posixpath
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from romforge.ota.images import file_map
from romforge.run.cores import Cores
from romforge.ota.payload import (BLOCK_SIZE, FULL_CHUNK_BLOCKS, Op, Operation, best_replace, bsdf2_from_streams,
                                  parallel_map)

FUSE_BLOCKS = 16384  # neighbours are fused into operations of up to 64 MiB
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
        self.by_ext: dict[str, list[tuple[int, str]]] | None = None

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


# ---- segments and operations ---------------------------------------------------------

COPY, DIFF, DATA, ZERO = "copy", "diff", "data", "zero"


@dataclass
class _Segment:
    """One piece of work: copy src→dst, diff src→dst, new data for dst, or zeros for dst."""

    kind: str
    dst: Extents
    src: Extents = field(default_factory=list)

    @property
    def blocks(self) -> int:
        return sum(n for _, n in self.dst)


@dataclass
class _Node:
    """A future operation: one or more segments fused (fused nodes read all sources first)."""

    segments: list[_Segment]

    @property
    def kind(self) -> str:
        kinds = {s.kind for s in self.segments}
        if kinds <= {COPY}:
            return COPY
        if kinds & {COPY, DIFF}:
            return DIFF
        return kinds.pop()

    @property
    def blocks(self) -> int:
        return sum(s.blocks for s in self.segments)

    @property
    def src(self) -> Extents:
        return [e for s in self.segments for e in s.src]

    @property
    def dst(self) -> Extents:
        return [e for s in self.segments for e in s.dst]


# ---- work done in worker processes ----------------------------------------------------


def _read(path: str, extents: Extents) -> bytes:
    with open(path, "rb") as f:
        parts = []
        for start, count in extents:
            f.seek(start * BLOCK_SIZE)
            parts.append(f.read(count * BLOCK_SIZE))
    return b"".join(parts)


def _decode_control(raw: bytes) -> list[list[int]]:
    def int64(b: bytes) -> int:
        v = int.from_bytes(b, "little")
        return -(v & ((1 << 63) - 1)) if v >> 63 else v

    return [[int64(raw[i + j:i + j + 8]) for j in (0, 8, 16)] for i in range(0, len(raw), 24)]


def _encode_control(entries: list[list[int]]) -> bytes:
    def int64(v: int) -> bytes:
        return (v if v >= 0 else (1 << 63) | -v).to_bytes(8, "little")

    return b"".join(int64(x) + int64(y) + int64(z) for x, y, z in entries)


@dataclass
class _Piece:
    """A stretch of a fused operation's output: a copy of old bytes, or a window of a bsdiff patch. Old positions are local to the segment's own
    source blocks; `block_map` takes a local old block to its place in the operation's source."""

    dst_start: int
    dst_blocks: list[int]
    block_map: list[int]
    local_old: int
    length: int = 0  # copies: bytes to copy
    entries: list[list[int]] | None = None  # diffs: control entries (add, extra, seek)
    diff: bytes = b""
    extra: bytes = b""


class _Composer:
    """Builds one bsdiff control/diff/extra triple over the operation's whole source, moving the
    old pointer explicitly before every run that reads old bytes."""

    def __init__(self) -> None:
        self.entries: list[list[int]] = []
        self.diffs: list[bytes] = []
        self.extras: list[bytes] = []
        self.oldpos = 0

    def _entry(self, x: int, y: int) -> None:
        last = self.entries[-1] if self.entries else None
        if last is not None and last[2] == 0 and (last[1] == 0 or x == 0):
            last[0] += x
            last[1] += y
        else:
            self.entries.append([x, y, 0])

    def seek(self, to: int) -> None:
        if to != self.oldpos:
            if not self.entries:
                self.entries.append([0, 0, 0])
            self.entries[-1][2] += to - self.oldpos
            self.oldpos = to

    def add(self, block_map: list[int], local: int, diff: bytes) -> None:
        """len(diff) bytes added to old bytes starting at local offset `local`."""
        pos, n = 0, len(diff)
        while pos < n:
            q = local + pos
            block, offset = divmod(q, BLOCK_SIZE)
            run = BLOCK_SIZE - offset
            k = block
            while pos + run < n and k + 1 < len(block_map) and block_map[k + 1] == block_map[k] + 1:
                k += 1
                run += BLOCK_SIZE
            run = min(run, n - pos)
            self.seek(block_map[block] * BLOCK_SIZE + offset)
            self._entry(run, 0)
            self.diffs.append(diff[pos:pos + run])
            self.oldpos += run
            pos += run

    def literal(self, data: bytes) -> None:
        if data:
            self._entry(0, len(data))
            self.extras.append(data)

    def piece(self, p: _Piece) -> None:
        if p.entries is None:
            self.add(p.block_map, p.local_old, bytes(p.length))
            return
        local = p.local_old
        dpos = epos = 0
        for x, y, z in p.entries:
            if x:
                self.add(p.block_map, local, p.diff[dpos:dpos + x])
            self.literal(p.extra[epos:epos + y])
            local += x + z
            dpos += x
            epos += y

    def streams(self) -> tuple[bytes, bytes, bytes]:
        return _encode_control(self.entries), b"".join(self.diffs), b"".join(self.extras)


WINDOW_BYTES = 8 << 20  # a changed file larger than this is diffed in windows, on every core
WINDOW_MARGIN = 2 << 20  # how far before and after its window a piece may find old bytes


def _segment_job(job: tuple) -> tuple[bytes, bytes, bytes]:
    """Raw bsdiff streams for one piece of a changed file: new[n0:n1] against old[o0:o1]."""
    import bsdiff4.core

    old_path, src, new_path, dst, (o0, o1, n0, n1) = job
    old, new = _read(old_path, src), _read(new_path, dst)
    piece = new[n0:n1]
    ctrl, diff, extra = bsdiff4.core.diff(old[o0:o1], piece)
    return literalize(ctrl, diff, extra, piece)


LITERAL_CHUNK = 128
LITERAL_MAX_ZEROS = 0.5


def literalize(ctrl: bytes, diff: bytes, extra: bytes, new: bytes) -> tuple[bytes, bytes, bytes]:
    """Move stretches where bsdiff's approximate match is no match at all (most diff bytes
    non-zero: new bytes minus unrelated old ones) from the diff stream to the extra stream.

    The literal new bytes keep their own structure, which compresses; their difference from
    unrelated old bytes is noise, which does not. Each such stretch becomes a control entry
    that adds nothing, copies the bytes from the extra stream and moves the old pointer past
    the old bytes it skipped."""
    entries: list[list[int]] = []
    diffs: list[bytes] = []
    extras: list[bytes] = []
    newpos = dpos = epos = 0

    def emit(x: int, y: int, z: int) -> None:
        if entries and entries[-1][1] == 0 and entries[-1][2] == 0:
            entries[-1] = [entries[-1][0] + x, y, z]
        elif entries and x == 0 and entries[-1][2] == 0:
            entries[-1] = [entries[-1][0], entries[-1][1] + y, z]
        else:
            entries.append([x, y, z])

    for x, y, z in _decode_control(ctrl):
        added = diff[dpos:dpos + x]
        runs: list[list] = []
        for off in range(0, x, LITERAL_CHUNK):
            chunk = added[off:off + LITERAL_CHUNK]
            literal = len(chunk) >= 64 and chunk.count(0) < LITERAL_MAX_ZEROS * len(chunk)
            if runs and runs[-1][0] == literal:
                runs[-1][2] = off + len(chunk)
            else:
                runs.append([literal, off, off + len(chunk)])
        for literal, a, b in runs:
            if literal:
                emit(0, b - a, b - a)
                extras.append(new[newpos + a:newpos + b])
            else:
                emit(b - a, 0, 0)
                diffs.append(added[a:b])
        emit(0, y, z)
        extras.append(extra[epos:epos + y])
        newpos += x + y
        dpos += x
        epos += y
    return _encode_control(entries), b"".join(diffs), b"".join(extras)


def _windows(old_len: int, new_len: int) -> list[tuple[int, int, int, int]]:
    """(old start, old end, new start, new end) pieces of a diff: whole when small, else windows of
    the new bytes paired with the same stretch of the old ones (plus a margin)."""
    if new_len <= WINDOW_BYTES or old_len == 0:
        return [(0, old_len, 0, new_len)]
    pieces = []
    for n0 in range(0, new_len, WINDOW_BYTES):
        n1 = min(new_len, n0 + WINDOW_BYTES)
        o0 = max(0, min(old_len, n0 * old_len // new_len) - WINDOW_MARGIN)
        o1 = min(old_len, max(o0, n1 * old_len // new_len) + WINDOW_MARGIN)
        pieces.append((o0, o1, n0, n1))
    return pieces


def _node_job(job: tuple) -> tuple[int, bytes]:
    """One operation's data: a composed BSDF2 patch, or the best REPLACE when that is smaller."""
    new_path, dst, pieces, all_diff = job
    new = _read(new_path, dst)
    if pieces is None:
        return best_replace(new, try_bz2=False)
    composer = _Composer()
    for piece in pieces:
        composer.piece(piece)
    patch = bsdf2_from_streams(composer.streams(), len(new))
    if all_diff and len(new) <= 4 << 20:
        kind, data = best_replace(new, try_bz2=False)
        if len(data) <= len(patch):
            return kind, data
    if len(patch) >= len(new):
        return best_replace(new, try_bz2=False)
    return Op.BROTLI_BSDIFF, patch


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
            similar = _similar(old, path, dst)
            if similar is None:
                fresh.append(dst)
            else:  # a new file: diffed against an old one of its kind, kept only when that is smaller
                diffs.append(_Job(old.files[similar], dst))
        elif old_digest[source] == d:
            for n, o in zip(_blocks_of(dst), _blocks_of(old.files[source])):
                copies[n] = o
        else:
            diffs.append(_Job(old.files[source], dst))
    return copies, diffs, fresh


def _similar(old: _Image, path: str, dst: Extents) -> str | None:
    """The old file most like a new one: same extension, nearest size (same directory first)."""
    if path.endswith("/"):
        return None
    ext = posixpath.splitext(path)[1]
    if not ext:
        return None
    if old.by_ext is None:
        old.by_ext = defaultdict(list)
        for p, extents in old.files.items():
            if not p.endswith("/"):
                old.by_ext[posixpath.splitext(p)[1]].append((sum(n for _, n in extents), p))
    candidates = old.by_ext.get(ext)
    if not candidates:
        return None
    blocks = sum(n for _, n in dst)
    folder = posixpath.dirname(path)
    return min(candidates, key=lambda c: (posixpath.dirname(c[1]) != folder, abs(c[0] - blocks), c[1]))[1]


def plan_delta(old_image: Path, new_image: Path, *, jobs: int | None = None,
               advance: Callable[[int], None] | None = None, cores: Cores | None = None) -> list[Operation]:
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
        old_file_blocks = {b for e in old.files.values() for b in _blocks_of(e)}
        old_meta = to_extents([b for b in range(old.blocks) if b not in old_file_blocks])
        nodes = [_Node([_Segment(DIFF, job.dst, job.src)]) for job in diff_jobs]
        if leftover:
            kind = DIFF if old_meta else DATA
            nodes.append(_Node([_Segment(kind, to_extents(leftover), old_meta if old_meta else [])]))
        nodes += [_Node([_Segment(DATA, e)]) for e in fresh]
        nodes += [_Node([_Segment(COPY, [d], [s])]) for d, s in _copy_runs(copies)]
        nodes += [_Node([_Segment(ZERO, [e])]) for e in to_extents(zeros)]
        ordered = _fuse_neighbours(order_nodes(_absorb_small_copies(nodes), new.blocks))
        results = _compute(ordered, str(old.path), str(new.path), jobs, cores)
        if advance:
            advance(len(results))
        operations: list[Operation] = []
        for i, node in enumerate(ordered):
            if node.kind == COPY:
                op = Operation(Op.SOURCE_COPY, _join(node.dst), _join(node.src))
            elif node.kind == ZERO:
                op = Operation(Op.ZERO, _join(node.dst))
            else:
                dst, src, kind, data = results[i]
                op = Operation(kind, dst, src, data)
            if op.src:
                op.src_sha256 = hashlib.sha256(old.read(op.src)).digest()
            operations.append(op)
        return operations
    finally:
        old.close()
        new.close()


def _compute(ordered: list[_Node], old_path: str, new_path: str,
             jobs: int | None, cores: Cores | None = None) -> dict[int, tuple[Extents, Extents, int, bytes]]:
    """(dst, src, kind, data) of every DIFF/DATA node: first every diff window (biggest first, on
    every core), then each node's patch composed over its source blocks in image order and its
    output in image order (few extents in the manifest), compressed, again on every core."""
    windows = []  # (node, segment, (o0, o1, n0, n1), job)
    for i, node in enumerate(ordered):
        if node.kind != DIFF:
            continue
        for k, seg in enumerate(node.segments):
            if seg.kind == COPY:
                continue
            old_len, new_len = sum(n for _, n in seg.src) * BLOCK_SIZE, seg.blocks * BLOCK_SIZE
            for w in _windows(old_len, new_len):
                windows.append((i, k, w, (old_path, seg.src, new_path, seg.dst, w)))
    windows.sort(key=lambda item: -(item[2][3] - item[2][2]))  # biggest first keeps both cores busy
    raw = parallel_map(_segment_job, [w[3] for w in windows], jobs=jobs, cores=cores)
    by_segment: dict[tuple[int, int], list] = defaultdict(list)
    for (i, k, w, _), streams in zip(windows, raw):
        by_segment[(i, k)].append((w, streams))
    layouts: dict[int, tuple[Extents, Extents, list[_Piece] | None, bool]] = {}
    for i, node in enumerate(ordered):
        if node.kind == DATA:
            layouts[i] = (_join(node.dst), [], None, False)
        elif node.kind == DIFF:
            layouts[i] = _layout(i, node, by_segment)
    order = sorted(layouts, key=lambda i: -ordered[i].blocks)
    results = parallel_map(_node_job, [(new_path, layouts[i][0], layouts[i][2], layouts[i][3]) for i in order],
                           jobs=jobs, cores=cores)
    return {i: (layouts[i][0], layouts[i][1] if kind == Op.BROTLI_BSDIFF else [], kind, data)
            for i, (kind, data) in zip(order, results)}


def _layout(i: int, node: _Node, by_segment: dict) -> tuple[Extents, Extents, list[_Piece], bool]:
    """A fused node's source (the union of what its segments read, in image order: few extents in
    the manifest), its output and the pieces that fill it: copy runs and diff windows, in image
    order of where they land (a diff's own scattered blocks stay together: cutting them would
    cost more control bytes than the extents it saves)."""
    union = sorted({b for e in node.src for b in _blocks_of([e])})
    where = {b: k for k, b in enumerate(union)}
    pieces: list[_Piece] = []
    for k, seg in enumerate(node.segments):
        block_map = [where[b] for b in _blocks_of(seg.src)]
        dst_blocks = _blocks_of(seg.dst)
        if seg.kind == COPY:
            offset = 0
            for start, count in to_extents(dst_blocks):
                blocks = dst_blocks[offset // BLOCK_SIZE:offset // BLOCK_SIZE + count]
                pieces.append(_Piece(start, blocks, block_map, offset, length=count * BLOCK_SIZE))
                offset += count * BLOCK_SIZE
            continue
        for (o0, _o1, n0, n1), (ctrl, diff, extra) in by_segment[(i, k)]:
            blocks = dst_blocks[n0 // BLOCK_SIZE:n1 // BLOCK_SIZE]
            pieces.append(_Piece(blocks[0], blocks, block_map, o0, entries=_decode_control(ctrl), diff=diff,
                                 extra=extra))
    pieces.sort(key=lambda p: p.dst_start)
    dst = _join([(b, 1) for p in pieces for b in p.dst_blocks])
    return dst, to_extents(union), pieces, all(seg.kind != COPY for seg in node.segments)


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


def _edges(nodes: list[_Node], new_blocks: int) -> list[set[int]]:
    """reader → writers: the reader must run before every node that writes a block it reads."""
    writer = [-1] * new_blocks
    for i, node in enumerate(nodes):
        for start, count in node.dst:
            writer[start:start + count] = [i] * count
    succ: list[set[int]] = [set() for _ in nodes]
    for i, node in enumerate(nodes):
        for start, count in node.src:
            for w in set(writer[start:min(start + count, new_blocks)]):
                if w != -1 and w != i:
                    succ[i].add(w)
    return succ


def _strongly_connected(succ: list[set[int]]) -> list[list[int]]:
    """Tarjan's algorithm, iterative; components come out in reverse topological order."""
    index: dict[int, int] = {}
    low: dict[int, int] = {}
    on_stack: set[int] = set()
    stack: list[int] = []
    components: list[list[int]] = []
    counter = 0
    for root in range(len(succ)):
        if root in index:
            continue
        work = [(root, iter(sorted(succ[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(succ[child]))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                components.append(sorted(component))
    return components


_RANK = {COPY: 0, ZERO: 1, DIFF: 2, DATA: 3}


def order_nodes(nodes: list[_Node], new_blocks: int) -> list[_Node]:
    """A valid order: a node that reads block b runs before the one that writes b. Each cycle
    (strongly connected component) is fused into one node, which reads before it writes."""
    nodes = sorted(nodes, key=lambda n: (_RANK[n.kind], n.dst[0]))
    succ = _edges(nodes, new_blocks)
    components = _strongly_connected(succ)
    fused: list[_Node] = []
    member_of: dict[int, int] = {}
    for c, component in enumerate(components):
        segments = [s for i in component for s in nodes[i].segments]
        fused.append(_Node(sorted(segments, key=lambda s: s.dst[0])))
        for i in component:
            member_of[i] = c
    csucc: list[set[int]] = [set() for _ in fused]
    for i, targets in enumerate(succ):
        for w in targets:
            if member_of[i] != member_of[w]:
                csucc[member_of[i]].add(member_of[w])
    return [fused[i] for i in _topological(fused, csucc)]


def _topological(nodes: list[_Node], succ: list[set[int]]) -> list[int]:
    """Kahn's algorithm that stays with one kind as long as it can, so neighbours can be fused."""
    indegree = [0] * len(nodes)
    for targets in succ:
        for w in targets:
            indegree[w] += 1
    ready: dict[str, list[tuple]] = defaultdict(list)

    def push(i: int) -> None:
        heapq.heappush(ready[nodes[i].kind], (nodes[i].dst[0], i))

    for i, d in enumerate(indegree):
        if d == 0:
            push(i)
    order: list[int] = []
    current: str | None = None
    while any(ready.values()):
        if current is None or not ready.get(current):
            current = min((k for k, heap in ready.items() if heap), key=lambda k: _RANK[k])
        _, i = heapq.heappop(ready[current])
        order.append(i)
        for w in succ[i]:
            indegree[w] -= 1
            if indegree[w] == 0:
                push(w)
    assert len(order) == len(nodes), "the component graph is acyclic"
    return order


SMALL_COPY_BLOCKS = 512


def _absorb_small_copies(nodes: list[_Node]) -> list[_Node]:
    """A short copy between changed files joins the diff next to it in the image (one control
    entry in the patch instead of an operation with its own extents, hashes and offsets);
    long unchanged stretches stay SOURCE_COPY. Merging before ordering is always safe: the
    ordering fuses whatever cycles the merged node joins."""
    by_position = sorted(nodes, key=lambda n: n.dst[0])
    result: list[_Node] = []
    for node in by_position:
        last = result[-1] if result else None
        if last is not None and {last.kind, node.kind} == {COPY, DIFF} and \
                (last.blocks if last.kind == COPY else node.blocks) <= SMALL_COPY_BLOCKS and \
                _adjacent(last, node):
            last.segments.extend(node.segments)
        else:
            result.append(_Node(list(node.segments)))
    return result


def _adjacent(a: _Node, b: _Node) -> bool:
    end = max(start + count for start, count in a.dst)
    return min(start for start, _ in b.dst) == end


def _fuse_neighbours(nodes: list[_Node]) -> list[_Node]:
    """Consecutive nodes of a kind fused: copies and diffs up to 64 MiB, new data up to 2 MiB (one
    xz stream). Fusing neighbours keeps the order valid: the fused node reads everything
    before it writes."""
    fused: list[_Node] = []
    for node in nodes:
        last = fused[-1] if fused else None
        if last is not None and last.blocks + node.blocks <= _limit(last, node):
            last.segments.extend(node.segments)
        else:
            fused.append(_Node(list(node.segments)))
    return fused


def _limit(a: _Node, b: _Node) -> int:
    if a.kind != b.kind:
        return 0  # a copy stays a SOURCE_COPY unless a cycle forced it into a patch
    return FULL_CHUNK_BLOCKS if a.kind == DATA else FUSE_BLOCKS


def _join(extents: Extents) -> Extents:
    out: Extents = []
    for start, count in extents:
        if out and out[-1][0] + out[-1][1] == start:
            out[-1] = (out[-1][0], out[-1][1] + count)
        else:
            out.append((start, count))
    return out

"""Incremental payload planning: which operations turn the old image into the new one, cheaply.

One partition at a time: old image + new image (+ the files and their block maps, read from
the filesystem when not given) → operations. Every block of both images is read once, in
bounded windows, for a 16-byte digest per block; then

- each new file finds its old version (matching.py: path, content, digits-stripped name,
  folder, shared blocks); identical ones become SOURCE_COPY,
- changed files are diffed against their old version: bsdiff (bsdiff.py) written as BSDF2
  in a BROTLI_BSDIFF (minor version >= 4; SOURCE_BSDIFF with BSDIFF40 below), and zips
  whose entries changed (APKs, jars) as PUFFDIFF (minor >= 5; puffdiff.py), whichever is
  smaller, or REPLACE_XZ when that is smaller still; files over 8 MiB are split into
  operations of 8 MiB, each against the old bytes in proportion,
- the remaining blocks (superblock, inodes, or a whole image with no file map) are matched
  block by block against the whole old image, zero blocks become ZERO, and the rest is
  diffed in 8 MiB pieces against the old blocks in proportion,
- ordering.py orders and fuses the work (any order is valid in an A/B payload: sources are
  read from the other slot); each operation's data is then made on the cores
  the caller's budget lends (run/cores.py), biggest first, each worker reading only its
  own blocks. With a run cache, an operation another build of the run already made from
  the same bytes is taken from it.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Callable

from romforge.errors import InputError
from romforge.ota.extents import (BLOCK_SIZE, Extents, ImageReader, block_digests, blocks_of, count, join,
                                  sub_extents, to_extents)
from romforge.ota.matching import COPY as PAIR_COPY, DIFF as PAIR_DIFF, BlockDigests, pair_files
from romforge.ota.ordering import (COPY, DATA, DIFF, PUFF, ZERO, Node, Segment, absorb_small_copies,
                                   fuse_neighbours, order_nodes)
from romforge.ota.payload import Operation, parallel_map
from romforge.ota.puffdiff import ZIP_MAGIC
from romforge.run.cache import RunCache
from romforge.run.cores import Cores

SEGMENT_BLOCKS = 2048  # a changed file's pieces: 8 MiB of new blocks per operation
MARGIN_BLOCKS = 256  # and the old blocks in proportion, 1 MiB either side
DATA_BLOCKS = 512  # new data in 2 MiB REPLACE_XZ pieces
PUFF_MAX_BLOCKS = 16384  # zips up to 64 MiB are puffed whole; larger ones are diffed in pieces
ZERO_DIGEST = hashlib.blake2b(bytes(BLOCK_SIZE), digest_size=16).digest()
MIN_BROTLI_MINOR, MIN_PUFFDIFF_MINOR = 4, 5


def _file_map(image: Path) -> dict[str, Extents]:
    """The image's files and directories with their blocks; none for an image of unknown kind."""
    from romforge.ota.images import file_map

    try:
        return file_map(image, directories=True)
    except InputError:
        return {}


def plan_delta(old_image: Path, new_image: Path, *, minor_version: int, jobs: int | None = None,
               cache: RunCache | None = None, old_files: dict[str, Extents] | None = None,
               new_files: dict[str, Extents] | None = None,
               advance: Callable[[int], None] | None = None, cores: Cores | None = None) -> list[Operation]:
    """Operations that turn `old_image` into `new_image`, every new block written exactly once.

    `minor_version` decides which operations may appear (BROTLI_BSDIFF from 4, PUFFDIFF from 5);
    `jobs` caps the processes, `cores` is the run's budget they come from, `cache` the run's
    shared cache (or None)."""
    if minor_version < 2:
        raise ValueError(f"minor version {minor_version}: romforge writes source operations (minor >= 2)")
    old_path, new_path = str(old_image), str(new_image)
    old_files = _file_map(Path(old_image)) if old_files is None else old_files
    new_files = _file_map(Path(new_image)) if new_files is None else new_files
    old_raw, new_raw = parallel_map(block_digests, [old_path, new_path], jobs=jobs, cores=cores)
    old_digests, new_digests = BlockDigests(old_raw), BlockDigests(new_raw)
    old_index = old_digests.index()
    old_blocks, new_blocks = len(old_raw) // 16, len(new_raw) // 16
    with ImageReader(old_path) as old, ImageReader(new_path) as new:
        nodes = _file_nodes(pair_files(old_files, new_files, old_digests, new_digests, old_index), old, new,
                            minor_version, new_blocks)
        covered = {b for node in nodes for b in blocks_of(node.dst)}
        nodes += _other_nodes(covered, old_files, old_digests, new_digests, old_index, old_blocks, new_blocks)
    ordered = fuse_neighbours(order_nodes(absorb_small_copies(nodes)))
    work = [(old_path, new_path, node.kind, [(s.kind, s.dst, s.src) for s in node.segments], minor_version,
             cache.root if cache is not None else None) for node in ordered]
    order = sorted(range(len(work)), key=lambda i: (ordered[i].kind in (COPY, ZERO), -ordered[i].blocks))
    results: list = [None] * len(work)
    for i, result in zip(order, parallel_map(_node_job, [work[i] for i in order], jobs=jobs, cores=cores)):
        results[i] = result
    if advance:
        advance(len(results))
    operations = []
    for node, (kind, dst, src, data, src_sha) in zip(ordered, results):
        op = Operation(kind, dst, src, data)
        op.src_sha256 = src_sha
        operations.append(op)
    return operations


def _file_nodes(pairings, old: ImageReader, new: ImageReader, minor: int, new_blocks: int) -> list[Node]:
    nodes: list[Node] = []
    for p in pairings:
        if any(s + n > new_blocks for s, n in p.dst):
            raise InputError(f"the file map puts {p.path} past the end of the image", file=new.path)
        if p.kind == PAIR_COPY:
            for d, s in _copy_runs(dict(zip(blocks_of(p.dst), blocks_of(p.src)))):
                nodes.append(Node([Segment(COPY, [d], [s])]))
        elif p.kind == PAIR_DIFF:
            if minor >= MIN_PUFFDIFF_MINOR and count(p.dst) <= PUFF_MAX_BLOCKS and \
                    count(p.src) <= PUFF_MAX_BLOCKS and _is_zip(new, p.dst) and _is_zip(old, p.src):
                nodes.append(Node([Segment(PUFF, join(p.dst), join(p.src))]))
            else:
                nodes += [Node([s]) for s in _diff_segments(p.dst, p.src)]
        else:
            nodes += [Node([Segment(DATA, sub_extents(p.dst, first, DATA_BLOCKS))])
                      for first in range(0, count(p.dst), DATA_BLOCKS)]
    return nodes


def _is_zip(image: ImageReader, extents: Extents) -> bool:
    return bool(extents) and image.read([extents[0]])[:4] == ZIP_MAGIC


def _diff_segments(dst: Extents, src: Extents) -> list[Segment]:
    """A diff split into SEGMENT_BLOCKS pieces of new blocks, each with the old blocks in
    proportion (and a margin), so no operation and no worker holds more than a few MiB."""
    new_n, old_n = count(dst), count(src)
    if new_n <= SEGMENT_BLOCKS:
        return [Segment(DIFF, join(dst), join(src))]
    segments = []
    for first in range(0, new_n, SEGMENT_BLOCKS):
        n = min(SEGMENT_BLOCKS, new_n - first)
        a = max(0, first * old_n // new_n - MARGIN_BLOCKS)
        b = min(old_n, (first + n) * old_n // new_n + MARGIN_BLOCKS)
        segments.append(Segment(DIFF, sub_extents(dst, first, n), sub_extents(src, a, max(1, b - a))))
    return segments


def _other_nodes(covered: set[int], old_files: dict[str, Extents], old: BlockDigests, new: BlockDigests,
                 old_index: dict[bytes, int], old_blocks: int, new_blocks: int) -> list[Node]:
    """Blocks no new file holds (filesystem metadata, or everything of a raw image)."""
    zeros, leftover = [], []
    copies: dict[int, int] = {}
    for b in range(new_blocks):
        if b in covered:
            continue
        digest = new.block(b)
        if digest == ZERO_DIGEST:
            zeros.append(b)
        elif b < old_blocks and old.block(b) == digest:
            copies[b] = b
        elif digest in old_index:
            copies[b] = old_index[digest]
        else:
            leftover.append(b)
    nodes = [Node([Segment(COPY, [d], [s])]) for d, s in _copy_runs(copies)]
    nodes += [Node([Segment(ZERO, [e])]) for e in to_extents(zeros)]
    if leftover:
        file_blocks = {b for e in old_files.values() for b in blocks_of(e)}
        meta = [b for b in range(old_blocks) if b not in file_blocks]
        if not old_blocks:
            nodes += [Node([Segment(DATA, [e])]) for e in _pieces(to_extents(leftover), DATA_BLOCKS)]
        elif old_files and len(meta) <= 4 * SEGMENT_BLOCKS:  # a filesystem's metadata: against the old one's
            for piece in _pieces(to_extents(leftover), SEGMENT_BLOCKS):
                nodes.append(Node([Segment(DIFF, piece, to_extents(meta) if meta else [(0, 1)])]))
        else:  # a raw image: each piece against the old blocks at about the same place
            for piece in _pieces(to_extents(leftover), SEGMENT_BLOCKS):
                first, last = piece[0][0], piece[-1][0] + piece[-1][1]
                a = max(0, min(first, old_blocks - 1) - MARGIN_BLOCKS)
                b = min(old_blocks, max(last, a + 1) + MARGIN_BLOCKS)
                nodes.append(Node([Segment(DIFF, piece, [(a, b - a)])]))
    return nodes


def _pieces(extents: Extents, blocks: int) -> list[Extents]:
    return [sub_extents(extents, first, min(blocks, count(extents) - first))
            for first in range(0, count(extents), blocks)]


def _copy_runs(copies: dict[int, int]) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    runs: list[list[int]] = []  # [dst_start, src_start, count]
    for n in sorted(copies):
        o = copies[n]
        if runs and runs[-1][0] + runs[-1][2] == n and runs[-1][1] + runs[-1][2] == o:
            runs[-1][2] += 1
        else:
            runs.append([n, o, 1])
    return [((d, c), (s, c)) for d, s, c in runs]


# ---- work done in worker processes ---------------------------------------------------------


def _node_job(job: tuple) -> tuple[int, Extents, Extents, bytes, bytes]:
    """(operation type, dst, src, data, src SHA-256) of one node, from the run cache when there."""
    from romforge.ota.nodework import node_operation

    return node_operation(*job)

"""The dm-verity hash tree, as avbtool lays it out and the kernel's dm-verity (format 1) reads it.

Level 0 holds one digest per data block: H(salt + block), the last block zero-padded. Each
digest takes a power-of-two slot (sha1's 20 bytes are padded to 32). Level n+1 hashes the
blocks of level n the same way; every level is zero-padded to whole hash blocks, and levels
are added until one fits in a single block. The root digest is H(salt + that top block). The
tree is stored top level first (the offsets below), right after the data it covers.

Memory stays bounded whatever the image size: the data is read a chunk at a time and every
level is written to a file (the image itself when adding a footer) and read back from there,
never held whole. Level 0 is nearly all the work; with `jobs` > 1 it is hashed in that many
worker processes (threads do not help: the per-block Python calls hold the GIL for most of
the time a 4 KiB SHA-256 takes), each reading its own chunk of the image.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from romforge.avb.descriptors import DIGEST_SIZES
from romforge.avb.structs import round_up

CHUNK_BYTES = 4 << 20  # data read and hashed per task
PARALLEL_MIN_BYTES = 64 << 20  # below this, starting worker processes costs more than it saves


@dataclass(frozen=True)
class TreeLayout:
    """Sizes and offsets of a hash tree over `image_size` bytes (a multiple of the block size)."""

    image_size: int
    block_size: int
    hash_algorithm: str
    digest_size: int
    digest_slot: int
    level_sizes: tuple[int, ...]  # level 0 (over the data) first
    level_offsets: tuple[int, ...]  # offset of each level inside the tree: level 0 is stored last

    @property
    def tree_size(self) -> int:
        return sum(self.level_sizes)

    @property
    def digest_padding(self) -> int:
        return self.digest_slot - self.digest_size


def tree_layout(image_size: int, *, block_size: int = 4096, hash_algorithm: str = "sha256") -> TreeLayout:
    """The levels avbtool's calc_hash_level_offsets gives for an image of `image_size` bytes."""
    if hash_algorithm not in DIGEST_SIZES:
        raise ValueError(f"unknown hash tree algorithm {hash_algorithm!r}; use one of {', '.join(DIGEST_SIZES)}")
    if block_size < 512 or block_size & (block_size - 1):
        raise ValueError(f"block size {block_size} is not a power of two of at least 512")
    digest = DIGEST_SIZES[hash_algorithm]
    slot = 1 << (digest - 1).bit_length()
    sizes: list[int] = []
    size = image_size
    while size > block_size:
        size = round_up(-(-size // block_size) * slot, block_size)
        sizes.append(size)
    offsets = tuple(sum(sizes[n + 1:]) for n in range(len(sizes)))
    return TreeLayout(image_size, block_size, hash_algorithm, digest, slot, tuple(sizes), offsets)


def _digests(data: bytes, hash_name: str, salt: bytes, block_size: int, padding: int) -> bytes:
    """H(salt + block) of every block of `data` (zero-padding a short last block), each followed by
    `padding` zero bytes. A salted hasher is made once and copied per block."""
    if len(data) % block_size:
        data += b"\0" * (block_size - len(data) % block_size)
    salted = hashlib.new(hash_name, salt)
    copy = salted.copy
    view = memoryview(data)
    out = []
    append = out.append
    tail = b"\0" * padding
    for start in range(0, len(data), block_size):
        h = copy()
        h.update(view[start:start + block_size])
        append(h.digest())
        if padding:
            append(tail)
    return b"".join(out)


def _digest_chunk(path: str, offset: int, length: int, hash_name: str, salt: bytes, block_size: int,
                  padding: int) -> bytes:
    """Worker task: the level-0 digests of `length` bytes of the image at `offset` (past the end
    of the file reads as zeros, as the padded image would)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        data = os.pread(fd, length, offset)
    finally:
        os.close(fd)
    if len(data) < length:
        data += b"\0" * (length - len(data))
    return _digests(data, hash_name, salt, block_size, padding)


def _level0_tasks(path: str, layout: TreeLayout, salt: bytes, chunk: int) -> list[tuple]:
    per_block = layout.digest_slot
    return [(offset // layout.block_size * per_block,
             (path, offset, min(chunk, layout.image_size - offset), layout.hash_algorithm, salt,
              layout.block_size, layout.digest_padding))
            for offset in range(0, layout.image_size, chunk)]


def _write_level0(image: Path, layout: TreeLayout, salt: bytes, out_fd: int, level_start: int, jobs: int,
                  min_parallel_bytes: int) -> None:
    chunk = CHUNK_BYTES - CHUNK_BYTES % layout.block_size or layout.block_size
    tasks = _level0_tasks(str(image), layout, salt, chunk)
    serial = jobs <= 1 or layout.image_size < min_parallel_bytes or len(tasks) < 2
    if serial or multiprocessing.current_process().daemon:  # a daemonic worker (dask) may not fork
        for out_pos, task in tasks:
            os.pwrite(out_fd, _digest_chunk(*task), level_start + out_pos)
        return
    # fork, as romforge's payload writer does: a worker only opens, reads and hashes (spawn and
    # forkserver re-import the caller's __main__ in every worker, which costs more than the work).
    # At most 2 tasks per worker are in flight, so memory stays bounded.
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        pending: deque = deque()
        for out_pos, task in tasks:
            pending.append((out_pos, pool.submit(_digest_chunk, *task)))
            if len(pending) >= 2 * jobs:
                pos, future = pending.popleft()
                os.pwrite(out_fd, future.result(), level_start + pos)
        while pending:
            pos, future = pending.popleft()
            os.pwrite(out_fd, future.result(), level_start + pos)


def _pad_level(out_fd: int, start: int, used: int, size: int) -> None:
    if size > used:
        os.pwrite(out_fd, b"\0" * (size - used), start + used)


def write_hash_tree(image: Path, layout: TreeLayout, salt: bytes, out_fd: int, tree_offset: int, *,
                    jobs: int = 1, min_parallel_bytes: int = PARALLEL_MIN_BYTES) -> bytes:
    """Hash the first `layout.image_size` bytes of `image` and write the tree at `tree_offset` of
    `out_fd` (which may be the image itself, past its data). Returns the root digest."""
    if not layout.level_sizes:  # a single block: the kernel compares its digest with the root
        fd = os.open(image, os.O_RDONLY)
        try:
            data = os.pread(fd, layout.block_size, 0)
        finally:
            os.close(fd)
        return hashlib.new(layout.hash_algorithm, salt + data.ljust(layout.block_size, b"\0")).digest()
    bs = layout.block_size
    level0 = tree_offset + layout.level_offsets[0]
    _write_level0(image, layout, salt, out_fd, level0, jobs, min_parallel_bytes)
    _pad_level(out_fd, level0, -(-layout.image_size // bs) * layout.digest_slot, layout.level_sizes[0])
    for n in range(1, len(layout.level_sizes)):
        source = tree_offset + layout.level_offsets[n - 1]
        target = tree_offset + layout.level_offsets[n]
        used = 0
        for pos in range(0, layout.level_sizes[n - 1], CHUNK_BYTES):
            data = os.pread(out_fd, min(CHUNK_BYTES, layout.level_sizes[n - 1] - pos), source + pos)
            digests = _digests(data, layout.hash_algorithm, salt, bs, layout.digest_padding)
            os.pwrite(out_fd, digests, target + used)
            used += len(digests)
        _pad_level(out_fd, target, used, layout.level_sizes[n])
    top = os.pread(out_fd, bs, tree_offset)  # the top level is one block, stored first
    return hashlib.new(layout.hash_algorithm, salt + top).digest()


def compare_tree(out_fd: int, out_offset: int, image_fd: int, image_offset: int, size: int) -> int | None:
    """Offset (into the tree) of the first byte where two stored trees differ, or None."""
    for pos in range(0, size, CHUNK_BYTES):
        length = min(CHUNK_BYTES, size - pos)
        ours, theirs = os.pread(out_fd, length, out_offset + pos), os.pread(image_fd, length, image_offset + pos)
        if ours != theirs:
            if len(theirs) < len(ours):
                return pos + len(theirs)
            return pos + next(i for i, (a, b) in enumerate(zip(ours, theirs)) if a != b)
    return None

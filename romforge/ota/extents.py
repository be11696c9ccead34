"""Block extents and windowed reads of partition images.

An extent is (start block, block count). Images are read with pread in bounded windows, never
mapped or loaded whole, so memory stays flat whatever the partition size (a mapped page is
resident memory too)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Iterator

BLOCK_SIZE = 4096
READ_WINDOW = 8 << 20
Extents = list[tuple[int, int]]


def blocks_of(extents: Extents) -> list[int]:
    return [b for start, count in extents for b in range(start, start + count)]


def count(extents: Extents) -> int:
    return sum(n for _, n in extents)


def to_extents(blocks: list[int]) -> Extents:
    """Consecutive block numbers → (start, count) runs, in the given order."""
    extents: Extents = []
    for b in blocks:
        if extents and extents[-1][0] + extents[-1][1] == b:
            extents[-1] = (extents[-1][0], extents[-1][1] + 1)
        else:
            extents.append((b, 1))
    return extents


def join(extents: Extents) -> Extents:
    """Neighbouring extents merged (order kept)."""
    out: Extents = []
    for start, n in extents:
        if out and out[-1][0] + out[-1][1] == start:
            out[-1] = (out[-1][0], out[-1][1] + n)
        else:
            out.append((start, n))
    return out


def sub_extents(extents: Extents, first: int, blocks: int) -> Extents:
    """The `blocks` blocks starting at block `first` of the stream the extents describe."""
    out: Extents = []
    skip, want = first, blocks
    for start, n in extents:
        if skip >= n:
            skip -= n
            continue
        take = min(n - skip, want)
        out.append((start + skip, take))
        want -= take
        skip = 0
        if not want:
            break
    return out


class ImageReader:
    """pread access to an image file by blocks."""

    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        self.fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        self.size = os.fstat(self.fd).st_size
        self.blocks = self.size // BLOCK_SIZE

    def close(self) -> None:
        os.close(self.fd)

    def __enter__(self) -> "ImageReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def read(self, extents: Extents) -> bytes:
        parts = []
        for start, n in extents:
            data = os.pread(self.fd, n * BLOCK_SIZE, start * BLOCK_SIZE)
            parts.append(data + bytes(n * BLOCK_SIZE - len(data)))
        return b"".join(parts)

    def windows(self, extents: Extents, window: int = READ_WINDOW) -> Iterator[bytes]:
        """The extents' bytes in pieces of at most `window` bytes."""
        per = max(1, window // BLOCK_SIZE)
        for start, n in extents:
            for first in range(start, start + n, per):
                yield self.read([(first, min(per, start + n - first))])

    def sha256(self, extents: Extents) -> bytes:
        h = hashlib.sha256()
        for piece in self.windows(extents):
            h.update(piece)
        return h.digest()


def block_digests(path: str, first: int = 0, blocks: int | None = None) -> bytes:
    """16-byte BLAKE2b digest of every block of the range, concatenated (1/256 of the bytes)."""
    out = bytearray()
    with ImageReader(path) as image:
        end = image.blocks if blocks is None else min(image.blocks, first + blocks)
        for piece in image.windows([(first, max(0, end - first))]):
            view = memoryview(piece)
            for at in range(0, len(piece), BLOCK_SIZE):
                out += hashlib.blake2b(view[at:at + BLOCK_SIZE], digest_size=16).digest()
    return bytes(out)

"""One bsdiff patch for an operation that fuses several pieces of work.

A fused operation reads the union of its segments' source blocks, in image order, as one old
stream, and writes its segments' outputs one after the other. Each segment's own patch speaks
of the segment's source alone (its old bytes = its source extents, concatenated); composing
moves every add onto the union's coordinates, splitting it where the segment's blocks are not
neighbours there, so fusing costs a few control entries, not a diff of the whole region.
"""

from __future__ import annotations

from romforge.ota.bsdiff import Patch
from romforge.ota.extents import BLOCK_SIZE, Extents, blocks_of


def union_source(sources: list[Extents]) -> tuple[list[int], list[list[int]]]:
    """(the union's blocks in image order, per source: where each of its blocks is in the union)."""
    union = sorted({b for src in sources for b in blocks_of(src)})
    where = {b: k for k, b in enumerate(union)}
    return union, [[where[b] for b in blocks_of(src)] for src in sources]


def _add_mapped(out: Patch, block_map: list[int], local: int, diff: bytes) -> None:
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
        out.add(block_map[block] * BLOCK_SIZE + offset, diff[pos:pos + run])
        pos += run


def compose(parts: list[tuple[Patch, list[int]]]) -> Patch:
    """The parts' patches one after another, each over its block map into the union's old stream."""
    out = Patch()
    for patch, block_map in parts:
        diffs = b"".join(patch.diffs)
        extras = b"".join(patch.extras)
        local = d = e = 0
        for x, y, z in patch.entries:
            if x:
                _add_mapped(out, block_map, local, diffs[d:d + x])
            out.literal(extras[e:e + y])
            local += x + z
            d += x
            e += y
    return out


def copy_patch(length: int) -> Patch:
    """A segment that copies its source bytes unchanged."""
    patch = Patch()
    patch.copy(0, length)
    return patch

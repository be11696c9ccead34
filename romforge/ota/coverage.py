"""Which operation writes each block of a partition, kept as sorted extents.

update_engine's checker wants every block of the new partition written exactly once and no
operation reading a block an earlier one already wrote. A manifest is small and a partition
it claims can be 64 GiB, so the checks work on extents (sorted once, a sparse minimum table
for "earliest writer in a range"): the work grows with the manifest, never with the size a
hostile payload claims.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass


@dataclass(frozen=True)
class WrittenRun:
    start: int
    end: int  # exclusive
    writer: int  # the operation's index


class BlockWriters:
    """The dst extents of one partition's operations, sorted by start block."""

    def __init__(self, extents: list[tuple[int, int, int]]) -> None:
        """`extents`: (start_block, num_blocks, operation index), num_blocks > 0."""
        self.runs = sorted((WrittenRun(s, s + n, op) for s, n, op in extents), key=lambda r: (r.start, r.writer))
        self._starts = [r.start for r in self.runs]
        self._min = [[r.writer for r in self.runs]]  # _min[k][i]: earliest writer of runs i … i + 2**k - 1
        width = 1
        while width * 2 <= len(self.runs):
            row = self._min[-1]
            self._min.append([min(row[i], row[i + width]) for i in range(len(row) - width)])
            width *= 2

    def written_twice(self) -> tuple[int, int] | None:
        """(block, the later operation) of the first block two extents both write, or None."""
        reach: WrittenRun | None = None  # the run reaching furthest so far
        for run in self.runs:
            if reach is not None and run.start < reach.end:
                return run.start, max(run.writer, reach.writer)
            if reach is None or run.end > reach.end:
                reach = run
        return None

    def first_unwritten(self, blocks: int) -> int | None:
        """The first of the partition's `blocks` blocks no extent writes, or None."""
        covered = 0
        for run in self.runs:
            if run.start > covered:
                return covered
            covered = max(covered, run.end)
        return covered if covered < blocks else None

    def _earliest(self, lo: int, hi: int) -> int:
        k = (hi - lo).bit_length() - 1
        return min(self._min[k][lo], self._min[k][hi - (1 << k)])

    def written_before(self, start: int, end: int, index: int) -> tuple[int, int] | None:
        """(block, writer) of the first block in [start, end) an operation before `index` writes,
        or None. Assumes no block is written twice (check written_twice first)."""
        lo = max(bisect_right(self._starts, start) - 1, 0)
        hi = bisect_left(self._starts, end)
        while lo < hi and self.runs[lo].end <= start:
            lo += 1
        if lo >= hi or self._earliest(lo, hi) >= index:
            return None
        for run in self.runs[lo:hi]:  # only on the way to an error: one scan
            if run.writer < index:
                return max(run.start, start), run.writer
        return None

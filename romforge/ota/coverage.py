"""Which operation writes each block of a partition, kept as sorted extents.

update_engine's checker wants every block of the new partition written exactly once (an A/B
payload reads the source slot and writes the target, so the order of operations is free). A
manifest is small and a partition it claims can be 64 GiB, so the check works on extents
(sorted once): the work grows with the manifest, never with the size a hostile payload claims.
"""

from __future__ import annotations

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

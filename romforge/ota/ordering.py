"""The order of an incremental partition's operations, and which pieces of work share one.

An A/B payload (minor version >= 2: SOURCE_COPY, SOURCE_BSDIFF, BROTLI_BSDIFF, PUFFDIFF)
reads every source extent from the source partition, the other slot, and writes the target
partition (update_engine's PartitionWriter reads its source_fd, writes its target_fd; Virtual
A/B without compression writes a snapshot's COW while the source stays readable). So no
operation can see another's output and any order is valid; AOSP's A/B generator
(payload_generator/ab_generator.cc) sorts by destination and merges neighbours. Only the
old in-place generator (minor version 1) had to order reads before writes, and a VABC
payload would need a merge sequence (cow_merge_operations), which romforge does not ask for:
its manifests never set vabc_enabled.

Here work is ordered by kind, then by destination (copies, zeros, diffs, new data), and
neighbours of a kind are fused up to 16 MiB (new data: 2 MiB, one xz stream), so small diffs
share patch headers and compression context. A PUFFDIFF always stays an operation of its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from romforge.ota.extents import Extents

FUSE_BLOCKS = 4096  # neighbours are fused into operations of up to 16 MiB
DATA_FUSE_BLOCKS = 512  # new data: 2 MiB, one xz stream per REPLACE_XZ
COPY, DIFF, DATA, ZERO, PUFF = "copy", "diff", "data", "zero", "puff"


@dataclass
class Segment:
    """One piece of work: copy src→dst, diff src→dst (PUFF: deflate-aware), new data for dst,
    or zeros for dst."""

    kind: str
    dst: Extents
    src: Extents = field(default_factory=list)

    @property
    def blocks(self) -> int:
        return sum(n for _, n in self.dst)


@dataclass
class Node:
    """A future operation: one or more segments fused (one patch over the union of their sources)."""

    segments: list[Segment]

    @property
    def kind(self) -> str:
        kinds = {s.kind for s in self.segments}
        if kinds <= {COPY}:
            return COPY
        if len(self.segments) == 1:
            return self.segments[0].kind
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


_RANK = {COPY: 0, ZERO: 1, DIFF: 2, PUFF: 2, DATA: 3}


def order_nodes(nodes: list[Node]) -> list[Node]:
    """The nodes by kind, then by their first destination block: every order is valid in an
    A/B payload, and this one puts neighbours of a kind next to each other for fusing."""
    return sorted(nodes, key=lambda n: (_RANK[n.kind], n.dst[0]))


SMALL_COPY_BLOCKS = 512


def absorb_small_copies(nodes: list[Node]) -> list[Node]:
    """A short copy between changed files joins the diff next to it in the image (one control
    entry in the patch instead of an operation with its own extents, hashes and offsets);
    long unchanged stretches stay SOURCE_COPY."""
    by_position = sorted(nodes, key=lambda n: n.dst[0])
    result: list[Node] = []
    for node in by_position:
        last = result[-1] if result else None
        if last is not None and {last.kind, node.kind} == {COPY, DIFF} and \
                (last.blocks if last.kind == COPY else node.blocks) <= SMALL_COPY_BLOCKS and \
                _adjacent(last, node):
            last.segments.extend(node.segments)
        else:
            result.append(Node(list(node.segments)))
    return result


def _adjacent(a: Node, b: Node) -> bool:
    end = max(start + count for start, count in a.dst)
    return min(start for start, _ in b.dst) == end


def fuse_neighbours(nodes: list[Node]) -> list[Node]:
    """Consecutive nodes of a kind fused: copies and diffs up to 16 MiB, new data up to 2 MiB
    (one xz stream); a PUFFDIFF is never fused."""
    fused: list[Node] = []
    for node in nodes:
        last = fused[-1] if fused else None
        if last is not None and last.blocks + node.blocks <= _limit(last, node):
            last.segments.extend(node.segments)
        else:
            fused.append(Node(list(node.segments)))
    return fused


def _limit(a: Node, b: Node) -> int:
    if a.kind != b.kind or a.kind == PUFF:
        return 0
    return DATA_FUSE_BLOCKS if a.kind == DATA else FUSE_BLOCKS

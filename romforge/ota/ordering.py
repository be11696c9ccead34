"""The order of an incremental partition's operations, and which pieces of work share one.

No operation may read a block an earlier one wrote (what an in-place or snapshot-merged
update needs). Work that depends on itself in a cycle is fused into one operation, which
reads all its sources before writing: the strongly connected components of the read/write
graph, in topological order, give a valid order. Neighbours of a kind are then fused too,
up to 16 MiB, so small diffs share patch headers and compression context. A PUFFDIFF stays
an operation of its own: one caught in a cycle becomes a plain diff of the fused operation.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from dataclasses import dataclass, field

from romforge.ota.extents import Extents, to_extents

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
    flexible: bool = False  # its source is only material to diff against (metadata, raw images)

    @property
    def blocks(self) -> int:
        return sum(n for _, n in self.dst)


@dataclass
class Node:
    """A future operation: one or more segments fused (fused nodes read all sources first)."""

    segments: list[Segment]

    @property
    def kind(self) -> str:
        kinds = {s.kind for s in self.segments}
        if kinds <= {COPY}:
            return COPY
        if len(self.segments) == 1:
            return self.segments[0].kind
        if kinds & {COPY, DIFF, PUFF}:
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


def _edges(nodes: list[Node], new_blocks: int) -> list[set[int]]:
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


_RANK = {COPY: 0, ZERO: 1, DIFF: 2, PUFF: 2, DATA: 3}


MAX_CYCLE_BLOCKS = 16384  # a cycle of more than 64 MiB gives up flexible sources to break up
SMALL_DIFF_BLOCKS = 8  # in a cycle with a PUFFDIFF, diffs this small become new data


def _trim(nodes: list[Node], components: list[list[int]]) -> bool:
    """Break cycles that would cost a PUFFDIFF its own operation, or make one operation of
    more than MAX_CYCLE_BLOCKS (a worker's memory and the other cores' work). In a cycle with
    a PUFFDIFF, small diffs (directories, small files) become new data, which reads nothing,
    and flexible sources give up the blocks the PUFFDIFFs write; in a large cycle (counting
    what is not copied), flexible sources and diffs give up the blocks other members write
    (a diff only when it keeps three quarters of its old data). True when anything changed."""
    changed = False
    for component in components:
        if len(component) < 2:
            continue
        members = [nodes[i] for i in component]
        puffs = [m for m in members if m.kind == PUFF]
        big = sum(s.blocks for m in members for s in m.segments if s.kind != COPY) > MAX_CYCLE_BLOCKS
        if not puffs and not big:
            continue
        for m in members if puffs else ():
            if m.kind == DIFF and m.blocks <= SMALL_DIFF_BLOCKS:
                m.segments[:] = [Segment(DATA, s.dst) for s in m.segments]
                changed = True
        written: dict[int, int] = {}
        for k, w in enumerate(members if big else puffs):
            for start, n in w.dst:
                for b in range(start, start + n):
                    written[b] = id(w)
        for m in members:
            for k, seg in enumerate(m.segments):
                if not (seg.flexible or (big and seg.kind == DIFF)):
                    continue
                keep = [b for start, n in seg.src for b in range(start, start + n) if written.get(b, id(m)) == id(m)]
                total = sum(n for _, n in seg.src)
                if len(keep) == total or (not seg.flexible and len(keep) * 4 < total * 3):
                    continue  # a file's diff gives up a little of its old data, never most of it
                m.segments[k] = Segment(seg.kind if keep else DATA, seg.dst, to_extents(keep), seg.flexible)
                changed = True
    return changed


def order_nodes(nodes: list[Node], new_blocks: int) -> list[Node]:
    """A valid order: a node that reads block b runs before the one that writes b. Each cycle
    (strongly connected component) is fused into one node, which reads before it writes."""
    nodes = sorted(nodes, key=lambda n: (_RANK[n.kind], n.dst[0]))
    succ = _edges(nodes, new_blocks)
    components = _strongly_connected(succ)
    for _ in range(3):
        if not _trim(nodes, components):
            break
        succ = _edges(nodes, new_blocks)
        components = _strongly_connected(succ)
    fused: list[Node] = []
    member_of: dict[int, int] = {}
    for c, component in enumerate(components):
        segments = [s for i in component for s in nodes[i].segments]
        if len(segments) > 1:  # a cycle: one operation, so a PUFFDIFF in it becomes a plain diff
            segments = [Segment(DIFF, s.dst, s.src) if s.kind == PUFF else s for s in segments]
        fused.append(Node(sorted(segments, key=lambda s: s.dst[0])))
        for i in component:
            member_of[i] = c
    csucc: list[set[int]] = [set() for _ in fused]
    for i, targets in enumerate(succ):
        for w in targets:
            if member_of[i] != member_of[w]:
                csucc[member_of[i]].add(member_of[w])
    return [fused[i] for i in _topological(fused, csucc)]


def _topological(nodes: list[Node], succ: list[set[int]]) -> list[int]:
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


def absorb_small_copies(nodes: list[Node]) -> list[Node]:
    """A short copy between changed files joins the diff next to it in the image (one control
    entry in the patch instead of an operation with its own extents, hashes and offsets);
    long unchanged stretches stay SOURCE_COPY. Merging before ordering is always safe: the
    ordering fuses whatever cycles the merged node joins."""
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
    """Consecutive nodes of a kind fused: copies and diffs up to 16 MiB, new data up to 2 MiB (one
    xz stream). Fusing neighbours keeps the order valid: the fused node reads everything
    before it writes."""
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
        return 0  # a copy stays a SOURCE_COPY unless a cycle forced it into a patch
    return DATA_FUSE_BLOCKS if a.kind == DATA else FUSE_BLOCKS

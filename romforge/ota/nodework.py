"""One planned operation's data, made in a worker process from the blocks it reads itself.

A node of the plan (ordering.Node) becomes one InstallOperation: SOURCE_COPY and ZERO need
only their extents (and the source's SHA-256); new data becomes the best REPLACE; a diff
becomes a bsdiff patch composed from its segments' patches (BROTLI_BSDIFF, or SOURCE_BSDIFF
below minor version 4), or REPLACE_XZ when that is smaller; a zip becomes a PUFFDIFF when it
has changed deflate streams, else a plain diff. With a run cache (a weekly run's shared
directory) the data of an operation whose bytes another build already diffed is reused.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from romforge.ota.bsdiff import BSDF2_MAGIC, BSDIFF40_MAGIC, Patch, best_patch, bsdf2, bsdiff40
from romforge.ota.compose import compose, copy_patch, union_source
from romforge.ota.extents import BLOCK_SIZE, Extents, ImageReader, count, join, to_extents
from romforge.ota.ordering import COPY, DATA, PUFF, ZERO
from romforge.ota.payload import Op, best_replace
from romforge.ota.puffdiff import MAGIC as PUFF_MAGIC, make_puffdiff
from romforge.run.cache import RunCache

REPLACE_TRY_BYTES = 4 << 20  # diffs of new blocks this small are also tried as REPLACE_XZ …
REPLACE_TRY_SHARE = 10  # … when the patch is over a tenth of them (a good diff is far smaller than xz)
_MAGICS = {Op.BROTLI_BSDIFF: BSDF2_MAGIC, Op.SOURCE_BSDIFF: BSDIFF40_MAGIC, Op.PUFFDIFF: PUFF_MAGIC}


def _patch_file(patch: Patch, new_size: int, minor: int, *, puffed: bool = False) -> tuple[int, bytes]:
    if minor >= 4:
        return Op.BROTLI_BSDIFF, bsdf2(patch.streams(), new_size, puffed=puffed)
    return Op.SOURCE_BSDIFF, bsdiff40(patch.streams(), new_size)


def _smallest(candidates: list[tuple[int, bytes]], new_size: int, new) -> tuple[int, bytes]:
    """The smallest candidate, or the best REPLACE of `new()` when no patch beats the raw bytes."""
    best = min(candidates, key=lambda c: len(c[1]))
    if best[0] not in (Op.REPLACE, Op.REPLACE_XZ, Op.REPLACE_BZ) and len(best[1]) >= new_size:
        return best_replace(new(), try_bz2=False)
    return best


def _diff(old: ImageReader, new: ImageReader, segments: list, minor: int) -> tuple[int, bytes]:
    union, maps = union_source([src for _, _, src in segments])
    parts = []
    new_bytes = []
    for (kind, dst, src), block_map in zip(segments, maps):
        if kind == COPY:
            parts.append((copy_patch(count(dst) * BLOCK_SIZE), block_map))
            new_bytes.append(None)
        else:
            data = new.read(dst)
            parts.append((best_patch(old.read(src), data), block_map))
            new_bytes.append(data)
    new_size = sum(count(dst) for _, dst, _ in segments) * BLOCK_SIZE
    candidates = [_patch_file(compose(parts), new_size, minor)]
    del parts
    if new_size <= REPLACE_TRY_BYTES and len(candidates[0][1]) * REPLACE_TRY_SHARE > new_size and \
            all(b is not None for b in new_bytes):
        candidates.append(best_replace(b"".join(new_bytes), try_bz2=False))
    return _smallest(candidates, new_size, lambda: b"".join(
        b if b is not None else new.read(dst) for b, (_, dst, _) in zip(new_bytes, segments)))


def _puff(old: ImageReader, new: ImageReader, dst: Extents, src: Extents, minor: int) -> tuple[int, bytes]:
    old_bytes, new_bytes = old.read(src), new.read(dst)
    patch = make_puffdiff(old_bytes, new_bytes, lambda a, b: _patch_file(best_patch(a, b), len(b), minor, puffed=True)[1])
    if patch is None:
        candidate = _patch_file(best_patch(old_bytes, new_bytes), len(new_bytes), minor)
    else:
        candidate = (Op.PUFFDIFF, patch)
    candidates = [candidate]
    if len(new_bytes) <= REPLACE_TRY_BYTES and len(candidate[1]) * REPLACE_TRY_SHARE > len(new_bytes):
        candidates.append(best_replace(new_bytes, try_bz2=False))
    return _smallest(candidates, len(new_bytes), lambda: new_bytes)


def _key(kind: str, minor: int, old: ImageReader, new: ImageReader, segments: list) -> str:
    h = hashlib.sha256(f"romforge-delta-2 {kind} {minor}".encode())
    for seg_kind, dst, src in segments:
        h.update(f"|{seg_kind} {count(dst)} {count(src)}|".encode())
        h.update(new.sha256(dst) if seg_kind != COPY else b"")
        h.update(old.sha256(src) if src else b"")
    return "delta-" + h.hexdigest()


def _trusted(value: bytes | None, minor: int) -> tuple[int, bytes] | None:
    """A cache entry this code wrote: an operation type the minor version allows, and its magic."""
    if not value:
        return None
    kind, data = value[0], value[1:]
    allowed = {Op.REPLACE, Op.REPLACE_XZ, Op.REPLACE_BZ, Op.SOURCE_BSDIFF}
    if minor >= 4:
        allowed.add(Op.BROTLI_BSDIFF)
    if minor >= 5:
        allowed.add(Op.PUFFDIFF)
    if kind not in allowed or (kind in _MAGICS and not data.startswith(_MAGICS[kind])):
        return None
    return kind, data


def node_operation(old_path: str, new_path: str, kind: str, segments: list, minor: int,
                   cache_root: Path | None) -> tuple[int, Extents, Extents, bytes, bytes]:
    """(operation type, dst extents, src extents, data, src SHA-256) of one node."""
    dst = join([e for _, d, _ in segments for e in d])
    if kind == ZERO:
        return Op.ZERO, dst, [], b"", b""
    with ImageReader(old_path) as old, ImageReader(new_path) as new:
        if kind == COPY:
            src = join([e for _, _, s in segments for e in s])
            return Op.SOURCE_COPY, dst, src, b"", old.sha256(src)
        if kind == DATA:
            op_type, data = best_replace(new.read(dst), try_bz2=False)
            return op_type, dst, [], data, b""
        if kind == PUFF:  # the source stream is the old file's blocks in file order
            src = join(segments[0][2])
        else:  # a fused operation reads the union of its sources in image order
            src = to_extents(union_source([s for _, _, s in segments])[0])

        def make() -> bytes:
            if kind == PUFF:
                made = _puff(old, new, segments[0][1], segments[0][2], minor)
            else:
                made = _diff(old, new, segments, minor)
            return bytes([made[0]]) + made[1]

        cache = RunCache(cache_root) if cache_root is not None else None
        if cache is None:
            op_type, data = _trusted(make(), minor) or (None, b"")
        else:
            found = _trusted(cache.make(_key(kind, minor, old, new, segments), make, wait=True), minor)
            op_type, data = found if found is not None else _trusted(make(), minor)
        assert op_type is not None
        if op_type in (Op.REPLACE, Op.REPLACE_XZ, Op.REPLACE_BZ):
            return op_type, dst, [], data, b""
        return op_type, dst, src, data, old.sha256(src)

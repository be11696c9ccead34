"""bsdiff patches: making them (windowed, with exact runs found first) and their two file formats.

BSDIFF40 (Colin Percival's format, bzip2 streams) and BSDF2 (AOSP's bsdiff: the same
control/diff/extra streams, each compressed with bzip2 or brotli as named in the header):
  0 "BSDF2" | 5 ctrl compressor | 6 diff compressor | 7 extra compressor
  8 len(ctrl) | 16 len(diff) | 24 len(new file)  (sign-magnitude little-endian int64)
  32 ctrl | diff | extra
update_engine's bspatch reads both; SOURCE_BSDIFF carries BSDIFF40, BROTLI_BSDIFF BSDF2.

The control stream is (add x, copy y, seek z) triples: add x bytes of diff to x old bytes,
copy y bytes from the extra stream, move the old pointer by z. The matching itself is
detools' bsdiff (libdivsufsort's suffix array, bsdiff's scan), chosen because it is the same
algorithm as bsdiff's with a suffix sort several times faster than qsufsort and a quarter of
its memory. Before it runs, long stretches that are identical in place become plain copies,
and what is left is diffed in windows of bounded size against the old bytes next to them.
"""

from __future__ import annotations

import bz2
from dataclasses import dataclass, field

BSDF2_MAGIC = b"BSDF2"
BSDIFF40_MAGIC = b"BSDIFF40"
RAW, BZ2, BROTLI = 0, 1, 2
WINDOW = 8 << 20  # new bytes diffed at once (old window: this plus MARGIN each side)
MARGIN = 1 << 20
LITERAL_CHUNK = 128
LITERAL_MAX_ZEROS = 0.5


def int64(value: int) -> bytes:
    return (value if value >= 0 else (1 << 63) | -value).to_bytes(8, "little")


def read_int64(data: bytes) -> int:
    raw = int.from_bytes(data, "little")
    return -(raw & ((1 << 63) - 1)) if raw >> 63 else raw


def encode_control(entries: list[list[int]]) -> bytes:
    return b"".join(int64(x) + int64(y) + int64(z) for x, y, z in entries)


def decode_control(raw: bytes) -> list[list[int]]:
    return [[read_int64(raw[i + j:i + j + 8]) for j in (0, 8, 16)] for i in range(0, len(raw), 24)]


@dataclass
class Patch:
    """Raw bsdiff streams; the old pointer starts at 0 and moves only by adds and seeks."""

    entries: list[list[int]] = field(default_factory=list)
    diffs: list[bytes] = field(default_factory=list)
    extras: list[bytes] = field(default_factory=list)
    oldpos: int = 0  # where the old pointer is after the last entry

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

    def add(self, old_at: int, diff: bytes) -> None:
        if diff:
            self.seek(old_at)
            self._entry(len(diff), 0)
            self.diffs.append(diff)
            self.oldpos += len(diff)

    def copy(self, old_at: int, length: int) -> None:
        if length:
            self.add(old_at, bytes(length))

    def literal(self, data: bytes) -> None:
        if data:
            self._entry(0, len(data))
            self.extras.append(data)

    def extend(self, other: "Patch", old_base: int) -> None:
        """Append `other`, whose old pointer starts at `old_base` of this patch's old bytes."""
        d = e = 0
        pos = old_base
        for x, y, z in other.entries:
            if x:
                self.add(pos, b"".join(_take(other.diffs, d, x)))
            self.literal(b"".join(_take(other.extras, e, y)))
            pos += x + z
            d += x
            e += y

    def streams(self) -> tuple[bytes, bytes, bytes]:
        return encode_control(self.entries), b"".join(self.diffs), b"".join(self.extras)


def _take(parts: list[bytes], start: int, n: int) -> list[bytes]:
    """Bytes start..start+n of the concatenation of `parts` (joined lazily by the caller)."""
    joined = b"".join(parts) if len(parts) != 1 else parts[0]
    parts[:] = [joined]
    return [joined[start:start + n]]


# ---- making a patch ------------------------------------------------------------------------


def raw_diff(old: bytes, new: bytes) -> Patch:
    """bsdiff of `new` against `old`, with no-match stretches moved to the literal stream."""
    from detools import bsdiff as dbsdiff
    from detools.common import unpack_size_bytes
    from detools.suffix_array import divsufsort

    patch = Patch()
    if not new:
        return patch
    if not old:
        patch.literal(new)
        return patch
    sa = bytearray(4 * (len(old) + 1))
    divsufsort(old, sa)
    chunks = dbsdiff.create_patch(sa, old, new, bytearray(len(new) + 1))
    del sa
    newpos = oldpos = 0
    for i in range(0, len(chunks), 5):
        diff, extra = chunks[i + 1], chunks[i + 3]
        seek = unpack_size_bytes(chunks[i + 4])
        _literalize(patch, oldpos, diff, new[newpos:newpos + len(diff)])
        patch.literal(extra)
        newpos += len(diff) + len(extra)
        oldpos += len(diff) + seek
    return patch


def _literalize(patch: Patch, old_at: int, diff: bytes, new: bytes) -> None:
    """Add `diff` at `old_at`, except stretches where bsdiff's approximate match is no match at
    all (most diff bytes non-zero: new bytes minus unrelated old ones): those go to the literal
    stream as the new bytes, which keep their own structure and compress; their difference
    from unrelated old bytes is noise, which does not. Pieces of 4 KiB that are mostly zero
    are taken whole; the others are looked at in chunks of 128 bytes."""
    n = len(diff)
    if n < 64:
        patch.add(old_at, diff)
        return
    pending = 0  # diff bytes [pending, off) not yet emitted are all "add"
    for base in range(0, n, 4096):
        piece = diff[base:base + 4096]
        if piece.count(0) * 4 >= len(piece) * 3:
            continue
        for off in range(base, base + len(piece), LITERAL_CHUNK):
            chunk = diff[off:off + LITERAL_CHUNK]
            if len(chunk) >= 64 and chunk.count(0) < LITERAL_MAX_ZEROS * len(chunk):
                if off > pending:
                    patch.add(old_at + pending, diff[pending:off])
                patch.literal(new[off:off + len(chunk)])
                pending = off + len(chunk)
    if n > pending:
        patch.add(old_at + pending, diff[pending:])


ALIGNED_RUN = 64 << 10


def aligned_runs(old: bytes, new: bytes) -> list[tuple[int, int, int]]:
    """(new start, old start, length) of stretches of at least 64 KiB that are identical at the
    same offset in both (what a rebuild leaves where nothing moved), compared by 4 KiB blocks."""
    runs: list[tuple[int, int, int]] = []
    start = None
    end = min(len(old), len(new)) // 4096 * 4096
    for at in range(0, end + 4096, 4096):
        same = at < end and old[at:at + 4096] == new[at:at + 4096]
        if same and start is None:
            start = at
        elif not same and start is not None:
            if at - start >= ALIGNED_RUN:
                runs.append((start, start, at - start))
            start = None
    return runs


def make_patch(old: bytes, new: bytes) -> Patch:
    """A patch from `old` to `new`: stretches identical in place copied, the rest bsdiffed in
    windows against the old bytes next to where the neighbouring copies come from."""
    patch = Patch()
    n_pos = prev_old_end = 0
    for n, o, length in aligned_runs(old, new) + [(len(new), len(old), 0)]:
        if n > n_pos:
            _diff_gap(patch, old, new, n_pos, n, prev_old_end, o)
        patch.copy(o, length)
        n_pos, prev_old_end = n + length, o + length
    return patch


def _diff_gap(patch: Patch, old: bytes, new: bytes, n0: int, n1: int, o_before: int, o_after: int) -> None:
    """new[n0:n1], diffed against the old bytes between where its neighbours come from (whole
    when both sides are small, else in windows of new bytes against old bytes in proportion)."""
    gap = n1 - n0
    lo, hi = max(0, min(o_before, o_after)), min(len(old), max(o_before, o_after))
    if hi - lo < gap:
        lo, hi = max(0, lo - (gap - (hi - lo))), min(len(old), hi + gap)
    if gap <= WINDOW and hi - lo <= WINDOW + 2 * MARGIN:
        patch.extend(raw_diff(old[lo:hi], new[n0:n1]), lo)
        return
    for w0 in range(n0, n1, WINDOW):
        w1 = min(n1, w0 + WINDOW)
        a = lo + (w0 - n0) * (hi - lo) // gap
        b = lo + (w1 - n0) * (hi - lo) // gap
        wlo, whi = max(0, a - MARGIN), min(len(old), b + MARGIN)
        patch.extend(raw_diff(old[wlo:whi], new[w0:w1]), wlo)


# ---- patch files ----------------------------------------------------------------------------


def bsdf2(streams: tuple[bytes, bytes, bytes], new_size: int) -> bytes:
    """BSDF2 from raw control/diff/extra streams, each compressed by whichever of bzip2 and brotli
    makes it smaller (brotli at quality 11 below 1 MiB, 9 above, where 11 gets slow)."""
    import brotli

    kinds, packed = [], []
    for stream in streams:
        quality = 11 if len(stream) < 1 << 20 else 9
        candidates = [(BROTLI, brotli.compress(stream, quality=quality, lgwin=24))]
        if len(stream) < 16 << 20:
            candidates.append((BZ2, bz2.compress(stream, 9)))
        kind, data = min(candidates, key=lambda c: (len(c[1]), c[0]))
        kinds.append(kind)
        packed.append(data)
    return (BSDF2_MAGIC + bytes(kinds) + int64(len(packed[0])) + int64(len(packed[1])) + int64(new_size)
            + b"".join(packed))


def bsdiff40(streams: tuple[bytes, bytes, bytes], new_size: int) -> bytes:
    packed = [bz2.compress(s, 9) for s in streams]
    return BSDIFF40_MAGIC + int64(len(packed[0])) + int64(len(packed[1])) + int64(new_size) + b"".join(packed)


def patch_header(head: bytes, patch_size: int) -> tuple[tuple[int, int, int], tuple[int, int], int]:
    """(stream compressors, (len ctrl, len diff), new size) of a BSDIFF40 or BSDF2 patch of
    `patch_size` bytes, from its first 32 bytes."""
    if len(head) < 32 or patch_size < 32 or not (head.startswith(BSDIFF40_MAGIC) or head.startswith(BSDF2_MAGIC)):
        raise ValueError("not a BSDIFF40 or BSDF2 patch")
    kinds = (BZ2, BZ2, BZ2) if head.startswith(BSDIFF40_MAGIC) else tuple(head[5:8])
    lengths = (read_int64(head[8:16]), read_int64(head[16:24]))
    if min(lengths) < 0 or 32 + sum(lengths) > patch_size:
        raise ValueError("patch stream lengths point past its end")
    return kinds, lengths, read_int64(head[24:32])  # type: ignore[return-value]

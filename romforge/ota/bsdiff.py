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
its memory. It runs only where the old and new bytes lose their alignment (make_patch), on
short stretches against the old bytes near it, so its cost follows the changes, not the size;
best_patch also runs it over a whole piece (at most 32 MiB of old bytes) where the tracker's
patch is not already small, and keeps whichever packs smaller.
"""

from __future__ import annotations

import bz2
import zlib
from dataclasses import dataclass, field
from typing import Iterator

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
        diffs, extras = b"".join(other.diffs), b"".join(other.extras)
        d = e = 0
        pos = old_base
        for x, y, z in other.entries:
            if x:
                self.add(pos, diffs[d:d + x])
            self.literal(extras[e:e + y])
            pos += x + z
            d += x
            e += y

    def streams(self) -> tuple[bytes, bytes, bytes]:
        return encode_control(self.entries), b"".join(self.diffs), b"".join(self.extras)


# ---- making a patch ------------------------------------------------------------------------


def suffix_array(old: bytes) -> bytearray:
    from detools.suffix_array import divsufsort

    sa = bytearray(4 * (len(old) + 1))
    divsufsort(old, sa)
    return sa


def raw_diff(old: bytes, new: bytes, sa: bytearray | None = None) -> Patch:
    """bsdiff of `new` against `old` (whose suffix array `sa` may be given), with no-match
    stretches moved to the literal stream."""
    from detools import bsdiff as dbsdiff
    from detools.common import unpack_size_bytes

    patch = Patch()
    if not new:
        return patch
    if not old:
        patch.literal(new)
        return patch
    chunks = dbsdiff.create_patch(sa if sa is not None else suffix_array(old), old, new, bytearray(len(new) + 1))
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


NEGATE = bytes((256 - b) & 0xFF for b in range(256))
TRACK_BLOCK = 4096  # alignment is checked this many bytes at a time
TRACK_SAME = 0.75  # a piece follows the current alignment when this share of its bytes agree
STRETCH = 16 << 10  # new bytes bsdiffed where the alignment is lost (growing while nothing matches)


def _regular(diff: bytes, piece: bytes) -> bool:
    """A diff that differs often but regularly (zlib, fastest, packs it to a quarter of what the new
    bytes pack to): a table of offsets or addresses, every entry moved by the same amount."""
    return diff.count(0) * 4 >= len(diff) and len(zlib.compress(diff, 1)) * 4 <= len(zlib.compress(piece, 1))


REFINE_BELOW = 0.97  # a piece agreeing less than this at the current alignment looks for a better one
ANCHOR = 32  # bytes of a new piece looked up exactly in the old bytes near the alignment
ANCHOR_STEP = 512
REFINE_REACH = 64 << 10
REFINE_SPAN = 16 << 10  # new bytes both alignments are compared on
REFINE_GAIN = 0.03  # how much smaller (zlib, fastest) the better one's diff must pack
REFINE_REST = 16  # pieces followed without looking again after a look found nothing better


def _agreement(old: bytes, piece: bytes, o: int) -> bytes:
    from detools.bsdiff import add_bytes

    return bytes(add_bytes(piece, old[o:o + len(piece)].translate(NEGATE)))


def _cost(diff: bytes) -> int:
    return len(zlib.compress(diff, 1))


def _better_delta(old: bytes, new: bytes, pos: int, delta: int) -> tuple[int | None, bool]:
    """(a nearby alignment under which the diff of the new bytes from `pos`, REFINE_SPAN of them,
    packs clearly smaller than at `delta`, or None; whether a candidate fell off the old bytes'
    edge, so the next piece should look again). The candidates are where exact anchors of the
    new bytes sit in the old ones within REFINE_REACH. In a table of fixed-size entries
    (relocations, vtables, symbols) an alignment off by a whole entry still agrees on most
    bytes, so following the first alignment that agrees well enough pays for every entry's
    difference from its neighbour (libmergedlo.so's relocation table: 670 against 322 KB for
    its second 8 MiB)."""
    span = new[pos:pos + REFINE_SPAN]
    o = pos + delta
    if o < 0 or o + len(span) > len(old):
        return None, False
    lo, hi = max(0, o - REFINE_REACH), min(len(old), o + len(span) + REFINE_REACH)
    cost = _cost(_agreement(old, span, o))
    tried = {delta}
    best, soon = None, False
    for at in range(0, min(len(span), TRACK_BLOCK) - ANCHOR + 1, ANCHOR_STEP):
        anchor = span[at:at + ANCHOR]
        if len(set(anchor)) < 8:  # zeros or padding: found everywhere, says nothing
            continue
        found = old.find(anchor, lo, hi)
        candidate = found - at - pos
        if found < 0 or candidate in tried:
            continue
        tried.add(candidate)
        if not 0 <= pos + candidate <= len(old) - len(span):
            soon = True  # the old bytes start (or end) too near: look again at the next piece
            continue
        candidate_cost = _cost(_agreement(old, span, pos + candidate))
        if candidate_cost < cost * (1 - REFINE_GAIN):
            best, cost = candidate, candidate_cost
    return best, soon


def _aligned(old: bytes, new: bytes, pos: int, delta: int, out: list[bytes]) -> tuple[int, int, int]:
    """How far from `pos` new bytes follow old ones (their diffs appended to `out`), the
    alignment those diffs are at, and the one to go on with. Where a piece is followed but
    agrees on less than REFINE_BELOW of its bytes, a better alignment nearby (_better_delta)
    is looked for and followed from that piece on; a piece that is not followed at all ends
    the run and goes to bsdiff, which handles an edit inside a piece byte by byte (looking for
    a better alignment there instead made libc's and postgres's patches 2-13 % larger)."""
    start = delta
    rest = 0
    while pos < len(new):
        o = pos + delta
        piece = new[pos:pos + TRACK_BLOCK]
        if o < 0 or o + len(piece) > len(old):
            break
        diff = _agreement(old, piece, o)
        zeros = diff.count(0)
        followed = zeros >= TRACK_SAME * len(piece) or _regular(diff, piece)
        if followed and zeros < REFINE_BELOW * len(piece) and rest <= 0:
            better, soon = _better_delta(old, new, pos, delta)
            if better is not None:
                if out:  # the pieces so far are one add; the next ones start at the new alignment
                    return pos, start, better
                start = delta = better
                diff = _agreement(old, piece, pos + delta)
            elif not soon:
                rest = REFINE_REST
        elif not followed:
            break
        rest -= 1
        out.append(diff)
        pos += len(piece)
    return pos, start, delta


WHOLE_OLD = 16 << 20  # old bytes up to this size are searched whole when nearer ones have nothing


def _windows(old: bytes, piece: bytes, centre: int, cached: list) -> Iterator[tuple[int, int, bytearray]]:
    """Old windows to search for `piece` (aligned near `centre`), nearest first: MARGIN around
    it (on a grid, so one suffix sort serves several stretches), then all the old bytes when
    there are at most WHOLE_OLD. `cached` holds the last (lo, hi, suffix array) made.

    No narrower window comes first: in 64 KiB around the alignment bsdiff nearly always finds
    an approximate match for half the stretch, which stopped the search before the exact one
    further away was seen (libmergedlo.so's patch 13 % larger, libnode's 21 %)."""
    n = len(piece)
    lo = max(0, centre - MARGIN) // MARGIN * MARGIN
    hi = min(len(old), (centre + n + MARGIN) // MARGIN * MARGIN + MARGIN)
    candidates = [(lo, hi)] + ([(0, len(old))] if len(old) <= WHOLE_OLD and (lo, hi) != (0, len(old)) else [])
    for lo, hi in candidates:
        if cached and cached[0] <= lo and hi <= cached[1]:
            yield cached  # type: ignore[misc]
        else:
            cached[:] = [lo, hi, suffix_array(old[lo:hi])]
            yield tuple(cached)  # type: ignore[misc]


PROBE = 64 << 10  # new bytes compared at each first alignment tried


def _first_alignment(old: bytes, new: bytes) -> int:
    """Where the new bytes most likely start in the old ones: the old bytes cut out of a file
    in proportion (delta.py) carry a margin on both sides (centred), only after (a file's first
    piece: at 0) or only before (its last piece: at the end); of the three, the one under which
    the first PROBE bytes agree most."""
    piece = new[:PROBE]
    best, best_same = (len(old) - len(new)) // 2, -1
    for delta in ((len(old) - len(new)) // 2, 0, len(old) - len(new)):
        if delta < 0 or delta + len(piece) > len(old):
            continue
        same = _agreement(old, piece, delta).count(0)
        if same > best_same:
            best, best_same = delta, same
    return best


def make_patch(old: bytes, new: bytes) -> Patch:
    """A patch from `old` to `new` that follows their alignment: while new bytes agree (mostly)
    with old bytes at the current offset, they are added there, with no search at all (code
    that moved as a whole, its addresses changed); where the alignment is lost, a short
    stretch is bsdiffed against old windows ever wider (_windows) until one holds where it
    comes from, and the alignment bsdiff lands on is followed on. A stretch no window explains
    is new bytes; the next stretch is then longer, so new content costs few searches.
    bsdiff's own scan searches at every byte."""
    patch = Patch()
    pos, delta = 0, _first_alignment(old, new)
    stretch = STRETCH
    cached: list = []
    while pos < len(new):
        diffs: list[bytes] = []
        end, used, delta = _aligned(old, new, pos, delta, diffs)
        if end > pos:
            patch.add(pos + used, b"".join(diffs))
            pos = end
            stretch = STRETCH
            continue
        end = min(len(new), pos + stretch)
        piece = new[pos:end]
        centre = min(max(0, pos + delta), len(old))
        best: tuple[int, Patch, int] | None = None
        for lo, hi, sa in _windows(old, piece, centre, cached):
            sub = raw_diff(old[lo:hi], piece, sa)
            matched = sum(x for x, _, _ in sub.entries)
            if best is None or matched > best[0]:
                best = (matched, sub, lo)
            if matched * 2 >= len(piece):  # bsdiff found where these bytes come from
                break
        matched, sub, lo = best  # type: ignore[misc]
        patch.extend(sub, lo)
        if matched * 2 >= len(piece):
            delta = lo + sub.oldpos - end
            stretch = STRETCH
        else:  # new bytes: look in longer stretches
            stretch = min(WINDOW, stretch * 4)
        pos = end
    return patch


PLAIN_TRY_SHARE = 0.005  # a patch over this share of its new bytes is also made by bsdiff's own scan …
PLAIN_MAX_OLD = 32 << 20  # … when the old bytes are at most this many (its suffix array: 4 bytes each)


def best_patch(old: bytes, new: bytes) -> Patch:
    """make_patch's patch, or bsdiff's own scan over the same bytes (raw_diff) when that packs
    smaller. The alignment tracker is fast and nearly free where little changed; bsdiff's scan
    extends every match byte by byte and finds the small pieces of old code the tracker's
    4 KiB steps skip: on the realistic week's libraries the two together make 7 % smaller
    patches than the tracker alone (libjvm.so's last 7 MiB: 440 against 302 KB). The scan
    costs two to three times as much, and on long repeats (zero runs, fill patterns) it can
    cost a hundred times, so it is tried only where the tracker's patch is not already small
    (over PLAIN_TRY_SHARE of the new bytes; libgs.so's middle piece: 1.9 KB in 0.1 s, the scan
    54 s for the same)."""
    patch = make_patch(old, new)
    if len(old) > PLAIN_MAX_OLD or not new:
        return patch
    size = _packed_guess(patch)
    if size <= PLAIN_TRY_SHARE * len(new):
        return patch
    plain = raw_diff(old, new)
    return plain if _packed_guess(plain) < size else patch


def _packed_guess(patch: Patch) -> int:
    """About what a patch packs to, for choosing between two: zlib at level 6, many times faster
    than the bzip2 and brotli 11 the patch file is packed with at the end."""
    return sum(len(zlib.compress(stream, 6)) for stream in patch.streams())


# ---- patch files ----------------------------------------------------------------------------


def bsdf2(streams: tuple[bytes, bytes, bytes], new_size: int, *, puffed: bool = False) -> bytes:
    """BSDF2 from raw control/diff/extra streams, each compressed by whichever of bzip2 and brotli
    makes it smaller. The diff stream of an executable (mostly zeros, the rest small numbers)
    is bzip2's: on the realistic week's libraries bzip2 -9 makes it 20 % smaller than brotli at
    quality 9, in half the time; brotli (quality 11) is tried on it only below 256 KiB. The
    other two streams get both, brotli at quality 11 below 64 KiB and 9 above (11 is ten times
    slower). `puffed`: the patch of a PUFFDIFF (puffed deflate streams, which puffin itself
    packs with brotli 11): every stream below 16 MiB gets brotli 11 too, which makes tomcat-catalina's
    diff and extra streams 13 % and 9 % smaller than bzip2 and brotli 9 do."""
    import brotli

    kinds, packed = [], []
    for i, stream in enumerate(streams):
        candidates = [(BZ2, bz2.compress(stream, 9))]
        if len(stream) < (256 << 10 if i == 1 and not puffed else 16 << 20):
            quality = 11 if puffed or len(stream) < 64 << 10 else 9
            candidates.append((BROTLI, brotli.compress(stream, quality=quality, lgwin=24)))
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

"""Applying BSDIFF40/BSDF2 patches and compressed REPLACE data as streams, with size caps.

`ota apply` never holds a partition or a whole blob: compressed streams are read from the
payload in pieces and decompressed as far as the next step needs (never past what the
operation's blocks can hold), old bytes are read where the patch points, and the output is
handed on in pieces. Old bytes outside the source read as zeros, as in bspatch.
"""

from __future__ import annotations

import bz2
import lzma
from typing import Callable

from romforge.ota.bsdiff import BROTLI, BZ2, RAW, patch_header, read_int64

PIECE = 1 << 20
ReadBlob = Callable[[int, int], bytes]  # (offset in the blob, length) → bytes


class StreamDecoder:
    """Bytes of one compressed stream, decompressed on demand, never more than `cap` in all."""

    def __init__(self, kind: int, read: ReadBlob, start: int, length: int, cap: int) -> None:
        self.kind, self.read_blob, self.pos, self.end, self.cap = kind, read, start, start + length, cap
        self.buf = bytearray()
        self.total = 0
        if kind == BZ2:
            self.d = bz2.BZ2Decompressor()
        elif kind == BROTLI:
            import brotli

            self.d = brotli.Decompressor()
        elif kind != RAW:
            raise ValueError(f"unknown patch stream compressor {kind}")

    def _compressed(self) -> bytes:
        n = min(PIECE, self.end - self.pos)
        data = self.read_blob(self.pos, n) if n > 0 else b""
        self.pos += n
        return data

    def _more(self, want: int) -> bytes:
        if self.kind == RAW:
            return self._compressed()
        if self.kind == BZ2:
            if self.d.eof:
                return b""
            data = self._compressed() if self.d.needs_input else b""
            if self.d.needs_input and not data:
                return b""
            return self.d.decompress(data, max_length=want)
        if self.d.is_finished():
            return b""
        import brotli

        data = self._compressed() if self.d.can_accept_more_data() else b""
        try:
            out = self.d.process(data, output_buffer_limit=want)
        except brotli.error:  # not a ValueError: the apply's error handling would not see it
            raise ValueError("patch stream is not valid brotli data") from None
        if not out and not data and self.pos >= self.end:
            return b""
        return out

    def read(self, n: int) -> bytes:
        while len(self.buf) < n:
            more = self._more(max(n - len(self.buf), PIECE))
            if not more:
                if self.pos >= self.end or (self.kind == BZ2 and self.d.eof):
                    raise ValueError("patch stream ends before the patch does")
                continue
            self.total += len(more)
            if self.total > self.cap:
                raise ValueError("patch stream decompresses past its declared size")
            self.buf += more
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out


def bspatch_stream(read_blob: ReadBlob, blob_size: int, read_old: Callable[[int, int], bytes], old_size: int,
                   write: Callable[[bytes], None], *, limit: int) -> int:
    """Apply a BSDIFF40/BSDF2 patch, writing the new bytes in pieces; returns their count."""
    from detools.bsdiff import add_bytes

    kinds, (ctrl_len, diff_len), size = patch_header(read_blob(0, min(32, blob_size)), blob_size)
    if not 0 <= size <= limit:
        raise ValueError(f"patch output of {size} bytes does not fit its {limit}-byte destination")
    ctrl = StreamDecoder(kinds[0], read_blob, 32, ctrl_len, 24 * (size + 1) + 24)
    diff = StreamDecoder(kinds[1], read_blob, 32 + ctrl_len, diff_len, size)
    extra = StreamDecoder(kinds[2], read_blob, 32 + ctrl_len + diff_len, blob_size - 32 - ctrl_len - diff_len, size)
    newpos = oldpos = 0
    while newpos < size:
        entry = ctrl.read(24)
        x, y, z = read_int64(entry[:8]), read_int64(entry[8:16]), read_int64(entry[16:])
        if x < 0 or y < 0 or newpos + x + y > size:
            raise ValueError("patch control entry runs past the output")
        for done in range(0, x, PIECE):
            n = min(PIECE, x - done)
            write(bytes(add_bytes(_old(read_old, old_size, oldpos, n), diff.read(n))))
            oldpos += n
        for done in range(0, y, PIECE):
            write(extra.read(min(PIECE, y - done)))
        oldpos += z
        newpos += x + y
    return size


def _old(read_old: Callable[[int, int], bytes], old_size: int, pos: int, n: int) -> bytes:
    lo, hi = max(0, pos), min(old_size, pos + n)
    if lo >= hi:
        return bytes(n)
    return bytes(lo - pos) + read_old(lo, hi - lo) + bytes(pos + n - hi)


def bspatch_bytes(old: bytes, patch: bytes, limit: int) -> bytes:
    """In memory (PUFFDIFF's puffed streams): the whole new bytes."""
    out = bytearray()
    bspatch_stream(lambda o, n: patch[o:o + n], len(patch), lambda o, n: old[o:o + n], len(old), out.extend,
                   limit=limit)
    return bytes(out)


def decompress_stream(kind: str, read_blob: ReadBlob, blob_size: int, write: Callable[[bytes], None],
                      limit: int) -> int:
    """REPLACE_XZ / REPLACE_BZ data, decompressed piece by piece; returns the bytes written."""
    d = lzma.LZMADecompressor(format=lzma.FORMAT_XZ) if kind == "xz" else bz2.BZ2Decompressor()
    total = pos = 0
    while not d.eof:
        if d.needs_input:
            if pos >= blob_size:
                raise ValueError("compressed data ends early")
            data = read_blob(pos, min(PIECE, blob_size - pos))
            pos += len(data)
        else:
            data = b""
        out = d.decompress(data, max_length=PIECE)
        total += len(out)
        if total > limit:
            raise ValueError("decompressed data does not fit its blocks")
        if out:
            write(out)
    return total

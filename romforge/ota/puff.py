"""Puffin's puff format: deflate streams as byte-aligned tokens, and back, bit-exact.

update_engine's PUFFDIFF applies a bsdiff patch to "puffed" streams: every listed deflate
stream is replaced by its puff, a byte-aligned spelling of what the deflate bits say (block
headers and Huffman code lengths, literal runs, length/distance pairs), so bsdiff sees the
literal bytes, and "huffing" the patched puff rebuilds the deflate bits exactly: nothing is
recompressed, so no zlib setting has to be guessed. The layout is puffin's (external/puffin:
puff_writer.cc, puff_reader.cc, puffer.cc, huffer.cc, huffman_table.cc, puffin_stream.cc);
this module is written from those definitions:

    block metadata   u16 BE (length - 1), then: byte 0 = BFINAL<<7 | BTYPE<<5 | (stored: the
                     padding bits before LEN); dynamic: HLIT, HDIST, HCLEN, the code length code
                     lengths two per byte (high nibble first), then each lit/len and distance code
                     length as a byte (0-15; 16+r repeat 3+r; 20+r zeros 3+r; 28+r zeros 11+r)
    literals         0x00 | (n - 1) for n <= 127, else 0x7F + u16 BE (n - 128); n <= 65663
    length/distance  0x80 | (length - 3) for length < 130, else 0xFF + (length - 130); u16 BE distance
    end of block     0xFF 0x81

A puffed *stream* is a whole byte string with some deflate bit-extents puffed in place: the
bytes between them are copied, with the bits that belong to a neighbouring deflate masked
(the byte a deflate starts in keeps its low bits) or shifted out (the byte one ends in keeps
its high bits, shifted down).

huff.py goes the other way. Every rejection here is what puffin rejects too, or stricter (a length/distance or code-length
spelling that would not huff back to the same bits): a stream that is refused is simply not
puffed.
"""

from __future__ import annotations

LEN_BASE = (3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163,
            195, 227, 258)
LEN_EXTRA = (0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0)
DIST_BASE = (1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049,
             3073, 4097, 6145, 8193, 12289, 16385, 24577)
DIST_EXTRA = (0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13)
CL_ORDER = (16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15)
LITERALS_MAX = (1 << 16) + 127
END_OF_BLOCK = b"\xff\x81"
FIXED_LITLEN = [8] * 144 + [9] * 112 + [7] * 24 + [8] * 8
FIXED_DIST = [5] * 30


class PuffError(ValueError):
    """A deflate stream puffin would not puff (or not huff back to the same bits), or a bad puff."""


# ---- canonical Huffman codes ----------------------------------------------------------


def canonical_codes(lengths: list[int]) -> list[int]:
    """Each symbol's canonical code, bit-reversed (deflate sends codes from their top bit)."""
    count = [0] * 16
    for n in lengths:
        count[n] += 1
    count[0] = 0
    for bits in range(1, 16):
        if count[bits] > (1 << bits):
            raise PuffError("oversubscribed Huffman code lengths")
    if sum(count[bits] << (15 - bits) for bits in range(1, 16)) > 1 << 15:
        raise PuffError("oversubscribed Huffman code lengths")
    next_code = [0] * 16
    code = 0
    for bits in range(1, 16):
        code = (code + count[bits - 1]) << 1
        next_code[bits] = code
    reversed_codes = [0] * len(lengths)
    for sym, n in enumerate(lengths):
        if n:
            c = next_code[n]
            next_code[n] += 1
            r = 0
            for _ in range(n):
                r = (r << 1) | (c & 1)
                c >>= 1
            reversed_codes[sym] = r
    return reversed_codes


def _decoder(lengths: list[int]) -> tuple[list[int], int]:
    """(table indexed by the next max_bits bits → symbol << 4 | length, or -1; max_bits)."""
    codes = canonical_codes(lengths)
    max_bits = max(lengths, default=0)
    table = [-1] * (1 << max_bits)
    for sym, n in enumerate(lengths):
        if n:
            entry = (sym << 4) | n
            for k in range(codes[sym], 1 << max_bits, 1 << n):
                table[k] = entry
    return table, max_bits


_FIXED_DECODERS = (_decoder(FIXED_LITLEN), _decoder(FIXED_DIST))


# ---- deflate → puff --------------------------------------------------------------------


class _Bits:
    """LSB-first bits of data[start_bit : end_byte*8]."""

    __slots__ = ("data", "pos", "end", "buf", "cnt")

    def __init__(self, data: bytes, start_bit: int, end_byte: int) -> None:
        self.data, self.pos, self.end = data, start_bit >> 3, end_byte
        self.buf = self.cnt = 0
        if start_bit & 7:
            self.need(8)
            self.drop(start_bit & 7)

    def need(self, n: int) -> None:
        while self.cnt < n:
            if self.pos >= self.end:
                raise PuffError("deflate stream ends early")
            take = min(7, self.end - self.pos)
            self.buf |= int.from_bytes(self.data[self.pos:self.pos + take], "little") << self.cnt
            self.pos += take
            self.cnt += 8 * take

    def take(self, n: int) -> int:
        self.need(n)
        v = self.buf & ((1 << n) - 1)
        self.buf >>= n
        self.cnt -= n
        return v

    def drop(self, n: int) -> None:
        self.buf >>= n
        self.cnt -= n

    def left(self) -> int:
        return self.cnt + 8 * (self.end - self.pos)

    def bit_position(self) -> int:
        return self.pos * 8 - self.cnt


def _symbol(bits: _Bits, table: list[int], max_bits: int) -> int:
    if max_bits == 0:
        raise PuffError("a code from an empty Huffman table")
    if bits.cnt < max_bits:
        try:
            bits.need(max_bits)
        except PuffError:  # near the end: the last code may be shorter than max_bits
            pass
    entry = table[bits.buf & ((1 << max_bits) - 1)]
    if entry < 0 or (entry & 15) > bits.cnt:
        raise PuffError("invalid Huffman code")
    bits.drop(entry & 15)
    return entry >> 4


def _code_lengths(bits: _Bits, table: list[int], max_bits: int, count: int, meta: bytearray) -> list[int]:
    """`count` code lengths (a repeat may not cross the end: puffin reads the two arrays apart)."""
    lengths: list[int] = []
    while len(lengths) < count:
        code = _symbol(bits, table, max_bits)
        if code < 16:
            meta.append(code)
            lengths.append(code)
            continue
        if code == 16:
            if not lengths:
                raise PuffError("code length repeat with nothing to repeat")
            extra = bits.take(2)
            meta.append(16 + extra)
            lengths += [lengths[-1]] * (3 + extra)
        elif code == 17:
            extra = bits.take(3)
            meta.append(20 + extra)
            lengths += [0] * (3 + extra)
        else:
            extra = bits.take(7)
            meta.append(28 + extra)
            lengths += [0] * (11 + extra)
    if len(lengths) != count:
        raise PuffError("a code length repeat runs past its table")
    return lengths


def _dynamic_header(bits: _Bits, meta: bytearray) -> tuple[tuple[list[int], int], tuple[list[int], int]]:
    hlit, hdist, hclen = bits.take(5), bits.take(5), bits.take(4)
    meta += bytes((hlit, hdist, hclen))
    if hlit + 257 > 286 or hdist + 1 > 30:
        raise PuffError("more lit/len or distance codes than deflate defines")
    cl = [0] * 19
    for i in range(hclen + 4):
        v = bits.take(3)
        cl[CL_ORDER[i]] = v
        if i % 2 == 0:
            meta.append(v << 4)
        else:
            meta[-1] |= v
    cl_table, cl_bits = _decoder(cl)
    litlen = _code_lengths(bits, cl_table, cl_bits, hlit + 257, meta)
    dist = _code_lengths(bits, cl_table, cl_bits, hdist + 1, meta)
    return _decoder(litlen), _decoder(dist)


class _PuffWriter:
    def __init__(self) -> None:
        self.out = bytearray()
        self.lits = bytearray()

    def flush(self) -> None:
        n = len(self.lits)
        if n:
            if n <= 127:
                self.out.append(n - 1)
            else:
                self.out.append(0x7F)
                self.out += (n - 128).to_bytes(2, "big")
            self.out += self.lits
            self.lits = bytearray()

    def metadata(self, meta: bytes) -> None:
        self.flush()
        self.out += (len(meta) - 1).to_bytes(2, "big")
        self.out += meta


def puff_deflate(data: bytes, start_bit: int, end_byte: int | None = None, *,
                 length_bits: int | None = None) -> tuple[bytes, int]:
    """(puff, bits read) of the deflate blocks from `start_bit`.

    With `length_bits` (an extent from a patch), blocks are read as puffin reads them: while
    8 bits are left of the extent's bytes; without it, up to the end of the final block."""
    if length_bits is not None:
        end_byte = (start_bit + length_bits + 7) >> 3
    bits = _Bits(data, start_bit, len(data) if end_byte is None else end_byte)
    w = _PuffWriter()
    out, lits = w.out, w.lits
    while True:
        if length_bits is not None and bits.left() < 8:
            break
        final = bits.take(1)
        kind = bits.take(2)
        header = (final << 7) | (kind << 5)
        if kind == 0:
            skip = bits.cnt & 7
            pad = bits.take(skip)
            if pad >= 32:
                raise PuffError("stored block padding bits that a puff header cannot hold")
            size, nsize = bits.take(16), bits.take(16)
            if size ^ nsize != 0xFFFF:
                raise PuffError("stored block LEN/NLEN mismatch")
            assert bits.cnt % 8 == 0
            start = bits.pos - bits.cnt // 8
            if start + size > bits.end:
                raise PuffError("stored block runs past the stream")
            w.metadata(bytes((header | pad,)))
            w.lits = lits = bytearray(data[start:start + size])
            w.flush()
            lits = w.lits
            out += END_OF_BLOCK
            bits.pos, bits.buf, bits.cnt = start + size, 0, 0
        elif kind == 3:
            raise PuffError("reserved deflate block type")
        else:
            meta = bytearray((header,))
            if kind == 1:
                (littab, litmax), (disttab, distmax) = _FIXED_DECODERS
            else:
                (littab, litmax), (disttab, distmax) = _dynamic_header(bits, meta)
            w.metadata(bytes(meta))
            lits = w.lits
            litmask = (1 << litmax) - 1
            while True:
                if bits.cnt < 48 and bits.pos < bits.end:
                    take = min(7, bits.end - bits.pos)
                    bits.buf |= int.from_bytes(data[bits.pos:bits.pos + take], "little") << bits.cnt
                    bits.pos += take
                    bits.cnt += 8 * take
                entry = littab[bits.buf & litmask]
                n = entry & 15
                if entry < 0 or n > bits.cnt:
                    raise PuffError("invalid literal/length code")
                bits.buf >>= n
                bits.cnt -= n
                sym = entry >> 4
                if sym < 256:
                    lits.append(sym)
                    if len(lits) == LITERALS_MAX:
                        w.flush()
                        lits = w.lits
                    continue
                if sym == 256:
                    w.flush()
                    lits = w.lits
                    out += END_OF_BLOCK
                    break
                if sym > 285:
                    raise PuffError("invalid length symbol")
                i = sym - 257
                length = LEN_BASE[i] + (bits.take(LEN_EXTRA[i]) if LEN_EXTRA[i] else 0)
                if length == 258 and sym != 285:
                    raise PuffError("length 258 spelled with code 284 does not huff back")
                d = _symbol(bits, disttab, distmax)
                if d >= 30:
                    raise PuffError("invalid distance symbol")
                dist = DIST_BASE[d] + (bits.take(DIST_EXTRA[d]) if DIST_EXTRA[d] else 0)
                w.flush()
                lits = w.lits
                if length < 130:
                    out.append(0x80 | (length - 3))
                else:
                    out.append(0xFF)
                    out.append(length - 130)
                out += dist.to_bytes(2, "big")
        if length_bits is None and final:
            break
    consumed = bits.bit_position() - start_bit
    if length_bits is not None and (bits.pos - bits.cnt // 8) != end_byte:
        raise PuffError("the deflate extent does not end where its blocks end")
    return bytes(out), consumed


# ---- puffed streams --------------------------------------------------------------------

BitExtent = tuple[int, int]  # (offset, length) in bits
ByteExtent = tuple[int, int]


def puff_stream(data: bytes, deflates: list[BitExtent]) -> tuple[bytes, list[ByteExtent]]:
    """`data` with each deflate bit-extent puffed in place (PuffinStream's read side)."""
    out = bytearray()
    puffs: list[ByteExtent] = []
    prev_end = 0
    for off, length in deflates:
        if off < prev_end or length <= 0 or off + length > len(data) * 8:
            raise PuffError("deflate extents overlap, are empty or run past the stream")
        _gap(out, data, prev_end, (off + 7) >> 3, mask_bits=off & 7)
        puff, _ = puff_deflate(data, off, length_bits=length)
        puffs.append((len(out), len(puff)))
        out += puff
        prev_end = off + length
    _gap(out, data, prev_end, len(data), mask_bits=0)
    return bytes(out), puffs


def _gap(out: bytearray, data: bytes, prev_end: int, end_byte: int, *, mask_bits: int) -> None:
    start = prev_end >> 3
    if end_byte <= start:
        return
    gap = bytearray(data[start:end_byte])
    if mask_bits:
        gap[-1] &= (1 << mask_bits) - 1
    if prev_end & 7:
        gap[0] >>= prev_end & 7
    out += gap

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

Every rejection here is what puffin rejects too, or stricter (a length/distance or code-length
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


def _codes(lengths: list[int]) -> list[int]:
    """Each symbol's canonical code, bit-reversed (deflate sends codes from their top bit)."""
    count = [0] * 16
    for n in lengths:
        count[n] += 1
    count[0] = 0
    for bits in range(1, 16):
        if count[bits] > (1 << bits):
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
    codes = _codes(lengths)
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


# ---- puff → deflate --------------------------------------------------------------------


class _BitWriter:
    __slots__ = ("out", "acc", "n")

    def __init__(self, first_bits: int = 0, value: int = 0) -> None:
        self.out = bytearray()
        self.acc, self.n = value & ((1 << first_bits) - 1), first_bits

    def put(self, nbits: int, value: int) -> None:
        self.acc |= value << self.n
        self.n += nbits
        if self.n >= 32:
            self.out += (self.acc & 0xFFFFFFFF).to_bytes(4, "little")
            self.acc >>= 32
            self.n -= 32

    def boundary(self, value: int) -> None:
        self.put((8 - (self.n & 7)) & 7, value)

    def bits(self) -> int:
        return len(self.out) * 8 + self.n

    def flush(self) -> bytes:
        nbytes = (self.n + 7) // 8
        return bytes(self.out) + self.acc.to_bytes(nbytes, "little")


def _encoder(lengths: list[int]) -> list[tuple[int, int]]:
    return list(zip(_codes(lengths), lengths))


_FIXED_ENCODERS = (_encoder(FIXED_LITLEN), _encoder(FIXED_DIST))
_LEN_CODE = [0] * 259
_DIST_CODE = [0] * 32769
for _i, _b in enumerate(LEN_BASE):
    for _v in range(_b, min(_b + (1 << LEN_EXTRA[_i]), 259)):
        _LEN_CODE[_v] = _i
for _i, _b in enumerate(DIST_BASE):
    for _v in range(_b, min(_b + (1 << DIST_EXTRA[_i]), 32769)):
        _DIST_CODE[_v] = _i


class _PuffReader:
    def __init__(self, puff: bytes) -> None:
        self.p, self.i = puff, 0

    def byte(self) -> int:
        if self.i >= len(self.p):
            raise PuffError("puff ends early")
        self.i += 1
        return self.p[self.i - 1]

    def u16(self) -> int:
        return (self.byte() << 8) | self.byte()

    def chunk(self, n: int) -> bytes:
        if self.i + n > len(self.p):
            raise PuffError("puff ends early")
        self.i += n
        return self.p[self.i - n:self.i]


def _lengths_from_meta(r: _PuffReader, count: int, w: _BitWriter, cl_enc: list[tuple[int, int]]) -> list[int]:
    lengths: list[int] = []
    while len(lengths) < count:
        p = r.byte()
        if p > 155:
            raise PuffError("bad code length in puff metadata")
        code = p if p < 16 else 16 if p < 20 else 17 if p < 28 else 18
        c, n = cl_enc[code]
        if not n:
            raise PuffError("code length code missing from its table")
        w.put(n, c)
        if code < 16:
            lengths.append(code)
        elif code == 16:
            if not lengths:
                raise PuffError("repeat with nothing to repeat")
            w.put(2, p - 16)
            lengths += [lengths[-1]] * (3 + p - 16)
        elif code == 17:
            w.put(3, p - 20)
            lengths += [0] * (3 + p - 20)
        else:
            w.put(7, p - 28)
            lengths += [0] * (11 + p - 28)
    if len(lengths) != count:
        raise PuffError("code length repeat runs past its table")
    return lengths


def huff_deflate(puff: bytes, *, first_bits: int = 0, first_value: int = 0) -> tuple[bytes, int]:
    """(deflate bytes, bits written) of a puff; the output starts with `first_bits` bits of
    `first_value` (the low bits of the byte the deflate starts in)."""
    r = _PuffReader(puff)
    w = _BitWriter(first_bits, first_value)
    while r.i < len(puff):
        meta = r.chunk(r.u16() + 1)
        header = meta[0]
        final, kind = header >> 7, (header >> 5) & 3
        w.put(1, final)
        w.put(2, kind)
        if kind == 0:
            w.boundary(header & 0x1F)
            b = r.byte()
            if b & 0x80:
                if r.byte() != 0x81 or b != 0xFF:
                    raise PuffError("stored block without its literals or end")
                size, raw = 0, b""
            else:
                size = (b + 1) if b < 127 else r.u16() + 128
                raw = r.chunk(size)
                if r.chunk(2) != END_OF_BLOCK:
                    raise PuffError("stored block does not end properly")
            w.put(16, size)
            w.put(16, size ^ 0xFFFF)
            for byte in raw:
                w.put(8, byte)
            continue
        if kind == 1:
            litenc, distenc = _FIXED_ENCODERS
        elif kind == 2:
            m = _PuffReader(meta[1:])
            hlit, hdist, hclen = m.byte(), m.byte(), m.byte()
            if hlit + 257 > 286 or hdist + 1 > 30 or hclen + 4 > 19:
                raise PuffError("bad dynamic header in puff")
            w.put(5, hlit)
            w.put(5, hdist)
            w.put(4, hclen)
            cl = [0] * 19
            for i in range(hclen + 4):
                v = (m.p[m.i] >> 4) if i % 2 == 0 else (m.byte() & 0x0F)
                cl[CL_ORDER[i]] = v
                w.put(3, v)
            if (hclen + 4) % 2:
                m.i += 1
            cl_enc = _encoder(cl)
            litenc = _encoder(_lengths_from_meta(m, hlit + 257, w, cl_enc))
            distenc = _encoder(_lengths_from_meta(m, hdist + 1, w, cl_enc))
            if m.i != len(m.p):
                raise PuffError("dynamic header metadata has trailing bytes")
        else:
            raise PuffError("reserved block type in puff")
        while True:
            b = r.byte()
            if b & 0x80 == 0:
                n = (b + 1) if b < 127 else r.u16() + 128
                for sym in r.chunk(n):
                    c, nb = litenc[sym]
                    if not nb:
                        raise PuffError("literal missing from its Huffman table")
                    w.put(nb, c)
                continue
            length = (b & 0x7F) + 3 if b != 0xFF else r.byte() + 130
            if length == 259:
                c, nb = litenc[256]
                if not nb:
                    raise PuffError("end of block missing from its Huffman table")
                w.put(nb, c)
                break
            if length > 258:
                raise PuffError("bad length in puff")
            dist = r.u16()
            if not 1 <= dist <= 32768:
                raise PuffError("bad distance in puff")
            i = _LEN_CODE[length]
            c, nb = litenc[257 + i]
            d = _DIST_CODE[dist]
            dc, dnb = distenc[d] if d < len(distenc) else (0, 0)
            if not nb or not dnb:
                raise PuffError("length or distance missing from its Huffman table")
            w.put(nb, c)
            if LEN_EXTRA[i]:
                w.put(LEN_EXTRA[i], length - LEN_BASE[i])
            w.put(dnb, dc)
            if DIST_EXTRA[d]:
                w.put(DIST_EXTRA[d], dist - DIST_BASE[d])
    written = w.bits() - first_bits
    return w.flush(), written


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


def huff_stream(puffed: bytes, deflates: list[BitExtent], puffs: list[ByteExtent], size: int) -> bytes:
    """The original bytes of a puffed stream (PuffinStream's write side), `size` bytes long."""
    if len(deflates) != len(puffs):
        raise PuffError("deflate and puff extents differ in number")
    out = bytearray()
    prev_end = 0
    ppos = 0
    for (off, length), (poff, plen) in zip(deflates, puffs):
        if off < prev_end or poff < ppos or poff + plen > len(puffed):
            raise PuffError("puff extents overlap or run past the puffed stream")
        gap = puffed[ppos:poff]
        if len(gap) != ((off + 7) >> 3) - (prev_end >> 3):
            raise PuffError("the bytes between puffs do not match the deflate extents")
        _unshift(out, gap, prev_end)
        first_bits = off & 7
        first_value = out.pop() if first_bits else 0
        body, written = huff_deflate(puffed[poff:poff + plen], first_bits=first_bits, first_value=first_value)
        if written != length:
            raise PuffError("a huffed deflate does not fill its extent")
        out += body
        prev_end = off + length
        ppos = poff + plen
    _unshift(out, puffed[ppos:], prev_end)
    if len(out) != size:
        raise PuffError(f"huffed stream is {len(out)} bytes, expected {size}")
    return bytes(out)


def _unshift(out: bytearray, gap: bytes, prev_end: int) -> None:
    if not gap:
        return
    if prev_end & 7:
        out[-1] |= (gap[0] << (prev_end & 7)) & 0xFF
        out += gap[1:]
    else:
        out += gap

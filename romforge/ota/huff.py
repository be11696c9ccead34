"""Puffin's huffing: a puff back into the deflate bits it came from, and a puffed stream back
into its bytes (PuffinStream's write side). The format is described in puff.py."""

from __future__ import annotations

from romforge.ota.puff import (CL_ORDER, DIST_BASE, DIST_EXTRA, END_OF_BLOCK, FIXED_DIST, FIXED_LITLEN, LEN_BASE,
                               LEN_EXTRA, BitExtent, ByteExtent, PuffError, canonical_codes)


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

    def raw(self, data: bytes) -> None:
        """Whole bytes (a stored block's, after its header: on a byte boundary)."""
        assert self.n % 8 == 0
        self.out += self.acc.to_bytes(self.n // 8, "little")
        self.acc = self.n = 0
        self.out += data

    def boundary(self, value: int) -> None:
        self.put((8 - (self.n & 7)) & 7, value)

    def bits(self) -> int:
        return len(self.out) * 8 + self.n

    def flush(self) -> bytes:
        nbytes = (self.n + 7) // 8
        return bytes(self.out) + self.acc.to_bytes(nbytes, "little")


def _encoder(lengths: list[int]) -> list[tuple[int, int]]:
    return list(zip(canonical_codes(lengths), lengths))


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
    try:
        return _huff(puff, first_bits, first_value)
    except IndexError:
        raise PuffError("puff metadata ends early") from None


def _huff(puff: bytes, first_bits: int, first_value: int) -> tuple[bytes, int]:
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
                if size > 0xFFFF:
                    raise PuffError("stored block longer than deflate allows")
                raw = r.chunk(size)
                if r.chunk(2) != END_OF_BLOCK:
                    raise PuffError("stored block does not end properly")
            w.put(16, size)
            w.put(16, size ^ 0xFFFF)
            w.raw(raw)
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

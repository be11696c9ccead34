"""A second, independent PUFFDIFF applier for the tests: puffin's puff format written again from
its definition (external/puffin: puff_writer.cc, puffer.cc, huffer.cc, puffin_stream.cc,
puffpatch.cc), sharing no code with romforge.ota.

Deliberately simple and different in shape: bits are read and written one at a time, Huffman
codes are looked up in dicts keyed by (length, code) as RFC 1951 spells them (most
significant bit first), and the puff is built as a list of items before it is serialized.
The bsdiff part of the patch is applied by Debian's `bspatch` (via the caller).
"""

from __future__ import annotations

import struct

LBASE = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195,
         227, 258]
LEXTRA = [0] * 8 + [1] * 4 + [2] * 4 + [3] * 4 + [4] * 4 + [5] * 4 + [0]
DBASE = [1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073,
         4097, 6145, 8193, 12289, 16385, 24577]
DEXTRA = [0, 0, 0, 0] + [i // 2 for i in range(2, 28)]
ORDER = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15]


def canonical(lengths: list[int]) -> dict[int, tuple[int, int]]:
    """symbol → (length, code MSB-first) per RFC 1951 section 3.2.2."""
    bl_count = [0] * 16
    for n in lengths:
        if n:
            bl_count[n] += 1
    code, next_code = 0, [0] * 16
    for bits in range(1, 16):
        code = (code + bl_count[bits - 1]) << 1
        next_code[bits] = code
    out = {}
    for sym, n in enumerate(lengths):
        if n:
            out[sym] = (n, next_code[n])
            next_code[n] += 1
    return out


class BitIn:
    def __init__(self, data: bytes, bit: int) -> None:
        self.data, self.bit = data, bit

    def one(self) -> int:
        byte = self.data[self.bit >> 3]
        v = (byte >> (self.bit & 7)) & 1
        self.bit += 1
        return v

    def num(self, n: int) -> int:
        return sum(self.one() << i for i in range(n))

    def sym(self, table: dict[tuple[int, int], int]) -> int:
        code = length = 0
        while length < 16:
            code = (code << 1) | self.one()
            length += 1
            if (length, code) in table:
                return table[(length, code)]
        raise ValueError("bad Huffman code")


def _decode_table(lengths: list[int]) -> dict[tuple[int, int], int]:
    return {v: k for k, v in canonical(lengths).items()}


def _lengths(bits: BitIn, cl_table, count: int, meta: list[int]) -> list[int]:
    out: list[int] = []
    while len(out) < count:
        c = bits.sym(cl_table)
        if c < 16:
            out.append(c)
            meta.append(c)
        elif c == 16:
            r = bits.num(2)
            out += [out[-1]] * (3 + r)
            meta.append(16 + r)
        elif c == 17:
            r = bits.num(3)
            out += [0] * (3 + r)
            meta.append(20 + r)
        else:
            r = bits.num(7)
            out += [0] * (11 + r)
            meta.append(28 + r)
    assert len(out) == count
    return out


def puff(data: bytes, bit: int, nbits: int) -> bytes:
    """The puff of the deflate blocks in data's bits [bit, bit + nbits)."""
    items: list = []  # ("meta", bytes) | ("lit", byte) | ("raw", bytes) | ("match", length, dist) | ("eob",)
    bits = BitIn(data, bit)
    end_byte = (bit + nbits + 7) // 8
    while end_byte * 8 - bits.bit >= 8:
        final, kind = bits.one(), bits.num(2)
        head = (final << 7) | (kind << 5)
        if kind == 0:
            pad_bits = (8 - bits.bit % 8) % 8
            pad = bits.num(pad_bits)
            length = bits.num(16)
            bits.num(16)
            start = bits.bit // 8
            items.append(("meta", bytes([head | pad])))
            if length:
                items.append(("raw", data[start:start + length]))
            items.append(("eob",))
            bits.bit = (start + length) * 8
            continue
        if kind == 1:
            lit = _decode_table([8] * 144 + [9] * 112 + [7] * 24 + [8] * 8)
            dist = _decode_table([5] * 30)
            items.append(("meta", bytes([head])))
        else:
            hlit, hdist, hclen = bits.num(5), bits.num(5), bits.num(4)
            meta = [head, hlit, hdist, hclen]
            cl = [0] * 19
            vals = [bits.num(3) for _ in range(hclen + 4)]
            for i, v in enumerate(vals):
                cl[ORDER[i]] = v
            for i in range(0, len(vals), 2):
                meta.append((vals[i] << 4) | (vals[i + 1] if i + 1 < len(vals) else 0))
            cl_table = _decode_table(cl)
            lit = _decode_table(_lengths(bits, cl_table, hlit + 257, meta))
            dist = _decode_table(_lengths(bits, cl_table, hdist + 1, meta))
            items.append(("meta", bytes(meta)))
        while True:
            s = bits.sym(lit)
            if s < 256:
                items.append(("lit", s))
            elif s == 256:
                items.append(("eob",))
                break
            else:
                length = LBASE[s - 257] + bits.num(LEXTRA[s - 257])
                d = bits.sym(dist)
                items.append(("match", length, DBASE[d] + bits.num(DEXTRA[d])))
    assert (bits.bit + 7) // 8 == end_byte, "the extent and the blocks end apart"
    return _serialize(items)


def _serialize(items: list) -> bytes:
    out = bytearray()
    run = bytearray()

    def flush() -> None:
        while run:
            part = bytes(run[:65663])
            del run[:65663]
            if len(part) <= 127:
                out.append(len(part) - 1)
            else:
                out.append(127)
                out.extend(struct.pack(">H", len(part) - 128))
            out.extend(part)

    for item in items:
        if item[0] == "lit":
            run.append(item[1])
            if len(run) == 65663:
                flush()
            continue
        if item[0] == "raw":
            run.extend(item[1])
            continue
        flush()
        if item[0] == "meta":
            out.extend(struct.pack(">H", len(item[1]) - 1))
            out.extend(item[1])
        elif item[0] == "eob":
            out.extend(b"\xff\x81")
        else:
            _, length, dist = item
            out.extend(bytes([0x80 | (length - 3)]) if length < 130 else bytes([0xFF, length - 130]))
            out.extend(struct.pack(">H", dist))
    flush()
    return bytes(out)


class BitOut:
    def __init__(self) -> None:
        self.bits: list[int] = []

    def num(self, n: int, v: int) -> None:
        self.bits += [(v >> i) & 1 for i in range(n)]

    def code(self, length: int, code: int) -> None:
        self.bits += [(code >> (length - 1 - i)) & 1 for i in range(length)]

    def to_bytes(self) -> bytes:
        padded = self.bits + [0] * (-len(self.bits) % 8)
        return bytes(sum(padded[i + j] << j for j in range(8)) for i in range(0, len(padded), 8))


def huff(p: bytes) -> tuple[bytes, int]:
    """(deflate bytes, their length in bits) of a puff."""
    w = BitOut()
    i = 0

    def take(n: int) -> bytes:
        nonlocal i
        i += n
        return p[i - n:i]

    def literal_run(first: int) -> bytes:
        n = first + 1 if first < 127 else struct.unpack(">H", take(2))[0] + 128
        return take(n)

    while i < len(p):
        meta = take(struct.unpack(">H", take(2))[0] + 1)
        final, kind = meta[0] >> 7, (meta[0] >> 5) & 3
        w.num(1, final)
        w.num(2, kind)
        if kind == 0:
            w.num((8 - len(w.bits) % 8) % 8, meta[0] & 0x1F)
            b = take(1)[0]
            raw = b"" if b == 0xFF else literal_run(b)
            if raw:
                assert take(2) == b"\xff\x81"
            else:
                assert take(1) == b"\x81"
            w.num(16, len(raw))
            w.num(16, len(raw) ^ 0xFFFF)
            for byte in raw:
                w.num(8, byte)
            continue
        if kind == 1:
            lit, dist = canonical([8] * 144 + [9] * 112 + [7] * 24 + [8] * 8), canonical([5] * 30)
        else:
            hlit, hdist, hclen = meta[1], meta[2], meta[3]
            w.num(5, hlit)
            w.num(5, hdist)
            w.num(4, hclen)
            nib = []
            for byte in meta[4:4 + (hclen + 5) // 2]:
                nib += [byte >> 4, byte & 15]
            cl = [0] * 19
            for k in range(hclen + 4):
                cl[ORDER[k]] = nib[k]
                w.num(3, nib[k])
            cl_codes = canonical(cl)
            pos = 4 + (hclen + 5) // 2
            tables = []
            for count in (hlit + 257, hdist + 1):
                lengths: list[int] = []
                while len(lengths) < count:
                    v = meta[pos]
                    pos += 1
                    c = v if v < 16 else 16 if v < 20 else 17 if v < 28 else 18
                    w.code(*cl_codes[c])
                    if c < 16:
                        lengths.append(c)
                    elif c == 16:
                        w.num(2, v - 16)
                        lengths += [lengths[-1]] * (v - 13)
                    elif c == 17:
                        w.num(3, v - 20)
                        lengths += [0] * (v - 17)
                    else:
                        w.num(7, v - 28)
                        lengths += [0] * (v - 17)
                tables.append(canonical(lengths))
            lit, dist = tables
        while True:
            b = take(1)[0]
            if b < 0x80:
                for byte in literal_run(b):
                    w.code(*lit[byte])
                continue
            length = (b & 0x7F) + 3 if b != 0xFF else take(1)[0] + 130
            if length == 259:
                w.code(*lit[256])
                break
            d = struct.unpack(">H", take(2))[0]
            li = max(k for k in range(29) if LBASE[k] <= length)
            w.code(*lit[257 + li])
            w.num(LEXTRA[li], length - LBASE[li])
            di = max(k for k in range(30) if DBASE[k] <= d)
            w.code(*dist[di])
            w.num(DEXTRA[di], d - DBASE[di])
    return w.to_bytes(), len(w.bits)


def puffed_stream(data: bytes, deflates: list[tuple[int, int]]) -> tuple[bytes, list[tuple[int, int]]]:
    """(puffed stream, puff byte extents): bytes outside the deflates kept, the boundary bytes
    keeping only their non-deflate bits (low bits before a deflate, high bits after one, shifted down)."""
    out = bytearray()
    puffs = []
    end = 0
    for off, n in deflates:
        for byte_index in range(end // 8, (off + 7) // 8):
            v = data[byte_index]
            if byte_index == off // 8 and off % 8:
                v &= (1 << (off % 8)) - 1
            if byte_index == end // 8 and end % 8:
                v >>= end % 8
            out.append(v)
        p = puff(data, off, n)
        puffs.append((len(out), len(p)))
        out += p
        end = off + n
    for byte_index in range(end // 8, len(data)):
        v = data[byte_index]
        out.append(v >> (end % 8) if byte_index == end // 8 else v)
    return bytes(out), puffs


def huffed_stream(puffed: bytes, deflates: list[tuple[int, int]], puffs: list[tuple[int, int]]) -> bytes:
    """The inverse of puffed_stream, bit by bit."""
    bits: list[int] = []
    pos = 0
    end = 0
    for (off, n), (poff, plen) in zip(deflates, puffs):
        gap = puffed[pos:poff]
        first = True
        for byte in gap:
            skip = end % 8 if first else 0
            keep = 8 - skip
            if len(bits) // 8 == off // 8 or (len(bits) + keep > off and off % 8):
                keep = off - len(bits)
            bits += [(byte >> i) & 1 for i in range(keep)]
            first = False
        assert len(bits) == off, (len(bits), off)
        body, nbits = huff(puffed[poff:poff + plen])
        assert nbits == n
        bits += [(body[i // 8] >> (i % 8)) & 1 for i in range(nbits)]
        end = off + n
        pos = poff + plen
    first = True
    for byte in puffed[pos:]:
        skip = end % 8 if first else 0
        bits += [(byte >> i) & 1 for i in range(8 - skip)]
        first = False
    assert len(bits) % 8 == 0
    return bytes(sum(bits[i + j] << j for j in range(8)) for i in range(0, len(bits), 8))


def read_patch(patch: bytes, wire_fields) -> tuple[dict, dict, bytes]:
    """(src info, dst info, bsdiff patch) of a PUF1 patch; infos hold deflates, puffs (bytes) and puff_length."""
    assert patch[:4] == b"PUF1"
    size = struct.unpack(">I", patch[4:8])[0]
    header = wire_fields(patch[8:8 + size])

    def info(raw: bytes) -> dict:
        f = wire_fields(raw)

        def ext(v: bytes) -> tuple[int, int]:
            e = dict((n, x) for n, _, x in wire_fields(v))
            return e.get(1, 0), e.get(2, 0)

        return {"deflates": [ext(v) for n, _, v in f if n == 1],
                "puffs": [(o // 8, n // 8) for o, n in (ext(v) for n2, _, v in f if n2 == 2)],
                "puff_length": next((v for n, _, v in f if n == 3), 0)}

    fields = {n: v for n, _, v in header}
    assert fields.get(1) == 1 and fields.get(4, 0) == 0  # version 1, bsdiff
    return info(fields.get(2, b"")), info(fields.get(3, b"")), patch[8 + size:]

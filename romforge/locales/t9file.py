"""The T9 data file shipped as product/etc/t9/<locale>.t9: what a dialer loads to read names.

Layout (all integers little-endian; README.md "T9 data file" documents it for dialer authors):

    magic "RFT9" | u16 format version (1) | u16 section count | u32 CRC-32 of the body | body
    body = zlib(level 9) of the sections, each: 4-byte ASCII tag | u32 length | payload

    META  UTF-8 "key=value" lines: locale, version (the pack's), format
    KPAD  UTF-8 "digit=letters" lines: the keypad
    SYLL  UTF-8 syllables, one a line; a syllable's id is its line number from 0
    CHRS  u32 count, then per character (sorted by code point): u16 code point (BMP),
          u8 reading count n, n × u16 syllable ids (the everyday reading first)
    PHRS  UTF-8 "phrase<TAB>syllables" lines: phrases read otherwise than char by char
    CSUR, SURN, TITL, PRFX, NCHR, GNAM, CLAS  UTF-8 "characters<TAB>reading|reading" lines:
          compound surnames, surnames, titles, prefixes, given-name characters, given names,
          classical names (the first reading is primary)
    TRAD  UTF-8 "traditional<TAB>simplified" lines: characters looked up in the tables by
          their simplified form

Sections are written in this order with sorted contents, so the same inputs give the same bytes.
Readers skip tags they do not know and take a missing GNAM, CLAS or TRAD as empty (files
written before those sections existed), so the format version stays 1: it changes only when
a section's layout does.
"""

from __future__ import annotations

import struct
import zlib

from romforge.errors import InputError
from romforge.locales.keypad import Keypad
from romforge.locales.pinyin import TABLES, NameTables, PinyinData

MAGIC = b"RFT9"
FORMAT_VERSION = 1
_TABLE_TAGS = {"compound_surnames": b"CSUR", "surnames": b"SURN", "titles": b"TITL", "prefixes": b"PRFX",
               "name_chars": b"NCHR", "given_names": b"GNAM", "classical_names": b"CLAS"}
_OPTIONAL = (b"GNAM", b"CLAS", b"TRAD")  # added later: older files lack them
MAX_FILE_BYTES = 16 << 20


def _lines(rows: list[str]) -> bytes:
    return "".join(f"{row}\n" for row in rows).encode("utf-8")


def _table(table: dict[str, tuple[tuple[str, ...], ...]]) -> bytes:
    return _lines([f"{key}\t{'|'.join(' '.join(r) for r in readings)}" for key, readings in sorted(table.items())])


def to_bytes(data: PinyinData) -> bytes:
    syllables = sorted({s for readings in data.chars.values() for s in readings})
    ids = {s: i for i, s in enumerate(syllables)}
    chars = bytearray(struct.pack("<I", len(data.chars)))
    for ch in sorted(data.chars):
        readings = data.chars[ch]
        chars += struct.pack(f"<HB{len(readings)}H", ord(ch), len(readings), *(ids[r] for r in readings))
    sections = [
        (b"META", _lines([f"format={FORMAT_VERSION}", f"locale={data.locale}", f"version={data.version}"])),
        (b"KPAD", data.keypad.to_text().encode("utf-8")),
        (b"SYLL", _lines(syllables)),
        (b"CHRS", bytes(chars)),
        (b"PHRS", _lines([f"{p}\t{' '.join(r)}" for p, r in sorted(data.phrases.items())])),
    ] + [(_TABLE_TAGS[t], _table(getattr(data.names, t))) for t in TABLES] + [
        (b"TRAD", _lines([f"{t}\t{s}" for t, s in sorted(data.folds.items())])),
    ]
    body = b"".join(tag + struct.pack("<I", len(payload)) + payload for tag, payload in sections)
    packed = zlib.compress(body, 9)
    return MAGIC + struct.pack("<HHI", FORMAT_VERSION, len(sections), zlib.crc32(packed)) + packed


def _text_lines(payload: bytes) -> list[str]:
    return payload.decode("utf-8").splitlines()


def _parse_table(payload: bytes) -> dict[str, tuple[tuple[str, ...], ...]]:
    table = {}
    for line in _text_lines(payload):
        key, _, readings = line.partition("\t")
        parsed = tuple(tuple(r.split()) for r in readings.split("|"))
        if not key or any(len(r) != len(key) for r in parsed):
            raise ValueError(f"table line {line!r} needs one syllable per character")
        table[key] = parsed
    return table


def from_bytes(blob: bytes, *, shown: str) -> PinyinData:
    """Load a T9 data file; InputError when it is not one (or is damaged)."""
    if len(blob) > MAX_FILE_BYTES or len(blob) < 12 or blob[:4] != MAGIC:
        raise InputError("not a romforge T9 data file (no RFT9 header)", file=shown)
    version, count, crc = struct.unpack_from("<HHI", blob, 4)
    if version != FORMAT_VERSION:
        raise InputError(f"T9 data format {version} is not supported (this romforge reads {FORMAT_VERSION})",
                         file=shown)
    packed = blob[12:]
    if zlib.crc32(packed) != crc:
        raise InputError("the T9 data file is damaged (CRC mismatch)", file=shown)
    try:
        body = zlib.decompressobj().decompress(packed, MAX_FILE_BYTES * 4)
        sections: dict[bytes, bytes] = {}
        pos = 0
        for _ in range(count):
            tag = body[pos:pos + 4]
            (length,) = struct.unpack_from("<I", body, pos + 4)
            sections[tag] = body[pos + 8:pos + 8 + length]
            pos += 8 + length
        meta = dict(line.split("=", 1) for line in _text_lines(sections[b"META"]))
        syllables = _text_lines(sections[b"SYLL"])
        raw = sections[b"CHRS"]
        (n,) = struct.unpack_from("<I", raw, 0)
        chars: dict[str, tuple[str, ...]] = {}
        p = 4
        for _ in range(n):
            cp, k = struct.unpack_from("<HB", raw, p)
            readings = struct.unpack_from(f"<{k}H", raw, p + 3)
            chars[chr(cp)] = tuple(syllables[i] for i in readings)
            p += 3 + 2 * k
        phrases = {}
        for line in _text_lines(sections[b"PHRS"]):
            phrase, _, reading = line.partition("\t")
            phrases[phrase] = tuple(reading.split())
        for tag in _OPTIONAL:
            sections.setdefault(tag, b"")
        names = NameTables(*(_parse_table(sections[_TABLE_TAGS[t]]) for t in TABLES))
        keypad = Keypad.from_text(sections[b"KPAD"].decode("utf-8"))
        folds = {}
        for line in _text_lines(sections[b"TRAD"]):
            trad, _, simple = line.partition("\t")
            if len(trad) != 1 or len(simple) != 1:
                raise ValueError(f"TRAD line {line!r} is not two characters")
            folds[trad] = simple
    except (KeyError, ValueError, IndexError, struct.error, zlib.error) as exc:
        raise InputError(f"the T9 data file is malformed: {exc}", file=shown) from None
    return PinyinData(chars, phrases, names, keypad, meta.get("locale", ""), meta.get("version", ""), folds)

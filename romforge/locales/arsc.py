"""Default-language strings from a compiled APK's resources.arsc.

The base ROM's apps carry the source strings a locale pack translates; they exist only
compiled. This reads the chunk format of frameworks/base libs/androidfw ResourceTypes.h
(string pool, package, type chunks, simple and bag entries) far enough to get <string>,
<plurals> and string <array> values of the default configuration. aapt2 drops
`translatable` and `xliff:g` when it compiles, so those are unknown for such sources.

Type chunks come in the three index layouts Android reads: 32-bit entry offsets, sparse
(FLAG_SPARSE: sorted (index, offset / 4) pairs, Android 8+) and 16-bit offsets
(FLAG_OFFSET16: offset / 4, 0xffff for none, Android 14+); entries are full (a
ResTable_entry followed by a Res_value, or a map for FLAG_COMPLEX) or compact
(FLAG_COMPACT, Android 14+: a 16-bit key, the value's type in the flags' high byte and the
value's data, 8 bytes in all).
"""

from __future__ import annotations

import io
import struct
import zipfile
from dataclasses import dataclass

from romforge.errors import InputError
from romforge.locales.resxml import ARRAY, PLURALS, STRING, Resource, Value, ValuesFile

RES_STRING_POOL = 0x0001
RES_TABLE = 0x0002
RES_TABLE_PACKAGE = 0x0200
RES_TABLE_TYPE = 0x0201
UTF8_FLAG = 1 << 8
FLAG_COMPLEX = 0x0001  # ResTable_entry flags
FLAG_COMPACT = 0x0008
FLAG_SPARSE = 0x01  # ResTable_type flags
FLAG_OFFSET16 = 0x02
TYPE_STRING = 0x03
NO_ENTRY = 0xFFFFFFFF
NO_ENTRY16 = 0xFFFF
ENTRY_SIZE = 8  # ResTable_entry (full or compact)
PLURAL_ATTRS = {0x01000004: "other", 0x01000005: "zero", 0x01000006: "one", 0x01000007: "two",
                0x01000008: "few", 0x01000009: "many"}
MAX_ARSC_BYTES = 64 << 20


@dataclass
class _Pool:
    strings: list[str]
    styles: list[tuple[str, ...]]  # span tag names per styled string


def _pool(data: bytes, start: int) -> _Pool:
    _, header_size, size = struct.unpack_from("<HHI", data, start)
    count, style_count, flags, strings_start, styles_start = struct.unpack_from("<IIIII", data, start + 8)
    offsets = struct.unpack_from(f"<{count}I", data, start + header_size)
    style_offsets = struct.unpack_from(f"<{style_count}I", data, start + header_size + 4 * count)
    base = start + strings_start
    strings = []
    for off in offsets:
        p = base + off
        if flags & UTF8_FLAG:
            p += 2 if data[p] & 0x80 else 1  # length in characters
            length = data[p]
            if length & 0x80:
                length = ((length & 0x7F) << 8) | data[p + 1]
                p += 1
            p += 1
            strings.append(data[p:p + length].decode("utf-8", "replace"))
        else:
            (length,) = struct.unpack_from("<H", data, p)
            p += 2
            if length & 0x8000:
                (low,) = struct.unpack_from("<H", data, p)
                length = ((length & 0x7FFF) << 16) | low
                p += 2
            strings.append(data[p:p + 2 * length].decode("utf-16-le", "replace"))
    styles = []
    for off in style_offsets:
        p = start + styles_start + off
        names = []
        while True:
            (name,) = struct.unpack_from("<I", data, p)
            if name == NO_ENTRY:
                break
            names.append(strings[name].split(";", 1)[0])
            p += 12
        styles.append(tuple(sorted(names)))
    return _Pool(strings, styles)


def _chunks(data: bytes, start: int, end: int):
    while start + 8 <= end:
        kind, header_size, size = struct.unpack_from("<HHI", data, start)
        if size < 8 or start + size > end:
            raise ValueError(f"chunk at {start} runs past its parent")
        yield kind, header_size, start, size
        start += size


def _is_default(config: bytes) -> bool:
    return not any(config[4:])


@dataclass
class ArscStrings:
    package: str
    values: ValuesFile


def read_arsc(data: bytes, *, file: str) -> ArscStrings:
    """The first package's default-configuration strings, plurals and string arrays."""
    try:
        return _read(data, file)
    except (struct.error, ValueError, IndexError) as exc:
        raise InputError(f"resources.arsc is malformed: {exc}", file=file) from None


def _read(data: bytes, file: str) -> ArscStrings:
    kind, header_size, _, size = next(_chunks(data, 0, len(data)))
    if kind != RES_TABLE:
        raise ValueError("not a resource table")
    values: dict[str, Resource] = {}
    pool: _Pool | None = None
    package_name = None
    for kind, header_size, start, size in _chunks(data, header_size, len(data)):
        if kind == RES_STRING_POOL:
            pool = _pool(data, start)
        elif kind == RES_TABLE_PACKAGE and package_name is None and pool is not None:
            package_name = data[start + 12:start + 12 + 256].decode("utf-16-le").split("\0", 1)[0]
            type_off, _, key_off = struct.unpack_from("<III", data, start + 12 + 256)
            types = _pool(data, start + type_off).strings
            keys = _pool(data, start + key_off).strings
            for ckind, chead, cstart, csize in _chunks(data, start + header_size, start + size):
                if ckind == RES_TABLE_TYPE:
                    _type_chunk(data, cstart, chead, types, keys, pool, values, file)
    if package_name is None or pool is None:
        raise ValueError("no package in the resource table")
    return ArscStrings(package_name, ValuesFile(file, list(values.values()), [], 0, has_xliff=False))


def _entry_offsets(data: bytes, start: int, header_size: int, flags: int, count: int) -> list[int]:
    """Offsets (from entriesStart) of the entries a type chunk defines, whichever index layout it uses."""
    index = start + header_size
    if flags & FLAG_SPARSE:  # ResTable_sparseTypeEntry: u16 entry index, u16 offset / 4
        pairs = struct.unpack_from(f"<{2 * count}H", data, index)
        return [pairs[i + 1] * 4 for i in range(0, len(pairs), 2)]
    if flags & FLAG_OFFSET16:
        return [off * 4 for off in struct.unpack_from(f"<{count}H", data, index) if off != NO_ENTRY16]
    return [off for off in struct.unpack_from(f"<{count}I", data, index) if off != NO_ENTRY]


def _type_chunk(data: bytes, start: int, header_size: int, types: list[str], keys: list[str], pool: _Pool,
                out: dict[str, Resource], file: str) -> None:
    type_id, flags, _, count, entries_start = struct.unpack_from("<BBHII", data, start + 8)
    (chunk_size,) = struct.unpack_from("<I", data, start + 4)
    (config_size,) = struct.unpack_from("<I", data, start + 20)
    if not _is_default(data[start + 20:start + 20 + config_size]):
        return
    if not 1 <= type_id <= len(types):
        raise ValueError(f"type chunk at {start} has type id {type_id}, not one of the package's {len(types)}")
    type_name = types[type_id - 1]
    if type_name not in ("string", "plurals", "array"):
        return
    end = start + chunk_size
    for off in _entry_offsets(data, start, header_size, flags, count):
        p = start + entries_start + off
        if p + ENTRY_SIZE > end:
            raise ValueError(f"an entry of type chunk at {start} lies outside it")
        (eflags,) = struct.unpack_from("<H", data, p + 2)
        if eflags & FLAG_COMPACT:  # a 16-bit key, the value's type in the flags' high byte, then its data
            (key,) = struct.unpack_from("<H", data, p)
            dtype, (value,) = eflags >> 8, struct.unpack_from("<I", data, p + 4)
        else:
            size, _, key = struct.unpack_from("<HHI", data, p)
            if eflags & FLAG_COMPLEX:
                _bag(type_name, keys[key], _map_items(data, p, size, end), pool, out, file)
                continue
            if p + size + 8 > end:
                raise ValueError(f"an entry's value in type chunk at {start} lies outside it")
            _, _, dtype, value = struct.unpack_from("<HBBI", data, p + size)
        if type_name == "string" and dtype == TYPE_STRING:
            name = keys[key]
            out[name] = Resource(STRING, name, file, 0, 0, values=[("", _value(pool, value))])


def _map_items(data: bytes, p: int, size: int, end: int) -> list[tuple[int, int, int]]:
    """(attribute, value type, value data) of a ResTable_map_entry's ResTable_maps."""
    _, map_count = struct.unpack_from("<II", data, p + 8)
    if p + size + 12 * map_count > end:
        raise ValueError(f"a map entry at {p} runs past its type chunk")
    items = []
    q = p + size
    for _ in range(map_count):
        attr, _, _, dtype, value = struct.unpack_from("<IHBBI", data, q)
        items.append((attr, dtype, value))
        q += 12
    return items


def _value(pool: _Pool, index: int) -> Value:
    styles = pool.styles[index] if index < len(pool.styles) else ()
    return Value(pool.strings[index], 0, 0, markup=styles)


def _bag(type_name: str, name: str, items: list[tuple[int, int, int]], pool: _Pool, out: dict[str, Resource],
         file: str) -> None:
    if any(dtype != TYPE_STRING for _, dtype, _ in items):
        return  # an array of integers, colors or references: nothing to translate
    if type_name == "plurals":
        values = [(PLURAL_ATTRS.get(attr, hex(attr)), _value(pool, v)) for attr, _, v in items]
        out[name] = Resource(PLURALS, name, file, 0, 0, values=values)
    elif type_name == "array":
        ordered = sorted(items, key=lambda item: item[0])  # keys are consecutive attribute ids
        values = [(str(index), _value(pool, v)) for index, (_, _, v) in enumerate(ordered)]
        out[name] = Resource(ARRAY, name, file, 0, 0, values=values)


def read_apk_strings(apk: bytes, *, file: str) -> ArscStrings:
    """Source strings of an APK given as bytes (from the base ROM)."""
    try:
        with zipfile.ZipFile(io.BytesIO(apk)) as zf:
            info = zf.getinfo("resources.arsc")
            if info.file_size > MAX_ARSC_BYTES:
                raise InputError(f"resources.arsc is {info.file_size} bytes, over {MAX_ARSC_BYTES}", file=file)
            data = zf.read(info)
    except KeyError:
        raise InputError("the APK has no resources.arsc", file=file) from None
    except zipfile.BadZipFile as exc:
        raise InputError(f"not a readable APK: {exc}", file=file) from None
    return read_arsc(data, file=f"{file}!resources.arsc")

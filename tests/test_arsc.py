"""resources.arsc with the Android 14+ table layouts: 16-bit entry offsets, compact entries, sparse types.

The tables are made by a minimal writer here, written from ResourceTypes.h and not from
the reader's code; Debian's aapt2 (Android 10) predates the new flags, so it checks the
writer on the layouts it knows, and the reader must give the same strings for every layout.
"""

from __future__ import annotations

import io
import struct
import subprocess
import zipfile
from pathlib import Path

import pytest

from romforge.errors import InputError
from romforge.locales.arsc import read_apk_strings, read_arsc
from romforge.rro import app_manifest, link_apk

TYPE_STRING, TYPE_INT_DEC, TYPE_INT_COLOR_ARGB8 = 0x03, 0x10, 0x1C
ENTRY_COMPLEX, ENTRY_COMPACT = 0x0001, 0x0008
TYPE_SPARSE, TYPE_OFFSET16 = 0x01, 0x02
PLURAL_ONE, PLURAL_OTHER = 0x01000006, 0x01000004
ARRAY_ITEM = 0x02000000  # Res_MAKEARRAY(0)


def _chunk(kind: int, header: bytes, body: bytes) -> bytes:
    """ResChunk_header (type, headerSize, size) + the rest of the header + body."""
    return struct.pack("<HHI", kind, 8 + len(header), 8 + len(header) + len(body)) + header + body


def _pad4(data: bytes) -> bytes:
    return data + b"\0" * (-len(data) % 4)


def string_pool(strings: list[str]) -> bytes:
    """A UTF-8 ResStringPool: lengths as 1 or 2 bytes (high bit = two), NUL-terminated."""
    def length(n: int) -> bytes:
        return bytes([n]) if n < 0x80 else bytes([0x80 | (n >> 8), n & 0xFF])

    blobs, offsets = b"", []
    for s in strings:
        offsets.append(len(blobs))
        raw = s.encode("utf-8")
        blobs += length(len(s)) + length(len(raw)) + raw + b"\0"
    header_size = 28
    strings_start = header_size + 4 * len(strings)
    header = struct.pack("<IIIII", len(strings), 0, 1 << 8, strings_start, 0)
    return _chunk(0x0001, header, _pad4(struct.pack(f"<{len(offsets)}I", *offsets) + blobs))


def compact(key: int, dtype: int, data: int) -> bytes:
    return struct.pack("<HHI", key, ENTRY_COMPACT | (dtype << 8), data)


def full(key: int, dtype: int, data: int) -> bytes:
    return struct.pack("<HHI", 8, 0, key) + struct.pack("<HBBI", 8, 0, dtype, data)


def bag(key: int, items: list[tuple[int, int, int]]) -> bytes:
    """ResTable_map_entry (parent 0, count) + ResTable_map (name, Res_value) per item."""
    head = struct.pack("<HHIII", 16, ENTRY_COMPLEX, key, 0, len(items))
    return head + b"".join(struct.pack("<IHBBI", name, 8, 0, dtype, data) for name, dtype, data in items)


def config(language: str = "") -> bytes:
    """A 64-byte ResTable_config: size first, then mcc, mnc, language (two chars) and zeros."""
    raw = struct.pack("<IHH", 64, 0, 0) + language.encode("ascii").ljust(2, b"\0")
    return raw.ljust(64, b"\0")


def type_chunk(type_id: int, entries: dict[int, bytes], count: int, layout: str, language: str = "") -> bytes:
    """ResTable_type with its index in one of the three layouts: u32 offsets, offset16, sparse."""
    body, offsets = b"", {}
    for index in sorted(entries):
        offsets[index] = len(body)
        body += entries[index]
    if layout == "sparse":
        index_bytes = b"".join(struct.pack("<HH", i, offsets[i] // 4) for i in sorted(offsets))
        entry_count, flags = len(offsets), TYPE_SPARSE
    elif layout == "offset16":
        index_bytes = b"".join(struct.pack("<H", offsets[i] // 4 if i in offsets else 0xFFFF) for i in range(count))
        entry_count, flags = count, TYPE_OFFSET16
    else:
        index_bytes = b"".join(struct.pack("<I", offsets.get(i, 0xFFFFFFFF)) for i in range(count))
        entry_count, flags = count, 0
    index_bytes = _pad4(index_bytes)
    header_size = 8 + 12 + 64
    header = struct.pack("<BBHII", type_id, flags, 0, entry_count, header_size + len(index_bytes)) + config(language)
    return _chunk(0x0201, header, index_bytes + body)


def type_spec(type_id: int, count: int) -> bytes:
    return _chunk(0x0202, struct.pack("<BBHI", type_id, 0, 0, count), b"\0" * (4 * count))


def package(name: str, types: list[str], keys: list[str], chunks: list[bytes]) -> bytes:
    """ResTable_package: id, name (UTF-16, 128 units), offsets of the type and key pools."""
    type_pool, key_pool = string_pool(types), string_pool(keys)
    header_size = 8 + 4 + 256 + 20
    header = (struct.pack("<I", 0x7F) + name.encode("utf-16-le").ljust(256, b"\0")
              + struct.pack("<IIIII", header_size, len(types), header_size + len(type_pool), len(keys), 0))
    return _chunk(0x0200, header, type_pool + key_pool + b"".join(chunks))


VALUES = ["Dialer", "Hello", "Bye", "%d song", "%d songs", "Monday", "Tuesday", "Bonjour"]
KEYS = ["app_name", "greeting", "unused", "farewell", "n_songs", "days", "accent", "answer"]
TYPES = ["string", "plurals", "array", "color", "integer"]
EXPECTED = {
    "app_name": ("string", [("", "Dialer")]),
    "greeting": ("string", [("", "Hello")]),
    "farewell": ("string", [("", "Bye")]),
    "n_songs": ("plurals", [("one", "%d song"), ("other", "%d songs")]),
    "days": ("string-array", [("0", "Monday"), ("1", "Tuesday")]),
}


def resource_table(*, new_flags: bool) -> bytes:
    """Strings, plurals and an array in the default configuration, a French string that must be
    ignored, and non-string types. With new_flags the strings use offset16 + compact entries."""
    simple = compact if new_flags else full
    strings = {0: simple(0, TYPE_STRING, 0), 1: full(1, TYPE_STRING, 1), 3: simple(3, TYPE_STRING, 2)}
    chunks = [
        type_spec(1, 4),
        type_chunk(1, strings, 4, "offset16" if new_flags else "u32"),  # entry 2 is missing
        type_chunk(1, {1: simple(1, TYPE_STRING, 7)}, 4, "sparse", language="fr"),
        type_spec(2, 5),
        type_chunk(2, {4: bag(4, [(PLURAL_ONE, TYPE_STRING, 3), (PLURAL_OTHER, TYPE_STRING, 4)])}, 5, "sparse"),
        type_spec(3, 6),
        type_chunk(3, {5: bag(5, [(ARRAY_ITEM, TYPE_STRING, 5), (ARRAY_ITEM + 1, TYPE_STRING, 6)])}, 6,
                   "offset16" if new_flags else "u32"),
        type_spec(4, 7),
        type_chunk(4, {6: simple(6, TYPE_INT_COLOR_ARGB8, 0xFF00FF00)}, 7, "sparse"),
        type_spec(5, 8),
        type_chunk(5, {7: simple(7, TYPE_INT_DEC, 42)}, 8, "offset16" if new_flags else "u32"),
    ]
    body = string_pool(VALUES) + package("com.android.dialer", TYPES, KEYS, chunks)
    return _chunk(0x0002, struct.pack("<I", 1), body)


def _as_dict(table: bytes) -> dict:
    strings = read_arsc(table, file="resources.arsc")
    assert strings.package == "com.android.dialer"
    return {r.name: (r.kind, [(k, v.text) for k, v in r.values]) for r in strings.values.resources}


def _apk(table: bytes, manifest: bytes | None = None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        if manifest is not None:
            zf.writestr("AndroidManifest.xml", manifest)
        zf.writestr("resources.arsc", table)
    return buf.getvalue()


def test_aapt2_reads_the_test_writers_table(tmp_path: Path) -> None:
    """The writer is checked by Android's own tool on the layouts aapt2 10 knows (u32 and sparse)."""
    (tmp_path / "AndroidManifest.xml").write_text(app_manifest("com.android.dialer", 1, "1.0", None))
    linked = tmp_path / "linked.apk"  # aapt2 wants a (compiled) manifest beside the table
    link_apk(tmp_path / "AndroidManifest.xml", None, linked)
    with zipfile.ZipFile(linked) as zf:
        manifest = zf.read("AndroidManifest.xml")
    apk = tmp_path / "t.apk"
    apk.write_bytes(_apk(resource_table(new_flags=False), manifest))
    dump = subprocess.run(["aapt2", "dump", "resources", str(apk)], capture_output=True, text=True, check=True).stdout
    for needle in ("string/app_name", '"Dialer"', "string/farewell", "plurals/n_songs", '"%d songs"', "array/days",
                   '["Monday", "Tuesday"]', "(fr)", '"Bonjour"', "#ff00ff00", "() 42"):
        assert needle in dump, needle


@pytest.mark.parametrize("new_flags", [False, True])
def test_strings_read_back_from_every_table_layout(new_flags: bool) -> None:
    assert _as_dict(resource_table(new_flags=new_flags)) == EXPECTED


def test_offset16_and_compact_entries_through_an_apk() -> None:
    strings = read_apk_strings(_apk(resource_table(new_flags=True)), file="Dialer.apk")
    assert {r.name for r in strings.values.resources} == set(EXPECTED)


def test_an_entry_offset_outside_its_chunk_is_a_clean_error() -> None:
    table = bytearray(resource_table(new_flags=True))
    marker = struct.pack("<BBHI", 1, TYPE_OFFSET16, 0, 4)  # the default string chunk's header fields
    at = bytes(table).index(marker) + len(marker) + 4 + 64  # past entriesStart and the config: the u16 index
    table[at:at + 2] = struct.pack("<H", 0x7FFF)  # entry 0 now claims to be 128 KiB further on
    with pytest.raises(InputError, match="resources.arsc is malformed: an entry of type chunk"):
        read_arsc(bytes(table), file="resources.arsc")

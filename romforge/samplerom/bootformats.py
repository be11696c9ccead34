"""The small formats a boot chain is made of, written here: a cpio "newc" ramdisk (what the
kernel unpacks as initramfs), a flattened device tree blob (FDT, what dtc writes) and a DTBO
image (AOSP's dt_table, what the bootloader reads from the dtbo partition).

Each writer is deterministic: fixed inode numbers, mtimes 0, gzip without a name or time.
"""

from __future__ import annotations

import gzip
import struct
from dataclasses import dataclass
from typing import Iterable

CPIO_NEWC_MAGIC = b"070701"
CPIO_TRAILER = "TRAILER!!!"
S_IFDIR, S_IFREG, S_IFLNK = 0o040000, 0o100000, 0o120000
FDT_MAGIC = 0xD00DFEED
FDT_BEGIN_NODE, FDT_END_NODE, FDT_PROP, FDT_END = 1, 2, 3, 9
DT_TABLE_MAGIC = 0xD7B7AB1E
DT_TABLE_HEADER_SIZE = 32
DT_TABLE_ENTRY_SIZE = 32


@dataclass(frozen=True)
class RamdiskEntry:
    """One member of a ramdisk: a directory, a regular file or a symlink (data is its target)."""

    path: str
    mode: int  # file type bits | permission bits
    data: bytes = b""
    uid: int = 0
    gid: int = 0


def _pad4(data: bytes) -> bytes:
    return data + b"\0" * (-len(data) % 4)


def _newc_member(ino: int, name: str, mode: int, uid: int, gid: int, nlink: int, data: bytes) -> bytes:
    encoded = name.encode() + b"\0"
    fields = (ino, mode, uid, gid, nlink, 0, len(data), 0, 0, 0, 0, len(encoded), 0)
    header = CPIO_NEWC_MAGIC + b"".join(b"%08X" % value for value in fields)
    return _pad4(header + encoded) + _pad4(data)


def cpio_newc(entries: Iterable[RamdiskEntry]) -> bytes:
    """A cpio archive in the "newc" (SVR4, no CRC) format the kernel's initramfs reader takes.

    Parents come before children (the order the entries are given in, sorted by path)."""
    out = bytearray()
    for ino, entry in enumerate(sorted(entries, key=lambda e: e.path), start=300000):
        nlink = 2 if entry.mode & 0o170000 == S_IFDIR else 1
        out += _newc_member(ino, entry.path, entry.mode, entry.uid, entry.gid, nlink, entry.data)
    out += _newc_member(0, CPIO_TRAILER, 0, 0, 0, 1, b"")
    return bytes(out)


def gzip_fixed(data: bytes) -> bytes:
    """gzip with no file name and mtime 0, so the same ramdisk gives the same bytes."""
    return gzip.compress(data, compresslevel=9, mtime=0)


def fdt_blob(properties: dict[str, bytes | str | int]) -> bytes:
    """A flattened device tree (version 17) with one root node holding `properties`: strings end
    in NUL, ints are one big-endian cell, bytes are given as they are."""
    strings = bytearray()
    offsets: dict[str, int] = {}
    struct_block = bytearray(struct.pack(">I", FDT_BEGIN_NODE) + _pad4(b"\0"))
    for name, value in properties.items():
        if name not in offsets:
            offsets[name] = len(strings)
            strings += name.encode() + b"\0"
        raw = value.encode() + b"\0" if isinstance(value, str) else (
            struct.pack(">I", value) if isinstance(value, int) else value)
        struct_block += struct.pack(">III", FDT_PROP, len(raw), offsets[name]) + _pad4(raw)
    struct_block += struct.pack(">II", FDT_END_NODE, FDT_END)
    header_size, reserve_map = 40, b"\0" * 16
    off_struct = header_size + len(reserve_map)
    off_strings = off_struct + len(struct_block)
    total = off_strings + len(strings)
    header = struct.pack(">10I", FDT_MAGIC, total, off_struct, off_strings, header_size, 17, 16, 0,
                         len(strings), len(struct_block))
    return header + reserve_map + bytes(struct_block) + bytes(strings)


def dtbo_image(overlays: list[tuple[bytes, int, int]], *, page_size: int = 4096) -> bytes:
    """AOSP's DTBO partition image (dt_table_header, then one dt_table_entry per overlay, then the
    blobs), big-endian as mkdtboimg writes it; `overlays` is (fdt, id, rev)."""
    offset = DT_TABLE_HEADER_SIZE + DT_TABLE_ENTRY_SIZE * len(overlays)
    entries, blobs = bytearray(), bytearray()
    for blob, dt_id, rev in overlays:
        entries += struct.pack(">8I", len(blob), offset + len(blobs), dt_id, rev, 0, 0, 0, 0)
        blobs += blob
    total = offset + len(blobs)
    header = struct.pack(">8I", DT_TABLE_MAGIC, total, DT_TABLE_HEADER_SIZE, DT_TABLE_ENTRY_SIZE, len(overlays),
                         DT_TABLE_HEADER_SIZE, page_size, 0)
    return header + bytes(entries) + bytes(blobs)

"""PUFFDIFF: a bsdiff patch over puffed streams, so a changed APK or jar is diffed inflated.

A PUFFDIFF operation's data is puffin's patch (puffdiff.cc / puffpatch.cc):

    "PUF1" | u32 BE size of the header | PatchHeader (proto/puffin.proto) | bsdiff patch

The header lists, for the source stream (the operation's src_extents read in order) and the
destination stream (its dst_extents), the deflate streams as bit extents and their puffs
as extents of the puffed stream (in bits: whole bytes times 8), and each puffed stream's
length. update_engine puffs the source, applies the bsdiff patch (BSDF2 here) to the puffed
source and huffs the result into the destination blocks. It needs minor version 5 or later.

Which deflate streams are puffed: those of zip entries whose compressed bytes changed (new
content, or the same content deflated another way), in both versions; an unchanged entry's
compressed bytes are the same on both sides, and bsdiff copies them as they are. Every destination stream is checked to huff
back to its exact bits before it is listed, so the device rebuilds the same bytes.
"""

from __future__ import annotations

import io
import struct
import zipfile
from dataclasses import dataclass
from typing import Callable

from romforge.ota.huff import huff_deflate, huff_stream
from romforge.ota.puff import BitExtent, PuffError, puff_deflate, puff_stream

MAGIC = b"PUF1"
PATCH_VERSION = 1
ZIP_MAGIC = b"PK\x03\x04"
MAX_ENTRIES = 200_000


@dataclass(frozen=True)
class ZipEntry:
    offset: int  # of the entry's data
    compressed_size: int
    crc: int
    size: int
    method: int


def zip_entries(data: bytes) -> dict[str, ZipEntry] | None:
    """Every entry of a zip with where its data lies, or None when `data` is no readable zip."""
    if not data.startswith(ZIP_MAGIC):
        return None
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            infos = zf.infolist()
            if len(infos) > MAX_ENTRIES:
                return None
            entries = {}
            for info in infos:
                h = info.header_offset
                if data[h:h + 4] != ZIP_MAGIC:
                    return None
                name_len, extra_len = struct.unpack_from("<HH", data, h + 26)
                start = h + 30 + name_len + extra_len
                if start + info.compress_size > len(data):
                    return None
                entries[info.filename] = ZipEntry(start, info.compress_size, info.CRC, info.file_size,
                                                  info.compress_type)
            return entries
    except (zipfile.BadZipFile, struct.error, ValueError, OSError, EOFError, NotImplementedError):
        return None


def changed_deflated(old_data: bytes, old: dict[str, ZipEntry], new_data: bytes,
                     new: dict[str, ZipEntry]) -> set[str]:
    """Deflated entries of `new` whose compressed bytes are not the same as in `old` (other
    content, or the same content deflated another way)."""
    changed = set()
    for name, e in new.items():
        if e.method != zipfile.ZIP_DEFLATED or not e.compressed_size:
            continue
        o = old.get(name)
        if o is None or (o.crc, o.size, o.compressed_size) != (e.crc, e.size, e.compressed_size) or \
                old_data[o.offset:o.offset + o.compressed_size] != new_data[e.offset:e.offset + e.compressed_size]:
            changed.add(name)
    return changed


def locate(data: bytes, entries: dict[str, ZipEntry], names: set[str], *,
           verify: bool) -> tuple[list[BitExtent], list[bytes]]:
    """(bit extents, puffs) of the named entries' deflate streams that puff (and, with `verify`,
    huff back to the same bits), in stream order; the others are left out."""
    found = []
    for name in names:
        e = entries.get(name)
        if e is None or e.method != zipfile.ZIP_DEFLATED:
            continue
        start = e.offset * 8
        try:
            puff, bits = puff_deflate(data, start, e.offset + e.compressed_size)
            if verify:
                rebuilt, written = huff_deflate(puff)
                original = bytearray(data[e.offset:(start + bits + 7) >> 3])
                if bits & 7:
                    original[-1] &= (1 << (bits & 7)) - 1
                if written != bits or rebuilt != original:
                    continue
        except PuffError:
            continue
        found.append((start, bits, puff))
    found.sort()
    extents = [(s, b) for s, b, _ in found]
    for (s1, b1), (s2, _) in zip(extents, extents[1:]):
        if s1 + b1 > s2:  # overlapping entries (a hostile zip): puff nothing
            return [], []
    return extents, [p for _, _, p in found]


def puffed_stream(data: bytes, deflates: list[BitExtent], puffs: list[bytes]) -> tuple[bytes, list[tuple[int, int]]]:
    """The puffed stream from puffs already made (puff_stream's layout, without puffing twice)."""
    out = bytearray()
    extents = []
    prev_end = 0
    for (off, length), puff in zip(deflates, puffs):
        start = prev_end >> 3
        gap = bytearray(data[start:off >> 3])  # deflates start on byte boundaries here
        if gap and prev_end & 7:
            gap[0] >>= prev_end & 7
        out += gap
        extents.append((len(out), len(puff)))
        out += puff
        prev_end = off + length
    tail = bytearray(data[prev_end >> 3:])
    if tail and prev_end & 7:
        tail[0] >>= prev_end & 7
    out += tail
    return bytes(out), extents


def _stream_info(info, deflates: list[BitExtent], puffs: list[tuple[int, int]], length: int) -> None:
    for off, n in deflates:
        e = info.deflates.add()
        e.offset, e.length = off, n
    for off, n in puffs:
        e = info.puffs.add()
        e.offset, e.length = off * 8, n * 8
    info.puff_length = length


def make_puffdiff(old: bytes, new: bytes, bsdiff: Callable[[bytes, bytes], bytes]) -> bytes | None:
    """A puffin patch from `old` to `new` (both whole streams), or None when neither side has a
    changed deflate stream to puff. `bsdiff(old, new)` makes the inner BSDIFF40/BSDF2 patch."""
    from romforge.ota.proto import puffin_pb2

    old_entries, new_entries = zip_entries(old), zip_entries(new)
    if old_entries is None or new_entries is None:
        return None
    names = changed_deflated(old, old_entries, new, new_entries)
    dst, dst_puffs = locate(new, new_entries, names, verify=True)
    if not dst:
        return None
    src, src_puffs = locate(old, old_entries, names, verify=False)
    src_puffed, src_extents = puffed_stream(old, src, src_puffs)
    dst_puffed, dst_extents = puffed_stream(new, dst, dst_puffs)
    header = puffin_pb2.PatchHeader()
    header.version = PATCH_VERSION
    _stream_info(header.src, src, src_extents, len(src_puffed))
    _stream_info(header.dst, dst, dst_extents, len(dst_puffed))
    raw = header.SerializeToString(deterministic=True)
    return MAGIC + struct.pack(">I", len(raw)) + raw + bsdiff(src_puffed, dst_puffed)


@dataclass(frozen=True)
class PuffPatch:
    src_deflates: list[BitExtent]
    src_puffs: list[tuple[int, int]]  # in bytes
    src_puff_length: int
    dst_deflates: list[BitExtent]
    dst_puffs: list[tuple[int, int]]
    dst_puff_length: int
    bsdiff: bytes


def read_puffdiff(patch: bytes) -> PuffPatch:
    """The parts of a puffin patch; ValueError when it is not one."""
    from romforge.ota.proto import puffin_pb2

    if len(patch) < 8 or patch[:4] != MAGIC:
        raise ValueError("not a puffin patch (no PUF1 magic)")
    (size,) = struct.unpack(">I", patch[4:8])
    if size > len(patch) - 8:
        raise ValueError("puffin patch header runs past its end")
    header = puffin_pb2.PatchHeader()
    try:
        header.ParseFromString(patch[8:8 + size])
    except Exception:  # protobuf's DecodeError
        raise ValueError("puffin patch header is not a PatchHeader") from None
    if header.type != puffin_pb2.PatchHeader.BSDIFF:
        raise ValueError(f"puffin patch type {header.type} is not bsdiff")

    def byte_extents(extents) -> list[tuple[int, int]]:
        if any(e.offset % 8 or e.length % 8 for e in extents):
            raise ValueError("puff extents are not whole bytes")
        return [(e.offset // 8, e.length // 8) for e in extents]

    return PuffPatch([(e.offset, e.length) for e in header.src.deflates], byte_extents(header.src.puffs),
                     header.src.puff_length, [(e.offset, e.length) for e in header.dst.deflates],
                     byte_extents(header.dst.puffs), header.dst.puff_length, patch[8 + size:])


def apply_puffdiff(src: bytes, patch: PuffPatch, dst_size: int, bspatch: Callable[[bytes, bytes, int], bytes]) -> bytes:
    """The destination stream: puff `src`, patch it, huff it (ValueError/PuffError when broken)."""
    if patch.src_puff_length > 4 * len(src) + (1 << 20) or patch.dst_puff_length > 4 * dst_size + (1 << 20):
        raise ValueError("puffed stream lengths out of proportion to their streams")
    puffed, extents = puff_stream(src, patch.src_deflates)
    if len(puffed) != patch.src_puff_length or extents != patch.src_puffs:
        raise ValueError("the source does not puff to what the patch expects")
    dst_puffed = bspatch(puffed, patch.bsdiff, patch.dst_puff_length)
    if len(dst_puffed) != patch.dst_puff_length:
        raise ValueError("the patched puff stream has the wrong length")
    return huff_stream(dst_puffed, patch.dst_deflates, patch.dst_puffs, dst_size)

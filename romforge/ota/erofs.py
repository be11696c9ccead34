"""Reading uncompressed erofs images: which blocks hold which file, and each inode's metadata.

The OTA delta planner needs the block map of every file (to diff a file against its old
version and copy unchanged blocks), and the tests need to read back the owner, mode and
xattrs (SELinux label, capabilities) mkfs.erofs wrote. Layout facts are from the kernel's
fs/erofs/erofs_fs.h: superblock at byte 1024, 32- or 64-byte inodes addressed by nid in
the metadata area, 12-byte dirents, FLAT_PLAIN / FLAT_INLINE data layouts.
"""

from __future__ import annotations

import os
import stat
import struct
from dataclasses import dataclass, field, replace
from pathlib import Path

from romforge.errors import InputError

SUPER_OFFSET = 1024
MAGIC = 0xE0F5E1E2
FLAT_PLAIN, COMPRESSED_FULL, FLAT_INLINE, COMPRESSED_COMPACT, CHUNK_BASED = range(5)
XATTR_PREFIXES = {1: "user.", 4: "trusted.", 6: "security."}
MAX_DEPTH = 64
MAX_INODES = 4_000_000


@dataclass(frozen=True)
class ErofsInode:
    path: str  # "" for the root, else relative without a leading slash
    nid: int
    mode: int  # full st_mode (type and permission bits)
    uid: int
    gid: int
    size: int
    layout: int
    blocks: tuple[tuple[int, int], ...]  # (start_block, count) extents of whole data blocks
    xattrs: dict[str, bytes] = field(default_factory=dict)
    link_target: str | None = None

    @property
    def kind(self) -> str:
        if stat.S_ISDIR(self.mode):
            return "dir"
        if stat.S_ISLNK(self.mode):
            return "symlink"
        return "file"


@dataclass(frozen=True)
class ErofsImage:
    block_size: int
    total_blocks: int
    meta_blkaddr: int
    xattr_blkaddr: int
    uuid: bytes
    build_time: int
    inodes: dict[str, ErofsInode]


class _Reader:
    """Bounded reads of an image held in memory, or of an open file by pread. A file is read, not
    mapped: a mapping of a freshly written image counts whole page-cache folios (up to 2 MiB
    each) into this process's resident memory for every metadata block it touches."""

    CACHE_BLOCKS = 4096  # 4 KiB pieces kept: a directory walk rereads the same metadata blocks

    def __init__(self, data: bytes | memoryview, source: str, fd: int | None = None, size: int = 0) -> None:
        self.data = memoryview(data)
        self.source = source
        self.fd = fd
        self.size = size if fd is not None else len(self.data)
        self.cache: dict[int, bytes] = {}

    def bad(self, message: str) -> InputError:
        return InputError(f"not a readable erofs image: {message}", file=self.source)

    def take(self, offset: int, size: int) -> bytes | memoryview:
        if offset < 0 or size < 0 or offset + size > self.size:
            raise self.bad(f"reference to bytes {offset}..{offset + size} past the end")
        if self.fd is None:
            return self.data[offset:offset + size]
        piece = offset >> 12
        if (offset + size - 1) >> 12 != piece or not size:
            return self._pread(offset, size)
        block = self.cache.get(piece)
        if block is None:
            if len(self.cache) >= self.CACHE_BLOCKS:
                self.cache.clear()
            block = self.cache[piece] = self._pread(piece << 12, min(4096, self.size - (piece << 12)))
        at = offset - (piece << 12)
        return block[at:at + size]

    def _pread(self, offset: int, size: int) -> bytes:
        data = os.pread(self.fd, size, offset)
        if len(data) != size:
            raise self.bad(f"the image ends at byte {offset + len(data)}, inside bytes {offset}..{offset + size}")
        return data


def read_erofs(image: Path | bytes, *, source: str | None = None, metadata_only: bool = False) -> ErofsImage:
    """Every inode of an uncompressed erofs image, keyed by path. Only the metadata and directory
    blocks of an image file are ever read.

    With `metadata_only`, regular files may be compressed or chunk-based (stock images are):
    their owner, mode and xattrs are read, their data blocks are not listed."""
    if isinstance(image, (bytes, bytearray, memoryview)):
        return _parse(_Reader(image, source or "erofs image"), metadata_only)
    with open(image, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        return _parse(_Reader(b"", source or str(image), f.fileno(), size), metadata_only)


def _parse(r: _Reader, metadata_only: bool = False) -> ErofsImage:
    sb = r.take(SUPER_OFFSET, 128)
    magic, _crc, _compat, blkszbits, _ext, root_nid, _inos, build_time, _nsec, blocks, meta_blkaddr, \
        xattr_blkaddr = struct.unpack_from("<IIIBBHQQIIII", sb, 0)
    if magic != MAGIC:
        raise r.bad(f"bad magic 0x{magic:08x}")
    if not 9 <= blkszbits <= 16:
        raise r.bad(f"block size 2^{blkszbits}")
    block_size = 1 << blkszbits
    uuid = bytes(sb[48:64])
    inodes: dict[str, ErofsInode] = {}
    meta_base = meta_blkaddr * block_size
    seen_dirs: set[int] = set()
    stack: list[tuple[str, int, int]] = [("", root_nid, 0)]
    while stack:
        path, nid, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise r.bad(f"directories nested deeper than {MAX_DEPTH} at /{path}")
        if len(inodes) > MAX_INODES:
            raise r.bad(f"more than {MAX_INODES} paths")
        inode, tail = _read_inode(r, meta_base, xattr_blkaddr * block_size, block_size, path, nid, metadata_only)
        if inode.kind == "dir":
            if nid in seen_dirs:
                raise r.bad(f"directory /{path} is linked twice (a loop)")
            seen_dirs.add(nid)
        inodes[path] = inode
        if inode.kind == "symlink":
            target = _file_bytes(r, inode, tail, block_size)
            inodes[path] = replace(inode, link_target=target.decode("utf-8", "surrogateescape"))
        elif inode.kind == "dir":
            content = _file_bytes(r, inode, tail, block_size)
            for name, child in _dirents(r, content, block_size, path):
                stack.append((f"{path}/{name}" if path else name, child, depth + 1))
    return ErofsImage(block_size, blocks, meta_blkaddr, xattr_blkaddr, uuid, build_time, inodes)


def _read_inode(r: _Reader, meta_base: int, xattr_base: int, block_size: int, path: str,
                nid: int, metadata_only: bool = False) -> tuple[ErofsInode, tuple[int, int]]:
    offset = meta_base + nid * 32
    head = r.take(offset, 32)
    i_format, xattr_icount, mode = struct.unpack_from("<HHH", head, 0)
    extended = i_format & 1
    layout = (i_format >> 1) & 0x7
    if extended:
        body = r.take(offset, 64)
        size, raw_blkaddr, _ino, uid, gid = struct.unpack_from("<QIIII", body, 8)
        inode_size = 64
    else:
        _nlink, size, _res, raw_blkaddr, _ino, uid, gid = struct.unpack_from("<HIIIIHH", head, 6)
        inode_size = 32
    xattrs, xattr_size = _xattrs(r, offset + inode_size, xattr_icount, xattr_base)
    if layout not in (FLAT_PLAIN, FLAT_INLINE):
        if not (metadata_only and stat.S_ISREG(mode) and layout in (COMPRESSED_FULL, COMPRESSED_COMPACT, CHUNK_BASED)):
            raise r.bad(f"/{path} uses data layout {layout}; romforge builds and reads uncompressed images only")
        return ErofsInode(path, nid, mode, uid, gid, size, layout, (), xattrs), (0, 0)
    full = size // block_size if layout == FLAT_INLINE else -(-size // block_size)
    blocks = ((raw_blkaddr, full),) if full else ()
    tail_len = size - full * block_size if layout == FLAT_INLINE else 0
    tail = (offset + inode_size + xattr_size, tail_len)
    return ErofsInode(path, nid, mode, uid, gid, size, layout, blocks, xattrs), tail


def _xattrs(r: _Reader, offset: int, icount: int, xattr_base: int) -> tuple[dict[str, bytes], int]:
    if icount == 0:
        return {}, 0
    size = 12 + (icount - 1) * 4
    body = r.take(offset, size)
    shared_count = body[4]
    result: dict[str, bytes] = {}
    pos = 12
    for _ in range(shared_count):
        (xid,) = struct.unpack_from("<I", body, pos)
        pos += 4
        name, value, _ = _xattr_entry(r, xattr_base + xid * 4)
        result[name] = value
    end = offset + size
    cursor = offset + pos
    while cursor < end:
        name, value, used = _xattr_entry(r, cursor)
        result[name] = value
        cursor += used
    return result, size


def _xattr_entry(r: _Reader, offset: int) -> tuple[str, bytes, int]:
    name_len, index, value_size = struct.unpack_from("<BBH", r.take(offset, 4), 0)
    name = bytes(r.take(offset + 4, name_len)).decode("utf-8", "replace")
    value = bytes(r.take(offset + 4 + name_len, value_size))
    used = (4 + name_len + value_size + 3) & ~3
    return XATTR_PREFIXES.get(index, f"index{index}.") + name, value, used


def _file_bytes(r: _Reader, inode: ErofsInode, tail: tuple[int, int], block_size: int) -> bytes:
    parts = [bytes(r.take(start * block_size, count * block_size)) for start, count in inode.blocks]
    parts.append(bytes(r.take(*tail)))
    return b"".join(parts)[:inode.size]


def _dirents(r: _Reader, content: bytes, block_size: int, path: str) -> list[tuple[str, int]]:
    found = []
    dots = {".": 0, "..": 0}
    for base in range(0, len(content), block_size):
        chunk = content[base:base + block_size]
        if len(chunk) < 12:
            break
        first_nameoff = struct.unpack_from("<H", chunk, 8)[0]
        count = first_nameoff // 12
        if count == 0 or first_nameoff > len(chunk):
            raise r.bad(f"directory /{path} has a broken block")
        entries = [struct.unpack_from("<QHBB", chunk, i * 12) for i in range(count)]
        for i, (nid, nameoff, _ftype, _res) in enumerate(entries):
            end = entries[i + 1][1] if i + 1 < count else len(chunk)
            name = chunk[nameoff:end].split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
            if name in (".", ".."):
                dots[name] += 1
                if dots[name] > 1:  # a second ".." is a name that climbs out of the image
                    raise r.bad(f"directory /{path} holds {name!r} twice")
                continue
            if not name or "/" in name:
                raise r.bad(f"directory /{path} holds an unusable name {name!r}")
            found.append((name, nid))
    return found


def file_blocks(image: ErofsImage, *, directories: bool = False) -> dict[str, list[tuple[int, int]]]:
    """Regular file path → its whole data blocks (tails inlined in the metadata area are not listed).

    With `directories`, directory blocks are listed too, under the path with a trailing "/"."""
    result = {}
    for path, inode in image.inodes.items():
        if inode.blocks and (inode.kind == "file" or (directories and inode.kind == "dir")):
            result[path + "/" if inode.kind == "dir" else path] = list(inode.blocks)
    return result

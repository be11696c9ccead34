"""AVB descriptors: what a vbmeta blob says about partitions (libavb's avb_*_descriptor.h).

Every descriptor starts with tag (u64) and num_bytes_following (u64), and is padded with
zeros so the whole is a multiple of 8 bytes. The five tags: property (0), hashtree (1),
hash (2), kernel command line (3), chain partition (4). Unknown tags are kept as raw bytes.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from typing import Union

from romforge.avb.structs import StructError, round_up

TAG_PROPERTY, TAG_HASHTREE, TAG_HASH, TAG_KERNEL_CMDLINE, TAG_CHAIN_PARTITION = range(5)

_HEAD = struct.Struct(">QQ")
_PROPERTY = struct.Struct(">QQQQ")
_HASHTREE = struct.Struct(">QQIQQQIIIQQ32sIIII60x")
_HASH = struct.Struct(">QQQ32sIIII60x")
_CMDLINE = struct.Struct(">QQII")
_CHAIN = struct.Struct(">QQIIII60x")

HASHTREE_FLAG_DO_NOT_USE_AB = 1 << 0
HASHTREE_FLAG_CHECK_AT_MOST_ONCE = 1 << 1
HASH_FLAG_DO_NOT_USE_AB = 1 << 0
CMDLINE_FLAG_USE_ONLY_IF_HASHTREE_NOT_DISABLED = 1 << 0
CMDLINE_FLAG_USE_ONLY_IF_HASHTREE_DISABLED = 1 << 1
CHAIN_FLAG_DO_NOT_USE_AB = 1 << 0

DIGEST_SIZES = {"sha1": 20, "sha256": 32, "sha512": 64}


def _frame(fixed: struct.Struct, tag: int, values: tuple, tail: bytes) -> bytes:
    """Pack a descriptor: header with the padded num_bytes_following, fixed part, tail, zeros."""
    following = fixed.size - _HEAD.size + len(tail)
    padded = round_up(following, 8)
    return fixed.pack(tag, padded, *values) + tail + b"\0" * (padded - following)


def _name(raw: bytes, what: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise StructError(f"{what} is not valid UTF-8") from None


def _algorithm(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].decode("ascii", errors="replace")


@dataclass(frozen=True)
class PropertyDescriptor:
    """A key/value pair signed into the vbmeta (e.g. com.android.build.system.fingerprint)."""

    key: str
    value: bytes

    def encode(self) -> bytes:
        key = self.key.encode("utf-8")
        return _frame(_PROPERTY, TAG_PROPERTY, (len(key), len(self.value)), key + b"\0" + self.value + b"\0")

    def to_dict(self) -> dict:
        try:
            shown = self.value.decode("utf-8")
        except UnicodeDecodeError:
            shown = None
        return {"type": "property", "key": self.key, "value": shown, "value_hex": None if shown is not None
                else self.value.hex(), "size": len(self.value)}


@dataclass(frozen=True)
class HashtreeDescriptor:
    """A partition verified block by block by dm-verity: where its hash tree is and its root digest."""

    partition_name: str
    image_size: int
    tree_offset: int
    tree_size: int
    data_block_size: int
    hash_block_size: int
    hash_algorithm: str
    salt: bytes
    root_digest: bytes
    flags: int = 0
    dm_verity_version: int = 1
    fec_num_roots: int = 0
    fec_offset: int = 0
    fec_size: int = 0

    def encode(self) -> bytes:
        name = self.partition_name.encode("utf-8")
        values = (self.dm_verity_version, self.image_size, self.tree_offset, self.tree_size,
                  self.data_block_size, self.hash_block_size, self.fec_num_roots, self.fec_offset,
                  self.fec_size, self.hash_algorithm.encode("ascii"), len(name), len(self.salt),
                  len(self.root_digest), self.flags)
        return _frame(_HASHTREE, TAG_HASHTREE, values, name + self.salt + self.root_digest)

    def to_dict(self) -> dict:
        return {"type": "hashtree", "partition_name": self.partition_name,
                "dm_verity_version": self.dm_verity_version, "image_size": self.image_size,
                "tree_offset": self.tree_offset, "tree_size": self.tree_size,
                "data_block_size": self.data_block_size, "hash_block_size": self.hash_block_size,
                "fec_num_roots": self.fec_num_roots, "fec_offset": self.fec_offset, "fec_size": self.fec_size,
                "hash_algorithm": self.hash_algorithm, "salt": self.salt.hex(),
                "root_digest": self.root_digest.hex(), "flags": self.flags}


@dataclass(frozen=True)
class HashDescriptor:
    """A partition the bootloader reads whole and hashes (boot, dtbo, …): salted digest of image_size bytes."""

    partition_name: str
    image_size: int
    hash_algorithm: str
    salt: bytes
    digest: bytes
    flags: int = 0

    def encode(self) -> bytes:
        name = self.partition_name.encode("utf-8")
        values = (self.image_size, self.hash_algorithm.encode("ascii"), len(name), len(self.salt),
                  len(self.digest), self.flags)
        return _frame(_HASH, TAG_HASH, values, name + self.salt + self.digest)

    def to_dict(self) -> dict:
        return {"type": "hash", "partition_name": self.partition_name, "image_size": self.image_size,
                "hash_algorithm": self.hash_algorithm, "salt": self.salt.hex(), "digest": self.digest.hex(),
                "flags": self.flags}


@dataclass(frozen=True)
class KernelCmdlineDescriptor:
    """A snippet the bootloader adds to the kernel command line."""

    kernel_cmdline: str
    flags: int = 0

    def encode(self) -> bytes:
        text = self.kernel_cmdline.encode("utf-8")
        return _frame(_CMDLINE, TAG_KERNEL_CMDLINE, (self.flags, len(text)), text)

    def to_dict(self) -> dict:
        return {"type": "kernel_cmdline", "kernel_cmdline": self.kernel_cmdline, "flags": self.flags}


@dataclass(frozen=True)
class ChainPartitionDescriptor:
    """Delegates a partition to its own vbmeta, which must be signed by `public_key` (AVB format)."""

    partition_name: str
    rollback_index_location: int
    public_key: bytes
    flags: int = 0

    def encode(self) -> bytes:
        name = self.partition_name.encode("utf-8")
        values = (self.rollback_index_location, len(name), len(self.public_key), self.flags)
        return _frame(_CHAIN, TAG_CHAIN_PARTITION, values, name + self.public_key)

    def to_dict(self) -> dict:
        return {"type": "chain_partition", "partition_name": self.partition_name,
                "rollback_index_location": self.rollback_index_location,
                "public_key_sha1": hashlib.sha1(self.public_key).hexdigest(), "flags": self.flags}


@dataclass(frozen=True)
class UnknownDescriptor:
    """A tag this reader does not know, kept byte for byte."""

    tag: int
    raw: bytes

    def encode(self) -> bytes:
        return self.raw

    def to_dict(self) -> dict:
        return {"type": "unknown", "tag": self.tag, "size": len(self.raw)}


Descriptor = Union[PropertyDescriptor, HashtreeDescriptor, HashDescriptor, KernelCmdlineDescriptor,
                   ChainPartitionDescriptor, UnknownDescriptor]
PARTITION_DESCRIPTORS = (HashtreeDescriptor, HashDescriptor, ChainPartitionDescriptor)


def _tail(data: bytes, fixed: struct.Struct, *lengths: int) -> list[bytes]:
    """Split the variable part after the fixed fields; every length must fit the descriptor."""
    pos, parts = fixed.size, []
    for length in lengths:
        if pos + length > len(data):
            raise StructError("a length field points past the end of its descriptor")
        parts.append(data[pos:pos + length])
        pos += length
    return parts


def _decode_one(tag: int, data: bytes) -> Descriptor:
    fixed = {TAG_PROPERTY: _PROPERTY, TAG_HASHTREE: _HASHTREE, TAG_HASH: _HASH,
             TAG_KERNEL_CMDLINE: _CMDLINE, TAG_CHAIN_PARTITION: _CHAIN}.get(tag)
    if fixed is None:
        return UnknownDescriptor(tag, data)
    if len(data) < fixed.size:
        raise StructError(f"descriptor with tag {tag} is shorter than its fixed part")
    _, _, *v = fixed.unpack_from(data)
    if tag == TAG_PROPERTY:
        key, nul1, value, nul2 = _tail(data, fixed, v[0], 1, v[1], 1)
        if nul1 != b"\0" or nul2 != b"\0":
            raise StructError("property descriptor key or value is not NUL-terminated")
        return PropertyDescriptor(_name(key, "property key"), value)
    if tag == TAG_HASHTREE:
        name, salt, root = _tail(data, fixed, v[10], v[11], v[12])
        return HashtreeDescriptor(_name(name, "partition name"), image_size=v[1], tree_offset=v[2],
                                  tree_size=v[3], data_block_size=v[4], hash_block_size=v[5],
                                  hash_algorithm=_algorithm(v[9]), salt=salt, root_digest=root, flags=v[13],
                                  dm_verity_version=v[0], fec_num_roots=v[6], fec_offset=v[7], fec_size=v[8])
    if tag == TAG_HASH:
        name, salt, digest = _tail(data, fixed, v[2], v[3], v[4])
        return HashDescriptor(_name(name, "partition name"), image_size=v[0], hash_algorithm=_algorithm(v[1]),
                              salt=salt, digest=digest, flags=v[5])
    if tag == TAG_KERNEL_CMDLINE:
        (text,) = _tail(data, fixed, v[1])
        return KernelCmdlineDescriptor(_name(text, "kernel command line"), flags=v[0])
    name, key = _tail(data, fixed, v[1], v[2])
    return ChainPartitionDescriptor(_name(name, "partition name"), rollback_index_location=v[0],
                                    public_key=key, flags=v[3])


def parse_descriptors(data: bytes) -> list[Descriptor]:
    """Every descriptor in a vbmeta's descriptor area, in order; StructError on any malformed one."""
    found: list[Descriptor] = []
    pos = 0
    while pos < len(data):
        if pos + _HEAD.size > len(data):
            raise StructError(f"truncated descriptor header at descriptor offset {pos}")
        tag, following = _HEAD.unpack_from(data, pos)
        if following % 8 or pos + _HEAD.size + following > len(data):
            raise StructError(f"descriptor at descriptor offset {pos} has a bad size ({following})")
        end = pos + _HEAD.size + following
        try:
            found.append(_decode_one(tag, data[pos:end]))
        except StructError as exc:
            raise StructError(f"descriptor {len(found)} (tag {tag}): {exc}") from None
        pos = end
    return found


def encode_descriptors(descriptors: list[Descriptor]) -> bytes:
    return b"".join(d.encode() for d in descriptors)

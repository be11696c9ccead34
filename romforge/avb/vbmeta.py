"""Assembling vbmeta blobs: vbmeta.img / vbmeta_system.img, and the vbmeta inside a footer.

The descriptor order is avbtool's, so the same inputs give the bytes AOSP's tools would:
the image's own descriptor (footers only), chain partitions, properties, kernel command
lines, then the descriptors taken from other images: those without a partition name in the
order met, then one per (kind, partition) — the last one met — sorted by kind
(chain < hash < hashtree) and partition name.

Auxiliary block: descriptors, public key, public key metadata (none), padded to 64.
Authentication block: hash of header + auxiliary block, then the signature, padded to 64.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Sequence, Union

from romforge.avb.descriptors import (CHAIN_FLAG_DO_NOT_USE_AB, ChainPartitionDescriptor, Descriptor,
                                      HashDescriptor, HashtreeDescriptor, KernelCmdlineDescriptor,
                                      PropertyDescriptor, encode_descriptors)
from romforge.avb.files import write_atomically
from romforge.avb.image import AvbImage, read_avb_image
from romforge.avb.keys import NONE, Algorithm, AvbKey, algorithm_named, decode_public_key
from romforge.avb.structs import (LIBAVB_MAJOR, RELEASE_STRING, VBMETA_HEADER_SIZE, VBMetaHeader, round_up)
from romforge.errors import ConfigError, InputError

Properties = Union[Mapping[str, Union[str, bytes]], Iterable[tuple[str, Union[str, bytes]]]]
_U32, _U64 = (1 << 32) - 1, (1 << 64) - 1
_KIND_ORDER = {ChainPartitionDescriptor: 0, HashDescriptor: 1, HashtreeDescriptor: 2}


@dataclass(frozen=True)
class ChainPartition:
    """A partition whose own vbmeta (footer or vbmeta_<name>.img) is trusted when signed by
    `public_key` (AVB public key blob); its rollback index lives at `rollback_index_location`."""

    partition_name: str
    rollback_index_location: int
    public_key: bytes
    do_not_use_ab: bool = False

    def descriptor(self) -> ChainPartitionDescriptor:
        return ChainPartitionDescriptor(self.partition_name, self.rollback_index_location, self.public_key,
                                        CHAIN_FLAG_DO_NOT_USE_AB if self.do_not_use_ab else 0)


@dataclass(frozen=True)
class Signing:
    """Who signs a vbmeta blob: a key and an algorithm whose RSA size matches it, or nobody (NONE)."""

    key: AvbKey | None
    algorithm: Algorithm

    @classmethod
    def of(cls, key: AvbKey | None, algorithm: str | Algorithm | None = None) -> "Signing":
        chosen = algorithm_named(algorithm) if isinstance(algorithm, str) else algorithm
        if key is None:
            if chosen is not None and chosen.type:
                raise ConfigError(f"AVB algorithm {chosen.name} needs a signing key")
            return cls(None, NONE)
        chosen = chosen or key.default_algorithm()
        if not chosen.type:
            raise ConfigError("a signing key was given with the algorithm NONE", file=key.path)
        key.check_algorithm(chosen)
        return cls(key, chosen)


def property_descriptors(properties: Properties) -> list[PropertyDescriptor]:
    items = properties.items() if isinstance(properties, Mapping) else properties
    found = []
    for key, value in items:
        if not key or "\0" in key:
            raise ConfigError(f"AVB property name {key!r} is empty or holds a NUL byte")
        found.append(PropertyDescriptor(key, value.encode("utf-8") if isinstance(value, str) else bytes(value)))
    return found


def check_chain_partitions(chains: Sequence[ChainPartition], own_location: int) -> None:
    """Names present, locations 1 or more and unique (also against the vbmeta's own), keys valid."""
    used = {own_location}
    for chain in chains:
        where = f"chain partition {chain.partition_name!r}"
        if not chain.partition_name:
            raise ConfigError("a chain partition needs a partition name")
        if not 1 <= chain.rollback_index_location <= _U32:
            raise ConfigError(f"{where}: rollback index location must be 1 or larger")
        if chain.rollback_index_location in used:
            raise ConfigError(f"{where}: rollback index location {chain.rollback_index_location} is already in use")
        used.add(chain.rollback_index_location)
        try:
            decode_public_key(chain.public_key)
        except ValueError as exc:
            raise ConfigError(f"{where}: {exc}") from None


def assemble_descriptors(own: Sequence[Descriptor] = (), *, chain_partitions: Sequence[ChainPartition] = (),
                         properties: Properties = (), kernel_cmdlines: Sequence[str] = (),
                         included: Sequence[AvbImage] = ()) -> list[Descriptor]:
    """The descriptors of a vbmeta blob, in avbtool's order (see the module docstring)."""
    found: list[Descriptor] = list(own)
    found += [c.descriptor() for c in chain_partitions]
    found += property_descriptors(properties)
    found += [KernelCmdlineDescriptor(text) for text in kernel_cmdlines]
    by_partition: dict[tuple[int, str], Descriptor] = {}
    for image in included:
        for d in image.descriptors:
            kind = _KIND_ORDER.get(type(d))
            if kind is None:
                found.append(d)
            else:
                by_partition[(kind, d.partition_name)] = d  # type: ignore[union-attr]
    found += [by_partition[k] for k in sorted(by_partition)]
    return found


def required_minor(descriptors: Sequence[Descriptor], rollback_index_location: int) -> int:
    """The oldest libavb 1.x that understands everything the blob uses (avbtool's rules)."""
    minor = 2 if rollback_index_location else 0
    for d in descriptors:
        if isinstance(d, HashtreeDescriptor) and (d.flags or not d.root_digest):
            minor = max(minor, 1)
        elif isinstance(d, HashDescriptor) and (d.flags or not d.digest):
            minor = max(minor, 1)
        elif isinstance(d, ChainPartitionDescriptor) and d.flags & CHAIN_FLAG_DO_NOT_USE_AB:
            minor = max(minor, 3)
    return minor


def blob_size(descriptors_size: int, signing: Signing) -> int:
    """The size of a vbmeta blob before it is built (for partition size checks)."""
    a = signing.algorithm
    return VBMETA_HEADER_SIZE + round_up(a.hash_size + a.signature_size, 64) + \
        round_up(descriptors_size + a.public_key_size, 64)


def vbmeta_blob(descriptors: Sequence[Descriptor], signing: Signing, *, rollback_index: int = 0, flags: int = 0,
                rollback_index_location: int = 0, minimum_minor: int = 0) -> bytes:
    """Header + authentication block + auxiliary block, hashed and signed as libavb checks it."""
    for name, value, limit in (("rollback index", rollback_index, _U64), ("flags", flags, _U32),
                               ("rollback index location", rollback_index_location, _U32)):
        if not 0 <= value <= limit:
            raise ConfigError(f"AVB {name} {value} is out of range (0..{limit})")
    a = signing.algorithm
    encoded = encode_descriptors(list(descriptors))
    public_key = signing.key.public_key_blob if signing.key else b""
    aux_size = round_up(len(encoded) + len(public_key), 64)
    header = VBMetaHeader(
        required_libavb_version_major=LIBAVB_MAJOR,
        required_libavb_version_minor=max(minimum_minor, required_minor(descriptors, rollback_index_location)),
        authentication_data_block_size=round_up(a.hash_size + a.signature_size, 64),
        auxiliary_data_block_size=aux_size, algorithm_type=a.type,
        hash_offset=0, hash_size=a.hash_size, signature_offset=a.hash_size, signature_size=a.signature_size,
        public_key_offset=len(encoded), public_key_size=len(public_key),
        public_key_metadata_offset=len(encoded) + len(public_key), public_key_metadata_size=0,
        descriptors_offset=0, descriptors_size=len(encoded), rollback_index=rollback_index, flags=flags,
        rollback_index_location=rollback_index_location, release_string=RELEASE_STRING).encode()
    aux = (encoded + public_key).ljust(aux_size, b"\0")
    auth = b""
    if signing.key is not None:
        digest = hashlib.new(a.hash_name, header + aux).digest()
        auth = digest + signing.key.sign(a, header + aux)
    return header + auth.ljust(round_up(a.hash_size + a.signature_size, 64), b"\0") + aux


@dataclass(frozen=True)
class VBMetaResult:
    path: Path
    size: int
    sha256: str
    algorithm: str
    rollback_index: int
    descriptors: tuple[Descriptor, ...]

    def to_dict(self) -> dict:
        return {"path": str(self.path), "size": self.size, "sha256": self.sha256, "algorithm": self.algorithm,
                "rollback_index": self.rollback_index, "descriptors": [d.to_dict() for d in self.descriptors]}


def make_vbmeta(output: Path, *, key: AvbKey, algorithm: str | None = None, rollback_index: int = 0,
                flags: int = 0, rollback_index_location: int = 0,
                include_descriptors_from_image: Sequence[Path] = (),
                chain_partitions: Sequence[ChainPartition] = (), properties: Properties = (),
                kernel_cmdlines: Sequence[str] = (), padding_size: int = 4096) -> VBMetaResult:
    """`avbtool make_vbmeta_image`: a signed vbmeta image at `output` (written whole or not at all),
    zero-padded to a multiple of `padding_size` as AOSP pads vbmeta.img."""
    signing = Signing.of(key, algorithm)
    check_chain_partitions(chain_partitions, rollback_index_location)
    included = [read_avb_image(Path(p)) for p in include_descriptors_from_image]
    descriptors = assemble_descriptors(chain_partitions=chain_partitions, properties=properties,
                                       kernel_cmdlines=kernel_cmdlines, included=included)
    minimum = max((image.header.required_libavb_version_minor for image in included), default=0)
    blob = vbmeta_blob(descriptors, signing, rollback_index=rollback_index, flags=flags,
                       rollback_index_location=rollback_index_location, minimum_minor=minimum)
    if padding_size < 0:
        raise InputError(f"padding size {padding_size} is negative")
    if padding_size:
        blob = blob.ljust(round_up(len(blob), padding_size), b"\0")
    write_atomically(Path(output), blob)
    return VBMetaResult(Path(output), len(blob), hashlib.sha256(blob).hexdigest(), signing.algorithm.name,
                        rollback_index, tuple(descriptors))

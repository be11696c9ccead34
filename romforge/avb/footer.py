"""Footers: AVB metadata appended to a partition image (`avbtool add_hashtree_footer` /
`add_hash_footer`).

Layout of the result, offsets in bytes:

    [0, original)          the image as given
    [original, padded)     zeros up to a whole block
    tree                   the dm-verity hash tree (hashtree footers only), FEC is not written
    vbmeta                 the vbmeta blob, zero-padded to a whole block
    zeros                  up to the partition size, less one block
    last block             zeros, then the 64-byte AvbFooter in its last 64 bytes

Partition size checks keep avbtool's conservative reserve (64 KiB vbmeta + 4 KiB footer, and
for hashtrees the tree a whole partition would need), so an image romforge accepts is one
AOSP's build would accept too. An image that already has a footer is footered again from its
original bytes, as avbtool does. Without `output` the image is changed in place and cut back
to its original size if anything fails; with `output` the input is only read and the output
appears whole or not at all.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Literal, Sequence, Union

from romforge.avb.descriptors import (DIGEST_SIZES, HASH_FLAG_DO_NOT_USE_AB, HASHTREE_FLAG_CHECK_AT_MOST_ONCE,
                                      HASHTREE_FLAG_DO_NOT_USE_AB, Descriptor, HashDescriptor, HashtreeDescriptor,
                                      encode_descriptors)
from romforge.avb.files import temporary_sibling
from romforge.avb.hashtree import tree_layout, write_hash_tree
from romforge.avb.image import AvbImage, read_avb_image
from romforge.avb.keys import AvbKey
from romforge.avb.structs import FOOTER_MAGIC, FOOTER_SIZE, MAX_FOOTER_SIZE, MAX_VBMETA_SIZE, Footer, round_up
from romforge.avb.vbmeta import (ChainPartition, Properties, Signing, assemble_descriptors, blob_size,
                                 check_chain_partitions, vbmeta_blob)
from romforge.errors import ConfigError, InputError

BLOCK_SIZE = 4096
METADATA_RESERVE = MAX_VBMETA_SIZE + MAX_FOOTER_SIZE
PartitionSize = Union[int, Literal["dynamic"]]


@dataclass(frozen=True)
class FooterResult:
    """What was written: enough for a care map (hashtree ranges) and for a vbmeta that includes it."""

    path: Path
    partition_name: str
    partition_size: int
    original_image_size: int
    vbmeta_offset: int
    vbmeta_size: int
    descriptor: HashtreeDescriptor | HashDescriptor

    def to_dict(self) -> dict:
        return {"path": str(self.path), "partition_name": self.partition_name,
                "partition_size": self.partition_size, "original_image_size": self.original_image_size,
                "vbmeta_offset": self.vbmeta_offset, "vbmeta_size": self.vbmeta_size,
                "descriptor": self.descriptor.to_dict()}


def max_hash_image_size(partition_size: int) -> int:
    """The largest image `add_hash_footer` fits in `partition_size` (avbtool --calc_max_image_size)."""
    return partition_size - METADATA_RESERVE


def max_hashtree_image_size(partition_size: int, *, hash_algorithm: str = "sha256", block_size: int = BLOCK_SIZE) -> int:
    """The largest image `add_hashtree_footer` fits in `partition_size`: room is kept for the tree a
    partition-sized image would need, and for the metadata (avbtool --calc_max_image_size)."""
    tree = tree_layout(partition_size, block_size=block_size, hash_algorithm=hash_algorithm).tree_size
    return partition_size - tree - METADATA_RESERVE


def _data_size(image: Path) -> tuple[int, int]:
    """(bytes of image data, file size): an existing AVB footer's original size, else the file size."""
    try:
        size = image.stat().st_size
        with open(image, "rb") as f:
            f.seek(max(0, size - FOOTER_SIZE))
            tail = f.read(FOOTER_SIZE)
    except FileNotFoundError:
        raise InputError("image not found", file=image) from None
    except OSError as exc:
        raise InputError(f"cannot read the image: {exc.strerror}", file=image) from None
    if not image.is_file():
        raise InputError("is not a regular file", file=image)
    if size >= FOOTER_SIZE and tail[:4] == FOOTER_MAGIC:
        footer = read_avb_image(image).footer
        if footer is not None:
            return footer.original_image_size, size
    return size, size


def _partition_size(partition_size: PartitionSize, block: int, image: Path) -> int | None:
    if partition_size == "dynamic":
        return None
    if isinstance(partition_size, bool) or not isinstance(partition_size, int) or partition_size <= 0:
        raise ConfigError(f"partition size must be a positive number of bytes or 'dynamic', not {partition_size!r}")
    if partition_size % block:
        raise InputError(f"partition size {partition_size} is not a multiple of the {block}-byte block", file=image)
    return partition_size


@dataclass(frozen=True)
class _VBMetaPlan:
    """Everything of a footer's vbmeta except its own descriptor, checked before anything is written."""

    partition_name: str
    signing: Signing
    chain_partitions: Sequence[ChainPartition]
    properties: Properties
    kernel_cmdlines: Sequence[str]
    included: Sequence[AvbImage]
    rollback_index: int
    flags: int
    rollback_index_location: int

    @classmethod
    def make(cls, partition_name: str, salt: bytes, hash_algorithm: str, key: AvbKey | None, algorithm: str | None,
             chain_partitions: Sequence[ChainPartition], properties: Properties, kernel_cmdlines: Sequence[str],
             include_descriptors_from_image: Sequence[Path], rollback_index: int, flags: int,
             rollback_index_location: int) -> "_VBMetaPlan":
        if not partition_name or "\0" in partition_name:
            raise ConfigError(f"partition name {partition_name!r} is empty or holds a NUL byte")
        if not isinstance(salt, (bytes, bytearray)):
            raise ConfigError("the salt must be bytes (derive it from the build's inputs)")
        if hash_algorithm not in DIGEST_SIZES:
            raise ConfigError(f"unknown hash algorithm {hash_algorithm!r}; use one of {', '.join(DIGEST_SIZES)}")
        signing = Signing.of(key, algorithm)
        check_chain_partitions(chain_partitions, rollback_index_location)
        included = [read_avb_image(Path(p)) for p in include_descriptors_from_image]
        return cls(partition_name, signing, chain_partitions, properties, kernel_cmdlines, included,
                   rollback_index, flags, rollback_index_location)

    def descriptors(self, own: Descriptor) -> list[Descriptor]:
        return assemble_descriptors([own], chain_partitions=self.chain_partitions, properties=self.properties,
                                    kernel_cmdlines=self.kernel_cmdlines, included=self.included)

    def size(self, placeholder: Descriptor) -> int:
        """The blob's size, from a descriptor of the final size; over libavb's limit is refused."""
        size = blob_size(len(encode_descriptors(self.descriptors(placeholder))), self.signing)
        if size > MAX_VBMETA_SIZE:
            raise ConfigError(f"the vbmeta of {self.partition_name} would be {size} bytes, over libavb's "
                              f"{MAX_VBMETA_SIZE}-byte limit (too many or too large properties?)")
        return size

    def blob(self, own: Descriptor) -> bytes:
        minimum = max((i.header.required_libavb_version_minor for i in self.included), default=0)
        return vbmeta_blob(self.descriptors(own), self.signing, rollback_index=self.rollback_index, flags=self.flags,
                           rollback_index_location=self.rollback_index_location, minimum_minor=minimum)


def _copy_prefix(source: Path, fd: int, length: int) -> None:
    with open(source, "rb") as src, os.fdopen(os.dup(fd), "wb") as dst:
        remaining = length
        while remaining:
            chunk = src.read(min(remaining, 8 << 20))
            if not chunk:
                raise InputError("image became shorter while it was read", file=source)
            dst.write(chunk)
            remaining -= len(chunk)


def _write(image: Path, output: Path | None, data_size: int, file_size: int,
           body: Callable[[Path, int], tuple[bytes, int, int]]) -> Path:
    """Run `body(target, fd)` on the file that becomes the result; it returns (footer, its
    offset, final size). In place, a failure cuts the image back to its data."""
    if output is not None and Path(output).resolve() == image.resolve():
        output = None
    try:
        return _write_to(image, output, data_size, file_size, body)
    except OSError as exc:
        raise InputError(f"cannot write: {exc.strerror}", file=exc.filename or output or image) from None


def _write_to(image: Path, output: Path | None, data_size: int, file_size: int,
              body: Callable[[Path, int], tuple[bytes, int, int]]) -> Path:
    if output is None:
        fd = os.open(image, os.O_RDWR)
        try:
            if file_size != data_size:
                os.ftruncate(fd, data_size)
            footer, at, size = body(image, fd)
            os.ftruncate(fd, size)
            os.pwrite(fd, footer, at)
        except BaseException:
            os.ftruncate(fd, data_size)
            raise
        finally:
            os.close(fd)
        return image
    with temporary_sibling(Path(output)) as tmp:
        fd = os.open(tmp, os.O_RDWR)
        try:
            _copy_prefix(image, fd, data_size)
            footer, at, size = body(tmp, fd)
            os.ftruncate(fd, size)
            os.pwrite(fd, footer, at)
        finally:
            os.close(fd)
        shutil.copymode(image, tmp)
    return Path(output)


def _too_large(image: Path, what: str, size: int, limit: int, partition_size: int, reserve: str) -> InputError:
    return InputError(f"{what} is {size} bytes, larger than the {limit} bytes a {partition_size}-byte partition "
                      f"leaves for it ({reserve})", file=image,
                      hint="raise the partition size (misc_info.txt / the profile) or make the image smaller")


def add_hashtree_footer(image: Path, *, partition_name: str, salt: bytes, partition_size: PartitionSize = "dynamic",
                        hash_algorithm: str = "sha256", block_size: int = BLOCK_SIZE, rollback_index: int = 0,
                        flags: int = 0, rollback_index_location: int = 0, properties: Properties = (),
                        kernel_cmdlines: Sequence[str] = (), chain_partitions: Sequence[ChainPartition] = (),
                        include_descriptors_from_image: Sequence[Path] = (), key: AvbKey | None = None,
                        algorithm: str | None = None, do_not_use_ab: bool = False, check_at_most_once: bool = False,
                        output: Path | None = None, jobs: int = 1) -> FooterResult:
    """Append the dm-verity hash tree, a vbmeta blob with its hashtree descriptor, and the footer.

    `partition_size` "dynamic" gives the smallest image that holds it all (the footer block right
    after the vbmeta, as avbtool lays it out without --partition_size). `jobs` is the number of
    processes that may hash the image. Unsigned (algorithm NONE) unless `key` is given, as AOSP
    leaves images whose descriptors go into vbmeta or vbmeta_system."""
    image = Path(image)
    plan = _VBMetaPlan.make(partition_name, salt, hash_algorithm, key, algorithm, chain_partitions, properties,
                            kernel_cmdlines, include_descriptors_from_image, rollback_index, flags,
                            rollback_index_location)
    fixed = _partition_size(partition_size, block_size, image)
    try:
        tree_layout(0, block_size=block_size, hash_algorithm=hash_algorithm)  # checks the block size
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    data_size, file_size = _data_size(image)
    padded = round_up(data_size, block_size)
    if padded == 0:
        raise InputError("image is empty; nothing to protect with a hash tree", file=image)
    layout = tree_layout(padded, block_size=block_size, hash_algorithm=hash_algorithm)
    if fixed is not None:
        limit = max_hashtree_image_size(fixed, hash_algorithm=hash_algorithm, block_size=block_size)
        if padded > limit:
            raise _too_large(image, "the image (padded to whole blocks)", padded, limit, fixed,
                             "its hash tree and 68 KiB of AVB metadata are kept, as avbtool keeps them")
    tree_flags = (HASHTREE_FLAG_DO_NOT_USE_AB if do_not_use_ab else 0) | \
        (HASHTREE_FLAG_CHECK_AT_MOST_ONCE if check_at_most_once else 0)

    def descriptor(root: bytes) -> HashtreeDescriptor:
        return HashtreeDescriptor(partition_name, image_size=padded, tree_offset=padded, tree_size=layout.tree_size,
                                  data_block_size=block_size, hash_block_size=block_size,
                                  hash_algorithm=hash_algorithm, salt=bytes(salt), root_digest=root, flags=tree_flags)

    vbmeta_size = plan.size(descriptor(b"\0" * layout.digest_size))
    vbmeta_offset = padded + layout.tree_size
    vbmeta_end = vbmeta_offset + round_up(vbmeta_size, block_size)
    final = fixed if fixed is not None else vbmeta_end + block_size
    made: dict = {}

    def body(target: Path, fd: int) -> tuple[bytes, int, int]:
        os.ftruncate(fd, vbmeta_offset)  # zero padding of the data; the tree lands after it
        root = write_hash_tree(target, layout, bytes(salt), fd, padded, jobs=jobs)
        made["descriptor"] = descriptor(root)
        blob = plan.blob(made["descriptor"])
        assert len(blob) == vbmeta_size
        os.pwrite(fd, blob, vbmeta_offset)
        return Footer(data_size, vbmeta_offset, len(blob)).encode(), final - FOOTER_SIZE, final

    path = _write(image, output, data_size, file_size, body)
    return FooterResult(path, partition_name, final, data_size, vbmeta_offset, vbmeta_size, made["descriptor"])


def _salted_digest(path: Path, fd: int, length: int, hash_algorithm: str, salt: bytes) -> bytes:
    hasher = hashlib.new(hash_algorithm, salt)
    for pos in range(0, length, 8 << 20):
        data = os.pread(fd, min(8 << 20, length - pos), pos)
        if not data:
            raise InputError("image became shorter while it was hashed", file=path)
        hasher.update(data)
    return hasher.digest()


def add_hash_footer(image: Path, *, partition_name: str, salt: bytes, partition_size: PartitionSize,
                    hash_algorithm: str = "sha256", rollback_index: int = 0, flags: int = 0,
                    rollback_index_location: int = 0, properties: Properties = (),
                    kernel_cmdlines: Sequence[str] = (), chain_partitions: Sequence[ChainPartition] = (),
                    include_descriptors_from_image: Sequence[Path] = (), key: AvbKey | None = None,
                    algorithm: str | None = None, do_not_use_ab: bool = False,
                    output: Path | None = None) -> FooterResult:
    """Append a vbmeta blob with a hash descriptor (the salted digest of the whole image) and the
    footer, for partitions the bootloader loads whole (boot, init_boot, vendor_boot, dtbo).

    `partition_size` "dynamic" is avbtool's --dynamic_partition_size: the image plus the
    68 KiB reserve, rounded up to a block. An image larger than its partition allows is refused."""
    image = Path(image)
    plan = _VBMetaPlan.make(partition_name, salt, hash_algorithm, key, algorithm, chain_partitions, properties,
                            kernel_cmdlines, include_descriptors_from_image, rollback_index, flags,
                            rollback_index_location)
    fixed = _partition_size(partition_size, BLOCK_SIZE, image)
    data_size, file_size = _data_size(image)
    if fixed is None:
        final = round_up(data_size + METADATA_RESERVE, BLOCK_SIZE)
    else:
        final = fixed
        if final < METADATA_RESERVE:
            raise InputError(f"partition size {final} is smaller than the {METADATA_RESERVE} bytes AVB metadata "
                             "needs", file=image)
        if data_size > max_hash_image_size(final):
            raise _too_large(image, "the image", data_size, max_hash_image_size(final), final,
                             "68 KiB are kept for the vbmeta and footer, as avbtool keeps them")
    vbmeta_offset = round_up(data_size, BLOCK_SIZE)
    hash_flags = HASH_FLAG_DO_NOT_USE_AB if do_not_use_ab else 0

    def descriptor(digest: bytes) -> HashDescriptor:
        return HashDescriptor(partition_name, data_size, hash_algorithm, bytes(salt), digest, hash_flags)

    vbmeta_size = plan.size(descriptor(b"\0" * DIGEST_SIZES[hash_algorithm]))
    made: dict = {}

    def body(target: Path, fd: int) -> tuple[bytes, int, int]:
        made["descriptor"] = descriptor(_salted_digest(target, fd, data_size, hash_algorithm, bytes(salt)))
        blob = plan.blob(made["descriptor"])
        assert len(blob) == vbmeta_size
        os.ftruncate(fd, vbmeta_offset)
        os.pwrite(fd, blob, vbmeta_offset)
        return Footer(data_size, vbmeta_offset, len(blob)).encode(), final - FOOTER_SIZE, final

    path = _write(image, output, data_size, file_size, body)
    return FooterResult(path, partition_name, final, data_size, vbmeta_offset, vbmeta_size, made["descriptor"])

"""Reading AVB metadata: a vbmeta image (vbmeta.img, vbmeta_system.img) or a partition image
with a footer (system.img, boot.img), checked the way libavb checks it before trusting a byte.

Everything read here is untrusted: every size and offset is held against the file and the
blocks it points into (avb_vbmeta_image_verify's rules), and any violation is one InputError
naming the file. Whether the signature holds is a separate question (`signature_problem`).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, replace
from pathlib import Path

from romforge.avb.descriptors import (ChainPartitionDescriptor, Descriptor, HashDescriptor, HashtreeDescriptor,
                                      KernelCmdlineDescriptor, PropertyDescriptor, parse_descriptors)
from romforge.avb.keys import ALGORITHM_BY_TYPE, Algorithm, decode_public_key, verify_signature
from romforge.avb.structs import (FOOTER_MAGIC, FOOTER_SIZE, LIBAVB_MAJOR, LIBAVB_MINOR_KNOWN, MAX_VBMETA_SIZE,
                                  VBMETA_HEADER_SIZE, Footer, StructError, VBMetaHeader)
from romforge.errors import InputError, shown_path
from romforge.safeio import open_regular_file


@dataclass(frozen=True)
class AvbImage:
    """The AVB metadata of one file: its footer (if any), the vbmeta blob and its descriptors."""

    path: Path
    file_size: int
    footer: Footer | None
    vbmeta_offset: int
    header: VBMetaHeader
    blob: bytes
    descriptors: tuple[Descriptor, ...]

    @property
    def algorithm(self) -> Algorithm:
        return ALGORITHM_BY_TYPE[self.header.algorithm_type]

    def _aux(self, offset: int, size: int) -> bytes:
        start = VBMETA_HEADER_SIZE + self.header.authentication_data_block_size + offset
        return self.blob[start:start + size]

    @property
    def public_key(self) -> bytes:
        """The AVB public key blob embedded in the auxiliary block (empty when unsigned)."""
        return self._aux(self.header.public_key_offset, self.header.public_key_size)

    @property
    def public_key_metadata(self) -> bytes:
        return self._aux(self.header.public_key_metadata_offset, self.header.public_key_metadata_size)

    @property
    def signed_data(self) -> bytes:
        """What the hash and signature cover: the header block followed by the auxiliary block."""
        aux = VBMETA_HEADER_SIZE + self.header.authentication_data_block_size
        return self.blob[:VBMETA_HEADER_SIZE] + self.blob[aux:]

    @property
    def stored_hash(self) -> bytes:
        start = VBMETA_HEADER_SIZE + self.header.hash_offset
        return self.blob[start:start + self.header.hash_size]

    @property
    def signature(self) -> bytes:
        start = VBMETA_HEADER_SIZE + self.header.signature_offset
        return self.blob[start:start + self.header.signature_size]


def _check_header(h: VBMetaHeader, available: int, path: Path) -> None:
    def bad(message: str) -> InputError:
        return InputError(f"invalid vbmeta header: {message}", file=path)

    if h.required_libavb_version_major != LIBAVB_MAJOR:
        raise bad(f"needs libavb {h.required_libavb_version_major}.x; only {LIBAVB_MAJOR}.x is defined")
    if h.required_libavb_version_minor > LIBAVB_MINOR_KNOWN:
        raise bad(f"needs libavb 1.{h.required_libavb_version_minor}, newer than the 1.{LIBAVB_MINOR_KNOWN} "
                  "this reader knows")
    auth, aux = h.authentication_data_block_size, h.auxiliary_data_block_size
    if auth % 64 or aux % 64:
        raise bad("authentication and auxiliary block sizes must be multiples of 64")
    if h.blob_size > available:
        raise bad(f"the blob is {h.blob_size} bytes but only {available} are there")
    for name, offset, size, block in (("hash", h.hash_offset, h.hash_size, auth),
                                      ("signature", h.signature_offset, h.signature_size, auth),
                                      ("public key", h.public_key_offset, h.public_key_size, aux),
                                      ("public key metadata", h.public_key_metadata_offset,
                                       h.public_key_metadata_size, aux),
                                      ("descriptors", h.descriptors_offset, h.descriptors_size, aux)):
        if offset + size > block:
            raise bad(f"{name} (offset {offset}, {size} bytes) lies outside its {block}-byte block")
    algorithm = ALGORITHM_BY_TYPE.get(h.algorithm_type)
    if algorithm is None:
        raise bad(f"unknown algorithm type {h.algorithm_type}")
    if algorithm.type and (h.hash_size != algorithm.hash_size or h.signature_size != algorithm.signature_size):
        raise bad(f"hash/signature sizes {h.hash_size}/{h.signature_size} do not fit {algorithm.name}")


def read_avb_image(path: Path, *, descriptors: bool = True) -> AvbImage:
    """Parse the AVB metadata of `path`: the footer's vbmeta if the file ends in an AVB footer,
    else a vbmeta image at offset 0. Without `descriptors` they are left unparsed (as libavb
    does until the signature has been checked); `with_descriptors` parses them later."""
    path = Path(path)
    with open_regular_file(path, shown=shown_path(path), follow_symlinks=True) as f:  # no FIFO, no device
        fd = os.dup(f.fileno())
    try:
        size = os.fstat(fd).st_size
        footer = None
        if size >= FOOTER_SIZE:
            tail = os.pread(fd, FOOTER_SIZE, size - FOOTER_SIZE)
            if tail[:4] == FOOTER_MAGIC:
                try:
                    footer = Footer.decode(tail)
                except StructError as exc:
                    raise InputError(str(exc), file=path) from None
        if footer is not None:
            if footer.vbmeta_size > MAX_VBMETA_SIZE:
                raise InputError(f"AVB footer gives a vbmeta of {footer.vbmeta_size} bytes, over libavb's "
                                 f"{MAX_VBMETA_SIZE}-byte limit", file=path)
            if (footer.vbmeta_offset + footer.vbmeta_size > size - FOOTER_SIZE
                    or footer.original_image_size > footer.vbmeta_offset):
                raise InputError("AVB footer points outside the image", file=path)
            offset, available = footer.vbmeta_offset, footer.vbmeta_size
        else:
            offset, available = 0, min(size, MAX_VBMETA_SIZE)
        blob = os.pread(fd, available, offset)
    finally:
        os.close(fd)
    try:
        header = VBMetaHeader.decode(blob)
    except StructError:
        what = "the vbmeta its AVB footer points to has no 'AVB0' header" if footer else \
            "neither a vbmeta image nor an image with an AVB footer"
        raise InputError(what, file=path) from None
    _check_header(header, len(blob), path)
    image = AvbImage(path, size, footer, offset, header, blob[:header.blob_size], ())
    return with_descriptors(image) if descriptors else image


def with_descriptors(image: AvbImage) -> AvbImage:
    start = VBMETA_HEADER_SIZE + image.header.authentication_data_block_size + image.header.descriptors_offset
    try:
        found = parse_descriptors(image.blob[start:start + image.header.descriptors_size])
    except StructError as exc:
        raise InputError(f"invalid descriptor: {exc}", file=image.path) from None
    return replace(image, descriptors=tuple(found))


def signature_problem(image: AvbImage) -> str | None:
    """None when the vbmeta is signed and its hash and signature hold for its embedded key;
    otherwise what is wrong, in the words libavb's result codes use."""
    algorithm = image.algorithm
    if not algorithm.type:
        return "not signed (algorithm NONE)"
    computed = hashlib.new(algorithm.hash_name, image.signed_data).digest()
    if computed != image.stored_hash:
        return f"{algorithm.hash_name} of the header and auxiliary block does not match the stored hash"
    try:
        bits = decode_public_key(image.public_key).key_size
    except ValueError as exc:
        return f"embedded public key is invalid: {exc}"
    if bits != algorithm.key_bits:
        return f"embedded public key is RSA-{bits}, but the algorithm is {algorithm.name}"
    if not verify_signature(image.public_key, algorithm, image.signature, image.signed_data):
        return f"{algorithm.name} signature does not verify with the embedded public key"
    return None


# ---- `romforge avb info` ------------------------------------------------------------


def image_info(image: AvbImage) -> dict:
    """Everything `info` shows, as JSON-ready data."""
    h = image.header
    data: dict = {"path": str(image.path), "file_size": image.file_size}
    if image.footer is not None:
        f = image.footer
        data["footer"] = {"version": f"{f.version_major}.{f.version_minor}",
                          "original_image_size": f.original_image_size, "vbmeta_offset": f.vbmeta_offset,
                          "vbmeta_size": f.vbmeta_size}
    data["vbmeta"] = {
        "minimum_libavb_version": f"{h.required_libavb_version_major}.{h.required_libavb_version_minor}",
        "header_block_size": VBMETA_HEADER_SIZE,
        "authentication_block_size": h.authentication_data_block_size,
        "auxiliary_block_size": h.auxiliary_data_block_size,
        "public_key_sha1": hashlib.sha1(image.public_key).hexdigest() if image.public_key else None,
        "algorithm": image.algorithm.name, "rollback_index": h.rollback_index, "flags": h.flags,
        "rollback_index_location": h.rollback_index_location, "release_string": h.release_string,
    }
    data["descriptors"] = [d.to_dict() for d in image.descriptors]
    return data


def _descriptor_lines(d: Descriptor) -> list[str]:
    if isinstance(d, PropertyDescriptor):
        shown = repr(d.value)[1:] if len(d.value) < 256 else f"({len(d.value)} bytes)"
        return [f"    Prop: {d.key} -> {shown}"]
    if isinstance(d, HashtreeDescriptor):
        rows = [("Version of dm-verity", d.dm_verity_version), ("Image Size", f"{d.image_size} bytes"),
                ("Tree Offset", d.tree_offset), ("Tree Size", f"{d.tree_size} bytes"),
                ("Data Block Size", f"{d.data_block_size} bytes"), ("Hash Block Size", f"{d.hash_block_size} bytes"),
                ("FEC num roots", d.fec_num_roots), ("FEC offset", d.fec_offset), ("FEC size", f"{d.fec_size} bytes"),
                ("Hash Algorithm", d.hash_algorithm), ("Partition Name", d.partition_name),
                ("Salt", d.salt.hex()), ("Root Digest", d.root_digest.hex()), ("Flags", d.flags)]
        return ["    Hashtree descriptor:"] + [f"      {k + ':':<23}{v}" for k, v in rows]
    if isinstance(d, HashDescriptor):
        rows = [("Image Size", f"{d.image_size} bytes"), ("Hash Algorithm", d.hash_algorithm),
                ("Partition Name", d.partition_name), ("Salt", d.salt.hex()), ("Digest", d.digest.hex()),
                ("Flags", d.flags)]
        return ["    Hash descriptor:"] + [f"      {k + ':':<23}{v}" for k, v in rows]
    if isinstance(d, KernelCmdlineDescriptor):
        return ["    Kernel Cmdline descriptor:", f"      {'Flags:':<23}{d.flags}",
                f"      {'Kernel Cmdline:':<23}'{d.kernel_cmdline}'"]
    if isinstance(d, ChainPartitionDescriptor):
        rows = [("Partition Name", d.partition_name), ("Rollback Index Location", d.rollback_index_location),
                ("Public key (sha1)", hashlib.sha1(d.public_key).hexdigest()), ("Flags", d.flags)]
        return ["    Chain Partition descriptor:"] + [f"      {k + ':':<25}{v}" for k, v in rows]
    return [f"    Unknown descriptor: tag {d.tag}, {len(d.raw)} bytes"]


def format_info(image: AvbImage) -> str:
    """The text `avbtool info_image` prints, line for line."""
    info = image_info(image)
    lines = []
    if image.footer is not None:
        f = info["footer"]
        lines += [f"{'Footer version:':<26}{f['version']}", f"{'Image size:':<26}{image.file_size} bytes",
                  f"{'Original image size:':<26}{f['original_image_size']} bytes",
                  f"{'VBMeta offset:':<26}{f['vbmeta_offset']}", f"{'VBMeta size:':<26}{f['vbmeta_size']} bytes",
                  "--"]
    v = info["vbmeta"]
    lines += [f"{'Minimum libavb version:':<26}{v['minimum_libavb_version']}",
              f"{'Header Block:':<26}{VBMETA_HEADER_SIZE} bytes",
              f"{'Authentication Block:':<26}{v['authentication_block_size']} bytes",
              f"{'Auxiliary Block:':<26}{v['auxiliary_block_size']} bytes"]
    if v["public_key_sha1"]:
        lines.append(f"{'Public key (sha1):':<26}{v['public_key_sha1']}")
    lines += [f"{'Algorithm:':<26}{v['algorithm']}", f"{'Rollback Index:':<26}{v['rollback_index']}",
              f"{'Flags:':<26}{v['flags']}", f"{'Rollback Index Location:':<26}{v['rollback_index_location']}",
              f"{'Release String:':<26}'{v['release_string']}'", "Descriptors:"]
    for d in image.descriptors:
        lines += _descriptor_lines(d)
    if not image.descriptors:
        lines.append("    (none)")
    return "\n".join(lines)

"""The fixed-size AVB 2.0 structures: the footer at the end of a partition and the vbmeta header.

Layouts follow libavb's avb_footer.h and avb_vbmeta_image.h; every integer is big-endian.
A vbmeta image is three blocks, header (256 bytes) + authentication (hash, signature) +
auxiliary (descriptors, public key, public key metadata); both variable blocks are padded to
multiples of 64. Parsing here only checks shape; what the fields mean is checked by the reader.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, fields

FOOTER_MAGIC = b"AVBf"
FOOTER_SIZE = 64
FOOTER_VERSION = (1, 0)
VBMETA_MAGIC = b"AVB0"
VBMETA_HEADER_SIZE = 256
RELEASE_STRING_SIZE = 48
# romforge writes what libavb 1.0 reads unless a feature needs more (see required_minor()).
LIBAVB_MAJOR = 1
LIBAVB_MINOR_KNOWN = 3  # the newest libavb minor whose features this reader understands
# The release string names the writer; a fixed text (no version number), so that a new
# romforge version does not change the bytes of an otherwise identical image.
RELEASE_STRING = "romforge avb 1.0"
# avbtool's conservative room for metadata, used for partition size checks (as AOSP does).
MAX_VBMETA_SIZE = 64 * 1024
MAX_FOOTER_SIZE = 4096

VBMETA_FLAG_HASHTREE_DISABLED = 1 << 0
VBMETA_FLAG_VERIFICATION_DISABLED = 1 << 1

_FOOTER = struct.Struct(">4sIIQQQ28x")
_HEADER = struct.Struct(">4sIIQQI" + "QQ" * 5 + "QII47sx80x")
assert _FOOTER.size == FOOTER_SIZE and _HEADER.size == VBMETA_HEADER_SIZE


def round_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple


class StructError(ValueError):
    """Bytes that are not the structure asked for; the reader turns it into an InputError."""


@dataclass(frozen=True)
class Footer:
    """AvbFooter: where the vbmeta blob of a partition image lives and how large the image was."""

    original_image_size: int
    vbmeta_offset: int
    vbmeta_size: int
    version_major: int = FOOTER_VERSION[0]
    version_minor: int = FOOTER_VERSION[1]

    def encode(self) -> bytes:
        return _FOOTER.pack(FOOTER_MAGIC, self.version_major, self.version_minor,
                            self.original_image_size, self.vbmeta_offset, self.vbmeta_size)

    @classmethod
    def decode(cls, data: bytes) -> "Footer":
        if len(data) != FOOTER_SIZE or data[:4] != FOOTER_MAGIC:
            raise StructError("no AVB footer (the last 64 bytes do not start with 'AVBf')")
        _, major, minor, original, offset, size = _FOOTER.unpack(data)
        if major != FOOTER_VERSION[0]:
            raise StructError(f"AVB footer version {major}.{minor}; only {FOOTER_VERSION[0]}.x is defined")
        return cls(original, offset, size, major, minor)


@dataclass(frozen=True)
class VBMetaHeader:
    """AvbVBMetaImageHeader. Offsets of hash/signature are into the authentication block,
    offsets of public key/metadata/descriptors into the auxiliary block."""

    required_libavb_version_major: int
    required_libavb_version_minor: int
    authentication_data_block_size: int
    auxiliary_data_block_size: int
    algorithm_type: int
    hash_offset: int
    hash_size: int
    signature_offset: int
    signature_size: int
    public_key_offset: int
    public_key_size: int
    public_key_metadata_offset: int
    public_key_metadata_size: int
    descriptors_offset: int
    descriptors_size: int
    rollback_index: int
    flags: int
    rollback_index_location: int
    release_string: str = RELEASE_STRING

    @property
    def blob_size(self) -> int:
        """Header + authentication + auxiliary block: the whole vbmeta blob."""
        return VBMETA_HEADER_SIZE + self.authentication_data_block_size + self.auxiliary_data_block_size

    def encode(self) -> bytes:
        release = self.release_string.encode("utf-8")
        if len(release) > RELEASE_STRING_SIZE - 1:
            raise StructError(f"release string longer than {RELEASE_STRING_SIZE - 1} bytes")
        values = [getattr(self, f.name) for f in fields(self)][:-1]
        return _HEADER.pack(VBMETA_MAGIC, *values, release)

    @classmethod
    def decode(cls, data: bytes) -> "VBMetaHeader":
        if len(data) < VBMETA_HEADER_SIZE or data[:4] != VBMETA_MAGIC:
            raise StructError("not a vbmeta image (no 'AVB0' header)")
        magic, *values, release = _HEADER.unpack(data[:VBMETA_HEADER_SIZE])
        text = release.split(b"\0", 1)[0].decode("utf-8", errors="replace")
        return cls(*values, release_string=text)

    def to_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}

"""A second, independent reading of AVB 2.0, for the tests.

Shares no code with romforge.avb: offsets are written down from the comments in libavb's
avb_footer.h / avb_vbmeta_image.h / avb_*_descriptor.h (byte positions, big-endian) and read
with int.from_bytes; the dm-verity tree is computed level by level from the raw blocks, the
simplest way the definition allows; RSA work is left to the `openssl` command line.
"""

from __future__ import annotations

import hashlib
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa


def be(data: bytes, start: int, size: int) -> int:
    return int.from_bytes(data[start:start + size], "big")


@dataclass
class Parsed:
    file_size: int
    footer: dict | None
    header: dict
    blob: bytes
    descriptors: list[dict] = field(default_factory=list)

    def aux(self, offset_key: str, size_key: str) -> bytes:
        start = 256 + self.header["auth_size"] + self.header[offset_key]
        return self.blob[start:start + self.header[size_key]]

    @property
    def public_key(self) -> bytes:
        return self.aux("public_key_offset", "public_key_size")

    @property
    def signature(self) -> bytes:
        start = 256 + self.header["signature_offset"]
        return self.blob[start:start + self.header["signature_size"]]

    @property
    def stored_hash(self) -> bytes:
        start = 256 + self.header["hash_offset"]
        return self.blob[start:start + self.header["hash_size"]]

    @property
    def signed_data(self) -> bytes:
        return self.blob[:256] + self.blob[256 + self.header["auth_size"]:]


def parse(path: Path) -> Parsed:
    data = Path(path).read_bytes()
    footer = None
    start = 0
    if data[-64:-60] == b"AVBf":
        tail = data[-64:]
        footer = {"major": be(tail, 4, 4), "minor": be(tail, 8, 4), "original_image_size": be(tail, 12, 8),
                  "vbmeta_offset": be(tail, 20, 8), "vbmeta_size": be(tail, 28, 8), "reserved": tail[36:]}
        start = footer["vbmeta_offset"]
    h = data[start:start + 256]
    assert h[:4] == b"AVB0", "no vbmeta header"
    header = {"major": be(h, 4, 4), "minor": be(h, 8, 4), "auth_size": be(h, 12, 8), "aux_size": be(h, 20, 8),
              "algorithm": be(h, 28, 4), "hash_offset": be(h, 32, 8), "hash_size": be(h, 40, 8),
              "signature_offset": be(h, 48, 8), "signature_size": be(h, 56, 8),
              "public_key_offset": be(h, 64, 8), "public_key_size": be(h, 72, 8),
              "metadata_offset": be(h, 80, 8), "metadata_size": be(h, 88, 8),
              "descriptors_offset": be(h, 96, 8), "descriptors_size": be(h, 104, 8),
              "rollback_index": be(h, 112, 8), "flags": be(h, 120, 4), "rollback_index_location": be(h, 124, 4),
              "release": h[128:176].split(b"\0")[0].decode(), "reserved": h[176:256]}
    blob = data[start:start + 256 + header["auth_size"] + header["aux_size"]]
    parsed = Parsed(len(data), footer, header, blob)
    area = parsed.aux("descriptors_offset", "descriptors_size")
    pos = 0
    while pos < len(area):
        tag, following = be(area, pos, 8), be(area, pos + 8, 8)
        d = area[pos:pos + 16 + following]
        parsed.descriptors.append(_descriptor(tag, d))
        pos += 16 + following
    return parsed


def _descriptor(tag: int, d: bytes) -> dict:
    out: dict = {"tag": tag, "size": len(d)}
    if tag == 0:
        klen, vlen = be(d, 16, 8), be(d, 24, 8)
        out.update(key=d[32:32 + klen].decode(), value=d[33 + klen:33 + klen + vlen])
    elif tag == 1:
        nlen, slen, rlen = be(d, 104, 4), be(d, 108, 4), be(d, 112, 4)
        out.update(version=be(d, 16, 4), image_size=be(d, 20, 8), tree_offset=be(d, 28, 8), tree_size=be(d, 36, 8),
                   data_block_size=be(d, 44, 4), hash_block_size=be(d, 48, 4), fec_num_roots=be(d, 52, 4),
                   algorithm=d[72:104].rstrip(b"\0").decode(), flags=be(d, 116, 4),
                   name=d[180:180 + nlen].decode(), salt=d[180 + nlen:180 + nlen + slen],
                   root=d[180 + nlen + slen:180 + nlen + slen + rlen])
    elif tag == 2:
        nlen, slen, dlen = be(d, 56, 4), be(d, 60, 4), be(d, 64, 4)
        out.update(image_size=be(d, 16, 8), algorithm=d[24:56].rstrip(b"\0").decode(), flags=be(d, 68, 4),
                   name=d[132:132 + nlen].decode(), salt=d[132 + nlen:132 + nlen + slen],
                   digest=d[132 + nlen + slen:132 + nlen + slen + dlen])
    elif tag == 4:
        nlen, klen = be(d, 20, 4), be(d, 24, 4)
        out.update(location=be(d, 16, 4), flags=be(d, 28, 4), name=d[92:92 + nlen].decode(),
                   key=d[92 + nlen:92 + nlen + klen])
    return out


def dm_verity(data: bytes, salt: bytes, algorithm: str = "sha256", block: int = 4096) -> tuple[bytes, bytes]:
    """(root digest, tree as stored: top level first) from the raw blocks, one level at a time."""
    size = hashlib.new(algorithm).digest_size
    slot = 1
    while slot < size:
        slot *= 2
    if len(data) % block:
        data += bytes(block - len(data) % block)
    levels = []
    current = data
    while len(current) > block:
        digests = b"".join(hashlib.new(algorithm, salt + current[i:i + block]).digest() + bytes(slot - size)
                           for i in range(0, len(current), block))
        if len(digests) % block:
            digests += bytes(block - len(digests) % block)
        levels.append(digests)
        current = digests
    return hashlib.new(algorithm, salt + current).digest(), b"".join(reversed(levels))


def avb_public_key_parts(blob: bytes) -> tuple[int, int, int, int]:
    """(bits, n0inv, n, rr) of an AvbRSAPublicKeyHeader + n + rr blob."""
    bits = be(blob, 0, 4)
    n0inv = be(blob, 4, 4)
    n = be(blob, 8, bits // 8)
    rr = be(blob, 8 + bits // 8, bits // 8)
    return bits, n0inv, n, rr


def openssl_modulus(pem: Path) -> int:
    out = subprocess.run(["openssl", "rsa", "-in", str(pem), "-modulus", "-noout"], capture_output=True,
                         text=True, check=True).stdout
    return int(out.strip().split("=", 1)[1], 16)


def openssl_verify(parsed: Parsed, work: Path, digest: str = "sha256") -> str:
    """`openssl dgst -verify` of the vbmeta's signature over header + auxiliary block, with the
    public key rebuilt from the modulus in the embedded AVB public key."""
    _, _, n, _ = avb_public_key_parts(parsed.public_key)
    pem = rsa.RSAPublicNumbers(65537, n).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    (work / "pub.pem").write_bytes(pem)
    (work / "signed.bin").write_bytes(parsed.signed_data)
    (work / "sig.bin").write_bytes(parsed.signature)
    proc = subprocess.run(["openssl", "dgst", f"-{digest}", "-verify", str(work / "pub.pem"), "-signature",
                           str(work / "sig.bin"), str(work / "signed.bin")], capture_output=True, text=True)
    return proc.stdout.strip() + proc.stderr.strip()

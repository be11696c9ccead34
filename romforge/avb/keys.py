"""AVB signing keys, algorithms and the public key format libavb reads (avb_crypto.h, avb_rsa.c).

Signatures are RSA PKCS#1 v1.5 over SHA-256 or SHA-512 of header + auxiliary block, made
with the `cryptography` package (the padding libavb checks is exactly PKCS#1 v1.5 with the
DigestInfo prefix, and it is deterministic, so the same key and data give the same bytes).

The public key in a vbmeta (and in chain partition descriptors, and in .avbpubkey files) is
AvbRSAPublicKeyHeader: key_num_bits (u32), n0inv (u32) = -1/n mod 2^32, then n and
rr = (2^key_num_bits)^2 mod n, each key_num_bits/8 bytes big-endian. libavb uses n0inv and
rr as given (Montgomery arithmetic), so a reader must check they belong to n.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from romforge.avb.files import write_atomically
from romforge.errors import ConfigError, InputError, shown_path
from romforge.safeio import read_regular_file

SIGNING_BITS = (2048, 4096)
RSA_EXPONENT = 65537
TEST_KEY = Path(__file__).resolve().parent.parent / "data" / "testkeys" / "avb_TEST_NEVER_SHIP_rsa4096.pem"
MAX_KEY_FILE = 1 << 20


@dataclass(frozen=True)
class Algorithm:
    """One row of AvbAlgorithmType: which hash, and which RSA size signs it."""

    name: str
    type: int
    hash_name: str
    hash_size: int
    key_bits: int

    @property
    def signature_size(self) -> int:
        return self.key_bits // 8

    @property
    def public_key_size(self) -> int:
        return 8 + 2 * self.key_bits // 8 if self.key_bits else 0


ALGORITHMS = {a.name: a for a in (
    Algorithm("NONE", 0, "", 0, 0),
    Algorithm("SHA256_RSA2048", 1, "sha256", 32, 2048),
    Algorithm("SHA256_RSA4096", 2, "sha256", 32, 4096),
    Algorithm("SHA256_RSA8192", 3, "sha256", 32, 8192),
    Algorithm("SHA512_RSA2048", 4, "sha512", 64, 2048),
    Algorithm("SHA512_RSA4096", 5, "sha512", 64, 4096),
    Algorithm("SHA512_RSA8192", 6, "sha512", 64, 8192),
)}
ALGORITHM_BY_TYPE = {a.type: a for a in ALGORITHMS.values()}
NONE = ALGORITHMS["NONE"]


def algorithm_named(name: str) -> Algorithm:
    found = ALGORITHMS.get(name.upper())
    if found is None:
        raise ConfigError(f"unknown AVB algorithm {name!r}; use one of {', '.join(ALGORITHMS)}")
    return found


def _hash(algorithm: Algorithm) -> hashes.HashAlgorithm:
    return hashes.SHA256() if algorithm.hash_name == "sha256" else hashes.SHA512()


# ---- the AVB public key format --------------------------------------------------------


def encode_public_key(public: rsa.RSAPublicKey) -> bytes:
    """AvbRSAPublicKeyHeader + n + rr: the bytes chain descriptors and `--key` comparisons use."""
    numbers = public.public_numbers()
    if numbers.e != RSA_EXPONENT:
        raise ValueError(f"AVB keys use the public exponent {RSA_EXPONENT}, not {numbers.e}")
    n, bits = numbers.n, public.key_size
    n0inv = (1 << 32) - pow(n, -1, 1 << 32)
    rr = pow(1 << bits, 2, n)
    return struct.pack(">II", bits, n0inv) + n.to_bytes(bits // 8, "big") + rr.to_bytes(bits // 8, "big")


def decode_public_key(blob: bytes) -> rsa.RSAPublicKey:
    """The RSA key in an AVB public key blob; ValueError unless n0inv and rr are the ones for n."""
    if len(blob) < 8:
        raise ValueError("AVB public key shorter than its 8-byte header")
    bits, n0inv = struct.unpack_from(">II", blob)
    if bits not in (2048, 4096, 8192) or len(blob) != 8 + 2 * bits // 8:
        raise ValueError(f"AVB public key of {len(blob)} bytes does not hold a {bits}-bit key")
    n = int.from_bytes(blob[8:8 + bits // 8], "big")
    rr = int.from_bytes(blob[8 + bits // 8:], "big")
    if n.bit_length() != bits or n % 2 == 0:
        raise ValueError(f"AVB public key modulus is not a {bits}-bit odd number")
    if n0inv != (1 << 32) - pow(n, -1, 1 << 32) or rr != pow(1 << bits, 2, n):
        raise ValueError("AVB public key has n0inv/rr values that do not belong to its modulus")
    return rsa.RSAPublicNumbers(RSA_EXPONENT, n).public_key()


# ---- signing keys ------------------------------------------------------------------------


@dataclass(frozen=True)
class AvbKey:
    """A PEM RSA private key that signs vbmeta blobs; `path` is kept for messages and logs."""

    path: Path
    private: rsa.RSAPrivateKey

    @property
    def bits(self) -> int:
        return self.private.key_size

    @property
    def public_key_blob(self) -> bytes:
        return encode_public_key(self.private.public_key())

    @property
    def is_test_key(self) -> bool:
        return self.path.resolve() == TEST_KEY

    def default_algorithm(self) -> Algorithm:
        return ALGORITHMS[f"SHA256_RSA{self.bits}"]

    def check_algorithm(self, algorithm: Algorithm) -> None:
        if algorithm.key_bits != self.bits:
            raise ConfigError(f"AVB algorithm {algorithm.name} needs an RSA-{algorithm.key_bits} key; this key "
                              f"is RSA-{self.bits}", file=self.path,
                              hint=f"use {self.default_algorithm().name} or SHA512_RSA{self.bits}")

    def sign(self, algorithm: Algorithm, data: bytes) -> bytes:
        self.check_algorithm(algorithm)
        return self.private.sign(data, padding.PKCS1v15(), _hash(algorithm))


def load_avb_key(path: Path, *, origin: str | None = None, validate: bool = True) -> AvbKey:
    """A PEM private key (PKCS#1 or PKCS#8, unencrypted) that is RSA-2048 or RSA-4096 with e=65537.

    `validate` has OpenSSL check the key's consistency (about a second for RSA-4096); only the
    bundled key, checked by a test, skips it."""
    path = Path(path)
    where = f" (from {origin})" if origin else ""
    hint = ("make one with `openssl genrsa -out avb.pem 4096`, or leave [signing] avb_key unset to use "
            "the bundled TEST key")
    if not path.is_file():
        raise ConfigError(f"AVB signing key not found{where}", file=path, hint=hint)
    data = read_regular_file(path, shown=shown_path(path), max_bytes=MAX_KEY_FILE, error=ConfigError,
                             follow_symlinks=True)
    try:
        private = serialization.load_pem_private_key(data, password=None,
                                                     unsafe_skip_rsa_key_validation=not validate)
    except TypeError:
        raise ConfigError(f"AVB signing key{where} is encrypted; give an unencrypted PEM key", file=path) from None
    except (ValueError, UnsupportedAlgorithm):
        raise ConfigError(f"AVB signing key{where} is not a PEM private key", file=path, hint=hint) from None
    if not isinstance(private, rsa.RSAPrivateKey):
        raise ConfigError(f"AVB signing key{where} is not an RSA key ({type(private).__name__.lstrip('_')}); "
                          "AVB signs with RSA-2048 or RSA-4096", file=path, hint=hint)
    if private.key_size not in SIGNING_BITS:
        raise ConfigError(f"AVB signing key{where} is RSA-{private.key_size}; AVB signs with RSA-2048 or "
                          "RSA-4096", file=path, hint=hint)
    if private.public_key().public_numbers().e != RSA_EXPONENT:
        raise ConfigError(f"AVB signing key{where} has public exponent "
                          f"{private.public_key().public_numbers().e}; libavb only verifies e=65537", file=path)
    return AvbKey(path, private)


def bundled_test_key() -> AvbKey:
    """The bundled RSA-4096 TEST key: anyone can sign with it; never ship a build signed by it."""
    return load_avb_key(TEST_KEY, validate=False)


def load_public_key_blob(path: Path) -> bytes:
    """The AVB public key a file holds: an .avbpubkey blob, a PEM/DER public key or certificate, or a
    PEM private key (its public half)."""
    path = Path(path)
    data = read_regular_file(path, shown=shown_path(path), max_bytes=MAX_KEY_FILE, follow_symlinks=True)
    if len(data) >= 8 and struct.unpack_from(">I", data)[0] in (2048, 4096, 8192):
        try:
            decode_public_key(data)
            return data
        except ValueError as exc:
            raise InputError(f"not a valid AVB public key: {exc}", file=path) from None
    loaders = (
        lambda d: serialization.load_pem_public_key(d),
        lambda d: serialization.load_der_public_key(d),
        lambda d: x509.load_pem_x509_certificate(d).public_key(),
        lambda d: x509.load_der_x509_certificate(d).public_key(),
        # only the public half is used, so OpenSSL's (slow) check of the private half is skipped
        lambda d: serialization.load_pem_private_key(d, password=None,
                                                     unsafe_skip_rsa_key_validation=True).public_key(),
    )
    for load in loaders:
        try:
            key = load(data)
        except (ValueError, TypeError, UnsupportedAlgorithm):
            continue
        if not isinstance(key, rsa.RSAPublicKey):
            raise InputError("not an RSA key; AVB keys are RSA", file=path)
        try:
            return encode_public_key(key)
        except ValueError as exc:
            raise InputError(str(exc), file=path) from None
    raise InputError("not an AVB public key, a PEM/DER public key or certificate, or a PEM private key", file=path)


def verify_signature(public_key_blob: bytes, algorithm: Algorithm, signature: bytes, data: bytes) -> bool:
    """True when `signature` over `data` was made by the key in the AVB public key blob."""
    try:
        public = decode_public_key(public_key_blob)
    except ValueError:
        return False
    if public.key_size != algorithm.key_bits or len(signature) != algorithm.signature_size:
        return False
    try:
        public.verify(signature, data, padding.PKCS1v15(), _hash(algorithm))
        return True
    except InvalidSignature:
        return False


def extract_public_key(key: Path, output: Path) -> Path:
    """`avbtool extract_public_key`: the AVB public key blob of a key file, written to `output`."""
    return write_atomically(output, load_public_key_blob(key))

"""OTA signing keys in AOSP's layout: NAME.pk8 (PKCS#8 DER private key) + NAME.x509.pem (certificate).

Payload and metadata signatures are RSA-2048 PKCS#1 v1.5 over a SHA-256 digest, which is
what update_engine and its checker (`openssl rsautl -verify`) accept.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from cryptography.x509.oid import NameOID

from romforge.outputs import make_parent
from romforge.errors import ConfigError, InputError, shown_path
from romforge.safeio import read_regular_file

RSA_BITS = 2048
MAX_KEY_FILE = 1 << 20  # a PEM certificate chain is a few KB
SIGNATURE_SIZE = RSA_BITS // 8
TEST_KEY_CN = "romforge TEST OTA key - never ship"


@dataclass(frozen=True)
class OtaKey:
    pk8: Path
    cert: Path
    private: rsa.RSAPrivateKey

    @property
    def public(self) -> rsa.RSAPublicKey:
        return self.private.public_key()

    def sign_digest(self, digest: bytes) -> bytes:
        return self.private.sign(digest, padding.PKCS1v15(), Prehashed(hashes.SHA256()))


def key_files(base: Path) -> tuple[Path, Path]:
    """releasekey → (releasekey.pk8, releasekey.x509.pem); a path ending in .pk8 names the pair too."""
    base = Path(base)
    if base.name.endswith(".pk8"):
        base = base.with_name(base.name[:-4])
    return base.with_name(base.name + ".pk8"), base.with_name(base.name + ".x509.pem")


def load_signing_key(base: Path, *, origin: str | None = None) -> OtaKey:
    pk8, cert = key_files(base)
    hint = (f"create a TEST key with `romforge ota keygen {base}` (or `make demo`), or point "
            "[ota] signing_key / [signing] ota_key at your release key")
    if not pk8.is_file():
        raise ConfigError(f"OTA signing key not found{f' (from {origin})' if origin else ''}", file=pk8, hint=hint)
    if not cert.is_file():
        raise ConfigError("the certificate for the OTA signing key is missing", file=cert, hint=hint)
    try:
        private = serialization.load_der_private_key(
            read_regular_file(pk8, shown=shown_path(pk8), max_bytes=MAX_KEY_FILE, error=ConfigError, follow_symlinks=True),
            password=None)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"not an unencrypted PKCS#8 DER private key ({exc})", file=pk8) from None
    if not isinstance(private, rsa.RSAPrivateKey) or private.key_size != RSA_BITS:
        raise ConfigError(f"OTA keys must be RSA-{RSA_BITS} (update_engine verifies 256-byte signatures)", file=pk8)
    if load_public_key(cert).public_numbers() != private.public_key().public_numbers():
        raise ConfigError("certificate does not belong to the private key next to it", file=cert)
    return OtaKey(pk8, cert, private)


def load_public_key(path: Path) -> rsa.RSAPublicKey:
    """An X.509 certificate (PEM or DER) or a PEM public key."""
    try:
        data = read_regular_file(Path(path), shown=shown_path(path), max_bytes=MAX_KEY_FILE, follow_symlinks=True)
    except InputError as exc:
        raise InputError(f"cannot read the key: {exc.message}", file=exc.file) from None
    loaders = (
        lambda d: x509.load_pem_x509_certificate(d).public_key(),
        lambda d: x509.load_der_x509_certificate(d).public_key(),
        lambda d: serialization.load_pem_public_key(d),
        lambda d: serialization.load_der_public_key(d),
    )
    for load in loaders:
        try:
            key = load(data)
        except (ValueError, TypeError):
            continue
        if isinstance(key, rsa.RSAPublicKey):
            return key
        raise InputError("not an RSA key", file=path)
    raise InputError("not an X.509 certificate or a PEM/DER public key", file=path)


def verify_digest(public: rsa.RSAPublicKey, signature: bytes, digest: bytes) -> bool:
    try:
        public.verify(signature, digest, padding.PKCS1v15(), Prehashed(hashes.SHA256()))
        return True
    except InvalidSignature:
        return False


def generate_test_key(base: Path) -> tuple[Path, Path]:
    """A new RSA-2048 key and self-signed certificate, named as a TEST key in its subject."""
    pk8, cert_path = key_files(base)
    for existing in (pk8, cert_path):
        if existing.exists():
            raise InputError("already exists; keys are never overwritten", file=existing)
    private = rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, TEST_KEY_CN),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "romforge")])
    start = dt.datetime(2009, 1, 1, tzinfo=dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(private.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(start)
            .not_valid_after(start + dt.timedelta(days=365 * 40))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(private, hashes.SHA256()))
    make_parent(pk8, what="key")
    pk8.write_bytes(private.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    pk8.chmod(0o600)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return pk8, cert_path

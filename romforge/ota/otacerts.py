"""otacerts.zip: the certificates a device accepts OTA packages from.

update_engine, recovery and the Updater app open /system/etc/security/otacerts.zip (recovery:
its own copy in the ramdisk, vendor: /vendor/etc/security/otacerts.zip) and take every
`*.x509.pem` member as a trusted signer (AOSP's `BuildOtacertsZip` / `LoadCertificates`). A
release writes one holding the certificate that signs its OTAs; rotating the key is a release
whose otacerts.zip holds the new certificate, signed with the old key.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from cryptography import x509

from romforge.errors import ConfigError, InputError
from romforge.tree import ZIP_DATE, RomTree

OTACERTS = "etc/security/otacerts.zip"  # in the system and vendor partitions
RECOVERY_OTACERTS = "RECOVERY/RAMDISK/system/etc/security/otacerts.zip"  # target-files path
MAX_MEMBERS = 64
MAX_CERT_SIZE = 64 << 10


def otacerts_zip(certificates: list[tuple[str, bytes]]) -> bytes:
    """A deterministic otacerts.zip: (member name, PEM bytes) in the order given, fixed dates."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, pem in certificates:
            info = zipfile.ZipInfo(name, ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, pem)
    return buf.getvalue()


def otacerts_for(cert_path: Path) -> bytes:
    """The otacerts.zip that trusts exactly the certificate at `cert_path` (PEM, as signapk uses)."""
    pem = Path(cert_path).read_bytes()
    read_certificate(pem, source=str(cert_path))
    name = Path(cert_path).name
    if not name.endswith(".x509.pem"):
        name = f"{Path(cert_path).stem}.x509.pem"
    return otacerts_zip([(name, pem)])


def read_certificate(pem: bytes, *, source: str) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(pem)
    except ValueError as exc:
        raise InputError(f"not a PEM X.509 certificate ({exc})", file=source) from None


def read_otacerts(data: bytes, *, source: str) -> list[x509.Certificate]:
    """Every `*.x509.pem` certificate an otacerts.zip holds, as the device loads them."""
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
    except zipfile.BadZipFile as exc:
        raise InputError(f"otacerts.zip is not a zip ({exc})", file=source) from None
    if len(infos) > MAX_MEMBERS:
        raise InputError(f"otacerts.zip holds {len(infos)} members, over {MAX_MEMBERS}", file=source)
    certs = []
    for info in infos:
        if not info.filename.endswith(".x509.pem"):
            continue
        if info.file_size > MAX_CERT_SIZE:
            raise InputError(f"{info.filename} is {info.file_size} bytes, too large for a certificate", file=source)
        with zf.open(info) as f:
            certs.append(read_certificate(f.read(MAX_CERT_SIZE + 1), source=f"{source}!{info.filename}"))
    return certs


def trusted_certificate(ota_key_cert: Path | None, next_key: Path | None) -> Path | None:
    """The certificate a release trusts: the next key's while rotating (`[signing] ota_next_key`),
    else the one that signs its OTAs; None for devices without payload OTAs."""
    if ota_key_cert is None:
        return None
    if next_key is None:
        return Path(ota_key_cert)
    cert = next_key.with_name(next_key.name + ".x509.pem") if not next_key.name.endswith(".x509.pem") else next_key
    if not cert.is_file():
        raise ConfigError("the certificate of [signing] ota_next_key is missing", file=cert,
                          hint="ota_next_key names KEY for KEY.x509.pem (KEY.pk8 is needed only once it signs)")
    read_certificate(cert.read_bytes(), source=str(cert))
    return cert


def write_otacerts(tree: RomTree, cert: Path) -> list[str]:
    """Make the staged tree trust exactly `cert`: /system/etc/security/otacerts.zip always, and the
    vendor and recovery copies where the base has them. Returns the device paths written."""
    data = otacerts_for(cert)
    written = []
    for partition in ("system", "vendor"):
        if partition == "system" or tree.get(partition, OTACERTS) is not None:
            tree.write_file(partition, OTACERTS, data)
            written.append(f"/{partition}/{OTACERTS}")
    if tree.extras.get(RECOVERY_OTACERTS) == "file":
        tree.write_extra(RECOVERY_OTACERTS, data)
        written.append(RECOVERY_OTACERTS)
    return written

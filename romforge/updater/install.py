"""A downloaded package on a phone: would the app's installer and update_engine take it?

What LineageOS's Updater does after a download, in order:
- RecoverySystem.verifyPackage(file, null, null): the zip's whole-file signature must verify
  with a certificate of the phone's /system/etc/security/otacerts.zip;
- ABUpdateInstaller: the zip must hold payload.bin and payload_properties.txt; the offset it
  hands update_engine is Utils.getZipEntryOffset's sum over the central directory (30 + name
  length + extra length per entry, plus the compressed sizes before it), which is only right
  when every local header has the same name and extra as its central entry;
- update_engine: payload_properties.txt hashes, the manifest, max_timestamp not before the
  running build's ro.build.date.utc, the payload signature with
  /system/etc/update_engine/update-payload-key.pub.pem when the build carries one, and for an
  incremental every source partition equal to the phone's image.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from romforge.errors import RomforgeError
from romforge.ota.apply import verify_ota
from romforge.ota.package import PAYLOAD, PROPERTIES, entry_spans, open_ota_package, verify_whole_file
from romforge.ota.payload import parse_payload
from romforge.updater.app import BUILD_DATE
from romforge.updater.phone import Phone

LOCAL_HEADER_SIZE = 30


@dataclass
class InstallCheck:
    refused: list[str] = field(default_factory=list)  # why the phone would not install it
    trust: str = "verified"  # verified | refused | no-otacerts (the build trusts no OTA key at all)
    kind: str = ""  # full | incremental
    app_offset: int | None = None


def app_payload_offset(path: Path) -> int | None:
    """Utils.getZipEntryOffset(zip, "payload.bin"), from the central directory as java.util.zip
    reads it; None when the entry is missing."""
    offset = 0
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            name_units = len(info.filename.encode("utf-16-le")) // 2  # String.length()
            offset += LOCAL_HEADER_SIZE + name_units + len(info.extra)
            if info.filename == PAYLOAD:
                return offset
            offset += info.compress_size
    return None


def _public_keys(certificates: list[bytes]) -> list:
    keys = []
    for data in certificates:
        for load in (x509.load_pem_x509_certificate, x509.load_der_x509_certificate):
            try:
                keys.append(load(data).public_key())
                break
            except ValueError:
                continue
    return keys


def _trust(path: Path, phone: Phone, check: InstallCheck) -> None:
    if phone.otacerts is None:
        check.trust = "no-otacerts"
        return
    keys = _public_keys(phone.otacerts)
    reasons = [verify_whole_file(path, key) for key in keys]
    if not keys or all(reasons):
        check.trust = "refused"
        check.refused.append("RecoverySystem.verifyPackage fails: no certificate in the phone's otacerts.zip "
                             f"verifies the package ({reasons[0] if reasons else 'otacerts.zip holds none'})")


def _payload_key(phone: Phone):
    if phone.payload_key is None:
        return None
    try:
        return serialization.load_pem_public_key(phone.payload_key)
    except ValueError:
        return None


def check_install(path: Path, phone: Phone) -> InstallCheck:
    """Everything between the download and the reboot into the new slot, short of writing it."""
    check = InstallCheck()
    try:
        _trust(path, phone, check)
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
        if PAYLOAD not in names or PROPERTIES not in names:
            check.refused.append("not an A/B package: ABUpdateInstaller needs payload.bin and payload_properties.txt")
            return check
        check.app_offset = app_payload_offset(path)
        real = entry_spans(path)[PAYLOAD][0]
        if check.app_offset != real:
            check.refused.append(f"the app would hand update_engine offset {check.app_offset}, but payload.bin "
                                 f"starts at {real} (local and central zip headers differ)")
        report = verify_ota(path, _payload_key(phone))
        check.kind = report.kind
        pkg = open_ota_package(path)
        offset, size = pkg.payload_span
        with open(path, "rb") as f:
            manifest = parse_payload(f, base=offset, size=size, source=f"{path}:{PAYLOAD}").manifest
        running = phone.props.get_long(BUILD_DATE, 0)
        if manifest.HasField("max_timestamp") and manifest.max_timestamp < running:
            check.refused.append(f"update_engine refuses a downgrade: max_timestamp {manifest.max_timestamp} is "
                                 f"before this build's {BUILD_DATE} {running}")
        for part in report.partitions:
            if "old_sha256" not in part:
                continue
            have = phone.images.get(part["name"])
            if have != part["old_sha256"]:
                check.refused.append(f"update_engine's source check fails: the package updates {part['name']} "
                                     f"from {part['old_sha256'][:12]}…, this phone's {part['name']} is "
                                     f"{(have or 'missing')[:12]}…")
                break
    except (RomforgeError, zipfile.BadZipFile, OSError) as exc:
        check.refused.append(f"update_engine refuses it: {exc}")
    return check

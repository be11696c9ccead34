"""`romforge release verify DIR`: the check a ROM engineer runs before publishing a release.

For each release (DIR is one release, or a device folder of them):

- AVB: images/vbmeta.img is signed by the key build-info.json recorded (or the one given),
  and every descriptor and chain holds against the images beside it (romforge.avb.verify:
  hashes, hash trees recomputed, chained signatures); every image of the release is reached
  from vbmeta; the bundled TEST key is a warning.
- OTA packages: payload and whole-file signatures verify with a certificate of the build's
  own system/etc/security/otacerts.zip, and an incremental's also with one its source
  release trusts (what the phone running it checks); every partition of the target-files'
  META/ab_partitions.txt is in the payload.
- Rollback: no rollback index of vbmeta or a chained vbmeta is lower than an earlier
  release's of the same device at the same location.

Every problem is one Finding (one line); errors make CheckFailed (exit 3).
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from romforge.avb.descriptors import ChainPartitionDescriptor, HashDescriptor, HashtreeDescriptor
from romforge.avb.image import read_avb_image
from romforge.avb.build import has_footer, rollback_floor
from romforge.avb.keys import TEST_KEY, bundled_test_key
from romforge.avb.miscinfo import AVB_PARTITIONS, VBMETA_PARTITIONS
from romforge.avb.verify import verify_vbmeta
from romforge.build.record import BUILD_INFO, BuildInfo, read_build_info
from romforge.errors import CheckFailed, Finding, InputError, RomforgeError, shown_path
from romforge.release.store import PARTIAL_MARK
from romforge.tree import RomTree

OTACERTS = "etc/security/otacerts.zip"
IMAGES = "images"
MAX_CERTS, MAX_CERT_BYTES = 16, 64 << 10


@dataclass
class ReleaseReport:
    release: Path
    checked: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    def add(self, file: Path | str, rule: str, message: str, severity: str = "error") -> None:
        self.findings.append(Finding(shown_path(file), None, rule, severity, message))

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    def to_dict(self) -> dict:
        return {"release": shown_path(self.release), "ok": not self.errors, "checked": list(self.checked),
                "findings": [f.__dict__ for f in self.findings]}


def read_otacerts(data: bytes, where: str) -> list[x509.Certificate]:
    """The certificates of an otacerts.zip (each entry a PEM or DER X.509 certificate), read with bounds."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            infos = zf.infolist()
            if len(infos) > MAX_CERTS:
                raise InputError(f"holds {len(infos)} entries; otacerts.zip holds a few certificates", file=where)
            certs = []
            for info in infos:
                if info.is_dir():
                    continue
                if info.file_size > MAX_CERT_BYTES:
                    raise InputError(f"entry {info.filename!r} is {info.file_size} bytes, not a certificate", file=where)
                raw = zf.read(info)
                try:
                    certs.append(x509.load_pem_x509_certificate(raw) if b"-----BEGIN" in raw
                                 else x509.load_der_x509_certificate(raw))
                except ValueError:
                    raise InputError(f"entry {info.filename!r} is not an X.509 certificate", file=where) from None
    except (zipfile.BadZipFile, EOFError, NotImplementedError) as exc:
        raise InputError(f"not a readable zip ({exc})", file=where) from None
    return certs


def _sha256(cert: x509.Certificate) -> str:
    return hashlib.sha256(cert.public_bytes(Encoding.DER)).hexdigest()


@dataclass
class _Release:
    path: Path
    info: BuildInfo
    tree: RomTree

    @classmethod
    def open(cls, path: Path) -> "_Release":
        info = read_build_info(path)
        if info is None:
            raise InputError(f"not a release: no {BUILD_INFO}", file=path,
                             hint="give releases/<device>/<version> or releases/<device>")
        return cls(path, info, RomTree.open(path / "target-files.zip"))

    def otacerts(self, report: ReleaseReport) -> list[x509.Certificate] | None:
        where = f"{shown_path(self.path / 'target-files.zip')}:SYSTEM/{OTACERTS}"
        entry = self.tree.get("system", OTACERTS)
        if entry is None or entry.kind != "file":
            report.add(self.path / "target-files.zip", "otacerts-missing", f"SYSTEM/{OTACERTS} is missing: the phone "
                       "would trust no OTA key (update_engine, recovery and the Updater check packages against it)")
            return None
        try:
            certs = read_otacerts(self.tree.read("system", OTACERTS), where)
        except InputError as exc:
            report.add(self.path / "target-files.zip", "otacerts-invalid", exc.message)
            return None
        if not certs:
            report.add(self.path / "target-files.zip", "otacerts-empty", f"SYSTEM/{OTACERTS} holds no certificate")
        return certs


def _check_avb(rel: _Release, report: ReleaseReport, avb_key: bytes | None, jobs: int) -> None:
    vbmeta = rel.path / IMAGES / "vbmeta.img"
    recorded = rel.info.inputs.get("avb")
    if not vbmeta.is_file():
        if recorded or rel.tree.misc_info().get("avb_enable") == "true":
            report.add(rel.path / IMAGES, "avb-vbmeta-missing", "misc_info.txt enables AVB but the release has no "
                       "images/vbmeta.img: a device with verification on would not boot it")
        return
    try:
        top = read_avb_image(vbmeta)
    except InputError as exc:
        report.add(vbmeta, "avb-invalid-metadata", exc.message)
        return
    expected = avb_key
    if expected is None:
        recorded_sha = (recorded or {}).get("public_key_sha256")
        if recorded_sha and hashlib.sha256(top.public_key).hexdigest() != recorded_sha:
            report.add(vbmeta, "avb-key", f"vbmeta.img is signed by a key (public key sha256 "
                       f"{hashlib.sha256(top.public_key).hexdigest()[:16]}…) other than the one the build recorded "
                       f"({recorded_sha[:16]}…)")
            return
        expected = top.public_key
    try:
        result = verify_vbmeta(vbmeta, public_key=expected, images_dir=rel.path / IMAGES, jobs=jobs)
        report.checked += result.checked
    except CheckFailed as exc:
        report.findings += exc.findings
        return
    if top.public_key == bundled_test_key().public_key_blob:
        report.add(vbmeta, "avb-test-key", f"signed with the bundled TEST key ({TEST_KEY.name}): anyone can sign "
                   "for it; set [signing] avb_key in romforge.toml before shipping", "warning")
    reached = {vbmeta.stem}

    def follow(path: Path, main: bool) -> None:
        for d in read_avb_image(path).descriptors:
            if isinstance(d, (HashDescriptor, HashtreeDescriptor, ChainPartitionDescriptor)):
                reached.add(d.partition_name)
            if main and isinstance(d, ChainPartitionDescriptor):
                follow(rel.path / IMAGES / f"{d.partition_name}.img", False)

    follow(vbmeta, True)
    for image in sorted((rel.path / IMAGES).glob("*.img")):
        # firmware (RADIO/ images such as modem) is verified by the bootloader's own chain, not by vbmeta
        if image.stem not in reached and (image.stem in AVB_PARTITIONS + VBMETA_PARTITIONS or has_footer(image)):
            report.add(image, "avb-unprotected", f"{image.name} is not described by vbmeta.img or a vbmeta it "
                       "chains: with verification on, the device would refuse or not verify it")


def _check_otas(rel: _Release, report: ReleaseReport, store: Path) -> None:
    from romforge.ota.apply import OtaRejected, verify_ota

    certs = rel.otacerts(report)
    wanted = rel.tree.ab_partitions()
    for ota in sorted(rel.path.glob("ota-*.zip")):
        trusted = {"this build": certs or []}
        source_version = ota.stem.removeprefix("ota-from-") if ota.stem.startswith("ota-from-") else None
        if source_version is not None:
            source_dir = store / source_version
            if (source_dir / BUILD_INFO).is_file():
                trusted[f"release {source_version}"] = _Release.open(source_dir).otacerts(report) or []
        ota_report = None
        for who, candidates in trusted.items():
            problems = []
            for cert in candidates:
                try:
                    ota_report = verify_ota(ota, cert.public_key())
                    break
                except OtaRejected as exc:
                    problems.append(exc.message)
            else:
                if candidates:
                    report.add(ota, "ota-signature", f"verifies with no certificate of {who}'s otacerts.zip "
                               f"({len(candidates)} tried: {problems[-1]})")
                continue
            report.checked.append(f"{ota.name}: payload and package signatures verify with the certificate "
                                  f"sha256 {_sha256(cert)[:16]}… of {who}'s otacerts.zip")
        if ota_report is None:
            try:
                ota_report = verify_ota(ota, None)
            except OtaRejected as exc:
                report.add(ota, "ota-verify", exc.message)
                continue
        present = {p["name"] for p in ota_report.partitions}
        missing = [p for p in wanted if p not in present]
        if missing:
            report.add(ota, "ota-partitions", f"payload lacks {', '.join(missing)} of META/ab_partitions.txt: the "
                       "other slot would boot with whatever it had there")
        else:
            report.checked.append(f"{ota.name}: holds all {len(wanted)} partitions of META/ab_partitions.txt")


def _check_rollback(rel: _Release, report: ReleaseReport, earlier: list[_Release]) -> None:
    vbmeta = rel.path / IMAGES / "vbmeta.img"
    if not vbmeta.is_file():
        return
    try:
        mine = rollback_floor([vbmeta])
        floor = rollback_floor(e.path / IMAGES / "vbmeta.img" for e in earlier
                               if (e.path / IMAGES / "vbmeta.img").is_file())
    except InputError as exc:
        report.add(exc.file or vbmeta, "avb-invalid-metadata", exc.message)
        return
    for location, (index, where) in sorted(mine.items()):
        if location in floor and index < floor[location][0]:
            report.add(where, "avb-rollback", f"rollback index {index} at location {location} is lower than "
                       f"{floor[location][0]} of the earlier release {shown_path(floor[location][1])}: a phone "
                       "that installed that one refuses this build")
    report.checked.append(f"rollback indexes {', '.join(f'{loc}:{mine[loc][0]}' for loc in sorted(mine))} "
                          f"not below {len(earlier)} earlier release(s)")


def _releases_of(device_dir: Path) -> list[_Release]:
    found = [_Release.open(d) for d in sorted(device_dir.iterdir())
             if d.is_dir() and PARTIAL_MARK not in d.name and (d / BUILD_INFO).is_file()]
    return sorted(found, key=lambda r: (int(r.info.inputs.get("build_date_utc") or 0), r.path.name))


def verify_releases(target: Path, *, avb_key: bytes | None = None, jobs: int = 1) -> list[ReleaseReport]:
    """Check one release (target holds build-info.json) or every release of a device folder.
    Returns the reports; CheckFailed (exit 3) carries every finding when any is an error."""
    target = Path(target)
    if not target.is_dir():
        raise InputError("release folder not found", file=target)
    single = (target / BUILD_INFO).is_file()
    device_dir = target.parent if single else target
    releases = _releases_of(device_dir)
    chosen = [r for r in releases if r.path == target] if single else releases
    if not chosen:
        raise InputError(f"no releases here (no {BUILD_INFO} in it or in its subfolders)", file=target)
    reports = []
    for rel in chosen:
        report = ReleaseReport(rel.path)
        try:
            _check_avb(rel, report, avb_key, jobs)
            _check_otas(rel, report, device_dir)
            _check_rollback(rel, report, [r for r in releases if r is not rel and releases.index(r) < releases.index(rel)])
        except RomforgeError as exc:
            report.add(exc.file or rel.path, "release-unreadable", exc.message)
        reports.append(report)
    findings = [f for r in reports for f in r.findings]
    if any(f.severity == "error" for f in findings):
        raise ReleaseCheckFailed(f"{sum(len(r.errors) for r in reports)} problem(s) in {len(reports)} release(s); "
                                 "do not publish", findings, reports)
    return reports


class ReleaseCheckFailed(CheckFailed):
    def __init__(self, message: str, findings: list[Finding], reports: list[ReleaseReport]) -> None:
        super().__init__(message, findings)
        self.reports = reports


__all__ = ["ReleaseCheckFailed", "ReleaseReport", "read_otacerts", "verify_releases"]

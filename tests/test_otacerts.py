"""The OTA key the phone trusts: every A/B build's otacerts.zip holds exactly the certificate that
verifies its OTAs, and rotating the key (README, *Rotating the OTA key*) never leaves a phone
with an OTA it refuses: each OTA is checked against the certificate of the build it installs on."""

from __future__ import annotations

import io
import shutil
import zipfile
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from romforge.build import BuildRequest, build
from romforge.ota.generate import ota_from_target_files
from romforge.ota.keys import generate_test_key, load_signing_key
from romforge.workspace import load_workspace

DATE = "2026-11-27"
OTACERTS = "SYSTEM/etc/security/otacerts.zip"


def _trusted(target_files: Path) -> list[bytes]:
    """DER of every certificate in the build's otacerts.zip, read with zipfile + cryptography."""
    with zipfile.ZipFile(target_files) as tf:
        data = tf.read(OTACERTS)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return [x509.load_pem_x509_certificate(zf.read(n)).public_bytes(serialization.Encoding.DER)
                for n in zf.namelist() if n.endswith(".x509.pem")]


def _der(cert: Path) -> bytes:
    return x509.load_pem_x509_certificate(cert.read_bytes()).public_bytes(serialization.Encoding.DER)


def _verifies(run, ota: Path, trusted: list[bytes], tmp: Path) -> bool:
    """`romforge ota verify` with each certificate the installed build trusts: does one accept it?"""
    for i, der in enumerate(trusted):
        pem = tmp / f"trusted-{i}.x509.pem"
        pem.write_bytes(x509.load_der_x509_certificate(der).public_bytes(serialization.Encoding.PEM))
        if run("ota", "verify", ota, "--key", pem).exit_code == 0:
            return True
    return False


def test_otacerts_trusts_exactly_the_signing_key_and_rotation_keeps_phones_updating(
        run, workspace: Path, sample_rom: Path, tmp_path: Path) -> None:
    keys = workspace / "keys"
    old_cert = keys / "releasekey.x509.pem"
    base_trusted = _trusted_dir(sample_rom)

    first = build(load_workspace(workspace), BuildRequest("alioth", "1.0", DATE)).release
    trusted1 = _trusted(first / "target-files.zip")
    assert trusted1 == [_der(old_cert)], "exactly the certificate that signs the release's OTAs"
    assert _verifies(run, first / "ota-full.zip", trusted1, tmp_path)
    assert not _verifies(run, first / "ota-full.zip", base_trusted, tmp_path), "the base's key no longer"
    with zipfile.ZipFile(first / "target-files.zip") as tf:
        assert tf.getinfo(OTACERTS).external_attr >> 16 & 0o777 == 0o644

    # step 1-2: the next key is trusted by a release still signed with the old one
    generate_test_key(tmp_path / "releasekey2")
    for suffix in (".pk8", ".x509.pem"):
        shutil.copy(tmp_path / f"releasekey2{suffix}", keys / f"releasekey2{suffix}")
    config = workspace / "romforge.toml"
    config.write_text(config.read_text() + '\n[signing]\nota_next_key = "keys/releasekey2"\n')
    second = build(load_workspace(workspace), BuildRequest("alioth", "2.0", DATE)).release
    trusted2 = _trusted(second / "target-files.zip")
    assert trusted2 == [_der(keys / "releasekey2.x509.pem")]
    old_key = load_signing_key(keys / "releasekey")
    step = ota_from_target_files(second / "target-files.zip", tmp_path / "1-to-2.zip", old_key,
                                 old=first / "target-files.zip").path
    assert _verifies(run, step, trusted1, tmp_path), "the phone on 1.0 installs 2.0"

    # step 3: the key the profile names is now the new one; the next OTA is signed with it
    for suffix in (".pk8", ".x509.pem"):
        shutil.copy(keys / f"releasekey2{suffix}", keys / f"releasekey{suffix}")
    config.write_text(config.read_text().replace('ota_next_key = "keys/releasekey2"\n', ""))
    third = build(load_workspace(workspace), BuildRequest("alioth", "3.0", DATE)).release
    assert _trusted(third / "target-files.zip") == trusted2
    new_key = load_signing_key(keys / "releasekey")
    last = ota_from_target_files(third / "target-files.zip", tmp_path / "2-to-3.zip", new_key,
                                 old=second / "target-files.zip").path
    assert _verifies(run, last, trusted2, tmp_path), "the phone on 2.0 installs 3.0"
    assert not _verifies(run, last, trusted1, tmp_path), "a phone still on 1.0 would refuse it"


def _trusted_dir(base: Path) -> list[bytes]:
    with zipfile.ZipFile(base / OTACERTS) as zf:
        return [x509.load_pem_x509_certificate(zf.read(n)).public_bytes(serialization.Encoding.DER)
                for n in zf.namelist()]


def test_a_missing_next_certificate_is_refused_before_anything_is_written(run, workspace: Path) -> None:
    config = workspace / "romforge.toml"
    config.write_text(config.read_text() + '\n[signing]\nota_next_key = "keys/nowhere"\n')
    result = run("build", "alioth", "--version", "1.0", "--date", DATE, "--workspace", workspace)
    assert result.exit_code == 1
    assert "keys/nowhere.x509.pem" in result.output and "ota_next_key" in result.output
    assert not (workspace / "releases").exists() or not any((workspace / "releases").rglob("*.zip"))


def test_vendor_and_recovery_copies_are_written_where_the_base_has_them(sample_rom: Path, tmp_path: Path,
                                                                          ota_test_key: Path) -> None:
    from romforge.ota.otacerts import read_otacerts, write_otacerts
    from romforge.tree import RomTree, stage

    base = shutil.copytree(sample_rom, tmp_path / "base", symlinks=True)
    original = (base / OTACERTS).read_bytes()
    (base / "VENDOR/etc/security").mkdir(parents=True)
    (base / "VENDOR/etc/security/otacerts.zip").write_bytes(original)
    (base / "RECOVERY/RAMDISK/system/etc/security").mkdir(parents=True)
    (base / "RECOVERY/RAMDISK/system/etc/security/otacerts.zip").write_bytes(original)
    staged = stage(RomTree.open(base), tmp_path / "work")
    cert = Path(f"{ota_test_key}.x509.pem")
    written = write_otacerts(staged, cert)
    assert written == ["/system/etc/security/otacerts.zip", "/vendor/etc/security/otacerts.zip",
                       "RECOVERY/RAMDISK/system/etc/security/otacerts.zip"]
    for data in (staged.read("system", "etc/security/otacerts.zip"), staged.read("vendor", "etc/security/otacerts.zip"),
                 staged.read_extra("RECOVERY/RAMDISK/system/etc/security/otacerts.zip")):
        [trusted] = read_otacerts(data, source="test")
        assert trusted.public_bytes(serialization.Encoding.DER) == _der(cert)
    assert (base / OTACERTS).read_bytes() == original, "the base is never written"
    again = stage(RomTree.open(base), tmp_path / "work2")
    write_otacerts(again, cert)
    assert again.read("system", "etc/security/otacerts.zip") == staged.read("system", "etc/security/otacerts.zip")

    plain = stage(RomTree.open(sample_rom), tmp_path / "work3")
    assert write_otacerts(plain, cert) == ["/system/etc/security/otacerts.zip"]

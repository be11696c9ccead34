"""Damaged archives at every entry point that opens a zip: base ROM target-files, OTA packages,
locale packs, boot animations inside a base. Each corruption is one message naming the archive
(romforge/archive.py), and extraction cannot crash on layout.

The last test is property-based: hypothesis picks byte overwrites of real archives (a valid
OTA, a locale pack, a target-files zip), all run through the CLI in one limited subprocess.
"""

from __future__ import annotations

import io
import shutil
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import REPO
from hostile.conftest import Case, check
from romforge.samplerom import generate
from test_bootscreen_hostile import patched

BUILD_PROP = "SYSTEM/build.prop"
ANIM = "PRODUCT/media/bootanimation.zip"


@pytest.fixture(scope="module")
def target_files_zip(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return generate(tmp_path_factory.mktemp("tfzip") / "tf.zip", files=40, seed=3).read_bytes()


@pytest.fixture(scope="module")
def pack_zip() -> bytes:
    buf = io.BytesIO()
    root = REPO / "examples/workspace/locales/ru-RU"
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for p in sorted(root.rglob("*")):
            if p.is_file():
                zf.write(p, "ru-RU/" + str(p.relative_to(root)))
    return buf.getvalue()


def _rezip(data: bytes, extra: list[tuple[str, bytes]]) -> bytes:
    """`data` with more entries appended (same zip, new central directory)."""
    buf = io.BytesIO(data)
    with zipfile.ZipFile(buf, "a") as zf:
        for name, content in extra:
            zf.writestr(name, content)
    return buf.getvalue()


def _member_info(data: bytes, name: str) -> zipfile.ZipInfo:
    return zipfile.ZipFile(io.BytesIO(data)).getinfo(name)


def _flip_data(data: bytes, name: str) -> bytes:
    info = _member_info(data, name)
    return patched(data, name, data_bytes=bytes(b ^ 0x5A for b in data[info.header_offset + 60:][:16]))


def corruptions(data: bytes, member: str) -> dict[str, bytes]:
    """Every way issue #15 found to make zipfile raise, applied to `member` of `data`."""
    raw = member.encode()
    bad_name = raw[:-1] + b"\xff"
    info = _member_info(data, member)
    return {
        "bad data": _flip_data(data, member),
        "encrypted": patched(data, member, flags=info.flag_bits | 0x1),
        "unknown method": patched(data, member, method=99),
        "non-UTF-8 name flagged UTF-8": patched(data, member, flags=info.flag_bits | 0x800, new_name=bad_name),
        "file then folder of the same name": _rezip(data, [(member + "/", b"")]),
        "over-long name": _rezip(data, [("SYSTEM/" + "a" * 5000, b"x")]),
    }


def test_damaged_target_files_zips(target_files_zip: bytes, tmp_path: Path, ota_test_key: Path,
                                   workspace: Path) -> None:
    cases = []
    for label, data in corruptions(target_files_zip, BUILD_PROP).items():
        name = label.replace(" ", "-") + ".zip"
        (tmp_path / name).write_bytes(data)
        out = tmp_path / f"out-{name}"
        cases.append(Case(f"ota full, {label}", ["ota", "full", name, "-o", out / "ota.zip", "-k", ota_test_key],
                          cwd=tmp_path, names=name, absent=[out]))
    crc = tmp_path / "bad-crc.zip"  # a STORED member with a flipped byte: only the CRC can tell
    crc.write_bytes(_flip_data(target_files_zip, ANIM))
    cases.append(Case("bootanim check, bad CRC", ["bootanim", "check", crc], cwd=tmp_path, names="bad-crc.zip",
                      says="bootanimation.zip"))
    cases.append(Case("build --base, bad data", ["build", "alioth", "-V", "2026.48.1", "--date", "2026-11-27",
                                                 "--base", tmp_path / "bad-data.zip", "--out", tmp_path / "rel"],
                      cwd=workspace, names="bad-data.zip", absent=[tmp_path / "rel"]))
    check(cases, tmp_path)


def test_damaged_ota_packages_and_locale_packs(small_ota: Path, pack_zip: bytes, tmp_path: Path) -> None:
    cases = []
    for label, data in corruptions(small_ota.read_bytes(), "META-INF/com/android/metadata").items():
        name = "ota-" + label.replace(" ", "-") + ".zip"
        (tmp_path / name).write_bytes(data)
        cases.append(Case(f"ota info, {label}", ["ota", "info", name], cwd=tmp_path, names=name))
    for label, data in corruptions(pack_zip, "ru-RU/pack.toml").items():
        name = "pack-" + label.replace(" ", "-") + ".zip"
        (tmp_path / name).write_bytes(data)
        cases.append(Case(f"locale check, {label}", ["locale", "check", name], cwd=tmp_path, names=name,
                          exit=(1, 3)))
    check(cases, tmp_path)


ARCHIVES = ("ota", "pack", "target-files")


@settings(max_examples=2, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(st.tuples(st.sampled_from(ARCHIVES), st.floats(0, 1), st.binary(min_size=1, max_size=12)),
                min_size=24, max_size=24))
def test_fuzzed_archive_bytes_never_crash(small_ota: Path, pack_zip: bytes, target_files_zip: bytes,
                                          tmp_path_factory: pytest.TempPathFactory, ota_test_key: Path,
                                          edits: list[tuple[str, float, bytes]]) -> None:
    tmp = tmp_path_factory.mktemp("fuzz")
    sources = {"ota": small_ota.read_bytes(), "pack": pack_zip, "target-files": target_files_zip}
    cases = []
    for number, (kind, where, junk) in enumerate(edits):
        data = bytearray(sources[kind])
        at = int(where * (len(data) - len(junk)))
        data[at:at + len(junk)] = junk
        name = f"{kind}-{number}.zip"
        (tmp / name).write_bytes(bytes(data))
        args = {"ota": ["ota", "info", name], "pack": ["locale", "check", name],
                "target-files": ["bootanim", "check", name]}[kind]
        cases.append(Case(f"{kind} #{number} at {at}", args, cwd=tmp, names=name, exit=(0, 1, 3)))
    check(cases, tmp)
    shutil.rmtree(tmp)


def test_an_ota_whose_signing_certificate_holds_a_broken_key_is_refused(small_ota: Path, tmp_path: Path,
                                                                       ota_test_key: Path) -> None:
    """The certificate in the whole-file signature parses, but the public key inside it does not
    (found by the fuzzing above: cryptography reads the key only when asked, and raised
    ValueError out of `ota info`). info, which needs no signature, says why it is unreadable;
    verify refuses the package."""
    from asn1crypto import cms as asn1_cms
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    from romforge.ota.package import whole_file_signature

    data = bytearray(small_ota.read_bytes())
    signed = asn1_cms.ContentInfo.load(whole_file_signature(small_ota).cms)["content"]
    cert = x509.load_der_x509_certificate(signed["certificates"][0].chosen.dump())
    spki = cert.public_key().public_bytes(serialization.Encoding.DER,
                                          serialization.PublicFormat.SubjectPublicKeyInfo)
    at = bytes(data).index(spki)
    data[at + spki.index(b"\x02\x82") + 2] ^= 0x7F  # the modulus INTEGER's length: the key no longer parses
    (tmp_path / "broken-key.zip").write_bytes(bytes(data))
    check([Case("ota info, broken certificate key", ["ota", "info", "broken-key.zip"], cwd=tmp_path,
                names="broken-key.zip", exit=0, says="public key that does not parse"),
           Case("ota verify, broken certificate key", ["ota", "verify", "broken-key.zip", "-k",
                                                         f"{ota_test_key}.x509.pem"], cwd=tmp_path,
                names="broken-key.zip", exit=(1, 3))], tmp_path)

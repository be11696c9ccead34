"""Real OTAs as vendors and update_engine ship them: unsigned payloads from an independent
encoder, bare payload.bin, property files naming care_map.pb and apex_info.pb, minor versions
8 and 9, SHA-1 whole-file signatures."""

from __future__ import annotations

import hashlib
import json
import random
import struct
import subprocess
import zipfile
from pathlib import Path

import pytest

from independent_payload import (LZ4DIFF_BSDIFF, REPLACE_BZ, SOURCE_COPY, ZERO, ZUCCHINI, RawOperation,
                                 RawPartitionUpdate, bzip2, encode_payload, write_ota_zip)

BLOCK = 4096


def _images() -> tuple[bytes, bytes]:
    rng = random.Random(16)
    old = bytes(rng.getrandbits(8) for _ in range(8 * BLOCK))
    fresh = b"".join(f"ro.build.line.{i}=value {i}\n".encode() for i in range(2000))[:4 * BLOCK]
    new = fresh + bytes(4 * BLOCK) + old[:4 * BLOCK]
    return old, new


def _delta(old: bytes, new: bytes, *, minor: int = 7, extra: list[RawOperation] = ()) -> bytes:
    # sources are read before anything overwrites them, as update_engine applies in place
    ops = [*extra,
           RawOperation(SOURCE_COPY, [(8, 4)], src=[(0, 4)], src_sha256=hashlib.sha256(old[:4 * BLOCK]).digest()),
           RawOperation(REPLACE_BZ, [(0, 4)], data=bzip2(new[:4 * BLOCK])),
           RawOperation(ZERO, [(4, 4)])]
    return encode_payload([RawPartitionUpdate("system", new, ops, old_image=old)], minor_version=minor)


@pytest.fixture
def unsigned_ota(tmp_path: Path) -> tuple[Path, Path, bytes]:
    old, new = _images()
    payload = _delta(old, new)
    ota = tmp_path / "ota.zip"
    write_ota_zip(ota, payload, {"care_map.pb": b"\x0a\x06system", "apex_info.pb": b"\x0a\x03com"})
    source = tmp_path / "source"
    source.mkdir()
    (source / "system.img").write_bytes(old)
    return ota, source, new


def test_info_reads_an_unsigned_package_whose_property_files_name_care_map_and_apex_info(run, unsigned_ota) -> None:
    ota, _, new = unsigned_ota
    with zipfile.ZipFile(ota) as zf:
        metadata = zf.read("META-INF/com/android/metadata").decode()
    assert "care_map.pb:" in metadata and "apex_info.pb:" in metadata
    result = run("ota", "info", ota, "--json")
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    (part,) = info["partitions"]
    assert part["name"] == "system" and part["new_sha256"] == hashlib.sha256(new).hexdigest()
    assert part["operations"] == {"REPLACE_BZ": 1, "SOURCE_COPY": 1, "ZERO": 1}
    assert info["kind"] == "incremental" and info["minor_version"] == 7
    assert {s["covers"]: s["status"] for s in info["signatures"]} == {
        "zip (signapk -w)": "absent", "payload metadata": "absent", "payload": "absent"}
    assert any("unsigned" in w for w in info["warnings"])


def test_info_reads_a_bare_payload_bin(run, unsigned_ota, tmp_path: Path) -> None:
    ota, _, _ = unsigned_ota
    bare = tmp_path / "payload.bin"
    with zipfile.ZipFile(ota) as zf:
        bare.write_bytes(zf.read("payload.bin"))
    result = run("ota", "info", bare)
    assert result.exit_code == 0, result.output
    assert "system" in result.stdout and "REPLACE_BZ 1" in result.stdout and "SOURCE_COPY 1" in result.stdout
    assert "unsigned" in result.stderr


def test_apply_writes_the_image_of_an_unsigned_payload_with_a_warning(run, unsigned_ota, tmp_path: Path) -> None:
    ota, source, new = unsigned_ota
    out = tmp_path / "out"
    result = run("ota", "apply", ota, "--source", source, "--out", out)
    assert result.exit_code == 0, result.output
    assert (out / "system.img").read_bytes() == new
    assert "warning" in result.stderr and "unsigned" in result.stderr


def test_apply_of_a_bare_payload_gives_the_same_image(run, unsigned_ota, tmp_path: Path) -> None:
    ota, source, new = unsigned_ota
    bare = tmp_path / "payload.bin"
    with zipfile.ZipFile(ota) as zf:
        bare.write_bytes(zf.read("payload.bin"))
    result = run("ota", "apply", bare, "--source", source, "--out", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out/system.img").read_bytes() == new


def test_verify_refuses_an_unsigned_payload_saying_so(run, unsigned_ota, ota_test_key: Path) -> None:
    ota, _, _ = unsigned_ota
    result = run("ota", "verify", ota, "--key", f"{ota_test_key}.x509.pem")
    assert result.exit_code in (1, 3)
    assert "no whole-file signature" in result.output or "unsigned" in result.output


def test_a_property_file_naming_a_missing_entry_is_still_refused(run, tmp_path: Path) -> None:
    old, new = _images()
    ota = tmp_path / "ota.zip"
    write_ota_zip(ota, _delta(old, new), {"care_map.pb": b"x"}, phantom="care_map.txt")
    result = run("ota", "info", ota)
    assert result.exit_code != 0
    assert "'care_map.txt'" in result.output and "does not hold" in result.output


@pytest.mark.parametrize("minor,op_type,name", [(8, ZUCCHINI, "ZUCCHINI"), (9, LZ4DIFF_BSDIFF, "LZ4DIFF_BSDIFF")])
def test_minor_8_and_9_are_shown_and_an_operation_romforge_cannot_apply_stops_apply(run, tmp_path: Path, minor: int,
                                                                                    op_type: int, name: str) -> None:
    old, new = _images()
    size = 12 * BLOCK
    new = new + old[4 * BLOCK:8 * BLOCK]
    unknown = RawOperation(op_type, [(12, 4)], src=[(4, 4)], data=b"patch bytes romforge cannot read",
                           src_sha256=hashlib.sha256(old[4 * BLOCK:8 * BLOCK]).digest())
    payload = _delta(old, new, minor=minor, extra=[unknown])
    assert len(new) == size + 4 * BLOCK
    bare = tmp_path / "payload.bin"
    bare.write_bytes(payload)
    info = run("ota", "info", bare, "--json")
    assert info.exit_code == 0, info.output
    parsed = json.loads(info.stdout)
    assert parsed["minor_version"] == minor and parsed["partitions"][0]["operations"][name] == 1
    source = tmp_path / "source"
    source.mkdir()
    (source / "system.img").write_bytes(old)
    out = tmp_path / "out"
    applied = run("ota", "apply", bare, "--source", source, "--out", out)
    assert applied.exit_code == 1
    assert f"system operation 0 is {name}" in applied.output and "cannot apply" in applied.output
    assert not out.exists() or not any(out.iterdir())


def _whole_file_sign_sha1(zip_path: Path, key: Path, out: Path) -> None:
    """signapk -w's layout (a CMS block in the zip comment, a 6-byte footer), signed with SHA-1 by openssl."""
    data = zip_path.read_bytes()
    assert data[-2:] == b"\0\0"  # no comment yet
    signed_part = data[:-2]
    (out.parent / "signed-part").write_bytes(signed_part)
    pem = out.parent / "key.pem"
    subprocess.run(["openssl", "pkcs8", "-inform", "DER", "-nocrypt", "-in", f"{key}.pk8", "-out", str(pem)], check=True)
    cms = subprocess.run(["openssl", "cms", "-sign", "-binary", "-noattr", "-md", "sha1", "-outform", "DER",
                          "-in", str(out.parent / "signed-part"), "-signer", f"{key}.x509.pem", "-inkey", str(pem)],
                         capture_output=True, check=True).stdout
    comment = cms + struct.pack("<HHH", len(cms) + 6, 0xFFFF, len(cms) + 6)
    out.write_bytes(signed_part + struct.pack("<H", len(comment)) + comment)


def test_a_sha1_whole_file_signature_is_reported_and_refused_as_weak(run, unsigned_ota, ota_test_key: Path,
                                                                      tmp_path: Path) -> None:
    ota, _, _ = unsigned_ota
    signed = tmp_path / "sha1.zip"
    _whole_file_sign_sha1(ota, ota_test_key, signed)
    info = run("ota", "info", signed, "--json")
    assert info.exit_code == 0, info.output
    sigs = {s["covers"]: s for s in json.loads(info.stdout)["signatures"]}
    assert sigs["zip (signapk -w)"]["algorithm"] == "SHA-1 with RSA-2048"
    assert sigs["zip (signapk -w)"]["status"] == "present"
    verified = run("ota", "verify", signed, "--key", f"{ota_test_key}.x509.pem")
    assert verified.exit_code == 3
    assert "SHA-1" in verified.output and "weak" in verified.output and "does not match" not in verified.output


def test_a_signed_bare_payload_verifies_with_its_key_and_not_with_another(run, ota_test_key: Path,
                                                                          tmp_path: Path) -> None:
    from romforge.ota.keys import generate_test_key, load_signing_key
    from romforge.ota.payload import Op, Operation, PartitionPlan, write_payload

    image = b"".join(f"line {i}\n".encode() for i in range(3000))[:2 * BLOCK]
    plan = PartitionPlan("system", len(image), hashlib.sha256(image).digest(),
                         [Operation(Op.REPLACE_BZ, [(0, 2)], data=bzip2(image))])
    bare = tmp_path / "payload.bin"
    write_payload(bare, [plan], load_signing_key(ota_test_key), minor_version=0)
    good = run("ota", "verify", bare, "--key", f"{ota_test_key}.x509.pem", "--json")
    assert good.exit_code == 0, good.output
    sigs = json.loads(good.stdout)["signatures"]
    assert [(s["covers"], s["algorithm"], s["status"]) for s in sigs] == [
        ("payload metadata", "SHA-256 with RSA-2048", "verified"), ("payload", "SHA-256 with RSA-2048", "verified")]
    text = run("ota", "verify", bare, "--key", f"{ota_test_key}.x509.pem")
    assert "verified: payload metadata signature (SHA-256 with RSA-2048), payload signature" in text.stdout
    assert "zip" not in text.stdout.split("verified:")[1]  # a bare payload has no zip signature to claim
    generate_test_key(tmp_path / "other")
    bad = run("ota", "verify", bare, "--key", tmp_path / "other.x509.pem")
    assert bad.exit_code == 3 and "does not verify with this key" in bad.output


def test_a_full_payload_of_many_operations_applies_side_by_side_to_the_same_image(run, tmp_path: Path) -> None:
    from independent_payload import REPLACE

    rng = random.Random(9)
    blocks = [bytes(rng.getrandbits(8) for _ in range(BLOCK)) if i % 3 else f"block {i}\n".encode() * 400
              for i in range(40)]
    blocks = [b[:BLOCK].ljust(BLOCK, b"\0") for b in blocks]
    ops = [RawOperation(REPLACE if i % 3 else REPLACE_BZ, [(i, 1)], data=b if i % 3 else bzip2(b))
           for i, b in enumerate(blocks)]
    image = b"".join(blocks)
    bare = tmp_path / "payload.bin"
    bare.write_bytes(encode_payload([RawPartitionUpdate("vendor", image, ops)], minor_version=0))
    result = run("ota", "apply", bare, "--out", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out/vendor.img").read_bytes() == image

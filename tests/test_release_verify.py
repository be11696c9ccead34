"""`romforge release verify`: the pre-flight check of a release, on a real release of the AVB
base (conftest's avb_release) and on copies of it broken one way each."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from avbkit import flip, rsa_pem
from conftest import romforge
from romforge.avb import ChainPartition, bundled_test_key, make_vbmeta
from romforge.ota.keys import generate_test_key


@pytest.fixture
def store_copy(avb_release, tmp_path: Path) -> Path:
    """A copy of the release in a store of its own: tmp/releases/alioth/1.0."""
    release, _ = avb_release
    return Path(shutil.copytree(release, tmp_path / "releases/alioth/1.0"))


def _errors(output: str) -> list[str]:
    return [line for line in output.splitlines() if ": error: " in line and not line.startswith("romforge: error:")]


def test_a_good_release_verifies(avb_release) -> None:
    release, _ = avb_release
    result = romforge("release", "verify", release)
    assert result.exit_code == 0, result.output
    assert "warning: signed with the bundled TEST key" in result.output and not _errors(result.output)
    data = json.loads(romforge("release", "verify", release, "--json").output)
    checked = data["releases"][0]["checked"]
    assert data["ok"] is True
    assert any("ota-full.zip: holds all 9 partitions of META/ab_partitions.txt" in line for line in checked)
    assert any("ota-full.zip: payload and package signatures verify with the certificate" in line
               and "this build's otacerts.zip" in line for line in checked)
    assert any(line.startswith("vbmeta_system: chained from vbmeta.img") for line in checked)


def test_a_flipped_byte_in_an_image_is_one_finding(store_copy: Path) -> None:
    flip(store_copy / "images/vendor.img", 5000)
    result = romforge("release", "verify", store_copy)
    assert result.exit_code == 3, result.output
    errors = _errors(result.output)
    assert len(errors) == 1 and "images/vendor.img" in errors[0] and "[avb-hashtree-mismatch]" in errors[0]


def test_an_avb_image_vbmeta_does_not_describe_is_a_finding_firmware_is_not(store_copy: Path) -> None:
    (store_copy / "images/init_boot.img").write_bytes(b"ANDROID!" + bytes(8192))
    (store_copy / "images/modem.img").write_bytes(bytes(8192))  # RADIO/ firmware: the bootloader verifies it
    result = romforge("release", "verify", store_copy)
    assert result.exit_code == 3, result.output
    errors = _errors(result.output)
    assert len(errors) == 1 and "images/init_boot.img" in errors[0] and "[avb-unprotected]" in errors[0]


def test_wrong_avb_key_is_a_finding(store_copy: Path, tmp_path: Path) -> None:
    result = romforge("release", "verify", store_copy, "--avb-key", rsa_pem(tmp_path / "other.pem", 2048))
    assert result.exit_code == 3 and "[avb-key]" in result.output, result.output


def test_ota_signed_by_an_untrusted_key_and_missing_partitions_are_findings(store_copy: Path, tmp_path: Path) -> None:
    other = tmp_path / "keys/otherkey"
    generate_test_key(other)
    (store_copy / "ota-full.zip").unlink()
    made = romforge("ota", "full", store_copy / "target-files.zip", "-o", store_copy / "ota-full.zip", "--key", other)
    assert made.exit_code == 0, made.output
    _add_ab_partition(store_copy / "target-files.zip", "xbl")  # the OTA now lacks a partition the build lists
    result = romforge("release", "verify", store_copy)
    assert result.exit_code == 3, result.output
    errors = _errors(result.output)
    assert any("ota-full.zip" in e and "verifies with no certificate of this build's otacerts.zip" in e
               and "[ota-signature]" in e for e in errors), result.output
    assert any("payload lacks xbl of META/ab_partitions.txt" in e for e in errors), result.output


def _add_ab_partition(target_files: Path, name: str) -> None:
    import zipfile

    rewritten = target_files.with_name("rewritten.zip")
    with zipfile.ZipFile(target_files) as src, zipfile.ZipFile(rewritten, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "META/ab_partitions.txt":
                data += f"{name}\n".encode()
            dst.writestr(info, data)
    rewritten.replace(target_files)


def test_rollback_index_going_backwards_is_a_finding(store_copy: Path) -> None:
    earlier = Path(shutil.copytree(store_copy, store_copy.parent / "0.9"))
    info = json.loads((earlier / "build-info.json").read_text())
    info["inputs"]["build_date_utc"] -= 7 * 86400
    (earlier / "build-info.json").write_text(json.dumps(info))
    key = bundled_test_key()
    make_vbmeta(earlier / "images/vbmeta.img", key=key, rollback_index=9,  # 1.0 has 7
                chain_partitions=[ChainPartition("vbmeta_system", 1, key.public_key_blob)])
    result = romforge("release", "verify", store_copy)
    assert result.exit_code == 3, result.output
    errors = _errors(result.output)
    assert len(errors) == 1 and "rollback index 7 at location 0 is lower than 9" in errors[0]
    assert "0.9/images/vbmeta.img" in errors[0]


def test_not_a_release_is_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    result = romforge("release", "verify", tmp_path / "empty")
    assert result.exit_code == 1 and "no releases here" in result.output
    result = romforge("release", "verify", tmp_path / "missing")
    assert result.exit_code == 1 and "release folder not found" in result.output

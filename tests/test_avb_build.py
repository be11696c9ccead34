"""AVB in the build: footers on the release's images, vbmeta/vbmeta_system rebuilt from
misc_info.txt, the signing key and rollback index, and bad input to all of it. The images are
read back with the independent reader (tests/avb_independent.py), hash trees recomputed from
the raw blocks here, signatures checked with openssl."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from avb_independent import dm_verity, openssl_verify, parse
from avbkit import ec_pem, flip, rsa_pem
from avbrom import avb_base, misc_info_lines, set_misc_info
from conftest import files_under, make_workspace, romforge
from romforge.avb import add_hashtree_footer, bundled_test_key, verify_vbmeta
from romforge.avb.keys import TEST_KEY
from romforge.errors import CheckFailed

DATE = "2026-11-27"
FS_IMAGES = ("odm", "product", "system", "system_ext", "vendor")


def _descriptors(path: Path, tag: int) -> dict[str, dict]:
    return {d["name"]: d for d in parse(path).descriptors if d["tag"] == tag}


def test_every_filesystem_image_gets_a_hashtree_that_an_independent_computation_confirms(avb_release) -> None:
    release, _ = avb_release
    images = release / "images"
    system_side = _descriptors(images / "vbmeta_system.img", 1)
    top_side = _descriptors(images / "vbmeta.img", 1)
    assert sorted(system_side) == ["product", "system", "system_ext"]  # avb_vbmeta_system
    assert sorted(top_side) == ["odm", "vendor"]  # the rest go into vbmeta.img
    for name in FS_IMAGES:
        parsed = parse(images / f"{name}.img")
        descriptor = {**system_side, **top_side}[name]
        raw = (images / f"{name}.img").read_bytes()
        data = raw[:descriptor["image_size"]]
        assert parsed.footer["original_image_size"] <= descriptor["image_size"]
        assert data[1024:1028] == b"\xe2\xe1\xf5\xe0"  # still the erofs image at the front
        root, tree = dm_verity(data, descriptor["salt"])
        assert root == descriptor["root"], name
        assert raw[descriptor["tree_offset"]:descriptor["tree_offset"] + descriptor["tree_size"]] == tree, name
        assert descriptor["algorithm"] == "sha256" and len(descriptor["salt"]) == 32
        assert parsed.header["algorithm"] == 0  # a footer a vbmeta describes is left unsigned, as AOSP does
    assert len({d["salt"] for d in {**system_side, **top_side}.values()}) == len(FS_IMAGES)  # one salt per partition
    props = {d["key"]: d["value"] for d in parse(images / "system.img").descriptors if d["tag"] == 0}
    assert props == {"com.android.build.system.os_version": b"14",
                     "com.android.build.system.security_patch": b"2024-02-05"}
    check = subprocess.run(["fsck.erofs", str(images / "system.img")], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr


def test_vbmeta_chains_vbmeta_system_is_signed_and_verifies(avb_release, tmp_path: Path) -> None:
    release, log = avb_release
    images = release / "images"
    top, chained = parse(images / "vbmeta.img"), parse(images / "vbmeta_system.img")
    test_key = bundled_test_key()
    assert top.public_key == chained.public_key == test_key.public_key_blob
    assert (top.header["rollback_index"], top.header["flags"], top.header["rollback_index_location"]) == (7, 0, 0)
    assert (chained.header["rollback_index"], chained.header["flags"],
            chained.header["rollback_index_location"]) == (1706745600, 0, 1)
    chains = [d for d in top.descriptors if d["tag"] == 4]
    assert [(d["name"], d["location"], d["key"]) for d in chains] == [("vbmeta_system", 1, test_key.public_key_blob)]
    assert sorted(_descriptors(images / "vbmeta.img", 2)) == ["boot", "dtbo"]
    for parsed in (top, chained):
        assert hashlib.sha256(parsed.signed_data).digest() == parsed.stored_hash
        assert "Verified OK" in openssl_verify(parsed, tmp_path)
    result = romforge("avb", "verify", images / "vbmeta.img", "--key", TEST_KEY)
    assert result.exit_code == 0, result.output
    for name in ("vbmeta_system", "boot", "dtbo", *FS_IMAGES):
        assert f"{name}:" in result.output
    assert "AVB: vbmeta signed with the bundled TEST key" in log


def test_base_images_pass_through_and_the_target_files_and_record_match(avb_release, avb_ws: Path) -> None:
    release, _ = avb_release
    base = Path((avb_ws / "romforge.toml").read_text().split('base_rom = "')[1].split('"')[0])
    images = release / "images"
    assert (images / "boot.img").read_bytes() == (base / "IMAGES/boot.img").read_bytes()  # keeps its own footer
    dtbo = parse(images / "dtbo.img")  # had none: gets the hash footer misc_info asks for, in its partition size
    assert dtbo.footer is not None and dtbo.file_size == 0x00100000
    assert (base / "IMAGES/dtbo.img").stat().st_size == 20004  # the base is never changed
    digest = _descriptors(images / "vbmeta.img", 2)["dtbo"]
    data = (images / "dtbo.img").read_bytes()[:digest["image_size"]]
    assert hashlib.sha256(digest["salt"] + data).digest() == digest["digest"]
    names = sorted(p.name for p in images.iterdir())
    assert names == sorted(f"{n}.img" for n in ("boot", "dtbo", "vbmeta", "vbmeta_system", *FS_IMAGES))
    import json

    info = json.loads((release / "build-info.json").read_text())
    with zipfile.ZipFile(release / "target-files.zip") as zf:
        listed = [n for n in zf.namelist() if n.startswith("IMAGES/") and n.endswith(".img")]
        assert sorted(listed) == [f"IMAGES/{n}" for n in names]  # each once, the release's own bytes
        for name in names:
            assert zf.read(f"IMAGES/{name}") == (images / name).read_bytes()
            assert info["outputs"][f"images/{name}"]["sha256"] == hashlib.sha256((images / name).read_bytes()).hexdigest()
    assert info["inputs"]["avb"] == {"public_key_sha256": hashlib.sha256(bundled_test_key().public_key_blob).hexdigest(),
                                     "test_key": True, "rollback_indexes": {"vbmeta": 7, "vbmeta_system": 1706745600}}


@pytest.mark.parametrize("image", ["system", "vendor", "product", "boot", "dtbo", "vbmeta_system", "vbmeta"])
def test_a_flipped_byte_in_any_image_fails_verification(avb_release, tmp_path: Path, image: str) -> None:
    release, _ = avb_release
    images = Path(shutil.copytree(release / "images", tmp_path / "images"))
    offset = 9000 if image not in ("vbmeta", "vbmeta_system") else 300  # file data, or the signed header block
    flip(images / f"{image}.img", offset)
    with pytest.raises(CheckFailed) as failed:
        verify_vbmeta(images / "vbmeta.img", public_key=bundled_test_key().public_key_blob, images_dir=images)
    assert f"{image}.img" in failed.value.findings[0].file or image in failed.value.findings[0].message


def test_wrong_key_and_stale_descriptor_fail(avb_release, tmp_path: Path) -> None:
    release, _ = avb_release
    other = rsa_pem(tmp_path / "other.pem", 2048)
    result = romforge("avb", "verify", release / "images/vbmeta.img", "--key", other)
    assert result.exit_code == 3 and "not by the given key" in result.output
    images = Path(shutil.copytree(release / "images", tmp_path / "images"))
    # system.img changes and gets a fresh footer of its own, but vbmeta_system still describes the old one
    original = parse(images / "system.img").footer["original_image_size"]
    with open(images / "system.img", "r+b") as f:
        f.truncate(original)
    flip(images / "system.img", 9000)
    add_hashtree_footer(images / "system.img", partition_name="system", salt=bytes(32))
    result = romforge("avb", "verify", images / "vbmeta.img", "--key", TEST_KEY)
    assert result.exit_code == 3 and "system: the hash tree of system.img" in result.output, result.output


def test_release_images_are_reproducible(avb_release, avb_ws: Path, tmp_path: Path) -> None:
    release, _ = avb_release
    again = romforge("build", "alioth", "--version", "1.0", "--date", DATE, "--workspace", avb_ws,
                     "--out", tmp_path / "again")
    assert again.exit_code == 0, again.output
    other = tmp_path / "again/alioth/1.0"
    for name in ["ota-full.zip", "target-files.zip"] + [f"images/{p.name}" for p in (release / "images").iterdir()]:
        assert (release / name).read_bytes() == (other / name).read_bytes(), name


def test_workspace_avb_key_signs_and_a_lower_rollback_index_is_refused(tmp_path: Path, sample_rom: Path,
                                                                       ota_test_key: Path, avb_release) -> None:
    cert = Path(f"{ota_test_key}.x509.pem")
    base = avb_base(sample_rom, tmp_path / "base", ota_cert=cert, rollback_index=9)
    ws = make_workspace(tmp_path, base, ota_test_key, signing='[signing]\navb_key = "keys/avb.pem"\n')
    key = rsa_pem(ws / "keys/avb.pem", 2048)
    result = romforge("build", "alioth", "--version", "1.0", "--date", DATE, "--workspace", ws)
    assert result.exit_code == 0, result.output
    assert "AVB: vbmeta signed with the workspace key [signing] avb_key (RSA-2048" in result.output
    assert "TEST key" not in result.output.split("AVB:")[1].splitlines()[0]
    images = ws / "releases/alioth/1.0/images"
    assert romforge("avb", "verify", images / "vbmeta.img", "--key", key).exit_code == 0
    # other inputs (key, rollback index), same device: the same salts, so weekly deltas keep unchanged tree blocks
    for vbmeta, name in (("vbmeta_system", "system"), ("vbmeta", "vendor")):
        assert _descriptors(images / f"{vbmeta}.img", 1)[name]["salt"] == \
            _descriptors(avb_release[0] / f"images/{vbmeta}.img", 1)[name]["salt"]
    assert romforge("avb", "verify", images / "vbmeta.img", "--key", TEST_KEY).exit_code == 3
    assert romforge("avb", "info", images / "vbmeta.img").output.count("SHA256_RSA2048") == 1
    # the next base goes back to rollback index 3: a phone that installed 1.0 (index 9) would refuse it
    set_misc_info(base, misc_info_lines(rollback_index=3))
    before = files_under(ws / "releases")
    result = romforge("build", "alioth", "--version", "1.1", "--date", DATE, "--workspace", ws)
    assert result.exit_code == 1, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("romforge: error:")]
    assert len(errors) == 1 and "META/misc_info.txt:" in errors[0] and "avb_vbmeta_args" in errors[0]
    assert "rollback index 3 of vbmeta (location 0) is lower than 9" in errors[0]
    assert "--rollback_index 9 or higher" in result.output
    assert files_under(ws / "releases") == before


@pytest.fixture
def plain_base(tmp_path: Path, sample_rom: Path, ota_test_key: Path) -> Path:
    return avb_base(sample_rom, tmp_path / "base", ota_cert=Path(f"{ota_test_key}.x509.pem"))


def _fails_before_writing(ws: Path, *expected: str) -> str:
    result = romforge("build", "alioth", "--version", "1.0", "--date", DATE, "--workspace", ws)
    assert result.exit_code == 1, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("romforge: error:")]
    assert len(errors) == 1, result.output
    for text in expected:
        assert text in result.output, result.output
    assert not (ws / "releases").exists() or files_under(ws / "releases") == []
    return errors[0]


@pytest.mark.parametrize("kind, expected", [
    ("missing", "keys/avb.pem: AVB signing key not found (from [signing] avb_key in romforge.toml)"),
    ("ec", "is not an RSA key"),
    ("rsa3072", "is RSA-3072; AVB signs with RSA-2048 or RSA-4096"),
])
def test_bad_avb_key_stops_the_build(tmp_path: Path, plain_base: Path, ota_test_key: Path, kind: str,
                                     expected: str) -> None:
    ws = make_workspace(tmp_path, plain_base, ota_test_key, signing='[signing]\navb_key = "keys/avb.pem"\n')
    if kind == "ec":
        ec_pem(ws / "keys/avb.pem")
    elif kind == "rsa3072":
        rsa_pem(ws / "keys/avb.pem", 3072)
    _fails_before_writing(ws, expected)


def test_boot_image_larger_than_its_partition_is_refused(tmp_path: Path, plain_base: Path, ota_test_key: Path) -> None:
    (plain_base / "IMAGES/dtbo.img").write_bytes(bytes(0x00100000 - 1000))  # no room for the 68 KiB of AVB metadata
    ws = make_workspace(tmp_path, plain_base, ota_test_key)
    error = _fails_before_writing(ws, "IMAGES/dtbo.img is 1047576 bytes", "raise dtbo_size")
    assert "META/misc_info.txt:" in error and "dtbo_size=1048576" in error


@pytest.mark.parametrize("line, expected", [
    ("avb_system_add_hashtree_footer_args=--generate_fec", "avbtool option '--generate_fec' is not supported"),
    ("avb_vbmeta_system_rollback_index_location=0", "needs a rollback index location of 1 or more"),
    ("avb_vbmeta_system=system vendor_dlkm", "vendor_dlkm has no image"),
    ("avb_vbmeta_args=--rollback_index ten", "--rollback_index 'ten' is not a number"),
])
def test_bad_avb_keys_in_misc_info_are_one_message_naming_the_line(tmp_path: Path, plain_base: Path,
                                                                   ota_test_key: Path, line: str,
                                                                   expected: str) -> None:
    misc = plain_base / "META/misc_info.txt"
    misc.write_text(misc.read_text() + line + "\n")
    ws = make_workspace(tmp_path, plain_base, ota_test_key)
    _fails_before_writing(ws, expected, f"META/misc_info.txt:{len(misc.read_text().splitlines())}:")

"""The OTA side of `romforge build`, keys, the committed protobuf modules and bad input to `romforge ota`."""

from __future__ import annotations

import hashlib
import json
import subprocess
import zipfile
from pathlib import Path

import pytest

from conftest import REPO, files_under
from romforge.build import BuildRequest, build
from romforge.ota.keys import TEST_KEY_CN, generate_test_key
from romforge.workspace import load_workspace

DATE = "2026-11-27"


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_release_has_images_and_a_full_ota_that_verifies_and_applies(run, workspace: Path, tmp_path: Path) -> None:
    result = build(load_workspace(workspace), BuildRequest("alioth", "1.0", DATE))
    release = result.release
    info = json.loads((release / "build-info.json").read_text())
    images = sorted(p.name for p in (release / "images").iterdir())
    filesystems = ["odm.img", "product.img", "system.img", "system_ext.img", "vendor.img"]
    boot_chain = ["boot.img", "dtbo.img", "init_boot.img", "modem.img", "vbmeta.img", "vbmeta_system.img",
                  "vendor_boot.img"]  # every other partition of the sample's ab_partitions.txt
    assert images == sorted(filesystems + boot_chain)
    with zipfile.ZipFile(release / "target-files.zip") as zf:
        for name in images:
            data = (release / "images" / name).read_bytes()
            assert zf.read(f"IMAGES/{name}") == data
            fs = "erofs" if name in filesystems else "raw"
            assert info["outputs"][f"images/{name}"] == {"fs": fs, "size": len(data), "sha256": _sha(data)}
        assert zf.read("RADIO/modem.img") == (release / "images/modem.img").read_bytes()
    ota = (release / "ota-full.zip").read_bytes()
    assert info["outputs"]["ota-full.zip"]["sha256"] == _sha(ota)
    verified = run("ota", "verify", release / "ota-full.zip", "--key", workspace / "keys/releasekey.x509.pem")
    assert verified.exit_code == 0, verified.output
    applied = run("ota", "apply", release / "ota-full.zip", "--out", tmp_path / "applied")
    assert applied.exit_code == 0, applied.output
    for name in images:
        assert (tmp_path / "applied" / name).read_bytes() == (release / "images" / name).read_bytes()
    metadata = dict(line.split("=", 1) for line in zipfile.ZipFile(release / "ota-full.zip")
                    .read("META-INF/com/android/metadata").decode().splitlines())
    assert metadata["post-build"] == "Xiaomi/alioth/alioth:14/UQ1A.240205.004/1.0:user/release-keys"
    assert metadata["pre-device"] == "alioth" and metadata["post-timestamp"] == "1795737600"


def test_release_images_and_ota_are_reproducible(workspace: Path, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    ws = load_workspace(workspace)
    a = build(ws, BuildRequest("cepheus", "2.0", DATE, out=tmp_path / "a"))
    monkeypatch.delenv("ROMFORGE_CACHE_DIR")  # the second build makes everything itself
    b = build(ws, BuildRequest("cepheus", "2.0", DATE, out=tmp_path / "b"))
    for name in ["ota-full.zip"] + [f"images/{p.name}" for p in (a.release / "images").iterdir()]:
        assert (a.release / name).read_bytes() == (b.release / name).read_bytes(), name


def test_non_ab_device_gets_images_with_its_filesystems_but_no_payload_ota(workspace: Path, tmp_path: Path) -> None:
    from romforge.profile import DEFAULT_PROFILE_DIR, load_profile
    from romforge.samplerom import SampleSpec, generate

    # rosy is 32-bit only: its base must be too, or the ELF check (rightly) stops the build
    rosy_base = generate(tmp_path / "rosy-base", spec=SampleSpec.from_profile(load_profile("rosy", [DEFAULT_PROFILE_DIR])),
                         files=80, seed=3)
    result = build(load_workspace(workspace), BuildRequest("rosy", "1.0", DATE, base=rosy_base))
    assert not (result.release / "ota-full.zip").exists()
    assert result.build_info.outputs["images/odm.img"]["fs"] == "ext4"
    check = subprocess.run(["e2fsck", "-fn", str(result.release / "images/odm.img")], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout
    assert subprocess.run(["fsck.erofs", str(result.release / "images/system.img")]).returncode == 0


def test_missing_signing_key_stops_the_build_before_writing(run, workspace: Path) -> None:
    for key in (workspace / "keys").iterdir():
        key.unlink()
    result = run("build", "cepheus", "--version", "1", "--date", DATE, cwd=workspace)
    assert result.exit_code == 1, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("romforge: error:")]
    assert len(errors) == 1 and "keys/releasekey.pk8: OTA signing key not found" in errors[0]
    assert "romforge ota keygen" in result.output
    assert files_under(workspace / "releases") == []


def test_keygen_makes_a_named_test_key_and_never_overwrites(run, tmp_path: Path) -> None:
    result = run("ota", "keygen", tmp_path / "keys/dev")
    assert result.exit_code == 0 and "TEST key" in result.output
    subject = subprocess.run(["openssl", "x509", "-in", str(tmp_path / "keys/dev.x509.pem"), "-noout", "-subject"],
                             capture_output=True, text=True, check=True).stdout
    assert TEST_KEY_CN in subject
    modulus = subprocess.run(["openssl", "rsa", "-inform", "DER", "-in", str(tmp_path / "keys/dev.pk8"), "-noout",
                              "-text"], capture_output=True, text=True, check=True).stdout
    assert "Private-Key: (2048 bit" in modulus
    before = (tmp_path / "keys/dev.pk8").read_bytes()
    again = run("ota", "keygen", tmp_path / "keys/dev")
    assert again.exit_code == 1 and "already exists" in again.output
    assert (tmp_path / "keys/dev.pk8").read_bytes() == before


def test_committed_protobuf_modules_match_protoc(tmp_path: Path) -> None:
    proto = REPO / "romforge/ota/proto"
    for name in ("update_metadata", "ota_metadata", "puffin", "care_map"):
        subprocess.run(["protoc", f"--proto_path={proto}", f"--python_out={tmp_path}", str(proto / f"{name}.proto")],
                       check=True)
        assert (tmp_path / f"{name}_pb2.py").read_text() == (proto / f"{name}_pb2.py").read_text(), name


@pytest.mark.parametrize("args,words", [
    (["apply", "{tmp}/nothing.zip", "--out", "{tmp}/out"], "OTA package not found"),
    (["apply", "{tmp}/junk.zip", "--out", "{tmp}/out"], "not a readable zip"),
    (["info", "{tmp}/plain.zip"], "not an A/B OTA package: payload.bin is missing"),
    (["verify", "{tmp}/plain.zip", "--key", "{tmp}/nokey.pem"], "cannot read the key"),
    (["diff", "{tmp}/a", "{tmp}/b", "-o", "{tmp}/o.zip", "--key", "{tmp}/nokey"], "OTA signing key not found"),
    (["diff", "{tmp}/a", "{tmp}/b", "-o", "{tmp}/o.zip"], "no signing key given"),
])
def test_bad_input_to_ota_commands(run, tmp_path: Path, args: list[str], words: str) -> None:
    (tmp_path / "junk.zip").write_bytes(b"PK\x03\x04 this is not really a zip")
    with zipfile.ZipFile(tmp_path / "plain.zip", "w") as zf:
        zf.writestr("hello.txt", "hi")
    result = run("ota", *[a.format(tmp=tmp_path) for a in args], cwd=tmp_path)
    assert result.exit_code == 1, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("romforge: error:")]
    assert len(errors) == 1 and words in errors[0], result.output
    assert not (tmp_path / "out").exists() and not (tmp_path / "o.zip").exists()


def test_diff_refuses_builds_of_different_devices(run, sample_rom: Path, tmp_path: Path) -> None:
    from romforge.samplerom import SampleSpec, generate

    other = generate(tmp_path / "other", spec=SampleSpec(device="other_device"), files=60, seed=2)
    generate_test_key(tmp_path / "k")
    result = run("ota", "diff", sample_rom, other, "-o", tmp_path / "o.zip", "--key", tmp_path / "k")
    assert result.exit_code == 1
    assert "old build is for 'generic_arm64', new build for 'other_device'" in result.output
    assert not (tmp_path / "o.zip").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no partial files left


def test_incremental_between_two_released_target_files_zips(run, workspace: Path, tmp_path: Path) -> None:
    """The weekly train's path: `ota diff` of two releases' target-files.zip (images taken from IMAGES/)."""
    ws = load_workspace(workspace)
    week1 = build(ws, BuildRequest("cepheus", "2026.48.1", "2026-11-27"))
    week2 = build(ws, BuildRequest("cepheus", "2026.49.1", "2026-12-04"))
    out = tmp_path / "ota-from-2026.48.1.zip"
    result = run("ota", "diff", week1.target_files, week2.target_files, "-o", out, "--key", workspace / "keys/releasekey")
    assert result.exit_code == 0, result.output
    assert out.stat().st_size * 10 < (week2.release / "ota-full.zip").stat().st_size
    applied = run("ota", "apply", out, "--source", week1.release / "images", "--out", tmp_path / "applied",
                  "--key", workspace / "keys/releasekey.x509.pem")
    assert applied.exit_code == 0, applied.output
    for image in (week2.release / "images").iterdir():
        assert (tmp_path / "applied" / image.name).read_bytes() == image.read_bytes(), image.name
    metadata = dict(line.split("=", 1) for line in zipfile.ZipFile(out).read("META-INF/com/android/metadata")
                    .decode().splitlines())
    assert metadata["pre-build-incremental"] == "2026.48.1" and metadata["post-build-incremental"] == "2026.49.1"


def test_a_payload_naming_a_partition_outside_the_output_is_refused(run, tmp_path: Path) -> None:
    """A well-formed, consistently hashed payload whose partition name climbs out of --out."""
    from romforge.ota.keys import load_signing_key
    from romforge.ota.package import BuildState, OtaMetadata, write_ota_package
    from romforge.ota.payload import PartitionPlan, full_operations, write_payload

    generate_test_key(tmp_path / "k")
    key = load_signing_key(tmp_path / "k")
    image = tmp_path / "img"
    image.write_bytes(bytes(range(256)) * 32)
    plan = PartitionPlan("../escaped", 8192, hashlib.sha256(image.read_bytes()).digest(), full_operations(image))
    info = write_payload(tmp_path / "payload.bin", [plan], key, minor_version=0)
    (tmp_path / "w").mkdir()
    write_ota_package(tmp_path / "evil.zip", tmp_path / "payload.bin", info.properties(),
                      info.metadata_size + info.metadata_signature_size,
                      OtaMetadata(BuildState("dev", "fp", "1", 1)), key, workdir=tmp_path / "w")
    result = run("ota", "apply", tmp_path / "evil.zip", "--out", tmp_path / "out" / "inner")
    assert result.exit_code == 1
    assert "is not a plain partition name" in result.output
    assert not (tmp_path / "out").exists() and not (tmp_path / "escaped.img").exists()


def test_full_chunks_take_the_smallest_form_and_decompress_with_xz_and_bzip2(tmp_path: Path) -> None:
    """Text packs best with xz; data xz hardly shrinks is where bzip2 is tried (and wins here);
    random bytes stay REPLACE. The command-line tools read the operations back."""
    import random

    from romforge.ota.payload import BLOCK_SIZE, FULL_CHUNK_BLOCKS, Op, full_operations

    size = FULL_CHUNK_BLOCKS * BLOCK_SIZE
    rng = random.Random(7)
    text = "".join(f"ro.product.property.{i}=value {i}\n" for i in range(size // 20)).encode()[:size]
    symbols = bytes(rng.randrange(128) for _ in range(size))  # xz keeps ~89 %, bzip2 ~88 %
    noise = rng.randbytes(size)
    image = tmp_path / "odm.img"
    image.write_bytes(text + symbols + noise)
    ops = full_operations(image, jobs=1)
    assert [op.type for op in ops] == [Op.REPLACE_XZ, Op.REPLACE_BZ, Op.REPLACE]
    tool = {Op.REPLACE_XZ: ["xz", "-dc"], Op.REPLACE_BZ: ["bzip2", "-dc"]}
    for op, expected in zip(ops[:2], (text, symbols)):
        assert subprocess.run(tool[op.type], input=op.data, capture_output=True, check=True).stdout == expected
    assert ops[2].data == noise

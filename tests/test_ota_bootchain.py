"""The whole boot chain in every OTA, read back by the independent payload reader of
tests/independent_ota.py: every ab_partitions.txt partition, the kernel change of a week diffed
and the rest copied, the source's minor version, postinstall, security_patch_level, care_map.pb."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import pytest

from conftest import files_under
from independent_ota import _get, read_payload_from_zip, wire_fields
from romforge.avb import add_hashtree_footer
from romforge.errors import InputError
from romforge.ota.generate import ota_from_target_files, write_ota, build_state
from romforge.ota.keys import load_signing_key
from romforge.ota.proto import care_map_pb2
from romforge.samplerom import mutate_week
from romforge.tree import RomTree

SOURCE_COPY, ZERO, REPLACE_OPS = 4, 6, {0, 1, 8}  # update_metadata.proto InstallOperation types


@pytest.fixture(scope="module")
def week2(sample_rom: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample ROM a week later, with a recompiled kernel in boot.img."""
    return mutate_week(sample_rom, tmp_path_factory.mktemp("week2") / "week2", edits=20, adds=4, removes=2,
                       moves=2, kernel=True)


@pytest.fixture(scope="module")
def otas(sample_rom: Path, week2: Path, ota_test_key: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("otas")
    key = load_signing_key(ota_test_key)
    full = ota_from_target_files(sample_rom, out / "full.zip", key).path
    incremental = ota_from_target_files(week2, out / "incremental.zip", key, old=sample_rom).path
    return {"full": full, "incremental": incremental, "key": key}


def _manifest(ota: Path) -> list:
    return read_payload_from_zip(ota).manifest_fields


def test_full_ota_holds_every_ab_partition(run, sample_rom: Path, otas: dict) -> None:
    listed = RomTree.open(sample_rom).ab_partitions()
    info = run("ota", "info", otas["full"], "--json")
    assert info.exit_code == 0, info.output
    assert sorted(p["name"] for p in json.loads(info.output)["partitions"]) == sorted(listed)
    payload = read_payload_from_zip(otas["full"])
    by_name = {p.name: p for p in payload.partitions}
    for name in ("boot", "init_boot", "vendor_boot", "dtbo", "vbmeta", "vbmeta_system"):
        assert by_name[name].new_size == (sample_rom / f"IMAGES/{name}.img").stat().st_size
    assert by_name["modem"].new_size == (sample_rom / "RADIO/modem.img").stat().st_size
    groups = wire_fields(_get(_manifest(otas["full"]), 15)[0])
    [group] = [wire_fields(g) for g in _get(groups, 1)]
    assert _get(group, 1)[0] == b"qti_dynamic_partitions"
    members = {m.decode() for m in _get(group, 3)}
    assert members == {"system", "system_ext", "product", "vendor", "odm"}, "boot chain is not in super"


def test_full_ota_applies_the_boot_chain_bit_exact(run, sample_rom: Path, otas: dict, tmp_path: Path) -> None:
    applied = run("ota", "apply", otas["full"], "--out", tmp_path / "slot")
    assert applied.exit_code == 0, applied.output
    for name in ("boot", "init_boot", "vendor_boot", "dtbo", "vbmeta", "vbmeta_system"):
        assert (tmp_path / "slot" / f"{name}.img").read_bytes() == (sample_rom / f"IMAGES/{name}.img").read_bytes()
    assert (tmp_path / "slot/modem.img").read_bytes() == (sample_rom / "RADIO/modem.img").read_bytes()


def test_incremental_diffs_the_changed_kernel_and_copies_the_rest(sample_rom: Path, week2: Path, otas: dict,
                                                                  run, tmp_path: Path) -> None:
    assert (week2 / "IMAGES/boot.img").read_bytes() != (sample_rom / "IMAGES/boot.img").read_bytes()
    payload = read_payload_from_zip(otas["incremental"])
    by_name = {p.name: p for p in payload.partitions}
    boot_ops = {op.type for op in by_name["boot"].ops}
    assert boot_ops - {SOURCE_COPY}, "the changed kernel is diffed"
    assert not boot_ops & REPLACE_OPS, "a changed boot image is diffed against the old one, not replaced"
    for unchanged in ("init_boot", "vendor_boot", "dtbo", "modem"):  # copied (zero blocks: ZERO), no data
        ops = by_name[unchanged].ops
        assert SOURCE_COPY in {op.type for op in ops} and {op.type for op in ops} <= {SOURCE_COPY, ZERO}, unchanged
        assert not any(op.data_length for op in ops), unchanged
    verified = run("ota", "verify", otas["incremental"], "--key", otas["key"].cert)
    assert verified.exit_code == 0, verified.output
    full = run("ota", "apply", otas["full"], "--out", tmp_path / "old-slot")
    assert full.exit_code == 0
    applied = run("ota", "apply", otas["incremental"], "--source", tmp_path / "old-slot", "--out", tmp_path / "new")
    assert applied.exit_code == 0, applied.output
    assert (tmp_path / "new/boot.img").read_bytes() == (week2 / "IMAGES/boot.img").read_bytes()
    assert (tmp_path / "new/vbmeta.img").read_bytes() == (week2 / "IMAGES/vbmeta.img").read_bytes()


def test_minor_version_postinstall_and_patch_level(otas: dict) -> None:
    full, incremental = _manifest(otas["full"]), _manifest(otas["incremental"])
    assert _get(full, 12) == [] or _get(full, 12) == [0]
    assert _get(incremental, 12) == [7], "the source says 8; romforge writes up to 7"
    for manifest in (full, incremental):
        assert _get(manifest, 18) == [b"2025-11-01"]
        system = next(wire_fields(p) for p in _get(manifest, 13) if _get(wire_fields(p), 1) == [b"system"])
        assert _get(system, 2) == [1] and _get(system, 3) == [b"system/bin/otapreopt_script"]
        assert _get(system, 4) == [b"erofs"] and _get(system, 9) == [1]
        others = [wire_fields(p) for p in _get(manifest, 13) if _get(wire_fields(p), 1) != [b"system"]]
        assert all(not _get(p, 2) for p in others)


def test_minor_version_comes_from_the_source(sample_rom: Path, week2: Path, ota_test_key: Path,
                                             tmp_path: Path) -> None:
    old = shutil.copytree(sample_rom, tmp_path / "old", symlinks=True)
    (old / "META/update_engine_config.txt").write_text("PAYLOAD_MAJOR_VERSION=2\nPAYLOAD_MINOR_VERSION=6\n")
    ota = ota_from_target_files(week2, tmp_path / "six.zip", load_signing_key(ota_test_key), old=old).path
    assert _get(_manifest(ota), 12) == [6]
    (old / "META/update_engine_config.txt").write_text("PAYLOAD_MAJOR_VERSION=2\nPAYLOAD_MINOR_VERSION=seven\n")
    with pytest.raises(InputError) as err:
        ota_from_target_files(week2, tmp_path / "bad.zip", load_signing_key(ota_test_key), old=old)
    assert err.value.file.endswith("META/update_engine_config.txt") and err.value.line == 2
    assert not (tmp_path / "bad.zip").exists()


def test_care_map_from_hashtree_footers(sample_rom: Path, ota_test_key: Path, tmp_path: Path, run) -> None:
    """With hashtree footers on the filesystem images (what the build's AVB step adds), care_map.pb
    names each with its data blocks, STORED and listed in the property files."""
    from romforge.ota.generate import target_images
    from romforge.ota.bootchain import ota_partitions
    from romforge.ota.caremap import care_map

    tree = RomTree.open(sample_rom)
    names = ota_partitions(tree)
    images = target_images(tree, names, tmp_path / "images")
    sizes = {}
    for name in ("system", "vendor"):
        sizes[name] = images[name].stat().st_size
        add_hashtree_footer(images[name], partition_name=name, salt=bytes(32))
    key = load_signing_key(ota_test_key)
    out = write_ota(tmp_path / "ota.zip", key, images, build_state(tree, names), workdir=tmp_path,
                    care_map=care_map(tree, images)).path
    with zipfile.ZipFile(out) as zf:
        info = zf.getinfo("care_map.pb")
        assert info.compress_type == zipfile.ZIP_STORED
        parsed = care_map_pb2.CareMap.FromString(zf.read("care_map.pb"))
        metadata = zf.read("META-INF/com/android/metadata").decode()
    assert [p.name for p in parsed.partitions] == ["system", "vendor"]
    for entry in parsed.partitions:
        assert entry.ranges == f"2,0,{-(-sizes[entry.name] // 4096)}"
        assert entry.id == f"ro.{entry.name}.build.fingerprint" and entry.fingerprint.startswith("romforge/")
    assert "care_map.pb:" in metadata
    verified = run("ota", "verify", out, "--key", key.cert)
    assert verified.exit_code == 0, verified.output


def test_no_care_map_without_hashtrees(otas: dict) -> None:
    with zipfile.ZipFile(otas["full"]) as zf:
        assert "care_map.pb" not in zf.namelist()


def test_a_listed_partition_that_exists_nowhere(run, sample_rom: Path, tmp_path: Path, ota_test_key: Path) -> None:
    base = shutil.copytree(sample_rom, tmp_path / "base", symlinks=True)
    (base / "IMAGES/dtbo.img").unlink()
    result = run("ota", "full", base, "-o", tmp_path / "out/ota.zip", "--key", ota_test_key)
    assert result.exit_code == 1
    assert "META/ab_partitions.txt" in result.output and "dtbo" in result.output
    assert "Traceback" not in result.output and files_under(tmp_path / "out") == []


def test_a_boot_image_larger_than_its_partition(run, sample_rom: Path, tmp_path: Path, ota_test_key: Path) -> None:
    base = shutil.copytree(sample_rom, tmp_path / "base", symlinks=True)
    misc = (base / "META/misc_info.txt").read_text().replace("boot_size=1048576", "boot_size=524288")
    (base / "META/misc_info.txt").write_text(misc)
    result = run("ota", "full", base, "-o", tmp_path / "out/ota.zip", "--key", ota_test_key)
    assert result.exit_code == 1
    assert "IMAGES/boot.img" in result.output and "boot_size=524288" in result.output
    assert files_under(tmp_path / "out") == []


def test_a_build_refuses_a_missing_boot_image_while_planning(run, workspace: Path, sample_rom: Path,
                                                              tmp_path: Path) -> None:
    base = shutil.copytree(sample_rom, tmp_path / "base", symlinks=True)
    (base / "RADIO/modem.img").unlink()
    config = workspace / "romforge.toml"
    config.write_text(config.read_text().replace(str(sample_rom), str(base)))
    result = run("build", "alioth", "--version", "1.0", "--date", "2026-11-27", "--workspace", workspace)
    assert result.exit_code == 1, result.output
    assert "META/ab_partitions.txt" in result.output and "modem" in result.output
    assert "Traceback" not in result.output
    assert files_under(workspace / "releases") == []

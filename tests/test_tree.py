from __future__ import annotations

import os
import stat
import subprocess
import zipfile
from pathlib import Path

import pytest

from conftest import tree_snapshot
from romforge.errors import InputError
from romforge.tree import (FileMeta, RomTree, ZIP_DATE, clean_path, materialize, parse_fs_config, stage,
                           write_target_files)


def test_directory_target_files_reads_metadata(sample_rom: Path) -> None:
    tree = RomTree.open(sample_rom)
    assert tree.partitions() == ["system", "vendor", "product", "system_ext", "odm", "root"]  # ROOT/: system-as-root
    sh = tree.get("system", "bin/sh")
    assert sh.kind == "symlink" and sh.link_target == "toybox"
    bt = next(e for e in tree.iter_entries("vendor") if "bluetooth" in e.path and e.path.startswith("bin/hw/"))
    assert bt.meta.capabilities == (1 << 12) | (1 << 13)
    assert bt.meta.uid == 1000 and bt.meta.gid == 2000 and bt.meta.mode == 0o755
    assert bt.meta.selabel == "u:object_r:hal_bluetooth_default_exec:s0"
    assert tree.get("system", "bin").meta.mode == 0o751
    assert tree.get("system", "vendor").link_target == "/vendor"
    assert tree.build_prop("product").get("ro.product.locale") == "en-US"
    assert tree.misc_info()["blocksize"] == "4096"


def test_zip_round_trip_reads_back_with_zipfile_and_unzip(sample_rom: Path, tmp_path: Path) -> None:
    tree = RomTree.open(sample_rom)
    out = tmp_path / "tf.zip"
    write_target_files(tree, out)
    check = subprocess.run(["unzip", "-tq", str(out)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    with zipfile.ZipFile(out) as zf:
        infos = zf.infolist()
        names = [i.filename for i in infos]
        assert names == sorted(names)
        assert all(i.date_time == ZIP_DATE for i in infos)
        fs_config = zf.read("META/filesystem_config.txt").decode()
        assert zf.read("SYSTEM/build.prop") == (sample_rom / "SYSTEM/build.prop").read_bytes()
        link = zf.getinfo("SYSTEM/bin/sh")
        assert stat.S_ISLNK(link.external_attr >> 16) and zf.read(link) == b"toybox"
        apk = zf.getinfo("SYSTEM/app/Jelly/Jelly.apk")
        assert apk.compress_type == zipfile.ZIP_STORED
    # fs_config round-trips exactly: written by romforge, parsed back, equal to the source tree's
    original = (sample_rom / "META/filesystem_config.txt").read_text()
    assert parse_fs_config(fs_config, source="a") == parse_fs_config(original, source="a")
    again = RomTree.open(out)
    assert again.entries == tree.entries
    assert again.content_digest() == tree.content_digest()
    # unzip (a different reader) recreates the symlinks and the bytes
    extracted = tmp_path / "x"
    subprocess.run(["unzip", "-q", str(out), "-d", str(extracted)], check=True)
    assert os.readlink(extracted / "SYSTEM/bin/sh") == "toybox"
    assert (extracted / "VENDOR/build.prop").read_bytes() == (sample_rom / "VENDOR/build.prop").read_bytes()


def test_zip_writing_is_deterministic(sample_rom: Path, tmp_path: Path) -> None:
    tree = RomTree.open(sample_rom)
    write_target_files(tree, tmp_path / "a.zip")
    write_target_files(RomTree.open(sample_rom), tmp_path / "b.zip")
    assert (tmp_path / "a.zip").read_bytes() == (tmp_path / "b.zip").read_bytes()


def test_staged_writes_never_touch_the_base(sample_rom: Path, tmp_path: Path) -> None:
    before = tree_snapshot(sample_rom)
    base = RomTree.open(sample_rom)
    tree = stage(base, tmp_path / "work")
    prop = tree.build_prop("system")
    prop.set("ro.romforge.test", "1")
    tree.write_build_prop("system", prop)
    tree.write_file("product", "etc/new/feature.xml", b"<x/>")
    tree.remove("system", "app/Recorder")
    tree.write_symlink("system", "bin/cat", "/system/bin/other")
    tree.set_meta("system", "bin/toybox", FileMeta(0, 0, 0o700, "u:object_r:toolbox_exec:s0", 0))
    assert tree.get("product", "etc/new").kind == "dir"
    assert tree.read("product", "etc/new/feature.xml") == b"<x/>"
    assert tree.get("system", "app/Recorder/Recorder.apk") is None
    assert tree.build_prop("system").get("ro.romforge.test") == "1"
    assert base.build_prop("system").get("ro.romforge.test") is None
    assert tree.changed_files() == ["PRODUCT/etc/new/feature.xml", "SYSTEM/build.prop"]
    write_target_files(tree, tmp_path / "out.zip")
    assert tree_snapshot(sample_rom) == before
    out = RomTree.open(tmp_path / "out.zip")
    assert out.get("system", "bin/toybox").meta.mode == 0o700
    assert out.get("system", "bin/cat").link_target == "/system/bin/other"
    assert out.get("system", "app/Recorder") is None
    assert out.get("product", "etc/new/feature.xml").meta.selabel == "u:object_r:system_file:s0"


def test_base_tree_refuses_writes(sample_rom: Path) -> None:
    base = RomTree.open(sample_rom)
    with pytest.raises(PermissionError):
        base.write_file("system", "x", b"")


def test_materialize_hardlinks_unchanged_files(sample_rom: Path, tmp_path: Path) -> None:
    tree = stage(RomTree.open(sample_rom), tmp_path / "work")
    tree.write_file("system", "etc/changed.txt", b"new")
    stats = materialize(tree, tmp_path / "real")
    real = tmp_path / "real"
    assert stats.linked > 100
    assert os.stat(real / "SYSTEM/build.prop").st_ino == os.stat(sample_rom / "SYSTEM/build.prop").st_ino
    assert (real / "SYSTEM/etc/changed.txt").read_bytes() == b"new"
    assert os.readlink(real / "SYSTEM/bin/sh") == "toybox"
    assert RomTree.open(real).entries == tree.entries


@pytest.mark.parametrize("bad", ["../x", "/abs", "a/../../b", "a\\b", "", "a\0b"])
def test_clean_path_rejects_escapes(bad: str) -> None:
    with pytest.raises(ValueError):
        clean_path(bad)


@pytest.mark.parametrize("member", ["../evil", "/etc/passwd", "SYSTEM/../../x", "SYSTEM\\..\\x"])
def test_hostile_zip_member_names_are_rejected(tmp_path: Path, member: str) -> None:
    path = tmp_path / "evil.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("SYSTEM/build.prop", "a=1\n")
        zf.writestr(member, "boom")
    with pytest.raises(InputError) as err:
        RomTree.open(path)
    assert "unsafe archive entry" in err.value.message and err.value.file.endswith("evil.zip")


def test_fs_config_naming_a_missing_file_is_reported_with_line(tmp_path: Path) -> None:
    root = tmp_path / "tf"
    (root / "SYSTEM").mkdir(parents=True)
    (root / "META").mkdir()
    (root / "SYSTEM/build.prop").write_text("a=1\n")
    (root / "META/filesystem_config.txt").write_text(
        "system 0 0 755\nsystem/build.prop 0 0 644\nsystem/bin/ghost 0 2000 755\n")
    with pytest.raises(InputError) as err:
        RomTree.open(root)
    assert err.value.line == 3 and "system/bin/ghost" in err.value.message


@pytest.mark.parametrize("line", ["system/x 0 0", "system/x a 0 644", "system/x 0 0 999999",
                                  "system/x 0 0 644 bogus=1"])
def test_bad_fs_config_lines(line: str) -> None:
    with pytest.raises(InputError) as err:
        parse_fs_config(f"system 0 0 755\n{line}\n", source="META/filesystem_config.txt")
    assert err.value.line == 2


def test_missing_base_and_non_rom_inputs(tmp_path: Path) -> None:
    with pytest.raises(InputError) as err:
        RomTree.open(tmp_path / "nope")
    assert "not found" in err.value.message
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"not a zip")
    with pytest.raises(InputError):
        RomTree.open(junk)


def test_zip_entry_below_a_symlink_is_rejected(tmp_path: Path) -> None:
    """SYSTEM/etc is a symlink to /etc; SYSTEM/etc/passwd would be written through it when materialized."""
    path = tmp_path / "evil.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("SYSTEM/build.prop", "a=1\n")
        link = zipfile.ZipInfo("SYSTEM/etc")
        link.create_system = 3
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(link, "/etc")
        zf.writestr("SYSTEM/etc/passwd", "root::0:0")
    with pytest.raises(InputError) as err:
        RomTree.open(path)
    assert "lies below 'SYSTEM/etc', which is a symlink" in err.value.message

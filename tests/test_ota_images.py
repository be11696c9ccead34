"""Partition images: real mkfs.erofs / mke2fs output, read back with other tools."""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import pytest

from conftest import tree_snapshot
from romforge.ota.erofs import read_erofs
from romforge.ota.images import build_image, build_images, capability_xattr, file_map
from romforge.tree import FILE, RomTree

BT_HAL = "bin/hw/android.hardware.bluetooth-service.qti"


@pytest.fixture(scope="module")
def images(sample_rom: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("images")
    tree = RomTree.open(sample_rom)
    return build_images(tree, {"system": "erofs", "vendor": "erofs", "odm": "ext4"}, out / "img", workdir=out / "w")


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), capture_output=True, text=True)


def test_erofs_images_are_fsck_clean_and_hold_every_file(images: dict, sample_rom: Path, tmp_path: Path) -> None:
    tree = RomTree.open(sample_rom)
    for name in ("system", "vendor"):
        check = _run("fsck.erofs", str(images[name].path))
        assert check.returncode == 0, check.stderr
        extracted = tmp_path / name
        out = _run("fsck.erofs", f"--extract={extracted}", "--no-preserve", str(images[name].path))
        assert out.returncode == 0, out.stderr
        prefix = "system/" if name == "system" else ""  # system-as-root: SYSTEM/ is under /system
        for e in tree.iter_entries(name):
            target = extracted / f"{prefix}{e.path}"
            if e.kind == FILE:
                assert target.read_bytes() == tree.read(name, e.path), e.path
            elif e.kind == "symlink":
                assert str(target.readlink()) == e.link_target


def test_system_as_root_image_holds_root_and_system_under_it(images: dict, sample_rom: Path,
                                                              tmp_path: Path) -> None:
    """Acceptance: fsck.erofs --extract of system.img holds /system/bin/init and ROOT/'s layout,
    with the owners, modes and labels root_filesystem_config.txt and filesystem_config.txt give."""
    tree = RomTree.open(sample_rom)
    extracted = tmp_path / "system"
    out = _run("fsck.erofs", f"--extract={extracted}", "--no-preserve", str(images["system"].path))
    assert out.returncode == 0, out.stderr
    assert (extracted / "system/bin/init").read_bytes() == tree.read("system", "bin/init")
    assert str((extracted / "init").readlink()) == "/system/bin/init"
    roots = list(tree.iter_entries("root"))
    assert len(roots) > 20
    for e in roots:
        if not e.path:
            continue
        target = extracted / e.path
        if e.kind == "symlink":
            assert str(target.readlink()) == e.link_target, e.path
        else:
            assert target.is_dir() and not target.is_symlink(), e.path
    assert sorted(p.name for p in extracted.iterdir()) == sorted(e.path for e in roots if e.path)
    image = read_erofs(images["system"].path)
    for path, e in (("system/bin/init", tree.get("system", "bin/init")), ("init", tree.get("root", "init")),
                    ("acct", tree.get("root", "acct")), ("system", tree.get("system", ""))):
        inode = image.inodes[path]
        assert (inode.uid, inode.gid) == (e.meta.uid, e.meta.gid), path
        assert inode.xattrs["security.selinux"] == e.meta.selabel.encode() + b"\0", path
    assert image.inodes["system/bin/init"].mode & 0o7777 == 0o750
    dump = _run("dump.erofs", "--path=/system/bin/init", str(images["system"].path)).stdout  # another reader
    assert re.search(r"Uid: 0\s+Gid: 2000\s+Access: 0750", dump), dump


def test_erofs_owner_mode_label_and_capabilities_come_from_fs_config(images: dict, sample_rom: Path) -> None:
    tree = RomTree.open(sample_rom)
    hal = tree.get("vendor", BT_HAL)
    assert hal.meta.uid == 1000 and hal.meta.capabilities  # the sample ROM's bluetooth HAL
    dump = _run("dump.erofs", f"--path=/{BT_HAL}", str(images["vendor"].path)).stdout  # another reader
    assert re.search(r"Uid: 1000\s+Gid: 2000\s+Access: 0755", dump), dump
    assert "Timestamp: 2009-01-01 00:00:00" in dump
    image = read_erofs(images["vendor"].path)
    for e in tree.iter_entries("vendor"):
        inode = image.inodes[e.path]
        assert (inode.uid, inode.gid) == (e.meta.uid, e.meta.gid), e.path
        if e.kind != "symlink":
            assert inode.mode & 0o7777 == e.meta.mode, e.path
        assert inode.xattrs["security.selinux"] == e.meta.selabel.encode() + b"\0", e.path
    caps = image.inodes[BT_HAL].xattrs["security.capability"]
    assert caps == capability_xattr(hal.meta.capabilities)
    assert int.from_bytes(caps[4:8], "little") == (1 << 12) | (1 << 13)  # CAP_NET_ADMIN | CAP_NET_RAW
    assert "security.capability" not in image.inodes["build.prop"].xattrs


def test_ext4_image_is_e2fsck_clean_with_owners_and_xattrs(images: dict, sample_rom: Path) -> None:
    path = images["odm"].path
    check = _run("e2fsck", "-fn", str(path))
    assert check.returncode == 0, check.stdout + check.stderr
    tree = RomTree.open(sample_rom)
    e = tree.get("odm", "etc/build.prop")
    stat = _run("debugfs", "-R", "stat /etc/build.prop", str(path)).stdout
    assert re.search(r"User:\s+0\s+Group:\s+0", stat) and "Mode:  0644" in stat
    assert "ctime: 0x495c0780" in stat and "mtime: 0x495c0780" in stat
    xattrs = _run("debugfs", "-R", "ea_list /etc/build.prop", str(path)).stdout
    assert f"security.selinux ({len(e.meta.selabel) + 1}) = \"{e.meta.selabel}\\000\"" in xattrs, xattrs


@pytest.mark.parametrize("partition", ["system", "odm"])
def test_file_map_points_at_each_files_bytes(images: dict, sample_rom: Path, partition: str) -> None:
    tree = RomTree.open(sample_rom)
    data = images[partition].path.read_bytes()
    mapping = file_map(images[partition].path)
    assert len(mapping) > 5
    for path, extents in mapping.items():
        blocks = b"".join(data[s * 4096:(s + n) * 4096] for s, n in extents)
        if partition == "system":  # system-as-root: ROOT/ holds no regular files, SYSTEM/ is under /system
            assert path.startswith("system/"), path
            path = path.removeprefix("system/")
        content = tree.read(partition, path)
        assert blocks[:len(content)] == content[:len(blocks)], path
        assert len(blocks) >= len(content) - 4095


@pytest.mark.parametrize("fs", ["erofs", "ext4"])
def test_same_tree_gives_identical_images(sample_rom: Path, tmp_path: Path, fs: str) -> None:
    tree = RomTree.open(sample_rom)
    first = build_image(tree, "product", fs, tmp_path / "a.img", workdir=tmp_path)
    time.sleep(1.1)  # a later second: copies get new ctimes, which must not reach the image
    second = build_image(RomTree.open(sample_rom), "product", fs, tmp_path / "b.img", workdir=tmp_path)
    assert first.sha256 == second.sha256
    assert (tmp_path / "a.img").read_bytes() == (tmp_path / "b.img").read_bytes()


def test_building_images_leaves_the_base_rom_untouched(sample_rom: Path, tmp_path: Path) -> None:
    before = tree_snapshot(sample_rom)
    build_images(RomTree.open(sample_rom), {"vendor": "erofs"}, tmp_path / "img", workdir=tmp_path / "w")
    assert tree_snapshot(sample_rom) == before


def test_a_file_below_a_symlink_is_refused_not_followed(tmp_path: Path) -> None:
    """A hostile target-files zip with SYSTEM/evil -> /tmp-like dir and SYSTEM/evil/x must not write through."""
    import zipfile

    from romforge.errors import InputError

    victim = tmp_path / "victim"
    victim.mkdir()
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(bad, "w") as zf:
        zf.writestr("SYSTEM/build.prop", "ro.build.id=x\n")
        link = zipfile.ZipInfo("SYSTEM/evil")
        link.create_system = 3
        link.external_attr = 0o120777 << 16
        zf.writestr(link, str(victim))
        zf.writestr("SYSTEM/evil/planted", "gotcha")
    # refused as soon as the base is opened, before any image step could follow the link
    with pytest.raises(InputError, match="lies below 'SYSTEM/evil', which is a symlink"):
        RomTree.open(bad)
    assert list(victim.iterdir()) == []
    assert not (tmp_path / "system.img").exists()


def test_erofs_reader_refuses_a_directory_loop(images: dict) -> None:
    """A hostile image whose directory points back at the root must end in one clear error."""
    import struct

    from romforge.errors import InputError

    data = bytearray(images["vendor"].path.read_bytes())
    image = read_erofs(bytes(data))
    root, etc = image.inodes[""], image.inodes["etc"]
    if root.blocks:  # the root's dirents: in its own block, or inline after its inode
        where = root.blocks[0][0] * 4096
    else:
        where = image.meta_blkaddr * 4096 + root.nid * 32
    at = bytes(data[where:where + 8192]).index(struct.pack("<QH", etc.nid, 0)[:8]) + where
    data[at:at + 8] = struct.pack("<Q", root.nid)
    with pytest.raises(InputError, match="linked twice"):
        read_erofs(bytes(data), source="hostile.img")


def test_erofs_reader_reads_a_file_as_it_reads_bytes_and_refuses_a_cut_image(images: dict, tmp_path: Path) -> None:
    """The file reader (pread, cached pieces) sees what the in-memory reader sees; an image cut
    inside its metadata is one clear error naming the file, not a short read parsed as zeros."""
    from romforge.errors import InputError

    path = images["system"].path
    data = path.read_bytes()
    from_file, from_bytes = read_erofs(path), read_erofs(data)
    assert from_file == from_bytes
    assert len(from_file.inodes) > 20
    last = max(inode.nid for inode in from_file.inodes.values())
    cut = tmp_path / "cut.img"
    cut.write_bytes(data[:from_file.meta_blkaddr * from_file.block_size + last * 32 + 16])
    with pytest.raises(InputError, match="not a readable erofs image") as caught:
        read_erofs(cut)
    assert caught.value.file == str(cut)

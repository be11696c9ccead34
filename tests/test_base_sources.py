"""`romforge base import` from folders of images real tools made: a system-as-root erofs with
labels and capabilities (mkfs.erofs under fakeroot), a boot image (mkbootimg) with an AVB hash
footer and a vbmeta over it, a firmware blob, ext4 next to erofs; and every kind of bad input."""

from __future__ import annotations

import json
import os
import random
import shutil
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from romforge.ota.images import build_image
from romforge.tree import RomTree
from romforge.tree.meta import parse_fs_config

LABEL = "u:object_r:system_file:s0"
SETUP = """
import json, os, subprocess, sys
job = json.load(open(sys.argv[1]))
for rel, uid, gid, mode, label, caps in job["entries"]:
    path = os.path.join(job["root"], rel) if rel else job["root"]
    os.lchown(path, uid, gid)
    if mode is not None:
        os.chmod(path, mode)
    if label:
        os.setxattr(path, "security.selinux", label.encode() + b"\\0", follow_symlinks=False)
    if caps:
        os.setxattr(path, "security.capability", bytes.fromhex(caps), follow_symlinks=False)
subprocess.run(job["command"], check=True)
"""


def _erofs(root: Path, out: Path, entries: list) -> None:
    """mkfs.erofs over `root`, with owners, modes and xattrs faked by fakeroot."""
    job = out.parent / f"{out.name}.job.json"
    job.write_text(json.dumps({"root": str(root), "entries": entries,
                               "command": ["mkfs.erofs", "--quiet", "-T", "1230768000", str(out), str(root)]}))
    subprocess.run(["fakeroot", "--", sys.executable, "-c", SETUP, str(job)], check=True)


def _caps(value: int) -> str:  # struct vfs_cap_data revision 2, effective
    return struct.pack("<IIIII", 0x02000001, value & 0xFFFFFFFF, 0, value >> 32, 0).hex()


@pytest.fixture
def stock_folder(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    (root / "system/bin").mkdir(parents=True)
    (root / "system/build.prop").write_text("ro.build.fingerprint=vendor/stock/phone:14/UQ1A/1:user/release-keys\n")
    (root / "system/bin/sh").write_bytes(b"\x7fELF" + bytes(100))
    (root / "init").write_bytes(b"\x7fELF init")
    (root / "bin").symlink_to("/system/bin")
    (root / "unlabelled.txt").write_text("no label here\n")
    (root / "q7").write_text("a file a hostile image renames to '..'\n")
    entries = [["", 0, 0, 0o755, "u:object_r:rootfs:s0", None], ["init", 0, 2000, 0o750, "u:object_r:init_exec:s0", None],
               ["bin", 0, 0, None, "u:object_r:rootfs:s0", None], ["unlabelled.txt", 0, 0, 0o644, None, None],
               ["q7", 0, 0, 0o644, LABEL, None],
               ["system", 0, 0, 0o755, LABEL, None], ["system/build.prop", 0, 0, 0o600, LABEL, None],
               ["system/bin", 0, 2000, 0o751, LABEL, None],
               ["system/bin/sh", 0, 2000, 0o755, "u:object_r:shell_exec:s0", _caps(1 << 7 | 1 << 33)]]
    images = tmp_path / "stock"
    images.mkdir()
    _erofs(root, images / "system.img", entries)
    (tmp_path / "kernel").write_bytes(bytes(random.Random(1).getrandbits(8) for _ in range(8192)))
    (tmp_path / "ramdisk").write_bytes(b"070701" + bytes(200))
    subprocess.run(["mkbootimg", "--kernel", str(tmp_path / "kernel"), "--ramdisk", str(tmp_path / "ramdisk"),
                    "--header_version", "1", "--os_version", "14.0.0", "--os_patch_level", "2026-11",
                    "--output", str(images / "boot.img")], check=True)
    return images


def _avb(run, images: Path) -> None:
    result = run("avb", "add-hash-footer", images / "boot.img", "--partition-name", "boot", "--salt", "ab" * 16,
                 "--partition-size", str(1 << 20))
    assert result.exit_code == 0, result.output
    result = run("avb", "make-vbmeta", "-o", images / "vbmeta.img", "--rollback-index", "3",
                 "--include-descriptors-from-image", images / "boot.img")
    assert result.exit_code == 0, result.output


def test_a_system_as_root_image_splits_into_root_and_system_with_labels_and_capabilities(run, stock_folder: Path,
                                                                                          tmp_path: Path) -> None:
    _avb(run, stock_folder)
    (stock_folder / "modem.img").write_bytes(bytes(random.Random(2).getrandbits(8) for _ in range(16384)))
    out = tmp_path / "base"
    result = run("base", "import", stock_folder, "-o", out, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["partitions"]["system"] == "erofs, system-as-root: ROOT/ + SYSTEM/"
    assert any("/unlabelled.txt" in item and "security.selinux" in item for item in report["unrecovered"])
    assert (out / "ROOT/init").read_bytes() == b"\x7fELF init"
    assert (out / "ROOT/bin").is_symlink() and os.readlink(out / "ROOT/bin") == "/system/bin"  # kept, not followed
    assert (out / "ROOT/system").is_dir() and not any((out / "ROOT/system").iterdir())
    assert (out / "SYSTEM/build.prop").read_text().startswith("ro.build.fingerprint=vendor/stock")
    root_cfg = (out / "META/root_filesystem_config.txt").read_text()
    assert root_cfg.startswith(" 0 0 755 selabel=u:object_r:rootfs:s0 capabilities=0x0\n")  # AOSP: "" is the root
    parsed = parse_fs_config(root_cfg, source="root_filesystem_config.txt")
    assert parsed[""][0].selabel == "u:object_r:rootfs:s0" and parsed["init"][0].gid == 2000
    assert parsed["init"][0].mode == 0o750 and parsed["unlabelled.txt"][0].selabel is None
    system = parse_fs_config((out / "META/filesystem_config.txt").read_text(), source="filesystem_config.txt")
    sh = system["system/bin/sh"][0]
    assert (sh.uid, sh.gid, sh.mode, sh.selabel, sh.capabilities) == (0, 2000, 0o755, "u:object_r:shell_exec:s0",
                                                                       1 << 7 | 1 << 33)
    assert system["system/build.prop"][0].mode == 0o600
    for name in ("boot", "vbmeta"):
        assert (out / f"IMAGES/{name}.img").read_bytes() == (stock_folder / f"{name}.img").read_bytes()
    assert (out / "RADIO/modem.img").read_bytes() == (stock_folder / "modem.img").read_bytes()
    assert (out / "META/ab_partitions.txt").read_text() == "boot\nmodem\nsystem\nvbmeta\n"
    misc = dict(line.split("=", 1) for line in (out / "META/misc_info.txt").read_text().splitlines())
    assert misc["avb_enable"] == "true" and misc["avb_vbmeta_rollback_index"] == "3"
    assert misc["avb_vbmeta_algorithm"].startswith("SHA256_RSA") and misc["system_fs_type"] == "erofs"
    tree = RomTree.open(out)  # romforge reads what it wrote
    assert tree.get("system", "bin/sh").meta.capabilities == 1 << 7 | 1 << 33
    assert tree.get("root", "init").kind == "file" and tree.get("root", "init").meta.gid == 2000  # ROOT/ is the root partition


def test_ext4_and_erofs_images_of_one_partition_import_alike(run, sample_rom: Path, tmp_path: Path) -> None:
    tree = RomTree.open(sample_rom)
    for fs in ("erofs", "ext4"):
        folder = tmp_path / fs
        folder.mkdir()
        build_image(tree, "vendor", fs, folder / "vendor.img", workdir=tmp_path)
        result = run("base", "import", folder, "-o", tmp_path / f"base {fs}")
        assert result.exit_code == 0, result.output
    cfg = [sorted((tmp_path / f"base {fs}/META/vendor_filesystem_config.txt").read_text().splitlines())
           for fs in ("erofs", "ext4")]
    assert cfg[0] == cfg[1] and any("capabilities=0x3000" in line for line in cfg[0])
    trees = [RomTree.open(tmp_path / f"base {fs}") for fs in ("erofs", "ext4")]
    files = [{e.path: (e.kind, e.link_target, t.read("vendor", e.path) if e.kind == "file" else None)
              for e in t.iter_entries("vendor")} for t in trees]
    assert files[0] == files[1] and len(files[0]) > 20


# ---- bad input ------------------------------------------------------------------------


def _refused(run, source: Path, tmp_path: Path, *words: str) -> None:
    out = tmp_path / "out" / "base"
    out.parent.mkdir(exist_ok=True)
    result = run("base", "import", source, "-o", out)
    assert result.exit_code == 1, result.output
    message = result.output
    assert "Traceback" not in message and str(source) in message, message
    for word in words:
        assert word in message, message
    assert not out.exists() and list(out.parent.iterdir()) == []  # nothing beside it either


def test_a_zip_without_payload_is_refused(run, tmp_path: Path) -> None:
    bad = tmp_path / "ota.zip"
    with zipfile.ZipFile(bad, "w") as zf:
        zf.writestr("META-INF/com/android/metadata", "ota-type=AB\n")
    _refused(run, bad, tmp_path, "payload.bin is missing")


def test_a_payload_claiming_more_than_the_file_holds_is_refused(run, tmp_path: Path) -> None:
    bad = tmp_path / "payload.bin"
    bad.write_bytes(b"CrAU" + struct.pack(">QQI", 2, 1 << 20, 0) + b"\x18\x00")
    _refused(run, bad, tmp_path, "does not fit")


def test_an_image_that_is_no_filesystem_is_refused_naming_the_partition(run, tmp_path: Path) -> None:
    folder = tmp_path / "stock"
    folder.mkdir()
    (folder / "vendor.img").write_bytes(b"\x00garbage" * 1000)
    _refused(run, folder, tmp_path, "partition vendor", "neither an erofs, ext4 nor Android sparse image")


def test_a_sparse_image_with_a_bad_chunk_is_refused(run, stock_folder: Path, tmp_path: Path) -> None:
    sparse = tmp_path / "sparse"
    sparse.mkdir()
    subprocess.run(["img2simg", str(stock_folder / "system.img"), str(sparse / "system.img")], check=True)
    data = bytearray((sparse / "system.img").read_bytes())
    data[28:30] = b"\x99\x99"  # the first chunk's type
    (sparse / "system.img").write_bytes(bytes(data))
    _refused(run, sparse, tmp_path, "partition system", "sparse")


def test_a_name_that_would_leave_the_output_is_refused(run, stock_folder: Path, tmp_path: Path) -> None:
    image = stock_folder / "system.img"
    data = image.read_bytes()
    assert data.count(b"unlabelled.txt") == 1
    image.write_bytes(data.replace(b"unlabelled.txt", b"unlab/../.txt"[:14].ljust(14, b"x")))
    folder = tmp_path / "hostile"
    folder.mkdir()
    shutil.move(str(image), folder / "system.img")
    _refused(run, folder, tmp_path, "partition system")


def test_a_second_dot_dot_entry_is_refused(run, stock_folder: Path, tmp_path: Path) -> None:
    image = stock_folder / "system.img"
    data = image.read_bytes()
    assert data.count(b"q7") == 1
    folder = tmp_path / "hostile"
    folder.mkdir()
    (folder / "system.img").write_bytes(data.replace(b"q7", b".."))
    _refused(run, folder, tmp_path, "partition system", "'..' twice")


def test_an_incremental_ota_is_refused(run, tmp_path: Path) -> None:
    from independent_payload import SOURCE_COPY, RawOperation, RawPartitionUpdate, encode_payload
    import hashlib

    old = bytes(4096)
    payload = encode_payload([RawPartitionUpdate("system", old, [RawOperation(
        SOURCE_COPY, [(0, 1)], src=[(0, 1)], src_sha256=hashlib.sha256(old).digest())], old_image=old)],
        minor_version=7)
    bad = tmp_path / "payload.bin"
    bad.write_bytes(payload)
    _refused(run, bad, tmp_path, "incremental")


def test_hard_links_in_an_ext4_image_become_two_files(run, tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "etc").mkdir(parents=True)
    (src / "etc/a.conf").write_text("shared bytes\n")
    os.link(src / "etc/a.conf", src / "etc/b.conf")
    (src / "build.prop").write_text("ro.odm.build.id=X\n")
    folder = tmp_path / "stock"
    folder.mkdir()
    subprocess.run(["mke2fs", "-q", "-t", "ext4", "-d", str(src), str(folder / "odm.img"), "2048"], check=True,
                   env={**os.environ, "PATH": os.environ.get("PATH", "") + ":/usr/sbin:/sbin"})
    result = run("base", "import", folder, "-o", tmp_path / "base")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "base/ODM/etc/a.conf").read_text() == (tmp_path / "base/ODM/etc/b.conf").read_text() == \
        "shared bytes\n"
    config = (tmp_path / "base/META/odm_filesystem_config.txt").read_text()
    assert "odm/etc/b.conf 0 0 644" in config and "lost+found" not in config


def test_partitions_extracted_side_by_side_report_the_first_bad_one_by_name(run, stock_folder: Path,
                                                                          tmp_path: Path) -> None:
    """Partitions are extracted on the run's cores; when two are bad, the message is always the
    first in name order (what a one-by-one import meets first), and nothing is left behind."""
    data = (stock_folder / "system.img").read_bytes()
    folder = tmp_path / "hostile"
    folder.mkdir()
    hostile = data.replace(b"q7", b"..")
    (folder / "vendor.img").write_bytes(hostile)
    (folder / "product.img").write_bytes(hostile)
    (folder / "odm.img").write_bytes(data)  # a good one first: its extraction finishes and is thrown away
    for _ in range(3):
        _refused(run, folder, tmp_path, "partition product", "'..' twice")

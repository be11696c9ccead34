"""The sample ROM is shaped like a modern A/B device: system-as-root ROOT/, boot images made by
mkbootimg and read back by unpack_bootimg and Debian's cpio, a DTBO read by a reader written
here, vbmeta signed (checked with openssl) and the META files a real build writes."""

from __future__ import annotations

import gzip
import hashlib
import struct
import subprocess
import zipfile
from pathlib import Path

from cryptography import x509

from romforge.elf import read_elf
from romforge.tree import RomTree, write_target_files

from avb_independent import openssl_verify, parse

BOOT_CHAIN = ("boot", "init_boot", "vendor_boot", "dtbo", "vbmeta", "vbmeta_system")


def _unpack(image: Path, out: Path) -> dict[str, str]:
    proc = subprocess.run(["unpack_bootimg", "--boot_img", str(image), "--out", str(out)], capture_output=True,
                          text=True, check=True)
    fields = {}
    for line in proc.stdout.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields[key.strip()] = value.strip()
    return fields


def _cpio_list(archive: bytes, work: Path) -> list[str]:
    """Debian's cpio lists the members of a newc archive (the kernel's initramfs format)."""
    (work / "ramdisk.cpio").write_bytes(archive)
    proc = subprocess.run(["cpio", "-i", "-t", "--quiet", "-F", str(work / "ramdisk.cpio")], capture_output=True,
                          text=True, check=True)
    return proc.stdout.split()


def test_root_layout_and_init(sample_rom: Path) -> None:
    tree = RomTree.open(sample_rom)
    init = tree.get("root", "init")
    assert init is not None and init.kind == "symlink" and init.link_target == "/system/bin/init"
    assert read_elf(tree.read("system", "bin/init")).is_executable
    for mount in ("system", "vendor", "product", "system_ext", "odm", "proc", "sys", "dev", "data"):
        assert tree.get("root", mount).kind == "dir", mount
    for link, target in (("bin", "/system/bin"), ("etc", "/system/etc"), ("sdcard", "/storage/self/primary")):
        assert tree.get("root", link).link_target == target
    text = (sample_rom / "META/root_filesystem_config.txt").read_text().splitlines()
    assert text[0].startswith(" 0 0 755 selabel=u:object_r:rootfs:s0"), "the image root has the empty path"
    assert any(line.startswith("init 0 0 644 selabel=u:object_r:rootfs:s0") for line in text)
    assert tree.get("root", "").meta.selabel == "u:object_r:rootfs:s0"


def test_root_survives_a_zip_round_trip(sample_rom: Path, tmp_path: Path) -> None:
    tree = RomTree.open(sample_rom)
    write_target_files(tree, tmp_path / "tf.zip")
    again = RomTree.open(tmp_path / "tf.zip")
    assert [(e.path, e.kind, e.meta, e.link_target) for e in again.iter_entries("root")] == \
        [(e.path, e.kind, e.meta, e.link_target) for e in tree.iter_entries("root")]
    with zipfile.ZipFile(tmp_path / "tf.zip") as zf:
        written = zf.read("META/root_filesystem_config.txt")
    assert written == (sample_rom / "META/root_filesystem_config.txt").read_bytes()


def test_every_ab_partition_exists_somewhere(sample_rom: Path) -> None:
    tree = RomTree.open(sample_rom)
    listed = tree.ab_partitions()
    assert set(BOOT_CHAIN) | {"modem", "system", "vendor", "product", "system_ext", "odm"} == set(listed)
    for name in listed:
        assert (name in tree.partitions() or (sample_rom / f"IMAGES/{name}.img").is_file()
                or (sample_rom / f"RADIO/{name}.img").is_file()), name


def test_boot_images_read_back_by_unpack_bootimg_and_cpio(sample_rom: Path, tmp_path: Path) -> None:
    boot = _unpack(sample_rom / "IMAGES/boot.img", tmp_path / "boot")
    assert boot["boot_magic"] == "ANDROID!" and boot["boot image header version"] == "3"
    kernel = (tmp_path / "boot/kernel").read_bytes()
    assert int(boot["kernel_size"]) == len(kernel) > 0 and kernel[56:60] == b"ARM\x64"
    assert boot["os patch level"] == "2025-11"

    init_boot = _unpack(sample_rom / "IMAGES/init_boot.img", tmp_path / "init_boot")
    assert init_boot["kernel_size"] == "0"
    generic = gzip.decompress((tmp_path / "init_boot/ramdisk").read_bytes())
    members = _cpio_list(generic, tmp_path / "init_boot")
    assert {"init", "system/bin/init", "first_stage_ramdisk", "system/etc/ramdisk/build.prop"} <= set(members)

    vendor = _unpack(sample_rom / "IMAGES/vendor_boot.img", tmp_path / "vendor_boot")
    assert vendor["boot_magic"] == "VNDRBOOT"
    dtb = (tmp_path / "vendor_boot/dtb").read_bytes()
    assert struct.unpack(">I", dtb[:4])[0] == 0xD00DFEED and struct.unpack(">I", dtb[4:8])[0] == len(dtb)
    vendor_ramdisk = gzip.decompress((tmp_path / "vendor_boot/vendor_ramdisk").read_bytes())
    assert "first_stage_ramdisk/fstab.generic_arm64" in _cpio_list(vendor_ramdisk, tmp_path / "vendor_boot")


def test_dtbo_table_read_independently(sample_rom: Path) -> None:
    image = sample_rom / "IMAGES/dtbo.img"
    data = image.read_bytes()[:parse(image).footer["original_image_size"]]
    magic, total, header_size, entry_size, count, entries_at, page, version = struct.unpack(">8I", data[:32])
    assert (magic, header_size, entry_size, total, version) == (0xD7B7AB1E, 32, 32, len(data), 0)
    assert count == 1 and page == 4096
    size, offset = struct.unpack(">II", data[entries_at:entries_at + 8])
    assert struct.unpack(">I", data[offset:offset + 4])[0] == 0xD00DFEED and offset + size == len(data)


def test_vbmeta_chain_of_the_base(sample_rom: Path, tmp_path: Path) -> None:
    vbmeta = parse(sample_rom / "IMAGES/vbmeta.img")
    assert "Verified OK" in openssl_verify(vbmeta, tmp_path)
    by_name = {d.get("name"): d for d in vbmeta.descriptors}
    chain = by_name["vbmeta_system"]
    assert chain["tag"] == 4 and chain["location"] == 1
    system = parse(sample_rom / "IMAGES/vbmeta_system.img")
    assert system.public_key == chain["key"] and system.header["rollback_index_location"] == 1
    assert "Verified OK" in openssl_verify(system, tmp_path)
    for name in ("boot", "init_boot", "vendor_boot", "dtbo"):
        image = sample_rom / f"IMAGES/{name}.img"
        d = by_name[name]
        footer = parse(image).footer
        assert d["tag"] == 2 and d["image_size"] == footer["original_image_size"]
        data = image.read_bytes()[:d["image_size"]]
        assert hashlib.sha256(d["salt"] + data).digest() == d["digest"], name
    misc = dict(line.split("=", 1) for line in (sample_rom / "META/misc_info.txt").read_text().splitlines())
    assert misc["avb_enable"] == "true" and misc["avb_vbmeta_system"] == "system system_ext product"
    assert misc["avb_system_hashtree_enable"] == "true" and "avb_boot_add_hash_footer_args" in misc
    assert int(misc["boot_size"]) == (sample_rom / "IMAGES/boot.img").stat().st_size


def test_meta_files_and_otacerts(sample_rom: Path) -> None:
    post = (sample_rom / "META/postinstall_config.txt").read_text()
    assert "POSTINSTALL_PATH_system=system/bin/otapreopt_script" in post
    assert (sample_rom / "SYSTEM/bin/otapreopt_script").is_file()
    assert "PAYLOAD_MINOR_VERSION=8" in (sample_rom / "META/update_engine_config.txt").read_text()
    with zipfile.ZipFile(sample_rom / "SYSTEM/etc/security/otacerts.zip") as zf:
        [name] = zf.namelist()
        x509.load_pem_x509_certificate(zf.read(name))
        assert name.endswith(".x509.pem")


def test_boot_chain_bytes_are_reproducible(tmp_path: Path, apk_cache) -> None:
    from romforge.samplerom import generate

    a = generate(tmp_path / "a", files=30, seed=5, apk_cache=apk_cache)
    b = generate(tmp_path / "b", files=30, seed=5, apk_cache=apk_cache)
    for folder in ("IMAGES", "RADIO", "META"):
        names = sorted(p.name for p in (a / folder).iterdir())
        assert names == sorted(p.name for p in (b / folder).iterdir())
        for name in names:
            assert (a / folder / name).read_bytes() == (b / folder / name).read_bytes(), f"{folder}/{name}"


def test_older_bases_have_no_root(tmp_path: Path, apk_cache) -> None:
    from romforge.samplerom import SampleSpec, generate

    old = RomTree.open(generate(tmp_path / "old", spec=SampleSpec(system_as_root=False), files=30, seed=5,
                                apk_cache=apk_cache))
    assert "root" not in old.partitions() and not (tmp_path / "old/IMAGES").exists()
    assert old.ab_partitions() == ["system", "system_ext", "product", "vendor", "odm"]


def test_fs_config_empty_path_line_parses() -> None:
    from romforge.tree import parse_fs_config

    parsed = parse_fs_config(" 0 0 755 selabel=u:object_r:rootfs:s0 capabilities=0x0\ninit 0 2000 750\n",
                             source="x")
    assert parsed[""][0].mode == 0o755 and parsed["init"][0].gid == 2000

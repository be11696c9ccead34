"""The boot chain of the sample ROM, shaped like a modern A/B device's (Android 13+ with GKI):

- ROOT/, the top of the system-as-root system image: `/init` → /system/bin/init, the mount
  points (/system, /vendor, /product, …) and the usual top-level links (/bin, /etc, /sdcard …);
- IMAGES/boot.img (the kernel), init_boot.img (the generic ramdisk holding first-stage init),
  vendor_boot.img (the vendor ramdisk with the fstab, and the DTB), all made by Debian's
  `mkbootimg` (boot image header v3: Debian's mkbootimg 29 does not write v4), each with an AVB
  hash footer as the build adds one;
- IMAGES/dtbo.img (one device tree overlay), RADIO/modem.img (a firmware blob the OTA carries);
- IMAGES/vbmeta.img (hash descriptors of the boot images, a chain to vbmeta_system) and
  IMAGES/vbmeta_system.img, signed with the bundled AVB TEST key.

The base ships no filesystem images (the build makes them), so vbmeta_system.img holds no
hashtree descriptors yet: a release rebuilds both vbmeta images from the images it makes.
"""

from __future__ import annotations

import hashlib
import random
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path

from romforge.avb import ChainPartition, add_hash_footer, bundled_test_key, make_vbmeta
from romforge.elf import write_elf
from romforge.errors import ToolFailedError
from romforge.run.tools import Tools
from romforge.samplerom.bootformats import (S_IFDIR, S_IFLNK, S_IFREG, RamdiskEntry, cpio_newc, dtbo_image, fdt_blob,
                                            gzip_fixed)
from romforge.samplerom.buildprops import fingerprint
from romforge.samplerom.plan import ANDROID_RELEASE, Plan, SampleSpec, code_bytes
from romforge.tree import ROOT, FileMeta
from romforge.run.process import run_program

# ROOT/ of AOSP's system-as-root target-files: mount points and links every device has
ROOT_MOUNT_POINTS = ("acct", "apex", "config", "data", "data_mirror", "debug_ramdisk", "dev", "linkerconfig",
                     "metadata", "mnt", "odm", "odm_dlkm", "oem", "postinstall", "proc", "product",
                     "second_stage_resources", "storage", "sys", "system", "system_dlkm", "system_ext", "tmp",
                     "vendor", "vendor_dlkm")
ROOT_LINKS = {"init": "/system/bin/init", "bin": "/system/bin", "etc": "/system/etc", "d": "/sys/kernel/debug",
              "sdcard": "/storage/self/primary", "bugreports": "/data/user_de/0/com.android.shell/files/bugreports",
              "cache": "/data/cache"}
BOOT_IMAGES = ("boot", "init_boot", "vendor_boot", "dtbo")
PARTITION_SIZES = {"boot": 1 << 20, "init_boot": 512 << 10, "vendor_boot": 512 << 10, "dtbo": 256 << 10}
FIRMWARE = ("modem",)
VBMETA_SYSTEM = ("system", "system_ext", "product")
VBMETA_SYSTEM_LOCATION = 1
OS_PATCH_LEVEL = "2025-11"
BOOT_HEADER_VERSION = 3


@dataclass(frozen=True)
class BootChain:
    """What the sample's boot chain is: which partitions, their sizes, what chains through vbmeta_system."""

    boot_images: tuple[str, ...] = BOOT_IMAGES
    firmware: tuple[str, ...] = FIRMWARE
    vbmeta_system: tuple[str, ...] = VBMETA_SYSTEM

    def ab_partitions(self, spec: SampleSpec) -> list[str]:
        """Every partition update_engine writes, as META/ab_partitions.txt lists them."""
        vbmetas = ["vbmeta", "vbmeta_system"] if self.vbmeta_system else ["vbmeta"]
        return sorted([*self.boot_images, *self.firmware, *vbmetas, *spec.partitions])


def root_files(plan: Plan, rng: random.Random) -> None:
    """ROOT/ and the /system/bin/init it points to."""
    spec = plan.spec
    for name in ROOT_MOUNT_POINTS:
        plan.directory(ROOT, name)
    for name, target in ROOT_LINKS.items():
        plan.link(ROOT, name, target)
    plan.add("system", "bin/init", write_elf(spec.lib_dirs[0][1], needed=("libc.so", "libbase.so", "liblog.so"),
                                             executable=True, load_align=spec.page_size,
                                             code=code_bytes(rng, 16384)), FileMeta(0, 2000, 0o750))


def _salt(seed: int, partition: str) -> bytes:
    return hashlib.sha256(f"romforge-sample-{seed}-avb-{partition}".encode()).digest()


def _kernel(rng: random.Random, size: int) -> bytes:
    """A stand-in arm64 kernel: the Image header (text offset, size, flags, "ARM\\x64" magic) and code."""
    body = code_bytes(rng, size - 64)
    header = (b"\0" * 8 + (0x80000).to_bytes(8, "little") + (size).to_bytes(8, "little") + (0xA).to_bytes(8, "little")
              + b"\0" * 24 + b"ARM\x64" + b"\0" * 4)
    return header + body


def _generic_ramdisk(rng: random.Random, spec: SampleSpec) -> bytes:
    entries = [RamdiskEntry(d, S_IFDIR | 0o755) for d in ("dev", "first_stage_ramdisk", "metadata", "mnt", "proc",
                                                          "sys", "system", "system/bin", "system/etc",
                                                          "system/etc/ramdisk")]
    entries.append(RamdiskEntry("init", S_IFREG | 0o750, write_elf(
        spec.lib_dirs[0][1], executable=True, load_align=spec.page_size, code=code_bytes(rng, 8192)), 0, 2000))
    entries.append(RamdiskEntry("system/bin/init", S_IFLNK | 0o777, b"../../init"))
    entries.append(RamdiskEntry("system/etc/ramdisk/build.prop", S_IFREG | 0o644, (
        f"ro.bootimage.build.fingerprint={fingerprint(spec)}\nro.bootimage.build.version.release={ANDROID_RELEASE}\n"
    ).encode()))
    return gzip_fixed(cpio_newc(entries))


def _fstab(spec: SampleSpec) -> bytes:
    lines = ["# first-stage mounts: logical partitions of super, verified by AVB"]
    for p in spec.partitions:
        extra = ",avb=vbmeta_system" if p in VBMETA_SYSTEM else ",avb"
        mount = "/" if p == "system" else f"/{p}"
        lines.append(f"{p:<12} {mount:<12} erofs ro wait,slotselect,logical,first_stage_mount{extra}")
    lines.append("/dev/block/by-name/metadata /metadata ext4 noatime,nosuid,nodev wait,formattable,first_stage_mount")
    return ("\n".join(lines) + "\n").encode()


def _vendor_ramdisk(spec: SampleSpec) -> bytes:
    entries = [RamdiskEntry(d, S_IFDIR | 0o755) for d in ("first_stage_ramdisk", "lib", "lib/modules")]
    entries.append(RamdiskEntry(f"first_stage_ramdisk/fstab.{spec.device}", S_IFREG | 0o644, _fstab(spec)))
    entries.append(RamdiskEntry("lib/modules/modules.load", S_IFREG | 0o644, b""))
    return gzip_fixed(cpio_newc(entries))


def _mkbootimg(args: list[str], tools: Tools) -> None:
    proc = run_program([tools.path("mkbootimg"), *args], capture_output=True, text=True)
    if proc.returncode != 0:
        raise ToolFailedError(f"mkbootimg failed: {(proc.stderr or proc.stdout).strip()[-300:]}")


def _version_args() -> list[str]:
    return ["--header_version", str(BOOT_HEADER_VERSION), "--os_version", f"{ANDROID_RELEASE}.0.0",
            "--os_patch_level", OS_PATCH_LEVEL]


def _make_boot(work: Path, kernel: bytes, tools: Tools) -> Path:
    (work / "kernel").write_bytes(kernel)
    _mkbootimg(["--kernel", str(work / "kernel"), "--cmdline", "console=ttyMSM0,115200n8", *_version_args(),
                "-o", str(work / "boot.img")], tools)
    return work / "boot.img"


def _hash_footer(work: Path, name: str, seed: int, build_fingerprint: str) -> None:
    props = {f"com.android.build.{name}.fingerprint": build_fingerprint,
             f"com.android.build.{name}.os_version": ANDROID_RELEASE}
    add_hash_footer(work / f"{name}.img", partition_name=name, salt=_salt(seed, name),
                    partition_size=PARTITION_SIZES[name], properties=props)


def _vbmeta(work: Path, chain: BootChain, build_fingerprint: str) -> None:
    """vbmeta.img over the boot images in `work` (and vbmeta_system.img it chains to)."""
    key = bundled_test_key()
    chains = []
    if chain.vbmeta_system:
        make_vbmeta(work / "vbmeta_system.img", key=key, rollback_index_location=VBMETA_SYSTEM_LOCATION,
                    properties={"com.android.build.vbmeta_system.fingerprint": build_fingerprint})
        chains.append(ChainPartition("vbmeta_system", VBMETA_SYSTEM_LOCATION, key.public_key_blob))
    make_vbmeta(work / "vbmeta.img", key=key, chain_partitions=chains,
                include_descriptors_from_image=[work / f"{n}.img" for n in chain.boot_images])


def boot_images(plan: Plan, rng: random.Random, seed: int, chain: BootChain, tools: Tools | None = None) -> None:
    """IMAGES/boot*.img, dtbo.img, vbmeta*.img and RADIO/ firmware into the plan's extras."""
    tools = tools or Tools()
    spec = plan.spec
    dtb = fdt_blob({"compatible": f"{spec.brand},{spec.device}", "model": spec.model, "#address-cells": 2,
                    "#size-cells": 2})
    with tempfile.TemporaryDirectory(prefix="romforge-sample-boot-") as tmp:
        work = Path(tmp)
        (work / "empty").write_bytes(b"")
        (work / "ramdisk").write_bytes(_generic_ramdisk(rng, spec))
        (work / "vendor_ramdisk").write_bytes(_vendor_ramdisk(spec))
        (work / "dtb").write_bytes(dtb)
        kernel = _kernel(rng, 192 << 10)
        if "boot" in chain.boot_images:
            _make_boot(work, kernel, tools)
        if "init_boot" in chain.boot_images:  # a ramdisk-only boot image: the kernel is empty
            _mkbootimg(["--kernel", str(work / "empty"), "--ramdisk", str(work / "ramdisk"), *_version_args(),
                        "-o", str(work / "init_boot.img")], tools)
        if "vendor_boot" in chain.boot_images:
            _mkbootimg([*_version_args()[:2], "--pagesize", "4096", "--vendor_boot", str(work / "vendor_boot.img"),
                        "--vendor_ramdisk", str(work / "vendor_ramdisk"), "--dtb", str(work / "dtb"),
                        "--vendor_cmdline", f"androidboot.hardware={spec.device}", "--board", spec.device[:15]],
                       tools)
        if "dtbo" in chain.boot_images:
            overlay = fdt_blob({"compatible": f"{spec.brand},{spec.device}-overlay", "board-id": 0x10})
            (work / "dtbo.img").write_bytes(dtbo_image([(overlay, 0x10, 0)]))
        for name in chain.boot_images:
            _hash_footer(work, name, seed, fingerprint(spec))
        _vbmeta(work, chain, fingerprint(spec))
        for name in (*chain.boot_images, "vbmeta", *(("vbmeta_system",) if chain.vbmeta_system else ())):
            plan.extras[f"IMAGES/{name}.img"] = (work / f"{name}.img").read_bytes()
    for name in chain.firmware:
        plan.extras[f"RADIO/{name}.img"] = b"QCOM-FW\0" + name.encode().ljust(8, b"\0") + \
            code_bytes(rng, (128 << 10) - 16)


def boot_kernel(boot_img: bytes) -> bytes:
    """The kernel of a boot image header v3 (kernel_size at offset 8, the kernel from 4096 on)."""
    if boot_img[:8] != b"ANDROID!" or struct.unpack_from("<I", boot_img, 40)[0] != BOOT_HEADER_VERSION:
        raise ValueError("not a boot image with header v3")
    size = struct.unpack_from("<I", boot_img, 8)[0]
    return boot_img[4096:4096 + size]


def rebuilt_boot(images: dict[str, bytes], kernel: bytes, seed: int, build_fingerprint: str,
                 chain: BootChain = BootChain(), tools: Tools | None = None) -> dict[str, bytes]:
    """boot.img with a new kernel, and the vbmeta images signed over it: what a kernel change does
    to the boot chain (`images` maps IMAGES/ names to the base's bytes; returns the changed ones)."""
    with tempfile.TemporaryDirectory(prefix="romforge-sample-boot-") as tmp:
        work = Path(tmp)
        for name in chain.boot_images:
            (work / f"{name}.img").write_bytes(images[f"IMAGES/{name}.img"])
        _make_boot(work, kernel, tools or Tools())
        _hash_footer(work, "boot", seed, build_fingerprint)
        _vbmeta(work, chain, build_fingerprint)
        names = ("boot", "vbmeta", *(("vbmeta_system",) if chain.vbmeta_system else ()))
        return {f"IMAGES/{name}.img": (work / f"{name}.img").read_bytes() for name in names}


def avb_misc_info(spec: SampleSpec, chain: BootChain) -> list[str]:
    """The avb_* lines (and partition sizes) of misc_info.txt, with the names AOSP's build uses."""
    key = "external/avb/test/data/testkey_rsa4096.pem"
    lines = ["avb_enable=true", "avb_avbtool=avbtool", "avb_building_vbmeta_image=true",
             "avb_vbmeta_algorithm=SHA256_RSA4096", f"avb_vbmeta_key_path={key}",
             "avb_vbmeta_args=--padding_size 4096 --rollback_index 0"]
    for name in chain.boot_images:
        lines += [f"{name}_size={PARTITION_SIZES[name]}",
                  f"avb_{name}_add_hash_footer_args=--prop com.android.build.{name}.os_version:{ANDROID_RELEASE}"]
    for p in spec.partitions:
        lines += [f"avb_{p}_hashtree_enable=true",
                  f"avb_{p}_add_hashtree_footer_args=--hash_algorithm sha256 "
                  f"--prop com.android.build.{p}.os_version:{ANDROID_RELEASE}"]
    if chain.vbmeta_system:
        lines += [f"avb_vbmeta_system={' '.join(p for p in chain.vbmeta_system if p in spec.partitions)}",
                  "avb_vbmeta_system_algorithm=SHA256_RSA4096", f"avb_vbmeta_system_key_path={key}",
                  f"avb_vbmeta_system_rollback_index_location={VBMETA_SYSTEM_LOCATION}",
                  "avb_vbmeta_system_args=--padding_size 4096 --rollback_index 0"]
    return lines

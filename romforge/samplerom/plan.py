"""What the sample ROM is made of: its spec, the plan of entries, and the shared constants."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from romforge.profile import DeviceProfile
from romforge.tree import DIR, FILE, ROOT, SYMLINK, TF_DIRS, FileMeta

FONT = Path("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf")
BASE_DATE_UTC = 1762387200  # 2025-11-06 00:00:00 UTC: the sample base ROM's own build date
BASE_INCREMENTAL = "V1.0.0.base"
ANDROID_RELEASE, ANDROID_SDK, BUILD_ID = "14", "34", "UQ1A.240205.004"
CORE_LIBS = {  # system libraries and what each needs
    "libc.so": (), "libm.so": ("libc.so",), "libdl.so": ("libc.so",), "liblog.so": ("libc.so",),
    "libz.so": ("libc.so",), "libbase.so": ("libc.so", "liblog.so"),
    "libcutils.so": ("libc.so", "liblog.so", "libbase.so"),
    "libutils.so": ("libc.so", "liblog.so", "libcutils.so"),
    "libcrypto.so": ("libc.so",), "libssl.so": ("libc.so", "libcrypto.so"),
    "libbinder.so": ("libc.so", "liblog.so", "libutils.so", "libcutils.so", "libbase.so"),
    "libbinder_ndk.so": ("libc.so", "libbinder.so"),
    "libui.so": ("libc.so", "libutils.so", "liblog.so"),
    "libgui.so": ("libc.so", "libbinder.so", "libui.so", "libutils.so"),
    "libsqlite.so": ("libc.so", "libm.so", "libutils.so"),
    "libhwui.so": ("libc.so", "libm.so", "libgui.so", "libui.so", "libz.so"),
    "libandroid_runtime.so": ("libc.so", "libbinder.so", "libgui.so", "libhwui.so", "libsqlite.so"),
}
LLNDK = ("libc.so", "libm.so", "libdl.so", "liblog.so", "libbinder_ndk.so")
SYSTEM_BINARIES = {
    "app_process64": ("libc.so", "libandroid_runtime.so", "libbinder.so", "libutils.so", "liblog.so"),
    "surfaceflinger": ("libc.so", "libgui.so", "libui.so", "libbinder.so", "libutils.so"),
    "servicemanager": ("libc.so", "libbinder.so", "libutils.so", "liblog.so"),
    "toybox": ("libc.so", "libcrypto.so", "libz.so"),
}
TOYBOX_LINKS = ("sh", "ls", "cat", "cp", "mv", "grep", "ps", "chmod")
FEATURE_FILES = {
    "android.hardware.camera.flash-autofocus.xml": ("android.hardware.camera", "android.hardware.camera.autofocus",
                                                    "android.hardware.camera.flash"),
    "android.hardware.telephony.gsm.xml": ("android.hardware.telephony", "android.hardware.telephony.gsm"),
    "android.hardware.wifi.xml": ("android.hardware.wifi",),
    "android.hardware.bluetooth_le.xml": ("android.hardware.bluetooth", "android.hardware.bluetooth_le"),
    "android.hardware.sensor.proximity.xml": ("android.hardware.sensor.proximity",),
}
VENDOR_HALS = ("android.hardware.light-service.xiaomi", "android.hardware.bluetooth-service.qti",
               "android.hardware.sensors-service.multihal", "android.hardware.power-service.xiaomi")


@dataclass(frozen=True)
class SampleSpec:
    """What the sample ROM is made for: taken from a device profile or generic."""

    device: str = "generic_arm64"
    model: str = "romforge generic"
    brand: str = "romforge"
    manufacturer: str = "romforge"
    abis: tuple[str, ...] = ("arm64-v8a", "armeabi-v7a", "armeabi")
    page_size: int = 4096
    width: int = 1080
    height: int = 2400
    density: int = 420
    partitions: tuple[str, ...] = ("system", "system_ext", "product", "vendor", "odm")
    ab: bool = True
    system_as_root: bool = True  # ROOT/ and the boot chain (boot, init_boot, vendor_boot, dtbo, vbmeta …)

    @classmethod
    def from_profile(cls, p: DeviceProfile) -> "SampleSpec":
        return cls(device=p.codename, model=p.model, brand=p.brand, manufacturer=p.manufacturer, abis=p.abis,
                   page_size=p.page_size, width=p.screen.width, height=p.screen.height,
                   density=p.screen.density, partitions=tuple(q for q in TF_DIRS if q in p.partitions), ab=p.ab,
                   system_as_root=p.ab)

    @property
    def lib_dirs(self) -> list[tuple[str, str]]:
        """(dir, abi) for the 64-bit and/or 32-bit library directories."""
        dirs = []
        bits64 = [a for a in self.abis if a in ("arm64-v8a", "x86_64", "riscv64")]
        bits32 = [a for a in self.abis if a not in bits64]
        if bits64:
            dirs.append(("lib64", bits64[0]))
        if bits32:
            dirs.append(("lib", bits32[0]))
        return dirs


@dataclass
class Item:
    """One file, directory or symlink the sample ROM will hold."""

    partition: str
    path: str
    kind: str = FILE
    data: bytes | Callable[[], bytes] | None = None
    meta: FileMeta | None = None
    link: str | None = None


@dataclass
class Plan:
    """Every entry of the sample ROM (and its META/IMAGES extras) before anything is written."""

    spec: SampleSpec
    items: dict[tuple[str, str], Item] = field(default_factory=dict)
    extras: dict[str, bytes] = field(default_factory=dict)

    def partitions(self) -> tuple[str, ...]:
        """The partition directories written: the spec's, and ROOT/ for a system-as-root ROM."""
        return (*self.spec.partitions, ROOT) if self.spec.system_as_root else self.spec.partitions

    def add(self, partition: str, path: str, data: bytes | Callable[[], bytes], meta: FileMeta | None = None) -> None:
        if partition not in self.partitions():
            partition = "system"
        self.items[(partition, path)] = Item(partition, path, FILE, data, meta)

    def link(self, partition: str, path: str, target: str) -> None:
        self.items[(partition, path)] = Item(partition, path, SYMLINK, link=target)

    def directory(self, partition: str, path: str, meta: FileMeta | None = None) -> None:
        self.items[(partition, path)] = Item(partition, path, DIR, meta=meta)

    def count(self) -> int:
        return sum(1 for i in self.items.values() if i.kind == FILE)


def code_bytes(rng: random.Random, size: int) -> bytes:
    """Bytes with the statistics of machine code: a small vocabulary of words, repeated."""
    pool = [rng.randbytes(4) for _ in range(96)]
    return b"".join(rng.choices(pool, k=max(1, size // 4)))


def xml_doc(root: str, body: list[str], comment: str | None = None) -> bytes:
    head = '<?xml version="1.0" encoding="utf-8"?>\n'
    if comment:
        head += f"<!-- {comment} -->\n"
    return (head + f"<{root}>\n" + "".join(f"    {line}\n" for line in body) + f"</{root}>\n").encode()


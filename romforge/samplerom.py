"""A small but structurally real base ROM (AOSP target-files) for the demo, tests and benchmarks.

Real APKs (aapt2 + apksigner), real ELF objects for the device's ABIs with a consistent
DT_NEEDED graph per partition, build.prop per partition, permission/sysconfig XML, a
real CJK font and a STORED bootanimation.zip. Everything derives from the seed.
"""

from __future__ import annotations

import io
import os
import random
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

from PIL import Image, ImageDraw

from romforge.bootscreen.bootanim import BootAnimation, Part, write_bootanimation
from romforge.elf import write_elf
from romforge.errors import InputError, ToolMissingError
from romforge.profile import DeviceProfile
from romforge.rro import build_app_apk
from romforge.selinux import FileContexts
from romforge.tree import (DIR, FILE, SYMLINK, Entry, FileMeta, RomTree, TF_DIRS, build_prop_path,
                           default_meta, format_fs_config, fs_config_name, write_target_files,
                           FILE_CONTEXTS, MISC_INFO)

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
APPS = (  # partition, dir, package, label, extra strings
    ("system", "priv-app/Updater", "org.lineageos.updater", "Updater",
     {"check_for_update": "Check for updates", "installing_update": "Installing system update\u2026"}),
    ("system", "app/Jelly", "org.lineageos.jelly", "Browser",
     {"menu_new_tab": "New tab", "menu_share": "Share"}),
    ("system", "app/Recorder", "org.lineageos.recorder", "Recorder",
     {"sound_recording_title": "Sound recording", "save": "Save"}),
    ("system_ext", "priv-app/SystemUI", "com.android.systemui", "System UI",
     {"quick_settings_flashlight_label": "Flashlight", "battery_low_title": "Battery is low"}),
    ("system_ext", "priv-app/Settings", "com.android.settings", "Settings",
     {"about_settings": "About phone", "display_settings": "Display"}),
    ("product", "priv-app/Dialer", "com.android.dialer", "Phone",
     {"call_log_answered": "Answered", "dialer_search_hint": "Search contacts"}),
    ("product", "app/Contacts", "com.android.contacts", "Contacts",
     {"contacts_list_empty": "No contacts", "add_contact": "Add contact"}),
)
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
FILE_CONTEXTS_TEXT = """\
# romforge sample ROM file contexts (text form, libselinux syntax)
/system(/.*)?                                   u:object_r:system_file:s0
/system/lib(64)?(/.*)?                          u:object_r:system_lib_file:s0
/system/bin/app_process64                       u:object_r:zygote_exec:s0
/system/bin/surfaceflinger                      u:object_r:surfaceflinger_exec:s0
/system/bin/servicemanager                      u:object_r:servicemanager_exec:s0
/system/bin/toybox                              u:object_r:toolbox_exec:s0
/system/fonts(/.*)?                             u:object_r:system_file:s0
/system/etc/permissions(/.*)?                   u:object_r:system_file:s0
/system_ext(/.*)?                               u:object_r:system_file:s0
/system_ext/lib(64)?(/.*)?                      u:object_r:system_lib_file:s0
/product(/.*)?                                  u:object_r:system_file:s0
/product/lib(64)?(/.*)?                         u:object_r:system_lib_file:s0
/vendor(/.*)?                                   u:object_r:vendor_file:s0
/vendor/etc(/.*)?                               u:object_r:vendor_configs_file:s0
/vendor/firmware(/.*)?                          u:object_r:vendor_firmware_file:s0
/vendor/bin/hw/android\\.hardware\\.light-service\\.xiaomi        u:object_r:hal_light_default_exec:s0
/vendor/bin/hw/android\\.hardware\\.bluetooth-service\\.qti       u:object_r:hal_bluetooth_default_exec:s0
/vendor/bin/hw/android\\.hardware\\.sensors-service\\.multihal    u:object_r:hal_sensors_default_exec:s0
/vendor/bin/hw/android\\.hardware\\.power-service\\.xiaomi        u:object_r:hal_power_default_exec:s0
/odm(/.*)?                                      u:object_r:vendor_file:s0
/odm/etc(/.*)?                                  u:object_r:vendor_configs_file:s0
/odm/firmware(/.*)?                             u:object_r:vendor_firmware_file:s0
"""


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

    @classmethod
    def from_profile(cls, p: DeviceProfile) -> "SampleSpec":
        return cls(device=p.codename, model=p.model, brand=p.brand, manufacturer=p.manufacturer, abis=p.abis,
                   page_size=p.page_size, width=p.screen.width, height=p.screen.height,
                   density=p.screen.density, partitions=tuple(q for q in TF_DIRS if q in p.partitions), ab=p.ab)

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
class _Item:
    partition: str
    path: str
    kind: str = FILE
    data: bytes | Callable[[], bytes] | None = None
    meta: FileMeta | None = None
    link: str | None = None


@dataclass
class _Plan:
    spec: SampleSpec
    items: dict[tuple[str, str], _Item] = field(default_factory=dict)
    extras: dict[str, bytes] = field(default_factory=dict)

    def add(self, partition: str, path: str, data: bytes | Callable[[], bytes], meta: FileMeta | None = None) -> None:
        if partition not in self.spec.partitions:
            partition = "system"
        self.items[(partition, path)] = _Item(partition, path, FILE, data, meta)

    def link(self, partition: str, path: str, target: str) -> None:
        self.items[(partition, path)] = _Item(partition, path, SYMLINK, link=target)

    def count(self) -> int:
        return sum(1 for i in self.items.values() if i.kind == FILE)


def _code(rng: random.Random, size: int) -> bytes:
    """Bytes with the statistics of machine code: a small vocabulary of words, repeated."""
    pool = [rng.randbytes(4) for _ in range(96)]
    return b"".join(rng.choices(pool, k=max(1, size // 4)))


def _xml(root: str, body: list[str], comment: str | None = None) -> bytes:
    head = '<?xml version="1.0" encoding="utf-8"?>\n'
    if comment:
        head += f"<!-- {comment} -->\n"
    return (head + f"<{root}>\n" + "".join(f"    {line}\n" for line in body) + f"</{root}>\n").encode()


def _build_date_text(utc: int) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(utc, dt.timezone.utc).strftime("%a %b %d %H:%M:%S UTC %Y")


def _fingerprint(spec: SampleSpec) -> str:
    return (f"{spec.brand}/{spec.device}/{spec.device}:{ANDROID_RELEASE}/{BUILD_ID}/{BASE_INCREMENTAL}:"
            f"user/release-keys")


def _build_prop(spec: SampleSpec, partition: str) -> bytes:
    lines = [
        "",
        "####################################",
        "# from generate-common-build-props",
        "# These properties identify this partition image.",
        "####################################",
        f"ro.product.{partition}.brand={spec.brand}",
        f"ro.product.{partition}.device={spec.device}",
        f"ro.product.{partition}.manufacturer={spec.manufacturer}",
        f"ro.product.{partition}.model={spec.model}",
        f"ro.product.{partition}.name={spec.device}",
        f"ro.{partition}.build.date={_build_date_text(BASE_DATE_UTC)}",
        f"ro.{partition}.build.date.utc={BASE_DATE_UTC}",
        f"ro.{partition}.build.fingerprint={_fingerprint(spec)}",
        f"ro.{partition}.build.id={BUILD_ID}",
        f"ro.{partition}.build.tags=release-keys",
        f"ro.{partition}.build.type=user",
        f"ro.{partition}.build.version.incremental={BASE_INCREMENTAL}",
        f"ro.{partition}.build.version.release={ANDROID_RELEASE}",
        f"ro.{partition}.build.version.sdk={ANDROID_SDK}",
    ]
    if partition == "system":
        abis64 = [a for a in spec.abis if a in ("arm64-v8a", "x86_64", "riscv64")]
        abis32 = [a for a in spec.abis if a not in abis64]
        lines += [
            "####################################",
            "# from gen_build_prop.py:generate_build_info",
            "####################################",
            "# begin build properties",
            f"ro.build.id={BUILD_ID}",
            f"ro.build.display.id={BUILD_ID} release-keys",
            f"ro.build.version.incremental={BASE_INCREMENTAL}",
            f"ro.build.version.sdk={ANDROID_SDK}",
            f"ro.build.version.release={ANDROID_RELEASE}",
            "ro.build.version.security_patch=2025-11-01",
            f"ro.build.date={_build_date_text(BASE_DATE_UTC)}",
            f"ro.build.date.utc={BASE_DATE_UTC}",
            "ro.build.type=user",
            "ro.build.user=romforge",
            "ro.build.host=localhost",
            "ro.build.tags=release-keys",
            f"ro.build.flavor={spec.device}-user",
            f"ro.product.cpu.abilist={','.join(spec.abis)}",
            f"ro.product.cpu.abilist32={','.join(abis32)}",
            f"ro.product.cpu.abilist64={','.join(abis64)}",
            "# end build properties",
            "",
            "# ADDITIONAL_SYSTEM_PROPERTIES",
            "ro.treble.enabled=true",
            "persist.sys.dalvik.vm.lib.2=libart.so",
            "dalvik.vm.isa.arm64.variant=generic" if abis64 else "dalvik.vm.isa.arm.variant=cortex-a53",
            "ro.carrier?=unknown",
            "net.bt.name=Android",
        ]
    elif partition == "vendor":
        lines += [
            "ro.vendor.build.security_patch=2025-11-01",
            f"ro.product.board={spec.device}",
            "ro.board.platform=msmnile",
            "ro.hardware.egl=adreno",
            f"ro.sf.lcd_density={spec.density}",
            "ro.vendor.qti.va_aosp.support=1",
            "persist.vendor.radio.enableadvancedscan=true",
            "ro.boot.dynamic_partitions=true",
            f"ro.build.ab_update={'true' if spec.ab else 'false'}",
        ]
    elif partition == "product":
        lines += [
            "ro.product.locale=en-US",
            "ro.config.ringtone=Ring_Synth_04.ogg",
            "ro.config.notification_sound=OnTheHunt.ogg",
            "ro.com.android.dataroaming=false",
            "ro.setupwizard.mode=OPTIONAL",
        ]
    elif partition == "odm":
        lines += ["ro.vendor.qti.sys.fw.bg_apps_limit=32", "persist.vendor.camera.privapp.list=com.android.camera"]
    return ("\n".join(lines).lstrip("\n") + "\n").encode()


def _frame(spec: SampleSpec, i: int, total: int, hue: int) -> bytes:
    img = Image.new("RGB", (spec.width, spec.height), (0, 0, 0))
    draw = ImageDraw.Draw(img)
    cx, cy = spec.width // 2, spec.height // 2
    r = spec.width // 10 + (spec.width // 6) * i // max(1, total - 1)
    color = ((hue * 40) % 256, 120 + (i * 7) % 120, 255 - (hue * 30) % 200)
    draw.ellipse((cx - r, cy - r, cx + r, cy + r), outline=color, width=max(4, spec.width // 90))
    buf = io.BytesIO()
    img.save(buf, "PNG", optimize=False)
    return buf.getvalue()


def _bootanimation(spec: SampleSpec) -> bytes:
    parts = []
    for index, (kind, count) in enumerate((("c", 1), ("p", 0))):
        frames = [(f"{n:05d}.png", _frame(spec, n, 6, index)) for n in range(6)]
        parts.append(Part(kind, count, 0, f"part{index}", frames))
    return write_bootanimation(BootAnimation(spec.width, spec.height, 30, parts))


def _core(plan: _Plan, rng: random.Random, font: bytes) -> None:
    spec = plan.spec
    shell = FileMeta(0, 2000, 0o755)
    for lib_dir, abi in spec.lib_dirs:
        for lib, needs in CORE_LIBS.items():
            size = 2048 + rng.randrange(60_000)
            plan.add("system", f"{lib_dir}/{lib}", write_elf(abi, soname=lib, needed=needs, load_align=spec.page_size,
                                                             symbols=[lib[3:-3] + "_init"], code=_code(rng, size)))
    main_abi = spec.lib_dirs[0][1]
    for binary, needs in SYSTEM_BINARIES.items():
        name = binary if spec.lib_dirs[0][0] == "lib64" or binary != "app_process64" else "app_process32"
        plan.add("system", f"bin/{name}", write_elf(main_abi, needed=needs, executable=True,
                                                    load_align=spec.page_size, code=_code(rng, 8192)), shell)
    for tool in TOYBOX_LINKS:
        plan.link("system", f"bin/{tool}", "toybox")
    plan.link("system", "vendor", "/vendor")
    plan.add("system", "build.prop", _build_prop(spec, "system"))
    plan.add("system", "fonts/DroidSansFallbackFull.ttf", font)
    plan.add("system", "etc/fonts.xml", _xml("familyset", [
        '<family lang="zh-Hans">',
        '    <font weight="400" style="normal">DroidSansFallbackFull.ttf</font>',
        "</family>"], "fonts available to the framework"), )
    plan.add("system", "etc/permissions/platform.xml", _xml("permissions", [
        '<permission name="android.permission.BLUETOOTH_ADMIN"><group gid="net_bt_admin"/></permission>',
        '<permission name="android.permission.INTERNET"><group gid="inet"/></permission>',
        '<assign-permission name="android.permission.MODIFY_AUDIO_SETTINGS" uid="media"/>',
        '<library name="android.test.runner" file="/system/framework/android.test.runner.jar"/>']))
    plan.add("system", "etc/permissions/privapp-permissions-platform.xml", _xml("permissions", [
        '<privapp-permissions package="org.lineageos.updater">',
        '    <permission name="android.permission.REBOOT"/>',
        '    <permission name="android.permission.RECOVERY"/>',
        "</privapp-permissions>"]))
    plan.add("system", "etc/init/servicemanager.rc", (
        "service servicemanager /system/bin/servicemanager\n    class core animation\n    user system\n"
        "    group system readproc\n    critical\n").encode())
    plan.add("system_ext", build_prop_path("system_ext"), _build_prop(spec, "system_ext"))
    plan.add("system_ext", "etc/permissions/privapp-permissions-systemui.xml", _xml("permissions", [
        '<privapp-permissions package="com.android.systemui">',
        '    <permission name="android.permission.STATUS_BAR"/>',
        '    <permission name="android.permission.CONTROL_VPN"/>',
        "</privapp-permissions>"]))
    plan.add("product", build_prop_path("product"), _build_prop(spec, "product"))
    plan.add("product", "etc/sysconfig/hiddenapi-package-whitelist.xml", _xml("config", [
        '<hidden-api-whitelisted-app package="com.android.dialer"/>']))
    plan.add("product", "etc/sysconfig/preinstalled-packages-product.xml", _xml("config", [
        '<install-in-user-type package="com.android.contacts"><install-in user-type="FULL"/></install-in-user-type>']))
    plan.add("product", "media/bootanimation.zip", lambda: _bootanimation(spec))
    plan.add("vendor", "build.prop", _build_prop(spec, "vendor"))
    for name, features in FEATURE_FILES.items():
        plan.add("vendor", f"etc/permissions/{name}",
                 _xml("permissions", [f'<feature name="{f}" />' for f in features]))
    plan.add("vendor", "etc/vintf/manifest.xml", (
        '<manifest version="2.0" type="device" target-level="5">\n'
        '    <hal format="aidl"><name>android.hardware.light</name><fqname>ILights/default</fqname></hal>\n'
        '</manifest>\n').encode())
    for lib_dir, abi in spec.lib_dirs:
        vendor_libs = ["libqti-perfd-client.so", "libsensorndkbridge.so", "libqmi_cci.so", "libdiag.so"]
        for i, lib in enumerate(vendor_libs):
            needs = list(LLNDK[:3]) + vendor_libs[i + 1:i + 2]
            plan.add("vendor", f"{lib_dir}/{lib}", write_elf(abi, soname=lib, needed=needs, load_align=spec.page_size,
                                                             code=_code(rng, 4096 + rng.randrange(30_000))))
    for hal in VENDOR_HALS:
        caps = (1 << 12) | (1 << 13) if "bluetooth" in hal else 0  # CAP_NET_ADMIN | CAP_NET_RAW
        plan.add("vendor", f"bin/hw/{hal}", write_elf(main_abi, needed=("libc.so", "liblog.so", "libbinder_ndk.so",
                                                                        "libqmi_cci.so"),
                                                      executable=True, load_align=spec.page_size,
                                                      code=_code(rng, 6000)),
                 FileMeta(1000 if "bluetooth" in hal else 0, 2000, 0o755, None, caps))
        plan.add("vendor", f"etc/init/{hal}.rc", (
            f"service vendor.{hal.split('.')[2]} /vendor/bin/hw/{hal}\n    class hal\n    user system\n"
            f"    group system\n").encode())
    plan.add("vendor", "firmware/a630_sqe.fw", rng.randbytes(32_768))
    plan.add("odm", build_prop_path("odm"), _build_prop(spec, "odm"))
    plan.add("odm", "etc/camera/camera_config.xml", _xml("CameraConfigs", [
        "<ConfigVersion>1.0.0</ConfigVersion>", "<CameraConfig><SensorName>imx586</SensorName></CameraConfig>"]))


_APK_CACHE: dict[tuple, bytes] = {}


def _apk(package: str, strings: dict[str, str]) -> bytes:
    key = (package, tuple(sorted(strings.items())))
    if key not in _APK_CACHE:
        with tempfile.TemporaryDirectory(prefix="romforge-sample-apk-") as tmp:
            out = Path(tmp) / "app.apk"
            build_app_apk(package, out, strings=strings)
            _APK_CACHE[key] = out.read_bytes()
    return _APK_CACHE[key]


def _apps(plan: _Plan) -> None:
    jobs = []
    for partition, directory, package, label, extra in APPS:
        strings = {"app_name": label, **extra}
        jobs.append((partition, f"{directory}/{directory.rsplit('/', 1)[1]}.apk", package, strings))
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        built = list(pool.map(lambda job: _apk(job[2], job[3]), jobs))
    for (partition, path, _, _), data in zip(jobs, built):
        plan.add(partition, path, data)


_FILLER_GROUPS = ("media", "camera", "audio", "gfx", "net", "sensor", "input", "codec", "crypto", "ui", "wifi",
                  "nfc", "display", "power", "thermal")
_FILLER_SHARE = {"system": 50, "vendor": 25, "product": 10, "system_ext": 10, "odm": 5}


def _filler(plan: _Plan, rng: random.Random, wanted: int) -> None:
    """Extra libraries, configs and firmware until the tree holds `wanted` files."""
    spec = plan.spec
    missing = wanted - plan.count()
    if missing <= 0:
        return
    shares = {p: s for p, s in _FILLER_SHARE.items() if p in spec.partitions}
    total_share = sum(shares.values())
    quotas = {p: missing * s // total_share for p, s in shares.items()}
    quotas["system"] += missing - sum(quotas.values())
    lib_dir, abi = spec.lib_dirs[0]
    for partition, quota in quotas.items():
        own_libs: list[str] = []
        for i in range(quota):
            group = _FILLER_GROUPS[i % len(_FILLER_GROUPS)]
            size = int(min(max(rng.lognormvariate(8.5, 1.2), 128), 4 << 20))
            choice = i % 4
            if choice in (0, 1):
                name = f"lib{partition.replace('_', '')}_{group}_{i:05d}.so"
                needs = ["libc.so", "liblog.so"]
                if own_libs:
                    needs.append(rng.choice(own_libs[-50:]))
                if partition in ("system", "system_ext", "product"):
                    needs.append(rng.choice(("libutils.so", "libbinder.so", "libz.so")))
                data = write_elf(abi, soname=name, needed=needs, load_align=spec.page_size,
                                 symbols=[f"{group}_{i}_init"], code=_code(rng, size))
                plan.add(partition, f"{lib_dir}/{name}", data)
                own_libs.append(name)
            elif choice == 2:
                body = [f'<option name="{group}.param{j}" value="{rng.randrange(1 << 16)}" />'
                        for j in range(max(1, size // 64))]
                plan.add(partition, f"etc/{group}/{group}_config_{i:05d}.xml", _xml("config", body))
            else:
                folder = "firmware" if partition in ("vendor", "odm") else f"usr/share/{group}"
                plan.add(partition, f"{folder}/{group}_{i:05d}.bin", rng.randbytes(size))


def _meta_files(plan: _Plan) -> None:
    spec = plan.spec
    parts = " ".join(spec.partitions)
    misc = [
        "recovery_api_version=3", "fstab_version=2", "blocksize=4096", "boot_images=boot.img",
        f"ab_update={'true' if spec.ab else 'false'}", "build_type=user",
        "default_system_dev_certificate=build/make/target/product/security/testkey",
        "use_dynamic_partitions=true", f"dynamic_partition_list={parts}",
        "super_partition_groups=qti_dynamic_partitions", "super_qti_dynamic_partitions_group_size=9122611200",
        f"super_qti_dynamic_partitions_partition_list={parts}",
        *[f"{p}_fs_type=erofs" for p in spec.partitions],
        "avb_enable=false", "ext4_share_dup_blocks=true", f"board_page_size={spec.page_size}",
    ]
    plan.extras[MISC_INFO] = ("\n".join(misc) + "\n").encode()
    plan.extras["META/dynamic_partitions_info.txt"] = (
        "super_partition_size=9126805504\nsuper_partition_groups=qti_dynamic_partitions\n"
        "super_qti_dynamic_partitions_group_size=9122611200\n"
        f"super_qti_dynamic_partitions_partition_list={parts}\nvirtual_ab=true\n").encode()
    if spec.ab:
        plan.extras["META/ab_partitions.txt"] = ("\n".join(spec.partitions) + "\n").encode()
        plan.extras["META/update_engine_config.txt"] = b"PAYLOAD_MAJOR_VERSION=2\nPAYLOAD_MINOR_VERSION=7\n"
    plan.extras[FILE_CONTEXTS] = FILE_CONTEXTS_TEXT.encode()


def _write(plan: _Plan, root: Path) -> None:
    fc = FileContexts.parse(FILE_CONTEXTS_TEXT, source=FILE_CONTEXTS)
    entries: dict[tuple[str, str], Entry] = {}

    def meta(partition: str, path: str, kind: str, given: FileMeta | None) -> FileMeta:
        base = given or default_meta(partition, path, kind)
        label = fc.lookup(f"/{partition}/{path}" if path else f"/{partition}", kind)
        return replace(base, selabel=label)

    for partition in plan.spec.partitions:
        (root / TF_DIRS[partition]).mkdir(parents=True)
        entries[(partition, "")] = Entry(partition, "", DIR, meta(partition, "", DIR, None))
    for key in sorted(plan.items):
        item = plan.items[key]
        target = root / TF_DIRS[item.partition] / item.path
        parts = item.path.split("/")
        for i in range(1, len(parts)):
            parent = "/".join(parts[:i])
            if (item.partition, parent) not in entries:
                (root / TF_DIRS[item.partition] / parent).mkdir(exist_ok=True)
                dir_meta = FileMeta(0, 2000, 0o751) if parent in ("bin", "bin/hw") else None
                entries[(item.partition, parent)] = Entry(item.partition, parent, DIR,
                                                          meta(item.partition, parent, DIR, dir_meta))
        if item.kind == SYMLINK:
            os.symlink(item.link or "", target)
        else:
            data = item.data() if callable(item.data) else item.data
            target.write_bytes(data or b"")
        entries[key] = Entry(item.partition, item.path, item.kind, meta(item.partition, item.path, item.kind,
                                                                        item.meta), item.link)
    (root / "META").mkdir()
    for tf_path, data in plan.extras.items():
        (root / tf_path).write_bytes(data)
    for partition in plan.spec.partitions:
        rows = [entries[k] for k in sorted(entries) if k[0] == partition]
        (root / fs_config_name(partition)).write_text(format_fs_config(rows))


def generate(out: Path, *, spec: SampleSpec | None = None, files: int = 400, seed: int = 0,
             large_apk_mb: int = 0) -> Path:
    """Write a sample target-files to `out` (a directory, or a zip when it ends in .zip).

    `large_apk_mb` adds a prebuilt app of about that size (product/app/Gallery) with stored assets."""
    spec = spec or SampleSpec()
    out = Path(out)
    if out.exists() or out.is_symlink():
        raise InputError("already exists; sample-rom never overwrites", file=out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create the parent directory: {exc.strerror}", file=out.parent) from None
    if not FONT.is_file():
        raise ToolMissingError(str(FONT), "fonts-droid-fallback")
    rng = random.Random(f"romforge-sample-{seed}")
    plan = _Plan(spec)
    _core(plan, rng, FONT.read_bytes())
    _apps(plan)
    if large_apk_mb:
        plan.add("product", LARGE_APP_PATH, large_app_apk(seed, large_apk_mb, version=1))
    _filler(plan, rng, files)
    _meta_files(plan)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    try:
        root = tmp / "target-files"
        root.mkdir()
        _write(plan, root)
        if out.suffix == ".zip":
            zipped = tmp / "target-files.zip"
            write_target_files(RomTree.open(root), zipped)
            os.replace(zipped, out)
        else:
            os.replace(root, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


# ---- a week later: the benchmark's and the OTA tests' second ROM version ----------------

LARGE_APP_PATH = "app/Gallery/Gallery.apk"
LARGE_APP_PACKAGE = "org.romforge.gallery"


def _recompiled(rng: random.Random, data: bytes) -> bytes:
    """What a small source change does to a binary: a few instructions inserted, code after them
    shifted, and the 32-bit offsets pointing across the insertion adjusted. Size and headers stay."""
    if len(data) < 8192:
        body = bytearray(data)
        for _ in range(3):
            at = rng.randrange(len(body) - 4)
            body[at:at + 4] = rng.randbytes(4)
        return bytes(body)
    head, body, tail = data[:4096], bytearray(data[4096:-256]), data[-256:]
    at = rng.randrange(len(body) // 4) * 4
    insert = rng.randbytes(4 * rng.randrange(2, 12))
    body[at:at] = insert
    del body[len(body) - len(insert):]
    shift = len(insert)
    for pos in range(at + len(insert), len(body) - 4, 4):
        if rng.random() < 0.08:
            word = int.from_bytes(body[pos:pos + 4], "little")
            body[pos:pos + 4] = ((word + shift) & 0xFFFFFFFF).to_bytes(4, "little")
    return head + bytes(body) + tail


def _edited_text(rng: random.Random, data: bytes) -> bytes:
    text = data.decode("utf-8", "replace")
    import re

    numbers = list(re.finditer(r'value="(\d+)"', text))
    for m in rng.sample(numbers, min(3, len(numbers))):
        text = text[:m.start(1)] + str(rng.randrange(1 << 16)).ljust(len(m.group(1)))[:max(1, len(m.group(1)))] \
            + text[m.end(1):]
    return text.encode()


def large_app_apk(seed: int, size_mb: int, *, version: int) -> bytes:
    """A prebuilt app of about `size_mb` MiB: a model kept uncompressed (as apps do, to mmap it) and
    JSON assets, linked by aapt2 and signed by apksigner. A later `version` is the same app rebuilt
    with parts of its assets changed."""
    from romforge.rro import align_and_sign, app_manifest, link_apk, strings_xml, SigningKey

    rng = random.Random(f"romforge-gallery-{seed}")
    model = bytearray(_code(rng, size_mb * 700 * 1024))
    jsons = {f"data_{i:03d}.json": ("{" + ",".join(f'"k{j}": {rng.randrange(1 << 20)}' for j in range(400)) + "}")
             for i in range(max(4, size_mb * 8))}
    change = random.Random(f"romforge-gallery-{seed}-v{version}")
    for _ in range(version - 1):
        for _ in range(6):
            at = change.randrange(len(model) - 8192)
            model[at:at + 4096] = _code(change, 4096)
        for name in change.sample(sorted(jsons), max(1, len(jsons) // 10)):
            jsons[name] = jsons[name].replace('"k1":', f'"k1": {change.randrange(1 << 20)}, "v":', 1)
    with tempfile.TemporaryDirectory(prefix="romforge-gallery-") as tmp:
        work = Path(tmp)
        (work / "assets").mkdir()
        (work / "assets" / "model.tflite").write_bytes(bytes(model))
        for name, text in jsons.items():
            (work / "assets" / name).write_text(text)
        manifest = work / "AndroidManifest.xml"
        manifest.write_text(app_manifest(LARGE_APP_PACKAGE, version, f"1.{version}", "Gallery"))
        (work / "res" / "values").mkdir(parents=True)
        (work / "res" / "values" / "strings.xml").write_text(strings_xml({"app_name": "Gallery",
                                                                          "version": f"1.{version}"}))
        unsigned = work / "unsigned.apk"
        link_apk(manifest, work / "res", unsigned, extra_args=("-A", str(work / "assets"), "-0", ".tflite"))
        out = work / "Gallery.apk"
        align_and_sign(unsigned, out, SigningKey.sample())
        return out.read_bytes()


def mutate_week(base: Path, out: Path, *, week: int = 2, seed: int = 0, edits: int = 300, adds: int = 40,
                removes: int = 20, moves: int = 20) -> Path:
    """The same ROM a week later, as a new target-files directory at `out`: `edits` files changed
    slightly (binaries recompiled, configs retuned, firmware patched), files added, removed and
    moved, the large prebuilt app (if any) rebuilt, and the build stamped with a new incremental
    and a date seven days on. Unchanged files are hardlinks to `base` (never write to either)."""
    from romforge.tree import materialize, stage

    out = Path(out)
    if out.exists():
        raise InputError("already exists; mutate_week never overwrites", file=out)
    rng = random.Random(f"romforge-week-{seed}-{week}")
    tree = RomTree.open(Path(base))
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    try:
        staged = stage(tree, tmp / "work")
        files = [e for e in staged.iter_entries(kind=FILE)
                 if not e.path.endswith(("build.prop", ".apk", ".ttf", ".zip")) and e.path != LARGE_APP_PATH]
        rng.shuffle(files)
        edited, rest = files[:edits], files[edits:]
        for e in edited:
            data = staged.read(e.partition, e.path)
            new = _edited_text(rng, data) if e.path.endswith(".xml") else _recompiled(rng, data)
            staged.write_file(e.partition, e.path, new, e.meta)
        for e in rest[:removes]:
            staged.remove(e.partition, e.path)
        for e in rest[removes:removes + moves]:
            data = staged.read(e.partition, e.path)
            folder, _, name = e.path.rpartition("/")
            staged.remove(e.partition, e.path)
            staged.write_file(e.partition, f"{folder + '/' if folder else ''}moved/{name}", data, e.meta)
        spec_abi = "arm64-v8a"
        for i in range(adds):
            partition = rng.choice(("system", "system", "vendor", "product"))
            if i % 2 == 0:
                name = f"libweek{week}_{i:03d}.so"
                staged.write_file(partition, f"lib64/{name}", write_elf(
                    spec_abi, soname=name, needed=["libc.so", "liblog.so"], symbols=[f"week{week}_{i}"],
                    code=_code(rng, int(min(max(rng.lognormvariate(8.5, 1.2), 512), 1 << 20)))))
            else:
                body = [f'<option name="week{week}.param{j}" value="{rng.randrange(1 << 16)}" />'
                        for j in range(rng.randrange(4, 60))]
                staged.write_file(partition, f"etc/week{week}/config_{i:03d}.xml", _xml("config", body))
        if staged.get("product", LARGE_APP_PATH) is not None:
            import io
            import zipfile

            with zipfile.ZipFile(io.BytesIO(staged.read("product", LARGE_APP_PATH))) as apk:
                size_mb = max(1, round(apk.getinfo("assets/model.tflite").file_size / (700 * 1024)))
            staged.write_file("product", LARGE_APP_PATH, large_app_apk(seed, size_mb, version=week))
        for partition in staged.partitions():
            prop = staged.build_prop(partition)
            if prop is None:
                continue
            for key in list(prop.keys()):
                value = prop.get(key) or ""
                if key.endswith("build.version.incremental"):
                    prop.set(key, f"V1.0.{week}.week")
                elif key.endswith("build.date.utc"):
                    prop.set(key, str(BASE_DATE_UTC + 7 * 86400 * (week - 1)))
                elif key.endswith("build.fingerprint"):
                    prop.set(key, value.replace(BASE_INCREMENTAL, f"V1.0.{week}.week"))
            staged.write_build_prop(partition, prop)
        materialize(staged, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out

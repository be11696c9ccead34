"""The sample ROM's core files: system libraries and binaries, fonts, permissions, HALs,
the boot animation, and filler files up to the size asked for."""

from __future__ import annotations

import io
import random

from PIL import Image, ImageDraw

from romforge.bootscreen.bootanim import BootAnimation, Part, write_bootanimation
from romforge.elf import write_elf
from romforge.samplerom.buildprops import build_prop
from romforge.samplerom.plan import (CORE_LIBS, FEATURE_FILES, LLNDK, SYSTEM_BINARIES, TOYBOX_LINKS, VENDOR_HALS,
                                     Plan, SampleSpec, code_bytes, xml_doc)
from romforge.tree import FileMeta, build_prop_path


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


def core_files(plan: Plan, rng: random.Random, font: bytes) -> None:
    spec = plan.spec
    shell = FileMeta(0, 2000, 0o755)
    for lib_dir, abi in spec.lib_dirs:
        for lib, needs in CORE_LIBS.items():
            size = 2048 + rng.randrange(60_000)
            plan.add("system", f"{lib_dir}/{lib}", write_elf(abi, soname=lib, needed=needs, load_align=spec.page_size,
                                                             symbols=[lib[3:-3] + "_init"], code=code_bytes(rng, size)))
    main_abi = spec.lib_dirs[0][1]
    for binary, needs in SYSTEM_BINARIES.items():
        name = binary if spec.lib_dirs[0][0] == "lib64" or binary != "app_process64" else "app_process32"
        plan.add("system", f"bin/{name}", write_elf(main_abi, needed=needs, executable=True,
                                                    load_align=spec.page_size, code=code_bytes(rng, 8192)), shell)
    for tool in TOYBOX_LINKS:
        plan.link("system", f"bin/{tool}", "toybox")
    plan.link("system", "vendor", "/vendor")
    plan.add("system", "build.prop", build_prop(spec, "system"))
    plan.add("system", "fonts/DroidSansFallbackFull.ttf", font)
    plan.add("system", "etc/fonts.xml", xml_doc("familyset", [
        '<family lang="zh-Hans">',
        '    <font weight="400" style="normal">DroidSansFallbackFull.ttf</font>',
        "</family>"], "fonts available to the framework"), )
    plan.add("system", "etc/permissions/platform.xml", xml_doc("permissions", [
        '<permission name="android.permission.BLUETOOTH_ADMIN"><group gid="net_bt_admin"/></permission>',
        '<permission name="android.permission.INTERNET"><group gid="inet"/></permission>',
        '<assign-permission name="android.permission.MODIFY_AUDIO_SETTINGS" uid="media"/>',
        '<library name="android.test.runner" file="/system/framework/android.test.runner.jar"/>']))
    plan.add("system", "etc/permissions/privapp-permissions-platform.xml", xml_doc("permissions", [
        '<privapp-permissions package="org.lineageos.updater">',
        '    <permission name="android.permission.REBOOT"/>',
        '    <permission name="android.permission.RECOVERY"/>',
        "</privapp-permissions>"]))
    plan.add("system", "etc/init/servicemanager.rc", (
        "service servicemanager /system/bin/servicemanager\n    class core animation\n    user system\n"
        "    group system readproc\n    critical\n").encode())
    plan.add("system_ext", build_prop_path("system_ext"), build_prop(spec, "system_ext"))
    plan.add("system_ext", "etc/permissions/privapp-permissions-systemui.xml", xml_doc("permissions", [
        '<privapp-permissions package="com.android.systemui">',
        '    <permission name="android.permission.STATUS_BAR"/>',
        '    <permission name="android.permission.CONTROL_VPN"/>',
        "</privapp-permissions>"]))
    plan.add("product", build_prop_path("product"), build_prop(spec, "product"))
    plan.add("product", "etc/sysconfig/hiddenapi-package-whitelist.xml", xml_doc("config", [
        '<hidden-api-whitelisted-app package="com.android.dialer"/>']))
    plan.add("product", "etc/sysconfig/preinstalled-packages-product.xml", xml_doc("config", [
        '<install-in-user-type package="com.android.contacts"><install-in user-type="FULL"/></install-in-user-type>']))
    plan.add("product", "media/bootanimation.zip", lambda: _bootanimation(spec))
    plan.add("vendor", "build.prop", build_prop(spec, "vendor"))
    for name, features in FEATURE_FILES.items():
        plan.add("vendor", f"etc/permissions/{name}",
                 xml_doc("permissions", [f'<feature name="{f}" />' for f in features]))
    plan.add("vendor", "etc/vintf/manifest.xml", (
        '<manifest version="2.0" type="device" target-level="5">\n'
        '    <hal format="aidl"><name>android.hardware.light</name><fqname>ILights/default</fqname></hal>\n'
        '</manifest>\n').encode())
    for lib_dir, abi in spec.lib_dirs:
        vendor_libs = ["libqti-perfd-client.so", "libsensorndkbridge.so", "libqmi_cci.so", "libdiag.so"]
        for i, lib in enumerate(vendor_libs):
            needs = list(LLNDK[:3]) + vendor_libs[i + 1:i + 2]
            plan.add("vendor", f"{lib_dir}/{lib}", write_elf(abi, soname=lib, needed=needs, load_align=spec.page_size,
                                                             code=code_bytes(rng, 4096 + rng.randrange(30_000))))
    for hal in VENDOR_HALS:
        caps = (1 << 12) | (1 << 13) if "bluetooth" in hal else 0  # CAP_NET_ADMIN | CAP_NET_RAW
        plan.add("vendor", f"bin/hw/{hal}", write_elf(main_abi, needed=("libc.so", "liblog.so", "libbinder_ndk.so",
                                                                        "libqmi_cci.so"),
                                                      executable=True, load_align=spec.page_size,
                                                      code=code_bytes(rng, 6000)),
                 FileMeta(1000 if "bluetooth" in hal else 0, 2000, 0o755, None, caps))
        plan.add("vendor", f"etc/init/{hal}.rc", (
            f"service vendor.{hal.split('.')[2]} /vendor/bin/hw/{hal}\n    class hal\n    user system\n"
            f"    group system\n").encode())
    plan.add("vendor", "firmware/a630_sqe.fw", rng.randbytes(32_768))
    plan.add("odm", build_prop_path("odm"), build_prop(spec, "odm"))
    plan.add("odm", "etc/camera/camera_config.xml", xml_doc("CameraConfigs", [
        "<ConfigVersion>1.0.0</ConfigVersion>", "<CameraConfig><SensorName>imx586</SensorName></CameraConfig>"]))



_FILLER_GROUPS = ("media", "camera", "audio", "gfx", "net", "sensor", "input", "codec", "crypto", "ui", "wifi",
                  "nfc", "display", "power", "thermal")
_FILLER_SHARE = {"system": 50, "vendor": 25, "product": 10, "system_ext": 10, "odm": 5}


def filler_files(plan: Plan, rng: random.Random, wanted: int) -> None:
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
                                 symbols=[f"{group}_{i}_init"], code=code_bytes(rng, size))
                plan.add(partition, f"{lib_dir}/{name}", data)
                own_libs.append(name)
            elif choice == 2:
                body = [f'<option name="{group}.param{j}" value="{rng.randrange(1 << 16)}" />'
                        for j in range(max(1, size // 64))]
                plan.add(partition, f"etc/{group}/{group}_config_{i:05d}.xml", xml_doc("config", body))
            else:
                folder = "firmware" if partition in ("vendor", "odm") else f"usr/share/{group}"
                plan.add(partition, f"{folder}/{group}_{i:05d}.bin", rng.randbytes(size))

"""Every overlay operation, applied by a real build and read back from the output target-files."""

from __future__ import annotations

import json
import subprocess
import zipfile
from pathlib import Path

import pytest
from lxml import etree

from overlaykit import DATE, device, write_overlay
from romforge.build import BuildRequest, build
from romforge.selinux import FileContexts
from romforge.tree import RomTree
from romforge.workspace import load_workspace


def _build(ws: Path, dev: str, version: str = "1.0", out: Path | None = None) -> RomTree:
    result = build(load_workspace(ws), BuildRequest(dev, version, DATE, out=out))
    return RomTree.open(result.target_files)


def test_files_add_replace_remove_symlink_with_metadata(workspace: Path, sample_rom: Path) -> None:
    write_overlay(workspace, "ops-files", """
        name = "ops-files"
        version = "2.1"
        [[files]]
        partition = "system"
        path = "bin/romforge-info"
        source = "files/romforge-info.sh"
        mode = "0750"
        uid = "root"
        gid = "shell"
        label = "u:object_r:romforge_exec:s0"
        capabilities = ["NET_ADMIN", "SYS_NICE"]
        [[files]]
        action = "replace"
        partition = "system"
        path = "etc/init/servicemanager.rc"
        content = "service servicemanager /system/bin/servicemanager\\n    class core\\n"
        [[files]]
        action = "replace"
        partition = "vendor"
        path = "firmware/a630_sqe.fw"
        mode = 0o600
        uid = 1000
        [[files]]
        action = "remove"
        partition = "system"
        path = "app/Recorder"
        [[files]]
        action = "symlink"
        partition = "system"
        path = "bin/rfinfo"
        target = "romforge-info"
        """, {"files/romforge-info.sh": "#!/system/bin/sh\necho romforge\n"})
    out = _build(workspace, device(workspace, ["ops-files"]))
    base = RomTree.open(sample_rom)
    added = out.get("system", "bin/romforge-info")
    assert out.read("system", "bin/romforge-info") == b"#!/system/bin/sh\necho romforge\n"
    assert (added.meta.mode, added.meta.uid, added.meta.gid) == (0o750, 0, 2000)
    assert added.meta.selabel == "u:object_r:romforge_exec:s0"
    assert added.meta.capabilities == (1 << 12) | (1 << 23)
    assert out.read("system", "etc/init/servicemanager.rc").endswith(b"    class core\n")
    fw = out.get("vendor", "firmware/a630_sqe.fw")
    assert (fw.meta.mode, fw.meta.uid) == (0o600, 1000)
    assert out.read("vendor", "firmware/a630_sqe.fw") == base.read("vendor", "firmware/a630_sqe.fw")
    assert base.get("system", "app/Recorder/Recorder.apk") is not None
    assert out.get("system", "app/Recorder") is None and out.get("system", "app/Recorder/Recorder.apk") is None
    link = out.get("system", "bin/rfinfo")
    assert link.kind == "symlink" and link.link_target == "romforge-info"
    # the metadata is in fs_config and the label is in file_contexts, as Android's image tools read them
    with zipfile.ZipFile(out.name if Path(out.name).is_absolute() else _zip_of(workspace, "1.0")) as zf:
        fs_config = zf.read("META/filesystem_config.txt").decode()
        contexts = FileContexts.parse(zf.read("META/file_contexts"), source="file_contexts")
    assert ("system/bin/romforge-info 0 2000 750 selabel=u:object_r:romforge_exec:s0 capabilities=0x801000"
            in fs_config.splitlines())
    assert contexts.lookup("/system/bin/romforge-info", "file") == "u:object_r:romforge_exec:s0"
    assert contexts.lookup("/system/bin/toybox", "file") == "u:object_r:toolbox_exec:s0"  # others unchanged


def _zip_of(ws: Path, version: str, dev: str = "testdev") -> Path:
    return ws / "releases" / dev / version / "target-files.zip"


def test_props_set_unset_append_per_partition(workspace: Path, sample_rom: Path) -> None:
    write_overlay(workspace, "ops-props", """
        name = "ops-props"
        version = "1"
        [props.system]
        unset = ["net.bt.name"]
        set = { "persist.romforge.feature" = "on", "ro.carrier" = "romforge" }
        append = { "ro.product.cpu.abilist" = "riscv64" }
        [props.vendor.set]
        "ro.vendor.romforge.led" = "1"
        [props.product]
        separator = " "
        append = { "ro.romforge.tags" = "flashlight" }
        """)
    out = _build(workspace, device(workspace, ["ops-props"]))
    system, vendor, product = out.build_prop("system"), out.build_prop("vendor"), out.build_prop("product")
    base_system = RomTree.open(sample_rom).build_prop("system")
    assert "net.bt.name" in base_system and "net.bt.name" not in system
    assert system.get("persist.romforge.feature") == "on"
    assert system.get("ro.carrier") == "romforge"  # the base's `ro.carrier?=unknown` line is replaced
    assert system.get("ro.product.cpu.abilist") == "arm64-v8a,armeabi-v7a,armeabi,riscv64"
    assert vendor.get("ro.vendor.romforge.led") == "1"
    assert product.get("ro.romforge.tags") == "flashlight"
    assert system.get("ro.romforge.version") == "1.0"  # the build's stamps still went in after the overlay
    # untouched lines are kept byte for byte, in order
    kept = [line.raw for line in base_system.lines if line.key not in (
        "net.bt.name", "ro.carrier", "ro.product.cpu.abilist") and not (line.key or "").startswith(
        ("ro.build.", "ro.system.build.", "ro.product.system.", "ro.romforge."))]
    assert [line.raw for line in system.lines if line.raw in kept] == kept


def test_xml_add_remove_set_and_create(workspace: Path) -> None:
    write_overlay(workspace, "ops-xml", """
        name = "ops-xml"
        version = "1"
        [[xml]]
        partition = "system"
        path = "etc/permissions/platform.xml"
        add = '<permission name="org.romforge.permission.LED"><group gid="system" /></permission>'
        [[xml]]
        partition = "system"
        path = "etc/permissions/platform.xml"
        remove = "/permissions/library[@name='android.test.runner']"
        [[xml]]
        partition = "system"
        path = "etc/permissions/privapp-permissions-platform.xml"
        at = "//privapp-permissions[@package='org.lineageos.updater']/permission"
        set = { name = "android.permission.REBOOT", romforge = "checked" }
        [[xml]]
        partition = "vendor"
        path = "etc/permissions/org.romforge.led.xml"
        create = "permissions"
        add = '<feature name="org.romforge.hardware.led" /><feature name="org.romforge.hardware.led.rgb" version="2" />'
        """)
    out = _build(workspace, device(workspace, ["ops-xml"]))
    platform = etree.fromstring(out.read("system", "etc/permissions/platform.xml"))
    assert platform.xpath("/permissions/permission[@name='org.romforge.permission.LED']/group/@gid") == ["system"]
    assert not platform.xpath("//library")
    assert platform.xpath("count(/permissions/permission)") == 3  # the two base permissions are still there
    privapp = etree.fromstring(out.read("system", "etc/permissions/privapp-permissions-platform.xml"))
    perms = privapp.xpath("//permission")
    assert [p.get("romforge") for p in perms] == ["checked", "checked"]
    created = out.read("vendor", "etc/permissions/org.romforge.led.xml")
    root = etree.fromstring(created)
    assert root.tag == "permissions"
    assert [(f.get("name"), f.get("version")) for f in root] == [("org.romforge.hardware.led", None),
                                                                 ("org.romforge.hardware.led.rgb", "2")]
    assert created.startswith(b"<?xml") and b"\n    <feature" in created  # indented like AOSP's files


def test_resource_values_become_a_signed_static_rro(workspace: Path, tmp_path: Path) -> None:
    write_overlay(workspace, "ops-rro", """
        name = "ops-rro"
        version = "3.2"
        [[resources]]
        target = "com.android.systemui"
        partition = "product"
        priority = 42
        [resources.bools]
        config_romforge_tile = true
        [resources.integers]
        config_romforge_columns = 5
        [resources.strings]
        quick_settings_tiles_default = "internet,bt,flashlight"
        romforge_at = "@not-a-reference it's \\"quoted\\""
        [resources.string-arrays]
        config_romforge_tiles = ["flashlight", "dnd"]
        [resources.integer-arrays]
        config_romforge_levels = [1, 2, 3]
        [resources.dimens]
        romforge_tile_size = "48dp"
        [resources.colors]
        romforge_accent = "#ff0a84ff"
        [resources.arrays]
        romforge_refs = ["@string/quick_settings_tiles_default"]
        [[resources]]
        target = "com.android.dialer"
        partition = "vendor"
        res = "res"
        """, {"res/values/bools.xml": '<resources><bool name="config_romforge_dialer">true</bool></resources>',
              "res/values-zh-rCN/strings.xml": '<resources><string name="romforge_hello">你好</string></resources>'})
    tree = _build(workspace, device(workspace, ["ops-rro"]))
    apk = tmp_path / "rro.apk"
    apk.write_bytes(tree.read("product", "overlay/com.android.systemui.overlay.ops_rro.apk"))
    verify = subprocess.run(["apksigner", "verify", "-v", str(apk)], capture_output=True, text=True)
    assert verify.returncode == 0 and "Verifies" in verify.stdout
    assert subprocess.run(["zipalign", "-c", "4", str(apk)]).returncode == 0
    badging = subprocess.run(["aapt2", "dump", "badging", str(apk)], capture_output=True, text=True).stdout
    assert "package: name='com.android.systemui.overlay.ops_rro'" in badging and "versionName='3.2'" in badging
    manifest = subprocess.run(["aapt2", "dump", "xmltree", "--file", "AndroidManifest.xml", str(apk)],
                              capture_output=True, text=True, check=True).stdout
    assert 'targetPackage(0x01010021)="com.android.systemui"' in manifest
    assert "isStatic(0x0101055a)=true" in manifest and "priority(0x0101001c)=42" in manifest
    resources = subprocess.run(["aapt2", "dump", "resources", str(apk)], capture_output=True, text=True,
                               check=True).stdout
    for expected in ('string/quick_settings_tiles_default\n      () "internet,bt,flashlight"',
                     "bool/config_romforge_tile\n      () true", "integer/config_romforge_columns\n      () 5",
                     "dimen/romforge_tile_size\n      () 48.000000dp", "color/romforge_accent\n      () #ff0a84ff",
                     '["flashlight", "dnd"]', "[1, 2, 3]", "[@string/quick_settings_tiles_default]",
                     '() "@not-a-reference it\'s "quoted""'):
        assert expected in resources, (expected, resources)
    dialer = tmp_path / "dialer.apk"
    dialer.write_bytes(tree.read("vendor", "overlay/com.android.dialer.overlay.ops_rro.apk"))
    dumped = subprocess.run(["aapt2", "dump", "resources", str(dialer)], capture_output=True, text=True,
                            check=True).stdout
    assert "config_romforge_dialer" in dumped and '(zh-rCN) "你好"' in dumped
    entry = tree.get("product", "overlay/com.android.systemui.overlay.ops_rro.apk")
    assert (entry.meta.mode, entry.meta.uid, entry.meta.selabel) == (0o644, 0, "u:object_r:system_file:s0")


def test_text_patch_applies_and_keeps_the_rest(workspace: Path, sample_rom: Path) -> None:
    write_overlay(workspace, "ops-patch", """
        name = "ops-patch"
        version = "1"
        [[patches]]
        file = "patches/rc.diff"
        """, {"patches/rc.diff": (
        "--- a/system/etc/init/servicemanager.rc\n"
        "+++ b/system/etc/init/servicemanager.rc\n"
        "@@ -3,3 +3,4 @@\n"
        "     user system\n"
        "-    group system readproc\n"
        "+    group system readproc romforge\n"
        "     critical\n"
        "+    shutdown critical\n"
        "--- a/vendor/etc/init/android.hardware.light-service.xiaomi.rc\n"
        "+++ b/vendor/etc/init/android.hardware.light-service.xiaomi.rc\n"
        "@@ -1,2 +1,2 @@\n"
        "-service vendor.light-service /vendor/bin/hw/android.hardware.light-service.xiaomi\n"
        "+service vendor.light-romforge /vendor/bin/hw/android.hardware.light-service.xiaomi\n"
        "     class hal\n")})
    out = _build(workspace, device(workspace, ["ops-patch"]))
    assert out.read("system", "etc/init/servicemanager.rc") == (
        b"service servicemanager /system/bin/servicemanager\n    class core animation\n    user system\n"
        b"    group system readproc romforge\n    critical\n    shutdown critical\n")
    light = out.read("vendor", "etc/init/android.hardware.light-service.xiaomi.rc").decode()
    assert light.startswith("service vendor.light-romforge ") and light.endswith("    group system\n")


def test_build_info_records_overlays_and_build_is_reproducible(workspace: Path, tmp_path: Path) -> None:
    dev = device(workspace, ["flashlight-tile", "call-answer-time", "notification-led"])
    ws = load_workspace(workspace)
    a = build(ws, BuildRequest(dev, "1.0", DATE, out=tmp_path / "a"))
    b = build(ws, BuildRequest(dev, "1.0", DATE, out=tmp_path / "b"))
    assert a.target_files.read_bytes() == b.target_files.read_bytes()
    assert (a.release / "build-info.json").read_bytes() == (b.release / "build-info.json").read_bytes()
    info = json.loads((a.release / "build-info.json").read_text())
    assert [(o["name"], o["version"]) for o in info["overlays"]] == [
        ("call-answer-time", "1.2"), ("flashlight-tile", "1.0"), ("notification-led", "1.0")]
    assert [o["name"] for o in info["inputs"]["overlays"]["overlays"]] == [
        "call-answer-time", "flashlight-tile", "notification-led"]
    assert info["inputs"]["overlays"]["rro_signing"].startswith("romforge test key")
    # changing an overlay changes the build's inputs: the release is not silently reused
    toml = workspace / "overlays/flashlight-tile/overlay.toml"
    toml.write_text(toml.read_text().replace('version = "1.0"', 'version = "1.1"'))
    c = build(load_workspace(workspace), BuildRequest(dev, "1.0", DATE, out=tmp_path / "c"))
    assert c.build_info.inputs["overlays"] != info["inputs"]["overlays"]


def test_workspace_key_signs_the_rros(workspace: Path, tmp_path: Path) -> None:
    keys = workspace / "keys"
    keys.mkdir(exist_ok=True)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(tmp_path / "k.pem"),
                    "-out", str(keys / "platform.x509.pem"), "-days", "3650", "-subj", "/CN=romforge-test-team"],
                   check=True, capture_output=True)
    subprocess.run(["openssl", "pkcs8", "-topk8", "-nocrypt", "-inform", "PEM", "-outform", "DER", "-in",
                    str(tmp_path / "k.pem"), "-out", str(keys / "platform.pk8")], check=True)
    config = workspace / "romforge.toml"
    config.write_text(config.read_text() + '\n[signing]\noverlay_key = "keys/platform"\n')
    tree = _build(workspace, device(workspace, ["flashlight-tile"]))
    apk = tmp_path / "tile.apk"
    apk.write_bytes(tree.read("product", "overlay/com.android.systemui.overlay.flashlight_tile.apk"))
    certs = subprocess.run(["apksigner", "verify", "--print-certs", str(apk)], capture_output=True, text=True,
                           check=True).stdout
    assert "CN=romforge-test-team" in certs


def test_make_demo_output_shows_applied_overlays_per_device(run, workspace: Path) -> None:
    result = run("build", "cepheus", "--version", "9.0", "--date", DATE, cwd=workspace)
    assert result.exit_code == 0, result.output
    assert "overlays: call-answer-time 1.2, flashlight-tile 1.0, notification-led 1.0" in result.output
    assert "[cepheus] overlay flashlight-tile 1.0" in result.output
    assert "[cepheus]   rro com.android.systemui -> /product/overlay/" in result.output
    # make demo runs the weekly train, which names each device's overlays in its log
    weekly = run("weekly", "--week", "2026-W50", "--devices", "cepheus", "--keep-deltas", "0", cwd=workspace)
    assert weekly.exit_code == 0, weekly.output
    assert "[cepheus]   overlays: call-answer-time 1.2, flashlight-tile 1.0, notification-led 1.0" in weekly.output
    demo = (Path(__file__).resolve().parent.parent / "examples/demo.sh").read_text()
    assert '"$ROMFORGE" weekly' in demo


@pytest.mark.parametrize("dev,skipped", [("rosy", "notification-led"), ("cepheus", None)])
def test_devices_filter_skips_an_overlay(run, workspace: Path, dev: str, skipped: str | None) -> None:
    result = run("overlay", "list", "--device", dev, "--json", cwd=workspace)
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    names = [o["name"] for o in data["overlays"]]
    assert names == sorted(names)  # no order constraints between them: ties broken by name
    assert [s["name"] for s in data["skipped"]] == ([skipped] if skipped else [])


def test_overlay_check_command(run, workspace: Path) -> None:
    ok = run("overlay", "check", "--all", cwd=workspace)
    assert ok.exit_code == 0, ok.output
    assert "3 overlay(s) ok: call-answer-time, flashlight-tile, notification-led" in ok.output
    missing = run("overlay", "check", "no-such", "--json", cwd=workspace)
    assert missing.exit_code == 3
    data = json.loads(missing.output)
    assert data["ok"] is False and "no overlay 'no-such'" in data["findings"][0]["message"]
    usage = run("overlay", "check", cwd=workspace)
    assert usage.exit_code == 2

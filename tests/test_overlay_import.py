"""`romforge overlay import` on real device-tree overlays, then built into a ROM and read back."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import files_under
from overlaykit import DATE, device
from romforge.overlays.spec import load_overlay
from romforge.tree import RomTree

pytestmark = pytest.mark.realdata

FP4 = "fairphone-FP4-FrameworksResTarget"
WIFI = "xiaomi-sm8250-common-WifiResCommon"
STATIC = "xiaomi-sm8250-common-framework-res-static"


def _dump(apk_bytes: bytes, tmp: Path, what: str) -> str:
    apk = tmp / "x.apk"
    apk.write_bytes(apk_bytes)
    if what == "resources":
        args = ["aapt2", "dump", "resources", str(apk)]
    else:
        args = ["aapt2", "dump", "xmltree", "--file", "AndroidManifest.xml", str(apk)]
    return subprocess.run(args, capture_output=True, text=True, check=True).stdout


@pytest.mark.parametrize("sample,target,package,priority,name", [
    (FP4, "android", "android.overlay.target", 250, None),
    (WIFI, "com.android.wifi.resources", "com.android.wifi.resources.overlay.common", 0, "WifiCustomization"),
    (STATIC, "android", "android.auto_generated_rro_vendor__", 0, None),
])
def test_each_real_rro_folder_imports_builds_and_keeps_its_values(run, shared: Path, workspace: Path,
                                                                  tmp_path: Path, sample: str, target: str,
                                                                  package: str, priority: int,
                                                                  name: str | None) -> None:
    result = run("overlay", "import", shared / "device-overlays" / sample, "-o", "overlays/imported",
                 cwd=workspace)
    assert result.exit_code == 0, result.output
    assert f"overlays/imported: {target} ← {sample}" in result.output
    spec = load_overlay(workspace / "overlays/imported")
    (res,) = spec.resources
    assert (res.target, res.package, res.priority, res.partition, res.target_name) == (
        target, package, priority, "vendor", name)
    source_files = files_under(shared / "device-overlays" / sample / "res")
    assert files_under(workspace / "overlays/imported/res") == source_files
    built = run("build", device(workspace, ["imported"]), "--version", "1", "--date", DATE, cwd=workspace)
    assert built.exit_code == 0, built.output
    tree = RomTree.open(workspace / "releases/testdev/1/target-files.zip")
    apk = tree.read("vendor", f"overlay/{package}.apk")
    manifest = _dump(apk, tmp_path, "xmltree")
    assert f'targetPackage(0x01010021)="{target}"' in manifest and f"priority(0x0101001c)={priority}" in manifest
    assert "isStatic(0x0101055a)=true" in manifest and "hasCode(0x0101000c)=false" in manifest
    if name:
        assert f'targetName(0x0101044d)="{name}"' in manifest
    resources = _dump(apk, tmp_path, "resources")
    expected = {
        FP4: ("array/non_removable_euicc_slots\n      () (array) size=1\n        [1]", "dimen/", "xml/power_profile"),
        WIFI: ("bool/config_wifi5ghzSupport\n      () true", "integer/config_wifiHardwareSoftapMaxClientCount\n"
                                                          "      () 32", "string/config_wifiSoftap2gChannelList"),
        STATIC: ("bool/config_unplugTurnsOnScreen\n      () true", "array/networkAttributes"),
    }[sample]
    for text in expected:
        assert text in resources, (text, resources)


def test_folder_of_rros_becomes_one_overlay_per_target(run, shared: Path, workspace: Path) -> None:
    result = run("overlay", "import", shared / "device-overlays", "-o", "overlays/sm8250", "--json", cwd=workspace)
    assert result.exit_code == 0, result.output
    android = load_overlay(workspace / "overlays/sm8250-android")
    wifi = load_overlay(workspace / "overlays/sm8250-wifi-resources")
    assert sorted(r.package for r in android.resources) == ["android.auto_generated_rro_vendor__",
                                                            "android.overlay.target"]
    assert [r.target for r in wifi.resources] == ["com.android.wifi.resources"]
    check = run("overlay", "check", "sm8250-android", "sm8250-wifi-resources", cwd=workspace)
    assert check.exit_code == 0, check.output
    again = run("overlay", "import", shared / "device-overlays", "-o", "overlays/sm8250", cwd=workspace)
    assert again.exit_code == 1 and "already exists; import never overwrites" in again.output


def test_legacy_overlay_folder_finds_target_from_the_path(run, shared: Path, workspace: Path, tmp_path: Path) -> None:
    legacy = tmp_path / "device/xiaomi/sm8250-common/overlay"
    core = legacy / "frameworks/base/core/res/res/values"
    core.mkdir(parents=True)
    shutil.copy(shared / "device-overlays" / STATIC / "res/values/config.xml", core / "config.xml")
    systemui = legacy / "frameworks/base/packages/SystemUI/res/values"
    systemui.mkdir(parents=True)
    (systemui / "config.xml").write_text('<resources><bool name="config_enableFullscreenUserSwitcher">true</bool>'
                                         "</resources>")
    result = run("overlay", "import", legacy, "-o", "overlays/legacy", cwd=workspace)
    assert result.exit_code == 0, result.output
    assert load_overlay(workspace / "overlays/legacy-android").resources[0].target == "android"
    assert load_overlay(workspace / "overlays/legacy-systemui").resources[0].target == "com.android.systemui"
    unknown = tmp_path / "odd/overlay/vendor/qcom/opensource/Thing/res/values"
    unknown.mkdir(parents=True)
    (unknown / "x.xml").write_text("<resources/>")
    refused = run("overlay", "import", tmp_path / "odd/overlay", "-o", "overlays/odd", cwd=workspace)
    assert refused.exit_code == 1
    assert "cannot tell which package 'vendor/qcom/opensource/Thing' overlays" in refused.output
    assert "pass --target PACKAGE" in refused.output
    forced = run("overlay", "import", tmp_path / "odd/overlay", "-o", "overlays/odd", "--target",
                 "com.qualcomm.thing", cwd=workspace)
    assert forced.exit_code == 0, forced.output


def test_hostile_import_writes_nothing(run, shared: Path, workspace: Path, tmp_path: Path) -> None:
    src = tmp_path / "rro"
    shutil.copytree(shared / "device-overlays" / WIFI, src)
    os.symlink("/etc/passwd", src / "res/values/leak.xml")
    result = run("overlay", "import", src, "-o", "overlays/leak", cwd=workspace)
    assert result.exit_code == 1 and "is a symlink" in result.output
    (src / "res/values/leak.xml").unlink()
    (src / "res/values/bomb.xml").write_text('<!DOCTYPE r [<!ENTITY a "aaaa">]><resources>&a;</resources>')
    result = run("overlay", "import", src, "-o", "overlays/leak", cwd=workspace)
    assert result.exit_code == 1 and "<!DOCTYPE> is not allowed" in result.output
    assert sorted(p.name for p in (workspace / "overlays").iterdir()) == [
        "README.md", "call-answer-time", "flashlight-tile", "notification-led"]  # no half-written overlay, no temp dir

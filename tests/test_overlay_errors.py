"""Broken overlays: one report naming every problem with file:line, exit 1, nothing written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conftest import files_under, tree_snapshot
from overlaykit import DATE, device, prop_overlay, write_overlay
from romforge.overlays.resolve import resolve
from romforge.profile import load_profile
from romforge.workspace import load_workspace


def _refused(run, ws: Path, dev: str) -> list[str]:
    """Build `dev`; expect exit 1, one error report, no traceback, nothing under releases/."""
    overlays_before = tree_snapshot(ws / "overlays")
    result = run("build", dev, "--version", "1.0", "--date", DATE, cwd=ws)
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert files_under(ws / "releases") == []
    assert tree_snapshot(ws / "overlays") == overlays_before
    lines = result.output.splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("romforge: error:")]
    assert len(starts) == 1, result.output
    return lines[starts[0]:]


def _has(report: list[str], file: str, line: int, words: str) -> None:
    pattern = re.compile(rf"^\s*{re.escape(file)}:{line}: .*{re.escape(words)}")
    assert any(pattern.search(text) for text in report), (file, line, words, report)


def test_conflicts_missing_requirements_and_unknown_overlays_in_one_report(run, workspace: Path) -> None:
    write_overlay(workspace, "dark-qs", """
        name = "dark-qs"
        version = "1"
        conflicts = ["light-qs"]
        requires = ["qs-base", "nowhere"]
        [props.system.set]
        "persist.romforge.qs" = "dark"
        """)
    prop_overlay(workspace, "light-qs")
    prop_overlay(workspace, "qs-base")
    report = _refused(run, workspace, device(workspace, ["dark-qs", "light-qs", "ghost"]))
    assert "4 problem(s) with the overlays of testdev; nothing was built" in report[0]
    _has(report, "device-profiles/testdev.toml", 4, "enables overlay 'ghost'")
    _has(report, "overlays/dark-qs/overlay.toml", 4, "requires overlay 'qs-base', which profile testdev does not enable")
    _has(report, "overlays/dark-qs/overlay.toml", 4, "requires overlay 'nowhere', which does not exist")
    _has(report, "overlays/dark-qs/overlay.toml", 3, "conflicts with overlay 'light-qs'")


def test_cycle_is_reported_with_each_step(run, workspace: Path) -> None:
    for name, after in (("a-one", "c-three"), ("b-two", "a-one"), ("c-three", "b-two")):
        prop_overlay(workspace, name, f'after = ["{after}"]')
    report = _refused(run, workspace, device(workspace, ["a-one", "b-two", "c-three"]))
    text = "\n".join(report)
    assert "overlay order forms a cycle" in text
    for name in ("a-one", "b-two", "c-three"):
        assert f"overlays/{name}/overlay.toml:3 after" in text


def test_unordered_overlaps_on_a_path_and_a_prop(run, workspace: Path) -> None:
    write_overlay(workspace, "led-a", """
        name = "led-a"
        version = "1"
        [[files]]
        partition = "vendor"
        path = "etc/led.conf"
        content = "a"
        [props.vendor.set]
        "persist.vendor.led" = "a"
        """)
    write_overlay(workspace, "led-b", """
        name = "led-b"
        version = "1"

        [props.vendor.set]
        "persist.vendor.led" = "b"

        [[files]]
        action = "replace"
        partition = "vendor"
        path = "etc/led.conf"
        content = "b"
        """)
    report = _refused(run, workspace, device(workspace, ["led-a", "led-b"]))
    _has(report, "overlays/led-a/overlay.toml", 3, "both change /vendor/etc/led.conf but neither says which goes first")
    _has(report, "overlays/led-a/overlay.toml", 8, "both change property persist.vendor.led in vendor")
    assert any("overlays/led-b/overlay.toml:5" in line for line in report)  # the other side is named too
    # an explicit order makes the same pair fine, and the later one wins
    toml = workspace / "overlays/led-b/overlay.toml"
    toml.write_text(toml.read_text().replace('version = "1"\n', 'version = "1"\nafter = ["led-a"]\n'))
    result = run("build", "testdev", "--version", "1.0", "--date", DATE, cwd=workspace)
    assert result.exit_code == 0, result.output


def test_bad_patch_and_bad_xpath_and_missing_targets_in_one_report(run, workspace: Path) -> None:
    write_overlay(workspace, "broken-ops", """
        name = "broken-ops"
        version = "1"

        [[xml]]
        partition = "system"
        path = "etc/permissions/platform.xml"
        remove = "//permission[@name='x'"

        [[xml]]
        partition = "system"
        path = "etc/permissions/platform.xml"
        remove = "//no-such-element"

        [[files]]
        action = "remove"
        partition = "system"
        path = "app/NoSuchApp"

        [[patches]]
        file = "patches/rc.diff"
        """, {"patches/rc.diff": (
        "Subject: give servicemanager a new group\n"
        "\n"
        "--- a/system/etc/init/servicemanager.rc\n"
        "+++ b/system/etc/init/servicemanager.rc\n"
        "@@ -1,2 +1,2 @@\n"
        " service servicemanager /system/bin/servicemanager\n"
        "-    class core\n"
        "+    class core animation\n"
        "@@ -4,1 +4,1 @@\n"
        "-    group system readproc\n"
        "+    group system\n")})
    report = _refused(run, workspace, device(workspace, ["broken-ops"]))
    assert "4 problem(s) with the overlays of testdev; nothing was built" in report[0]
    _has(report, "overlays/broken-ops/overlay.toml", 7, "bad XPath \"//permission[@name='x'\"")
    # what parses is still tried on the base ROM, so the same report names what does not apply
    _has(report, "overlays/broken-ops/overlay.toml", 9, "XPath '//no-such-element' matches nothing")
    _has(report, "overlays/broken-ops/overlay.toml", 14, "cannot remove /system/app/NoSuchApp")
    _has(report, "overlays/broken-ops/patches/rc.diff", 5, "hunk #1 does not apply to /system/etc/init/servicemanager.rc")
    assert not any("hunk #2" in line for line in report)  # the second hunk matches the base file
    check = run("overlay", "check", "broken-ops", cwd=workspace)
    assert check.exit_code == 3, check.output
    assert "4 problem(s) in 1 overlay(s)" in check.output
    assert "overlays/broken-ops/patches/rc.diff:5: error: hunk #1 does not apply" in check.output


def test_unknown_operations_and_wrong_types_are_all_listed(run, workspace: Path) -> None:
    write_overlay(workspace, "typos", """
        name = "typos"
        version = "1"
        descripton = "misspelled"

        [[files]]
        action = "chmod"
        path = "bin/toybox"

        [[files]]
        path = "etc/x.conf"
        content = "x"
        mode = "rwxr-xr-x"
        uid = "nobody-known"

        [[frobnicate]]
        path = "x"

        [props.system]
        sett = { "a.b" = "1" }

        [[xml]]
        path = "etc/permissions/platform.xml"
        rename = "x"

        [[resources]]
        target = "com.android.systemui"
        [resources.bools]
        config_x = "yes"
        """)
    report = _refused(run, workspace, device(workspace, ["typos"]))
    overlay = "overlays/typos/overlay.toml"
    _has(report, overlay, 3, "unknown key 'descripton'")
    _has(report, overlay, 6, "unknown file action 'chmod'")
    _has(report, overlay, 12, "'mode' must be an octal mode")
    _has(report, overlay, 13, "'uid' must be a number or an AID name")
    _has(report, overlay, 15, "unknown key 'frobnicate'")
    _has(report, overlay, 19, "unknown key 'sett' in [props.system]")
    _has(report, overlay, 23, "unknown key 'rename' in [[xml]]")
    _has(report, overlay, 21, "[[xml]] needs exactly one of add, remove or set")
    _has(report, overlay, 28, "bools.config_x must be a boolean")


def test_overlay_setting_a_stamped_property_is_refused(run, workspace: Path) -> None:
    write_overlay(workspace, "fake-id", """
        name = "fake-id"
        version = "1"
        [props.system.set]
        "ro.build.display.id" = "MIUI 1.0"
        """)
    report = _refused(run, workspace, device(workspace, ["fake-id"]))
    _has(report, "overlays/fake-id/overlay.toml", 4, "sets ro.build.display.id, which every build stamps itself")


def test_order_follows_after_and_requires_with_a_stable_tie_break(workspace: Path) -> None:
    for name, extra in (("zeta", ""), ("alpha", 'after = ["zeta"]'), ("mid", ""), ("beta", 'requires = ["mid"]')):
        prop_overlay(workspace, name, extra)
    dev = device(workspace, ["alpha", "beta", "mid", "zeta"])
    ws = load_workspace(workspace)
    order = [o.name for o in resolve(workspace / "overlays", load_profile(dev, ws.profile_dirs)).order]
    assert order == ["mid", "beta", "zeta", "alpha"]


@pytest.mark.parametrize("bad,where", [
    ('name = "broken"\nversion = = "1"\n', "overlays/broken/overlay.toml:2:"),
    ('name = "other-name"\nversion = "1"\n[props.system.set]\n"a.b" = "1"\n', "overlays/broken/overlay.toml:1:"),
])
def test_broken_overlay_toml_names_file_and_line(run, workspace: Path, bad: str, where: str) -> None:
    write_overlay(workspace, "broken", bad)
    report = _refused(run, workspace, device(workspace, ["broken"]))
    assert any(line.lstrip().startswith(where) for line in report), report

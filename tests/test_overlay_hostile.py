"""Hostile overlays are refused before anything is written, anywhere."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from conftest import tree_snapshot
from overlaykit import DATE, device, write_overlay

ENTITY_BOMB = ('<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
               '<permissions>&lol2;</permissions>')

HOSTILE = {
    "climbing file target": ('''
        [[files]]
        partition = "system"
        path = "../../x"
        content = "owned"
        ''', {}, "path =", "climbs out with '..'"),
    "absolute file target": ('''
        [[files]]
        partition = "vendor"
        path = "/etc/cron.d/x"
        content = "owned"
        ''', {}, "path =", "is absolute"),
    "source outside the overlay": ('''
        [[files]]
        path = "etc/x"
        source = "../../../../etc/passwd"
        ''', {}, "source =", "climbs out with '..'"),
    "source through a symlink": ('''
        [[files]]
        path = "etc/x"
        source = "files/secret"
        ''', {"files/secret": Path("/etc/hostname")}, "source =", "goes through a symlink"),
    "symlink climbing out of the partition": ('''
        [[files]]
        action = "symlink"
        path = "etc/escape"
        target = "../../../../home"
        ''', {}, "target =", "climbs out of the partition"),
    "absolute symlink off the device": ('''
        [[files]]
        action = "symlink"
        path = "etc/escape"
        target = "/home/builder/.ssh"
        ''', {}, "target =", "outside the Android filesystem roots"),
    "XML fragment with entities": (f'''
        [[xml]]
        path = "etc/permissions/platform.xml"
        add = '{ENTITY_BOMB}'
        ''', {}, "add =", "DOCTYPE"),
    "res/ XML with entities": ('''
        [[resources]]
        target = "android"
        res = "res"
        ''', {"res/values/x.xml": ENTITY_BOMB}, None, "DOCTYPE"),
    "res/ holding a symlink": ('''
        [[resources]]
        target = "android"
        res = "res"
        ''', {"res/values/x.xml": Path("/etc/hostname")}, "res =", "symlink"),
    "patch climbing out": ('''
        [[patches]]
        file = "p.diff"
        ''', {"p.diff": "--- a/system/../../../etc/passwd\n+++ b/system/../../../etc/passwd\n@@ -1 +1 @@\n-a\n+b\n"},
        "file =", "climbs out with '..'"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_overlay_is_refused_without_touching_the_filesystem(run, workspace: Path, sample_rom: Path,
                                                                    tmp_path: Path, case: str) -> None:
    body, files, key_line, words = HOSTILE[case]
    root = write_overlay(workspace, "evil", 'name = "evil"\nversion = "1"\n' + body.replace("\n        ", "\n"))
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(data, Path):
            os.symlink(data, path)
        else:
            path.write_text(data)
    dev = device(workspace, ["evil"])
    around, base = tree_snapshot(tmp_path), tree_snapshot(sample_rom)
    result = run("build", dev, "--version", "1", "--date", DATE, cwd=workspace)
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert words in result.output
    if key_line is None:
        assert "overlays/evil/res/values/x.xml:1:" in result.output
    else:
        text = (root / "overlay.toml").read_text().splitlines()
        line = next(n for n, t in enumerate(text, start=1) if t.startswith(key_line))
        assert f"overlays/evil/overlay.toml:{line}:" in result.output
    assert tree_snapshot(tmp_path) == around  # nothing written: not in the workspace, not next to it
    assert tree_snapshot(sample_rom) == base
    assert not (workspace / "releases").exists() or not any((workspace / "releases").iterdir())


def test_xml_in_the_tree_with_entities_is_not_edited(run, workspace: Path, tmp_path: Path) -> None:
    """An earlier overlay ships an XML file with a DTD; a later one editing it is refused."""
    write_overlay(workspace, "ships-dtd", '''
        name = "ships-dtd"
        version = "1"
        [[files]]
        path = "etc/permissions/bomb.xml"
        source = "files/bomb.xml"
        ''', {"files/bomb.xml": ENTITY_BOMB})
    write_overlay(workspace, "edits-it", '''
        name = "edits-it"
        version = "1"
        after = ["ships-dtd"]
        [[xml]]
        path = "etc/permissions/bomb.xml"
        remove = "//x"
        ''')
    dev = device(workspace, ["ships-dtd", "edits-it"])
    around = tree_snapshot(tmp_path)
    result = run("build", dev, "--version", "1", "--date", DATE, cwd=workspace)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "overlays/edits-it/overlay.toml:4: cannot edit /system/etc/permissions/bomb.xml:1: <!DOCTYPE> is not allowed" \
        in result.output
    assert tree_snapshot(tmp_path) == around


def test_overlay_toml_that_is_a_symlink_is_refused(run, workspace: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside.toml"
    outside.write_text('name = "linked"\nversion = "1"\n[props.system.set]\n"a.b" = "1"\n')
    (workspace / "overlays/linked").mkdir(parents=True)
    os.symlink(outside, workspace / "overlays/linked/overlay.toml")
    result = run("build", device(workspace, ["linked"]), "--version", "1", "--date", DATE, cwd=workspace)
    assert result.exit_code == 1
    assert "overlays/linked/overlay.toml: is a symlink" in result.output

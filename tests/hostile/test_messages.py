"""Messages name the file the user gave: not a symlink's target, not a deleted staging copy."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from hostile.conftest import Case, check


def test_messages_name_the_path_as_given(workspace: Path, sample_rom: Path, tmp_path: Path) -> None:
    real = tmp_path / "elsewhere"
    real.mkdir()
    (real / "broken-anim.zip").write_bytes(b"PK\x03\x04 not really a zip")
    os.symlink(real / "broken-anim.zip", tmp_path / "anim.zip")
    base = tmp_path / "stored-bases" / "base-rom"
    shutil.copytree(sample_rom, base, symlinks=True)
    prop = base / "SYSTEM" / "build.prop"
    prop.write_text(prop.read_text() + "this line has no equals sign\n")
    os.symlink(base, tmp_path / "base")
    cases = [
        Case("symlinked animation", ["bootanim", "check", "anim.zip"], cwd=tmp_path, names="anim.zip:",
             not_says="elsewhere"),
        Case("symlinked base, bad build.prop", ["build", "alioth", "-V", "2026.48.1", "--date", "2026-11-27",
                                                "--base", tmp_path / "base", "--out", tmp_path / "releases"],
             cwd=workspace, names=" base/SYSTEM/build.prop:", not_says="stored-bases"),
    ]
    check(cases, tmp_path)

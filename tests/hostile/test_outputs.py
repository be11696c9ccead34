"""Outputs that cannot be made: an output path below a regular file, for every command that writes.

Each is refused with one message naming the path, nothing written, the file left as it was.
"""

from __future__ import annotations

from pathlib import Path

from conftest import REPO
from hostile.conftest import Case, check


def test_an_output_below_a_regular_file_is_refused(workspace: Path, sample_rom: Path, small_ota: Path,
                                                    ota_test_key: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("a regular file where a directory must be\n")
    below = blocker / "sub"
    contacts = tmp_path / "contacts.csv"
    contacts.write_text("name,number\n张三,13800138000\n")
    cases = [
        Case("build --out", ["build", "alioth", "-V", "2026.48.1", "--date", "2026-11-27", "--out", below],
             cwd=workspace, names="blocker"),
        Case("ota full -o", ["ota", "full", sample_rom, "-o", below / "ota.zip", "-k", ota_test_key], cwd=tmp_path,
             names="blocker"),
        Case("ota apply --out", ["ota", "apply", small_ota, "--out", below], cwd=tmp_path, names="blocker"),
        Case("sample-rom", ["sample-rom", below / "rom", "--files", "20"], cwd=tmp_path, names="blocker"),
        Case("sample-rom zip", ["sample-rom", below / "rom.zip", "--files", "20"], cwd=tmp_path, names="blocker"),
        Case("t9 index -o", ["t9", "index", "--contacts", contacts, "-o", below / "index.json"], cwd=tmp_path,
             names="blocker"),
        Case("bootanim render -o", ["bootanim", "render", "alioth", "-o", below / "b.zip", "--no-base",
                                    "--credits", REPO / "examples/workspace/credits/contributors.csv"],
             cwd=workspace, names="blocker"),
        Case("ota keygen", ["ota", "keygen", below / "key"], cwd=tmp_path, names="blocker"),
        Case("base below a file", ["build", "alioth", "-V", "2026.48.2", "--date", "2026-11-27", "--base",
                                   below / "base"], cwd=workspace, names="blocker"),
    ]
    check(cases, tmp_path)
    assert blocker.read_text() == "a regular file where a directory must be\n"

"""The unified-diff reader follows hunk counts the way GNU patch does."""

from __future__ import annotations

from pathlib import Path

import pytest

from romforge.errors import InputError
from romforge.overlays.patch import failed_hunks, run_patch, split_unified_diff

TWO_FILES = (
    "From: a ROM engineer\n"
    "diff --git a/system/etc/db.sql b/system/etc/db.sql\n"
    "--- a/system/etc/db.sql\n"
    "+++ b/system/etc/db.sql\n"
    "@@ -1,3 +1,2 @@\n"
    "--- an SQL comment that starts with two dashes\n"
    "+++ a line that starts with two pluses\n"
    " SELECT 1;\n"
    "-DROP TABLE calls;\n"
    "--- a/vendor/etc/x.rc\n"
    "+++ b/vendor/etc/x.rc\n"
    "@@ -1 +1 @@\n"
    "-old\n"
    "+new\n"
    "\\ No newline at end of file\n"
)


def test_sections_follow_the_hunk_counts() -> None:
    sections = split_unified_diff(TWO_FILES, source="x.diff")
    assert [(s.old, s.new, s.hunk_lines) for s in sections] == [
        ("a/system/etc/db.sql", "b/system/etc/db.sql", (5,)),
        ("a/vendor/etc/x.rc", "b/vendor/etc/x.rc", (12,)),
    ]


def test_gnu_patch_applies_a_section_and_reports_the_failed_hunk(tmp_path: Path) -> None:
    section = split_unified_diff(TWO_FILES, source="x.diff")[0].text
    original = b"-- an SQL comment that starts with two dashes\nSELECT 1;\nDROP TABLE calls;\n"
    patched, _ = run_patch(original, section, tmp_path)
    assert patched == b"++ a line that starts with two pluses\nSELECT 1;\n"
    result, output = run_patch(b"something else\n", section, tmp_path)
    assert result is None and failed_hunks(output) == [1]


@pytest.mark.parametrize("text,line,words", [
    ("--- a/x\n+++ b/x\n@@ -1,2 +1,2 @@\n a\n", 3, "ends inside a hunk"),
    ("--- a/x\n+++ b/x\n@@ bogus @@\n", 3, "malformed hunk header"),
    ("--- a/x\n+++ b/x\n@@ -1 +1 @@\n?x\n", 4, "unexpected line"),
    ("just some text\n", None, "not a unified diff"),
])
def test_malformed_diffs_name_the_line(text: str, line: int | None, words: str) -> None:
    with pytest.raises(InputError) as err:
        split_unified_diff(text, source="p.diff")
    assert err.value.line == line and words in err.value.message

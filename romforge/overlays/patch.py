"""Unified diffs: read by their hunk counts, applied by GNU patch.

Overlays carry patches to text files in the tree. The reader finds which files a diff
changes and where each hunk starts (for file:line in reports) before anything runs;
GNU patch then applies one file's section at a time, strictly: no fuzz, no reversed
patches, no backup files, and the output goes to a file we name, never to a path taken
from the diff.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from romforge.errors import InputError
from romforge.run.tools import Tools
from romforge.run.process import run_program

_HUNK = re.compile(r"^@@ -([0-9]{1,9})(?:,([0-9]{1,9}))? \+([0-9]{1,9})(?:,([0-9]{1,9}))? @@")  # ASCII digits, bounded


@dataclass(frozen=True)
class DiffSection:
    old: str
    new: str
    hunk_lines: tuple[int, ...]
    text: str


def _diff_name(header: str) -> str:
    return header[4:].split("\t", 1)[0].strip()


def split_unified_diff(text: str, *, source: str) -> list[DiffSection]:
    """The file sections of a unified diff, read by the hunk counts (as GNU patch does), so a
    removed line that starts with '-- ' is never taken for a header. Preamble lines
    (`diff --git`, `index`, mail text) are skipped."""
    lines = text.splitlines(keepends=True)
    sections: list[DiffSection] = []
    i = 0
    while i < len(lines):
        if not (lines[i].startswith("--- ") and i + 1 < len(lines) and lines[i + 1].startswith("+++ ")):
            i += 1
            continue
        start, old, new = i, _diff_name(lines[i]), _diff_name(lines[i + 1])
        i += 2
        hunks = []
        while i < len(lines) and lines[i].startswith("@@"):
            m = _HUNK.match(lines[i])
            if not m:
                raise InputError(f"malformed hunk header {lines[i].strip()[:60]!r}", file=source, line=i + 1)
            hunks.append(i + 1)
            old_left, new_left = int(m.group(2) or 1), int(m.group(4) or 1)
            i += 1
            while old_left > 0 or new_left > 0:
                if i >= len(lines):
                    raise InputError("the diff ends inside a hunk", file=source, line=hunks[-1])
                mark = lines[i][:1]
                if mark in (" ", "\n", "\r"):
                    old_left, new_left = old_left - 1, new_left - 1
                elif mark == "-":
                    old_left -= 1
                elif mark == "+":
                    new_left -= 1
                elif mark != "\\":
                    raise InputError(f"unexpected line in a hunk: {lines[i].rstrip()[:60]!r}", file=source, line=i + 1)
                if old_left < 0 or new_left < 0:
                    raise InputError("a hunk holds more lines than its @@ header says", file=source, line=hunks[-1])
                i += 1
            while i < len(lines) and lines[i].startswith("\\"):
                i += 1
        if not hunks:
            raise InputError(f"'{old}' has no @@ hunk", file=source, line=start + 1)
        sections.append(DiffSection(old, new, tuple(hunks), "".join(lines[start:i])))
    if not sections:
        raise InputError("is not a unified diff (expected ---/+++ headers and @@ hunks)", file=source)
    return sections


_FAILED_HUNK = re.compile(r"Hunk #(\d+) FAILED")


def run_patch(original: bytes, section: str, work: Path, *, tools: Tools | None = None) -> tuple[bytes | None, str]:
    """GNU patch on one file's section, strictly: no fuzz, no reversed patches, no backups."""
    (work / "original").write_bytes(original)
    (work / "section.diff").write_text(section, encoding="utf-8")
    result = work / "result"
    result.unlink(missing_ok=True)
    proc = run_program([(tools or Tools()).path("patch"), "--batch", "--forward", "--fuzz=0", "--no-backup-if-mismatch",
                           "--reject-file=-", "--quiet", "-i", str(work / "section.diff"), "-o", str(result),
                           str(work / "original")], capture_output=True, text=True)
    if proc.returncode != 0:
        return None, (proc.stdout + proc.stderr).strip()
    return result.read_bytes(), ""


def failed_hunks(output: str) -> list[int]:
    """The hunk numbers GNU patch says failed (hunk 1 when it says nothing more precise)."""
    return [int(n) for n in _FAILED_HUNK.findall(output)] or [1]

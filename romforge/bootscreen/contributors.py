"""credits/contributors.csv: the early contributors a boot animation thanks, read defensively.

The CSV comes from outside the team and may hold anything: control characters and
bidi overrides are removed (and reported), stacked combining marks and long names are
cut, bad dates are errors with file:line. Names are sorted by join date, then name.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from romforge.bootscreen.textrender import ZWJ, ZWNJ, clusters
from romforge.errors import Finding, InputError, shown_path
from romforge.safeio import decode_text, parse_csv, read_regular_file

REQUIRED = ("name", "joined")
OPTIONAL = ("handle",)
MAX_CSV_BYTES = 4 << 20
MAX_ROWS = 100_000
MAX_NAME = 48  # characters kept of a name; longer ones are cut with an ellipsis
MAX_HANDLE = 32
MAX_MARKS = 3  # combining marks kept on one character ("zalgo" text is cut down)
MAX_CLUSTER = 32  # code points in one grapheme cluster; the longest emoji ZWJ sequences have 10
MAX_NOTES = 20  # sanitizing notes kept per file; the rest are counted
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_BIDI_CONTROLS = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")


@dataclass(frozen=True)
class Contributor:
    name: str
    handle: str
    joined: dt.date
    line: int

    def sort_key(self) -> tuple:
        return (self.joined, self.name.casefold(), self.name, self.handle, self.line)

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "handle": self.handle, "joined": self.joined.isoformat()}


@dataclass
class Credits:
    source: str  # as shown in messages and build-info (no host path)
    sha256: str
    contributors: list[Contributor]  # sorted by join date, then name
    notes: list[Finding] = field(default_factory=list)
    notes_total: int = 0


def describe_char(ch: str) -> str:
    name = unicodedata.name(ch, "")
    return f"U+{ord(ch):04X}" + (f" {name}" if name else "")


def sanitize(text: str, limit: int) -> tuple[str, list[str]]:
    """Text safe to draw: NFC, no controls or bidi overrides, bounded marks and clusters, single spaces,
    cut at `limit` grapheme clusters (never inside one)."""
    problems: list[str] = []
    kept: list[str] = []
    marks = 0
    for ch in unicodedata.normalize("NFC", text):
        category = unicodedata.category(ch)
        if ch in _BIDI_CONTROLS:
            problems.append(f"removed bidi control {describe_char(ch)}")
            continue
        if category in ("Cc", "Cs", "Co", "Cn") or (category == "Cf" and ch not in (ZWJ, ZWNJ)):
            if not ch.isspace():
                problems.append(f"removed {'control' if category == 'Cc' else 'invisible'} character {describe_char(ch)}")
                continue
        if category in ("Mn", "Me"):
            marks += 1
            if marks > MAX_MARKS:
                if not problems or not problems[-1].startswith("removed stacked"):
                    problems.append(f"removed stacked combining marks (more than {MAX_MARKS} on one character)")
                continue
        else:
            marks = 0
        kept.append(" " if ch.isspace() else ch)
    parts = clusters("".join(kept))
    if any(len(cl) > MAX_CLUSTER for cl in parts):
        problems.append(f"removed a sequence of more than {MAX_CLUSTER} joined characters")
        parts = [cl for cl in parts if len(cl) <= MAX_CLUSTER]
    cleaned = " ".join("".join(parts).split())
    parts = clusters(cleaned)
    if len(parts) > limit:
        cleaned = "".join(parts[: limit - 1]).rstrip() + "\u2026"
        problems.append(f"cut to {limit} characters")
    return cleaned, list(dict.fromkeys(problems))


def read_credits(path: Path, *, shown: str | None = None) -> Credits:
    """Read, sanitize and sort the contributors; InputError (file:line) for what cannot be fixed."""
    where = shown or shown_path(path)
    data = read_regular_file(path, shown=where, max_bytes=MAX_CSV_BYTES)  # no FIFO, device or symlink
    rows = parse_csv(decode_text(data, shown=where), required=REQUIRED, optional=OPTIONAL, shown=where,
                     max_rows=MAX_ROWS)
    notes: list[Finding] = []
    total_notes = 0
    seen: set[tuple[str, str]] = set()
    people: list[Contributor] = []
    for row in rows:
        name, name_problems = sanitize(row.values["name"], MAX_NAME)
        handle, handle_problems = sanitize(row.values.get("handle", "").lstrip("@"), MAX_HANDLE)
        if not name:
            raise InputError("the name is empty" + (" once control characters are removed" if name_problems else ""),
                             file=where, line=row.line, hint="give every contributor a name, or delete the row")
        joined_text = row.values["joined"]
        try:
            if not _DATE.fullmatch(joined_text):
                raise ValueError
            joined = dt.date.fromisoformat(joined_text)
        except ValueError:
            raise InputError(f"joined date {joined_text[:40]!r} is not a date written YYYY-MM-DD", file=where,
                             line=row.line, hint="write the day the contributor joined, e.g. 2010-08-16") from None
        problems = name_problems + [f"handle: {p}" for p in handle_problems]
        if (name, handle) in seen:
            problems = [f"{name!r} appears twice; the row is skipped"]
        for problem in problems:
            total_notes += 1
            if len(notes) < MAX_NOTES:
                notes.append(Finding(where, row.line, "credits-sanitized", "warning", problem))
        if (name, handle) in seen:
            continue
        seen.add((name, handle))
        people.append(Contributor(name, handle, joined, row.line))
    if not people:
        raise InputError("no contributors: the file has a header but no rows", file=where,
                         hint="add rows `name,handle,joined`, or set credits = false under [bootanimation]")
    people.sort(key=Contributor.sort_key)
    return Credits(where, hashlib.sha256(data).hexdigest(), people, notes, total_notes)


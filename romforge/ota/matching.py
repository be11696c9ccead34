"""Which old file each new file is made from: the file-aware half of incremental planning.

Like AOSP's delta_generator, every new file looks for its old version: the same path; else
identical content anywhere in the old partition (a moved file); else the same path with
version numbers (every run of digits) stripped, as delta_generator matches renamed files
(libfoo.so.1.2 / libfoo.so.1.3, tomcat-10.1.55.jar / tomcat-10.1.60.jar); else the same
file name in another folder; else by content: the old files whose blocks the new file
shares (each new block's digest looked up among all old blocks) are its candidates, and
the closest one or two are its diff base; else an old file of its kind (same extension,
nearest size, same folder first) is tried as a base, kept only when the diff is smaller.
"""

from __future__ import annotations

import hashlib
import posixpath
import re
from collections import Counter, defaultdict
from dataclasses import dataclass

from romforge.ota.extents import Extents, blocks_of, count

DIGITS = re.compile(r"[0-9]+")
COPY, DIFF, FRESH = "copy", "diff", "fresh"
MIN_SHARED = 0.05  # a content candidate shares at least this part of the new file's blocks


@dataclass(frozen=True)
class Pairing:
    path: str
    kind: str  # copy (identical), diff (against `sources`), fresh (no old version)
    dst: Extents
    src: Extents = ()  # type: ignore[assignment]
    how: str = ""  # path, moved, renamed, folder, content, kind


class BlockDigests:
    """Per-block digests of one image (16 bytes each) and what they tell about its files."""

    def __init__(self, digests: bytes) -> None:
        self.raw = digests

    def block(self, b: int) -> bytes:
        return self.raw[b * 16:(b + 1) * 16]

    def file(self, extents: Extents) -> bytes:
        h = hashlib.blake2b(digest_size=16)
        for start, n in extents:
            h.update(self.raw[start * 16:(start + n) * 16])
        return h.digest()

    def index(self) -> dict[bytes, int]:
        """digest → the first block holding it."""
        found: dict[bytes, int] = {}
        raw = self.raw
        for b in range(len(raw) // 16 - 1, -1, -1):
            found[raw[b * 16:(b + 1) * 16]] = b
        return found


def strip_digits(path: str) -> str:
    return DIGITS.sub("", path)


def pair_files(old_files: dict[str, Extents], new_files: dict[str, Extents], old: BlockDigests,
               new: BlockDigests, old_index: dict[bytes, int]) -> list[Pairing]:
    """A Pairing for every new file, in path order."""
    old_digest = {p: old.file(e) for p, e in old_files.items()}
    by_content: dict[bytes, str] = {}
    by_stripped: dict[str, list[str]] = defaultdict(list)
    by_name: dict[str, list[str]] = defaultdict(list)
    for p in sorted(old_files):
        by_content.setdefault(old_digest[p], p)
        by_stripped[strip_digits(p)].append(p)
        by_name[posixpath.basename(p.rstrip("/"))].append(p)
    owner: dict[int, str] | None = None
    pairings = []
    for path in sorted(new_files):
        dst = new_files[path]
        digest = new.file(dst)
        if path in old_files:
            same = old_digest[path] == digest
            pairings.append(Pairing(path, COPY if same else DIFF, dst, old_files[path], "path"))
            continue
        if digest in by_content:
            pairings.append(Pairing(path, COPY, dst, old_files[by_content[digest]], "moved"))
            continue
        size = count(dst)
        stripped = by_stripped.get(strip_digits(path))
        if stripped:
            source = min(stripped, key=lambda p: (abs(count(old_files[p]) - size), p))
            pairings.append(Pairing(path, DIFF, dst, old_files[source], "renamed"))
            continue
        named = by_name.get(posixpath.basename(path.rstrip("/")), [])
        if len(named) == 1:
            pairings.append(Pairing(path, DIFF, dst, old_files[named[0]], "folder"))
            continue
        if owner is None:
            owner = {b: p for p, e in old_files.items() for b in blocks_of(e)}
        sources = _by_content(dst, new, old_index, owner)
        if sources:
            src = [e for p in sources for e in old_files[p]]
            pairings.append(Pairing(path, DIFF, dst, src, "content"))
            continue
        similar = _similar(old_files, path, size)
        if similar is not None:
            pairings.append(Pairing(path, DIFF, dst, old_files[similar], "kind"))
        else:
            pairings.append(Pairing(path, FRESH, dst))
    return pairings


def _by_content(dst: Extents, new: BlockDigests, old_index: dict[bytes, int], owner: dict[int, str]) -> list[str]:
    """The one or two old files that share the most blocks with the new file."""
    votes: Counter[str] = Counter()
    blocks = blocks_of(dst)
    for b in blocks:
        o = old_index.get(new.block(b))
        if o is not None and o in owner:
            votes[owner[o]] += 1
    ranked = sorted(votes.items(), key=lambda kv: (-kv[1], kv[0]))
    if not ranked or ranked[0][1] < max(1, MIN_SHARED * len(blocks)):
        return []
    chosen = [ranked[0][0]]
    if len(ranked) > 1 and ranked[1][1] * 4 >= ranked[0][1]:
        chosen.append(ranked[1][0])
    return chosen


def _similar(old_files: dict[str, Extents], path: str, size: int) -> str | None:
    """The old file most like a new one: same extension, nearest size (same folder first)."""
    if path.endswith("/"):
        return None
    ext = posixpath.splitext(path)[1]
    if not ext:
        return None
    folder = posixpath.dirname(path)
    candidates = [p for p in old_files if not p.endswith("/") and posixpath.splitext(p)[1] == ext]
    if not candidates:
        return None
    return min(candidates, key=lambda p: (posixpath.dirname(p) != folder, abs(count(old_files[p]) - size), p))

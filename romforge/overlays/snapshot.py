"""The bytes of an overlay folder, read once: what plan hashes is exactly what apply ships.

An overlay is read while the build is planned; the build applies it later. Reading its
files again at apply time would let a folder changed in between ship bytes the release's
build-info never recorded, so the folder is read once, into memory, and both the digest
and every file apply writes or links into an RRO come from that snapshot.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

from romforge.errors import InputError, shown_path
from romforge.overlays.sources import MAX_OVERLAY_FILES, MAX_SOURCE_BYTES
from romforge.safeio import read_regular_file

MAX_OVERLAY_BYTES = 1 << 30


@dataclass(frozen=True)
class Snapshot:
    """Every regular file (relative path → bytes) and symlink (→ target) of one folder."""

    root: Path
    files: dict[str, bytes] = field(default_factory=dict, repr=False)
    links: dict[str, str] = field(default_factory=dict)
    sha256: str = ""

    def read(self, path: Path) -> bytes:
        """The snapshot's bytes of `path`, a file inside the folder."""
        rel = Path(path).relative_to(self.root).as_posix()
        try:
            return self.files[rel]
        except KeyError:
            raise InputError("is not a file of the overlay as it was planned", file=path) from None

    def under(self, folder: Path) -> dict[str, bytes]:
        """Files below `folder` (a folder inside the root), relative to it."""
        prefix = Path(folder).relative_to(self.root).as_posix().rstrip("/") + "/"
        return {rel[len(prefix):]: data for rel, data in self.files.items() if rel.startswith(prefix)}


def snapshot_folder(root: Path) -> Snapshot:
    """Read every entry of `root` once; the digest covers every path, link target and byte, so a
    change anywhere makes a new build input."""
    h = hashlib.sha256()
    files: dict[str, bytes] = {}
    links: dict[str, str] = {}
    count = total = 0
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            full = Path(dirpath, name)
            count += 1
            if count > MAX_OVERLAY_FILES:
                raise InputError(f"holds more than {MAX_OVERLAY_FILES} files", file=root)
            rel = full.relative_to(root).as_posix()
            if full.is_symlink():
                links[rel] = os.readlink(full)
                h.update(f"{rel}\0link\0{links[rel]}\0".encode())
                continue
            data = read_regular_file(full, shown=shown_path(full), max_bytes=min(MAX_SOURCE_BYTES,
                                                                                    MAX_OVERLAY_BYTES - total))
            total += len(data)
            files[rel] = data
            h.update(f"{rel}\0file\0".encode())
            h.update(data)
    return Snapshot(root, files, links, h.hexdigest())

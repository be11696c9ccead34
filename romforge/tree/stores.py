"""Where a tree's file bytes live: a directory, a zip, or a copy-on-write layer over either."""

from __future__ import annotations

import hashlib
import os
import zipfile
from pathlib import Path
from typing import BinaryIO

from romforge.archive import MemberStream
from romforge.safeio import open_regular_file


def sha256_stream(f: BinaryIO) -> str:
    with f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, read in chunks: the one place romforge hashes artifacts."""
    with open(path, "rb") as f:
        return sha256_stream(f)


# ---- stores: where bytes live ----------------------------------------------------------


class DirStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def local(self, tf_path: str) -> str:
        return os.path.join(self.root, tf_path)

    def open(self, tf_path: str) -> BinaryIO:
        """A regular file only: a FIFO or device put in the tree after it was read is refused."""
        return open_regular_file(Path(self.local(tf_path)), shown=self.local(tf_path))

    def size(self, tf_path: str) -> int:
        return os.lstat(self.local(tf_path)).st_size


class ZipStore:
    def __init__(self, path: Path, zf: zipfile.ZipFile, names: dict[str, zipfile.ZipInfo]) -> None:
        self.path = path
        self.zf = zf
        self.names = names

    def open(self, tf_path: str) -> BinaryIO:
        return MemberStream(self.zf, self.names[tf_path], source=self.path)  # type: ignore[return-value]

    def size(self, tf_path: str) -> int:
        return self.names[tf_path].file_size


class OverlayStore:
    """Copy-on-write: files written during the build live in `upper`; the rest is read from the base."""

    def __init__(self, lower: "DirStore | ZipStore", upper: Path) -> None:
        self.lower = lower
        self.upper = DirStore(upper)
        self.written: set[str] = set()

    def open(self, tf_path: str) -> BinaryIO:
        return (self.upper if tf_path in self.written else self.lower).open(tf_path)

    def size(self, tf_path: str) -> int:
        return (self.upper if tf_path in self.written else self.lower).size(tf_path)

    def write(self, tf_path: str, data: bytes) -> None:
        target = self.upper.local(tf_path)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        atomic_write(target, data)
        self.written.add(tf_path)

    def forget(self, tf_path: str) -> None:
        if tf_path in self.written:
            os.unlink(self.upper.local(tf_path))
            self.written.discard(tf_path)

    def lower_path(self, tf_path: str) -> str | None:
        """The base file behind an unchanged entry, when the base is a directory."""
        if tf_path in self.written:
            return self.upper.local(tf_path)
        return self.lower.local(tf_path) if isinstance(self.lower, DirStore) else None


Store = DirStore | ZipStore | OverlayStore


def atomic_write(target: str, data: bytes) -> None:
    tmp = f"{target}.romforge-tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, target)

"""One layer for every zip romforge opens: base ROM target-files, OTA packages, locale and T9
packs, APKs in a base, boot animations.

zipfile raises a dozen kinds of exception for a damaged archive (a bad CRC or header, bad
deflate/bzip2/lzma data, an unknown compression method, encryption, a name flagged UTF-8 that
is not, a truncated file); here each becomes one InputError naming the archive and, where
there is one, the member. The archive file itself is opened as a regular file (a FIFO or a
device is refused, never waited on), and member reads are bounded while reading.
"""

from __future__ import annotations

import io
import lzma
import zipfile
import zlib
from pathlib import Path
from typing import BinaryIO

from romforge.errors import InputError
from romforge.safeio import open_regular_file

# What zipfile raises for a member it cannot unpack: bad CRC or header, bad deflate/bzip2/lzma
# data, an unknown compression method, encryption, a truncated archive.
MEMBER_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, NotImplementedError, RuntimeError,
                 ValueError, zlib.error, lzma.LZMAError)
METHODS = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}
MAX_NAME_BYTES = 4096  # Linux's PATH_MAX: no member name of a real archive is longer


def open_zip(file: BinaryIO | Path, *, source: str | Path, message: str | None = None,
             hint: str | None = None) -> tuple[zipfile.ZipFile, list[zipfile.ZipInfo]]:
    """A zip archive and its entries, or one InputError naming the archive (and the entry
    whose name is flagged UTF-8 but is not). A path is opened as a regular file first."""
    if isinstance(file, Path):
        file = open_regular_file(file, shown=str(source), follow_symlinks=True)
    try:
        zf = zipfile.ZipFile(file)
        return zf, zf.infolist()
    except UnicodeDecodeError as exc:
        name = exc.object[:120] if isinstance(exc.object, bytes) else b""
        raise InputError(f"entry {name!r} is flagged as a UTF-8 name but is not UTF-8", file=source) from None
    except MEMBER_ERRORS as exc:
        raise InputError(message or f"not a readable zip archive ({exc})", file=source, hint=hint) from None


def member_problem(info: zipfile.ZipInfo) -> str | None:
    """Why a member cannot be read as it claims (before any byte of it is read), or None."""
    if len(info.filename.encode("utf-8", "surrogateescape")) > MAX_NAME_BYTES:
        return f"has a name over {MAX_NAME_BYTES} bytes"
    if info.flag_bits & 0x1:
        return "is encrypted"
    if info.compress_type not in METHODS:
        return f"uses compression method {info.compress_type}, which zip readers do not know"
    return None


def check_members(infos: list[zipfile.ZipInfo], *, source: str | Path) -> None:
    """One InputError naming the archive and the first member that cannot be read, or that
    appears twice (`x` and `x/`: a file and a folder of one name cannot both be extracted)."""
    seen: set[str] = set()
    for info in infos:
        problem = member_problem(info)
        if problem:
            raise InputError(f"entry {info.filename[:120]!r} {problem}", file=source)
        name = info.filename.rstrip("/")
        if name in seen:
            raise InputError(f"entry {name[:120]!r} appears twice (a file and a folder of one name?)", file=source)
        seen.add(name)


def _damaged(source: str | Path, name: str, exc: BaseException) -> InputError:
    return InputError(f"entry {name[:120]!r} is damaged ({exc})", file=source,
                      hint="the archive is corrupt or truncated; fetch or build it again")


def read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, *, source: str | Path, max_bytes: int) -> bytes:
    """A member's bytes, at most `max_bytes` (checked while inflating, not from the header)."""
    try:
        with zf.open(info) as f:
            data = f.read(max_bytes + 1)
    except MEMBER_ERRORS as exc:
        raise _damaged(source, info.filename, exc) from None
    if len(data) > max_bytes:
        raise InputError(f"entry {info.filename[:120]!r} unpacks to over {max_bytes} bytes", file=source)
    return data


class MemberStream(io.RawIOBase):
    """A member opened for streaming whose damage, found mid-read, is an InputError naming it."""

    def __init__(self, zf: zipfile.ZipFile, info: zipfile.ZipInfo, *, source: str | Path) -> None:
        super().__init__()
        self._source, self._name = source, info.filename
        try:
            self._f = zf.open(info)
        except MEMBER_ERRORS as exc:
            raise _damaged(source, info.filename, exc) from None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        try:
            data = self._f.read(len(buffer))
        except MEMBER_ERRORS as exc:
            raise _damaged(self._source, self._name, exc) from None
        buffer[:len(data)] = data
        return len(data)

    def read(self, size: int = -1) -> bytes:
        try:
            return self._f.read(size)
        except MEMBER_ERRORS as exc:
            raise _damaged(self._source, self._name, exc) from None

    def close(self) -> None:
        if not self.closed:
            self._f.close()
        super().close()


def is_zip(path: Path, *, shown: str | Path) -> bool:
    """Whether a regular file (FIFOs and devices refused, not waited on) starts like a zip."""
    with open_regular_file(path, shown=str(shown), follow_symlinks=True) as f:
        return zipfile.is_zipfile(f)

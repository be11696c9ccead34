"""Reading files that come from outside the team (credits, contacts, pack files) with limits.

Every failure is an InputError naming the file and, where there is one, the line.
"""

from __future__ import annotations

import csv
import errno
import io
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from romforge.errors import InputError, RomforgeError

MAX_TEXT_BYTES = 4 << 20
_KINDS = ((stat.S_ISDIR, "a directory, expected a file"), (stat.S_ISFIFO, "a FIFO (named pipe), not a regular file"),
          (stat.S_ISCHR, "a character device, not a regular file"), (stat.S_ISBLK, "a block device, not a regular file"),
          (stat.S_ISSOCK, "a socket, not a regular file"), (stat.S_ISLNK, "a symlink; give the file itself"))


def _not_regular(mode: int) -> str | None:
    """What a file that is not a regular file is, as a message; None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    return "is " + next((text for test, text in _KINDS if test(mode)), "not a regular file")


def open_regular_file(path: Path, *, shown: str, error: type[RomforgeError] = InputError,
                      follow_symlinks: bool = False) -> BinaryIO:
    """A regular file opened for reading, or one `error` naming it.

    FIFOs, devices, sockets and directories are refused before they are opened (opening a
    FIFO would wait for a writer, reading /dev/zero never ends), a symlink unless
    `follow_symlinks`; the opened file is checked again, in case it was replaced meanwhile.
    """
    try:
        problem = _not_regular(os.stat(path, follow_symlinks=follow_symlinks).st_mode)
        if problem:
            raise error(problem, file=shown)
        flags = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | (0 if follow_symlinks else os.O_NOFOLLOW)
        f = os.fdopen(os.open(path, flags), "rb")
    except FileNotFoundError:
        raise error("file not found", file=shown) from None
    except OSError as exc:
        if exc.errno == errno.ELOOP and not follow_symlinks:
            raise error("is a symlink; give the file itself", file=shown) from None
        raise error(f"cannot read: {exc.strerror}", file=shown) from None
    problem = _not_regular(os.fstat(f.fileno()).st_mode)
    if problem:
        f.close()
        raise error(problem, file=shown)
    return f


def read_bounded(f: BinaryIO, *, shown: str, max_bytes: int, error: type[RomforgeError] = InputError) -> bytes:
    """At most max_bytes from an open file; one `error` naming it when there is more."""
    try:
        data = f.read(max_bytes + 1)
    except OSError as exc:
        raise error(f"cannot read: {exc.strerror}", file=shown) from None
    if len(data) > max_bytes:
        raise error(f"file is over the {max_bytes}-byte limit", file=shown)
    return data


def read_regular_file(path: Path, *, shown: str, max_bytes: int, error: type[RomforgeError] = InputError,
                      follow_symlinks: bool = False) -> bytes:
    """The bytes of a regular file (see open_regular_file), the size limit enforced while
    reading, whatever st_size says."""
    with open_regular_file(path, shown=shown, error=error, follow_symlinks=follow_symlinks) as f:
        return read_bounded(f, shown=shown, max_bytes=max_bytes, error=error)


def read_limited(path: Path, *, shown: str, max_bytes: int, error: type[RomforgeError] = InputError,
                 allow_symlink: bool = False) -> bytes:
    """The bytes of a file a person gave us, or one `error` naming it: missing, not a regular
    file, too large, unreadable (or a symlink, unless allowed)."""
    return read_regular_file(path, shown=shown, max_bytes=max_bytes, error=error, follow_symlinks=allow_symlink)


def read_text(path: Path, *, shown: str | None = None, max_bytes: int = MAX_TEXT_BYTES) -> str:
    """UTF-8 text (a BOM is allowed), size-capped, never following a symlink out of place."""
    where = shown or str(path)
    return decode_text(read_limited(path, shown=where, max_bytes=max_bytes), shown=where)


def decode_text(data: bytes, *, shown: str, error: type[RomforgeError] = InputError) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise error(f"not valid UTF-8 (byte 0x{data[exc.start]:02x}); save the file as UTF-8",
                    file=shown, line=line) from None


@dataclass(frozen=True)
class CsvRow:
    line: int
    values: dict[str, str]


def read_csv(path: Path, *, required: tuple[str, ...], optional: tuple[str, ...] = (), shown: str | None = None,
             max_bytes: int = MAX_TEXT_BYTES, max_rows: int = 100_000, max_field: int = 1024) -> list[CsvRow]:
    """A header row naming the columns, then data rows; unknown columns are an error."""
    where = shown or str(path)
    text = read_text(path, shown=where, max_bytes=max_bytes)
    return parse_csv(text, required=required, optional=optional, shown=where, max_rows=max_rows, max_field=max_field)


def parse_csv(text: str, *, required: tuple[str, ...], optional: tuple[str, ...] = (), shown: str,
              max_rows: int = 100_000, max_field: int = 1024) -> list[CsvRow]:
    """read_csv for text already read (so a caller can hash exactly the bytes it parsed)."""
    where = shown
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise InputError(f"malformed CSV: {exc}", file=where, line=1) from None
    if header is None:
        raise InputError("empty file: expected a header row", file=where, line=1)
    columns = [h.strip().lower() for h in header]
    missing = [c for c in required if c not in columns]
    unknown = [c for c in columns if c not in required + optional]
    if missing or unknown or len(set(columns)) != len(columns):
        expected = ", ".join(required + optional)
        problem = (f"missing column(s) {', '.join(missing)}" if missing else
                   f"unknown column(s) {', '.join(unknown)}" if unknown else "a column appears twice")
        raise InputError(f"header: {problem}; expected columns: {expected}", file=where, line=1)
    rows: list[CsvRow] = []
    try:
        for record in reader:
            line = reader.line_num
            if not any(field.strip() for field in record):
                continue
            if len(record) != len(columns):
                raise InputError(f"{len(record)} fields, but the header has {len(columns)}", file=where, line=line)
            for field in record:
                if len(field) > max_field:
                    raise InputError(f"a field is {len(field)} characters, over the limit of {max_field}",
                                     file=where, line=line)
            rows.append(CsvRow(line, dict(zip(columns, (f.strip() for f in record)))))
            if len(rows) > max_rows:
                raise InputError(f"more than {max_rows} rows", file=where, line=line)
    except csv.Error as exc:
        raise InputError(f"malformed CSV: {exc}", file=where, line=reader.line_num) from None
    return rows

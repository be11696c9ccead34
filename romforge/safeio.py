"""Reading files that come from outside the team (credits, contacts, pack files) with limits.

Every failure is an InputError naming the file and, where there is one, the line.
"""

from __future__ import annotations

import contextlib
import csv
import errno
import io
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Iterator

from romforge.errors import InputError, RomforgeError

MAX_TEXT_BYTES = 4 << 20


@contextlib.contextmanager
def open_regular(path: Path, *, shown: str, max_bytes: int, error: type[RomforgeError] = InputError,
                 allow_symlink: bool = False) -> Iterator[BinaryIO]:
    """An open regular file a person gave us, or one `error` naming it: missing, a directory,
    not a regular file (a FIFO or device would block or never end), larger than `max_bytes`
    by its size, unreadable (or a symlink, unless allowed). Read it with `chunks`, which
    counts what it reads instead of trusting st_size."""
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0) | (0 if allow_symlink else os.O_NOFOLLOW)
    try:
        fd = os.open(path, flags)  # O_NONBLOCK: opening a FIFO does not wait for a writer
    except FileNotFoundError:
        raise error("file not found", file=shown) from None
    except OSError as exc:
        if exc.errno == errno.ELOOP and not allow_symlink:
            raise error("is a symlink; give the file itself", file=shown) from None
        raise error(f"cannot read: {exc.strerror}", file=shown) from None
    with os.fdopen(fd, "rb", buffering=0) as f:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise error("is a directory, expected a file", file=shown)
        if not stat.S_ISREG(st.st_mode):
            raise error("is not a regular file (a FIFO, socket or device)", file=shown)
        if st.st_size > max_bytes:
            raise error(f"file is {st.st_size} bytes, over the {max_bytes}-byte limit", file=shown)
        yield f


def chunks(f: BinaryIO, *, shown: str, max_bytes: int, error: type[RomforgeError] = InputError,
           size: int = 1 << 20) -> Iterator[bytes]:
    """The bytes of an open file, at most `max_bytes` of them (a file that grows past the
    limit while it is read is an `error`)."""
    total = 0
    try:
        while chunk := f.read(min(size, max_bytes + 1 - total)):
            total += len(chunk)
            if total > max_bytes:
                raise error(f"file grew past the {max_bytes}-byte limit while being read", file=shown)
            yield chunk
    except OSError as exc:
        raise error(f"cannot read: {exc.strerror}", file=shown) from None


def read_limited(path: Path, *, shown: str, max_bytes: int, error: type[RomforgeError] = InputError,
                 allow_symlink: bool = False) -> bytes:
    """The bytes of a file a person gave us (see open_regular for what is refused)."""
    with open_regular(path, shown=shown, max_bytes=max_bytes, error=error, allow_symlink=allow_symlink) as f:
        return b"".join(chunks(f, shown=shown, max_bytes=max_bytes, error=error))


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

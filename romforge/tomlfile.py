"""TOML documents that remember where each key was written.

tomllib gives values but no positions; users need `file:line` for unknown keys and
wrong types, so this module scans the source once for key positions.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from romforge.errors import ConfigError

MAX_TOML_BYTES = 1 << 20  # inputs are hand-written; anything bigger is a mistake

_HEADER = re.compile(r"^\s*\[\[?\s*(?P<name>[^\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r"""^\s*(?P<key>(?:"[^"]*"|'[^']*'|[A-Za-z0-9_\-]+)(?:\s*\.\s*(?:"[^"]*"|'[^']*'|[A-Za-z0-9_\-]+))*)\s*=""")
_INLINE_KEY = re.compile(r"""[{,]\s*(?P<key>"[^"]*"|'[^']*'|[A-Za-z0-9_\-]+)\s*=""")
_TOMLLIB_POS = re.compile(r"\(at line (\d+), column (\d+)\)")


def _split_key(text: str) -> tuple[str, ...]:
    parts = re.findall(r'"[^"]*"|\'[^\']*\'|[^.\s]+', text)
    return tuple(p[1:-1] if p[:1] in "\"'" else p for p in parts)


@dataclass
class TomlDoc:
    """Parsed TOML plus the line each key path was written on."""

    path: Path
    data: dict[str, Any]
    lines: dict[tuple[str, ...], int] = field(default_factory=dict)
    display: str = ""

    def line_of(self, *keys: str) -> int | None:
        """Line of the deepest written prefix of `keys` (a value or its table)."""
        probe = tuple(keys)
        while probe:
            if probe in self.lines:
                return self.lines[probe]
            probe = probe[:-1]
        return None

    def error(self, message: str, *keys: str, hint: str | None = None) -> ConfigError:
        return ConfigError(message, file=self.display, line=self.line_of(*keys), hint=hint)


def _scan_lines(text: str) -> dict[tuple[str, ...], int]:
    positions: dict[tuple[str, ...], int] = {}
    table: tuple[str, ...] = ()
    in_multiline: str | None = None
    depth = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw
        if in_multiline:
            if in_multiline in line:
                in_multiline = None
            continue
        if depth > 0:
            depth += line.count("[") - line.count("]")
            continue
        header = _HEADER.match(line)
        if header and "=" not in header.group("name"):
            table = _split_key(header.group("name"))
            positions.setdefault(table, number)
            continue
        key = _KEY.match(line)
        if not key:
            continue
        path = table + _split_key(key.group("key"))
        for i in range(len(table) + 1, len(path) + 1):
            positions.setdefault(path[:i], number)
        rest = line[key.end():]
        for inner in _INLINE_KEY.finditer(rest):
            positions.setdefault(path + _split_key(inner.group("key")), number)
        for quote in ('"""', "'''"):
            if rest.count(quote) == 1:
                in_multiline = quote
        stripped = re.sub(r'"[^"]*"|\'[^\']*\'', "", rest.split("#", 1)[0])
        depth = max(0, stripped.count("[") - stripped.count("]"))
    return positions


def load_toml(path: Path, *, display: str | None = None) -> TomlDoc:
    """Read a TOML file or raise ConfigError naming the file and line."""
    shown = display or str(path)
    try:
        size = path.stat().st_size
        if size > MAX_TOML_BYTES:
            raise ConfigError(f"file is {size} bytes; TOML inputs are limited to {MAX_TOML_BYTES}", file=shown)
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError("file not found", file=shown) from None
    except IsADirectoryError:
        raise ConfigError("is a directory, expected a TOML file", file=shown) from None
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", file=shown) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError("not valid UTF-8", file=shown, line=line) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        pos = _TOMLLIB_POS.search(message)
        line = column = None
        if pos:
            line, column = int(pos.group(1)), int(pos.group(2))
            message = _TOMLLIB_POS.sub("", message).strip()
        raise ConfigError(f"invalid TOML: {message}", file=shown, line=line, column=column) from None
    return TomlDoc(path=path, data=data, lines=_scan_lines(text), display=shown)


def type_name(value: Any) -> str:
    names = {str: "string", int: "integer", float: "float", bool: "boolean", list: "array", dict: "table"}
    return names.get(type(value), type(value).__name__)

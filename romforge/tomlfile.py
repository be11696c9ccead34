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
from romforge.safeio import decode_text, read_limited

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
    lines: dict[tuple, int] = field(default_factory=dict)
    display: str = ""

    def line_of(self, *keys: str | int) -> int | None:
        """Line of the deepest written prefix of `keys` (a value or its table); an int key is
        an element of an array of tables: line_of("files", 2, "mode")."""
        probe = tuple(keys)
        while probe:
            if probe in self.lines:
                return self.lines[probe]
            probe = probe[:-1]
        return None

    def error(self, message: str, *keys: str | int, hint: str | None = None) -> ConfigError:
        return ConfigError(message, file=self.display, line=self.line_of(*keys), hint=hint)


def _indexed(plain: tuple[str, ...], counters: dict[tuple, int]) -> tuple:
    """`plain` with the current element index after every array of tables in it."""
    out: list = []
    for part in plain:
        out.append(part)
        if tuple(out) in counters:
            out.append(counters[tuple(out)])
    return tuple(out)


def _scan_lines(text: str) -> dict[tuple[str, ...], int]:
    """Key path → line. Keys inside `[[array]]` tables are also recorded with the element's
    index after the array's name, e.g. ("files", 1, "path"), so each element has its own lines."""
    positions: dict[tuple, int] = {}
    table: tuple[str, ...] = ()
    indexed_table: tuple = ()
    counters: dict[tuple, int] = {}
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
            if line.lstrip().startswith("[["):
                array = _indexed(table[:-1], counters) + table[-1:]
                counters[array] = counters.get(array, -1) + 1
            indexed_table = _indexed(table, counters)
            positions.setdefault(indexed_table, number)
            continue
        key = _KEY.match(line)
        if not key:
            continue
        written = _split_key(key.group("key"))
        path = table + written
        for i in range(len(table) + 1, len(path) + 1):
            positions.setdefault(path[:i], number)
        indexed = indexed_table + written
        for i in range(len(indexed_table) + 1, len(indexed) + 1):
            positions.setdefault(indexed[:i], number)
        rest = line[key.end():]
        for inner in _INLINE_KEY.finditer(rest):
            positions.setdefault(path + _split_key(inner.group("key")), number)
            positions.setdefault(indexed + _split_key(inner.group("key")), number)
        for quote in ('"""', "'''"):
            if rest.count(quote) == 1:
                in_multiline = quote
        stripped = re.sub(r'"[^"]*"|\'[^\']*\'', "", rest.split("#", 1)[0])
        depth = max(0, stripped.count("[") - stripped.count("]"))
    return positions


def load_toml(path: Path, *, display: str | None = None) -> TomlDoc:
    """Read a TOML file or raise ConfigError naming the file and line."""
    shown = display or str(path)
    raw = read_limited(path, shown=shown, max_bytes=MAX_TOML_BYTES, error=ConfigError, allow_symlink=True)
    text = decode_text(raw, shown=shown, error=ConfigError)
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

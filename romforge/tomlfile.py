"""TOML documents that remember where each key was written.

tomllib is the authority for values and syntax errors but gives no positions; users need
`file:line` for unknown keys and wrong types. So the same text is also parsed with
tree-sitter-toml (a real TOML grammar, not a line scanner), and its syntax tree gives the
line of every key path: tables, each element of an array of tables, dotted keys, keys
inside inline tables and elements of plain arrays.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import tree_sitter
import tree_sitter_toml

from romforge.errors import ConfigError
from romforge.safeio import decode_text, read_limited

MAX_TOML_BYTES = 1 << 20  # inputs are hand-written; anything bigger is a mistake
MAX_TOML_DEPTH = 32  # arrays and tables inside each other; hand-written files need a handful
MAX_INTEGER_CHARS = 40  # a 64-bit integer with '_' separators and a sign or 0x prefix fits easily
_TOMLLIB_POS = re.compile(r"\(at line (\d+), column (\d+)\)")
_VALUE_NODES = ("array", "inline_table")

Key = tuple[str | int, ...]


@dataclass
class TomlDoc:
    """Parsed TOML plus the line each key path was written on."""

    path: Path
    data: dict[str, Any]
    lines: dict[Key, int] = field(default_factory=dict)
    display: str = ""
    raw: bytes = field(default=b"", repr=False)  # the bytes parsed: hash these, never a second read

    def line_of(self, *keys: str | int) -> int | None:
        """Line of the deepest written prefix of `keys` (a value or its table); an int key is
        an element of an array (of tables or of values): line_of("files", 2, "mode")."""
        probe = tuple(keys)
        while probe:
            if probe in self.lines:
                return self.lines[probe]
            probe = probe[:-1]
        return None

    def error(self, message: str, *keys: str | int, hint: str | None = None) -> ConfigError:
        return ConfigError(message, file=self.display, line=self.line_of(*keys), hint=hint)


# ---- positions from the syntax tree ------------------------------------------------------


def _key_text(node: tree_sitter.Node) -> str:
    raw = node.text.decode("utf-8")
    if node.type == "bare_key":
        return raw
    if raw.startswith("'"):
        return raw[1:-1]  # a literal string: no escapes
    return tomllib.loads(f"k = {raw}")["k"]  # a basic string: let tomllib undo the escapes


def _key_parts(node: tree_sitter.Node) -> list[str]:
    """`a."b.c".d` → ["a", "b.c", "d"] (tree-sitter nests dotted keys to the left)."""
    if node.type != "dotted_key":
        return [_key_text(node)]
    parts: list[str] = []
    for child in node.named_children:
        parts.extend(_key_parts(child))
    return parts


def _line(node: tree_sitter.Node) -> int:
    return node.start_point.row + 1


class _Positions:
    """Key path → line, first mention wins; implicit tables (the `a` of `[a.b]`) yield to an
    explicit `[a]` wherever it is written."""

    def __init__(self, shown: str) -> None:
        self.shown = shown
        self.explicit: dict[Key, int] = {}
        self.implicit: dict[Key, int] = {}
        self.arrays: dict[Key, int] = {}  # array of tables (with indices) → index of its current element

    def indexed(self, plain: list[str]) -> list[str | int]:
        """`plain` with the current element's index after every array of tables in it."""
        out: list[str | int] = []
        for part in plain:
            out.append(part)
            if tuple(out) in self.arrays:
                out.append(self.arrays[tuple(out)])
        return out

    def mark(self, path: Key, line: int, *, implicit_from: int) -> None:
        """Record `path` and its prefixes from `implicit_from` on; only the last is explicit."""
        if len(path) > MAX_TOML_DEPTH:
            raise ConfigError(f"keys are nested more than {MAX_TOML_DEPTH} levels deep", file=self.shown, line=line)
        for end in range(implicit_from, len(path)):
            self.implicit.setdefault(path[:end], line)
        self.explicit.setdefault(path, line)

    def header(self, node: tree_sitter.Node) -> Key:
        key = next(c for c in node.named_children if c.type in ("bare_key", "quoted_key", "dotted_key"))
        plain = _key_parts(key)
        line = _line(node)
        if node.type == "table_array_element":
            array = tuple(self.indexed(plain[:-1]) + plain[-1:])
            self.arrays[array] = self.arrays.get(array, -1) + 1
            self.mark(array, line, implicit_from=1)
            path = array + (self.arrays[array],)
            self.explicit.setdefault(path, line)
            return path
        path = tuple(self.indexed(plain))
        self.mark(path, line, implicit_from=1)
        return path

    def value(self, node: tree_sitter.Node, path: Key, depth: int) -> Iterator[tuple[tree_sitter.Node, Key, int]]:
        """Children of an array or inline table to walk next, with their key paths."""
        if depth > MAX_TOML_DEPTH:
            raise ConfigError(f"values are nested more than {MAX_TOML_DEPTH} levels deep", file=self.shown,
                              line=_line(node))
        if node.type == "array":
            values = [c for c in node.named_children if c.type != "comment"]
            for i, child in enumerate(values):
                self.explicit.setdefault(path + (i,), _line(child))
                yield child, path + (i,), depth + 1
        elif node.type == "inline_table":
            for pair in node.named_children:
                if pair.type == "pair":
                    yield pair, path, depth + 1

    def walk(self, root: tree_sitter.Node) -> dict[Key, int]:
        table: Key = ()
        for top in root.named_children:
            if top.type in ("table", "table_array_element"):
                table = self.header(top)
                children = [c for c in top.named_children if c.type == "pair"]
            elif top.type == "pair":
                children = [top]
            else:  # comments; ERROR nodes cannot occur in a file tomllib accepted, but cost nothing
                continue
            for pair in children:
                self.pairs(pair, table)
        return {**self.implicit, **self.explicit}

    def pairs(self, first: tree_sitter.Node, table: Key) -> None:
        stack: list[tuple[tree_sitter.Node, Key, int]] = [(first, table, 1)]
        while stack:
            node, base, depth = stack.pop()
            if node.type == "pair":
                key, value = node.named_children[0], node.named_children[-1]
                path = base + tuple(_key_parts(key))
                self.mark(path, _line(node), implicit_from=len(base) + 1)
                node, base = value, path
            if node.type == "integer" and len(node.text) > MAX_INTEGER_CHARS:
                raise ConfigError(f"integer of {len(node.text)} characters: no setting needs one that large",
                                  file=self.shown, line=_line(node))
            if node.type in _VALUE_NODES:
                stack.extend(reversed(list(self.value(node, base, depth))))


def key_lines(text: str, *, shown: str) -> dict[Key, int]:
    """Every key path of a TOML text → the line it was written on; ConfigError (with the line)
    for nesting deeper than MAX_TOML_DEPTH or an integer literal longer than MAX_INTEGER_CHARS."""
    parser = tree_sitter.Parser(tree_sitter.Language(tree_sitter_toml.language()))
    tree = parser.parse(text.encode("utf-8"))
    return _Positions(shown).walk(tree.root_node)


# ---- loading -----------------------------------------------------------------------------


def _parse(text: str, shown: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        pos = _TOMLLIB_POS.search(message)
        line = column = None
        if pos:
            line, column = int(pos.group(1)), int(pos.group(2))
            message = _TOMLLIB_POS.sub("", message).strip()
        raise ConfigError(f"invalid TOML: {message}", file=shown, line=line, column=column) from None
    except (RecursionError, ValueError):
        # tomllib recurses per nesting level and int() refuses thousands of digits: find which
        key_lines(text, shown=shown)
        raise ConfigError("invalid TOML: nested too deeply or a number too large", file=shown) from None


def load_toml(path: Path, *, display: str | None = None, follow_symlinks: bool = True) -> TomlDoc:
    """Read a TOML file or raise ConfigError naming the file and line. The read is bounded
    (MAX_TOML_BYTES, counted while reading) and takes regular files only (no FIFO, no device)."""
    shown = display or str(path)
    raw = read_limited(path, shown=shown, max_bytes=MAX_TOML_BYTES, error=ConfigError,
                       allow_symlink=follow_symlinks)
    text = decode_text(raw, shown=shown, error=ConfigError)
    data = _parse(text, shown)
    return TomlDoc(path=path, data=data, lines=key_lines(text, shown=shown), display=shown, raw=raw)


def type_name(value: Any) -> str:
    names = {str: "string", int: "integer", float: "float", bool: "boolean", list: "array", dict: "table"}
    return names.get(type(value), type(value).__name__)

"""build.prop files, edited the way a person would: order, comments and spacing kept.

Semantics follow Android init's loader: `key=value`, whitespace around both trimmed,
`key?=value` only sets a key nobody set before, the last assignment wins, `import`
lines are left alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterator

from romforge.errors import InputError

_KEY = re.compile(r"^[A-Za-z0-9_.\-:@]+$")
MAX_PROP_FILE_BYTES = 4 << 20


@dataclass
class PropLine:
    raw: str
    key: str | None = None
    value: str | None = None
    optional: bool = False


def valid_key(key: str) -> bool:
    return bool(_KEY.match(key)) and not key.startswith(".") and ".." not in key


class BuildProp:
    """One build.prop file as lines; untouched lines are written back byte for byte."""

    def __init__(self, lines: list[PropLine], newline: str = "\n", final_newline: bool = True,
                 source: str = "build.prop") -> None:
        self.lines = lines
        self.newline = newline
        self.final_newline = final_newline
        self.source = source

    @classmethod
    def parse(cls, data: bytes | str, *, source: str = "build.prop") -> "BuildProp":
        if isinstance(data, bytes):
            if len(data) > MAX_PROP_FILE_BYTES:
                raise InputError(f"build.prop is {len(data)} bytes, over the {MAX_PROP_FILE_BYTES} limit",
                                 file=source)
            text = data.decode("utf-8", errors="surrogateescape")
        else:
            text = data
        newline = "\r\n" if "\r\n" in text else "\n"
        final_newline = text.endswith("\n") or text == ""
        body = text[: -len(newline)] if text.endswith(newline) else text
        lines: list[PropLine] = []
        for number, raw in enumerate(body.split(newline) if text else [], start=1):
            lines.append(_parse_line(raw, source, number))
        return cls(lines, newline, final_newline, source)

    def to_text(self) -> str:
        text = self.newline.join(line.raw for line in self.lines)
        if self.final_newline and self.lines:
            text += self.newline
        return text

    def to_bytes(self) -> bytes:
        return self.to_text().encode("utf-8", errors="surrogateescape")

    # -- reading ------------------------------------------------------------------------

    def _assignments(self, key: str) -> list[int]:
        return [i for i, line in enumerate(self.lines) if line.key == key]

    def get(self, key: str, default: str | None = None) -> str | None:
        """The value init would end up with from this file alone."""
        value = default
        found = False
        for line in self.lines:
            if line.key != key:
                continue
            if line.optional and found:
                continue
            value, found = line.value, True
        return value

    def __contains__(self, key: str) -> bool:
        return bool(self._assignments(key))

    def keys(self) -> list[str]:
        seen: dict[str, None] = {}
        for line in self.lines:
            if line.key is not None:
                seen.setdefault(line.key)
        return list(seen)

    def items(self) -> Iterator[tuple[str, str]]:
        for key in self.keys():
            value = self.get(key)
            assert value is not None
            yield key, value

    def line_of(self, key: str) -> int | None:
        found = self._assignments(key)
        return found[-1] + 1 if found else None

    # -- editing ------------------------------------------------------------------------

    def set(self, key: str, value: str) -> None:
        """Replace the winning assignment in place, or append a new line at the end."""
        _check_assignment(key, value)
        found = self._assignments(key)
        line = PropLine(raw=f"{key}={value}", key=key, value=value)
        if found:
            winners = [i for i in found if not self.lines[i].optional] or found
            self.lines[winners[-1]] = line  # later `?=` lines never override a set value
        else:
            self.lines.append(line)

    def unset(self, key: str) -> bool:
        """Drop every assignment of `key`; True when something was removed."""
        before = len(self.lines)
        self.lines = [line for line in self.lines if line.key != key]
        return len(self.lines) != before

    def append(self, key: str, item: str, separator: str = ",") -> None:
        """Add `item` to a list-valued property (e.g. ro.product.locales) unless present."""
        current = self.get(key)
        items = [v for v in (current or "").split(separator) if v]
        if item not in items:
            items.append(item)
        self.set(key, separator.join(items))


def _check_assignment(key: str, value: str) -> None:
    if not valid_key(key):
        raise ValueError(f"invalid property name {key!r}")
    if "\n" in value or "\r" in value or "\0" in value:
        raise ValueError(f"property {key!r}: value holds a line break or NUL")


def _parse_line(raw: str, source: str, number: int) -> PropLine:
    stripped = raw.strip()
    if not stripped or stripped.startswith("#") or stripped.startswith("import "):
        return PropLine(raw=raw)
    if "=" not in stripped:
        raise InputError(f"not a property assignment: {stripped[:60]!r}", file=source, line=number)
    key, _, value = stripped.partition("=")
    optional = key.endswith("?")
    key = key[:-1] if optional else key
    key = key.strip()
    if not valid_key(key):
        raise InputError(f"invalid property name {key[:60]!r}", file=source, line=number)
    return PropLine(raw=raw, key=key, value=value.strip(), optional=optional)

"""SELinux file_contexts (text form): parse and look up labels the way libselinux does.

libselinux tries specs without regex metacharacters before regex specs, and among each
group the last matching line of the file wins.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from romforge.errors import InputError

_META = set(".^$?*+|[({")
_FILE_TYPES = {"--": "file", "-d": "dir", "-l": "symlink", "-c": "char", "-b": "block", "-s": "socket",
               "-p": "pipe"}
_CONTEXT = re.compile(r"^[A-Za-z0-9_]+:[A-Za-z0-9_]+:[A-Za-z0-9_.]+(:[A-Za-z0-9_.,:\-]+)?$")
MAX_FILE_CONTEXTS_BYTES = 8 << 20


@dataclass(frozen=True)
class ContextSpec:
    pattern: str
    file_type: str | None  # None matches every kind
    context: str | None  # None for <<none>>
    line: int
    regex: re.Pattern[str]
    literal: bool


def _has_meta(pattern: str) -> bool:
    escaped = False
    for ch in pattern:
        if escaped:
            escaped = False
            continue
        if ch == "\\":
            escaped = True
            continue
        if ch in _META:
            return True
    return False


@dataclass
class FileContexts:
    specs: list[ContextSpec]
    source: str = "file_contexts"

    @classmethod
    def parse(cls, data: bytes | str, *, source: str = "file_contexts") -> "FileContexts":
        if isinstance(data, bytes):
            if len(data) > MAX_FILE_CONTEXTS_BYTES:
                raise InputError("file_contexts is too large", file=source)
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                raise InputError("file_contexts is not UTF-8 text (compiled file_contexts.bin is not "
                                 "supported)", file=source) from None
        else:
            text = data
        specs = []
        for number, raw in enumerate(text.splitlines(), start=1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            parts = line.split()
            if len(parts) == 2:
                pattern, file_type, context = parts[0], None, parts[1]
            elif len(parts) == 3 and parts[1] in _FILE_TYPES:
                pattern, file_type, context = parts[0], _FILE_TYPES[parts[1]], parts[2]
            else:
                raise InputError(f"expected 'PATH_REGEX [TYPE] CONTEXT', got {line[:80]!r}", file=source,
                                 line=number)
            if context == "<<none>>":
                label = None
            elif _CONTEXT.match(context):
                label = context
            else:
                raise InputError(f"not an SELinux context: {context!r}", file=source, line=number)
            try:
                regex = re.compile(f"(?:{pattern})\\Z")
            except re.error as exc:
                raise InputError(f"bad path regex {pattern!r}: {exc}", file=source, line=number) from None
            specs.append(ContextSpec(pattern, file_type, label, number, regex, not _has_meta(pattern)))
        return cls(specs, source)

    def lookup(self, device_path: str, kind: str = "file") -> str | None:
        """Label for an absolute on-device path such as /system/bin/sh, or None."""
        for literal in (True, False):
            for spec in reversed(self.specs):
                if spec.literal != literal:
                    continue
                if spec.file_type is not None and spec.file_type != kind:
                    continue
                if spec.regex.match(device_path):
                    return spec.context
        return None


def load_file_contexts(path: Path, display: str | None = None) -> FileContexts:
    return FileContexts.parse(path.read_bytes(), source=display or str(path))

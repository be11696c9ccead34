"""Filesystem metadata of tree entries (uid, gid, mode, SELinux label, capabilities) and the
fs_config text of META/*filesystem_config.txt that carries it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from romforge.errors import InputError
from romforge.tree.paths import DIR, TF_DIRS, device_path, fs_config_path, path_char_problem


@dataclass(frozen=True)
class FileMeta:
    uid: int
    gid: int
    mode: int  # permission bits only (07777)
    selabel: str | None = None
    capabilities: int = 0


@dataclass(frozen=True)
class Entry:
    partition: str
    path: str  # "" is the partition root
    kind: str
    meta: FileMeta
    link_target: str | None = None

    @property
    def device_path(self) -> str:
        return device_path(self.partition, self.path)

    @property
    def fs_config_path(self) -> str:
        return fs_config_path(self.partition, self.path)

    @property
    def tf_path(self) -> str:
        return f"{TF_DIRS[self.partition]}/{self.path}" if self.path else TF_DIRS[self.partition]


def default_meta(partition: str, path: str, kind: str) -> FileMeta:
    """AOSP's fs_config defaults for paths no config names."""
    if kind == DIR:
        return FileMeta(0, 0, 0o755)
    top = path.split("/", 1)[0]
    if top in ("bin", "xbin") or path.startswith("vendor/bin/"):
        return FileMeta(0, 2000, 0o755)
    return FileMeta(0, 0, 0o644)


# ---- fs_config ----------------------------------------------------------------------


def parse_fs_config(text: str, *, source: str) -> dict[str, tuple[FileMeta, int]]:
    """fs_config path → (metadata, line number)."""
    result: dict[str, tuple[FileMeta, int]] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        if raw[:1] in (" ", "\t"):  # the image root of root_filesystem_config.txt has an empty path
            parts = ["", *parts]
        if len(parts) < 4:
            raise InputError("expected 'PATH UID GID MODE [selabel=…] [capabilities=…]'", file=source, line=number)
        path = parts[0].rstrip("/")
        try:
            uid, gid, mode = int(parts[1]), int(parts[2]), int(parts[3], 8)
        except ValueError:
            raise InputError(f"bad uid/gid/mode in {line[:80]!r}", file=source, line=number) from None
        selabel = None
        caps = 0
        for extra in parts[4:]:
            key, _, value = extra.partition("=")
            if key == "selabel":
                selabel = value or None
            elif key == "capabilities":
                try:
                    caps = int(value, 0)
                except ValueError:
                    raise InputError(f"bad capabilities {value!r}", file=source, line=number) from None
            else:
                raise InputError(f"unknown field {extra!r}", file=source, line=number)
        if mode > 0o7777 or uid < 0 or gid < 0:
            raise InputError(f"mode/uid/gid out of range in {line[:80]!r}", file=source, line=number)
        result[path] = (FileMeta(uid, gid, mode, selabel, caps), number)
    return result


def fs_config_line(path: str, meta: FileMeta) -> str:
    """One fs_config line as AOSP's fs_config tool prints it (an empty path is an image root)."""
    line = f"{path} {meta.uid} {meta.gid} {meta.mode:o}"
    if meta.selabel:
        line += f" selabel={meta.selabel}"
    return line + f" capabilities=0x{meta.capabilities:x}\n"


def format_fs_config(entries: Iterable[Entry]) -> str:
    """fs_config lines; a path or label that would break a line or a field is refused, never written
    (the edges refuse them first: this is the last guard before AOSP's whitespace-split format)."""
    lines = []
    for e in entries:
        for what, value in (("path", e.fs_config_path), ("SELinux label", e.meta.selabel or "")):
            problem = path_char_problem(value)
            if problem:
                raise InputError(f"cannot write the fs_config line of {e.device_path!r}: its {what} {problem}")
        lines.append(fs_config_line(e.fs_config_path, e.meta))
    return "".join(lines)

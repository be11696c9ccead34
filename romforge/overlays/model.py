"""What an overlay is once its overlay.toml has been read: operations on a ROM tree.

These records are what resolution, the dry run and apply work with; overlays/schema.py
describes the file they come from and overlays/spec.py turns one into the other.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from romforge.errors import ConfigError
from romforge.profile import DeviceProfile
from romforge.rro import ANDROID_NS
from romforge.tomlfile import TomlDoc

OVERLAY_TOML = "overlay.toml"
NAME_PATTERN = r"[a-z0-9][a-z0-9_\-]*"
NAME = re.compile(f"^{NAME_PATTERN}$")
XPATH_NAMESPACES = {"android": ANDROID_NS}

if TYPE_CHECKING:
    from romforge.overlays.snapshot import Snapshot


@dataclass(frozen=True)
class FileOp:
    action: str
    partition: str
    path: str
    line: int | None
    source: Path | None = None
    content: bytes | None = None
    link_target: str | None = None
    mode: int | None = None
    uid: int | None = None
    gid: int | None = None
    label: str | None = None
    capabilities: int | None = None


@dataclass(frozen=True)
class PropOp:
    action: str  # set | unset | append
    partition: str
    key: str
    value: str | None
    line: int | None
    separator: str = ","


@dataclass(frozen=True)
class XmlOp:
    action: str  # add | remove | set
    partition: str
    path: str
    xpath: str  # the parent for add, the elements for remove/set
    line: int | None
    fragment: str | None = None
    attributes: tuple[tuple[str, str], ...] = ()
    create: str | None = None


@dataclass(frozen=True)
class ResourceValue:
    kind: str  # the XML element: bool, integer, string, dimen, color, string-array, integer-array, array
    name: str
    value: Any


@dataclass(frozen=True)
class ResourceOverlay:
    target: str
    package: str
    partition: str
    priority: int
    line: int | None
    values: tuple[ResourceValue, ...] = ()
    res_dir: Path | None = None
    target_name: str | None = None

    @property
    def apk_path(self) -> str:
        return f"overlay/{self.package}.apk"


@dataclass(frozen=True)
class FilePatch:
    partition: str
    path: str
    text: str  # this file's part of the diff, headers and hunks
    hunk_lines: tuple[int, ...]  # line of each @@ in the patch file


@dataclass(frozen=True)
class PatchOp:
    file: Path
    shown: str
    line: int | None
    targets: tuple[FilePatch, ...]


@dataclass(frozen=True)
class OverlaySpec:
    """One overlay, validated: what it needs, where it may go, and what it does."""

    name: str
    version: str
    description: str
    root: Path
    doc: TomlDoc = field(repr=False, compare=False)
    requires: tuple[str, ...] = ()
    conflicts: tuple[str, ...] = ()
    after: tuple[str, ...] = ()
    devices: tuple[str, ...] = ()
    files: tuple[FileOp, ...] = ()
    props: tuple[PropOp, ...] = ()
    xml: tuple[XmlOp, ...] = ()
    resources: tuple[ResourceOverlay, ...] = ()
    patches: tuple[PatchOp, ...] = ()
    sha256: str = ""
    snapshot: "Snapshot | None" = field(default=None, repr=False, compare=False)  # the folder's bytes, read once

    @property
    def file(self) -> str:
        return self.doc.display

    def line(self, *keys: str | int) -> int | None:
        return self.doc.line_of(*keys)

    def error(self, message: str, line: int | None = None, hint: str | None = None) -> ConfigError:
        return ConfigError(message, file=self.file, line=line, hint=hint)

    def touches(self) -> dict[tuple[str, str, str], int | None]:
        """("path", partition, path) and ("prop", partition, key) → the line that does it."""
        found: dict[tuple[str, str, str], int | None] = {}
        for f in self.files:
            found.setdefault(("path", f.partition, f.path), f.line)
        for x in self.xml:
            found.setdefault(("path", x.partition, x.path), x.line)
        for r in self.resources:
            found.setdefault(("path", r.partition, r.apk_path), r.line)
        for p in self.patches:
            for t in p.targets:
                found.setdefault(("path", t.partition, t.path), p.line)
        for prop in self.props:
            found.setdefault(("prop", prop.partition, prop.key), prop.line)
        return found

    def applies_to(self, profile: DeviceProfile) -> bool:
        return not self.devices or any(device_matches(p, profile) for p in self.devices)


def device_matches(pattern: str, profile: DeviceProfile) -> bool:
    """A `devices` entry: a glob on the profile name or codename, or FIELD:VALUE."""
    field_name, sep, value = pattern.partition(":")
    if not sep:
        return fnmatch.fnmatchcase(profile.profile, pattern) or fnmatch.fnmatchcase(profile.codename, pattern)
    if field_name == "abi":
        return value in profile.abis
    if field_name == "page_size":
        return str(profile.page_size) == value
    if field_name == "brand":
        return fnmatch.fnmatchcase(profile.brand.lower(), value.lower())
    if field_name == "partition":
        return value in profile.partitions
    return False

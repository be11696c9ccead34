"""overlay.toml: one feature overlay, read and checked with file:line for every problem.

An overlay is a folder `overlays/<name>/` holding overlay.toml plus the files it ships
(files/), Android resource folders (res/) and unified diffs (patches/). Everything it
names must stay inside that folder; nothing here touches a ROM tree.
"""

from __future__ import annotations

import fnmatch
import os
import re
import stat
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from lxml import etree

from romforge.errors import ConfigError, InputError, InputProblems, RomforgeError, shown_path
from romforge.profile import KNOWN_ABIS, KNOWN_PARTITIONS, DeviceProfile
from romforge.props import valid_key
from romforge.rro import ANDROID_NS
from romforge.safeio import decode_text
from romforge.tomlfile import TomlDoc, load_toml, type_name
from romforge.tree import clean_path
from romforge.overlays.patch import split_unified_diff
from romforge.overlays.snapshot import MAX_OVERLAY_FILES, Snapshot, snapshot_folder
from romforge.xmlsafe import parse_xml

OVERLAY_TOML = "overlay.toml"
MAX_SOURCE_BYTES = 256 << 20
NAME = re.compile(r"^[a-z0-9][a-z0-9_\-]*$")
_VERSION = re.compile(r"^[0-9A-Za-z][0-9A-Za-z.+_\-]{0,63}$")
_PACKAGE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)*$")
_LABEL = re.compile(r"^[a-z0-9_]+:object_r:[A-Za-z0-9_]+:s0(:c[0-9]+(,c[0-9]+)*)?$")
_RES_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")
_DIMEN = re.compile(r"^(-?[0-9]+(\.[0-9]+)?(dp|dip|sp|px|pt|in|mm)|@(\*?android:)?dimen/[A-Za-z0-9_.]+)$")
_COLOR = re.compile(r"^(#([0-9A-Fa-f]{3}|[0-9A-Fa-f]{4}|[0-9A-Fa-f]{6}|[0-9A-Fa-f]{8})|@(\*?android:)?color/[A-Za-z0-9_.]+)$")
XPATH_NAMESPACES = {"android": ANDROID_NS}
RRO_PARTITIONS = ("product", "vendor", "system_ext", "odm", "system")
FILE_ACTIONS = ("add", "replace", "remove", "symlink")
XML_ACTIONS = ("add", "remove", "set")
# Android's fixed AIDs (system/core/libcutils/include/private/android_filesystem_config.h)
AIDS = {"root": 0, "system": 1000, "radio": 1001, "bluetooth": 1002, "graphics": 1003, "input": 1004,
        "audio": 1005, "camera": 1006, "log": 1007, "compass": 1008, "mount": 1009, "wifi": 1010, "adb": 1011,
        "install": 1012, "media": 1013, "dhcp": 1014, "sdcard_rw": 1015, "vpn": 1016, "keystore": 1017,
        "usb": 1018, "drm": 1019, "gps": 1021, "nfc": 1027, "shell": 2000, "cache": 2001, "diag": 2002,
        "net_bt_admin": 3001, "net_bt": 3002, "inet": 3003, "net_raw": 3004, "net_admin": 3005}
# Linux capability numbers (include/uapi/linux/capability.h)
CAPABILITIES = {name: bit for bit, name in enumerate((
    "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID", "SETPCAP",
    "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER",
    "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT", "SYS_NICE",
    "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP",
    "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF",
    "CHECKPOINT_RESTORE"))}
# where an absolute symlink may point on a device
_LINK_ROOTS = {"system", "vendor", "product", "system_ext", "odm", "apex", "data", "dev", "proc", "sys", "storage",
               "sdcard", "mnt", "metadata", "linkerconfig", "etc", "bin", "config", "cache", "oem", "odm_dlkm",
               "vendor_dlkm", "system_dlkm", "acct", "debug_ramdisk", "postinstall", "second_stage_resources"}
# resource tables in [[resources]] → (XML element, kind of value)
RESOURCE_TYPES = {
    "bools": ("bool", bool), "integers": ("integer", int), "strings": ("string", str),
    "dimens": ("dimen", "dimen"), "colors": ("color", "color"), "string-arrays": ("string-array", [str]),
    "integer-arrays": ("integer-array", [int]), "arrays": ("array", [str]),
}
_TOP_KEYS = ("name", "version", "description", "requires", "conflicts", "after", "devices", "files", "props",
             "xml", "resources", "patches")
_DEVICE_FIELDS = ("abi", "page_size", "brand", "partition")


# ---- the model -----------------------------------------------------------------------


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
    snapshot: Snapshot | None = field(default=None, repr=False, compare=False)  # the folder's bytes, read once

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


# ---- reading ---------------------------------------------------------------------------


class _Reader:
    """Collects every problem of one overlay.toml instead of stopping at the first."""

    def __init__(self, doc: TomlDoc, root: Path) -> None:
        self.doc = doc
        self.root = root
        self.problems: list[RomforgeError] = []

    def problem(self, message: str, *keys: str | int, hint: str | None = None) -> None:
        self.problems.append(self.doc.error(message, *keys, hint=hint))

    def typed(self, value: Any, kind: type, label: str, *keys: str | int) -> bool:
        ok = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
        if not ok:
            self.problem(f"'{label}' must be a {type_name(kind())}, not a {type_name(value)}", *keys)
        return ok

    def names(self, data: dict, key: str) -> tuple[str, ...]:
        value = data.get(key, [])
        if not self.typed(value, list, key, key):
            return ()
        good = []
        for item in value:
            if not isinstance(item, str) or not NAME.match(item):
                self.problem(f"'{key}' holds {item!r}, which is not an overlay name", key)
            else:
                good.append(item)
        return tuple(good)

    def entries(self, data: dict, key: str, allowed: tuple[str, ...]) -> list[tuple[tuple[str, int], dict]]:
        """The tables of an [[array]], each with its key path; unknown keys reported."""
        value = data.get(key, [])
        if not self.typed(value, list, key, key):
            return []
        found = []
        for i, entry in enumerate(value):
            if not isinstance(entry, dict):
                self.problem(f"each [[{key}]] entry must be a table", key)
                continue
            self.table_keys(entry, allowed, f"[[{key}]]", key, i)
            found.append(((key, i), entry))
        return found

    def table_keys(self, table: dict, allowed: tuple[str, ...], label: str, *keys: str | int) -> None:
        for key in table:
            if key not in allowed:
                self.problem(f"unknown key '{key}' in {label}", *keys, key, hint=f"{label} takes: {', '.join(allowed)}")

    def source(self, rel: Any, *keys: str | int, directory: bool = False) -> Path | None:
        """A path inside the overlay folder with no symlink anywhere on the way."""
        if not self.typed(rel, str, keys[-1] if isinstance(keys[-1], str) else "source", *keys):
            return None
        try:
            clean = clean_path(rel, what="source")
        except ValueError as exc:
            self.problem(f"{exc}; sources must lie inside the overlay folder", *keys)
            return None
        current = self.root
        for part in clean.split("/"):
            current = current / part
            try:
                st = os.lstat(current)
            except FileNotFoundError:
                self.problem(f"'{rel}' does not exist in {shown_path(self.root)}", *keys)
                return None
            if stat.S_ISLNK(st.st_mode):
                self.problem(f"'{rel}' goes through a symlink ({part}); overlays ship real files only", *keys)
                return None
        wanted = stat.S_ISDIR(st.st_mode) if directory else stat.S_ISREG(st.st_mode)
        if not wanted:
            self.problem(f"'{rel}' is not a {'directory' if directory else 'regular file'}", *keys)
            return None
        if not directory and st.st_size > MAX_SOURCE_BYTES:
            self.problem(f"'{rel}' is {st.st_size} bytes, over the {MAX_SOURCE_BYTES}-byte limit", *keys)
            return None
        return current

    def partition(self, table: dict, *keys: str | int, default: str = "system",
                  allowed: tuple[str, ...] = KNOWN_PARTITIONS) -> str | None:
        value = table.get("partition", default)
        if not self.typed(value, str, "partition", *keys, "partition"):
            return None
        if value not in allowed:
            self.problem(f"partition '{value}' is not one of {', '.join(allowed)}", *keys, "partition")
            return None
        return value

    def device_path(self, value: Any, *keys: str | int) -> str | None:
        if not self.typed(value, str, "path", *keys):
            return None
        try:
            return clean_path(value, what="path")
        except ValueError as exc:
            self.problem(f"{exc}; paths are relative to the partition and stay inside it", *keys)
            return None


def _octal(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 <= value <= 0o7777 else None
    if isinstance(value, str) and re.fullmatch(r"0?[0-7]{3,4}", value):
        return int(value, 8)
    return None


def _id(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 <= value < 1 << 32 else None
    if isinstance(value, str):
        return AIDS.get(value)
    return None


def _caps(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value if 0 <= value < 1 << 64 else None
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        bits = 0
        for name in value:
            bit = CAPABILITIES.get(name.upper().removeprefix("CAP_"))
            if bit is None:
                return None
            bits |= 1 << bit
        return bits
    return None


def _link_problem(link: str, path: str) -> str | None:
    if not link or "\0" in link or "\n" in link:
        return "symlink target is empty or holds NUL/newline"
    if link.startswith("/"):
        top = link.strip("/").split("/", 1)[0]
        if top not in _LINK_ROOTS:
            return f"symlink target {link!r} is outside the Android filesystem roots"
        if ".." in link.split("/"):
            return f"symlink target {link!r} climbs with '..'"
        return None
    depth = len(path.split("/")) - 1  # directories between the partition root and the link
    for part in link.split("/"):
        if part == "..":
            depth -= 1
            if depth < 0:
                return f"symlink target {link!r} climbs out of the partition"
        elif part not in ("", "."):
            depth += 1
    return None


_FILE_KEYS = ("action", "partition", "path", "source", "content", "target", "mode", "uid", "gid", "label",
              "capabilities")


def _read_files(r: _Reader, data: dict) -> list[FileOp]:
    ops = []
    for at, entry in r.entries(data, "files", _FILE_KEYS):
        action = entry.get("action", "add")
        if action not in FILE_ACTIONS:
            r.problem(f"unknown file action {action!r}; use one of {', '.join(FILE_ACTIONS)}", *at, "action")
            continue
        partition = r.partition(entry, *at)
        if "path" not in entry:
            r.problem("[[files]] needs 'path' (relative to the partition)", *at)
            continue
        path = r.device_path(entry["path"], *at, "path")
        line = r.doc.line_of(*at)
        source = content = link = None
        if action in ("add", "replace"):
            if "source" in entry and "content" in entry:
                r.problem("give 'source' or 'content', not both", *at, "content")
            elif "source" in entry:
                source = r.source(entry["source"], *at, "source")
            elif "content" in entry:
                if r.typed(entry["content"], str, "content", *at, "content"):
                    content = entry["content"].encode("utf-8")
            elif action == "add":
                r.problem("adding a file needs 'source' (a file in the overlay folder) or 'content'", *at)
        if action == "symlink":
            link = entry.get("target")
            if not isinstance(link, str):
                r.problem("a symlink needs 'target' (a string)", *at)
            elif path is not None and (problem := _link_problem(link, path)):
                r.problem(problem, *at, "target")
        extra = [k for k in ("source", "content", "target") if k in entry]
        if action == "remove" and (extra or any(k in entry for k in ("mode", "uid", "gid", "label", "capabilities"))):
            r.problem("'remove' takes only partition and path", *at)
        elif action != "symlink" and "target" in entry:
            r.problem("'target' is only for action = \"symlink\"", *at, "target")
        meta: dict[str, Any] = {}
        for key, parse, what in (("mode", _octal, "an octal mode such as \"0644\""),
                                 ("uid", _id, "a number or an AID name such as \"system\""),
                                 ("gid", _id, "a number or an AID name such as \"shell\""),
                                 ("capabilities", _caps, "a list of names such as [\"NET_ADMIN\"] or a number")):
            if key in entry:
                meta[key] = parse(entry[key])
                if meta[key] is None:
                    r.problem(f"'{key}' must be {what}, not {entry[key]!r}", *at, key)
        if "label" in entry:
            if not isinstance(entry["label"], str) or not _LABEL.match(entry["label"]):
                r.problem(f"'label' {entry['label']!r} is not an SELinux context like u:object_r:system_file:s0",
                          *at, "label")
            else:
                meta["label"] = entry["label"]
        if partition and path:
            ops.append(FileOp(action, partition, path, line, source, content, link, meta.get("mode"), meta.get("uid"),
                              meta.get("gid"), meta.get("label"), meta.get("capabilities")))
    return ops


def _read_props(r: _Reader, data: dict) -> list[PropOp]:
    table = data.get("props", {})
    if not r.typed(table, dict, "props", "props"):
        return []
    ops = []
    for partition, actions in table.items():
        if partition not in KNOWN_PARTITIONS:
            r.problem(f"[props.{partition}]: '{partition}' is not a partition", "props", partition,
                      hint=f"partitions: {', '.join(KNOWN_PARTITIONS)}")
            continue
        if not r.typed(actions, dict, f"props.{partition}", "props", partition):
            continue
        r.table_keys(actions, ("set", "unset", "append", "separator"), f"[props.{partition}]", "props", partition)
        separator = actions.get("separator", ",")
        if not isinstance(separator, str) or len(separator) != 1:
            r.problem("'separator' must be one character", "props", partition, "separator")
            separator = ","
        unset = actions.get("unset", [])
        if r.typed(unset, list, "unset", "props", partition, "unset"):
            for key in unset:
                if not isinstance(key, str) or not valid_key(key):
                    r.problem(f"{key!r} is not a property name", "props", partition, "unset")
                else:
                    ops.append(PropOp("unset", partition, key, None, r.doc.line_of("props", partition, "unset")))
        for action in ("set", "append"):
            values = actions.get(action, {})
            if not r.typed(values, dict, action, "props", partition, action):
                continue
            for key, value in values.items():
                keys = ("props", partition, action, key)
                if not valid_key(key):
                    r.problem(f"{key!r} is not a property name", *keys)
                elif isinstance(value, bool):
                    r.problem(f"{key}: write the value as a string (\"true\"), build.prop has no booleans", *keys)
                elif not isinstance(value, (str, int)):
                    r.problem(f"{key}: value must be a string, not a {type_name(value)}", *keys)
                elif any(c in str(value) for c in "\n\r\0"):
                    r.problem(f"{key}: value holds a line break or NUL", *keys)
                else:
                    ops.append(PropOp(action, partition, key, str(value), r.doc.line_of(*keys), separator))
    return ops


def _xpath(r: _Reader, expr: Any, *keys: str | int) -> str | None:
    if not r.typed(expr, str, keys[-1], *keys):
        return None
    try:
        etree.XPath(expr, namespaces=XPATH_NAMESPACES)
    except etree.XPathSyntaxError as exc:
        r.problem(f"bad XPath {expr!r}: {exc}", *keys)
        return None
    return expr


_XML_KEYS = ("partition", "path", "add", "under", "remove", "set", "at", "create")


def _read_xml(r: _Reader, data: dict) -> list[XmlOp]:
    ops = []
    for at, entry in r.entries(data, "xml", _XML_KEYS):
        partition = r.partition(entry, *at)
        if "path" not in entry:
            r.problem("[[xml]] needs 'path', an XML file under etc/ of the partition", *at)
            continue
        path = r.device_path(entry["path"], *at, "path")
        if path and not (path.startswith("etc/") and path.endswith(".xml")):
            r.problem(f"'{path}': XML edits are for config files under etc/ (*.xml)", *at, "path")
            path = None
        actions = [a for a in XML_ACTIONS if a in entry]
        if len(actions) != 1:
            r.problem("[[xml]] needs exactly one of add, remove or set", *at)
            continue
        action = actions[0]
        create = entry.get("create")
        if create is not None and (action != "add" or not isinstance(create, str)
                                   or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.\-]*", create)):
            r.problem("'create' names the root element of a new file and goes with 'add'", *at, "create")
            create = None
        line = r.doc.line_of(*at)
        if action == "add":
            xpath = _xpath(r, entry.get("under", "/*"), *at, "under")
            fragment = entry["add"]
            if r.typed(fragment, str, "add", *at, "add"):
                try:
                    parse_fragment(fragment, source=f"{r.doc.display}:{r.doc.line_of(*at, 'add')}")
                except InputError as exc:
                    r.problem(f"'add' is not well-formed XML: {exc.message}", *at, "add")
                    fragment = None
            else:
                fragment = None
            if partition and path and xpath and fragment:
                ops.append(XmlOp("add", partition, path, xpath, line, fragment=fragment, create=create))
        elif action == "remove":
            xpath = _xpath(r, entry["remove"], *at, "remove")
            if partition and path and xpath:
                ops.append(XmlOp("remove", partition, path, xpath, line))
        else:
            if "at" not in entry:
                r.problem("'set' needs 'at', the XPath of the elements to change", *at, "set")
                continue
            xpath = _xpath(r, entry["at"], *at, "at")
            attrs = entry["set"]
            if not r.typed(attrs, dict, "set", *at, "set"):
                continue
            good = []
            for name, value in attrs.items():
                if not re.fullmatch(r"([A-Za-z_][A-Za-z0-9_\-]*:)?[A-Za-z_][A-Za-z0-9_.\-]*", name):
                    r.problem(f"{name!r} is not an attribute name", *at, "set", name)
                elif not isinstance(value, str):
                    r.problem(f"attribute {name}: value must be a string", *at, "set", name)
                else:
                    good.append((name, value))
            if partition and path and xpath:
                ops.append(XmlOp("set", partition, path, xpath, line, attributes=tuple(good)))
    return ops


def parse_fragment(fragment: str, *, source: str) -> list[etree._Element]:
    """The elements of an XML fragment, parsed with the hardened parser."""
    wrapped = f'<romforge-fragment xmlns:android="{ANDROID_NS}">{fragment}</romforge-fragment>'.encode()
    root = parse_xml(wrapped, source=source).getroot()
    elements = [child for child in root if isinstance(child.tag, str)]
    if not elements:
        raise InputError("holds no element", file=source)
    return elements


_RES_KEYS = ("target", "package", "partition", "priority", "target_name", "res") + tuple(RESOURCE_TYPES)


def _resource_values(r: _Reader, entry: dict, at: tuple) -> list[ResourceValue]:
    values = []
    for table, (element, kind) in RESOURCE_TYPES.items():
        given = entry.get(table, {})
        if not r.typed(given, dict, table, *at, table):
            continue
        for name, value in given.items():
            keys = (*at, table, name)
            if not _RES_NAME.match(name):
                r.problem(f"{name!r} is not a resource name", *keys)
                continue
            if isinstance(kind, list):
                item = kind[0]
                ok = isinstance(value, list) and all(isinstance(v, item) and not isinstance(v, bool) for v in value)
                wanted = f"a list of {type_name(item())}s"
            elif kind == "dimen":
                ok, wanted = isinstance(value, str) and bool(_DIMEN.match(value)), "a dimension such as \"16dp\""
            elif kind == "color":
                ok, wanted = isinstance(value, str) and bool(_COLOR.match(value)), "a color such as \"#ff0a84ff\""
            else:
                ok = isinstance(value, kind) and (kind is bool or not isinstance(value, bool))
                wanted = f"a {type_name(kind())}"
            if not ok:
                r.problem(f"{table}.{name} must be {wanted}, not {value!r}", *keys)
            elif isinstance(value, str) and any(c in value for c in "\0"):
                r.problem(f"{table}.{name} holds a NUL", *keys)
            else:
                values.append(ResourceValue(element, name, tuple(value) if isinstance(value, list) else value))
    return values


def _read_res_dir(r: _Reader, res: Path, *keys: str | int) -> None:
    """Every XML file in an Android res/ folder parses with the hardened parser."""
    count = 0
    for dirpath, dirnames, filenames in os.walk(res):
        for name in sorted(dirnames + filenames):
            full = Path(dirpath, name)
            count += 1
            if full.is_symlink():
                r.problem(f"{shown_path(full)} is a symlink; res/ folders hold real files only", *keys)
                return
        for name in filenames:
            full = Path(dirpath, name)
            if name.endswith(".xml"):
                try:
                    parse_xml(full.read_bytes(), source=shown_path(full))
                except InputError as exc:
                    r.problems.append(exc)
    if count > MAX_OVERLAY_FILES:
        r.problem(f"res/ holds {count} entries, over the limit of {MAX_OVERLAY_FILES}", *keys)


def _read_resources(r: _Reader, data: dict, name: str) -> list[ResourceOverlay]:
    found = []
    for at, entry in r.entries(data, "resources", _RES_KEYS):
        target = entry.get("target")
        if not isinstance(target, str) or not _PACKAGE.match(target):
            r.problem("[[resources]] needs 'target', the package to overlay (e.g. \"com.android.systemui\")", *at)
            continue
        package = entry.get("package", f"{target}.overlay.{name.replace('-', '_')}")
        if not isinstance(package, str) or not _PACKAGE.match(package) or "." not in package:
            r.problem(f"'package' {package!r} is not a Java package name", *at, "package")
            continue
        partition = r.partition(entry, *at, default="product", allowed=RRO_PARTITIONS)
        priority = entry.get("priority", 0)
        if not r.typed(priority, int, "priority", *at, "priority"):
            priority = 0
        target_name = entry.get("target_name")
        if target_name is not None and not r.typed(target_name, str, "target_name", *at, "target_name"):
            target_name = None
        res_dir = None
        if "res" in entry:
            res_dir = r.source(entry["res"], *at, "res", directory=True)
            if res_dir is not None:
                _read_res_dir(r, res_dir, *at, "res")
        values = _resource_values(r, entry, at)
        if res_dir is None and not values and "res" not in entry:
            r.problem("[[resources]] gives no values: add tables such as [resources.bools] or 'res = \"res\"'", *at)
            continue
        if partition:
            found.append(ResourceOverlay(target, package, partition, priority, r.doc.line_of(*at), tuple(values),
                                         res_dir, target_name))
    packages = [x.package for x in found]
    for dup in sorted({p for p in packages if packages.count(p) > 1}):
        r.problem(f"two [[resources]] entries build the same package {dup}; give each its own 'package'", "resources")
    return found


def _strip_ab(old: str, new: str) -> tuple[str, str]:
    if old.startswith("a/") and new.startswith("b/"):
        return old[2:], new[2:]
    return old, new


def _read_patches(r: _Reader, data: dict) -> list[PatchOp]:
    ops = []
    for at, entry in r.entries(data, "patches", ("file",)):
        if "file" not in entry:
            r.problem("[[patches]] needs 'file', a unified diff in the overlay folder", *at)
            continue
        path = r.source(entry["file"], *at, "file")
        if path is None:
            continue
        shown = shown_path(path)
        try:
            sections = split_unified_diff(decode_text(path.read_bytes(), shown=shown), source=shown)
        except InputError as exc:
            r.problems.append(exc)
            continue
        targets = []
        for section in sections:
            old, new = _strip_ab(section.old, section.new)
            if old == "/dev/null" or new == "/dev/null" or old != new:
                r.problem(f"{shown}: '{old}' → '{new}': patches change existing files; use [[files]] to add, "
                          "remove or rename", *at, "file")
                continue
            partition, _, rest = old.partition("/")
            if partition not in KNOWN_PARTITIONS:
                r.problem(f"{shown}: '{old}' must start with a partition (system/, vendor/, …)", *at, "file")
                continue
            try:
                target = clean_path(rest, what="patched path")
            except ValueError as exc:
                r.problem(f"{shown}: {exc}", *at, "file")
                continue
            targets.append(FilePatch(partition, target, section.text, section.hunk_lines))
        if targets:
            ops.append(PatchOp(path, shown, r.doc.line_of(*at), tuple(targets)))
    return ops


def _read_devices(r: _Reader, data: dict) -> tuple[str, ...]:
    value = data.get("devices", [])
    if not r.typed(value, list, "devices", "devices"):
        return ()
    good = []
    for item in value:
        if not isinstance(item, str) or not item:
            r.problem(f"'devices' holds {item!r}; use globs such as \"ali*\" or FIELD:VALUE", "devices")
            continue
        field_name, sep, rest = item.partition(":")
        if sep and field_name not in _DEVICE_FIELDS:
            r.problem(f"'devices': unknown field {field_name!r} in {item!r}", "devices",
                      hint=f"fields: {', '.join(_DEVICE_FIELDS)}")
            continue
        if field_name == "abi" and rest not in KNOWN_ABIS:
            r.problem(f"'devices': {rest!r} is not an ABI ({', '.join(KNOWN_ABIS)})", "devices")
            continue
        good.append(item)
    return tuple(good)


def read_overlay(root: Path) -> tuple[OverlaySpec | None, list[RomforgeError]]:
    """Read `root/overlay.toml`: the operations that are valid, and every problem found.

    The spec is None only when the file cannot be read as TOML at all; otherwise the valid
    parts can still be tried on the base ROM, so one report can name every problem."""
    toml_path = root / OVERLAY_TOML
    shown = shown_path(toml_path)
    if toml_path.is_symlink():
        return None, [ConfigError("is a symlink; overlay.toml must be a real file", file=shown)]
    try:
        doc = load_toml(toml_path, display=shown)
    except ConfigError as exc:
        return None, [exc]
    data = doc.data
    r = _Reader(doc, root)
    for key in data:
        if key not in _TOP_KEYS:
            r.problem(f"unknown key '{key}'", key, hint=f"overlay.toml takes: {', '.join(_TOP_KEYS)}")
    name = data.get("name")
    if not isinstance(name, str):
        r.problem("'name' is required (the folder's name)", "name")
        name = root.name
    elif name != root.name:
        r.problem(f"'name' is {name!r} but the folder is {root.name!r}; they must match", "name")
        name = root.name
    version = data.get("version")
    if not isinstance(version, str) or not _VERSION.match(version):
        r.problem("'version' is required: a string such as \"1.0\"", "version")
        version = "0"
    description = data.get("description", "")
    if not isinstance(description, str):
        r.problem("'description' must be a string", "description")
        description = ""
    requires, conflicts, after = r.names(data, "requires"), r.names(data, "conflicts"), r.names(data, "after")
    for key, values in (("requires", requires), ("conflicts", conflicts), ("after", after)):
        if name in values:
            r.problem(f"'{key}' names the overlay itself", key)
    spec = OverlaySpec(
        name=name, version=version, description=description, root=root, doc=doc,
        requires=tuple(v for v in requires if v != name), conflicts=tuple(v for v in conflicts if v != name),
        after=tuple(v for v in after if v != name), devices=_read_devices(r, data),
        files=tuple(_read_files(r, data)), props=tuple(_read_props(r, data)), xml=tuple(_read_xml(r, data)),
        resources=tuple(_read_resources(r, data, name)), patches=tuple(_read_patches(r, data)),
    )
    if not (spec.files or spec.props or spec.xml or spec.resources or spec.patches) and not r.problems:
        r.problem("the overlay does nothing: add [[files]], [props.*], [[xml]], [[resources]] or [[patches]]")
    try:
        snapshot = snapshot_folder(root)
        return replace(spec, sha256=snapshot.sha256, snapshot=snapshot), r.problems
    except InputError as exc:
        return None, r.problems + [exc]


def load_overlay(root: Path) -> OverlaySpec:
    """Read `root/overlay.toml`; raises InputProblems listing every problem in it."""
    spec, problems = read_overlay(root)
    if problems or spec is None:
        raise InputProblems(f"{shown_path(root / OVERLAY_TOML)}: {len(problems)} problem(s)", problems)
    return spec


def overlay_names(overlays_dir: Path) -> list[str]:
    """Folders under overlays/ that hold an overlay.toml."""
    if not overlays_dir.is_dir():
        return []
    return sorted(p.name for p in overlays_dir.iterdir()
                  if p.is_dir() and not p.is_symlink() and (p / OVERLAY_TOML).exists())

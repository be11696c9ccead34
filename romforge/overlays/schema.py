"""overlay.toml as pydantic models (romforge/schema.py's Table), one per part of the file.

The reader (overlays/spec.py) validates the top level and then each [[files]], [[xml]],
[[resources]] and [[patches]] entry and each [props.PARTITION] table on its own, so one
report names every problem and the entries that are right can still be tried on the base
ROM. Everything here looks at the file only; what needs the overlay folder (sources exist,
no symlinks on the way, res/ parses) is in overlays/sources.py.

Paths inside a partition follow romforge/androidpath.py's rule (no whitespace or control
characters: fs_config and file_contexts lines cannot carry them).
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from lxml import etree
from pydantic import AfterValidator, ConfigDict, Field, PlainValidator, ValidationInfo

from romforge.androidpath import android_path, link_target_problem
from romforge.errors import InputError
from romforge.overlays.model import NAME_PATTERN, XPATH_NAMESPACES
from romforge.profile import KNOWN_ABIS, KNOWN_PARTITIONS, PAGE_SIZES
from romforge.props import valid_key
from romforge.rro import ANDROID_NS
from romforge.schema import (Table, Text, between, each_entry, invalid, matches, plain_text, problem, unsafe_char,
                             xml_char_problem)
from romforge.tree import build_prop_path, clean_path
from romforge.xmlsafe import parse_xml

_VERSION = r"[0-9A-Za-z][0-9A-Za-z.+_\-]{0,63}"
_PACKAGE = re.compile(r"[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)*", re.ASCII)
_LABEL = re.compile(r"[a-z0-9_]+:object_r:[A-Za-z0-9_]+:s0(:c[0-9]+(,c[0-9]+)*)?", re.ASCII)
_RES_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*", re.ASCII)
_DIMEN = re.compile(r"-?[0-9]+(\.[0-9]+)?(dp|dip|sp|px|pt|in|mm)|@(\*?android:)?dimen/[A-Za-z0-9_.]+", re.ASCII)
_COLOR = re.compile(r"#([0-9A-Fa-f]{3}|[0-9A-Fa-f]{4}|[0-9A-Fa-f]{6}|[0-9A-Fa-f]{8})|@(\*?android:)?color/[A-Za-z0-9_.]+",
                    re.ASCII)
_ATTRIBUTE = re.compile(r"([A-Za-z_][A-Za-z0-9_\-]*:)?[A-Za-z_][A-Za-z0-9_.\-]*", re.ASCII)
_ELEMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*", re.ASCII)
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
_DEVICE_FIELDS = ("abi", "page_size", "brand", "partition")
INT32 = (-(1 << 31), (1 << 31) - 1)
BUILD_PROPS = ("build.prop", "etc/build.prop")


# ---- values ----------------------------------------------------------------------------


def _partition(allowed: tuple[str, ...]) -> AfterValidator:
    def run(value: str) -> str:
        if value not in allowed:
            raise problem(f"partition '{value}' is not one of {', '.join(allowed)}")
        return value

    return AfterValidator(run)


def _device_path(value: str) -> str:
    try:
        return android_path(value, what="path")
    except ValueError as exc:
        raise problem(f"{exc}; paths are relative to the partition and stay inside it") from None


def _source(value: str) -> str:
    try:
        clean = clean_path(value, what="source")
    except ValueError as exc:
        raise problem(f"{exc}; sources must lie inside the overlay folder") from None
    if unsafe_char(clean) is not None:
        raise problem(f"source {value!r} holds a control character")
    return clean


def _xpath(expr: str) -> str:
    try:
        etree.XPath(expr, namespaces=XPATH_NAMESPACES)
    except etree.XPathSyntaxError as exc:
        raise problem(f"bad XPath {expr!r}: {exc}") from None
    return expr


def parse_fragment(fragment: str, *, source: str) -> list[etree._Element]:
    """The elements of an XML fragment, parsed with the hardened parser."""
    wrapped = f'<romforge-fragment xmlns:android="{ANDROID_NS}">{fragment}</romforge-fragment>'.encode()
    root = parse_xml(wrapped, source=source).getroot()
    elements = [child for child in root if isinstance(child.tag, str)]
    if not elements:
        raise InputError("holds no element", file=source)
    return elements


def _fragment(fragment: str) -> str:
    try:
        parse_fragment(fragment, source="add")
    except InputError as exc:
        raise problem(f"'add' is not well-formed XML: {exc.message}") from None
    return fragment


def _octal(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 0o7777:
        return value
    if isinstance(value, str) and re.fullmatch(r"0?[0-7]{3,4}", value):
        return int(value, 8)
    raise invalid(f"must be an octal mode such as \"0644\", not {value!r}")


def _aid(what: str) -> PlainValidator:
    def run(value: Any) -> int:
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 1 << 32:
            return value
        if isinstance(value, str) and value in AIDS:
            return AIDS[value]
        raise invalid(f"must be a number or an AID name such as \"{what}\", not {value!r}")

    return PlainValidator(run)


def _caps(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 1 << 64:
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        bits = [CAPABILITIES.get(name.upper().removeprefix("CAP_")) for name in value]
        if None not in bits:
            return sum({1 << bit for bit in bits if bit is not None})
    raise invalid(f"must be a list of names such as [\"NET_ADMIN\"] or a number, not {value!r}")


def _label(value: Any) -> str:
    if isinstance(value, str) and _LABEL.fullmatch(value):
        return value
    raise invalid(f"{value!r} is not an SELinux context like u:object_r:system_file:s0")


def _java_package(value: str) -> str:
    if not _PACKAGE.fullmatch(value) or "." not in value:
        raise invalid(f"{value!r} is not a Java package name")
    return value


def _folder_name(value: str, info: ValidationInfo) -> str:
    folder = (info.context or {}).get("folder")
    if folder is not None and value != folder:
        raise problem(f"'name' is {value!r} but the folder is {folder!r}; they must match")
    return value


def _not_self(values: list[str], info: ValidationInfo) -> list[str]:
    if (info.context or {}).get("folder") in values:
        raise invalid("names the overlay itself")
    return values


def _device_pattern(item: str) -> str:
    field_name, sep, rest = item.partition(":")
    if not item or unsafe_char(item) is not None:
        raise problem(f"'devices' holds {item!r}; use globs such as \"ali*\" or FIELD:VALUE")
    if sep and field_name not in _DEVICE_FIELDS:
        raise problem(f"'devices': unknown field {field_name!r} in {item!r}", hint=f"fields: {', '.join(_DEVICE_FIELDS)}")
    if field_name == "abi" and rest not in KNOWN_ABIS:
        raise problem(f"'devices': {rest!r} is not an ABI ({', '.join(KNOWN_ABIS)})")
    if field_name == "page_size" and rest not in tuple(map(str, PAGE_SIZES)):
        raise problem(f"'devices': {rest!r} is not a page size ({', '.join(map(str, PAGE_SIZES))})")
    return item


def _prop_value(key: str, value: Any) -> str | None:
    if not valid_key(key):
        return f"{key!r} is not a property name"
    if isinstance(value, bool):
        return f"{key}: write the value as a string (\"true\"), build.prop has no booleans"
    if not isinstance(value, (str, int)):
        return f"{key}: value must be a string, not a {type(value).__name__}"
    if unsafe_char(str(value), allow="\t") is not None:
        return f"{key}: value holds a line break, NUL or other control character"
    return None


def _attribute(name: str, value: Any) -> str | None:
    if not _ATTRIBUTE.fullmatch(name):
        return f"{name!r} is not an attribute name"
    if not isinstance(value, str):
        return f"attribute {name}: value must be a string"
    return xml_char_problem(value) and f"attribute {name}: value {xml_char_problem(value)}"


def _resource_value(table: str) -> Any:
    """The check of one [resources.TABLE] entry, in the words the file's author needs."""
    kind = RESOURCE_TYPES[table][1]

    def test(name: str, value: Any) -> str | None:
        if not _RES_NAME.fullmatch(name):
            return f"{name!r} is not a resource name"
        if isinstance(kind, list):
            item = kind[0]
            ok = isinstance(value, list) and all(isinstance(v, item) and not isinstance(v, bool) for v in value)
            wanted = f"a list of {'integer' if item is int else 'string'}s"
        elif kind == "dimen":
            ok, wanted = isinstance(value, str) and bool(_DIMEN.fullmatch(value)), "a dimension such as \"16dp\""
        elif kind == "color":
            ok, wanted = isinstance(value, str) and bool(_COLOR.fullmatch(value)), "a color such as \"#ff0a84ff\""
        else:
            ok = isinstance(value, kind) and (kind is bool or not isinstance(value, bool))
            wanted = {bool: "a boolean", int: "an integer", str: "a string"}[kind]
        if not ok:
            return f"{table}.{name} must be {wanted}, not {value!r}"
        for v in value if isinstance(value, list) else [value]:
            if isinstance(v, int) and not INT32[0] <= v <= INT32[1]:
                return f"{table}.{name}: {v} does not fit a 32-bit resource integer"
            if isinstance(v, str) and xml_char_problem(v):
                return f"{table}.{name} {xml_char_problem(v)}"
        return None

    return each_entry(test)


def _props_partition(partition: str) -> str:
    if partition not in KNOWN_PARTITIONS:
        raise problem(f"[props.{partition}]: '{partition}' is not a partition",
                      hint=f"partitions: {', '.join(KNOWN_PARTITIONS)}")
    return partition


def _file_action(action: str) -> str:
    if action not in FILE_ACTIONS:
        raise problem(f"unknown file action {action!r}; use one of {', '.join(FILE_ACTIONS)}")
    return action


def _link_problem(link: str, path: str) -> str | None:
    if wrong := link_target_problem(link):
        return wrong
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


def _prop_key(key: str) -> str:
    if not valid_key(key):
        raise problem(f"{key!r} is not a property name")
    return key


def _separator(value: str) -> str:
    if len(value) != 1 or unsafe_char(value) is not None:
        raise problem("'separator' must be one character")
    return value


def _xml_path(path: str) -> str:
    clean = _device_path(path)
    if not (clean.startswith("etc/") and clean.endswith(".xml")):
        raise problem(f"'{clean}': XML edits are for config files under etc/ (*.xml)")
    return clean


def build_prop_problem(partition: str, path: str, action: str) -> str | None:
    """Why `action` on `path` would take build.prop away from `partition`, or None."""
    for prop in sorted({build_prop_path(partition), *BUILD_PROPS}):
        if path == prop or prop.startswith(path + "/"):
            verb = "remove" if action == "remove" else "replace with a symlink"
            return (f"cannot {verb} /{partition}/{prop}: every build stamps its build.prop "
                    f"(change its properties with [props.{partition}] instead)")
    return None


def _target_package(value: str) -> str:
    if not _PACKAGE.fullmatch(value):
        raise invalid(f"{value!r} is not an Android package name")
    return value


Partition = Annotated[str, _partition(KNOWN_PARTITIONS)]
DevicePath = Annotated[str, AfterValidator(_device_path)]
SourcePath = Annotated[str, AfterValidator(_source)]
XPath = Annotated[str, AfterValidator(_xpath)]
Names = Annotated[list[Annotated[str, matches(NAME_PATTERN, "overlay name")]], AfterValidator(_not_self)]


# ---- the parts of overlay.toml -------------------------------------------------------------


class OverlayToml(Table):
    """The top level; the entries of the arrays and the [props.*] tables are checked one by one."""

    model_config = ConfigDict(title="overlay.toml")

    name: Annotated[str, AfterValidator(_folder_name)] = Field(description="the overlay folder's name")
    version: Annotated[str, matches(_VERSION, "version")] = Field(description='a string such as "1.0"')
    description: Annotated[str, plain_text(2000)] = ""
    requires: Names = []
    conflicts: Names = []
    after: Names = []
    devices: list[Annotated[str, AfterValidator(_device_pattern)]] = []
    files: list[dict[str, Any]] = Field([], title="[[files]]")
    props: dict[Annotated[str, AfterValidator(_props_partition)], dict[str, Any]] = \
        Field({}, title="[props.PARTITION]")
    xml: list[dict[str, Any]] = Field([], title="[[xml]]")
    resources: list[dict[str, Any]] = Field([], title="[[resources]]")
    patches: list[dict[str, Any]] = Field([], title="[[patches]]")


class FileEntry(Table):
    action: Annotated[str, AfterValidator(_file_action)] = "add"
    partition: Partition = "system"
    path: DevicePath = Field(description="relative to the partition, e.g. \"etc/init/x.rc\"")
    source: SourcePath | None = None
    content: str | None = None
    target: str | None = None
    mode: Annotated[int, PlainValidator(_octal)] | None = None
    uid: Annotated[int, _aid("system")] | None = None
    gid: Annotated[int, _aid("shell")] | None = None
    label: Annotated[str, PlainValidator(_label)] | None = None
    capabilities: Annotated[int, PlainValidator(_caps)] | None = None

    @classmethod
    def rules(cls, data: dict[str, Any]) -> list:
        found: list = []
        action, path = data.get("action", "add"), data.get("path")
        try:
            clean = android_path(path) if isinstance(path, str) else None
        except ValueError:
            clean = None
        if action in ("add", "replace"):
            if "source" in data and "content" in data:
                found.append((("content",), problem("give 'source' or 'content', not both")))
            elif action == "add" and "source" not in data and "content" not in data:
                found.append(((), problem("adding a file needs 'source' (a file in the overlay folder) or 'content'")))
        if action == "symlink":
            link = data.get("target")
            if not isinstance(link, str):
                found.append(((), problem("a symlink needs 'target' (a string)")))
            elif clean is not None and (wrong := _link_problem(link, clean)):
                found.append((("target",), problem(wrong)))
        metadata = ("source", "content", "target", "mode", "uid", "gid", "label", "capabilities")
        if action == "remove" and any(k in data for k in metadata):
            found.append(((), problem("'remove' takes only partition and path")))
        elif action != "symlink" and "target" in data:
            found.append((("target",), problem("'target' is only for action = \"symlink\"")))
        partition = data.get("partition", "system")
        if action in ("remove", "symlink") and clean is not None and isinstance(partition, str):
            if wrong := build_prop_problem(partition, clean, action):
                found.append((("path",), problem(wrong)))
        return found


class PropTable(Table):
    """[props.PARTITION]: build.prop edits of one partition."""

    set: Annotated[dict[str, Any], each_entry(_prop_value)] = {}
    unset: list[Annotated[str, AfterValidator(_prop_key)]] = []
    append: Annotated[dict[str, Any], each_entry(_prop_value)] = {}
    separator: Annotated[str, AfterValidator(_separator)] = ","


class XmlEntry(Table):
    partition: Partition = "system"
    path: Annotated[str, AfterValidator(_xml_path)] = Field(description="an XML file under etc/ of the partition")
    add: Annotated[str, AfterValidator(_fragment)] | None = None
    under: XPath = "/*"
    remove: XPath | None = None
    set: Annotated[dict[str, Any], each_entry(_attribute)] | None = None
    at: XPath | None = None
    create: str | None = None

    @classmethod
    def rules(cls, data: dict[str, Any]) -> list:
        found: list = []
        actions = [a for a in XML_ACTIONS if a in data]
        if len(actions) != 1:
            found.append(((), problem("[[xml]] needs exactly one of add, remove or set")))
        if "set" in data and "at" not in data:
            found.append((("set",), problem("'set' needs 'at', the XPath of the elements to change")))
        create = data.get("create")
        if create is not None and (actions != ["add"] or not isinstance(create, str) or not _ELEMENT.fullmatch(create)):
            found.append((("create",), problem("'create' names the root element of a new file and goes with 'add'")))
        return found


class ResourceEntry(Table):
    target: Annotated[str, AfterValidator(_target_package)] = Field(
        description="the package to overlay, e.g. \"com.android.systemui\"")
    package: Annotated[str, AfterValidator(_java_package)] | None = None
    partition: Annotated[str, _partition(RRO_PARTITIONS)] = "product"
    priority: Annotated[int, between(*INT32)] = 0
    target_name: Text | None = None
    res: SourcePath | None = None
    bools: Annotated[dict[str, Any], _resource_value("bools")] = {}
    integers: Annotated[dict[str, Any], _resource_value("integers")] = {}
    strings: Annotated[dict[str, Any], _resource_value("strings")] = {}
    dimens: Annotated[dict[str, Any], _resource_value("dimens")] = {}
    colors: Annotated[dict[str, Any], _resource_value("colors")] = {}
    string_arrays: Annotated[dict[str, Any], _resource_value("string-arrays")] = Field({}, alias="string-arrays")
    integer_arrays: Annotated[dict[str, Any], _resource_value("integer-arrays")] = Field({}, alias="integer-arrays")
    arrays: Annotated[dict[str, Any], _resource_value("arrays")] = {}

    @classmethod
    def rules(cls, data: dict[str, Any]) -> list:
        if "res" not in data and not any(data.get(table) for table in RESOURCE_TYPES):
            return [((), problem("[[resources]] gives no values: add tables such as [resources.bools] or "
                                 "'res = \"res\"'"))]
        return []

    def values(self) -> dict[str, dict[str, Any]]:
        """[resources.TABLE] name → value, per table as written in the file."""
        return {table: getattr(self, table.replace("-", "_")) for table in RESOURCE_TYPES}


class PatchEntry(Table):
    file: SourcePath = Field(description="a unified diff in the overlay folder")

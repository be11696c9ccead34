"""The rules of LineageOS's Updater app, as its source states them (org.lineageos.updater.misc.Utils).

- getServerURL: the `lineage.updater.uri` property (else the app's built-in server), with every
  `{device}` replaced by ro.updater.next_device (else ro.lineage.device), `{type}` by
  ro.lineage.releasetype lower-cased and `{incr}` by ro.build.version.incremental.
- parseJson: an object whose "response" array holds entries; an entry is read with getLong
  "datetime", getString "filename", "id", "romtype", "url", "version" and getLong "size"; an
  entry that does not parse is skipped, nothing else of it is read.
- isCompatible (whether an entry is listed): `version` not below the phone's branch version
  (String.compareTo, i.e. text order), `datetime` later than ro.build.date.utc (unless
  lineage.updater.allow_downgrading), `romtype` equal to the release type ignoring case.
- canInstall: `datetime` later than ro.build.date.utc (or downgrading allowed) and `version`
  equal to the phone's branch version ignoring case.

Property names other than ro.build.date.utc, ro.build.version.incremental,
ro.updater.next_device and lineage.updater.allow_downgrading are configurable ([updater.properties]),
for ROMs that ship a fork of the app. This module is romforge's reading of those rules; the tests
check it against a second one of their own.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Mapping

BUILD_DATE = "ro.build.date.utc"
INCREMENTAL = "ro.build.version.incremental"
NEXT_DEVICE = "ro.updater.next_device"
ALLOW_DOWNGRADING = "lineage.updater.allow_downgrading"
BUILT_IN_SERVER = "https://download.lineageos.org/api/v1/{device}/{type}/{incr}"  # the app's own resource
MAX_RESPONSE_BYTES = 4 << 20

_TRUE = ("1", "y", "yes", "on", "true")  # android.os.SystemProperties.getBoolean
_FALSE = ("0", "n", "no", "off", "false")


class Properties:
    """A phone's system properties, read the way android.os.SystemProperties does."""

    def __init__(self, values: Mapping[str, str]) -> None:
        self.values = dict(values)

    def get(self, key: str, default: str = "") -> str:
        value = self.values.get(key, "")
        return value if value else default

    def get_long(self, key: str, default: int = 0) -> int:
        value = self.get(key).strip()
        try:
            return int(value, 10) if value else default
        except ValueError:
            return default

    def get_boolean(self, key: str, default: bool = False) -> bool:
        value = self.get(key)
        if value in _TRUE:
            return True
        if value in _FALSE:
            return False
        return default


@dataclass(frozen=True)
class Names:
    """The configurable property names the app reads."""

    branch_version: str
    release_type: str
    uri: str
    device: str

    @classmethod
    def of(cls, pairs: tuple[tuple[str, str], ...]) -> "Names":
        return cls(**dict(pairs))


@dataclass(frozen=True)
class Update:
    """One parsed entry of a response (UpdateInfo)."""

    index: int
    timestamp: int
    name: str
    download_id: str
    type: str
    size: int
    url: str
    version: str
    extra: dict[str, Any]  # what the app does not read (build, source_build, changelog, …)


def device_of(props: Properties, names: Names) -> str:
    return props.get(NEXT_DEVICE, props.get(names.device))


def server_url(props: Properties, names: Names) -> tuple[str, bool]:
    """(the URL the app fetches, whether it is the ROM's own): Utils.getServerURL."""
    uri = props.get(names.uri)
    own = bool(uri.strip())
    template = uri if own else BUILT_IN_SERVER
    return (template.replace("{device}", device_of(props, names))
            .replace("{type}", props.get(names.release_type).lower())
            .replace("{incr}", props.get(INCREMENTAL))), own


def _java_compare(a: str, b: str) -> int:
    """String.compareTo: UTF-16 code units in order (big-endian bytes compare the same way)."""
    x, y = a.encode("utf-16-be", "surrogatepass"), b.encode("utf-16-be", "surrogatepass")
    return (x > y) - (x < y)


def _equals_ignore_case(a: str, b: str) -> bool:
    return len(a) == len(b) and all(p == q or p.upper() == q.upper() or p.lower() == q.lower() for p, q in zip(a, b))


def _long(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("a boolean is not a number")
    if isinstance(value, (int, float)):
        return int(value)  # Number.longValue() truncates
    if isinstance(value, str):
        try:
            return int(value.strip(), 10)
        except ValueError:
            return int(float(value))  # (long) Double.parseDouble(…)
    raise ValueError(f"{type(value).__name__} is not a number")


def _string(value: Any) -> str:
    if value is None:
        raise ValueError("null is not a string")
    if isinstance(value, str):
        return value
    return json.dumps(value)  # org.json's getString turns any other value into its text


def parse_response(text: str) -> tuple[list[Update], list[str]]:
    """(entries the app reads, why others were skipped); ValueError when the app reads nothing."""
    data = json.loads(text)
    if not isinstance(data, dict) or not isinstance(data.get("response"), list):
        raise ValueError('not a JSON object with a "response" array')
    updates, skipped = [], []
    for i, item in enumerate(data["response"]):
        if item is None:
            continue
        try:
            if not isinstance(item, dict):
                raise ValueError("not an object")
            fields = {k: item[k] for k in ("datetime", "filename", "id", "romtype", "size", "url", "version")}
            updates.append(Update(i, _long(fields["datetime"]), _string(fields["filename"]), _string(fields["id"]),
                                  _string(fields["romtype"]), _long(fields["size"]), _string(fields["url"]),
                                  _string(fields["version"]),
                                  {k: v for k, v in item.items() if k not in fields}))
        except (KeyError, ValueError) as exc:
            skipped.append(f"entry {i} does not parse ({exc}); the app skips it")
    return updates, skipped


def hidden_because(update: Update, props: Properties, names: Names) -> str | None:
    """Utils.isCompatible: None when the entry is listed, else why the app hides it."""
    running = props.get(names.branch_version)
    if _java_compare(update.version, running) < 0:
        return f"version {update.version} is below this build's {running} ({names.branch_version}, compared as text)"
    build_date = props.get_long(BUILD_DATE, 0)
    if not props.get_boolean(ALLOW_DOWNGRADING, False) and update.timestamp <= build_date:
        return f"datetime {update.timestamp} is not later than this build's {BUILD_DATE} {build_date}"
    release_type = props.get(names.release_type)
    if not _equals_ignore_case(update.type, release_type):
        return f"romtype {update.type!r} is not this build's {release_type!r} ({names.release_type})"
    return None


def not_installable_because(update: Update, props: Properties, names: Names) -> str | None:
    """Utils.canInstall: None when the app offers to install the entry, else why not."""
    build_date = props.get_long(BUILD_DATE, 0)
    if not (props.get_boolean(ALLOW_DOWNGRADING, False) or update.timestamp > build_date):
        return f"datetime {update.timestamp} is not later than this build's {BUILD_DATE} {build_date}"
    running = props.get(names.branch_version)
    if not _equals_ignore_case(update.version, running):
        return (f"version {update.version} is another branch than this build's {running}: the app lists it "
                "but will not install it")
    return None

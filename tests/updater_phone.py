"""A second reading of LineageOS's Updater app, for the tests; shares no code with romforge.updater.

Written down from the app's source (org.lineageos.updater.misc.Utils and Constants,
controller.ABUpdateInstaller): how it builds the URL it polls, parses the response, decides
what to list (isCompatible) and what to install (canInstall), and which offset into the zip
it hands update_engine (getZipEntryOffset over java.util.zip's central directory entries).
"""

from __future__ import annotations

import json
import struct
import zipfile
from pathlib import Path

PROP_BUILD_DATE = "ro.build.date.utc"
PROP_BUILD_VERSION = "ro.lineage.build.version"
PROP_INCREMENTAL = "ro.build.version.incremental"
PROP_DEVICE = "ro.lineage.device"
PROP_NEXT_DEVICE = "ro.updater.next_device"
PROP_RELEASE_TYPE = "ro.lineage.releasetype"
PROP_ALLOW_DOWNGRADING = "lineage.updater.allow_downgrading"
PROP_UPDATER_URI = "lineage.updater.uri"
# build.prop files in the order init reads them; a later one wins
BUILD_PROPS = ("SYSTEM/build.prop", "SYSTEM_EXT/etc/build.prop", "VENDOR/build.prop", "ODM/etc/build.prop",
               "PRODUCT/etc/build.prop")


def phone_properties(target_files: Path) -> dict[str, str]:
    props: dict[str, str] = {}
    with zipfile.ZipFile(target_files) as zf:
        names = set(zf.namelist())
        for name in BUILD_PROPS:
            if name not in names:
                continue
            for line in zf.read(name).decode("utf-8").splitlines():
                line = line.strip()
                if line and not line.startswith("#") and "=" in line:
                    key, value = line.split("=", 1)
                    props[key.strip()] = value.strip()
    return props


def sysprop(props: dict[str, str], key: str, default: str = "") -> str:
    return props.get(key) or default


def sysprop_long(props: dict[str, str], key: str) -> int:
    try:
        return int(props.get(key, ""))
    except ValueError:
        return 0


def sysprop_bool(props: dict[str, str], key: str) -> bool:
    return props.get(key, "") in ("1", "y", "yes", "on", "true")


def server_url(props: dict[str, str]) -> str:
    url = sysprop(props, PROP_UPDATER_URI)
    assert url.strip(), "the build has no lineage.updater.uri: the app would ask download.lineageos.org"
    device = sysprop(props, PROP_NEXT_DEVICE, sysprop(props, PROP_DEVICE))
    kind = sysprop(props, PROP_RELEASE_TYPE).lower()
    return url.replace("{device}", device).replace("{type}", kind).replace("{incr}", sysprop(props, PROP_INCREMENTAL))


def utf16_units(text: str) -> list[int]:
    data = text.encode("utf-16-le")
    return list(struct.unpack(f"<{len(data) // 2}H", data))


def java_compare_to(a: str, b: str) -> int:
    x, y = utf16_units(a), utf16_units(b)
    for p, q in zip(x, y):
        if p != q:
            return p - q
    return len(x) - len(y)


def parse_updates(text: str) -> list[dict]:
    updates = []
    for item in json.loads(text)["response"]:
        if item is None:
            continue
        try:
            updates.append({"timestamp": int(item["datetime"]), "name": str(item["filename"]), "id": str(item["id"]),
                            "type": str(item["romtype"]), "size": int(item["size"]), "url": str(item["url"]),
                            "version": str(item["version"]), "raw": item})
        except (KeyError, TypeError, ValueError):
            continue
    return updates


def is_compatible(update: dict, props: dict[str, str]) -> bool:
    if java_compare_to(update["version"], sysprop(props, PROP_BUILD_VERSION)) < 0:
        return False
    if not sysprop_bool(props, PROP_ALLOW_DOWNGRADING) and update["timestamp"] <= sysprop_long(props, PROP_BUILD_DATE):
        return False
    return update["type"].lower() == sysprop(props, PROP_RELEASE_TYPE).lower()


def can_install(update: dict, props: dict[str, str]) -> bool:
    newer = sysprop_bool(props, PROP_ALLOW_DOWNGRADING) or update["timestamp"] > sysprop_long(props, PROP_BUILD_DATE)
    return newer and update["version"].lower() == sysprop(props, PROP_BUILD_VERSION).lower()


def central_directory(data: bytes) -> list[tuple[str, int, int]]:
    """(name, extra length, compressed size) of every central directory entry, in order."""
    end = data.rfind(b"PK\x05\x06")
    count, cd_size, cd_offset = struct.unpack_from("<HII", data, end + 10)
    entries, pos = [], cd_offset
    for _ in range(count):
        assert data[pos:pos + 4] == b"PK\x01\x02"
        compressed, = struct.unpack_from("<I", data, pos + 20)
        name_len, extra_len, comment_len = struct.unpack_from("<HHH", data, pos + 28)
        name = data[pos + 46:pos + 46 + name_len].decode("utf-8")
        entries.append((name, extra_len, compressed))
        pos += 46 + name_len + extra_len + comment_len
    return entries


def zip_entry_offset(data: bytes, wanted: str) -> int:
    """Utils.getZipEntryOffset: 30 + name + extra per entry, plus the compressed sizes before it."""
    offset = 0
    for name, extra_len, compressed in central_directory(data):
        offset += 30 + len(utf16_units(name)) + extra_len
        if name == wanted:
            return offset
        offset += compressed
    raise AssertionError(f"{wanted} not in the zip")

"""The static API the Updater app polls: site/api/v1/<device>/<type>/<incr>, one file per released build.

A phone fetches the URL stamped as lineage.updater.uri with its own codename, release type and
ro.build.version.incremental filled in, so each build gets a response of its own: the newest
release's full OTA and, when that release carries one, the incremental OTA whose source is this
very build (the app never reads "incremental" or a source version, so an incremental from another
build would be offered and then refused by update_engine). When the newest release is on another
branch or release type, the newest one the phone can install is listed too. api/<device>.json
keeps every entry of the device, for tools and people.

Entries carry the fields the app reads (datetime, filename, id, romtype, size, url, version: the
branch version) and, ignored by the app, "build", "incremental", "source_build" and "changelog"
(the build's page on the site).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from romforge.errors import ReleaseError
from romforge.release.record import Delta, ReleaseRecord
from romforge.workspace import Workspace

API_V1 = "api/v1"
SITE = "site"
_SEGMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-]{0,63}$", re.ASCII)  # one path segment a URL carries as is


def build_page(device: str, version: str) -> str:
    """The build's changelog page, relative to the site."""
    return f"{device}/{version}.html"


def response_path(record: ReleaseRecord) -> str | None:
    """Where the response for phones on this build lives, relative to the site (None: built before
    romforge stamped the updater properties, or values no URL path can carry)."""
    u = record.updater
    if u is None:
        return None
    parts = (u.device, u.release_type.lower(), u.incremental)
    if not all(_SEGMENT.match(part) and ".." not in part for part in parts):
        return None
    return f"{API_V1}/{'/'.join(parts)}"


def _entry(ws: Workspace, device: str, record: ReleaseRecord, file: str, size: int, sha256: str,
           source: str | None) -> dict[str, Any]:
    assert record.updater is not None
    stem = f"{ws.rom_name.lower().replace(' ', '-')}-{record.version}-{device}"
    entry: dict[str, Any] = {
        "datetime": record.datetime, "filename": f"{stem}-from-{source}.zip" if source else f"{stem}-full.zip",
        "id": sha256, "romtype": record.updater.release_type, "size": size,
        "url": f"{ws.base_url}/{device}/{record.version}/{file}", "version": record.updater.branch_version,
        "build": record.version, "incremental": source is not None,
        "changelog": f"{ws.base_url}/{SITE}/{build_page(device, record.version)}"}
    if source:
        entry["source_build"] = source
    return entry


def full_entry(ws: Workspace, device: str, record: ReleaseRecord) -> dict[str, Any] | None:
    full = record.full
    return _entry(ws, device, record, "ota-full.zip", full.size, full.sha256, None) if full else None


def delta_entry(ws: Workspace, device: str, record: ReleaseRecord, delta: Delta) -> dict[str, Any]:
    return _entry(ws, device, record, delta.file, delta.size, delta.sha256, delta.source)


def device_index(ws: Workspace, device: str, records: list[ReleaseRecord]) -> dict[str, Any]:
    """api/<device>.json: every full and incremental OTA of the device, newest first."""
    entries = []
    for record in records:
        if record.updater is None:
            continue
        full = full_entry(ws, device, record)
        entries += [full] if full else []
        entries += [delta_entry(ws, device, record, d) for d in record.deltas]
    return {"response": entries}


def _line(record: ReleaseRecord) -> tuple[str, str]:
    assert record.updater is not None
    return record.updater.branch_version, record.updater.release_type.lower()


def response_for(ws: Workspace, device: str, records: list[ReleaseRecord], running: ReleaseRecord) -> dict[str, Any]:
    """What phones on `running` are told: see the module docstring."""
    newer = [r for r in records if r.updater is not None and r.datetime > running.datetime]
    newest = max(newer, key=lambda r: r.datetime, default=None)
    picks = [newest] if newest is not None else []
    same_line = [r for r in newer if _line(r) == _line(running)]
    installable = max(same_line, key=lambda r: r.datetime, default=None)
    if installable is not None and installable is not newest:
        picks.append(installable)
    entries = []
    for record in picks:
        full = full_entry(ws, device, record)
        entries += [full] if full else []
        entries += [delta_entry(ws, device, record, d) for d in record.deltas if d.source == running.version]
    return {"response": entries}


def dumps(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


def write_api(site: Path, ws: Workspace, devices: dict[str, list[ReleaseRecord]]) -> list[ReleaseError]:
    """Write api/<device>.json and every build's api/v1 response under `site`; releases whose
    response path another release already took are reported, not written."""
    problems: list[ReleaseError] = []
    taken: dict[str, str] = {}
    for device, records in devices.items():
        (site / "api" / f"{device}.json").write_text(dumps(device_index(ws, device, records)))
        for record in records:
            path = response_path(record)
            if path is None:
                continue
            if path in taken:
                problems.append(ReleaseError(f"phones on {device} {record.version} would fetch {path}, which "
                                             f"{taken[path]} already answers; left off the API",
                                             file=ws.releases / device / record.version))
                continue
            taken[path] = f"{device} {record.version}"
            target = site / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(dumps(response_for(ws, device, records, record)))
    return problems

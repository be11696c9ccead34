"""release.json: what the weekly train records of a release, for the updater index and the site.

This module owns the file's shape: the train writes a ReleaseRecord, publishing reads
them back, and a damaged one is reported naming the file instead of stopping a run after
every device was built.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from pydantic import ConfigDict, Field, TypeAdapter, ValidationError
from pydantic.dataclasses import dataclass

from romforge.build.record import damaged, read_record_text, record_data

RELEASE_JSON = "release.json"
SCHEMA = 2  # 2: the updater identity; 1 (no "updater") is still read
READABLE = (1, 2)
MAX_RECORD_BYTES = 16 << 20


@dataclass(frozen=True, config=ConfigDict(extra="forbid", strict=True))
class Artifact:
    size: int
    sha256: str


@dataclass(frozen=True, config=ConfigDict(extra="forbid", strict=True, populate_by_name=True))
class Delta:
    """An incremental OTA in the release: from which earlier version, which file."""

    file: str
    size: int
    sha256: str
    source: str = Field(alias="from")  # the version it updates from


@dataclass(frozen=True, config=ConfigDict(extra="forbid", strict=True))
class Notes:
    md: str
    html: str


@dataclass(frozen=True, config=ConfigDict(extra="forbid", strict=True))
class UpdaterIdentity:
    """What a phone on this build tells its Updater app, read back from the build's own build.prop:
    the values it puts in the index URL and compares every entry with."""

    device: str  # {device}: ro.updater.next_device, else the configured device property
    release_type: str  # {type} (lower-cased in the URL) and what `romtype` must equal
    incremental: str  # {incr}: ro.build.version.incremental
    branch_version: str  # what `version` is compared with
    uri: str  # the stamped index URL template, placeholders unfilled


@dataclass(frozen=True, config=ConfigDict(extra="forbid", strict=True))
class ReleaseRecord:
    schema: int
    device: str
    model: str
    version: str
    week: str  # ISO week, 2026-W48
    date: str  # the week's Friday, YYYY-MM-DD
    datetime: int  # ro.build.date.utc of the build
    fingerprint: str
    source_commit: str | None  # the workspace's git commit it was built from
    previous: str | None  # the device's release before this one
    artifacts: dict[str, Artifact]
    deltas: list[Delta]
    notes: Notes
    inputs: dict[str, Any]
    updater: UpdaterIdentity | None = None  # None in schema-1 records: built before phones polled romforge

    @property
    def full(self) -> Artifact | None:
        return self.artifacts.get("ota-full.zip")

    def to_json(self) -> str:
        data = asdict(self)
        data["deltas"] = [{"from": d["source"], "file": d["file"], "size": d["size"], "sha256": d["sha256"]}
                          for d in data["deltas"]]
        return json.dumps(data, indent=2, sort_keys=True) + "\n"

    def deltas_json(self) -> list[dict[str, Any]]:
        return json.loads(self.to_json())["deltas"]

    def artifacts_json(self) -> dict[str, dict[str, Any]]:
        return {name: {"size": a.size, "sha256": a.sha256} for name, a in self.artifacts.items()}


_ADAPTER = TypeAdapter(ReleaseRecord)


def parse_release(text: str, *, file: Path | str) -> ReleaseRecord:
    record_data(text, file=file, schema=READABLE)
    try:
        return _ADAPTER.validate_json(text)
    except ValidationError as exc:
        raise damaged(exc, file=file) from None


def read_release(release: Path) -> ReleaseRecord | None:
    """The release's release.json; None when it has none (built outside the weekly train)."""
    path = Path(release) / RELEASE_JSON
    text = read_record_text(path, max_bytes=MAX_RECORD_BYTES)
    return parse_release(text, file=path) if text is not None else None


def write_release(record: ReleaseRecord, release: Path) -> None:
    (Path(release) / RELEASE_JSON).write_text(record.to_json())

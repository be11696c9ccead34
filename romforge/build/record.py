"""build-info.json: the record of one release, written by the build and read by everyone after.

This module owns the file's shape: the build writes a BuildInfo, the CLI, the weekly train
and publishing read one back, and a file that is missing a field or holds the wrong type
is reported as damaged, naming the file, instead of failing later on a missing key.
"""

from __future__ import annotations

import json
from dataclasses import asdict, field
from pathlib import Path
from typing import Any

from pydantic import ConfigDict, TypeAdapter, ValidationError
from pydantic.dataclasses import dataclass

from romforge.errors import ReleaseError

BUILD_INFO = "build-info.json"
SCHEMA = 1
MAX_RECORD_BYTES = 64 << 20


@dataclass(frozen=True, config=ConfigDict(extra="forbid", strict=True))
class BuildInfo:
    schema: int
    device: str
    codename: str
    model: str
    version: str
    fingerprint: str
    build_date: str  # ISO 8601, UTC
    build_date_source: str  # cli | SOURCE_DATE_EPOCH | profile | base-rom
    inputs: dict[str, Any]  # what the build read, hashed: equal inputs mean the same release
    stamps: dict[str, dict[str, str]]  # partition → build.prop values the build set
    overlays: list[dict[str, Any]]  # name, version, actions of each applied overlay
    changed_files: list[str]
    warnings: list[str]
    outputs: dict[str, dict[str, Any]]  # artifact path in the release → size, sha256 (and kind facts)
    credits: dict[str, Any] | None = field(default=None)

    def to_json(self) -> str:
        data = asdict(self)
        if data["credits"] is None:
            del data["credits"]
        return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"

    def overlay_names(self) -> list[str]:
        """"name version" of each applied feature overlay."""
        return [f"{o.get('name')} {o.get('version')}" for o in self.overlays]


_ADAPTER = TypeAdapter(BuildInfo)


def record_data(text: str, *, file: Path | str, schema: int | tuple[int, ...]) -> dict[str, Any]:
    """The JSON object of a release record, or ReleaseError naming the file: not JSON, not an
    object, a schema version this romforge does not read. Shared by build-info.json and release.json."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ReleaseError(f"damaged: not JSON ({exc})", file=file,
                           hint="releases are never edited by hand; restore it from a backup") from None
    if not isinstance(data, dict):
        raise ReleaseError("damaged: not a JSON object", file=file)
    readable = schema if isinstance(schema, tuple) else (schema,)
    if data.get("schema") not in readable:
        raise ReleaseError(f"schema {data.get('schema')!r} is not one this romforge reads "
                           f"({', '.join(map(str, readable))})", file=file,
                           hint="build it again with the romforge that wrote it, or upgrade romforge")
    return data


def damaged(exc: ValidationError, *, file: Path | str) -> ReleaseError:
    """A record that parsed as JSON but not as its model: the first wrong field, named."""
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "the top level"
    return ReleaseError(f"damaged: {where}: {first['msg'].lower()}", file=file)


def read_record_text(path: Path, *, max_bytes: int = MAX_RECORD_BYTES) -> str | None:
    """A record file's text, bounded; None when there is none."""
    try:
        with open(path, "rb") as f:
            raw = f.read(max_bytes + 1)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ReleaseError(f"cannot read: {exc.strerror}", file=path) from None
    if len(raw) > max_bytes:
        raise ReleaseError(f"damaged: over {max_bytes} bytes", file=path)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ReleaseError("damaged: not UTF-8", file=path) from None


def parse_build_info(text: str, *, file: Path | str) -> BuildInfo:
    """A BuildInfo from the file's text, or ReleaseError naming the file and what is wrong."""
    data = record_data(text, file=file, schema=SCHEMA)
    outputs = data.get("outputs")
    if isinstance(outputs, dict):
        for name, artifact in outputs.items():
            if not (isinstance(artifact, dict) and isinstance(artifact.get("size"), int)
                    and isinstance(artifact.get("sha256"), str)):
                raise ReleaseError(f"damaged: outputs.{name} has no size and sha256", file=file)
    try:
        return _ADAPTER.validate_json(text)
    except ValidationError as exc:
        raise damaged(exc, file=file) from None


def read_build_info(release: Path) -> BuildInfo | None:
    """The release's build-info.json; None when the release has none (a partial or foreign folder)."""
    path = Path(release) / BUILD_INFO
    text = read_record_text(path)
    return parse_build_info(text, file=path) if text is not None else None


def write_build_info(info: BuildInfo, release: Path) -> None:
    (Path(release) / BUILD_INFO).write_text(info.to_json(), encoding="utf-8")

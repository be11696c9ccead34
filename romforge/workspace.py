"""The workspace: romforge.toml resolved once into typed settings every command reads."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, ConfigDict, Field

from romforge.errors import ConfigError, shown_path
from romforge.profile import profile_dirs
from romforge.schema import HostPath, Table, invalid, matches, problem, validate
from romforge.tomlfile import TomlDoc, load_toml

CONFIG_NAME = "romforge.toml"
_PROFILE = r"[a-z0-9][a-z0-9_\-]*"


class WorkspaceTable(Table):
    rom_name: Annotated[str, matches(r"[A-Za-z0-9][A-Za-z0-9 ._\-]{0,39}", "ROM name (1-40 letters, digits, "
                                     "spaces, '.', '_' or '-')")] | None = None
    base_rom: HostPath | None = Field(None, description="the base target-files directory or zip")
    releases: HostPath | None = None
    profiles: list[HostPath] | None = None
    devices: list[Annotated[str, matches(_PROFILE, "device profile name")]] | None = None


class SigningTable(Table):
    ota_key: HostPath | None = None
    ota_next_key: HostPath | None = None  # rotating the OTA key: the next releases trust this one
    overlay_key: HostPath | None = None
    avb_key: HostPath | None = Field(None, description="PEM RSA-2048/4096 key that signs vbmeta (AVB)")


def _issues_url(value: str) -> str:
    rest = value.replace("{id}", "")
    if rest == value or "{" in rest or "}" in rest:  # str.format reads any other {…}, attribute lookups too
        raise invalid("must contain {id} and no other braces, e.g. https://forum.example.org/t/{id}")
    return value


_URL = r"https?://[!-~]+"  # printable ASCII, no spaces: what an updater client fetches as given


class PublishTable(Table):
    base_url: Annotated[str, matches(_URL, "http(s) URL")] | None = None
    issues_url: Annotated[str, matches(_URL, "http(s) URL"), AfterValidator(_issues_url)] | None = None
    romtype: Annotated[str, matches(r"[A-Za-z0-9][A-Za-z0-9._\-]{0,31}", "ROM type (e.g. weekly, nightly)")] \
        | None = None


# What LineageOS's Updater app reads (org.lineageos.updater.misc.Constants); a ROM that ships a
# fork of the app names its own.
LINEAGE_PROPERTIES = {"branch_version": "ro.lineage.build.version", "release_type": "ro.lineage.releasetype",
                      "uri": "lineage.updater.uri", "device": "ro.lineage.device"}
_PROPERTY = r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,90}"
_BRANCH = re.compile(r"[0-9]{1,6}(\.[0-9]{1,6}){0,3}", re.ASCII)
PLACEHOLDERS = ("{device}", "{type}", "{incr}")


def _branch_version(value: str) -> str:
    if not _BRANCH.fullmatch(value):
        raise invalid("is not a comparable branch version: use numbers separated by dots, e.g. 1.0",
                      "the Updater compares it as text with the phone's branch version, so only plain numbers "
                      "keep the order right")
    return value


def _uri_template(value: str) -> str:
    if "{device}" not in value:
        raise invalid("must contain {device}: the Updater puts the phone's codename there, so each device "
                      "fetches its own list", "e.g. https://dl.example.org/rom/site/api/v1/{device}/{type}/{incr}")
    rest = value
    for placeholder in PLACEHOLDERS:
        rest = rest.replace(placeholder, "")
    if "{" in rest or "}" in rest:
        raise invalid("may hold only the placeholders {device}, {type} and {incr}")
    return value


class UpdaterPropertiesTable(Table):
    """The build.prop names the ROM's Updater reads."""

    branch_version: Annotated[str, matches(_PROPERTY, "property name")] = LINEAGE_PROPERTIES["branch_version"]
    release_type: Annotated[str, matches(_PROPERTY, "property name")] = LINEAGE_PROPERTIES["release_type"]
    uri: Annotated[str, matches(_PROPERTY, "property name")] = LINEAGE_PROPERTIES["uri"]
    device: Annotated[str, matches(_PROPERTY, "property name")] = LINEAGE_PROPERTIES["device"]

    @classmethod
    def rules(cls, data: dict) -> list:
        seen: dict[str, str] = {}
        found = []
        for key in ("branch_version", "release_type", "uri", "device"):
            name = data.get(key, LINEAGE_PROPERTIES[key])
            if isinstance(name, str) and name in seen:
                found.append(((key,), problem(f"'updater.properties.{key}' names {name}, which '{seen[name]}' already names; the "
                                              "Updater reads four different properties")))
            elif isinstance(name, str):
                seen[name] = key
        return found


class UpdaterTable(Table):
    """What a phone's Updater app needs to find and judge this ROM's updates."""

    branch_version: Annotated[str, AfterValidator(_branch_version)] = "1.0"
    release_type: Annotated[str, matches(r"[A-Za-z0-9][A-Za-z0-9._\-]{0,31}", "release type (e.g. weekly)")] \
        | None = None
    uri: Annotated[str, matches(_URL, "http(s) URL"), AfterValidator(_uri_template)] | None = None
    release_time: Annotated[str, matches(r"([01][0-9]|2[0-3]):[0-5][0-9]", "UTC time of day (HH:MM)")] = "00:00"
    properties: UpdaterPropertiesTable = UpdaterPropertiesTable()


@dataclass(frozen=True)
class UpdaterSettings:
    """[updater] resolved: the values stamped into every build and the names they are stamped as."""

    branch_version: str = "1.0"
    release_type: str = "weekly"
    uri: str = "https://download.example.org/releases/site/api/v1/{device}/{type}/{incr}"
    release_minutes: int = 0  # the week's release time on its Friday, minutes after 00:00 UTC
    properties: tuple[tuple[str, str], ...] = tuple(LINEAGE_PROPERTIES.items())  # (what, property name)
    lines: tuple[tuple[str, int | None], ...] = ()  # key → its line in romforge.toml, for later errors

    def prop(self, what: str) -> str:
        return dict(self.properties)[what]

    def line(self, key: str) -> int | None:
        return dict(self.lines).get(key)


def api_uri(base_url: str) -> str:
    """The index URL template when [updater] names none: the site's api/v1 under the download base."""
    return f"{base_url}/site/api/v1/{{device}}/{{type}}/{{incr}}"


class WorkspaceToml(Table):
    """romforge.toml: paths are relative to the file."""

    model_config = ConfigDict(title="romforge.toml")

    workspace: WorkspaceTable = WorkspaceTable()
    signing: SigningTable = SigningTable()
    publish: PublishTable = PublishTable()
    updater: UpdaterTable = UpdaterTable()


@dataclass(frozen=True)
class Workspace:
    root: Path
    config_file: Path | None
    rom_name: str
    base_rom: Path | None
    releases: Path
    profile_dirs: tuple[Path, ...]
    devices: tuple[str, ...]
    ota_key: Path | None
    config_sha256: str | None
    overlay_key: Path | None = None  # KEY.pk8 + KEY.x509.pem that sign the overlays' RRO APKs
    base_url: str = "https://download.example.org/releases"
    issues_url: str | None = None
    romtype: str = "weekly"
    updater: UpdaterSettings = UpdaterSettings()
    ota_next_key: Path | None = None  # KEY (KEY.x509.pem) the releases trust while the OTA key rotates
    avb_key: Path | None = None  # PEM RSA key that signs vbmeta.img / vbmeta_system.img; None: the TEST key


def load_workspace(path: Path | None = None, *, required: bool = True) -> Workspace:
    """Read `romforge.toml` in `path` (default: the current directory)."""
    root = Path(path) if path is not None else Path.cwd()
    config = root / CONFIG_NAME
    if not root.is_dir():
        raise ConfigError("workspace directory does not exist", file=root)
    if not config.is_file():
        if required:
            raise ConfigError(f"no {CONFIG_NAME} here", file=root,
                              hint="run inside a workspace or pass --workspace DIR (see examples/workspace)")
        return Workspace(root, None, "romforge", None, root / "releases",
                         tuple(profile_dirs([root / "device-profiles"])), (), None, None)
    doc = load_toml(config, display=shown_path(config))
    toml = validate(WorkspaceToml, doc.data, doc)
    ws, signing, publish = toml.workspace, toml.signing, toml.publish
    updater = _updater_settings(toml, doc)
    extra = [root / p for p in (ws.profiles if ws.profiles is not None else ["device-profiles"])]
    settings = {key: value for key, value in (("base_url", publish.base_url and publish.base_url.rstrip("/")),
                                             ("issues_url", publish.issues_url), ("romtype", publish.romtype))
                if value is not None}
    return Workspace(
        root=root,
        config_file=config,
        rom_name=ws.rom_name or "romforge",
        base_rom=root / ws.base_rom if ws.base_rom is not None else None,
        releases=root / (ws.releases or "releases"),
        profile_dirs=tuple(profile_dirs(extra)),
        devices=tuple(ws.devices or ()),
        ota_key=root / signing.ota_key if signing.ota_key is not None else None,
        config_sha256=hashlib.sha256(doc.raw).hexdigest(),
        overlay_key=root / signing.overlay_key if signing.overlay_key is not None else None,
        updater=updater,
        **{**settings, "romtype": updater.release_type},
        ota_next_key=root / signing.ota_next_key if signing.ota_next_key is not None else None,
        avb_key=root / signing.avb_key if signing.avb_key is not None else None,
    )


def _updater_settings(toml: WorkspaceToml, doc: TomlDoc) -> UpdaterSettings:
    table, publish = toml.updater, toml.publish
    base_url = (publish.base_url or Workspace.base_url).rstrip("/")
    hours, minutes = (int(part) for part in table.release_time.split(":"))
    keys = ("branch_version", "release_type", "uri", "properties", "release_time")
    lines = tuple((key, doc.line_of("updater", key)) for key in keys)
    return UpdaterSettings(
        branch_version=table.branch_version,
        release_type=table.release_type or publish.romtype or "weekly",
        uri=table.uri or api_uri(base_url),
        release_minutes=hours * 60 + minutes,
        properties=tuple((what, getattr(table.properties, what)) for what in LINEAGE_PROPERTIES),
        lines=lines)

"""The workspace: romforge.toml resolved once into typed settings every command reads."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, ConfigDict, Field

from romforge.errors import ConfigError, shown_path
from romforge.profile import profile_dirs
from romforge.schema import HostPath, Table, invalid, matches, validate
from romforge.tomlfile import load_toml

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


class WorkspaceToml(Table):
    """romforge.toml: paths are relative to the file."""

    model_config = ConfigDict(title="romforge.toml")

    workspace: WorkspaceTable = WorkspaceTable()
    signing: SigningTable = SigningTable()
    publish: PublishTable = PublishTable()


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
        avb_key=root / signing.avb_key if signing.avb_key is not None else None,
        **settings,
    )

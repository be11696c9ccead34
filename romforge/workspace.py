"""The workspace: romforge.toml resolved once into typed settings every command reads."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from romforge.errors import ConfigError, shown_path
from romforge.profile import profile_dirs
from romforge.tomlfile import TomlDoc, load_toml, type_name

CONFIG_NAME = "romforge.toml"
_ROM_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._\-]{0,39}$")

_SCHEMA: dict[str, dict[str, type]] = {
    "workspace": {"rom_name": str, "base_rom": str, "releases": str, "profiles": list, "devices": list},
    "signing": {"ota_key": str, "overlay_key": str},
    "publish": {"base_url": str, "issues_url": str, "romtype": str},
}


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


def _validate(doc: TomlDoc) -> None:
    for table, value in doc.data.items():
        if table not in _SCHEMA:
            raise doc.error(f"unknown table or key '{table}'", table,
                            hint=f"romforge.toml takes: {', '.join(f'[{t}]' for t in _SCHEMA)}")
        if not isinstance(value, dict):
            raise doc.error(f"'{table}' must be a table, not a {type_name(value)}", table)
        for key, item in value.items():
            expected = _SCHEMA[table].get(key)
            if expected is None:
                raise doc.error(f"unknown key '{table}.{key}'", table, key,
                                hint=f"[{table}] takes: {', '.join(_SCHEMA[table])}")
            if not isinstance(item, expected):
                raise doc.error(f"'{table}.{key}' must be a {type_name(expected())}, not a {type_name(item)}",
                                table, key)
            if expected is list and not all(isinstance(x, str) for x in item):
                raise doc.error(f"'{table}.{key}' must hold strings", table, key)


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
    _validate(doc)
    ws = doc.data.get("workspace", {})
    rom_name = ws.get("rom_name", "romforge")
    if not _ROM_NAME.match(rom_name):
        raise doc.error("'workspace.rom_name' must be 1-40 letters, digits, spaces, '.', '_' or '-'",
                        "workspace", "rom_name")
    extra = [root / p for p in ws.get("profiles", ["device-profiles"])]
    signing = doc.data.get("signing", {})
    return Workspace(
        root=root,
        config_file=config,
        rom_name=rom_name,
        base_rom=root / ws["base_rom"] if "base_rom" in ws else None,
        releases=root / ws.get("releases", "releases"),
        profile_dirs=tuple(profile_dirs(extra)),
        devices=tuple(ws.get("devices", ())),
        ota_key=root / signing["ota_key"] if "ota_key" in signing else None,
        config_sha256=hashlib.sha256(config.read_bytes()).hexdigest(),
        overlay_key=root / signing["overlay_key"] if "overlay_key" in signing else None,
        **_publish_settings(doc),
    )


def _publish_settings(doc: TomlDoc) -> dict[str, str]:
    publish = doc.data.get("publish", {})
    settings: dict[str, str] = {}
    if "base_url" in publish:
        if not re.match(r"^https?://[^\s]+$", publish["base_url"]):
            raise doc.error("'publish.base_url' must be an http(s) URL", "publish", "base_url")
        settings["base_url"] = publish["base_url"].rstrip("/")
    if "issues_url" in publish:
        if "{id}" not in publish["issues_url"]:
            raise doc.error("'publish.issues_url' must contain {id}, e.g. https://forum.example.org/t/{id}",
                            "publish", "issues_url")
        settings["issues_url"] = publish["issues_url"]
    if "romtype" in publish:
        settings["romtype"] = publish["romtype"]
    return settings

"""Device profiles: TOML files with `inherits`, resolved once into a typed DeviceProfile."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Iterable

from pydantic import ConfigDict

from romforge.errors import ConfigError, ProfileError, shown_path
from romforge.schema import (HostPath, Table, Text, between, between_chars, matches, one_line, one_of, unique,
                             validate)
from romforge.tomlfile import TomlDoc, load_toml

DEFAULT_PROFILE_DIR = Path(__file__).resolve().parent.parent / "device-profiles"

KNOWN_ABIS = ("arm64-v8a", "armeabi-v7a", "armeabi", "x86_64", "x86", "riscv64")
KNOWN_PARTITIONS = ("system", "vendor", "product", "system_ext", "odm", "vendor_dlkm", "odm_dlkm", "system_dlkm")
KNOWN_FILESYSTEMS = ("erofs", "ext4")
PAGE_SIZES = (4096, 16384, 65536)


# ---- the schema of one profile file (each file may leave keys to its parents) -------------

_NAME = r"[a-z0-9][a-z0-9_\-]*"
_LOCALE = r"[a-z]{2,3}(-[A-Za-z0-9]{2,8})*"
_DATE = r"[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}(:[0-9]{2})?(Z|[+-][0-9]{2}:[0-9]{2})?)?"
Abi = Annotated[str, one_of(KNOWN_ABIS)]
Filesystem = Annotated[str, one_of(KNOWN_FILESYSTEMS)]


class ScreenTable(Table):
    width: Annotated[int, between(120, 8192)] | None = None
    height: Annotated[int, between(120, 8192)] | None = None
    density: Annotated[int, between(100, 1000)] | None = None


class PartitionsTable(Table):
    """Partition → filesystem of the image built for it."""

    system: Filesystem | None = None
    vendor: Filesystem | None = None
    product: Filesystem | None = None
    system_ext: Filesystem | None = None
    odm: Filesystem | None = None
    vendor_dlkm: Filesystem | None = None
    odm_dlkm: Filesystem | None = None
    system_dlkm: Filesystem | None = None


class OtaTable(Table):
    signing_key: HostPath | None = None


class BootanimationTable(Table):
    """Boot-screen credits (romforge/bootscreen/credits.py has the defaults)."""

    credits: bool | None = None
    placement: Annotated[str, one_of(("after", "before"))] | None = None
    max_names: Annotated[int, between(1, 1000)] | None = None
    max_frames: Annotated[int, between(1, 240)] | None = None
    page_seconds: Annotated[int, between(1, 30)] | None = None
    fade_frames: Annotated[int, between(0, 15)] | None = None
    title: Annotated[str, between_chars(1, 80), one_line(80)] | None = None


class ProfileToml(Table):
    """One device-profile file. Strings that reach build.prop and the download site's HTML
    (model, brand, manufacturer) are single lines without control characters."""

    model_config = ConfigDict(title="a device profile")

    inherits: Annotated[str, matches(_NAME, "profile name")] | None = None
    abstract: bool | None = None
    codename: Annotated[str, matches(_NAME, "codename (lowercase letters, digits, - and _)")] | None = None
    model: Text | None = None
    brand: Text | None = None
    manufacturer: Text | None = None
    name: Annotated[str, matches(_NAME, "product name")] | None = None
    abis: Annotated[list[Abi], unique()] | None = None
    page_size: Annotated[int, one_of(PAGE_SIZES)] | None = None
    ab: bool | None = None
    locales: Annotated[list[Annotated[str, matches(_LOCALE, "BCP 47 locale tag")]], unique()] | None = None
    overlays: Annotated[list[Annotated[str, matches(_NAME, "overlay name")]], unique()] | None = None
    build_date: Annotated[str, matches(_DATE, "date (YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ)")] | None = None
    screen: ScreenTable | None = None
    partitions: PartitionsTable | None = None
    ota: OtaTable | None = None
    bootanimation: BootanimationTable | None = None


_TABLES = ("screen", "partitions", "ota", "bootanimation")  # merged key by key along `inherits`
_REQUIRED = ("codename", "model", "brand", "abis", "page_size", "screen.width", "screen.height",
             "screen.density", "partitions")


# ---- resolved profile ----------------------------------------------------------------


@dataclass(frozen=True)
class Screen:
    width: int
    height: int
    density: int


@dataclass(frozen=True)
class DeviceProfile:
    """A device after `inherits` is resolved: what every later step reads."""

    profile: str
    codename: str
    model: str
    brand: str
    manufacturer: str
    name: str
    abis: tuple[str, ...]
    page_size: int
    screen: Screen
    partitions: dict[str, str]
    locales: tuple[str, ...] = ()
    overlays: tuple[str, ...] = ()
    ab: bool = True
    build_date: str | None = None
    ota_signing_key: str | None = None
    chain: tuple[str, ...] = ()
    files: tuple[Path, ...] = field(default=(), compare=False, repr=False)
    origin: dict[str, str] = field(default_factory=dict, compare=False, repr=False)
    bootanimation: dict[str, Any] = field(default_factory=dict)  # [bootanimation] as written

    @property
    def primary_abi(self) -> str:
        return self.abis[0]

    @property
    def is_64bit(self) -> bool:
        return self.primary_abi in ("arm64-v8a", "x86_64", "riscv64")

    def to_dict(self) -> dict[str, Any]:
        """Plain data for `profile show --json` and build-info.json; no host paths."""
        return {
            "profile": self.profile,
            "codename": self.codename,
            "model": self.model,
            "brand": self.brand,
            "manufacturer": self.manufacturer,
            "name": self.name,
            "abis": list(self.abis),
            "page_size": self.page_size,
            "screen": {"width": self.screen.width, "height": self.screen.height, "density": self.screen.density},
            "partitions": dict(sorted(self.partitions.items())),
            "locales": list(self.locales),
            "overlays": list(self.overlays),
            "ab": self.ab,
            "build_date": self.build_date,
            "ota": {"signing_key": self.ota_signing_key},
            "inherits": list(self.chain[1:]),
            "bootanimation": dict(sorted(self.bootanimation.items())),
        }

    def digest_source(self) -> bytes:
        return json.dumps(self.to_dict(), sort_keys=True, ensure_ascii=False).encode()


# ---- loading -------------------------------------------------------------------------


def profile_dirs(extra: Iterable[Path] = ()) -> list[Path]:
    """Search order: the workspace's own profiles first, then the bundled default set."""
    dirs = [Path(d) for d in extra]
    if DEFAULT_PROFILE_DIR.is_dir() and DEFAULT_PROFILE_DIR not in dirs:
        dirs.append(DEFAULT_PROFILE_DIR)
    return dirs


def find_profiles(dirs: Iterable[Path]) -> dict[str, Path]:
    """Profile name → file; an earlier directory shadows a later one."""
    found: dict[str, Path] = {}
    for directory in dirs:
        if not directory.is_dir():
            continue
        for path in sorted(directory.glob("*.toml")):
            found.setdefault(path.stem, path)
    return dict(sorted(found.items()))


def _display(path: Path) -> str:
    return shown_path(path)


def _validate_doc(doc: TomlDoc) -> None:
    validate(ProfileToml, doc.data, doc)


def _buildable(available: dict[str, Path]) -> list[str]:
    """Names worth suggesting: profiles that parse and are not abstract."""
    names = []
    for name, path in available.items():
        try:
            if not load_toml(path).data.get("abstract", False):
                names.append(name)
        except ConfigError:
            continue
    return names


def _load_chain(name: str, available: dict[str, Path]) -> list[TomlDoc]:
    chain: list[TomlDoc] = []
    seen: list[str] = []
    current = name
    child: TomlDoc | None = None
    while True:
        if current in seen:
            cycle = " → ".join(seen[seen.index(current):] + [current])
            assert child is not None
            raise ProfileError(f"'inherits' forms a cycle: {cycle}", file=child.display,
                               line=child.line_of("inherits"))
        path = available.get(current)
        if path is None:
            if child is None:
                known = ", ".join(_buildable(available)) or "(none)"
                raise ProfileError(f"unknown device '{name}'", hint=f"known profiles: {known}")
            raise ProfileError(f"'inherits' names '{current}', but no profile {current}.toml exists",
                               file=child.display, line=child.line_of("inherits"))
        doc = load_toml(path, display=_display(path))
        _validate_doc(doc)
        chain.append(doc)
        seen.append(current)
        parent = doc.data.get("inherits")
        if parent is None:
            return chain
        child, current = doc, parent


def _merge(chain: list[TomlDoc]) -> tuple[dict[str, Any], dict[str, str]]:
    """Child wins; tables merge key by key; lists are replaced whole."""
    merged: dict[str, Any] = {}
    origin: dict[str, str] = {}
    for doc in reversed(chain):  # root first, device last
        for key, value in doc.data.items():
            if key in ("inherits", "abstract"):
                continue
            if key in _TABLES:
                table = merged.setdefault(key, {})
                for sub, subvalue in value.items():
                    table[sub] = subvalue
                    origin[f"{key}.{sub}"] = doc.display
            else:
                merged[key] = value
                origin[key] = doc.display
    return merged, origin


def load_profile(name: str, dirs: Iterable[Path]) -> DeviceProfile:
    """Resolve `name` through its `inherits` chain and check it is a buildable device."""
    available = find_profiles(dirs)
    chain = _load_chain(name, available)
    device = chain[0]
    if device.data.get("abstract", False):
        raise ProfileError(f"'{name}' is an abstract profile (abstract = true) and cannot be built",
                           file=device.display, line=device.line_of("abstract"))
    merged, origin = _merge(chain)
    files = ", ".join(d.display for d in chain)
    for required in _REQUIRED:
        table, _, sub = required.partition(".")
        present = table in merged and (not sub or sub in merged[table])
        if not present:
            raise ProfileError(f"required key '{required}' is not set (looked in {files})",
                               file=device.display)
    if not merged["partitions"]:
        raise ProfileError("[partitions] lists no partition to build", file=device.display)
    if "system" not in merged["partitions"]:
        raise ProfileError("[partitions] must build 'system'", file=device.display,
                           line=device.line_of("partitions"))
    screen = merged["screen"]
    return DeviceProfile(
        profile=name,
        codename=merged["codename"],
        model=merged["model"],
        brand=merged["brand"],
        manufacturer=merged.get("manufacturer", merged["brand"]),
        name=merged.get("name", merged["codename"]),
        abis=tuple(merged["abis"]),
        page_size=merged["page_size"],
        screen=Screen(screen["width"], screen["height"], screen["density"]),
        partitions=dict(merged["partitions"]),
        locales=tuple(merged.get("locales", ())),
        overlays=tuple(merged.get("overlays", ())),
        ab=merged.get("ab", True),
        build_date=merged.get("build_date"),
        ota_signing_key=merged.get("ota", {}).get("signing_key"),
        chain=tuple(d.path.stem for d in chain),
        files=tuple(d.path for d in chain),
        origin=origin,
        bootanimation=dict(merged.get("bootanimation", {})),
    )


@dataclass(frozen=True)
class ProfileSummary:
    name: str
    path: Path
    abstract: bool
    model: str | None
    inherits: str | None


def list_profiles(dirs: Iterable[Path]) -> list[ProfileSummary]:
    """Every profile file found, validated on its own (not resolved)."""
    summaries = []
    for name, path in find_profiles(dirs).items():
        doc = load_toml(path, display=_display(path))
        _validate_doc(doc)
        summaries.append(ProfileSummary(
            name=name, path=path, abstract=bool(doc.data.get("abstract", False)),
            model=doc.data.get("model"), inherits=doc.data.get("inherits"),
        ))
    return summaries


def device_names(dirs: Iterable[Path]) -> list[str]:
    """Names of the buildable (non-abstract) profiles."""
    return [s.name for s in list_profiles(dirs) if not s.abstract]


def buildable_names(dirs: Iterable[Path]) -> list[str]:
    """Non-abstract profile names, without validating them (a broken profile fails only its own build)."""
    return _buildable(find_profiles(dirs))

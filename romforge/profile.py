"""Device profiles: TOML files with `inherits`, resolved once into a typed DeviceProfile."""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from romforge.errors import ProfileError, shown_path
from romforge.tomlfile import TomlDoc, load_toml, type_name

DEFAULT_PROFILE_DIR = Path(__file__).resolve().parent.parent / "device-profiles"

KNOWN_ABIS = ("arm64-v8a", "armeabi-v7a", "armeabi", "x86_64", "x86", "riscv64")
KNOWN_PARTITIONS = ("system", "vendor", "product", "system_ext", "odm", "vendor_dlkm", "odm_dlkm", "system_dlkm")
KNOWN_FILESYSTEMS = ("erofs", "ext4")
PAGE_SIZES = (4096, 16384, 65536)
_NAME = re.compile(r"^[a-z0-9][a-z0-9_\-]*$")
_LOCALE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2})?(Z|[+-]\d{2}:\d{2})?)?$")


# ---- field schema --------------------------------------------------------------------

Check = Callable[[Any], str | None]


def _one_of(choices: Iterable[Any]) -> Check:
    allowed = tuple(choices)
    return lambda v: None if v in allowed else f"must be one of {', '.join(map(str, allowed))}"


def _each(check: Check) -> Check:
    def run(values: list[Any]) -> str | None:
        for v in values:
            problem = check(v)
            if problem:
                return f"{v!r}: {problem}"
        if len(set(values)) != len(values):
            return "lists the same value twice"
        return None

    return run


def _matches(pattern: re.Pattern[str], what: str) -> Check:
    return lambda v: None if pattern.match(v) else f"is not a valid {what}"


def _between(low: int, high: int) -> Check:
    return lambda v: None if low <= v <= high else f"must be between {low} and {high}"


@dataclass(frozen=True)
class _Field:
    kind: type
    item: type | None = None
    check: Check | None = None


_TOP: dict[str, _Field] = {
    "inherits": _Field(str, check=_matches(_NAME, "profile name")),
    "abstract": _Field(bool),
    "codename": _Field(str, check=_matches(_NAME, "codename (lowercase letters, digits, - and _)")),
    "model": _Field(str),
    "brand": _Field(str),
    "manufacturer": _Field(str),
    "name": _Field(str, check=_matches(_NAME, "product name")),
    "abis": _Field(list, str, _each(_one_of(KNOWN_ABIS))),
    "page_size": _Field(int, check=_one_of(PAGE_SIZES)),
    "ab": _Field(bool),
    "locales": _Field(list, str, _each(_matches(_LOCALE, "BCP 47 locale tag"))),
    "overlays": _Field(list, str, _each(_matches(_NAME, "overlay name"))),
    "build_date": _Field(str, check=_matches(_DATE, "date (YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ)")),
}
_TABLES: dict[str, dict[str, _Field]] = {
    "screen": {
        "width": _Field(int, check=_between(120, 8192)),
        "height": _Field(int, check=_between(120, 8192)),
        "density": _Field(int, check=_between(100, 1000)),
    },
    "partitions": {p: _Field(str, check=_one_of(KNOWN_FILESYSTEMS)) for p in KNOWN_PARTITIONS},
    "ota": {
        "signing_key": _Field(str),
    },
    "bootanimation": {  # boot-screen credits (romforge/bootscreen/credits.py has the defaults)
        "credits": _Field(bool),
        "placement": _Field(str, check=_one_of(("after", "before"))),
        "max_names": _Field(int, check=_between(1, 1000)),
        "max_frames": _Field(int, check=_between(1, 240)),
        "page_seconds": _Field(int, check=_between(1, 30)),
        "fade_frames": _Field(int, check=_between(0, 15)),
        "title": _Field(str, check=lambda v: None if 0 < len(v) <= 80 else "must be 1-80 characters"),
    },
}
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


def _validate_value(doc: TomlDoc, keys: tuple[str, ...], value: Any, spec: _Field) -> None:
    label = ".".join(keys)
    ok = isinstance(value, spec.kind) and not (spec.kind is int and isinstance(value, bool))
    if not ok:
        raise doc.error(f"'{label}' must be a {type_name(spec.kind())}, not a {type_name(value)}", *keys)
    if spec.item is not None:
        for item in value:
            if not isinstance(item, spec.item):
                raise doc.error(f"'{label}' must hold {type_name(spec.item())}s, found a {type_name(item)}", *keys)
    if spec.check is not None:
        problem = spec.check(value)
        if problem:
            raise doc.error(f"'{label}' {problem}", *keys)


def _validate_doc(doc: TomlDoc) -> None:
    for key, value in doc.data.items():
        if key in _TABLES:
            if not isinstance(value, dict):
                raise doc.error(f"'{key}' must be a table, not a {type_name(value)}", key)
            for sub, subvalue in value.items():
                spec = _TABLES[key].get(sub)
                if spec is None:
                    known = ", ".join(_TABLES[key])
                    raise doc.error(f"unknown key '{key}.{sub}'", key, sub, hint=f"'{key}' takes: {known}")
                _validate_value(doc, (key, sub), subvalue, spec)
        elif key in _TOP:
            _validate_value(doc, (key,), value, _TOP[key])
        else:
            known = ", ".join(list(_TOP) + [f"[{t}]" for t in _TABLES])
            raise doc.error(f"unknown key '{key}'", key, hint=f"profile keys are: {known}")


def _buildable(available: dict[str, Path]) -> list[str]:
    """Names worth suggesting: profiles that parse and are not abstract."""
    names = []
    for name, path in available.items():
        try:
            if not tomllib.loads(path.read_text("utf-8")).get("abstract", False):
                names.append(name)
        except (OSError, ValueError):
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

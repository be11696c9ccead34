"""`romforge overlay import`: a device tree's overlay/ or rro_overlays/ folder → romforge overlays.

Device trees keep resource overlays two ways: RRO folders (AndroidManifest.xml with an
<overlay> element + res/) under rro_overlays/, and legacy `overlay/<package path>/res/`
folders whose target is the app at that source path. Each target package becomes one
romforge overlay whose [[resources]] entries point at copies of the res/ folders. The
input is untrusted: no symlinks, every XML file parsed with the hardened parser, size
limits, and nothing is written unless the whole import succeeds.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

import tomlkit

from romforge.outputs import make_parent
from romforge.errors import ConfigError, InputError, InputProblems, RomforgeError, shown_path
from romforge.overlays.schema import INT32
from romforge.overlays.spec import NAME, OVERLAY_TOML, load_overlay
from romforge.rro import ANDROID_NS
from romforge.safeio import read_limited
from romforge.tree import clean_path
from romforge.xmlsafe import parse_xml

MAX_IMPORT_FILES = 20_000
MAX_IMPORT_BYTES = 256 << 20
# Source path of an app in an Android tree → its package (what legacy overlay/ folders mirror).
LEGACY_TARGETS = {
    "frameworks/base/core/res": "android",
    "frameworks/base/packages/SystemUI": "com.android.systemui",
    "frameworks/base/packages/SettingsProvider": "com.android.providers.settings",
    "frameworks/base/packages/Shell": "com.android.shell",
    "frameworks/base/packages/SettingsLib": None,  # a library, not an app: no RRO can target it
    "packages/apps/Settings": "com.android.settings",
    "packages/apps/Launcher3": "com.android.launcher3",
    "packages/apps/Dialer": "com.android.dialer",
    "packages/apps/Contacts": "com.android.contacts",
    "packages/apps/Bluetooth": "com.android.bluetooth",
    "packages/apps/Nfc": "com.android.nfc",
    "packages/apps/CarrierConfig": "com.android.carrierconfig",
    "packages/apps/Camera2": "com.android.camera2",
    "packages/apps/Updater": "org.lineageos.updater",
    "packages/apps/Jelly": "org.lineageos.jelly",
    "packages/apps/Recorder": "org.lineageos.recorder",
    "packages/services/Telephony": "com.android.phone",
    "packages/services/Telecomm": "com.android.server.telecom",
    "packages/providers/TelephonyProvider": "com.android.providers.telephony",
    "packages/providers/MediaProvider": "com.android.providers.media.module",
    "packages/modules/Wifi/service/ServiceWifiResources": "com.android.wifi.resources",
    "packages/modules/Connectivity/service/ServiceConnectivityResources": "com.android.connectivity.resources",
    "packages/modules/Bluetooth/android/app": "com.android.bluetooth",
    "lineage-sdk/lineage/res": "lineageos.platform",
}
_STRIP_PREFIXES = ("com.android.", "org.lineageos.", "com.")
_RES_TYPES = {"values", "xml", "drawable", "layout", "raw", "mipmap", "color", "anim", "animator", "menu", "font",
              "interpolator", "transition"}


def _looks_like_res(folder: Path) -> bool:
    """A res/ folder holds values*/, xml/, drawable*/ … (frameworks/base/core/res itself does not)."""
    return any(child.is_dir() and child.name.split("-", 1)[0] in _RES_TYPES for child in folder.iterdir())


@dataclass(frozen=True)
class ResSource:
    """One res/ folder to import and the overlay manifest facts that go with it."""

    res: Path
    origin: str  # shown to the user: where it came from
    target: str
    package: str | None = None
    priority: int = 0
    target_name: str | None = None
    is_static: bool = True


@dataclass(frozen=True)
class ImportedOverlay:
    name: str
    path: Path
    target: str
    sources: tuple[str, ...]


def _android(attr: str) -> str:
    return f"{{{ANDROID_NS}}}{attr}"


def _scan(src: Path) -> tuple[list[Path], list[Path]]:
    """(folders with an AndroidManifest.xml, folders named res) — refusing symlinks and oversize input."""
    manifests, res_dirs = [], []
    count = total = 0
    for dirpath, dirnames, filenames in os.walk(src):
        dirnames.sort()
        for name in dirnames + filenames:
            full = Path(dirpath, name)
            st = os.lstat(full)
            count += 1
            if stat.S_ISLNK(st.st_mode):
                raise InputError("is a symlink; imported overlays must hold real files only", file=full)
            if stat.S_ISREG(st.st_mode):
                total += st.st_size
            elif not stat.S_ISDIR(st.st_mode):
                raise InputError("is not a regular file or folder", file=full)
        if count > MAX_IMPORT_FILES or total > MAX_IMPORT_BYTES:
            raise InputError(f"holds more than {MAX_IMPORT_FILES} entries or {MAX_IMPORT_BYTES} bytes", file=src)
        here = Path(dirpath)
        if "AndroidManifest.xml" in filenames:
            manifests.append(here)
        if here.name == "res" and here != src:
            res_dirs.append(here)
    return manifests, res_dirs


def _read_manifest(manifest: Path):  # -> lxml ElementTree
    shown = shown_path(manifest)
    return parse_xml(read_limited(manifest, shown=shown, max_bytes=MAX_IMPORT_BYTES), source=shown)


def _from_manifest(folder: Path) -> ResSource | None:
    """The overlay facts of an RRO folder's manifest; None when it is not an overlay manifest."""
    manifest = folder / "AndroidManifest.xml"
    root = _read_manifest(manifest).getroot()
    overlay = root.find("overlay")
    if overlay is None:
        return None
    target = overlay.get(_android("targetPackage"))
    if not target:
        raise InputError("<overlay> has no android:targetPackage", file=manifest, line=overlay.sourceline)
    priority_text = overlay.get(_android("priority"), "0")
    if not re.fullmatch(r"-?[0-9]{1,10}", priority_text) or not INT32[0] <= int(priority_text) <= INT32[1]:
        # ASCII digits only: int() would also take "٣", " 5" or "1_0"; aapt2 takes a 32-bit integer
        raise InputError(f"android:priority {priority_text!r} is not a number", file=manifest,
                         line=overlay.sourceline)
    priority = int(priority_text)
    if not (folder / "res").is_dir():
        raise InputError("has an overlay manifest but no res/ folder", file=folder)
    return ResSource(res=folder / "res", origin=folder.name, target=target, package=root.get("package"),
                     priority=priority, target_name=overlay.get(_android("targetName")),
                     is_static=overlay.get(_android("isStatic"), "false") == "true")


def _legacy_target(src: Path, res: Path, forced: str | None) -> tuple[str | None, str]:
    source_path = res.parent.relative_to(src).as_posix() if res.parent != src else ""
    if forced:
        return forced, source_path
    manifest = res.parent / "AndroidManifest.xml"
    if manifest.is_file():
        package = _read_manifest(manifest).getroot().get("package")
        if package:
            return package, source_path
    for prefix in (source_path, source_path.split("/", 1)[1] if "/" in source_path else ""):
        if prefix in LEGACY_TARGETS:
            return LEGACY_TARGETS[prefix], source_path
    return None, source_path


def find_sources(src: Path, *, target: str | None = None) -> list[ResSource]:
    """Every res/ folder under `src` with the package it overlays."""
    if src.is_symlink() or not src.is_dir():
        raise InputError("is not a folder (give a device tree's overlay/ or rro_overlays/ folder, or one RRO)",
                         file=src)
    manifests, res_dirs = _scan(src)
    sources: list[ResSource] = []
    problems: list[RomforgeError] = []
    rro_res = set()
    for folder in manifests:
        try:
            found = _from_manifest(folder)
        except InputError as exc:
            problems.append(exc)
            continue
        if found is not None:
            sources.append(replace(found, target=target or found.target))
            rro_res.add(found.res)
    for res in res_dirs:
        if any(res.is_relative_to(r) for r in rro_res) or not _looks_like_res(res):
            continue
        package, source_path = _legacy_target(src, res, target)
        if package is None:
            known = ", ".join(sorted(k for k, v in LEGACY_TARGETS.items() if v))
            problems.append(InputError(f"cannot tell which package '{source_path or '.'}' overlays",
                                       file=res, hint=f"pass --target PACKAGE, or lay it out as one of: {known}"))
            continue
        sources.append(ResSource(res=res, origin=source_path or src.name, target=package))
    if problems:
        raise InputProblems(f"{len(problems)} problem(s) importing {shown_path(src)}", problems)
    if not sources:
        raise InputError("holds no RRO folder (AndroidManifest.xml with <overlay>) and no res/ folder", file=src)
    return sorted(sources, key=lambda s: (s.target, s.origin))


def _slug(target: str) -> str:
    for prefix in _STRIP_PREFIXES:
        if target.startswith(prefix) and len(target) > len(prefix):
            target = target[len(prefix):]
            break
    return target.lower().replace(".", "-").replace("_", "-")


def _copy_res(src: Path, dest: Path) -> int:
    """Copy a res/ folder, checking every name and every XML file on the way."""
    count = 0
    for dirpath, dirnames, filenames in os.walk(src):
        dirnames.sort()
        rel_dir = Path(dirpath).relative_to(src)
        for name in sorted(filenames):
            rel = (rel_dir / name).as_posix()
            clean_path(rel, what="res file")
            full = Path(dirpath) / name
            data = read_limited(full, shown=shown_path(full), max_bytes=MAX_IMPORT_BYTES)
            if name.endswith(".xml"):
                parse_xml(data, source=shown_path(full))
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            count += 1
    return count


def _overlay_toml(name: str, target: str, entries: list[tuple[ResSource, str]], partition: str) -> str:
    """overlay.toml written by tomlkit: every value from the device tree is a TOML string the
    library escapes, and where a folder name goes into a comment it goes as such a string
    (so a name with a newline or a quote stays inside its one comment line)."""
    doc = tomlkit.document()
    doc.add(tomlkit.comment("Imported by `romforge overlay import` from a device tree."))
    doc.add(tomlkit.comment("Edit freely: this folder is now the overlay's source."))
    doc.add("name", name)
    doc.add("version", "1.0")
    doc.add("description", f"Resource overlay for {target}, imported from the device tree")
    tables = tomlkit.aot()
    for source, res_name in entries:
        table = tomlkit.table()
        origin = tomlkit.string(source.origin).as_string()
        note = "" if source.is_static else " (its manifest said isStatic=false; romforge builds static RROs)"
        table.add(tomlkit.comment(f"from {origin}{note}"))
        table.add("target", target)
        if source.package:
            table.add("package", source.package)
        table.add("partition", partition)
        table.add("priority", source.priority)
        if source.target_name:
            table.add("target_name", source.target_name)
        table.add("res", res_name)
        tables.append(table)
    doc.add(tomlkit.nl())
    doc.add("resources", tables)
    return tomlkit.dumps(doc)


def import_overlays(src: Path, out: Path, *, target: str | None = None,
                    partition: str = "vendor") -> list[ImportedOverlay]:
    """Turn `src` into one overlay per target package: `out` itself when there is one target,
    else `out`-<target> beside it. Writes nothing unless every overlay imports cleanly."""
    name = out.name
    if not NAME.match(name):
        raise ConfigError(f"'{name}' is not an overlay name (lowercase letters, digits, - and _)", file=out)
    sources = find_sources(src, target=target)
    groups: dict[str, list[ResSource]] = {}
    for source in sources:
        groups.setdefault(source.target, []).append(source)
    planned = {t: (out if len(groups) == 1 else out.with_name(f"{name}-{_slug(t)}")) for t in groups}
    existing = [p for p in planned.values() if p.exists() or p.is_symlink()]
    if existing:
        raise ConfigError("already exists; import never overwrites an overlay", file=existing[0],
                          hint="pick another -o name or remove the folder first")
    make_parent(out)
    staging = Path(tempfile.mkdtemp(prefix=f".{name}.import-", dir=out.parent))
    try:
        results = []
        for tgt, group in sorted(groups.items()):
            dest = planned[tgt]
            work = staging / dest.name
            work.mkdir()
            entries = []
            for i, source in enumerate(group):
                res_name = "res" if len(group) == 1 else f"res-{i + 1}"
                _copy_res(source.res, work / res_name)
                entries.append((source, res_name))
            (work / OVERLAY_TOML).write_text(_overlay_toml(dest.name, tgt, entries, partition), encoding="utf-8")
            load_overlay(work)  # what was written must read back as a valid overlay
            results.append(ImportedOverlay(dest.name, dest, tgt, tuple(s.origin for s in group)))
        for result in results:
            os.rename(staging / result.path.name, result.path)
        return results
    finally:
        shutil.rmtree(staging, ignore_errors=True)

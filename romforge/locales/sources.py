"""Where a pack's source (reference) strings come from: a `source/` folder, or the base ROM's APKs."""

from __future__ import annotations

import contextlib
import os
import zipfile
from dataclasses import replace
from pathlib import Path
from typing import Iterable, Iterator

from romforge.errors import InputError, shown_path
from romforge.locales.arsc import read_apk_strings
from romforge.locales.check import check_file, check_pack, merge_sources, read_source_file
from romforge.locales.pack import LocalePack, open_pack
from romforge.locales.resxml import ResFinding, ValuesFile, read_values
from romforge.overlays.spec import OverlaySpec, read_overlay
from romforge.tree import RomTree

APP_DIRS = ("app/", "priv-app/")


def _shown(path: Path, base: Path | None) -> str:
    return os.path.relpath(path, base) if base is not None else shown_path(path)


def sources_from_dir(source_dir: Path, packages: tuple[str, ...], *,
                     display_base: Path | None = None) -> dict[str, ValuesFile]:
    """<source_dir>/<package>/values/*.xml, the app's own res/values as the team keeps it."""
    found: dict[str, ValuesFile] = {}
    for package in packages:
        folder = source_dir / package / "values"
        if folder.is_symlink() or not folder.is_dir():
            continue
        files = sorted(p for p in folder.glob("*.xml") if p.is_file())
        if files:
            found[package] = merge_sources([read_source_file(p, _shown(p, display_base)) for p in files],
                                           _shown(folder, display_base))
    return found


def sources_from_rom(tree: RomTree, packages: tuple[str, ...]) -> dict[str, ValuesFile]:
    """The default-language strings compiled into the base ROM's apps, keyed by package."""
    wanted = set(packages)
    found: dict[str, ValuesFile] = {}
    for entry in tree.iter_entries(kind="file"):
        if not entry.path.endswith(".apk") or not entry.path.startswith(APP_DIRS):
            continue
        shown = f"{tree.name}:{entry.device_path}"
        try:
            strings = read_apk_strings(tree.read(entry.partition, entry.path), file=shown)
        except InputError:
            continue  # an APK without resources (or one we cannot read) translates nothing
        if strings.package in wanted and strings.package not in found:
            found[strings.package] = strings.values
    return found


def resolve_sources(packages: tuple[str, ...], *, source_dir: Path | None = None, rom: RomTree | None = None,
                    display_base: Path | None = None, where: str | None = None) -> dict[str, ValuesFile]:
    """Source strings per target: a source folder wins, the base ROM fills in; missing ones are an error."""
    found: dict[str, ValuesFile] = {}
    if source_dir is not None:
        found.update(sources_from_dir(source_dir, packages, display_base=display_base))
    rest = tuple(p for p in packages if p not in found)
    if rest and rom is not None:
        found.update(sources_from_rom(rom, rest))
    missing = [p for p in packages if p not in found]
    if missing:
        looked = [f"{_shown(source_dir, display_base)}/<package>/values" if source_dir else None,
                  f"the base ROM {rom.name}" if rom is not None else None]
        raise InputError(f"no source strings for {', '.join(missing)} (looked in "
                         f"{' and '.join(x for x in looked if x) or 'nothing'})", file=where,
                         hint="pass --source DIR holding <package>/values/strings.xml, or run inside a workspace "
                              "whose base ROM ships the app")
    return found


def with_overlay_strings(sources: dict[str, ValuesFile], overlays: Iterable[OverlaySpec]) -> None:
    """Add the strings feature overlays give a target app in their res/values/*.xml (the device
    shows them, so translators translate them; translatable="false" works as in Android). A later
    overlay's value replaces an earlier one of the same name."""
    for spec in overlays:
        for rro in spec.resources:
            if rro.target not in sources:
                continue
            added: list = []  # values written in overlay.toml are configuration, never translated
            if rro.res_dir is not None:
                for xml in sorted((rro.res_dir / "values").glob("*.xml")):
                    added += read_values(xml.read_bytes(), file=shown_path(xml), translation=False).resources
            names = {r.name for r in added}
            current = sources[rro.target]
            sources[rro.target] = replace(current, resources=[r for r in current.resources if r.name not in names]
                                          + added)


def workspace_overlays(overlays_dir: Path) -> list[OverlaySpec]:
    """Every overlay of a workspace that loads cleanly (a broken one is not the translator's problem)."""
    specs = []
    if overlays_dir.is_dir():
        for folder in sorted(p for p in overlays_dir.iterdir() if (p / "overlay.toml").is_file()):
            spec, problems = read_overlay(folder)
            if spec is not None and not problems:
                specs.append(spec)
    return specs


@contextlib.contextmanager
def pack_with_sources(target: Path, *, source: Path | None = None, workspace_root: Path | None = None,
                      base_rom: Path | None = None,
                      shown: str | None = None) -> Iterator[tuple[LocalePack, dict[str, ValuesFile]]]:
    """A pack (folder or zip) and the source strings of each of its targets, found the way
    `locale check` finds them: --source, else the workspace's source/, else the base ROM;
    inside a workspace, plus the strings its overlays add."""
    if source is not None and not source.is_dir():
        raise InputError("--source for a pack must be a folder holding <package>/values/*.xml",
                         file=shown_path(source))
    with open_pack(target, shown=shown) as pack:
        source_dir = source
        if source_dir is None and workspace_root is not None and (workspace_root / "source").is_dir():
            source_dir = workspace_root / "source"
        rom = None
        if base_rom is not None and base_rom.exists():
            rom = RomTree.open(base_rom)
        sources = resolve_sources(pack.targets, source_dir=source_dir, rom=rom, where=pack.shown)
        if workspace_root is not None:
            with_overlay_strings(sources, workspace_overlays(workspace_root / "overlays"))
        yield pack, sources


def check_path(target: Path, *, source: Path | None = None, workspace_root: Path | None = None,
               base_rom: Path | None = None) -> list[ResFinding]:
    """What `romforge locale check` runs: a pack (folder or zip), or one translated strings.xml."""
    target = Path(target)
    if target.suffix == ".xml" or (target.is_file() and not zipfile.is_zipfile(target)):
        return check_file(target, source)
    with pack_with_sources(target, source=source, workspace_root=workspace_root, base_rom=base_rom) as found:
        return check_pack(*found)

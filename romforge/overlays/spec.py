"""overlay.toml: one feature overlay, read and checked with file:line for every problem.

An overlay is a folder `overlays/<name>/` holding overlay.toml plus the files it ships
(files/), Android resource folders (res/) and unified diffs (patches/). Everything it
names must stay inside that folder; nothing here touches a ROM tree.

Reading happens in two passes: the file against its schema (overlays/schema.py, one part
at a time so every problem is reported), then what needs the folder (overlays/sources.py).
The records it produces are in overlays/model.py.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any, Iterator

from romforge.androidpath import android_path
from romforge.errors import ConfigError, InputError, InputProblems, RomforgeError, shown_path
from romforge.overlays.model import (NAME, OVERLAY_TOML, XPATH_NAMESPACES, FileOp, FilePatch, OverlaySpec, PatchOp,
                                     PropOp, ResourceOverlay, ResourceValue, XmlOp, device_matches)
from romforge.overlays.patch import split_unified_diff
from romforge.overlays.schema import (RESOURCE_TYPES, FileEntry, OverlayToml, PatchEntry, PropTable, ResourceEntry,
                                      XmlEntry, parse_fragment)
from romforge.overlays.snapshot import snapshot_folder
from romforge.overlays.sources import find_source, read_patch, res_dir_problems
from romforge.profile import KNOWN_PARTITIONS
from romforge.schema import check
from romforge.tomlfile import TomlDoc, load_toml

__all__ = ["NAME", "OVERLAY_TOML", "XPATH_NAMESPACES", "FileOp", "FilePatch", "OverlaySpec", "PatchOp", "PropOp",
           "ResourceOverlay", "ResourceValue", "XmlOp", "device_matches", "parse_fragment", "read_overlay",
           "load_overlay", "overlay_names"]


class _Reader:
    """Collects every problem of one overlay.toml instead of stopping at the first."""

    def __init__(self, doc: TomlDoc, root: Path) -> None:
        self.doc = doc
        self.root = root
        self.problems: list[RomforgeError] = []

    def problem(self, message: str, *keys: str | int, hint: str | None = None) -> None:
        self.problems.append(self.doc.error(message, *keys, hint=hint))

    def entries(self, key: str, model: Any) -> Iterator[tuple[tuple[str, int], Any]]:
        """Each table of the array `key` that passes `model`, with its key path."""
        value = self.doc.data.get(key, [])
        if not isinstance(value, list):
            return  # the top level reported it
        for i, entry in enumerate(value):
            if isinstance(entry, dict):
                checked, problems = check(model, entry, self.doc, at=(key, i), section=f"[[{key}]]")
                self.problems += problems
                if checked is not None:
                    yield (key, i), checked

    def source(self, rel: str, *keys: str | int, directory: bool = False) -> Path | None:
        found, why = find_source(self.root, rel, directory=directory)
        if why:
            self.problem(why, *keys)
        return found


def _read_files(r: _Reader) -> list[FileOp]:
    ops = []
    for at, entry in r.entries("files", FileEntry):
        source = r.source(entry.source, *at, "source") if entry.source is not None else None
        if entry.source is not None and source is None:
            continue
        content = entry.content.encode("utf-8") if entry.content is not None else None
        ops.append(FileOp(entry.action, entry.partition, entry.path, r.doc.line_of(*at), source, content,
                          entry.target if entry.action == "symlink" else None, entry.mode, entry.uid, entry.gid,
                          entry.label, entry.capabilities))
    return ops


def _read_props(r: _Reader) -> list[PropOp]:
    tables = r.doc.data.get("props", {})
    if not isinstance(tables, dict):
        return []
    ops = []
    for partition, actions in tables.items():
        if partition not in KNOWN_PARTITIONS or not isinstance(actions, dict):
            continue  # the top level reported it
        at = ("props", partition)
        table, problems = check(PropTable, actions, r.doc, at=at, section=f"[props.{partition}]")
        r.problems += problems
        if table is None:
            continue
        for i, key in enumerate(table.unset):
            ops.append(PropOp("unset", partition, key, None, r.doc.line_of(*at, "unset", i)))
        for action, values in (("set", table.set), ("append", table.append)):
            for key, value in values.items():
                ops.append(PropOp(action, partition, key, str(value), r.doc.line_of(*at, action, key),
                                  table.separator))
    return ops


def _read_xml(r: _Reader) -> list[XmlOp]:
    ops = []
    for at, entry in r.entries("xml", XmlEntry):
        line = r.doc.line_of(*at)
        if entry.add is not None:
            ops.append(XmlOp("add", entry.partition, entry.path, entry.under, line, fragment=entry.add,
                             create=entry.create))
        elif entry.remove is not None:
            ops.append(XmlOp("remove", entry.partition, entry.path, entry.remove, line))
        elif entry.set is not None and entry.at is not None:
            ops.append(XmlOp("set", entry.partition, entry.path, entry.at, line, attributes=tuple(entry.set.items())))
    return ops


def _resource_values(entry: ResourceEntry) -> list[ResourceValue]:
    values = []
    for table, given in entry.values().items():
        element = RESOURCE_TYPES[table][0]
        for name, value in given.items():
            values.append(ResourceValue(element, name, tuple(value) if isinstance(value, list) else value))
    return values


def _read_resources(r: _Reader, name: str) -> list[ResourceOverlay]:
    found = []
    for at, entry in r.entries("resources", ResourceEntry):
        package = entry.package or f"{entry.target}.overlay.{name.replace('-', '_')}"
        res_dir = None
        if entry.res is not None:
            res_dir = r.source(entry.res, *at, "res", directory=True)
            if res_dir is None:
                continue
            problems, refused = res_dir_problems(res_dir)
            r.problems += problems
            if refused:
                r.problem(refused, *at, "res")
                continue
        found.append(ResourceOverlay(entry.target, package, entry.partition, entry.priority, r.doc.line_of(*at),
                                     tuple(_resource_values(entry)), res_dir, entry.target_name))
    packages = [x.package for x in found]
    for dup in sorted({p for p in packages if packages.count(p) > 1}):
        r.problem(f"two [[resources]] entries build the same package {dup}; give each its own 'package'", "resources")
    return found


def _strip_ab(old: str, new: str) -> tuple[str, str]:
    if old.startswith("a/") and new.startswith("b/"):
        return old[2:], new[2:]
    return old, new


def _read_patches(r: _Reader) -> list[PatchOp]:
    ops = []
    for at, entry in r.entries("patches", PatchEntry):
        path = r.source(entry.file, *at, "file")
        if path is None:
            continue
        try:
            text, shown = read_patch(path)
            sections = split_unified_diff(text, source=shown)
        except InputError as exc:
            r.problems.append(exc)
            continue
        targets = []
        for section in sections:
            old, new = _strip_ab(section.old, section.new)
            if old == "/dev/null" or new == "/dev/null" or old != new:
                r.problem(f"{shown}: '{old}' → '{new}': patches change existing files; use [[files]] to add, "
                          "remove or rename", *at, "file")
                continue
            partition, _, rest = old.partition("/")
            if partition not in KNOWN_PARTITIONS:
                r.problem(f"{shown}: '{old}' must start with a partition (system/, vendor/, …)", *at, "file")
                continue
            try:
                target = android_path(rest, what="patched path")
            except ValueError as exc:
                r.problem(f"{shown}: {exc}", *at, "file")
                continue
            targets.append(FilePatch(partition, target, section.text, section.hunk_lines))
        if targets:
            ops.append(PatchOp(path, shown, r.doc.line_of(*at), tuple(targets)))
    return ops


def read_overlay(root: Path) -> tuple[OverlaySpec | None, list[RomforgeError]]:
    """Read `root/overlay.toml`: the operations that are valid, and every problem found.

    The spec is None only when the file cannot be read as TOML at all; otherwise the valid
    parts can still be tried on the base ROM, so one report can name every problem."""
    toml_path = root / OVERLAY_TOML
    shown = shown_path(toml_path)
    if toml_path.is_symlink():
        return None, [ConfigError("is a symlink; overlay.toml must be a real file", file=shown)]
    try:
        doc = load_toml(toml_path, display=shown, follow_symlinks=False)
    except ConfigError as exc:
        return None, [exc]
    r = _Reader(doc, root)
    head, r.problems = check(OverlayToml, doc.data, doc, context={"folder": root.name}, partial=True)
    name = root.name
    spec = OverlaySpec(
        name=name, version=head.version if head else "0", description=head.description if head else "",
        root=root, doc=doc, requires=tuple(head.requires) if head else (),
        conflicts=tuple(head.conflicts) if head else (), after=tuple(head.after) if head else (),
        devices=tuple(head.devices) if head else (), files=tuple(_read_files(r)), props=tuple(_read_props(r)),
        xml=tuple(_read_xml(r)), resources=tuple(_read_resources(r, name)), patches=tuple(_read_patches(r)),
    )
    if not (spec.files or spec.props or spec.xml or spec.resources or spec.patches) and not r.problems:
        r.problem("the overlay does nothing: add [[files]], [props.*], [[xml]], [[resources]] or [[patches]]")
    try:
        snapshot = snapshot_folder(root)
        return replace(spec, sha256=snapshot.sha256, snapshot=snapshot), r.problems
    except InputError as exc:
        return None, r.problems + [exc]


def load_overlay(root: Path) -> OverlaySpec:
    """Read `root/overlay.toml`; raises InputProblems listing every problem in it."""
    spec, problems = read_overlay(root)
    if problems or spec is None:
        raise InputProblems(f"{shown_path(root / OVERLAY_TOML)}: {len(problems)} problem(s)", problems)
    return spec


def overlay_names(overlays_dir: Path) -> list[str]:
    """Folders under overlays/ that hold an overlay.toml."""
    if not overlays_dir.is_dir():
        return []
    return sorted(p.name for p in overlays_dir.iterdir()
                  if p.is_dir() and not p.is_symlink() and (p / OVERLAY_TOML).exists())

"""`romforge base diff`: what changed between two bases or stock firmwares, by partition —
what a porter reads first when a vendor ships new firmware. Files added, removed and changed
(size, SHA-256, link target, kind), metadata changes (mode, owner, SELinux label,
capabilities), build.prop keys changed, and images kept whole (IMAGES/, RADIO/) or ROOT/
files that changed."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from romforge.tree import FILE, SYMLINK, RomTree
from romforge.tree.paths import IMAGES_DIR, RADIO_DIR, ROOT_DIR

EXTRA_TOPS = (ROOT_DIR, IMAGES_DIR, RADIO_DIR)  # compared by content; META/ is derived, not compared
META_FIELDS = ("uid", "gid", "mode", "selabel", "capabilities")


@dataclass
class PartitionDiff:
    partition: str
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: list[dict] = field(default_factory=list)
    metadata: list[dict] = field(default_factory=list)
    props: list[dict] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed or self.metadata or self.props)

    def to_dict(self) -> dict:
        return {"partition": self.partition, "added": self.added, "removed": self.removed, "changed": self.changed,
                "metadata": self.metadata, "build_prop": self.props}


@dataclass
class BaseDiff:
    old: str
    new: str
    partitions: list[PartitionDiff]

    @property
    def empty(self) -> bool:
        return all(p.empty for p in self.partitions)

    def to_dict(self) -> dict:
        return {"old": self.old, "new": self.new, "identical": self.empty,
                "partitions": [p.to_dict() for p in self.partitions if not p.empty]}


def _digest(stream) -> str:
    h = hashlib.sha256()
    with stream as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def diff_bases(old: Path, new: Path) -> BaseDiff:
    """Compare two target-files (dirs or zips); the trees are read, never written."""
    a, b = RomTree.open(Path(old)), RomTree.open(Path(new))
    result = []
    for partition in sorted(set(a.partitions()) | set(b.partitions())):
        result.append(_partition_diff(a, b, partition))
    for top in EXTRA_TOPS:
        extra = _extras_diff(a, b, top)
        if not extra.empty:
            result.append(extra)
    return BaseDiff(str(old), str(new), result)


def _partition_diff(a: RomTree, b: RomTree, partition: str) -> PartitionDiff:
    d = PartitionDiff(partition)
    old = {e.path: e for e in a.iter_entries(partition)}
    new = {e.path: e for e in b.iter_entries(partition)}
    d.added = [f"/{p}" for p in sorted(new.keys() - old.keys())]
    d.removed = [f"/{p}" for p in sorted(old.keys() - new.keys())]
    for path in sorted(old.keys() & new.keys()):
        x, y = old[path], new[path]
        shown = f"/{path}"
        if x.kind != y.kind:
            d.changed.append({"path": shown, "old_kind": x.kind, "new_kind": y.kind})
        elif x.kind == SYMLINK and x.link_target != y.link_target:
            d.changed.append({"path": shown, "old_target": x.link_target, "new_target": y.link_target})
        elif x.kind == FILE:
            sizes = a.size(partition, path), b.size(partition, path)
            hashes = _digest(a.open_file(partition, path)), _digest(b.open_file(partition, path))
            if sizes[0] != sizes[1] or hashes[0] != hashes[1]:
                d.changed.append({"path": shown, "old_size": sizes[0], "new_size": sizes[1],
                                  "old_sha256": hashes[0], "new_sha256": hashes[1]})
        for name in META_FIELDS:
            before, after = getattr(x.meta, name), getattr(y.meta, name)
            if before != after:
                if name == "mode":
                    before, after = f"{before:o}", f"{after:o}"
                elif name == "capabilities":
                    before, after = f"0x{before:x}", f"0x{after:x}"
                d.metadata.append({"path": shown, "field": name, "old": before, "new": after})
    d.props = _props_diff(a, b, partition)
    return d


def _props_diff(a: RomTree, b: RomTree, partition: str) -> list[dict]:
    before = dict(a.build_prop(partition).items()) if partition in a.partitions() and a.build_prop(partition) else {}
    after = dict(b.build_prop(partition).items()) if partition in b.partitions() and b.build_prop(partition) else {}
    changes = []
    for key in sorted(before.keys() | after.keys()):
        if before.get(key) != after.get(key):
            changes.append({"key": key, "old": before.get(key), "new": after.get(key)})
    return changes


def _extras_diff(a: RomTree, b: RomTree, top: str) -> PartitionDiff:
    d = PartitionDiff(top)
    prefix = top + "/"
    old = {p: k for p, k in a.extras.items() if p.startswith(prefix)}
    new = {p: k for p, k in b.extras.items() if p.startswith(prefix)}
    d.added = sorted(new.keys() - old.keys())
    d.removed = sorted(old.keys() - new.keys())
    for path in sorted(old.keys() & new.keys()):
        if old[path] != new[path]:
            d.changed.append({"path": path, "old_kind": old[path], "new_kind": new[path]})
        elif old[path] == SYMLINK:
            if a.extra_links.get(path) != b.extra_links.get(path):
                d.changed.append({"path": path, "old_target": a.extra_links.get(path),
                                  "new_target": b.extra_links.get(path)})
        else:
            x, y = _digest(a.open_extra(path)), _digest(b.open_extra(path))
            if x != y:
                d.changed.append({"path": path, "old_sha256": x, "new_sha256": y})
    return d


def format_diff(diff: BaseDiff) -> str:
    if diff.empty:
        return f"{diff.old} and {diff.new}: no differences in files, metadata, labels or build.prop"
    lines = []
    for p in diff.partitions:
        if p.empty:
            continue
        lines.append(f"{p.partition}: {len(p.added)} added, {len(p.removed)} removed, {len(p.changed)} changed, "
                     f"{len(p.metadata)} metadata changes, {len(p.props)} build.prop keys")
        lines += [f"  + {path}" for path in p.added]
        lines += [f"  - {path}" for path in p.removed]
        for c in p.changed:
            detail = (f"{c['old_size']} -> {c['new_size']} bytes, sha256 {c['old_sha256'][:12]} -> "
                      f"{c['new_sha256'][:12]}" if "old_size" in c else
                      ", ".join(f"{k} {v}" for k, v in c.items() if k != "path"))
            lines.append(f"  ~ {c['path']}: {detail}")
        lines += [f"  ! {m['path']}: {m['field']} {m['old']} -> {m['new']}" for m in p.metadata]
        lines += [f"  = {q['key']}: {q['old']!r} -> {q['new']!r}" for q in p.props]
    return "\n".join(lines)

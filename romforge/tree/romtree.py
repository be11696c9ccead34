"""RomTree: the entries of every partition with their metadata, plus the other target-files
content (META/, IMAGES/, RADIO/ …)."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path
from typing import BinaryIO, Iterator

from romforge.errors import InputError
from romforge.props import BuildProp
from romforge.selinux import FileContexts
from romforge.tree.meta import Entry, FileMeta, default_meta
from romforge.tree.paths import (AB_PARTITIONS, DIR, DYNAMIC_PARTITIONS_INFO, FILE, FILE_CONTEXTS, MISC_INFO,
                                 PARTITION_OF_DIR, SYMLINK, TF_DIRS, build_prop_path, clean_path,
                                 device_path)
from romforge.tree.stores import Store, OverlayStore, sha256_stream


# ---- the tree ------------------------------------------------------------------------


class RomTree:
    """Entries of every partition plus the other target-files content (META/, IMAGES/, …).

    The entries are the truth about the tree (kind, metadata, symlink targets); stores only
    hold file bytes. A base ROM is read-only; `stage()` gives a writable copy-on-write tree.
    """

    def __init__(self, store: Store, entries: dict[tuple[str, str], Entry], extras: dict[str, str], *,
                 extra_links: dict[str, str] | None = None, name: str = "target-files") -> None:
        self._store = store
        self.entries = entries
        self.extras = extras  # tf_path → kind (file/symlink), for everything outside partition dirs
        self.extra_links = extra_links or {}
        self.name = name
        self._file_contexts: FileContexts | None | bool = False

    # -- opening ---------------------------------------------------------------------------

    @classmethod
    def open(cls, path: Path) -> "RomTree":
        path = Path(path)
        if not path.exists():
            raise InputError("base ROM not found", file=path,
                             hint="make one with `romforge sample-rom PATH` or fix base_rom in romforge.toml")
        from romforge.archive import is_zip
        from romforge.tree.reading import open_dir, open_zip

        if path.is_dir():
            return open_dir(path)
        if is_zip(path, shown=path):  # a FIFO or device is refused here, never waited on
            return open_zip(path)
        raise InputError("not a target-files directory or zip", file=path)

    @property
    def writable(self) -> bool:
        return isinstance(self._store, OverlayStore)

    # -- reading ----------------------------------------------------------------------------

    def partitions(self) -> list[str]:
        return sorted({p for p, _ in self.entries}, key=list(TF_DIRS).index)

    def get(self, partition: str, path: str) -> Entry | None:
        return self.entries.get((partition, path))

    def iter_entries(self, partition: str | None = None, kind: str | None = None) -> Iterator[Entry]:
        for key in sorted(self.entries):
            e = self.entries[key]
            if (partition is None or e.partition == partition) and (kind is None or e.kind == kind):
                yield e

    def _require_file(self, partition: str, path: str) -> Entry:
        e = self.entries.get((partition, path))
        if e is None:
            raise KeyError(f"/{partition}/{path} is not in the tree")
        if e.kind != FILE:
            raise IsADirectoryError(f"/{partition}/{path} is a {e.kind}, not a file")
        return e

    def open_file(self, partition: str, path: str) -> BinaryIO:
        return self._store.open(self._require_file(partition, path).tf_path)

    def read(self, partition: str, path: str) -> bytes:
        with self.open_file(partition, path) as f:
            return f.read()

    def size(self, partition: str, path: str) -> int:
        return self._store.size(self._require_file(partition, path).tf_path)

    def read_extra(self, tf_path: str) -> bytes | None:
        if self.extras.get(tf_path) != FILE:
            return None
        with self._store.open(tf_path) as f:
            return f.read()

    def build_prop(self, partition: str) -> BuildProp | None:
        path = build_prop_path(partition)
        e = self.get(partition, path)
        if e is None or e.kind != FILE:
            return None
        return BuildProp.parse(self.read(partition, path), source=f"{self.name}/{e.tf_path}")

    def open_extra(self, tf_path: str) -> BinaryIO | None:
        """A file outside the partitions (e.g. an image under IMAGES/), streamed."""
        return self._store.open(tf_path) if self.extras.get(tf_path) == FILE else None

    def measure_extra(self, tf_path: str, tail: int = 0) -> tuple[int, bytes] | None:
        """(size, last `tail` bytes) of a file outside the partitions, by reading it: a zip base's
        member streams cannot seek. None when there is no such file."""
        stream = self.open_extra(tf_path)
        if stream is None:
            return None
        size, end = 0, b""
        with stream:
            for chunk in iter(lambda: stream.read(1 << 20), b""):
                size += len(chunk)
                if tail:
                    end = (end + chunk)[-tail:]
        return size, end

    def dynamic_partitions_info(self) -> dict[str, str]:
        return self.misc_info(DYNAMIC_PARTITIONS_INFO)

    def ab_partitions(self) -> list[str]:
        data = self.read_extra(AB_PARTITIONS) or b""
        return [line.strip() for line in data.decode("utf-8", "replace").splitlines() if line.strip()]

    def misc_info(self, tf_path: str = MISC_INFO) -> dict[str, str]:
        data = self.read_extra(tf_path)
        info: dict[str, str] = {}
        for line in (data or b"").decode("utf-8", "replace").splitlines():
            if "=" in line and not line.lstrip().startswith("#"):
                key, _, value = line.partition("=")
                info[key.strip()] = value.strip()
        return info

    @property
    def file_contexts(self) -> FileContexts | None:
        if self._file_contexts is False:
            data = self.read_extra(FILE_CONTEXTS)
            self._file_contexts = (FileContexts.parse(data, source=f"{self.name}/{FILE_CONTEXTS}")
                                   if data is not None else None)
        return self._file_contexts  # type: ignore[return-value]

    def label_for(self, partition: str, path: str, kind: str) -> str | None:
        fc = self.file_contexts
        return fc.lookup(device_path(partition, path), kind) if fc else None

    def content_digest(self) -> str:
        """SHA-256 over every path, kind, metadata and content: the identity of a tree."""
        h = hashlib.sha256()
        for e in self.iter_entries():
            m = e.meta
            h.update(f"{e.tf_path}\0{e.kind}\0{m.uid}\0{m.gid}\0{m.mode:o}\0{m.selabel}\0{m.capabilities}\0"
                     .encode())
            if e.kind == FILE:
                h.update(sha256_stream(self._store.open(e.tf_path)).encode())
            elif e.kind == SYMLINK:
                h.update((e.link_target or "").encode("utf-8", "surrogateescape"))
        for tf_path in sorted(self.extras):
            if tf_path.startswith("META/") and tf_path.endswith("filesystem_config.txt"):
                continue  # already covered by the entries' metadata
            h.update(f"{tf_path}\0{self.extras[tf_path]}\0".encode())
            if self.extras[tf_path] == FILE:
                h.update(sha256_stream(self._store.open(tf_path)).encode())
            else:
                h.update(self.extra_links.get(tf_path, "").encode())
        return h.hexdigest()

    # -- editing (staged trees only) -------------------------------------------------------

    def _overlay(self) -> OverlayStore:
        if not isinstance(self._store, OverlayStore):
            raise PermissionError("this tree is the base ROM; stage it before changing it")
        return self._store

    def _ensure_parents(self, partition: str, path: str) -> None:
        parts = path.split("/")
        if (partition, "") not in self.entries:
            raise KeyError(f"partition {partition} is not in this tree")
        for i in range(1, len(parts)):
            parent = "/".join(parts[:i])
            e = self.entries.get((partition, parent))
            if e is None:
                meta = replace(default_meta(partition, parent, DIR), selabel=self.label_for(partition, parent, DIR))
                self.entries[(partition, parent)] = Entry(partition, parent, DIR, meta)
            elif e.kind != DIR:
                raise NotADirectoryError(f"/{partition}/{parent} is a {e.kind}, cannot hold /{partition}/{path}")

    def _replaceable(self, partition: str, path: str) -> Entry | None:
        old = self.entries.get((partition, path))
        if old is not None and old.kind == DIR:
            raise IsADirectoryError(f"/{partition}/{path} is a directory")
        return old

    def write_file(self, partition: str, path: str, data: bytes, meta: FileMeta | None = None) -> Entry:
        """Write the file's new bytes to the work area; the base is never opened for writing."""
        store = self._overlay()
        path = clean_path(path)
        self._ensure_parents(partition, path)
        old = self._replaceable(partition, path)
        if meta is None:
            meta = old.meta if old is not None and old.kind == FILE else replace(
                default_meta(partition, path, FILE), selabel=self.label_for(partition, path, FILE))
        entry = Entry(partition, path, FILE, meta)
        store.write(entry.tf_path, data)
        self.entries[(partition, path)] = entry
        return entry

    def write_symlink(self, partition: str, path: str, target: str, meta: FileMeta | None = None) -> Entry:
        store = self._overlay()
        path = clean_path(path)
        if not target or "\0" in target:
            raise ValueError(f"symlink /{partition}/{path}: empty or NUL target")
        self._ensure_parents(partition, path)
        self._replaceable(partition, path)
        meta = meta or replace(default_meta(partition, path, SYMLINK),
                               selabel=self.label_for(partition, path, SYMLINK))
        entry = Entry(partition, path, SYMLINK, meta, link_target=target)
        store.forget(entry.tf_path)
        self.entries[(partition, path)] = entry
        return entry

    def remove(self, partition: str, path: str) -> list[Entry]:
        """Remove a file, symlink or whole directory; returns what was removed."""
        store = self._overlay()
        path = clean_path(path)
        e = self.entries.get((partition, path))
        if e is None:
            raise KeyError(f"/{partition}/{path} is not in the tree")
        removed = [e]
        if e.kind == DIR:
            prefix = path + "/"
            removed += [x for (p, rel), x in self.entries.items() if p == partition and rel.startswith(prefix)]
        for x in removed:
            del self.entries[(x.partition, x.path)]
            store.forget(x.tf_path)
        return removed

    def set_meta(self, partition: str, path: str, meta: FileMeta) -> Entry:
        """Change ownership/mode/label/capabilities; the bytes are untouched."""
        self._overlay()
        e = self.entries.get((partition, clean_path(path)))
        if e is None:
            raise KeyError(f"/{partition}/{path} is not in the tree")
        entry = replace(e, meta=meta)
        self.entries[(partition, e.path)] = entry
        return entry

    def write_build_prop(self, partition: str, prop: BuildProp) -> None:
        self.write_file(partition, build_prop_path(partition), prop.to_bytes())

    def write_extra(self, tf_path: str, data: bytes) -> None:
        store = self._overlay()
        if tf_path.split("/", 1)[0] in PARTITION_OF_DIR:
            raise ValueError(f"{tf_path} lies in a partition; use write_file")
        store.write(clean_path(tf_path), data)
        self.extras[tf_path] = FILE
        if tf_path == FILE_CONTEXTS:
            self._file_contexts = False  # labels are looked up in the new rules from now on

    def changed_files(self) -> list[str]:
        """target-files paths whose bytes were written during this build."""
        return sorted(self._overlay().written)

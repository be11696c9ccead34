"""AOSP target-files, as a directory or a zip: entries with their filesystem metadata.

This is the only module that knows target-files paths (SYSTEM/, META/filesystem_config.txt,
where each partition keeps build.prop). Everyone else speaks in (partition, path).
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import stat
import zipfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import BinaryIO, Callable, Iterable, Iterator

from romforge.errors import InputError
from romforge.props import BuildProp
from romforge.selinux import FileContexts

TF_DIRS = {
    "system": "SYSTEM",
    "vendor": "VENDOR",
    "product": "PRODUCT",
    "system_ext": "SYSTEM_EXT",
    "odm": "ODM",
    "vendor_dlkm": "VENDOR_DLKM",
    "odm_dlkm": "ODM_DLKM",
    "system_dlkm": "SYSTEM_DLKM",
}
PARTITION_OF_DIR = {v: k for k, v in TF_DIRS.items()}
_BUILD_PROP = {"system": "build.prop", "vendor": "build.prop"}  # others keep it in etc/
FILE_CONTEXTS = "META/file_contexts"
MISC_INFO = "META/misc_info.txt"
DYNAMIC_PARTITIONS_INFO = "META/dynamic_partitions_info.txt"
AB_PARTITIONS = "META/ab_partitions.txt"
ZIP_DATE = (2009, 1, 1, 0, 0, 0)  # the fixed time AOSP's releasetools stamps on zip entries
_STORED_SUFFIXES = (".apk", ".zip", ".jar", ".png", ".jpg", ".webp", ".ogg", ".mp3", ".gz", ".xz",
                    ".br", ".lz4", ".zst", ".img")
MAX_ENTRIES = 2_000_000
ZIP64_LIMIT = (1 << 31) - 1

FILE, DIR, SYMLINK = "file", "dir", "symlink"


def fs_config_name(partition: str) -> str:
    if partition == "system":
        return "META/filesystem_config.txt"
    return f"META/{partition}_filesystem_config.txt"


def build_prop_path(partition: str) -> str:
    return _BUILD_PROP.get(partition, "etc/build.prop")


def image_name(partition: str) -> str:
    """Where target-files keeps a partition's image."""
    return f"IMAGES/{partition}.img"


def clean_path(path: str, *, what: str = "path") -> str:
    """A relative, normalized in-partition path, or ValueError for anything that could escape."""
    if not isinstance(path, str) or not path:
        raise ValueError(f"{what} is empty")
    if "\0" in path or "\\" in path:
        raise ValueError(f"{what} {path!r} holds a NUL or backslash")
    if path.startswith("/"):
        raise ValueError(f"{what} {path!r} is absolute; give it relative to the partition")
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if not parts:
        raise ValueError(f"{what} {path!r} names the partition root")
    if any(p == ".." for p in parts):
        raise ValueError(f"{what} {path!r} climbs out with '..'")
    return "/".join(parts)


@dataclass(frozen=True)
class FileMeta:
    uid: int
    gid: int
    mode: int  # permission bits only (07777)
    selabel: str | None = None
    capabilities: int = 0


@dataclass(frozen=True)
class Entry:
    partition: str
    path: str  # "" is the partition root
    kind: str
    meta: FileMeta
    link_target: str | None = None

    @property
    def device_path(self) -> str:
        return f"/{self.partition}/{self.path}" if self.path else f"/{self.partition}"

    @property
    def fs_config_path(self) -> str:
        return f"{self.partition}/{self.path}" if self.path else self.partition

    @property
    def tf_path(self) -> str:
        return f"{TF_DIRS[self.partition]}/{self.path}" if self.path else TF_DIRS[self.partition]


def default_meta(partition: str, path: str, kind: str) -> FileMeta:
    """AOSP's fs_config defaults for paths no config names."""
    if kind == DIR:
        return FileMeta(0, 0, 0o755)
    top = path.split("/", 1)[0]
    if top in ("bin", "xbin") or path.startswith("vendor/bin/"):
        return FileMeta(0, 2000, 0o755)
    return FileMeta(0, 0, 0o644)


# ---- fs_config ----------------------------------------------------------------------


def parse_fs_config(text: str, *, source: str) -> dict[str, tuple[FileMeta, int]]:
    """fs_config path → (metadata, line number)."""
    result: dict[str, tuple[FileMeta, int]] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        if len(parts) < 4:
            raise InputError("expected 'PATH UID GID MODE [selabel=…] [capabilities=…]'", file=source, line=number)
        path = parts[0].rstrip("/")
        try:
            uid, gid, mode = int(parts[1]), int(parts[2]), int(parts[3], 8)
        except ValueError:
            raise InputError(f"bad uid/gid/mode in {line[:80]!r}", file=source, line=number) from None
        selabel = None
        caps = 0
        for extra in parts[4:]:
            key, _, value = extra.partition("=")
            if key == "selabel":
                selabel = value or None
            elif key == "capabilities":
                try:
                    caps = int(value, 0)
                except ValueError:
                    raise InputError(f"bad capabilities {value!r}", file=source, line=number) from None
            else:
                raise InputError(f"unknown field {extra!r}", file=source, line=number)
        if mode > 0o7777 or uid < 0 or gid < 0:
            raise InputError(f"mode/uid/gid out of range in {line[:80]!r}", file=source, line=number)
        result[path] = (FileMeta(uid, gid, mode, selabel, caps), number)
    return result


def format_fs_config(entries: Iterable[Entry]) -> str:
    lines = []
    for e in entries:
        m = e.meta
        line = f"{e.fs_config_path} {m.uid} {m.gid} {m.mode:o}"
        if m.selabel:
            line += f" selabel={m.selabel}"
        line += f" capabilities=0x{m.capabilities:x}"
        lines.append(line)
    return "".join(line + "\n" for line in lines)


# ---- stores: where bytes live ----------------------------------------------------------


class _DirStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def local(self, tf_path: str) -> str:
        return os.path.join(self.root, tf_path)

    def open(self, tf_path: str) -> BinaryIO:
        fd = os.open(self.local(tf_path), os.O_RDONLY | os.O_NOFOLLOW)
        return os.fdopen(fd, "rb")

    def size(self, tf_path: str) -> int:
        return os.lstat(self.local(tf_path)).st_size


class _ZipStore:
    def __init__(self, path: Path, zf: zipfile.ZipFile, names: dict[str, zipfile.ZipInfo]) -> None:
        self.path = path
        self.zf = zf
        self.names = names

    def open(self, tf_path: str) -> BinaryIO:
        return self.zf.open(self.names[tf_path])  # type: ignore[return-value]

    def size(self, tf_path: str) -> int:
        return self.names[tf_path].file_size


class _OverlayStore:
    """Copy-on-write: files written during the build live in `upper`; the rest is read from the base."""

    def __init__(self, lower: "_DirStore | _ZipStore", upper: Path) -> None:
        self.lower = lower
        self.upper = _DirStore(upper)
        self.written: set[str] = set()

    def open(self, tf_path: str) -> BinaryIO:
        return (self.upper if tf_path in self.written else self.lower).open(tf_path)

    def size(self, tf_path: str) -> int:
        return (self.upper if tf_path in self.written else self.lower).size(tf_path)

    def write(self, tf_path: str, data: bytes) -> None:
        target = self.upper.local(tf_path)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        _atomic_write(target, data)
        self.written.add(tf_path)

    def forget(self, tf_path: str) -> None:
        if tf_path in self.written:
            os.unlink(self.upper.local(tf_path))
            self.written.discard(tf_path)

    def lower_path(self, tf_path: str) -> str | None:
        """The base file behind an unchanged entry, when the base is a directory."""
        if tf_path in self.written:
            return self.upper.local(tf_path)
        return self.lower.local(tf_path) if isinstance(self.lower, _DirStore) else None


Store = _DirStore | _ZipStore | _OverlayStore


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
        if path.is_dir():
            return _open_dir(path)
        if zipfile.is_zipfile(path):
            return _open_zip(path)
        raise InputError("not a target-files directory or zip", file=path)

    @property
    def writable(self) -> bool:
        return isinstance(self._store, _OverlayStore)

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
        device_path = f"/{partition}/{path}" if path else f"/{partition}"
        return fc.lookup(device_path, kind) if fc else None

    def content_digest(self) -> str:
        """SHA-256 over every path, kind, metadata and content: the identity of a tree."""
        h = hashlib.sha256()
        for e in self.iter_entries():
            m = e.meta
            h.update(f"{e.tf_path}\0{e.kind}\0{m.uid}\0{m.gid}\0{m.mode:o}\0{m.selabel}\0{m.capabilities}\0"
                     .encode())
            if e.kind == FILE:
                h.update(_sha256_stream(self._store.open(e.tf_path)).encode())
            elif e.kind == SYMLINK:
                h.update((e.link_target or "").encode("utf-8", "surrogateescape"))
        for tf_path in sorted(self.extras):
            if tf_path.startswith("META/") and tf_path.endswith("filesystem_config.txt"):
                continue  # already covered by the entries' metadata
            h.update(f"{tf_path}\0{self.extras[tf_path]}\0".encode())
            if self.extras[tf_path] == FILE:
                h.update(_sha256_stream(self._store.open(tf_path)).encode())
            else:
                h.update(self.extra_links.get(tf_path, "").encode())
        return h.hexdigest()

    # -- editing (staged trees only) -------------------------------------------------------

    def _overlay(self) -> _OverlayStore:
        if not isinstance(self._store, _OverlayStore):
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


def _sha256_stream(f: BinaryIO) -> str:
    with f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, read in chunks: the one place romforge hashes artifacts."""
    with open(path, "rb") as f:
        return _sha256_stream(f)


def _atomic_write(target: str, data: bytes) -> None:
    tmp = f"{target}.romforge-tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, target)


# ---- reading a directory ------------------------------------------------------------


def _load_fs_configs(read: Callable[[str], bytes | None], name: str) -> dict[str, dict[str, tuple[FileMeta, int]]]:
    configs = {}
    for partition in TF_DIRS:
        cfg = fs_config_name(partition)
        data = read(cfg)
        if data is not None:
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                raise InputError("not UTF-8 text", file=f"{name}/{cfg}") from None
            configs[partition] = parse_fs_config(text, source=f"{name}/{cfg}")
    return configs


def _meta_for(tree: RomTree, configs: dict, partition: str, path: str, kind: str) -> FileMeta:
    key = f"{partition}/{path}" if path else partition
    found = configs.get(partition, {}).pop(key, None)
    if found is not None:
        meta = found[0]
        if meta.selabel is None:
            meta = replace(meta, selabel=tree.label_for(partition, path, kind))
        return meta
    return replace(default_meta(partition, path, kind), selabel=tree.label_for(partition, path, kind))


def _check_leftovers(configs: dict, name: str) -> None:
    for partition, rest in configs.items():
        if rest:
            path, (_, line) = min(rest.items(), key=lambda kv: kv[1][1])
            raise InputError(f"lists '{path}', which is not in the target-files",
                             file=f"{name}/{fs_config_name(partition)}", line=line)


def _open_dir(root: Path) -> RomTree:
    name = root.name
    store = _DirStore(root)

    def read(tf_path: str) -> bytes | None:
        p = root / tf_path
        return p.read_bytes() if p.is_file() and not p.is_symlink() else None

    tree = RomTree(store, {}, {}, name=name)
    configs = _load_fs_configs(read, name)
    entries: dict[tuple[str, str], Entry] = {}
    with os.scandir(root) as top:
        tops = sorted(top, key=lambda d: d.name)
    for item in tops:
        partition = PARTITION_OF_DIR.get(item.name)
        if partition is None:
            if item.is_dir(follow_symlinks=False):
                for tf_path, kind in _walk(root, item.name):
                    _add_extra(tree, tf_path, kind, lambda p: os.readlink(os.path.join(root, p)))
            else:
                _add_extra(tree, item.name, SYMLINK if item.is_symlink() else FILE,
                           lambda p: os.readlink(os.path.join(root, p)))
            continue
        if not item.is_dir(follow_symlinks=False):
            raise InputError(f"{item.name} must be a directory", file=root / item.name)
        entries[(partition, "")] = Entry(partition, "", DIR, _meta_for(tree, configs, partition, "", DIR))
        prefix = len(item.name) + 1
        for tf_path, kind in _walk(root, item.name):
            rel = tf_path[prefix:]
            link = os.readlink(os.path.join(root, tf_path)) if kind == SYMLINK else None
            entries[(partition, rel)] = Entry(partition, rel, kind,
                                              _meta_for(tree, configs, partition, rel, kind), link)
    _check_leftovers(configs, name)
    tree.entries = entries
    return tree


def _add_extra(tree: RomTree, tf_path: str, kind: str, readlink: Callable[[str], str]) -> None:
    if kind == DIR:
        return
    tree.extras[tf_path] = kind
    if kind == SYMLINK:
        tree.extra_links[tf_path] = readlink(tf_path)


def _walk(root: Path, top: str) -> Iterator[tuple[str, str]]:
    """(tf_path, kind) below root/top without following symlinks."""
    stack = [top]
    while stack:
        current = stack.pop()
        with os.scandir(os.path.join(root, current)) as it:
            items = sorted(it, key=lambda d: d.name)
        for d in items:
            rel = f"{current}/{d.name}"
            if d.is_symlink():
                yield rel, SYMLINK
            elif d.is_dir():
                yield rel, DIR
                stack.append(rel)
            elif d.is_file():
                yield rel, FILE
            else:
                raise InputError("is not a regular file, directory or symlink", file=os.path.join(root, rel))


# ---- reading a zip ------------------------------------------------------------------


def zip_member_kind(info: zipfile.ZipInfo) -> str:
    mode = info.external_attr >> 16
    if info.filename.endswith("/") or stat.S_ISDIR(mode):
        return DIR
    if stat.S_ISLNK(mode):
        return SYMLINK
    return FILE


def check_member_name(name: str, archive: Path | str) -> str:
    """Reject absolute paths, '..', backslashes and NULs in archive member names."""
    try:
        return clean_path(name.rstrip("/"), what="entry")
    except ValueError as exc:
        raise InputError(f"unsafe archive entry: {exc}", file=archive) from None


def _open_zip(path: Path) -> RomTree:
    try:
        zf = zipfile.ZipFile(path)
        infos = zf.infolist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise InputError(f"cannot read zip: {exc}", file=path) from None
    if len(infos) > MAX_ENTRIES:
        raise InputError(f"holds {len(infos)} entries, over the limit of {MAX_ENTRIES}", file=path)
    names: dict[str, zipfile.ZipInfo] = {}
    kinds: dict[str, str] = {}
    for info in infos:
        clean = check_member_name(info.filename, path)
        if clean in names:
            raise InputError(f"entry {clean!r} appears twice", file=path)
        names[clean] = info
        kinds[clean] = zip_member_kind(info)
        parts = clean.split("/")
        for i in range(1, len(parts)):
            kinds.setdefault("/".join(parts[:i]), DIR)
    for name in kinds:  # a file or symlink may not stand where a directory must be: no writing through links
        parent = name.rpartition("/")[0]
        if parent and kinds[parent] != DIR:
            raise InputError(f"unsafe archive entry: {name!r} lies below {parent!r}, which is a "
                             f"{kinds[parent]}, not a directory", file=path)
    tree = RomTree(_ZipStore(path, zf, names), {}, {}, name=path.name)

    def read(tf_path: str) -> bytes | None:
        return zf.read(names[tf_path]) if kinds.get(tf_path) == FILE else None

    def readlink(tf_path: str) -> str:
        return zf.read(names[tf_path]).decode("utf-8", "surrogateescape")

    configs = _load_fs_configs(read, path.name)
    entries: dict[tuple[str, str], Entry] = {}
    for tf_path in sorted(kinds):
        kind = kinds[tf_path]
        top, _, rel = tf_path.partition("/")
        partition = PARTITION_OF_DIR.get(top)
        if partition is None:
            _add_extra(tree, tf_path, kind, readlink)
            continue
        if not rel and kind != DIR:
            raise InputError(f"{top} must be a directory", file=path)
        link = readlink(tf_path) if kind == SYMLINK else None
        entries[(partition, rel)] = Entry(partition, rel, kind, _meta_for(tree, configs, partition, rel, kind), link)
    _check_leftovers(configs, path.name)
    tree.entries = entries
    return tree


# ---- staging ------------------------------------------------------------------------


def stage(base: RomTree, workdir: Path) -> RomTree:
    """A writable copy-on-write tree over `base`.

    Nothing is copied: unchanged files are read from the base, every write goes to a new
    file under `workdir`. The base is only ever opened for reading (O_NOFOLLOW).
    """
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=False)
    if isinstance(base._store, _OverlayStore):
        raise ValueError("stage a base ROM, not an already staged tree")
    staged = RomTree(_OverlayStore(base._store, workdir), dict(base.entries), dict(base.extras),
                     extra_links=dict(base.extra_links), name=base.name)
    staged._file_contexts = base._file_contexts
    return staged


@dataclass(frozen=True)
class MaterializeStats:
    linked: int
    copied: int


def materialize(tree: RomTree, dest: Path, partitions: Iterable[str] | None = None) -> MaterializeStats:
    """A real target-files directory for tools that need one: hardlinks to unchanged base
    files (copies across filesystems or from a zip), symlinks and directories recreated.
    Never change ownership or modes inside it: the inodes are shared with the base."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=False)
    store = tree._store
    wanted = set(partitions) if partitions is not None else None
    linked = copied = 0
    can_link = True
    for e in tree.iter_entries():
        if wanted is not None and e.partition not in wanted:
            continue
        target = os.path.join(dest, e.tf_path)
        if e.kind == DIR:
            os.makedirs(target, exist_ok=True)
            continue
        if e.kind == SYMLINK:
            os.symlink(e.link_target or "", target)
            continue
        source = store.lower_path(e.tf_path) if isinstance(store, _OverlayStore) else (
            store.local(e.tf_path) if isinstance(store, _DirStore) else None)
        if source is not None and can_link:
            try:
                os.link(source, target)
                linked += 1
                continue
            except OSError as exc:
                if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP):
                    raise
                can_link = False  # another filesystem: copy from here on
        with store.open(e.tf_path) as src, open(target, "wb") as out:
            shutil.copyfileobj(src, out, 1 << 20)
        copied += 1
    if wanted is None:
        for tf_path, kind in sorted(tree.extras.items()):
            target = os.path.join(dest, tf_path)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            if kind == SYMLINK:
                os.symlink(tree.extra_links.get(tf_path, ""), target)
            else:
                with store.open(tf_path) as src, open(target, "wb") as out:
                    shutil.copyfileobj(src, out, 1 << 20)
                copied += 1
        configs = {fs_config_name(p): format_fs_config(tree.iter_entries(p)) for p in tree.partitions()}
        for tf_path, text in configs.items():
            Path(dest, tf_path).write_text(text)
    return MaterializeStats(linked, copied)


# ---- writing a zip ------------------------------------------------------------------


def _zipinfo(name: str, kind: str, mode: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
    info.create_system = 3  # Unix, so external_attr carries the mode
    type_bits = {FILE: stat.S_IFREG, DIR: stat.S_IFDIR, SYMLINK: stat.S_IFLNK}[kind]
    info.external_attr = ((type_bits | (mode & 0o7777)) << 16) | (0x10 if kind == DIR else 0)
    if kind == FILE and not name.lower().endswith(_STORED_SUFFIXES):
        info.compress_type = zipfile.ZIP_DEFLATED
    else:
        info.compress_type = zipfile.ZIP_STORED
    return info


def write_target_files(tree: RomTree, dest: Path, *, skip_extras: Callable[[str], bool] | None = None,
                       progress: Callable[[int], None] | None = None,
                       add_files: dict[str, Path] | None = None) -> int:
    """Write a target-files zip: sorted entries, fixed timestamps, fs_config from the entries.

    `add_files` adds files from disk (tf_path → file), e.g. IMAGES/<partition>.img.
    Returns the number of zip entries written."""
    configs = {fs_config_name(p): format_fs_config(tree.iter_entries(p)).encode() for p in tree.partitions()}
    # arcname → (kind, mode, data source: tf_path to read | bytes | link target str | file on disk)
    items: dict[str, tuple[str, int, str | bytes | Path]] = {}
    for e in tree.entries.values():
        if e.kind == DIR:
            items[e.tf_path + "/"] = (DIR, e.meta.mode, b"")
        elif e.kind == SYMLINK:
            items[e.tf_path] = (SYMLINK, 0o777, e.link_target or "")
        else:
            items[e.tf_path] = (FILE, e.meta.mode, e.tf_path)
    for tf_path, kind in tree.extras.items():
        if tf_path in configs or (skip_extras and skip_extras(tf_path)):
            continue
        if kind == SYMLINK:
            items[tf_path] = (SYMLINK, 0o777, tree.extra_links.get(tf_path, ""))
        else:
            items[tf_path] = (FILE, 0o644, tf_path)
    for tf_path, data in configs.items():
        items[tf_path] = (FILE, 0o644, data)
    for tf_path, path in (add_files or {}).items():
        items[tf_path] = (FILE, 0o644, Path(path))
    for arc in list(items):
        parts = arc.rstrip("/").split("/")
        for i in range(1, len(parts)):
            items.setdefault("/".join(parts[:i]) + "/", (DIR, 0o755, b""))
    with zipfile.ZipFile(dest, "w", allowZip64=True) as zf:
        for arc in sorted(items):
            kind, mode, source = items[arc]
            info = _zipinfo(arc, kind, mode)
            if kind == SYMLINK:
                zf.writestr(info, str(source).encode("utf-8", "surrogateescape"))
            elif isinstance(source, bytes):
                zf.writestr(info, source)
            elif isinstance(source, Path):
                with open(source, "rb") as src, zf.open(info, "w", force_zip64=source.stat().st_size >= ZIP64_LIMIT) as out:
                    shutil.copyfileobj(src, out, 1 << 20)
            else:
                big = tree._store.size(source) >= ZIP64_LIMIT
                with tree._store.open(source) as src, zf.open(info, "w", force_zip64=big) as out:
                    shutil.copyfileobj(src, out, 1 << 20)
            if progress:
                progress(1)
    return len(items)

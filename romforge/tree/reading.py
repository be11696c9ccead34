"""Opening target-files: a directory or a zip, with every entry's metadata from fs_config and
file_contexts, refusing layouts that could make a later write escape (zip-slip, links)."""

from __future__ import annotations

import os
import stat
import zipfile
from dataclasses import replace
from pathlib import Path
from typing import Callable, Iterator

from romforge.archive import check_members, read_member
from romforge.archive import open_zip as open_zip_archive
from romforge.errors import InputError
from romforge.tree.meta import Entry, FileMeta, default_meta, parse_fs_config
from romforge.tree.paths import (DIR, FILE, MAX_ENTRIES, PARTITION_OF_DIR, SYMLINK, TF_DIRS, clean_path,
                                 fs_config_name, fs_config_path, path_char_problem)
from romforge.tree.romtree import RomTree
from romforge.tree.stores import DirStore, ZipStore


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
    key = fs_config_path(partition, path)
    found = configs.get(partition, {}).pop(key, None)
    if found is not None:
        meta = found[0]
        if meta.selabel is None:
            meta = replace(meta, selabel=tree.label_for(partition, path, kind))
        return meta
    return replace(default_meta(partition, path, kind), selabel=tree.label_for(partition, path, kind))


def _check_partition_path(path: str, tf_path: str, source: str | Path) -> None:
    """A base ROM's in-partition path must fit the fs_config and file_contexts lines romforge
    writes for it (and reads back from its own releases): no whitespace, no control character."""
    problem = path_char_problem(path)
    if problem:
        raise InputError(f"entry {tf_path!r} {problem}", file=source)


def _check_leftovers(configs: dict, name: str) -> None:
    for partition, rest in configs.items():
        if rest:
            path, (_, line) = min(rest.items(), key=lambda kv: kv[1][1])
            raise InputError(f"lists '{path}', which is not in the target-files",
                             file=f"{name}/{fs_config_name(partition)}", line=line)


def open_dir(root: Path) -> RomTree:
    name = root.name
    store = DirStore(root)

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
            _check_partition_path(rel, tf_path, root)
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

MAX_META_BYTES = 256 << 20  # META/*filesystem_config.txt of a full ROM is a few MiB
PATH_MAX = 4096


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


def open_zip(path: Path) -> RomTree:
    zf, infos = open_zip_archive(path, source=path)
    check_members(infos, source=path)
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
    tree = RomTree(ZipStore(path, zf, names), {}, {}, name=path.name)

    def read(tf_path: str) -> bytes | None:
        if kinds.get(tf_path) != FILE:
            return None
        return read_member(zf, names[tf_path], source=path, max_bytes=MAX_META_BYTES)

    def readlink(tf_path: str) -> str:
        return read_member(zf, names[tf_path], source=path, max_bytes=PATH_MAX).decode("utf-8", "surrogateescape")

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
        _check_partition_path(rel, tf_path, path)
        link = readlink(tf_path) if kind == SYMLINK else None
        entries[(partition, rel)] = Entry(partition, rel, kind, _meta_for(tree, configs, partition, rel, kind), link)
    _check_leftovers(configs, path.name)
    tree.entries = entries
    return tree

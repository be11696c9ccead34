"""Writing a target-files zip: sorted entries, fixed timestamps, fs_config from the entries."""

from __future__ import annotations

import shutil
import stat
import zipfile
from pathlib import Path
from typing import Callable

from romforge.tree.meta import format_fs_config
from romforge.tree.paths import DIR, FILE, SYMLINK, ZIP64_LIMIT, ZIP_DATE, STORED_SUFFIXES, fs_config_name
from romforge.tree.romtree import RomTree


# ---- writing a zip ------------------------------------------------------------------


def _zipinfo(name: str, kind: str, mode: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
    info.create_system = 3  # Unix, so external_attr carries the mode
    type_bits = {FILE: stat.S_IFREG, DIR: stat.S_IFDIR, SYMLINK: stat.S_IFLNK}[kind]
    info.external_attr = ((type_bits | (mode & 0o7777)) << 16) | (0x10 if kind == DIR else 0)
    if kind == FILE and not name.lower().endswith(STORED_SUFFIXES):
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

"""A writable copy-on-write tree over a base ROM, and real directories for tools that need one."""

from __future__ import annotations

import errno
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from romforge.tree.meta import format_fs_config
from romforge.tree.paths import DIR, SYMLINK, fs_config_name
from romforge.tree.romtree import RomTree
from romforge.tree.stores import DirStore, OverlayStore


# ---- staging ------------------------------------------------------------------------


def stage(base: RomTree, workdir: Path) -> RomTree:
    """A writable copy-on-write tree over `base`.

    Nothing is copied: unchanged files are read from the base, every write goes to a new
    file under `workdir`. The base is only ever opened for reading (O_NOFOLLOW).
    """
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=False)
    if isinstance(base._store, OverlayStore):
        raise ValueError("stage a base ROM, not an already staged tree")
    staged = RomTree(OverlayStore(base._store, workdir), dict(base.entries), dict(base.extras),
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
        source = store.lower_path(e.tf_path) if isinstance(store, OverlayStore) else (
            store.local(e.tf_path) if isinstance(store, DirStore) else None)
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

"""Where a boot animation comes from: a bootanimation.zip, or the one a target-files holds."""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

from romforge.archive import MEMBER_ERRORS, open_zip
from romforge.bootscreen.archive import MAX_TOTAL_BYTES, read_bootanimation
from romforge.bootscreen.bootanim import DESC, Inspection
from romforge.errors import InputError, shown_path
from romforge.safeio import open_regular_file, read_bounded
from romforge.tree import RomTree

# Where Android looks, first match wins (BootAnimation.cpp): product before oem before system.
DEVICE_LOCATIONS = (("product", "media/bootanimation.zip"), ("system", "media/bootanimation.zip"))


def load_bootanimation_bytes(path: Path) -> tuple[bytes, str]:
    """The bytes of a bootanimation.zip, given the zip itself or a target-files dir/zip holding one.

    Returns (bytes, a name to show in messages). Anything but a directory or a regular file
    (a FIFO, a device, a symlink to /dev/zero) is refused before it is opened, and a boot
    animation is read only up to its size limit.
    """
    shown = shown_path(path)
    if path.is_dir():
        return _from_tree(RomTree.open(path), shown)
    with open_regular_file(path, shown=shown, follow_symlinks=True) as f:  # the path the user typed
        zf, _ = open_zip(f, source=shown, message="not a zip archive (expected a bootanimation.zip or a "
                         "target-files zip)")
        if DESC in zf.NameToInfo:  # a target-files zip is large: look before reading
            return _whole(f, shown), shown
        try:
            tree = RomTree.open(path)
        except InputError:
            return _whole(f, shown), shown  # not a target-files: check it as a (broken) boot animation
        if not tree.partitions():
            return _whole(f, shown), shown
    return _from_tree(tree, shown)


def _whole(f: BinaryIO, shown: str) -> bytes:
    f.seek(0)
    return read_bounded(f, shown=shown, max_bytes=MAX_TOTAL_BYTES)


def _from_tree(tree: RomTree, shown: str) -> tuple[bytes, str]:
    found = read_from_tree(tree, shown)
    if found is None:
        where = " or ".join(f"/{p}/{q}" for p, q in DEVICE_LOCATIONS)
        raise InputError(f"this target-files holds no boot animation ({where})", file=shown)
    return found[0], found[1]


def find_in_tree(tree: RomTree) -> tuple[str, str] | None:
    """The (partition, path) of the boot animation a device would play from this tree."""
    for partition, rel in DEVICE_LOCATIONS:
        entry = tree.get(partition, rel)
        if entry is not None and entry.kind == "file":
            return partition, rel
    return None


def read_from_tree(tree: RomTree, shown: str) -> tuple[bytes, str, tuple[str, str]] | None:
    """(bytes, name to show, (partition, path)) of the tree's boot animation, size-capped; None without one.

    A member of a target-files zip that cannot be unpacked is an InputError naming it.
    """
    found = find_in_tree(tree)
    if found is None:
        return None
    where = f"{shown}:/{found[0]}/{found[1]}"
    if tree.size(*found) > MAX_TOTAL_BYTES:
        raise InputError(f"is over the {MAX_TOTAL_BYTES >> 20} MiB limit for a boot animation", file=where)
    try:
        with tree.open_file(*found) as f:
            return read_bounded(f, shown=where, max_bytes=MAX_TOTAL_BYTES), where, found
    except MEMBER_ERRORS as exc:
        raise InputError(f"cannot be read: {exc}", file=where) from None


def check_file(path: Path, *, screen: tuple[int, int] | None = None) -> Inspection:
    """`romforge bootanim check`: a bootanimation.zip, or the one inside a target-files."""
    data, shown = load_bootanimation_bytes(Path(path))
    return read_bootanimation(data, source=shown, screen=screen)

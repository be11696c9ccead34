"""Where a boot animation comes from: a bootanimation.zip, or the one a target-files holds."""

from __future__ import annotations

import zipfile
from pathlib import Path

from romforge.bootscreen.archive import MAX_TOTAL_BYTES, read_bootanimation
from romforge.bootscreen.bootanim import DESC, Inspection
from romforge.errors import InputError, shown_path
from romforge.tree import RomTree

# Where Android looks, first match wins (BootAnimation.cpp): product before oem before system.
DEVICE_LOCATIONS = (("product", "media/bootanimation.zip"), ("system", "media/bootanimation.zip"))


def load_bootanimation_bytes(path: Path) -> tuple[bytes, str]:
    """The bytes of a bootanimation.zip, given the zip itself or a target-files dir/zip holding one.

    Returns (bytes, a name to show in messages).
    """
    shown = shown_path(path)
    if not path.exists():
        raise InputError("file not found", file=shown)

    def whole_file() -> tuple[bytes, str]:
        if path.stat().st_size > MAX_TOTAL_BYTES:
            raise InputError(f"is over the {MAX_TOTAL_BYTES >> 20} MiB limit for a boot animation", file=shown)
        return path.read_bytes(), shown

    if path.is_file():
        try:
            with zipfile.ZipFile(path) as zf:  # a target-files zip is large: look before reading
                if DESC in zf.NameToInfo:
                    return whole_file()
        except (zipfile.BadZipFile, OSError):
            raise InputError("not a zip archive (expected a bootanimation.zip or a target-files zip)",
                             file=shown) from None
        try:
            tree = RomTree.open(path)
        except InputError:
            return whole_file()  # not a target-files: check it as a (broken) boot animation
        if not tree.partitions():
            return whole_file()
    else:
        tree = RomTree.open(path)
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
    """(bytes, name to show, (partition, path)) of the tree's boot animation, size-capped; None without one."""
    found = find_in_tree(tree)
    if found is None:
        return None
    where = f"{shown}:/{found[0]}/{found[1]}"
    if tree.size(*found) > MAX_TOTAL_BYTES:
        raise InputError(f"is over the {MAX_TOTAL_BYTES >> 20} MiB limit for a boot animation", file=where)
    return tree.read(*found), where, found



def check_file(path: Path, *, screen: tuple[int, int] | None = None) -> Inspection:
    """`romforge bootanim check`: a bootanimation.zip, or the one inside a target-files."""
    data, shown = load_bootanimation_bytes(Path(path))
    return read_bootanimation(data, source=shown, screen=screen)

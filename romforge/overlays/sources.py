"""What an overlay ships from its own folder: files, res/ folders and diffs, checked on disk.

overlay.toml names them relative to the overlay folder (overlays/schema.py has already
refused '..', absolute paths and NUL); here each must exist inside the folder, with no
symlink anywhere on the way, be the right kind (a regular file or a directory) and stay
under the size limits. The folder's digest covers every path and byte in it.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from romforge.errors import InputError, RomforgeError, shown_path
from romforge.safeio import decode_text, read_limited
from romforge.xmlsafe import parse_xml

MAX_SOURCE_BYTES = 256 << 20
MAX_PATCH_BYTES = 16 << 20
MAX_RES_XML_BYTES = 8 << 20
MAX_OVERLAY_FILES = 20_000


def find_source(root: Path, rel: str, *, directory: bool = False) -> tuple[Path | None, str | None]:
    """`root/rel` when it is a real file (or directory) inside the overlay folder, else why not."""
    current = root
    for part in rel.split("/"):
        current = current / part
        try:
            st = os.lstat(current)
        except FileNotFoundError:
            return None, f"'{rel}' does not exist in {shown_path(root)}"
        except OSError as exc:
            return None, f"'{rel}' cannot be read: {exc.strerror}"
        if stat.S_ISLNK(st.st_mode):
            return None, f"'{rel}' goes through a symlink ({part}); overlays ship real files only"
    wanted = stat.S_ISDIR(st.st_mode) if directory else stat.S_ISREG(st.st_mode)
    if not wanted:
        return None, f"'{rel}' is not a {'directory' if directory else 'regular file'}"
    if not directory and st.st_size > MAX_SOURCE_BYTES:
        return None, f"'{rel}' is {st.st_size} bytes, over the {MAX_SOURCE_BYTES}-byte limit"
    return current, None


def res_dir_problems(res: Path) -> tuple[list[RomforgeError], str | None]:
    """Every XML file in an Android res/ folder parses with the hardened parser; the second
    value says why the folder itself is refused (a symlink in it, too many entries)."""
    problems: list[RomforgeError] = []
    count = 0
    for dirpath, dirnames, filenames in os.walk(res):
        for name in sorted(dirnames + filenames):
            full = Path(dirpath, name)
            count += 1
            if full.is_symlink():
                return problems, f"{shown_path(full)} is a symlink; res/ folders hold real files only"
        for name in sorted(filenames):
            full = Path(dirpath, name)
            if name.endswith(".xml"):
                shown = shown_path(full)
                try:
                    parse_xml(read_limited(full, shown=shown, max_bytes=MAX_RES_XML_BYTES), source=shown)
                except InputError as exc:
                    problems.append(exc)
    if count > MAX_OVERLAY_FILES:
        return problems, f"res/ holds {count} entries, over the limit of {MAX_OVERLAY_FILES}"
    return problems, None


def read_patch(path: Path) -> tuple[str, str]:
    """(text, how to name it) of a diff in the overlay folder; InputError when unreadable."""
    shown = shown_path(path)
    return decode_text(read_limited(path, shown=shown, max_bytes=MAX_PATCH_BYTES), shown=shown), shown

"""Where an output goes: its directory made, or one clear error naming the path.

An output path below a regular file (`-o notes.txt/ota.zip`) makes mkdir raise
NotADirectoryError; every command that writes asks here instead, so the user reads which
path is in the way, not a traceback.
"""

from __future__ import annotations

from pathlib import Path

from romforge.errors import InputError, RomforgeError


def _in_the_way(path: Path) -> Path | None:
    """The nearest existing ancestor of `path` (or `path`) that is not a directory."""
    probe = path
    while True:
        if probe.is_symlink() and not probe.exists():
            return probe  # a dangling link: mkdir cannot go through it
        if probe.exists():
            return None if probe.is_dir() else probe
        if probe.parent == probe:
            return None
        probe = probe.parent


def make_directory(path: Path, *, what: str = "output directory",
                   error: type[RomforgeError] = InputError) -> Path:
    """mkdir -p `path`; a file (or dangling link) in the way, or no permission, is `error`."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        blocker = _in_the_way(path)
        if blocker is not None:
            raise error(f"cannot create the {what}: {blocker} is not a directory", file=path) from None
        raise error(f"cannot create the {what}: {exc.strerror or exc}", file=path) from None
    if not path.is_dir():
        raise error(f"cannot create the {what}: it is not a directory", file=path)
    return path


def make_parent(path: Path, *, what: str = "output") -> Path:
    """The directory `path` will be written in, made; returns `path`."""
    make_directory(Path(path).parent, what=f"directory of the {what}")
    return Path(path)

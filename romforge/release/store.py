"""The release store: releases/<device>/<version>/, written whole or not at all.

A release is assembled in a hidden temporary sibling and renamed into place when
complete; a lock on the device directory keeps two runs from racing; what a killed run
left behind is cleared by the next one. Existing releases are never modified.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from romforge.errors import ReleaseError

_VERSION = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._\-]{0,63}$")
PARTIAL_MARK = ".partial-"


def check_version(version: str) -> None:
    if not _VERSION.match(version) or ".." in version:
        raise ReleaseError(f"version {version!r} is not usable as a release name",
                           hint="use letters, digits, '.', '_' and '-', e.g. 2026.48.1")


def check_store(store: Path) -> None:
    """Fail now, before any work, if the release store cannot be written."""
    probe = store
    while not probe.exists():
        if probe.is_symlink():
            raise ReleaseError("release store path is a dangling symlink", file=probe)
        if probe.parent == probe:
            break
        probe = probe.parent
    if not probe.is_dir():
        raise ReleaseError("release store is not a directory (a file is in the way)", file=probe)
    if not os.access(probe, os.W_OK | os.X_OK):
        raise ReleaseError("release store is not writable", file=probe)


def release_dir(store: Path, device: str, version: str) -> Path:
    return store / device / version


@contextmanager
def device_lock(store: Path, device: str) -> Iterator[Path]:
    """Hold the device's directory in the store: one build (or weekly choice of version plus build)
    of a device at a time, across processes. Directories made for it are removed again when
    nothing was released into them."""
    device_dir = store / device
    created = [d for d in (device_dir, *device_dir.parents) if not d.exists()]  # deepest first
    try:
        device_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ReleaseError(f"cannot create the release directory: {exc.strerror}", file=device_dir) from None
    fd = os.open(device_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield device_dir
    finally:
        os.close(fd)
        for made in created:  # leave no empty directories behind a failed first build
            try:
                made.rmdir()
            except OSError:
                break


@contextmanager
def release_slot(store: Path, device: str, version: str, *, locked: bool = False) -> Iterator[Path]:
    """A temporary directory that becomes store/device/version when the block succeeds.

    `locked`: the caller already holds `device_lock` for this device."""
    if not locked:
        with device_lock(store, device), release_slot(store, device, version, locked=True) as tmp:
            yield tmp
        return
    device_dir = store / device
    for stale in device_dir.glob(f".*{PARTIAL_MARK}*"):
        shutil.rmtree(stale, ignore_errors=True)  # left by a run that was killed
    final = release_dir(store, device, version)
    if final.exists():
        raise ReleaseError("release already exists; releases are never overwritten", file=final,
                           hint="pick a new --version")
    tmp = Path(tempfile.mkdtemp(prefix=f".{version}{PARTIAL_MARK}", dir=device_dir))
    try:
        yield tmp
        os.rename(tmp / "release", final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

"""Results the device builds of one run share: made once, looked up by a key of their inputs.

Devices built from one base ROM need many identical things: the locale packs' and feature
overlays' RRO APKs, and most 2 MiB chunks of their partition images compressed for the full
OTA, which is most of a build's time. Each process remembers what it made; a weekly run
also gives its builds a private directory (`using`), so a build in another worker process
finds it there. A build that finds another one making the same thing right now (its lock is
taken) leaves it for last and goes on with the rest, so two builds side by side split the
shared work instead of doing it twice. An entry is written to a temporary name and renamed,
so a killed build leaves no half entry, and the kernel drops its locks.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Sequence

_memo: dict[str, bytes] = {}
_MEMO_LIMIT = 1 << 20  # values larger than this (image chunks) live only in the run's directory
_active: "RunCache | None" = None


@dataclass(frozen=True)
class RunCache:
    root: Path

    def _entry(self, key: str) -> Path:
        return self.root / key[:2] / key

    def get(self, key: str) -> bytes | None:
        try:
            return self._entry(key).read_bytes()
        except FileNotFoundError:
            return None

    def has(self, key: str) -> bool:
        return self._entry(key).is_file()

    def put(self, key: str, value: bytes) -> None:
        entry = self._entry(key)
        entry.parent.mkdir(parents=True, exist_ok=True)
        tmp = entry.with_name(f".{key}.{os.getpid()}.tmp")
        tmp.write_bytes(value)
        os.replace(tmp, entry)

    def claim(self, key: str, *, wait: bool) -> int | None:
        """A lock on making `key` (a descriptor for `release`); None when another build holds it
        and `wait` is false."""
        entry = self._entry(key)
        entry.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(entry.with_name(key + ".lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        except BaseException:
            os.close(fd)
            raise
        return fd

    @staticmethod
    def release(fd: int) -> None:
        os.close(fd)  # closing drops the flock

    def make(self, key: str, make: Callable[[], bytes], *, wait: bool) -> bytes | None:
        """The value of `key`, from the directory or made here; None when another build is making
        it now and `wait` is false."""
        found = self.get(key)
        if found is not None:
            return found
        lock = self.claim(key, wait=wait)
        if lock is None:
            return None
        try:
            found = self.get(key)  # the build that held the lock may have made it
            if found is None:
                found = make()
                self.put(key, found)
            return found
        finally:
            self.release(lock)


_RUN_PREFIX = "romforge-run-cache-"


@contextmanager
def run_directory() -> Iterator[Path]:
    """A private directory for one run's shared results, in the system's temporary directory.

    It stays locked while the run (or a worker it forked) lives; a directory nobody holds was
    left by a killed run, and the next run removes it."""
    parent = Path(tempfile.gettempdir())
    for stale in parent.glob(_RUN_PREFIX + "*"):
        try:
            if stale.is_symlink() or stale.lstat().st_uid != os.getuid():
                continue
            fd = os.open(stale, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            shutil.rmtree(stale, ignore_errors=True)
        except BlockingIOError:
            pass  # a live run's
        finally:
            os.close(fd)
    root = Path(tempfile.mkdtemp(prefix=_RUN_PREFIX))
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)
        os.close(fd)


def active() -> RunCache | None:
    """The run's shared directory, while a build of a weekly run is going on in this process."""
    return _active


@contextmanager
def using(root: Path | None) -> Iterator[None]:
    """Share results through `root` (None: only within this process) for the duration."""
    global _active
    outer, _active = _active, RunCache(root) if root is not None else None
    try:
        yield
    finally:
        _active = outer


def make_all(items: Sequence[tuple[str, Callable[[], bytes]]], *, threads: int = 1) -> list[bytes]:
    """Every (key, make) item's value, made at most once per run; items another build is
    making right now are taken last. `threads` > 1 makes them side by side (tool runs)."""
    cache = _active
    values: list[bytes | None] = [_memo.get(key) for key, _ in items]
    if cache is not None:  # what this process made before, the run's other builds can have too
        for (key, _), value in zip(items, values):
            if value is not None and not cache.has(key):
                cache.put(key, value)

    def one(i: int, wait: bool) -> bytes | None:
        key, make = items[i]
        return make() if cache is None else cache.make(key, make, wait=wait)

    for wait in (False, True):
        todo = [i for i, v in enumerate(values) if v is None]
        if not todo:
            break
        if threads > 1 and len(todo) > 1:
            with ThreadPoolExecutor(max_workers=min(threads, len(todo))) as pool:
                made = list(pool.map(lambda i: one(i, wait), todo))
        else:
            made = [one(i, wait) for i in todo]
        for i, value in zip(todo, made):
            values[i] = value
            if value is not None and len(value) <= _MEMO_LIMIT:
                _memo[items[i][0]] = value
    return values  # type: ignore[return-value]  # the waiting pass leaves no None

"""Results the device builds of one run share: made once, looked up by a key of their inputs.

Devices built from one base ROM need many identical things: the locale packs' and feature
overlays' RRO APKs, T9 data, ELF facts of the base's libraries, and most 2 MiB chunks of their
partition images compressed for the full OTA, which is most of a build's time. A run's
`RunResults` remembers what its builds made (bounded), and a weekly run adds a private
directory (`RunCache`, `run_directory`), so a build in another worker process finds it there. A build that finds another one making the same thing right now (its lock is
taken) leaves it for last and goes on with the rest, so two builds side by side split the
shared work instead of doing it twice. An entry is written to a temporary name and renamed,
so a killed build leaves no half entry, and the kernel drops its locks.

`ROMFORGE_CACHE_DIR` names a directory kept between runs instead (a CI cache, a test session):
entries are keyed by their inputs and carry the SHA-256 of their bytes, so a damaged entry is
made again, never used. Deleting the directory at any time is safe.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from collections import OrderedDict
import hashlib
from typing import Callable, Iterator, Sequence

from romforge.errors import ConfigError

CACHE_DIR_ENV = "ROMFORGE_CACHE_DIR"
_DIGEST = 32  # an entry is the SHA-256 of its value, then the value


@dataclass(frozen=True)
class RunCache:
    root: Path

    def _entry(self, key: str) -> Path:
        return self.root / key[:2] / key

    def get(self, key: str) -> bytes | None:
        """The value stored for `key`; None when there is none or it is damaged."""
        try:
            stored = self._entry(key).read_bytes()
        except FileNotFoundError:
            return None
        value = stored[_DIGEST:]
        if len(stored) < _DIGEST or hashlib.sha256(value).digest() != stored[:_DIGEST]:
            return None  # a damaged entry is made again (and replaced)
        return value

    def has(self, key: str) -> bool:
        return self._entry(key).is_file()

    def put(self, key: str, value: bytes) -> None:
        entry = self._entry(key)
        entry.parent.mkdir(parents=True, exist_ok=True)
        tmp = entry.with_name(f".{key}.{os.getpid()}.tmp")
        tmp.write_bytes(hashlib.sha256(value).digest() + value)
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
def private_directory(prefix: str) -> Iterator[Path]:
    """A new directory of this user's in the system's temporary directory, removed afterwards.

    It stays locked while its owner (or a process it forked) lives; one named with the same
    prefix that nobody holds was left by a killed run, and is removed here."""
    parent = Path(tempfile.gettempdir())
    for stale in parent.glob(prefix + "*"):
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
    # made under a name the sweep above does not match, locked, then renamed: another run's
    # sweep must never see it unlocked (it removed a directory between mkdtemp and flock)
    unlocked = Path(tempfile.mkdtemp(prefix=f".{prefix}"))
    fd = os.open(unlocked, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    root = parent / unlocked.name[1:]
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.rename(unlocked, root)
        yield root
    finally:
        for made in (root, unlocked):
            shutil.rmtree(made, ignore_errors=True)
        os.close(fd)


def kept_directory() -> Path | None:
    """The directory ROMFORGE_CACHE_DIR names (made when missing); None when it is not set."""
    value = os.environ.get(CACHE_DIR_ENV, "")
    if not value:
        return None
    root = Path(value)
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"{CACHE_DIR_ENV}={value}: cannot use it as the cache directory: "
                          f"{exc.strerror or exc}", hint=f"unset {CACHE_DIR_ENV} or name a directory") from None
    return root


def run_directory() -> "contextlib.AbstractContextManager[Path]":
    """The directory for one run's shared results: ROMFORGE_CACHE_DIR's when it is set, else a
    private one removed after the run (see private_directory)."""
    kept = kept_directory()
    return contextlib.nullcontext(kept) if kept is not None else private_directory(_RUN_PREFIX)


class RunResults:
    """One run's shared results: a bounded memo of what its builds made here, plus the run's
    directory (`shared`) when builds in other processes take part."""

    def __init__(self, shared: RunCache | None = None, *, memo_bytes: int = 64 << 20,
                 entry_bytes: int = 1 << 20) -> None:
        self.shared = shared
        self._memo: OrderedDict[str, bytes] = OrderedDict()
        self._memo_bytes = 0
        self._limit = memo_bytes
        self._entry_limit = entry_bytes  # larger values (image chunks) live only in the directory
        self._lock = threading.Lock()  # builds make RROs on several threads

    def _remember(self, key: str, value: bytes) -> None:
        with self._lock:
            if len(value) > self._entry_limit or key in self._memo:
                return
            self._memo[key] = value
            self._memo_bytes += len(value)
            while self._memo_bytes > self._limit:
                _, dropped = self._memo.popitem(last=False)
                self._memo_bytes -= len(dropped)

    def _recall(self, key: str) -> bytes | None:
        with self._lock:
            value = self._memo.get(key)
            if value is not None:
                self._memo.move_to_end(key)
            return value

    def make_all(self, items: Sequence[tuple[str, Callable[[], bytes]]], *, threads: int = 1) -> list[bytes]:
        """Every (key, make) item's value, made at most once per run; items another build is
        making right now are taken last. `threads` > 1 makes them side by side (tool runs)."""
        cache = self.shared
        values: list[bytes | None] = [self._recall(key) for key, _ in items]
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
                if value is not None:
                    self._remember(items[i][0], value)
        return values  # type: ignore[return-value]  # the waiting pass leaves no None

    def make(self, key: str, make: Callable[[], bytes]) -> bytes:
        [value] = self.make_all([(key, make)])
        return value

"""How many processes a step may use right now: the run's budget of cores.

A standalone build uses every core (ROMFORGE_JOBS caps it). `romforge weekly --jobs N` is a
budget of N cores for the whole run, the way make's jobserver works: each device build holds
one token while it runs (`holding`), and a step with parallel work (payload compression,
partition images, RRO linking) borrows the tokens nobody holds (`borrow`). So `--jobs 1` runs
on one core, two devices side by side under `--jobs 2` compress in their own process, and the
last device of a run gets the cores the finished ones gave back.

The tokens are a semaphore the run creates (`run_budget`): a thread semaphore when every build
runs in this process, a manager's semaphore when builds run in a process pool (its proxy
travels inside each job, so no process keeps budget state of its own).
"""

from __future__ import annotations

import ctypes
import multiprocessing
import multiprocessing.managers
import os
import secrets
import signal
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator


def machine_cores() -> int:
    """What a build outside a weekly run may use: ROMFORGE_JOBS, else every core."""
    configured = os.environ.get("ROMFORGE_JOBS", "").strip()
    if configured.isascii() and configured.isdigit() and 0 < int(configured) <= 4096:
        return int(configured)
    return os.cpu_count() or 1


@dataclass(frozen=True)
class Cores:
    """A run's cores: at most `limit` at once; `tokens` (when shared with other builds) says
    which of them are free right now."""

    limit: int
    tokens: Any = None  # a semaphore of `limit` tokens, or None: nobody else shares the cores

    @contextmanager
    def holding(self) -> Iterator[None]:
        """One device build: hold a token for as long as it runs."""
        if self.tokens is None:
            yield
            return
        self.tokens.acquire()
        try:
            yield
        finally:
            self.tokens.release()

    @contextmanager
    def borrow(self, want: int) -> Iterator[int]:
        """How many processes the caller may run now, itself included; never less than one.

        With shared tokens, the extra ones are tokens taken without waiting and given back on
        exit; a daemonic process (a dask worker) may not start children at all."""
        if want <= 1 or multiprocessing.current_process().daemon:
            yield 1
            return
        if self.tokens is None:
            yield min(want, self.limit)
            return
        taken = 0
        try:
            while taken < min(want, self.limit) - 1 and self.tokens.acquire(False):
                taken += 1
            yield 1 + taken
        finally:
            for _ in range(taken):
                self.tokens.release()


def standalone() -> Cores:
    """Every core of the machine (or ROMFORGE_JOBS), shared with nobody."""
    return Cores(machine_cores())


def one_core() -> Cores:
    return Cores(1)


_PR_SET_PDEATHSIG = 1  # linux/prctl.h


def die_with_parent() -> None:
    """Initializer of a run's helper processes (pool workers, the core-budget manager): each gets
    SIGTERM when the weekly process dies, even by SIGKILL, so no build goes on (and holds the
    run's locks) and no manager lingers after its run is gone."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):  # not Linux: the worker checks its parent instead
        pass
    signal.signal(signal.SIGTERM, lambda signum, frame: os._exit(128 + signum))
    if os.getppid() == 1:  # the parent died before prctl took effect
        os._exit(128 + signal.SIGTERM)


@contextmanager
def run_budget(cores: int, *, processes: bool) -> Iterator[Cores]:
    """A budget of `cores` tokens for one run; `processes` when its builds run in a pool."""
    if not processes:
        yield Cores(cores, threading.BoundedSemaphore(cores))
        return
    # an abstract socket: no file, and no path-length limit from wherever the temporary directory is
    address = f"\0romforge-cores-{os.getpid()}-{secrets.token_hex(8)}"
    manager = multiprocessing.managers.SyncManager(address=address)
    manager.start(initializer=die_with_parent)  # a kill -9 of the run must not leave the server behind
    try:
        yield Cores(cores, manager.BoundedSemaphore(cores))
    finally:
        manager.shutdown()

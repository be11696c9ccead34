"""How many processes a step may use right now.

A standalone build uses every core (ROMFORGE_JOBS caps it). `romforge weekly --jobs N` is a
budget of N cores for the whole run, the way make's jobserver works: each device build holds
one token while it runs, and a step with parallel work (payload compression, partition
images, RRO linking) borrows the tokens nobody holds. So `--jobs 1` runs on one core, two devices side by side under
`--jobs 2` compress in their own process, and the last device of a run gets the cores the
finished ones gave back."""

from __future__ import annotations

import multiprocessing
import os
from contextlib import contextmanager
from typing import Any, Iterator

_budget: Any = None  # the run's token semaphore, once this process takes part in a weekly run


def machine_cores() -> int:
    """What a build outside a weekly run may use: ROMFORGE_JOBS, else every core."""
    configured = os.environ.get("ROMFORGE_JOBS", "").strip()
    return int(configured) if configured.isdigit() and int(configured) > 0 else os.cpu_count() or 1


def new_budget(cores: int) -> Any:
    """N tokens, shared with worker processes through the pool's initializer (`join`)."""
    return multiprocessing.get_context().Semaphore(cores)


def join(budget: Any) -> None:
    """Pool initializer: this process takes its cores from the run's budget from now on."""
    global _budget
    _budget = budget


@contextmanager
def budget_of(cores: int) -> Iterator[Any]:
    """A run's budget for builds in this very process (`--jobs 1`, or a single device)."""
    global _budget
    outer, _budget = _budget, new_budget(cores)
    try:
        yield _budget
    finally:
        _budget = outer


@contextmanager
def running() -> Iterator[None]:
    """One device build: hold a token for as long as it runs (nothing outside a run)."""
    budget = _budget
    if budget is None:
        yield
        return
    budget.acquire()
    try:
        yield
    finally:
        budget.release()


@contextmanager
def borrow(want: int) -> Iterator[int]:
    """How many processes the caller may run now, itself included; never less than one.

    Inside a run, the extra ones are tokens taken without waiting and given back on exit;
    a daemonic process (a dask worker) may not start children at all."""
    if want <= 1 or multiprocessing.current_process().daemon:
        yield 1
        return
    if _budget is None:
        yield min(want, machine_cores())
        return
    taken = 0
    try:
        while taken < want - 1 and _budget.acquire(False):
            taken += 1
        yield 1 + taken
    finally:
        for _ in range(taken):
            _budget.release()

"""Progress reporting the library can call without knowing who is watching.

The CLI picks a rich bar for a terminal, plain lines for CI logs (CI=true or no TTY),
or nothing for --json.
"""

from __future__ import annotations

import sys
import time
from typing import Protocol, TextIO


class Progress(Protocol):
    def step(self, name: str, total: int | None = None) -> None: ...

    def advance(self, n: int = 1) -> None: ...

    def note(self, message: str) -> None: ...

    def close(self) -> None: ...


class NullProgress:
    def step(self, name: str, total: int | None = None) -> None:
        pass

    def advance(self, n: int = 1) -> None:
        pass

    def note(self, message: str) -> None:
        pass

    def close(self) -> None:
        pass


class LineProgress:
    """One line when each step starts, with the time since the first: what a CI log reader wants."""

    def __init__(self, prefix: str = "", stream: TextIO | None = None) -> None:
        self.prefix = f"[{prefix}] " if prefix else ""
        self.stream = stream or sys.stderr
        self._started: float | None = None

    def step(self, name: str, total: int | None = None) -> None:
        now = time.monotonic()
        if self._started is None:
            self._started = now
        print(f"{self.prefix}+{now - self._started:.1f}s {name}", file=self.stream, flush=True)

    def advance(self, n: int = 1) -> None:
        pass

    def note(self, message: str) -> None:
        print(f"{self.prefix}{message}", file=self.stream, flush=True)

    def close(self) -> None:
        pass


class RichProgress:
    """A live bar per step on a terminal."""

    def __init__(self, prefix: str = "") -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress as Bar, TextColumn, TimeElapsedColumn

        self.console = Console(stderr=True)
        self.prefix = f"[{prefix}] " if prefix else ""
        self.bar = Bar(TextColumn("{task.description}", markup=False), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                       console=self.console, transient=False)
        self.bar.start()
        self.task: int | None = None  # rich's TaskID
        self.total = 1

    def _complete(self) -> None:
        if self.task is not None:
            self.bar.update(self.task, completed=self.total)

    def step(self, name: str, total: int | None = None) -> None:
        self._complete()
        self.total = total or 1
        self.task = self.bar.add_task(f"{self.prefix}{name}", total=self.total)

    def advance(self, n: int = 1) -> None:
        if self.task is not None:
            self.bar.advance(self.task, n)

    def note(self, message: str) -> None:
        self.console.print(f"{self.prefix}{message}", markup=False, highlight=False)

    def close(self) -> None:
        self._complete()
        self.bar.stop()

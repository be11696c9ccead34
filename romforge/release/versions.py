"""Weekly versions: `YEAR.WEEK.RESPIN` (ISO year and week, respin from 1).

`2026.48.1` is the first build of ISO week 48 of 2026, `2026.48.2` a respin of it after its
inputs changed. They come from `--week` or `--date`, never from the clock; the build date of a
week is its Friday. Versions only move forward per device.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

from romforge.build.record import BUILD_INFO
from romforge.errors import ConfigError
from romforge.release.store import PARTIAL_MARK

_VERSION = re.compile(r"^(\d{4})\.(\d{1,2})\.(\d{1,3})$", re.ASCII)
_WEEK = re.compile(r"^(\d{4})-W(\d{2})$", re.ASCII)


@dataclass(frozen=True, order=True)
class Version:
    year: int
    week: int
    respin: int

    @classmethod
    def parse(cls, text: str) -> "Version | None":
        m = _VERSION.match(text)
        return cls(int(m.group(1)), int(m.group(2)), int(m.group(3))) if m else None

    def __str__(self) -> str:
        return f"{self.year}.{self.week}.{self.respin}"

    @property
    def week_label(self) -> str:
        return f"{self.year}-W{self.week:02d}"


def resolve_week(week: str | None, date: str | None) -> tuple[int, int]:
    """(ISO year, ISO week) from `--week 2026-W48` or `--date 2026-11-27`."""
    if week:
        m = _WEEK.match(week)
        if not m:
            raise ConfigError(f"--week {week!r} is not an ISO week like 2026-W48")
        year, number = int(m.group(1)), int(m.group(2))
        try:
            dt.date.fromisocalendar(year, number, 1)
        except ValueError:
            raise ConfigError(f"--week {week!r}: {year} has no ISO week {number}") from None
        return year, number
    if date:
        try:
            day = dt.date.fromisoformat(date)
        except ValueError:
            raise ConfigError(f"--date {date!r} is not a date (YYYY-MM-DD)") from None
        iso = day.isocalendar()
        return iso.year, iso.week
    raise ConfigError("which week? pass --week 2026-W48 or --date YYYY-MM-DD (romforge never reads the clock "
                      "into a release)")


def week_release_date(year: int, week: int) -> str:
    """A week's releases are dated its Friday."""
    return dt.date.fromisocalendar(year, week, 5).isoformat()


RESPIN_STEP = 60  # seconds between a week's respins: 999 of them stay within the weekend


def release_utc(version: Version, release_minutes: int = 0) -> int:
    """ro.build.date.utc of a weekly release: its week's Friday at the configured time, one
    minute later per respin. Derived from the version alone, so every respin is dated after
    the build it replaces (the Updater offers only builds newer than the running one) and the
    same inputs still give the same bytes."""
    friday = dt.datetime.combine(dt.date.fromisocalendar(version.year, version.week, 5), dt.time(),
                                 tzinfo=dt.timezone.utc)
    return int(friday.timestamp()) + release_minutes * 60 + (version.respin - 1) * RESPIN_STEP


def utc_text(utc: int) -> str:
    """A build date as romforge passes it to a build (ISO 8601, UTC)."""
    return dt.datetime.fromtimestamp(utc, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def releases_of(store: Path, device: str) -> list[tuple[Version, Path]]:
    """Finished releases of a device, oldest first (partial and foreign directories ignored)."""
    found = []
    device_dir = store / device
    if not device_dir.is_dir():
        return []
    for child in device_dir.iterdir():
        version = Version.parse(child.name)
        if version and child.is_dir() and PARTIAL_MARK not in child.name and (child / BUILD_INFO).is_file():
            found.append((version, child))
    return sorted(found)

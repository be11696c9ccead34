"""Releases only move forward, the way a phone's Updater judges them.

The app lists an entry only when its `datetime` is later than the running build's
ro.build.date.utc and its `version` does not sort (as text) below the running branch version.
A release that broke either would never be offered to phones on the builds before it, so it
is refused before anything is built, naming the romforge.toml line that decides it.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from romforge.build.record import read_build_info
from romforge.errors import ConfigError
from romforge.release.record import read_release
from romforge.release.versions import Version
from romforge.workspace import Workspace


def _when(utc: int) -> str:
    return dt.datetime.fromtimestamp(utc, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _numbers(branch: str) -> tuple[int, ...]:
    return tuple(int(part) for part in branch.split("."))


def _text_below(a: str, b: str) -> bool:
    """a sorts below b the way java.lang.String.compareTo orders them."""
    return a.encode("utf-16-be", "surrogatepass") < b.encode("utf-16-be", "surrogatepass")


def _earlier_date(release: Path) -> tuple[int | None, str | None]:
    """(ro.build.date.utc, branch version) an earlier release was built with."""
    record = read_release(release)
    if record is not None:
        return record.datetime, record.updater.branch_version if record.updater else None
    info = read_build_info(release)
    if info is None:
        return None, None
    when = dt.datetime.fromisoformat(info.build_date.replace("Z", "+00:00"))
    return int(when.timestamp()), None


def check_moves_forward(ws: Workspace, version: Version, build_utc: int,
                        earlier: list[tuple[Version, Path]]) -> None:
    """ConfigError (romforge.toml and its line) when `version`, dated `build_utc` and stamped with
    [updater] branch_version, would not be offered to phones on every earlier release."""
    u = ws.updater
    for old_version, release in reversed(earlier):  # the newest first: the one a message should name
        old_utc, old_branch = _earlier_date(release)
        if old_utc is not None and build_utc <= old_utc:
            raise ConfigError(
                f"{version} would be dated {_when(build_utc)}, not after {old_version} ({_when(old_utc)}): "
                f"phones on {old_version} would never be offered it",
                file=ws.config_file, line=u.line("release_time"),
                hint="a week's respins follow its release_time; set it back, or release it next week")
        if old_branch is None or old_branch == u.branch_version:
            continue
        if _text_below(u.branch_version, old_branch) or _numbers(u.branch_version) < _numbers(old_branch):
            raise ConfigError(
                f"branch_version {u.branch_version} comes before {old_branch} of {old_version} (the Updater "
                f"compares them as text): phones on {old_version} would hide every new build",
                file=ws.config_file, line=u.line("branch_version"),
                hint="branch versions only move forward; keep the digits per part the same (e.g. 09.0 → 10.0)")

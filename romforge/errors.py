"""Errors that know their exit code and where in the user's input they come from.

Exit codes (design.md): 0 ok, 1 user error, 2 usage error (click), 3 a check failed, 70 a bug
(EX_SOFTWARE) the weekly train caught in one device's build. Every exit code comes from a class
here. Anything else escaping the CLI is a bug and keeps its traceback.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

EXIT_USER_ERROR = 1
EXIT_USAGE = 2
EXIT_CHECK_FAILED = 3
EXIT_INTERNAL = 70


def shown_path(path: str | Path) -> str:
    """A path as the user would type it: relative to the current directory when inside it.

    Symlinks are not resolved: a message about `base.zip -> /srv/roms/x.zip` names base.zip,
    the path the user gave (os.path.abspath only joins and normalizes)."""
    try:
        absolute = Path(os.path.abspath(path))
        return str(absolute.relative_to(os.getcwd()))
    except (ValueError, OSError):
        return str(path)


def _location(file: str | Path | None, line: int | None, column: int | None) -> str:
    if file is None:
        return ""
    where = str(file)
    if line is not None:
        where += f":{line}"
        if column is not None:
            where += f":{column}"
    return where


class RomforgeError(Exception):
    """A problem with the user's input or environment, reported as one line."""

    exit_code = EXIT_USER_ERROR

    def __init__(
        self,
        message: str,
        *,
        file: str | Path | None = None,
        line: int | None = None,
        column: int | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.file = (shown_path(file) if isinstance(file, Path) else file) if file is not None else None
        self.line = line
        self.column = column
        self.hint = hint

    @property
    def location(self) -> str:
        return _location(self.file, self.line, self.column)

    def format(self) -> str:
        where = self.location
        text = f"{where}: {self.message}" if where else self.message
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text

    def __str__(self) -> str:
        return self.format()


class ConfigError(RomforgeError):
    """A TOML input (profile, romforge.toml, overlay.toml, pack.toml) is wrong."""


class ProfileError(ConfigError):
    """A device profile cannot be loaded or resolved."""


class InputError(RomforgeError):
    """An input file (base ROM, archive, CSV, XML) is malformed or unsafe."""


class ToolMissingError(RomforgeError):
    """An external program romforge runs is not installed."""

    def __init__(self, tool: str, package: str) -> None:
        super().__init__(
            f"'{tool}' was not found on PATH",
            hint=f"it comes with the Debian package '{package}': run `make setup` "
            f"or `apt-get install {package}`",
        )
        self.tool = tool
        self.package = package


class ToolFailedError(RomforgeError):
    """An external program ran and failed on our input."""


class ReleaseError(RomforgeError):
    """The release store cannot take this release, or a record in it is damaged."""


class InternalError(RomforgeError):
    """A bug in romforge, caught where one failure must not stop the rest (one device of a weekly
    run); the message carries the traceback."""

    exit_code = EXIT_INTERNAL


@dataclass(frozen=True)
class Finding:
    """One problem a check found, anchored in a file a person can open."""

    file: str
    line: int | None
    rule: str
    severity: str  # "error" | "warning"
    message: str
    column: int | None = None

    def format(self) -> str:
        where = _location(self.file, self.line, self.column)
        return f"{where}: {self.severity}: {self.message} [{self.rule}]"


class CheckFailed(RomforgeError):
    """Validation ran and found errors; the findings were (or will be) printed."""

    exit_code = EXIT_CHECK_FAILED

    def __init__(self, message: str, findings: list[Finding] | tuple[Finding, ...] = ()) -> None:
        super().__init__(message)
        self.findings = list(findings)

    def format(self) -> str:
        lines = [f.format() for f in self.findings]
        lines.append(self.message)
        return "\n".join(lines)


class InputProblems(ConfigError):
    """Several independent problems with the user's input, found in one pass and reported together."""

    def __init__(self, message: str, problems: list[RomforgeError] | tuple[RomforgeError, ...]) -> None:
        super().__init__(message)
        self.problems = list(problems)

    def format(self) -> str:
        lines = [self.message]
        for problem in self.problems:
            lines.extend("  " + text for text in problem.format().splitlines())
        return "\n".join(lines)

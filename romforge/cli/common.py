"""What every command module shares: error → exit code, progress for a terminal or a CI log, JSON output."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import click

from romforge.errors import RomforgeError, shown_path as shown
from romforge.run.progress import LineProgress, NullProgress, Progress, RichProgress


class RomforgeGroup(click.Group):
    """Turns RomforgeError into one line on stderr and its exit code (traceback only with --debug)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except RomforgeError as exc:
            if ctx.params.get("debug") or os.environ.get("ROMFORGE_DEBUG"):
                raise
            click.echo(f"romforge: error: {exc.format()}", err=True)
            ctx.exit(exc.exit_code)


def progress_for(as_json: bool, prefix: str = "") -> Progress:
    if as_json:
        return NullProgress()
    if os.environ.get("CI") or not sys.stderr.isatty():
        return LineProgress(prefix)
    return RichProgress(prefix)


def echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, sort_keys=False))


workspace_option = click.option(
    "--workspace", "-w", "workspace", type=click.Path(path_type=Path), default=None, envvar="ROMFORGE_WORKSPACE",
    help="Workspace directory holding romforge.toml (default: current directory).")
json_option = click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")


__all__ = ["RomforgeGroup", "echo_json", "json_option", "progress_for", "shown", "workspace_option"]

"""`romforge profile` commands: parse, call one library function, print."""

from __future__ import annotations

import json
from pathlib import Path

import click

from romforge.cli.common import echo_json, json_option, shown, workspace_option


@click.group()
def profile() -> None:
    """Device profiles (TOML with `inherits`)."""


@profile.command("list")
@workspace_option
@json_option
def profile_list(workspace: Path | None, as_json: bool) -> None:
    """List device profiles; abstract ones are the shared bases devices inherit."""
    from romforge.profile import list_profiles
    from romforge.workspace import load_workspace

    ws = load_workspace(workspace, required=False)
    summaries = list_profiles(ws.profile_dirs)
    if as_json:
        echo_json([{"name": s.name, "abstract": s.abstract, "model": s.model, "inherits": s.inherits,
                     "file": shown(s.path)} for s in summaries])
        return
    for s in summaries:
        kind = "abstract" if s.abstract else "device"
        parent = f" ← {s.inherits}" if s.inherits else ""
        click.echo(f"{s.name:<16} {kind:<8} {s.model or '':<20}{parent}")


@profile.command("show")
@click.argument("device")
@workspace_option
@json_option
def profile_show(device: str, workspace: Path | None, as_json: bool) -> None:
    """Show DEVICE's profile after `inherits` is resolved."""
    from romforge.profile import load_profile
    from romforge.workspace import load_workspace

    ws = load_workspace(workspace, required=False)
    resolved = load_profile(device, ws.profile_dirs)
    data = resolved.to_dict()
    if as_json:
        echo_json(data)
        return
    click.echo(f"{resolved.profile}: {resolved.brand} {resolved.model} ({' ← '.join(resolved.chain)})")
    for key, value in data.items():
        if key in ("profile", "inherits"):
            continue
        rows = [(f"{key}.{sub}", v) for sub, v in value.items()] if isinstance(value, dict) else [(key, value)]
        for name, value_shown in rows:
            origin = resolved.origin.get(name, "(default)")
            click.echo(f"  {name:<22} {json.dumps(value_shown, ensure_ascii=False):<40} {origin}")

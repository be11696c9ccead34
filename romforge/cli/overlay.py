"""`romforge overlay` commands: parse, call one library function, print."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from romforge.cli.common import echo_json, json_option, shown, workspace_option


@click.group()
def overlay() -> None:
    """Feature overlays: overlays/<name>/overlay.toml in the workspace."""


@overlay.command("list")
@click.option("--device", "-d", default=None, help="Show the resolved order for this device.")
@workspace_option
@json_option
def overlay_list(device: str | None, workspace: Path | None, as_json: bool) -> None:
    """List the workspace's overlays, or DEVICE's in the order a build applies them."""
    from romforge.overlays.report import list_overlays
    from romforge.workspace import load_workspace

    data = list_overlays(load_workspace(workspace), device)
    if as_json:
        echo_json(data)
        return
    if device:
        click.echo(f"{data['device']}: {len(data['overlays'])} overlay(s), in the order they are applied")
    for number, item in enumerate(data["overlays"], start=1):
        prefix = f"{number}. " if device else ""
        click.echo(f"{prefix}{item['name']} {item['version']}: {item['description']}")
        for key in ("requires", "after", "conflicts", "devices"):
            if item[key]:
                click.echo(f"    {key}: {', '.join(item[key])}")
        for touched in item["touches"]:
            click.echo(f"    touches {touched}")
    for skipped in data["skipped"]:
        click.echo(f"skipped {skipped['name']}: {skipped['why']}")


@overlay.command("check")
@click.argument("names", nargs=-1)
@click.option("--all", "check_all", is_flag=True, help="Check every overlay in the workspace.")
@workspace_option
@json_option
def overlay_check(names: tuple[str, ...], check_all: bool, workspace: Path | None, as_json: bool) -> None:
    """Validate overlays without building: exit 3 with every problem listed."""
    from romforge.errors import CheckFailed
    from romforge.overlays.report import check_overlays
    from romforge.workspace import load_workspace

    if bool(names) == check_all:
        raise click.UsageError("give overlay NAME(s) or --all")
    try:
        checked = check_overlays(load_workspace(workspace), list(names) or None)
    except CheckFailed as exc:
        if not as_json:
            raise
        echo_json({"ok": False, "findings": [f.__dict__ for f in exc.findings]})
        sys.exit(exc.exit_code)
    if as_json:
        echo_json({"ok": True, "checked": checked})
    else:
        click.echo(f"{len(checked)} overlay(s) ok: {', '.join(checked) or '(none)'}")


@overlay.command("import")
@click.argument("src", type=click.Path(path_type=Path))
@click.option("--out", "-o", "out", type=click.Path(path_type=Path), required=True,
              help="The new overlay folder, e.g. overlays/sm8250 (one per target package: NAME-<target>).")
@click.option("--target", default=None, help="Target package, when the folder layout does not tell.")
@click.option("--partition", type=click.Choice(["product", "vendor", "system_ext", "odm", "system"]),
              default="vendor", show_default=True, help="Where the RROs are installed.")
@json_option
def overlay_import(src: Path, out: Path, target: str | None, partition: str, as_json: bool) -> None:
    """Turn a device tree's overlay/ or rro_overlays/ folder (or one RRO folder) into romforge overlays."""
    from romforge.overlays.importer import import_overlays

    imported = import_overlays(src, out, target=target, partition=partition)
    if as_json:
        echo_json([{"name": i.name, "path": shown(i.path), "target": i.target, "sources": list(i.sources)}
                    for i in imported])
        return
    for item in imported:
        click.echo(f"{shown(item.path)}: {item.target} ← {', '.join(item.sources)}")

"""`romforge updater` commands: parse, call one library function, print."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from romforge.cli.common import echo_json, json_option, workspace_option


@click.group()
def updater() -> None:
    """What phones' Updater app (LineageOS's, or a fork of it) is offered by the published site."""


def _when(utc: int) -> str:
    return dt.datetime.fromtimestamp(utc, dt.timezone.utc).strftime("%Y-%m-%d %H:%M")


@updater.command("simulate")
@click.argument("device")
@click.option("--from", "version", required=True, help="The release the phone runs, e.g. 2026.48.1.")
@workspace_option
@json_option
def simulate(device: str, version: str, workspace: Path | None, as_json: bool) -> None:
    """Check for updates the way a phone on DEVICE VERSION does: the URL it fetches, each entry
    listed or hidden, installable or not, and why. Exits 3 when the publish fails the phone."""
    from romforge.errors import CheckFailed
    from romforge.release.publish import human_size
    from romforge.updater.simulate import simulate as run
    from romforge.workspace import load_workspace

    sim = run(load_workspace(workspace), device, version)
    if as_json:
        echo_json(sim.to_json())
    else:
        props = ", ".join(f"{k}={v}" for k, v in sim.properties.items() if v)
        click.echo(f"phone: {device} on {version} ({props})")
        click.echo(f"fetches: {sim.url}" + (f"\n  = {sim.response}" if sim.response else ""))
        for o in sim.offers:
            what = f"incremental from {o.source_build}" if o.kind == "incremental" and o.source_build else o.kind
            state = ("installable" if o.installable else "listed, not installable") if o.listed else "hidden"
            click.echo(f"  {state:<24}{o.build or o.filename:<14}{what:<28}{human_size(o.size):>10}  "
                       f"{o.version} {o.romtype} {_when(o.datetime)}")
            if o.why:
                click.echo(f"    {o.why}")
        if not sim.offers and not sim.findings:
            click.echo("  nothing offered: this is the newest build")
        for note in sim.notes:
            click.echo(f"note: {note}")
    if sim.findings:
        raise CheckFailed(f"phones on {device} {version} are not served right", sim.findings)

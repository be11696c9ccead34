"""`romforge weekly` commands: parse, call one library function, print."""

from __future__ import annotations

import os
from pathlib import Path

import click

from romforge.cli.common import echo_json, json_option, shown, workspace_option


def _mib(size: int | None) -> str:
    from romforge.release.publish import human_size

    return human_size(size) if size is not None else "-"


@click.command()
@click.option("--devices", default="all", show_default=True, help="'all' or a comma-separated list.")
@click.option("--week", default=None, help="ISO week to release, e.g. 2026-W48.")
@click.option("--date", default=None, help="A date in the week to release (YYYY-MM-DD), instead of --week.")
@click.option("--keep-deltas", type=click.IntRange(min=0, max=52), default=2, show_default=True,
              help="Incremental OTAs from this many earlier releases of each device.")
@click.option("--jobs", "-j", type=click.IntRange(min=1, max=64), default=None,
              help="Cores the run may use [default: all]: that many devices are built side by side, and "
                   "a build compresses on the cores idle workers leave. --jobs 1 is one core.")
@click.option("--parallel-devices", type=click.IntRange(min=1, max=64), default=None,
              help="Devices built at once [default: --jobs]. Fewer needs less memory and scratch disk; "
                   "each build then borrows the cores the others leave.")
@click.option("--executor", default="local", show_default=True, help="'local' or dask://HOST:PORT.")
@workspace_option
@json_option
def weekly(devices: str, week: str | None, date: str | None, keep_deltas: int, jobs: int | None,
           parallel_devices: int | None, executor: str, workspace: Path | None, as_json: bool) -> None:
    """Release every device for one ISO week: builds, OTAs, notes, updater index, site."""
    from romforge.release.weekly import run_weekly
    from romforge.workspace import load_workspace

    ws = load_workspace(workspace)
    jobs = jobs or os.cpu_count() or 1
    quiet = as_json

    def done(o) -> None:
        if quiet:
            return
        what = {"built": f"built {o.version}", "reused": f"{o.version} already released (same inputs)",
                "failed": "FAILED"}[o.status]
        click.echo(f"[{o.device}] {what} in {o.seconds:.1f}s", err=True)
        if o.overlays:
            click.echo(f"[{o.device}]   overlays: {', '.join(o.overlays)}", err=True)
        if o.error:
            click.echo("\n".join(f"[{o.device}]   {line}" for line in o.error.splitlines()), err=True)

    if not quiet:
        click.echo(f"weekly: {devices} devices, {jobs} job(s), executor {executor}", err=True)
    result = run_weekly(ws, devices=devices, week=week, date=date, keep_deltas=keep_deltas, jobs=jobs,
                        parallel_devices=parallel_devices, executor=executor, done=done)
    if as_json:
        from dataclasses import asdict

        echo_json({"week": result.week, "devices": [asdict(o) for o in result.outcomes],
                   "failed": [o.device for o in result.failed],
                   "publish_problems": [problem.format() for problem in result.publish_problems]})
    else:
        click.echo(f"\nweek {result.week}")
        click.echo(f"{'device':<12}{'version':<13}{'status':<9}{'full OTA':>12}  {'deltas':<34}{'time':>8}")
        for o in result.outcomes:
            full = o.artifacts.get("ota-full.zip", {}).get("size")
            deltas = ", ".join(f"{d['from']}: {_mib(d['size'])}" for d in o.deltas) or "-"
            click.echo(f"{o.device:<12}{o.version or '-':<13}{o.status:<9}{_mib(full):>12}  {deltas:<34}"
                       f"{o.seconds:>7.1f}s")
        for o in result.outcomes:
            if o.release and o.status != "failed":
                click.echo(f"  {shown(Path(o.release) / 'target-files.zip')}")
        click.echo(f"site: {shown(ws.releases / 'site' / 'index.html')}")
        click.echo(f"updater: {shown(ws.releases / 'site' / 'api' / 'v1')}/<device>/<type>/<incr>, polled at "
                   f"{ws.updater.uri}")
        if result.failed:
            click.echo(f"failed: {', '.join(o.device for o in result.failed)}", err=True)
        for problem in result.publish_problems:
            click.echo(f"romforge: error: left off the site and updater index: {problem.format()}", err=True)
    if result.exit_code:
        click.get_current_context().exit(result.exit_code)


@click.group()
def site() -> None:
    """The static download site under releases/site/."""


@site.command("screenshot")
@click.argument("page", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True, help="PNG to write.")
def site_screenshot(page: Path, output: Path) -> None:
    """Render PAGE in headless Chromium and save a PNG."""
    from romforge.release.publish import screenshot

    click.echo(shown(screenshot(page, output)))

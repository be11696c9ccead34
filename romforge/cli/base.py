"""`romforge base` commands: parse, call one library function, print."""

from __future__ import annotations

from pathlib import Path

import click

from romforge.cli.common import echo_json, json_option, progress_for, shown


@click.group()
def base() -> None:
    """Base ROMs from stock firmware: import a phone's OTA or images, compare two bases."""


@base.command("import")
@click.argument("source", type=click.Path(path_type=Path))
@click.option("--output", "-o", "output", type=click.Path(path_type=Path), required=True,
              help="Target-files directory to write (must not exist, or be empty).")
@json_option
def base_import(source: Path, output: Path, as_json: bool) -> None:
    """Make a target-files base from SOURCE: a full OTA zip, a payload.bin or a folder of (sparse) images."""
    from romforge.base.importer import import_base

    progress = progress_for(as_json, "import")
    try:
        report = import_base(source, output, progress=progress)
    finally:
        progress.close()
    if as_json:
        echo_json({"out": shown(output), **report.to_dict()})
        return
    click.echo(f"{shown(output)}: base imported from {shown(source)} ({report.kind})")
    for name, how in sorted(report.partitions.items()):
        click.echo(f"  {name:<14} {how}")
    for note in report.notes:
        click.echo(f"  note: {note}")
    for item in report.unrecovered:
        click.echo(f"  not recovered: {item}")


@base.command("diff")
@click.argument("old", type=click.Path(path_type=Path))
@click.argument("new", type=click.Path(path_type=Path))
@json_option
def base_diff(old: Path, new: Path, as_json: bool) -> None:
    """What changed from OLD to NEW (target-files dirs or zips), by partition."""
    from romforge.base.diff import diff_bases, format_diff

    result = diff_bases(old, new)
    if as_json:
        echo_json(result.to_dict())
        return
    click.echo(format_diff(result))

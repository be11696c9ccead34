"""`romforge locale` commands: the translator's check, coverage, PO/XLIFF exchange."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from romforge.cli.common import shown, workspace_option


@click.group()
def locale() -> None:
    """Locale packs: the translator's check, coverage, PO/XLIFF exchange."""


def _where_sources_are(workspace: Path | None, *, required: bool = False) -> tuple[Any, dict[str, Any]]:
    """The workspace, and where `locale` commands look for source strings (its source/, its base ROM)."""
    from romforge.workspace import load_workspace

    ws = load_workspace(workspace, required=required)
    return ws, {"workspace_root": ws.root if ws.config_file else None, "base_rom": ws.base_rom}


exchange_format = click.option("--format", "fmt", type=click.Choice(["po", "xliff"]), required=True,
                               help="gettext PO (Weblate, Pootle, Poedit) or XLIFF 1.2 (Crowdin, memoQ).")
source_dir_option = click.option("--source", type=click.Path(path_type=Path, exists=True, file_okay=False),
                                 default=None, help="A folder of <package>/values/*.xml (default: as for `locale "
                                                    "check`).")


@locale.command("check")
@click.argument("target", type=click.Path(path_type=Path, exists=True))
@click.option("--source", type=click.Path(path_type=Path, exists=True), default=None,
              help="Source strings: values/strings.xml for a FILE, or a folder of <package>/values/*.xml for a "
                   "pack (default: the workspace's source/ folder, then its base ROM).")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "github"]), default="text",
              show_default=True, help="github prints GitHub Actions ::error annotations.")
@workspace_option
def locale_check(target: Path, source: Path | None, fmt: str, workspace: Path | None) -> None:
    """Check a locale pack (folder or zip) or one translated strings.xml; exit 3 when errors were found."""
    from romforge.errors import CheckFailed
    from romforge.locales.check import errors_in, format_findings, summary
    from romforge.locales.sources import check_path

    _, where = _where_sources_are(workspace)
    findings = check_path(target, source=source, **where)
    if findings or fmt == "json":
        click.echo(format_findings(findings, fmt))
    if errors_in(findings):
        raise CheckFailed(summary(findings))
    if fmt == "text":
        click.echo(f"ok: {summary(findings)}" if findings else "ok: no findings", err=True)


@locale.command("status")
@click.argument("pack", type=click.Path(path_type=Path, exists=True), required=False)
@click.option("--all", "all_packs", is_flag=True, help="Every pack of the workspace (locales/*/pack.toml).")
@source_dir_option
@click.option("--format", "fmt", type=click.Choice(["text", "json", "markdown"]), default="text",
              show_default=True, help="markdown is a table for a pull-request comment.")
@workspace_option
def locale_status(pack: Path | None, all_packs: bool, source: Path | None, fmt: str, workspace: Path | None) -> None:
    """Per locale and app: translated / missing / obsolete strings, check errors and a percentage."""
    from romforge.locales.status import format_status, status, workspace_packs

    if (pack is None) == (not all_packs):
        raise click.UsageError("give a PACK or --all")
    ws, where = _where_sources_are(workspace, required=all_packs)
    rows = status(workspace_packs(ws.root / "locales") if all_packs else [pack], source=source, **where)
    click.echo(format_status(rows, fmt))


@locale.command("export")
@click.argument("pack", type=click.Path(path_type=Path, exists=True))
@exchange_format
@click.option("-o", "--out", type=click.Path(path_type=Path), required=True, help="A new folder for the files.")
@source_dir_option
@workspace_option
def locale_export(pack: Path, fmt: str, out: Path, source: Path | None, workspace: Path | None) -> None:
    """Write a pack as PO or XLIFF files (one per values file, untranslated strings included)."""
    from romforge.locales.exchange import export_pack

    done = export_pack(pack, fmt, out, source=source, **_where_sources_are(workspace)[1])
    click.echo(f"{shown(out)}: {len(done.files)} file(s) written")


@locale.command("import")
@click.argument("folder", type=click.Path(path_type=Path, exists=True))
@exchange_format
@click.option("-o", "--out", type=click.Path(path_type=Path), required=True,
              help="The pack folder to write (replaced only when the check finds no errors).")
@source_dir_option
@workspace_option
def locale_import(folder: Path, fmt: str, out: Path, source: Path | None, workspace: Path | None) -> None:
    """Make a pack from PO or XLIFF files (a folder or zip); `locale check` runs before anything is written."""
    from romforge.locales.check import format_findings, summary
    from romforge.locales.exchange import import_pack

    done = import_pack(folder, fmt, out, source=source, **_where_sources_are(workspace)[1])
    if done.findings:
        click.echo(format_findings(done.findings, "text"))
    click.echo(f"{shown(out)}: {len(done.files)} file(s) written; {summary(done.findings)}", err=True)

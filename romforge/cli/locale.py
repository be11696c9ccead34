"""`romforge locale` commands: parse, call one library function, print."""

from __future__ import annotations

from pathlib import Path

import click

from romforge.cli.common import workspace_option


@click.group()
def locale() -> None:
    """Locale packs: the translator's check."""


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
    from romforge.workspace import load_workspace

    ws = load_workspace(workspace, required=False)
    findings = check_path(target, source=source, workspace_root=ws.root if ws.config_file else None,
                          base_rom=ws.base_rom)
    if findings or fmt == "json":
        click.echo(format_findings(findings, fmt))
    if errors_in(findings):
        raise CheckFailed(summary(findings))
    if fmt == "text":
        click.echo(f"ok: {summary(findings)}" if findings else "ok: no findings", err=True)

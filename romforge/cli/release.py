"""`romforge release` commands: checks on releases already in the store (romforge/release/)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from romforge.cli.common import echo_json, json_option, shown


@click.group()
def release() -> None:
    """Releases in the store: the pre-flight check before publishing."""


@release.command("verify")
@click.argument("directory", type=click.Path(path_type=Path))
@click.option("--avb-key", "avb_key", type=click.Path(path_type=Path), default=None,
              help="The key vbmeta.img must be signed with (default: the one build-info.json recorded).")
@json_option
def release_verify(directory: Path, avb_key: Path | None, as_json: bool) -> None:
    """AVB chain to every image, OTA signatures against otacerts.zip, every ab_partitions.txt
    partition in every OTA, rollback indexes; one line per finding, exit 3 on any."""
    from romforge.avb import load_public_key_blob
    from romforge.errors import CheckFailed
    from romforge.release.verify import ReleaseCheckFailed, verify_releases

    try:
        reports = verify_releases(directory, avb_key=load_public_key_blob(avb_key) if avb_key else None)
    except ReleaseCheckFailed as exc:
        if as_json:
            echo_json({"ok": False, "releases": [r.to_dict() for r in exc.reports]})
            sys.exit(exc.exit_code)
        for report in exc.reports:
            for finding in report.findings:
                click.echo(finding.format())
            click.echo(f"{shown(report.release)}: {len(report.checked)} check(s) passed, "
                       f"{len(report.errors)} error(s), {len(report.findings) - len(report.errors)} warning(s)")
        raise CheckFailed(exc.message) from None
    if as_json:
        echo_json({"ok": True, "releases": [r.to_dict() for r in reports]})
        return
    for report in reports:
        for finding in report.findings:
            click.echo(finding.format())
        click.echo(f"{shown(report.release)}: verified ({len(report.checked)} check(s) passed"
                   f"{f', {len(report.findings)} warning(s)' if report.findings else ''})")

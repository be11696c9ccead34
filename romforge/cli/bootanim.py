"""`romforge bootanim` commands: parse, call one library function, print."""

from __future__ import annotations

import re
from pathlib import Path

import click

from romforge.cli.common import echo_json, json_option, progress_for, shown, workspace_option


def _screen(value: str | None) -> tuple[int, int] | None:
    if value is None:
        return None
    m = re.fullmatch(r"([0-9]{1,5})x([0-9]{1,5})", value.lower())  # ASCII digits: "²³".isdigit() is true
    if not m or int(m[1]) < 1 or int(m[2]) < 1:
        raise click.BadParameter(f"{value[:40]!r} is not WIDTHxHEIGHT, e.g. 1080x2400", param_hint="--screen")
    return int(m[1]), int(m[2])


@click.group()
def bootanim() -> None:
    """Boot animations: check a bootanimation.zip, render boot-screen credits, preview before flashing."""


@bootanim.command("check")
@click.argument("source", type=click.Path(path_type=Path))
@click.option("--screen", default=None, metavar="WxH", help="Also hold the animation against this screen size.")
@click.option("--device", "-d", default=None, help="Hold it against DEVICE's screen (from its profile).")
@workspace_option
@json_option
def bootanim_check(source: Path, screen: str | None, device: str | None, workspace: Path | None,
                   as_json: bool) -> None:
    """Check SOURCE (a bootanimation.zip, or a target-files dir/zip) against the player's rules.

    Exit 0 when only warnings are found, 3 when a rule is broken.
    """
    from romforge.bootscreen.source import check_file

    size = _screen(screen)
    if device and size is None:
        from romforge.profile import load_profile
        from romforge.workspace import load_workspace

        resolved = load_profile(device, load_workspace(workspace, required=False).profile_dirs)
        size = (resolved.screen.width, resolved.screen.height)
    inspection = check_file(source, screen=size)
    anim = inspection.anim
    errors, warnings = len(inspection.errors), len(inspection.warnings)
    if as_json:
        echo_json({"source": inspection.source, "width": anim.width, "height": anim.height, "fps": anim.fps,
                    "parts": [{"type": p.type, "count": p.count, "pause": p.pause, "path": p.path,
                               "frames": len(p.frames), "system": p.system} for p in anim.parts],
                    "errors": errors, "warnings": warnings,
                    "findings": [{"file": f.file, "line": f.line, "rule": f.rule, "severity": f.severity,
                                  "message": f.message} for f in inspection.findings]})
        if errors:
            click.get_current_context().exit(3)
        return
    for finding in inspection.findings:
        click.echo(finding.format())
    summary = (f"{inspection.source}: {anim.width}x{anim.height} @ {anim.fps} fps, {len(anim.parts)} part(s), "
               f"{anim.frame_count} frame(s): {errors} error(s), {warnings} warning(s)")
    if errors:
        from romforge.errors import CheckFailed

        raise CheckFailed(summary)
    click.echo(summary)


@bootanim.command("render")
@click.argument("device")
@click.option("--output", "-o", "out", type=click.Path(path_type=Path), required=True,
              help="The bootanimation.zip to write.")
@click.option("--credits", "credits_csv", type=click.Path(path_type=Path), default=None,
              help="Contributors CSV (default: the workspace's credits/contributors.csv).")
@click.option("--base", type=click.Path(path_type=Path), default=None,
              help="Animation to add the credits to: a bootanimation.zip or target-files "
                   "(default: the workspace's base ROM).")
@click.option("--no-base", is_flag=True, help="Credits only, without the base ROM's animation.")
@workspace_option
@json_option
def bootanim_render(device: str, out: Path, credits_csv: Path | None, base: Path | None, no_base: bool,
                    workspace: Path | None, as_json: bool) -> None:
    """Render DEVICE's boot animation with the credits, as a build would, into OUT."""
    from romforge.bootscreen.credits import render_command
    from romforge.workspace import load_workspace

    ws = load_workspace(workspace, required=False)
    plan = render_command(ws, device, out, credits_csv=credits_csv, base=base, no_base=no_base)
    summary = plan.summary()
    if as_json:
        echo_json({"output": shown(out), "size_bytes": out.stat().st_size} | summary)
        return
    click.echo(f"boot animation written: {shown(out)}  {out.stat().st_size / 1e6:.1f} MB")
    click.echo(f"  {summary['size']} @ {summary['fps']} fps, {summary['pages']} page(s) of credits "
               f"({summary['frames']} frames, {summary['seconds']} s), {summary['shown']} of "
               f"{summary['contributors']} names, placed {summary['placement']}")
    for note in plan.notes:
        click.echo(f"  {note.format()}")


@bootanim.command("preview")
@click.argument("source", type=click.Path(path_type=Path))
@click.option("--output", "-o", "sheet", type=click.Path(path_type=Path), default=None,
              help="Contact sheet PNG to write.")
@click.option("--animated", type=click.Path(path_type=Path), default=None,
              help="Animated preview to write (.gif or .webp).")
@click.option("--frames", type=click.IntRange(1, 60), default=12, show_default=True,
              help="Frames on the contact sheet.")
def bootanim_preview(source: Path, sheet: Path | None, animated: Path | None, frames: int) -> None:
    """Preview SOURCE (a bootanimation.zip, or a target-files dir/zip) before flashing."""
    from romforge.bootscreen.preview import write_previews

    if sheet is None and animated is None:
        raise click.UsageError("give --output SHEET.png and/or --animated PREVIEW.gif|.webp")
    progress = progress_for(False, "preview")
    progress.step("render previews")
    try:
        result = write_previews(source, sheet=sheet, animated=animated, frames=frames, progress=progress.advance)
    finally:
        progress.close()
    if result.sheet is not None:
        click.echo(f"preview sheet: {shown(result.sheet)}")
    if result.animated is not None:
        click.echo(f"animated preview: {shown(result.animated)}")
    if result.problems:
        click.echo(f"  note: {result.problems} rule(s) broken; run `romforge bootanim check {source}`")

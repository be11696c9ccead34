"""Command line: parse, call one library function, print. No logic lives here."""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

import click

from romforge import __version__
from romforge.errors import RomforgeError, shown_path as _shown
from romforge.progress import LineProgress, NullProgress, Progress, RichProgress


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


def _progress(as_json: bool, prefix: str = "") -> Progress:
    if as_json:
        return NullProgress()
    if os.environ.get("CI") or not sys.stderr.isatty():
        return LineProgress(prefix)
    return RichProgress(prefix)


def _echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, sort_keys=False))


workspace_option = click.option(
    "--workspace", "-w", "workspace", type=click.Path(path_type=Path), default=None, envvar="ROMFORGE_WORKSPACE",
    help="Workspace directory holding romforge.toml (default: current directory).")
json_option = click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")


@click.group(cls=RomforgeGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show tracebacks for user errors too.")
@click.version_option(__version__, prog_name="romforge")
def cli(debug: bool) -> None:
    """Build customized Android ROMs per device from one base ROM."""


# ---- profile ------------------------------------------------------------------------


@cli.group()
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
        _echo_json([{"name": s.name, "abstract": s.abstract, "model": s.model, "inherits": s.inherits,
                     "file": _shown(s.path)} for s in summaries])
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
        _echo_json(data)
        return
    click.echo(f"{resolved.profile}: {resolved.brand} {resolved.model} ({' ← '.join(resolved.chain)})")
    for key, value in data.items():
        if key in ("profile", "inherits"):
            continue
        rows = [(f"{key}.{sub}", v) for sub, v in value.items()] if isinstance(value, dict) else [(key, value)]
        for name, shown in rows:
            origin = resolved.origin.get(name, "(default)")
            click.echo(f"  {name:<22} {json.dumps(shown, ensure_ascii=False):<40} {origin}")


# ---- sample-rom ---------------------------------------------------------------------


@cli.command("sample-rom")
@click.argument("out", type=click.Path(path_type=Path))
@click.option("--device", "-d", default=None, help="Make it for this profile's ABIs, page size and screen.")
@click.option("--files", type=click.IntRange(min=1, max=500_000), default=400, show_default=True,
              help="Number of files across the partitions.")
@click.option("--seed", type=int, default=0, show_default=True, help="Same seed, same bytes.")
@workspace_option
def sample_rom(out: Path, device: str | None, files: int, seed: int, workspace: Path | None) -> None:
    """Write a small but structurally real base ROM (target-files dir, or zip if OUT ends in .zip)."""
    from romforge.samplerom import SampleSpec, generate
    from romforge.profile import load_profile
    from romforge.workspace import load_workspace

    spec = None
    if device:
        ws = load_workspace(workspace, required=False)
        spec = SampleSpec.from_profile(load_profile(device, ws.profile_dirs))
    written = generate(out, spec=spec, files=files, seed=seed)
    click.echo(f"sample ROM written: {_shown(written)}")


# ---- build --------------------------------------------------------------------------


@cli.command()
@click.argument("device")
@click.option("--version", "-V", "version", required=True, help="Release version, e.g. 2026.48.1.")
@click.option("--date", default=None, help="Build date (YYYY-MM-DD or ISO 8601); default: SOURCE_DATE_EPOCH, "
                                           "the profile's build_date, or the base ROM's date.")
@click.option("--base", type=click.Path(path_type=Path), default=None, help="Base ROM (overrides romforge.toml).")
@click.option("--out", type=click.Path(path_type=Path), default=None, help="Release store (default: releases/).")
@workspace_option
@json_option
def build(device: str, version: str, date: str | None, base: Path | None, out: Path | None,
          workspace: Path | None, as_json: bool) -> None:
    """Build DEVICE's release into releases/DEVICE/VERSION/."""
    from romforge.build import BuildRequest, build as run_build
    from romforge.workspace import load_workspace

    ws = load_workspace(workspace)
    progress = _progress(as_json, device)
    try:
        result = run_build(ws, BuildRequest(device, version, date, base, out), progress)
    finally:
        progress.close()
    if as_json:
        _echo_json({"device": result.device, "version": result.version, "release": _shown(result.release),
                    "target_files": _shown(result.target_files), "reused": result.reused,
                    "outputs": result.build_info.get("outputs", {})})
        return
    tf = result.build_info["outputs"]["target-files.zip"]
    verb = "already built (same inputs)" if result.reused else "built"
    click.echo(f"{result.device} {result.version}: {verb}")
    applied = result.build_info.get("overlays") or []
    if applied:
        click.echo("  overlays: " + ", ".join(f"{o['name']} {o['version']}" for o in applied))
    click.echo(f"  {_shown(result.target_files)}  {tf['size'] / 1e6:.1f} MB  sha256 {tf['sha256'][:16]}…")
    outputs = result.build_info["outputs"]
    images = sorted(name for name in outputs if name.startswith("images/"))
    if images:
        total = sum(outputs[name]["size"] for name in images)
        click.echo(f"  {_shown(result.release / 'images')}/  {len(images)} images, {total / 1e6:.1f} MB")
    if "ota-full.zip" in outputs:
        ota = outputs["ota-full.zip"]
        click.echo(f"  {_shown(result.release / 'ota-full.zip')}  {ota['size'] / 1e6:.1f} MB  "
                   f"sha256 {ota['sha256'][:16]}…")


# ---- ota ----------------------------------------------------------------------------


@cli.group()
def ota() -> None:
    """A/B OTA packages: update_engine payloads, signed; verify and apply them."""


def _signing_key(key: Path | None, workspace: Path | None):
    from romforge.ota.keys import load_signing_key
    from romforge.ota.release import workspace_key

    return load_signing_key(key) if key is not None else workspace_key(workspace)


key_option = click.option("--key", "-k", type=click.Path(path_type=Path), default=None,
                          help="Signing key NAME (NAME.pk8 + NAME.x509.pem); default: romforge.toml's "
                               "[signing] ota_key.")


def _echo_ota_result(result, as_json: bool) -> None:
    if as_json:
        _echo_json({"path": _shown(result.path), **result.to_dict()})
        return
    click.echo(f"{_shown(result.path)}: {result.kind} OTA, {result.size / 1e6:.2f} MB, "
               f"partitions {', '.join(result.partitions)}, sha256 {result.sha256[:16]}…")


@ota.command("full")
@click.argument("target_files", type=click.Path(path_type=Path))
@click.option("--output", "-o", "output", type=click.Path(path_type=Path), required=True, help="OTA zip to write.")
@key_option
@workspace_option
@json_option
def ota_full(target_files: Path, output: Path, key: Path | None, workspace: Path | None, as_json: bool) -> None:
    """Write a full OTA package installing TARGET_FILES."""
    from romforge.ota.generate import ota_from_target_files

    signing = _signing_key(key, workspace)
    progress = _progress(as_json, "ota")
    try:
        result = ota_from_target_files(target_files, output, signing, progress=progress)
    finally:
        progress.close()
    _echo_ota_result(result, as_json)


@ota.command("diff")
@click.argument("old", type=click.Path(path_type=Path))
@click.argument("new", type=click.Path(path_type=Path))
@click.option("--output", "-o", "output", type=click.Path(path_type=Path), required=True, help="OTA zip to write.")
@key_option
@workspace_option
@json_option
def ota_diff(old: Path, new: Path, output: Path, key: Path | None, workspace: Path | None, as_json: bool) -> None:
    """Write an incremental OTA package from OLD to NEW (target-files dirs or zips)."""
    from romforge.ota.generate import ota_from_target_files

    signing = _signing_key(key, workspace)
    progress = _progress(as_json, "ota")
    try:
        result = ota_from_target_files(new, output, signing, old=old, progress=progress)
    finally:
        progress.close()
    _echo_ota_result(result, as_json)


def _report_lines(report) -> list[str]:
    lines = [f"{_shown(report.path)}: {report.kind} OTA, payload minor version {report.minor_version}, "
             f"{report.payload_size / 1e6:.2f} MB payload"]
    for key in ("pre-build", "post-build", "post-timestamp"):
        if key in report.metadata:
            lines.append(f"  {key}: {report.metadata[key]}")
    for part in report.partitions:
        ops = ", ".join(f"{name} {count}" for name, count in part["operations"].items())
        lines.append(f"  {part['name']:<12} {part['new_size'] / 1e6:8.2f} MB  data {part['data_total'] / 1e6:7.3f} MB"
                     f"  {ops}")
    return lines


def _report_json(report) -> dict:
    return {"path": _shown(report.path), "kind": report.kind, "minor_version": report.minor_version,
            "payload_size": report.payload_size, "metadata": report.metadata, "partitions": report.partitions,
            "signatures_verified": bool(report.signed_by_key)}


@ota.command("verify")
@click.argument("package", type=click.Path(path_type=Path))
@click.option("--key", "-k", "public", type=click.Path(path_type=Path), required=True,
              help="Certificate (x509 PEM/DER) or public key the package must be signed with.")
@json_option
def ota_verify(package: Path, public: Path, as_json: bool) -> None:
    """Check PACKAGE's signatures, metadata, every data blob and the manifest (exit 3 if it fails)."""
    from romforge.ota.apply import check_ota
    from romforge.ota.keys import load_public_key

    report = check_ota(package, load_public_key(public))
    if as_json:
        _echo_json(_report_json(report))
        return
    click.echo("\n".join(_report_lines(report)))
    click.echo("verified: zip signature, metadata and payload signatures, data hashes, manifest")


@ota.command("apply")
@click.argument("package", type=click.Path(path_type=Path))
@click.option("--source", type=click.Path(path_type=Path), default=None,
              help="Directory with the images an incremental OTA updates (<partition>.img); only read.")
@click.option("--out", "out", type=click.Path(path_type=Path), required=True,
              help="Directory for the updated images.")
@click.option("--key", "-k", "public", type=click.Path(path_type=Path), default=None,
              help="Also check the signatures against this certificate or public key.")
@json_option
def ota_apply(package: Path, source: Path | None, out: Path, public: Path | None, as_json: bool) -> None:
    """Apply PACKAGE to images, as update_engine would, and check the resulting hashes."""
    from romforge.ota.apply import apply_ota
    from romforge.ota.keys import load_public_key

    report = apply_ota(package, out, source_dir=source, public=load_public_key(public) if public else None)
    if as_json:
        _echo_json({**_report_json(report), "out": _shown(out)})
        return
    click.echo("\n".join(_report_lines(report)))
    click.echo(f"applied: {len(report.partitions)} image(s) in {_shown(out)}, every SHA-256 as the manifest says")


@ota.command("info")
@click.argument("package", type=click.Path(path_type=Path))
@json_option
def ota_info(package: Path, as_json: bool) -> None:
    """Partitions, operation counts by type and sizes of PACKAGE."""
    from romforge.ota.apply import ota_info as read_info

    report = read_info(package)
    if as_json:
        _echo_json(_report_json(report))
        return
    click.echo("\n".join(_report_lines(report)))


@ota.command("keygen")
@click.argument("name", type=click.Path(path_type=Path))
def ota_keygen(name: Path) -> None:
    """Create a TEST signing key NAME.pk8 + NAME.x509.pem (never ship it)."""
    from romforge.ota.keys import generate_test_key

    pk8, cert = generate_test_key(name)
    click.echo(f"TEST key written: {_shown(pk8)}, {_shown(cert)} (for development only; never sign releases with it)")


# ---- weekly -------------------------------------------------------------------------


def _mib(size: int | None) -> str:
    from romforge.publish import human_size

    return human_size(size) if size is not None else "-"


@cli.command()
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
    from romforge.weekly import run_weekly
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

        _echo_json({"week": result.week, "devices": [asdict(o) for o in result.outcomes],
                    "failed": [o.device for o in result.failed]})
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
                click.echo(f"  {_shown(Path(o.release) / 'target-files.zip')}")
        click.echo(f"site: {_shown(ws.releases / 'site' / 'index.html')}")
        if result.failed:
            click.echo(f"failed: {', '.join(o.device for o in result.failed)}", err=True)
    if result.exit_code:
        click.get_current_context().exit(result.exit_code)


@cli.group()
def site() -> None:
    """The static download site under releases/site/."""


@site.command("screenshot")
@click.argument("page", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True, help="PNG to write.")
def site_screenshot(page: Path, output: Path) -> None:
    """Render PAGE in headless Chromium and save a PNG."""
    from romforge.publish import screenshot

    click.echo(_shown(screenshot(page, output)))
# ---- bootanim -----------------------------------------------------------------------


def _screen(value: str | None) -> tuple[int, int] | None:
    if value is None:
        return None
    width, sep, height = value.lower().partition("x")
    if not sep or not width.isdigit() or not height.isdigit() or int(width) < 1 or int(height) < 1:
        raise click.BadParameter(f"{value!r} is not WIDTHxHEIGHT, e.g. 1080x2400", param_hint="--screen")
    return int(width), int(height)


@cli.group()
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
    from romforge.bootanim import check_file

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
        _echo_json({"source": inspection.source, "width": anim.width, "height": anim.height, "fps": anim.fps,
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
    from romforge.credits import render_command
    from romforge.workspace import load_workspace

    ws = load_workspace(workspace, required=False)
    plan = render_command(ws, device, out, credits_csv=credits_csv, base=base, no_base=no_base)
    summary = plan.summary()
    if as_json:
        _echo_json({"output": _shown(out), "size_bytes": out.stat().st_size} | summary)
        return
    click.echo(f"boot animation written: {_shown(out)}  {out.stat().st_size / 1e6:.1f} MB")
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
    from romforge.bootpreview import write_previews

    if sheet is None and animated is None:
        raise click.UsageError("give --output SHEET.png and/or --animated PREVIEW.gif|.webp")
    progress = _progress(False, "preview")
    progress.step("render previews")
    try:
        result = write_previews(source, sheet=sheet, animated=animated, frames=frames, progress=progress.advance)
    finally:
        progress.close()
    if result.sheet is not None:
        click.echo(f"preview sheet: {_shown(result.sheet)}")
    if result.animated is not None:
        click.echo(f"animated preview: {_shown(result.animated)}")
    if result.problems:
        click.echo(f"  note: {result.problems} rule(s) broken; run `romforge bootanim check {source}`")
# ---- overlay ------------------------------------------------------------------------


@cli.group()
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
        _echo_json(data)
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
        _echo_json({"ok": False, "findings": [f.__dict__ for f in exc.findings]})
        sys.exit(exc.exit_code)
    if as_json:
        _echo_json({"ok": True, "checked": checked})
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
        _echo_json([{"name": i.name, "path": _shown(i.path), "target": i.target, "sources": list(i.sources)}
                    for i in imported])
        return
    for item in imported:
        click.echo(f"{_shown(item.path)}: {item.target} ← {', '.join(item.sources)}")
# ---- locale -------------------------------------------------------------------------


@cli.group()
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
    click.echo(f"{_shown(out)}: {len(done.files)} file(s) written")


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
    click.echo(f"{_shown(out)}: {len(done.files)} file(s) written; {summary(done.findings)}", err=True)


# ---- t9 -----------------------------------------------------------------------------


@cli.group()
def t9() -> None:
    """Chinese T9 smart dial: name → pinyin, ranked digit queries over contacts."""


pack_option = click.option("--pack", type=click.Path(path_type=Path, exists=True), default=None,
                           help="Use this locale pack's T9 data (t9/names.toml, keypad.toml).")
data_option = click.option("--data", "data_file", type=click.Path(path_type=Path, exists=True, dir_okay=False),
                           default=None, help="Use a shipped T9 data file (product/etc/t9/<locale>.t9).")


@t9.command("pinyin")
@click.argument("names", nargs=-1, required=True)
@pack_option
@data_option
@json_option
def t9_pinyin(names: tuple[str, ...], pack: Path | None, data_file: Path | None, as_json: bool) -> None:
    """Print the pinyin readings of each NAME (primary first)."""
    from romforge.locales.pinyin import read_name
    from romforge.locales.t9 import load_data

    data = load_data(pack=pack, data_file=data_file)
    reads = [read_name(name, data) for name in names]
    if as_json:
        _echo_json([{"name": r.name, "pinyin": r.pinyin, "readings": [" ".join(x) for x in r.readings]}
                    for r in reads])
        return
    for r in reads:
        others = [" ".join(x) for x in r.readings[1:]]
        click.echo(f"{r.name}\t{r.pinyin}" + (f"\t(also: {', '.join(others)})" if others else ""))


@t9.command("query")
@click.argument("digits")
@click.option("--contacts", type=click.Path(path_type=Path, exists=True, dir_okay=False), default=None,
              help="Contacts CSV with the columns name,number.")
@click.option("--index", "index_file", type=click.Path(path_type=Path, exists=True, dir_okay=False), default=None,
              help="A prebuilt index from `romforge t9 index`.")
@pack_option
@data_option
@json_option
def t9_query(digits: str, contacts: Path | None, index_file: Path | None, pack: Path | None,
             data_file: Path | None, as_json: bool) -> None:
    """Contacts matching DIGITS, best first (at most 20)."""
    from romforge.locales.t9 import load_data, load_index

    index = load_index(contacts=contacts, index_file=index_file,
                       data=load_data(pack=pack, data_file=data_file) if index_file is None else None)
    matches = index.search(digits)
    if as_json:
        _echo_json([m.to_json() for m in matches])
        return
    for m in matches:
        start, end = m.span
        text = m.contact.number if m.kind == "number" else m.contact.name
        shown = f"{text[:start]}[{text[start:end]}]{text[end:]}"
        click.echo(f"{m.kind:<10} {shown if m.kind != 'number' else m.contact.name}\t"
                   f"{shown if m.kind == 'number' else m.contact.number}")


@t9.command("index")
@click.option("--contacts", type=click.Path(path_type=Path, exists=True, dir_okay=False), required=True,
              help="Contacts CSV with the columns name,number.")
@click.option("-o", "--out", type=click.Path(path_type=Path, dir_okay=False), required=True,
              help="Where to write the prebuilt index (JSON).")
@pack_option
@data_option
def t9_index(contacts: Path, out: Path, pack: Path | None, data_file: Path | None) -> None:
    """Build the T9 index of a contacts CSV once, for `t9 query --index`."""
    from romforge.locales.t9 import load_data, load_index, write_index

    index = load_index(contacts=contacts, index_file=None, data=load_data(pack=pack, data_file=data_file))
    write_index(index, out)
    click.echo(f"indexed {len(index.entries)} contacts: {_shown(out)}")


def main() -> None:
    # SIGTERM (CI cancelling a job) unwinds like Ctrl-C, so temporary release dirs are removed
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    cli(prog_name="romforge")


if __name__ == "__main__":
    main()

"""`romforge build` commands: parse, call one library function, print."""

from __future__ import annotations

from pathlib import Path

import click

from romforge.cli.common import echo_json, json_option, progress_for, shown, workspace_option


@click.command("sample-rom")
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
    click.echo(f"sample ROM written: {shown(written)}")




@click.command()
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
    progress = progress_for(as_json, device)
    try:
        result = run_build(ws, BuildRequest(device, version, date, base, out), progress)
    finally:
        progress.close()
    if as_json:
        echo_json({"device": result.device, "version": result.version, "release": shown(result.release),
                   "target_files": shown(result.target_files), "reused": result.reused,
                   "outputs": result.build_info.outputs})
        return
    outputs = result.build_info.outputs
    tf = outputs["target-files.zip"]
    verb = "already built (same inputs)" if result.reused else "built"
    click.echo(f"{result.device} {result.version}: {verb}")
    if result.build_info.overlays:
        click.echo("  overlays: " + ", ".join(result.build_info.overlay_names()))
    click.echo(f"  {shown(result.target_files)}  {tf['size'] / 1e6:.1f} MB  sha256 {tf['sha256'][:16]}…")
    images = sorted(name for name in outputs if name.startswith("images/"))
    if images:
        total = sum(outputs[name]["size"] for name in images)
        click.echo(f"  {shown(result.release / 'images')}/  {len(images)} images, {total / 1e6:.1f} MB")
    if "ota-full.zip" in outputs:
        ota = outputs["ota-full.zip"]
        click.echo(f"  {shown(result.release / 'ota-full.zip')}  {ota['size'] / 1e6:.1f} MB  "
                   f"sha256 {ota['sha256'][:16]}…")

"""Command line: parse, call one library function, print. No logic lives here."""

from __future__ import annotations

import json
import os
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


def main() -> None:
    cli(prog_name="romforge")


if __name__ == "__main__":
    main()

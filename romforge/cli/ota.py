"""`romforge ota` commands: parse, call one library function, print."""

from __future__ import annotations

from pathlib import Path

import click

from romforge.cli.common import echo_json, json_option, progress_for, shown, workspace_option


@click.group()
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
        echo_json({"path": shown(result.path), **result.to_dict()})
        return
    click.echo(f"{shown(result.path)}: {result.kind} OTA, {result.size / 1e6:.2f} MB, "
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
    progress = progress_for(as_json, "ota")
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
    progress = progress_for(as_json, "ota")
    try:
        result = ota_from_target_files(new, output, signing, old=old, progress=progress)
    finally:
        progress.close()
    _echo_ota_result(result, as_json)


def _report_lines(report) -> list[str]:
    lines = [f"{shown(report.path)}: {report.kind} OTA, payload minor version {report.minor_version}, "
             f"{report.payload_size / 1e6:.2f} MB payload"]
    for key in ("pre-build", "post-build", "post-timestamp"):
        if key in report.metadata:
            lines.append(f"  {key}: {report.metadata[key]}")
    for part in report.partitions:
        ops = ", ".join(f"{name} {count}" for name, count in part["operations"].items())
        lines.append(f"  {part['name']:<12} {part['new_size'] / 1e6:8.2f} MB  data {part['data_total'] / 1e6:7.3f} MB"
                     f"  {ops}")
    for sig in report.signatures:
        lines.append(f"  signature over {sig.covers}: {sig.algorithm} ({sig.status})")
    return lines


def _warn(report) -> None:
    for warning in report.warnings:
        click.echo(f"warning: {shown(report.path)}: {warning}", err=True)


def _report_json(report) -> dict:
    return {"path": shown(report.path), "kind": report.kind, "minor_version": report.minor_version,
            "payload_size": report.payload_size, "metadata": report.metadata, "partitions": report.partitions,
            "signatures_verified": bool(report.signed_by_key),
            "signatures": [sig.to_dict() for sig in report.signatures], "warnings": report.warnings}


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
        echo_json(_report_json(report))
        return
    click.echo("\n".join(_report_lines(report)))
    signed = ", ".join(f"{sig.covers} signature ({sig.algorithm})" for sig in report.signatures
                       if sig.status == "verified")
    click.echo(f"verified: {signed}, data hashes, manifest")


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
    _warn(report)
    if as_json:
        echo_json({**_report_json(report), "out": shown(out)})
        return
    click.echo("\n".join(_report_lines(report)))
    click.echo(f"applied: {len(report.partitions)} image(s) in {shown(out)}, every SHA-256 as the manifest says")


@ota.command("info")
@click.argument("package", type=click.Path(path_type=Path))
@json_option
def ota_info(package: Path, as_json: bool) -> None:
    """Partitions, operation counts by type, sizes and signatures of PACKAGE (an OTA zip or a bare payload.bin)."""
    from romforge.ota.apply import ota_info as read_info

    report = read_info(package)
    _warn(report)
    if as_json:
        echo_json(_report_json(report))
        return
    click.echo("\n".join(_report_lines(report)))


@ota.command("keygen")
@click.argument("name", type=click.Path(path_type=Path))
def ota_keygen(name: Path) -> None:
    """Create a TEST signing key NAME.pk8 + NAME.x509.pem (never ship it)."""
    from romforge.ota.keys import generate_test_key

    pk8, cert = generate_test_key(name)
    click.echo(f"TEST key written: {shown(pk8)}, {shown(cert)} (for development only; never sign releases with it)")

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


# ---- locale -------------------------------------------------------------------------


@cli.group()
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
    cli(prog_name="romforge")


if __name__ == "__main__":
    main()

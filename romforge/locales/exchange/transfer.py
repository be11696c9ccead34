"""`locale export` and `locale import`: a pack to PO/XLIFF files and back, nothing half-written.

An export folder mirrors the pack: its own files (pack.toml, keypad.toml, t9/) byte for
byte, and one `<package>/<name>.po` (or `.xlf`) per values file `res/<package>/values-
<qualifier>/<name>.xml`. Import reads such a folder (or a zip of one; without pack.toml
the existing pack's is kept), builds the whole pack in a temporary sibling of the output,
runs `locale check` on it against the same source strings, and only then renames it into
place; findings name the PO/XLIFF file and line they come from. On any error the output
is untouched and the temporary folder removed.
"""

from __future__ import annotations

import bisect
import contextlib
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterator

from romforge.outputs import make_parent
from romforge.errors import CheckFailed, InputError, shown_path
from romforge.locales.check import check_pack, errors_in, sort_findings, summary
from romforge.locales.exchange import po, xliff
from romforge.locales.exchange.units import ExchangeFile, pack_units, validate, write_xml
from romforge.locales.pack import (MAX_PACK_FILE_BYTES, PACK_TOML, LocaleTag, load_pack, pack_folder,
                                   scan_pack_files)
from romforge.locales.resxml import ResFinding
from romforge.locales.sources import pack_with_sources
from romforge.safeio import read_limited

SUFFIX = {"po": ".po", "xliff": ".xlf"}
_PACKAGE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)+$")
_STEM = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")


@dataclass(frozen=True)
class Exchanged:
    files: list[Path]  # written, relative to the output folder
    findings: list[ResFinding]  # warnings of the check on import (no errors: those stop it)


@contextlib.contextmanager
def _sibling(out: Path) -> Iterator[Path]:
    """A temporary folder next to `out`, renamed onto it on success (the old one removed), else removed."""
    make_parent(out)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.romforge-", dir=out.parent))
    try:
        yield tmp
        old = None
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
            os.rename(out, old / out.name)
        os.rename(tmp, out)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _exchange_file(rel: Path) -> bool:
    return len(rel.parts) == 2 and bool(_PACKAGE.match(rel.parts[0]))


def _copy_own_files(root: Path, shown: str, dest: Path) -> list[Path]:
    """The pack's own files (pack.toml, keypad.toml, t9/, notes): everything but strings."""
    copied = []
    for path in scan_pack_files(root, shown):
        rel = path.relative_to(root)
        if rel.parts[0] == "res" or _exchange_file(rel):
            continue
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, dest / rel)
        copied.append(rel)
    return copied


def export_pack(pack_path: Path, fmt: str, out: Path, *, source: Path | None = None,
                workspace_root: Path | None = None, base_rom: Path | None = None) -> Exchanged:
    """Write the pack as PO or XLIFF files into the new folder `out`."""
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InputError("exists and is not an empty folder; export writes a new one", file=shown_path(out))
    with pack_with_sources(pack_path, source=source, workspace_root=workspace_root, base_rom=base_rom) as found:
        pack, sources = found
        stray = [f for f in pack.findings if f.line is None]
        if stray:
            raise InputError(f"{stray[0].message} (fix the pack's layout before exporting)", file=stray[0].file)
        xfiles = pack_units(pack, sources)
        written: list[Path] = []
        with _sibling(out) as tmp:
            written += _copy_own_files(pack.root, pack.shown, tmp)
            for xfile in xfiles:
                origin = f"res/{xfile.package}/values-{pack.qualifier}/{xfile.xml_name}"
                rel = Path(xfile.package) / (Path(xfile.xml_name).stem + SUFFIX[fmt])
                writer = po.write_po_file if fmt == "po" else xliff.write_xliff_file
                (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
                (tmp / rel).write_bytes(writer(xfile, pack, origin))
                written.append(rel)
    return Exchanged(sorted(written), [])


def _read_exchange(path: Path, shown: str, fmt: str, tag: LocaleTag, package: str, xml_name: str) -> ExchangeFile:
    data = read_limited(path, shown=shown, max_bytes=MAX_PACK_FILE_BYTES)
    if fmt == "po":
        xfile = po.read_po_file(data, shown=shown, tag=tag, package=package, xml_name=xml_name, path=path)
    else:
        xfile = xliff.read_xliff_file(data, shown=shown, tag=tag, package=package, xml_name=xml_name)
    validate(xfile)
    return xfile


def _mapped(finding: ResFinding, maps: dict[str, tuple[str, dict[int, int | None]]]) -> ResFinding:
    """A finding in a generated strings.xml, moved to the PO/XLIFF file and line it came from."""
    if finding.file not in maps:
        return finding
    shown, where = maps[finding.file]
    lines = sorted(where)
    at = bisect.bisect_right(lines, finding.line or 0) - 1
    line = where[lines[at]] if at >= 0 else 1
    return replace(finding, file=shown, line=line, column=None)


def import_pack(in_path: Path, fmt: str, out: Path, *, source: Path | None = None,
                workspace_root: Path | None = None, base_rom: Path | None = None) -> Exchanged:
    """Make the pack `out` from an export folder (or zip): checked first, renamed into place only when clean."""
    out = Path(out)
    out_shown = shown_path(out)
    suffix = SUFFIX[fmt]
    if out.exists() and not (out / PACK_TOML).is_file():
        raise InputError(f"exists and is not a locale pack (no {PACK_TOML}); import replaces a pack or makes a new "
                         "one", file=out_shown)
    with pack_folder(in_path) as (root, root_shown), _sibling(out) as tmp:
        own: list[tuple[Path, str, str, str]] = []  # (path, shown, package, xml name)
        for path in scan_pack_files(root, root_shown):
            rel = path.relative_to(root)
            shown = f"{root_shown}/{rel.as_posix()}"
            if _exchange_file(rel):
                if path.suffix != suffix or not _STEM.match(path.stem):
                    raise InputError(f"expected <package>/<name>{suffix} here (--format {fmt})", file=shown)
                own.append((path, shown, rel.parts[0], f"{path.stem}.xml"))
            elif rel.parts[0] == "res":
                raise InputError("an export folder holds no res/: strings come from the PO/XLIFF files", file=shown)
        if not own:
            raise InputError(f"no <package>/<name>{suffix} files here", file=root_shown)
        _copy_own_files(root, root_shown, tmp)
        if not (tmp / PACK_TOML).is_file():
            if not (out / PACK_TOML).is_file():
                raise InputError(f"no {PACK_TOML} here nor in the pack it would replace", file=root_shown)
            _copy_own_files(out, out_shown, tmp)
        meta = load_pack(tmp, shown=out_shown)
        maps: dict[str, tuple[str, dict[int, int | None]]] = {}
        for path, shown, package, xml_name in own:
            if package not in meta.targets:
                raise InputError(f"'{package}' is not in pack.toml's targets", file=shown)
            xfile = _read_exchange(path, shown, fmt, meta.tag, package, xml_name)
            data, where = write_xml(xfile)
            rel = Path("res") / package / f"values-{meta.qualifier}" / xml_name
            (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
            (tmp / rel).write_bytes(data)
            maps[f"{out_shown}/{rel.as_posix()}"] = (shown, where)
        with pack_with_sources(tmp, source=source, workspace_root=workspace_root, base_rom=base_rom,
                               shown=out_shown) as (pack, sources):
            findings = sort_findings([_mapped(f, maps) for f in check_pack(pack, sources)])
        if errors_in(findings):
            raise CheckFailed(f"nothing was imported: {summary(findings)}", findings)
        written = sorted(p.relative_to(tmp) for p in tmp.rglob("*") if p.is_file())
    return Exchanged(written, findings)

"""How complete a locale pack is, per target app: what a translation coordinator asks first.

The figures come from the same reading and the same source strings as `locale check`
(sources.pack_with_sources, check.read_translations / check_values): `translated` counts
the source's translatable strings that have a translation, `missing` the rest, `obsolete`
the translations whose name the source no longer has, `errors` / `warnings` the check's
findings in that target's files. A target without any file is all missing (the check
reports it once, as a pack-layout error).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

from romforge.locales.check import ERROR, check_values, read_translations
from romforge.locales.pack import LocalePack, find_packs
from romforge.locales.resxml import ResFinding, ValuesFile
from romforge.locales.sources import pack_with_sources

PACK_ROW = "(pack)"  # findings about the pack itself (pack.toml, stray files) when there are any


@dataclass(frozen=True)
class TargetStatus:
    locale: str
    target: str  # target package, or PACK_ROW
    total: int  # translatable source strings (a plurals or a string-array counts once)
    translated: int
    missing: int
    obsolete: int
    errors: int
    warnings: int

    @property
    def percent(self) -> float:
        """Rounded down to 0.1, so one missing string never shows as 100 %."""
        return 100.0 if not self.total else math.floor(1000 * self.translated / self.total) / 10

    def to_json(self) -> dict:
        return {**asdict(self), "percent": self.percent}


def _target_of(finding: ResFinding, pack: LocalePack) -> str:
    for f in pack.files:
        if f.shown == finding.file:
            return f.package
    marker = "/res/"
    if marker in f"/{finding.file}":
        package = f"/{finding.file}".split(marker, 1)[1].split("/", 1)[0]
        if package in pack.targets:
            return package
    return PACK_ROW


def _count(findings: list[ResFinding]) -> tuple[int, int]:
    errors = sum(1 for f in findings if f.severity == ERROR)
    return errors, len(findings) - errors


def target_status(pack: LocalePack, package: str, source: ValuesFile | None,
                  layout: list[ResFinding]) -> TargetStatus:
    """One row: the target's translated files read and checked against its source."""
    files = pack.files_for(package)
    translations, unreadable = read_translations([(f.path, f.shown) for f in files])
    findings = layout + unreadable
    wanted = {r.name for r in source.resources if r.translatable} if source else set()
    known = {r.name for r in source.resources} if source else set()
    present = {r.name for values in translations for r in values.resources}
    if source is not None and files:
        findings = findings + check_values(translations, source, tag=pack.tag)
    errors, warnings = _count(findings)
    translated = len(wanted & present)
    return TargetStatus(pack.locale, package, len(wanted), translated, len(wanted) - translated,
                        len(present - known) if source else 0, errors, warnings)


def pack_status(pack: LocalePack, sources: dict[str, ValuesFile]) -> list[TargetStatus]:
    """Every target of the pack, in pack.toml's order, then a pack row when the pack itself has findings."""
    by_target: dict[str, list[ResFinding]] = {}
    for finding in pack.findings:
        by_target.setdefault(_target_of(finding, pack), []).append(finding)
    rows = [target_status(pack, package, sources.get(package), by_target.get(package, []))
            for package in pack.targets]
    if PACK_ROW in by_target:
        errors, warnings = _count(by_target[PACK_ROW])
        rows.append(TargetStatus(pack.locale, PACK_ROW, 0, 0, 0, 0, errors, warnings))
    return rows


def status(packs: list[Path], *, source: Path | None = None, workspace_root: Path | None = None,
           base_rom: Path | None = None) -> list[TargetStatus]:
    """What `romforge locale status` runs: one row per locale and target app."""
    rows: list[TargetStatus] = []
    for path in packs:
        with pack_with_sources(path, source=source, workspace_root=workspace_root, base_rom=base_rom) as found:
            rows += pack_status(*found)
    return rows


def workspace_packs(locales_dir: Path) -> list[Path]:
    """Every pack of a workspace (locales/<locale>/pack.toml), by locale."""
    return list(find_packs(locales_dir).values())


# ---- output -------------------------------------------------------------------------

_HEAD = ("locale", "app", "translated", "missing", "obsolete", "errors", "warnings", "done")


def _cells(row: TargetStatus) -> tuple[str, ...]:
    return (row.locale, row.target, f"{row.translated}/{row.total}", str(row.missing), str(row.obsolete),
            str(row.errors), str(row.warnings), f"{row.percent:.1f} %")


def _totals(rows: list[TargetStatus]) -> str:
    total = sum(r.total for r in rows)
    done = sum(r.translated for r in rows)
    errors = sum(r.errors for r in rows)
    percent = 100.0 if not total else math.floor(1000 * done / total) / 10
    locales = len({r.locale for r in rows})
    return (f"{done} of {total} strings translated ({percent:.1f} %) in {locales} locale(s); "
            f"{errors} error(s)")


def format_status(rows: list[TargetStatus], fmt: str) -> str:
    """text: an aligned table; json: a list of objects; markdown: a table for a pull-request comment."""
    if fmt == "json":
        return json.dumps([r.to_json() for r in rows], indent=2, ensure_ascii=False)
    cells = [_cells(r) for r in rows]
    if fmt == "markdown":
        # locales and package names are validated (BCP 47, Android package names): nothing to escape
        lines = ["### Translation status", "", "| " + " | ".join(_HEAD) + " |",
                 "| --- | --- | " + " | ".join("---:" for _ in _HEAD[2:]) + " |"]
        for c, row in zip(cells, rows):
            mark = " ❌" if row.errors else (" ✅" if row.missing == 0 and row.target != PACK_ROW else "")
            lines.append("| " + " | ".join((c[0], f"`{c[1]}`") + c[2:-1] + (c[-1] + mark,)) + " |")
        lines += ["", _totals(rows) + "."]
        return "\n".join(lines)
    widths = [max(len(h), *(len(c[i]) for c in cells)) if cells else len(h) for i, h in enumerate(_HEAD)]
    out = ["  ".join(h.ljust(w) if i < 2 else h.rjust(w) for i, (h, w) in enumerate(zip(_HEAD, widths)))]
    for c in cells:
        out.append("  ".join(v.ljust(w) if i < 2 else v.rjust(w) for i, (v, w) in enumerate(zip(c, widths))))
    out.append(_totals(rows))
    return "\n".join(out)

"""Locale packs as a build feature: checked in plan (errors stop the build, exit 3), shipped in apply.

Each enabled pack becomes one static RRO per target package under product/overlay, signed
with the run's RRO key like every other RRO of the build; the profile's locales go into the
product build.prop, and build-info.json records each pack's version and content hash.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field
from typing import Any

from romforge.build.features import BuildTarget, Report
from romforge.errors import CheckFailed, ConfigError, Finding
from romforge.locales.check import check_pack, errors_in, summary
from romforge.locales.pack import LocalePack, load_pack, require_packs
from romforge.locales.resxml import ResFinding
from romforge.locales.shipping import overlay_name, rro_maker, t9_bytes, t9_data_path
from romforge.locales.sources import resolve_sources, with_overlay_strings
from romforge.run.context import BuildContext
from romforge.tree import RomTree

LOCALES_PROP = "ro.romforge.locales"
DEFAULT_LOCALE_PROP = "ro.product.locale"
MAX_PACK_FILE_BYTES = 8 << 20


@dataclass
class LocalesPlan:
    packs: list[LocalePack] = field(default_factory=list)
    warnings: list[ResFinding] = field(default_factory=list)
    props: dict[str, str] = field(default_factory=dict)
    files: dict[tuple[str, str], dict[str, bytes]] = field(default_factory=dict)  # (locale, app) → name → bytes
    name: str = "locale_packs"

    def inputs(self) -> dict[str, Any]:
        """What build-info.json records: every pack's version and content hash."""
        return {p.locale: {"version": p.version, "sha256": p.sha256, "targets": list(p.targets)}
                for p in self.packs}

    def apply(self, ctx: BuildContext, tree: RomTree) -> Report:
        """Write the packs' overlays, T9 data and locale props into the staged tree."""
        jobs = [(pack, target) for pack in self.packs for target in pack.targets]
        key, key_digest = ctx.keys.overlay, ctx.keys.overlay_digest
        makers = [rro_maker(pack, target, self.files[(pack.locale, target)], key, key_digest, ctx.tools)
                  for pack, target in jobs]
        with ctx.cores.borrow(len(jobs)) as cores:  # aapt2 and apksigner runs
            built = ctx.cache.make_all(makers, threads=cores)
        report = Report()
        for (pack, target), data in zip(jobs, built):
            path = overlay_name(pack, target)[0]
            tree.write_file("product", path, data)
        for pack in self.packs:
            t9 = ctx.cache.make(f"t9-{pack.locale}-{pack.sha256}", functools.partial(t9_bytes, pack))
            if t9:
                tree.write_file("product", t9_data_path(pack.locale), t9)
        if self.props:
            prop = tree.build_prop("product")
            if prop is not None:
                for prop_key, value in self.props.items():
                    prop.set(prop_key, value)
                tree.write_build_prop("product", prop)
        return report

    def check(self, ctx: BuildContext, tree: RomTree, report: Report) -> list[Finding]:
        return list(self.warnings)  # the translator's check ran in plan; its errors stopped the build

    def summary(self, report: Report) -> None:
        return None  # the inputs say everything build-info.json records of the packs


def _pack_bytes(pack: LocalePack, target: str) -> dict[str, bytes]:
    """The pack's files for one app, read once: the RRO is built from exactly these bytes."""
    files = {}
    for f in pack.files_for(target):
        with open(f.path, "rb") as handle:
            data = handle.read(MAX_PACK_FILE_BYTES + 1)
        if len(data) > MAX_PACK_FILE_BYTES:
            raise ConfigError(f"file is over the {MAX_PACK_FILE_BYTES}-byte limit for a pack file", file=f.shown)
        files[f.path.name] = data
    return files


@dataclass(frozen=True)
class LocalePacksFeature:
    name: str = "locale_packs"

    def plan(self, ctx: BuildContext, target: BuildTarget) -> LocalesPlan:
        """Load and check every pack the profile enables; raises CheckFailed with the pack's findings.

        The strings the device's feature overlays add to an app count as source strings too."""
        profile, base, root = target.profile, target.base, ctx.workspace.root
        overlays = target.earlier.get("overlays")
        specs = overlays.resolved.order if overlays is not None else ()
        plan = LocalesPlan()
        if profile.locales:
            plan.props[DEFAULT_LOCALE_PROP] = profile.locales[0]
            plan.props[LOCALES_PROP] = ",".join(profile.locales)
        packs = require_packs(root / "locales", profile.locales)
        if packs and "product" not in profile.partitions:
            raise ConfigError(f"profile {profile.profile} ships locale packs but builds no product partition",
                              file=profile.files[0])
        source_dir = root / "source"
        for locale, folder in packs.items():
            pack = load_pack(folder, shown=os.path.relpath(folder, root))
            if pack.locale != locale:
                raise pack.doc.error(f"'locale' is {pack.locale!r} but the folder is locales/{locale}: they must "
                                     "match", "locale")
            sources = resolve_sources(pack.targets, source_dir=source_dir if source_dir.is_dir() else None,
                                      rom=base, display_base=root, where=pack.shown)
            with_overlay_strings(sources, specs)
            findings = check_pack(pack, sources)
            if errors_in(findings):
                raise CheckFailed(f"locale pack {locale}: {summary(findings)}; nothing was built", findings)
            plan.warnings += findings
            plan.packs.append(pack)
            for app in pack.targets:
                plan.files[(pack.locale, app)] = _pack_bytes(pack, app)
        return plan


LOCALE_PACKS = LocalePacksFeature()

"""Locale packs in the build: checked in plan (errors stop the build, exit 3), shipped in apply.

Each enabled pack becomes one static RRO per target package under product/overlay,
the profile's locales go into the product build.prop, and build-info.json records each
pack's version and content hash (through the plan's inputs).
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from romforge.run import cores as jobserver
from romforge.run import cache as runcache
from romforge.errors import CheckFailed, ConfigError
from romforge.locales.check import check_pack, errors_in, summary
from romforge.locales.keypad import Keypad
from romforge.locales import t9file
from romforge.locales.pack import LocalePack, load_pack, require_packs
from romforge.locales.pinyin import NameTables, PinyinData
from romforge.locales.resxml import ResFinding
from romforge.locales.sources import resolve_sources, with_overlay_strings
from romforge.overlays.spec import OverlaySpec
from romforge.profile import DeviceProfile
from romforge.rro import build_rro
from romforge.tree import RomTree

OVERLAY_DIR = "overlay"
T9_DATA_DIR = "etc/t9"
OVERLAY_PRIORITY = 20
LOCALES_PROP = "ro.romforge.locales"
DEFAULT_LOCALE_PROP = "ro.product.locale"


@dataclass
class LocalesPlan:
    packs: list[LocalePack] = field(default_factory=list)
    warnings: list[ResFinding] = field(default_factory=list)
    props: dict[str, str] = field(default_factory=dict)
    extra_files: dict[str, bytes] = field(default_factory=dict)  # product path → bytes (T9 data)

    def inputs(self) -> dict:
        """What build-info.json records: every pack's version and content hash."""
        return {p.locale: {"version": p.version, "sha256": p.sha256, "targets": list(p.targets)}
                for p in self.packs}


def overlay_name(pack: LocalePack, target: str) -> tuple[str, str]:
    """(product path, overlay package) named after locale and target package."""
    return (f"{OVERLAY_DIR}/romforge-locale-{pack.locale}-{target}.apk",
            f"{target}.locale.{pack.tag.identifier}")


def plan_locales(workspace_root: Path, profile: DeviceProfile, base: RomTree,
                 overlays: Iterable[OverlaySpec] = ()) -> LocalesPlan:
    """Load and check every pack the profile enables; raises CheckFailed with the pack's findings.

    The strings the device's feature overlays add to an app count as source strings too."""
    plan = LocalesPlan()
    if profile.locales:
        plan.props[DEFAULT_LOCALE_PROP] = profile.locales[0]
        plan.props[LOCALES_PROP] = ",".join(profile.locales)
    packs = require_packs(workspace_root / "locales", profile.locales)
    if packs and "product" not in profile.partitions:
        raise ConfigError(f"profile {profile.profile} ships locale packs but builds no product partition",
                          file=profile.files[0])
    source_dir = workspace_root / "source"
    for locale, folder in packs.items():
        pack = load_pack(folder, shown=os.path.relpath(folder, workspace_root))
        if pack.locale != locale:
            raise pack.doc.error(f"'locale' is {pack.locale!r} but the folder is locales/{locale}: they must "
                                 "match", "locale")
        sources = resolve_sources(pack.targets, source_dir=source_dir if source_dir.is_dir() else None, rom=base,
                                  display_base=workspace_root, where=pack.shown)
        with_overlay_strings(sources, overlays)
        findings = check_pack(pack, sources)
        if errors_in(findings):
            raise CheckFailed(f"locale pack {locale}: {summary(findings)}; nothing was built", findings)
        plan.warnings += [f for f in findings]
        plan.packs.append(pack)
        [t9] = runcache.make_all([(f"t9-{pack.locale}-{pack.sha256}", functools.partial(_t9_bytes, pack))])
        if t9:
            plan.extra_files[t9_data_path(pack.locale)] = t9
    return plan


def t9_data_path(locale: str) -> str:
    return f"{T9_DATA_DIR}/{locale}.t9"


def t9_data(pack: LocalePack) -> PinyinData | None:
    """What a dialer needs for this locale: pinyin data for Chinese packs, the keypad for others that bring one."""
    if pack.tag.language == "zh":
        return PinyinData.compile(pack.t9_names, pack.keypad, locale=pack.locale, version=pack.version)
    if pack.keypad is not None or pack.t9_names is not None:
        return PinyinData({}, {}, pack.t9_names or NameTables(), pack.keypad or Keypad.standard(), pack.locale,
                          pack.version)
    return None


def _t9_bytes(pack: LocalePack) -> bytes:
    """The pack's T9 data file; empty when the pack has none."""
    data = t9_data(pack)
    return t9file.to_bytes(data) if data is not None else b""


def _rro(pack: LocalePack, target: str) -> tuple[str, Callable[[], bytes]]:
    """(key of its inputs, how to build it) of the pack's RRO for one app."""
    package = overlay_name(pack, target)[1]
    files = pack.files_for(target)
    key = "locale-rro-" + hashlib.sha256("\0".join(
        [package, target, pack.qualifier, pack.version] +
        [f"{f.path.name}:{hashlib.sha256(f.path.read_bytes()).hexdigest()}" for f in files]).encode()).hexdigest()

    def make() -> bytes:
        with tempfile.TemporaryDirectory(prefix="romforge-locale-rro-") as tmp:
            values = Path(tmp, "res", f"values-{pack.qualifier}")
            values.mkdir(parents=True)
            for f in files:
                shutil.copyfile(f.path, values / f.path.name)
            out = Path(tmp, "overlay.apk")
            build_rro(Path(tmp, "res"), out, package=package, target_package=target, priority=OVERLAY_PRIORITY,
                      version_name=pack.version)
            return out.read_bytes()

    return key, make


def apply_locales(plan: LocalesPlan, tree: RomTree) -> list[str]:
    """Write the packs' overlays, T9 data and locale props into the staged tree; returns the paths written."""
    jobs = [(pack, target) for pack in plan.packs for target in pack.targets]
    with jobserver.borrow(len(jobs)) as cores:  # aapt2 and apksigner runs
        built = runcache.make_all([_rro(*job) for job in jobs], threads=cores)
    written = []
    for (pack, target), data in zip(jobs, built):
        path = overlay_name(pack, target)[0]
        tree.write_file("product", path, data)
        written.append(path)
    for path, data in sorted(plan.extra_files.items()):
        tree.write_file("product", path, data)
        written.append(path)
    if plan.props:
        prop = tree.build_prop("product")
        if prop is not None:
            for key, value in plan.props.items():
                prop.set(key, value)
            tree.write_build_prop("product", prop)
    return written

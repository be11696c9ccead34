"""The build flow: plan → stage → apply → check → package, each step a function.

plan() reads and validates every input and writes nothing; everything after it works in
a temporary directory inside the release store that becomes releases/<device>/<version>/
only when the whole build succeeded.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from romforge import __version__
from romforge.bootscreen.credits import CreditsPlan, apply_credits, check_credits, credits_for_build
from romforge.elf import check_elf_tree
from romforge.errors import CheckFailed, ConfigError, Finding, InputError, ReleaseError
from romforge.overlays.apply import OverlayPlan, apply_overlays, plan_overlays
from romforge.locales.shipping import LocalesPlan, apply_locales, plan_locales
from romforge.profile import DeviceProfile, load_profile
from romforge.run.progress import NullProgress, Progress
from romforge.release.store import (BUILD_INFO, check_store, check_version, read_build_info, release_dir,
                               release_slot)
from romforge.tree import RomTree, sha256_file, stage, write_target_files
from romforge.workspace import Workspace

TARGET_FILES = "target-files.zip"


@dataclass(frozen=True)
class BuildRequest:
    device: str
    version: str
    date: str | None = None  # from the CLI: YYYY-MM-DD or an ISO 8601 date-time
    base: Path | None = None  # overrides romforge.toml's base_rom
    out: Path | None = None  # overrides romforge.toml's release store


@dataclass
class BuildPlan:
    """Everything the later steps need, resolved and checked before anything is written."""

    workspace: Workspace
    profile: DeviceProfile
    version: str
    base: RomTree
    build_utc: int
    build_date_source: str
    store: Path
    release: Path
    stamps: dict[str, dict[str, str]]
    inputs: dict
    fingerprint: str
    credits: CreditsPlan | None = None  # boot-screen credits (romforge/bootscreen/credits.py)
    overlays: OverlayPlan | None = None
    locales: LocalesPlan = field(default_factory=LocalesPlan)
    ota_key: Any = None  # romforge.ota.keys.OtaKey for A/B devices


@dataclass
class BuildResult:
    device: str
    version: str
    release: Path
    target_files: Path
    build_info: dict
    reused: bool = False  # the same inputs were already released
    findings: list[Finding] = field(default_factory=list)


# ---- plan ---------------------------------------------------------------------------


def _parse_date(text: str, *, origin: str) -> int:
    try:
        if len(text) == 10:
            when = dt.datetime.fromisoformat(text).replace(tzinfo=dt.timezone.utc)
        else:
            when = dt.datetime.fromisoformat(text.replace(" ", "T"))
            if when.tzinfo is None:
                when = when.replace(tzinfo=dt.timezone.utc)
    except ValueError:
        raise ConfigError(f"{origin}: {text!r} is not a date (YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ)") from None
    return int(when.timestamp())


def resolve_build_date(request: BuildRequest, profile: DeviceProfile, base_system_utc: str | None) -> tuple[int, str]:
    """The build date comes from the inputs, never the clock: CLI, SOURCE_DATE_EPOCH, profile, base ROM."""
    if request.date:
        return _parse_date(request.date, origin="--date"), "cli"
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch:
        if not epoch.isdigit():
            raise ConfigError(f"SOURCE_DATE_EPOCH={epoch!r} is not a number of seconds")
        return int(epoch), "SOURCE_DATE_EPOCH"
    if profile.build_date:
        return _parse_date(profile.build_date, origin=f"{profile.files[0].name}: build_date"), "profile"
    if base_system_utc and base_system_utc.isdigit():
        return int(base_system_utc), "base-rom"
    raise ConfigError("no build date: pass --date YYYY-MM-DD, set SOURCE_DATE_EPOCH or build_date in the profile")


def _date_text(utc: int) -> str:
    return dt.datetime.fromtimestamp(utc, dt.timezone.utc).strftime("%a %b %d %H:%M:%S UTC %Y")


def plan_stamps(ws: Workspace, profile: DeviceProfile, base: RomTree, version: str,
                build_utc: int) -> tuple[dict[str, dict[str, str]], str]:
    """The build.prop values that make this build identifiable: version, date, device, fingerprint."""
    system = base.build_prop("system")
    if system is None:
        raise InputError("the base ROM has no system build.prop", file=base.name)
    release = system.get("ro.build.version.release") or system.get("ro.system.build.version.release") or "0"
    build_id = system.get("ro.build.id") or system.get("ro.system.build.id") or "UNKNOWN"
    build_type = system.get("ro.build.type") or "user"
    tags = system.get("ro.build.tags") or "release-keys"
    fingerprint = (f"{profile.brand}/{profile.name}/{profile.codename}:{release}/{build_id}/{version}:"
                   f"{build_type}/{tags}")
    stamps: dict[str, dict[str, str]] = {}
    for partition in base.partitions():
        if partition not in profile.partitions or base.build_prop(partition) is None:
            continue
        values = {
            f"ro.product.{partition}.brand": profile.brand,
            f"ro.product.{partition}.device": profile.codename,
            f"ro.product.{partition}.manufacturer": profile.manufacturer,
            f"ro.product.{partition}.model": profile.model,
            f"ro.product.{partition}.name": profile.name,
            f"ro.{partition}.build.date": _date_text(build_utc),
            f"ro.{partition}.build.date.utc": str(build_utc),
            f"ro.{partition}.build.fingerprint": fingerprint,
            f"ro.{partition}.build.version.incremental": version,
        }
        if partition == "system":
            values.update({
                "ro.build.version.incremental": version,
                "ro.build.display.id": f"{ws.rom_name} {version} ({profile.codename})",
                "ro.build.date": _date_text(build_utc),
                "ro.build.date.utc": str(build_utc),
                "ro.build.flavor": f"{profile.name}-{build_type}",
                "ro.romforge.version": version,
                "ro.romforge.device": profile.codename,
            })
        if partition == "vendor":
            values["ro.sf.lcd_density"] = str(profile.screen.density)
        stamps[partition] = values
    return stamps, fingerprint


def plan(ws: Workspace, request: BuildRequest) -> BuildPlan:
    """Resolve and check every input; raises RomforgeError and writes nothing."""
    check_version(request.version)
    profile = load_profile(request.device, ws.profile_dirs)
    store = request.out or ws.releases
    check_store(store)
    base_path = request.base or ws.base_rom
    if base_path is None:
        raise ConfigError("no base ROM: set workspace.base_rom in romforge.toml or pass --base",
                          file=ws.config_file)
    base = RomTree.open(Path(base_path))
    missing = [p for p in profile.partitions if p not in base.partitions()]
    if missing:
        raise InputError(f"profile {profile.profile} builds {', '.join(missing)}, which the base ROM lacks",
                         file=Path(base_path))
    system = base.build_prop("system")
    build_utc, date_source = resolve_build_date(request, profile,
                                                system.get("ro.build.date.utc") if system else None)
    stamps, fingerprint = plan_stamps(ws, profile, base, request.version, build_utc)
    overlays = plan_overlays(ws.root / "overlays", profile, base, key_prefix=ws.overlay_key, reserved_props=stamps)
    inputs = {
        "profile": {
            "chain": list(profile.chain),
            "files": {p.name: sha256_file(p) for p in profile.files},
            "resolved_sha256": hashlib.sha256(profile.digest_source()).hexdigest(),
        },
        "base_rom": {"name": base.name, "sha256": base.content_digest()},
        "workspace": {"romforge.toml": ws.config_sha256},
        "build_date_utc": build_utc,
        "romforge": __version__,
        "overlays": overlays.inputs(),
    }
    credits = credits_for_build(ws.root, profile, base)
    if credits is not None:
        inputs["credits"] = credits.inputs()
    locales = plan_locales(ws.root, profile, base, overlays.resolved.order if overlays is not None else ())
    inputs["locale_packs"] = locales.inputs()
    from romforge.ota.release import resolve_key

    ota_key = resolve_key(ws, profile)
    if ota_key is not None:
        inputs["ota_key"] = {"certificate_sha256": sha256_file(ota_key.cert)}
    return BuildPlan(ws, profile, request.version, base, build_utc, date_source, store,
                     release_dir(store, profile.profile, request.version), stamps, inputs, fingerprint,
                     credits=credits, overlays=overlays, locales=locales, ota_key=ota_key)


# ---- apply / check ------------------------------------------------------------------


def apply_stamps(p: BuildPlan, tree: RomTree) -> None:
    for partition, values in p.stamps.items():
        prop = tree.build_prop(partition)
        assert prop is not None  # plan only stamps partitions that have one
        for key, value in values.items():
            prop.set(key, value)
        tree.write_build_prop(partition, prop)


def apply(p: BuildPlan, tree: RomTree) -> None:
    """Change the staged tree: overlays in their resolved order, locale packs, the build's identity
    stamps, then the boot-screen credits."""
    if p.overlays is not None:
        apply_overlays(p.overlays, tree)
    apply_locales(p.locales, tree)
    apply_stamps(p, tree)
    if p.credits is not None:
        apply_credits(p.credits, tree)


def check(p: BuildPlan, tree: RomTree) -> list[Finding]:
    """Look at the finished tree the way a device would; errors stop the build."""
    findings: list[Finding] = list(p.locales.warnings)
    for partition, values in p.stamps.items():
        prop = tree.build_prop(partition)
        where = f"{partition}/{'build.prop' if partition in ('system', 'vendor') else 'etc/build.prop'}"
        for key, value in values.items():
            if prop is None or prop.get(key) != value:
                findings.append(Finding(where, prop.line_of(key) if prop else None, "stamp-missing", "error",
                                        f"{key} should be {value!r} after stamping"))
    unlabeled = [e for e in tree.iter_entries() if not e.meta.selabel]
    if unlabeled:
        findings.append(Finding(unlabeled[0].fs_config_path, None, "selinux-unlabeled", "warning",
                                f"{len(unlabeled)} entries have no SELinux label (first: {unlabeled[0].device_path}); "
                                "images will not boot with SELinux enforcing"))
    findings += check_elf_tree(tree, p.profile.abis, p.profile.page_size, device=p.profile.profile,
                               origins=p.overlays.origins if p.overlays else None,
                               removed=p.overlays.removed if p.overlays else None)
    if p.credits is not None:
        findings += check_credits(p.credits, tree)
    return findings


# ---- package ------------------------------------------------------------------------


def package(p: BuildPlan, tree: RomTree, out: Path, findings: list[Finding], progress: Progress) -> dict:
    """Write the release's artifacts into `out` and return build-info."""
    from romforge.ota.release import IMAGES_DIR, OTA_FULL, release_full_ota, release_images
    from romforge.tree import image_name

    out.mkdir()
    images = release_images(p.profile, tree, out / IMAGES_DIR, out.parent / "image-work", progress)
    stale = {f"IMAGES/{part}.img" for part in tree.partitions()} | {f"IMAGES/{part}.map" for part in tree.partitions()}
    progress.step("package target-files.zip", total=len(tree.entries) + len(tree.extras) + 16)
    write_target_files(tree, out / TARGET_FILES, skip_extras=lambda name: name in stale,
                       progress=progress.advance, add_files={image_name(n): i.path for n, i in images.items()})
    ota_full = release_full_ota(p.profile, tree, images, out / OTA_FULL, p.ota_key, out.parent / "ota-work", progress)
    info = {
        "schema": 1,
        "device": p.profile.profile,
        "codename": p.profile.codename,
        "model": p.profile.model,
        "version": p.version,
        "fingerprint": p.fingerprint,
        "build_date": dt.datetime.fromtimestamp(p.build_utc, dt.timezone.utc).isoformat().replace("+00:00", "Z"),
        "build_date_source": p.build_date_source,
        "inputs": p.inputs,
        "stamps": p.stamps,
        "overlays": p.overlays.summary() if p.overlays else [],
        "changed_files": [name for name in tree.changed_files()],
        "warnings": [f.format() for f in findings if f.severity == "warning"],
        "outputs": {TARGET_FILES: {"size": (out / TARGET_FILES).stat().st_size,
                                   "sha256": sha256_file(out / TARGET_FILES)}},
    }
    if p.credits is not None:
        info["credits"] = p.credits.summary()
    info["outputs"].update({f"{IMAGES_DIR}/{n}.img": i.to_dict() for n, i in sorted(images.items())})
    if ota_full is not None:
        info["outputs"][OTA_FULL] = ota_full.to_dict()
    (out / BUILD_INFO).write_text(json.dumps(info, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
    return info


# ---- the whole flow ------------------------------------------------------------------


def overlay_notes(p: BuildPlan) -> list[str]:
    """One line per applied overlay, then what it did: what the build log shows."""
    if p.overlays is None:
        return []
    lines = [f"RROs signed with the {p.overlays.signing}"] if p.overlays.apks else []
    for item in p.overlays.summary():
        lines.append(f"overlay {item['name']} {item['version']}")
        lines += [f"  {action}" for action in item["actions"]]
    lines += [f"overlay {name} skipped: {why}" for name, why in p.overlays.resolved.skipped]
    return lines


def build(ws: Workspace, request: BuildRequest, progress: Progress | None = None,
          finish: Callable[[BuildPlan, Path, dict], None] | None = None) -> BuildResult:
    """Build one device's release, or reuse it when the same inputs were already released.

    `finish(plan, release_dir, build_info)` may add files (deltas, notes) to the release
    before it is renamed into place, so they land atomically with it."""
    progress = progress or NullProgress()
    progress.step("plan")
    p = plan(ws, request)
    if p.release.exists():
        previous = read_build_info(p.release)
        if previous is not None and previous.get("inputs") == p.inputs:
            return BuildResult(p.profile.profile, p.version, p.release, p.release / TARGET_FILES, previous,
                               reused=True)
        raise ReleaseError("release already exists and was built from different inputs; releases are never "
                           "overwritten", file=p.release, hint="pick a new --version")
    with release_slot(p.store, p.profile.profile, p.version) as tmp:
        progress.step("stage")
        tree = stage(p.base, tmp / "work")
        progress.step("apply")
        apply(p, tree)
        for line in overlay_notes(p):
            progress.note(line)
        progress.step("check")
        findings = check(p, tree)
        errors = [f for f in findings if f.severity == "error"]
        if errors:
            raise CheckFailed(f"{len(errors)} check(s) failed; nothing was released", findings)
        for warning in findings:
            progress.note(warning.format())
        info = package(p, tree, tmp / "release", findings, progress)
        if finish is not None:
            progress.step("finish release")
            finish(p, tmp / "release", info)
    return BuildResult(p.profile.profile, p.version, p.release, p.release / TARGET_FILES, info,
                       findings=findings)

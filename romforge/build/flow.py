"""The build flow: plan → stage → apply → check → package, each step a function.

plan() reads and validates every input and writes nothing; stage, apply and check work in a
private temporary directory, so a problem found there leaves the workspace untouched; package
writes into a temporary sibling inside the release store that becomes
releases/<device>/<version>/ only when the whole build succeeded. The features (overlays, locale packs, credits, and any
other the context lists) are looped over in order; this module names none of them.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from romforge.build.features import Report
from romforge.build.plan import BuildPlan, BuildRequest, plan
from romforge.build.record import BuildInfo, SCHEMA, read_build_info, write_build_info
from romforge.build.stamps import apply_stamps, check_stamps
from romforge.elf import ElfFacts, check_elf_tree, read_base_facts
from romforge.errors import CheckFailed, Finding, ReleaseError
from romforge.release.store import release_slot
from romforge.ota.otacerts import write_otacerts
from romforge.run.cache import private_directory
from romforge.run.context import BuildContext
from romforge.run.progress import Progress
from romforge.tree import RomTree, image_name, sha256_file, stage, write_target_files
from romforge.workspace import Workspace

TARGET_FILES = "target-files.zip"
STAGE_PREFIX = "romforge-stage-"  # the staged trees of running builds, in the system's temporary directory


@dataclass
class BuildResult:
    device: str
    version: str
    release: Path
    target_files: Path
    build_info: BuildInfo
    reused: bool = False  # the same inputs were already released
    findings: list[Finding] = field(default_factory=list)


Applied = list[tuple[str, Report]]  # (feature name, what its apply reported), in order


def apply(ctx: BuildContext, p: BuildPlan, tree: RomTree) -> Applied:
    """Change the staged tree: every feature in order, then the build's identity stamps."""
    applied = []
    for feature in p.features:
        report = feature.apply(ctx, tree)
        for line in report.notes:
            ctx.progress.note(line)
        applied.append((feature.name, report))
    apply_stamps(p.stamps, tree)
    if p.ota_trust is not None:
        written = write_otacerts(tree, p.ota_trust)
        ctx.progress.note(f"OTA trust: {', '.join(written)} holds the certificate {p.ota_trust.name}")
    return applied


def _elf_known(ctx: BuildContext, p: BuildPlan) -> dict[bytes, ElfFacts]:
    """ELF facts of the base ROM's code, made once per run and shared by its builds."""
    key = f"elf-facts-{p.inputs['base_rom']['sha256']}"
    blob = ctx.cache.make(key, lambda: json.dumps(
        {digest.hex(): facts.to_json() for digest, facts in read_base_facts(p.base).items()}).encode())
    return {bytes.fromhex(digest): ElfFacts.from_json(facts) for digest, facts in json.loads(blob).items()}


def check(ctx: BuildContext, p: BuildPlan, tree: RomTree, applied: Applied) -> list[Finding]:
    """Look at the finished tree the way a device would, with what each feature reported; errors
    stop the build."""
    reports = dict(applied)
    origins = {k: v for _, r in applied for k, v in r.origins.items()}
    removed = {k: v for _, r in applied for k, v in r.removed.items()}
    findings: list[Finding] = []
    for feature in p.features:
        findings += feature.check(ctx, tree, reports[feature.name])
    findings += check_stamps(p.stamps, tree)
    unlabeled = [e for e in tree.iter_entries() if not e.meta.selabel]
    if unlabeled:
        findings.append(Finding(unlabeled[0].fs_config_path, None, "selinux-unlabeled", "warning",
                                f"{len(unlabeled)} entries have no SELinux label (first: {unlabeled[0].device_path}); "
                                "images will not boot with SELinux enforcing"))
    findings += check_elf_tree(tree, p.profile.abis, p.profile.page_size, device=p.profile.profile,
                               origins=origins, removed=removed, known=_elf_known(ctx, p))
    return findings


def package(ctx: BuildContext, p: BuildPlan, tree: RomTree, out: Path, findings: list[Finding],
            applied: Applied) -> BuildInfo:
    """Write the release's artifacts into `out` and return its build-info."""
    from romforge.ota.release import IMAGES_DIR, OTA_FULL, release_full_ota, release_images

    progress = ctx.progress
    out.mkdir()
    images = release_images(p.profile, tree, out / IMAGES_DIR, out.parent / "image-work", progress, cores=ctx.cores,
                            avb=p.avb, salt_seed=p.avb_salt_seed())
    stale = {f"IMAGES/{part}.img" for part in tree.partitions()} | {f"IMAGES/{part}.map" for part in tree.partitions()}
    stale |= {image_name(name) for name in images}  # the boot chain the release carries on
    progress.step("package target-files.zip", total=len(tree.entries) + len(tree.extras) + 16)
    write_target_files(tree, out / TARGET_FILES, skip_extras=lambda name: name in stale,
                       progress=progress.advance, add_files={image_name(n): i.path for n, i in images.items()})
    ota_full = release_full_ota(p.profile, tree, images, out / OTA_FULL, p.ota_key, out.parent / "ota-work", progress,
                                cores=ctx.cores, cache=ctx.cache.shared)
    outputs = {TARGET_FILES: {"size": (out / TARGET_FILES).stat().st_size, "sha256": sha256_file(out / TARGET_FILES)}}
    outputs.update({f"{IMAGES_DIR}/{n}.img": i.to_dict() for n, i in sorted(images.items())})
    if ota_full is not None:
        outputs[OTA_FULL] = ota_full.to_dict()
    summaries = {name: feature.summary(report) for feature, (name, report) in zip(p.features, applied)}
    info = BuildInfo(
        schema=SCHEMA, device=p.profile.profile, codename=p.profile.codename, model=p.profile.model,
        version=p.version, fingerprint=p.fingerprint,
        build_date=dt.datetime.fromtimestamp(p.build_utc, dt.timezone.utc).isoformat().replace("+00:00", "Z"),
        build_date_source=p.build_date_source, inputs=p.inputs, stamps=p.stamps,
        overlays=summaries.get("overlays") or [], changed_files=list(tree.changed_files()),
        warnings=[f.format() for f in findings if f.severity == "warning"], outputs=outputs,
        credits=summaries.get("credits"))
    write_build_info(info, out)
    return info


def build_release(ctx: BuildContext, request: BuildRequest, *, planned: BuildPlan | None = None,
                  finish: Callable[[BuildPlan, Path, BuildInfo], None] | None = None,
                  locked: bool = False) -> BuildResult:
    """Build one device's release, or reuse it when the same inputs were already released.

    `planned` is a plan made for this request already (the weekly train plans to choose the
    version); `finish(plan, release_dir, build_info)` may add files (deltas, notes) to the
    release before it is renamed into place, so they land atomically with it; `locked`: the
    caller holds the device's lock in the store (release.store.device_lock)."""
    progress = ctx.progress
    progress.step("plan")
    p = planned or plan(ctx, request)
    if p.release.exists():
        previous = read_build_info(p.release)
        if previous is not None and previous.inputs == p.inputs:
            return BuildResult(p.profile.profile, p.version, p.release, p.release / TARGET_FILES, previous,
                               reused=True)
        raise ReleaseError("release already exists and was built from different inputs; releases are never "
                           "overwritten", file=p.release, hint="pick a new --version")
    with private_directory(STAGE_PREFIX) as work:  # nothing goes near the release store before check passed
        progress.step("stage")
        tree = stage(p.base, work / "stage")
        progress.step("apply")
        applied = apply(ctx, p, tree)
        progress.step("check")
        findings = check(ctx, p, tree, applied)
        errors = [f for f in findings if f.severity == "error"]
        if errors:
            raise CheckFailed(f"{len(errors)} check(s) failed; nothing was released", findings)
        for warning in findings:
            progress.note(warning.format())
        with release_slot(p.store, p.profile.profile, p.version, locked=locked) as tmp:
            info = package(ctx, p, tree, tmp / "release", findings, applied)
            if finish is not None:
                progress.step("finish release")
                finish(p, tmp / "release", info)
    return BuildResult(p.profile.profile, p.version, p.release, p.release / TARGET_FILES, info,
                       findings=findings)


def build(ws: Workspace, request: BuildRequest, progress: Progress | None = None,
          finish: Callable[[BuildPlan, Path, BuildInfo], None] | None = None) -> BuildResult:
    """One standalone build: a run of its own (every core, the workspace's keys)."""
    return build_release(BuildContext.create(ws, progress=progress), request, finish=finish)

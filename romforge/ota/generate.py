"""Target-files in, signed A/B OTA package out: the library entry points behind `romforge ota diff`
and the build's ota-full.zip.

`ota_from_target_files(new, out, key, old=None)` is the one call the weekly release train
needs: a full OTA without `old`, an incremental one from `old` to `new` with it.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from romforge.outputs import make_parent
from romforge.numbers import ascii_uint
from romforge.run.cache import RunCache
from romforge.run.cores import Cores
from romforge.errors import InputError
from romforge.ota.delta import plan_delta
from romforge.ota.images import build_images
from romforge.ota.keys import OtaKey
from romforge.ota.package import BuildState, OtaMetadata, write_ota_package
from romforge.ota.bootchain import (PostInstall, copy_passthrough_images, delta_minor_version, ota_partitions,
                                    postinstall_steps)
from romforge.ota.caremap import care_map
from romforge.ota.payload import (DELTA_MINOR_VERSION, FULL_MINOR_VERSION, SUPPORTED_DELTA_MINORS, DynamicGroup,
                                  PartitionPlan, PayloadInfo, full_operations, write_payload)
from romforge.run.progress import NullProgress, Progress
from romforge.tree import DYNAMIC_PARTITIONS_INFO, FILE, RomTree, image_name, sha256_file

OTA_FULL = "ota-full.zip"


@dataclass(frozen=True)
class OtaResult:
    path: Path
    kind: str  # "full" | "incremental"
    size: int
    sha256: str
    payload: PayloadInfo
    partitions: tuple[str, ...]

    def to_dict(self) -> dict:
        return {"kind": self.kind, "size": self.size, "sha256": self.sha256,
                "payload_size": self.payload.size, "partitions": list(self.partitions)}


def build_state(tree: RomTree, partitions: tuple[str, ...] = ()) -> BuildState:
    """Device, fingerprint, incremental and timestamp from the system build.prop."""
    prop = tree.build_prop("system")
    if prop is None:
        raise InputError("has no system build.prop; cannot say which build an OTA installs", file=tree.name)

    def get(*keys: str) -> str:
        return next((prop.get(k) for k in keys if prop.get(k)), "") or ""

    device = get("ro.product.system.device", "ro.product.device", "ro.build.product")
    fingerprint = get("ro.build.fingerprint", "ro.system.build.fingerprint")
    stamp = get("ro.build.date.utc", "ro.system.build.date.utc")
    timestamp = ascii_uint(stamp)
    if not device or not fingerprint or timestamp is None:
        raise InputError("system build.prop lacks the device, fingerprint or ro.build.date.utc an OTA needs",
                         file=tree.name)
    return BuildState(device=device, fingerprint=fingerprint,
                      incremental=get("ro.build.version.incremental", "ro.system.build.version.incremental"),
                      timestamp=timestamp, sdk_level=get("ro.build.version.sdk", "ro.system.build.version.sdk"),
                      security_patch=get("ro.build.version.security_patch"), partitions=partitions)


def dynamic_groups(tree: RomTree, partitions: tuple[str, ...]) -> tuple[list[DynamicGroup], bool]:
    """Groups from META/dynamic_partitions_info.txt, limited to the partitions in the payload."""
    info = tree.dynamic_partitions_info()
    groups = []
    for name in info.get("super_partition_groups", "").split():
        members = tuple(p for p in info.get(f"super_{name}_partition_list", "").split() if p in partitions)
        size = ascii_uint(info.get(f"super_{name}_group_size", "0"))
        if size is None:
            raise InputError(f"super_{name}_group_size is not a number of bytes (ASCII digits)",
                             file=f"{tree.name}/{DYNAMIC_PARTITIONS_INFO}")
        if members:
            groups.append(DynamicGroup(name, size, members))
    return groups, info.get("virtual_ab") == "true"


def target_images(tree: RomTree, partitions: tuple[str, ...], workdir: Path, *,
                  cores: Cores | None = None) -> dict[str, Path]:
    """IMAGES/<partition>.img from the target-files (RADIO/ for firmware), or built from its tree
    when absent; a partition that has neither is refused (bootchain.copy_passthrough_images)."""
    missing: dict[str, str] = {}
    fs_types = tree.misc_info()
    trees = set(tree.partitions())
    for name in partitions:
        if name in trees and tree.extras.get(image_name(name)) != FILE:
            missing[name] = fs_types.get(f"{name}_fs_type", "erofs")
    images = {name: image.path for name, image in copy_passthrough_images(
        tree, [n for n in partitions if n not in missing], workdir, include_trees=True).items()}
    if missing:
        built = build_images(tree, missing, workdir, workdir=workdir / "staging", cores=cores)
        images.update({name: image.path for name, image in built.items()})
    return {name: images[name] for name in partitions}


def postinstall_plans(tree: RomTree, partitions: tuple[str, ...]) -> dict[str, PostInstall]:
    """The new build's postinstall steps, for the partitions the payload writes."""
    return {step.partition: step for step in postinstall_steps(tree) if step.partition in partitions}


def write_ota(out: Path, key: OtaKey, new_images: Mapping[str, Path], new_state: BuildState, *,
              old_images: Mapping[str, Path] | None = None, old_state: BuildState | None = None,
              groups: list[DynamicGroup] | None = None, snapshot: bool = False, workdir: Path,
              progress: Progress | None = None, cores: Cores | None = None,
              cache: RunCache | None = None, minor_version: int = DELTA_MINOR_VERSION,
              postinstall: Mapping[str, PostInstall] | None = None, care_map: bytes | None = None) -> OtaResult:
    """Payload from images (full, or incremental when old images are given), then the signed zip.

    An incremental payload is written at `minor_version` (the source build's, see
    bootchain.delta_minor_version); `postinstall` and the security patch level go into the
    manifest, `care_map` (care_map.pb) into the zip. With a run's `cache`, compressed
    full-OTA chunks are shared with its other builds."""
    progress = progress or NullProgress()
    names = tuple(new_images)
    if old_images is not None and set(old_images) != set(new_images):
        raise InputError(f"old and new builds have different partitions ({', '.join(sorted(old_images))} vs "
                         f"{', '.join(sorted(new_images))}); make a full OTA instead")
    plans = []
    for name in names:
        new = Path(new_images[name])
        progress.step(f"{'diff' if old_images else 'compress'} {name}")
        if old_images is None:
            operations = full_operations(new, cache=cache, cores=cores)
            old_size = old_sha = None
        else:
            old = Path(old_images[name])
            operations = plan_delta(old, new, minor_version=minor_version, cache=cache, cores=cores)
            old_size, old_sha = old.stat().st_size, bytes.fromhex(sha256_file(old))
        step = (postinstall or {}).get(name)
        plans.append(PartitionPlan(name, new.stat().st_size, bytes.fromhex(sha256_file(new)), operations,
                                   old_size, old_sha, version=str(new_state.timestamp),
                                   filesystem=step.filesystem_type or None if step else None,
                                   postinstall_path=step.path if step else None,
                                   postinstall_optional=step.optional if step else False))
    progress.step("payload.bin")
    payload = workdir / "payload.bin"
    info = write_payload(payload, plans, key, minor_version=minor_version if old_images else FULL_MINOR_VERSION,
                         max_timestamp=new_state.timestamp, dynamic_groups=groups or (), snapshot=snapshot,
                         security_patch_level=new_state.security_patch)
    progress.step("sign OTA package")
    metadata = OtaMetadata(post=new_state, pre=old_state if old_images else None)
    write_ota_package(out, payload, info.properties(), info.metadata_size + info.metadata_signature_size,
                      metadata, key, workdir=workdir, care_map=care_map)
    payload.unlink()
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    return OtaResult(out, "incremental" if old_images else "full", out.stat().st_size, digest, info, names)


def ota_from_target_files(new: Path | RomTree, out: Path, key: OtaKey, *, old: Path | RomTree | None = None,
                          progress: Progress | None = None, cores: Cores | None = None,
                          cache: RunCache | None = None) -> OtaResult:
    """A signed OTA package at `out` that installs `new` (from `old` when given).

    Images come from IMAGES/ in the target-files, or are built from their trees. The
    package is written next to `out` and renamed into place only when complete."""
    new_tree = new if isinstance(new, RomTree) else RomTree.open(Path(new))
    old_tree = old if isinstance(old, RomTree) or old is None else RomTree.open(Path(old))
    out = Path(out)
    if out.exists():
        raise InputError("already exists; OTA packages are never overwritten", file=out)
    partitions = ota_partitions(new_tree)
    new_state = build_state(new_tree, partitions)
    old_state = build_state(old_tree, partitions) if old_tree is not None else None
    if old_state is not None and old_state.device != new_state.device:
        raise InputError(f"old build is for {old_state.device!r}, new build for {new_state.device!r}",
                         file=old_tree.name if old_tree else None)
    groups, snapshot = dynamic_groups(new_tree, partitions)
    make_parent(out, what="OTA package")
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    try:
        (work / "new").mkdir()
        progress = progress or NullProgress()
        progress.step("images")
        new_images = target_images(new_tree, partitions, work / "new", cores=cores)
        old_images = None
        if old_tree is not None:
            (work / "old").mkdir()
            old_images = target_images(old_tree, partitions, work / "old", cores=cores)
        minor = (delta_minor_version(old_tree, highest=DELTA_MINOR_VERSION, lowest=min(SUPPORTED_DELTA_MINORS))
                 if old_tree is not None else DELTA_MINOR_VERSION)
        result = write_ota(work / out.name, key, new_images, new_state, old_images=old_images, old_state=old_state,
                           groups=groups, snapshot=snapshot, workdir=work, progress=progress, cores=cores,
                           cache=cache, minor_version=minor, postinstall=postinstall_plans(new_tree, partitions),
                           care_map=care_map(new_tree, new_images))
        (work / out.name).rename(out)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return OtaResult(out, result.kind, result.size, result.sha256, result.payload, result.partitions)

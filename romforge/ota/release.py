"""The OTA side of `romforge build`: which key signs, the partition images of a release and its
ota-full.zip. build.py calls these; everything format-specific stays in this package."""

from __future__ import annotations

import shutil
from pathlib import Path

from romforge.avb.build import AvbPlan
from romforge.ota.avbstep import verified_boot
from romforge.errors import ConfigError
from romforge.ota.bootchain import copy_passthrough_images, ota_partitions
from romforge.ota.caremap import care_map
from romforge.ota.generate import OTA_FULL, OtaResult, build_state, dynamic_groups, postinstall_plans, write_ota
from romforge.ota.images import PartitionImage, build_images
from romforge.ota.keys import OtaKey, load_signing_key
from romforge.profile import DeviceProfile
from romforge.run.cache import RunCache
from romforge.run.cores import Cores
from romforge.run.progress import Progress
from romforge.tree import RomTree
from romforge.workspace import Workspace, load_workspace

IMAGES_DIR = "images"


def resolve_key(ws: Workspace, profile: DeviceProfile) -> OtaKey | None:
    """The profile's [ota] signing_key (relative to the workspace), else romforge.toml's [signing]
    ota_key; None for non-A/B devices, which take no payload OTA."""
    if not profile.ab:
        return None
    if profile.ota_signing_key:
        return load_signing_key(ws.root / profile.ota_signing_key,
                                origin=f"[ota] signing_key of profile {profile.profile}")
    if ws.ota_key is not None:
        return load_signing_key(ws.ota_key, origin="[signing] ota_key in romforge.toml")
    raise ConfigError(f"no OTA signing key for {profile.profile}", file=ws.config_file,
                      hint="set [ota] signing_key in the profile or [signing] ota_key in romforge.toml; "
                           "`romforge ota keygen keys/releasekey` makes a TEST key")


def workspace_key(workspace: Path | None) -> OtaKey:
    ws = load_workspace(workspace, required=False)
    if ws.ota_key is None:
        raise ConfigError("no signing key given", hint="pass --key NAME (NAME.pk8 + NAME.x509.pem) or set "
                                                       "[signing] ota_key in romforge.toml")
    return load_signing_key(ws.ota_key, origin="[signing] ota_key in romforge.toml")


def release_images(profile: DeviceProfile, tree: RomTree, out_dir: Path, workdir: Path,
                   progress: Progress, cores: Cores | None = None, avb: AvbPlan | None = None,
                   salt_seed: bytes = b"") -> dict[str, PartitionImage]:
    """images/<partition>.img for every partition the profile builds, in the profile's filesystem,
    and (A/B devices) the rest of the boot chain META/ab_partitions.txt lists, as the base has it;
    with `avb`, footered and described by the vbmeta images signed beside them."""
    wanted = {p: fs for p, fs in profile.partitions.items() if p in tree.partitions()}
    progress.step("images", total=len(wanted))
    images = build_images(tree, wanted, out_dir, workdir=workdir, advance=progress.advance, cores=cores)
    if profile.ab:
        images.update(copy_passthrough_images(tree, [p for p in ota_partitions(tree) if p not in images], out_dir))
    return images if avb is None else verified_boot(images, tree, avb, out_dir, progress, cores, salt_seed)


def release_full_ota(profile: DeviceProfile, tree: RomTree, images: dict[str, PartitionImage], out: Path,
                     key: OtaKey | None, workdir: Path, progress: Progress, cores: Cores | None = None,
                     cache: RunCache | None = None) -> OtaResult | None:
    """ota-full.zip from the release's own images (A/B devices only)."""
    if key is None or not profile.ab:
        return None
    names = tuple(images)
    groups, snapshot = dynamic_groups(tree, names)
    paths = {n: images[n].path for n in names}
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        return write_ota(out, key, paths, build_state(tree, names), groups=groups, snapshot=snapshot,
                         workdir=workdir, progress=progress, cores=cores, cache=cache,
                         postinstall=postinstall_plans(tree, names), care_map=care_map(tree, paths))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


__all__ = ["IMAGES_DIR", "OTA_FULL", "release_full_ota", "release_images", "resolve_key", "workspace_key"]

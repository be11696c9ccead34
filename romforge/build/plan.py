"""plan: resolve and check every input of one build, and hash what it read; nothing runs, nothing is written.

The plan's `inputs` are what build-info.json records and what decides whether a release
with the same inputs already exists; every feature's plan holds the bytes it hashed, so
what the later steps ship is exactly what was recorded.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from romforge import __version__
from romforge.build.features import BuildTarget, FeaturePlan
from romforge.build.record import BUILD_INFO
from romforge.build.stamps import Stamps, plan_stamps, resolve_build_date
from romforge.errors import ConfigError, InputError
from romforge.profile import DeviceProfile, load_profile
from romforge.release.store import PARTIAL_MARK, check_store, check_version, release_dir
from romforge.run.cache import private_directory
from romforge.run.context import BuildContext
from romforge.ota.bootchain import check_passthrough_images
from romforge.ota.otacerts import trusted_certificate
from romforge.tree import RomTree, sha256_file


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

    profile: DeviceProfile
    version: str
    base: RomTree
    build_utc: int
    build_date_source: str
    store: Path
    release: Path
    stamps: Stamps
    fingerprint: str
    features: tuple[FeaturePlan, ...] = ()
    ota_key: Any = None  # romforge.ota.keys.OtaKey for A/B devices
    ota_trust: Path | None = None  # the certificate the release's otacerts.zip holds (ota/otacerts.py)
    avb: Any = None  # romforge.avb.build.AvbPlan when the base's misc_info.txt enables AVB
    inputs: dict[str, Any] = field(default_factory=dict)

    def avb_salt_seed(self) -> bytes:
        """What the AVB hash-tree salts are derived from: the device's identity in the profile, the
        same every week. The payload carries the hash trees, so with a stable salt an unchanged
        block keeps its digest and a weekly delta carries only the tree blocks that changed (a new
        salt each build would rewrite every tree: about 0.8 % of each image, incompressible)."""
        return hashlib.sha256(f"{self.profile.profile}\0{self.profile.codename}".encode()).digest()

    def feature(self, name: str) -> FeaturePlan | None:
        return next((f for f in self.features if f.name == name), None)


def _inputs(ctx: BuildContext, p: BuildPlan) -> dict[str, Any]:
    profile = p.profile
    inputs: dict[str, Any] = {
        "profile": {
            "chain": list(profile.chain),
            "files": {path.name: sha256_file(path) for path in profile.files},
            "resolved_sha256": hashlib.sha256(profile.digest_source()).hexdigest(),
        },
        "base_rom": {"name": p.base.name, "sha256": p.base.content_digest()},
        "workspace": {"romforge.toml": ctx.workspace.config_sha256},
        "build_date_utc": p.build_utc,
        "romforge": __version__,
    }
    for feature in p.features:
        inputs[feature.name] = feature.inputs()
    if p.ota_key is not None:
        inputs["ota_key"] = {"certificate_sha256": sha256_file(p.ota_key.cert)}
    if p.ota_trust is not None:
        inputs["ota_key"]["trusted_certificate_sha256"] = sha256_file(p.ota_trust)
    if p.avb is not None:
        inputs["avb"] = p.avb.inputs()
    return inputs


def _earlier_vbmeta(store: Path, device: str) -> list[Path]:
    """images/vbmeta.img of every release of the device already in the store."""
    from romforge.ota.release import IMAGES_DIR

    device_dir = store / device
    if not device_dir.is_dir():
        return []
    return sorted(d / IMAGES_DIR / "vbmeta.img" for d in device_dir.iterdir()
                  if PARTIAL_MARK not in d.name and (d / BUILD_INFO).is_file() and (d / IMAGES_DIR / "vbmeta.img").is_file())


def _plan_avb(ctx: BuildContext, profile: DeviceProfile, base: RomTree, store: Path) -> Any:
    from romforge.avb.build import plan_avb

    built = {p for p in profile.partitions if p in base.partitions()}
    with private_directory("romforge-avb-plan-") as work:
        return plan_avb(base, avb_key=ctx.keys.avb_key, built=built,
                        earlier_vbmeta=_earlier_vbmeta(store, profile.profile), work=work)


def plan(ctx: BuildContext, request: BuildRequest) -> BuildPlan:
    """Resolve and check every input; raises RomforgeError and writes nothing."""
    ws = ctx.workspace
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
    build_utc, date_source = resolve_build_date(request.date, profile,
                                                system.get("ro.build.date.utc") if system else None)
    stamps, fingerprint = plan_stamps(ws, profile, base, request.version, build_utc)
    planned: dict[str, FeaturePlan] = {}
    for feature in ctx.features:
        found = feature.plan(ctx, BuildTarget(profile, base, stamps, dict(planned)))
        if found is not None:
            planned[feature.name] = found
    p = BuildPlan(profile, request.version, base, build_utc, date_source, store,
                  release_dir(store, profile.profile, request.version), stamps, fingerprint,
                  features=tuple(planned.values()), ota_key=ctx.keys.ota_for(ws, profile),
                  avb=_plan_avb(ctx, profile, base, store))
    if p.ota_key is not None:  # A/B: every boot-chain image the OTA will write is there and fits
        check_passthrough_images(base)
    p.ota_trust = trusted_certificate(p.ota_key.cert if p.ota_key is not None else None, ws.ota_next_key)
    p.inputs = _inputs(ctx, p)
    return p


def retarget(ctx: BuildContext, p: BuildPlan, version: str, *, build_utc: int | None = None) -> BuildPlan:
    """The same plan for another version: the inputs do not depend on it, the stamps and the
    release directory do (the weekly train plans once, then picks the version); `build_utc`:
    the other version's build date (a weekly respin is dated after the build it replaces)."""
    check_version(version)
    utc = p.build_utc if build_utc is None else build_utc
    stamps, fingerprint = plan_stamps(ctx.workspace, p.profile, p.base, version, utc)
    return replace(p, version=version, stamps=stamps, fingerprint=fingerprint, build_utc=utc,
                   inputs={**p.inputs, "build_date_utc": utc},
                   release=release_dir(p.store, p.profile.profile, version))

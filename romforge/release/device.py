"""One device's weekly release: choose the version, build, add incremental OTAs, notes and release.json.

The version is chosen and the release built while holding the device's lock in the store,
so two runs of the same week never race: the second waits for the first and then finds
its releases with the same inputs, reused.
"""

from __future__ import annotations

import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from romforge.build import TARGET_FILES, BuildInfo, BuildPlan, BuildRequest, build_release, plan, read_build_info, retarget
from romforge.errors import InternalError, ReleaseError, RomforgeError
from romforge.profile import load_profile
from romforge.release.changelog import commits_since, head_commit, notes_for_device, render
from romforge.release.record import SCHEMA, Artifact, Delta, Notes, ReleaseRecord, read_release, write_release
from romforge.release.store import device_lock, release_dir
from romforge.release.forward import check_moves_forward
from romforge.release.versions import Version, release_utc, releases_of, utc_text, week_release_date
from romforge.run.cache import RunCache, RunResults
from romforge.run.context import BuildContext
from romforge.run.cores import Cores
from romforge.tree import RomTree, sha256_file
from romforge.updater.app import Names
from romforge.updater.phone import identity_of, properties_of
from romforge.workspace import load_workspace


@dataclass(frozen=True)
class DeviceJob:
    """Everything a worker (local process or dask task) needs; plain data so it pickles."""

    workspace: str
    device: str
    year: int
    week: int
    keep_deltas: int
    run_cache: str | None = None  # the run's shared results directory, for local runs
    cores: Cores | None = None  # the run's core budget (its semaphore is a manager proxy in a pool)


@dataclass
class DeviceOutcome:
    device: str
    status: str  # built | reused | failed
    version: str | None = None
    seconds: float = 0.0
    error: str | None = None
    exit_code: int = 0
    artifacts: dict[str, dict] = field(default_factory=dict)
    deltas: list[dict] = field(default_factory=list)
    release: str | None = None  # releases/<device>/<version>
    overlays: list[str] = field(default_factory=list)  # "name version" of each applied feature overlay


def choose_version(ctx: BuildContext, device: str, year: int, week: int) -> tuple[BuildPlan, bool]:
    """(plan, reuse): the week's latest release when its inputs are unchanged, else the next respin,
    decided from the planned inputs alone (the plan is then used for the build as it is). Each
    version is dated by release_utc: its week's Friday at [updater] release_time, a minute
    later per respin."""
    ws = ctx.workspace
    minutes = ws.updater.release_minutes
    existing = [v for v, _ in releases_of(ws.releases, device)]
    later = [v for v in existing if (v.year, v.week) > (year, week)]
    if later:
        raise ReleaseError(f"{max(later)} is already released; weekly releases only move forward",
                           file=release_dir(ws.releases, device, str(max(later))),
                           hint=f"build week {max(later).week_label} or later")
    this_week = [v for v in existing if (v.year, v.week) == (year, week)]
    first = max(this_week) if this_week else Version(year, week, 1)
    planned = plan(ctx, BuildRequest(device, str(first), utc_text(release_utc(first, minutes))))
    if not this_week:
        return planned, False
    previous = read_build_info(release_dir(ws.releases, device, str(first)))
    if previous is not None and previous.inputs == planned.inputs:
        return planned, True
    respin = Version(year, week, first.respin + 1)
    return retarget(ctx, planned, str(respin), build_utc=release_utc(respin, minutes)), False


def _reused(outcome: DeviceOutcome, where: Path) -> DeviceOutcome:
    record = read_release(where)
    info = read_build_info(where)
    outcome.status = "reused"
    if record is not None:
        outcome.artifacts = record.artifacts_json()
        outcome.deltas = record.deltas_json()
    outcome.overlays = info.overlay_names() if info is not None else []
    return outcome


def release_device(job: DeviceJob, *, cache: RunResults | None = None) -> DeviceOutcome:
    """Build one device's weekly release with its deltas and notes; never raises.

    `cache`: the run's results when the builds of a run share one process."""
    started = time.monotonic()
    outcome = DeviceOutcome(job.device, "failed")
    try:
        ws = load_workspace(Path(job.workspace))
        ctx = BuildContext.create(ws, cores=job.cores, cache=cache or RunResults(
            RunCache(Path(job.run_cache)) if job.run_cache else None))
        profile = load_profile(job.device, ws.profile_dirs)
        with ctx.cores.holding(), device_lock(ws.releases, profile.profile):
            _release(ctx, job, profile.profile, outcome)
    except RomforgeError as exc:
        outcome.error, outcome.exit_code = exc.format(), exc.exit_code
    except Exception:  # a bug in one device's build must not stop the train
        outcome.error = "internal error:\n" + traceback.format_exc()
        outcome.exit_code = InternalError.exit_code
    finally:
        outcome.seconds = time.monotonic() - started
    return outcome


def _release(ctx: BuildContext, job: DeviceJob, device: str, outcome: DeviceOutcome) -> None:
    ws = ctx.workspace
    date = week_release_date(job.year, job.week)
    planned, reuse = choose_version(ctx, device, job.year, job.week)
    outcome.version = planned.version
    outcome.release = str(planned.release)
    if reuse:
        _reused(outcome, planned.release)
        return
    version = Version.parse(planned.version)
    assert version is not None  # choose_version only makes weekly versions
    earlier = [(v, p) for v, p in releases_of(ws.releases, device) if v < version]
    check_moves_forward(ws, version, planned.build_utc, earlier)
    sources = earlier[-job.keep_deltas:] if job.keep_deltas > 0 else []
    previous = earlier[-1] if earlier else None
    previous_record = read_release(previous[1]) if previous else None
    commit = head_commit(ws.root)
    notes = notes_for_device(commits_since(ws.root, previous_record.source_commit if previous_record else None),
                             planned.profile, version=str(version), previous=str(previous[0]) if previous else None,
                             date=date, issues_url=ws.issues_url)

    def finish(p: BuildPlan, out: Path, info: BuildInfo) -> None:
        (out / "changelog.md").write_text(render(notes, "md"), encoding="utf-8")
        (out / "changelog.html").write_text(render(notes, "html"), encoding="utf-8")
        deltas = []
        for source_version, source_dir in (sources if p.ota_key is not None else []):  # A/B devices only
            name = f"ota-from-{source_version}.zip"
            write_delta(ctx, p, source_dir, out, out / name)
            deltas.append(Delta(file=name, size=(out / name).stat().st_size, sha256=sha256_file(out / name),
                                source=str(source_version)))
        record = ReleaseRecord(
            schema=SCHEMA, device=p.profile.profile, model=p.profile.model, version=str(version),
            week=version.week_label, date=date, datetime=p.build_utc, fingerprint=p.fingerprint,
            source_commit=commit, previous=str(previous[0]) if previous else None,
            # the build already hashed target-files, images and ota-full.zip
            artifacts={name: Artifact(size=o["size"], sha256=o["sha256"]) for name, o in sorted(info.outputs.items())},
            deltas=deltas, notes=Notes(md="changelog.md", html="changelog.html"), inputs=info.inputs,
            updater=identity_of(properties_of(RomTree.open(out / TARGET_FILES)), Names.of(ws.updater.properties)))
        write_release(record, out)
        outcome.artifacts, outcome.deltas = record.artifacts_json(), record.deltas_json()

    result = build_release(ctx, BuildRequest(device, str(version), date), planned=planned, finish=finish, locked=True)
    outcome.status = "reused" if result.reused else "built"
    outcome.overlays = result.build_info.overlay_names()


def write_delta(ctx: BuildContext, p: BuildPlan, source_release: Path, out: Path, dest: Path) -> None:
    """An incremental OTA from an earlier release's target-files to this one's, signed like ota-full."""
    from romforge.ota.generate import ota_from_target_files

    ota_from_target_files(out / "target-files.zip", dest, p.ota_key, old=source_release / "target-files.zip",
                          cores=ctx.cores, cache=ctx.cache.shared)




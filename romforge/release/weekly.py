"""The weekly release train: versions, one release per device, deltas, notes, index and site.

Versions are `YEAR.WEEK.RESPIN` (ISO year and week, respin from 1): `2026.48.1` is the
first build of ISO week 48 of 2026, `2026.48.2` a respin of it after its inputs changed.
They come from `--week` or `--date`, never from the clock; the build date of a week is its
Friday. Versions only move forward per device.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import time
import traceback
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from romforge.run import cores as jobserver
from romforge.run import cache as runcache
from romforge.build import BuildPlan, BuildRequest, build, plan
from romforge.release.changelog import commits_since, head_commit, notes_for_device, render
from romforge.errors import ConfigError, ReleaseError, RomforgeError
from romforge.profile import buildable_names, find_profiles, load_profile
from romforge.tree import sha256_file
from romforge.release.store import BUILD_INFO, PARTIAL_MARK, read_build_info, release_dir
from romforge.workspace import Workspace, load_workspace

RELEASE_JSON = "release.json"
_VERSION = re.compile(r"^(\d{4})\.(\d{1,2})\.(\d{1,3})$")
_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")


@dataclass(frozen=True, order=True)
class Version:
    year: int
    week: int
    respin: int

    @classmethod
    def parse(cls, text: str) -> "Version | None":
        m = _VERSION.match(text)
        return cls(int(m.group(1)), int(m.group(2)), int(m.group(3))) if m else None

    def __str__(self) -> str:
        return f"{self.year}.{self.week}.{self.respin}"

    @property
    def week_label(self) -> str:
        return f"{self.year}-W{self.week:02d}"


def resolve_week(week: str | None, date: str | None) -> tuple[int, int]:
    """(ISO year, ISO week) from `--week 2026-W48` or `--date 2026-11-27`."""
    if week:
        m = _WEEK.match(week)
        if not m:
            raise ConfigError(f"--week {week!r} is not an ISO week like 2026-W48")
        year, number = int(m.group(1)), int(m.group(2))
        try:
            dt.date.fromisocalendar(year, number, 1)
        except ValueError:
            raise ConfigError(f"--week {week!r}: {year} has no ISO week {number}") from None
        return year, number
    if date:
        try:
            day = dt.date.fromisoformat(date)
        except ValueError:
            raise ConfigError(f"--date {date!r} is not a date (YYYY-MM-DD)") from None
        iso = day.isocalendar()
        return iso.year, iso.week
    raise ConfigError("which week? pass --week 2026-W48 or --date YYYY-MM-DD (romforge never reads the clock "
                      "into a release)")


def week_release_date(year: int, week: int) -> str:
    """A week's releases are dated its Friday."""
    return dt.date.fromisocalendar(year, week, 5).isoformat()


def releases_of(store: Path, device: str) -> list[tuple[Version, Path]]:
    """Finished releases of a device, oldest first (partial and foreign directories ignored)."""
    found = []
    device_dir = store / device
    if not device_dir.is_dir():
        return []
    for child in device_dir.iterdir():
        version = Version.parse(child.name)
        if version and child.is_dir() and PARTIAL_MARK not in child.name and (child / BUILD_INFO).is_file():
            found.append((version, child))
    return sorted(found)


def read_release_json(path: Path) -> dict | None:
    try:
        return json.loads((path / RELEASE_JSON).read_text())
    except (OSError, ValueError):
        return None


# ---- one device ---------------------------------------------------------------------


@dataclass(frozen=True)
class DeviceJob:
    """Everything a worker (local process or dask task) needs; plain data so it pickles."""

    workspace: str
    device: str
    year: int
    week: int
    keep_deltas: int
    run_cache: str | None = None  # the run's shared results (runcache), for local runs


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


def _artifact(path: Path) -> dict:
    return {"size": path.stat().st_size, "sha256": sha256_file(path)}


def choose_version(ws: Workspace, device: str, year: int, week: int, date: str) -> tuple[Version, bool]:
    """(version, reuse): the week's latest release when its inputs are unchanged, else the next respin."""
    existing = [v for v, _ in releases_of(ws.releases, device)]
    later = [v for v in existing if (v.year, v.week) > (year, week)]
    if later:
        raise ReleaseError(f"{max(later)} is already released; weekly releases only move forward",
                           file=release_dir(ws.releases, device, str(max(later))),
                           hint=f"build week {max(later).week_label} or later")
    this_week = [v for v in existing if (v.year, v.week) == (year, week)]
    if not this_week:
        return Version(year, week, 1), False
    latest = max(this_week)
    previous = read_build_info(release_dir(ws.releases, device, str(latest)))
    planned = plan(ws, BuildRequest(device, str(latest), date))
    if previous is not None and previous.get("inputs") == planned.inputs:
        return latest, True
    return Version(year, week, latest.respin + 1), False


def release_device(job: DeviceJob) -> DeviceOutcome:
    """Build one device's weekly release with its deltas and notes; never raises."""
    started = time.monotonic()
    outcome = DeviceOutcome(job.device, "failed")
    try:
        ws = load_workspace(Path(job.workspace))
        profile = load_profile(job.device, ws.profile_dirs)
        date = week_release_date(job.year, job.week)
        version, reuse = choose_version(ws, profile.profile, job.year, job.week, date)
        outcome.version = str(version)
        where = release_dir(ws.releases, profile.profile, str(version))
        outcome.release = str(where)
        if reuse:
            info = read_release_json(where) or {}
            outcome.status = "reused"
            outcome.artifacts = info.get("artifacts", {})
            outcome.deltas = info.get("deltas", [])
            outcome.overlays = _overlay_names(read_build_info(where) or {})
            return outcome
        earlier = [(v, p) for v, p in releases_of(ws.releases, profile.profile) if v < version]
        sources = earlier[-job.keep_deltas:] if job.keep_deltas > 0 else []
        previous = earlier[-1] if earlier else None
        previous_commit = (read_release_json(previous[1]) or {}).get("source_commit") if previous else None
        commit = head_commit(ws.root)
        notes = notes_for_device(commits_since(ws.root, previous_commit), profile, version=str(version),
                                 previous=str(previous[0]) if previous else None, date=date,
                                 issues_url=ws.issues_url)

        def finish(p: BuildPlan, out: Path, info: dict) -> None:
            (out / "changelog.md").write_text(render(notes, "md"), encoding="utf-8")
            (out / "changelog.html").write_text(render(notes, "html"), encoding="utf-8")
            deltas = []
            for source_version, source_dir in (sources if p.ota_key is not None else []):  # A/B devices only
                name = f"ota-from-{source_version}.zip"
                write_delta(p, source_dir, out, out / name)
                deltas.append({"from": str(source_version), "file": name, **_artifact(out / name)})
            # the build already hashed target-files, images and ota-full.zip
            artifacts = {name: {"size": o["size"], "sha256": o["sha256"]}
                         for name, o in sorted(info["outputs"].items())}
            release = {
                "schema": 1,
                "device": p.profile.profile,
                "model": p.profile.model,
                "version": str(version),
                "week": version.week_label,
                "date": date,
                "datetime": p.build_utc,
                "fingerprint": p.fingerprint,
                "source_commit": commit,
                "previous": str(previous[0]) if previous else None,
                "artifacts": artifacts,
                "deltas": deltas,
                "notes": {"md": "changelog.md", "html": "changelog.html"},
                "inputs": info["inputs"],
            }
            (out / RELEASE_JSON).write_text(json.dumps(release, indent=2, sort_keys=True) + "\n")
            outcome.artifacts, outcome.deltas = artifacts, deltas

        result = build(ws, BuildRequest(profile.profile, str(version), date), finish=finish)
        outcome.status = "reused" if result.reused else "built"
        outcome.overlays = _overlay_names(result.build_info)
    except RomforgeError as exc:
        outcome.error, outcome.exit_code = exc.format(), exc.exit_code
    except Exception:  # a bug in one device's build must not stop the train
        outcome.error, outcome.exit_code = "internal error:\n" + traceback.format_exc(), 70
    finally:
        outcome.seconds = time.monotonic() - started
    return outcome


def _overlay_names(build_info: dict) -> list[str]:
    return [f"{o['name']} {o['version']}" for o in build_info.get("overlays", [])]


def write_delta(p: BuildPlan, source_release: Path, out: Path, dest: Path) -> None:
    """An incremental OTA from an earlier release's target-files to this one's, signed like ota-full."""
    from romforge.ota.generate import ota_from_target_files

    ota_from_target_files(out / "target-files.zip", dest, p.ota_key, old=source_release / "target-files.zip")


# ---- the train ----------------------------------------------------------------------


@dataclass
class WeeklyResult:
    week: str
    outcomes: list[DeviceOutcome]

    @property
    def failed(self) -> list[DeviceOutcome]:
        return [o for o in self.outcomes if o.status == "failed"]

    @property
    def exit_code(self) -> int:
        if not self.failed:
            return 0
        codes = {o.exit_code for o in self.failed}
        return 3 if codes == {3} else 1


def select_devices(ws: Workspace, devices: str) -> list[str]:
    if devices == "all":
        return list(ws.devices) or buildable_names(ws.profile_dirs)
    names = [d.strip() for d in devices.split(",") if d.strip()]
    if not names:
        raise ConfigError("--devices is empty; give 'all' or a comma-separated list")
    return list(dict.fromkeys(names))


def _release_holding_a_core(job: DeviceJob) -> DeviceOutcome:
    with jobserver.running(), runcache.using(Path(job.run_cache) if job.run_cache else None):
        return release_device(job)


def _run_local(jobs: list[DeviceJob], cores: int, at_once: int,
               done: Callable[[DeviceOutcome], None]) -> list[DeviceOutcome]:
    """Devices on a pool of `at_once` processes; the run never uses more than `cores` cores at once
    (jobserver): a build compresses on the cores the others leave."""
    results = []
    if at_once <= 1 or len(jobs) <= 1:
        with jobserver.budget_of(cores):
            for job in jobs:
                results.append(_release_holding_a_core(job))
                done(results[-1])
        return results
    budget = jobserver.new_budget(cores)
    with ProcessPoolExecutor(max_workers=at_once, initializer=jobserver.join, initargs=(budget,)) as pool:
        futures = {pool.submit(_release_holding_a_core, job): job for job in jobs}
        for future in as_completed(futures):
            try:
                outcome = future.result()
            except Exception as exc:  # the worker process died (killed, out of memory)
                outcome = DeviceOutcome(futures[future].device, "failed", error=f"worker died: {exc}",
                                        exit_code=70)
            results.append(outcome)
            done(outcome)
    return results


def _run_dask(jobs: list[DeviceJob], address: str, done: Callable[[DeviceOutcome], None]) -> list[DeviceOutcome]:
    try:
        from distributed import Client, as_completed as dask_completed
    except ImportError:  # pragma: no cover - a dependency of the project
        raise ConfigError("dask.distributed is not installed; run `make setup`") from None
    try:
        client = Client(address, timeout="10s")
    except (OSError, TimeoutError) as exc:
        raise ConfigError(f"cannot reach the dask scheduler at {address}: {exc}",
                          hint="start one with `dask scheduler` or use --executor local") from None
    results = []
    try:
        futures = client.map(release_device, jobs, pure=False, key=[f"romforge-{j.device}-{j.year}-{j.week}"
                                                                     for j in jobs])
        by_key = {f.key: j for f, j in zip(futures, jobs)}
        for future in dask_completed(futures):
            try:
                outcome = future.result()
            except Exception as exc:
                outcome = DeviceOutcome(by_key[future.key].device, "failed", error=f"dask task failed: {exc}",
                                        exit_code=70)
            results.append(outcome)
            done(outcome)
    finally:
        client.close()
    return results


def run_weekly(ws: Workspace, *, devices: str = "all", week: str | None = None, date: str | None = None,
               keep_deltas: int = 2, jobs: int = 1, parallel_devices: int | None = None, executor: str = "local",
               done: Callable[[DeviceOutcome], None] | None = None) -> WeeklyResult:
    """Release every selected device for one ISO week, then refresh the updater index and site.

    `jobs` is the run's budget of cores; `parallel_devices` (default: `jobs`, at most `jobs`)
    how many devices build at once."""
    from romforge.release.publish import publish

    year, number = resolve_week(week, date)
    names = select_devices(ws, devices)
    known = find_profiles(ws.profile_dirs)
    unknown = [name for name in names if name not in known]
    if unknown:  # a typo fails the run before any device starts; a broken profile fails only its device
        raise ConfigError(f"unknown device(s): {', '.join(unknown)}",
                          hint=f"known: {', '.join(buildable_names(ws.profile_dirs))}")
    if keep_deltas < 0:
        raise ConfigError("--keep-deltas must be 0 or more")
    callback = done or (lambda outcome: None)
    if executor == "local":
        with runcache.run_directory() as cache:
            job_list = [DeviceJob(str(ws.root), name, year, number, keep_deltas, str(cache)) for name in names]
            outcomes = _run_local(job_list, jobs, min(parallel_devices or jobs, jobs), callback)
    elif executor.startswith("dask://"):  # workers may be other machines: no shared run cache
        job_list = [DeviceJob(str(ws.root), name, year, number, keep_deltas) for name in names]
        outcomes = _run_dask(job_list, "tcp://" + executor[len("dask://"):], callback)
    else:
        raise ConfigError(f"--executor {executor!r}: use 'local' or 'dask://HOST:PORT'")
    order = {name: i for i, name in enumerate(names)}
    outcomes.sort(key=lambda o: order[o.device])
    publish(ws)
    return WeeklyResult(f"{year}-W{number:02d}", outcomes)


def outcome_rows(result: WeeklyResult) -> Iterable[dict]:
    for o in result.outcomes:
        yield asdict(o)

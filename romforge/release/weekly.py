"""The weekly release train: every device of the workspace released for one ISO week.

Devices build side by side on a local process pool (each build borrows the cores the others
leave) or as tasks on a dask cluster; a failing device fails alone. Afterwards the updater
index and the download site are made again from the release store.
"""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Callable, Iterable

from romforge.errors import CheckFailed, ConfigError, InternalError, RomforgeError
from romforge.profile import buildable_names, find_profiles
from romforge.release.device import DeviceJob, DeviceOutcome, release_device
from romforge.release.versions import resolve_week
from romforge.run.cache import RunCache, RunResults, run_directory
from romforge.run.cores import die_with_parent, run_budget
from romforge.workspace import Workspace

# ---- the train ----------------------------------------------------------------------


@dataclass
class WeeklyResult:
    week: str
    outcomes: list[DeviceOutcome]
    publish_problems: list[RomforgeError] = field(default_factory=list)  # damaged records left off the site

    @property
    def failed(self) -> list[DeviceOutcome]:
        return [o for o in self.outcomes if o.status == "failed"]

    @property
    def exit_code(self) -> int:
        if not self.failed:
            return RomforgeError.exit_code if self.publish_problems else 0
        codes = {o.exit_code for o in self.failed}
        return CheckFailed.exit_code if codes == {CheckFailed.exit_code} else RomforgeError.exit_code


def select_devices(ws: Workspace, devices: str) -> list[str]:
    if devices == "all":
        return list(ws.devices) or buildable_names(ws.profile_dirs)
    names = [d.strip() for d in devices.split(",") if d.strip()]
    if not names:
        raise ConfigError("--devices is empty; give 'all' or a comma-separated list")
    return list(dict.fromkeys(names))


def _run_local(jobs: list[DeviceJob], cores: int, at_once: int,
               done: Callable[[DeviceOutcome], None]) -> list[DeviceOutcome]:
    """Devices on a pool of `at_once` processes; the run never uses more than `cores` cores at once:
    a build compresses on the cores the others leave."""
    results = []
    if at_once <= 1 or len(jobs) <= 1:
        with run_budget(cores, processes=False) as budget:
            shared = RunResults(RunCache(Path(jobs[0].run_cache)) if jobs and jobs[0].run_cache else None)
            for job in jobs:
                results.append(release_device(replace(job, cores=budget), cache=shared))
                done(results[-1])
        return results
    with run_budget(cores, processes=True) as budget, \
            ProcessPoolExecutor(max_workers=at_once, initializer=die_with_parent) as pool:
        futures = {pool.submit(release_device, replace(job, cores=budget)): job
                   for job in jobs}
        for future in as_completed(futures):
            try:
                outcome = future.result()
            except Exception as exc:  # the worker process died (killed, out of memory)
                outcome = DeviceOutcome(futures[future].device, "failed", error=f"worker died: {exc}",
                                        exit_code=InternalError.exit_code)
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
                                        exit_code=InternalError.exit_code)
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
        with run_directory() as cache:
            job_list = [DeviceJob(str(ws.root), name, year, number, keep_deltas, str(cache)) for name in names]
            outcomes = _run_local(job_list, jobs, min(parallel_devices or jobs, jobs), callback)
    elif executor.startswith("dask://"):  # workers may be other machines: no shared run cache
        job_list = [DeviceJob(str(ws.root), name, year, number, keep_deltas) for name in names]
        outcomes = _run_dask(job_list, "tcp://" + executor[len("dask://"):], callback)
    else:
        raise ConfigError(f"--executor {executor!r}: use 'local' or 'dask://HOST:PORT'")
    order = {name: i for i, name in enumerate(names)}
    outcomes.sort(key=lambda o: order[o.device])
    published = publish(ws)
    return WeeklyResult(f"{year}-W{number:02d}", outcomes, published.problems)


def outcome_rows(result: WeeklyResult) -> Iterable[dict]:
    for o in result.outcomes:
        yield asdict(o)

"""Processes: the weekly train's pool workers die with their parent, and two identical runs of
a week at once both succeed, the second reporting the first's releases as reused.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from test_weekly import git_workspace  # noqa: F401  (the fixture: a git workspace with two devices)

ROMFORGE = Path(sys.executable).parent / "romforge"


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isascii() and entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _weekly(ws: Path, tmp: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen([str(ROMFORGE), "weekly", "--week", "2026-W48", "--keep-deltas", "0",
                             "--workspace", str(ws), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env={**os.environ, "TMPDIR": str(tmp)})


def test_kill_9_of_the_weekly_parent_stops_its_workers_and_frees_the_run_cache(git_workspace: Path,  # noqa: F811
                                                                                 tmp_path: Path) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    proc = _weekly(git_workspace, tmp, "--devices", "cepheus,alioth", "-j", "2")
    workers: list[int] = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(workers) < 2 and proc.poll() is None:
        workers = _children(proc.pid)
        time.sleep(0.05)
    assert proc.poll() is None and workers, f"no pool workers to catch: {proc.communicate()[1][-2000:]}"
    time.sleep(1.0)  # the workers are building now
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(_alive(w) for w in workers):
        time.sleep(0.1)
    survivors = [Path(f"/proc/{w}/cmdline").read_bytes().replace(b"\0", b" ")[:200] for w in workers if _alive(w)]
    assert not survivors, f"helper processes outlived their killed parent: {survivors}"
    for cache in tmp.glob("romforge-run-cache-*"):
        fd = os.open(cache, os.O_RDONLY | os.O_DIRECTORY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # raises BlockingIOError while still held
        finally:
            os.close(fd)


def test_two_identical_runs_at_once_both_succeed_and_reuse(git_workspace: Path, tmp_path: Path) -> None:  # noqa: F811
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    runs = [_weekly(git_workspace, tmp, "--devices", "cepheus", "--json") for _ in range(2)]
    results = []
    for run in runs:
        out, err = run.communicate(timeout=600)
        assert run.returncode == 0, err[-3000:]
        assert "Traceback" not in err
        results.append(json.loads(out))
    statuses = sorted(d["status"] for r in results for d in r["devices"])
    assert statuses == ["built", "reused"], statuses
    versions = {d["version"] for r in results for d in r["devices"]}
    assert versions == {"2026.48.1"}

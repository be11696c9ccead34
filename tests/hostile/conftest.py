"""The hostile suite's harness: every case is a real CLI invocation, many per subprocess.

Each group of cases runs in one fresh Python process under a 4 GiB address-space limit
(RLIMIT_AS) and a wall-clock limit; each case has its own alarm. `check` then asserts what
issue #15 asks of every case: the expected exit code, no traceback, the message naming the
file, nothing written beside the output (a canary directory holds the only files allowed
there), and earlier releases unchanged.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from conftest import tree_snapshot

MEMORY_LIMIT = 4 << 30
CASE_TIME_LIMIT = 60  # seconds; a case takes one or two on a busy machine, a hang or a quadratic loop far more
RUNNER = Path(__file__).with_name("runner.py")


@dataclass
class Case:
    """One command against one hostile input: what must come out of it."""

    name: str
    args: list[str]
    cwd: Path
    exit: int | tuple[int, ...] = 1  # or the exit codes allowed (a fuzzed input may also be fine)
    names: str | None = None  # a text the message must hold (the file it names)
    says: str | None = None  # and what it says is wrong
    not_says: str | None = None  # a text the message must not hold (a resolved link, a staging copy)
    quiet_dirs: list[Path] = field(default_factory=list)  # must be byte-identical afterwards
    absent: list[Path] = field(default_factory=list)  # must not exist afterwards
    stdin: str | None = None
    timeout: int = CASE_TIME_LIMIT
    env: dict[str, str] | None = None  # environment changes for this case only


def _limits() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def run_cases(cases: list[Case], tmp: Path) -> dict[str, dict]:
    """Run `cases` in one subprocess under the limits; returns name → result."""
    job = tmp / f"cases-{os.getpid()}-{id(cases)}.json"
    job.write_text(json.dumps([{"name": c.name, "args": [str(a) for a in c.args], "cwd": str(c.cwd),
                                "timeout": c.timeout, "stdin": c.stdin, "env": c.env} for c in cases]))
    env = {**os.environ, "COLUMNS": "200"}
    env.pop("ROMFORGE_DEBUG", None)
    proc = subprocess.run([sys.executable, str(RUNNER), str(job)], capture_output=True, text=True,
                          preexec_fn=_limits, env=env, timeout=sum(c.timeout for c in cases) + 60)
    job.unlink()
    if os.environ.get("HOSTILE_TIMES"):
        sys.stderr.write(proc.stdout[-200000:])
    assert proc.returncode == 0, f"the runner died (memory limit?): {proc.stderr[-3000:]}"
    return {r["name"]: r for r in json.loads(proc.stdout.strip().splitlines()[-1])}


def check(cases: list[Case], tmp: Path) -> None:
    """Run the cases and assert every promise of issue #15 for each; all failures reported at once."""
    before = {c.name: {str(d): tree_snapshot(d) for d in c.quiet_dirs} for c in cases}
    results = run_cases(cases, tmp)
    failures = []
    for c in cases:
        r = results[c.name]
        message = r["stderr"] + r["stdout"]
        problems = []
        if r["escaped"]:
            problems.append("escaped the CLI: " + " | ".join(r["escaped"].strip().splitlines()[-3:]))
        if "Traceback" in message:
            problems.append("printed a traceback")
        allowed = c.exit if isinstance(c.exit, tuple) else (c.exit,)
        if r["exit"] not in allowed:
            problems.append(f"exit {r['exit']}, expected {c.exit}")
        if c.names and c.names not in message and not (r["exit"] == 0 and isinstance(c.exit, tuple)):
            problems.append(f"message does not name {c.names!r}")
        if c.says and c.says not in message:
            problems.append(f"message does not say {c.says!r}")
        if c.not_says and c.not_says in message:
            problems.append(f"message says {c.not_says!r}")
        for d in c.quiet_dirs:
            if tree_snapshot(d) != before[c.name][str(d)]:
                problems.append(f"{d} changed")
        for p in c.absent:
            if os.path.lexists(p):
                problems.append(f"{p} was written")
        if problems:
            failures.append(f"{c.name}: {'; '.join(problems)}\n    {message.strip()[-600:]}")
    assert not failures, "\n".join(failures)


@pytest.fixture
def guarded(tmp_path: Path) -> tuple[Path, Path]:
    """(out, canary): an output directory and a directory beside it that must stay empty."""
    canary = tmp_path / "canary"
    canary.mkdir()
    return tmp_path / "out", canary


def forged_ota(out: Path, key_base: Path, plans: list, *, minor: int = 0, workdir: Path) -> Path:
    """A signed OTA zip around a payload made from `plans` (romforge's own writer): structurally
    valid, claiming whatever the plans claim."""
    from romforge.ota.keys import load_signing_key
    from romforge.ota.package import BuildState, OtaMetadata, write_ota_package
    from romforge.ota.payload import write_payload

    key = load_signing_key(key_base)
    workdir.mkdir(parents=True, exist_ok=True)
    payload = workdir / "payload.bin"
    info = write_payload(payload, plans, key, minor_version=minor, max_timestamp=1764201600)
    state = BuildState("alioth", "romforge/alioth/alioth:14/UQ1A/1:user/release-keys", "1", 1764201600,
                       partitions=tuple(p.name for p in plans))
    write_ota_package(out, payload, info.properties(), info.metadata_size + info.metadata_signature_size,
                      OtaMetadata(post=state), key, workdir=workdir)
    payload.unlink()
    return out


def rewrite_zip(src: Path, dest: Path, replace: dict[str, bytes]) -> Path:
    """`src` with some members' bytes replaced, every member keeping its name and method."""
    import zipfile

    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dest, "w") as zout:
        for info in zin.infolist():
            zout.writestr(info, replace.get(info.filename, zin.read(info)), compress_type=info.compress_type)
    return dest


@pytest.fixture(scope="session")
def small_ota(tmp_path_factory: pytest.TempPathFactory, ota_test_key: Path) -> Path:
    """One small valid full OTA (two partitions of a few blocks), shared by the suite."""
    import lzma

    from romforge.ota.payload import Op, Operation, PartitionPlan

    work = tmp_path_factory.mktemp("small-ota")
    plans = []
    for name, fill in (("system", b"s"), ("vendor", b"v")):
        data = fill * 4096 * 4
        import hashlib

        plans.append(PartitionPlan(name, len(data), hashlib.sha256(data).digest(),
                                   [Operation(Op.REPLACE_XZ, [(0, 4)], data=lzma.compress(data, format=lzma.FORMAT_XZ))]))
    return forged_ota(work / "small-ota.zip", ota_test_key, plans, workdir=work / "w")

"""The run's shared results (run/cache.py) and its budget of cores (run/cores.py)."""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import threading
import time
import uuid
from pathlib import Path

import pytest

from romforge.run import cores
from romforge.ota.payload import BLOCK_SIZE, FULL_CHUNK_BLOCKS, Op, full_operations
from romforge.run.cache import RunCache, RunResults, run_directory
from romforge.run.cores import Cores, run_budget

CHUNK = FULL_CHUNK_BLOCKS * BLOCK_SIZE


def _image(path: Path, chunks: int, seed: int) -> Path:
    """Compressible but distinct chunks: text lines numbered per chunk."""
    parts = []
    for c in range(chunks):
        text = "".join(f"seed {seed} chunk {c} line {i} of the image\n" for i in range(CHUNK // 30))
        parts.append(text.encode()[:CHUNK].ljust(CHUNK, b"\0"))
    path.write_bytes(b"".join(parts))
    return path


def _key(data: bytes) -> str:
    return "replace-" + hashlib.sha256(data).hexdigest()


def _ops(ops) -> list[tuple[int, list, bytes]]:
    return [(op.type, op.dst, op.data) for op in ops]


# ---- payload chunks through the run's directory ---------------------------------------


def test_full_operations_are_the_same_with_a_run_cache(tmp_path: Path) -> None:
    image = _image(tmp_path / "system.img", 3, seed=1)
    cache = RunCache(tmp_path / "cache")
    plain = full_operations(image, jobs=1)
    shared = full_operations(image, jobs=1, cache=cache)
    assert _ops(shared) == _ops(plain)
    assert all(op.type == Op.REPLACE_XZ for op in plain)
    data = image.read_bytes()
    for i in range(3):  # every chunk is now in the directory, under the hash of its blocks
        entry = cache.get(_key(data[i * CHUNK:(i + 1) * CHUNK]))
        assert entry is not None and entry[0] == Op.REPLACE_XZ and entry[1:] == plain[i].data


def test_a_chunk_another_build_compressed_is_taken_from_the_run_cache(tmp_path: Path) -> None:
    image = _image(tmp_path / "vendor.img", 2, seed=2)
    cache = RunCache(tmp_path / "cache")
    second = image.read_bytes()[CHUNK:]
    cache.put(_key(second), bytes([Op.REPLACE]) + second)  # what "another device" stored
    ops = full_operations(image, jobs=1, cache=cache)
    assert ops[0].type == Op.REPLACE_XZ
    assert (ops[1].type, ops[1].data) == (Op.REPLACE, second)


def test_an_entry_this_code_did_not_write_never_reaches_the_payload(tmp_path: Path) -> None:
    image = _image(tmp_path / "odm.img", 2, seed=4)
    data = image.read_bytes()
    cache = RunCache(tmp_path / "cache")
    cache.put(_key(data[:CHUNK]), bytes([Op.SOURCE_COPY]) + b"junk")  # not a REPLACE kind
    cache.put(_key(data[CHUNK:]), bytes([Op.REPLACE]) + b"other bytes")  # REPLACE of other data
    assert _ops(full_operations(image, jobs=1, cache=cache)) == _ops(full_operations(image, jobs=1))


def test_a_chunk_being_compressed_elsewhere_is_left_for_last(tmp_path: Path) -> None:
    """While another build holds the first chunk's lock, this build does every other chunk,
    then waits and takes the other build's result."""
    image = _image(tmp_path / "product.img", 3, seed=3)
    data = image.read_bytes()
    cache = RunCache(tmp_path / "cache")
    first = data[:CHUNK]
    lock = cache.claim(_key(first), wait=False)
    assert lock is not None
    result: list = []
    worker = threading.Thread(target=lambda: result.append(full_operations(image, jobs=1, cache=cache)))
    worker.start()
    try:
        others = [_key(data[i * CHUNK:(i + 1) * CHUNK]) for i in (1, 2)]
        deadline = time.monotonic() + 120
        while not all(cache.get(k) is not None for k in others):  # done while chunk 0 was still locked
            assert time.monotonic() < deadline, "the build waited for chunk 0 instead of going on"
            time.sleep(0.05)
        assert worker.is_alive() and not result
        cache.put(_key(first), bytes([Op.REPLACE]) + first)
    finally:
        cache.release(lock)
        worker.join(120)
    [ops] = result
    assert (ops[0].type, ops[0].data) == (Op.REPLACE, first)
    assert [op.type for op in ops[1:]] == [Op.REPLACE_XZ, Op.REPLACE_XZ]


# ---- make_all: RROs and T9 data ------------------------------------------------------


def test_make_all_makes_each_key_once_and_shares_through_the_directory(tmp_path: Path) -> None:
    made: list[str] = []
    key = f"test-{uuid.uuid4().hex}"

    def make() -> bytes:
        made.append(key)
        return b"value"

    run = RunResults(RunCache(tmp_path / "run"))
    assert run.make_all([(key, make), (key, make)]) == [b"value", b"value"]
    assert run.make_all([(key, make)]) == [b"value"]
    assert run.shared == RunCache(tmp_path / "run")
    assert made == [key]  # the second item and the second call were served

    stored = f"test-{uuid.uuid4().hex}"  # made by a build in another process
    RunCache(tmp_path / "run").put(stored, b"from another worker")

    def must_not_run() -> bytes:
        raise AssertionError("made again although the run had it")

    assert RunResults(RunCache(tmp_path / "run")).make_all([(stored, must_not_run)], threads=2) == [
        b"from another worker"]

    run.shared = RunCache(tmp_path / "next-run")  # what this run made, its builds elsewhere can have too
    assert run.make_all([(key, must_not_run)]) == [b"value"]
    assert RunCache(tmp_path / "next-run").get(key) == b"value"
    assert RunResults().make_all([(key, make)]) == [b"value"] and made == [key, key]  # another run: made again


def test_the_memo_of_a_run_is_bounded(tmp_path: Path) -> None:
    run = RunResults(memo_bytes=1000, entry_bytes=600)
    made: list[int] = []
    for i in range(5):
        run.make(f"k{i}", lambda i=i: made.append(i) or bytes(400))
    run.make("big", lambda: made.append(99) or bytes(700))  # over the entry limit: never kept
    run.make("big", lambda: made.append(99) or bytes(700))
    assert made.count(99) == 2
    run.make("k4", lambda: made.append(-4) or bytes(400))  # the newest are kept
    run.make("k0", lambda: made.append(-0) or bytes(400))  # the oldest were dropped
    assert -4 not in made and made.count(0) == 2


def test_a_failed_make_stores_nothing_and_releases_its_lock(tmp_path: Path) -> None:
    key = f"test-{uuid.uuid4().hex}"

    def broken() -> bytes:
        raise ValueError("aapt2 failed")

    with pytest.raises(ValueError, match="aapt2 failed"):
        RunResults(RunCache(tmp_path / "run")).make_all([(key, broken)])
    cache = RunCache(tmp_path / "run")
    assert cache.get(key) is None
    lock = cache.claim(key, wait=False)
    assert lock is not None
    cache.release(lock)
    leftovers = [p.name for p in (tmp_path / "run").rglob("*") if p.name.endswith(".tmp")]
    assert leftovers == []


# ---- the budget of cores -----------------------------------------------------------------


def test_outside_a_run_a_step_gets_the_machine_or_romforge_jobs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROMFORGE_JOBS", "3")
    with cores.standalone().borrow(8) as lent:
        assert lent == 3
    with cores.standalone().borrow(2) as lent:
        assert lent == 2
    monkeypatch.setenv("ROMFORGE_JOBS", "²³")  # not a number of cores: every core
    with cores.standalone().borrow(64) as lent:
        assert lent == os.cpu_count()
    monkeypatch.delenv("ROMFORGE_JOBS")
    with cores.standalone().borrow(64) as lent:
        assert lent == os.cpu_count()


@pytest.mark.parametrize("processes", [False, True])
def test_jobs_1_is_one_core_and_borrowed_cores_come_back(processes: bool) -> None:
    with run_budget(1, processes=processes) as budget, budget.holding():
        with budget.borrow(8) as lent:
            assert lent == 1
    with run_budget(3, processes=processes) as budget, budget.holding():
        with budget.borrow(8) as lent:
            assert lent == 3
            with budget.borrow(8) as nested:
                assert nested == 1  # every token is out
        with budget.borrow(2) as lent:
            assert lent == 2
        with budget.borrow(8) as lent:
            assert lent == 3


def _hold_a_core(budget: Cores, started, stop) -> None:
    with budget.holding():
        started.set()
        stop.wait(60)


def test_a_build_borrows_only_the_cores_other_workers_leave() -> None:
    context = multiprocessing.get_context("fork")
    with run_budget(2, processes=True) as budget:
        started, stop = context.Event(), context.Event()
        other = context.Process(target=_hold_a_core, args=(budget, started, stop))
        other.start()
        try:
            assert started.wait(60)
            with budget.holding():  # this process is the second worker
                with budget.borrow(4) as lent:
                    assert lent == 1  # the other device build holds the second core
                stop.set()
                other.join(60)
                with budget.borrow(4) as lent:
                    assert lent == 2  # its core is free once it is done
        finally:
            stop.set()
            other.join(60)


def test_a_run_directory_left_by_a_killed_run_is_removed_by_the_next(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    import fcntl
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.delenv("ROMFORGE_CACHE_DIR")
    stale = tmp_path / "romforge-run-cache-killed"  # nobody holds its lock
    (stale / "ab").mkdir(parents=True)
    (stale / "ab" / "abcd").write_bytes(b"x")
    live = tmp_path / "romforge-run-cache-live"  # another run, still going
    live.mkdir()
    held = os.open(live, os.O_RDONLY | os.O_DIRECTORY)
    fcntl.flock(held, fcntl.LOCK_EX)
    elsewhere = tmp_path / "unrelated"
    elsewhere.mkdir()
    try:
        with run_directory() as root:
            assert root.parent == tmp_path and root.is_dir()
            assert not stale.exists() and live.is_dir() and elsewhere.is_dir()
        assert not root.exists()
    finally:
        os.close(held)


# ---- ROMFORGE_CACHE_DIR: a cache kept between runs ------------------------------------


def test_a_kept_cache_directory_outlives_its_run_and_serves_the_next(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    kept = tmp_path / "ci-cache" / "romforge"
    monkeypatch.setenv("ROMFORGE_CACHE_DIR", str(kept))
    with run_directory() as root:
        assert root == kept and kept.is_dir()
        RunResults(RunCache(root)).make("chunk-1", lambda: b"compressed once")
    assert kept.is_dir()

    def must_not_run() -> bytes:
        raise AssertionError("the kept entry was made again")

    with run_directory() as root:  # the next run (the next CI job)
        assert RunResults(RunCache(root)).make("chunk-1", must_not_run) == b"compressed once"


def test_a_damaged_entry_is_made_again_never_used(tmp_path: Path) -> None:
    cache = RunCache(tmp_path / "kept")
    cache.put("chunk-2", b"the right bytes")
    entry = tmp_path / "kept" / "ch" / "chunk-2"
    damaged = bytearray(entry.read_bytes())
    damaged[-1] ^= 0x01  # one flipped bit on disk
    entry.write_bytes(bytes(damaged))
    assert cache.get("chunk-2") is None
    entry.write_bytes(entry.read_bytes()[:10])  # cut short
    assert cache.get("chunk-2") is None
    assert cache.make("chunk-2", lambda: b"the right bytes", wait=True) == b"the right bytes"
    assert cache.get("chunk-2") == b"the right bytes"


def test_a_cache_directory_that_cannot_be_made_is_a_user_error(workspace: Path, tmp_path: Path, run,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("ROMFORGE_CACHE_DIR", str(blocker / "cache"))
    result = run("build", "cepheus", "--version", "1.0", "--date", "2026-11-27", cwd=workspace)
    assert result.exit_code == 1, result.output
    assert f"ROMFORGE_CACHE_DIR={blocker / 'cache'}" in result.output and "Traceback" not in result.output
    assert not (workspace / "build").exists() and not (workspace / "releases").exists()

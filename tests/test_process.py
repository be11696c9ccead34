"""Programs romforge runs are stopped whole: the program and everything it started."""

from __future__ import annotations

import subprocess
import threading
import time
from pathlib import Path

import pytest

from romforge.run.process import interrupt_all, run_program

# a shell that starts a grandchild, tells its pid, and waits for it (as fakeroot waits for the tool)
PARENT_OF_SLEEPER = 'sleep 300 & echo $! > "$1"; wait'


def alive(pid: int) -> bool:
    """Running or sleeping; a zombie nobody reaped yet counts as gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def wait_for_pid(path: Path) -> int:
    for _ in range(2000):
        if path.is_file() and path.read_text().strip():
            return int(path.read_text())
        time.sleep(0.005)
    raise AssertionError("the shell never started its grandchild")


def gone_soon(pid: int) -> bool:
    for _ in range(400):  # a killed process leaves /proc within moments
        if not alive(pid):
            return True
        time.sleep(0.01)
    return False


def test_output_exit_code_and_input_as_subprocess_run() -> None:
    proc = run_program(["sh", "-c", "cat; echo err >&2; exit 3"], input="in\n", capture_output=True, text=True)
    assert (proc.returncode, proc.stdout, proc.stderr) == (3, "in\n", "err\n")
    assert proc.args == ["sh", "-c", "cat; echo err >&2; exit 3"]


def test_program_runs_in_a_group_of_its_own() -> None:
    import os

    proc = run_program(["sh", "-c", "cut -d' ' -f5 /proc/$$/stat"], capture_output=True, text=True)  # pgrp
    assert int(proc.stdout) != os.getpgrp()


def test_timeout_stops_the_grandchild_too(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    with pytest.raises(subprocess.TimeoutExpired):
        run_program(["sh", "-c", PARENT_OF_SLEEPER, "sh", str(pid_file)], timeout=0.5)
    sleeper = wait_for_pid(pid_file)
    assert gone_soon(sleeper), "the grandchild outlived the interrupted call"


def test_plain_subprocess_run_leaves_the_grandchild(tmp_path: Path) -> None:
    """What run_program exists for: the library call kills only its direct child."""
    pid_file = tmp_path / "pid"
    with pytest.raises(subprocess.TimeoutExpired):
        subprocess.run(["sh", "-c", PARENT_OF_SLEEPER, "sh", str(pid_file)], timeout=0.5)
    sleeper = wait_for_pid(pid_file)
    try:
        assert alive(sleeper)
    finally:
        import os
        import signal

        os.kill(sleeper, signal.SIGKILL)


def test_interrupt_all_ends_programs_of_worker_threads(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    results: list[subprocess.CompletedProcess] = []
    worker = threading.Thread(target=lambda: results.append(
        run_program(["sh", "-c", PARENT_OF_SLEEPER, "sh", str(pid_file)])))
    worker.start()
    sleeper = wait_for_pid(pid_file)
    for _ in range(600):  # the shell may write its pid before the thread has registered the program
        interrupt_all()
        worker.join(timeout=0.1)
        if not worker.is_alive():
            break
    assert not worker.is_alive(), "the thread still waits on its program"
    assert results and results[0].returncode != 0
    assert gone_soon(sleeper)


def test_a_signal_exit_stops_the_group_before_it_propagates(tmp_path: Path) -> None:
    """SIGTERM made an exit (as romforge's CLI does) while waiting: the group is gone when the exception leaves."""
    import os
    import signal

    pid_file = tmp_path / "pid"

    def exit_now(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    def signal_soon() -> None:
        wait_for_pid(pid_file)
        os.kill(os.getpid(), signal.SIGUSR1)

    previous = signal.signal(signal.SIGUSR1, exit_now)
    try:
        threading.Thread(target=signal_soon).start()
        with pytest.raises(SystemExit):
            run_program(["sh", "-c", PARENT_OF_SLEEPER, "sh", str(pid_file)])
    finally:
        signal.signal(signal.SIGUSR1, previous)
    assert gone_soon(int(pid_file.read_text()))

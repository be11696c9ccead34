"""Running another program so that stopping romforge stops all of it.

`subprocess.run` kills only the program it started when it is interrupted. Several of the
tools romforge runs are more than one process: `fakeroot` is a shell script that starts the
`faked` daemon and then the image tool, `apksigner` is a script in front of a JVM, chromium
is a tree of processes. Killing only the script left the image tool writing into a release's
temporary directory while that directory was being removed (a polite stop left it behind),
and left `faked` running for ever. So every program here runs in a process group of its own
and is stopped as a terminal stops a job: SIGINT to the whole group (fakeroot's trap then
stops faked), SIGKILL after a grace period.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from typing import Any, Sequence

GRACE_SECONDS = 5.0

# The programs running right now, so a stop of the run reaches the ones worker threads
# started too. Process-wide by nature, as signal handlers are; only this module touches it.
_running: set[subprocess.Popen] = set()
_interrupted: set[subprocess.Popen] = set()
_running_lock = threading.Lock()


def run_program(args: Sequence[str | os.PathLike], *, input: bytes | str | None = None, capture_output: bool = False,
                timeout: float | None = None, **popen: Any) -> subprocess.CompletedProcess:
    """`subprocess.run` (same arguments, no `check`), with the program in its own process group,
    stopped whole when the call is interrupted (Ctrl-C, SIGTERM, a timeout) or when
    `interrupt_all` is called from the main thread."""
    if capture_output:
        popen["stdout"] = popen["stderr"] = subprocess.PIPE
    if input is not None:
        popen["stdin"] = subprocess.PIPE
    with subprocess.Popen(args, process_group=0, **popen) as proc:
        with _running_lock:
            _running.add(proc)
        try:
            out, err = proc.communicate(input, timeout=timeout)
        except BaseException:
            stop_group(proc)
            raise
        finally:
            with _running_lock:
                _running.discard(proc)
                interrupted = proc in _interrupted
                _interrupted.discard(proc)
        if interrupted:  # the leader ended on SIGINT; what it started in the background ignores SIGINT
            stop_group(proc)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def stop_group(proc: subprocess.Popen, grace: float = GRACE_SECONDS) -> None:
    """SIGINT to the program's process group, SIGKILL to what is left after `grace` seconds; then reap it."""
    _signal_group(proc, signal.SIGINT)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        pass
    _signal_group(proc, signal.SIGKILL)  # members that outlived the leader, or a leader that ignored SIGINT
    proc.wait()


def interrupt_all() -> None:
    """SIGINT to every program `run_program` is running in this process: the run is stopping, and
    the threads waiting on those programs should see them end now, not when their work is done."""
    with _running_lock:
        running = list(_running)
        _interrupted.update(running)
    for proc in running:
        _signal_group(proc, signal.SIGINT)


def _signal_group(proc: subprocess.Popen, signum: int) -> None:
    try:
        os.killpg(proc.pid, signum)
    except (ProcessLookupError, PermissionError):  # the group is gone (its pid may be reused later)
        pass

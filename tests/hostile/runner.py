"""Runs many CLI cases in one Python process (started by conftest under an address-space limit).

Reads a JSON list of cases from argv[1], runs each through click's CliRunner in its own
working directory with an alarm as its time limit, and prints one JSON result per case:
exit code, stdout, stderr, and the traceback of any exception that escaped the CLI (a bug).
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
import traceback


class CaseTimedOut(Exception):
    pass


def _alarm(signum, frame):  # noqa: ARG001
    raise CaseTimedOut()


def main() -> None:
    from click.testing import CliRunner

    from romforge.cli import cli

    cases = json.loads(open(sys.argv[1], encoding="utf-8").read())
    signal.signal(signal.SIGALRM, _alarm)
    results = []
    for case in cases:
        os.chdir(case["cwd"])
        signal.alarm(case["timeout"])
        escaped = None
        start = time.monotonic()
        try:
            result = CliRunner().invoke(cli, case["args"], catch_exceptions=True,
                                        input=case.get("stdin"), env=case.get("env"))
            code, out, err = result.exit_code, result.stdout, result.stderr
            if result.exception is not None and not isinstance(result.exception, SystemExit):
                escaped = "".join(traceback.format_exception(*result.exc_info))
        except CaseTimedOut:
            code, out, err, escaped = None, "", "", "timed out"
        finally:
            signal.alarm(0)
        results.append({"name": case["name"], "exit": code, "stdout": out, "stderr": err, "escaped": escaped,
                        "seconds": round(time.monotonic() - start, 2)})
    print(json.dumps(results))


if __name__ == "__main__":
    main()

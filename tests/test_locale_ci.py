"""The translators' CI example: its check step, run as GitHub Actions would, on a pull request's packs."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from conftest import REPO

WORKFLOW = REPO / "examples" / "ci" / "translators.yml"


def _git(cwd: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.org"}
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True, env=env).stdout.strip()


def test_workflow_runs_on_pull_requests_touching_locales() -> None:
    flow = yaml.safe_load(WORKFLOW.read_text())
    on = flow[True] if True in flow else flow["on"]  # YAML 1.1 reads the key `on` as true
    assert list(on) == ["pull_request"] and on["pull_request"]["paths"] == ["locales/**"]
    steps = flow["jobs"]["locale-packs"]["steps"]
    script = next(s["run"] for s in steps if s.get("id") == "check")
    assert "romforge locale check \"$pack\" --format github" in script
    assert "romforge locale status \"$pack\" --format markdown" in script


def test_check_step_annotates_and_summarises_the_changed_pack(workspace: Path, tmp_path: Path) -> None:
    shutil.copytree(REPO / "examples" / "workspace" / "locales", workspace / "locales")
    _git(workspace, "init", "-q", "-b", "main")
    _git(workspace, "add", "locales", "romforge.toml")
    _git(workspace, "commit", "-q", "-m", "packs")
    base = _git(workspace, "rev-parse", "HEAD")
    dialer = workspace / "locales/ru-RU/res/com.android.dialer/values-ru-rRU/strings.xml"
    dialer.write_text(dialer.read_text(encoding="utf-8").replace("Ответ через %1$s", "Ответ через %1$d"),
                      encoding="utf-8")
    _git(workspace, "commit", "-q", "-am", "translator's change")
    steps = yaml.safe_load(WORKFLOW.read_text())["jobs"]["locale-packs"]["steps"]
    script = next(s["run"] for s in steps if s.get("id") == "check")
    summary, status = tmp_path / "summary.md", tmp_path / "status.md"
    env = {**os.environ, "BASE": base, "STATUS": str(status), "GITHUB_STEP_SUMMARY": str(summary),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    proc = subprocess.run(["bash", "-e", "-c", script], cwd=workspace, env=env, capture_output=True, text=True)
    assert proc.returncode == 3, proc.stderr  # the check found an error
    annotations = [line for line in proc.stdout.splitlines() if line.startswith("::")]
    assert annotations == ["::error file=locales/ru-RU/res/com.android.dialer/values-ru-rRU/strings.xml,line=5,"
                           "col=5,title=format-type::argument 1 is text (%25s) in the source but %251$d here"]
    table = summary.read_text(encoding="utf-8")
    assert table.startswith("### Translation status")
    assert "| ru-RU | `com.android.dialer` | 4/4 | 0 | 0 | 1 | 0 | 100.0 % ❌ |" in table
    assert "zh-Hans-CN" not in table  # only the packs the pull request changed

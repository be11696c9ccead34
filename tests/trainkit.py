"""A weekly-train workspace for the tests: a git repository with two devices, the example overlays
and locale packs, credits and the TEST OTA key; romforge.toml's [publish] is the caller's."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from conftest import REPO

GIT_ENV = {"GIT_AUTHOR_NAME": "Li Lei", "GIT_AUTHOR_EMAIL": "lilei@example.org", "GIT_COMMITTER_NAME": "CI",
           "GIT_COMMITTER_EMAIL": "ci@example.org", "GIT_AUTHOR_DATE": "2026-11-20T10:00:00+08:00",
           "GIT_COMMITTER_DATE": "2026-11-20T10:00:00+08:00"}


def git(ws: Path, *args: str, date: str | None = None) -> str:
    env = {**os.environ, **GIT_ENV}
    if date:
        env["GIT_AUTHOR_DATE"] = env["GIT_COMMITTER_DATE"] = date
    return subprocess.run(["git", *args], cwd=ws, env=env, check=True, capture_output=True, text=True).stdout


def write_workspace(ws: Path, sample_rom: Path, ota_test_key: Path, publish: str) -> Path:
    """The files of the workspace; `publish`: the lines after [publish] (line 6 on)."""
    (ws / "device-profiles").mkdir(parents=True)
    (ws / "keys").mkdir()  # the profiles' [ota] signing_key = "keys/releasekey"
    for suffix in (".pk8", ".x509.pem"):
        shutil.copy(f"{ota_test_key}{suffix}", ws / "keys" / f"releasekey{suffix}")
    (ws / "credits").mkdir()
    (ws / "romforge.toml").write_text(
        "[workspace]\n"
        'rom_name = "Test ROM"\n'
        f'base_rom = "{sample_rom}"\n'
        'devices = ["cepheus", "alioth"]\n'
        "[publish]\n" + publish)
    (ws / "device-profiles/cepheus.toml").write_text(
        'inherits = "common-arm64"\ncodename = "cepheus"\nmodel = "MI 9"\n'
        "[screen]\nwidth = 1080\nheight = 2340\ndensity = 440\n")
    (ws / "credits/contributors.csv").write_text("name,handle,joined\n曾国藩,zeng,2010-08-16\n")
    for folder in ("overlays", "locales"):  # what the bundled profiles enable
        shutil.copytree(REPO / "examples/workspace" / folder, ws / folder)
    return ws


def commit_all(ws: Path, message: str) -> None:
    git(ws, "init", "-q")
    git(ws, "add", "-A")
    git(ws, "commit", "-qm", message)

"""Every file input refuses FIFOs and devices, and bounds what it reads, at every entry point.

A FIFO nobody writes makes an unguarded open() or zipfile.is_zipfile() wait forever; /dev/zero
behind a symlink makes an unbounded read() eat all memory. Each case here has a short alarm
and runs under the 4 GiB address-space limit.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from hostile.conftest import Case, check

SHORT = 20


@pytest.mark.parametrize("kind", ["fifo", "zero"])
def test_special_files_at_every_file_input(kind: str, workspace: Path, sample_rom: Path, small_ota: Path,
                                           ota_test_key: Path, tmp_path: Path) -> None:
    def special(name: str) -> Path:
        path = tmp_path / name
        if kind == "fifo":
            os.mkfifo(path)
        else:
            os.symlink("/dev/zero", path)
        return path

    key = tmp_path / "key"
    key.mkdir()
    shutil.copy(f"{ota_test_key}.x509.pem", key / "releasekey.x509.pem")
    special("key/releasekey.pk8")
    out = tmp_path / "out"
    cases = [
        Case("ota info", ["ota", "info", special("p.zip")], cwd=tmp_path, names="p.zip"),
        Case("ota verify key", ["ota", "verify", small_ota, "-k", special("cert.pem")], cwd=tmp_path,
             names="cert.pem"),
        Case("ota full key", ["ota", "full", sample_rom, "-o", out / "f.zip", "-k", key / "releasekey"],
             cwd=tmp_path, names="releasekey.pk8", absent=[out / "f.zip"]),
        Case("ota full base", ["ota", "full", special("tf.zip"), "-o", out / "g.zip", "-k", ota_test_key],
             cwd=tmp_path, names="tf.zip", absent=[out / "g.zip"]),
        Case("build base", ["build", "alioth", "-V", "2026.48.1", "--date", "2026-11-27", "--base",
                            special("base.zip"), "--out", out / "releases"], cwd=workspace, names="base.zip"),
        Case("t9 contacts", ["t9", "index", "--contacts", special("c.csv"), "-o", out / "i.json"], cwd=tmp_path,
             names="c.csv", absent=[out / "i.json"]),
        Case("t9 index", ["t9", "query", "23", "--index", special("i.json")], cwd=tmp_path, names="i.json"),
        Case("t9 data", ["t9", "query", "23", "--contacts", workspace / "romforge.toml", "--data",
                         special("zh.t9")], cwd=tmp_path, names="zh.t9"),
        Case("locale check", ["locale", "check", special("pack.zip")], cwd=tmp_path, names="pack.zip"),
        Case("avb info", ["avb", "info", special("vbmeta.img")], cwd=tmp_path, names="vbmeta.img"),
    ]
    for c in cases:
        c.timeout = SHORT
    check(cases, tmp_path)

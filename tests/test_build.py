from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from conftest import REPO, files_under, tree_snapshot
from romforge.build import BuildRequest, build
from romforge.errors import ReleaseError
from romforge.props import BuildProp
from romforge.tree import RomTree, parse_fs_config
from romforge.workspace import load_workspace

DATE = "2026-11-27"


def test_build_writes_release_with_stamps_and_build_info(run, workspace: Path) -> None:
    result = run("build", "cepheus", "--version", "2026.48.1", "--date", DATE, cwd=workspace)
    assert result.exit_code == 0, result.output
    release = workspace / "releases/cepheus/2026.48.1"
    assert sorted(p.name for p in release.iterdir()) == ["build-info.json", "images", "ota-full.zip",
                                                         "target-files.zip"]
    assert "releases/cepheus/2026.48.1/target-files.zip" in result.output
    with zipfile.ZipFile(release / "target-files.zip") as zf:
        system = BuildProp.parse(zf.read("SYSTEM/build.prop"))
        vendor = BuildProp.parse(zf.read("VENDOR/build.prop"))
        product = BuildProp.parse(zf.read("PRODUCT/etc/build.prop"))
    assert system.get("ro.build.version.incremental") == "2026.48.1"
    assert system.get("ro.romforge.version") == "2026.48.1"
    assert system.get("ro.build.display.id") == "testrom 2026.48.1 (cepheus)"
    assert system.get("ro.build.date.utc") == "1795737600"
    assert system.get("ro.build.date") == "Fri Nov 27 00:00:00 UTC 2026"
    fingerprint = "Xiaomi/cepheus/cepheus:14/UQ1A.240205.004/2026.48.1:user/release-keys"
    assert system.get("ro.system.build.fingerprint") == fingerprint
    assert vendor.get("ro.vendor.build.fingerprint") == fingerprint
    assert vendor.get("ro.sf.lcd_density") == "440"
    assert product.get("ro.product.product.model") == "MI 9"
    # untouched keys keep their place and value
    assert system.keys()[:2] == ["ro.product.system.brand", "ro.product.system.device"]
    assert system.get("net.bt.name") == "Android"
    info = json.loads((release / "build-info.json").read_text())
    digest = hashlib.sha256((release / "target-files.zip").read_bytes()).hexdigest()
    assert info["outputs"]["target-files.zip"]["sha256"] == digest
    assert info["inputs"]["profile"]["chain"] == ["cepheus", "common-arm64", "common"]
    assert info["inputs"]["base_rom"]["sha256"] == RomTree.open(load_workspace(workspace).base_rom).content_digest()
    assert info["build_date"] == "2026-11-27T00:00:00Z" and info["build_date_source"] == "cli"
    assert str(workspace) not in (release / "build-info.json").read_text()  # no host paths


def test_same_inputs_give_byte_identical_target_files(workspace: Path, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    ws = load_workspace(workspace)
    a = build(ws, BuildRequest("alioth", "1.0", DATE, out=tmp_path / "store-a"))
    monkeypatch.delenv("ROMFORGE_CACHE_DIR")  # the second build makes everything itself
    b = build(ws, BuildRequest("alioth", "1.0", DATE, out=tmp_path / "store-b"))
    assert a.target_files.read_bytes() == b.target_files.read_bytes()
    assert (a.release / "build-info.json").read_bytes() == (b.release / "build-info.json").read_bytes()
    c = build(ws, BuildRequest("alioth", "1.0", "2026-11-28", out=tmp_path / "store-c"))
    assert c.target_files.read_bytes() != a.target_files.read_bytes()


def test_base_rom_is_unchanged_by_a_build(workspace: Path, sample_rom: Path) -> None:
    before = tree_snapshot(sample_rom)
    ws = load_workspace(workspace)
    result = build(ws, BuildRequest("cepheus", "2.0", DATE))
    assert tree_snapshot(sample_rom) == before  # bytes, modes, mtimes and link counts
    out = RomTree.open(result.target_files)
    base = RomTree.open(sample_rom)
    assert out.read("system", "build.prop") != base.read("system", "build.prop")


def test_fs_config_of_the_release_matches_the_base(workspace: Path, sample_rom: Path) -> None:
    result = build(load_workspace(workspace), BuildRequest("cepheus", "3.0", DATE))
    with zipfile.ZipFile(result.target_files) as zf:
        for name in ("filesystem_config.txt", "vendor_filesystem_config.txt", "odm_filesystem_config.txt"):
            written = parse_fs_config(zf.read(f"META/{name}").decode(), source=name)
            original = parse_fs_config((sample_rom / "META" / name).read_text(), source=name)
            kept = {k: v[0] for k, v in written.items() if k in original}
            assert kept == {k: v[0] for k, v in original.items()}
            added = sorted(set(written) - set(original))  # only what the example overlays add
            assert all("overlay" in k or "romforge" in k for k in added), added


def test_zip_base_builds_the_same_tree(workspace: Path, sample_rom: Path, tmp_path: Path) -> None:
    from romforge.tree import write_target_files

    zipped = tmp_path / "base.zip"
    write_target_files(RomTree.open(sample_rom), zipped)
    ws = load_workspace(workspace)
    from_dir = build(ws, BuildRequest("cepheus", "4.0", DATE, out=tmp_path / "a"))
    from_zip = build(ws, BuildRequest("cepheus", "4.0", DATE, base=zipped, out=tmp_path / "b"))
    assert from_zip.target_files.read_bytes() == from_dir.target_files.read_bytes()


def test_rebuild_is_a_no_op_and_different_inputs_are_refused(run, workspace: Path) -> None:
    first = run("build", "cepheus", "--version", "5.0", "--date", DATE, cwd=workspace)
    assert first.exit_code == 0
    release = workspace / "releases/cepheus/5.0"
    snapshot = tree_snapshot(release)
    again = run("build", "cepheus", "--version", "5.0", "--date", DATE, cwd=workspace)
    assert again.exit_code == 0 and "already built" in again.output
    changed = run("build", "cepheus", "--version", "5.0", "--date", "2026-12-04", cwd=workspace)
    assert changed.exit_code == 1
    assert "releases/cepheus/5.0: release already exists and was built from different inputs" in changed.output
    assert tree_snapshot(release) == snapshot


def test_date_falls_back_to_the_base_rom_not_the_clock(workspace: Path, monkeypatch) -> None:
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    result = build(load_workspace(workspace), BuildRequest("cepheus", "6.0"))
    assert result.build_info.build_date_source == "base-rom"
    assert result.build_info.build_date == "2025-11-06T00:00:00Z"
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1796342400")
    result = build(load_workspace(workspace), BuildRequest("cepheus", "6.1"))
    assert result.build_info.build_date == "2026-12-04T00:00:00Z"


def test_stale_partial_dirs_from_killed_runs_are_cleared(workspace: Path) -> None:
    stale = workspace / "releases/cepheus/.7.0.partial-dead"
    (stale / "release").mkdir(parents=True)
    (stale / "release/target-files.zip").write_bytes(b"half")
    build(load_workspace(workspace), BuildRequest("cepheus", "7.0", DATE))
    assert [f for f in files_under(workspace / "releases/cepheus") if "/images/" not in f] == [
        "7.0", "7.0/build-info.json", "7.0/images", "7.0/ota-full.zip", "7.0/target-files.zip"]


# ---- bad input: one message with file (and line), exit 1, nothing under releases/ --------------


def _bad(run, ws: Path, *args: str) -> str:
    before = files_under(ws / "releases")
    result = run("build", *args, cwd=ws)
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert files_under(ws / "releases") == before
    lines = [line for line in result.output.splitlines() if line.startswith("romforge: error:")]
    assert len(lines) == 1, result.output
    return lines[0]


def test_bad_input_broken_profile_toml(run, workspace: Path) -> None:
    profiles = workspace / "device-profiles"
    profiles.mkdir()
    (profiles / "cepheus.toml").write_text('inherits = "common-arm64"\ncodename = "cepheus\n')
    line = _bad(run, workspace, "cepheus", "--version", "1", "--date", DATE)
    assert "device-profiles/cepheus.toml:2:" in line and "invalid TOML" in line


def test_bad_input_inherits_cycle(run, workspace: Path) -> None:
    profiles = workspace / "device-profiles"
    profiles.mkdir()
    (profiles / "loop1.toml").write_text('inherits = "loop2"\ncodename = "loop1"\n')
    (profiles / "loop2.toml").write_text('abstract = true\ninherits = "loop1"\n')
    line = _bad(run, workspace, "loop1", "--version", "1", "--date", DATE)
    assert "device-profiles/loop2.toml:2:" in line and "loop1 → loop2 → loop1" in line


def test_bad_input_unknown_device(run, workspace: Path) -> None:
    line = _bad(run, workspace, "nokia3310", "--version", "1", "--date", DATE)
    assert "unknown device 'nokia3310'" in line


def test_bad_input_unknown_key(run, workspace: Path) -> None:
    profiles = workspace / "device-profiles"
    profiles.mkdir()
    (profiles / "cepheus.toml").write_text('inherits = "common-arm64"\ncodename = "cepheus"\nmodell = "x"\n')
    line = _bad(run, workspace, "cepheus", "--version", "1", "--date", DATE)
    assert "device-profiles/cepheus.toml:3: unknown key 'modell'" in line


def test_bad_input_unknown_key_in_romforge_toml(run, workspace: Path) -> None:
    config = workspace / "romforge.toml"
    config.write_text(config.read_text() + "base_romm = 'x'\n")
    line = _bad(run, workspace, "cepheus", "--version", "1", "--date", DATE)
    assert "romforge.toml:5: unknown key 'workspace.base_romm'" in line


def test_bad_input_missing_base_rom(run, workspace: Path) -> None:
    config = workspace / "romforge.toml"
    config.write_text('[workspace]\nbase_rom = "base/missing"\n')
    line = _bad(run, workspace, "cepheus", "--version", "1", "--date", DATE)
    assert "base/missing: base ROM not found" in line


def test_bad_input_unwritable_release_store(run, workspace: Path) -> None:
    (workspace / "releases").write_text("a file where the store should be")
    result = run("build", "cepheus", "--version", "1", "--date", DATE, cwd=workspace)
    assert result.exit_code == 1
    assert "romforge: error: releases: release store is not a directory" in result.output
    assert (workspace / "releases").read_text() == "a file where the store should be"


def test_bad_input_release_store_without_permission(run, workspace: Path, tmp_path: Path) -> None:
    store = tmp_path / "locked"
    store.mkdir()
    store.chmod(0o500)
    try:
        with pytest.raises(ReleaseError) if os.geteuid() != 0 else _expect_success():
            build(load_workspace(workspace), BuildRequest("cepheus", "1", DATE, out=store / "releases"))
    finally:
        store.chmod(0o700)


class _expect_success:
    """root ignores directory permissions; then the build must simply succeed."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


@pytest.mark.parametrize("args,words", [
    (["cepheus", "--version", "../x", "--date", DATE], "not usable as a release name"),
    (["cepheus", "--version", "1", "--date", "27/11/2026"], "--date: '27/11/2026' is not a date"),
])
def test_bad_version_and_date(run, workspace: Path, args: list[str], words: str) -> None:
    assert words in _bad(run, workspace, *args)


def test_console_script_prints_no_traceback(workspace: Path) -> None:
    romforge = Path(sys.executable).parent / "romforge"
    proc = subprocess.run([str(romforge), "build", "nosuch", "--version", "1", "--workspace", str(workspace)],
                          capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 1
    errors = [line for line in proc.stderr.splitlines() if line.startswith("romforge: error:")]
    assert errors == ["romforge: error: unknown device 'nosuch'"]
    assert "known profiles: alioth, cepheus, dada, rosy" in proc.stderr  # devices only, no abstract bases
    assert "Traceback" not in proc.stderr
    debug = subprocess.run([str(romforge), "--debug", "build", "nosuch", "--version", "1", "--workspace",
                            str(workspace)], capture_output=True, text=True, cwd=REPO)
    assert "Traceback" in debug.stderr and "ProfileError" in debug.stderr
    usage = subprocess.run([str(romforge), "build", "cepheus"], capture_output=True, text=True, cwd=REPO)
    assert usage.returncode == 2 and "Missing option '--version'" in usage.stderr

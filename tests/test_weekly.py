from __future__ import annotations

import hashlib
import json
import os
import subprocess
import tempfile
from pathlib import Path

import pytest

from conftest import files_under, tree_snapshot
from independent_ota import apply_ab, read_payload_from_zip
from romforge.errors import ConfigError
from romforge.ota.apply import apply_ota
from romforge.release.versions import Version, releases_of, resolve_week, week_release_date
from romforge.release.weekly import run_weekly
from romforge.workspace import load_workspace
from trainkit import commit_all, git, write_workspace

@pytest.fixture
def git_workspace(tmp_path: Path, sample_rom: Path, ota_test_key: Path) -> Path:
    ws = write_workspace(tmp_path / "ws", sample_rom, ota_test_key,
                         'base_url = "https://dl.example.org/rom"\n'
                         'issues_url = "https://forum.example.org/requests/{id}"\n')
    commit_all(ws, "Start the ROM")
    return ws


def test_versions_and_weeks() -> None:
    assert Version.parse("2026.48.1") == Version(2026, 48, 1)
    assert Version.parse("2026.48.10") > Version.parse("2026.48.9") > Version.parse("2026.47.12")
    assert Version.parse("v1.0") is None
    assert resolve_week("2026-W48", None) == (2026, 48)
    assert resolve_week(None, "2026-11-27") == (2026, 48)
    assert resolve_week(None, "2027-01-01") == (2026, 53)  # ISO year, not calendar year
    assert week_release_date(2026, 48) == "2026-11-27"  # the week's Friday
    for bad in ("2026-48", "2025-W53", "2026-W00"):
        with pytest.raises(ConfigError):
            resolve_week(bad, None)
    with pytest.raises(ConfigError) as err:
        resolve_week(None, None)
    assert "never reads the clock" in err.value.message


def test_two_weeks_changelog_index_and_no_op_rerun(git_workspace: Path, tmp_path: Path) -> None:
    ws = load_workspace(git_workspace)
    first = run_weekly(ws, week="2026-W48", keep_deltas=0)
    assert [(o.device, o.status, o.version) for o in first.outcomes] == [
        ("cepheus", "built", "2026.48.1"), ("alioth", "built", "2026.48.1")]
    (git_workspace / "device-profiles/cepheus.toml").write_text(
        (git_workspace / "device-profiles/cepheus.toml").read_text().replace("density = 440", "density = 420"))
    git(git_workspace, "commit", "-qam", "cepheus: sharper fonts, as asked in #123", date="2026-11-30T09:00:00Z")
    (git_workspace / "credits/contributors.csv").write_text(
        "name,handle,joined\n曾国藩,zeng,2010-08-16\nИван Петров,ivan,2010-08-20\n")
    git(git_workspace, "commit", "-qam", "Credits: welcome Ivan", date="2026-12-01T09:00:00Z")
    second = run_weekly(ws, week="2026-W49", keep_deltas=2, jobs=2, parallel_devices=1)  # one at a time, 2 cores
    assert [o.version for o in second.outcomes] == ["2026.49.1", "2026.49.1"]
    for device in ("cepheus", "alioth"):
        assert [str(v) for v, _ in releases_of(ws.releases, device)] == ["2026.48.1", "2026.49.1"]
    cepheus_notes = (ws.releases / "cepheus/2026.49.1/changelog.md").read_text()
    alioth_notes = (ws.releases / "alioth/2026.49.1/changelog.md").read_text()
    assert "changes since 2026.48.1" in cepheus_notes
    assert "## Device" in cepheus_notes and "sharper fonts" in cepheus_notes
    assert "[#123](https://forum.example.org/requests/123)" in cepheus_notes
    assert "sharper fonts" not in alioth_notes  # alioth does not inherit cepheus.toml
    assert "## Credits" in alioth_notes and "welcome Ivan" in alioth_notes
    assert "Start the ROM" not in cepheus_notes  # only what came after the previous release
    html = (ws.releases / "cepheus/2026.49.1/changelog.html").read_text()
    assert '<a href="https://forum.example.org/requests/123">#123</a>' in html
    release = json.loads((ws.releases / "cepheus/2026.49.1/release.json").read_text())
    assert release["previous"] == "2026.48.1" and release["week"] == "2026-W49"
    assert release["source_commit"] == git(git_workspace, "rev-parse", "HEAD").strip()
    # every incremental applies bit-exact to the previous week's images, with romforge and independently
    for device in ("cepheus", "alioth"):
        old, new = ws.releases / device / "2026.48.1", ws.releases / device / "2026.49.1"
        delta = new / "ota-from-2026.48.1.zip"
        applied = tmp_path / f"{device}-applied"
        apply_ota(delta, applied, source_dir=old / "images")
        independent = tmp_path / f"{device}-independent"
        apply_ab(read_payload_from_zip(delta), old / "images", independent)
        for image in sorted((new / "images").iterdir()):
            assert (applied / image.name).read_bytes() == image.read_bytes(), image.name
            assert (independent / image.name).read_bytes() == image.read_bytes(), image.name
    # the updater index lists full and incremental entries with the files' real sizes and hashes
    index = json.loads((ws.releases / "site/api/cepheus.json").read_text())["response"]
    assert [(e["build"], e.get("source_build"), e["incremental"]) for e in index] == [
        ("2026.49.1", None, False), ("2026.49.1", "2026.48.1", True), ("2026.48.1", None, False)]
    assert {e["version"] for e in index} == {"1.0"}  # the branch version the app compares, not the build
    for entry in index:
        file = ws.releases / "cepheus" / entry["build"] / entry["url"].rsplit("/", 1)[1]
        data = file.read_bytes()
        assert entry["size"] == len(data) and entry["id"] == hashlib.sha256(data).hexdigest()
        assert entry["url"].startswith("https://dl.example.org/rom/cepheus/")
        assert entry["romtype"] == "weekly" and entry["datetime"] in (1795737600, 1796342400)
    # re-running a finished week changes nothing
    before = tree_snapshot(ws.releases / "cepheus")
    again = run_weekly(ws, week="2026-W49", keep_deltas=2)
    assert {o.status for o in again.outcomes} == {"reused"}
    assert tree_snapshot(ws.releases / "cepheus") == before


def test_changed_inputs_in_the_same_week_make_a_respin(git_workspace: Path) -> None:
    ws = load_workspace(git_workspace)
    run_weekly(ws, week="2026-W48", devices="cepheus", keep_deltas=0)
    profile = git_workspace / "device-profiles/cepheus.toml"
    profile.write_text(profile.read_text().replace('model = "MI 9"', 'model = "MI 9 SE"'))
    git(git_workspace, "commit", "-qam", "cepheus: rename")
    result = run_weekly(ws, week="2026-W48", devices="cepheus", keep_deltas=0)
    assert result.outcomes[0].version == "2026.48.2"
    notes = (ws.releases / "cepheus/2026.48.2/changelog.md").read_text()
    assert "changes since 2026.48.1" in notes and "cepheus: rename" in notes


def test_weekly_never_goes_back_in_time(git_workspace: Path) -> None:
    ws = load_workspace(git_workspace)
    run_weekly(ws, week="2026-W49", devices="cepheus", keep_deltas=0)
    result = run_weekly(ws, week="2026-W48", devices="cepheus", keep_deltas=0)
    assert result.outcomes[0].status == "failed" and result.exit_code == 1
    assert "2026.49.1 is already released" in result.outcomes[0].error
    assert [str(v) for v, _ in releases_of(ws.releases, "cepheus")] == ["2026.49.1"]


def test_a_broken_device_fails_alone(git_workspace: Path, run) -> None:
    (git_workspace / "device-profiles/alioth.toml").write_text(
        'inherits = "common-arm64"\ncodename = "alioth"\nmodel = "x"\nscreen_size = 6\n')
    result = run("weekly", "--week", "2026-W48", "--keep-deltas", "0", "--jobs", "2", cwd=git_workspace)
    assert result.exit_code == 1
    assert "failed: alioth" in result.output
    assert "device-profiles/alioth.toml:4: unknown key 'screen_size'" in result.output
    listed = files_under(git_workspace / "releases/cepheus")
    assert [f for f in listed if "/images/" not in f] == [
        "2026.48.1", "2026.48.1/build-info.json", "2026.48.1/changelog.html", "2026.48.1/changelog.md",
        "2026.48.1/images", "2026.48.1/ota-full.zip", "2026.48.1/release.json", "2026.48.1/target-files.zip"]
    assert not (git_workspace / "releases/alioth").exists()


def test_unknown_device_stops_before_any_build(git_workspace: Path, run) -> None:
    result = run("weekly", "--week", "2026-W48", "--devices", "cepheus,nokia", cwd=git_workspace)
    assert result.exit_code == 1 and "unknown device(s): nokia" in result.output
    assert not (git_workspace / "releases").exists()


def test_dask_cluster_and_a_fresh_clone_give_the_same_artifacts(git_workspace: Path, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """Also: the local run shares RROs and compressed chunks through its run cache and a dask run
    shares nothing, so equal bytes show the sharing changes nothing; the cache goes with the run."""
    from distributed import LocalCluster

    monkeypatch.delenv("ROMFORGE_CACHE_DIR")  # this test is about the run's own directory

    local_ws = tmp_path / "clone"  # a fresh clone of the workspace: same week, same bytes
    subprocess.run(["git", "clone", "-q", str(git_workspace), str(local_ws)], check=True)
    # a short temporary directory: the run's multiprocessing manager puts its AF_UNIX socket in it, and
    # a path under pytest's per-worker tmp_path can be longer than a socket address may be
    scratch = Path(tempfile.mkdtemp(prefix="rf-"))
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    shared: list[str] = []

    def cached(outcome) -> None:
        shared.extend(p.name.split("-")[0] for p in scratch.glob("romforge-run-cache-*/*/*")
                      if not p.name.endswith((".lock", ".tmp")))

    local = run_weekly(load_workspace(local_ws), week="2026-W48", keep_deltas=0, jobs=2, done=cached)
    assert {"replace", "locale", "overlay", "t9"} <= set(shared)
    assert list(scratch.iterdir()) == []
    scratch.rmdir()
    monkeypatch.undo()
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        address = cluster.scheduler_address.replace("tcp://", "dask://")
        remote = run_weekly(load_workspace(git_workspace), week="2026-W48", keep_deltas=0, executor=address)
    assert [o.status for o in remote.outcomes] == ["built", "built"]
    assert [o.version for o in remote.outcomes] == [o.version for o in local.outcomes]
    for device in ("cepheus", "alioth"):
        a = tree_snapshot(local_ws / "releases" / device)
        b = tree_snapshot(git_workspace / "releases" / device)
        assert {k: v[1] for k, v in a.items() if v[0] == "file"} == {k: v[1] for k, v in b.items() if v[0] == "file"}


def test_site_renders_in_chromium_and_links_resolve(git_workspace: Path, tmp_path: Path) -> None:
    from lxml import html

    from romforge.release.publish import rendered_dom, screenshot

    ws = load_workspace(git_workspace)
    run_weekly(ws, week="2026-W48", keep_deltas=0)
    site = ws.releases / "site"
    for page in ("index.html", "cepheus.html", "alioth.html"):
        dom = rendered_dom(site / page)
        doc = html.fromstring(dom)
        assert doc.findtext(".//title")
        links = [a.get("href") for a in doc.iter("a")]
        assert links
        for href in links:
            if href.startswith("http"):
                continue
            target = (site / href.split("#")[0]).resolve()
            assert target.is_file(), f"{page}: {href} is broken"
    device_dom = html.fromstring(rendered_dom(site / "cepheus.html"))
    assert "2026.48.1" in device_dom.text_content() and "MI 9" in device_dom.text_content()
    png = screenshot(site / "cepheus.html", tmp_path / "shot.png")
    from PIL import Image

    image = Image.open(png)
    assert image.size == (1280, 1400)
    assert len(image.convert("RGB").getcolors(1 << 20) or []) > 10  # not a blank page


@pytest.fixture(scope="module")
def big_rom(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A base ROM slow enough to build that a run can be caught mid-build."""
    from romforge.samplerom import generate

    return generate(tmp_path_factory.mktemp("big") / "big-rom", files=4000, seed=11)


@pytest.mark.xdist_group("big-rom")
@pytest.mark.parametrize("signal_name", ["SIGKILL", "SIGTERM"])
def test_killed_run_leaves_no_half_release(git_workspace: Path, big_rom: Path, signal_name: str) -> None:
    import signal
    import sys
    import time

    ws = load_workspace(git_workspace)
    run_weekly(ws, week="2026-W48", devices="cepheus", keep_deltas=0)  # the earlier release, on the small base
    earlier = tree_snapshot(ws.releases / "cepheus/2026.48.1")
    config = git_workspace / "romforge.toml"
    small = config.read_text()
    config.write_text("".join(f'base_rom = "{big_rom}"\n' if line.startswith("base_rom") else line
                              for line in small.splitlines(keepends=True)))
    ws = load_workspace(git_workspace)
    romforge = Path(sys.executable).parent / "romforge"
    proc = subprocess.Popen([str(romforge), "weekly", "--week", "2026-W49", "--devices", "cepheus",
                             "--keep-deltas", "0", "--workspace", str(git_workspace)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,  # no kept cache: slow enough
                            env={k: v for k, v in os.environ.items() if k != "ROMFORGE_CACHE_DIR"})
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not list((ws.releases / "cepheus").glob(".2026.49.1.partial-*/release")):
            time.sleep(0.005)
        assert proc.poll() is None, f"the build ended before it could be interrupted: {proc.stderr.read()}"
        proc.send_signal(getattr(signal, signal_name))
        proc.wait(timeout=60)  # a polite stop interrupts the image tools instead of waiting for them
    finally:
        if proc.poll() is None:  # never leave a hung run behind the test
            proc.kill()
            proc.wait()
    stderr = proc.stderr.read().decode(errors="replace")
    assert proc.returncode != 0, stderr
    assert not (ws.releases / "cepheus/2026.49.1").exists()
    assert tree_snapshot(ws.releases / "cepheus/2026.48.1") == earlier
    leftovers = list((ws.releases / "cepheus").glob(".*partial*"))
    if signal_name == "SIGTERM":
        assert leftovers == [], (proc.returncode, stderr, [sorted(p.rglob("*"))[:20] for p in leftovers])  # a polite stop cleans up
    else:
        assert leftovers  # what the next run has to clear
    config.write_text(small)  # the next run, on the small base again: the clearing is what is tested, not the big build
    ws = load_workspace(git_workspace)
    result = run_weekly(ws, week="2026-W49", devices="cepheus", keep_deltas=0)
    assert result.outcomes[0].status == "built"
    assert sorted(p.name for p in (ws.releases / "cepheus").iterdir()) == ["2026.48.1", "2026.49.1"]
    assert tree_snapshot(ws.releases / "cepheus/2026.48.1") == earlier

"""The phone's Updater finds, offers and installs the right update (issue #14).

One release train is built per module and read by every test: two weekly runs and a respin of
two devices, published to a site that a local HTTP server on 127.0.0.1 serves, with
[publish] base_url pointing at that server, so the URI stamped into every build is fetched as
the phone fetches it. Each phone is judged twice: by `romforge updater simulate` and by the
tests' own reading of the app (updater_phone.py).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import io
import http.server
import json
import os
import shutil
import subprocess
import threading
import urllib.request
import zipfile
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import pytest

import updater_phone as app
from conftest import tree_snapshot
from independent_ota import apply_ab, read_payload
from romforge.release.versions import releases_of
from romforge.release.weekly import run_weekly
from romforge.workspace import load_workspace
from trainkit import commit_all, git, write_workspace

pytestmark = pytest.mark.xdist_group("updater-train")  # one worker builds the module's train once

DEVICES = ("cepheus", "alioth")
AVB_TEST_KEY = Path(__file__).resolve().parent.parent / "romforge/data/testkeys/avb_TEST_NEVER_SHIP_rsa4096.pem"
FRIDAY_W48_NOON = int(dt.datetime(2026, 11, 27, 12, 0, tzinfo=dt.timezone.utc).timestamp())


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args) -> None:  # noqa: A002 - the base class's name
        pass


@dataclass
class Train:
    root: Path
    port: int

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def releases(self) -> Path:
        return self.root / "releases"

    def versions(self, device: str) -> list[str]:
        return [str(v) for v, _ in releases_of(self.releases, device)]

    def record(self, device: str, version: str) -> dict:
        return json.loads((self.releases / device / version / "release.json").read_text())


UPDATER = '[updater]\nbranch_version = "1.0"\nrelease_time = "12:00"\n'


@pytest.fixture(scope="module")
def train(tmp_path_factory: pytest.TempPathFactory, sample_rom: Path, ota_test_key: Path):
    root = tmp_path_factory.mktemp("train") / "ws"
    (root / "releases").mkdir(parents=True)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(QuietHandler, directory=str(root / "releases")))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        t = Train(root, server.server_address[1])
        write_workspace(root, sample_rom, ota_test_key, f'base_url = "{t.base_url}"\n{UPDATER}')
        commit_all(root, "Start the ROM")
        ws = load_workspace(root)
        assert not run_weekly(ws, week="2026-W48", jobs=2).failed
        csv = root / "credits/contributors.csv"
        csv.write_text(csv.read_text() + "Иван Петров,ivan,2010-08-20\n")
        git(root, "commit", "-qam", "Credits: welcome Ivan", date="2026-12-01T09:00:00Z")
        assert not run_weekly(ws, week="2026-W49", jobs=2).failed
        csv.write_text(csv.read_text() + "Ana Lima,ana,2010-09-01\n")
        git(root, "commit", "-qam", "Credits: welcome Ana", date="2026-12-03T09:00:00Z")
        assert not run_weekly(ws, week="2026-W49", jobs=2).failed  # the respin, 2026.49.2
        for device in DEVICES:
            assert t.versions(device) == ["2026.48.1", "2026.49.1", "2026.49.2"]
        yield t
    finally:
        server.shutdown()
        server.server_close()


def expected_offers(t: Train, device: str, version: str) -> set[tuple[str, str, str | None]]:
    """(build, kind, source) of what a phone on `version` must be offered: the newest build's full OTA
    and its incremental from `version`, when it carries one; nothing on the newest build."""
    newest = t.versions(device)[-1]
    if version == newest:
        return set()
    offers = {(newest, "full", None)}
    if any(d["from"] == version for d in t.record(device, newest)["deltas"]):
        offers.add((newest, "incremental", version))
    return offers


def trust_expected(t: Train, device: str, version: str) -> str:
    """Until builds ship system/etc/security/otacerts.zip (issue #13), simulate must say so."""
    with zipfile.ZipFile(t.releases / device / version / "target-files.zip") as zf:
        has = "SYSTEM/etc/security/otacerts.zip" in zf.namelist()
    return "verified" if has else "no-otacerts"


def site_file(t: Train, url: str) -> Path:
    assert url.startswith(t.base_url + "/"), url
    return t.releases / url[len(t.base_url) + 1:]


def test_every_build_is_offered_the_newest_full_and_its_own_incremental(train: Train, run) -> None:
    seen_incremental = 0
    for device in DEVICES:
        for version in train.versions(device):
            result = run("updater", "simulate", device, "--from", version, "--json", "--workspace", train.root)
            assert result.exit_code == 0, result.output
            sim = json.loads(result.output)
            assert sim["own_server"] and sim["findings"] == []
            installable = {(o["build"], o["kind"], o["source_build"]) for o in sim["offers"] if o["installable"]}
            assert installable == expected_offers(train, device, version)
            assert all(o["listed"] and o["installable"] for o in sim["offers"])  # nothing older, nothing refused
            assert {o["trust"] for o in sim["offers"]} <= {trust_expected(train, device, version)}
            seen_incremental += sum(o["kind"] == "incremental" for o in sim["offers"])
            # the tests' own reading of the app agrees on the same response
            props = app.phone_properties(train.releases / device / version / "target-files.zip")
            updates = app.parse_updates(site_file(train, app.server_url(props)).read_text())
            mine = {(u["raw"]["build"], "incremental" if u["raw"]["incremental"] else "full",
                     u["raw"].get("source_build")) for u in updates if app.is_compatible(u, props)
                    and app.can_install(u, props)}
            assert mine == installable
    assert seen_incremental == 4  # 48.1 and 49.1 of both devices each get their own delta to 49.2


def test_a_phone_fetches_over_http_and_installs_the_right_update(train: Train, tmp_path: Path) -> None:
    """The app's way, over a real socket: GET the stamped URI, judge the entries, GET the package,
    hand update_engine the payload at the app's offset, and the phone ends on the newest images."""
    for device in DEVICES:
        newest = train.versions(device)[-1]
        target = {name.split("/")[1][:-4]: a["sha256"] for name, a in train.record(device, newest)["artifacts"].items()
                  if name.startswith("images/")}
        for version in train.versions(device)[:-1]:
            phone = train.releases / device / version
            props = app.phone_properties(phone / "target-files.zip")
            url = app.server_url(props)
            assert url.startswith(f"http://127.0.0.1:{train.port}/")
            with urllib.request.urlopen(url, timeout=30) as response:
                updates = app.parse_updates(response.read().decode("utf-8"))
            offered = [u for u in updates if app.is_compatible(u, props) and app.can_install(u, props)]
            assert len(offered) == len(expected_offers(train, device, version))
            for update in offered:
                with urllib.request.urlopen(update["url"], timeout=30) as response:
                    package = response.read()
                assert len(package) == update["size"] and hashlib.sha256(package).hexdigest() == update["id"]
                offset = app.zip_entry_offset(package, "payload.bin")
                with zipfile.ZipFile(io.BytesIO(package)) as zf:
                    properties = dict(line.split("=", 1) for line in zf.read("payload_properties.txt").decode().split())
                payload = package[offset:offset + int(properties["FILE_SIZE"])]
                assert payload[:4] == b"CrAU"
                assert hashlib.sha256(payload).digest() == base64.b64decode(properties["FILE_HASH"])
                out = tmp_path / f"{device}-{version}-{update['raw']['incremental']}"
                source = phone / "images" if update["raw"]["incremental"] else None
                applied = apply_ab(read_payload(payload), source, out)
                assert applied == {name: target[name] for name in applied}, (device, version, update["name"])


def test_the_stamped_uri_resolves_to_a_site_file_for_every_release(train: Train) -> None:
    for device in DEVICES:
        for version in train.versions(device):
            props = app.phone_properties(train.releases / device / version / "target-files.zip")
            assert props[app.PROP_BUILD_VERSION] == "1.0" and props[app.PROP_RELEASE_TYPE] == "weekly"
            assert props[app.PROP_DEVICE] == device and props[app.PROP_INCREMENTAL] == version
            assert props[app.PROP_UPDATER_URI] == f"{train.base_url}/site/api/v1/{{device}}/{{type}}/{{incr}}"
            file = site_file(train, app.server_url(props))
            assert file == train.releases / "site/api/v1" / device / "weekly" / version and file.is_file()
            assert isinstance(json.loads(file.read_text())["response"], list)


def test_dates_move_forward_with_respins(train: Train) -> None:
    for device in DEVICES:
        dates = []
        for version in train.versions(device):
            props = app.phone_properties(train.releases / device / version / "target-files.zip")
            assert int(props[app.PROP_BUILD_DATE]) == train.record(device, version)["datetime"]
            dates.append(int(props[app.PROP_BUILD_DATE]))
        # W48 Friday 12:00 UTC; W49 one week later; its respin a minute after it
        assert dates == [FRIDAY_W48_NOON, FRIDAY_W48_NOON + 7 * 86400, FRIDAY_W48_NOON + 7 * 86400 + 60]


def test_the_site_links_the_files_the_updater_offers(train: Train) -> None:
    from lxml import html

    for device in DEVICES:
        index = json.loads((train.releases / "site/api" / f"{device}.json").read_text())["response"]
        assert len(index) == 3 + 1 + 2  # three full OTAs; 49.1 from 48.1; 49.2 from 48.1 and from 49.1
        pages = [train.releases / "site" / f"{device}.html"] + [
            train.releases / "site" / device / f"{v}.html" for v in train.versions(device)]
        linked: set[Path] = set()
        for page in pages:
            for a in html.fromstring(page.read_text()).iter("a"):
                href = a.get("href")
                if href and not href.startswith("http"):
                    target = (page.parent / href).resolve()
                    assert target.is_file(), f"{page.name}: {href}"
                    linked.add(target)
        for entry in index:
            assert site_file(train, entry["url"]).resolve() in linked, entry["url"]
            assert site_file(train, entry["changelog"]).resolve() in linked  # the build's own page
            assert entry["size"] == site_file(train, entry["url"]).stat().st_size
        page = (train.releases / "site" / device / "2026.49.2.html").read_text()
        assert "welcome Ana" in page  # its changelog


def test_a_release_recorded_before_the_updater_is_read_and_left_out_of_the_api(train: Train) -> None:
    from romforge.errors import ReleaseError
    from romforge.release.record import parse_release
    from romforge.updater.api import device_index, response_path

    data = train.record("cepheus", "2026.48.1")
    del data["updater"]
    data["schema"] = 1
    old = parse_release(json.dumps(data), file="release.json")
    assert old.updater is None and response_path(old) is None
    ws = load_workspace(train.root)
    assert device_index(ws, "cepheus", [old]) == {"response": []}
    data["schema"] = 3
    with pytest.raises(ReleaseError, match="schema 3 is not one this romforge reads"):
        parse_release(json.dumps(data), file="release.json")


def test_rerunning_a_week_changes_nothing(train: Train) -> None:
    before = {d: tree_snapshot(train.releases / d) for d in DEVICES}
    site = {p: p.read_bytes() for p in sorted((train.releases / "site").rglob("*")) if p.is_file()}
    again = run_weekly(load_workspace(train.root), week="2026-W49", jobs=2)
    assert [o.status for o in again.outcomes] == ["reused", "reused"]
    assert {d: tree_snapshot(train.releases / d) for d in DEVICES} == before
    assert {p: p.read_bytes() for p in sorted((train.releases / "site").rglob("*")) if p.is_file()} == site


def linked_copy(train: Train, dest: Path) -> Path:
    """The train's workspace with its release store hard-linked (read-only use: a file to change is
    unlinked first), so a test can break a copy without touching the train."""
    shutil.copytree(train.root, dest, ignore=shutil.ignore_patterns("releases"))
    shutil.copytree(train.releases, dest / "releases", copy_function=os.link)
    return dest


def test_same_inputs_give_the_same_release_bytes(train: Train, tmp_path: Path, fresh_cache: None) -> None:
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(train.root), str(clone)], check=True)
    for version in ("2026.48.1", "2026.49.1"):
        shutil.copytree(train.releases / "cepheus" / version, clone / "releases/cepheus" / version)
    result = run_weekly(load_workspace(clone), week="2026-W49", devices="cepheus", jobs=2)
    assert [(o.status, o.version) for o in result.outcomes] == [("built", "2026.49.2")]
    ours, theirs = clone / "releases/cepheus/2026.49.2", train.releases / "cepheus/2026.49.2"
    names = sorted(str(p.relative_to(theirs)) for p in theirs.rglob("*") if p.is_file())
    assert names == sorted(str(p.relative_to(ours)) for p in ours.rglob("*") if p.is_file())
    for name in names:
        assert (ours / name).read_bytes() == (theirs / name).read_bytes(), name
    for name in ["api/cepheus.json", "cepheus/2026.49.2.html"] + [
            f"api/v1/cepheus/weekly/{v}" for v in ("2026.48.1", "2026.49.1", "2026.49.2")]:
        assert (clone / "releases/site" / name).read_bytes() == (train.releases / "site" / name).read_bytes(), name


def test_simulate_refuses_an_incremental_from_another_build(train: Train, tmp_path: Path, run) -> None:
    ws = linked_copy(train, tmp_path / "ws")
    response = ws / "releases/site/api/v1/cepheus/weekly/2026.48.1"
    index = json.loads((ws / "releases/site/api/cepheus.json").read_text())["response"]
    wrong = next(e for e in index if e.get("source_build") == "2026.49.1" and e["build"] == "2026.49.2")
    response.unlink()
    response.write_text(json.dumps({"response": [wrong]}))
    result = run("updater", "simulate", "cepheus", "--from", "2026.48.1", "--workspace", ws)
    assert result.exit_code == 3, result.output
    assert "update_engine's source check fails" in result.output
    # and the app's own rules would have offered it: that is why the site lists only the phone's own
    props = app.phone_properties(ws / "releases/cepheus/2026.48.1/target-files.zip")
    update = app.parse_updates(response.read_text())[0]
    assert app.is_compatible(update, props) and app.can_install(update, props)


def test_simulate_reports_a_missing_response_and_an_unknown_release(train: Train, tmp_path: Path, run) -> None:
    ws = linked_copy(train, tmp_path / "ws")
    (ws / "releases/site/api/v1/alioth/weekly/2026.49.1").unlink()
    result = run("updater", "simulate", "alioth", "--from", "2026.49.1", "--workspace", ws)
    assert result.exit_code == 3 and "gets 404" in result.output
    result = run("updater", "simulate", "alioth", "--from", "2026.47.1", "--workspace", ws)
    assert result.exit_code == 1
    assert "alioth has no release 2026.47.1" in result.output and "2026.49.2" in result.output


def edit_config(ws: Path, old: str, new: str) -> int:
    """Replace text in romforge.toml; the line number where `new` starts."""
    config = ws / "romforge.toml"
    text = config.read_text()
    assert old in text
    config.write_text(text.replace(old, new))
    return text[:text.index(old)].count("\n") + 1


@pytest.mark.parametrize("old, new, device, week, message", [
    # respins follow release_time: moved earlier, 2026.49.3 would come before 2026.49.2
    ('release_time = "12:00"', 'release_time = "06:00"', "cepheus", "2026-W49",
     "2026.49.3 would be dated 2026-12-04 06:02:00 UTC, not after 2026.49.2 (2026-12-04 12:01:00 UTC)"),
    # "0.10" is a larger number than "1.0"'s 1 only in no order: the app compares text
    ('branch_version = "1.0"', 'branch_version = "0.10"', "alioth", "2026-W50",
     "branch_version 0.10 comes before 1.0 of 2026.49.2"),
])
def test_a_release_phones_would_not_be_offered_is_refused(train: Train, tmp_path: Path, run, old: str, new: str,
                                                          device: str, week: str, message: str) -> None:
    ws = linked_copy(train, tmp_path / "ws")
    line = edit_config(ws, old, new)
    before = tree_snapshot(ws / "releases" / device)
    result = run("weekly", "--week", week, "--devices", device, "--workspace", ws)
    assert result.exit_code == 1
    assert f"romforge.toml:{line}: {message}" in result.output
    assert tree_snapshot(ws / "releases" / device) == before


@pytest.mark.parametrize("table, line, message", [
    ('[updater]\nbranch_version = "1.0"\nchannel = "beta"\n', 9, "unknown key 'updater.channel'"),
    ('[updater]\nuri = "https://dl.example.org/api/v1/{type}/{incr}"\n', 8, "'updater.uri' must contain {device}"),
    ('[updater]\nuri = "https://dl.example.org/{device}/{codename}"\n', 8,
     "'updater.uri' may hold only the placeholders"),
    ('[updater]\nbranch_version = "1.0-beta"\n', 8, "'updater.branch_version' is not a comparable branch version"),
    ('[updater]\nbranch_version = "１.0"\n', 8, "'updater.branch_version' is not a comparable branch version"),
    ('[updater]\nbranch_version = 1.0\n', 8, "'updater.branch_version' must be a string, not a float"),
    ('[updater]\nrelease_time = "24:00"\n', 8, "'updater.release_time' is not a valid UTC time of day"),
    ('[updater.properties]\ndevice = "ro.lineage.build.version"\n', 8,
     "'updater.properties.device' names ro.lineage.build.version"),
    ('[updater.properties]\nuri = "lineage updater uri"\n', 8, "'updater.properties.uri' is not a valid property"),
])
def test_bad_updater_settings(tmp_path: Path, sample_rom: Path, ota_test_key: Path, run, table: str, line: int,
                              message: str) -> None:
    ws = tmp_path / "ws"
    write_workspace(ws, sample_rom, ota_test_key, f'base_url = "https://dl.example.org/rom"\n{table}')
    for command in (["weekly", "--week", "2026-W48"], ["updater", "simulate", "cepheus", "--from", "2026.48.1"]):
        result = run(*command, "--workspace", ws)
        assert result.exit_code == 1, result.output
        assert f"romforge.toml:{line}: {message}" in result.output
        assert "Traceback" not in result.output
    assert not (ws / "releases").exists()


@pytest.mark.parametrize("a, b", [("1.10", "1.9"), ("10.0", "9.0"), ("1.0", "1.0.1"), ("B", "a"), ("1.0", "1.0")])
def test_the_two_readings_of_the_app_order_versions_alike(a: str, b: str) -> None:
    from romforge.updater.app import _java_compare

    assert _java_compare(a, b) == (app.java_compare_to(a, b) > 0) - (app.java_compare_to(a, b) < 0)


def test_every_release_of_the_train_passes_release_verify_and_avb_verify(train: Train, run) -> None:
    """The sample ROM's real releases (three a device, with incrementals and a respin): the AVB
    chain to every image, the OTAs against the build's own otacerts.zip, the boot chain in every OTA."""
    for device in DEVICES:
        result = run("release", "verify", train.releases / device, "--json")
        data = json.loads(result.output)
        assert result.exit_code == 0 and data["ok"] is True, result.output
        assert [Path(r["release"]).name for r in data["releases"]] == train.versions(device)
        for version in train.versions(device):
            images = train.releases / device / version / "images"
            assert {"boot", "init_boot", "vendor_boot", "dtbo", "vbmeta", "vbmeta_system"} <= {
                p.stem for p in images.glob("*.img")}
            verified = run("avb", "verify", images / "vbmeta.img", "--key", AVB_TEST_KEY)  # what the train signs with
            assert verified.exit_code == 0, verified.output

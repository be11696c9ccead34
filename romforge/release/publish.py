"""What phones and people read: the updater API (LineageOS Updater's JSON, romforge.updater.api) and a static site.

Both are made from the release store alone (every releases/<device>/<version>/release.json),
so they can be regenerated at any time and always agree with the files on disk.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape

from romforge.numbers import ascii_uint
from romforge.errors import RomforgeError, ToolMissingError
from romforge.release.record import ReleaseRecord, read_release
from romforge.safeio import read_text
from romforge.workspace import Workspace
from romforge.run.process import run_program

SITE = "site"
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--hide-scrollbars")


@dataclass
class Release:
    device: str
    version: str
    record: ReleaseRecord
    notes_html: str

    @property
    def data(self) -> dict:
        """The record as its JSON says it (what the templates read)."""
        return json.loads(self.record.to_json())

    @property
    def full(self) -> dict | None:
        return self.data.get("artifacts", {}).get("ota-full.zip")


@dataclass
class Published:
    site: Path
    problems: list[RomforgeError] = field(default_factory=list)  # releases left off: damaged records


def _version_key(version: str) -> tuple:
    return tuple((0, n, "") if (n := ascii_uint(x)) is not None else (1, 0, x) for x in version.split("."))


MAX_NOTES_BYTES = 4 << 20


def collect(store: Path) -> tuple[dict[str, list[Release]], list[RomforgeError]]:
    """device → releases, newest first, from the release.json files on disk; a damaged record is
    left off and reported."""
    devices: dict[str, list[Release]] = {}
    problems: list[RomforgeError] = []
    if not store.is_dir():
        return devices, problems
    for device_dir in sorted(p for p in store.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if device_dir.name == SITE:
            continue
        releases = []
        for rel in sorted(device_dir.iterdir()):
            if rel.name.startswith(".") or not rel.is_dir():
                continue
            try:
                record = read_release(rel)
            except RomforgeError as exc:
                problems.append(exc)
                continue
            if record is None:
                continue
            notes = rel / record.notes.html
            html = ""
            if notes.is_file() and not notes.is_symlink():
                html = read_text(notes, shown=str(notes), max_bytes=MAX_NOTES_BYTES)
            releases.append(Release(device_dir.name, record.version, record, html))
        if releases:
            devices[device_dir.name] = sorted(releases, key=lambda r: _version_key(r.version), reverse=True)
    return devices, problems


def human_size(size: int) -> str:
    return f"{size / 2**20:.1f} MiB" if size >= 2**20 else f"{size / 2**10:.0f} KiB"


def _env() -> Environment:
    env = Environment(loader=PackageLoader("romforge", "templates"), autoescape=select_autoescape(["html", "html.j2"]),
                      trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.filters["size"] = human_size
    return env


def publish(ws: Workspace) -> Published:
    """Rewrite releases/site/ from the store: index.html, <device>.html, a page per build
    (<device>/<version>.html), api/<device>.json and the Updater's api/v1/<device>/<type>/<incr>."""
    from romforge.updater.api import build_page, write_api

    store = ws.releases
    devices, problems = collect(store)
    store.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".site.partial-", dir=store))
    try:
        (tmp / "api").mkdir()
        env = _env()
        problems += write_api(tmp, ws, {device: [r.record for r in releases] for device, releases in devices.items()})
        for device, releases in devices.items():
            page = env.get_template("site_device.html.j2").render(rom=ws.rom_name, device=device,
                                                                  releases=releases)
            (tmp / f"{device}.html").write_text(page, encoding="utf-8")
            (tmp / device).mkdir()
            for r in releases:
                (tmp / build_page(device, r.version)).write_text(env.get_template("site_build.html.j2").render(
                    rom=ws.rom_name, device=device, r=r, root="../"), encoding="utf-8")
        (tmp / "index.html").write_text(env.get_template("site_index.html.j2").render(
            rom=ws.rom_name, devices=devices), encoding="utf-8")
        final = store / SITE
        old = None
        if final.exists():
            old = store / f".site.old-{os.getpid()}"
            os.rename(final, old)
        os.rename(tmp, final)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return Published(store / SITE, problems)


def chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    raise ToolMissingError("chromium", "chromium")


def _run_chromium(args: list[str]) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory(prefix="romforge-chromium-") as profile:
        return run_program([chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
                              capture_output=True, text=True, timeout=120)


def screenshot(page: Path, out: Path, *, width: int = 1280, height: int = 1400) -> Path:
    """A PNG of a site page as headless Chromium renders it."""
    out = Path(out).resolve()
    _run_chromium([f"--screenshot={out}", f"--window-size={width},{height}", Path(page).resolve().as_uri()])
    if not out.is_file():
        from romforge.errors import ToolFailedError

        raise ToolFailedError(f"chromium wrote no screenshot of {page}")
    return out


def rendered_dom(page: Path) -> str:
    """The DOM after Chromium loaded the page (what a visitor's browser builds)."""
    return _run_chromium(["--dump-dom", Path(page).resolve().as_uri()]).stdout

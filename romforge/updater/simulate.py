"""`romforge updater simulate`: what a phone on one release sees when its Updater checks for updates.

It reads the phone's build.prop from the release's own target-files, resolves the URL the app
would fetch, reads that file from the release store's site (where the base URL maps onto
releases/), parses it the way the app does, and judges every entry with the app's rules;
entries the app would install are then checked the way its installer and update_engine would.
Problems of the publish itself (the phone asks another server, gets a 404, is offered a file
that is missing or that update_engine refuses, or is offered nothing it can install while a
newer build of its branch exists) are collected as findings.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

from romforge.errors import ConfigError, Finding
from romforge.release.record import read_release
from romforge.release.store import check_version
from romforge.release.versions import releases_of
from romforge.safeio import read_limited
from romforge.updater.app import (BUILD_DATE, INCREMENTAL, MAX_RESPONSE_BYTES, Names, Update, hidden_because,
                                  not_installable_because, parse_response, server_url)
from romforge.updater.install import check_install
from romforge.updater.phone import Phone, read_phone
from romforge.workspace import Workspace


@dataclass
class Offer:
    """One entry of the response, as the phone judges it."""

    filename: str
    build: str | None  # romforge's version of the build the entry installs ("build", ignored by the app)
    kind: str  # full | incremental
    source_build: str | None
    version: str
    romtype: str
    datetime: int
    size: int
    url: str
    listed: bool
    installable: bool
    why: str | None = None  # why it is hidden or not installable
    trust: str | None = None  # verified | refused | no-otacerts, for entries the app would install


@dataclass
class Simulation:
    device: str
    build: str
    properties: dict[str, str]
    url: str
    own_server: bool
    response: str | None  # the file under releases/ the URL maps to
    offers: list[Offer] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        data = asdict(self)
        data["findings"] = [{"file": f.file, "rule": f.rule, "severity": f.severity, "message": f.message} for f in self.findings]
        return data


def store_file(ws: Workspace, url: str) -> Path | None:
    """The file of the release store a URL under [publish] base_url names (None: not one of ours)."""
    prefix = ws.base_url.rstrip("/") + "/"
    if not url.startswith(prefix):
        return None
    parts = [unquote(p) for p in urlsplit(url[len(prefix) - 1:]).path.split("/")[1:]]  # a static server drops ?…
    if not parts or any(p in ("", ".", "..") or "/" in p or "\0" in p for p in parts):
        return None
    return ws.releases.joinpath(*parts)


def _shown(ws: Workspace, path: Path) -> str:
    try:
        return str(Path(ws.releases.name) / path.relative_to(ws.releases))
    except ValueError:
        return str(path)


def _offer(update: Update) -> Offer:
    source = update.extra.get("source_build")
    return Offer(update.name, update.extra.get("build") if isinstance(update.extra.get("build"), str) else None,
                 "incremental" if update.extra.get("incremental") is True else "full",
                 source if isinstance(source, str) else None, update.version, update.type, update.timestamp,
                 update.size, update.url, listed=False, installable=False)


def _judge_download(ws: Workspace, sim: Simulation, offer: Offer, update: Update, phone: Phone,
                    shown: str) -> None:
    file = store_file(ws, update.url)
    problem = None
    if file is None:
        problem = f"{offer.filename}: {update.url} is not under [publish] base_url; cannot check the download"
    elif not file.is_file():
        problem = f"{offer.filename}: the download {update.url} is missing ({_shown(ws, file)})"
    elif file.stat().st_size != update.size:
        problem = f"{offer.filename}: the index says {update.size} bytes, the file has {file.stat().st_size}"
    else:
        h = hashlib.sha256()
        with open(file, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        if h.hexdigest() != update.download_id:
            problem = f"{offer.filename}: its id is not the SHA-256 of {_shown(ws, file)}"
    if problem is not None:
        offer.installable, offer.why = False, problem
        sim.findings.append(Finding(shown, None, "updater-download", "error", problem))
        return
    assert file is not None
    check = check_install(file, phone)
    offer.trust = check.trust
    if check.kind:
        offer.kind = check.kind
    if check.refused:
        offer.installable, offer.why = False, check.refused[0]
        sim.findings.append(Finding(shown, None, "updater-refused", "error", f"{offer.filename}: {check.refused[0]}"))
    if check.trust == "no-otacerts" and not any("otacerts" in n for n in sim.notes):
        sim.notes.append("this build carries no system/etc/security/otacerts.zip: RecoverySystem.verifyPackage on "
                         "the phone would refuse every package until builds ship the OTA certificate")


def simulate(ws: Workspace, device: str, version: str) -> Simulation:
    """What a phone on releases/<device>/<version> is offered; raises ConfigError for an unknown release."""
    check_version(version)
    released = dict((str(v), p) for v, p in releases_of(ws.releases, device))
    if version not in released:
        raise ConfigError(f"{device} has no release {version}", file=ws.releases / device,
                          hint=f"released: {', '.join(released) or 'none'}")
    record = read_release(released[version])
    phone = read_phone(released[version], {n: a.sha256 for n, a in record.artifacts.items()} if record else None)
    names = Names.of(ws.updater.properties)
    url, own = server_url(phone.props, names)
    props = {key: phone.props.get(key) for key in (names.device, names.release_type, names.branch_version,
                                                   names.uri, BUILD_DATE, INCREMENTAL)}
    file = store_file(ws, url)
    sim = Simulation(device, version, props, url, own, _shown(ws, file) if file is not None else None)
    shown = sim.response or url
    if not own:
        sim.findings.append(Finding(shown, None, "updater-server", "error", f"the build has no {names.uri}: the app "
                                    f"asks its built-in server {url}, not this ROM's"))
        return sim
    if file is None:
        sim.findings.append(Finding(url, None, "updater-url", "error",
                                    f"{url} is not under [publish] base_url {ws.base_url}: not this release store"))
        return sim
    if not file.is_file():
        sim.findings.append(Finding(shown, None, "updater-404", "error",
                                    "the phone's update check gets 404: no such file in the site"))
        return sim
    try:
        updates, skipped = parse_response(read_limited(file, shown=shown, max_bytes=MAX_RESPONSE_BYTES).decode())
    except (ValueError, UnicodeDecodeError) as exc:
        sim.findings.append(Finding(shown, None, "updater-json", "error", f"the app cannot read the response: {exc}"))
        return sim
    sim.notes += skipped
    for update in updates:
        offer = _offer(update)
        sim.offers.append(offer)
        offer.why = hidden_because(update, phone.props, names)
        offer.listed = offer.why is None
        if not offer.listed:
            continue
        offer.why = not_installable_because(update, phone.props, names)
        offer.installable = offer.why is None
        if offer.installable:
            _judge_download(ws, sim, offer, update, phone, shown)
    _check_offered_enough(ws, sim, device, version, phone)
    return sim


def _check_offered_enough(ws: Workspace, sim: Simulation, device: str, version: str, phone: Phone) -> None:
    """A newer release of the phone's branch and type exists, but nothing installable was offered."""
    if any(o.installable for o in sim.offers):
        return
    running = read_release(ws.releases / device / version)
    if running is None or running.updater is None:
        return
    for v, path in reversed(releases_of(ws.releases, device)):
        record = read_release(path)
        if record is None or record.updater is None or record.datetime <= running.datetime:
            continue
        if (record.updater.branch_version, record.updater.release_type.lower()) == (
                running.updater.branch_version, running.updater.release_type.lower()):
            sim.findings.append(Finding(sim.response or sim.url, None, "updater-stranded", "error",
                                        f"{v} is newer on the same branch, but this phone is offered nothing "
                                        "it can install"))
            return

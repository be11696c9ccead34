"""A phone running a release: the system properties its build.prop files give it, the keys it
trusts and the images in its slots, read from the release's own target-files and images.

Android's init loads build.prop partition by partition (system, system_ext, vendor, odm,
product, …) and a later file overrides an earlier one; the phone's properties are that merge.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from romforge.errors import ReleaseError
from romforge.release.record import UpdaterIdentity
from romforge.tree import RomTree
from romforge.updater.app import INCREMENTAL, Names, Properties, device_of

LOAD_ORDER = ("system", "system_ext", "system_dlkm", "vendor", "vendor_dlkm", "odm_dlkm", "odm", "product")
OTACERTS = ("system", "etc/security/otacerts.zip")  # RecoverySystem.verifyPackage's trusted certificates
PAYLOAD_KEY = ("system", "etc/update_engine/update-payload-key.pub.pem")  # update_engine's payload key
MAX_CERTS = 16
MAX_CERT_BYTES = 64 << 10


@dataclass
class Phone:
    """What the Updater and update_engine see on a phone running one release."""

    release: Path
    props: Properties
    otacerts: list[bytes] | None  # PEM/DER certificates of otacerts.zip; None when the build has none
    payload_key: bytes | None
    images: dict[str, str] = field(default_factory=dict)  # partition → SHA-256 of the image in the slot


def properties_of(tree: RomTree) -> Properties:
    values: dict[str, str] = {}
    present = tree.partitions()
    for partition in [p for p in LOAD_ORDER if p in present] + [p for p in present if p not in LOAD_ORDER]:
        prop = tree.build_prop(partition)
        if prop is not None:
            values.update(prop.items())
    return Properties(values)


def identity_of(props: Properties, names: Names) -> UpdaterIdentity:
    """The values the app puts in the URL and compares entries with, as this build states them."""
    return UpdaterIdentity(device=device_of(props, names), release_type=props.get(names.release_type),
                           incremental=props.get(INCREMENTAL), branch_version=props.get(names.branch_version),
                           uri=props.get(names.uri))


def _certificates(data: bytes, where: str) -> list[bytes]:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            infos = [i for i in zf.infolist() if not i.is_dir()][:MAX_CERTS]
            return [zf.read(i) for i in infos if i.file_size <= MAX_CERT_BYTES]
    except zipfile.BadZipFile:
        raise ReleaseError("otacerts.zip is not a zip; the phone trusts no OTA key", file=where) from None


def _file(tree: RomTree, partition: str, path: str) -> bytes | None:
    entry = tree.get(partition, path)
    return tree.read(partition, path) if entry is not None and entry.kind == "file" else None


def read_phone(release: Path, image_hashes: dict[str, str] | None = None) -> Phone:
    """The phone of a release directory (releases/<device>/<version>/). `image_hashes`: the
    SHA-256 of images/<partition>.img when the release record already has them."""
    target_files = release / "target-files.zip"
    if not target_files.is_file():
        raise ReleaseError("the release has no target-files.zip to read the phone's build from", file=release)
    tree = RomTree.open(target_files)
    otacerts = _file(tree, *OTACERTS)
    phone = Phone(release, properties_of(tree),
                  _certificates(otacerts, f"{target_files}:SYSTEM/{OTACERTS[1]}") if otacerts is not None else None,
                  _file(tree, *PAYLOAD_KEY))
    images = release / "images"
    for image in sorted(images.glob("*.img")) if images.is_dir() else []:
        known = (image_hashes or {}).get(f"images/{image.name}")
        phone.images[image.stem] = known or hashlib.sha256(image.read_bytes()).hexdigest()
    return phone

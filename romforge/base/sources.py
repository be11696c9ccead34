"""Where stock firmware comes from: a full OTA zip, a bare payload.bin, or a folder of
partition images (raw or Android sparse). Each becomes one raw image per partition, plus what
the payload manifest says about dynamic partitions; nothing is ever held whole in memory
(payloads are applied operation by operation, sparse images converted by simg2img)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from romforge.base.sparse import is_sparse, unsparse
from romforge.errors import InputError
from romforge.run.progress import NullProgress, Progress
from romforge.run.tools import Tools
from romforge.tree.paths import PARTITION_NAME


@dataclass(frozen=True)
class PartitionGroup:
    """A dynamic partition group of the super partition, as the payload manifest declares it."""

    name: str
    size: int
    partitions: tuple[str, ...]


@dataclass
class StockFirmware:
    source: Path
    kind: str  # "ota" | "payload" | "images"
    images: dict[str, Path]  # partition → its raw image
    groups: list[PartitionGroup] = field(default_factory=list)
    virtual_ab: bool | None = None  # None: the source does not say
    notes: list[str] = field(default_factory=list)


def open_stock_firmware(source: Path, work: Path, *, tools: Tools, progress: Progress | None = None) -> StockFirmware:
    """Raw images of every partition in `source`, written under `work` where they had to be made."""
    source = Path(source)
    progress = progress or NullProgress()
    if source.is_dir():
        return _image_folder(source, work, tools, progress)
    if not source.is_file():
        raise InputError("no such OTA, payload.bin or folder of images", file=source)
    from romforge.ota.apply import apply_ota  # the payload readers are imported only for a payload
    from romforge.ota.package import open_ota_package
    from romforge.ota.payload import parse_payload

    pkg = open_ota_package(source)
    offset, size = pkg.payload_span
    with open(source, "rb") as f:
        manifest = parse_payload(f, base=offset, size=size, source=str(source)).manifest
    if any(p.HasField("old_partition_info") for p in manifest.partitions):
        raise InputError("is an incremental OTA: it holds only changes; import the full OTA of that build",
                         file=source)
    out = work / "payload-images"
    apply_ota(source, out, progress=progress)
    images = {p.partition_name: out / f"{p.partition_name}.img" for p in manifest.partitions}
    firmware = StockFirmware(source, "ota" if pkg.is_zip else "payload", images)
    if manifest.HasField("dynamic_partition_metadata"):
        meta = manifest.dynamic_partition_metadata
        firmware.groups = [PartitionGroup(g.name, g.size, tuple(g.partition_names)) for g in meta.groups]
        firmware.virtual_ab = meta.snapshot_enabled
    if not pkg.is_zip:
        firmware.notes.append("a bare payload.bin carries no build fingerprint or OTA metadata")
    return firmware


def _image_folder(folder: Path, work: Path, tools: Tools, progress: Progress) -> StockFirmware:
    images: dict[str, Path] = {}
    notes = []
    for item in sorted(folder.iterdir()):
        if item.suffix != ".img" or not item.is_file():
            notes.append(f"ignored {item.name}: not a partition image (<partition>.img)")
            continue
        name = item.stem
        if not PARTITION_NAME.match(name):
            raise InputError(f"{item.name!r} does not name a partition (lowercase letters, digits, _)", file=item)
        if is_sparse(item):
            progress.step(f"unsparse {name}")
            raw = work / "unsparsed" / f"{name}.img"
            raw.parent.mkdir(parents=True, exist_ok=True)
            unsparse(item, raw, partition=name, tools=tools)
            images[name] = raw
        else:
            images[name] = item
    if not images:
        raise InputError("holds no partition images (<partition>.img, raw or sparse)", file=folder)
    notes.append("a folder of images says nothing of dynamic partition groups or A/B; ab_update assumed")
    return StockFirmware(folder, "images", images, notes=notes)

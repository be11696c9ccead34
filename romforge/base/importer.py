"""`romforge base import`: stock firmware (full OTA, payload.bin, folder of raw or sparse
images) → a target-files directory romforge builds on.

Each filesystem image is unpacked into its partition directory (system-as-root images split
back into ROOT/ + SYSTEM/), owners, modes, SELinux labels and capabilities go into
META/*filesystem_config.txt, boot-chain images stay whole under IMAGES/ and firmware under
RADIO/, and META/ab_partitions.txt, misc_info.txt and dynamic_partitions_info.txt are
reconstructed. Everything is written to a temporary sibling of DIR and renamed into place at
the end, so a failure leaves nothing behind. The report lists what could not be recovered
(entries without a label, AVB keys…) instead of guessing it.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

from romforge.base.filesystems import DIR, FsEntry, extract_erofs, extract_ext4
from romforge.base.metainfo import (ab_partitions_text, avb_settings, dynamic_partitions_text, fs_config_text,
                                    misc_info_text)
from romforge.base.sources import StockFirmware, open_stock_firmware
from romforge.errors import InputError, ReleaseError
from romforge.ota.images import detect_fs
from romforge.run.cores import machine_cores
from romforge.run.progress import NullProgress, Progress
from romforge.run.tools import Tools
from romforge.tree.paths import (AB_PARTITIONS, DYNAMIC_PARTITIONS_INFO, MISC_INFO, ROOT_DIR, ROOT_FS_CONFIG, TF_DIRS,
                                 fs_config_name, image_name, radio_image_name)

# images a bootloader reads whole: kept under IMAGES/, checked for their magic
BOOT_CHAIN_MAGIC = {"boot": b"ANDROID!", "init_boot": b"ANDROID!", "recovery": b"ANDROID!",
                    "vendor_boot": b"VNDRBOOT", "vendor_kernel_boot": b"VNDRBOOT", "dtbo": bytes.fromhex("d7b7ab1e")}
IMPORT_REPORT = "META/import_report.json"
MAX_LISTED = 20  # paths named per finding; the count says how many more


@dataclass
class ImportReport:
    source: Path
    out: Path
    kind: str
    partitions: dict[str, str] = field(default_factory=dict)  # partition → how it was imported
    unrecovered: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"source": self.source.name, "kind": self.kind, "partitions": dict(sorted(self.partitions.items())),
                "unrecovered": self.unrecovered, "notes": self.notes}


def import_base(source: Path, out: Path, *, tools: Tools | None = None,
                progress: Progress | None = None) -> ImportReport:
    """Write the target-files directory `out` from the stock firmware at `source`."""
    tools = tools or Tools()
    progress = progress or NullProgress()
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ReleaseError("already exists and is not empty; base import never writes over a base", file=out)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.importing-", dir=out.parent))
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}.work-", dir=out.parent))
    try:
        firmware = open_stock_firmware(Path(source), work, tools=tools, progress=progress)
        report = ImportReport(Path(source), out, firmware.kind, notes=list(firmware.notes))
        _write_base(firmware, staging, work, tools, progress, report)
        if out.exists():
            out.rmdir()
        os.rename(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)
    return report


def _write_base(firmware: StockFirmware, staging: Path, work: Path, tools: Tools, progress: Progress,
                report: ImportReport) -> None:
    (staging / "META").mkdir()
    fs_types: dict[str, str] = {}
    kept: dict[str, Path] = {}
    for name, image in sorted(firmware.images.items()):
        fs = _filesystem(image)
        if fs is None:
            kept[name] = _keep_whole(name, image, staging, work, report)
        elif name not in TF_DIRS:
            kept[name] = _keep_whole(name, image, staging, work, report)
            report.unrecovered.append(f"{name}: a {fs} image of a partition target-files has no directory for; "
                                      "kept whole, not unpacked")
        else:
            fs_types[name] = fs
    # fsck.erofs and debugfs are single-threaded: one partition per core, laid out in name order
    with ThreadPoolExecutor(max(1, min(machine_cores(), len(fs_types)))) as pool:
        extracted = {name: pool.submit(_extract, name, fs, firmware.images[name], work, tools)
                     for name, fs in sorted(fs_types.items())}
        try:
            for name, future in extracted.items():
                progress.step(f"import {name}", total=1)
                _lay_out(name, fs_types[name], future.result(), staging, work, report)
                progress.advance(1)
        except BaseException:
            pool.shutdown(cancel_futures=True)  # the import has failed: extract no more partitions
            raise
    avb_lines, avb_unknown = avb_settings(kept, footers=dict(firmware.images))
    report.unrecovered += avb_unknown
    (staging / MISC_INFO).write_text(misc_info_text(firmware, fs_types, avb_lines))
    (staging / AB_PARTITIONS).write_text(ab_partitions_text(list(firmware.images)))
    dynamic = dynamic_partitions_text(firmware)
    if dynamic is not None:
        (staging / DYNAMIC_PARTITIONS_INFO).write_text(dynamic)
        report.unrecovered.append("super_partition_size: a payload names group sizes, not the super partition's")
    else:
        report.unrecovered.append("dynamic partition groups: the source does not declare them; "
                                  f"{DYNAMIC_PARTITIONS_INFO} not written")
    report.unrecovered.append("the delta minor version the device's update_engine takes (update_engine_config.txt)"
                              " is not in a full payload")
    (staging / IMPORT_REPORT).write_text(json.dumps(report.to_dict(), indent=2, sort_keys=True) + "\n")


def _filesystem(image: Path) -> str | None:
    try:
        return detect_fs(image)
    except InputError:
        return None


def _keep_whole(name: str, image: Path, staging: Path, work: Path, report: ImportReport) -> Path:
    """A boot-chain image under IMAGES/ (checked for its magic), anything else under RADIO/."""
    with open(image, "rb") as f:
        head = f.read(8)
    magic = BOOT_CHAIN_MAGIC.get(name)
    if name in TF_DIRS:
        raise InputError(f"partition {name}: neither an erofs, ext4 nor Android sparse image", file=image)
    if magic is not None and not head.startswith(magic):
        raise InputError(f"partition {name}: not a {name} image (no {magic!r} magic at its start)", file=image)
    if name.startswith("vbmeta") and not head.startswith(b"AVB0"):
        raise InputError(f"partition {name}: not a vbmeta image (no AVB0 magic)", file=image)
    boot_chain = magic is not None or name.startswith("vbmeta")
    target = staging / (image_name(name) if boot_chain else radio_image_name(name))
    target.parent.mkdir(exist_ok=True)
    if image.is_relative_to(work):
        os.replace(image, target)
    else:
        shutil.copyfile(image, target)
    report.partitions[name] = "kept whole in IMAGES/" if boot_chain else "firmware, kept whole in RADIO/"
    return target


def _unpacked(work: Path, name: str) -> Path:
    return work / f"unpacked-{name}"


def _extract(name: str, fs: str, image: Path, work: Path, tools: Tools) -> list[FsEntry]:
    extract = extract_erofs if fs == "erofs" else extract_ext4
    return extract(image, _unpacked(work, name), partition=name, tools=tools)


def _lay_out(name: str, fs: str, entries: list[FsEntry], staging: Path, work: Path, report: ImportReport) -> None:
    """An extracted partition into its target-files directory, with its filesystem config."""
    dest = _unpacked(work, name)
    by_path = {e.path: e for e in entries}
    system_as_root = name == "system" and by_path.get("system", None) is not None \
        and by_path["system"].kind == DIR and "system/build.prop" in by_path
    if system_as_root:
        os.rename(dest / "system", staging / TF_DIRS["system"])
        (dest / "system").mkdir()  # the mount point stays in ROOT/
        os.rename(dest, staging / ROOT_DIR)
        root = [e for e in entries if e.path != "system" and not e.path.startswith("system/")]
        root.append(by_path["system"])
        root.sort(key=lambda e: e.path)
        system = [_below(e, "system") for e in entries if e.path == "system" or e.path.startswith("system/")]
        (staging / ROOT_FS_CONFIG).write_text(fs_config_text(root, ""))
        (staging / fs_config_name("system")).write_text(fs_config_text(system, "system"))
        report.partitions[name] = f"{fs}, system-as-root: ROOT/ + SYSTEM/"
        _unlabelled(name, entries, report)
        return
    os.rename(dest, staging / TF_DIRS[name])
    (staging / fs_config_name(name)).write_text(fs_config_text(entries, name))
    report.partitions[name] = f"{fs}, unpacked into {TF_DIRS[name]}/"
    _unlabelled(name, entries, report)


def _below(entry: FsEntry, top: str) -> FsEntry:
    return replace(entry, path=entry.path[len(top) + 1:] if entry.path != top else "")


def _unlabelled(name: str, entries: list[FsEntry], report: ImportReport) -> None:
    missing = [f"/{e.path}" for e in entries if e.selabel is None]
    if missing:
        shown = ", ".join(missing[:MAX_LISTED]) + (f" and {len(missing) - MAX_LISTED} more" if len(missing) > MAX_LISTED else "")
        report.unrecovered.append(f"{name}: {len(missing)} entries carry no security.selinux label "
                                  f"(left without selabel=): {shown}")

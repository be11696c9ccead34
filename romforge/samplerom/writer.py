"""Writing the planned sample ROM as a target-files directory (or zip), atomically."""

from __future__ import annotations

import os
import random
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path

from romforge.errors import InputError, ToolMissingError
from romforge.samplerom.apps import LARGE_APP_PATH, ApkCache, app_files, large_app_apk
from romforge.samplerom.bootchain import BootChain, boot_images, root_files
from romforge.samplerom.core import core_files, filler_files
from romforge.samplerom.meta import FILE_CONTEXTS_TEXT, meta_files
from romforge.samplerom.plan import FONT, Plan, SampleSpec
from romforge.run.tools import Tools
from romforge.selinux import FileContexts
from romforge.tree import (DIR, FILE_CONTEXTS, SYMLINK, TF_DIRS, Entry, FileMeta, RomTree, default_meta,
                           device_path, format_fs_config, fs_config_name, write_target_files)


def write_plan(plan: Plan, root: Path) -> None:
    fc = FileContexts.parse(FILE_CONTEXTS_TEXT, source=FILE_CONTEXTS)
    entries: dict[tuple[str, str], Entry] = {}

    def meta(partition: str, path: str, kind: str, given: FileMeta | None) -> FileMeta:
        base = given or default_meta(partition, path, kind)
        label = fc.lookup(device_path(partition, path), kind)
        return replace(base, selabel=label)

    for partition in plan.partitions():
        (root / TF_DIRS[partition]).mkdir(parents=True)
        entries[(partition, "")] = Entry(partition, "", DIR, meta(partition, "", DIR, None))
    for key in sorted(plan.items):
        item = plan.items[key]
        target = root / TF_DIRS[item.partition] / item.path
        parts = item.path.split("/")
        for i in range(1, len(parts)):
            parent = "/".join(parts[:i])
            if (item.partition, parent) not in entries:
                (root / TF_DIRS[item.partition] / parent).mkdir(exist_ok=True)
                dir_meta = FileMeta(0, 2000, 0o751) if parent in ("bin", "bin/hw") else None
                entries[(item.partition, parent)] = Entry(item.partition, parent, DIR,
                                                          meta(item.partition, parent, DIR, dir_meta))
        if item.kind == SYMLINK:
            os.symlink(item.link or "", target)
        elif item.kind == DIR:
            target.mkdir(exist_ok=True)
        else:
            data = item.data() if callable(item.data) else item.data
            target.write_bytes(data or b"")
        entries[key] = Entry(item.partition, item.path, item.kind, meta(item.partition, item.path, item.kind,
                                                                        item.meta), item.link)
    (root / "META").mkdir()
    for tf_path, data in plan.extras.items():
        (root / tf_path).parent.mkdir(parents=True, exist_ok=True)
        (root / tf_path).write_bytes(data)
    for partition in plan.partitions():
        rows = [entries[k] for k in sorted(entries) if k[0] == partition]
        (root / fs_config_name(partition)).write_text(format_fs_config(rows))


def generate(out: Path, *, spec: SampleSpec | None = None, files: int = 400, seed: int = 0,
             large_apk_mb: int = 0, apk_cache: ApkCache | None = None,
             tools: Tools | None = None) -> Path:
    """Write a sample target-files to `out` (a directory, or a zip when it ends in .zip).

    `large_apk_mb` adds a prebuilt app of about that size (product/app/Gallery) with stored assets;
    `apk_cache` lets a caller that makes many sample ROMs build each app once."""
    spec = spec or SampleSpec()
    out = Path(out)
    if out.exists() or out.is_symlink():
        raise InputError("already exists; sample-rom never overwrites", file=out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create the parent directory: {exc.strerror}", file=out.parent) from None
    if not FONT.is_file():
        raise ToolMissingError(str(FONT), "fonts-droid-fallback")
    rng = random.Random(f"romforge-sample-{seed}")
    plan = Plan(spec)
    core_files(plan, rng, FONT.read_bytes())
    app_files(plan, apk_cache)
    if large_apk_mb:
        plan.add("product", LARGE_APP_PATH, large_app_apk(seed, large_apk_mb, version=1))
    if spec.system_as_root:
        root_files(plan, rng)
        boot_images(plan, rng, seed, BootChain(), tools)
    meta_files(plan, BootChain() if spec.system_as_root else None)
    filler_files(plan, rng, files)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    try:
        root = tmp / "target-files"
        root.mkdir()
        write_plan(plan, root)
        if out.suffix == ".zip":
            zipped = tmp / "target-files.zip"
            write_target_files(RomTree.open(root), zipped)
            os.replace(zipped, out)
        else:
            os.replace(root, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


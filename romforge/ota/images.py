"""Partition images: each partition of a target-files tree as the erofs (or ext4) image a device mounts.

Debian's mkfs.erofs has no fs_config option, so ownership, modes, SELinux labels
(`security.selinux`) and capabilities (`security.capability`) are given to a private
staging copy under `fakeroot`, which fakes them for the image tool. The copy is private
because fakeroot's chmod also changes the real inode, and a materialized tree shares inodes
with the base ROM. Timestamps and UUIDs are fixed, so the same tree gives the same bytes.

Images are uncompressed erofs without tail inlining (`-E noinline_data`): every byte of a
file lives in blocks of its own, so the delta planner can copy or diff files block-exactly
and file blocks stay byte-comparable between builds (compressed erofs would need
update_engine's LZ4DIFF, minor version 9, which romforge does not write). The price is up
to one partly filled block per file.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import sys
import tempfile
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping

from romforge.run.cores import Cores, standalone
from romforge.errors import InputError, ToolFailedError
from romforge.ota.debugfs import file_blocks, stamp_times
from romforge.run.tools import Tools
from romforge.tree import DIR, FILE, ROOT, SYMLINK, Entry, RomTree, sha256_file
from romforge.run.process import run_program

BLOCK_SIZE = 4096
IMAGE_EPOCH = 1230768000  # 2009-01-01 00:00:00 UTC, the date releasetools stamps on zip entries
_UUID_NAMESPACE = uuid.UUID("6f1d7c8e-2a4b-5c3d-9e8f-0a1b2c3d4e5f")
FILESYSTEMS = ("erofs", "ext4")
VFS_CAP_REVISION_2 = 0x02000000
VFS_CAP_FLAGS_EFFECTIVE = 0x000001
EXT4_ENV = {"E2FSPROGS_FAKE_TIME": str(IMAGE_EPOCH)}  # mke2fs and debugfs stamp this, not the clock


@dataclass(frozen=True)
class PartitionImage:
    partition: str
    fs: str
    path: Path
    size: int
    sha256: str

    def to_dict(self) -> dict:
        return {"fs": self.fs, "size": self.size, "sha256": self.sha256}


def find_tool(name: str) -> str:
    """An image tool (erofs-utils, e2fsprogs, fakeroot), also from /usr/sbin."""
    return Tools().path(name)


def image_uuid(partition: str) -> str:
    """A fixed UUID per partition name: the same on every build, so superblocks do not differ."""
    return str(uuid.uuid5(_UUID_NAMESPACE, f"romforge/{partition}"))


def capability_xattr(capabilities: int) -> bytes:
    """struct vfs_cap_data (revision 2), as AOSP's fs_config writes it: permitted + effective."""
    return struct.pack("<IIIII", VFS_CAP_REVISION_2 | VFS_CAP_FLAGS_EFFECTIVE,
                       capabilities & 0xFFFFFFFF, 0, capabilities >> 32, 0)


def image_entries(tree: RomTree, partition: str) -> list[tuple[str, Entry]]:
    """(path inside the image, entry) for everything the partition's image holds.

    A system-as-root target-files (one with ROOT/) puts ROOT/ at the top of system.img and
    SYSTEM/ under /system, as AOSP's build_image does; ROOT/'s own /system mount point is
    given the system partition's metadata. Every other image holds just its partition."""
    if partition != "system" or tree.get(ROOT, "") is None:
        return [(e.path, e) for e in tree.iter_entries(partition)]
    top = [(e.path, e) for e in tree.iter_entries(ROOT) if e.path != "system"]
    return top + [(f"system/{e.path}" if e.path else "system", e) for e in tree.iter_entries(partition)]


def _stage_partition(tree: RomTree, partition: str, root: Path) -> list[list]:
    """Copy the partition's image contents into `root` and return their metadata for the fakeroot job."""
    root.mkdir(parents=True)
    entries = []
    directories = {""}
    for rel, e in image_entries(tree, partition):
        target = root / rel if rel else root
        if rel and os.path.dirname(rel) not in directories:
            raise InputError(f"{e.device_path} lies below something that is not a directory (a symlink?)",
                             file=tree.name)
        if e.kind == DIR:
            target.mkdir(exist_ok=True)
            directories.add(rel)
        elif e.kind == SYMLINK:
            os.symlink(e.link_target or "", target)
        else:
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
            with tree.open_file(e.partition, e.path) as src, os.fdopen(fd, "wb") as out:
                shutil.copyfileobj(src, out, 1 << 20)
        os.utime(target, (IMAGE_EPOCH, IMAGE_EPOCH), follow_symlinks=False)
        xattrs = []
        if e.meta.selabel:
            xattrs.append(["security.selinux", (e.meta.selabel.encode() + b"\0").hex()])
        if e.meta.capabilities and e.kind == FILE:
            xattrs.append(["security.capability", capability_xattr(e.meta.capabilities).hex()])
        entries.append([rel, e.meta.uid, e.meta.gid, None if e.kind == SYMLINK else e.meta.mode, xattrs])
    for dirpath, dirnames, _ in os.walk(root):  # directory mtimes changed while files were added
        for d in dirnames:
            os.utime(os.path.join(dirpath, d), (IMAGE_EPOCH, IMAGE_EPOCH), follow_symlinks=False)
    os.utime(root, (IMAGE_EPOCH, IMAGE_EPOCH))
    return entries


def _ext4_blocks(tree: RomTree, partition: str) -> tuple[int, int]:
    """(blocks, inodes) for an ext4 image that holds the partition with a little room to spare."""
    data = inodes = 0
    for _, e in image_entries(tree, partition):
        inodes += 1
        data += 1 if e.kind == DIR else (-(-tree.size(e.partition, e.path) // BLOCK_SIZE) if e.kind == FILE else 0)
    inodes = (inodes + 64 + 15) // 16 * 16
    blocks = int(data * 1.08) + inodes * 256 // BLOCK_SIZE + 1024
    return (blocks + 255) // 256 * 256, inodes


def _commands(fs: str, partition: str, root: Path, out: Path, tree: RomTree) -> tuple[list, dict]:
    fixed = image_uuid(partition)
    if fs == "erofs":
        return [[find_tool("mkfs.erofs"), "--quiet", "-E", "noinline_data", "-T", str(IMAGE_EPOCH), "-U", fixed,
                 str(out), str(root)]], {}
    blocks, inodes = _ext4_blocks(tree, partition)
    mke2fs = [find_tool("mke2fs"), "-q", "-t", "ext4", "-b", str(BLOCK_SIZE), "-O", "^has_journal", "-m", "0",
              "-N", str(inodes), "-U", fixed, "-E", f"hash_seed={fixed}", "-L", partition, "-d", str(root),
              str(out), str(blocks)]
    return [mke2fs], EXT4_ENV


def build_image(tree: RomTree, partition: str, fs: str, out: Path, *, workdir: Path) -> PartitionImage:
    """Write `partition` of `tree` as an image at `out` (erofs or ext4)."""
    if fs not in FILESYSTEMS:
        raise InputError(f"unknown filesystem {fs!r} for {partition}; use one of {', '.join(FILESYSTEMS)}")
    if tree.get(partition, "") is None:
        raise InputError(f"the tree has no {partition} partition", file=tree.name)
    fakeroot = find_tool("fakeroot")
    work = Path(tempfile.mkdtemp(prefix=f"image-{partition}-", dir=workdir))
    try:
        root = work / "root"
        entries = _stage_partition(tree, partition, root)
        commands, env = _commands(fs, partition, root, out, tree)
        job = work / "job.json"
        job.write_text(json.dumps({"root": str(root), "entries": entries, "commands": commands, "env": env}))
        proc = run_program([fakeroot, "--", sys.executable, "-m", "romforge.ota._fakeroot", str(job)],
                              capture_output=True, text=True, env={**os.environ, "FAKEROOTDONTTRYCHOWN": "1"})
        if proc.returncode != 0:
            out.unlink(missing_ok=True)
            detail = "; ".join((proc.stderr or proc.stdout).strip().splitlines()[-4:])
            raise ToolFailedError(f"building the {fs} image of {partition} failed: {detail}")
        if fs == "ext4":  # mke2fs -d took atime and ctime from the staging copy; debugfs, by inode number
            try:
                stamp_times(find_tool("debugfs"), out, IMAGE_EPOCH, env=EXT4_ENV)
            except BaseException:
                out.unlink(missing_ok=True)
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return PartitionImage(partition, fs, out, out.stat().st_size, sha256_file(out))


def build_images(tree: RomTree, partitions: Mapping[str, str], out_dir: Path, *, workdir: Path,
                 advance: Callable[[int], None] | None = None, jobs: int | None = None,
                 cores: Cores | None = None) -> dict[str, PartitionImage]:
    """Every listed partition as out_dir/<partition>.img, side by side on the cores the run lends
    (the tools are single-threaded)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    workdir.mkdir(parents=True, exist_ok=True)
    names = [p for p in tree.partitions() if p in partitions]

    def one(name: str) -> PartitionImage:
        image = build_image(tree, name, partitions[name], out_dir / f"{name}.img", workdir=workdir)
        if advance:
            advance(1)
        return image

    with (cores or standalone()).borrow(min(len(names), jobs or len(names))) as lent:
        if lent <= 1:
            return {image.partition: image for image in map(one, names)}
        with ThreadPoolExecutor(max_workers=lent) as pool:
            return {image.partition: image for image in pool.map(one, names)}


# ---- reading images back ------------------------------------------------------------


def detect_fs(image: Path) -> str:
    with open(image, "rb") as f:
        head = f.read(2048)
    if len(head) >= 1028 and struct.unpack_from("<I", head, 1024)[0] == 0xE0F5E1E2:
        return "erofs"
    if len(head) >= 1082 and struct.unpack_from("<H", head, 1024 + 56)[0] == 0xEF53:
        return "ext4"
    raise InputError("neither an erofs nor an ext4 image", file=image)


def file_map(image: Path, *, directories: bool = False) -> dict[str, list[tuple[int, int]]]:
    """Regular file path → (start_block, count) extents of its data blocks, read from the image.

    With `directories` (erofs), directory blocks too, keyed by the path plus "/"."""
    fs = detect_fs(image)
    if fs == "erofs":
        from romforge.ota.erofs import file_blocks, read_erofs

        return file_blocks(read_erofs(image), directories=directories)
    return _ext4_file_map(image)


def _ext4_file_map(image: Path) -> dict[str, list[tuple[int, int]]]:
    """debugfs walks the tree and lists each file's blocks, every request by inode number."""
    return file_blocks(find_tool("debugfs"), image)

"""Unpacking one filesystem image into a directory, with every inode's owner, mode, SELinux
label and capabilities.

erofs: romforge's own reader (ota/erofs.py, metadata only, so compressed stock images work)
gives the metadata and checks every name first; Debian's `fsck.erofs --extract` writes the
contents, streaming and decompressing (lz4) as update_engine's device would read them.
ext4: `debugfs` from e2fsprogs, addressed by inode number only (`<12>`), so no name from the
image ever reaches a debugfs command; contents are dumped to names this module makes up.
Symlinks are written as links and never followed; names that could leave the output
('..', '/', NUL) or that fs_config text cannot carry (whitespace) are refused.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path

from romforge.errors import InputError
from romforge.ota.erofs import read_erofs
from romforge.run.tools import Tools
from romforge.run.process import run_program

DIR, FILE, SYMLINK = "dir", "file", "symlink"
SELINUX_XATTR = "security.selinux"
CAPABILITY_XATTR = "security.capability"
MAX_DEPTH = 64


@dataclass(frozen=True)
class FsEntry:
    path: str  # "" is the image root; "/"-separated, relative
    kind: str
    uid: int
    gid: int
    mode: int  # permission bits (07777)
    selabel: str | None
    capabilities: int
    link_target: str | None = None


def capabilities_of(value: bytes | None) -> int:
    """The permitted set of a security.capability xattr (struct vfs_cap_data, revision 1, 2 or 3)."""
    if not value or len(value) < 12:
        return 0
    magic, low = struct.unpack_from("<II", value, 0)
    revision = magic & 0xFF000000
    if revision == 0x01000000:
        return low
    high = struct.unpack_from("<I", value, 12)[0] if len(value) >= 16 else 0
    return low | high << 32


def selabel_of(value: bytes | None) -> str | None:
    if not value:
        return None
    label = value.split(b"\0", 1)[0].decode("utf-8", "replace")
    return label or None


def _bad(image: Path, partition: str, message: str) -> InputError:
    return InputError(f"partition {partition}: {message}", file=image)


def check_name(image: Path, partition: str, path: str) -> None:
    """Refuse a path that could leave the output or that fs_config text cannot carry."""
    for part in path.split("/"):
        if part in ("", ".", "..") or "\0" in part:
            raise _bad(image, partition, f"path {path[:80]!r} leaves the partition (empty, '.' or '..' component)")
        if any(c.isspace() for c in part) or not part.isprintable():
            raise _bad(image, partition, f"path {path[:80]!r} holds whitespace or control characters, which "
                                         "META/*filesystem_config.txt cannot carry")


def extract_erofs(image: Path, dest: Path, *, partition: str, tools: Tools) -> list[FsEntry]:
    """Unpack an erofs image into `dest` (which must not exist); its entries, root first."""
    try:
        parsed = read_erofs(image, metadata_only=True)
    except InputError as exc:
        raise _bad(image, partition, exc.message) from None
    entries = []
    for path in sorted(parsed.inodes):
        inode = parsed.inodes[path]
        if path:
            check_name(image, partition, path)
        entries.append(FsEntry(path, inode.kind, inode.uid, inode.gid, stat.S_IMODE(inode.mode),
                               selabel_of(inode.xattrs.get(SELINUX_XATTR)),
                               capabilities_of(inode.xattrs.get(CAPABILITY_XATTR)), inode.link_target))
    if not stat.S_ISDIR(parsed.inodes[""].mode):
        raise _bad(image, partition, "the erofs root is not a directory")
    proc = run_program([tools.path("fsck.erofs"), f"--extract={dest}", "--no-preserve", str(image)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        detail = "; ".join((proc.stderr or proc.stdout).strip().splitlines()[-2:])[:200]
        raise _bad(image, partition, f"fsck.erofs could not extract it ({detail})")
    return entries


# ---- ext4 ---------------------------------------------------------------------------


def _debugfs(tools: Tools, image: Path, partition: str, requests: list[str]) -> str:
    with tempfile.NamedTemporaryFile("w", suffix=".debugfs", delete=False) as f:
        f.write("".join(r + "\n" for r in requests))
        script = f.name
    try:
        proc = run_program([tools.path("debugfs"), "-f", script, str(image)], capture_output=True,
                              text=True, errors="surrogateescape")
    finally:
        os.unlink(script)
    if proc.returncode != 0:
        raise _bad(image, partition, f"debugfs could not read it: {proc.stderr.strip()[:200]}")
    return proc.stdout


def _ext4_listing(tools: Tools, image: Path, partition: str) -> list[tuple[str, int, int, int, int]]:
    """(path, inode, st_mode, uid, gid) of every entry, walking directories by inode number."""
    found = [("", 2, 0, 0, 0)]
    pending = [("", 2, 0)]
    seen = {2}
    while pending:
        batch, pending = pending, []
        out = _debugfs(tools, image, partition, [f"ls -p <{ino}>" for _, ino, _ in batch])
        chunks = out.split("debugfs: ")[1:]
        if len(chunks) != len(batch):
            raise _bad(image, partition, "debugfs listed the directories in an unexpected form")
        for (parent, _, depth), chunk in zip(batch, chunks):
            for line in chunk.splitlines()[1:]:
                parts = line.strip().split("/")  # /inode/mode/uid/gid/name/size/
                if len(parts) < 7 or not parts[1].isdigit():
                    continue
                name = "/".join(parts[5:-2])
                if name in (".", "..") or (not parent and name == "lost+found"):
                    continue
                path = f"{parent}/{name}" if parent else name
                check_name(image, partition, path)
                ino, mode, uid, gid = int(parts[1]), int(parts[2], 8), int(parts[3]), int(parts[4])
                found.append((path, ino, mode, uid, gid))
                if stat.S_ISDIR(mode):
                    if ino in seen or depth >= MAX_DEPTH:
                        raise _bad(image, partition, f"directory /{path} is linked twice or nested too deep")
                    seen.add(ino)
                    pending.append((path, ino, depth + 1))
    return found


def extract_ext4(image: Path, dest: Path, *, partition: str, tools: Tools) -> list[FsEntry]:
    """Unpack an ext4 image into `dest` (which must not exist); its entries, root first."""
    listing = _ext4_listing(tools, image, partition)
    root_stat = _debugfs(tools, image, partition, ["stat <2>"])
    listing[0] = ("", 2, *_stat_fields(root_stat, image, partition))
    work = Path(tempfile.mkdtemp(prefix="ext4-", dir=dest.parent))
    if '"' in str(work) or not str(work).isprintable():
        raise InputError("the output path holds a quote or control character, which debugfs commands cannot carry",
                         file=dest.parent)
    try:
        requests = []
        for _, ino, mode, _, _ in listing:
            for name in (SELINUX_XATTR, CAPABILITY_XATTR):
                requests.append(f'ea_get -f "{work}/{ino}.{name}" <{ino}> {name}')
            if stat.S_ISREG(mode):
                requests.append(f'dump <{ino}> "{work}/{ino}.data"')
            elif stat.S_ISLNK(mode):  # a fast link's target is in the inode (stat shows it), a slow one's in a block
                requests += [f"stat <{ino}>", f'dump <{ino}> "{work}/{ino}.data"']
        out = _debugfs(tools, image, partition, requests)
        links = _link_targets(out, image, partition)
        entries = []
        placed: dict[int, Path] = {}
        dest.mkdir()
        for path, ino, mode, uid, gid in listing:
            xattr = {n: _read_optional(work / f"{ino}.{n}") for n in (SELINUX_XATTR, CAPABILITY_XATTR)}
            kind = DIR if stat.S_ISDIR(mode) else SYMLINK if stat.S_ISLNK(mode) else FILE
            target = dest / path if path else dest
            link = None
            if kind == DIR and path:
                target.mkdir()
            elif kind == SYMLINK:
                link = links.get(ino)
                if link is None and (work / f"{ino}.data").is_file():
                    link = (work / f"{ino}.data").read_bytes().decode("utf-8", "surrogateescape")
                if not link:
                    raise _bad(image, partition, f"symlink /{path}: debugfs did not show its target")
                os.symlink(link, target)
            elif kind == FILE:
                if not stat.S_ISREG(mode):
                    raise _bad(image, partition, f"/{path} is a device, socket or fifo; target-files hold none")
                if ino in placed:  # a hard link: target-files know no links between files, so a copy
                    shutil.copyfile(placed[ino], target)
                else:
                    os.replace(work / f"{ino}.data", target)
                    placed[ino] = target
            entries.append(FsEntry(path, kind, uid, gid, stat.S_IMODE(mode), selabel_of(xattr[SELINUX_XATTR]),
                                   capabilities_of(xattr[CAPABILITY_XATTR]), link))
        return entries
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _read_optional(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def _stat_fields(out: str, image: Path, partition: str) -> tuple[int, int, int]:
    mode = re.search(r"Mode:\s+(\d+)", out)
    user = re.search(r"User:\s+(\d+)", out)
    group = re.search(r"Group:\s+(\d+)", out)
    if not (mode and user and group):
        raise _bad(image, partition, "debugfs did not show the root directory's owner and mode")
    return 0o040000 | int(mode.group(1), 8), int(user.group(1)), int(group.group(1))


def _link_targets(out: str, image: Path, partition: str) -> dict[int, str]:
    """inode → symlink target, from the `stat <N>` blocks of a debugfs run."""
    targets = {}
    for chunk in out.split("debugfs: ")[1:]:
        head, _, body = chunk.partition("\n")
        m = re.match(r"stat <(\d+)>", head.strip())
        if not m:
            continue
        link = re.search(r'Fast link dest: "(.*)"\s*$', body, re.M)
        if link:
            targets[int(m.group(1))] = link.group(1)
    return targets

"""Talking to e2fsprogs' debugfs without ever handing it a file name.

debugfs reads its requests as lines split into words by its own small shell (lib/ss): a
name holding a quote or a line break would end one request and start another (`lcd ..`,
`dump`, `rm` …). So every request here names an inode by number (`<12>`), numbers that
come from debugfs's own `ls -p` output; names only ever travel the other way, out of
debugfs, and that output is parsed strictly: a line that is not `/ino/mode/uid/gid/name/size/`
(a name with a line break in a hostile image) is an InputError, never a guess.
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from romforge.errors import InputError, ToolFailedError
from romforge.run.process import run_program

ROOT_INODE = 2
LOST_FOUND = "lost+found"
MAX_DEPTH = 64
_ENTRY = re.compile(rb"/(\d+)/([0-7]+)/(\d+)/(\d+)/([^/]*)/(\d*)/")
_S_IFMT, _S_IFDIR, _S_IFREG = 0o170000, 0o040000, 0o100000


@dataclass(frozen=True)
class Node:
    """One inode reached from the root: its path (no leading '/'; '' for the root) and mode."""

    path: str
    inode: int
    mode: int

    @property
    def is_dir(self) -> bool:
        return self.mode & _S_IFMT == _S_IFDIR

    @property
    def is_file(self) -> bool:
        return self.mode & _S_IFMT == _S_IFREG


def run_requests(debugfs: str, image: Path, requests: list[str], *, write: bool = False,
                 env: Mapping[str, str] | None = None) -> list[bytes]:
    """Run `requests` (each `verb … <inode>`, no names) in one debugfs, and return each one's
    output. Every request must be echoed back as `debugfs: REQUEST` in order; anything else
    (a name in the output forging an echo) is an InputError naming the image."""
    for request in requests:
        if not re.fullmatch(r"[a-z_]+( -[a-z]+)?( <\d+>)( [a-z_]+ @?\d+)?", request):
            raise ValueError(f"not a name-free debugfs request: {request!r}")
    with tempfile.NamedTemporaryFile("w", suffix=".debugfs", delete=False) as f:
        f.write("".join(r + "\n" for r in requests))
        script = f.name
    try:
        proc = run_program([debugfs, *(["-w"] if write else []), "-f", script, str(image)], capture_output=True,
                              env={**os.environ, **(env or {})})
    finally:
        os.unlink(script)
    errors = [line for line in proc.stderr.decode("utf-8", "replace").splitlines()
              if line.strip() and not line.startswith("debugfs ")]  # the version banner
    if proc.returncode != 0 or errors:
        raise ToolFailedError(f"debugfs could not read {image}: {'; '.join(errors)[:300] or proc.returncode}")
    outputs: list[bytes] = []
    echoes = [b"debugfs: " + r.encode() for r in requests]
    current: list[bytes] | None = None
    for line in proc.stdout.split(b"\n"):
        if len(outputs) < len(echoes) and line == echoes[len(outputs)]:
            if current is not None:
                outputs[-1] = b"\n".join(current)
            outputs.append(b"")
            current = []
        elif current is None:
            if line.strip():
                raise InputError(f"unexpected debugfs output {line[:80]!r}", file=image)
        else:
            current.append(line)
    if current is not None:
        outputs[-1] = b"\n".join(current)
    if len(outputs) != len(requests):
        raise InputError(f"debugfs answered {len(outputs)} of {len(requests)} requests", file=image)
    return outputs


def _listing(output: bytes, directory: Node, image: Path) -> list[Node]:
    nodes = []
    for line in output.split(b"\n"):
        if not line.strip():
            continue
        match = _ENTRY.fullmatch(line)
        if match is None:
            shown = directory.path or "/"
            raise InputError(f"a name in directory {shown!r} holds a line break or is not a name debugfs can list",
                             file=image)
        inode, mode, _, _, raw, _ = match.groups()
        name = raw.decode("utf-8", "surrogateescape")
        if name in (".", "..") or (directory.inode == ROOT_INODE and name == LOST_FOUND):
            continue
        path = f"{directory.path}/{name}" if directory.path else name
        nodes.append(Node(path, int(inode), int(mode, 8)))
    return nodes


def walk(debugfs: str, image: Path) -> list[Node]:
    """Every inode reachable from the root (lost+found left out), one debugfs run per depth
    level; a directory linked twice (a loop) or nested deeper than 64 is an InputError."""
    root = Node("", ROOT_INODE, _S_IFDIR | 0o755)
    found = [root]
    level = [root]
    seen = {ROOT_INODE}
    depth = 0
    while level:
        depth += 1
        if depth > MAX_DEPTH:
            raise InputError(f"directories nested deeper than {MAX_DEPTH} at {level[0].path[:80]}", file=image)
        outputs = run_requests(debugfs, image, [f"ls -p <{d.inode}>" for d in level])
        below: list[Node] = []
        for directory, output in zip(level, outputs):
            for node in _listing(output, directory, image):
                if node.is_dir:
                    if node.inode in seen:
                        raise InputError(f"directory {node.path} is linked twice (a loop)", file=image)
                    seen.add(node.inode)
                    below.append(node)
                found.append(node)
        level = below
    return found


def file_blocks(debugfs: str, image: Path) -> dict[str, list[tuple[int, int]]]:
    """Regular file path → (start_block, count) extents of its data, from `blocks <inode>`."""
    files = [n for n in walk(debugfs, image) if n.is_file]
    result: dict[str, list[tuple[int, int]]] = {}
    if not files:
        return result
    outputs = run_requests(debugfs, image, [f"blocks <{n.inode}>" for n in files])
    for node, output in zip(files, outputs):
        words = output.split()
        if not all(w.isdigit() and len(w) <= 20 for w in words):  # bytes.isdigit: ASCII only
            raise InputError(f"debugfs listed blocks of {node.path} that are not numbers", file=image)
        extents: list[tuple[int, int]] = []
        for n in map(int, words):
            if extents and extents[-1][0] + extents[-1][1] == n:
                extents[-1] = (extents[-1][0], extents[-1][1] + 1)
            else:
                extents.append((n, 1))
        if extents:
            result[node.path] = extents
    return result


def stamp_times(debugfs: str, image: Path, seconds: int, *, env: Mapping[str, str] | None = None) -> None:
    """Set atime and ctime of every inode reachable from the root (what mke2fs -d copies from
    the staging tree and the clock) to `seconds`, so the same tree gives the same image."""
    nodes = sorted(walk(debugfs, image), key=lambda n: n.inode)  # in inode-table order
    requests = [f"sif <{n.inode}> {field} @{seconds}" for n in nodes for field in ("atime", "ctime")]
    run_requests(debugfs, image, requests, write=True, env=env)

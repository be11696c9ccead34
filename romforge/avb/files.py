"""File handling shared by the AVB writers: outputs appear whole or not at all."""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from romforge.outputs import make_parent


@contextmanager
def temporary_sibling(path: Path) -> Iterator[Path]:
    """A temporary file beside `path`, renamed onto it when the block succeeds, removed otherwise."""
    path = Path(path)
    make_parent(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_atomically(path: Path, data: bytes) -> Path:
    with temporary_sibling(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)

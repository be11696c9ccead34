"""Android sparse images (libsparse's format, what fastboot flashes): recognised by their
magic, turned into raw images by Debian's `simg2img`, which streams chunk by chunk."""

from __future__ import annotations

import struct
from pathlib import Path

from romforge.errors import InputError
from romforge.run.tools import Tools
from romforge.run.process import run_program

SPARSE_MAGIC = 0xED26FF3A  # sparse_format.h: SPARSE_HEADER_MAGIC, little-endian at offset 0


def is_sparse(image: Path) -> bool:
    with open(image, "rb") as f:
        head = f.read(4)
    return len(head) == 4 and struct.unpack("<I", head)[0] == SPARSE_MAGIC


def unsparse(image: Path, out: Path, *, partition: str, tools: Tools) -> None:
    """Write the raw image of a sparse one; a bad chunk is an InputError naming file and partition."""
    proc = run_program([tools.path("simg2img"), str(image), str(out)], capture_output=True, text=True)
    if proc.returncode != 0:
        out.unlink(missing_ok=True)
        detail = "; ".join((proc.stderr or proc.stdout).strip().splitlines()[:2])[:200] or "simg2img failed"
        raise InputError(f"partition {partition}: not a readable Android sparse image ({detail})", file=image)

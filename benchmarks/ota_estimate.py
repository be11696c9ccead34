"""An AOSP-style estimate of an incremental payload's data, computed on the files themselves.

What AOSP's delta_generator would roughly send, without its manifest and filesystem metadata:
each changed file is diffed against its old version (same path, else the one old file whose
path matches with digits stripped) as one classic BSDIFF40 patch (bzip2 streams); where both
versions are zips, the deflate streams of the entries that changed are inflated first (the
bytes puffdiff lets bsdiff see). Files with no old version cost their xz -6 size; unchanged
files cost nothing. The suffix sort is detools' divsufsort (the same algorithm as bsdiff's,
faster), so the estimate takes minutes, not hours.
"""

from __future__ import annotations

import bz2
import lzma
import re
import struct
import zipfile
import zlib
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from pathlib import Path

from romforge.tree import FILE, RomTree

_DIGITS = re.compile(r"[0-9]+")


def _bsdiff40_size(old: bytes, new: bytes) -> int:
    from detools import bsdiff as dbsdiff
    from detools.common import unpack_size_bytes
    from detools.suffix_array import divsufsort

    sa = bytearray(4 * (len(old) + 1))
    divsufsort(old, sa)
    chunks = dbsdiff.create_patch(sa, old, new, bytearray(len(new) + 1))
    control = bytearray()
    diffs, extras = [], []

    def i64(v: int) -> bytes:
        return struct.pack("<Q", v if v >= 0 else (1 << 63) | -v)

    for i in range(0, len(chunks), 5):
        diffs.append(chunks[i + 1])
        extras.append(chunks[i + 3])
        control += i64(len(chunks[i + 1])) + i64(len(chunks[i + 3])) + i64(unpack_size_bytes(chunks[i + 4]))
    streams = [bytes(control), b"".join(diffs), b"".join(extras)]
    return 32 + sum(len(bz2.compress(s, 9)) for s in streams)


def _zip_entries(data: bytes) -> dict[str, tuple[int, int, int, int]] | None:
    """name → (data offset, compressed size, crc, method) of every entry, or None for a non-zip."""
    if not data.startswith(b"PK\x03\x04"):
        return None
    try:
        import io

        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            entries = {}
            for info in zf.infolist():
                h = info.header_offset
                name_len, extra_len = struct.unpack_from("<HH", data, h + 26)
                entries[info.filename] = (h + 30 + name_len + extra_len, info.compress_size, info.CRC,
                                          info.compress_type)
            return entries
    except (zipfile.BadZipFile, struct.error, ValueError):
        return None


def _inflated(data: bytes, entries: dict, changed: set[str]) -> bytes:
    """The zip's bytes with the deflate streams of `changed` entries replaced by their content."""
    out, pos = [], 0
    for name, (offset, size, _crc, method) in sorted(entries.items(), key=lambda kv: kv[1][0]):
        if name not in changed or method != zipfile.ZIP_DEFLATED or offset < pos:
            continue
        out.append(data[pos:offset])
        out.append(zlib.decompress(data[offset:offset + size], -15))
        pos = offset + size
    out.append(data[pos:])
    return b"".join(out)


def _pair_cost(job: tuple[bytes | None, bytes]) -> int:
    old, new = job
    if old is None:
        return len(lzma.compress(new, preset=6))
    if old == new:
        return 0
    old_entries, new_entries = _zip_entries(old), _zip_entries(new)
    if old_entries is not None and new_entries is not None:
        changed = {n for n, e in new_entries.items() if n not in old_entries or old_entries[n][2] != e[2]}
        old = _inflated(old, old_entries, changed)
        new = _inflated(new, new_entries, changed)
    return _bsdiff40_size(old, new)


def puffed_pair_cost(job: tuple[bytes | None, bytes]) -> int | None:
    """The estimate's cost of a zip pair with one change: bsdiff over the *puffed* streams, which
    is what puffin's PuffDiff diffs (src/puffdiff.cc: it puffs both sides, then bsdiffs the two
    puff buffers), instead of the inflated bytes; None for anything but a changed zip pair.
    Not part of the estimate: the benchmark's breakdown prints it next to it."""
    from romforge.ota.puffdiff import changed_deflated, locate, puffed_stream, zip_entries

    old, new = job
    if old is None or old == new:
        return None
    old_entries, new_entries = zip_entries(old), zip_entries(new)
    if old_entries is None or new_entries is None:
        return None
    names = changed_deflated(old, old_entries, new, new_entries)
    src = puffed_stream(old, *locate(old, old_entries, names, verify=False))[0]
    dst = puffed_stream(new, *locate(new, new_entries, names, verify=True))[0]
    return _bsdiff40_size(src, dst)


def _puffed_cost(job: tuple[bytes | None, bytes]) -> int:
    puffed = puffed_pair_cost(job)
    return _pair_cost(job) if puffed is None else puffed


def changed_files(old_tree: RomTree, new_tree: RomTree, partition: str):
    """(path, old bytes or None, new bytes) of every new file of the partition that is not the
    same as its old version (same path, else the one old path equal with digits stripped)."""
    old_files = {e.path for e in old_tree.iter_entries(partition, kind=FILE)} \
        if partition in old_tree.partitions() else set()
    stripped: dict[str, list[str]] = {}
    for p in old_files:
        stripped.setdefault(_DIGITS.sub("", p), []).append(p)
    for e in new_tree.iter_entries(partition, kind=FILE):
        source = e.path if e.path in old_files else None
        if source is None and len(stripped.get(_DIGITS.sub("", e.path), ())) == 1:
            source = stripped[_DIGITS.sub("", e.path)][0]
        new = new_tree.read(partition, e.path)
        old = old_tree.read(partition, source) if source is not None else None
        if old is not None and old == new:
            continue
        yield e.path, old, new


def _jobs(old_tree: RomTree, new_tree: RomTree):
    for partition in new_tree.partitions():
        for _path, old, new in changed_files(old_tree, new_tree, partition):
            yield old, new


def aosp_estimate(old_rom: Path, new_rom: Path, *, workers: int = 2, puffed: bool = False) -> int:
    """Bytes of data an AOSP-style per-file delta would send for `old_rom` → `new_rom`; `puffed`:
    with a changed zip's deflate streams puffed as puffin does, not inflated."""
    old_tree, new_tree = RomTree.open(old_rom), RomTree.open(new_rom)
    total = 0
    pending: set = set()
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for job in _jobs(old_tree, new_tree):  # a few files in flight: memory stays bounded
            pending.add(pool.submit(_puffed_cost if puffed else _pair_cost, job))
            if len(pending) >= 2 * workers:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                total += sum(f.result() for f in done)
        total += sum(f.result() for f in pending)
    return total

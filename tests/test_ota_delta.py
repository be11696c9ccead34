"""The delta planner on its own: raw images with no file map, explicit file maps, the minor
version deciding the operations, the run cache, and how new files find their old versions.
Every plan is written as a real payload and applied by the independent applier, A/B style
(sources read from the old image, a separate new image written)."""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

import pytest

from otakit import zip_of
from independent_ota import BROTLI_BSDIFF, PUFFDIFF, SOURCE_BSDIFF, apply_ab, read_payload
from romforge.ota.delta import plan_delta
from romforge.ota.keys import load_signing_key
from romforge.ota.matching import BlockDigests, pair_files
from romforge.ota.payload import PartitionPlan, write_payload
from romforge.run.cache import RunCache

BLOCK = 4096


def _code(rng: random.Random, n: int) -> bytes:
    words = [rng.randbytes(4) for _ in range(300)]
    return b"".join(rng.choice(words) for _ in range(n // 4))


def _apply(tmp: Path, key_name: Path, old: Path, new: Path, operations, minor: int) -> tuple[set[int], int]:
    """Write the plan as a payload, apply it independently; (operation types, data bytes)."""
    plan = PartitionPlan("system", new.stat().st_size, hashlib.sha256(new.read_bytes()).digest(), operations,
                         old.stat().st_size, hashlib.sha256(old.read_bytes()).digest())
    payload = tmp / "payload.bin"
    write_payload(payload, [plan], load_signing_key(key_name), minor_version=minor)
    raw = read_payload(payload.read_bytes())
    source = tmp / "source"
    source.mkdir(exist_ok=True)
    (source / "system.img").write_bytes(old.read_bytes())
    digests = apply_ab(raw, source, tmp / "out")
    assert digests["system"] == hashlib.sha256(new.read_bytes()).hexdigest()
    return {op.type for op in raw.partitions[0].ops}, sum(op.data_length or 0 for op in raw.partitions[0].ops)


@pytest.fixture(scope="module")
def raw_pair(tmp_path_factory) -> tuple[Path, Path]:
    """A raw image (no filesystem) and a week later: code edited in place, a stretch inserted
    (everything after it moves by 3 blocks and a bit), a region moved, zeros, new data."""
    rng = random.Random(3)
    root = tmp_path_factory.mktemp("raw")
    body = _code(rng, 2 << 20) + bytes(256 << 10) + rng.randbytes(200 << 10) + _code(rng, 1 << 20)
    new = bytearray(body)
    for at in range(10_000, len(new) - 100, 150_000):
        new[at:at + 8] = rng.randbytes(8)
    new[600_000:600_000] = _code(rng, 3 * BLOCK + 700)
    moved = bytes(new[2_900_000:3_000_000])
    del new[2_900_000:3_000_000]
    new[100_000:100_000] = moved
    new += rng.randbytes(30_000)
    old_img, new_img = root / "old.img", root / "new.img"
    old_img.write_bytes(body + bytes(-len(body) % BLOCK))
    new_img.write_bytes(bytes(new) + bytes(-len(new) % BLOCK))
    return old_img, new_img


@pytest.mark.parametrize("minor,kind", [(3, SOURCE_BSDIFF), (7, BROTLI_BSDIFF)])
def test_a_raw_image_diffs_well_and_applies(raw_pair, ota_test_key, tmp_path, minor, kind) -> None:
    old, new = raw_pair
    operations = plan_delta(old, new, minor_version=minor, jobs=2)
    types, data = _apply(tmp_path, ota_test_key, old, new, operations, minor)
    assert kind in types
    assert not types & ({BROTLI_BSDIFF, PUFFDIFF} if minor < 4 else {SOURCE_BSDIFF})
    assert data * 20 < new.stat().st_size, data


def test_a_table_whose_every_entry_moved_is_diffed_not_sent_again(ota_test_key, tmp_path) -> None:
    """A relinked binary's lookup table (.eh_frame_hdr: pairs of increasing offsets) where code
    grew before it: every entry differs by the same amount, no 8 bytes agree, so bsdiff finds
    no match; the aligned diff is a regular pattern that costs next to nothing."""
    import struct

    rng = random.Random(11)
    code = _code(rng, 1 << 20)
    pcs = [0x1000]
    for _ in range(64 * 1024 - 1):
        pcs.append(pcs[-1] + rng.randrange(16, 400))
    table = b"".join(struct.pack("<ii", pc - 0x1000000, pc * 3 - 0x2000000) for pc in pcs)
    old = code + table
    new = code[:5000] + _code(rng, 0x30) + code[5000:] + \
        b"".join(struct.pack("<ii", pc + 0x30 - 0x1000000, pc * 3 + 0x90 - 0x2000000) for pc in pcs)
    old_img, new_img = tmp_path / "old.img", tmp_path / "new.img"
    old_img.write_bytes(old + bytes(-len(old) % BLOCK))
    new_img.write_bytes(new + bytes(-len(new) % BLOCK))
    operations = plan_delta(old_img, new_img, minor_version=7, jobs=1)
    _, data = _apply(tmp_path, ota_test_key, old_img, new_img, operations, 7)
    assert data * 20 < len(table), data  # as new bytes: about a quarter of it


def _image(files: list[bytes]) -> tuple[bytes, dict[str, list[tuple[int, int]]]]:
    """Files laid out one after another from block 1 (block 0: a 'superblock'), with their map."""
    out = bytearray(b"SUPERBLOCK".ljust(BLOCK, b"\0"))
    mapping = {}
    for i, data in enumerate(files):
        mapping[f"file{i}"] = [(len(out) // BLOCK, -(-len(data) // BLOCK))]
        out += data + bytes(-len(data) % BLOCK)
    return bytes(out), mapping


@pytest.fixture(scope="module")
def mapped_pair(tmp_path_factory):
    """Images with a given file map (no filesystem to read it from): a jar whose classes changed."""
    rng = random.Random(9)
    classes = {f"C{i}.class": _code(rng, rng.randrange(2000, 9000)) for i in range(30)}
    lib = _code(rng, 300_000)
    old, old_map = _image([lib, zip_of(classes)])
    for name in sorted(classes)[::6]:
        classes[name] = classes[name][:500] + b"new method" + classes[name][500:]
    new, new_map = _image([lib[:1000] + b"patched" + lib[1007:], zip_of(classes)])
    root = tmp_path_factory.mktemp("mapped")
    (root / "old.img").write_bytes(old)
    (root / "new.img").write_bytes(new)
    return root / "old.img", root / "new.img", old_map, new_map


@pytest.mark.parametrize("minor", [4, 5, 7])
def test_the_minor_version_decides_whether_a_jar_becomes_a_puffdiff(mapped_pair, ota_test_key, tmp_path,
                                                                   minor) -> None:
    old, new, old_map, new_map = mapped_pair
    operations = plan_delta(old, new, minor_version=minor, old_files=old_map, new_files=new_map, jobs=1)
    types, _ = _apply(tmp_path, ota_test_key, old, new, operations, minor)
    assert (PUFFDIFF in types) == (minor >= 5)
    assert BROTLI_BSDIFF in types


def _swapped_jars(rng: random.Random) -> tuple[bytes, bytes, dict, dict]:
    """Two jars that trade places in the image and both change: each new jar lands on the
    blocks the other old jar held (what every changed jar of a real week does somewhere)."""
    jars = []
    for j in range(2):
        classes = {f"j{j}/C{i}.class": _code(rng, rng.randrange(3000, 9000)) for i in range(25)}
        changed = dict(classes)
        for name in sorted(classes)[::5]:
            changed[name] = classes[name][:700] + b"a new method" + classes[name][700:]
        jars.append((zip_of(classes), zip_of(changed)))
    old, old_map = _image([jars[0][0], jars[1][0]])
    new, new_map = _image([jars[1][1], jars[0][1]])
    return old, new, {"a.jar": old_map["file0"], "b.jar": old_map["file1"]}, \
        {"b.jar": new_map["file0"], "a.jar": new_map["file1"]}


def test_jars_that_trade_places_stay_puffdiffs_read_from_the_source_slot(ota_test_key, tmp_path) -> None:
    """An A/B payload reads every source from the old slot, so an operation may read blocks an
    earlier one wrote: both jars stay PUFFDIFFs (an in-place order would have made them one
    plain diff of the compressed bytes), and both appliers rebuild the image from the source."""
    from romforge.ota.apply import apply_operation
    from romforge.ota.payload import parse_payload

    old, new, old_map, new_map = _swapped_jars(random.Random(5))
    (tmp_path / "old.img").write_bytes(old)
    (tmp_path / "new.img").write_bytes(new)
    operations = plan_delta(tmp_path / "old.img", tmp_path / "new.img", minor_version=7, old_files=old_map,
                            new_files=new_map, jobs=1)
    puffs = [op for op in operations if op.type == PUFFDIFF]
    assert len(puffs) == 2
    written: set[int] = set()
    reads_written = False
    for op in operations:
        reads_written |= any(b in written for s, n in op.src for b in range(s, s + n))
        written |= {b for s, n in op.dst for b in range(s, s + n)}
    assert reads_written  # applied in place, this order would read its own output
    _apply(tmp_path, ota_test_key, tmp_path / "old.img", tmp_path / "new.img", operations, 7)
    with open(tmp_path / "payload.bin", "rb") as f, open(tmp_path / "old.img", "rb") as src, \
            open(tmp_path / "ours.img", "w+b") as out:
        payload = parse_payload(f, size=(tmp_path / "payload.bin").stat().st_size, source="payload.bin")
        out.truncate(len(new))
        for op in payload.manifest.partitions[0].operations:
            apply_operation(op, payload, src, out)
    assert (tmp_path / "ours.img").read_bytes() == new
    assert (tmp_path / "old.img").read_bytes() == old


def test_the_run_cache_gives_the_same_operations_and_ignores_what_it_did_not_write(mapped_pair, ota_test_key,
                                                                                    tmp_path) -> None:
    old, new, old_map, new_map = mapped_pair
    cache = RunCache(tmp_path / "cache")
    first = plan_delta(old, new, minor_version=7, old_files=old_map, new_files=new_map, cache=cache, jobs=1)
    entries = sorted(p for p in (tmp_path / "cache").rglob("delta-*") if not p.name.endswith(".lock"))
    assert entries
    again = plan_delta(old, new, minor_version=7, old_files=old_map, new_files=new_map, cache=cache, jobs=1)
    assert [(o.type, o.dst, o.src, o.data) for o in again] == [(o.type, o.dst, o.src, o.data) for o in first]
    for entry in entries:
        entry.write_bytes(bytes([PUFFDIFF]) + b"not a puffin patch")  # a stranger's entry
    third = plan_delta(old, new, minor_version=7, old_files=old_map, new_files=new_map, cache=cache, jobs=1)
    assert [o.data for o in third] == [o.data for o in first]
    _apply(tmp_path, ota_test_key, old, new, third, 7)


def _digests(blocks: dict[int, bytes], n: int) -> BlockDigests:
    raw = b"".join(hashlib.blake2b(blocks.get(b, b"%d" % b), digest_size=16).digest() for b in range(n))
    return BlockDigests(raw)


def test_new_files_find_their_old_versions() -> None:
    old_files = {"lib64/libicu72.so": [(0, 4)], "app/Notes/Notes.apk": [(4, 4)], "etc/a/conf.xml": [(8, 1)],
                 "bin/tool": [(9, 2)], "lib/libgone.so": [(11, 2)], "etc/x.xml": [(13, 1)]}
    old_blocks = {b: b"old %d" % b for b in range(14)}
    new_files = {"lib64/libicu73.so": [(0, 4)], "app/Jotter/Jotter.apk": [(4, 4)], "etc/b/conf.xml": [(8, 1)],
                 "bin/tool": [(9, 2)], "moved/libgone.so": [(11, 2)], "etc/new.xml": [(13, 1)],
                 "lib/libfresh.so": [(14, 1)]}
    new_blocks = dict(old_blocks)
    new_blocks.update({0: b"changed", 4: b"changed", 9: b"changed", 8: b"changed", 13: b"changed", 14: b"new"})
    old, new = _digests(old_blocks, 14), _digests(new_blocks, 15)
    got = {p.path: (p.kind, p.how, p.src) for p in pair_files(old_files, new_files, old, new, old.index())}
    assert got["lib64/libicu73.so"] == ("diff", "renamed", [(0, 4)])  # digits stripped
    assert got["app/Jotter/Jotter.apk"] == ("diff", "content", [(4, 4)])  # shares 3 of its 4 blocks
    assert got["etc/b/conf.xml"] == ("diff", "folder", [(8, 1)])  # same name, one old file of it
    assert got["bin/tool"] == ("diff", "path", [(9, 2)])
    assert got["moved/libgone.so"][:2] == ("copy", "moved")  # same bytes elsewhere
    assert got["etc/new.xml"] == ("diff", "kind", [(13, 1)])  # an xml next to it, tried as a base
    assert got["lib/libfresh.so"][0] == "diff"  # another .so is tried; the diff is kept only if smaller


@pytest.mark.parametrize("margin", ["before", "after"])
def test_a_piece_cut_with_a_margin_on_one_side_finds_its_alignment(margin, tmp_path) -> None:
    """A large file's first and last pieces get old bytes with a margin on one side only.
    Sparse data (mostly zeros, as in a binary's data tables) agrees three quarters with
    itself at almost any offset, so a wrong first guess is followed to the end, a diff of
    noise; the guess is checked against the margin on either side."""
    from independent_ota import _bspatch
    from romforge.ota.bsdiff import bsdf2, make_patch

    rng = random.Random(4)
    sparse = bytearray(6 << 20)
    for at in range(0, len(sparse), 12):
        sparse[at] = rng.randrange(1, 256)
    new = bytearray(sparse)
    for at in range(1000, len(new), 400_000):
        new[at:at + 4] = b"edit"
    extra = rng.randbytes(1 << 20)
    old = extra + bytes(sparse) if margin == "before" else bytes(sparse) + extra
    patch = bsdf2(make_patch(old, bytes(new)).streams(), len(new))
    assert len(patch) < 4096, len(patch)  # a wrong alignment costs about a megabyte
    assert _bspatch(tmp_path, old, patch) == new


def test_a_stretch_that_lost_its_alignment_finds_its_exact_source_past_a_near_look_alike(tmp_path) -> None:
    """New bytes whose old copy lies a few hundred KiB away, with a look-alike (every sixteenth
    byte different) right next to where the alignment was lost: bsdiff finds an approximate
    match for all of it in the look-alike, so a search that stops at the first window that
    explains half the stretch sends a diff of noise; the exact copy costs next to nothing."""
    from independent_ota import _bspatch
    from romforge.ota.bsdiff import bsdf2, make_patch

    rng = random.Random(20)
    head, source, tail = rng.randbytes(256 << 10), rng.randbytes(32 << 10), rng.randbytes(64 << 10)
    look_alike = bytearray(source)
    for at in range(0, len(look_alike), 16):
        look_alike[at] ^= rng.randrange(1, 256)
    old = head + rng.randbytes(8 << 10) + bytes(look_alike) + rng.randbytes(300 << 10) + source + tail
    new = head + source + tail
    patch = bsdf2(make_patch(old, new).streams(), len(new))
    assert len(patch) < 1024, len(patch)  # from the look-alike: 2.5 kB of noise
    assert _bspatch(tmp_path, old, patch) == new


def test_a_table_followed_a_whole_entry_off_finds_its_true_alignment(tmp_path) -> None:
    """A relocation table (24-byte entries: offset, type, addend) that gained two entries in
    front: new and old bytes at the same offset are entries two apart, which agree on four
    bytes in five, so that alignment is followed; the true one, two entries on, agrees on all.
    Following the first pays a diff of noise for the whole table (libmergedlo.so's second
    8 MiB: 670 KB against 322 KB)."""
    from independent_ota import _bspatch
    from romforge.ota.bsdiff import bsdf2, make_patch

    rng = random.Random(24)
    entries, offset = [], 0x200000
    for _ in range((2 << 20) // 24):
        offset += 8 * rng.randrange(1, 4)
        entries.append(offset.to_bytes(8, "little") + (8).to_bytes(8, "little")
                       + (0x400000 + rng.randrange(1 << 16)).to_bytes(8, "little"))
    old = b"".join(entries)
    new = rng.randbytes(48) + old[:-48]  # two new entries; the table keeps its size
    patch = bsdf2(make_patch(old, new).streams(), len(new))
    assert len(patch) < 2048, len(patch)  # two entries off: about 400 KB
    assert _bspatch(tmp_path, old, patch) == new


def test_bsdiffs_own_scan_is_taken_where_it_finds_what_the_tracker_cannot(tmp_path) -> None:
    """New bytes copied from far across old bytes too large to search whole (over 16 MiB): the
    alignment tracker looks only near where it expects them and sends them as new; bsdiff's
    own scan searches all of the old bytes. best_patch keeps the smaller, and a patch that is
    already small is not made twice."""
    from independent_ota import _bspatch
    from romforge.ota.bsdiff import best_patch, bsdf2, make_patch

    rng = random.Random(17)
    old = rng.randbytes(17 << 20)
    new = old[3 << 20:(3 << 20) + (512 << 10)] + rng.randbytes(4096)  # 3 MiB from every guess
    tracker = bsdf2(make_patch(old, new).streams(), len(new))
    best = bsdf2(best_patch(old, new).streams(), len(new))
    assert len(tracker) > len(new) // 2, len(tracker)  # sent as new bytes
    assert len(best) < 8192, len(best)
    assert _bspatch(tmp_path, old, best) == new
    unchanged = old[:1 << 20]
    assert best_patch(unchanged, unchanged).entries == make_patch(unchanged, unchanged).entries

"""Puffin's puff format and PUFFDIFF patches: romforge's codec against the independent one in the
tests, on deflate streams made by zlib (every level, stored/fixed/dynamic blocks) and zips made
by zipfile; hostile input refused with PuffError, never a crash."""

from __future__ import annotations

import io
import random
import zipfile
import zlib

import pytest
from hypothesis import given, settings, strategies as st

import independent_puffin as other
from otakit import zip_of
from independent_ota import wire_fields
from romforge.ota.bsdiff import bsdf2, make_patch
from romforge.ota.bspatch import bspatch_bytes
from romforge.ota.huff import huff_deflate, huff_stream
from romforge.ota.puff import PuffError, puff_deflate, puff_stream
from romforge.ota.puffdiff import apply_puffdiff, locate, make_puffdiff, read_puffdiff, zip_entries


def _deflate(data: bytes, level: int, strategy: int = zlib.Z_DEFAULT_STRATEGY) -> bytes:
    c = zlib.compressobj(level, zlib.DEFLATED, -15, 8, strategy)
    return c.compress(data) + c.flush()


def _text(rng: random.Random, n: int) -> bytes:
    words = [rng.randbytes(rng.randrange(1, 9)) for _ in range(40)]
    return b" ".join(rng.choice(words) for _ in range(n))[:n]


@pytest.mark.parametrize("level", [0, 1, 6, 9])
@pytest.mark.parametrize("strategy", [zlib.Z_DEFAULT_STRATEGY, zlib.Z_FIXED, zlib.Z_HUFFMAN_ONLY])
def test_puff_matches_the_independent_codec_and_huffs_back_bit_exact(level: int, strategy: int) -> None:
    rng = random.Random(level * 7 + strategy)
    data = _text(rng, 12_000) + rng.randbytes(9_000) + bytes(3000)  # text, incompressible, zeros
    stream = _deflate(data, level, strategy)
    puff, bits = puff_deflate(stream, 0)
    assert puff == other.puff(stream, 0, bits)
    rebuilt, written = huff_deflate(puff)
    assert written == bits and rebuilt == stream[:len(rebuilt)] and len(rebuilt) == (bits + 7) // 8
    assert other.huff(puff) == (rebuilt, written)


@pytest.fixture(scope="module")
def jar_pair() -> tuple[bytes, bytes]:
    """An app's jar and the same jar a week later: a few classes changed, one added, one stored entry."""
    rng = random.Random(5)
    classes = {f"org/romforge/C{i:03d}.class": _text(rng, rng.randrange(200, 5000)) for i in range(40)}
    classes["res/icon.png"] = rng.randbytes(3000)
    new = dict(classes)
    for name in sorted(classes)[::8]:
        body = bytearray(classes[name])
        body[len(body) // 2:len(body) // 2] = b"inserted bytes, as a code change does"
        new[name] = bytes(body)
    new["org/romforge/Added.class"] = _text(rng, 3000)
    return zip_of(classes), zip_of(new)


def test_puffed_streams_agree_and_round_trip(jar_pair) -> None:
    old, new = jar_pair
    for data in (old, new, new + bytes(4096 - len(new) % 4096)):  # zero padding to the block, as in an image
        entries = zip_entries(data)
        deflates, _ = locate(data, entries, set(entries), verify=True)
        assert len(deflates) == sum(1 for e in entries.values() if e.method == zipfile.ZIP_DEFLATED)
        puffed, puffs = puff_stream(data, deflates)
        assert huff_stream(puffed, deflates, puffs, len(data)) == data
    assert (puffed, puffs) == other.puffed_stream(data, deflates)
    assert other.huffed_stream(puffed, deflates, puffs) == data


def _bsdf2(a: bytes, b: bytes) -> bytes:
    return bsdf2(make_patch(a, b).streams(), len(b))


def test_puffdiff_applies_with_both_appliers_and_beats_a_plain_diff(jar_pair, tmp_path) -> None:
    from independent_ota import _puffpatch

    old, new = jar_pair
    patch = make_puffdiff(old, new, _bsdf2)
    assert patch is not None and patch[:4] == b"PUF1"
    parsed = read_puffdiff(patch)
    assert 0 < len(parsed.dst_deflates) < 41  # only the changed (and added) entries are puffed
    assert apply_puffdiff(old, parsed, len(new), bspatch_bytes) == new
    assert _puffpatch(tmp_path, old, patch) == new
    src, dst, _ = other.read_patch(patch, wire_fields)
    assert src["deflates"] == parsed.src_deflates and dst["puffs"] == parsed.dst_puffs
    assert len(patch) < len(_bsdf2(old, new))  # inflated, the change is small; deflated, it is not


def test_a_jar_deflated_at_another_level_is_puffed_whole_and_still_applies(jar_pair, tmp_path) -> None:
    from independent_ota import _puffpatch

    old, new = jar_pair
    entries = {i.filename: zipfile.ZipFile(io.BytesIO(new)).read(i) for i in zipfile.ZipFile(io.BytesIO(new)).infolist()}
    recompressed = zip_of(entries, level=1)
    patch = make_puffdiff(old, recompressed, _bsdf2)
    assert len(read_puffdiff(patch).dst_deflates) == 41
    assert _puffpatch(tmp_path, old, patch) == recompressed
    assert apply_puffdiff(old, read_puffdiff(patch), len(recompressed), bspatch_bytes) == recompressed


def test_a_zip_with_nothing_changed_in_its_deflate_streams_is_no_puffdiff(jar_pair) -> None:
    old, _ = jar_pair
    assert make_puffdiff(old, old, _bsdf2) is None
    assert make_puffdiff(b"not a zip", old, _bsdf2) is None


@settings(max_examples=60, deadline=None)
@given(st.binary(min_size=1, max_size=400), st.integers(min_value=0, max_value=399))
def test_garbage_deflate_and_puff_input_raise_puff_error(data: bytes, cut: int) -> None:
    for run in (lambda: puff_deflate(data, 0), lambda: huff_deflate(data),
                lambda: huff_stream(data, [(0, 8 * len(data))], [(0, len(data))], len(data))):
        try:
            run()
        except PuffError:
            pass
    stream = _deflate(data, 6)
    with pytest.raises(PuffError):
        puff_deflate(stream[:min(cut, len(stream) - 1)], 0)


def test_a_patch_whose_source_puffs_differently_is_refused(jar_pair) -> None:
    old, new = jar_pair
    parsed = read_puffdiff(make_puffdiff(old, new, _bsdf2))
    other_source = bytearray(old)
    entries = zip_entries(old)
    first = min(e.offset for e in entries.values() if e.method == zipfile.ZIP_DEFLATED)
    other_source[first + 5] ^= 0xFF
    with pytest.raises((ValueError, PuffError)):
        apply_puffdiff(bytes(other_source), parsed, len(new), bspatch_bytes)

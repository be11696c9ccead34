"""The dm-verity hash tree against a computation from the raw blocks written in the test, and
against cryptsetup's veritysetup, the reference userspace for the kernel's dm-verity."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from avb_independent import dm_verity, parse
from avbkit import erofs_image, random_image
from romforge.avb import add_hashtree_footer
from romforge.avb.hashtree import tree_layout, write_hash_tree

SALT = bytes(range(32))


def _tree(path: Path, size: int, algorithm: str, salt: bytes, **kw) -> tuple[bytes, bytes]:
    layout = tree_layout(size, hash_algorithm=algorithm)
    with tempfile.TemporaryFile() as scratch:
        root = write_hash_tree(path, layout, salt, scratch.fileno(), 0, **kw)
        return root, os.pread(scratch.fileno(), layout.tree_size, 0)


@pytest.mark.parametrize("blocks,algorithm", [(2, "sha256"), (128, "sha256"), (129, "sha256"), (1300, "sha256"),
                                              (16385, "sha256"), (700, "sha1"), (300, "sha512")])
def test_tree_matches_levels_computed_from_the_raw_blocks(tmp_path: Path, blocks: int, algorithm: str) -> None:
    # 128 and 16385 blocks sit on level boundaries of sha256 (128 digests per block)
    image = random_image(tmp_path / "data.img", blocks * 4096, seed=blocks)
    root, tree = _tree(image, blocks * 4096, algorithm, SALT)
    want_root, want_tree = dm_verity(image.read_bytes(), SALT, algorithm)
    assert tree == want_tree
    assert root == want_root


def test_worker_processes_give_the_same_tree(tmp_path: Path) -> None:
    image = random_image(tmp_path / "data.img", 9 << 20, seed=3)  # three 4 MiB tasks
    serial = _tree(image, 9 << 20, "sha256", SALT, jobs=1)
    parallel = _tree(image, 9 << 20, "sha256", SALT, jobs=2, min_parallel_bytes=0)
    assert parallel == serial == dm_verity(image.read_bytes(), SALT)


def test_footer_tree_of_an_erofs_image_matches_the_independent_tree_and_veritysetup(tmp_path: Path) -> None:
    image = erofs_image(tmp_path / "system.img", seed=1)
    data = image.read_bytes()
    result = add_hashtree_footer(image, partition_name="system", salt=SALT)
    parsed = parse(image)
    (d,) = [x for x in parsed.descriptors if x["tag"] == 1]
    stored = image.read_bytes()
    want_root, want_tree = dm_verity(data, SALT)
    assert d["root"] == want_root == result.descriptor.root_digest
    assert stored[d["tree_offset"]:d["tree_offset"] + d["tree_size"]] == want_tree
    assert stored[:len(data)] == data
    # cryptsetup computes the same tree and root digest from the same blocks
    (tmp_path / "data.bin").write_bytes(data)
    hashes = tmp_path / "hashes.bin"
    veritysetup = shutil.which("veritysetup", path=f"{os.environ.get('PATH', '')}:/usr/sbin:/sbin")
    assert veritysetup, "veritysetup is missing: `make setup` installs cryptsetup-bin"
    out = subprocess.run([veritysetup, "format", "--no-superblock", "--format=1", "--hash=sha256",
                          "--data-block-size=4096", "--hash-block-size=4096", f"--salt={SALT.hex()}",
                          str(tmp_path / "data.bin"), str(hashes)], capture_output=True, text=True, check=True)
    root_line = next(line for line in out.stdout.splitlines() if line.startswith("Root hash:"))
    assert root_line.split(":", 1)[1].strip() == want_root.hex()
    assert hashes.read_bytes()[:d["tree_size"]] == want_tree


def test_a_different_salt_gives_a_different_root(tmp_path: Path) -> None:
    image = random_image(tmp_path / "data.img", 64 * 4096, seed=5)
    assert _tree(image, 64 * 4096, "sha256", SALT)[0] != _tree(image, 64 * 4096, "sha256", SALT[::-1])[0]


def test_layout_follows_avbtool_level_sizes() -> None:
    # 1 GiB of sha256: 262144 digests (8 MiB), then 2048 (64 KiB), then 16 (one block)
    layout = tree_layout(1 << 30)
    assert layout.level_sizes == (8 << 20, 64 << 10, 4096)
    assert layout.level_offsets == (68 << 10, 4096, 0)
    assert tree_layout(4096 * 128).level_sizes == (4096,)
    assert tree_layout(4096, hash_algorithm="sha1").digest_slot == 32

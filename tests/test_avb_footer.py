"""Hashtree and hash footers, read back by the independent reader in avb_independent.py."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from avb_independent import dm_verity, openssl_verify, parse
from avbkit import erofs_image, random_image, rsa_pem
from romforge.avb import add_hash_footer, add_hashtree_footer, load_avb_key, max_hashtree_image_size, bundled_test_key
from romforge.errors import ConfigError, InputError

SALT = bytes.fromhex("5a" * 32)
PROPS = {"com.android.build.system.fingerprint": "romforge/cepheus/cepheus:14/UQ1A/2026.48.1:user/release-keys",
         "com.android.build.system.os_version": "14"}


@pytest.fixture(scope="module")
def erofs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return erofs_image(tmp_path_factory.mktemp("erofs") / "system.img", seed=11)


def _copy(src: Path, dst: Path) -> Path:
    shutil.copyfile(src, dst)
    return dst


def test_hashtree_footer_layout_as_libavb_reads_it(erofs: Path, tmp_path: Path) -> None:
    image = _copy(erofs, tmp_path / "system.img")
    data = image.read_bytes()
    add_hashtree_footer(image, partition_name="system", salt=SALT, properties=PROPS)
    p = parse(image)
    padded = -(-len(data) // 4096) * 4096
    assert p.footer["major"] == 1 and p.footer["minor"] == 0 and p.footer["reserved"] == bytes(28)
    assert p.footer["original_image_size"] == len(data)
    ht = p.descriptors[0]
    root, tree = dm_verity(data, SALT)
    assert (ht["tag"], ht["name"], ht["version"], ht["algorithm"]) == (1, "system", 1, "sha256")
    assert (ht["image_size"], ht["tree_offset"], ht["tree_size"]) == (padded, padded, len(tree))
    assert (ht["data_block_size"], ht["hash_block_size"], ht["fec_num_roots"]) == (4096, 4096, 0)
    assert (ht["salt"], ht["root"]) == (SALT, root)
    assert [(d["key"], d["value"].decode()) for d in p.descriptors[1:]] == list(PROPS.items())
    assert p.footer["vbmeta_offset"] == padded + len(tree)
    # unsigned, as AOSP leaves images described by vbmeta/vbmeta_system
    assert (p.header["algorithm"], p.header["auth_size"], p.header["public_key_size"]) == (0, 0, 0)
    assert p.header["major"] == 1 and p.header["minor"] == 0 and p.header["reserved"] == bytes(80)
    # "dynamic": the footer block follows the vbmeta block directly
    vbmeta_end = p.footer["vbmeta_offset"] + -(-p.footer["vbmeta_size"] // 4096) * 4096
    assert p.file_size == vbmeta_end + 4096
    stored = image.read_bytes()
    assert stored[:len(data)] == data and stored[len(data):padded] == bytes(padded - len(data))
    assert stored[vbmeta_end:-64] == bytes(4096 - 64)


def test_fixed_partition_size_puts_the_footer_at_its_end(erofs: Path, tmp_path: Path) -> None:
    image = _copy(erofs, tmp_path / "system.img")
    size = 8 << 20
    result = add_hashtree_footer(image, partition_name="system", salt=SALT, partition_size=size)
    p = parse(image)
    assert p.file_size == size == result.partition_size
    end = p.footer["vbmeta_offset"] + p.footer["vbmeta_size"]
    assert image.read_bytes()[end:-64] == bytes(size - 64 - end)


def test_image_larger_than_its_partition_is_refused_and_left_alone(erofs: Path, tmp_path: Path) -> None:
    image = _copy(erofs, tmp_path / "system.img")
    before = image.read_bytes()
    size = 3 << 20  # smaller than the image plus its tree and metadata reserve
    assert max_hashtree_image_size(size) < len(before)
    with pytest.raises(InputError) as err:
        add_hashtree_footer(image, partition_name="system", salt=SALT, partition_size=size)
    assert "system.img" in str(err.value) and f"{size}-byte partition" in str(err.value)
    assert image.read_bytes() == before


def test_boot_image_larger_than_its_partition_is_refused(tmp_path: Path) -> None:
    image = random_image(tmp_path / "boot.img", (1 << 20) + 1, seed=2)
    before = image.read_bytes()
    with pytest.raises(InputError) as err:
        add_hash_footer(image, partition_name="boot", salt=SALT, partition_size=1 << 20)
    assert "boot.img" in str(err.value) and "larger than" in str(err.value)
    assert image.read_bytes() == before
    out = tmp_path / "out.img"
    with pytest.raises(InputError):
        add_hash_footer(image, partition_name="boot", salt=SALT, partition_size=1 << 20, output=out)
    assert not out.exists() and not list(tmp_path.glob(".out.img*"))


def test_hash_footer_digest_covers_the_whole_image(tmp_path: Path) -> None:
    image = random_image(tmp_path / "boot.img", 700_001, seed=3)
    data = image.read_bytes()
    add_hash_footer(image, partition_name="boot", salt=SALT, partition_size=2 << 20, rollback_index=4)
    p = parse(image)
    (h,) = p.descriptors
    assert (h["tag"], h["name"], h["algorithm"], h["image_size"]) == (2, "boot", "sha256", len(data))
    assert h["digest"] == hashlib.sha256(SALT + data).digest()
    assert p.file_size == 2 << 20 and p.footer["original_image_size"] == len(data)
    assert p.footer["vbmeta_offset"] == -(-len(data) // 4096) * 4096
    assert p.header["rollback_index"] == 4


def test_dynamic_hash_footer_is_the_image_plus_avbtools_reserve(tmp_path: Path) -> None:
    image = random_image(tmp_path / "dtbo.img", 100_000, seed=4)
    result = add_hash_footer(image, partition_name="dtbo", salt=SALT, partition_size="dynamic")
    assert result.partition_size == image.stat().st_size == -(-(100_000 + 69632) // 4096) * 4096


def test_footering_again_starts_from_the_original_bytes(erofs: Path, tmp_path: Path) -> None:
    once = _copy(erofs, tmp_path / "once.img")
    twice = _copy(erofs, tmp_path / "twice.img")
    add_hashtree_footer(once, partition_name="system", salt=SALT)
    add_hashtree_footer(twice, partition_name="system", salt=b"other salt")
    add_hashtree_footer(twice, partition_name="system", salt=SALT)
    assert once.read_bytes() == twice.read_bytes()


def test_output_leaves_the_input_untouched_and_equals_in_place(erofs: Path, tmp_path: Path) -> None:
    image = _copy(erofs, tmp_path / "system.img")
    before = image.read_bytes()
    out = tmp_path / "out" / "system.img"
    add_hashtree_footer(image, partition_name="system", salt=SALT, properties=PROPS, output=out)
    assert image.read_bytes() == before
    add_hashtree_footer(image, partition_name="system", salt=SALT, properties=PROPS)
    assert image.read_bytes() == out.read_bytes()


@pytest.mark.parametrize("kind", ["hashtree", "hash"])
def test_footers_are_reproducible(erofs: Path, tmp_path: Path, kind: str) -> None:
    def make(name: str, salt: bytes) -> bytes:
        image = _copy(erofs, tmp_path / name)
        if kind == "hashtree":
            add_hashtree_footer(image, partition_name="system", salt=salt, properties=PROPS, key=bundled_test_key())
        else:
            add_hash_footer(image, partition_name="boot", salt=salt, partition_size=8 << 20, key=bundled_test_key())
        return image.read_bytes()

    first = make("a.img", SALT)
    assert make("b.img", SALT) == first
    assert make("c.img", SALT[:-1] + b"\0") != first


def test_signed_footer_signature_checks_with_openssl(tmp_path: Path) -> None:
    image = random_image(tmp_path / "boot.img", 300_000, seed=6)
    add_hash_footer(image, partition_name="boot", salt=SALT, partition_size=1 << 20, key=bundled_test_key(),
                    algorithm="SHA512_RSA4096")
    p = parse(image)
    assert p.header["algorithm"] == 5 and p.header["hash_size"] == 64 and p.header["signature_size"] == 512
    assert openssl_verify(p, tmp_path, "sha512") == "Verified OK"


def test_algorithm_that_does_not_fit_the_key_is_refused_before_writing(tmp_path: Path) -> None:
    key = load_avb_key(rsa_pem(tmp_path / "small.pem", 2048))
    image = random_image(tmp_path / "boot.img", 10_000, seed=7)
    before = image.read_bytes()
    with pytest.raises(ConfigError) as err:
        add_hash_footer(image, partition_name="boot", salt=SALT, partition_size=1 << 20, key=key,
                        algorithm="SHA256_RSA4096")
    assert "small.pem" in str(err.value) and "RSA-4096" in str(err.value)
    assert image.read_bytes() == before


def test_partition_size_not_a_multiple_of_the_block_is_refused(erofs: Path, tmp_path: Path) -> None:
    image = _copy(erofs, tmp_path / "system.img")
    with pytest.raises(InputError, match="not a multiple"):
        add_hashtree_footer(image, partition_name="system", salt=SALT, partition_size=(64 << 20) + 1)


def test_a_vbmeta_over_libavbs_limit_is_refused_before_writing(tmp_path: Path) -> None:
    image = random_image(tmp_path / "boot.img", 10_000, seed=8)
    before = image.read_bytes()
    with pytest.raises(ConfigError, match="over libavb's 65536-byte limit"):
        add_hash_footer(image, partition_name="boot", salt=SALT, partition_size=1 << 20,
                        properties={"com.example.huge": "x" * 70_000})
    assert image.read_bytes() == before

"""vbmeta images: layout read by the independent reader, signatures checked with openssl, the AVB
public key format, and the keys that must be refused."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from avb_independent import avb_public_key_parts, openssl_modulus, openssl_verify, parse
from avbkit import ec_pem, erofs_image, random_image, rsa_pem
from romforge.avb import (ChainPartition, add_hash_footer, add_hashtree_footer, bundled_test_key, extract_public_key,
                          load_avb_key, load_public_key_blob, make_vbmeta)
from romforge.avb.keys import TEST_KEY
from romforge.errors import ConfigError

SALT = b"\x11" * 32


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("keys")
    return {"rsa2048": rsa_pem(d / "chain_rsa2048.pem", 2048), "rsa1024": rsa_pem(d / "weak_rsa1024.pem", 1024),
            "rsa3072": rsa_pem(d / "odd_rsa3072.pem", 3072), "ec": ec_pem(d / "ec_p256.pem"),
            "e3": rsa_pem(d / "e3_rsa2048.pem", 2048, exponent=3)}


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("images")
    system = erofs_image(d / "system.img", seed=21)
    add_hashtree_footer(system, partition_name="system", salt=SALT)
    boot = random_image(d / "boot.img", 500_000, seed=22)
    add_hash_footer(boot, partition_name="boot", salt=SALT, partition_size=1 << 20)
    dtbo = random_image(d / "dtbo.img", 40_000, seed=23)
    add_hash_footer(dtbo, partition_name="dtbo", salt=SALT, partition_size=256 << 10,
                    properties={"com.android.build.dtbo.fingerprint": "x"})
    return {"system": system, "boot": boot, "dtbo": dtbo}


def _vbmeta(out: Path, images: dict[str, Path], keys: dict[str, Path], **kw) -> Path:
    chain = ChainPartition("vbmeta_system", 1, load_public_key_blob(keys["rsa2048"]))
    make_vbmeta(out, key=bundled_test_key(), rollback_index=7, chain_partitions=[chain],
                properties={"com.android.build.vbmeta.x": "1"},
                include_descriptors_from_image=[images["system"], images["dtbo"], images["boot"]], **kw)
    return out


def test_vbmeta_layout_and_descriptor_order(tmp_path: Path, images: dict, keys: dict) -> None:
    p = parse(_vbmeta(tmp_path / "vbmeta.img", images, keys))
    assert p.file_size % 4096 == 0 and p.file_size >= len(p.blob)
    h = p.header
    assert (h["major"], h["algorithm"], h["rollback_index"], h["flags"], h["rollback_index_location"]) == (1, 2, 7, 0, 0)
    assert h["auth_size"] % 64 == 0 and h["aux_size"] % 64 == 0
    assert (h["hash_offset"], h["hash_size"], h["signature_offset"], h["signature_size"]) == (0, 32, 32, 512)
    assert h["descriptors_offset"] == 0 and h["public_key_offset"] == h["descriptors_size"]
    assert h["public_key_size"] == 8 + 2 * 512 and h["metadata_size"] == 0
    # avbtool's order: chains, properties, then included: non-partition ones as met, then by kind and name
    order = [(d["tag"], d.get("name") or d.get("key")) for d in p.descriptors]
    assert order == [(4, "vbmeta_system"), (0, "com.android.build.vbmeta.x"), (0, "com.android.build.dtbo.fingerprint"),
                     (2, "boot"), (2, "dtbo"), (1, "system")]
    chain = p.descriptors[0]
    assert chain["location"] == 1 and chain["key"] == load_public_key_blob(keys["rsa2048"])


def test_vbmeta_signature_checks_with_openssl(tmp_path: Path, images: dict, keys: dict) -> None:
    p = parse(_vbmeta(tmp_path / "vbmeta.img", images, keys))
    assert openssl_verify(p, tmp_path) == "Verified OK"
    # and openssl notices a changed byte in what the signature covers
    aux = 256 + p.header["auth_size"]
    p.blob = p.blob[:aux + 40] + bytes([p.blob[aux + 40] ^ 1]) + p.blob[aux + 41:]
    assert "Verification failure" in openssl_verify(p, tmp_path)


def test_rsa2048_and_sha512_signatures_check_with_openssl(tmp_path: Path, keys: dict) -> None:
    key = load_avb_key(keys["rsa2048"])
    for algorithm, digest, code in (("SHA256_RSA2048", "sha256", 1), ("SHA512_RSA2048", "sha512", 4)):
        out = make_vbmeta(tmp_path / f"{algorithm}.img", key=key, algorithm=algorithm, rollback_index=1)
        p = parse(out.path)
        assert p.header["algorithm"] == code and p.header["signature_size"] == 256
        assert openssl_verify(p, tmp_path, digest) == "Verified OK"


def test_public_key_is_avbs_binary_format(tmp_path: Path) -> None:
    blob = bundled_test_key().public_key_blob
    bits, n0inv, n, rr = avb_public_key_parts(blob)
    assert bits == 4096 and len(blob) == 8 + 2 * 512
    assert n == openssl_modulus(TEST_KEY)
    assert (n * n0inv) % (1 << 32) == (1 << 32) - 1  # n0inv = -1/n mod 2^32
    assert rr == (1 << 8192) % n  # rr = (2^4096)^2 mod n
    out = extract_public_key(TEST_KEY, tmp_path / "testkey.avbpubkey")
    assert out.read_bytes() == blob == load_public_key_blob(out)


def test_bundled_key_is_named_as_a_test_key() -> None:
    assert "TEST" in TEST_KEY.name and "NEVER_SHIP" in TEST_KEY.name
    assert TEST_KEY.read_text().startswith("romforge TEST AVB signing key")
    assert load_avb_key(TEST_KEY).bits == 4096  # with OpenSSL's consistency check, which bundled_test_key skips
    assert bundled_test_key().public_key_blob == load_avb_key(TEST_KEY).public_key_blob


@pytest.mark.parametrize("kind,reason", [("rsa1024", "RSA-1024"), ("rsa3072", "RSA-3072"), ("ec", "not an RSA key"),
                                         ("e3", "exponent 3")])
def test_keys_avb_cannot_use_are_refused_naming_the_file(tmp_path: Path, keys: dict, kind: str, reason: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_avb_key(keys[kind])
    assert keys[kind].name in str(err.value) and reason in str(err.value)


def test_a_file_that_is_not_a_pem_key_is_refused(tmp_path: Path) -> None:
    junk = tmp_path / "notakey.pem"
    junk.write_text("-----BEGIN NOTHING-----\nhello\n")
    with pytest.raises(ConfigError, match="notakey.pem.*not a PEM private key"):
        load_avb_key(junk)
    with pytest.raises(ConfigError, match="missing.pem.*not found"):
        load_avb_key(tmp_path / "missing.pem")


def test_cli_refuses_a_bad_key_and_writes_nothing(run, tmp_path: Path, keys: dict) -> None:
    out = tmp_path / "vbmeta.img"
    result = run("avb", "make-vbmeta", "-o", out, "--key", keys["rsa1024"])
    assert result.exit_code == 1
    assert "weak_rsa1024.pem" in result.output and "RSA-1024" in result.output and "Traceback" not in result.output
    assert not out.exists() and not list(tmp_path.iterdir())


def test_vbmeta_is_reproducible(tmp_path: Path, images: dict, keys: dict) -> None:
    a = _vbmeta(tmp_path / "a.img", images, keys).read_bytes()
    assert _vbmeta(tmp_path / "b.img", images, keys).read_bytes() == a
    moved = tmp_path / "moved"
    moved.mkdir()
    copies = {name: Path(shutil.copy(path, moved / path.name)) for name, path in images.items()}
    assert _vbmeta(tmp_path / "c.img", copies, keys).read_bytes() == a  # no paths in the bytes


def test_chain_locations_must_be_distinct_and_nonzero(tmp_path: Path, keys: dict) -> None:
    blob = load_public_key_blob(keys["rsa2048"])
    with pytest.raises(ConfigError, match="already in use"):
        make_vbmeta(tmp_path / "v.img", key=bundled_test_key(),
                    chain_partitions=[ChainPartition("a", 1, blob), ChainPartition("b", 1, blob)])
    with pytest.raises(ConfigError, match="1 or larger"):
        make_vbmeta(tmp_path / "v.img", key=bundled_test_key(), chain_partitions=[ChainPartition("a", 0, blob)])
    assert not (tmp_path / "v.img").exists()


def test_rollback_index_location_needs_libavb_1_2(tmp_path: Path) -> None:
    out = make_vbmeta(tmp_path / "v.img", key=bundled_test_key(), rollback_index_location=2)
    assert parse(out.path).header["minor"] == 2

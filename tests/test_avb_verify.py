"""`avb verify` on a set shaped like a release: vbmeta.img (test key) with boot's hash descriptor
and a chain to vbmeta_system.img (its own RSA-2048 key), which describes system and product
(erofs images with hashtree footers). It must pass as built and fail on any change."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from avb_independent import parse
from avbkit import erofs_image, flip, random_image, rsa_pem
from romforge.avb import (ChainPartition, add_hash_footer, add_hashtree_footer, bundled_test_key, load_avb_key,
                          make_vbmeta, verify_vbmeta)
from romforge.avb.keys import TEST_KEY
from romforge.errors import CheckFailed

SALT = bytes.fromhex("c0ffee" * 10 + "00")


def build_set(out: Path, chain_key: Path, *, system_seed: int = 31, vbmeta_key=None) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    for name, seed in (("system", system_seed), ("product", 32)):
        image = erofs_image(out / f"{name}.img", seed=seed)
        add_hashtree_footer(image, partition_name=name, salt=SALT,
                            properties={f"com.android.build.{name}.os_version": "14"})
    boot = random_image(out / "boot.img", 600_000, seed=33)
    add_hash_footer(boot, partition_name="boot", salt=SALT, partition_size=1 << 20)
    chain = load_avb_key(chain_key)
    make_vbmeta(out / "vbmeta_system.img", key=chain, rollback_index=3,
                include_descriptors_from_image=[out / "system.img", out / "product.img"])
    make_vbmeta(out / "vbmeta.img", key=vbmeta_key or bundled_test_key(), rollback_index=3,
                chain_partitions=[ChainPartition("vbmeta_system", 1, chain.public_key_blob)],
                include_descriptors_from_image=[boot])
    return out


@pytest.fixture(scope="module")
def chain_key(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return rsa_pem(tmp_path_factory.mktemp("chainkey") / "vbmeta_system_rsa2048.pem", 2048)


@pytest.fixture(scope="module")
def good_set(tmp_path_factory: pytest.TempPathFactory, chain_key: Path) -> Path:
    return build_set(tmp_path_factory.mktemp("set") / "images", chain_key)


@pytest.fixture
def copy(good_set: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(good_set, tmp_path / "images"))


def _verify(folder: Path, key: bytes | None = None, **kw):
    return verify_vbmeta(folder / "vbmeta.img", public_key=key or bundled_test_key().public_key_blob, **kw)


def test_good_set_passes_every_step(good_set: Path) -> None:
    report = _verify(good_set)
    text = "\n".join(report.checked)
    assert report.algorithm == "SHA256_RSA4096" and report.rollback_index == 3
    assert len(report.checked) == 5
    assert "boot: sha256 digest of boot.img" in text
    assert "vbmeta_system: chained from vbmeta.img (rollback index location 1)" in text
    assert "product: sha256 hash tree of product.img" in text and "system: sha256 hash tree of system.img" in text


def _data_offset(image: Path) -> int:
    return parse(image).footer["original_image_size"] // 2


def _tree_offset(image: Path) -> int:
    d = next(x for x in parse(image).descriptors if x["tag"] == 1)
    return d["tree_offset"] + d["tree_size"] - 100  # inside level 0, which the root digest covers


def _aux_offset(image: Path) -> int:
    p = parse(image)
    start = p.footer["vbmeta_offset"] if p.footer else 0
    return start + 256 + p.header["auth_size"] + 30  # inside the first descriptor


@pytest.mark.parametrize("image,where,rule", [
    ("boot.img", _data_offset, "avb-hash-mismatch"),
    ("system.img", _data_offset, "avb-hashtree-mismatch"),
    ("product.img", _data_offset, "avb-hashtree-mismatch"),
    ("system.img", _tree_offset, "avb-hashtree-stored"),
    ("vbmeta_system.img", _aux_offset, "avb-signature"),
    ("vbmeta.img", _aux_offset, "avb-signature"),
    ("vbmeta.img", lambda p: 112 + 7, "avb-signature"),  # the rollback index, in the signed header
])
def test_a_flipped_byte_anywhere_fails(copy: Path, image: str, where, rule: str) -> None:
    flip(copy / image, where(copy / image))
    with pytest.raises(CheckFailed) as err:
        _verify(copy)
    assert err.value.exit_code == 3
    (finding,) = err.value.findings
    assert finding.rule == rule and image in finding.file


def test_wrong_key_fails(good_set: Path, chain_key: Path) -> None:
    with pytest.raises(CheckFailed) as err:
        _verify(good_set, load_avb_key(chain_key).public_key_blob)
    assert err.value.findings[0].rule == "avb-key"


def test_stale_descriptor_fails(copy: Path, tmp_path: Path, chain_key: Path) -> None:
    # system.img rebuilt (new content, new footer) after vbmeta_system.img was made from the old one
    fresh = build_set(tmp_path / "fresh", chain_key, system_seed=99)
    shutil.copyfile(fresh / "system.img", copy / "system.img")
    with pytest.raises(CheckFailed) as err:
        _verify(copy)
    (finding,) = err.value.findings
    assert finding.rule == "avb-hashtree-mismatch" and "system.img" in finding.file
    assert "changed after the descriptor was made" in finding.message


def test_chained_vbmeta_signed_by_another_key_fails(copy: Path, tmp_path: Path, chain_key: Path) -> None:
    other = load_avb_key(rsa_pem(tmp_path / "other.pem", 2048))
    make_vbmeta(copy / "vbmeta_system.img", key=other, rollback_index=3,
                include_descriptors_from_image=[copy / "system.img", copy / "product.img"])
    with pytest.raises(CheckFailed) as err:
        _verify(copy)
    assert err.value.findings[0].rule == "avb-chain-key"


def test_missing_image_fails_naming_it(copy: Path) -> None:
    (copy / "product.img").unlink()
    with pytest.raises(CheckFailed) as err:
        _verify(copy)
    assert "no product.img" in err.value.findings[0].message


def test_images_folder_is_searched(copy: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (copy / "vbmeta.img").rename(elsewhere / "vbmeta.img")
    with pytest.raises(CheckFailed):
        verify_vbmeta(elsewhere / "vbmeta.img", public_key=bundled_test_key().public_key_blob)
    report = verify_vbmeta(elsewhere / "vbmeta.img", public_key=bundled_test_key().public_key_blob, images_dir=copy)
    assert len(report.checked) == 5


def test_unsigned_top_level_vbmeta_fails(copy: Path) -> None:
    image = random_image(copy / "vbmeta.img", 4096, seed=1)
    add_hash_footer(image, partition_name="vbmeta", salt=SALT, partition_size="dynamic")  # algorithm NONE
    with pytest.raises(CheckFailed) as err:
        _verify(copy)
    assert "not signed" in err.value.findings[0].message


def test_cli_verify_and_info(run, good_set: Path, copy: Path) -> None:
    ok = run("avb", "verify", good_set / "vbmeta.img", "--key", TEST_KEY, "--jobs", "1")
    assert ok.exit_code == 0, ok.output
    assert ok.output.splitlines()[-1].startswith("verified:")
    as_json = json.loads(run("avb", "verify", good_set / "vbmeta.img", "--key", TEST_KEY, "--json").output)
    assert as_json["ok"] and len(as_json["checked"]) == 5
    flip(copy / "boot.img", 1000)
    bad = run("avb", "verify", copy / "vbmeta.img", "--key", TEST_KEY)
    assert bad.exit_code == 3 and "boot.img" in bad.output and "avb-hash-mismatch" in bad.output
    assert "Traceback" not in bad.output
    bad_json = run("avb", "verify", copy / "vbmeta.img", "--key", TEST_KEY, "--json")
    assert bad_json.exit_code == 3
    assert json.loads(bad_json.output)["findings"][0]["rule"] == "avb-hash-mismatch"
    info = run("avb", "info", good_set / "system.img")
    assert info.exit_code == 0
    assert "Footer version:           1.0" in info.output and "Hashtree descriptor:" in info.output
    assert "Partition Name:        system" in info.output
    data = json.loads(run("avb", "info", good_set / "vbmeta.img", "--json").output)
    assert [d["type"] for d in data["descriptors"]] == ["chain_partition", "hash"]
    assert data["vbmeta"]["algorithm"] == "SHA256_RSA4096"


def test_cli_info_of_a_file_without_avb_is_one_clear_error(run, tmp_path: Path) -> None:
    junk = random_image(tmp_path / "junk.img", 8192, seed=2)
    result = run("avb", "info", junk)
    assert result.exit_code == 1
    assert "junk.img" in result.output and "neither a vbmeta image nor an image with an AVB footer" in result.output


def test_cli_builds_a_set_that_verifies(run, tmp_path: Path, chain_key: Path) -> None:
    system = erofs_image(tmp_path / "in" / "system.img", seed=41)
    boot = random_image(tmp_path / "in" / "boot.img", 200_000, seed=42)
    before = system.read_bytes()
    out = tmp_path / "out"
    r = run("avb", "add-hashtree-footer", system, "--partition-name", "system", "--salt", SALT.hex(),
            "--partition-size", str(16 << 20), "-o", out / "system.img", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["partition_size"] == 16 << 20
    r = run("avb", "add-hash-footer", boot, "--partition-name", "boot", "--salt", SALT.hex(), "--partition-size",
            str(1 << 20), "-o", out / "boot.img", "--prop", "com.android.build.boot.os_version:14")
    assert r.exit_code == 0, r.output
    assert run("avb", "extract-public-key", chain_key, "-o", tmp_path / "chain.avbpubkey").exit_code == 0
    r = run("avb", "make-vbmeta", "-o", out / "vbmeta_system.img", "--key", chain_key,
            "--include-descriptors-from-image", out / "system.img")
    assert r.exit_code == 0, r.output
    r = run("avb", "make-vbmeta", "-o", out / "vbmeta.img", "--rollback-index", "9",
            "--include-descriptors-from-image", out / "boot.img",
            "--chain-partition", f"vbmeta_system:1:{tmp_path / 'chain.avbpubkey'}")
    assert r.exit_code == 0 and "TEST key" in r.output
    ok = run("avb", "verify", out / "vbmeta.img", "--key", TEST_KEY)
    assert ok.exit_code == 0, ok.output
    assert "system: sha256 hash tree of system.img" in ok.output and "boot: sha256 digest" in ok.output
    assert system.read_bytes() == before  # -o left the input alone

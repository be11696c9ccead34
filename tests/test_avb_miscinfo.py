"""misc_info.txt's avb_* keys as AOSP's releasetools read them, and sign_release_images on small
real images (erofs from mkfs.erofs) for the cases a whole build does not reach: a partition
chained from vbmeta that signs its own footer."""

from __future__ import annotations

from pathlib import Path

import pytest

from avb_independent import parse
from avbkit import erofs_image, rsa_pem
from romforge.avb import load_avb_key, verify_vbmeta
from romforge.avb.build import AvbPlan, sign_release_images
from romforge.avb.miscinfo import parse_args, read_avb_settings
from romforge.errors import CheckFailed, ConfigError
from romforge.tree import RomTree

BASE = b"""use_dynamic_partitions=true
dynamic_partition_list=system vendor
avb_enable=true
avb_system_hashtree_enable=true
avb_system_add_hashtree_footer_args=--prop=com.android.build.system.os_version:14 --hash_algorithm sha256
avb_vendor_hashtree_enable=true
avb_vendor_add_hashtree_footer_args=--rollback_index 0 --setup_as_rootfs_from_kernel
vendor_size=0x10000000
system_size=0x10000000
"""


def test_settings_follow_aosp_vbmeta_partitioning() -> None:
    settings = read_avb_settings(BASE + b"avb_vbmeta_system=system\navb_vbmeta_system_rollback_index_location=1\n"
                                 b"avb_vbmeta_args=--padding_size 4096 --rollback_index 12 --flags 0\n",
                                 source="misc_info.txt")
    assert [v.name for v in settings.vbmetas] == ["vbmeta_system", "vbmeta"]
    system_side, top = settings.vbmetas
    assert system_side.partitions == ("system",) and system_side.rollback_index_location == 1
    assert "system" not in top.partitions and "vendor" in top.partitions and top.partitions[-1] == "vbmeta_system"
    assert top.args.rollback_index == 12 and top.args.padding_size == 4096
    assert settings.partitions["system"].args.properties == (("com.android.build.system.os_version", "14"),)
    assert settings.partitions["system"].partition_size is None  # dynamic: no fixed size
    assert settings.fixed_sizes == {}
    assert read_avb_settings(b"avb_enable=false\n", source="m") is None
    assert read_avb_settings(None, source="m") is None


@pytest.mark.parametrize("text, message", [
    ("--prop novalue", "is not KEY:VALUE"),
    ("--hash_algorithm md5", "use sha1, sha256 or sha512"),
    ("--rollback_index", "needs a value"),
    ("--padding_size 4096", "applies to vbmeta images"),
    ("'unclosed", "cannot split"),
])
def test_footer_args_romforge_cannot_honour_are_refused(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_args(text, kind="footer")


def test_two_signers_at_one_location_are_refused_naming_the_line() -> None:
    text = BASE + (b"avb_vbmeta_system=system\navb_vbmeta_system_rollback_index_location=2\n"
                   b"avb_vendor_key_path=x.pem\navb_vendor_rollback_index_location=2\n")
    with pytest.raises(ConfigError) as failed:
        read_avb_settings(text, source="META/misc_info.txt")
    assert failed.value.line == 13 and "location 2 is already used by vbmeta_system" in failed.value.message


def test_a_chained_partition_signs_its_own_footer(tmp_path: Path, sample_rom: Path) -> None:
    key = load_avb_key(rsa_pem(tmp_path / "avb.pem", 2048))
    settings = read_avb_settings(BASE + b"avb_system_key_path=k.pem\navb_system_algorithm=SHA512_RSA4096\n"
                                 b"avb_system_rollback_index_location=2\n", source="misc_info.txt")
    plan = AvbPlan(settings, key, "test key", {"vbmeta": 4, "system": 3})
    out = tmp_path / "images"
    out.mkdir()
    images = {name: erofs_image(out / f"{name}.img", seed=i, files=6, size=200_000)
              for i, name in enumerate(("system", "vendor"))}
    tree = RomTree.open(sample_rom)
    signed = sign_release_images(images, tree, plan=plan, salt_seed=b"seed", out_dir=out)
    assert {"system", "vbmeta", "vendor"} <= set(signed)
    assert set(signed) - {"system", "vbmeta", "vendor"} <= {"boot", "init_boot", "vendor_boot", "dtbo", "vbmeta_system"}
    # ^ the sample base's own boot chain is taken along
    system = parse(out / "system.img")
    assert system.header["algorithm"] == 4 and system.header["rollback_index"] == 3  # SHA512_RSA2048: the key's size
    assert system.header["rollback_index_location"] == 2
    assert parse(out / "vendor.img").header["algorithm"] == 0
    chains = [d for d in parse(out / "vbmeta.img").descriptors if d["tag"] == 4]
    assert [(d["name"], d["location"], d["key"]) for d in chains] == [("system", 2, key.public_key_blob)]
    report = verify_vbmeta(out / "vbmeta.img", public_key=key.public_key_blob)
    assert any(line.startswith("system: chained from vbmeta.img") for line in report.checked)
    other = load_avb_key(rsa_pem(tmp_path / "other.pem", 2048))
    with pytest.raises(CheckFailed):
        verify_vbmeta(out / "vbmeta.img", public_key=other.public_key_blob)

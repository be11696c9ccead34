"""A base ROM with Android Verified Boot turned on, made on the fly from the sample ROM:
META/misc_info.txt with the avb_* keys AOSP writes, IMAGES/boot.img with its own hash footer
(a pass-through image), IMAGES/dtbo.img without one (misc_info asks for a hash footer),
IMAGES/vbmeta.img and vbmeta_system.img as the base's build left them, and
SYSTEM/etc/security/otacerts.zip holding the OTA certificate."""

from __future__ import annotations

import io
import random
import shutil
import zipfile
from pathlib import Path

from romforge.avb import ChainPartition, add_hash_footer, bundled_test_key, make_vbmeta

PARTITIONS_OF_VBMETA_SYSTEM = "system system_ext product"


def misc_info_lines(*, rollback_index: int = 7, extra: tuple[str, ...] = ()) -> list[str]:
    return [
        "avb_enable=true",
        "avb_avbtool=avbtool",
        "avb_vbmeta_key_path=external/avb/test/data/testkey_rsa4096.pem",
        "avb_vbmeta_algorithm=SHA256_RSA4096",
        f"avb_vbmeta_args=--padding_size 4096 --rollback_index {rollback_index}",
        "avb_system_hashtree_enable=true",
        "avb_system_add_hashtree_footer_args=--prop com.android.build.system.os_version:14 "
        "--prop com.android.build.system.security_patch:2024-02-05",
        "avb_vendor_hashtree_enable=true",
        "avb_vendor_add_hashtree_footer_args=--prop com.android.build.vendor.os_version:14",
        "avb_product_hashtree_enable=true",
        "avb_product_add_hashtree_footer_args=",
        "avb_system_ext_hashtree_enable=true",
        "avb_system_ext_add_hashtree_footer_args=",
        "avb_odm_hashtree_enable=true",
        "avb_odm_add_hashtree_footer_args=",
        "avb_boot_add_hash_footer_args=--prop com.android.build.boot.os_version:14",
        "boot_size=0x00400000",
        "avb_dtbo_add_hash_footer_args=",
        "dtbo_size=0x00100000",
        f"avb_vbmeta_system={PARTITIONS_OF_VBMETA_SYSTEM}",
        "avb_vbmeta_system_key_path=external/avb/test/data/testkey_rsa2048.pem",
        "avb_vbmeta_system_algorithm=SHA256_RSA2048",
        "avb_vbmeta_system_args=--padding_size 4096 --rollback_index 1706745600",
        "avb_vbmeta_system_rollback_index_location=1",
        *extra,
    ]


def otacerts_zip(cert: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        info = zipfile.ZipInfo(cert.name, (2009, 1, 1, 0, 0, 0))
        zf.writestr(info, cert.read_bytes())
    return buffer.getvalue()


def set_misc_info(base: Path, lines: list[str]) -> None:
    misc = base / "META/misc_info.txt"
    kept = [line for line in misc.read_text().splitlines() if not line.startswith("avb_enable")]
    misc.write_text("\n".join(kept + lines) + "\n")


def avb_base(sample_rom: Path, out: Path, *, ota_cert: Path, rollback_index: int = 7,
             boot_size: int = 300_000, extra: tuple[str, ...] = ()) -> Path:
    """A copy of `sample_rom` at `out` with AVB enabled (see the module docstring)."""
    shutil.copytree(sample_rom, out, symlinks=True)
    set_misc_info(out, misc_info_lines(rollback_index=rollback_index, extra=extra))
    images = out / "IMAGES"
    images.mkdir(exist_ok=True)
    rng = random.Random(13)
    boot = images / "boot.img"
    boot.write_bytes(b"ANDROID!" + rng.randbytes(boot_size))
    add_hash_footer(boot, partition_name="boot", salt=bytes(32), partition_size=0x00400000,
                    properties=[("com.android.build.boot.os_version", "14")])
    (images / "dtbo.img").write_bytes(b"\xd7\xb7\xab\x1e" + rng.randbytes(20_000))
    key = bundled_test_key()
    make_vbmeta(images / "vbmeta_system.img", key=key, rollback_index=1706745600, rollback_index_location=1)
    make_vbmeta(images / "vbmeta.img", key=key, rollback_index=rollback_index,
                include_descriptors_from_image=[boot],
                chain_partitions=[ChainPartition("vbmeta_system", 1, key.public_key_blob)])
    ab = out / "META/ab_partitions.txt"
    names = ab.read_text().split() if ab.is_file() else []
    ab.write_text("\n".join(names + ["boot", "dtbo", "vbmeta", "vbmeta_system"]) + "\n")
    security = out / "SYSTEM/etc/security"
    security.mkdir(parents=True, exist_ok=True)
    (security / "otacerts.zip").write_bytes(otacerts_zip(ota_cert))
    return out

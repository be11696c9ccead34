"""The META files a real build writes for the sample ROM: misc_info.txt (with the avb_* keys of
a system-as-root device), dynamic partitions, A/B partitions, update_engine and postinstall
config, file_contexts; and the base's own otacerts.zip."""

from __future__ import annotations

from pathlib import Path

from romforge.ota.otacerts import OTACERTS, otacerts_zip
from romforge.samplerom.bootchain import BootChain, avb_misc_info
from romforge.samplerom.plan import Plan
from romforge.tree import (AB_PARTITIONS, DYNAMIC_PARTITIONS_INFO, FILE_CONTEXTS, MISC_INFO, POSTINSTALL_CONFIG,
                           UPDATE_ENGINE_CONFIG, FileMeta)

TESTKEYS = Path(__file__).resolve().parent.parent / "data" / "testkeys"
PAYLOAD_MINOR_VERSION = 8  # what an Android 14 build's update_engine_config.txt says
OTAPREOPT_SCRIPT = b"""#!/system/bin/sh
# postinstall: runs from the new slot after update_engine wrote it (romforge sample stand-in)
exit 0
"""


FILE_CONTEXTS_TEXT = """\
# romforge sample ROM file contexts (text form, libselinux syntax)
/                                               u:object_r:rootfs:s0
/.*                                             u:object_r:rootfs:s0
/system(/.*)?                                   u:object_r:system_file:s0
/system/lib(64)?(/.*)?                          u:object_r:system_lib_file:s0
/system/bin/app_process64                       u:object_r:zygote_exec:s0
/system/bin/surfaceflinger                      u:object_r:surfaceflinger_exec:s0
/system/bin/servicemanager                      u:object_r:servicemanager_exec:s0
/system/bin/toybox                              u:object_r:toolbox_exec:s0
/system/bin/init                                u:object_r:init_exec:s0
/system/bin/otapreopt_script                    u:object_r:otapreopt_chroot_exec:s0
/system/etc/security/otacerts\\.zip             u:object_r:system_security_cacerts_file:s0
/system/fonts(/.*)?                             u:object_r:system_file:s0
/system/etc/permissions(/.*)?                   u:object_r:system_file:s0
/system_ext(/.*)?                               u:object_r:system_file:s0
/system_ext/lib(64)?(/.*)?                      u:object_r:system_lib_file:s0
/product(/.*)?                                  u:object_r:system_file:s0
/product/lib(64)?(/.*)?                         u:object_r:system_lib_file:s0
/vendor(/.*)?                                   u:object_r:vendor_file:s0
/vendor/etc(/.*)?                               u:object_r:vendor_configs_file:s0
/vendor/firmware(/.*)?                          u:object_r:vendor_firmware_file:s0
/vendor/bin/hw/android\\.hardware\\.light-service\\.xiaomi        u:object_r:hal_light_default_exec:s0
/vendor/bin/hw/android\\.hardware\\.bluetooth-service\\.qti       u:object_r:hal_bluetooth_default_exec:s0
/vendor/bin/hw/android\\.hardware\\.sensors-service\\.multihal    u:object_r:hal_sensors_default_exec:s0
/vendor/bin/hw/android\\.hardware\\.power-service\\.xiaomi        u:object_r:hal_power_default_exec:s0
/odm(/.*)?                                      u:object_r:vendor_file:s0
/odm/etc(/.*)?                                  u:object_r:vendor_configs_file:s0
/odm/firmware(/.*)?                             u:object_r:vendor_firmware_file:s0
"""


def meta_files(plan: Plan, chain: BootChain | None = None) -> None:
    """META/ as a real build writes it; with `chain` (system-as-root), the AVB keys, the boot chain
    in ab_partitions.txt, postinstall and otacerts.zip too."""
    spec = plan.spec
    parts = " ".join(spec.partitions)
    misc = [
        "recovery_api_version=3", "fstab_version=2", "blocksize=4096", "boot_images=boot.img",
        f"ab_update={'true' if spec.ab else 'false'}", "build_type=user",
        "default_system_dev_certificate=build/make/target/product/security/testkey",
        "use_dynamic_partitions=true", f"dynamic_partition_list={parts}",
        "super_partition_groups=qti_dynamic_partitions", "super_qti_dynamic_partitions_group_size=9122611200",
        f"super_qti_dynamic_partitions_partition_list={parts}",
        *[f"{p}_fs_type=erofs" for p in spec.partitions],
        "ext4_share_dup_blocks=true", f"board_page_size={spec.page_size}",
    ]
    misc += avb_misc_info(spec, chain) if chain is not None else ["avb_enable=false"]
    plan.extras[MISC_INFO] = ("\n".join(misc) + "\n").encode()
    plan.extras[DYNAMIC_PARTITIONS_INFO] = (
        "super_partition_size=9126805504\nsuper_partition_groups=qti_dynamic_partitions\n"
        "super_qti_dynamic_partitions_group_size=9122611200\n"
        f"super_qti_dynamic_partitions_partition_list={parts}\nvirtual_ab=true\n").encode()
    if spec.ab:
        listed = chain.ab_partitions(spec) if chain is not None else list(spec.partitions)
        plan.extras[AB_PARTITIONS] = ("\n".join(listed) + "\n").encode()
        minor = PAYLOAD_MINOR_VERSION if chain is not None else 7
        plan.extras[UPDATE_ENGINE_CONFIG] = f"PAYLOAD_MAJOR_VERSION=2\nPAYLOAD_MINOR_VERSION={minor}\n".encode()
    if chain is not None:
        plan.add("system", "bin/otapreopt_script", OTAPREOPT_SCRIPT, FileMeta(0, 2000, 0o755))
        plan.extras[POSTINSTALL_CONFIG] = (
            "RUN_POSTINSTALL_system=true\nPOSTINSTALL_PATH_system=system/bin/otapreopt_script\n"
            "FILESYSTEM_TYPE_system=erofs\nPOSTINSTALL_OPTIONAL_system=true\n").encode()
        plan.add("system", OTACERTS, otacerts_zip([("testkey.x509.pem",
                                                    (TESTKEYS / "platform.x509.pem").read_bytes())]))
    plan.extras[FILE_CONTEXTS] = FILE_CONTEXTS_TEXT.encode()

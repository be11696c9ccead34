"""The META files a real build writes for the sample ROM: misc_info.txt, dynamic partitions,
A/B partitions, update_engine config, file_contexts."""

from __future__ import annotations

from romforge.samplerom.plan import Plan
from romforge.tree import FILE_CONTEXTS, MISC_INFO


FILE_CONTEXTS_TEXT = """\
# romforge sample ROM file contexts (text form, libselinux syntax)
/system(/.*)?                                   u:object_r:system_file:s0
/system/lib(64)?(/.*)?                          u:object_r:system_lib_file:s0
/system/bin/app_process64                       u:object_r:zygote_exec:s0
/system/bin/surfaceflinger                      u:object_r:surfaceflinger_exec:s0
/system/bin/servicemanager                      u:object_r:servicemanager_exec:s0
/system/bin/toybox                              u:object_r:toolbox_exec:s0
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


def meta_files(plan: Plan) -> None:
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
        "avb_enable=false", "ext4_share_dup_blocks=true", f"board_page_size={spec.page_size}",
    ]
    plan.extras[MISC_INFO] = ("\n".join(misc) + "\n").encode()
    plan.extras["META/dynamic_partitions_info.txt"] = (
        "super_partition_size=9126805504\nsuper_partition_groups=qti_dynamic_partitions\n"
        "super_qti_dynamic_partitions_group_size=9122611200\n"
        f"super_qti_dynamic_partitions_partition_list={parts}\nvirtual_ab=true\n").encode()
    if spec.ab:
        plan.extras["META/ab_partitions.txt"] = ("\n".join(spec.partitions) + "\n").encode()
        plan.extras["META/update_engine_config.txt"] = b"PAYLOAD_MAJOR_VERSION=2\nPAYLOAD_MINOR_VERSION=7\n"
    plan.extras[FILE_CONTEXTS] = FILE_CONTEXTS_TEXT.encode()

"""AOSP target-files, as a directory or a zip: entries with their filesystem metadata.

paths.py knows target-files paths (SYSTEM/, META/filesystem_config.txt, where each partition
keeps build.prop); everyone else speaks in (partition, path). meta.py is fs_config, stores.py
where bytes live, romtree.py the tree, reading.py / writing.py the two ends, staging.py the
copy-on-write tree a build changes.
"""

from romforge.tree.meta import Entry, FileMeta, default_meta, format_fs_config, parse_fs_config
from romforge.tree.paths import (AB_PARTITIONS, DIR, DYNAMIC_PARTITIONS_INFO, FILE, FILE_CONTEXTS, MISC_INFO,
                                 PARTITION_OF_DIR, POSTINSTALL_CONFIG, ROOT, SYMLINK, TF_DIRS, UPDATE_ENGINE_CONFIG,
                                 ZIP_DATE, build_prop_path, clean_path, device_path, fs_config_name, image_name,
                                 radio_image_name)
from romforge.tree.reading import check_member_name, zip_member_kind
from romforge.tree.romtree import RomTree
from romforge.tree.staging import MaterializeStats, materialize, stage
from romforge.tree.stores import sha256_file
from romforge.tree.writing import write_target_files

__all__ = ["AB_PARTITIONS", "DIR", "DYNAMIC_PARTITIONS_INFO", "Entry", "FILE", "FILE_CONTEXTS", "FileMeta",
           "MISC_INFO", "MaterializeStats", "PARTITION_OF_DIR", "POSTINSTALL_CONFIG", "ROOT", "RomTree", "SYMLINK",
           "TF_DIRS", "UPDATE_ENGINE_CONFIG", "ZIP_DATE", "build_prop_path", "check_member_name", "clean_path",
           "default_meta", "device_path", "format_fs_config", "fs_config_name", "image_name", "materialize",
           "parse_fs_config", "radio_image_name", "sha256_file", "stage", "write_target_files", "zip_member_kind"]

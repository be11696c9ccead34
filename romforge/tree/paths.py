"""Where target-files keeps things: partition directories, META files, each partition's build.prop.

The only module that knows target-files paths; everyone else speaks in (partition, path)."""

from __future__ import annotations

import re
import unicodedata

ROOT = "root"  # ROOT/ of a system-as-root target-files: the top of the system image, SYSTEM/ under /system
TF_DIRS = {
    "system": "SYSTEM",
    "vendor": "VENDOR",
    "product": "PRODUCT",
    "system_ext": "SYSTEM_EXT",
    "odm": "ODM",
    "vendor_dlkm": "VENDOR_DLKM",
    "odm_dlkm": "ODM_DLKM",
    "system_dlkm": "SYSTEM_DLKM",
    ROOT: "ROOT",
}
PARTITION_OF_DIR = {v: k for k, v in TF_DIRS.items()}
_BUILD_PROP = {"system": "build.prop", "vendor": "build.prop"}  # others keep it in etc/
FILE_CONTEXTS = "META/file_contexts"
MISC_INFO = "META/misc_info.txt"
DYNAMIC_PARTITIONS_INFO = "META/dynamic_partitions_info.txt"
AB_PARTITIONS = "META/ab_partitions.txt"
UPDATE_ENGINE_CONFIG = "META/update_engine_config.txt"
ROOT_DIR = "ROOT"  # system-as-root: the image's "/" (SYSTEM/ is mounted below it at /system)
ROOT_FS_CONFIG = "META/root_filesystem_config.txt"
IMAGES_DIR = "IMAGES"
RADIO_DIR = "RADIO"  # firmware images an OTA carries whole (modem, bootloader…)
POSTINSTALL_CONFIG = "META/postinstall_config.txt"
ZIP_DATE = (2009, 1, 1, 0, 0, 0)  # the fixed time AOSP's releasetools stamps on zip entries
STORED_SUFFIXES = (".apk", ".zip", ".jar", ".png", ".jpg", ".webp", ".ogg", ".mp3", ".gz", ".xz",
                    ".br", ".lz4", ".zst", ".img")
MAX_ENTRIES = 2_000_000
ZIP64_LIMIT = (1 << 31) - 1

FILE, DIR, SYMLINK = "file", "dir", "symlink"
PARTITION_NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")  # safe as a file name: <partition>.img


def device_path(partition: str, path: str) -> str:
    """Where the device sees an entry: ROOT/ is /, every other partition is mounted at /<partition>."""
    if partition == ROOT:
        return f"/{path}"
    return f"/{partition}/{path}" if path else f"/{partition}"


def fs_config_path(partition: str, path: str) -> str:
    """The path an fs_config line names: relative to the image root, so "system/bin/sh" in
    filesystem_config.txt, and "init" (the root itself is the empty path) in
    root_filesystem_config.txt, as AOSP's build writes them."""
    if partition == ROOT:
        return path
    return f"{partition}/{path}" if path else partition


def fs_config_name(partition: str) -> str:
    if partition == "system":
        return "META/filesystem_config.txt"
    return f"META/{partition}_filesystem_config.txt"


def build_prop_path(partition: str) -> str:
    return _BUILD_PROP.get(partition, "etc/build.prop")


def image_name(partition: str) -> str:
    """Where target-files keeps a partition's image."""
    return f"{IMAGES_DIR}/{partition}.img"


def radio_image_name(partition: str) -> str:
    """Where target-files keeps a firmware image (add_img_to_target_files takes them from RADIO/)."""
    return f"{RADIO_DIR}/{partition}.img"


def clean_path(path: str, *, what: str = "path") -> str:
    """A relative, normalized in-partition path, or ValueError for anything that could escape."""
    if not isinstance(path, str) or not path:
        raise ValueError(f"{what} is empty")
    if "\0" in path or "\\" in path:
        raise ValueError(f"{what} {path!r} holds a NUL or backslash")
    if path.startswith("/"):
        raise ValueError(f"{what} {path!r} is absolute; give it relative to the partition")
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if not parts:
        raise ValueError(f"{what} {path!r} names the partition root")
    if any(p == ".." for p in parts):
        raise ValueError(f"{what} {path!r} climbs out with '..'")
    return "/".join(parts)


def _refused(ch: str) -> str | None:
    if ch.isspace():
        return "whitespace"
    if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"):
        return "a control or invisible character"
    return None


def path_char_problem(path: str) -> str | None:
    """Why `path` cannot appear in an fs_config or file_contexts line, or None."""
    for ch in path:
        kind = _refused(ch)
        if kind:
            return f"holds {kind} ({ch!r}), which fs_config and file_contexts lines cannot carry"
    return None

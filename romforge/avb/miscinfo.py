"""What a target-files' META/misc_info.txt asks of Android Verified Boot, read as AOSP's
releasetools read it (add_img_to_target_files.py, common.py BuildVBMeta, build_image.py).

The keys (one `key=value` a line):

    avb_enable=true                                   AVB at all
    avb_<p>_hashtree_enable=true                      filesystem partition <p> gets a hashtree footer
    avb_<p>_add_hashtree_footer_args=--prop K:V …     avbtool arguments for it
    avb_<p>_add_hash_footer_args=--prop K:V …         partition <p> (boot, dtbo, …) gets a hash footer
    <p>_size=N                                        its fixed partition size (absent: dynamic)
    avb_<p>_key_path, avb_<p>_algorithm,
    avb_<p>_rollback_index_location                   <p> is chained from vbmeta (signs its own footer)
    avb_vbmeta_system=system system_ext product       partitions described by vbmeta_system.img
    avb_vbmeta_system_key_path, _algorithm,
    avb_vbmeta_system_rollback_index_location,
    avb_vbmeta_system_args=--padding_size 4096 …      vbmeta_system.img, chained from vbmeta.img
    avb_vbmeta_key_path, avb_vbmeta_algorithm,
    avb_vbmeta_args=--padding_size 4096 --rollback_index N    the top-level vbmeta.img

The top-level vbmeta describes every AVB partition not claimed by a chained vbmeta, and
chains those vbmeta images (AOSP's AVB_PARTITIONS and AVB_VBMETA_PARTITIONS). Key paths in
misc_info.txt are paths in the tree the base was built in; romforge signs with the
workspace's `[signing] avb_key` instead and keeps only the algorithm's hash (SHA256/SHA512),
the RSA size being the key's.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from typing import Literal

from romforge.errors import ConfigError

AVB_PARTITIONS = ("boot", "init_boot", "dtbo", "odm", "product", "pvmfw", "recovery", "system", "system_ext",
                  "vendor", "vendor_boot", "vendor_kernel_boot", "vendor_dlkm", "odm_dlkm", "system_dlkm")
VBMETA_PARTITIONS = ("vbmeta_system", "vbmeta_vendor")
TOP = "vbmeta"
# avbtool options that change nothing romforge writes (no FEC, no kernel cmdline generation)
_IGNORED_FLAGS = ("--setup_as_rootfs_from_kernel", "--do_not_generate_fec")


@dataclass(frozen=True)
class AvbArgs:
    """The avbtool arguments of one `avb_*_args` key that romforge understands."""

    properties: tuple[tuple[str, str], ...] = ()
    hash_algorithm: str = "sha256"
    rollback_index: int | None = None
    rollback_index_location: int | None = None
    padding_size: int = 4096
    flags: int = 0
    do_not_use_ab: bool = False
    check_at_most_once: bool = False


@dataclass(frozen=True)
class PartitionAvb:
    """One AVB partition's footer as misc_info.txt asks for it."""

    name: str
    footer: Literal["hashtree", "hash"]
    args: AvbArgs
    partition_size: int | None  # None: dynamic (the smallest that holds it)
    chained: bool = False  # avb_<name>_key_path: its footer's vbmeta is signed and chained from vbmeta
    algorithm: str | None = None
    rollback_index_location: int = 0


@dataclass(frozen=True)
class VBMetaSpec:
    """vbmeta.img or a chained vbmeta_<x>.img: which partitions it describes and how it is signed."""

    name: str
    partitions: tuple[str, ...]  # what misc_info names; only those with an image are described
    args: AvbArgs
    algorithm: str | None
    rollback_index_location: int  # 0 for the top-level vbmeta


@dataclass(frozen=True)
class AvbSettings:
    source: str  # where misc_info.txt was read, for messages
    partitions: dict[str, PartitionAvb]
    vbmetas: tuple[VBMetaSpec, ...]  # chained vbmeta images first, the top-level vbmeta last
    lines: dict[str, int] = field(default_factory=dict)
    fixed_sizes: dict[str, int] = field(default_factory=dict)  # <p>_size of partitions that are not dynamic

    def partition(self, name: str) -> PartitionAvb:
        """What misc_info asks for `name`; a filesystem image it names nothing for still gets a
        sha256 hashtree footer (every filesystem image the build makes is protected)."""
        return self.partitions.get(name) or PartitionAvb(name, "hashtree", AvbArgs(), self.fixed_sizes.get(name))

    def where(self, key: str) -> tuple[str, int | None]:
        return self.source, self.lines.get(key)

    def error(self, key: str, message: str, hint: str | None = None) -> ConfigError:
        return ConfigError(f"{key}: {message}", file=self.source, line=self.lines.get(key), hint=hint)

    @property
    def top(self) -> VBMetaSpec:
        return self.vbmetas[-1]

    def signers(self) -> dict[str, int]:
        """Everything romforge signs → its rollback index location: vbmeta (0), chained vbmeta
        images, and chained partitions."""
        found = {v.name: v.rollback_index_location for v in self.vbmetas}
        found.update({p.name: p.rollback_index_location for p in self.partitions.values() if p.chained})
        return found


def parse_misc_info(data: bytes, *, source: str) -> tuple[dict[str, str], dict[str, int]]:
    """key → value and key → line number; the last of a repeated key wins, as LoadDictionaryFromLines."""
    values: dict[str, str] = {}
    lines: dict[str, int] = {}
    for number, raw in enumerate(data.decode("utf-8", "replace").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        values[key.strip()] = value.strip()
        lines[key.strip()] = number
    return values, lines


def _int(text: str, what: str) -> int:
    try:
        value = int(text, 0)
    except ValueError:
        raise ValueError(f"{what} {text!r} is not a number") from None
    if value < 0:
        raise ValueError(f"{what} {value} is negative")
    return value


def parse_args(text: str, *, kind: Literal["footer", "vbmeta"]) -> AvbArgs:
    """The avbtool options of an `avb_*_args` value; ValueError names the one not understood."""
    try:
        words = shlex.split(text)
    except ValueError as exc:
        raise ValueError(f"cannot split the arguments: {exc}") from None
    found: dict = {"properties": []}
    takes_value = {"--prop", "--hash_algorithm", "--rollback_index", "--rollback_index_location", "--padding_size",
                   "--flags"}
    i = 0
    while i < len(words):
        word = words[i]
        name, eq, inline = word.partition("=")
        if name in takes_value:
            if eq:
                value = inline
            elif i + 1 < len(words):
                i += 1
                value = words[i]
            else:
                raise ValueError(f"{name} needs a value")
            if name == "--prop":
                key, colon, prop = value.partition(":")
                if not colon or not key:
                    raise ValueError(f"--prop {value!r} is not KEY:VALUE")
                found["properties"].append((key, prop))
            elif name == "--hash_algorithm":
                if value not in ("sha1", "sha256", "sha512"):
                    raise ValueError(f"--hash_algorithm {value!r}: use sha1, sha256 or sha512")
                found["hash_algorithm"] = value
            else:
                found[name[2:]] = _int(value, name)
        elif word in ("--do_not_use_ab", "--check_at_most_once"):
            found[word[2:]] = True
        elif word in _IGNORED_FLAGS:
            pass
        else:
            raise ValueError(f"avbtool option {word!r} is not supported by romforge")
        i += 1
    if kind == "footer" and "padding_size" in found:
        raise ValueError("--padding_size applies to vbmeta images, not footers")
    found["properties"] = tuple(found["properties"])
    return AvbArgs(**found)


def read_avb_settings(data: bytes | None, *, source: str) -> AvbSettings | None:
    """The AVB settings of a misc_info.txt, or None when it does not enable AVB (older bases)."""
    values, lines = parse_misc_info(data or b"", source=source)
    if values.get("avb_enable") != "true":
        return None

    def fail(key: str, message: str) -> ConfigError:
        return ConfigError(f"{key}: {message}", file=source, line=lines.get(key),
                           hint="fix the base ROM's META/misc_info.txt (AOSP writes these keys from BOARD_AVB_*)")

    def args_of(key: str, kind: Literal["footer", "vbmeta"]) -> AvbArgs:
        try:
            return parse_args(values.get(key, ""), kind=kind)
        except ValueError as exc:
            raise fail(key, str(exc)) from None

    def number(key: str, default: int | None) -> int | None:
        if key not in values or values[key] == "":
            return default
        try:
            return _int(values[key], key)
        except ValueError as exc:
            raise fail(key, str(exc)) from None

    dynamic = set(values.get("dynamic_partition_list", "").split()) \
        if values.get("use_dynamic_partitions") == "true" else set()
    fixed_sizes: dict[str, int] = {}
    for key in values:
        name = key.removesuffix("_size")
        if key.endswith("_size") and name in AVB_PARTITIONS and name not in dynamic:
            size = number(key, None)
            if size:
                fixed_sizes[name] = size
    partitions: dict[str, PartitionAvb] = {}
    for name in AVB_PARTITIONS:
        if values.get(f"avb_{name}_hashtree_enable") == "true":
            footer: Literal["hashtree", "hash"] = "hashtree"
            args = args_of(f"avb_{name}_add_hashtree_footer_args", "footer")
        elif f"avb_{name}_add_hash_footer_args" in values:
            footer, args = "hash", args_of(f"avb_{name}_add_hash_footer_args", "footer")
        else:
            continue
        chained = bool(values.get(f"avb_{name}_key_path"))
        location = number(f"avb_{name}_rollback_index_location", None) if chained else 0
        if chained and not location:
            raise fail(f"avb_{name}_rollback_index_location", f"{name} is chained (avb_{name}_key_path) and needs "
                       "a rollback index location of 1 or more")
        partitions[name] = PartitionAvb(name, footer, args, fixed_sizes.get(name), chained,
                                        values.get(f"avb_{name}_algorithm") or None, location or 0)

    vbmetas: list[VBMetaSpec] = []
    claimed: dict[str, str] = {}
    for name in VBMETA_PARTITIONS:
        members = tuple(values.get(f"avb_{name}", "").split())
        if not members:
            continue
        for member in members:
            if member in claimed:
                raise fail(f"avb_{name}", f"{member} is already described by {claimed[member]}")
            claimed[member] = name
        location = number(f"avb_{name}_rollback_index_location", None)
        if not location:
            raise fail(f"avb_{name}_rollback_index_location", f"{name}.img is chained from vbmeta.img and needs a "
                       "rollback index location of 1 or more")
        vbmetas.append(VBMetaSpec(name, members, args_of(f"avb_{name}_args", "vbmeta"),
                                  values.get(f"avb_{name}_algorithm") or None, location))
    top_members = tuple(p for p in AVB_PARTITIONS if p not in claimed) + tuple(v.name for v in vbmetas)
    vbmetas.append(VBMetaSpec(TOP, top_members, args_of("avb_vbmeta_args", "vbmeta"),
                              values.get("avb_vbmeta_algorithm") or None, 0))
    used: dict[int, str] = {}
    for signer in [v for v in vbmetas if v.rollback_index_location] + [p for p in partitions.values() if p.chained]:
        location = signer.rollback_index_location
        if location in used:
            raise fail(f"avb_{signer.name}_rollback_index_location",
                       f"rollback index location {location} is already used by {used[location]}")
        used[location] = signer.name
    return AvbSettings(source, partitions, tuple(vbmetas), lines, fixed_sizes)


__all__ = ["AVB_PARTITIONS", "AvbArgs", "AvbSettings", "PartitionAvb", "TOP", "VBMETA_PARTITIONS", "VBMetaSpec",
           "parse_args", "parse_misc_info", "read_avb_settings"]

"""The META/ files of an imported base, reconstructed from what the images and the payload
manifest say, in the key names AOSP's releasetools reads (misc_info.txt,
dynamic_partitions_info.txt, ab_partitions.txt, *filesystem_config.txt). What cannot be known
from images (AVB signing keys, the delta minor version a device's update_engine takes) is not
guessed: it is returned as a finding for the import report."""

from __future__ import annotations

import shlex
from pathlib import Path

from romforge.base.filesystems import FsEntry
from romforge.base.sources import StockFirmware
from romforge.errors import RomforgeError
from romforge.tree.meta import FileMeta, fs_config_line


def fs_config_text(entries: list[FsEntry], prefix: str) -> str:
    """fs_config lines with `prefix` ("system", or "" for AOSP's root_filesystem_config.txt)."""
    lines = []
    for e in entries:
        path = "/".join(p for p in (prefix, e.path) if p)
        lines.append(fs_config_line(path, FileMeta(e.uid, e.gid, e.mode, e.selabel, e.capabilities)))
    return "".join(lines)


def avb_settings(images: dict[str, Path], footers: dict[str, Path] | None = None) -> tuple[list[str], list[str]]:
    """misc_info avb_* lines read from the vbmeta images and footers, and what could not be recovered.
    `footers`: every image of the source, for the properties a filesystem image's footer signs."""
    lines: list[str] = []
    unknown: list[str] = []
    vbmetas = sorted(name for name in images if name.startswith("vbmeta"))
    if not vbmetas:
        return ["avb_enable=false"], []
    from romforge.avb.descriptors import ChainPartitionDescriptor, HashDescriptor, HashtreeDescriptor
    from romforge.avb.image import read_avb_image  # the AVB package is imported only when there is AVB to read

    lines.append("avb_enable=true")
    lines.append("avb_building_vbmeta_image=true")
    described: dict[str, str] = {}
    for name in vbmetas:
        try:
            image = read_avb_image(images[name])
        except RomforgeError as exc:
            unknown.append(f"{name}: AVB metadata unreadable ({exc.message}); avb_{name}_* settings left out")
            continue
        lines.append(f"avb_{name}_algorithm={image.algorithm.name}")
        lines.append(f"avb_{name}_rollback_index={image.header.rollback_index}")
        members = []
        for d in image.descriptors:
            if isinstance(d, ChainPartitionDescriptor):
                lines.append(f"avb_{d.partition_name}_rollback_index_location={d.rollback_index_location}")
            elif isinstance(d, (HashDescriptor, HashtreeDescriptor)):
                members.append(d.partition_name)
                described[d.partition_name] = "hashtree" if isinstance(d, HashtreeDescriptor) else "hash"
        if name != "vbmeta" and members:
            lines.append(f"avb_{name}={' '.join(_include_order(image.descriptors, members))}")
    for partition, kind in sorted(described.items()):
        if kind == "hashtree":
            lines.append(f"avb_{partition}_hashtree_enable=true")
            props = _footer_props((footers or images).get(partition), unknown)
            if props:  # the properties the footer signs (os_version, fingerprint…), as avbtool's --prop
                lines.append(f"avb_{partition}_add_hashtree_footer_args=" + " ".join(props))
    unknown.append("AVB signing keys (avb_*_key_path) cannot be recovered from images: set [signing] avb_key")
    return sorted(set(lines)), unknown


def _include_order(descriptors, members: list[str]) -> list[str]:
    """The order the build listed a vbmeta's partitions in: hash(tree) descriptors are sorted by
    partition, but the properties each image brought (AOSP names them com.android.build.<p>.…)
    keep the include order; partitions without one follow, sorted."""
    from romforge.avb.descriptors import PropertyDescriptor

    order: list[str] = []
    for d in descriptors:
        if isinstance(d, PropertyDescriptor) and d.key.startswith("com.android.build."):
            partition = d.key[len("com.android.build."):].rsplit(".", 1)[0]
            if partition in members and partition not in order:
                order.append(partition)
    return order + sorted(set(members) - set(order))


def _footer_props(image: Path | None, unknown: list[str]) -> list[str]:
    """`--prop KEY:VALUE` words (shell-quoted, as misc_info's args are split) of an image's footer."""
    if image is None:
        return []
    from romforge.avb.descriptors import PropertyDescriptor
    from romforge.avb.image import read_avb_image

    try:
        footer = read_avb_image(image)
    except RomforgeError as exc:
        unknown.append(f"{image.name}: AVB footer unreadable ({exc.message}); its footer properties left out")
        return []
    words = []
    for d in footer.descriptors:
        if isinstance(d, PropertyDescriptor):
            value = d.value.decode("utf-8", "replace")
            words.append(f"--prop {shlex.quote(f'{d.key}:{value}')}")
    return words


def misc_info_text(firmware: StockFirmware, fs_types: dict[str, str], avb_lines: list[str]) -> str:
    lines = ["ab_update=true", *avb_lines]
    lines += [f"{p}_fs_type={fs}" for p, fs in sorted(fs_types.items())]
    if firmware.groups:
        lines += ["use_dynamic_partitions=true", *_dynamic_lines(firmware)]
    return "".join(line + "\n" for line in sorted(set(lines)))


def _dynamic_lines(firmware: StockFirmware) -> list[str]:
    listed = [p for g in firmware.groups for p in g.partitions]
    lines = [f"dynamic_partition_list={' '.join(listed)}",
             f"super_partition_groups={' '.join(g.name for g in firmware.groups)}"]
    for g in firmware.groups:
        lines.append(f"super_{g.name}_group_size={g.size}")
        lines.append(f"super_{g.name}_partition_list={' '.join(g.partitions)}")
    if firmware.virtual_ab:
        lines.append("virtual_ab=true")
    return lines


def dynamic_partitions_text(firmware: StockFirmware) -> str | None:
    """dynamic_partitions_info.txt from the manifest's groups; None when the source names none."""
    if not firmware.groups:
        return None
    return "".join(line + "\n" for line in _dynamic_lines(firmware))


def ab_partitions_text(partitions: list[str]) -> str:
    return "".join(p + "\n" for p in sorted(partitions))

"""care_map.pb: the blocks of each dm-verity-checked partition that update_verifier reads once
after the first boot of the new slot (then it marks the slot successful).

As AOSP's releasetools (`GetCareMap`) makes it: one entry per partition whose image carries
an AVB hashtree descriptor, ranges = the data blocks the descriptor covers ([0, image_size) in
4 KiB blocks, RangeSet's raw form "count,start,end"), id = ro.<partition>.build.fingerprint and
its value in the new build. A partition without a hashtree has no entry; with none at all, no
care map is written (AOSP writes none either).
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

from romforge.avb.descriptors import HashtreeDescriptor
from romforge.avb.image import read_avb_image
from romforge.avb.structs import FOOTER_MAGIC, FOOTER_SIZE
from romforge.errors import InputError
from romforge.ota.proto import care_map_pb2
from romforge.tree import RomTree

BLOCK_SIZE = 4096


def hashtree_of(image: Path, partition: str) -> HashtreeDescriptor | None:
    """The image's own hashtree descriptor (from its AVB footer), or None without one."""
    with open(image, "rb") as f:
        f.seek(0, 2)
        if f.tell() < FOOTER_SIZE:
            return None
        f.seek(-FOOTER_SIZE, 2)
        if f.read(4) != FOOTER_MAGIC:
            return None
    try:
        avb = read_avb_image(image)
    except InputError:
        return None
    for d in avb.descriptors:
        if isinstance(d, HashtreeDescriptor) and d.partition_name == partition:
            return d
    return None


def care_ranges(descriptor: HashtreeDescriptor) -> str:
    """RangeSet.to_string_raw() of the blocks dm-verity covers: "2,0,N"."""
    blocks = -(-descriptor.image_size // BLOCK_SIZE)
    return f"2,0,{blocks}"


def _fingerprint(tree: RomTree, partition: str) -> tuple[str, str]:
    key = f"ro.{partition}.build.fingerprint"
    for source in (partition, "system"):
        prop = tree.build_prop(source) if source in tree.partitions() else None
        value = prop.get(key) if prop is not None else None
        if value:
            return key, value
    system = tree.build_prop("system")
    return "ro.build.fingerprint", (system.get("ro.build.fingerprint") if system is not None else "") or ""


def care_map(tree: RomTree, images: Mapping[str, Path]) -> bytes | None:
    """care_map.pb for the new build's images, or None when no image has a hashtree."""
    msg = care_map_pb2.CareMap()
    for name in sorted(images):
        descriptor = hashtree_of(Path(images[name]), name)
        if descriptor is None:
            continue
        entry = msg.partitions.add()
        entry.name = name
        entry.ranges = care_ranges(descriptor)
        entry.id, entry.fingerprint = _fingerprint(tree, name)
    return msg.SerializeToString(deterministic=True) if msg.partitions else None

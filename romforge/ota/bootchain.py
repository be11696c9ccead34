"""The whole A/B partition set an OTA writes, as update_engine expects it: every partition of
META/ab_partitions.txt, the filesystem ones from the build's images, the others (boot, init_boot,
vendor_boot, dtbo, vbmeta*, firmware) from IMAGES/ or RADIO/ of the target-files, as AOSP's
add_img_to_target_files and ota_from_target_files take them. Also what the target-files says
about the payload: update_engine_config.txt (its delta minor version) and postinstall_config.txt.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from romforge.errors import InputError
from romforge.ota.images import PartitionImage
from romforge.tree import (AB_PARTITIONS, FILE, MISC_INFO, POSTINSTALL_CONFIG, ROOT, TF_DIRS, UPDATE_ENGINE_CONFIG,
                           RomTree, image_name, radio_image_name, sha256_file)

PASSTHROUGH_FS = "raw"  # an image the OTA writes as the target-files holds it
MAX_CONFIG_LINES = 1000


def ota_partitions(tree: RomTree) -> tuple[str, ...]:
    """The partitions the OTA updates: every line of META/ab_partitions.txt (filesystem partitions
    first, in target-files order, then the others sorted); without the file, every partition tree."""
    present = [p for p in tree.partitions() if p != ROOT]
    listed = tree.ab_partitions()
    if not listed:
        return tuple(p for p in TF_DIRS if p in present)
    trees = [p for p in TF_DIRS if p in listed and p in present]
    return (*trees, *sorted(set(listed) - set(trees)))


def passthrough_source(tree: RomTree, partition: str) -> str | None:
    """IMAGES/<p>.img, else RADIO/<p>.img: where the target-files keeps an image no tree makes."""
    for tf_path in (image_name(partition), radio_image_name(partition)):
        if tree.extras.get(tf_path) == FILE:
            return tf_path
    return None


def _partition_size(tree: RomTree, partition: str) -> int | None:
    value = tree.misc_info().get(f"{partition}_size", "")
    try:
        return int(value, 0) if value else None
    except ValueError:
        raise InputError(f"{partition}_size={value!r} is not a number", file=f"{tree.name}/{MISC_INFO}") from None


def _source_of(tree: RomTree, name: str) -> str:
    source = passthrough_source(tree, name)
    if source is None:
        raise InputError(f"lists {name}, but the target-files has no {image_name(name)}, "
                         f"{radio_image_name(name)} or {TF_DIRS.get(name, name.upper())}/",
                         file=f"{tree.name}/{AB_PARTITIONS}",
                         hint=f"add the {name} image to the base ROM or remove {name} from ab_partitions.txt")
    return source


def _check_size(tree: RomTree, name: str, source: str, size: int) -> None:
    limit = _partition_size(tree, name)
    if limit is not None and size > limit:
        raise InputError(f"is {size} bytes, larger than its partition ({name}_size={limit} in misc_info.txt)",
                         file=f"{tree.name}/{source}",
                         hint=f"make the image smaller or raise {name}_size to the device's partition size")


def check_passthrough_images(tree: RomTree) -> None:
    """What copy_passthrough_images would refuse, found while planning (nothing is copied)."""
    for name in ota_partitions(tree):
        if name in tree.partitions():
            continue
        source = _source_of(tree, name)
        measured = tree.measure_extra(source)
        assert measured is not None
        _check_size(tree, name, source, measured[0])


def copy_passthrough_images(tree: RomTree, partitions: tuple[str, ...] | list[str], out_dir: Path, *,
                            include_trees: bool = False) -> dict[str, PartitionImage]:
    """out_dir/<p>.img for every listed partition that has no tree (with `include_trees`, every
    listed one), copied from IMAGES/ or RADIO/.

    A partition the list names that exists nowhere, or an image larger than misc_info.txt's
    <p>_size, is refused naming the file and what to do."""
    images: dict[str, PartitionImage] = {}
    out_dir.mkdir(parents=True, exist_ok=True)
    trees = set(tree.partitions())
    for name in partitions:
        if name in trees and not include_trees:
            continue
        source = _source_of(tree, name)
        target = out_dir / f"{name}.img"
        stream = tree.open_extra(source)
        assert stream is not None
        with stream, open(target, "wb") as out:
            shutil.copyfileobj(stream, out, 1 << 20)
        size = target.stat().st_size
        try:
            _check_size(tree, name, source, size)
        except InputError:
            target.unlink()
            raise
        images[name] = PartitionImage(name, PASSTHROUGH_FS, target, size, sha256_file(target))
    return images


def _key_values(tree: RomTree, tf_path: str) -> dict[str, tuple[str, int]]:
    data = tree.read_extra(tf_path)
    found: dict[str, tuple[str, int]] = {}
    for number, line in enumerate((data or b"").decode("utf-8", "replace").splitlines()[:MAX_CONFIG_LINES], 1):
        if "=" in line and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            found[key.strip()] = (value.strip(), number)
    return found


def delta_minor_version(source: RomTree, *, highest: int, lowest: int) -> int:
    """The delta minor version to write: the source build's PAYLOAD_MINOR_VERSION (its
    update_engine applies nothing newer), capped at the highest romforge writes; `highest`
    when the source has no update_engine_config.txt."""
    found = _key_values(source, UPDATE_ENGINE_CONFIG).get("PAYLOAD_MINOR_VERSION")
    if found is None:
        return highest
    value, line = found
    if not value.isdigit():
        raise InputError(f"PAYLOAD_MINOR_VERSION={value!r} is not a number",
                         file=f"{source.name}/{UPDATE_ENGINE_CONFIG}", line=line)
    if int(value) < lowest:
        raise InputError(f"PAYLOAD_MINOR_VERSION={value}: the source's update_engine applies only operations "
                         f"older than romforge writes (minor {lowest} or later)",
                         file=f"{source.name}/{UPDATE_ENGINE_CONFIG}", line=line,
                         hint="make a full OTA for this device instead")
    return min(int(value), highest)


@dataclass(frozen=True)
class PostInstall:
    """One partition's postinstall step (update_engine's PartitionUpdate run_postinstall fields)."""

    partition: str
    path: str
    filesystem_type: str
    optional: bool


def postinstall_steps(tree: RomTree) -> list[PostInstall]:
    """RUN_POSTINSTALL_<p>=true partitions of META/postinstall_config.txt, as AOSP's
    brillo_update_payload passes them to delta_generator."""
    values = _key_values(tree, POSTINSTALL_CONFIG)
    steps = []
    for key, (value, line) in sorted(values.items()):
        if not key.startswith("RUN_POSTINSTALL_") or value != "true":
            continue
        partition = key.removeprefix("RUN_POSTINSTALL_")
        path = values.get(f"POSTINSTALL_PATH_{partition}", ("", line))[0]
        if not path or path.startswith("/") or ".." in path.split("/"):
            raise InputError(f"POSTINSTALL_PATH_{partition} must be a relative path inside {partition}",
                             file=f"{tree.name}/{POSTINSTALL_CONFIG}", line=line)
        steps.append(PostInstall(partition, path, values.get(f"FILESYSTEM_TYPE_{partition}", ("", line))[0],
                                 values.get(f"POSTINSTALL_OPTIONAL_{partition}", ("false", line))[0] == "true"))
    return steps

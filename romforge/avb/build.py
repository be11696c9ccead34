"""AVB in the build: footers on the release's images and vbmeta.img / vbmeta_system.img
rebuilt from what META/misc_info.txt asks for (add_img_to_target_files.py's AddVBMeta and
build_image.py's footers, done with romforge.avb).

`plan_avb` runs in the build's plan: it reads the settings, loads the signing key and fixes
every rollback index, checking it against the device's earlier releases, so bad input stops
the build before anything is written. `sign_release_images` runs in the image step, after the
filesystem images are made and before the payload is written:

- every filesystem image the build made gets a hashtree footer (salt derived from the
  build's inputs, so the same inputs give the same bytes); it is unsigned unless misc_info
  chains the partition (avb_<p>_key_path), as AOSP leaves images a vbmeta describes;
- images passed through from the base (boot, init_boot, vendor_boot, dtbo, …) keep their own
  footers; one without a footer gets a hash footer when misc_info asks for it;
- each chained vbmeta (vbmeta_system, vbmeta_vendor) takes the descriptors of its partitions;
  vbmeta.img takes the rest and chains those, flags 0, everything signed with one key.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping

from romforge.avb.descriptors import ChainPartitionDescriptor
from romforge.avb.footer import add_hash_footer, add_hashtree_footer, max_hash_image_size
from romforge.avb.image import read_avb_image
from romforge.avb.keys import ALGORITHMS, Algorithm, AvbKey, bundled_test_key, load_avb_key
from romforge.avb.miscinfo import AvbSettings, VBMetaSpec, read_avb_settings
from romforge.avb.structs import FOOTER_MAGIC, FOOTER_SIZE
from romforge.avb.vbmeta import ChainPartition, make_vbmeta
from romforge.errors import ConfigError, InputError, shown_path
from romforge.tree import MISC_INFO, RomTree, image_name

# Below this, starting processes for a hash tree costs more than it saves (measured with
# benchmarks/avb.py on the shared 2-core machine: 2 processes were slower than 1 on a 116 MiB image).
PARALLEL_TREE_MIN = 512 << 20
TEST_KEY_LABEL = ("bundled TEST key avb_TEST_NEVER_SHIP_rsa4096.pem (anyone can sign with it; set [signing] "
                  "avb_key in romforge.toml for release builds)")


@dataclass(frozen=True)
class AvbPlan:
    """What the image step signs with: settings, key, and the rollback index of every signer."""

    settings: AvbSettings
    key: AvbKey
    key_label: str  # what the build log says about the key (no host paths)
    rollback_indexes: dict[str, int]  # vbmeta, vbmeta_system, chained partitions → rollback index

    def inputs(self) -> dict:
        """What build-info.json records: the key (by its public key) and the rollback indexes."""
        return {"public_key_sha256": hashlib.sha256(self.key.public_key_blob).hexdigest(),
                "test_key": self.key.is_test_key, "rollback_indexes": dict(sorted(self.rollback_indexes.items()))}


def signing_key(avb_key: Path | None) -> tuple[AvbKey, str]:
    """`[signing] avb_key` of romforge.toml, else the bundled TEST key; with the label the log shows."""
    if avb_key is None:
        return bundled_test_key(), TEST_KEY_LABEL
    key = load_avb_key(avb_key, origin="[signing] avb_key in romforge.toml")
    return key, (f"workspace key [signing] avb_key (RSA-{key.bits}, public key sha1 "
                 f"{hashlib.sha1(key.public_key_blob).hexdigest()})")


def algorithm_for(key: AvbKey, asked: str | None) -> Algorithm:
    """misc_info's algorithm with the RSA size of the key that really signs (its hash is kept)."""
    hash_name = "SHA512" if asked and asked.upper().startswith("SHA512") else "SHA256"
    return ALGORITHMS[f"{hash_name}_RSA{key.bits}"]


def has_footer(path: Path) -> bool:
    """Whether the file ends in an AVB footer (its magic; read_avb_image checks the rest)."""
    size = path.stat().st_size
    if size < FOOTER_SIZE:
        return False
    with open(path, "rb") as f:
        f.seek(size - FOOTER_SIZE)
        return f.read(4) == FOOTER_MAGIC


def _base_image(tree: RomTree, name: str, out: Path) -> Path | None:
    """IMAGES/<name>.img of the tree copied to `out` (a file of the release's own), or None."""
    stream = tree.open_extra(image_name(name))
    if stream is None:
        return None
    with stream, open(out, "wb") as dst:
        shutil.copyfileobj(stream, dst, 1 << 20)
    return out


def rollback_floor(vbmeta_images: Iterable[Path]) -> dict[int, tuple[int, Path]]:
    """Rollback index location → (highest index, where) over earlier releases' vbmeta.img and the
    chained vbmeta images beside them (what a device that ran those releases has stored)."""
    floor: dict[int, tuple[int, Path]] = {}

    def keep(location: int, index: int, path: Path) -> None:
        if location not in floor or index > floor[location][0]:
            floor[location] = (index, path)

    for top in vbmeta_images:
        image = read_avb_image(top)
        keep(0, image.header.rollback_index, top)
        for d in image.descriptors:
            chained = top.parent / f"{d.partition_name}.img" if isinstance(d, ChainPartitionDescriptor) else None
            if chained is not None and d.rollback_index_location and chained.is_file():
                keep(d.rollback_index_location, read_avb_image(chained).header.rollback_index, chained)
    return floor


def plan_avb(tree: RomTree, *, avb_key: Path | None, built: set[str], earlier_vbmeta: Iterable[Path],
             work: Path) -> AvbPlan | None:
    """The AVB plan of a build from `tree`, or None when its misc_info.txt does not enable AVB.

    A signer's rollback index is `--rollback_index` of its avb_*_args, else the base's own
    vbmeta image's; one lower than an earlier release's at the same location is refused."""
    source = f"{tree.name}/{MISC_INFO}"
    settings = read_avb_settings(tree.read_extra(MISC_INFO), source=source)
    if settings is None:
        return None
    key, label = signing_key(avb_key)
    indexes: dict[str, int] = {}
    work.mkdir(parents=True, exist_ok=True)

    def base_index(name: str) -> int | None:
        """The rollback index in the base's own IMAGES/<name>.img (its vbmeta or footer), if it has one."""
        copy = _base_image(tree, name, work / f"{name}.img")
        if copy is None or (name not in {v.name for v in settings.vbmetas} and not has_footer(copy)):
            return None
        try:
            return read_avb_image(copy, descriptors=False).header.rollback_index
        except InputError as exc:
            raise InputError(exc.message, file=f"{tree.name}/{image_name(name)}") from None

    for vbmeta in settings.vbmetas:
        index = vbmeta.args.rollback_index
        indexes[vbmeta.name] = index if index is not None else (base_index(vbmeta.name) or 0)
    for part in settings.partitions.values():
        if part.chained:  # one the build makes signs with the index its args give; one passed through keeps its own
            passed = None if part.name in built else base_index(part.name)
            indexes[part.name] = passed if passed is not None else (part.args.rollback_index or 0)
    floor = rollback_floor(earlier_vbmeta)
    for name, location in settings.signers().items():
        if location in floor and indexes[name] < floor[location][0]:
            highest, where = floor[location]
            key_name = f"avb_{name}_args" if name in {v.name for v in settings.vbmetas} else \
                f"avb_{name}_add_{settings.partitions[name].footer}_footer_args"
            raise settings.error(key_name, f"rollback index {indexes[name]} of {name} (location {location}) is lower "
                                 f"than {highest}, which the device's release {shown_path(where)} already set; "
                                 "a phone that installed it would refuse this build",
                                 hint=f"give --rollback_index {highest} or higher in {key_name}")
    plan = AvbPlan(settings, key, label, indexes)
    for spec in settings.vbmetas[:-1]:
        for name in spec.partitions:
            if name not in built and tree.extras.get(image_name(name)) is None:
                raise _no_image(settings, spec, name)
    check_base_images(tree, plan, built)
    return plan


def _no_image(settings: AvbSettings, spec: VBMetaSpec, name: str) -> ConfigError:
    return settings.error(f"avb_{spec.name}", f"{name} has no image: the build makes none and the base has no "
                          f"{image_name(name)}", hint=f"remove {name} from avb_{spec.name} or add its image to the base")


def _salt(seed: bytes, partition: str) -> bytes:
    return hashlib.sha256(b"romforge avb salt\0" + seed + b"\0" + partition.encode()).digest()


def _own_file(path: Path) -> None:
    """Footers are written in place: never into a file that shares its inode (a hardlinked base)."""
    if path.stat().st_nlink > 1:
        copy = path.with_name(f".{path.name}.own")
        shutil.copyfile(path, copy)
        os.replace(copy, path)


@dataclass
class _Signing:
    plan: AvbPlan
    images: dict[str, Path]
    tree: RomTree
    out_dir: Path
    chain_keys: dict[str, bytes]  # chained partition → public key its vbmeta is signed with

    def footer(self, name: str, path: Path, salt: bytes, jobs: int) -> None:
        """A hashtree (or hash) footer on an image the build made."""
        part = self.plan.settings.partition(name)
        signed = {"key": self.plan.key, "algorithm": algorithm_for(self.plan.key, part.algorithm).name,
                  "rollback_index": self.plan.rollback_indexes[name],
                  "rollback_index_location": part.rollback_index_location} if part.chained else {}
        common = dict(partition_name=name, salt=salt, hash_algorithm=part.args.hash_algorithm,
                      properties=part.args.properties, do_not_use_ab=part.args.do_not_use_ab, **signed)
        _own_file(path)
        if part.footer == "hashtree":
            add_hashtree_footer(path, partition_size=part.partition_size or "dynamic", jobs=jobs,
                                check_at_most_once=part.args.check_at_most_once, **common)
        else:
            add_hash_footer(path, partition_size=part.partition_size or "dynamic", **common)
        if part.chained:
            self.chain_keys[name] = self.plan.key.public_key_blob

    def passed_through(self, name: str, salt: bytes) -> Path | None:
        """An image from the base the release carries as it is: its footer is kept; one without
        a footer gets the hash footer misc_info asks for."""
        path = self.images.get(name)
        if path is None:
            path = _base_image(self.tree, name, self.out_dir / f"{name}.img")
            if path is None:
                return None
            self.images[name] = path
        part = self.plan.settings.partitions.get(name)
        if has_footer(path):
            image = read_avb_image(path)
            if part is not None and part.chained:
                if not image.public_key:
                    raise InputError(f"misc_info.txt chains {name} (avb_{name}_key_path), but the footer of its "
                                     "image is not signed", file=f"{self.tree.name}/{image_name(name)}",
                                     hint="sign the image's footer in the base, or drop the chain from misc_info.txt")
                self.chain_keys[name] = image.public_key
            return path
        if part is None or part.footer != "hash":
            raise InputError(f"{name}.img has no AVB footer and misc_info.txt asks for none "
                             f"(avb_{name}_add_hash_footer_args)", file=f"{self.tree.name}/{image_name(name)}",
                             hint="add the key to misc_info.txt, or give the base an image with its footer")
        self.footer(name, path, salt, 1)
        return path

    def vbmeta(self, spec: VBMetaSpec, members: list[str]) -> Path:
        out = self.out_dir / f"{spec.name}.img"
        chains = [ChainPartition(m, self._location(m), self.chain_keys[m]) for m in members if m in self.chain_keys]
        includes = [self.images[m] for m in members if m not in self.chain_keys]
        make_vbmeta(out, key=self.plan.key, algorithm=algorithm_for(self.plan.key, spec.algorithm).name,
                    rollback_index=self.plan.rollback_indexes[spec.name], flags=0,
                    rollback_index_location=spec.rollback_index_location, include_descriptors_from_image=includes,
                    chain_partitions=chains, properties=spec.args.properties, padding_size=spec.args.padding_size)
        self.images[spec.name] = out
        if spec.rollback_index_location:
            self.chain_keys[spec.name] = self.plan.key.public_key_blob
        return out

    def _location(self, name: str) -> int:
        for spec in self.plan.settings.vbmetas:
            if spec.name == name:
                return spec.rollback_index_location
        return self.plan.settings.partitions[name].rollback_index_location


def sign_release_images(images: Mapping[str, Path], tree: RomTree, *, plan: AvbPlan, salt_seed: bytes,
                        out_dir: Path, jobs: int = 1) -> dict[str, Path]:
    """Footers on the filesystem images the build made (in place), the base's AVB images taken
    along, and vbmeta*.img written to `out_dir`; returns every image of the release by partition.

    `images` are the images the build made (partition → path); `salt_seed` comes from the
    build's inputs; `jobs` processes may hash the tree of an image of PARALLEL_TREE_MIN or more."""
    signing = _Signing(plan, dict(images), tree, Path(out_dir), {})
    built = [n for n in images if n in tree.partitions()]
    for name in built:
        path = signing.images[name]
        signing.footer(name, path, _salt(salt_seed, name), jobs if path.stat().st_size >= PARALLEL_TREE_MIN else 1)
    claimed = {m for spec in plan.settings.vbmetas[:-1] for m in spec.partitions}
    vbmeta_names = {v.name for v in plan.settings.vbmetas}
    for spec in plan.settings.vbmetas:
        listed = list(spec.partitions)
        if spec is plan.settings.top:
            listed += [n for n in built if n not in listed and n not in claimed]
        members = []
        for name in listed:
            if name in built or (name in vbmeta_names and name in signing.images):
                members.append(name)
            elif signing.passed_through(name, _salt(salt_seed, name)) is not None:
                members.append(name)
            elif spec is not plan.settings.top:
                raise _no_image(plan.settings, spec, name)
        if spec is not plan.settings.top and not members:
            raise plan.settings.error(f"avb_{spec.name}", f"none of {', '.join(spec.partitions)} has an image")
        signing.vbmeta(spec, members)
    return signing.images


def check_base_images(tree: RomTree, plan: AvbPlan, built: set[str]) -> None:
    """Images the base passes through must fit their partitions: a boot image larger than
    boot_size is refused at plan time, naming both."""
    for name, part in plan.settings.partitions.items():
        if name in built or part.partition_size is None:
            continue
        measured = tree.measure_extra(image_name(name), FOOTER_SIZE)
        if measured is None:
            continue
        size, tail = measured
        footered = len(tail) == FOOTER_SIZE and tail[:4] == FOOTER_MAGIC
        limit = part.partition_size if footered else max_hash_image_size(part.partition_size)
        if size > limit:
            what = "with its footer" if footered else "before its hash footer (68 KiB of AVB metadata are kept)"
            raise ConfigError(f"{image_name(name)} is {size} bytes {what}, larger than the {limit} bytes its "
                              f"partition leaves ({name}_size={part.partition_size})",
                              file=f"{tree.name}/{MISC_INFO}", line=plan.settings.lines.get(f"{name}_size"),
                              hint=f"raise {name}_size in misc_info.txt or give the base a smaller {name}.img")


__all__ = ["AvbPlan", "TEST_KEY_LABEL", "algorithm_for", "check_base_images", "has_footer", "plan_avb",
           "rollback_floor", "sign_release_images", "signing_key"]

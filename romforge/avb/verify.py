"""Following a vbmeta the way a device does (avb_slot_verify.c), and the hash trees dm-verity would.

From the top-level vbmeta: its hash and signature must hold and its key must be the one
given; then every descriptor in order. A hash descriptor's image is hashed whole; a hashtree
descriptor's tree is recomputed from the image's blocks and its root compared, and the tree
stored in the image (which dm-verity reads at tree_offset) compared too; a chain partition's
vbmeta must be signed by the key in the chain descriptor, carry flags 0 and no chains of its
own, and its descriptors are followed in turn. `<partition>.img` is looked for in the
--images folder, then beside the vbmeta. The first mismatch stops the walk (CheckFailed,
exit 3). FEC data is not checked (romforge writes none).
"""

from __future__ import annotations

import hashlib
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from romforge.avb.descriptors import (DIGEST_SIZES, ChainPartitionDescriptor, HashDescriptor,
                                      HashtreeDescriptor)
from romforge.avb.hashtree import compare_tree, tree_layout, write_hash_tree
from romforge.avb.image import AvbImage, read_avb_image, signature_problem, with_descriptors
from romforge.errors import CheckFailed, Finding, InputError, shown_path


@dataclass
class VerifyReport:
    """What was checked, one line per step, in the order a device would check it."""

    vbmeta: Path
    algorithm: str
    rollback_index: int
    checked: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"vbmeta": str(self.vbmeta), "algorithm": self.algorithm, "rollback_index": self.rollback_index,
                "checked": list(self.checked)}


class _Mismatch(Exception):
    def __init__(self, file: Path, rule: str, message: str) -> None:
        super().__init__(message)
        self.finding = Finding(shown_path(file), None, rule, "error", message)


def _sha1(blob: bytes) -> str:
    return hashlib.sha1(blob).hexdigest()


@dataclass
class _Walk:
    top: Path
    images_dir: Path | None
    jobs: int
    report: VerifyReport

    def image_for(self, partition: str, descriptor_in: Path) -> Path:
        places = ([self.images_dir] if self.images_dir is not None else []) + [self.top.parent]
        for place in places:
            candidate = place / f"{partition}.img"
            if candidate.is_file():
                return candidate
        where = " or ".join(shown_path(p) for p in places)
        raise _Mismatch(descriptor_in, "avb-image-missing",
                        f"{partition}: no {partition}.img in {where} (named by a descriptor in {descriptor_in.name})")

    def read(self, path: Path, what: str) -> AvbImage:
        """The vbmeta of `path`, its signature checked before any descriptor is parsed (libavb's order)."""
        try:
            image = read_avb_image(path, descriptors=False)
        except InputError as exc:
            raise _Mismatch(path, "avb-invalid-metadata", f"{what}: {exc.message}") from None
        problem = signature_problem(image)
        if problem:
            raise _Mismatch(path, "avb-signature", f"{what}: vbmeta of {path.name}: {problem}")
        try:
            return with_descriptors(image)
        except InputError as exc:
            raise _Mismatch(path, "avb-invalid-metadata", f"{what}: {exc.message}") from None

    def vbmeta(self, image: AvbImage, *, main: bool) -> None:
        for d in image.descriptors:
            if isinstance(d, HashDescriptor):
                self.hash(d, self.image_for(d.partition_name, image.path) if d.partition_name else image.path)
            elif isinstance(d, HashtreeDescriptor):
                self.hashtree(d, self.image_for(d.partition_name, image.path) if d.partition_name else image.path)
            elif isinstance(d, ChainPartitionDescriptor):
                if not main:
                    raise _Mismatch(image.path, "avb-chain-in-chain",
                                    f"{d.partition_name}: chain descriptor in a chained vbmeta (only the "
                                    "top-level vbmeta may chain)")
                self.chain(d, image)

    def hash(self, d: HashDescriptor, path: Path) -> None:
        if d.hash_algorithm not in DIGEST_SIZES or len(d.digest) != DIGEST_SIZES[d.hash_algorithm]:
            raise _Mismatch(path, "avb-hash-algorithm",
                            f"{d.partition_name}: hash descriptor uses {d.hash_algorithm!r} with a "
                            f"{len(d.digest)}-byte digest, which cannot be checked")
        size = path.stat().st_size
        if size < d.image_size:
            raise _Mismatch(path, "avb-image-size", f"{d.partition_name}: {path.name} is {size} bytes, shorter "
                            f"than the {d.image_size} bytes its hash descriptor covers")
        hasher = hashlib.new(d.hash_algorithm, d.salt)
        with open(path, "rb") as f:
            remaining = d.image_size
            while remaining:
                chunk = f.read(min(remaining, 8 << 20))
                hasher.update(chunk)
                remaining -= len(chunk)
        if hasher.digest() != d.digest:
            raise _Mismatch(path, "avb-hash-mismatch", f"{d.partition_name}: {d.hash_algorithm} digest of "
                            f"{path.name} ({d.image_size} bytes) does not match its hash descriptor")
        self.report.checked.append(f"{d.partition_name}: {d.hash_algorithm} digest of {path.name} "
                                   f"({d.image_size} bytes) matches")

    def hashtree(self, d: HashtreeDescriptor, path: Path) -> None:
        name = d.partition_name or path.stem
        if d.hash_algorithm not in DIGEST_SIZES or d.data_block_size != d.hash_block_size:
            raise _Mismatch(path, "avb-hashtree-unsupported", f"{name}: hash tree with {d.hash_algorithm!r} and "
                            f"block sizes {d.data_block_size}/{d.hash_block_size} cannot be checked")
        if len(d.root_digest) != DIGEST_SIZES[d.hash_algorithm]:
            raise _Mismatch(path, "avb-hashtree-no-root", f"{name}: hashtree descriptor holds no root digest "
                            "(a persistent digest), nothing to check it against")
        try:
            layout = tree_layout(d.image_size, block_size=d.data_block_size, hash_algorithm=d.hash_algorithm)
        except ValueError as exc:
            raise _Mismatch(path, "avb-hashtree-unsupported", f"{name}: {exc}") from None
        size = path.stat().st_size
        if d.image_size % d.data_block_size or layout.tree_size != d.tree_size:
            raise _Mismatch(path, "avb-hashtree-layout", f"{name}: a tree over {d.image_size} bytes is "
                            f"{layout.tree_size} bytes, the descriptor says {d.tree_size}")
        if size < max(d.image_size, d.tree_offset + d.tree_size) or d.tree_offset < d.image_size:
            raise _Mismatch(path, "avb-image-size", f"{name}: {path.name} ({size} bytes) does not hold the data "
                            f"({d.image_size} bytes) and the hash tree at {d.tree_offset} its descriptor gives")
        with tempfile.TemporaryFile(prefix="romforge-avb-tree-") as scratch:
            root = write_hash_tree(path, layout, d.salt, scratch.fileno(), 0, jobs=self.jobs)
            if root != d.root_digest:
                raise _Mismatch(path, "avb-hashtree-mismatch", f"{name}: the hash tree of {path.name} "
                                f"({d.image_size} bytes) has root digest {root.hex()}, its descriptor says "
                                f"{d.root_digest.hex()}: the image changed after the descriptor was made")
            with open(path, "rb") as stored:
                differs = compare_tree(scratch.fileno(), 0, stored.fileno(), d.tree_offset, d.tree_size)
        if differs is not None:
            raise _Mismatch(path, "avb-hashtree-stored", f"{name}: the hash tree stored in {path.name} at offset "
                            f"{d.tree_offset} differs from the computed one at tree byte {differs}; dm-verity "
                            "would fail reading the partition")
        self.report.checked.append(f"{name}: {d.hash_algorithm} hash tree of {path.name} ({d.image_size} bytes) "
                                   f"matches root digest {d.root_digest.hex()[:16]}…, stored tree matches")

    def chain(self, d: ChainPartitionDescriptor, parent: AvbImage) -> None:
        path = self.image_for(d.partition_name, parent.path)
        if d.rollback_index_location == 0:
            raise _Mismatch(parent.path, "avb-chain-location",
                            f"{d.partition_name}: chain partition descriptor with rollback index location 0")
        chained = self.read(path, d.partition_name)
        if chained.public_key != d.public_key:
            raise _Mismatch(path, "avb-chain-key", f"{d.partition_name}: {path.name} is signed by key sha1 "
                            f"{_sha1(chained.public_key)}, the chain descriptor in {parent.path.name} expects "
                            f"sha1 {_sha1(d.public_key)}")
        if chained.header.flags:
            raise _Mismatch(path, "avb-chain-flags", f"{d.partition_name}: chained vbmeta has flags "
                            f"{chained.header.flags}; only the top-level vbmeta may set flags")
        self.report.checked.append(f"{d.partition_name}: chained from {parent.path.name} (rollback index location "
                                   f"{d.rollback_index_location}), {chained.algorithm.name} signature of "
                                   f"{path.name} by the chain descriptor's key, rollback index "
                                   f"{chained.header.rollback_index}")
        self.vbmeta(chained, main=False)


def verify_vbmeta(vbmeta: Path, *, public_key: bytes, images_dir: Path | None = None, jobs: int = 1) -> VerifyReport:
    """Check `vbmeta` (a vbmeta image or an image with a footer) against `public_key` (an AVB
    public key blob) and everything it describes; CheckFailed at the first mismatch."""
    vbmeta = Path(vbmeta)
    if not vbmeta.is_file():
        raise InputError("vbmeta image not found", file=vbmeta)
    if images_dir is not None and not Path(images_dir).is_dir():
        raise InputError("images folder not found", file=images_dir)
    try:
        walk = _Walk(vbmeta, Path(images_dir) if images_dir is not None else None, jobs,
                     VerifyReport(vbmeta, "NONE", 0))
        top = walk.read(vbmeta, vbmeta.stem)
        walk.report.algorithm, walk.report.rollback_index = top.algorithm.name, top.header.rollback_index
        if top.public_key != public_key:
            raise _Mismatch(vbmeta, "avb-key", f"{vbmeta.name} is signed by key sha1 {_sha1(top.public_key)}, not "
                            f"by the given key (sha1 {_sha1(public_key)})")
        walk.report.checked.append(f"{vbmeta.name}: {top.algorithm.name} signature by the given key (sha1 "
                                   f"{_sha1(public_key)}), rollback index {top.header.rollback_index}, "
                                   f"flags {top.header.flags}")
        walk.vbmeta(top, main=True)
    except _Mismatch as exc:
        raise CheckFailed("AVB verification failed", [exc.finding]) from None
    except OSError as exc:
        raise CheckFailed("AVB verification failed", [Finding(shown_path(exc.filename or vbmeta), None,
                                                              "avb-io", "error", exc.strerror or str(exc))]) from None
    return walk.report

"""The AVB step of a release's images: after the filesystem images are made and before the
payload is written, romforge.avb.build footers them and writes the vbmeta images beside them."""

from __future__ import annotations

from pathlib import Path

from romforge.avb.build import AvbPlan, sign_release_images
from romforge.ota.images import PartitionImage
from romforge.run.cores import Cores, standalone
from romforge.run.progress import Progress
from romforge.tree import RomTree, sha256_file


def verified_boot(images: dict[str, PartitionImage], tree: RomTree, avb: AvbPlan, out_dir: Path,
                  progress: Progress, cores: Cores | None, salt_seed: bytes) -> dict[str, PartitionImage]:
    """Every image of the release with AVB: the built ones footered, the base's AVB images taken
    along, vbmeta*.img signed; the build log says which key signed."""
    progress.step("verified boot")
    progress.note(f"AVB: vbmeta signed with the {avb.key_label}")
    for spec in avb.settings.vbmetas:
        if spec.args.flags:
            progress.note(f"AVB: avb_{spec.name}_args asks for flags {spec.args.flags}; {spec.name}.img is written "
                          "with flags 0 (verification on)")
    with (cores or standalone()).borrow(2) as jobs:
        signed = sign_release_images({n: i.path for n, i in images.items()}, tree, plan=avb, salt_seed=salt_seed,
                                     out_dir=out_dir, jobs=jobs)
    return {n: PartitionImage(n, images[n].fs if n in images else "raw", path, path.stat().st_size, sha256_file(path))
            for n, path in signed.items()}

"""The OTA benchmark's inputs: a realistic week and a moved-content week, as target-files with images.

Realistic week: the sample ROM plus the ELF binaries and zips (jars) of real Debian packages that
the archive holds in two versions (bookworm and bookworm-security/-updates), downloaded at
benchmark time with `apt-get download` (never committed). Week 1 carries the older version of
every package, week 2 the newer one, on top of `samplerom.mutate_week`'s edits of the sample
files. Jar names that carry a version (tomcat10-catalina-10.1.55.jar) change with it, as they do.

Moved-content week: week 1 again, with content that reappears under a new path: the large app
rebuilt and renamed (app/Gallery/Gallery.apk → app/Photos/Photos.apk), a library moved to
another folder under another name, and a jar moved to another folder.

Both weeks are target-files directories whose IMAGES/ already hold the erofs images, so every
method (romforge ota diff and the whole-image differs) reads the very same image pairs.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from romforge.ota.generate import ota_partitions, target_images
from romforge.samplerom import LARGE_APP_PATH, generate, large_app_apk, mutate_week
from romforge.tree import RomTree, image_name, materialize, stage

# package → partition it goes to; each has two versions in bookworm's archive (apt-cache madison)
PACKAGES = {
    "libreoffice-core": "product", "libreoffice-writer": "product", "libreoffice-calc": "product",
    "libreoffice-impress": "product", "libreoffice-java-common": "product", "libtomcat10-java": "system_ext",
    "openjdk-17-jre-headless": "system", "libwebkit2gtk-4.1-0": "system", "libwebkitgtk-6.0-4": "system",
    "libjavascriptcoregtk-4.1-0": "system", "libnode108": "system", "libc6": "system",
    "postgresql-15": "vendor", "libpq5": "vendor", "libssl3": "vendor", "libpython3.11": "vendor",
    "libgs10": "vendor", "libpoppler126": "vendor", "libxml2": "vendor", "libcurl4": "vendor",
}
ELF_MAGIC, ZIP_MAGIC = b"\x7fELF", b"PK\x03\x04"


def _versions(package: str) -> list[str]:
    """The package's distinct versions in the configured archive, oldest first."""
    out = subprocess.run(["apt-cache", "madison", package], capture_output=True, text=True, check=True).stdout
    versions: list[str] = []
    for line in out.splitlines():
        parts = [p.strip() for p in line.split("|")]
        if len(parts) >= 3 and parts[1] not in versions:
            versions.append(parts[1])

    def older(a: str, b: str) -> bool:
        return subprocess.run(["dpkg", "--compare-versions", a, "lt", b]).returncode == 0

    ordered: list[str] = []
    for v in versions:  # insertion sort with dpkg's comparison: a handful of versions
        i = len(ordered)
        while i and older(v, ordered[i - 1]):
            i -= 1
        ordered.insert(i, v)
    return ordered


def fetch_packages(cache: Path, packages: dict[str, str]) -> dict[str, tuple[Path, Path]]:
    """package → (old extracted tree, new extracted tree); downloads what the cache lacks."""
    debs = cache / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    trees = {}
    for package in packages:
        versions = _versions(package)
        if len(versions) < 2:
            raise SystemExit(f"{package}: the archive holds one version only ({versions}); run apt-get update")
        pair = []
        for label, version in (("old", versions[-2]), ("new", versions[-1])):
            safe = version.replace(":", "%3a")
            target = debs / f"{package}_{label}_{safe}"
            if not target.is_dir():
                with tempfile.TemporaryDirectory(dir=debs) as tmp:
                    print(f"apt-get download {package}={version}", file=sys.stderr)
                    subprocess.run(["apt-get", "download", "-q", f"{package}={version}"], cwd=tmp, check=True,
                                   stdout=subprocess.DEVNULL)
                    deb = next(Path(tmp).glob("*.deb"))
                    subprocess.run(["dpkg-deb", "-x", str(deb), str(Path(tmp) / "root")], check=True)
                    os.replace(Path(tmp) / "root", target)
            pair.append(target)
        trees[package] = (pair[0], pair[1])
    return trees


def payload_files(root: Path, package: str, partition: str) -> dict[tuple[str, str], Path]:
    """(partition, path) → file for every regular ELF or zip file in an extracted package."""
    found = {}
    for path in sorted(root.rglob("*")):
        if path.is_symlink() or not path.is_file():
            continue
        with open(path, "rb") as f:
            head = f.read(4)
        if head not in (ELF_MAGIC, ZIP_MAGIC):
            continue
        rel = path.relative_to(root).as_posix().removeprefix("usr/")
        found[(partition, f"opt/{package}/{rel}")] = path
    return found


def _with_files(base: Path, out: Path, add: dict[tuple[str, str], Path | bytes],
                remove: list[tuple[str, str]] = ()) -> Path:
    tree = RomTree.open(base)
    with tempfile.TemporaryDirectory(prefix="ota-week-", dir=out.parent) as tmp:
        staged = stage(tree, Path(tmp) / "work")
        for partition, path in remove:
            staged.remove(partition, path)
        for (partition, path), source in sorted(add.items()):
            staged.write_file(partition, path, source if isinstance(source, bytes) else source.read_bytes())
        materialize(staged, out)
    return out


def _with_images(rom: Path) -> Path:
    """The target-files' images, built once and kept in its IMAGES/ (so `ota diff` takes them)."""
    tree = RomTree.open(rom)
    partitions = ota_partitions(tree)
    if all((rom / image_name(p)).is_file() for p in partitions):
        return rom
    with tempfile.TemporaryDirectory(prefix="ota-images-", dir=rom.parent) as tmp:
        images = target_images(tree, partitions, Path(tmp))
        (rom / "IMAGES").mkdir(exist_ok=True)
        for name, path in images.items():
            os.replace(path, rom / image_name(name))
    return rom


@dataclass(frozen=True)
class Week:
    name: str
    old: Path  # target-files directories with IMAGES/
    new: Path
    summary: str


def realistic_week(cache: Path, *, files: int, app_mb: int, packages: dict[str, str] = PACKAGES) -> Week:
    trees = fetch_packages(cache, packages)
    tag = f"{files}-{app_mb}-{len(packages)}"
    sample1, sample2 = cache / f"ota-sample1-{files}-{app_mb}", cache / f"ota-sample2-{files}-{app_mb}"
    if not sample1.exists():
        print(f"generating the sample ROM ({files} files) …", file=sys.stderr)
        generate(sample1, files=files, seed=1, large_apk_mb=app_mb)
    if not sample2.exists():
        mutate_week(sample1, sample2, week=2, seed=1, edits=300, adds=40, removes=20, moves=20)
    old_files: dict = {}
    new_files: dict = {}
    for package, partition in packages.items():
        old_files.update(payload_files(trees[package][0], package, partition))
        new_files.update(payload_files(trees[package][1], package, partition))
    old, new = cache / f"ota-real1-{tag}", cache / f"ota-real2-{tag}"
    if not old.exists():
        _with_files(sample1, old, old_files)
    if not new.exists():
        _with_files(sample2, new, new_files)
    changed = sum(1 for k in new_files if k not in old_files or
                  new_files[k].read_bytes() != old_files[k].read_bytes())
    size = sum(p.stat().st_size for p in new_files.values())
    summary = (f"realistic week: sample ROM ({files} files, {app_mb} MB app) + {len(packages)} Debian packages "
               f"in two versions ({len(new_files)} ELF/zip files, {size / 2**20:.0f} MiB, {changed} differ or are new; "
               f"{len(set(old_files) - set(new_files))} paths gone); sample files: 300 edited, 40 added, "
               f"20 removed, 20 moved")
    return Week("realistic", _with_images(old), _with_images(new), summary)


MOVED_LIBRARY = ("vendor", "opt/libssl3/lib/x86_64-linux-gnu/libcrypto.so.3")
MOVED_JAR = ("product", "opt/libreoffice-java-common/lib/libreoffice/program/classes/unoloader.jar")


def moved_week(cache: Path, real: Week, *, app_mb: int) -> Week:
    """Week 1 of the realistic week with content under new paths (and nothing else changed)."""
    new = cache / f"{real.old.name}-moved"
    if not new.exists():
        tree = RomTree.open(real.old)
        add: dict = {("product", "app/Photos/Photos.apk"): large_app_apk(1, app_mb, version=2)}
        remove = [("product", LARGE_APP_PATH)]
        lib = tree.get(*MOVED_LIBRARY)
        if lib is not None:  # moved to another folder under another name, and rebuilt
            remove.append(MOVED_LIBRARY)
            add[("vendor", "lib64/crypto/libcrypto_vendor.so")] = tree.read(*MOVED_LIBRARY)[:-4096] + b"\0" * 4096
        jar = tree.get(*MOVED_JAR)
        if jar is not None:
            remove.append(MOVED_JAR)
            add[("product", "framework/unoloader.jar")] = tree.read(*MOVED_JAR)
        _with_files(real.old, new, add, remove)
        for partition in RomTree.open(new).partitions():  # week 1's filesystem images: built anew
            (new / image_name(partition)).unlink(missing_ok=True)  # (boot, vbmeta, radio images stay)
    summary = ("moved-content week: the large app rebuilt as app/Photos/Photos.apk, libcrypto moved to "
               "lib64/crypto/ under another name (its last block changed), a jar moved to framework/")
    return Week("moved", real.old, _with_images(new), summary)

"""The same sample ROM a week later: the OTA benchmark's and the OTA tests' second version."""

from __future__ import annotations

import io
import random
import re
import shutil
import tempfile
import zipfile
from pathlib import Path

from romforge.elf import write_elf
from romforge.errors import InputError
from romforge.samplerom.apps import LARGE_APP_PATH, large_app_apk
from romforge.samplerom.bootchain import boot_kernel, rebuilt_boot
from romforge.samplerom.plan import BASE_DATE_UTC, BASE_INCREMENTAL, code_bytes, xml_doc
from romforge.tree import FILE, RomTree


def _recompiled(rng: random.Random, data: bytes) -> bytes:
    """What a small source change does to a binary: a few instructions inserted, code after them
    shifted, and the 32-bit offsets pointing across the insertion adjusted. Size and headers stay."""
    if len(data) < 8192:
        body = bytearray(data)
        for _ in range(3):
            at = rng.randrange(len(body) - 4)
            body[at:at + 4] = rng.randbytes(4)
        return bytes(body)
    head, body, tail = data[:4096], bytearray(data[4096:-256]), data[-256:]
    at = rng.randrange(len(body) // 4) * 4
    insert = rng.randbytes(4 * rng.randrange(2, 12))
    body[at:at] = insert
    del body[len(body) - len(insert):]
    shift = len(insert)
    for pos in range(at + len(insert), len(body) - 4, 4):
        if rng.random() < 0.08:
            word = int.from_bytes(body[pos:pos + 4], "little")
            body[pos:pos + 4] = ((word + shift) & 0xFFFFFFFF).to_bytes(4, "little")
    return head + bytes(body) + tail


def _edited_text(rng: random.Random, data: bytes) -> bytes:
    text = data.decode("utf-8", "replace")

    numbers = list(re.finditer(r'value="(\d+)"', text))
    for m in rng.sample(numbers, min(3, len(numbers))):
        text = text[:m.start(1)] + str(rng.randrange(1 << 16)).ljust(len(m.group(1)))[:max(1, len(m.group(1)))] \
            + text[m.end(1):]
    return text.encode()


def mutate_week(base: Path, out: Path, *, week: int = 2, seed: int = 0, edits: int = 300, adds: int = 40,
                removes: int = 20, moves: int = 20, kernel: bool = False) -> Path:
    """The same ROM a week later, as a new target-files directory at `out`: `edits` files changed
    slightly (binaries recompiled, configs retuned, firmware patched), files added, removed and
    moved, the large prebuilt app (if any) rebuilt, and the build stamped with a new incremental
    and a date seven days on; with `kernel`, boot.img gets a recompiled kernel (and vbmeta.img
    is signed again over it). Unchanged files are hardlinks to `base` (never write to either)."""
    from romforge.tree import materialize, stage

    out = Path(out)
    if out.exists():
        raise InputError("already exists; mutate_week never overwrites", file=out)
    rng = random.Random(f"romforge-week-{seed}-{week}")
    tree = RomTree.open(Path(base))
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    try:
        staged = stage(tree, tmp / "work")
        files = [e for e in staged.iter_entries(kind=FILE)
                 if not e.path.endswith(("build.prop", ".apk", ".ttf", ".zip")) and e.path != LARGE_APP_PATH]
        rng.shuffle(files)
        edited, rest = files[:edits], files[edits:]
        for e in edited:
            data = staged.read(e.partition, e.path)
            new = _edited_text(rng, data) if e.path.endswith(".xml") else _recompiled(rng, data)
            staged.write_file(e.partition, e.path, new, e.meta)
        for e in rest[:removes]:
            staged.remove(e.partition, e.path)
        for e in rest[removes:removes + moves]:
            data = staged.read(e.partition, e.path)
            folder, _, name = e.path.rpartition("/")
            staged.remove(e.partition, e.path)
            staged.write_file(e.partition, f"{folder + '/' if folder else ''}moved/{name}", data, e.meta)
        spec_abi = "arm64-v8a"
        for i in range(adds):
            partition = rng.choice(("system", "system", "vendor", "product"))
            if i % 2 == 0:
                name = f"libweek{week}_{i:03d}.so"
                staged.write_file(partition, f"lib64/{name}", write_elf(
                    spec_abi, soname=name, needed=["libc.so", "liblog.so"], symbols=[f"week{week}_{i}"],
                    code=code_bytes(rng, int(min(max(rng.lognormvariate(8.5, 1.2), 512), 1 << 20)))))
            else:
                body = [f'<option name="week{week}.param{j}" value="{rng.randrange(1 << 16)}" />'
                        for j in range(rng.randrange(4, 60))]
                staged.write_file(partition, f"etc/week{week}/config_{i:03d}.xml", xml_doc("config", body))
        if staged.get("product", LARGE_APP_PATH) is not None:

            with zipfile.ZipFile(io.BytesIO(staged.read("product", LARGE_APP_PATH))) as apk:
                size_mb = max(1, round(apk.getinfo("assets/model.tflite").file_size / (700 * 1024)))
            staged.write_file("product", LARGE_APP_PATH, large_app_apk(seed, size_mb, version=week))
        for partition in staged.partitions():
            prop = staged.build_prop(partition)
            if prop is None:
                continue
            for key in list(prop.keys()):
                value = prop.get(key) or ""
                if key.endswith("build.version.incremental"):
                    prop.set(key, f"V1.0.{week}.week")
                elif key.endswith("build.date.utc"):
                    prop.set(key, str(BASE_DATE_UTC + 7 * 86400 * (week - 1)))
                elif key.endswith("build.fingerprint"):
                    prop.set(key, value.replace(BASE_INCREMENTAL, f"V1.0.{week}.week"))
            staged.write_build_prop(partition, prop)
        if kernel and staged.extras.get("IMAGES/boot.img") == FILE:
            images = {name: staged.read_extra(name) or b"" for name in staged.extras if name.startswith("IMAGES/")}
            system = staged.build_prop("system")
            build_fingerprint = (system.get("ro.system.build.fingerprint") if system is not None else None) or ""
            new_kernel = _recompiled(rng, boot_kernel(images["IMAGES/boot.img"]))
            for name, data in rebuilt_boot(images, new_kernel, seed, build_fingerprint).items():
                staged.write_extra(name, data)
        materialize(staged, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out
"""`romforge base import` and `romforge base diff`: stock firmware in, a target-files base out.

The round trip is the proof: a romforge release's ota-full.zip imported, built again with no
overlays, gives the same images byte for byte, and base diff finds nothing. Sparse images are
made by Debian's img2simg, the boot chain by mkbootimg and romforge's AVB writer, ext4 by
mke2fs, so every import reads artifacts real tools wrote."""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
import zipfile
from pathlib import Path

import pytest

from romforge.build import BuildRequest, build
from romforge.workspace import load_workspace

DATE = "2026-11-27"
PLAIN = ('inherits = "common-arm64"\ncodename = "plain"\nmodel = "P1"\noverlays = []\nlocales = []\n\n'
         "[screen]\nwidth = 1080\nheight = 2400\ndensity = 395\n")


@pytest.fixture(scope="module")
def release(tmp_path_factory, sample_rom: Path, ota_test_key: Path) -> tuple[Path, Path]:
    """(workspace, release dir) of a device profile with no overlays and no locale packs."""
    ws = tmp_path_factory.mktemp("base-import") / "ws"
    (ws / "keys").mkdir(parents=True)
    for suffix in (".pk8", ".x509.pem"):
        shutil.copy(f"{ota_test_key}{suffix}", ws / "keys" / f"releasekey{suffix}")
    (ws / "device-profiles").mkdir()
    (ws / "device-profiles/plain.toml").write_text(PLAIN)
    (ws / "romforge.toml").write_text(f'[workspace]\nrom_name = "testrom"\nbase_rom = "{sample_rom}"\n'
                                      'releases = "releases"\n')
    return ws, build(load_workspace(ws), BuildRequest("plain", "1.0", DATE)).release


def _contents(root: Path) -> dict[str, tuple]:
    """Every path under root: kind and bytes or link target (mtimes are not part of a base)."""
    out = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        if path.is_symlink():
            out[rel] = ("link", str(path.readlink()))
        elif path.is_dir():
            out[rel] = ("dir",)
        else:
            out[rel] = ("file", path.read_bytes())
    return out


def test_round_trip_a_release_imported_and_rebuilt_gives_the_same_images(run, release, tmp_path: Path) -> None:
    ws, rel = release
    first = tmp_path / "base1"
    result = run("base", "import", rel / "ota-full.zip", "-o", first, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["kind"] == "ota" and report["partitions"]["system"].startswith("erofs")
    again = build(load_workspace(ws), BuildRequest("plain", "1.0", DATE, base=first, out=tmp_path / "store")).release
    for image in sorted((rel / "images").iterdir()):
        assert (again / "images" / image.name).read_bytes() == image.read_bytes(), image.name
    second = tmp_path / "base2"
    assert run("base", "import", again / "ota-full.zip", "-o", second).exit_code == 0
    diff = run("base", "diff", first, second, "--json")
    assert diff.exit_code == 0, diff.output
    assert json.loads(diff.stdout) == {"old": str(first), "new": str(second), "identical": True, "partitions": []}
    with zipfile.ZipFile(rel / "target-files.zip") as zf:  # labels and owners equal the release's own fs_config
        released = zf.read("META/vendor_filesystem_config.txt").decode().splitlines()
    imported = (first / "META/vendor_filesystem_config.txt").read_text().splitlines()
    assert sorted(imported) == sorted(line for line in released if line.split()[0] != "vendor/lost+found")
    assert "capabilities=0x3000" in "\n".join(imported)  # the bluetooth HAL's capabilities survived


def test_base_diff_names_every_kind_of_change(run, release, tmp_path: Path) -> None:
    _, rel = release
    old, new = tmp_path / "old", tmp_path / "new"
    assert run("base", "import", rel / "ota-full.zip", "-o", old).exit_code == 0
    shutil.copytree(old, new, symlinks=True)
    prop = new / "VENDOR/build.prop"
    prop.write_text(prop.read_text().replace("ro.vendor.build.version.incremental=", "ro.vendor.build.version.incremental=X"))
    (new / "VENDOR/etc/added.txt").write_text("new\n")
    cfg = new / "META/vendor_filesystem_config.txt"
    lines = cfg.read_text().splitlines()
    changed = next(i for i, line in enumerate(lines) if line.startswith("vendor/bin/hw/") and "capabilities=0x3000" in line)
    lines[changed] = lines[changed].replace(" 755 ", " 750 ").replace("capabilities=0x3000", "capabilities=0x0")
    lines.append("vendor/etc/added.txt 0 0 644 selabel=u:object_r:vendor_configs_file:s0 capabilities=0x0")
    cfg.write_text("\n".join(lines) + "\n")
    result = run("base", "diff", old, new, "--json")
    assert result.exit_code == 0, result.output
    (vendor,) = [p for p in json.loads(result.stdout)["partitions"] if p["partition"] == "vendor"]
    assert vendor["added"] == ["/etc/added.txt"] and vendor["removed"] == []
    assert [c["path"] for c in vendor["changed"]] == ["/build.prop"]
    fields = {(m["field"], m["old"], m["new"]) for m in vendor["metadata"]}
    assert fields == {("mode", "755", "750"), ("capabilities", "0x3000", "0x0")}
    assert [k["key"] for k in vendor["build_prop"]] == ["ro.vendor.build.version.incremental"]
    text = run("base", "diff", old, new)
    assert "+ /etc/added.txt" in text.stdout and "mode 755 -> 750" in text.stdout


def test_a_folder_of_sparse_images_imports_as_the_raw_images_do(run, release, tmp_path: Path) -> None:
    _, rel = release
    raw, sparse = tmp_path / "raw", tmp_path / "sparse"
    shutil.copytree(rel / "images", raw)
    sparse.mkdir()
    for image in sorted(raw.iterdir()):
        subprocess.run(["img2simg", str(image), str(sparse / image.name)], check=True)
        assert (sparse / image.name).read_bytes()[:4] == struct.pack("<I", 0xED26FF3A)
    assert run("base", "import", raw, "-o", tmp_path / "from-raw").exit_code == 0
    result = run("base", "import", sparse, "-o", tmp_path / "from-sparse")
    assert result.exit_code == 0, result.output
    a, b = _contents(tmp_path / "from-raw"), _contents(tmp_path / "from-sparse")
    assert a.keys() == b.keys()
    assert {k: v for k, v in a.items() if k != "META/import_report.json"} == \
        {k: v for k, v in b.items() if k != "META/import_report.json"}
    with zipfile.ZipFile(rel / "target-files.zip") as zf:
        assert a["SYSTEM/build.prop"] == ("file", zf.read("SYSTEM/build.prop"))


def test_import_is_reproducible(run, release, tmp_path: Path) -> None:
    _, rel = release
    for name in ("one", "two"):
        assert run("base", "import", rel / "ota-full.zip", "-o", tmp_path / name).exit_code == 0
    assert _contents(tmp_path / "one") == _contents(tmp_path / "two")

from __future__ import annotations

import io
import subprocess
import zipfile
from pathlib import Path

import pytest
from PIL import Image

from romforge.elf import read_elf
from romforge.errors import InputError
from romforge.profile import DEFAULT_PROFILE_DIR, load_profile
from romforge.samplerom import SampleSpec, generate
from romforge.tree import RomTree


def test_sample_rom_apks_are_real_and_signed(sample_rom: Path) -> None:
    apks = sorted(sample_rom.rglob("*.apk"))
    assert len(apks) >= 7
    for apk in apks:
        verify = subprocess.run(["apksigner", "verify", str(apk)], capture_output=True, text=True)
        assert verify.returncode == 0, f"{apk}: {verify.stdout}{verify.stderr}"
    badging = subprocess.run(["aapt2", "dump", "badging", str(sample_rom / "PRODUCT/priv-app/Dialer/Dialer.apk")],
                             capture_output=True, text=True, check=True).stdout
    assert "package: name='com.android.dialer'" in badging
    assert "application-label:'Phone'" in badging


def test_sample_rom_elf_graph_is_consistent(sample_rom: Path) -> None:
    tree = RomTree.open(sample_rom)
    sonames = {}
    for e in tree.iter_entries("system", "file"):
        if e.path.startswith("lib64/"):
            facts = read_elf(tree.read("system", e.path))
            assert facts.machine_name == "AArch64" and facts.elf_class == 64
            sonames[facts.soname] = facts.needed
    assert "libc.so" in sonames
    for needs in sonames.values():
        assert set(needs) <= set(sonames), "every system lib's DT_NEEDED is a system lib"
    lib32 = read_elf(tree.read("system", "lib/libc.so"))
    assert lib32.machine_name == "ARM" and lib32.elf_class == 32


def test_sample_rom_for_a_32bit_16k_devices(tmp_path: Path, apk_cache) -> None:
    rosy = SampleSpec.from_profile(load_profile("rosy", [DEFAULT_PROFILE_DIR]))
    tree = RomTree.open(generate(tmp_path / "rosy", spec=rosy, files=60, seed=1, apk_cache=apk_cache))
    assert tree.get("system", "lib64") is None
    facts = read_elf(tree.read("system", "bin/app_process32"))
    assert facts.machine_name == "ARM" and facts.is_executable
    dada = SampleSpec.from_profile(load_profile("dada", [DEFAULT_PROFILE_DIR]))
    tree = RomTree.open(generate(tmp_path / "dada", spec=dada, files=60, seed=1, apk_cache=apk_cache))
    assert tree.get("system", "lib") is None
    assert set(read_elf(tree.read("system", "lib64/libc.so")).load_aligns) == {16384}
    anim = zipfile.ZipFile(io.BytesIO(tree.read("product", "media/bootanimation.zip")))
    assert anim.read("desc.txt").decode().splitlines()[0] == "1200 2670 30"


def test_sample_bootanimation_is_stored_with_desc_first(sample_rom: Path) -> None:
    with zipfile.ZipFile(sample_rom / "PRODUCT/media/bootanimation.zip") as zf:
        infos = zf.infolist()
        assert infos[0].filename == "desc.txt"
        assert all(i.compress_type == zipfile.ZIP_STORED for i in infos)
        desc = zf.read("desc.txt").decode().splitlines()
        width, height, fps = map(int, desc[0].split())
        assert (width, height) == (1080, 2400)
        parts = [line.split() for line in desc[1:]]
        assert [p[3] for p in parts] == ["part0", "part1"]
        for part in parts:
            frames = [i for i in infos if i.filename.startswith(part[3] + "/")]
            assert frames
            for frame in frames:
                img = Image.open(io.BytesIO(zf.read(frame)))
                assert img.format == "PNG" and img.size == (width, height)


def test_files_count_is_exact_and_seed_is_deterministic(tmp_path: Path, apk_cache) -> None:
    a = RomTree.open(generate(tmp_path / "a", files=150, seed=3, apk_cache=apk_cache))
    b = RomTree.open(generate(tmp_path / "b", files=150, seed=3))
    c = RomTree.open(generate(tmp_path / "c", files=150, seed=4, apk_cache=apk_cache))
    files = [e for e in a.iter_entries(kind="file")]
    assert len(files) == 150
    assert a.content_digest() == b.content_digest()
    assert a.content_digest() != c.content_digest()


def test_zip_output_and_refusal_to_overwrite(tmp_path: Path, apk_cache) -> None:
    out = generate(tmp_path / "rom.zip", files=40, seed=2, apk_cache=apk_cache)
    assert zipfile.is_zipfile(out)
    assert RomTree.open(out).get("system", "build.prop") is not None
    with pytest.raises(InputError) as err:
        generate(out, files=40)
    assert "already exists" in err.value.message
    assert [p.name for p in tmp_path.iterdir()] == ["rom.zip"]  # no temp leftovers


def test_cli_sample_rom(run, tmp_path: Path) -> None:
    result = run("sample-rom", tmp_path / "out" / "rom", "--device", "cepheus", "--files", "50", "--seed", "5",
                 cwd=tmp_path)
    assert result.exit_code == 0, result.output
    assert "out/rom" in result.output
    prop = RomTree.open(tmp_path / "out/rom").build_prop("system")
    assert prop.get("ro.product.system.device") == "cepheus"
    assert prop.get("ro.product.cpu.abilist") == "arm64-v8a,armeabi-v7a,armeabi"

"""ELF checks over a whole tree: machine/class, DT_NEEDED closure per partition, LOAD alignment."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import files_under
from overlaykit import DATE, device, write_overlay
from romforge.elf import check_elf_tree, write_elf
from romforge.samplerom import SampleSpec, generate
from romforge.tree import RomTree, stage

CEPHEUS_ABIS = ("arm64-v8a", "armeabi-v7a", "armeabi")


@pytest.fixture(scope="module")
def rom16k(tmp_path_factory: pytest.TempPathFactory, apk_cache) -> Path:
    """A 64-bit-only base ROM linked for 16 KB pages, as dada needs."""
    spec = SampleSpec(device="dada", abis=("arm64-v8a",), page_size=16384)
    return generate(tmp_path_factory.mktemp("rom16k") / "rom", spec=spec, files=120, seed=3, apk_cache=apk_cache)


def _rules(findings) -> list[tuple[str, str]]:
    return sorted((f.file, f.rule) for f in findings)


def test_clean_trees_pass(sample_rom: Path, rom16k: Path) -> None:
    assert check_elf_tree(RomTree.open(sample_rom), CEPHEUS_ABIS, 4096) == []
    assert check_elf_tree(RomTree.open(rom16k), ("arm64-v8a",), 16384) == []


def test_each_problem_is_caught_and_attributed(rom16k: Path, tmp_path: Path) -> None:
    tree = stage(RomTree.open(rom16k), tmp_path / "work")
    arm64 = dict(load_align=16384)
    tree.write_file("system", "lib64/libx86.so", write_elf("x86_64", soname="libx86.so", needed=["libc.so"],
                                                           load_align=16384))
    tree.write_file("system", "lib64/libfour.so", write_elf("arm64-v8a", soname="libfour.so", needed=["libc.so"],
                                                            load_align=4096))
    tree.write_file("system", "lib64/libneeds.so", write_elf("arm64-v8a", soname="libneeds.so",
                                                             needed=["libc.so", "libnothere.so"], **arm64))
    tree.write_file("system_ext", "bin/qti-tool", write_elf("arm64-v8a", executable=True,
                                                            needed=["libc.so", "libqmi_cci.so"], **arm64))
    tree.write_file("vendor", "lib64/libvendor_ok.so", write_elf("arm64-v8a", soname="libvendor_ok.so",
                                                                 needed=["libc.so", "liblog.so", "libqmi_cci.so"],
                                                                 **arm64))
    tree.write_file("vendor", "lib64/libvendor_bad.so", write_elf("arm64-v8a", soname="libvendor_bad.so",
                                                                  needed=["libc.so", "libgui.so"], **arm64))
    origins = {("system", "lib64/libx86.so"): "x86-blobs", ("system", "lib64/libfour.so"): "old-blob"}
    findings = check_elf_tree(tree, ("arm64-v8a",), 16384, origins=origins, device="dada")
    assert _rules(findings) == [
        ("system/lib64/libfour.so", "elf-load-align"),
        ("system/lib64/libneeds.so", "elf-needed-missing"),
        ("system/lib64/libx86.so", "elf-machine"),
        ("system_ext/bin/qti-tool", "elf-needs-vendor"),
        ("vendor/lib64/libvendor_bad.so", "elf-needs-system"),
    ]
    text = {f.file: f.message for f in findings}
    assert text["system/lib64/libx86.so"] == "64-bit x86-64 code, but dada runs arm64-v8a (added by overlay 'x86-blobs')"
    assert "PT_LOAD aligned to 4096 bytes; dada uses 16384-byte pages" in text["system/lib64/libfour.so"]
    assert "(added by overlay 'old-blob')" in text["system/lib64/libfour.so"]
    assert "needs libnothere.so" in text["system/lib64/libneeds.so"]
    assert "needs libqmi_cci.so, which only /vendor/lib64 has" in text["system_ext/bin/qti-tool"]
    assert "(from the base ROM)" in text["system_ext/bin/qti-tool"]
    assert all(f.severity == "error" for f in findings)


def test_removing_a_needed_library_names_the_overlay(sample_rom: Path, tmp_path: Path) -> None:
    tree = stage(RomTree.open(sample_rom), tmp_path / "work")
    tree.remove("system", "lib64/libz.so")
    findings = check_elf_tree(tree, CEPHEUS_ABIS, 4096, removed={("system", "lib64/libz.so"): "debloat"})
    assert findings and all(f.rule == "elf-needed-missing" for f in findings)
    assert "system/bin/toybox" in {f.file for f in findings}
    assert all("needs libz.so" in f.message and "overlay 'debloat' removed it" in f.message
               for f in findings if f.file != "(tree)")


def test_32bit_library_in_lib64_and_wrong_class_for_device(sample_rom: Path, tmp_path: Path) -> None:
    tree = stage(RomTree.open(sample_rom), tmp_path / "work")
    tree.write_file("product", "lib64/libarm32.so", write_elf("armeabi-v7a", soname="libarm32.so", needed=["libc.so"]))
    findings = check_elf_tree(tree, CEPHEUS_ABIS, 4096)
    assert _rules(findings) == [("product/lib64/libarm32.so", "elf-class")]
    # a 32-bit-only device refuses every 64-bit object of the generic base, with a bounded report
    rosy = check_elf_tree(RomTree.open(sample_rom), ("armeabi-v7a", "armeabi"), 4096, device="rosy")
    machine = [f for f in rosy if f.rule == "elf-machine"]
    assert len(machine) == 26 and machine[-1].file == "(tree)" and "more elf-machine" in machine[-1].message


def test_build_fails_check_naming_the_overlay_and_releases_nothing(run, workspace: Path) -> None:
    write_overlay(workspace, "x86-blob", '''
        name = "x86-blob"
        version = "1"
        [[files]]
        partition = "vendor"
        path = "lib64/libcamera_x86.so"
        source = "files/libcamera_x86.so"
        ''', {"files/libcamera_x86.so": write_elf("x86_64", soname="libcamera_x86.so", needed=["libc.so"])})
    result = run("build", device(workspace, ["x86-blob"]), "--version", "1", "--date", DATE, cwd=workspace)
    assert result.exit_code == 3, result.output
    assert ("vendor/lib64/libcamera_x86.so: error: 64-bit x86-64 code, but testdev runs arm64-v8a, armeabi-v7a, "
            "armeabi (added by overlay 'x86-blob') [elf-machine]") in result.output
    assert files_under(workspace / "releases/testdev") == []


def test_16k_device_from_the_4k_generic_base_fails_the_check(run, workspace: Path) -> None:
    result = run("build", "dada", "--version", "1", "--date", DATE, cwd=workspace)
    assert result.exit_code == 3, result.output
    assert "[elf-load-align]" in result.output and "dada uses 16384-byte pages" in result.output
    assert "32-bit ARM code, but dada runs arm64-v8a" in result.output
    assert files_under(workspace / "releases/dada") == []

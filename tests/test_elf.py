from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from romforge.elf import read_elf, write_elf
from romforge.errors import InputError

READELF_MACHINE = {"arm64-v8a": "AArch64", "armeabi-v7a": "ARM", "x86_64": "Advanced Micro Devices X86-64",
                   "x86": "Intel 80386", "riscv64": "RISC-V"}


@pytest.mark.parametrize("abi", sorted(READELF_MACHINE))
@pytest.mark.parametrize("executable", [False, True])
def test_written_elf_reads_back_with_binutils_readelf(tmp_path: Path, abi: str, executable: bool) -> None:
    data = write_elf(abi, soname=None if executable else "libfoo.so", needed=["libc.so", "liblog.so"],
                     symbols=["foo_init"], executable=executable, load_align=16384, code=b"\x90" * 300)
    path = tmp_path / "obj"
    path.write_bytes(data)
    out = subprocess.run(["readelf", "-W", "-h", "-l", "-d", "--dyn-syms", str(path)], capture_output=True,
                         text=True, check=True)
    assert out.stderr == ""  # readelf warns about any malformed structure
    assert READELF_MACHINE[abi] in out.stdout
    assert "Shared library: [libc.so]" in out.stdout and "Shared library: [liblog.so]" in out.stdout
    assert ("Library soname: [libfoo.so]" in out.stdout) != executable
    assert ("Requesting program interpreter" in out.stdout) == executable
    loads = [line.split() for line in out.stdout.splitlines() if line.strip().startswith("LOAD")]
    assert len(loads) == 2 and all(fields[-1] == "0x4000" for fields in loads)
    assert "foo_init" in out.stdout
    facts = read_elf(data)
    assert facts.needed == ("libc.so", "liblog.so")
    assert facts.soname == (None if executable else "libfoo.so")
    assert facts.load_aligns == (16384, 16384)
    assert facts.elf_class == (64 if abi in ("arm64-v8a", "x86_64", "riscv64") else 32)
    assert facts.is_executable == executable
    for offset, vaddr in facts.load_offsets:  # the loader needs p_offset ≡ p_vaddr (mod p_align)
        assert offset % 16384 == vaddr % 16384


def test_read_elf_rejects_garbage() -> None:
    with pytest.raises(InputError):
        read_elf(b"\x7fELF" + b"\xff" * 40, source="lib/bad.so")

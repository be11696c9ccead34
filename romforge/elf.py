"""ELF: the facts romforge checks (read with pyelftools) and small real ELF files (written here).

The writer makes position-independent shared objects and executables with PT_LOAD,
PT_DYNAMIC, .dynsym/.dynstr/.hash and DT_NEEDED/DT_SONAME — enough for the dynamic
linker's bookkeeping, readelf and pyelftools, so the sample ROM and tests need no cross
compiler.
"""

from __future__ import annotations

import hashlib
import io
import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterator, Mapping

from elftools.common.exceptions import ELFError
from elftools.elf.dynamic import DynamicSection
from elftools.elf.elffile import ELFFile

from romforge.errors import Finding, InputError

if TYPE_CHECKING:
    from romforge.tree import Entry, RomTree

# ABI → (e_machine, ELF class, e_flags, linker path)
ABI_MACHINE = {
    "arm64-v8a": (183, 64, 0, "/system/bin/linker64"),
    "armeabi-v7a": (40, 32, 0x05000200, "/system/bin/linker"),
    "armeabi": (40, 32, 0x05000200, "/system/bin/linker"),
    "x86_64": (62, 64, 0, "/system/bin/linker64"),
    "x86": (3, 32, 0, "/system/bin/linker"),
    "riscv64": (243, 64, 0x5, "/system/bin/linker64"),
}
MACHINE_NAMES = {183: "AArch64", 40: "ARM", 62: "x86-64", 3: "x86", 243: "RISC-V"}

PT_LOAD, PT_DYNAMIC, PT_INTERP, PT_PHDR, PT_GNU_STACK = 1, 2, 3, 6, 0x6474E551
DT_NULL, DT_NEEDED, DT_HASH, DT_STRTAB, DT_SYMTAB, DT_STRSZ, DT_SYMENT, DT_SONAME = 0, 1, 4, 5, 6, 10, 11, 14
DT_FLAGS_1, DF_1_PIE = 0x6FFFFFFB, 0x08000000
SHT_PROGBITS, SHT_STRTAB, SHT_DYNAMIC, SHT_HASH, SHT_DYNSYM = 1, 3, 6, 5, 11
SHF_WRITE, SHF_ALLOC, SHF_EXECINSTR = 1, 2, 4


def _align(value: int, to: int) -> int:
    return (value + to - 1) // to * to


def write_elf(
    abi: str,
    *,
    soname: str | None = None,
    needed: tuple[str, ...] | list[str] = (),
    symbols: tuple[str, ...] | list[str] = (),
    executable: bool = False,
    load_align: int = 4096,
    code: bytes = b"",
) -> bytes:
    """A PIE shared object (or executable) for `abi` with the given dynamic section."""
    if abi not in ABI_MACHINE:
        raise ValueError(f"unknown ABI {abi!r}")
    machine, bits, flags, linker = ABI_MACHINE[abi]
    is64 = bits == 64
    word = "Q" if is64 else "I"
    ehsize, phentsize, shentsize = (64, 56, 64) if is64 else (52, 32, 40)
    symentsize = 24 if is64 else 16
    dynentsize = 16 if is64 else 8

    # string table: index 0 is the empty string
    dynstr = bytearray(b"\0")
    offsets: dict[str, int] = {}

    def add_str(s: str) -> int:
        if s not in offsets:
            offsets[s] = len(dynstr)
            dynstr.extend(s.encode() + b"\0")
        return offsets[s]

    needed_offs = [add_str(n) for n in needed]
    soname_off = add_str(soname) if soname else None
    sym_names = [add_str(s) for s in symbols]

    phdrs = [PT_PHDR, PT_LOAD, PT_LOAD, PT_DYNAMIC, PT_GNU_STACK]
    if executable:
        phdrs.insert(1, PT_INTERP)
    interp = (linker.encode() + b"\0") if executable else b""

    # --- layout of the read-only/executable segment (offset == vaddr) ---
    off = ehsize + phentsize * len(phdrs)
    interp_off = off
    off += len(interp)
    off = _align(off, 8)
    dynsym_off = off
    nsyms = 1 + len(symbols)
    off += symentsize * nsyms
    off = _align(off, 4)
    hash_off = off
    # SysV hash with one bucket: bucket[0] → symbol 1 → 2 → … → 0; lookups walk the chain
    chain = [0] + [i + 1 if i + 1 < nsyms else 0 for i in range(1, nsyms)]
    hash_words = [1, nsyms, 1 if nsyms > 1 else 0] + chain
    off += 4 * len(hash_words)
    dynstr_off = off
    off += len(dynstr)
    off = _align(off, 16)
    text_off = off
    text = code or b"\x00" * 16
    off += len(text)
    seg1_end = off

    # --- writable segment: .dynamic, congruent to its offset modulo the alignment ---
    dyn_off = _align(seg1_end, 8)
    dyn_vaddr = _align(seg1_end, load_align) + (dyn_off % load_align)
    dyn_entries: list[tuple[int, int]] = [(DT_NEEDED, o) for o in needed_offs]
    if soname_off is not None:
        dyn_entries.append((DT_SONAME, soname_off))
    dyn_entries += [(DT_HASH, hash_off), (DT_STRTAB, dynstr_off), (DT_SYMTAB, dynsym_off),
                    (DT_STRSZ, len(dynstr)), (DT_SYMENT, symentsize)]
    if executable:
        dyn_entries.append((DT_FLAGS_1, DF_1_PIE))
    dyn_entries.append((DT_NULL, 0))
    dynamic = b"".join(struct.pack(f"<{'q' if is64 else 'i'}{word}", tag, val) for tag, val in dyn_entries)
    seg2_end = dyn_off + len(dynamic)

    # --- section names and headers ---
    shstr = bytearray(b"\0")
    names: dict[str, int] = {}
    for n in (".interp", ".dynsym", ".hash", ".dynstr", ".text", ".dynamic", ".shstrtab"):
        names[n] = len(shstr)
        shstr.extend(n.encode() + b"\0")
    shstr_off = seg2_end
    sh_off = _align(shstr_off + len(shstr), 8)

    buf = io.BytesIO()

    def at(offset: int, data: bytes) -> None:
        buf.seek(offset)
        buf.write(data)

    # symbols: null + global functions in .text
    text_index = 5 if executable else 4
    syms = [b"\0" * symentsize]
    for name_off in sym_names:
        if is64:
            syms.append(struct.pack("<IBBHQQ", name_off, 0x12, 0, text_index, text_off, 4))
        else:
            syms.append(struct.pack("<IIIBBH", name_off, text_off, 4, 0x12, 0, text_index))
    at(dynsym_off, b"".join(syms))
    at(hash_off, struct.pack(f"<{len(hash_words)}I", *hash_words))
    at(dynstr_off, bytes(dynstr))
    at(text_off, text)
    if interp:
        at(interp_off, interp)
    at(dyn_off, dynamic)
    at(shstr_off, bytes(shstr))

    # program headers
    ph = []
    for kind in phdrs:
        if kind == PT_PHDR:
            v = (PT_PHDR, 4, ehsize, ehsize, phentsize * len(phdrs), phentsize * len(phdrs), 8)
        elif kind == PT_INTERP:
            v = (PT_INTERP, 4, interp_off, interp_off, len(interp), len(interp), 1)
        elif kind == PT_LOAD and not any(p[0] == PT_LOAD for p in ph):
            v = (PT_LOAD, 5, 0, 0, seg1_end, seg1_end, load_align)
        elif kind == PT_LOAD:
            v = (PT_LOAD, 6, dyn_off, dyn_vaddr, len(dynamic), len(dynamic), load_align)
        elif kind == PT_DYNAMIC:
            v = (PT_DYNAMIC, 6, dyn_off, dyn_vaddr, len(dynamic), len(dynamic), 8)
        else:
            v = (PT_GNU_STACK, 6, 0, 0, 0, 0, 16)
        ph.append(v)
    packed = []
    for ptype, pflags, poff, vaddr, filesz, memsz, align in ph:
        if is64:
            packed.append(struct.pack("<IIQQQQQQ", ptype, pflags, poff, vaddr, vaddr, filesz, memsz, align))
        else:
            packed.append(struct.pack("<IIIIIIII", ptype, poff, vaddr, vaddr, filesz, memsz, pflags, align))
    at(ehsize, b"".join(packed))

    # section headers
    sections = [(0, 0, 0, 0, 0, 0, 0, 0, 0, 0)]
    if executable:
        sections.append((names[".interp"], SHT_PROGBITS, SHF_ALLOC, interp_off, interp_off, len(interp), 0, 0, 1, 0))
    dynstr_index = len(sections) + 2
    dynsym_index = len(sections)
    sections += [
        (names[".dynsym"], SHT_DYNSYM, SHF_ALLOC, dynsym_off, dynsym_off, symentsize * nsyms, dynstr_index, 1, 8,
         symentsize),
        (names[".hash"], SHT_HASH, SHF_ALLOC, hash_off, hash_off, 4 * len(hash_words), dynsym_index, 0, 4, 4),
        (names[".dynstr"], SHT_STRTAB, SHF_ALLOC, dynstr_off, dynstr_off, len(dynstr), 0, 0, 1, 0),
        (names[".text"], SHT_PROGBITS, SHF_ALLOC | SHF_EXECINSTR, text_off, text_off, len(text), 0, 0, 16, 0),
        (names[".dynamic"], SHT_DYNAMIC, SHF_ALLOC | SHF_WRITE, dyn_vaddr, dyn_off, len(dynamic), dynstr_index, 0,
         8, dynentsize),
        (names[".shstrtab"], SHT_STRTAB, 0, 0, shstr_off, len(shstr), 0, 0, 1, 0),
    ]
    sh = []
    for name, stype, sflags, addr, soff, size, link, info, align, entsize in sections:
        if is64:
            sh.append(struct.pack("<IIQQQQIIQQ", name, stype, sflags, addr, soff, size, link, info, align, entsize))
        else:
            sh.append(struct.pack("<IIIIIIIIII", name, stype, sflags, addr, soff, size, link, info, align, entsize))
    at(sh_off, b"".join(sh))

    entry = text_off if executable else 0
    ident = b"\x7fELF" + bytes([2 if is64 else 1, 1, 1, 0]) + b"\0" * 8
    if is64:
        header = ident + struct.pack("<HHIQQQIHHHHHH", 3, machine, 1, entry, ehsize, sh_off, flags, ehsize,
                                     phentsize, len(phdrs), shentsize, len(sections), len(sections) - 1)
    else:
        header = ident + struct.pack("<HHIIIIIHHHHHH", 3, machine, 1, entry, ehsize, sh_off, flags, ehsize,
                                     phentsize, len(phdrs), shentsize, len(sections), len(sections) - 1)
    at(0, header)
    return buf.getvalue()


@dataclass(frozen=True)
class ElfFacts:
    machine: int
    machine_name: str
    elf_class: int  # 32 or 64
    is_executable: bool  # has PT_INTERP
    soname: str | None
    needed: tuple[str, ...]
    load_aligns: tuple[int, ...]
    load_offsets: tuple[tuple[int, int], ...]  # (p_offset, p_vaddr) per PT_LOAD

    def to_json(self) -> dict:
        return {"machine": self.machine, "machine_name": self.machine_name, "elf_class": self.elf_class,
                "is_executable": self.is_executable, "soname": self.soname, "needed": list(self.needed),
                "load_aligns": list(self.load_aligns), "load_offsets": [list(x) for x in self.load_offsets]}

    @classmethod
    def from_json(cls, data: dict) -> "ElfFacts":
        return cls(data["machine"], data["machine_name"], data["elf_class"], data["is_executable"], data["soname"],
                   tuple(data["needed"]), tuple(data["load_aligns"]),
                   tuple((a, b) for a, b in data["load_offsets"]))


def is_elf(head: bytes) -> bool:
    return head[:4] == b"\x7fELF"


def read_elf(data: bytes, *, source: str = "ELF") -> ElfFacts:
    """Machine, class, DT_NEEDED, SONAME and PT_LOAD alignment of an ELF file."""
    try:
        elf = ELFFile(io.BytesIO(data))
        machine = elf.header["e_machine"]
        code = machine if isinstance(machine, int) else _machine_code(machine)
        needed: list[str] = []
        soname = None
        aligns, offsets = [], []
        interp = False
        for seg in elf.iter_segments():
            if seg["p_type"] == "PT_LOAD":
                aligns.append(seg["p_align"])
                offsets.append((seg["p_offset"], seg["p_vaddr"]))
            elif seg["p_type"] == "PT_INTERP":
                interp = True
        for section in elf.iter_sections():
            if isinstance(section, DynamicSection):
                for tag in section.iter_tags():
                    if tag.entry.d_tag == "DT_NEEDED":
                        needed.append(tag.needed)
                    elif tag.entry.d_tag == "DT_SONAME":
                        soname = tag.soname
        return ElfFacts(code, MACHINE_NAMES.get(code, str(machine)), elf.elfclass, interp, soname,
                        tuple(needed), tuple(aligns), tuple(offsets))
    except (ELFError, struct.error, ValueError, KeyError) as exc:
        raise InputError(f"not a readable ELF file: {exc}", file=source) from None


_EM_BY_NAME = {"EM_AARCH64": 183, "EM_ARM": 40, "EM_X86_64": 62, "EM_386": 3, "EM_RISCV": 243}


def _machine_code(name: str) -> int:
    return _EM_BY_NAME.get(name, -1)


# ---- checks over a whole ROM tree ------------------------------------------------------

# Partitions that load from each other's library directories (the linker's namespaces):
# system-side code may not need vendor libraries, vendor-side code sees the LLNDK of system.
SYSTEM_SIDE = ("system", "system_ext", "product")
VENDOR_SIDE = ("vendor", "odm")
LLNDK = frozenset({
    "libc.so", "libm.so", "libdl.so", "liblog.so", "libbinder_ndk.so", "libEGL.so", "libGLESv1_CM.so",
    "libGLESv2.so", "libGLESv3.so", "libandroid_net.so", "libcgrouprc.so", "libmediandk.so", "libnativewindow.so",
    "libneuralnetworks.so", "libselinux.so", "libsync.so", "libvndksupport.so", "libvulkan.so", "libft2.so",
    "libdl_android.so", "libclang_rt.asan.so",
})
_CODE_DIRS = ("bin", "xbin", "lib", "lib64")
_NOT_CPU_CODE = ("lib/rfsa/", "lib64/rfsa/")  # Hexagon DSP libraries the CPU never loads
MAX_FINDINGS_PER_RULE = 25


def _abi_targets(abis: tuple[str, ...]) -> set[tuple[int, int]]:
    return {(ABI_MACHINE[a][0], ABI_MACHINE[a][1]) for a in abis if a in ABI_MACHINE}


def _is_code(path: str) -> bool:
    return path.split("/", 1)[0] in _CODE_DIRS and not path.startswith(_NOT_CPU_CODE)


def _lib_dir(bits: int) -> str:
    return "lib64" if bits == 64 else "lib"


def _code_elves(tree: "RomTree") -> Iterator[tuple["Entry", bytes]]:
    """(entry, bytes) of every ELF file where the linker looks for code."""
    for entry in tree.iter_entries(kind="file"):
        if not _is_code(entry.path):
            continue
        with tree.open_file(entry.partition, entry.path) as f:
            head = f.read(4)
            if not is_elf(head):
                continue
            yield entry, head + f.read()


def read_base_facts(tree: "RomTree") -> dict[bytes, ElfFacts]:
    """Facts of every readable code ELF of a base ROM, by the SHA-256 of its bytes: the devices of a
    run share most of their libraries with the base, and parsing is most of the check's time."""
    known: dict[bytes, ElfFacts] = {}
    for entry, data in _code_elves(tree):
        try:
            known[hashlib.sha256(data).digest()] = read_elf(data, source=entry.fs_config_path)
        except InputError:
            continue  # reported by the check, which reads it again
    return known


def check_elf_tree(tree: "RomTree", abis: tuple[str, ...], page_size: int, *,
                   origins: dict[tuple[str, str], str] | None = None,
                   removed: dict[tuple[str, str], str] | None = None, device: str = "device",
                   known: Mapping[bytes, ElfFacts] | None = None) -> list[Finding]:
    """Machine/class vs the device's ABIs, DT_NEEDED resolvable per partition (no system→vendor
    dependencies), PT_LOAD alignment vs the page size — over every ELF the linker may load.

    Each finding says whether the file came from the base ROM or which overlay added it; `known`
    holds facts already read (by content digest), e.g. those of the base ROM."""
    known = known or {}
    origins = origins or {}
    removed = removed or {}
    allowed = _abi_targets(abis)
    allowed_text = ", ".join(abis)
    facts: dict[tuple[str, str], ElfFacts] = {}
    findings: list[Finding] = []

    def where(partition: str, path: str) -> str:
        overlay = origins.get((partition, path))
        return f"added by overlay '{overlay}'" if overlay else "from the base ROM"

    def add(rule: str, partition: str, path: str, message: str) -> None:
        findings.append(Finding(f"{partition}/{path}", None, rule, "error", f"{message} ({where(partition, path)})"))

    for entry, data in _code_elves(tree):
        try:
            found = known.get(hashlib.sha256(data).digest())
            facts[(entry.partition, entry.path)] = found or read_elf(data, source=entry.fs_config_path)
        except InputError as exc:
            add("elf-unreadable", entry.partition, entry.path, exc.message)
    # what each directory offers the linker: file name → ELF class
    provided: dict[tuple[str, str], dict[str, int]] = {}
    for (partition, path), elf in facts.items():
        directory, _, name = path.rpartition("/")
        provided.setdefault((partition, directory), {})[name] = elf.elf_class
    for entry in tree.iter_entries(kind="symlink"):
        directory, _, name = entry.path.rpartition("/")
        if directory in ("lib", "lib64"):
            provided.setdefault((entry.partition, directory), {}).setdefault(name, 64 if directory == "lib64" else 32)
    removed_names = {path.rpartition("/")[2]: overlay for (_, path), overlay in removed.items()}

    for (partition, path), elf in sorted(facts.items()):
        if (elf.machine, elf.elf_class) not in allowed:
            add("elf-machine", partition, path, f"{elf.elf_class}-bit {elf.machine_name} code, but {device} runs "
                                                f"{allowed_text}")
        top = path.split("/", 1)[0]
        if top in ("lib", "lib64") and _lib_dir(elf.elf_class) != top:
            add("elf-class", partition, path, f"{elf.elf_class}-bit library in {top}/")
        small = sorted({a for a in elf.load_aligns if a < page_size or a % page_size})
        if small:
            add("elf-load-align", partition, path, f"PT_LOAD aligned to {', '.join(map(str, small))} bytes; "
                                                   f"{device} uses {page_size}-byte pages (relink with "
                                                   f"-Wl,-z,max-page-size={page_size})")
        side = VENDOR_SIDE if partition in VENDOR_SIDE else SYSTEM_SIDE
        libdir = _lib_dir(elf.elf_class)
        for needed in elf.needed:
            if any(provided.get((p, libdir), {}).get(needed) == elf.elf_class for p in side):
                continue
            if side == VENDOR_SIDE and needed in LLNDK and provided.get(("system", libdir), {}).get(needed):
                continue
            on_vendor = [p for p in VENDOR_SIDE if needed in provided.get((p, libdir), {})]
            if side == SYSTEM_SIDE and on_vendor:
                add("elf-needs-vendor", partition, path, f"needs {needed}, which only /{on_vendor[0]}/{libdir} has; "
                                                         "system code may not load vendor libraries")
            elif side == VENDOR_SIDE and any(needed in provided.get((p, libdir), {}) for p in SYSTEM_SIDE):
                add("elf-needs-system", partition, path, f"needs {needed} from the system side, which is not in the "
                                                         "LLNDK vendor code may use")
            else:
                gone = removed_names.get(needed)
                cause = f"; overlay '{gone}' removed it" if gone else ""
                add("elf-needed-missing", partition, path, f"needs {needed}, which no {libdir}/ directory of "
                                                           f"{'/'.join(side)} provides{cause}")
    return _cap(findings)


def _cap(findings: list[Finding]) -> list[Finding]:
    """At most MAX_FINDINGS_PER_RULE per rule, then one line saying how many more there are."""
    kept, counts = [], {}
    for f in findings:
        counts[f.rule] = counts.get(f.rule, 0) + 1
        if counts[f.rule] <= MAX_FINDINGS_PER_RULE:
            kept.append(f)
    for rule, count in sorted(counts.items()):
        if count > MAX_FINDINGS_PER_RULE:
            kept.append(Finding("(tree)", None, rule, "error",
                                     f"{count - MAX_FINDINGS_PER_RULE} more {rule} problem(s) like the ones above"))
    return kept

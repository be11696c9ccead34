"""Locale packs: `locales/<locale>/pack.toml` + `res/<package>/values-<qualifier>/*.xml` (+ keypad.toml, t9/).

Packs come from translators outside the team, as a folder or a zip, so every path is
checked (no symlinks, no '..', size limits) before anything is read. A BCP 47 tag maps
to Android's resource qualifier: the legacy `zh-rCN` form when dropping the script loses
nothing (CLDR likely subtags, via Babel), else the `b+zh+Hant+CN` form.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import stat
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Iterator

from babel.core import get_global
from pydantic import AfterValidator, ConfigDict, Field

from romforge.archive import MemberStream, check_members, open_zip
from romforge.errors import ConfigError, InputError, shown_path
from romforge.locales.keypad import Keypad, load_keypad
from romforge.locales.pinyin import NameTables, load_pack_names
from romforge.locales.resxml import ResFinding
from romforge.schema import Table, Text, matches, problem, validate
from romforge.tomlfile import TomlDoc, load_toml
from romforge.tree import check_member_name

PACK_TOML = "pack.toml"
KEYPAD_TOML = "keypad.toml"
T9_DIR = "t9"
MAX_PACK_FILES = 5000
MAX_PACK_FILE_BYTES = 8 << 20
MAX_PACK_BYTES = 64 << 20
_TAG = re.compile(r"^(?P<lang>[A-Za-z]{2,3})(?:-(?P<script>[A-Za-z]{4}))?(?:-(?P<region>[A-Za-z]{2}|\d{3}))?$", re.ASCII)
_LEGACY = re.compile(r"^(?P<lang>[a-z]{2,3})(?:-r(?P<region>[A-Z]{2}))?$")
_BPLUS = re.compile(r"^b\+(?P<lang>[a-z]{2,3})(?:\+(?P<script>[A-Z][a-z]{3}))?(?:\+(?P<region>[A-Z]{2}|\d{3}))?$", re.ASCII)
_PACKAGE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)+$")
_VERSION = r"[0-9A-Za-z][0-9A-Za-z._+\-]{0,39}"


# ---- BCP 47 ↔ Android qualifier ------------------------------------------------------


@dataclass(frozen=True)
class LocaleTag:
    language: str
    script: str | None = None
    region: str | None = None

    @classmethod
    def parse(cls, text: str) -> "LocaleTag":
        """'zh-Hans-CN' → LocaleTag; ValueError for anything else (variants are not supported)."""
        m = _TAG.match(text)
        if not m:
            raise ValueError(f"{text!r} is not a BCP 47 tag of the form language[-Script][-REGION]")
        script = m.group("script")
        return cls(m.group("lang").lower(), script.title() if script else None,
                   m.group("region").upper() if m.group("region") else None)

    def __str__(self) -> str:
        return "-".join(p for p in (self.language, self.script, self.region) if p)

    @property
    def babel_id(self) -> str:
        return "_".join(p for p in (self.language, self.script, self.region) if p)

    def likely_script(self) -> str | None:
        likely = get_global("likely_subtags")
        for key in (f"{self.language}_{self.region}" if self.region else None, self.language):
            if key and key in likely:
                parts = likely[key].split("_")
                return next((p for p in parts[1:] if len(p) == 4), None)
        return None

    def legacy_qualifier(self) -> str | None:
        """`zh-rCN` when it names the same locale (no script, or the likely one), else None."""
        if self.script and self.script != self.likely_script():
            return None
        if self.region and not self.region.isalpha():
            return None
        return f"{self.language}-r{self.region}" if self.region else self.language

    def bplus_qualifier(self) -> str:
        return "+".join(["b", *(p for p in (self.language, self.script, self.region) if p)])

    def qualifiers(self) -> tuple[str, ...]:
        legacy = self.legacy_qualifier()
        return (legacy, self.bplus_qualifier()) if legacy else (self.bplus_qualifier(),)

    @property
    def identifier(self) -> str:
        """For package and file names: zh_hans_cn."""
        return self.babel_id.lower()


def tag_from_qualifier(qualifier: str) -> LocaleTag:
    """'zh-rCN' or 'b+zh+Hans+CN' (as in values-zh-rCN) → LocaleTag; ValueError otherwise."""
    for pattern in (_LEGACY, _BPLUS):
        m = pattern.match(qualifier)
        if m:
            groups = m.groupdict()
            return LocaleTag(groups["lang"], groups.get("script"), groups.get("region"))
    raise ValueError(f"{qualifier!r} is not an Android locale qualifier (zh-rCN or b+zh+Hans+CN)")


# ---- the pack -----------------------------------------------------------------------


@dataclass(frozen=True)
class PackFile:
    package: str  # target package
    path: Path  # on disk (inside a temporary directory for zip packs)
    shown: str  # how findings name it


@dataclass
class LocalePack:
    root: Path
    shown: str
    tag: LocaleTag
    qualifier: str
    name: str
    version: str
    maintainers: tuple[str, ...]
    targets: tuple[str, ...]
    files: list[PackFile]
    findings: list[ResFinding]  # layout problems (wrong qualifier folder, stray files)
    keypad: Keypad | None
    t9_dir: Path | None
    t9_names: NameTables | None = None
    sha256: str = ""
    doc: TomlDoc | None = field(default=None, repr=False)

    @property
    def locale(self) -> str:
        return str(self.tag)

    def files_for(self, package: str) -> list[PackFile]:
        return [f for f in self.files if f.package == package]


def _shown_under(path: Path, root: Path, root_shown: str) -> str:
    rel = path.relative_to(root).as_posix()
    return f"{root_shown}/{rel}" if root_shown not in ("", ".") else rel


def _locale(value: str) -> str:
    try:
        LocaleTag.parse(value)
    except ValueError as exc:
        raise problem(f"'locale': {exc}") from None
    return value


def _maintainers(people: list[str]) -> list[str]:
    if not people or not all(m.strip() for m in people):
        raise problem("'maintainers' must name at least one person")
    return people


def _target(package: str) -> str:
    if not _PACKAGE.match(package):
        raise problem(f"'targets': {package!r} is not an Android package name")
    return package


def _targets(targets: list[str]) -> list[str]:
    if len(set(targets)) != len(targets) or not targets:
        raise problem("'targets' must list each target package once, at least one")
    return targets


class PackToml(Table):
    """pack.toml: who made the pack and which packages it translates."""

    model_config = ConfigDict(title="pack.toml")

    locale: Annotated[str, AfterValidator(_locale)] = Field(description="a BCP 47 tag such as zh-Hans-CN")
    qualifier: str | None = None
    name: Text | None = None
    version: Annotated[str, matches(_VERSION, "version (1-40 letters, digits, '.', '_', '+' or '-')")] \
        = Field(description="the pack's own version, e.g. 2026.11")
    maintainers: Annotated[list[Text], AfterValidator(_maintainers)] = Field(description="who keeps the pack")
    targets: Annotated[list[Annotated[str, AfterValidator(_target)]], AfterValidator(_targets)] = Field(
        description="the Android packages it translates")

    @classmethod
    def rules(cls, data: dict[str, Any]) -> list:
        locale, qualifier = data.get("locale"), data.get("qualifier")
        if not isinstance(locale, str) or not isinstance(qualifier, str) or not qualifier:
            return []
        try:
            tag = LocaleTag.parse(locale)
        except ValueError:
            return []
        if qualifier not in tag.qualifiers():
            return [(("qualifier",), problem(f"'qualifier' {qualifier!r} does not name {tag}: use "
                                             f"{' or '.join(repr(q) for q in tag.qualifiers())}"))]
        return []


def scan_pack_files(root: Path, root_shown: str) -> list[Path]:
    """Every regular file under root; symlinks, devices and oversized packs are refused."""
    files: list[Path] = []
    total = 0
    for directory, dirnames, filenames in os.walk(root):
        for name in sorted(dirnames + filenames):
            path = Path(directory, name)
            st = path.lstat()
            shown = _shown_under(path, root, root_shown)
            if stat.S_ISLNK(st.st_mode):
                raise InputError("is a symlink; a locale pack holds plain files only", file=shown)
            if stat.S_ISDIR(st.st_mode):
                continue
            if not stat.S_ISREG(st.st_mode):
                raise InputError("is not a regular file", file=shown)
            if st.st_size > MAX_PACK_FILE_BYTES:
                raise InputError(f"file is {st.st_size} bytes, over the {MAX_PACK_FILE_BYTES}-byte limit for a "
                                 "pack file", file=shown)
            total += st.st_size
            files.append(path)
            if len(files) > MAX_PACK_FILES or total > MAX_PACK_BYTES:
                raise InputError(f"the pack is too big (over {MAX_PACK_FILES} files or {MAX_PACK_BYTES} bytes)",
                                 file=root_shown)
    return sorted(files)


def _digest(root: Path, files: list[Path]) -> str:
    h = hashlib.sha256()
    for path in files:
        h.update(path.relative_to(root).as_posix().encode() + b"\0")
        h.update(hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()


def load_pack(root: Path, *, shown: str | None = None) -> LocalePack:
    """Read and check a pack folder's layout and pack.toml (strings are checked by check.py)."""
    root = Path(root)
    root_shown = shown if shown is not None else shown_path(root)
    if root.is_symlink():
        raise InputError("is a symlink; give the pack folder itself", file=root_shown)
    if not root.is_dir():
        raise InputError("not a locale pack folder or zip", file=root_shown)
    files = scan_pack_files(root, root_shown)
    toml_path = root / PACK_TOML
    if toml_path not in files:
        raise InputError(f"no {PACK_TOML} in the pack", file=root_shown,
                         hint="a pack is locales/<locale>/pack.toml + res/<package>/values-<qualifier>/*.xml")
    doc = load_toml(toml_path, display=_shown_under(toml_path, root, root_shown))
    toml = validate(PackToml, doc.data, doc)
    tag = LocaleTag.parse(toml.locale)
    qualifier = toml.qualifier or tag.qualifiers()[0]
    targets = toml.targets
    pack_files: list[PackFile] = []
    findings: list[ResFinding] = []
    for path in files:
        rel = path.relative_to(root).parts
        file_shown = _shown_under(path, root, root_shown)
        if rel[0] in (PACK_TOML, KEYPAD_TOML, T9_DIR) or rel[0].lower() in ("readme.md", "license", "notes.md"):
            continue
        if rel[0] != "res" or len(rel) != 4:
            findings.append(ResFinding(file_shown, None, "pack-layout", "error",
                                       "does not belong in a pack: strings go in res/<package>/values-"
                                       f"{qualifier}/*.xml", None))
            continue
        _, package, folder, name = rel
        if package not in targets:
            findings.append(ResFinding(file_shown, None, "pack-layout", "error",
                                       f"'{package}' is not in pack.toml's targets; add it or remove the folder",
                                       None))
        elif folder != f"values-{qualifier}":
            findings.append(ResFinding(file_shown, None, "pack-layout", "error",
                                       f"folder '{folder}' does not match this pack's locale: it must be "
                                       f"values-{qualifier}", None))
        elif not name.endswith(".xml"):
            findings.append(ResFinding(file_shown, None, "pack-layout", "error",
                                       "only .xml files belong in a values folder", None))
        else:
            pack_files.append(PackFile(package, path, file_shown))
    for target in targets:
        if not any(f.package == target for f in pack_files):
            findings.append(ResFinding(doc.display, doc.line_of("targets"), "pack-layout", "error",
                                       f"target '{target}' has no res/{target}/values-{qualifier}/*.xml", None))
    keypad_path = root / KEYPAD_TOML
    keypad = load_keypad(keypad_path, shown=_shown_under(keypad_path, root, root_shown)) \
        if keypad_path in files else None
    t9_dir = root / T9_DIR if (root / T9_DIR).is_dir() else None
    t9_names = load_pack_names(t9_dir, shown=_shown_under(root / T9_DIR, root, root_shown)) if t9_dir else None
    return LocalePack(root, root_shown, tag, qualifier, toml.name or str(tag), toml.version,
                      tuple(toml.maintainers), tuple(targets), pack_files, findings, keypad, t9_dir, t9_names,
                      _digest(root, files), doc)


def _extract(archive: Path, shown: str, dest: Path) -> None:
    zf, infos = open_zip(Path(archive), source=shown)
    check_members(infos, source=shown)
    with zf:
        if len(infos) > MAX_PACK_FILES:
            raise InputError(f"holds {len(infos)} entries, over the limit of {MAX_PACK_FILES}", file=shown)
        total = 0
        seen: set[str] = set()
        for info in infos:
            name = check_member_name(info.filename, shown)
            mode = info.external_attr >> 16
            if stat.S_ISLNK(mode):
                raise InputError(f"entry {name!r} is a symlink; a locale pack holds plain files only", file=shown)
            if name in seen:
                raise InputError(f"entry {name!r} appears twice", file=shown)
            seen.add(name)
            target = dest.joinpath(name)
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            if info.file_size > MAX_PACK_FILE_BYTES:
                raise InputError(f"entry {name!r} unpacks to {info.file_size} bytes, over the "
                                 f"{MAX_PACK_FILE_BYTES}-byte limit for a pack file", file=shown)
            written = 0
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                with MemberStream(zf, info, source=shown) as src, open(target, "xb") as out:
                    while chunk := src.read(1 << 16):
                        written += len(chunk)
                        total += len(chunk)
                        if written > MAX_PACK_FILE_BYTES or total > MAX_PACK_BYTES:
                            raise InputError(f"entry {name!r} unpacks to more than its limit", file=shown)
                        out.write(chunk)
            except OSError as exc:  # the message names the entry, never the temporary folder it went to
                raise InputError(f"cannot unpack entry {name!r}: {exc.strerror or exc.__class__.__name__} (a file "
                                 "and a folder of the same name?)", file=shown) from None


@contextlib.contextmanager
def pack_folder(path: Path, *, shown: str | None = None) -> Iterator[tuple[Path, str]]:
    """(folder, how to name it) for a folder, or for a zip unpacked (after checking every entry) into a
    temporary folder that is always removed; a zip holding one folder gives that folder."""
    path = Path(path)
    where = shown if shown is not None else shown_path(path)
    if path.is_file() and zipfile.is_zipfile(path):
        tmp = Path(tempfile.mkdtemp(prefix="romforge-pack-"))
        try:
            _extract(path, where, tmp)
            entries = [p for p in tmp.iterdir()]
            root = entries[0] if len(entries) == 1 and entries[0].is_dir() else tmp
            yield root, f"{where}!" + (f"/{root.name}" if root != tmp else "")
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    else:
        yield path, where


@contextlib.contextmanager
def open_pack(path: Path, *, shown: str | None = None) -> Iterator[LocalePack]:
    """A pack from a folder, or from a zip unpacked (after checking every entry) into a temporary folder."""
    with pack_folder(path, shown=shown) as (root, where):
        yield load_pack(root, shown=where)


def find_packs(locales_dir: Path) -> dict[str, Path]:
    """locale → pack folder, for every locales/<locale>/pack.toml in a workspace."""
    if not locales_dir.is_dir():
        return {}
    return {p.parent.name: p.parent for p in sorted(locales_dir.glob(f"*/{PACK_TOML}"))}


def require_packs(locales_dir: Path, locales: tuple[str, ...]) -> dict[str, Path]:
    """The packs a profile enables: a listed locale with a folder must have a valid name."""
    found = find_packs(locales_dir)
    for name in found:
        try:
            LocaleTag.parse(name)
        except ValueError:
            raise ConfigError(f"locale pack folder '{name}' is not a BCP 47 tag (e.g. zh-Hans-CN)",
                              file=locales_dir / name) from None
    return {loc: found[loc] for loc in locales if loc in found}

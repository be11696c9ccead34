"""Reading a bootanimation.zip as the player would, and checking every rule it breaks.

Compressed entries in a part folder are skipped by the player, frames play in byte-wise
name order whatever the zip order, and desktop junk in a part folder becomes a frame; the
checks turn every such silent surprise into a finding with the entry (and line) it comes
from.
"""

from __future__ import annotations

import io
import stat
import zipfile

from romforge.bootscreen.bootanim import DESC, FONT_ENTRIES, MAX_PATH, BootAnimation, Inspection, Part, Report
from romforge.bootscreen.desc import parse_desc, parse_trim
from romforge.bootscreen.frames import check_frames, image_facts
from romforge.archive import MEMBER_ERRORS, open_zip
from romforge.errors import InputError

MAX_ENTRIES = 20_000
MAX_ENTRY_BYTES = 64 << 20
MAX_TOTAL_BYTES = 1 << 30
MAX_DESC_BYTES = 1 << 20
MAX_PLAYED_FRAMES = 50_000  # frames of all parts played once through: over 13 minutes at 60 fps
# Files desktop systems drop into folders. A stored one in a part folder is taken as a frame.
_JUNK = {".DS_Store", "Icon\r", "Thumbs.db", "desktop.ini"}


def _is_junk(entry: str) -> bool:
    leaf = entry.rsplit("/", 1)[-1]
    return leaf in _JUNK or leaf.startswith("._") or entry.startswith("__MACOSX/") or "/__MACOSX/" in entry


def _unsafe_name(name: str) -> str | None:
    if "\0" in name or "\\" in name:
        return "holds a NUL or backslash"
    if name.startswith("/"):
        return "is an absolute path"
    if any(p == ".." for p in name.split("/")):
        return "climbs out with '..'"
    if len(name.encode("utf-8", "surrogateescape")) > MAX_PATH:
        return f"is longer than {MAX_PATH} bytes (the player skips it)"
    return None



def _read_entry(zf: zipfile.ZipFile, info: zipfile.ZipInfo, report: Report,
                limit: int = MAX_ENTRY_BYTES) -> bytes | None:
    try:
        with zf.open(info) as f:
            data = f.read(limit + 1)
    except MEMBER_ERRORS as exc:
        report.error(info.filename, "entry-corrupt", f"cannot be read: {exc}")
        return None
    if len(data) > limit:
        report.error(info.filename, "entry-size", f"is over the {limit >> 20} MiB limit")
        return None
    return data


def _index(infos: list[zipfile.ZipInfo], report: Report) -> tuple[dict[str, zipfile.ZipInfo], set[str]]:
    """The entries the player can read, by name in archive order, and every folder they lie in."""
    files: dict[str, zipfile.ZipInfo] = {}
    folders: set[str] = set()
    for info in infos:
        name = info.filename
        problem = _unsafe_name(name)
        if problem:
            report.error(name, "entry-unsafe", f"entry name {problem}")
            continue
        mode = info.external_attr >> 16
        if name.endswith("/") or stat.S_ISDIR(mode):
            continue
        if info.create_system == 3 and stat.S_ISLNK(mode):
            report.error(name, "entry-symlink", "is a symlink; the player would read the link text as data")
            continue
        if info.flag_bits & 0x1:
            report.error(name, "entry-encrypted", "is encrypted; the player cannot read it")
            continue
        if name in files:
            report.error(name, "entry-duplicate", "appears twice in the archive")
            continue
        files[name] = info
        cut = name.rfind("/")
        while cut > 0 and name[:cut] not in folders:
            folders.add(name[:cut])
            cut = name.rfind("/", 0, cut)
    return files, folders


def read_bootanimation(data: bytes, *, source: str, screen: tuple[int, int] | None = None) -> Inspection:
    """Read an archive as the player would, collecting every rule it breaks.

    Raises InputError only when the bytes are not a readable zip within the size limits;
    everything else becomes a finding. With `screen`, the animation is also held against
    the device's resolution. Every entry is looked at once: the work grows with the archive,
    not with parts × entries.
    """
    report = Report(source)
    zf, infos = open_zip(io.BytesIO(data), source=source,
                         hint="a bootanimation.zip is made with `zip -0qry`, or `romforge bootanim render`")
    if len(infos) > MAX_ENTRIES:
        raise InputError(f"holds {len(infos)} entries, over the limit of {MAX_ENTRIES}", file=source)
    total = sum(i.file_size for i in infos)
    if total > MAX_TOTAL_BYTES:
        raise InputError(f"unpacks to {total} bytes, over the {MAX_TOTAL_BYTES >> 20} MiB limit", file=source)
    files, folders = _index(infos, report)
    desc_info = files.get(DESC)
    if desc_info is None:
        report.error(None, "desc-missing", "no desc.txt at the top of the archive; the player shows nothing",)
        return Inspection(source, BootAnimation(0, 0, 0), report.done(), ignored=list(files))
    if desc_info.compress_type != zipfile.ZIP_STORED:
        report.error(DESC, "entry-compressed", "desc.txt is compressed; the player maps it raw and finds no "
                     "parts (store it: zip -0)")
    anim = parse_desc(_read_entry(zf, desc_info, report, MAX_DESC_BYTES) or b"", report)
    ignored = _fill_parts(zf, files, anim, report)
    checked: set[str] = set()
    for part in anim.parts:
        if part.system:
            continue
        if part.path not in folders:
            report.error(f"{part.path}/", "part-missing", f"desc.txt plays part {part.path}, but the archive has "
                         "no such folder")
        elif not part.frames:
            report.error(f"{part.path}/", "part-empty", f"part {part.path} has no frames")
        else:
            check_frames(anim, part, report, checked)
    if screen is not None and anim.width > 0:
        sw, sh = screen
        if anim.width > sw or anim.height > sh:
            report.warning(DESC, "size-screen", f"the animation is {anim.width}x{anim.height}, larger than the "
                           f"{sw}x{sh} screen; the player centres it and crops the edges", 1)
    return Inspection(source, anim, report.done(), ignored)


def _fill_parts(zf: zipfile.ZipFile, files: dict[str, zipfile.ZipInfo], anim: BootAnimation,
                report: Report) -> list[str]:
    """Fonts, and each part's frames, trim.txt and audio.wav, read once per folder however many
    part lines play it; returns the entries the model leaves out."""
    folders = {p.path: Part(p.type, 0, 0, p.path) for p in anim.parts if not p.system}  # what each folder holds
    ignored: list[str] = []
    unused: dict[str, int] = {}
    for name, info in files.items():
        if name == DESC:
            continue
        folder, _, leaf = name.rpartition("/")
        stored = info.compress_type == zipfile.ZIP_STORED
        if name in FONT_ENTRIES:
            _read_font(zf, info, anim, report)
            continue
        if _is_junk(name):
            ignored.append(name)
            _report_junk(name, folder in folders, stored, report)
            continue
        if folder not in folders:
            ignored.append(name)
            top = name.split("/", 1)[0] + ("/" if "/" in name else "")
            unused[top] = unused.get(top, 0) + 1
            continue
        if not stored:
            report.error(name, "entry-compressed", "is compressed; the player skips compressed entries in part "
                         "folders, so it never plays (store it: zip -0)")
            ignored.append(name)
            continue
        content = _read_entry(zf, info, report)
        if content is None:
            continue
        held = folders[folder]
        if leaf == "audio.wav":
            if not (content[:4] == b"RIFF" and content[8:12] == b"WAVE"):
                report.error(name, "audio-format", "is not a RIFF/WAVE file")
            held.audio = content
        elif leaf == "trim.txt":
            parse_trim(held, content, name, report)
        else:
            held.frames.append((leaf, content))
    for top, count in sorted(unused.items()):
        report.warning(top, "entry-unused", f"{count} entr{'y' if count == 1 else 'ies'} no desc.txt line plays; "
                       "the player ignores them")
    played = sum(len(folders[p.path].frames) for p in anim.parts if not p.system)
    if played > MAX_PLAYED_FRAMES:
        raise InputError(f"desc.txt plays {played} frames (each part once), over the limit of {MAX_PLAYED_FRAMES}",
                         file=f"{report.source}/{DESC}")
    for part in anim.parts:
        if not part.system:
            held = folders[part.path]
            part.frames, part.trim, part.audio = list(held.frames), held.trim, held.audio
    return ignored


def _read_font(zf: zipfile.ZipFile, info: zipfile.ZipInfo, anim: BootAnimation, report: Report) -> None:
    if info.compress_type != zipfile.ZIP_STORED:
        report.error(info.filename, "entry-compressed", "is compressed; the player maps it raw (store it: zip -0)")
    font = _read_entry(zf, info, report)
    if font is not None:
        facts = image_facts(font)
        if isinstance(facts, str) or facts[0] != "PNG":
            report.error(info.filename, "font-format",
                         f"must be a PNG ({facts if isinstance(facts, str) else 'JPEG'})")
        anim.fonts[info.filename] = font


def _report_junk(name: str, in_part: bool, stored: bool, report: Report) -> None:
    if in_part and stored:
        report.warning(name, "entry-junk", "a desktop system's file in a part folder: the player takes it "
                       "as a frame that does not decode (an empty frame); remove it")
    elif in_part:
        report.warning(name, "entry-junk", "a desktop system's file in a part folder; the player skips it "
                       "because it is compressed; remove it")
    else:
        report.warning(name, "entry-junk", "a desktop system's file; the player ignores it; remove it")

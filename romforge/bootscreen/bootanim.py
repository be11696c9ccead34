"""bootanimation.zip: the only module that knows desc.txt.

Format (frameworks/base/cmds/bootanimation/FORMAT.md): desc.txt whose first line is
`WIDTH HEIGHT FPS [PROGRESS]` and then one line per part `TYPE COUNT PAUSE PATH [FADE]
[#RGBHEX [CLOCK1 [CLOCK2]]]`; each part is a folder of frames played in name order, with
an optional trim.txt and audio.wav. The zip must be STORED: the player maps frames
straight out of it.

Where FORMAT.md and the player's parser (BootAnimation.cpp) disagree, the reader follows
the parser, because that is what a phone runs: a last line without a newline is ignored,
FADE is read only on `f` lines, unknown part letters play like `p`, compressed entries in a
part folder are skipped, and frames play in byte-wise name order whatever the zip order.
The checks turn every such silent surprise into a finding with the entry (and line) it
comes from.
"""

from __future__ import annotations

import io
import re
import stat
import zipfile
from dataclasses import dataclass, field, replace
from pathlib import Path

from PIL import Image

from romforge.errors import Finding, InputError, shown_path
from romforge.tree import RomTree

ZIP_DATE = (2009, 1, 1, 0, 0, 0)
DESC = "desc.txt"
FONT_ENTRIES = ("clock_font.png", "progress_font.png")
PART_TYPES = ("p", "c", "f")
# Where Android looks, first match wins (BootAnimation.cpp): product before oem before system.
DEVICE_LOCATIONS = (("product", "media/bootanimation.zip"), ("system", "media/bootanimation.zip"))

MAX_ENTRIES = 20_000
MAX_ENTRY_BYTES = 64 << 20
MAX_TOTAL_BYTES = 1 << 30
MAX_SIDE = 8192  # widest screen a profile may declare
MAX_PATH = 255  # the player's ANIM_PATH_MAX; longer part paths and entry names are cut or skipped
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
JPEG_MAGIC = b"\xff\xd8\xff"
# Files desktop systems drop into folders. A stored one in a part folder is taken as a frame.
_JUNK = {".DS_Store", "Icon\r", "Thumbs.db", "desktop.ini"}
_HEX6 = re.compile(r"^#[0-9A-Fa-f]{6}$")
_CLOCK = re.compile(r"^(c|-?\d+)$")
_INT = re.compile(r"[+-]?\d+")


# ---- model ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Trim:
    """One trim.txt line: the frame is drawn at WxH with its top-left at +X+Y in the canvas."""

    width: int
    height: int
    x: int
    y: int

    def line(self) -> str:
        return f"{self.width}x{self.height}+{self.x}+{self.y}"


@dataclass
class Part:
    type: str  # p: plays until boot completes, c: always completes, f: fades out
    count: int  # 0 = loop until boot completes
    pause: int  # frames to hold after the part
    path: str
    frames: list[tuple[str, bytes]] = field(default_factory=list)  # (file name, PNG/JPEG bytes)
    fade: int | None = None  # only on `f` parts: frames to fade over when cut short
    background: str | None = None  # "#RRGGBB"
    clock: tuple[str, ...] = ()  # CLOCK1 [CLOCK2]: "c", "n" or "-n"
    trim: list[Trim] | None = None  # trim.txt, one line per frame in play order
    audio: bytes | None = None  # audio.wav, played when the part starts
    system: bool = False  # the `$SYSTEM` line: play /system/media/bootanimation.zip here

    def desc_line(self) -> str:
        if self.system:
            return "$SYSTEM"
        fields = [self.type, str(self.count), str(self.pause), self.path]
        if self.type == "f":  # the player reads FADE on `f` lines only
            fields.append(str(self.fade or 0))
        if self.background is not None or self.clock:
            fields.append(self.background or "#000000")
            fields.extend(self.clock)
        return " ".join(fields)

    def sorted_frames(self) -> list[tuple[str, bytes]]:
        """Play order: the player keeps frames in a SortedVector keyed by the file name's bytes."""
        return sorted(self.frames, key=lambda f: f[0].encode("utf-8", "surrogateescape"))


@dataclass(frozen=True)
class DynamicColors:
    """`dynamic_colors PATH #RGB1 #RGB2 #RGB3 #RGB4 [START END]` (Android 12+)."""

    part: str
    colors: tuple[str, str, str, str]
    transition: tuple[int, int] | None = None

    def desc_line(self) -> str:
        line = f"dynamic_colors {self.part} {' '.join(self.colors)}"
        if self.transition is not None:
            line += f" {self.transition[0]} {self.transition[1]}"
        return line


@dataclass
class BootAnimation:
    width: int
    height: int
    fps: int
    parts: list[Part] = field(default_factory=list)
    progress: int | None = None  # 4th header number: non-zero draws a percentage on the last part
    dynamic_colors: DynamicColors | None = None
    fonts: dict[str, bytes] = field(default_factory=dict)  # clock_font.png / progress_font.png

    def desc_txt(self) -> str:
        header = f"{self.width} {self.height} {self.fps}"
        if self.progress is not None:
            header += f" {self.progress}"
        lines = [header]
        if self.dynamic_colors is not None:
            lines.append(self.dynamic_colors.desc_line())
        lines += [p.desc_line() for p in self.parts]
        return "\n".join(lines) + "\n"  # the player ignores a last line without a newline

    @property
    def frame_count(self) -> int:
        return sum(len(p.frames) for p in self.parts)


def _add_stored(zf: zipfile.ZipFile, name: str, data: bytes) -> None:
    info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
    info.compress_type = zipfile.ZIP_STORED
    info.create_system = 3
    info.external_attr = (stat.S_IFREG | 0o644) << 16
    zf.writestr(info, data)


def write_bootanimation(anim: BootAnimation) -> bytes:
    """desc.txt first, then fonts, then each part's frames in play order; every entry STORED."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        _add_stored(zf, DESC, anim.desc_txt().encode("utf-8"))
        for name in FONT_ENTRIES:
            if name in anim.fonts:
                _add_stored(zf, name, anim.fonts[name])
        written: set[str] = set()
        for part in anim.parts:
            if part.system or part.path in written:
                continue  # two lines may play the same folder; it is stored once
            written.add(part.path)
            for name, data in part.sorted_frames():
                _add_stored(zf, f"{part.path}/{name}", data)
            if part.trim is not None:
                _add_stored(zf, f"{part.path}/trim.txt", "".join(t.line() + "\n" for t in part.trim).encode())
            if part.audio is not None:
                _add_stored(zf, f"{part.path}/audio.wav", part.audio)
    return buf.getvalue()


# ---- reading and checking ------------------------------------------------------------


@dataclass
class Inspection:
    """What the player would make of an archive, and every rule it breaks."""

    source: str
    anim: BootAnimation
    findings: list[Finding]
    ignored: list[str] = field(default_factory=list)  # entries the model leaves out (junk, unused)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "warning"]


class _Report:
    def __init__(self, source: str) -> None:
        self.source = source
        self.findings: list[Finding] = []

    def error(self, entry: str | None, rule: str, message: str, line: int | None = None) -> None:
        self._add(entry, rule, "error", message, line)

    def warning(self, entry: str | None, rule: str, message: str, line: int | None = None) -> None:
        self._add(entry, rule, "warning", message, line)

    def _add(self, entry: str | None, rule: str, severity: str, message: str, line: int | None) -> None:
        where = f"{self.source}/{printable(entry)}" if entry else self.source
        self.findings.append(Finding(where, line, rule, severity, message))


def printable(text: str) -> str:
    """Entry names come from the archive: show control characters escaped, never raw."""
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)


def _scan_int(line: str, pos: int) -> tuple[int | None, int]:
    """sscanf's %d: skip whitespace, then an optional sign and digits."""
    while pos < len(line) and line[pos].isspace():
        pos += 1
    m = _INT.match(line, pos)
    if not m:
        return None, pos
    return int(m.group()), m.end()


def _scan_word(line: str, pos: int) -> tuple[str | None, int]:
    """sscanf's %s: skip whitespace, then everything up to the next whitespace."""
    while pos < len(line) and line[pos].isspace():
        pos += 1
    end = pos
    while end < len(line) and not line[end].isspace():
        end += 1
    return (line[pos:end] or None), end


def _header_numbers(line: str) -> list[int] | None:
    """The numbers `sscanf("%d %d %d %d")` takes from the line, when it takes 3 or 4."""
    numbers: list[int] = []
    pos = 0
    while len(numbers) < 4:
        value, pos = _scan_int(line, pos)
        if value is None:
            break
        numbers.append(value)
    return numbers if len(numbers) >= 3 else None


def _parse_part_rest(part: Part, rest: str, line_no: int, report: _Report) -> None:
    tokens = rest.split()
    if part.type == "f":
        if tokens and _INT.fullmatch(tokens[0]):
            part.fade = int(tokens.pop(0))
            if part.fade < 0:
                report.error(DESC, "desc-fade", f"part {part.path}: FADE {part.fade} is negative", line_no)
        elif tokens:
            report.error(DESC, "desc-fade", f"part {part.path}: an `f` line needs FADE before the colour; the "
                         "player reads no colour or clock from this line", line_no)
            return
    elif tokens and _INT.fullmatch(tokens[0]):
        report.error(DESC, "desc-fade", f"part {part.path}: FADE is read only on `f` lines; on a "
                     f"`{part.type}` line the player ignores the rest of the line, colour and clock included",
                     line_no)
        return
    if not tokens:
        return
    color = tokens.pop(0)
    if not color.startswith("#"):
        report.error(DESC, "desc-line", f"part {part.path}: {color!r} is not a #RRGGBB colour; the player "
                     "ignores the rest of the line", line_no)
        return
    if not _HEX6.match(color):
        report.error(DESC, "desc-color", f"part {part.path}: colour {color!r} is not #RRGGBB (6 hex digits); "
                     "the player shows black", line_no)
    else:
        part.background = color
    for clock in tokens[:2]:
        if len(clock) > 16 or not _CLOCK.match(clock):
            report.error(DESC, "desc-clock", f"part {part.path}: clock position {clock!r} must be `c`, a number "
                         "of pixels, or a negative number (from the far edge)", line_no)
    part.clock = tuple(tokens[:2])
    if len(tokens) > 2:
        report.warning(DESC, "desc-line", f"part {part.path}: {len(tokens) - 2} extra field(s) after the clock "
                       "are ignored", line_no)


def _parse_part(raw: str, line_no: int, report: _Report) -> Part | None:
    """`%c %d %d %255s`: the type is the line's first character, even a space."""
    kind = raw[0]
    count, pos = _scan_int(raw, 1)
    pause, pos = _scan_int(raw, pos) if count is not None else (None, pos)
    path, pos = _scan_word(raw, pos) if pause is not None else (None, pos)
    if count is None or pause is None or path is None:
        return None
    part = Part(kind, count, pause, path)
    if kind not in PART_TYPES:
        shown = repr(kind) if not kind.isprintable() or kind.isspace() else f"`{kind}`"
        report.error(DESC, "desc-type", f"part {path}: type {shown} is not p, c or f (the player plays it like "
                     "`p`)" + ("; the line must not start with whitespace" if kind.isspace() else ""), line_no)
    if count < 0 or pause < 0:
        report.error(DESC, "desc-line", f"part {path}: COUNT and PAUSE must not be negative", line_no)
    if len(path) > MAX_PATH:
        report.error(DESC, "desc-path", f"part path is {len(path)} characters; the player cuts it at {MAX_PATH}",
                     line_no)
    _parse_part_rest(part, raw[pos:], line_no, report)
    return part


def _parse_dynamic_colors(line: str, line_no: int, report: _Report) -> DynamicColors | None:
    tokens = line.split()
    colors = tokens[2:6]
    if len(tokens) < 6 or not all(_HEX6.match(c) for c in colors):
        report.error(DESC, "desc-dynamic-colors", "expected `dynamic_colors PATH #RRGGBB #RRGGBB #RRGGBB "
                     "#RRGGBB [START END]`", line_no)
        return None
    transition = None
    if len(tokens) >= 8 and all(_INT.fullmatch(t) for t in tokens[6:8]):
        transition = (int(tokens[6]), int(tokens[7]))
    elif len(tokens) > 6:
        report.error(DESC, "desc-dynamic-colors", "after the four colours only two numbers (START END) may "
                     "follow", line_no)
    return DynamicColors(tokens[1], tuple(colors), transition)  # type: ignore[arg-type]


def parse_desc(data: bytes, report: _Report) -> BootAnimation:
    """desc.txt the way the player reads it, reporting every line it would drop or misread."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        report.error(DESC, "desc-encoding", f"not UTF-8 text (byte 0x{data[exc.start]:02x})", line)
        text = data.decode("utf-8", "replace")
    lines = text.split("\n")
    unterminated = lines.pop()
    if unterminated.strip():
        report.error(DESC, "desc-no-newline", "the last line has no newline; the player ignores it "
                     f"({unterminated[:40]!r})", len(lines) + 1)
    crlf = [n for n, raw in enumerate(lines, 1) if raw.endswith("\r")]
    if crlf:
        report.warning(DESC, "desc-crlf", "CRLF line ends: the player tolerates them, but `$SYSTEM` lines "
                       "stop matching; save desc.txt with LF line ends", crlf[0])
    anim = BootAnimation(0, 0, 0)
    header_line: int | None = None
    for line_no, raw in enumerate(lines, 1):
        line = raw[:-1] if raw.endswith("\r") else raw
        if not line.strip():
            continue
        numbers = _header_numbers(line)
        if numbers is not None:
            if header_line is not None:
                report.error(DESC, "desc-header", f"a second `WIDTH HEIGHT FPS` line (the first is line "
                             f"{header_line}); the player takes the last one", line_no)
            elif anim.parts:
                report.error(DESC, "desc-header", "the `WIDTH HEIGHT FPS` line must come first", line_no)
            header_line = line_no
            anim.width, anim.height, anim.fps = numbers[:3]
            anim.progress = numbers[3] if len(numbers) == 4 else None
            if len(line.split()) != len(numbers):
                report.error(DESC, "desc-header", "expected only `WIDTH HEIGHT FPS [PROGRESS]` (whole numbers)",
                             line_no)
            continue
        if line.startswith("dynamic_colors"):
            anim.dynamic_colors = _parse_dynamic_colors(line, line_no, report) or anim.dynamic_colors
            continue
        if raw == "$SYSTEM":  # strcmp on the raw line: a CRLF `$SYSTEM` line does not match
            anim.parts.append(Part("p", 1, 0, "$SYSTEM", system=True))
            continue
        part = _parse_part(line, line_no, report)
        if part is None:
            hint = (" (a `$SYSTEM` line must be exactly that, with an LF line end)"
                    if line.strip().startswith("$SYSTEM") else
                    "; a part line must not start with whitespace" if line[0].isspace() else "")
            report.error(DESC, "desc-line", f"{line[:60]!r} is not a header, part or dynamic_colors "
                         f"line; the player drops it{hint}", line_no)
            continue
        anim.parts.append(part)
    if header_line is None:
        report.error(DESC, "desc-header", "no `WIDTH HEIGHT FPS` line; the player shows nothing", 1)
    else:
        if not (0 < anim.width <= MAX_SIDE and 0 < anim.height <= MAX_SIDE):
            report.error(DESC, "desc-header", f"size {anim.width}x{anim.height} must be 1..{MAX_SIDE} pixels "
                         "each way", header_line)
        if anim.fps <= 0:
            report.error(DESC, "desc-header", f"FPS {anim.fps} must be positive (the player divides by it)",
                         header_line)
    if not anim.parts:
        report.error(DESC, "desc-no-parts", "no part lines (`TYPE COUNT PAUSE PATH`); nothing would play",
                     (header_line or 0) + 1)
    if anim.dynamic_colors and anim.dynamic_colors.part not in {p.path for p in anim.parts}:
        report.error(DESC, "desc-dynamic-colors", f"dynamic_colors names part {anim.dynamic_colors.part!r}, "
                     "which no part line plays")
    return anim


def _parse_trim(part: Part, data: bytes, entry: str, report: _Report) -> None:
    trims: list[Trim] = []
    text = data.decode("utf-8", "replace")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    for line_no, raw in enumerate(lines, 1):
        m = re.match(r"^\s*(\d+)x(\d+)\+(-?\d+)\+(-?\d+)\s*$", raw)
        if not m:
            report.error(entry, "trim-line", f"{raw[:40]!r} is not WxH+X+Y; the player stops reading "
                         "trim.txt here", line_no)
            break
        trims.append(Trim(*(int(g) for g in m.groups())))
    part.trim = trims


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


def _image_facts(data: bytes) -> tuple[str, tuple[int, int]] | str:
    """(format, size) of a PNG/JPEG frame, or what is wrong with it; reads headers only."""
    if data.startswith(PNG_MAGIC):
        expected = "PNG"
    elif data.startswith(JPEG_MAGIC):
        expected = "JPEG"
    else:
        return "is not a PNG or JPEG image" + (" (0 bytes)" if not data else "")
    try:
        with Image.open(io.BytesIO(data), formats=[expected]) as img:
            size = img.size
            if size[0] > MAX_SIDE or size[1] > MAX_SIDE:
                return f"is {size[0]}x{size[1]}, larger than {MAX_SIDE} pixels a side"
            img.verify()
    except Image.DecompressionBombError:
        return "is too large to decode"
    except Exception as exc:  # Pillow raises many types for broken images
        return f"is a broken {expected}: {exc}"
    return expected, size


def _natural_key(name: str) -> list:
    return [(0, int(t), t) if t.isdigit() else (1, 0, t) for t in re.split(r"(\d+)", name)]


def _check_frames(anim: BootAnimation, part: Part, report: _Report, checked: set[str]) -> None:
    """Frame format and size against trim.txt or the header; name order vs numbering."""
    if part.path in checked:
        return
    checked.add(part.path)
    ordered = [n for n, _ in part.sorted_frames()]
    natural = sorted(ordered, key=_natural_key)
    if natural != ordered:
        first = next(a for a, b in zip(ordered, natural) if a != b)
        report.warning(f"{part.path}/", "frame-numbering", f"frames play in name order, so {first!r} "
                       "plays out of numeric order; pad frame numbers with zeros (00001.png, …)")
    if part.trim is not None and len(part.trim) != len(ordered):
        report.warning(f"{part.path}/trim.txt", "trim-count", f"{len(part.trim)} trim line(s) for {len(ordered)} "
                       "frame(s); frames without a line are drawn full size")
    first_bad: tuple[str, str] | None = None
    bad = 0
    for index, (name, data) in enumerate(part.sorted_frames()):
        entry = f"{part.path}/{name}"
        facts = _image_facts(data)
        if isinstance(facts, str):
            report.error(entry, "frame-format", f"frame {facts}; the player cannot draw it")
            continue
        _, (w, h) = facts
        trim = part.trim[index] if part.trim is not None and index < len(part.trim) else None
        target = (trim.width, trim.height) if trim else (anim.width, anim.height)
        if (w, h) == target or target[0] <= 0 or target[1] <= 0:
            continue
        same_aspect = abs(w * target[1] - h * target[0]) <= 0.01 * target[0] * target[1]
        if same_aspect and trim is not None:
            continue  # trim.txt scales it on purpose
        if same_aspect:
            report.warning(entry, "frame-scaled", f"frame is {w}x{h}, the animation {target[0]}x{target[1]}: "
                           "the player scales it (same shape)")
            continue
        bad += 1
        if first_bad is None:
            first_bad = (entry, f"frame is {w}x{h} but is drawn at {target[0]}x{target[1]}"
                         f"{' (trim.txt)' if trim else ''}: the player stretches it out of shape")
    if first_bad is not None:
        more = f" ({bad - 1} more frame(s) in {part.path} too)" if bad > 1 else ""
        report.error(first_bad[0], "frame-size", first_bad[1] + more)


def _read_entry(zf: zipfile.ZipFile, info: zipfile.ZipInfo, report: _Report) -> bytes | None:
    try:
        with zf.open(info) as f:
            data = f.read(MAX_ENTRY_BYTES + 1)
    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, RuntimeError) as exc:
        report.error(info.filename, "entry-corrupt", f"cannot be read: {exc}")
        return None
    if len(data) > MAX_ENTRY_BYTES:
        report.error(info.filename, "entry-size", f"is over the {MAX_ENTRY_BYTES >> 20} MiB limit")
        return None
    return data


def read_bootanimation(data: bytes, *, source: str, screen: tuple[int, int] | None = None) -> Inspection:
    """Read an archive as the player would, collecting every rule it breaks.

    Raises InputError only when the bytes are not a readable zip within the size limits;
    everything else becomes a finding. With `screen`, the animation is also held against
    the device's resolution.
    """
    report = _Report(source)
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise InputError(f"not a readable zip archive ({exc})", file=source,
                         hint="a bootanimation.zip is made with `zip -0qry`, or `romforge bootanim render`") from None
    if len(infos) > MAX_ENTRIES:
        raise InputError(f"holds {len(infos)} entries, over the limit of {MAX_ENTRIES}", file=source)
    total = sum(i.file_size for i in infos)
    if total > MAX_TOTAL_BYTES:
        raise InputError(f"unpacks to {total} bytes, over the {MAX_TOTAL_BYTES >> 20} MiB limit", file=source)

    files: dict[str, zipfile.ZipInfo] = {}
    order: list[str] = []
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
        order.append(name)

    desc_info = files.get(DESC)
    if desc_info is None:
        report.error(None, "desc-missing", "no desc.txt at the top of the archive; the player shows nothing",)
        return Inspection(source, BootAnimation(0, 0, 0), report.findings, ignored=order)
    if desc_info.compress_type != zipfile.ZIP_STORED:
        report.error(DESC, "entry-compressed", "desc.txt is compressed; the player maps it raw and finds no "
                     "parts (store it: zip -0)")
    desc_data = _read_entry(zf, desc_info, report)
    anim = parse_desc(desc_data or b"", report)
    part_paths = {p.path for p in anim.parts if not p.system}
    by_path: dict[str, list[Part]] = {}
    for p in anim.parts:
        by_path.setdefault(p.path, []).append(p)
    ignored: list[str] = []
    unused: dict[str, int] = {}
    for name in order:
        if name == DESC:
            continue
        info = files[name]
        folder, _, leaf = name.rpartition("/")
        stored = info.compress_type == zipfile.ZIP_STORED
        if name in FONT_ENTRIES:
            if not stored:
                report.error(name, "entry-compressed", "is compressed; the player maps it raw (store it: zip -0)")
            font = _read_entry(zf, info, report)
            if font is not None:
                facts = _image_facts(font)
                if isinstance(facts, str) or facts[0] != "PNG":
                    report.error(name, "font-format", f"must be a PNG ({facts if isinstance(facts, str) else 'JPEG'})")
                anim.fonts[name] = font
            continue
        if _is_junk(name):
            ignored.append(name)
            if folder in part_paths and stored:
                report.warning(name, "entry-junk", "a desktop system's file in a part folder: the player takes it "
                               "as a frame that does not decode (an empty frame); remove it")
            elif folder in part_paths:
                report.warning(name, "entry-junk", "a desktop system's file in a part folder; the player skips it "
                               "because it is compressed; remove it")
            else:
                report.warning(name, "entry-junk", "a desktop system's file; the player ignores it; remove it")
            continue
        if folder not in part_paths:
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
        for part in by_path[folder]:
            if leaf == "audio.wav":
                if not (content[:4] == b"RIFF" and content[8:12] == b"WAVE"):
                    report.error(name, "audio-format", "is not a RIFF/WAVE file")
                part.audio = content
            elif leaf == "trim.txt":
                if part is by_path[folder][0]:
                    _parse_trim(part, content, name, report)
                else:
                    part.trim = by_path[folder][0].trim
            else:
                part.frames.append((leaf, content))
    for top, count in sorted(unused.items()):
        report.warning(top, "entry-unused", f"{count} entr{'y' if count == 1 else 'ies'} no desc.txt line plays; "
                       "the player ignores them")
    checked: set[str] = set()
    for part in anim.parts:
        if part.system:
            continue
        if not any(n.startswith(part.path + "/") for n in files):
            report.error(f"{part.path}/", "part-missing", f"desc.txt plays part {part.path}, but the archive has "
                         "no such folder")
        elif not part.frames:
            report.error(f"{part.path}/", "part-empty", f"part {part.path} has no frames")
        else:
            _check_frames(anim, part, report, checked)
    if screen is not None and anim.width > 0:
        sw, sh = screen
        if anim.width > sw or anim.height > sh:
            report.warning(DESC, "size-screen", f"the animation is {anim.width}x{anim.height}, larger than the "
                           f"{sw}x{sh} screen; the player centres it and crops the edges", 1)
    return Inspection(source, anim, report.findings, ignored)


def load_bootanimation_bytes(path: Path) -> tuple[bytes, str]:
    """The bytes of a bootanimation.zip, given the zip itself or a target-files dir/zip holding one.

    Returns (bytes, a name to show in messages).
    """
    shown = shown_path(path)
    if not path.exists():
        raise InputError("file not found", file=shown)

    def whole_file() -> tuple[bytes, str]:
        if path.stat().st_size > MAX_TOTAL_BYTES:
            raise InputError(f"is over the {MAX_TOTAL_BYTES >> 20} MiB limit for a boot animation", file=shown)
        return path.read_bytes(), shown

    if path.is_file():
        try:
            with zipfile.ZipFile(path) as zf:  # a target-files zip is large: look before reading
                if DESC in zf.NameToInfo:
                    return whole_file()
        except (zipfile.BadZipFile, OSError):
            raise InputError("not a zip archive (expected a bootanimation.zip or a target-files zip)",
                             file=shown) from None
        try:
            tree = RomTree.open(path)
        except InputError:
            return whole_file()  # not a target-files: check it as a (broken) boot animation
        if not tree.partitions():
            return whole_file()
    else:
        tree = RomTree.open(path)
    found = read_from_tree(tree, shown)
    if found is None:
        where = " or ".join(f"/{p}/{q}" for p, q in DEVICE_LOCATIONS)
        raise InputError(f"this target-files holds no boot animation ({where})", file=shown)
    return found[0], found[1]


def find_in_tree(tree: RomTree) -> tuple[str, str] | None:
    """The (partition, path) of the boot animation a device would play from this tree."""
    for partition, rel in DEVICE_LOCATIONS:
        entry = tree.get(partition, rel)
        if entry is not None and entry.kind == "file":
            return partition, rel
    return None


def read_from_tree(tree: RomTree, shown: str) -> tuple[bytes, str, tuple[str, str]] | None:
    """(bytes, name to show, (partition, path)) of the tree's boot animation, size-capped; None without one."""
    found = find_in_tree(tree)
    if found is None:
        return None
    where = f"{shown}:/{found[0]}/{found[1]}"
    if tree.size(*found) > MAX_TOTAL_BYTES:
        raise InputError(f"is over the {MAX_TOTAL_BYTES >> 20} MiB limit for a boot animation", file=where)
    return tree.read(*found), where, found


# ---- combining -----------------------------------------------------------------------


def fit_to_screen(anim: BootAnimation, width: int, height: int) -> tuple[BootAnimation, str | None]:
    """The same animation on a width×height canvas, its frames untouched.

    The player centres a WIDTH×HEIGHT animation on the screen. When the canvas changes
    (credits are drawn at the device's resolution), trim.txt keeps the original frames where
    they were: centred at their own size, or scaled down to fit when larger than the canvas.
    Returns the new animation and a sentence saying what was done (None when nothing was).
    """
    if (anim.width, anim.height) == (width, height):
        return anim, None
    scale = min(1.0, width / anim.width, height / anim.height)
    shown_w, shown_h = round(anim.width * scale), round(anim.height * scale)
    ox, oy = (width - shown_w) // 2, (height - shown_h) // 2
    parts = []
    for part in anim.parts:
        if part.system:
            parts.append(part)
            continue
        old = part.trim or []
        trims = []
        for index in range(len(part.frames)):
            t = old[index] if index < len(old) else Trim(anim.width, anim.height, 0, 0)
            trims.append(Trim(round(t.width * scale), round(t.height * scale),
                              ox + round(t.x * scale), oy + round(t.y * scale)))
        parts.append(replace(part, trim=trims))
    how = "scaled to" if scale < 1.0 else "kept at"
    note = (f"the base animation is {anim.width}x{anim.height}; on the {width}x{height} canvas its frames are "
            f"{how} {shown_w}x{shown_h} at +{ox}+{oy} through trim.txt (frames unchanged)")
    return replace(anim, width=width, height=height, parts=parts), note


def unique_part_path(anim: BootAnimation, wanted: str) -> str:
    taken = {p.path for p in anim.parts}
    if wanted not in taken:
        return wanted
    n = 1
    while f"{wanted}_{n}" in taken:
        n += 1
    return f"{wanted}_{n}"


def with_parts(anim: BootAnimation, extra: list[Part], placement: str) -> BootAnimation:
    """The animation with `extra` parts played after (or before) its own."""
    if placement not in ("after", "before"):
        raise ValueError(f"placement must be 'after' or 'before', not {placement!r}")
    parts = list(anim.parts) + extra if placement == "after" else extra + list(anim.parts)
    return replace(anim, parts=parts)


def check_file(path: Path, *, screen: tuple[int, int] | None = None) -> Inspection:
    """`romforge bootanim check`: a bootanimation.zip, or the one inside a target-files."""
    data, shown = load_bootanimation_bytes(Path(path))
    return read_bootanimation(data, source=shown, screen=screen)

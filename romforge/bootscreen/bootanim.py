"""bootanimation.zip: the model of an animation, desc.txt as written, and the zip writer.

Format (frameworks/base/cmds/bootanimation/FORMAT.md): desc.txt whose first line is
`WIDTH HEIGHT FPS [PROGRESS]` and then one line per part `TYPE COUNT PAUSE PATH [FADE]
[#RGBHEX [CLOCK1 [CLOCK2]]]`; each part is a folder of frames played in name order, with
an optional trim.txt and audio.wav. The zip must be STORED: the player maps frames
straight out of it.

The bootscreen package splits the format by concern: this module (model, writing),
`desc` (reading desc.txt and trim.txt the way the player's parser does), `frames` (frame
images), `archive` (reading and checking a zip), `source` (finding one in a file or
target-files) and `fitting` (placing an animation on another canvas, adding parts).
"""

from __future__ import annotations

import io
import stat
import zipfile
from dataclasses import dataclass, field

from romforge.errors import Finding

ZIP_DATE = (2009, 1, 1, 0, 0, 0)
DESC = "desc.txt"
FONT_ENTRIES = ("clock_font.png", "progress_font.png")
PART_TYPES = ("p", "c", "f")
MAX_SIDE = 8192  # widest screen a profile may declare
MAX_PATH = 255  # the player's ANIM_PATH_MAX; longer part paths and entry names are cut or skipped
MAX_FINDINGS = 1000  # findings kept per archive; the rest are counted


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



# ---- what a check found --------------------------------------------------------------


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


class Report:
    """Collects findings, each anchored at `source`/entry (and line); past MAX_FINDINGS they are
    only counted, so a hostile archive cannot make the report itself huge."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.findings: list[Finding] = []
        self.unshown = {"error": 0, "warning": 0}

    def error(self, entry: str | None, rule: str, message: str, line: int | None = None) -> None:
        self._add(entry, rule, "error", message, line)

    def warning(self, entry: str | None, rule: str, message: str, line: int | None = None) -> None:
        self._add(entry, rule, "warning", message, line)

    def _add(self, entry: str | None, rule: str, severity: str, message: str, line: int | None) -> None:
        if len(self.findings) >= MAX_FINDINGS:
            self.unshown[severity] += 1
            return
        where = f"{self.source}/{printable(entry)}" if entry else self.source
        self.findings.append(Finding(where, line, rule, severity, message))

    def done(self) -> list[Finding]:
        """The findings, with one more saying how many were left out."""
        errors, warnings = self.unshown["error"], self.unshown["warning"]
        if not errors and not warnings:
            return self.findings
        more = Finding(self.source, None, "findings-limit", "error" if errors else "warning",
                       f"{errors} more error(s) and {warnings} more warning(s) not shown")
        return self.findings + [more]


def printable(text: str) -> str:
    """Entry names come from the archive: show control characters escaped, never raw."""
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)


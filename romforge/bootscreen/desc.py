"""desc.txt and trim.txt read the way the boot animation player reads them.

Where FORMAT.md and the player's parser (BootAnimation.cpp) disagree, the reader follows
the parser, because that is what a phone runs: a last line without a newline is ignored,
FADE is read only on `f` lines and unknown part letters play like `p`. Every line the
player would drop or misread becomes a finding with its line number.
"""

from __future__ import annotations

import re

from romforge.bootscreen.bootanim import (DESC, MAX_PATH, MAX_SIDE, PART_TYPES, BootAnimation, DynamicColors, Part,
                                         Report, Trim)
from romforge.errors import InputError

MAX_PARTS = 1000  # part lines; real animations have a handful
_HEX6 = re.compile(r"^#[0-9A-Fa-f]{6}$")
# sscanf's %d reads ASCII digits only: "١٢" or "２３" are not numbers to the player, "²³" not to anyone
_CLOCK = re.compile(r"^(c|-?[0-9]+)$")
_INT = re.compile(r"[+-]?[0-9]+")
_TRIM = re.compile(r"^\s*([0-9]+)x([0-9]+)\+(-?[0-9]+)\+(-?[0-9]+)\s*$")
_INT32 = (-(1 << 31), (1 << 31) - 1)


class _Overflow(Exception):
    """A number the player's 32-bit int cannot hold; the line it is on is reported and dropped."""

    def __init__(self, text: str) -> None:
        digits = len(text.lstrip("+-"))
        shown = text if len(text) <= 16 else f"{text[:12]}… ({digits} digits)"
        super().__init__(f"{shown} does not fit the player's 32-bit number")


def _int(text: str) -> int:
    """An ASCII integer as sscanf's %d would hold it; _Overflow past 32 bits (never a huge int)."""
    sign = "-" if text.startswith("-") else ""
    digits = text.lstrip("+-").lstrip("0") or "0"
    value = int(sign + digits) if len(digits) <= 10 else None
    if value is None or not _INT32[0] <= value <= _INT32[1]:
        raise _Overflow(text)
    return value


def _scan_int(line: str, pos: int) -> tuple[int | None, int]:
    """sscanf's %d: skip whitespace, then an optional sign and digits."""
    while pos < len(line) and line[pos].isspace():
        pos += 1
    m = _INT.match(line, pos)
    if not m:
        return None, pos
    return _int(m.group()), m.end()


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


def _parse_part_rest(part: Part, rest: str, line_no: int, report: Report) -> None:
    tokens = rest.split()
    if part.type == "f":
        if tokens and _INT.fullmatch(tokens[0]):
            part.fade = _int(tokens.pop(0))
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


def _parse_part(raw: str, line_no: int, report: Report) -> Part | None:
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


def _parse_dynamic_colors(line: str, line_no: int, report: Report) -> DynamicColors | None:
    tokens = line.split()
    colors = tokens[2:6]
    if len(tokens) < 6 or not all(_HEX6.match(c) for c in colors):
        report.error(DESC, "desc-dynamic-colors", "expected `dynamic_colors PATH #RRGGBB #RRGGBB #RRGGBB "
                     "#RRGGBB [START END]`", line_no)
        return None
    transition = None
    if len(tokens) >= 8 and all(_INT.fullmatch(t) for t in tokens[6:8]):
        transition = (_int(tokens[6]), _int(tokens[7]))
    elif len(tokens) > 6:
        report.error(DESC, "desc-dynamic-colors", "after the four colours only two numbers (START END) may "
                     "follow", line_no)
    return DynamicColors(tokens[1], tuple(colors), transition)  # type: ignore[arg-type]


def _parse_line(anim: BootAnimation, raw: str, line_no: int, header_line: int | None, report: Report) -> int | None:
    """One desc.txt line into `anim`; returns the header's line number as it now stands."""
    line = raw[:-1] if raw.endswith("\r") else raw
    if not line.strip():
        return header_line
    numbers = _header_numbers(line)
    if numbers is not None:
        if header_line is not None:
            report.error(DESC, "desc-header", f"a second `WIDTH HEIGHT FPS` line (the first is line "
                         f"{header_line}); the player takes the last one", line_no)
        elif anim.parts:
            report.error(DESC, "desc-header", "the `WIDTH HEIGHT FPS` line must come first", line_no)
        anim.width, anim.height, anim.fps = numbers[:3]
        anim.progress = numbers[3] if len(numbers) == 4 else None
        if len(line.split()) != len(numbers):
            report.error(DESC, "desc-header", "expected only `WIDTH HEIGHT FPS [PROGRESS]` (whole numbers)",
                         line_no)
        return line_no
    if line.startswith("dynamic_colors"):
        anim.dynamic_colors = _parse_dynamic_colors(line, line_no, report) or anim.dynamic_colors
        return header_line
    if raw == "$SYSTEM":  # strcmp on the raw line: a CRLF `$SYSTEM` line does not match
        anim.parts.append(Part("p", 1, 0, "$SYSTEM", system=True))
        return header_line
    part = _parse_part(line, line_no, report)
    if part is None:
        hint = (" (a `$SYSTEM` line must be exactly that, with an LF line end)"
                if line.strip().startswith("$SYSTEM") else
                "; a part line must not start with whitespace" if line[0].isspace() else "")
        report.error(DESC, "desc-line", f"{line[:60]!r} is not a header, part or dynamic_colors "
                     f"line; the player drops it{hint}", line_no)
        return header_line
    anim.parts.append(part)
    return header_line


def parse_desc(data: bytes, report: Report) -> BootAnimation:
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
        try:
            header_line = _parse_line(anim, raw, line_no, header_line, report)
        except _Overflow as exc:
            report.error(DESC, "desc-number", f"{exc}; the player cannot read the line", line_no)
        if len(anim.parts) > MAX_PARTS:
            raise InputError(f"plays more than {MAX_PARTS} parts; no boot animation needs that many",
                             file=f"{report.source}/{DESC}", line=line_no)
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


def parse_trim(part: Part, data: bytes, entry: str, report: Report) -> None:
    trims: list[Trim] = []
    text = data.decode("utf-8", "replace")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    for line_no, raw in enumerate(lines, 1):
        m = _TRIM.match(raw)
        problem = None if m else f"{raw[:40]!r} is not WxH+X+Y"
        if m:
            try:
                trims.append(Trim(*(_int(g) for g in m.groups())))
            except _Overflow as exc:
                problem = str(exc)
        if problem:
            report.error(entry, "trim-line", f"{problem}; the player stops reading trim.txt here", line_no)
            break
    part.trim = trims


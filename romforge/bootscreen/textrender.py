"""Drawing one line of text in any script with real fonts: per-glyph font fallback + shaping.

Pillow draws with one font at a time and has no fallback, so a name that mixes Latin,
Chinese and an emoji is split into runs, each drawn with the first font whose cmap has
its characters (fontTools reads the cmaps): DejaVu Sans for Latin, Cyrillic, Greek and
Arabic, Droid Sans Fallback for CJK, Noto Color Emoji for emoji.

Text is cut only between extended grapheme clusters (UAX #29, the `regex` module's \\X),
so an emoji ZWJ sequence, a flag, a skin tone, a Hangul syllable or a Devanagari conjunct
is never split. Mixed right-to-left and left-to-right text is ordered by the Unicode
Bidirectional Algorithm (UAX #9, python-bidi's levels): runs are split where the font or
the embedding level changes and placed in the order rule L2 gives; each run is shaped in
its own direction by Pillow's raqm layout (Arabic joining, mirrored brackets, emoji
sequences). Without raqm the basic layout draws characters one by one (unshaped, which we
report rather than hide), still in the visual order.
A character no font has is left out and reported: never drawn as a tofu box.
"""

from __future__ import annotations

import hashlib
import os
import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import regex
from bidi import get_base_level, get_display
from bidi.mirror import MIRRORED
from fontTools.ttLib import TTFont, TTLibError
from PIL import Image, ImageDraw, ImageFont, features

from romforge.errors import ToolMissingError

FONT_DIRS = (Path("/usr/share/fonts"),)
ELLIPSIS = "\u2026"
EMOJI_EM = 0.85  # colour emoji bitmaps are taller than an em; draw them about cap height
ZWJ, ZWNJ = "\u200d", "\u200c"


class FontMissingError(ToolMissingError):
    """A font the renderer needs is not installed."""

    def __init__(self, family: str, filename: str, package: str) -> None:
        super().__init__(filename, package)
        self.message = f"font {family} ({filename}) was not found under {', '.join(map(str, font_dirs()))}"


@dataclass(frozen=True)
class FontSpec:
    family: str
    filename: str
    package: str  # the Debian package that installs it (`make setup` does)
    role: str  # text | cjk | emoji
    bold_filename: str | None = None
    required: bool = True


# Fallback order: the first font whose cmap has a character draws it.
FONTS = (
    FontSpec("DejaVu Sans", "DejaVuSans.ttf", "fonts-dejavu-core", "text", bold_filename="DejaVuSans-Bold.ttf"),
    FontSpec("Droid Sans Fallback", "DroidSansFallbackFull.ttf", "fonts-droid-fallback", "cjk"),
    FontSpec("Noto Color Emoji", "NotoColorEmoji.ttf", "fonts-noto-color-emoji", "emoji", required=False),
)


def font_dirs() -> list[Path]:
    extra = [Path(p) for p in os.environ.get("ROMFORGE_FONT_DIRS", "").split(os.pathsep) if p]
    return extra + list(FONT_DIRS)


@lru_cache(maxsize=16)
def _find(filename: str) -> Path | None:
    for root in font_dirs():
        if not root.is_dir():
            continue
        direct = sorted(root.rglob(filename))
        if direct:
            return direct[0]
    return None


@dataclass(frozen=True)
class Face:
    spec: FontSpec
    path: Path
    bold_path: Path | None
    cmap: frozenset[int]
    fixed_size: int | None  # bitmap-only fonts (CBDT emoji) draw at one size, we scale
    sha256: str

    @property
    def is_color(self) -> bool:
        return self.fixed_size is not None

    def font(self, px: int, bold: bool, layout: ImageFont.Layout) -> ImageFont.FreeTypeFont:
        path = self.bold_path if bold and self.bold_path else self.path
        return _truetype(str(path), self.fixed_size or px, layout)


@lru_cache(maxsize=64)
def _truetype(path: str, px: int, layout: ImageFont.Layout) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, px, layout_engine=layout)


@lru_cache(maxsize=8)
def _load_face(spec: FontSpec, path: Path, bold: Path | None) -> Face:
    try:
        tt = TTFont(str(path), lazy=True)
        cmap = frozenset(tt.getBestCmap() or {})
        fixed = None
        if "CBDT" in tt or "sbix" in tt:
            sizes = sorted(s.bitmapSizeTable.ppemY for s in tt["CBLC"].strikes) if "CBLC" in tt else []
            fixed = sizes[-1] if sizes else 109
        tt.close()
    except (TTLibError, OSError, KeyError, AttributeError) as exc:
        raise FontMissingError(spec.family, f"{spec.filename} (unreadable: {exc})", spec.package) from None
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return Face(spec, path, bold, cmap, fixed, digest)


_GRAPHEME = regex.compile(r"\X")
_LEVEL = re.compile(r"Level\(\s*(\d+),?\s*\)")
# Rule L1: these go back to the paragraph level at the end of a line and before a separator.
_L1_RESET = {"WS", "FSI", "LRI", "RLI", "PDI", "BN"}


def clusters(text: str) -> list[str]:
    """Extended grapheme clusters (UAX #29): what a reader sees as one character."""
    return _GRAPHEME.findall(text)


def bidi_levels(text: str) -> tuple[int, list[int]]:
    """(paragraph level, embedding level of every code point) by the Unicode Bidirectional Algorithm.

    python-bidi's unicode-bidi engine resolves the levels (`debug=True` returns them, one per
    UTF-8 byte); rule L1 (trailing whitespace back to the paragraph level) is applied here,
    as it belongs to line layout.
    """
    base = get_base_level(text) if text else 0
    if not text:
        return base, []
    info = get_display(text, debug=True)
    start = info.find("\n    levels: [")
    end = info.find("\n    ],", start)
    by_byte = [int(n) for n in _LEVEL.findall(info, start, end)] if start >= 0 else []
    if len(by_byte) != len(text.encode("utf-8")):
        raise RuntimeError("python-bidi returned levels in a form this romforge does not know")
    levels, offset = [], 0
    for ch in text:
        levels.append(by_byte[offset])
        offset += len(ch.encode("utf-8"))
    trailing = True
    for i in range(len(text) - 1, -1, -1):
        kind = unicodedata.bidirectional(text[i])
        if kind in ("S", "B"):
            levels[i], trailing = base, True
        elif trailing and kind in _L1_RESET:
            levels[i] = base
        else:
            trailing = False
    return base, levels


def visual_order(levels: list[int]) -> list[int]:
    """Rule L2: indices in display order, left to right.

    From the highest level down to the lowest odd one, every maximal sequence at that level
    or above is reversed.
    """
    order = list(range(len(levels)))
    if not levels:
        return order
    for level in range(max(levels), (min(levels) | 1) - 1, -1):
        i = 0
        while i < len(order):
            if levels[order[i]] < level:
                i += 1
                continue
            j = i
            while j < len(order) and levels[order[j]] >= level:
                j += 1
            order[i:j] = order[i:j][::-1]
            i = j
    return order


def _mirrored_reversed(run: str) -> str:
    """A right-to-left run in display order for a layout that does not reorder: clusters
    reversed, brackets mirrored (rule L4)."""
    return "".join(MIRRORED.get(cl, cl) for cl in reversed(clusters(run)))


def _wants_emoji(cluster: str) -> bool:
    return (any(ord(c) >= 0x1F000 for c in cluster) or "\ufe0f" in cluster or ZWJ in cluster
            or any(0x1F3FB <= ord(c) <= 0x1F3FF for c in cluster))


def _neutral(cluster: str) -> bool:
    return unicodedata.bidirectional(cluster[0]) in ("WS", "ON", "CS", "ES", "ET", "EN", "AN", "BN", "NSM")


@dataclass(frozen=True)
class Run:
    """Part of a line drawn with one font at one embedding level."""

    face: Face
    text: str  # in logical order; shaped right-to-left when `rtl`
    rtl: bool
    start: int  # where the run starts in the drawn text (logical order)


@dataclass
class Line:
    """One drawn line: an RGBA image whose baseline is `ascent` pixels from its top."""

    image: Image.Image
    ascent: int  # baseline, from the image's top
    advance: int  # width of the text itself; the image has `pad` more on each side
    pad: int
    text: str  # what was drawn (after leaving out undrawable characters and truncation)
    direction: str  # ltr | rtl
    color: bool  # holds colour glyphs (emoji), so the page cannot be greyscale
    missing: list[str] = field(default_factory=list)  # characters no font has
    truncated: bool = False


class Typesetter:
    """Fonts found on this machine plus the layout engine; draws lines of text."""

    def __init__(self, faces: list[Face], shaping: str) -> None:
        self.faces = faces
        self.shaping = shaping
        self.layout = ImageFont.Layout.RAQM if shaping == "raqm" else ImageFont.Layout.BASIC

    @classmethod
    def load(cls, shaping: str | None = None) -> "Typesetter":
        """Find the fonts; raqm shaping when Pillow has it ('basic' forces the fallback layout)."""
        faces = []
        for spec in FONTS:
            path = _find(spec.filename)
            if path is None:
                if spec.required:
                    raise FontMissingError(spec.family, spec.filename, spec.package)
                continue
            bold = _find(spec.bold_filename) if spec.bold_filename else None
            faces.append(_load_face(spec, path, bold))
        if shaping is None or not features.check("raqm"):
            shaping = "raqm" if features.check("raqm") else "basic"
        return cls(faces, shaping)

    def describe(self) -> list[dict[str, str]]:
        return [{"family": f.spec.family, "package": f.spec.package, "file": f.path.name, "sha256": f.sha256}
                for f in self.faces]

    def face_for(self, cluster: str, current: Face | None = None) -> Face | None:
        """The first font that has the cluster's base character (emoji prefer the colour font)."""
        base = ord(cluster[0])
        if current is not None and not current.is_color and _neutral(cluster) and base in current.cmap:
            return current  # spaces and punctuation stay in the run they are in
        order = self.faces
        if _wants_emoji(cluster):
            order = [f for f in self.faces if f.is_color] + [f for f in self.faces if not f.is_color]
        return next((face for face in order if base in face.cmap), None)

    def _place(self, text: str) -> tuple[list[tuple[Face, str]], list[str]]:
        """(font, cluster) for every cluster some font has, in logical order, and the clusters none has."""
        placed: list[tuple[Face, str]] = []
        missing: list[str] = []
        for cl in clusters(text):
            face = self.face_for(cl, placed[-1][0] if placed else None)
            if face is None:
                missing.append(cl)
            else:
                placed.append((face, cl))
        return placed, missing

    def runs(self, text: str) -> tuple[list[tuple[Face, str]], list[str]]:
        """Split text into (font, run) pieces in logical order; characters no font has are dropped."""
        placed, missing = self._place(text)
        out: list[tuple[Face, str]] = []
        for face, cl in placed:
            if out and out[-1][0] is face:
                out[-1] = (face, out[-1][1] + cl)
            else:
                out.append((face, cl))
        return out, missing

    def visual_runs(self, text: str) -> tuple[list[Run], list[str], int]:
        """The drawable text as runs in display order (left to right), the clusters no font
        has, and the paragraph's embedding level (odd: right-to-left).

        A run is one font at one embedding level; each is shaped in its own direction.
        """
        placed, missing = self._place(text)
        base, levels = bidi_levels("".join(cl for _, cl in placed))
        logical: list[tuple[Face, int, str, int]] = []  # (font, level, text, start)
        offset = 0
        for face, cl in placed:
            level = levels[offset]
            if logical and logical[-1][0] is face and logical[-1][1] == level:
                logical[-1] = logical[-1][:2] + (logical[-1][2] + cl, logical[-1][3])
            else:
                logical.append((face, level, cl, offset))
            offset += len(cl)
        order = visual_order([run[1] for run in logical])
        runs = [Run(logical[i][0], logical[i][2], logical[i][1] % 2 == 1, logical[i][3]) for i in order]
        return runs, missing, base

    def line(self, text: str, px: int, *, fill: tuple[int, int, int] = (255, 255, 255), bold: bool = False,
             max_width: int | None = None) -> Line:
        """Draw `text` at `px` pixels per em; cut with an ellipsis when wider than max_width."""
        drawn = self._draw(text, px, fill, bold)
        if max_width is None or drawn.advance <= max_width:
            return drawn
        parts = clusters(text)
        low, high = 0, len(parts) - 1
        best = self._draw(ELLIPSIS, px, fill, bold)
        while low <= high:
            mid = (low + high) // 2
            attempt = self._draw("".join(parts[:mid]).rstrip() + ELLIPSIS, px, fill, bold)
            if attempt.advance <= max_width:
                best, low = attempt, mid + 1
            else:
                high = mid - 1
        best.truncated = True
        best.missing = drawn.missing
        return best

    def _draw(self, text: str, px: int, fill: tuple[int, int, int], bold: bool) -> Line:
        runs, missing, base = self.visual_runs(text)
        pieces = []  # (face, font, text, layout options, scale, advance, ascent, descent)
        for run in runs:
            font = run.face.font(px, bold, self.layout)
            scale = EMOJI_EM * px / run.face.fixed_size if run.face.fixed_size else 1.0
            ascent, descent = font.getmetrics()
            if self.shaping == "raqm":  # raqm shapes the run in its direction and mirrors brackets
                drawn, options = run.text, {"direction": "rtl" if run.rtl else "ltr"}
            else:  # the basic layout draws characters left to right as given
                drawn, options = (_mirrored_reversed(run.text) if run.rtl else run.text), {}
            advance = font.getlength(drawn, **options) * scale
            pieces.append((run.face, font, drawn, options, scale, advance, ascent * scale, descent * scale))
        pad = max(2, px // 6)
        ascent = int(max([p[6] for p in pieces] + [px * 0.9])) + pad
        descent = int(max([p[7] for p in pieces] + [px * 0.25])) + pad
        width = round(sum(p[5] for p in pieces))
        canvas = Image.new("RGBA", (width + 2 * pad, ascent + descent), (0, 0, 0, 0))
        x = float(pad)
        color = False
        for face, font, run, options, scale, advance, _, _ in pieces:
            if face.is_color:
                color = True
                raw_ascent, raw_descent = font.getmetrics()
                raw_w = max(1, int(font.getlength(run, **options)) + 2)
                glyphs = Image.new("RGBA", (raw_w, raw_ascent + raw_descent), (0, 0, 0, 0))
                ImageDraw.Draw(glyphs).text((0, raw_ascent), run, font=font, anchor="ls", embedded_color=True,
                                            **options)
                size = (max(1, round(raw_w * scale)), max(1, round(glyphs.height * scale)))
                glyphs = glyphs.convert("RGBa").resize(size, Image.Resampling.LANCZOS).convert("RGBA")
                canvas.alpha_composite(glyphs, (round(x), max(0, ascent - round(raw_ascent * scale))))
            else:
                mask = Image.new("L", canvas.size, 0)
                ImageDraw.Draw(mask).text((x, ascent), run, font=font, anchor="ls", fill=255, **options)
                canvas.paste(Image.new("RGBA", canvas.size, fill + (255,)), (0, 0), mask)
            x += advance
        shown = "".join(run.text for run in sorted(runs, key=lambda r: r.start))
        return Line(canvas, ascent, width, pad, shown, "rtl" if base % 2 else "ltr", color, missing)

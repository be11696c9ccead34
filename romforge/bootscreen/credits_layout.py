"""Credits pages: which contributors go on which page, at the device's resolution and density.

However many rows the CSV has, at most `max_names` names on at most `max_frames` frames
are laid out; each page becomes one `c` part (fade-in frames, then the page held by
PAUSE), so a page costs one full frame.
"""

from __future__ import annotations

from dataclasses import dataclass

from romforge.bootscreen.contributors import Contributor, sanitize
from romforge.bootscreen.textrender import Line, Typesetter
from romforge.profile import DeviceProfile, Screen

TITLE_COLOR = (255, 105, 0)
NAME_COLOR = (255, 255, 255)
META_COLOR = (150, 150, 150)


# ---- options -------------------------------------------------------------------------


@dataclass(frozen=True)
class CreditsOptions:
    """The profile's [bootanimation] table with defaults filled in."""

    enabled: bool | None = None  # None: render when the workspace has credits/contributors.csv
    placement: str = "after"  # credits after the original animation, or before it
    max_names: int = 100
    max_frames: int = 24  # frames drawn for the credits (pages × (fade_frames + 1))
    page_seconds: int = 3
    fade_frames: int = 2
    title: str = "Thank you, our first {count} testers"

    @classmethod
    def from_profile(cls, profile: DeviceProfile) -> "CreditsOptions":
        table = dict(profile.bootanimation)
        enabled = table.pop("credits", None)
        return cls(enabled=enabled, **table)

# ---- layout --------------------------------------------------------------------------


@dataclass
class Entry:
    contributor: Contributor
    name: Line
    meta: Line


@dataclass
class CreditsLayout:
    """Which contributors go on which page, with every line already drawn."""

    width: int
    height: int
    fps: int
    title: Line
    pages: list[list[Entry]]
    columns: int
    rows: int
    column_width: int
    fade_frames: int
    hold_frames: int  # frames each page stays on screen, fade included
    limited_by: str | None  # "max_names" | "max_frames" | None
    px: dict[str, int]

    @property
    def shown(self) -> list[Contributor]:
        return [e.contributor for page in self.pages for e in page]

    @property
    def frame_count(self) -> int:
        return len(self.pages) * (self.fade_frames + 1)


def _px(dp: float, density: int) -> int:
    return max(1, round(dp * density / 160))


def _extent(line: Line) -> tuple[int, int]:
    """(ascent, descent) of the drawn text without the image's padding."""
    return line.ascent - line.pad, line.image.height - line.ascent - line.pad


def lay_out(contributors: list[Contributor], typesetter: Typesetter, screen: Screen, options: CreditsOptions,
            fps: int) -> CreditsLayout:
    """Pages of names at the screen's resolution and density, within the name and frame caps."""
    w, h, d = screen.width, screen.height, screen.density
    px = {"title": _px(22, d), "name": _px(18, d), "meta": _px(12, d), "footer": _px(12, d)}
    margin, gutter, gap = _px(24, d), _px(16, d), _px(12, d)
    content_w = w - 2 * margin
    fade = min(options.fade_frames, options.max_frames - 1)
    max_pages = max(1, options.max_frames // (fade + 1))
    candidates = contributors[: options.max_names]

    names = [typesetter.line(c.name, px["name"], fill=NAME_COLOR) for c in candidates]
    half = (content_w - gutter) // 2
    columns = 2 if names and sum(n.advance <= half for n in names) >= 0.9 * len(names) else 1
    col_w = half if columns == 2 else content_w
    # Baselines come from lines holding Latin and CJK, so every row has the same pitch.
    name_asc, name_desc = _extent(typesetter.line("Ag\u4e2d", px["name"]))
    meta_asc, meta_desc = _extent(typesetter.line("Ag\u4e2d", px["meta"]))
    title_asc, title_desc = _extent(typesetter.line("Ag\u4e2d", px["title"], bold=True))
    footer_asc, footer_desc = _extent(typesetter.line("0", px["footer"]))
    entry_h = name_asc + name_desc + meta_asc + meta_desc + gap
    title_baseline = _px(48, d) + title_asc
    top = title_baseline + title_desc + _px(20, d)
    footer_baseline = h - _px(32, d) - footer_desc
    bottom = footer_baseline - footer_asc - _px(12, d)
    rows = max(1, (bottom - top) // entry_h)
    per_page = rows * columns
    shown_count = min(len(candidates), max_pages * per_page)
    limited_by = ("max_frames" if shown_count < len(candidates)
                  else "max_names" if len(contributors) > options.max_names else None)
    entries = []
    for c, drawn in zip(candidates[:shown_count], names):
        text = c.name if drawn.text.strip() or not c.handle else f"@{c.handle}"  # no font draws the name
        name = drawn if text == c.name and drawn.advance <= col_w else typesetter.line(
            text, px["name"], fill=NAME_COLOR, max_width=col_w)
        name.missing = drawn.missing
        meta_text = " \u00b7 ".join(x for x in (f"@{c.handle}" if c.handle else "", c.joined.isoformat()) if x)
        meta = typesetter.line(meta_text, px["meta"], fill=META_COLOR, max_width=col_w)
        entries.append(Entry(c, name, meta))
    title_text, _ = sanitize(options.title.replace("{count}", str(shown_count)), 80)
    title = _fitting_title(typesetter, title_text, px["title"], content_w)
    pages = [entries[i:i + per_page] for i in range(0, len(entries), per_page)]
    hold = max(fade + 1, options.page_seconds * fps)
    spots = {"margin": margin, "gutter": gutter, "top": top, "entry": entry_h, "title_baseline": title_baseline,
             "name_baseline": name_asc, "meta_baseline": name_asc + name_desc + meta_asc,
             "footer_baseline": footer_baseline}
    return CreditsLayout(w, h, fps, title, pages, columns, rows, col_w, fade, hold, limited_by, px | spots)


def _fitting_title(typesetter: Typesetter, text: str, px: int, width: int) -> Line:
    """The title at its size, else smaller (down to two thirds), else cut with an ellipsis."""
    for size in range(px, max(1, px * 2 // 3) - 1, -max(1, px // 12)):
        line = typesetter.line(text, size, fill=TITLE_COLOR, bold=True)
        if line.advance <= width:
            return line
    return typesetter.line(text, max(1, px * 2 // 3), fill=TITLE_COLOR, bold=True, max_width=width)


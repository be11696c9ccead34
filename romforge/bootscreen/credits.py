"""Boot-screen credits: credits/contributors.csv → pages of names → extra bootanimation parts.

The CSV comes from outside the team and may hold anything: control characters and
bidi overrides are removed (and reported), stacked combining marks and long names are
cut, bad dates are errors with file:line, and however many rows there are, at most
`max_names` names on at most `max_frames` frames are drawn. Names are sorted by join date,
then name, and laid out at the device's resolution and density; each page becomes one
`c` part (fade-in frames, then the page held by PAUSE), so a page costs one full frame.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import os
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import PIL
from PIL import Image

from romforge.bootscreen.bootanim import (BootAnimation, Inspection, Part, fit_to_screen, read_bootanimation, read_from_tree,
                               unique_part_path, with_parts, write_bootanimation)
from romforge.errors import CheckFailed, ConfigError, Finding, InputError, shown_path
from romforge.profile import DeviceProfile, Screen
from romforge.safeio import read_csv
from romforge.bootscreen.textrender import ZWJ, ZWNJ, Line, Typesetter, clusters
from romforge.tree import FILE, RomTree
from romforge.workspace import Workspace

CREDITS_CSV = "credits/contributors.csv"
REQUIRED = ("name", "joined")
OPTIONAL = ("handle",)
MAX_CSV_BYTES = 4 << 20
MAX_ROWS = 100_000
MAX_NAME = 48  # characters kept of a name; longer ones are cut with an ellipsis
MAX_HANDLE = 32
MAX_MARKS = 3  # combining marks kept on one character ("zalgo" text is cut down)
MAX_NOTES = 20  # sanitizing notes kept per file; the rest are counted
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_BIDI_CONTROLS = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")

DEFAULT_FPS = 30
TITLE_COLOR = (255, 105, 0)
NAME_COLOR = (255, 255, 255)
META_COLOR = (150, 150, 150)
FOOTER_COLOR = (110, 110, 110)


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


# ---- the CSV -------------------------------------------------------------------------


@dataclass(frozen=True)
class Contributor:
    name: str
    handle: str
    joined: dt.date
    line: int

    def sort_key(self) -> tuple:
        return (self.joined, self.name.casefold(), self.name, self.handle, self.line)

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "handle": self.handle, "joined": self.joined.isoformat()}


@dataclass
class Credits:
    source: str  # as shown in messages and build-info (no host path)
    sha256: str
    contributors: list[Contributor]  # sorted by join date, then name
    notes: list[Finding] = field(default_factory=list)
    notes_total: int = 0


def _describe(ch: str) -> str:
    name = unicodedata.name(ch, "")
    return f"U+{ord(ch):04X}" + (f" {name}" if name else "")


def sanitize(text: str, limit: int) -> tuple[str, list[str]]:
    """Text safe to draw: NFC, no controls or bidi overrides, bounded marks, single spaces, cut at `limit`."""
    problems: list[str] = []
    kept: list[str] = []
    marks = 0
    for ch in unicodedata.normalize("NFC", text):
        category = unicodedata.category(ch)
        if ch in _BIDI_CONTROLS:
            problems.append(f"removed bidi control {_describe(ch)}")
            continue
        if category in ("Cc", "Cs", "Co", "Cn") or (category == "Cf" and ch not in (ZWJ, ZWNJ)):
            if not ch.isspace():
                problems.append(f"removed {'control' if category == 'Cc' else 'invisible'} character {_describe(ch)}")
                continue
        if category in ("Mn", "Me"):
            marks += 1
            if marks > MAX_MARKS:
                if not problems or not problems[-1].startswith("removed stacked"):
                    problems.append(f"removed stacked combining marks (more than {MAX_MARKS} on one character)")
                continue
        else:
            marks = 0
        kept.append(" " if ch.isspace() else ch)
    cleaned = " ".join("".join(kept).split())
    parts = clusters(cleaned)
    if len(parts) > limit:
        cleaned = "".join(parts[: limit - 1]).rstrip() + "\u2026"
        problems.append(f"cut to {limit} characters")
    return cleaned, list(dict.fromkeys(problems))


def read_credits(path: Path, *, shown: str | None = None) -> Credits:
    """Read, sanitize and sort the contributors; InputError (file:line) for what cannot be fixed."""
    where = shown or shown_path(path)
    rows = read_csv(path, required=REQUIRED, optional=OPTIONAL, shown=where, max_bytes=MAX_CSV_BYTES,
                    max_rows=MAX_ROWS)
    notes: list[Finding] = []
    total_notes = 0
    seen: set[tuple[str, str]] = set()
    people: list[Contributor] = []
    for row in rows:
        name, name_problems = sanitize(row.values["name"], MAX_NAME)
        handle, handle_problems = sanitize(row.values.get("handle", "").lstrip("@"), MAX_HANDLE)
        if not name:
            raise InputError("the name is empty" + (" once control characters are removed" if name_problems else ""),
                             file=where, line=row.line, hint="give every contributor a name, or delete the row")
        joined_text = row.values["joined"]
        try:
            if not _DATE.match(joined_text):
                raise ValueError
            joined = dt.date.fromisoformat(joined_text)
        except ValueError:
            raise InputError(f"joined date {joined_text[:40]!r} is not a date written YYYY-MM-DD", file=where,
                             line=row.line, hint="write the day the contributor joined, e.g. 2010-08-16") from None
        problems = name_problems + [f"handle: {p}" for p in handle_problems]
        if (name, handle) in seen:
            problems = [f"{name!r} appears twice; the row is skipped"]
        for problem in problems:
            total_notes += 1
            if len(notes) < MAX_NOTES:
                notes.append(Finding(where, row.line, "credits-sanitized", "warning", problem))
        if (name, handle) in seen:
            continue
        seen.add((name, handle))
        people.append(Contributor(name, handle, joined, row.line))
    if not people:
        raise InputError("no contributors: the file has a header but no rows", file=where,
                         hint="add rows `name,handle,joined`, or set credits = false under [bootanimation]")
    people.sort(key=Contributor.sort_key)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return Credits(where, digest, people, notes, total_notes)


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


def _paste(canvas: Image.Image, line: Line, left: int, baseline: int) -> None:
    """Put the text's left edge at `left` and its baseline at `baseline`."""
    canvas.paste(line.image, (left - line.pad, baseline - line.ascent), line.image)


def render_page(layout: CreditsLayout, index: int, typesetter: Typesetter) -> Image.Image:
    """One page, full screen, black background: title, names in columns, page number."""
    spot = layout.px
    canvas = Image.new("RGB", (layout.width, layout.height), (0, 0, 0))
    _paste(canvas, layout.title, (layout.width - layout.title.advance) // 2, spot["title_baseline"])
    for slot, entry in enumerate(layout.pages[index]):
        column, row = divmod(slot, layout.rows)
        x0 = spot["margin"] + column * (layout.column_width + spot["gutter"])
        y = spot["top"] + row * spot["entry"]
        for line, baseline in ((entry.name, spot["name_baseline"]), (entry.meta, spot["meta_baseline"])):
            left = x0 + layout.column_width - line.advance if entry.name.direction == "rtl" else x0
            _paste(canvas, line, left, y + baseline)
    if len(layout.pages) > 1:
        footer = typesetter.line(f"{index + 1} / {len(layout.pages)}", layout.px["footer"], fill=FOOTER_COLOR)
        _paste(canvas, footer, (layout.width - footer.advance) // 2, spot["footer_baseline"])
    return canvas


def _png(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "PNG", compress_level=6)
    return buf.getvalue()


def credit_parts(layout: CreditsLayout, typesetter: Typesetter, anim: BootAnimation | None) -> list[Part]:
    """One `c` part per page: fade-in frames, the page, then PAUSE holds it."""
    parts = []
    taken = anim or BootAnimation(layout.width, layout.height, layout.fps)
    for index in range(len(layout.pages)):
        page = render_page(layout, index, typesetter)
        frames = []
        for step in range(1, layout.fade_frames + 1):
            level = step / (layout.fade_frames + 1)
            frames.append((f"{len(frames):05d}.png", _png(page.point(lambda v, a=level: round(v * a)))))
        frames.append((f"{len(frames):05d}.png", _png(page)))
        path = unique_part_path(taken, f"credits{index}")
        part = Part("c", 1, layout.hold_frames - len(frames), path, frames)
        taken = BootAnimation(taken.width, taken.height, taken.fps, taken.parts + [part])
        parts.append(part)
    return parts


# ---- one device's credited animation --------------------------------------------------


@dataclass
class CreditsPlan:
    """Everything needed to write the credited bootanimation.zip, checked before any write."""

    options: CreditsOptions
    credits: Credits
    layout: CreditsLayout
    typesetter: Typesetter
    location: tuple[str, str]  # (partition, path) the device plays
    base: Inspection | None
    base_sha256: str | None
    base_fit: str | None
    notes: list[Finding] = field(default_factory=list)

    def animation(self) -> BootAnimation:
        """The base animation (fitted to the screen) with the credits placed as the profile says."""
        base = None
        if self.base is not None:
            base, _ = fit_to_screen(self.base.anim, self.layout.width, self.layout.height)
        parts = credit_parts(self.layout, self.typesetter, base)
        if base is None:
            return BootAnimation(self.layout.width, self.layout.height, self.layout.fps, parts)
        return with_parts(base, parts, self.options.placement)

    def render(self) -> bytes:
        return write_bootanimation(self.animation())

    def inputs(self) -> dict[str, Any]:
        """What the output bytes depend on beyond the profile and base ROM."""
        return {"contributors_sha256": self.credits.sha256, "shaping": self.typesetter.shaping,
                "fonts": {f["family"]: f["sha256"] for f in self.typesetter.describe()},
                "pillow": PIL.__version__}

    def summary(self) -> dict[str, Any]:
        """For build-info.json: how many and which names appear, and how they were drawn."""
        layout = self.layout
        shown = layout.shown
        return {
            "bootanimation": f"/{self.location[0]}/{self.location[1]}",
            "source": self.credits.source,
            "contributors": len(self.credits.contributors),
            "shown": len(shown),
            "left_out": len(self.credits.contributors) - len(shown),
            "limited_by": layout.limited_by,
            "limits": {"max_names": self.options.max_names, "max_frames": self.options.max_frames},
            "names": [c.to_dict() for c in shown],
            "placement": self.options.placement if self.base is not None else "only",
            "size": f"{layout.width}x{layout.height}",
            "fps": layout.fps,
            "pages": len(layout.pages),
            "columns": layout.columns,
            "frames": layout.frame_count,
            "seconds": round(len(layout.pages) * layout.hold_frames / layout.fps, 2),
            "base": self.base_fit,
            "shaping": self.typesetter.shaping,
            "fonts": [f"{f['family']} ({f['package']})" for f in self.typesetter.describe()],
            "notes_total": self.credits.notes_total,
        }


def plan_credits(profile: DeviceProfile, options: CreditsOptions, csv_path: Path, *, csv_shown: str | None = None,
                 base: tuple[bytes, str] | None, location: tuple[str, str],
                 typesetter: Typesetter | None = None) -> CreditsPlan:
    """Read the credits and the base animation, lay the pages out; raises before anything is written."""
    credits = read_credits(csv_path, shown=csv_shown)
    inspection = None
    base_sha = None
    fit = None
    fps = DEFAULT_FPS
    if base is not None:
        data, source = base
        inspection = _inspect_base(data, source)
        base_sha = hashlib.sha256(data).hexdigest()
        fps = inspection.anim.fps
        _, fit = fit_to_screen(inspection.anim, profile.screen.width, profile.screen.height)
    typesetter = typesetter or Typesetter.load()
    layout = lay_out(credits.contributors, typesetter, profile.screen, options, fps)
    notes = list(credits.notes)
    if base is None:
        notes.append(Finding(f"/{location[0]}/{location[1]}", None, "credits-no-base", "warning",
                             "the base ROM has no boot animation; the credits become the whole animation"))
    if inspection is not None:
        notes += [f for f in inspection.warnings if f.rule == "entry-junk"]
    if typesetter.shaping != "raqm" and any(_needs_shaping(c.name) for c in layout.shown):
        notes.append(Finding(credits.source, None, "credits-shaping", "warning",
                             "Pillow has no raqm here: right-to-left and joined scripts are drawn unshaped "
                             "(install libraqm0 and reinstall Pillow)"))
    missing = sorted({ch for e in (x for page in layout.pages for x in page) for ch in e.name.missing})
    if missing:
        notes.append(Finding(credits.source, None, "credits-glyphs", "warning",
                             f"no installed font draws {', '.join(_describe(m[0]) for m in missing[:5])}; "
                             "left out of the names (a name with nothing left shows its handle)"))
    return CreditsPlan(options, credits, layout, typesetter, location, inspection, base_sha, fit, notes)


def _needs_shaping(text: str) -> bool:
    return any(unicodedata.bidirectional(ch) in ("R", "AL") or unicodedata.category(ch) == "Mc" for ch in text)


def _inspect_base(data: bytes, source: str) -> Inspection:
    inspection = read_bootanimation(data, source=source)
    if inspection.errors:
        raise CheckFailed(f"the base boot animation breaks {len(inspection.errors)} rule(s); credits are added to "
                          "a working animation only (fix it, or set credits = false under [bootanimation])",
                          inspection.findings)
    return inspection


# ---- the build's steps ---------------------------------------------------------------


def credits_for_build(workspace_root: Path, profile: DeviceProfile, base_tree: RomTree) -> CreditsPlan | None:
    """plan: the credits this build will draw, or None when the profile or workspace has none."""
    options = CreditsOptions.from_profile(profile)
    csv_path = workspace_root / CREDITS_CSV
    if options.enabled is False:
        return None
    if not csv_path.is_file():
        if options.enabled:
            raise ConfigError(f"[bootanimation] credits = true, but the workspace has no {CREDITS_CSV}",
                              file=profile.origin.get("bootanimation.credits"),
                              hint=f"add {CREDITS_CSV} (columns name,handle,joined) or drop `credits = true`")
        return None
    found = read_from_tree(base_tree, base_tree.name)
    base = None
    if found is not None:
        base, location = (found[0], found[1]), found[2]
    else:
        partition = "product" if "product" in base_tree.partitions() and "product" in profile.partitions else "system"
        location = (partition, "media/bootanimation.zip")
    return plan_credits(profile, CreditsOptions.from_profile(profile), csv_path,
                        csv_shown=CREDITS_CSV, base=base, location=location)


def apply_credits(plan: CreditsPlan, tree: RomTree) -> None:
    """apply: write the credited animation where the device looks for it."""
    partition, path = plan.location
    entry = tree.get(partition, path)
    if entry is not None and entry.kind == FILE and plan.base is not None:
        current = tree.read(partition, path)
        if hashlib.sha256(current).hexdigest() != plan.base_sha256:  # an earlier step replaced it
            plan.base = _inspect_base(current, f"/{partition}/{path}")
    tree.write_file(partition, path, plan.render())


def check_credits(plan: CreditsPlan, tree: RomTree) -> list[Finding]:
    """check: the written animation passes every bootanimation rule at the device's resolution."""
    partition, path = plan.location
    written = read_bootanimation(tree.read(partition, path), source=f"/{partition}/{path}",
                                 screen=(plan.layout.width, plan.layout.height))
    findings = list(plan.notes) + written.findings
    anim = written.anim
    if (anim.width, anim.height) != (plan.layout.width, plan.layout.height):
        findings.append(Finding(f"/{partition}/{path}", None, "credits-size", "error",
                                f"the animation is {anim.width}x{anim.height}, not the screen's "
                                f"{plan.layout.width}x{plan.layout.height}"))
    return findings


def render_for_device(profile: DeviceProfile, out: Path, *, credits_csv: Path,
                      base: tuple[bytes, str] | None) -> CreditsPlan:
    """`romforge bootanim render`: the credited animation for one device, written atomically to `out`."""
    if out.is_dir():
        raise InputError("is a directory; give the file to write, e.g. bootanimation.zip", file=out)
    if not out.parent.is_dir():
        raise InputError("the folder to write into does not exist", file=out.parent)
    options = CreditsOptions.from_profile(profile)
    plan = plan_credits(profile, options, credits_csv, base=base, location=("product", "media/bootanimation.zip"))
    data = plan.render()
    tmp = out.with_name(f".{out.name}.romforge-tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return plan


def render_command(ws: Workspace, device: str, out: Path, *, credits_csv: Path | None = None, base: Path | None = None,
                   no_base: bool = False) -> CreditsPlan:
    """`romforge bootanim render`: resolve the device, credits and base animation, then render."""
    from romforge.bootscreen.bootanim import load_bootanimation_bytes
    from romforge.profile import load_profile

    profile = load_profile(device, ws.profile_dirs)
    csv_path = credits_csv or ws.root / CREDITS_CSV
    if not csv_path.is_file() and credits_csv is None:
        raise InputError("no contributors file", file=csv_path,
                         hint=f"add {CREDITS_CSV} to the workspace or pass --credits CSV")
    source = None
    if not no_base:
        base_path = base or ws.base_rom
        if base_path is not None:
            source = load_bootanimation_bytes(Path(base_path))
    return render_for_device(profile, out, credits_csv=csv_path, base=source)

"""Drawing credits pages and turning them into bootanimation parts."""

from __future__ import annotations

import io

from PIL import Image

from romforge.bootscreen.bootanim import BootAnimation, Part
from romforge.bootscreen.credits_layout import CreditsLayout
from romforge.bootscreen.fitting import unique_part_path
from romforge.bootscreen.textrender import Line, Typesetter

FOOTER_COLOR = (110, 110, 110)


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


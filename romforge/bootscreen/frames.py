"""Boot animation frames: what an image entry is, and how a part's frames will be drawn."""

from __future__ import annotations

import io
import re

from PIL import Image

from romforge.bootscreen.bootanim import MAX_SIDE, BootAnimation, Part, Report

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
JPEG_MAGIC = b"\xff\xd8\xff"


def image_facts(data: bytes) -> tuple[str, tuple[int, int]] | str:
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
    """Numbered frames in numeric order; only ASCII digit runs count as numbers (names are ≤ 255 bytes)."""
    return [(0, int(t), t) if t.isascii() and t.isdigit() else (1, 0, t) for t in re.split(r"([0-9]+)", name)]


def check_frames(anim: BootAnimation, part: Part, report: Report, checked: set[str]) -> None:
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
        facts = image_facts(data)
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


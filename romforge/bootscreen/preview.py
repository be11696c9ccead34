"""Looking at a boot animation before flashing: a contact sheet and an animated GIF/WebP.

Frames are composed the way the player draws them: on the part's background colour, at
trim.txt's rectangle when there is one, stretched to the animation's size otherwise.
Each part is shown playing once; PAUSE becomes a longer last frame.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from PIL import Image, ImageDraw, ImageFont

from romforge.bootscreen.bootanim import MAX_SIDE, BootAnimation, Part, printable
from romforge.errors import InputError

SHEET_BACKGROUND = (28, 28, 30)
LABEL_COLOR = (200, 200, 200)
MAX_ANIMATED_FRAMES = 300


@dataclass(frozen=True)
class Shot:
    """One frame in play order: which part, which frame, for how many animation frames it stays."""

    part: int
    frame: int
    hold: int


def play_order(anim: BootAnimation) -> list[Shot]:
    """Every part once (loops and `$SYSTEM` parts are not expanded); PAUSE lengthens the last frame."""
    shots = []
    for p_index, part in enumerate(anim.parts):
        if part.system or not part.frames:
            continue
        count = len(part.frames)
        for f_index in range(count):
            shots.append(Shot(p_index, f_index, 1 + (part.pause if f_index == count - 1 else 0)))
    return shots


def _hex_rgb(color: str | None) -> tuple[int, int, int]:
    if not color:
        return (0, 0, 0)
    return (int(color[1:3], 16), int(color[3:5], 16), int(color[5:7], 16))


def compose(anim: BootAnimation, part: Part, index: int) -> Image.Image:
    """The screen area of the animation (WIDTH×HEIGHT) as the player draws this frame."""
    background = _hex_rgb(part.background)
    canvas = Image.new("RGB", (anim.width, anim.height), background)
    _, data = part.sorted_frames()[index]
    try:
        with Image.open(io.BytesIO(data), formats=["PNG", "JPEG"]) as img:
            frame = img.convert("RGBA")
    except Exception:  # a frame the check reports as broken: show the background, as the player would
        return canvas
    trim = part.trim[index] if part.trim is not None and index < len(part.trim) else None
    box = (trim.x, trim.y, trim.width, trim.height) if trim else (0, 0, anim.width, anim.height)
    if frame.size != (box[2], box[3]) and box[2] > 0 and box[3] > 0:
        frame = frame.resize((box[2], box[3]), Image.Resampling.BILINEAR)
    canvas.paste(frame, (box[0], box[1]), frame)
    return canvas


def _evenly(items: list[int], count: int) -> list[int]:
    if count <= 1 or len(items) <= 1:
        return items[:1]
    return [items[round(k * (len(items) - 1) / (count - 1))] for k in range(count)]


def _sample(shots: list[Shot], count: int) -> list[Shot]:
    """The last frame of every part (what stays on screen), then evenly spaced others, in play order."""
    if len(shots) <= count:
        return shots
    lasts = [i for i, s in enumerate(shots) if i + 1 == len(shots) or shots[i + 1].part != s.part]
    chosen = set(_evenly(lasts, count))
    density = count
    while len(chosen) < count:
        for i in _evenly(list(range(len(shots))), density):
            if len(chosen) >= count:
                break
            chosen.add(i)
        density *= 2
    return [shots[i] for i in sorted(chosen)]


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def contact_sheet(anim: BootAnimation, *, title: str, frames: int = 12, thumb_width: int = 216,
                  columns: int = 6, progress: Callable[[int], None] | None = None) -> Image.Image:
    """A grid of sampled frames with part/frame labels and a header describing the animation."""
    shots = play_order(anim)
    if not shots:
        raise InputError("the animation has no frames to show", file=title)
    picked = _sample(shots, frames)
    scale = thumb_width / anim.width
    thumb_h = max(1, round(anim.height * scale))
    columns = max(1, min(columns, len(picked)))
    rows = (len(picked) + columns - 1) // columns
    gap, label_h, header_h = 12, 22, 56
    sheet = Image.new("RGB", (gap + columns * (thumb_width + gap), header_h + rows * (thumb_h + label_h + gap) + gap),
                      SHEET_BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    seconds = sum(s.hold for s in shots) / anim.fps if anim.fps > 0 else 0
    draw.text((gap, 10), printable(title)[:120], font=_font(16), fill=LABEL_COLOR)
    draw.text((gap, 32), f"{anim.width}x{anim.height} @ {anim.fps} fps, {len(anim.parts)} part(s), "
              f"{len(shots)} frame(s), {seconds:.1f} s played once", font=_font(14), fill=LABEL_COLOR)
    for n, shot in enumerate(picked):
        part = anim.parts[shot.part]
        image = compose(anim, part, shot.frame).resize((thumb_width, thumb_h), Image.Resampling.LANCZOS)
        col, row = n % columns, n // columns
        x, y = gap + col * (thumb_width + gap), header_h + row * (thumb_h + label_h + gap)
        sheet.paste(image, (x, y))
        draw.rectangle((x - 1, y - 1, x + thumb_width, y + thumb_h), outline=(70, 70, 74))
        label = f"{printable(part.path)[:24]} {shot.frame + 1}/{len(part.frames)}"
        if shot.hold > 1:
            label += f" +{shot.hold - 1}"
        draw.text((x, y + thumb_h + 4), label, font=_font(13), fill=LABEL_COLOR)
        if progress:
            progress(1)
    return sheet


def animated_preview(anim: BootAnimation, *, fmt: str, width: int = 270, max_frames: int = MAX_ANIMATED_FRAMES,
                     progress: Callable[[int], None] | None = None) -> bytes:
    """GIF or WebP playing each part once at the animation's frame rate (sub-sampled past max_frames)."""
    shots = play_order(anim)
    if not shots:
        raise InputError("the animation has no frames to show")
    step = max(1, -(-len(shots) // max_frames))
    scale = width / anim.width
    size = (width, max(1, round(anim.height * scale)))
    images, durations = [], []
    frame_ms = 1000 / anim.fps
    for start in range(0, len(shots), step):
        group = shots[start:start + step]
        shot = group[0]
        images.append(compose(anim, anim.parts[shot.part], shot.frame).resize(size, Image.Resampling.LANCZOS))
        durations.append(max(20, round(sum(s.hold for s in group) * frame_ms)))
        if progress:
            progress(1)
    buf = io.BytesIO()
    if fmt == "GIF":
        images[0].save(buf, "GIF", save_all=True, append_images=images[1:], duration=durations, loop=0,
                       optimize=False)
    elif fmt == "WEBP":
        images[0].save(buf, "WEBP", save_all=True, append_images=images[1:], duration=durations, loop=0,
                       quality=75, method=4)
    else:
        raise ValueError(f"unknown preview format {fmt!r}")
    return buf.getvalue()


def animated_format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix == ".gif":
        return "GIF"
    if suffix == ".webp":
        return "WEBP"
    raise InputError("the animated preview must end in .gif or .webp", file=str(path))


@dataclass
class Previews:
    source: str
    anim: BootAnimation
    problems: int  # errors `romforge bootanim check` would report
    sheet: Path | None
    animated: Path | None


def _write_atomic(path: Path, data: bytes) -> None:
    if path.is_dir():
        raise InputError("is a directory; give a file name", file=str(path))
    if not path.parent.is_dir():
        raise InputError("the folder to write into does not exist", file=str(path.parent))
    tmp = path.with_name(f".{path.name}.romforge-tmp")
    try:
        tmp.write_bytes(data)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def write_previews(source: Path, *, sheet: Path | None, animated: Path | None, frames: int = 12,
                   progress: Callable[[int], None] | None = None) -> Previews:
    """Preview SOURCE (a bootanimation.zip, or a target-files dir/zip holding one) as a sheet and/or GIF/WebP."""
    from romforge.bootscreen.archive import read_bootanimation
    from romforge.bootscreen.source import load_bootanimation_bytes

    fmt = animated_format(animated) if animated is not None else None
    data, shown = load_bootanimation_bytes(source)
    inspection = read_bootanimation(data, source=shown)
    anim = inspection.anim
    if not (0 < anim.width <= MAX_SIDE and 0 < anim.height <= MAX_SIDE and anim.fps > 0):
        raise InputError("desc.txt has no usable `WIDTH HEIGHT FPS` line; nothing to preview", file=shown,
                         hint=f"run `romforge bootanim check {source}`")
    outputs: list[tuple[Path, bytes]] = []
    if sheet is not None:
        buf = io.BytesIO()
        contact_sheet(anim, title=shown, frames=frames, progress=progress).save(buf, "PNG")
        outputs.append((sheet, buf.getvalue()))
    if animated is not None and fmt is not None:
        outputs.append((animated, animated_preview(anim, fmt=fmt, progress=progress)))
    for path, payload in outputs:  # written only once everything rendered
        _write_atomic(path, payload)
    return Previews(shown, anim, len(inspection.errors), sheet, animated)

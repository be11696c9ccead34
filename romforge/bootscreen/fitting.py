"""Combining boot animations: one animation on another canvas, parts added before or after."""

from __future__ import annotations

from dataclasses import replace

from romforge.bootscreen.bootanim import BootAnimation, Part, Trim


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


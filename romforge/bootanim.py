"""bootanimation.zip: the only module that knows desc.txt.

Format (frameworks/base/cmds/bootanimation/FORMAT.md): desc.txt whose first line is
`WIDTH HEIGHT FPS [PROGRESS]` and then one line per part `TYPE COUNT PAUSE PATH [FADE]
[#RGBHEX [CLOCK1 [CLOCK2]]]`; each part is a folder of frames played in name order.
The zip must be STORED: the player maps frames straight out of it.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass, field

ZIP_DATE = (2009, 1, 1, 0, 0, 0)


@dataclass
class Part:
    type: str  # p: plays until boot completes, c: always completes, f: fades out
    count: int  # 0 = loop until boot completes
    pause: int  # frames to hold after the part
    path: str
    frames: list[tuple[str, bytes]] = field(default_factory=list)  # (file name, PNG/JPEG bytes)
    fade: int | None = None
    background: str | None = None  # "#RRGGBB"

    def desc_line(self) -> str:
        fields = [self.type, str(self.count), str(self.pause), self.path]
        if self.fade is not None or self.background is not None:
            fields.append(str(self.fade or 0))
        if self.background is not None:
            fields.append(self.background)
        return " ".join(fields)


@dataclass
class BootAnimation:
    width: int
    height: int
    fps: int
    parts: list[Part] = field(default_factory=list)

    def desc_txt(self) -> str:
        return "\n".join([f"{self.width} {self.height} {self.fps}"] + [p.desc_line() for p in self.parts]) + "\n"


def write_bootanimation(anim: BootAnimation) -> bytes:
    """desc.txt first, then each part's frames in play order; every entry STORED."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        def add(name: str, data: bytes) -> None:
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_STORED
            info.external_attr = 0o644 << 16
            zf.writestr(info, data)

        add("desc.txt", anim.desc_txt().encode("ascii"))
        for part in anim.parts:
            for name, data in sorted(part.frames):
                add(f"{part.path}/{name}", data)
    return buf.getvalue()

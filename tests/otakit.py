"""Small real artifacts the OTA tests share: zips made by zipfile (fixed timestamps)."""

from __future__ import annotations

import io
import zipfile


def zip_of(entries: dict[str, bytes], *, level: int = 6, stored: tuple[str, ...] = (".png",)) -> bytes:
    """A zip of `entries`, deflated at `level` (names ending in `stored` are stored)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for name, data in entries.items():
            info = zipfile.ZipInfo(name, date_time=(2009, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_STORED if name.endswith(stored) else zipfile.ZIP_DEFLATED
            zf.writestr(info, data, compresslevel=level)
    return out.getvalue()

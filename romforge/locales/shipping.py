"""What a locale pack ships: one static RRO per target app under product/overlay, T9 data
under product/etc/t9, named and built here (the build feature is locales/feature.py)."""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path
from typing import Callable

from romforge.locales.keypad import Keypad
from romforge.locales import t9file
from romforge.locales.pack import LocalePack
from romforge.locales.pinyin import NameTables, PinyinData
from romforge.rro import SigningKey, build_rro
from romforge.run.tools import Tools

OVERLAY_DIR = "overlay"
T9_DATA_DIR = "etc/t9"
OVERLAY_PRIORITY = 20
LOCALES_PROP = "ro.romforge.locales"
DEFAULT_LOCALE_PROP = "ro.product.locale"


def overlay_name(pack: LocalePack, target: str) -> tuple[str, str]:
    """(product path, overlay package) named after locale and target package."""
    return (f"{OVERLAY_DIR}/romforge-locale-{pack.locale}-{target}.apk",
            f"{target}.locale.{pack.tag.identifier}")


def t9_data_path(locale: str) -> str:
    return f"{T9_DATA_DIR}/{locale}.t9"


def t9_data(pack: LocalePack) -> PinyinData | None:
    """What a dialer needs for this locale: pinyin data for Chinese packs, the keypad for others that bring one."""
    if pack.tag.language == "zh":
        return PinyinData.compile(pack.t9_names, pack.keypad, locale=pack.locale, version=pack.version)
    if pack.keypad is not None or pack.t9_names is not None:
        return PinyinData({}, {}, pack.t9_names or NameTables(), pack.keypad or Keypad.standard(), pack.locale,
                          pack.version)
    return None


def t9_bytes(pack: LocalePack) -> bytes:
    """The pack's T9 data file; empty when the pack has none."""
    data = t9_data(pack)
    return t9file.to_bytes(data) if data is not None else b""


def rro_maker(pack: LocalePack, target: str, files: dict[str, bytes], key: SigningKey, key_digest: str,
              tools: Tools) -> tuple[str, Callable[[], bytes]]:
    """(key of its inputs, how to build it) of the pack's RRO for one app, from the pack files'
    bytes as plan read them; the signing key is part of the key, so an RRO signed with another
    key is never reused."""
    package = overlay_name(pack, target)[1]
    key_text = "locale-rro-" + hashlib.sha256("\0".join(
        [package, target, pack.qualifier, pack.version, key_digest] +
        [f"{name}:{hashlib.sha256(data).hexdigest()}" for name, data in sorted(files.items())]).encode()).hexdigest()

    def make() -> bytes:
        with tempfile.TemporaryDirectory(prefix="romforge-locale-rro-") as tmp:
            values = Path(tmp, "res", f"values-{pack.qualifier}")
            values.mkdir(parents=True)
            for name, data in sorted(files.items()):
                (values / name).write_bytes(data)
            out = Path(tmp, "overlay.apk")
            build_rro(Path(tmp, "res"), out, package=package, target_package=target, priority=OVERLAY_PRIORITY,
                      version_name=pack.version, key=key, tools=tools)
            return out.read_bytes()

    return key_text, make

"""The data a Chinese name reading rests on: the name tables (names.toml) and the character data.

Name tables (romforge/locales/data/zh-names.toml; a pack's t9/names.toml extends them, entry
by entry): compound surnames, surnames, titles, familiar prefixes, and the given-name layer —
characters and two- or three-character given names read in names otherwise than in words,
and classical names whose readings are fixed by convention. Character data comes from
pypinyin (MIT; its data from the MIT-licensed pinyin-data and phrase-pinyin-data): each BMP
Han character's readings and the 2–3 character phrases read otherwise than character by
character. Traditional characters are folded to simplified ones (OpenCC's t2s character
table, Apache-2.0) so that one table entry serves both scripts.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from pathlib import Path

from romforge.errors import ConfigError
from romforge.tomlfile import TomlDoc, load_toml, type_name

DATA_DIR = Path(__file__).resolve().parent / "data"
NAMES_TOML = DATA_DIR / "zh-names.toml"
TABLES = ("compound_surnames", "surnames", "titles", "prefixes", "name_chars", "given_names", "classical_names")
# characters per key: (fewest, most); titles take any length
_LENGTHS = {"compound_surnames": (2, 2), "surnames": (1, 1), "prefixes": (1, 1), "name_chars": (1, 1),
            "given_names": (2, 3), "classical_names": (2, 8)}
MAX_PHRASE = 3
SYLLABLE = re.compile(r"^[a-z]{1,6}$")

Readings = tuple[tuple[str, ...], ...]


def is_han(ch: str) -> bool:
    cp = ord(ch)
    return (0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0xF900 <= cp <= 0xFAFF or cp == 0x3007
            or 0x20000 <= cp <= 0x3134F)


@dataclass(frozen=True)
class NameTables:
    """key (Chinese characters) → readings (each a tuple of syllables, one per character), first is primary."""

    compound_surnames: dict[str, Readings] = field(default_factory=dict)
    surnames: dict[str, Readings] = field(default_factory=dict)
    titles: dict[str, Readings] = field(default_factory=dict)
    prefixes: dict[str, Readings] = field(default_factory=dict)
    name_chars: dict[str, Readings] = field(default_factory=dict)
    given_names: dict[str, Readings] = field(default_factory=dict)
    classical_names: dict[str, Readings] = field(default_factory=dict)

    def merged(self, other: "NameTables") -> "NameTables":
        """`other` (a pack's t9/names.toml) wins entry by entry."""
        return NameTables(*({**getattr(self, t), **getattr(other, t)} for t in TABLES))


def _readings(doc: TomlDoc, table: str, key: str, value: object) -> Readings:
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
        raise doc.error(f"{table}.{key}: a reading is a string or a list of strings, not a {type_name(value)}",
                        table, key)
    out = []
    for reading in values:
        syllables = tuple(reading.split())
        if not syllables or not all(SYLLABLE.match(s) for s in syllables):
            raise doc.error(f"{table}.{key}: {reading!r} is not pinyin (lowercase a-z syllables, no tones, ü as v, "
                            "separated by spaces)", table, key)
        out.append(syllables)
    return tuple(out)


def load_name_tables(path: Path, *, shown: str | None = None) -> NameTables:
    """A names.toml: one table per name in TABLES, each "汉字" = "reading" or ["reading", "other reading"]."""
    doc = load_toml(path, display=shown or str(path))
    tables: dict[str, dict] = {t: {} for t in TABLES}
    for table, entries in doc.data.items():
        if table not in TABLES:
            raise doc.error(f"unknown table '{table}'", table, hint=f"names.toml takes: {', '.join(TABLES)}")
        if not isinstance(entries, dict):
            raise doc.error(f"'{table}' must be a table", table)
        for key, value in entries.items():
            if not key or not all(is_han(ch) for ch in key):
                raise doc.error(f"{table}: {key!r} must be Chinese characters only", table, key)
            readings = _readings(doc, table, key, value)
            if any(len(r) != len(key) for r in readings):
                raise doc.error(f"{table}.{key}: a reading needs one syllable per character", table, key)
            low, high = _LENGTHS.get(table, (1, 99))
            if not low <= len(key) <= high:
                raise doc.error(f"{table}.{key}: wrong length for this table",
                                table, key, hint=f"{table} keys have {low}" + (f"-{high}" if high > low else "")
                                + " characters")
            tables[table][key] = readings
    return NameTables(**tables)


@functools.lru_cache(maxsize=1)
def bundled_names() -> NameTables:
    return load_name_tables(NAMES_TOML, shown="romforge/locales/data/zh-names.toml")


def load_pack_names(t9_dir: Path | None, *, shown: str) -> NameTables | None:
    """A pack's t9/names.toml, when it has one."""
    if t9_dir is None:
        return None
    path = t9_dir / "names.toml"
    if not path.is_file():
        raise ConfigError("the pack's t9/ folder has no names.toml", file=shown,
                          hint="t9/names.toml holds [" + "], [".join(TABLES) + "]")
    return load_name_tables(path, shown=f"{shown}/names.toml")


@functools.lru_cache(maxsize=1)
def char_tables() -> tuple[dict[str, tuple[str, ...]], dict[str, tuple[str, ...]]]:
    """From pypinyin: BMP Han character → its plausible readings (everyday first), and the 2-3
    character phrases whose reading is not just each character's everyday one.

    A plausible reading is the everyday one or one that some word in pypinyin's phrase data
    gives the character (俊 keeps jun and drops the archaic shun and dun): the readings a user
    might type. Readings that names need beyond these come from the name tables."""
    from pypinyin.contrib.tone_convert import to_normal
    from pypinyin.phrases_dict import phrases_dict
    from pypinyin.pinyin_dict import pinyin_dict

    plain = functools.lru_cache(maxsize=None)(lambda marked: to_normal(marked.strip(), v_to_u=False))
    words: dict[str, tuple[str, ...]] = {}
    used: dict[str, set[str]] = {}
    for phrase in sorted(phrases_dict):
        reading = tuple(plain(r[0]) for r in phrases_dict[phrase])
        if len(reading) != len(phrase) or not all(SYLLABLE.match(s) for s in reading):
            continue
        words[phrase] = reading
        for ch, syllable in zip(phrase, reading):
            used.setdefault(ch, set()).add(syllable)
    chars: dict[str, tuple[str, ...]] = {}
    for cp in sorted(pinyin_dict):
        ch = chr(cp)
        if cp > 0xFFFF or not is_han(ch):
            continue
        out: list[str] = []
        for marked in pinyin_dict[cp].split(","):
            syllable = plain(marked)
            if SYLLABLE.match(syllable) and syllable not in out and (not out or syllable in used.get(ch, ())):
                out.append(syllable)
        if out:
            chars[ch] = tuple(out)
    phrases = {phrase: reading for phrase, reading in words.items()
               if 2 <= len(phrase) <= MAX_PHRASE and all(ch in chars for ch in phrase)
               and reading != tuple(chars[ch][0] for ch in phrase)}
    return chars, phrases


@functools.lru_cache(maxsize=1)
def traditional_folds() -> dict[str, str]:
    """Traditional (or variant) character → its simplified form, for every character pypinyin
    reads whose OpenCC t2s character conversion differs. Used only to look names up in tables."""
    import opencc

    chars = sorted(char_tables()[0])
    converted = opencc.OpenCC("t2s").convert("\n".join(chars)).split("\n")
    if len(converted) != len(chars):  # OpenCC keeps one line per line; anything else is a broken install
        raise RuntimeError("OpenCC t2s changed the number of lines")
    return {t: s for t, s in zip(chars, converted) if len(s) == 1 and s != t and is_han(s)}

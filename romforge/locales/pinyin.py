"""Contact names → pinyin the way a native speaker reads them: surname rules first.

A character has several readings; in a name the first character is a surname, and many
surnames are read differently from the everyday character (曾 zeng not ceng, 单 shan not
dan, 区 ou not qu). Compound surnames (欧阳, 尉迟 yu chi, 万俟 mo qi), titles after a
surname (王总, 张老师, 李行长 hang zhang) and familiar prefixes (老王, 小李) come from
data/zh-names.toml (a pack's t9/names.toml extends it); every other character takes
pypinyin's everyday reading, or its phrase reading when the given name is a phrase whose
reading differs (pypinyin, MIT; its data comes from the MIT-licensed pinyin-data and
phrase-pinyin-data projects). Readings: lowercase, no tones, ü as v, space-separated;
Latin words are kept, lowercased.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from pathlib import Path

from romforge.errors import ConfigError
from romforge.locales.keypad import Keypad
from romforge.tomlfile import TomlDoc, load_toml, type_name

DATA_DIR = Path(__file__).resolve().parent / "data"
NAMES_TOML = DATA_DIR / "zh-names.toml"
TABLES = ("compound_surnames", "surnames", "titles", "prefixes", "name_chars")
MAX_READINGS = 8
MAX_PHRASE = 3
MAX_NAME = 4  # surname + given name; longer runs of characters are read as plain words
_SYLLABLE = re.compile(r"^[a-z]{1,6}$")


def is_han(ch: str) -> bool:
    cp = ord(ch)
    return (0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0xF900 <= cp <= 0xFAFF or cp == 0x3007
            or 0x20000 <= cp <= 0x3134F)


# ---- the data a reading needs ----------------------------------------------------------


@dataclass(frozen=True)
class NameTables:
    """Surname, title and prefix readings: key → readings (each a tuple of syllables), first is primary."""

    compound_surnames: dict[str, tuple[tuple[str, ...], ...]] = field(default_factory=dict)
    surnames: dict[str, tuple[tuple[str, ...], ...]] = field(default_factory=dict)
    titles: dict[str, tuple[tuple[str, ...], ...]] = field(default_factory=dict)
    prefixes: dict[str, tuple[tuple[str, ...], ...]] = field(default_factory=dict)
    name_chars: dict[str, tuple[tuple[str, ...], ...]] = field(default_factory=dict)

    def merged(self, other: "NameTables") -> "NameTables":
        """`other` (a pack's t9/names.toml) wins entry by entry."""
        return NameTables(*({**getattr(self, t), **getattr(other, t)} for t in TABLES))


def _readings(doc: TomlDoc, table: str, key: str, value: object) -> tuple[tuple[str, ...], ...]:
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
        raise doc.error(f"{table}.{key}: a reading is a string or a list of strings, not a {type_name(value)}",
                        table, key)
    out = []
    for reading in values:
        syllables = tuple(reading.split())
        if not syllables or not all(_SYLLABLE.match(s) for s in syllables):
            raise doc.error(f"{table}.{key}: {reading!r} is not pinyin (lowercase a-z syllables, no tones, ü as v, "
                            "separated by spaces)", table, key)
        out.append(syllables)
    return tuple(out)


def load_name_tables(path: Path, *, shown: str | None = None) -> NameTables:
    """A names.toml: [compound_surnames], [surnames], [titles], [prefixes], [name_chars], each "汉字" = "reading"."""
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
            if table == "compound_surnames" and len(key) != 2 or \
                    table in ("surnames", "prefixes", "name_chars") and len(key) != 1:
                raise doc.error(f"{table}.{key}: wrong length for this table", table, key)
            tables[table][key] = readings
    return NameTables(**tables)


@functools.lru_cache(maxsize=1)
def char_tables() -> tuple[dict[str, tuple[str, ...]], dict[str, tuple[str, ...]]]:
    """From pypinyin: BMP Han character → readings (everyday first), and the 2-3 character
    phrases whose reading is not just each character's everyday one."""
    from pypinyin.contrib.tone_convert import to_normal
    from pypinyin.phrases_dict import phrases_dict
    from pypinyin.pinyin_dict import pinyin_dict

    chars: dict[str, tuple[str, ...]] = {}
    for cp in sorted(pinyin_dict):
        ch = chr(cp)
        if cp > 0xFFFF or not is_han(ch):
            continue
        out: list[str] = []
        for marked in pinyin_dict[cp].split(","):
            plain = to_normal(marked.strip(), v_to_u=False)
            if _SYLLABLE.match(plain) and plain not in out:
                out.append(plain)
        if out:
            chars[ch] = tuple(out)
    phrases: dict[str, tuple[str, ...]] = {}
    for phrase in sorted(phrases_dict):
        if not 2 <= len(phrase) <= MAX_PHRASE or not all(ch in chars for ch in phrase):
            continue
        reading = tuple(to_normal(r[0], v_to_u=False) for r in phrases_dict[phrase])
        if len(reading) == len(phrase) and all(_SYLLABLE.match(s) for s in reading) and \
                reading != tuple(chars[ch][0] for ch in phrase):
            phrases[phrase] = reading
    return chars, phrases


@dataclass(frozen=True)
class PinyinData:
    """Everything reading a name needs; compiled from pypinyin + tables, or loaded from a T9 data file."""

    chars: dict[str, tuple[str, ...]]
    phrases: dict[str, tuple[str, ...]]
    names: NameTables
    keypad: Keypad
    locale: str = "zh-Hans-CN"
    version: str = "builtin"

    @classmethod
    def compile(cls, names: NameTables | None = None, keypad: Keypad | None = None, *, locale: str = "zh-Hans-CN",
                version: str = "builtin") -> "PinyinData":
        chars, phrases = char_tables()
        base = bundled_names()
        return cls(chars, phrases, base.merged(names) if names else base, keypad or Keypad.standard(), locale,
                   version)


@functools.lru_cache(maxsize=1)
def bundled_names() -> NameTables:
    return load_name_tables(NAMES_TOML, shown="romforge/locales/data/zh-names.toml")


@functools.lru_cache(maxsize=1)
def default_data() -> PinyinData:
    return PinyinData.compile()


# ---- reading a name -----------------------------------------------------------------


@dataclass(frozen=True)
class ReadName:
    """A name's syllables with where each stands in the name, and the alternatives kept for matching."""

    name: str
    options: tuple[tuple[str, ...], ...]  # per syllable: readings, primary first
    spans: tuple[tuple[int, int], ...]  # per syllable: [start, end) in `name`
    given_start: int | None  # first syllable after the surname (None when the name has no surname)

    @property
    def syllables(self) -> tuple[str, ...]:
        return tuple(o[0] for o in self.options)

    @property
    def pinyin(self) -> str:
        return " ".join(self.syllables)

    @property
    def readings(self) -> tuple[tuple[str, ...], ...]:
        """The primary reading, then each single-syllable alternative, at most MAX_READINGS."""
        primary = self.syllables
        out = [primary]
        for i, options in enumerate(self.options):
            for alt in options[1:]:
                if len(out) >= MAX_READINGS:
                    return tuple(out)
                candidate = primary[:i] + (alt,) + primary[i + 1:]
                if candidate not in out:
                    out.append(candidate)
        return tuple(out)


def _tokens(name: str) -> list[tuple[str, int, bool]]:
    """(text, start, is_han) runs: Han characters, or letters/digits of any other script."""
    out: list[tuple[str, int, bool]] = []
    i = 0
    while i < len(name):
        ch = name[i]
        if is_han(ch):
            j = i
            while j < len(name) and is_han(name[j]):
                j += 1
            out.append((name[i:j], i, True))
        elif ch.isalnum():
            j = i
            while j < len(name) and name[j].isalnum() and not is_han(name[j]):
                j += 1
            out.append((name[i:j], i, False))
        else:
            j = i + 1
        i = j
    return out


class _Reader:
    def __init__(self, data: PinyinData) -> None:
        self.data = data
        self.options: list[tuple[str, ...]] = []
        self.spans: list[tuple[int, int]] = []

    def add(self, readings: tuple[str, ...], start: int, end: int) -> None:
        seen: list[str] = []
        for r in readings:
            if r not in seen:
                seen.append(r)
        if seen:
            self.options.append(tuple(seen))
            self.spans.append((start, end))

    def char(self, ch: str, at: int, first: tuple[str, ...] = ()) -> None:
        self.add(first + self.data.chars.get(ch, ()), at, at + 1)

    def word(self, text: str, at: int, readings: tuple[tuple[str, ...], ...]) -> None:
        """A table entry (compound surname, title): its readings first, then each character's own."""
        for k, ch in enumerate(text):
            self.char(ch, at + k, tuple(r[k] for r in readings))

    def given(self, text: str, at: int) -> None:
        i = 0
        while i < len(text):
            for size in range(min(MAX_PHRASE, len(text) - i), 1, -1):
                reading = self.data.phrases.get(text[i:i + size])
                if reading:
                    self.word(text[i:i + size], at + i, (reading,))
                    i += size
                    break
            else:
                own = self.data.names.name_chars.get(text[i], ())
                self.char(text[i], at + i, tuple(r[0] for r in own))
                i += 1

    def han_run(self, run: str, at: int) -> int:
        """Read a run of Han characters as [prefix] surname [given name] [title]; returns the given-name index."""
        names = self.data.names
        if len(run) > MAX_NAME and not any(run.endswith(t) and len(run) - len(t) <= MAX_NAME for t in names.titles):
            self.given(run, at)  # a shop or a company, not a person: no surname rules
            return len(self.options)
        i = 0
        if len(run) >= 2 and run[0] in names.prefixes and (len(run) == 2 or run[1:] in names.compound_surnames):
            self.word(run[0], at, names.prefixes[run[0]])
            i = 1
            surname_index = len(self.options)
        else:
            surname_index = None
        if run[i:i + 2] in names.compound_surnames and len(run) > i + 1:
            self.word(run[i:i + 2], at + i, names.compound_surnames[run[i:i + 2]])
            i += 2
        else:
            self.char(run[i], at + i, tuple(r[0] for r in names.surnames.get(run[i], ())))
            i += 1
        given_index = surname_index if surname_index is not None else len(self.options)
        rest = run[i:]
        title = next((rest[len(rest) - n:] for n in range(min(len(rest), 3), 0, -1)
                      if rest[len(rest) - n:] in names.titles), "")
        if title and len(rest) - len(title) > 2:
            title = ""  # a long given name that merely ends like a title
        self.given(rest[:len(rest) - len(title)], at + i)
        if title:
            self.word(title, at + len(run) - len(title), names.titles[title])
        return given_index


def read_name(name: str, data: PinyinData | None = None) -> ReadName:
    """The readings of one contact name (any mix of Chinese and other scripts)."""
    data = data or default_data()
    reader = _Reader(data)
    given_start = None
    for index, (text, start, han) in enumerate(_tokens(name)):
        if han:
            given = reader.han_run(text, start)
            if index == 0:
                given_start = given  # only a name that starts with Chinese characters has a surname first
        else:
            reader.add((text.lower(),), start, start + len(text))
    if given_start is not None and given_start >= len(reader.options):
        given_start = None
    return ReadName(name, tuple(reader.options), tuple(reader.spans), given_start)


def pinyin(name: str, data: PinyinData | None = None) -> str:
    """The primary reading: what a native speaker says, e.g. 曾国藩 → 'zeng guo fan'."""
    return read_name(name, data).pinyin


def load_pack_names(t9_dir: Path | None, *, shown: str) -> NameTables | None:
    """A pack's t9/names.toml, when it has one."""
    if t9_dir is None:
        return None
    path = t9_dir / "names.toml"
    if not path.is_file():
        raise ConfigError("the pack's t9/ folder has no names.toml", file=shown,
                          hint="t9/names.toml holds [compound_surnames], [surnames], [titles], [prefixes], "
                                "[name_chars]")
    return load_name_tables(path, shown=f"{shown}/names.toml")

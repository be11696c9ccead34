"""Contact names → pinyin the way a native speaker reads them: names, not words.

A name is read in layers (tables in data/zh-names.toml, extended by a pack's t9/names.toml):

1. classical names whose readings are fixed by convention (冒顿 mo du, 月氏 yue zhi, 郦食其
   li yi ji): the whole run of characters, optionally followed by a title;
2. the surname rules: a familiar prefix (老王, 小李), a compound surname (欧阳, 尉迟 yu chi,
   万俟 mo qi) or a surname read otherwise than the everyday character (曾 zeng, 单 shan,
   区 ou), and a title after the name (王总, 李行长 hang zhang);
3. the given-name layer: two- or three-character given names read otherwise than the word
   (朝阳 chao yang), then characters read otherwise in names (长 chang, 曾 zeng, 行 xing);
4. pypinyin's phrase data for the rest of the given name (重阳 chong yang), then each
   character's everyday reading.

Every other plausible reading stays: each syllable keeps its other readings (the word
reading first), and the reading without the name layers is kept whole, so a user who types
it still finds the contact. Traditional characters are looked up through their simplified
form. Readings: lowercase, no tones, ü as v, space-separated; Latin words are kept, lowercased.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

from romforge.locales.keypad import Keypad
from romforge.locales.zhnames import (MAX_PHRASE, TABLES, NameTables, bundled_names, char_tables, is_han,
                                      load_name_tables, load_pack_names, traditional_folds)

__all__ = ["MAX_READINGS", "NameTables", "PinyinData", "ReadName", "TABLES", "default_data", "is_han",
           "load_name_tables", "load_pack_names", "pinyin", "read_name", "word_starts"]

MAX_READINGS = 8
MAX_NAME = 4  # surname + given name; longer runs of characters are read as plain words
_MAX_TITLE = 3


@dataclass(frozen=True)
class PinyinData:
    """Everything reading a name needs; compiled from pypinyin + tables, or loaded from a T9 data file."""

    chars: dict[str, tuple[str, ...]]
    phrases: dict[str, tuple[str, ...]]
    names: NameTables
    keypad: Keypad
    locale: str = "zh-Hans-CN"
    version: str = "builtin"
    folds: dict[str, str] = field(default_factory=dict)  # traditional character → simplified, for table look-ups

    @classmethod
    def compile(cls, names: NameTables | None = None, keypad: Keypad | None = None, *, locale: str = "zh-Hans-CN",
                version: str = "builtin") -> "PinyinData":
        chars, phrases = char_tables()
        base = bundled_names()
        return cls(chars, phrases, base.merged(names) if names else base, keypad or Keypad.standard(), locale,
                   version, traditional_folds())

    @functools.cached_property
    def _fold_table(self) -> dict[int, str]:
        return str.maketrans(self.folds)

    def fold(self, text: str) -> str:
        """`text` with traditional characters replaced by simplified ones (same length)."""
        return text.translate(self._fold_table) if self.folds else text


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
    extra: tuple[tuple[str, ...], ...] = ()  # whole alternative readings (the reading without the name layers)

    @property
    def syllables(self) -> tuple[str, ...]:
        return tuple(o[0] for o in self.options)

    @property
    def pinyin(self) -> str:
        return " ".join(self.syllables)

    @property
    def readings(self) -> tuple[tuple[str, ...], ...]:
        """The primary reading, the whole alternatives, then each syllable's other readings one at a
        time — every syllable's second reading before any third — at most MAX_READINGS."""
        primary = self.syllables
        if not self.extra and all(len(o) == 1 for o in self.options):
            return (primary,)
        out = [primary]
        for alt in self.extra:
            if alt not in out and len(alt) == len(primary):
                out.append(alt)
        for rank in range(1, max((len(o) for o in self.options), default=1)):
            for i, options in enumerate(self.options):
                if len(options) > rank:
                    candidate = primary[:i] + (options[rank],) + primary[i + 1:]
                    if candidate not in out:
                        out.append(candidate)
        return tuple(out[:MAX_READINGS])


def word_starts(read: ReadName) -> frozenset[int]:
    """Syllables that begin a word: the first, each after a gap or a change of script, and the given name."""
    out = {0} if read.spans else set()
    for i in range(1, len(read.spans)):
        before, here = read.spans[i - 1], read.spans[i]
        if here[0] != before[1] or is_han(read.name[here[0]]) != is_han(read.name[before[0]]):
            out.add(i)
    if read.given_start is not None:
        out.add(read.given_start)
    return frozenset(out)


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


def _first(readings: tuple[tuple[str, ...], ...], k: int) -> tuple[str, ...]:
    return tuple(r[k] for r in readings)


def _get(table: dict, text: str, key: str) -> Any:
    """A table entry for `text` as written, else for its simplified form `key`."""
    found = table.get(text)
    return found if found is not None or key == text else table.get(key)


def _title_of(titles: dict, rest: str, rest_key: str) -> str:
    """The longest title `rest` ends with ("" for none)."""
    for n in range(min(len(rest), _MAX_TITLE), 0, -1):
        if _get(titles, rest[len(rest) - n:], rest_key[len(rest) - n:]):
            return rest[len(rest) - n:]
    return ""


class _Reader:
    def __init__(self, data: PinyinData) -> None:
        self.data = data
        self.options: list[tuple[str, ...]] = []
        self.spans: list[tuple[int, int]] = []
        self.plain: list[str] = []  # per syllable: the reading without the classical and given-name layers

    def add(self, readings: tuple[str, ...], start: int, end: int, plain: str | None = None) -> None:
        seen = tuple(dict.fromkeys(readings)) if len(readings) > 1 else readings
        if "" in seen:
            seen = tuple(r for r in seen if r)
        if seen:
            self.options.append(seen)
            self.spans.append((start, end))
            self.plain.append(plain or seen[0])

    def own(self, ch: str) -> tuple[str, ...]:
        chars = self.data.chars
        return chars.get(ch) or chars.get(self.data.fold(ch), ())

    def char(self, ch: str, at: int, first: tuple[str, ...] = (), plain: str | None = None) -> None:
        self.add(first + ((plain,) if plain else ()) + self.own(ch), at, at + 1, plain)

    def word(self, text: str, at: int, readings: tuple[tuple[str, ...], ...]) -> None:
        """A table entry (compound surname, title): its readings first, then each character's own."""
        for k, ch in enumerate(text):
            self.char(ch, at + k, _first(readings, k))

    def plain_reading(self, text: str, key: str) -> list[str]:
        """pypinyin's reading: the longest phrase at each place, else each character's everyday reading."""
        out: list[str] = []
        i = 0
        while i < len(text):
            for size in range(min(MAX_PHRASE, len(text) - i), 1, -1):
                reading = _get(self.data.phrases, text[i:i + size], key[i:i + size])
                if reading:
                    out += reading
                    i += size
                    break
            else:
                out.append((self.own(text[i]) or ("",))[0])
                i += 1
        return out

    def given(self, text: str, at: int, key: str) -> None:
        """A given name (`key`: its simplified form): the given-name layer first, then pypinyin's
        phrases, then each character's reading."""
        data = self.data
        given_names, name_chars, phrases = data.names.given_names, data.names.name_chars, data.phrases
        pieces: list[tuple[int, tuple[tuple[str, ...], ...]]] = []  # (characters, readings) from left to right
        layered = False
        i, n = 0, len(text)
        while i < n:
            size, readings = 0, None
            for m in range(min(3, n - i), 1, -1):
                readings = _get(given_names, text[i:i + m], key[i:i + m])
                if readings:
                    size = m
                    break
            if not size:
                readings = _get(name_chars, text[i], key[i])
                size = 1 if readings else 0
            if size:
                layered = True
            else:
                for m in range(min(MAX_PHRASE, n - i), 1, -1):
                    reading = _get(phrases, text[i:i + m], key[i:i + m])
                    if reading:
                        if any(_get(name_chars, text[j], key[j]) for j in range(i, i + m)):
                            layered = True  # a name character keeps its name reading inside a word
                            continue
                        size, readings = m, (reading,)
                        break
                else:
                    size, readings = 1, ((self.own(text[i]) or ("",))[:1],)
            pieces.append((size, readings))
            i += size
        plain = self.plain_reading(text, key) if layered else None
        i = 0
        for size, readings in pieces:
            for k in range(size):
                self.char(text[i + k], at + i + k, _first(readings, k), plain[i + k] if plain else None)
            i += size

    def han_run(self, run: str, at: int) -> int:
        """Read a run of Han characters; returns the index of its given name's first syllable."""
        first = len(self.options)
        key = self.data.fold(run)
        classical = self.classical(run, key)
        given = self.person(run, key, at)
        if classical and len(self.options) - first == len(run):
            for k, syllable in enumerate(classical):
                self.options[first + k] = tuple(dict.fromkeys((syllable,) + self.options[first + k]))
        return given

    def classical(self, run: str, key: str) -> tuple[str, ...] | None:
        """A classical name's fixed reading, for the whole run or the run less a title."""
        names = self.data.names
        found = _get(names.classical_names, run, key)
        if found:
            return found[0]
        for n in range(min(_MAX_TITLE, len(run) - 2), 0, -1):
            found = _get(names.classical_names, run[:-n], key[:-n])
            if found and _get(names.titles, run[-n:], key[-n:]):
                return found[0]
        return None

    def person(self, run: str, key: str, at: int) -> int:
        """[prefix] surname [given name] [title]; a run longer than a name is read as plain words."""
        names = self.data.names
        if len(run) > MAX_NAME and len(run) - len(_title_of(names.titles, run, key)) > MAX_NAME:
            self.given(run, at, key)  # a shop or a company, not a person: no surname rules
            return len(self.options)
        i = 0
        prefix = _get(names.prefixes, run[0], key[0])
        if len(run) >= 2 and prefix and (len(run) == 2 or _get(names.compound_surnames, run[1:], key[1:])):
            self.word(run[0], at, prefix)
            i = 1
            surname_index = len(self.options)
        else:
            surname_index = None
        compound = _get(names.compound_surnames, run[i:i + 2], key[i:i + 2]) if len(run) > i + 1 else None
        if compound:
            self.word(run[i:i + 2], at + i, compound)
            i += 2
        else:
            self.char(run[i], at + i, _first(_get(names.surnames, run[i], key[i]) or (), 0))
            i += 1
        given_index = surname_index if surname_index is not None else len(self.options)
        title = _title_of(names.titles, run[i:], key[i:])
        if title and len(run) - i - len(title) > 2:
            title = ""  # a long given name that merely ends like a title
        end = len(run) - len(title)
        self.given(run[i:end], at + i, key[i:end])
        if title:
            self.word(title, at + end, _get(names.titles, title, key[end:]))
        return given_index


NAME_DOTS = frozenset("\u00b7\u2022\u2027\u30fb\uff65\u2219")  # the dot between the parts of 爱新觉罗·溥仪


def _joined_by_dot(name: str, first: tuple[str, int, bool], start: int) -> bool:
    """Whether only a name dot (and spaces) stands between the first Han run and the one at `start`."""
    between = name[first[1] + len(first[0]):start].strip()
    return len(between) == 1 and between in NAME_DOTS


def read_name(name: str, data: PinyinData | None = None) -> ReadName:
    """The readings of one contact name (any mix of Chinese and other scripts)."""
    data = data or default_data()
    reader = _Reader(data)
    given_start = None
    tokens = _tokens(name)
    for index, (text, start, han) in enumerate(tokens):
        if han:
            if index == 1 and tokens[0][2] and _joined_by_dot(name, tokens[0], start):
                given_start = len(reader.options)  # 爱新觉罗·溥仪: the whole first run is the surname,
                reader.given(text, start, reader.data.fold(text))  # the run after the dot a given name
                continue
            given = reader.han_run(text, start)
            if index == 0:
                given_start = given  # only a name that starts with Chinese characters has a surname first
        else:
            reader.add((text.lower(),), start, start + len(text))
    if given_start is not None and given_start >= len(reader.options):
        given_start = None
    options = tuple(reader.options)
    plain = tuple(reader.plain)
    extra = (plain,) if plain != tuple(o[0] for o in options) else ()
    return ReadName(name, options, tuple(reader.spans), given_start, extra)


def pinyin(name: str, data: PinyinData | None = None) -> str:
    """The primary reading: what a native speaker says, e.g. 曾国藩 → 'zeng guo fan'."""
    return read_name(name, data).pinyin

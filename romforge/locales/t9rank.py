"""How a T9 query matches one contact, and how matches rank.

A match types the name from a start syllable on: each syllable in full or by its initial, in
order; the query may stop inside a syllable typed in full. Matches rank, best first:

1. where it starts: at the surname, the given name or another word (a Latin word, a second
   run of characters) over a start in the middle of a word;
2. the complete name (to its last syllable) over a prefix of it;
3. whole syllables over initials: every syllable typed whole; then whole words followed by
   initials from a word start on (the surname in full, the given name by initials: zhang+s+f);
   then whole syllables followed by initials inside a word (zhang+san+f); then initials only;
   then any other mix (z+san+f);
4. fewer skipped syllables before the start, a word skipped whole counting once: the complete
   name over the given name typed alone, and the given name after a compound surname (欧阳)
   level with the one after a single surname; inside a word each skipped syllable counts;
5. the main reading over an alternative one;
6. the contact list's stable order (primary reading, name, number).

Name matches come before matches on the phone number. A match's static part (start, typing
pattern, skipped syllables, reading) is its *slot*; the index keeps one sorted key list per
slot, and `rank_walk` finds the same answer by walking one contact's syllables (the scan
baseline and the highlighting both use it).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Iterator, NamedTuple

from romforge.locales.keypad import Keypad
from romforge.locales.pinyin import ReadName, word_starts

FREE_SYLLABLES = 5  # from a word start: every full/initial mix over five syllables; beyond, one choice for the rest
WHOLE, WORD_THEN_INITIALS, WHOLE_THEN_INITIALS, INITIALS, OTHER = range(5)
PATTERNS = 5
WORD, MIDDLE = 0, 1  # where a match starts
SKIPS = 8  # skipped syllables are told apart up to 7 ("7 or more")
NUMBER_SLOT = 2 * PATTERNS * SKIPS * 2  # after every name slot


@dataclass(frozen=True)
class Contact:
    name: str
    number: str


class Entry(NamedTuple):
    """One contact as the index sees it: typed digits of each reading's syllables and where matches may start."""

    contact: Contact
    read: ReadName
    typed: tuple[tuple[str, ...], ...]  # per reading, per typeable syllable: digits
    syllable_of: tuple[tuple[int, ...], ...]  # per reading: index into read.spans for each typed syllable
    starts: tuple[tuple[tuple[int, int, int, frozenset[int]], ...], ...]  # per reading: (typed index, WORD or
    # MIDDLE, what rule 4 counts as skipped before it, the word starts after it counted in syllables from it)


_NO_WORDS: frozenset[int] = frozenset()


def make_entry(contact: Contact, read: ReadName, keypad: Keypad, digits_of: dict[str, str] | None = None) -> Entry:
    """The contact's readings as digits; alternative readings match from word starts only.
    `digits_of`: a syllable → digits memo shared by the contacts of one build."""
    memo = {} if digits_of is None else digits_of
    words = word_starts(read)
    typed, which, starts = [], [], []
    for r, reading in enumerate(read.readings):
        digits, idx, kinds = [], [], []
        for i, syllable in enumerate(reading):
            d = memo.get(syllable)
            if d is None:
                d = memo[syllable] = keypad.encode(syllable) or ""
            if d:
                kinds.append(WORD if not digits or i in words else MIDDLE)
                digits.append(d)
                idx.append(i)
        begins = [k for k, kind in enumerate(kinds) if kind == WORD and k]
        typed.append(tuple(digits))
        which.append(tuple(idx))
        if not kinds:
            starts.append(())
        elif not begins:  # one word: no start has a word start after it
            starts.append(((0, WORD, 0, _NO_WORDS),) + (tuple((k, MIDDLE, k, _NO_WORDS) for k in range(1, len(kinds)))
                                                         if r == 0 else ()))
        else:
            starts.append(tuple((k, kind, skipped(begins, k), frozenset(b - k for b in begins if b > k))
                                for k, kind in enumerate(kinds) if r == 0 or kind == WORD))
    return Entry(contact, read, tuple(typed), tuple(which), tuple(starts))


def skipped(begins: list[int], start: int) -> int:
    """Rule 4's count of what a match from `start` leaves out before it: one for each word skipped
    whole (the surname, however many syllables it has, or a Latin word), one for each syllable
    skipped inside the word it starts in. `begins`: the word starts after the first, ascending."""
    words = bisect.bisect_right(begins, start)  # words before the one holding `start`
    return words + start - (begins[words - 1] if words else 0)


def slot_of(where: int, pattern: int, skip: int, alt: bool) -> int:
    """The slot number; ordering slots by number orders them by (where, pattern, skipped, reading)."""
    return ((where * PATTERNS + pattern) * SKIPS + min(skip, SKIPS - 1)) * 2 + int(alt)


def slot_parts(slot: int) -> tuple[int, int, int, bool]:
    rest, alt = divmod(slot, 2)
    rest, skip = divmod(rest, SKIPS)
    where, pattern = divmod(rest, PATTERNS)
    return where, pattern, skip, bool(alt)


def slot_order(slot: int, complete: bool) -> tuple:
    """Where a (slot, complete) pair ranks: rule 1, then 2, then the rest of the slot."""
    if slot == NUMBER_SLOT:
        return (9,)
    where, pattern, skip, alt = slot_parts(slot)
    return (where, not complete, pattern, skip, alt)


def pattern_of(choices: list[str], words: frozenset[int] = frozenset()) -> int:
    """The typing pattern of per-syllable choices — 'F' full, 'I' initial, '-' either (one-letter
    syllables) — with `words` the syllables (counted from the first) that begin a word."""
    if "I" not in choices:
        return WHOLE
    if "F" not in choices:
        return INITIALS
    first_i = choices.index("I")
    if "F" in choices[first_i:]:
        return OTHER
    return WORD_THEN_INITIALS if first_i in words else WHOLE_THEN_INITIALS


# Typing a syllable after the ones before: state × (full, initial at a word start, initial inside a
# word) → state. States: 0 nothing typed yet (one-letter syllables only), 1 whole, 2 whole then
# initials from a word start, 3 whole then initials inside a word, 4 initials, 5 other mix.
_STEP = {0: (1, 4, 4), 1: (1, 2, 3), 2: (5, 2, 2), 3: (5, 3, 3), 4: (5, 4, 4), 5: (5, 5, 5)}
_PATTERN = (WHOLE, WHOLE, WORD_THEN_INITIALS, WHOLE_THEN_INITIALS, INITIALS, OTHER)


def typings(digits: tuple[str, ...], free: int, words: frozenset[int] = frozenset()) -> dict[str, int]:
    """Every way to type the syllables (key → best pattern): the first `free` each in full or by
    initial, the rest all in full or all by initial (a bounded number of keys for long names);
    `words`: the syllables that begin a word, counted from the first. Same patterns as pattern_of."""
    combos = [("", 0)]
    for j, d in enumerate(digits[:free]):
        if len(d) == 1:
            combos = [(key + d, state) for key, state in combos]
        else:
            at_word = 1 if j in words else 2
            combos = [c for key, state in combos
                      for c in ((key + d, _STEP[state][0]), (key + d[0], _STEP[state][at_word]))]
    out: dict[str, int] = {}
    tail = digits[free:]
    for full in (True, False) if tail else (True,):
        ending = "".join(d if full else d[0] for d in tail)
        for key, state in combos:
            for j, d in enumerate(tail, start=free):
                if len(d) > 1:
                    state = _STEP[state][0 if full else (1 if j in words else 2)]
            pattern = _PATTERN[state]
            if pattern < out.get(key + ending, 9):
                out[key + ending] = pattern
    return out


# ---- walking one contact (the scan baseline and highlighting) ---------------------------


def _walks(digits: tuple[str, ...], start: int, query: str, free: int,
           words: frozenset[int]) -> Iterator[tuple[bool, int, int]]:
    """(complete, pattern, last typed syllable) for every way `query` types the syllables from `start`."""
    n = len(digits)

    def pattern(choices: list[str]) -> int:
        return pattern_of(choices, words)

    def finish(choices: list[str], i: int, forced: str | None) -> int:
        rest = digits[i + 1:]
        best = 9
        for fill in "FI":
            more = []
            for j, d in enumerate(rest, start=i + 1):
                tail = j - start >= free
                c = forced if tail and forced else fill
                more.append(c if len(d) > 1 else "-")
            best = min(best, pattern(choices + more))
        return best

    def step(i: int, pos: int, choices: list[str], forced: str | None) -> Iterator[tuple[bool, int, int]]:
        if i >= n:
            return
        d = digits[i]
        tail = i - start >= free
        rest = query[pos:]
        options = "-" if len(d) == 1 else (forced if tail and forced else "FI")
        for c in options:
            now = forced if forced or not tail or c == "-" else c
            if c in "F-":
                if rest.startswith(d):
                    after = pos + len(d)
                    if after == len(query):
                        if i == n - 1:
                            yield True, pattern(choices + [c]), i
                        else:
                            yield False, finish(choices + [c], i, now), i
                    else:
                        yield from step(i + 1, after, choices + [c], now)
                elif d.startswith(rest):
                    yield False, finish(choices + ["F"], i, now), i  # the query ends inside this syllable
            elif rest[0] == d[0]:
                if pos + 1 == len(query):
                    if i == n - 1:
                        yield True, pattern(choices + ["I"]), i
                    else:
                        yield False, finish(choices + ["I"], i, now), i
                else:
                    yield from step(i + 1, pos + 1, choices + ["I"], now)

    return step(start, 0, [], None)


@dataclass(frozen=True)
class Found:
    slot: int
    complete: bool
    reading: int
    start: int
    last: int


def rank_walk(e: Entry, query: str) -> Found | None:
    """The best match of `query` on this contact's name, by walking its syllables."""
    best: tuple | None = None
    found = None
    for r, (digits, starts) in enumerate(zip(e.typed, e.starts)):
        for k, where, skip, words in starts:
            free = FREE_SYLLABLES if where == WORD else 0
            for complete, pattern, last in _walks(digits, k, query, free, words):
                slot = slot_of(where, pattern, skip, r > 0)
                order = slot_order(slot, complete)
                if best is None or order < best:
                    best, found = order, Found(slot, complete, r, k, last)
    return found


def _last_syllable(digits: tuple[str, ...], start: int, query: str, pattern: int, free: int,
                   words: frozenset[int], complete: bool) -> int | None:
    """The last syllable a match of this pattern reaches, or None when the query does not type it so."""
    n = len(digits)
    if pattern == WHOLE:  # every syllable in full: the query is the start of the spelling from `start`
        end = 0
        for i in range(start, n):
            end += len(digits[i])
            if end >= len(query):
                spelled = "".join(digits[start:i + 1])
                ok = spelled.startswith(query) and (not complete or (end == len(query) and i == n - 1))
                return i if ok else None
        return None
    if pattern == INITIALS:  # one digit per syllable
        last = start + len(query) - 1
        if last >= n or complete != (last == n - 1) or any(digits[start + j][0] != q for j, q in enumerate(query)):
            return None
        return last
    return next((last for c, p, last in _walks(digits, start, query, free, words) if c == complete and p == pattern),
                None)


def locate(e: Entry, query: str, slot: int, complete: bool) -> tuple[tuple[int, int], int]:
    """The span [start, end) of the name a match in `slot` covers, and the syllable it starts at."""
    where, pattern, skip, alt = slot_parts(slot)
    for r, (digits, starts) in enumerate(zip(e.typed, e.starts)):
        if (r > 0) != alt:
            continue
        for k, w, gap, words in starts:
            if w != where or min(gap, SKIPS - 1) != skip:
                continue
            free = FREE_SYLLABLES if w == WORD else 0
            last = _last_syllable(digits, k, query, pattern, free, words, complete)
            if last is not None:
                which, spans = e.syllable_of[r], e.read.spans
                return (spans[which[k]][0], spans[which[last]][1]), which[k]
    return (0, 0), 0


def kind_of(e: Entry, slot: int, complete: bool, start_syllable: int) -> str:
    """The match kind shown to users: number, middle, given-name, word, full, prefix, initials or mixed."""
    if slot == NUMBER_SLOT:
        return "number"
    where, pattern, skip, _ = slot_parts(slot)
    if where == MIDDLE:
        return "middle"
    if start_syllable > 0:
        return "given-name" if start_syllable == e.read.given_start else "word"
    if pattern == WHOLE:
        return "full" if complete else "prefix"
    return "initials" if pattern == INITIALS else "mixed"

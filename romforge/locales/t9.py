"""T9 smart dial: find a contact by typing its name's pinyin (or any script) on the number keys.

A query of digits matches a contact by its syllables typed from the surname, the given name,
another word or the middle of a word — each syllable in full or by its initial, in order —
or by the phone number (substring). Matches rank as `t9rank` says (start, complete name,
whole syllables over initials, skipped syllables, main reading, stable order); at most 20
results, each with the span of the name (or number) it matched so a dialer can highlight it.

The index is built once: per slot (a match's static rank: where it starts, its typing
pattern, syllables skipped, main or alternative reading) one sorted list of keys (the digits
of one way to type the name) with a parallel list of contact ids, each key kept only in the
best slot it has for its contact. A query is a prefix range found by bisection in each
slot; each extra digit bisects inside the previous range, so typing narrows the result set
instead of scanning every contact. The keys equal to the query (complete names) lead each
range. For one- and two-digit queries, whose ranges are large, the smallest ids of each
range are kept from the build.
"""

from __future__ import annotations

import bisect
import heapq
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from romforge.outputs import make_parent
from romforge.safeio import read_regular_file
from romforge.errors import InputError
from romforge.locales.keypad import Keypad
from romforge.locales.pinyin import PinyinData, ReadName, default_data, read_name
from romforge.locales.t9rank import (FREE_SYLLABLES, NUMBER_SLOT, WORD, Contact, Entry, kind_of, locate,
                                     make_entry, rank_walk, slot_of, slot_order, typings)
from romforge.safeio import read_csv

__all__ = ["Contact", "Entry", "KINDS", "MAX_RESULTS", "Match", "T9Index", "T9Search", "index_from_json",
           "index_to_json", "load_data", "load_index", "number_digits", "read_contacts", "write_index"]

MAX_RESULTS = 20
MAX_T9_DATA_BYTES = 64 << 20  # a shipped .t9 file is a few hundred KB
KINDS = ("full", "prefix", "initials", "mixed", "given-name", "word", "middle", "number")
INDEX_FORMAT = "romforge-t9-index"
INDEX_VERSION = 2
_READ_VERSIONS = (1, 2)
_SHORT = 2  # queries this long or shorter take their ranges' smallest ids from the build
_SMALL_RANGE = 256  # ranges this small are ranked on the spot


@dataclass(frozen=True)
class Match:
    contact: Contact
    kind: str  # one of KINDS
    span: tuple[int, int]  # [start, end) in the name, or in the number for kind "number"

    def to_json(self) -> dict:
        return {"name": self.contact.name, "number": self.contact.number, "match": self.kind,
                "span": list(self.span)}


def number_digits(number: str) -> tuple[str, tuple[int, ...]]:
    """The digits of a phone number and where each stands in the written number."""
    positions = tuple(i for i, ch in enumerate(number) if ch.isascii() and ch.isdigit())
    return "".join(number[i] for i in positions), positions


def _slot_keys(e: Entry, memo: dict) -> dict[str, int]:
    """Every key of one contact with the best slot it has."""
    best: dict[str, int] = {}
    stride = slot_of(0, 1, 0, False)  # one pattern further on
    get = best.get
    for r, (digits, starts) in enumerate(zip(e.typed, e.starts)):
        for k, where, skip, words in starts:
            free = FREE_SYLLABLES if where == WORD else 0
            part = digits[k:]
            found = memo.get((part, free, words))
            if found is None:
                found = memo[(part, free, words)] = typings(part, free, words)
            base = slot_of(where, 0, skip, r > 0)
            for key, pattern in found.items():
                slot = base + pattern * stride
                if slot < get(key, NUMBER_SLOT):
                    best[key] = slot
    return best


class T9Index:
    """Sorted keys per slot over a contact list; build once, query per keystroke."""

    def __init__(self, entries: list[Entry], keys: dict[int, tuple[list[str], list[int]]], keypad: Keypad) -> None:
        self.entries = entries
        self.keys = keys
        self.keypad = keypad
        # (slot, complete): the exact keys of a name slot, then its longer keys; the number slot whole (None)
        self.order = sorted([(slot, complete) for slot in keys if slot != NUMBER_SLOT for complete in (True, False)]
                            + [(slot, None) for slot in keys if slot == NUMBER_SLOT],
                            key=lambda sc: slot_order(sc[0], bool(sc[1])))
        self.short = {slot: _short_lists(*pair, whole=slot == NUMBER_SLOT) for slot, pair in keys.items()}

    # -- building --
    @classmethod
    def build(cls, contacts: Iterable[Contact], data: PinyinData | None = None) -> "T9Index":
        data = data or default_data()
        reads = [(c, read_name(c.name, data)) for c in contacts]
        return cls.from_reads(reads, data.keypad)

    @classmethod
    def from_reads(cls, reads: list[tuple[Contact, ReadName]], keypad: Keypad) -> "T9Index":
        reads = sorted(reads, key=lambda cr: (cr[1].pinyin, cr[0].name, cr[0].number))  # ids: the stable order
        digits_of: dict[str, str] = {}
        entries = [make_entry(c, r, keypad, digits_of) for c, r in reads]
        slot_keys: dict[int, list[str]] = {NUMBER_SLOT: []}
        slot_ids: dict[int, list[int]] = {NUMBER_SLOT: []}
        memo: dict = {}
        for cid, e in enumerate(entries):
            for key, slot in _slot_keys(e, memo).items():
                if slot not in slot_keys:
                    slot_keys[slot], slot_ids[slot] = [], []
                slot_keys[slot].append(key)
                slot_ids[slot].append(cid)
            number = e.contact.number
            if not (number.isascii() and number.isdigit()):
                number = number_digits(number)[0]
            tails = {number[j:] for j in range(len(number))}
            slot_keys[NUMBER_SLOT] += tails
            slot_ids[NUMBER_SLOT] += [cid] * len(tails)
        keys = {}
        for slot in sorted(slot_keys):
            unsorted, ids = slot_keys[slot], slot_ids[slot]
            order = sorted(range(len(unsorted)), key=unsorted.__getitem__)  # stable: ids ascend within a key
            keys[slot] = ([unsorted[i] for i in order], [ids[i] for i in order])
        return cls(entries, keys, keypad)

    # -- querying --
    def search(self, digits: str) -> list[Match]:
        session = T9Search(self)
        for d in digits:
            session.push(d)
        return session.results()

    def scan(self, digits: str) -> list[Match]:
        """The same answer by walking every contact in turn (the baseline the index is measured against)."""
        _check_digits(digits)
        found: list[tuple[tuple, int, Match]] = []
        for cid, e in enumerate(self.entries):
            best = rank_walk(e, digits)
            if best is not None:
                found.append((slot_order(best.slot, best.complete), cid, _located(e, digits, best.slot,
                                                                                   best.complete)))
            elif digits in number_digits(e.contact.number)[0]:
                found.append((slot_order(NUMBER_SLOT, False), cid, _located(e, digits, NUMBER_SLOT, False)))
        found.sort(key=lambda t: (t[0], t[1]))
        return [m for _, _, m in found[:MAX_RESULTS]]


def _short_lists(keys: list[str], ids: list[int], *, whole: bool) -> dict[str, list[int]]:
    """For each one- or two-digit prefix, the smallest ids (twice MAX_RESULTS) of the keys longer
    than it, or (`whole`) of every key it begins."""
    out: dict[str, list[int]] = {}
    for p in (a + b for a in "0123456789" for b in ("",) + tuple("0123456789")):
        lo = (bisect.bisect_left if whole else bisect.bisect_right)(keys, p)
        hi = bisect.bisect_left(keys, p + ":", lo)
        if hi - lo > _SMALL_RANGE:
            out[p] = heapq.nsmallest(2 * MAX_RESULTS, set(ids[lo:hi]))
    return out


def _check_digits(digits: str) -> None:
    if not digits or not all(ch in "0123456789" for ch in digits):
        raise InputError(f"{digits!r} is not a T9 query: type digits 0-9")


class T9Search:
    """An incremental query: push() one digit at a time; each bisects inside the previous ranges."""

    def __init__(self, index: T9Index) -> None:
        self.index = index
        self.query = ""
        self.ranges = {slot: (0, len(keys)) for slot, (keys, _) in index.keys.items()}
        self._stack: list[dict[int, tuple[int, int]]] = []

    def push(self, digit: str) -> None:
        _check_digits(digit)
        self._stack.append(self.ranges)
        self.query += digit
        narrowed = {}
        for slot, (lo, hi) in self.ranges.items():
            if lo < hi:
                keys = self.index.keys[slot][0]
                lo = bisect.bisect_left(keys, self.query, lo, hi)
                hi = bisect.bisect_left(keys, self.query + ":", lo, hi)  # ':' follows '9'
            narrowed[slot] = (lo, hi)
        self.ranges = narrowed

    def pop(self) -> None:
        """Backspace: back to the previous ranges."""
        self.ranges = self._stack.pop()
        self.query = self.query[:-1]

    def results(self) -> list[Match]:
        if not self.query:
            return []
        query, index = self.query, self.index
        taken: dict[int, tuple[int, bool]] = {}
        for slot, complete in index.order:
            lo, hi = self.ranges[slot]
            if lo >= hi:
                continue
            keys, ids = index.keys[slot]
            if complete is None:
                a, b = lo, hi
            else:
                exact_hi = bisect.bisect_right(keys, query, lo, hi)
                a, b = (lo, exact_hi) if complete else (exact_hi, hi)
            if a >= b:
                continue
            short = index.short[slot].get(query) if not complete and b - a > _SMALL_RANGE else None
            candidates = short if short is not None else heapq.nsmallest(MAX_RESULTS + len(taken), set(ids[a:b]))
            for cid in candidates:
                if cid not in taken:
                    taken[cid] = (slot, bool(complete))
                    if len(taken) >= MAX_RESULTS:
                        break
            if len(taken) >= MAX_RESULTS:
                break
        return [_located(index.entries[cid], query, slot, complete) for cid, (slot, complete) in taken.items()]


def _located(e: Entry, query: str, slot: int, complete: bool) -> Match:
    """The match with its kind and the span it covers (for highlighting)."""
    if slot == NUMBER_SLOT:
        digits, positions = number_digits(e.contact.number)
        at = digits.find(query)
        return Match(e.contact, "number", (positions[at], positions[at + len(query) - 1] + 1))
    span, start = locate(e, query, slot, complete)
    return Match(e.contact, kind_of(e, slot, complete, start), span)


# ---- contacts and the prebuilt index ----------------------------------------------------


MAX_NAME_CHARS = 256


def read_contacts(path: Path, *, shown: str | None = None) -> list[Contact]:
    """A contacts CSV with the columns name,number (UTF-8, a header row)."""
    rows = read_csv(path, required=("name", "number"), shown=shown, max_field=MAX_NAME_CHARS)
    contacts = []
    for row in rows:
        name, number = row.values["name"], row.values["number"]
        if not name and not number:
            continue
        if number and not all(ch in "0123456789 +-()./" for ch in number):
            raise InputError(f"number {number!r} holds characters a phone number cannot have", file=shown or path,
                             line=row.line)
        contacts.append(Contact(name, number))
    return contacts


def index_to_json(index: T9Index) -> str:
    """The prebuilt index: the keypad and each contact with its readings, deterministic JSON. The
    key lists are not stored: loading rebuilds them from the readings (no pinyin is read again)."""
    doc = {
        "format": INDEX_FORMAT,
        "version": INDEX_VERSION,
        "keypad": index.keypad.to_text(),
        "contacts": [{"name": e.contact.name, "number": e.contact.number, "options": [list(o) for o in e.read.options],
                      "spans": [list(s) for s in e.read.spans], "given_start": e.read.given_start,
                      "extra": [list(x) for x in e.read.extra]}
                     for e in index.entries],
    }
    return json.dumps(doc, ensure_ascii=False, sort_keys=True, separators=(",", ":")) + "\n"


def _read_from_json(c: dict) -> tuple[Contact, ReadName]:
    name, number = c["name"], c["number"]
    options = tuple(tuple(o) for o in c["options"])
    spans = tuple((int(a), int(b)) for a, b in c["spans"])
    extra = tuple(tuple(x) for x in c.get("extra", ()))
    given = c["given_start"]
    if not (isinstance(name, str) and isinstance(number, str) and len(spans) == len(options)
            and all(o and all(isinstance(s, str) and s for s in o) for o in options)
            and all(0 <= a < b <= len(name) for a, b in spans)
            and all(len(x) == len(options) and all(isinstance(s, str) for s in x) for x in extra)
            and (given is None or isinstance(given, int) and 0 <= given < len(options))):
        raise ValueError(f"contact {name!r} is malformed")
    return Contact(name, number), ReadName(name, options, spans, given, extra)


def index_from_json(text: str, *, shown: str) -> T9Index:
    """A prebuilt index, version 2 or the older version 1 (whose stored key lists are rebuilt like version 2's)."""
    try:
        doc = json.loads(text)
        if not isinstance(doc, dict) or doc.get("format") != INDEX_FORMAT or doc.get("version") not in _READ_VERSIONS:
            raise InputError(f"not a {INDEX_FORMAT} file of version " + " or ".join(map(str, _READ_VERSIONS)),
                             file=shown)
        keypad = Keypad.from_text(doc["keypad"])
        reads = [_read_from_json(c) for c in doc["contacts"]]
    except (ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
        raise InputError(f"not a readable T9 index: {exc}", file=shown) from None
    except RecursionError:  # json nests arrays by recursion: 5000 [ are not an index
        raise InputError("not a readable T9 index: nested too deeply", file=shown) from None
    return T9Index.from_reads(reads, keypad)


def load_data(*, pack: Path | None = None, data_file: Path | None = None) -> PinyinData:
    """Pinyin data from a locale pack (its t9/names.toml and keypad), a shipped .t9 file, or the built-in tables."""
    from romforge.errors import shown_path
    from romforge.locales import t9file
    from romforge.locales.pack import open_pack
    from romforge.locales.shipping import t9_data

    if data_file is not None:
        shown = shown_path(data_file)
        blob = read_regular_file(data_file, shown=shown, max_bytes=MAX_T9_DATA_BYTES, follow_symlinks=True)
        return t9file.from_bytes(blob, shown=shown)
    if pack is not None:
        with open_pack(pack) as opened:
            data = t9_data(opened)
        if data is None:
            raise InputError("this pack brings no T9 data (not Chinese, no keypad.toml, no t9/)",
                             file=shown_path(pack))
        return data
    return default_data()


def load_index(*, contacts: Path | None, index_file: Path | None, data: PinyinData) -> T9Index:
    """An index built from a contacts CSV, or a prebuilt one from `romforge t9 index`."""
    from romforge.errors import shown_path
    from romforge.safeio import read_text

    if index_file is not None:
        shown = shown_path(index_file)
        return index_from_json(read_text(index_file, shown=shown, max_bytes=256 << 20), shown=shown)
    if contacts is None:
        raise InputError("give --contacts CSV (columns name,number) or --index FILE")
    return T9Index.build(read_contacts(contacts, shown=shown_path(contacts)), data)


def write_index(index: T9Index, out: Path) -> None:
    """Written to a temporary sibling and renamed: a half-written index never replaces a good one."""
    import os
    import tempfile

    make_parent(out, what="T9 index")
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(index_to_json(index))
        os.replace(tmp, out)
    except BaseException:
        os.unlink(tmp)
        raise

"""T9 smart dial: find a contact by typing its name's pinyin (or any script) on the number keys.

A query of digits matches a contact by the full spelling of its syllables, their initials,
any mix of full syllables and initials in order (936643 = zeng+g+f), the given name alone
(skipping the surname), or the phone number (substring). Ranking: exact full > prefix of
full > initials > mixed > given name > number; ties by the contact's stable key (primary
reading, name, number); at most 20 results, each with the span of the name (or number) it
matched so a dialer can highlight it.

The index is built once: per match kind, every key (the digits of one way to type the
name) in one sorted list with a parallel list of contact ids. A query is a prefix range
found by bisection; each extra digit bisects inside the previous range, so typing
narrows the result set instead of scanning every contact.
"""

from __future__ import annotations

import bisect
import heapq
import itertools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from romforge.errors import InputError
from romforge.locales.keypad import Keypad
from romforge.locales.pinyin import PinyinData, ReadName, default_data, read_name
from romforge.safeio import read_csv

MAX_RESULTS = 20
FREE_SYLLABLES = 5  # every full/initial mix over the first five syllables; beyond, one choice for the rest
KINDS = ("full", "prefix", "initials", "mixed", "given-name", "number")
_CLASSES = ("full", "initials", "mixed", "given", "number")  # key lists; "full" serves full and prefix
INDEX_FORMAT = "romforge-t9-index"
INDEX_VERSION = 1


@dataclass(frozen=True)
class Contact:
    name: str
    number: str


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


def _typings(digits: tuple[str, ...]) -> set[str]:
    """Every way to type the syllables: each in full or by its initial, in order (past
    FREE_SYLLABLES the rest all take one choice, keeping long names to a bounded number of keys)."""
    head = [(d, d[0]) if len(d) > 1 else (d,) for d in digits[:FREE_SYLLABLES]]
    keys = set(map("".join, itertools.product(*head)))
    tail = digits[FREE_SYLLABLES:]
    if tail:
        endings = ("".join(tail), "".join(d[0] for d in tail))
        keys = {k + e for k in keys for e in endings}
    return keys


@dataclass(frozen=True)
class Entry:
    """One contact as the index sees it: typed digits of each reading's syllables."""

    contact: Contact
    read: ReadName
    typed: tuple[tuple[str, ...], ...]  # per reading, per syllable: digits ("" when not typeable)
    syllable_of: tuple[tuple[int, ...], ...]  # per reading: index into read.spans for each typed syllable


def _entry(contact: Contact, read: ReadName, keypad: Keypad) -> Entry:
    typed, which = [], []
    for reading in read.readings:
        digits, idx = [], []
        for i, syllable in enumerate(reading):
            d = keypad.encode(syllable)
            if d:
                digits.append(d)
                idx.append(i)
        typed.append(tuple(digits))
        which.append(tuple(idx))
    return Entry(contact, read, tuple(typed), tuple(which))


class T9Index:
    """Sorted keys per match kind over a contact list; build once, query per keystroke."""

    def __init__(self, entries: list[Entry], keys: dict[str, tuple[list[str], list[int]]], keypad: Keypad) -> None:
        self.entries = entries
        self.keys = keys
        self.keypad = keypad

    # -- building --
    @classmethod
    def build(cls, contacts: Iterable[Contact], data: PinyinData | None = None) -> "T9Index":
        data = data or default_data()
        reads = [(c, read_name(c.name, data)) for c in contacts]
        reads.sort(key=lambda cr: (cr[1].pinyin, cr[0].name, cr[0].number))  # ids are the stable tie order
        entries = [_entry(c, r, data.keypad) for c, r in reads]
        pairs: dict[str, list[tuple[str, int]]] = {k: [] for k in _CLASSES}
        for cid, e in enumerate(entries):
            full, initials, mixed, given_keys = set(), set(), set(), set()
            for digits, which in zip(e.typed, e.syllable_of):
                if not digits:
                    continue
                all_full, all_initial = "".join(digits), "".join(d[0] for d in digits)
                full.add(all_full)
                initials.add(all_initial)
                mixed |= _typings(digits)
                given = e.read.given_start
                if given is not None:
                    start = next((k for k, i in enumerate(which) if i >= given), None)
                    if start is not None:
                        given_keys |= _typings(digits[start:])
            mixed -= full | initials
            number, _ = number_digits(e.contact.number)
            numbers = {number[j:] for j in range(len(number))}
            for kind, keys in (("full", full), ("initials", initials), ("mixed", mixed), ("given", given_keys),
                               ("number", numbers)):
                pairs[kind].extend((k, cid) for k in keys)
        keys = {}
        for kind, items in pairs.items():
            items.sort()
            keys[kind] = ([k for k, _ in items], [i for _, i in items])
        return cls(entries, keys, data.keypad)

    # -- querying --
    def search(self, digits: str) -> list[Match]:
        session = T9Search(self)
        for d in digits:
            session.push(d)
        return session.results()

    def scan(self, digits: str) -> list[Match]:
        """The same answer by testing every contact in turn (the baseline the index is measured against)."""
        _check_digits(digits)
        found: list[tuple[int, int, Match]] = []
        for cid, e in enumerate(self.entries):
            match = _match_entry(e, digits)
            if match is not None:
                found.append((KINDS.index(match.kind), cid, match))
        found.sort(key=lambda t: (t[0], t[1]))
        return [m for _, _, m in found[:MAX_RESULTS]]


def _check_digits(digits: str) -> None:
    if not digits or not all(ch in "0123456789" for ch in digits):
        raise InputError(f"{digits!r} is not a T9 query: type digits 0-9")


class T9Search:
    """An incremental query: push() one digit at a time; each bisects inside the previous ranges."""

    def __init__(self, index: T9Index) -> None:
        self.index = index
        self.query = ""
        self.ranges = {kind: (0, len(keys)) for kind, (keys, _) in index.keys.items()}
        self._stack: list[dict[str, tuple[int, int]]] = []

    def push(self, digit: str) -> None:
        _check_digits(digit)
        self._stack.append(self.ranges)
        self.query += digit
        narrowed = {}
        for kind, (lo, hi) in self.ranges.items():
            keys = self.index.keys[kind][0]
            new_lo = bisect.bisect_left(keys, self.query, lo, hi)
            narrowed[kind] = (new_lo, bisect.bisect_left(keys, self.query + ":", new_lo, hi))  # ':' follows '9'
        self.ranges = narrowed

    def pop(self) -> None:
        """Backspace: back to the previous ranges."""
        self.ranges = self._stack.pop()
        self.query = self.query[:-1]

    def results(self) -> list[Match]:
        if not self.query:
            return []
        taken: dict[int, str] = {}
        full_keys, full_ids = self.index.keys["full"]
        lo, hi = self.ranges["full"]
        exact_hi = bisect.bisect_right(full_keys, self.query, lo, hi)
        plan = [("full", full_ids, lo, exact_hi), ("prefix", full_ids, exact_hi, hi)]
        for cls, kind in (("initials", "initials"), ("mixed", "mixed"), ("given", "given-name"),
                          ("number", "number")):
            lo, hi = self.ranges[cls]
            plan.append((kind, self.index.keys[cls][1], lo, hi))
        for kind, ids, lo, hi in plan:
            need = MAX_RESULTS - len(taken)
            if need <= 0:
                break
            if lo >= hi:
                continue
            candidates = set(ids[lo:hi])
            for cid in heapq.nsmallest(need + len(taken), candidates):
                if cid not in taken and len(taken) < MAX_RESULTS:
                    taken[cid] = kind
        return [_located(self.index.entries[cid], self.query, kind) for cid, kind in taken.items()]


# ---- where a query matched (for highlighting) ---------------------------------------------


def _walk(digits: tuple[str, ...], start: int, query: str, allow_full: bool, allow_initial: bool) -> int | None:
    """Index of the last syllable the query reaches when typed from `start`, or None.

    Each syllable is typed in full or by its initial; past FREE_SYLLABLES the rest all take
    the same choice (as the index keys do); the query may end inside a syllable typed in full.
    """
    choices = [c for c, ok in ((True, allow_full), (False, allow_initial)) if ok]

    def step(i: int, rest: str, forced: bool | None) -> int | None:
        if not rest:
            return i - 1
        if i >= len(digits):
            return None
        d = digits[i]
        for full in ([forced] if forced is not None else choices):
            tail = full if i - start >= FREE_SYLLABLES else None
            if full:
                if rest.startswith(d):
                    found = step(i + 1, rest[len(d):], tail)
                    if found is not None:
                        return found
                elif d.startswith(rest):
                    return i  # the query ends inside this syllable
            elif rest[0] == d[0]:
                found = step(i + 1, rest[1:], tail)
                if found is not None:
                    return found
        return None

    return step(start, query, None)


def _name_match(e: Entry, query: str, kind: str) -> tuple[int, int] | None:
    for digits, which in zip(e.typed, e.syllable_of):
        if not digits:
            continue
        start = 0
        if kind == "given-name":
            given = e.read.given_start
            start = next((k for k, i in enumerate(which) if given is not None and i >= given), None)
            if start is None:
                continue
        allow_full = kind in ("full", "prefix", "mixed", "given-name")
        allow_initial = kind in ("initials", "mixed", "given-name")
        last = _walk(digits, start, query, allow_full, allow_initial)
        if last is None:
            continue
        if kind == "full" and not (last == len(digits) - 1 and "".join(digits) == query):
            continue
        if kind == "prefix" and "".join(digits) == query:
            continue
        spans = e.read.spans
        return spans[which[start]][0], spans[which[last]][1]
    return None


def _number_match(e: Entry, query: str) -> tuple[int, int] | None:
    digits, positions = number_digits(e.contact.number)
    at = digits.find(query)
    if at < 0:
        return None
    return positions[at], positions[at + len(query) - 1] + 1


def _located(e: Entry, query: str, kind: str) -> Match:
    span = _number_match(e, query) if kind == "number" else _name_match(e, query, kind)
    return Match(e.contact, kind, span or (0, 0))


def _match_entry(e: Entry, query: str) -> Match | None:
    for kind in KINDS:
        span = _number_match(e, query) if kind == "number" else _name_match(e, query, kind)
        if span is not None:
            return Match(e.contact, kind, span)
    return None


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
        if number and not all(ch.isdigit() or ch in " +-()./" for ch in number):
            raise InputError(f"number {number!r} holds characters a phone number cannot have", file=shown or path,
                             line=row.line)
        contacts.append(Contact(name, number))
    return contacts


def index_to_json(index: T9Index) -> str:
    """The prebuilt index: contacts with their readings and the sorted keys, deterministic JSON."""
    doc = {
        "format": INDEX_FORMAT,
        "version": INDEX_VERSION,
        "keypad": index.keypad.to_text(),
        "contacts": [{"name": e.contact.name, "number": e.contact.number, "options": [list(o) for o in e.read.options],
                      "spans": [list(s) for s in e.read.spans], "given_start": e.read.given_start}
                     for e in index.entries],
        "keys": {kind: [keys, ids] for kind, (keys, ids) in sorted(index.keys.items())},
    }
    return json.dumps(doc, ensure_ascii=False, sort_keys=True, separators=(",", ":")) + "\n"


def index_from_json(text: str, *, shown: str) -> T9Index:
    try:
        doc = json.loads(text)
        if doc.get("format") != INDEX_FORMAT or doc.get("version") != INDEX_VERSION:
            raise InputError(f"not a {INDEX_FORMAT} version {INDEX_VERSION} file", file=shown)
        keypad = Keypad.from_text(doc["keypad"])
        entries = []
        for c in doc["contacts"]:
            read = ReadName(c["name"], tuple(tuple(o) for o in c["options"]), tuple(tuple(s) for s in c["spans"]),
                            c["given_start"])
            entries.append(_entry(Contact(c["name"], c["number"]), read, keypad))
        keys = {kind: (list(pair[0]), list(pair[1])) for kind, pair in doc["keys"].items()}
        if set(keys) != set(_CLASSES):
            raise InputError("the index lacks some key lists", file=shown)
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError(f"not a readable T9 index: {exc}", file=shown) from None
    return T9Index(entries, keys, keypad)


def load_data(*, pack: Path | None = None, data_file: Path | None = None) -> PinyinData:
    """Pinyin data from a locale pack (its t9/names.toml and keypad), a shipped .t9 file, or the built-in tables."""
    from romforge.errors import shown_path
    from romforge.locales import t9file
    from romforge.locales.pack import open_pack
    from romforge.locales.shipping import t9_data

    if data_file is not None:
        shown = shown_path(data_file)
        try:
            blob = data_file.read_bytes()
        except OSError as exc:
            raise InputError(f"cannot read: {exc.strerror}", file=shown) from None
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

    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(index_to_json(index))
        os.replace(tmp, out)
    except BaseException:
        os.unlink(tmp)
        raise

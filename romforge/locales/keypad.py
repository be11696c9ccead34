"""Dialer keypads: which letters each digit key carries (ITU E.161 for Latin, a pack's own for others)."""

from __future__ import annotations

import functools
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from romforge.tomlfile import load_toml, type_name

STANDARD = {"2": "abc", "3": "def", "4": "ghi", "5": "jkl", "6": "mno", "7": "pqrs", "8": "tuv", "9": "wxyz"}
_KEYS = tuple("0123456789")
_TOP = ("latin", "digits")


@dataclass(frozen=True)
class Keypad:
    """letter → digit; digits stand for themselves."""

    keys: tuple[tuple[str, str], ...]  # (digit, letters), sorted by digit

    @classmethod
    def standard(cls) -> "Keypad":
        return cls(tuple(sorted(STANDARD.items())))

    @property
    def letters(self) -> dict[str, str]:
        return _letters(self.keys)

    def encode(self, text: str) -> str | None:
        """The digits that type `text`, or None when a character is on no key."""
        return _encode(self.keys, text)

    def to_text(self) -> str:
        return "".join(f"{digit}={letters}\n" for digit, letters in self.keys)

    @classmethod
    def from_text(cls, text: str) -> "Keypad":
        keys = []
        for line in text.splitlines():
            digit, _, letters = line.partition("=")
            keys.append((digit, letters))
        return cls(tuple(keys))


@functools.lru_cache(maxsize=8)
def _letters(keys: tuple[tuple[str, str], ...]) -> dict[str, str]:
    return {letter: digit for digit, letters in keys for letter in letters}


@functools.lru_cache(maxsize=65536)
def _encode(keys: tuple[tuple[str, str], ...], text: str) -> str | None:
    table = _letters(keys)
    out = []
    for ch in text.lower():
        digit = table.get(ch) or (ch if ch.isdigit() and ch.isascii() else None)
        if digit is None:
            base = unicodedata.normalize("NFKD", ch)[:1]  # é → e, ü → u
            digit = table.get(base)
        if digit is None:
            return None
        out.append(digit)
    return "".join(out)


def load_keypad(path: Path, *, shown: str) -> Keypad:
    """keypad.toml: `[digits]` "2" = "абвг" …, and `latin = true` to keep 2=abc … 9=wxyz as well."""
    doc = load_toml(path, display=shown)
    for key, value in doc.data.items():
        if key not in _TOP:
            raise doc.error(f"unknown key '{key}'", key, hint="keypad.toml takes: latin, [digits]")
    latin = doc.data.get("latin", True)
    if not isinstance(latin, bool):
        raise doc.error(f"'latin' must be a boolean, not a {type_name(latin)}", "latin")
    digits = doc.data.get("digits")
    if not isinstance(digits, dict) or not digits:
        raise doc.error("[digits] must map keys \"2\" … \"9\" to their letters", "digits")
    merged: dict[str, str] = dict(STANDARD) if latin else {}
    owner: dict[str, str] = {}
    for digit, letters in digits.items():
        if digit not in _KEYS:
            raise doc.error(f"'{digit}' is not a keypad digit (0-9)", "digits", digit)
        if not isinstance(letters, str) or not letters:
            raise doc.error(f"digits.{digit} must be a non-empty string of letters", "digits", digit)
        for letter in letters:
            if not letter.isalpha() or letter != letter.lower():
                raise doc.error(f"digits.{digit}: {letter!r} is not a lowercase letter", "digits", digit)
            if letter in owner:
                raise doc.error(f"digits.{digit}: {letter!r} is already on key {owner[letter]}", "digits", digit)
            owner[letter] = digit
        merged[digit] = merged.get(digit, "") + letters if latin else letters
    if latin:
        clash = set(owner) & set("".join(STANDARD.values()))
        if clash:
            raise doc.error(f"letters {''.join(sorted(clash))} are already on the Latin keys; set latin = false "
                            "to place them yourself", "digits")
    return Keypad(tuple(sorted(merged.items())))

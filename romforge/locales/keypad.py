"""Dialer keypads: which letters each digit key carries (ITU E.161 for Latin, a pack's own for others)."""

from __future__ import annotations

import functools
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, ConfigDict, Field

from romforge.schema import Table, each_entry, problem, validate
from romforge.tomlfile import load_toml

STANDARD = {"2": "abc", "3": "def", "4": "ghi", "5": "jkl", "6": "mno", "7": "pqrs", "8": "tuv", "9": "wxyz"}
_KEYS = tuple("0123456789")


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


def _digit_letters(digit: str, letters: Any) -> str | None:
    if digit not in _KEYS:
        return f"'{digit}' is not a keypad digit (0-9)"
    if not isinstance(letters, str) or not letters:
        return f"digits.{digit} must be a non-empty string of letters"
    for letter in letters:
        if not letter.isalpha() or letter != letter.lower():
            return f"digits.{digit}: {letter!r} is not a lowercase letter"
    return None


def _some_digits(digits: dict[str, Any]) -> dict[str, Any]:
    if not digits:
        raise problem("[digits] must map keys \"2\" … \"9\" to their letters")
    return digits


class KeypadToml(Table):
    """keypad.toml: `[digits]` "2" = "абвг" …, and `latin = true` to keep 2=abc … 9=wxyz as well."""

    model_config = ConfigDict(title="keypad.toml")

    latin: bool = True
    digits: Annotated[dict[str, Any], each_entry(_digit_letters), AfterValidator(_some_digits)] = Field(
        description='maps keys "2" … "9" to their letters')


def load_keypad(path: Path, *, shown: str) -> Keypad:
    """Read keypad.toml; letters must be on one key each (and off the Latin keys unless latin = false)."""
    doc = load_toml(path, display=shown)
    keypad = validate(KeypadToml, doc.data, doc)
    latin = keypad.latin
    merged: dict[str, str] = dict(STANDARD) if latin else {}
    owner: dict[str, str] = {}
    for digit, letters in keypad.digits.items():
        for letter in letters:
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

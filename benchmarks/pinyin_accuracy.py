#!/usr/bin/env python3
"""Primary reading accuracy on the hand-written name list (tests/names_zh.py): romforge vs plain pypinyin.

Plain pypinyin is `lazy_pinyin(name, style=Style.NORMAL)` (its phrase data, no surname
rules), the usual way a dialer would call it, lowercased and joined with spaces.

    .venv/bin/python benchmarks/pinyin_accuracy.py
"""

from __future__ import annotations

import sys
from pathlib import Path

from pypinyin import Style, lazy_pinyin

from romforge.locales.pinyin import pinyin

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from names_zh import NAMES  # noqa: E402


def plain_pypinyin(name: str) -> str:
    return " ".join(part.strip().lower() for part in lazy_pinyin(name, style=Style.NORMAL) if part.strip())


def main() -> int:
    total = ours = theirs = 0
    print(f"{'category':<15} {'names':>5} {'romforge':>9} {'pypinyin':>9}")
    for category, items in NAMES.items():
        a = sum(pinyin(n) == want for n, want in items)
        b = sum(plain_pypinyin(n) == want for n, want in items)
        total, ours, theirs = total + len(items), ours + a, theirs + b
        print(f"{category:<15} {len(items):>5} {a / len(items):>8.0%} {b / len(items):>8.0%}")
    print(f"{'all':<15} {total:>5} {ours / total:>8.0%} {theirs / total:>8.0%}")
    wrong = [(n, plain_pypinyin(n), w) for items in NAMES.values() for n, w in items if plain_pypinyin(n) != w]
    print("plain pypinyin misreads, e.g.: " + "; ".join(f"{n} → {got} (not {w})" for n, got, w in wrong[:6]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Whole numbers in text romforge reads: ASCII digits only, a bounded number of them.

`str.isdigit()` is true for "²³" (which `int()` then refuses with a ValueError) and `int()`
reads Arabic-Indic and other scripts' digits and thousands of digits slowly: property files
(payload_properties.txt, misc_info.txt, ota-property-files), build.prop values and versions
are parsed here instead, so a hostile value is "not a number", never a crash.
"""

from __future__ import annotations

MAX_DIGITS = 20  # 2**64 has 20 digits: every count, size, offset and time romforge reads fits


def ascii_uint(text: str, *, max_digits: int = MAX_DIGITS) -> int | None:
    """`text` as a non-negative integer when it is 1 to `max_digits` ASCII digits, else None."""
    if 0 < len(text) <= max_digits and text.isascii() and text.isdigit():
        return int(text)
    return None

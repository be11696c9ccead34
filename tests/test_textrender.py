"""Text layout: grapheme clusters (UAX #29) and bidi order (UAX #9) in what the typesetter draws.

The expectations come from elsewhere than the code under test: python-bidi's own
reordering (`get_display`) for the visual order, clusters written out by hand from the
Unicode rules, Pillow/raqm laying out a whole single-font string itself, and pixels.
"""

from __future__ import annotations

import unicodedata

import pytest
from bidi import get_display
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageChops, ImageDraw, ImageFont

from romforge.bootscreen.contributors import MAX_CLUSTER, sanitize
from romforge.bootscreen.textrender import ELLIPSIS, Typesetter, clusters

WOMAN_TECH = "\U0001f469\u200d\U0001f4bb"  # 👩‍💻
FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467"  # 👨‍👩‍👧
FLAG_UN = "\U0001f1fa\U0001f1f3"  # 🇺🇳
THUMB_DARK = "\U0001f44d\U0001f3fd"  # 👍🏽
HAN_JAMO = "\u1112\u1161\u11ab"  # 한 written as three conjoining jamo
KSSA = "\u0915\u094d\u0937"  # क्ष: KA, VIRAMA, SSA (a conjunct: one cluster since Unicode 15.1)


@pytest.fixture(scope="module")
def raqm() -> Typesetter:
    return Typesetter.load()


@pytest.fixture(scope="module")
def basic() -> Typesetter:
    return Typesetter.load(shaping="basic")


def _display_order(typesetter: Typesetter, text: str) -> str:
    """What the typesetter puts on screen, left to right, as code points (like get_display)."""
    runs, _, _ = typesetter.visual_runs(text)
    return "".join(run.text[::-1] if run.rtl else run.text for run in runs)


# ---- grapheme clusters ---------------------------------------------------------------


@pytest.mark.parametrize("text, expected", [
    (WOMAN_TECH + FAMILY, [WOMAN_TECH, FAMILY]),  # GB11: ZWJ between pictographs joins
    (FLAG_UN + "\U0001f1e8\U0001f1f3\U0001f1e8", [FLAG_UN, "\U0001f1e8\U0001f1f3", "\U0001f1e8"]),  # GB12/13: pairs
    (THUMB_DARK + "a", [THUMB_DARK, "a"]),  # the skin tone is Extend
    (HAN_JAMO + "\uac00", [HAN_JAMO, "\uac00"]),  # GB6-8: L V T is one syllable
    (KSSA + "\u093f" + "\u092f", [KSSA + "\u093f", "\u092f"]),  # GB9c, then the vowel sign (GB9a)
    ("e\u0301a", ["e\u0301", "a"]),  # GB9: a combining mark stays with its base
    ("a\u200db", ["a\u200d", "b"]),  # a ZWJ after a letter does not join the next letter
])
def test_clusters_follow_unicode_segmentation(text: str, expected: list[str]) -> None:
    assert clusters(text) == expected


_CLUSTER_POOL = [WOMAN_TECH, FAMILY, FLAG_UN, THUMB_DARK, HAN_JAMO, KSSA + "\u093f", "e\u0301", "A", " ", "\u0645",
                 "\u674e"]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(_CLUSTER_POOL), min_size=1, max_size=90), st.integers(2, 60))
def test_cutting_a_name_never_splits_a_cluster(pieces: list[str], limit: int) -> None:
    text = "X" + "".join(pieces)  # starts with a letter: sanitize only trims spaces at the ends
    whole = clusters(" ".join(unicodedata.normalize("NFC", text).split()))  # sanitize composes (NFC) first
    cut, _ = sanitize(text, limit)
    kept = clusters(cut)
    if len(whole) <= limit:
        assert kept == whole
    else:
        assert kept[-1] == ELLIPSIS and len(kept) <= limit
        body = "".join(kept[:-1])
        assert any(body == "".join(whole[:n]).rstrip() for n in range(len(whole)))


def test_an_overlong_joined_sequence_is_dropped_whole_not_cut() -> None:
    text = "Ana " + "\U0001f469\u200d" * 40 + "\U0001f469 Li"
    cut, problems = sanitize(text, 48)
    assert cut == "Ana Li"
    assert problems == [f"removed a sequence of more than {MAX_CLUSTER} joined characters"]
    assert sanitize(f"Ana {FAMILY}", 48) == (f"Ana {FAMILY}", [])


def test_drawn_truncation_stops_at_a_cluster_boundary(raqm: Typesetter) -> None:
    name = "Ana " + (WOMAN_TECH + FAMILY + FLAG_UN + THUMB_DARK) * 6
    whole = clusters(name)
    full = raqm.line(name, 40)
    for width in range(full.advance // 8, full.advance, full.advance // 8):
        line = raqm.line(name, 40, max_width=width)
        assert line.truncated and line.advance <= width and line.text.endswith(ELLIPSIS)
        body = line.text[: -len(ELLIPSIS)]
        assert any(body == "".join(whole[:n]).rstrip() for n in range(len(whole)))


def test_an_emoji_zwj_sequence_is_drawn_as_one_glyph(raqm: Typesetter) -> None:
    one = raqm.line(WOMAN_TECH, 48)
    two = raqm.line("\U0001f469\U0001f4bb", 48)  # the same two emoji without the joiner
    rocket = raqm.line("\U0001f680", 48)
    assert one.color and abs(one.advance - rocket.advance) <= 2
    assert two.advance > 1.8 * rocket.advance


# ---- bidi order ----------------------------------------------------------------------


@pytest.mark.parametrize("name, runs", [
    # first strong letter is Arabic: a right-to-left paragraph; "Ali 2024" is an LTR island (level 2)
    ("\u0645\u062d\u0645\u062f Ali 2024", [("Ali 2024", False), ("\u0645\u062d\u0645\u062f ", True)]),
    # left-to-right paragraph; the brackets take the paragraph's direction (rule N0 c.2)
    ("Ali (\u0639\u0644\u064a)", [("Ali (", False), ("\u0639\u0644\u064a", True), (")", False)]),
    # right-to-left paragraph around a Latin name in brackets: the brackets are right-to-left
    ("\u0639\u0644\u064a (Ali)", [(")", True), ("Ali", False), ("\u0639\u0644\u064a (", True)]),
])
def test_mixed_names_follow_the_bidi_algorithm(raqm: Typesetter, name: str, runs: list[tuple[str, bool]]) -> None:
    laid_out, missing, _ = raqm.visual_runs(name)
    assert [(r.text, r.rtl) for r in laid_out] == runs and missing == []
    assert _display_order(raqm, name) == get_display(name)


@pytest.mark.parametrize("name", [
    "\u0645\u062d\u0645\u062f Ali \u674e",  # an LTR island spanning two fonts inside RTL
    "\u0645\u062d\u0645\u062f Ali \U0001f680 Omar",  # ... and spanning the emoji font
    "\u05e9\u05dc\u05d5\u05dd world 123 \u674e\u5a1c",
    "Lena \u0641\u0627\u0637\u0645\u0629 \u0661\u0662\u0663 \u738b",  # Arabic-Indic digits (AN)
    "\u0639\u0644\u064a 2024-08-16 (Ali) \U0001f680",
])
def test_visual_order_matches_python_bidi(raqm: Typesetter, basic: Typesetter, name: str) -> None:
    for typesetter in (raqm, basic):
        assert _display_order(typesetter, name) == get_display(name)


_BIDI_ALPHABET = ("\u0645\u062d\u062f\u0639\u0644\u064a"  # Arabic (AL)
                  "\u05d0\u05d1\u05d2"  # Hebrew (R)
                  "AbcZ"  # Latin (L)
                  "0129"  # European digits (EN)
                  "\u0660\u0661"  # Arabic-Indic digits (AN)
                  " ()[]-+.,:/%#"  # neutrals, separators, terminators, brackets
                  "\u674e\u738b"  # CJK (L, another font)
                  "\u064e")  # a combining mark (NSM)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(alphabet=_BIDI_ALPHABET, min_size=1, max_size=30))
def test_visual_order_matches_python_bidi_for_generated_text(raqm: Typesetter, text: str) -> None:
    assert _display_order(raqm, text) == get_display(text)


def _columns(mask: Image.Image, threshold: int = 40) -> list[int]:
    """The x of every column where the 8-bit mask has a pixel above threshold."""
    width = mask.width
    data = mask.tobytes()
    return sorted({i % width for i, v in enumerate(data) if v > threshold})


def _ink_columns(image: Image.Image) -> list[int]:
    return _columns(image.getchannel("A"))


def _changed_columns(a: Image.Image, b: Image.Image) -> list[int]:
    assert a.size == b.size
    return _columns(ImageChops.difference(a.getchannel("A"), b.getchannel("A")))


@pytest.mark.parametrize("shaping", ["raqm", "basic"])
def test_pixels_put_a_latin_island_in_order_inside_arabic(raqm: Typesetter, basic: Typesetter, shaping: str) -> None:
    """"محمد A1 李": on screen "A1 李" reads left to right, and the Arabic name is at the right.

    Swapping one digit (same width) or one ideograph (same width) shows where each is drawn.
    """
    typesetter = raqm if shaping == "raqm" else basic
    arabic = "\u0645\u062d\u0645\u062f"
    line = typesetter.line(f"{arabic} A1 \u674e", 48)
    digit = _changed_columns(line.image, typesetter.line(f"{arabic} A2 \u674e", 48).image)
    ideograph = _changed_columns(line.image, typesetter.line(f"{arabic} A1 \u738b", 48).image)
    ink = _ink_columns(line.image)
    assert digit and ideograph and line.direction == "rtl"
    assert max(digit) < min(ideograph)  # 1 before 李, left to right
    left_of_digit = [x for x in ink if x < min(digit)]
    right_of_ideograph = [x for x in ink if x > max(ideograph)]
    latin_a, word = _ink_columns(typesetter.line("A", 48).image), _ink_columns(typesetter.line(arabic, 48).image)
    assert left_of_digit and abs((left_of_digit[-1] - left_of_digit[0]) - (latin_a[-1] - latin_a[0])) <= 2
    assert right_of_ideograph and abs((right_of_ideograph[-1] - right_of_ideograph[0]) - (word[-1] - word[0])) <= 3


@pytest.mark.parametrize("name", ["\u0645\u062d\u0645\u062f Ali 2024", "Ali (\u0639\u0644\u064a)",
                                  "\u0639\u0644\u064a (Ali)"])
def test_single_font_names_match_raqm_laying_out_the_whole_string(raqm: Typesetter, name: str) -> None:
    """Where one font draws everything, Pillow/raqm (FriBidi + HarfBuzz) can lay out the whole
    string by itself: our runs, placed by python-bidi's levels, must give the same picture."""
    line = raqm.line(name, 48)
    font = ImageFont.truetype(str(raqm.faces[0].path), 48, layout_engine=ImageFont.Layout.RAQM)
    reference = Image.new("L", line.image.size, 0)
    ImageDraw.Draw(reference).text((line.pad, line.ascent), name, font=font, anchor="ls", fill=255)
    assert abs(line.advance - font.getlength(name)) <= 1
    differing = sum(v > 96 for v in ImageChops.difference(line.image.getchannel("A"), reference).tobytes())
    assert differing <= 0.01 * sum(v > 96 for v in reference.tobytes())

"""Credits: the contributors CSV (hostile ones too), glyph coverage, page layout and frame caps."""

from __future__ import annotations

import io
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

from romforge.bootscreen.archive import read_bootanimation
from romforge.bootscreen.bootanim import BootAnimation, Part, write_bootanimation
from romforge.bootscreen.contributors import read_credits, sanitize
from romforge.bootscreen.credits import plan_credits
from romforge.bootscreen.credits_layout import CreditsOptions, lay_out
from romforge.errors import InputError
from romforge.profile import load_profile, profile_dirs
from romforge.bootscreen.textrender import Typesetter

REPO = Path(__file__).resolve().parent.parent
EXAMPLE_CSV = REPO / "examples/workspace/credits/contributors.csv"
NAMES = {"zh": "陈志远 王雨桐 張家豪", "latin": "Lena Hoffmann Tomás Chloé", "cyrillic": "Дмитрий Соколов Ёлка"}


@pytest.fixture(scope="module")
def typesetter() -> Typesetter:
    return Typesetter.load()


def write_csv(path: Path, text: str | bytes) -> Path:
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


def profile(name: str = "alioth"):
    return load_profile(name, profile_dirs())


def plan_for(csv: Path, *, device: str = "alioth", base: tuple[bytes, str] | None = None, typesetter=None,
             **options):
    prof = profile(device)
    opts = replace(CreditsOptions.from_profile(prof), **options)
    return plan_credits(prof, opts, csv, base=base, location=("product", "media/bootanimation.zip"),
                        typesetter=typesetter)


# ---- reading the CSV -----------------------------------------------------------------


def test_contributors_sorted_by_join_date_then_name(tmp_path: Path) -> None:
    csv = write_csv(tmp_path / "c.csv", "name,handle,joined\n"
                    "Zoe,@zoe,2010-08-17\nanna,anna,2010-08-17\nБорис,boris,2010-08-16\n王芳,,2010-08-17\n")
    credits = read_credits(csv)
    assert [(c.name, c.handle, c.joined.isoformat(), c.line) for c in credits.contributors] == [
        ("Борис", "boris", "2010-08-16", 4), ("anna", "anna", "2010-08-17", 3), ("Zoe", "zoe", "2010-08-17", 2),
        ("王芳", "", "2010-08-17", 5)]
    assert credits.notes == []


def test_example_workspace_credits_cover_several_scripts() -> None:
    credits = read_credits(EXAMPLE_CSV)
    text = "".join(c.name for c in credits.contributors)
    assert "陈" in text and "Д" in text and "م" in text and "L" in text and "🚀" in text
    assert credits.notes == []


def test_control_characters_and_bidi_overrides_are_removed_and_reported(tmp_path: Path) -> None:
    csv = write_csv(tmp_path / "c.csv", "name,handle,joined\n"
                    "\u202eevil\u202c name\x07,h\x1bandle,2010-01-01\n"
                    "Z\u0301\u0302\u0303\u0304\u0305\u0306\u0307alg,z,2010-01-02\n"
                    + "L" * 200 + ",long,2010-01-03\n"
                    "Ni\0na,nina,2010-01-04\n")
    credits = read_credits(csv, shown="credits/contributors.csv")
    evil, zalgo, long, nul = credits.contributors
    assert evil.name == "evil name" and evil.handle == "handle"
    assert zalgo.name == "\u0179\u0302\u0303\u0304alg"  # NFC first (Z + U+0301 = Ź), then 3 marks kept
    assert nul.name == "Nina"
    assert len(long.name) == 48 and long.name.endswith("\u2026")
    messages = [(n.line, n.message) for n in credits.notes]
    assert (2, "removed bidi control U+202E RIGHT-TO-LEFT OVERRIDE") in messages
    assert (2, "removed control character U+0007") in messages
    assert (2, "handle: removed control character U+001B") in messages
    assert any(line == 3 and "stacked combining marks" in m for line, m in messages)
    assert (4, "cut to 48 characters") in messages
    assert (5, "removed control character U+0000") in messages
    assert all(n.file == "credits/contributors.csv" and n.severity == "warning" for n in credits.notes)


def test_sanitize_keeps_joiners_that_scripts_and_emoji_need() -> None:
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"
    assert sanitize(f"Ana {family}", 48) == (f"Ana {family}", [])
    assert sanitize("a\u00a0\u2003 b\tc", 48) == ("a b c", [])


@pytest.mark.parametrize("body, message, line", [
    ("name,handle,joined\nAnna,a,16/08/2010\n", "is not a date written YYYY-MM-DD", 2),
    ("name,handle,joined\nAnna,a,2010-02-30\n", "is not a date", 2),
    ("name,handle,joined\nAnna,a,2010-01-01\n\x07\u202e,b,2010-01-01\n", "name is empty once control", 3),
    ("name,handle,joined\n,a,2010-01-01\n", "the name is empty", 2),
    ("name,handle\nAnna,a\n", "missing column(s) joined", 1),
    ("name,handle,joined,email\nAnna,a,2010-01-01,x@y\n", "unknown column(s) email", 1),
    ("name,handle,joined\nAnna,a,2010-01-01\nBob,b\n", "2 fields", 3),
    ("name,handle,joined\n", "no contributors", None),
    ("name,handle,joined\n" + "x" * 2000 + ",a,2010-01-01\n", "over the limit of 1024", 2),
    ("name,handle,joined\nAnna,\"a,2010-01-01\n", "malformed CSV", 2),
])
def test_unusable_rows_are_one_clear_error_with_file_and_line(tmp_path: Path, body: str, message: str,
                                                             line: int | None) -> None:
    csv = write_csv(tmp_path / "contributors.csv", body)
    with pytest.raises(InputError) as err:
        read_credits(csv, shown="credits/contributors.csv")
    assert message in err.value.message
    assert err.value.file == "credits/contributors.csv" and err.value.line == line


def test_bad_encoding_names_the_line(tmp_path: Path) -> None:
    csv = write_csv(tmp_path / "c.csv", b"name,handle,joined\nAnna,a,2010-01-01\nJos\xe9,j,2010-01-02\n")
    with pytest.raises(InputError, match="not valid UTF-8") as err:
        read_credits(csv, shown="c.csv")
    assert err.value.line == 3


def test_ten_megabyte_csv_is_refused_before_parsing(tmp_path: Path) -> None:
    csv = tmp_path / "c.csv"
    with open(csv, "w") as f:
        f.write("name,handle,joined\n")
        row = "Someone Quite Long,handle,2010-01-01\n"
        f.write(row * (10_000_000 // len(row)))
    with pytest.raises(InputError, match="over the 4194304-byte limit"):
        read_credits(csv)


def test_more_than_100k_rows_is_an_error(tmp_path: Path) -> None:
    rows = "".join(f"P{i},h{i},2010-01-01\n" for i in range(100_001))
    with pytest.raises(InputError, match="more than 100000 rows"):
        read_credits(write_csv(tmp_path / "c.csv", "name,handle,joined\n" + rows))


def test_100k_names_render_only_the_capped_number(tmp_path: Path, typesetter: Typesetter) -> None:
    rows = "".join(f"Tester {i:06d},t{i},{2010 + i % 10}-0{1 + i % 9}-1{i % 10}\n" for i in range(100_000))
    csv = write_csv(tmp_path / "c.csv", "name,handle,joined\n" + rows)
    plan = plan_for(csv, typesetter=typesetter, max_names=30)
    assert len(plan.credits.contributors) == 100_000
    assert plan.summary()["shown"] == 30 and plan.summary()["limited_by"] == "max_names"
    assert plan.layout.frame_count <= 24
    first = plan.layout.shown[0]
    assert first.joined.isoformat() == "2010-01-10" and first.name == "Tester 000000"  # the earliest joiners


def test_hostile_names_render_without_crashing(tmp_path: Path, typesetter: Typesetter) -> None:
    hostile = ["\u202e\u202e\u202eevil", "\u0e01" + "\u0e49" * 500, "\U0001f600" * 40, "\ufdfd" * 30,
               "a\u200d" * 300, "\U0001f1fa\U0001f1f3\U0001f1e8", "x\ud7ff\uffff\U0010fffd", " " * 50 + "x"]
    body = "name,handle,joined\n" + "".join(f"\"{n}\",h{i},2010-01-0{1 + i}\n" for i, n in enumerate(hostile))
    plan = plan_for(write_csv(tmp_path / "c.csv", body), typesetter=typesetter)
    data = plan.render()
    assert read_bootanimation(data, source="a", screen=(1080, 2400)).errors == []
    assert plan.summary()["shown"] == len(hostile)


# ---- glyphs --------------------------------------------------------------------------


def _ink(image: Image.Image) -> bytes | None:
    """The drawn pixels, cropped: what to compare between two renderings."""
    alpha = image.getchannel("A") if image.mode == "RGBA" else image
    box = alpha.getbbox()
    return None if box is None else alpha.crop(box).tobytes() + repr(alpha.crop(box).size).encode()


def _missing_glyph(face, px: int) -> bytes | None:
    """What the font draws for a character it does not have (its .notdef glyph): the tofu."""
    font = ImageFont.truetype(str(face.path), px, layout_engine=ImageFont.Layout.RAQM)
    canvas = Image.new("L", (px * 3, px * 3), 0)
    ImageDraw.Draw(canvas).text((px, px), "\u0378", font=font, fill=255)  # U+0378 is unassigned
    return _ink(canvas)


@pytest.mark.parametrize("script", sorted(NAMES))
def test_every_character_is_drawn_with_a_real_glyph_not_tofu(typesetter: Typesetter, script: str) -> None:
    px = 48
    tofus = {face.spec.family: _missing_glyph(face, px) for face in typesetter.faces if not face.is_color}
    assert all(t is not None for t in tofus.values())  # the fonts do draw a box for missing glyphs
    for ch in NAMES[script].replace(" ", ""):
        line = typesetter.line(ch, px)
        ink = _ink(line.image)
        assert ink is not None, f"{ch!r} drew nothing"
        assert line.missing == []
        for family, tofu in tofus.items():
            assert ink != tofu, f"{ch!r} drew {family}'s missing-glyph box"


def test_scripts_go_to_the_font_that_has_them(typesetter: Typesetter) -> None:
    runs, missing = typesetter.runs("Lena 陈志远 Дима 🚀")
    assert [(face.spec.family, text) for face, text in runs] == [
        ("DejaVu Sans", "Lena "), ("Droid Sans Fallback", "陈志远 "), ("DejaVu Sans", "Дима "),
        ("Noto Color Emoji", "🚀")]
    assert missing == []


def test_a_character_no_font_has_is_left_out_not_drawn_as_a_box(typesetter: Typesetter) -> None:
    line = typesetter.line("\u0378", 48)
    assert line.missing == ["\u0378"] and _ink(line.image) is None
    line = typesetter.line("A\u0378B", 48)
    assert line.text == "AB" and _ink(line.image) == _ink(typesetter.line("AB", 48).image)


def test_arabic_is_shaped_and_right_to_left(typesetter: Typesetter) -> None:
    assert typesetter.shaping == "raqm"  # Pillow's wheels bundle libraqm; the build records which was used
    joined = typesetter.line("محمد", 48)
    apart = typesetter.line("\u200c".join("محمد"), 48)  # ZWNJ stops joining: isolated letter forms
    assert joined.direction == "rtl"
    assert _ink(joined.image) != _ink(apart.image)
    assert joined.advance < apart.advance  # joined letters are narrower than isolated ones


def test_emoji_are_drawn_in_colour(typesetter: Typesetter) -> None:
    line = typesetter.line("🚀", 48)
    assert line.color
    saturation = line.image.convert("RGB").convert("HSV").getchannel("S")
    assert saturation.getextrema()[1] > 100  # saturated pixels, not a grey outline


def test_a_name_no_font_draws_falls_back_to_the_handle(tmp_path: Path, typesetter: Typesetter) -> None:
    csv = write_csv(tmp_path / "c.csv", "name,handle,joined\n김민준,minjun,2010-01-01\nAnna,anna,2010-01-02\n")
    plan = plan_for(csv, typesetter=typesetter)
    first = plan.layout.pages[0][0]
    assert first.contributor.name == "김민준" and first.name.text == "@minjun"
    assert any(n.rule == "credits-glyphs" for n in plan.notes)


# ---- layout, frames, caps ------------------------------------------------------------


@pytest.mark.parametrize("device", ["cepheus", "alioth", "dada", "rosy"])
def test_credit_frames_are_at_the_profile_resolution(typesetter: Typesetter, device: str) -> None:
    plan = plan_for(EXAMPLE_CSV, device=device, typesetter=typesetter)
    screen = profile(device).screen
    data = plan.render()
    inspection = read_bootanimation(data, source="a", screen=(screen.width, screen.height))
    assert inspection.findings == []
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert all(i.compress_type == zipfile.ZIP_STORED for i in zf.infolist())
        pngs = [n for n in zf.namelist() if n.endswith(".png")]
        assert len(pngs) == plan.layout.frame_count
        for name in pngs:
            with Image.open(io.BytesIO(zf.read(name))) as img:
                assert img.size == (screen.width, screen.height)


def test_render_is_byte_identical_for_the_same_inputs(typesetter: Typesetter) -> None:
    assert plan_for(EXAMPLE_CSV, typesetter=typesetter).render() == plan_for(EXAMPLE_CSV).render()


def test_pages_hold_for_page_seconds_and_fade_in(typesetter: Typesetter) -> None:
    plan = plan_for(EXAMPLE_CSV, typesetter=typesetter, page_seconds=2, fade_frames=3)
    anim = read_bootanimation(plan.render(), source="a").anim
    assert anim.fps == 30
    for part in anim.parts:
        assert (part.type, part.count, len(part.frames), part.pause) == ("c", 1, 4, 60 - 4)
        levels = [Image.open(io.BytesIO(d)).convert("L").getextrema()[1] for _, d in part.sorted_frames()]
        assert levels == sorted(levels) and levels[0] < levels[-1]  # fading in to the full page


def test_name_and_frame_caps(tmp_path: Path, typesetter: Typesetter) -> None:
    rows = "".join(f"Person {i:03d},p{i},2011-01-01\n" for i in range(300))
    csv = write_csv(tmp_path / "c.csv", "name,handle,joined\n" + rows)
    few = plan_for(csv, typesetter=typesetter, max_names=7)
    assert few.summary()["shown"] == 7 and few.summary()["limited_by"] == "max_names"
    assert [n["name"] for n in few.summary()["names"]] == [f"Person {i:03d}" for i in range(7)]
    one_page = plan_for(csv, typesetter=typesetter, max_frames=3, fade_frames=2)
    summary = one_page.summary()
    assert summary["pages"] == 1 and summary["frames"] == 3 and summary["limited_by"] == "max_frames"
    per_page = one_page.layout.rows * one_page.layout.columns
    assert summary["shown"] == per_page and summary["left_out"] == 300 - per_page
    tiny = plan_for(csv, typesetter=typesetter, max_frames=1, fade_frames=5)
    assert tiny.layout.fade_frames == 0 and tiny.layout.frame_count == 1


def test_credits_play_after_or_before_the_base_animation(typesetter: Typesetter) -> None:
    frame = io.BytesIO()
    Image.new("RGB", (1080, 2400), (0, 80, 160)).save(frame, "PNG")
    base = write_bootanimation(BootAnimation(1080, 2400, 25, [Part("c", 1, 0, "part0", [("0.png", frame.getvalue())]),
                                                              Part("p", 0, 0, "part1", [("0.png", frame.getvalue())])]))
    after = read_bootanimation(plan_for(EXAMPLE_CSV, base=(base, "base.zip"), typesetter=typesetter).render(),
                               source="a").anim
    assert [p.path for p in after.parts] == ["part0", "part1", "credits0", "credits1"]
    assert after.fps == 25 and after.parts[0].frames == [("0.png", frame.getvalue())]
    before = read_bootanimation(plan_for(EXAMPLE_CSV, base=(base, "base.zip"), typesetter=typesetter,
                                         placement="before").render(), source="a").anim
    assert [p.path for p in before.parts] == ["credits0", "credits1", "part0", "part1"]


def test_title_counts_the_names_shown(tmp_path: Path, typesetter: Typesetter) -> None:
    csv = write_csv(tmp_path / "c.csv", "name,handle,joined\nA,a,2010-01-01\nB,b,2010-01-02\nC,c,2010-01-03\n")
    plan = plan_for(csv, typesetter=typesetter, title="谢谢 {count} 位", max_names=2)
    assert plan.layout.title.text == "谢谢 2 位"


def test_layout_lines_fit_their_columns(typesetter: Typesetter) -> None:
    prof = profile("rosy")
    layout = lay_out(read_credits(EXAMPLE_CSV).contributors, typesetter, prof.screen,
                     CreditsOptions.from_profile(prof), 30)
    for page in layout.pages:
        for entry in page:
            assert entry.name.advance <= layout.column_width and entry.meta.advance <= layout.column_width


def test_without_raqm_the_basic_layout_still_draws_and_says_what_is_lost(tmp_path: Path) -> None:
    basic = Typesetter.load(shaping="basic")
    assert basic.shaping == "basic"
    for ch in "L陈Д":
        assert _ink(basic.line(ch, 40).image) is not None
    plan = plan_for(EXAMPLE_CSV, typesetter=basic)
    assert read_bootanimation(plan.render(), source="a").errors == []
    assert [n.rule for n in plan.notes] == ["credits-no-base", "credits-shaping"]  # the example has Arabic names
    assert plan.summary()["shaping"] == "basic"

"""bootanimation.zip: writer, reader and every validation rule, against real and hand-made zips."""

from __future__ import annotations

import io
import stat
import subprocess
import zipfile
from pathlib import Path

import pytest
from PIL import Image

from romforge.bootscreen.archive import read_bootanimation
from romforge.bootscreen.bootanim import BootAnimation, DynamicColors, Part, Trim, write_bootanimation
from romforge.bootscreen.fitting import fit_to_screen, with_parts
from romforge.errors import InputError

REAL = ("xiaomi-aries.zip", "oneplus-bacon.zip", "atv11_bootanimation.zip")


def png(width: int, height: int, shade: int = 40, mode: str = "RGB") -> bytes:
    img = Image.new(mode, (width, height), shade if mode == "L" else (shade, 255 - shade, 90))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def make_zip(entries: list[tuple], *, symlinks: tuple[str, ...] = ()) -> bytes:
    """Entries as (name, bytes[, compress_type]); any order, any method: for building broken archives."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for entry in entries:
            name, data = entry[0], entry[1]
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.compress_type = entry[2] if len(entry) > 2 else zipfile.ZIP_STORED
            info.create_system = 3
            kind = stat.S_IFLNK if name in symlinks else stat.S_IFREG
            info.external_attr = (kind | 0o644) << 16
            zf.writestr(info, data)
    return buf.getvalue()


def simple(desc: str, *, w: int = 64, h: int = 32, frames: int = 2, folder: str = "part0",
           extra: list[tuple] = ()) -> bytes:
    return make_zip([("desc.txt", desc.encode())] + [(f"{folder}/{i:05d}.png", png(w, h, i * 20))
                                                     for i in range(frames)] + list(extra))


def rules(data: bytes, **kw) -> list[tuple[str, str, str, int | None]]:
    inspection = read_bootanimation(data, source="anim.zip", **kw)
    return [(f.rule, f.severity, f.file, f.line) for f in inspection.findings]


# ---- writer → reader -----------------------------------------------------------------


def sample_animation() -> BootAnimation:
    return BootAnimation(120, 80, 24, [
        Part("c", 1, 0, "part0", [(f"{i:05d}.png", png(120, 80, 10 * i)) for i in range(3)]),
        Part("f", 0, 5, "part1", [("00000.png", png(120, 80, 200))], fade=6, background="#102030",
             clock=("c", "-40"), audio=b"RIFF\x24\x00\x00\x00WAVEfmt "),
        Part("p", 2, 0, "part2", [("00000.png", png(60, 40, 99))], trim=[Trim(60, 40, 30, 20)]),
    ], progress=1, dynamic_colors=DynamicColors("part1", ("#ff0000", "#00ff00", "#0000ff", "#ffffff"), (0, 5)))


def test_written_zip_passes_its_own_check_and_rereads_to_the_same_animation() -> None:
    anim = sample_animation()
    data = write_bootanimation(anim)
    inspection = read_bootanimation(data, source="anim.zip")
    assert inspection.findings == []
    back = inspection.anim
    assert (back.width, back.height, back.fps, back.progress) == (120, 80, 24, 1)
    assert back.dynamic_colors == anim.dynamic_colors
    assert back.desc_txt() == anim.desc_txt()
    for want, got in zip(anim.parts, back.parts):
        assert got.sorted_frames() == want.sorted_frames()  # same names, same bytes
        assert (got.type, got.count, got.pause, got.fade, got.background, got.clock, got.trim, got.audio) == \
            (want.type, want.count, want.pause, want.fade, want.background, want.clock, want.trim, want.audio)


def test_written_zip_is_stored_with_desc_first_and_frames_in_play_order() -> None:
    anim = sample_animation()
    anim.parts[0].frames.reverse()  # the writer sorts, whatever order it was given
    data = write_bootanimation(anim)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        infos = zf.infolist()
        assert all(i.compress_type == zipfile.ZIP_STORED for i in infos)
        names = [i.filename for i in infos]
        assert all(i.date_time == (2009, 1, 1, 0, 0, 0) for i in infos)
    assert names[0] == "desc.txt"
    assert names[1:4] == ["part0/00000.png", "part0/00001.png", "part0/00002.png"]
    assert write_bootanimation(anim) == data  # deterministic


def test_unzip_reads_what_the_writer_wrote(tmp_path: Path) -> None:
    """A different reader (Info-ZIP's unzip/zipinfo) sees stored entries with the same bytes."""
    anim = sample_animation()
    path = tmp_path / "bootanimation.zip"
    path.write_bytes(write_bootanimation(anim))
    listing = subprocess.run(["zipinfo", "-v", str(path)], capture_output=True, text=True, check=True).stdout
    methods = [line.split(":", 1)[1].strip() for line in listing.splitlines()
               if line.strip().startswith("compression method:")]
    assert len(methods) == 8 and set(methods) == {"none (stored)"}
    out = tmp_path / "x"
    subprocess.run(["unzip", "-q", str(path), "-d", str(out)], check=True)
    assert (out / "desc.txt").read_text() == anim.desc_txt()
    for name, data in anim.parts[0].frames:
        assert (out / "part0" / name).read_bytes() == data
    assert (out / "part2/trim.txt").read_text() == "60x40+30+20\n"


def test_fade_is_written_only_on_f_lines() -> None:
    """The player reads FADE on `f` lines only; on `c` it would eat the colour."""
    assert Part("c", 1, 0, "part0", background="#ff0000").desc_line() == "c 1 0 part0 #ff0000"
    assert Part("f", 0, 0, "part0", fade=12).desc_line() == "f 0 0 part0 12"
    assert Part("p", 0, 0, "part0", clock=("c",)).desc_line() == "p 0 0 part0 #000000 c"


# ---- real animations -----------------------------------------------------------------


@pytest.mark.realdata
@pytest.mark.parametrize("name, parts, warnings", [
    ("xiaomi-aries.zip", [("p", 1, 0, "part0", 123), ("p", 0, 0, "part1", 1)], {"desc-crlf"}),
    ("oneplus-bacon.zip", [("c", 1, 0, "part0", 58), ("c", 0, 0, "part1", 66), ("c", 1, 0, "part2", 31)],
     {"entry-junk"}),
    ("atv11_bootanimation.zip", [("c", 1, 0, "part0", 1), ("c", 1, 0, "part1", 50), ("c", 0, 0, "part2", 205),
                                 ("c", 1, 30, "part3", 104), ("c", 1, 15, "part4", 11)], {"entry-junk"}),
])
def test_real_animations_read_like_the_player_reads_them(shared: Path, name: str, parts: list, warnings: set) -> None:
    inspection = read_bootanimation((shared / "bootanimations" / name).read_bytes(), source=name)
    assert inspection.errors == []
    assert {f.rule for f in inspection.warnings} == warnings
    assert [(p.type, p.count, p.pause, p.path, len(p.frames)) for p in inspection.anim.parts] == parts


@pytest.mark.realdata
def test_junk_in_real_part_folders_is_named_and_not_taken_as_a_frame(shared: Path) -> None:
    bacon = read_bootanimation((shared / "bootanimations/oneplus-bacon.zip").read_bytes(), source="bacon.zip")
    junk = [f for f in bacon.findings if f.rule == "entry-junk"]
    assert [f.file for f in junk] == [f"bacon.zip/part{i}/Icon\\r" for i in range(3)]
    assert all("takes it as a frame" in f.message for f in junk)  # stored: the player would try to draw it
    assert not any(name.startswith("Icon") for p in bacon.anim.parts for name, _ in p.frames)
    atv = read_bootanimation((shared / "bootanimations/atv11_bootanimation.zip").read_bytes(), source="atv.zip")
    ds = [f for f in atv.findings if f.rule == "entry-junk"]
    assert [f.file for f in ds] == ["atv.zip/part0/.DS_Store", "atv.zip/part1/.DS_Store"]
    assert all("skips it because it is compressed" in f.message for f in ds)


@pytest.mark.realdata
@pytest.mark.parametrize("name", REAL)
def test_real_animations_rewritten_are_clean_and_keep_every_frame(shared: Path, name: str) -> None:
    original = read_bootanimation((shared / "bootanimations" / name).read_bytes(), source=name)
    rewritten = read_bootanimation(write_bootanimation(original.anim), source=name)
    assert rewritten.findings == []  # junk dropped, LF line ends, all stored
    for a, b in zip(original.anim.parts, rewritten.anim.parts):
        assert a.sorted_frames() == b.sorted_frames()


@pytest.mark.realdata
def test_aries_crlf_desc_is_read_with_every_part(shared: Path) -> None:
    data = (shared / "bootanimations/xiaomi-aries.zip").read_bytes()
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert zf.read("desc.txt").endswith(b"\r\n\r\n")
        assert zf.namelist()[-1] == "desc.txt"  # desc.txt last is fine for the player
    anim = read_bootanimation(data, source="aries.zip").anim
    assert [p.path for p in anim.parts] == ["part0", "part1"]
    # play order comes from names, not zip order: ligo_00001 … ligo_00123
    assert [n for n, _ in anim.parts[0].sorted_frames()][:2] == ["ligo_00001.png", "ligo_00002.png"]


# ---- one test per rule ---------------------------------------------------------------

HEADER = "64 32 30\n"


@pytest.mark.parametrize("desc, rule, line", [
    ("64 abc 30\nc 1 0 part0\n", "desc-header", 1),  # not three numbers: no header at all
    ("64 32 0\nc 1 0 part0\n", "desc-header", 1),  # FPS 0: the player divides by it
    ("0 32 30\nc 1 0 part0\n", "desc-header", 1),
    ("64 32 30 1 9\nc 1 0 part0\n", "desc-header", 1),
    (HEADER + "c 1 0 part0\n64 32 30\n", "desc-header", 3),  # a second header
    (HEADER + "c 1 part0\nc 1 0 part0\n", "desc-line", 2),  # PAUSE missing: the player drops the line
    (HEADER + "x 1 0 part0\n", "desc-type", 2),
    (HEADER + " c 1 0 part0\n", "desc-line", 2),  # %c takes the space, then %d fails on `c`
    (HEADER + "c 1 0 part0 0 #ff0000\n", "desc-fade", 2),  # FADE on a c line hides the colour
    (HEADER + "f 1 0 part0 #ff0000\n", "desc-fade", 2),  # colour without FADE on an f line
    (HEADER + "c 1 0 part0 #ff00zz\n", "desc-color", 2),
    (HEADER + "c 1 0 part0 #ff00ff00\n", "desc-color", 2),
    (HEADER + "c 1 0 part0 #000000 top\n", "desc-clock", 2),
    (HEADER + "c -1 0 part0\n", "desc-line", 2),
    (HEADER + "c 1 0 part0", "desc-no-newline", 2),  # the last line is ignored without a newline
    (HEADER, "desc-no-parts", 2),
    (HEADER + "dynamic_colors part9 #ff0000 #00ff00 #0000ff #ffffff\nc 1 0 part0\n", "desc-dynamic-colors", None),
    (HEADER + "dynamic_colors part0 #ff0000\nc 1 0 part0\n", "desc-dynamic-colors", 2),
])
def test_each_desc_rule_is_an_error_on_its_line(desc: str, rule: str, line: int | None) -> None:
    found = rules(simple(desc))
    assert (rule, "error", "anim.zip/desc.txt", line) in found, found


def test_crlf_desc_is_a_warning_but_breaks_system_lines() -> None:
    found = rules(simple("64 32 30\r\nc 1 0 part0\r\n"))
    assert found == [("desc-crlf", "warning", "anim.zip/desc.txt", 1)]
    found = rules(simple("64 32 30\r\nc 1 0 part0\r\n$SYSTEM\r\n"))
    assert ("desc-line", "error", "anim.zip/desc.txt", 3) in found


def test_missing_desc_txt() -> None:
    data = make_zip([("part0/00000.png", png(64, 32))])
    assert rules(data) == [("desc-missing", "error", "anim.zip", None)]


def test_compressed_frame_is_an_error_naming_the_entry() -> None:
    data = simple(HEADER + "c 1 0 part0\n", extra=[("part0/00009.png", png(64, 32), zipfile.ZIP_DEFLATED)])
    assert rules(data) == [("entry-compressed", "error", "anim.zip/part0/00009.png", None)]
    assert len(read_bootanimation(data, source="a").anim.parts[0].frames) == 2  # the player skips it


def test_compressed_desc_is_an_error() -> None:
    data = make_zip([("desc.txt", (HEADER + "c 1 0 part0\n").encode(), zipfile.ZIP_DEFLATED),
                     ("part0/00000.png", png(64, 32))])
    assert ("entry-compressed", "error", "anim.zip/desc.txt", None) in rules(data)


def test_compressed_junk_is_only_a_warning() -> None:
    data = simple(HEADER + "c 1 0 part0\n", extra=[("part0/.DS_Store", b"\0" * 600, zipfile.ZIP_DEFLATED)])
    assert rules(data) == [("entry-junk", "warning", "anim.zip/part0/.DS_Store", None)]


def test_missing_part_folder() -> None:
    data = simple(HEADER + "c 1 0 part0\nc 0 0 part1\n")
    assert rules(data) == [("part-missing", "error", "anim.zip/part1/", None)]


def test_part_without_frames() -> None:
    data = simple(HEADER + "c 1 0 part0\nc 0 0 part1\n", extra=[("part1/audio.wav", b"RIFF\0\0\0\0WAVE")])
    assert rules(data) == [("part-empty", "error", "anim.zip/part1/", None)]


def test_frame_size_mismatch_is_an_error_and_a_same_shape_one_a_warning() -> None:
    data = simple(HEADER + "c 1 0 part0\n", extra=[("part0/00005.png", png(40, 40))])
    assert rules(data) == [("frame-size", "error", "anim.zip/part0/00005.png", None)]
    data = simple(HEADER + "c 1 0 part0\n", extra=[("part0/00005.png", png(32, 16))])  # half size, same shape
    assert rules(data) == [("frame-scaled", "warning", "anim.zip/part0/00005.png", None)]


def test_frame_size_is_held_against_trim_txt() -> None:
    trim = b"64x32+0+0\n64x32+0+0\n10x10+5+5\n"
    data = simple(HEADER + "c 1 0 part0\n", extra=[("part0/00002.png", png(64, 32)), ("part0/trim.txt", trim)])
    assert rules(data) == [("frame-size", "error", "anim.zip/part0/00002.png", None)]


@pytest.mark.parametrize("content, why", [
    (b"hello, not an image", "is not a PNG or JPEG image"),
    (b"", "(0 bytes)"),
    (b"GIF89a" + b"\0" * 20, "is not a PNG or JPEG image"),
    (png(64, 32)[:40], "broken PNG"),
])
def test_frame_that_is_not_a_png_or_jpeg(content: bytes, why: str) -> None:
    data = simple(HEADER + "c 1 0 part0\n", extra=[("part0/00007.png", content)])
    inspection = read_bootanimation(data, source="anim.zip")
    [finding] = inspection.findings
    assert (finding.rule, finding.severity, finding.file) == ("frame-format", "error", "anim.zip/part0/00007.png")
    assert why in finding.message


def test_jpeg_frames_are_accepted() -> None:
    buf = io.BytesIO()
    Image.new("RGB", (64, 32), (9, 9, 9)).save(buf, "JPEG")
    assert rules(simple(HEADER + "c 1 0 part0\n", frames=0, extra=[("part0/00000.jpg", buf.getvalue())])) == []


@pytest.mark.parametrize("name, rule", [
    ("../escape.png", "entry-unsafe"),
    ("/abs/00000.png", "entry-unsafe"),
    ("part0\\00009.png", "entry-unsafe"),
    ("part0/" + "x" * 260 + ".png", "entry-unsafe"),
])
def test_unsafe_entry_names(name: str, rule: str) -> None:
    data = simple(HEADER + "c 1 0 part0\n", extra=[(name, png(64, 32))])
    assert [(r, s) for r, s, _, _ in rules(data)] == [(rule, "error")]


def test_symlink_and_duplicate_entries() -> None:
    data = simple(HEADER + "c 1 0 part0\n", extra=[("part0/00009.png", b"/etc/passwd")],)
    linked = make_zip([("desc.txt", (HEADER + "c 1 0 part0\n").encode()), ("part0/00000.png", png(64, 32)),
                       ("part0/00001.png", b"../../x")], symlinks=("part0/00001.png",))
    assert rules(linked) == [("entry-symlink", "error", "anim.zip/part0/00001.png", None)]
    with pytest.warns(UserWarning):  # zipfile itself warns about the duplicate name
        dup = make_zip([("desc.txt", (HEADER + "c 1 0 part0\n").encode()), ("part0/00000.png", png(64, 32)),
                        ("part0/00000.png", png(64, 32, 99))])
    assert rules(dup) == [("entry-duplicate", "error", "anim.zip/part0/00000.png", None)]
    assert ("frame-format", "error", "anim.zip/part0/00009.png", None) in rules(data)


def test_trim_audio_numbering_unused_and_screen_rules() -> None:
    found = rules(simple(HEADER + "c 1 0 part0\n", extra=[("part0/trim.txt", b"64x32+0+0\nbogus\n")]))
    assert ("trim-line", "error", "anim.zip/part0/trim.txt", 2) in found
    found = rules(simple(HEADER + "c 1 0 part0\n", extra=[("part0/audio.wav", b"ID3 mp3 data")]))
    assert found == [("audio-format", "error", "anim.zip/part0/audio.wav", None)]
    numbered = make_zip([("desc.txt", (HEADER + "c 1 0 part0\n").encode())]
                        + [(f"part0/{n}.png", png(64, 32)) for n in (1, 2, 10)])
    assert rules(numbered) == [("frame-numbering", "warning", "anim.zip/part0/", None)]
    found = rules(simple(HEADER + "c 1 0 part0\n", extra=[("extra/00000.png", png(64, 32))]))
    assert found == [("entry-unused", "warning", "anim.zip/extra/", None)]
    assert rules(simple(HEADER + "c 1 0 part0\n"), screen=(60, 100)) == [
        ("size-screen", "warning", "anim.zip/desc.txt", 1)]


def test_every_broken_rule_is_reported_at_once() -> None:
    data = make_zip([("desc.txt", b"64 32 30\nx 1 0 part0\nc 0 0 part1\nc 1 0 part2"),
                     ("part0/00000.png", b"nope"), ("part0/00001.png", png(64, 32), zipfile.ZIP_DEFLATED)])
    assert {r for r, _, _, _ in rules(data)} == {"desc-type", "desc-no-newline", "part-missing", "frame-format",
                                                 "entry-compressed"}


def test_not_a_zip_is_an_input_error() -> None:
    with pytest.raises(InputError, match="not a readable zip"):
        read_bootanimation(b"PK\x03\x04 truncated", source="anim.zip")


def test_size_limits_stop_reading_before_unpacking(monkeypatch: pytest.MonkeyPatch) -> None:
    import romforge.bootscreen.archive as archive

    monkeypatch.setattr(archive, "MAX_TOTAL_BYTES", 300)
    with pytest.raises(InputError, match="over the"):
        read_bootanimation(simple(HEADER + "c 1 0 part0\n", frames=5), source="anim.zip")


# ---- combining -----------------------------------------------------------------------


def test_fit_to_screen_keeps_frames_and_places_them_with_trim() -> None:
    anim = BootAnimation(100, 200, 30, [Part("c", 1, 0, "part0", [("00000.png", png(100, 200))]),
                                        Part("p", 0, 0, "part1", [("00000.png", png(50, 50))],
                                             trim=[Trim(50, 50, 25, 75)])])
    fitted, note = fit_to_screen(anim, 100, 180)
    assert (fitted.width, fitted.height) == (100, 180)
    assert fitted.parts[0].trim == [Trim(90, 180, 5, 0)]  # scaled by 0.9, centred
    assert fitted.parts[1].trim == [Trim(45, 45, 5 + 22, 68)]
    assert fitted.parts[0].frames == anim.parts[0].frames
    assert "scaled to 90x180 at +5+0" in note
    assert read_bootanimation(write_bootanimation(fitted), source="a").findings == []
    bigger, note = fit_to_screen(anim, 300, 400)
    assert bigger.parts[0].trim == [Trim(100, 200, 100, 100)] and "kept at" in note
    assert fit_to_screen(anim, 100, 200) == (anim, None)


def test_with_parts_places_after_or_before() -> None:
    anim = BootAnimation(10, 10, 30, [Part("c", 1, 0, "part0")])
    extra = [Part("c", 1, 0, "credits0")]
    assert [p.path for p in with_parts(anim, extra, "after").parts] == ["part0", "credits0"]
    assert [p.path for p in with_parts(anim, extra, "before").parts] == ["credits0", "part0"]

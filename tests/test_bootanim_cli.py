"""`romforge bootanim check | render | preview` through the real CLI."""

from __future__ import annotations

import io
import json
import shutil
import zipfile
from pathlib import Path

import pytest
from PIL import Image

from romforge.bootscreen.archive import read_bootanimation
from romforge.bootscreen.bootanim import BootAnimation, Part, write_bootanimation
from romforge.bootscreen.preview import play_order

REPO = Path(__file__).resolve().parent.parent
EXAMPLE_CSV = REPO / "examples/workspace/credits/contributors.csv"


def png(w: int, h: int, shade: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (w, h), (shade, 0, 255 - shade)).save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture
def small_anim(tmp_path: Path) -> Path:
    anim = BootAnimation(90, 160, 10, [Part("c", 1, 0, "part0", [(f"{i:05d}.png", png(90, 160, i * 30))
                                                                  for i in range(5)]),
                                       Part("p", 0, 4, "part1", [("00000.png", png(90, 160, 250))],
                                            background="#204060")])
    path = tmp_path / "bootanimation.zip"
    path.write_bytes(write_bootanimation(anim))
    return path


@pytest.fixture
def credited(workspace: Path) -> Path:
    (workspace / "credits").mkdir()
    shutil.copy(EXAMPLE_CSV, workspace / "credits/contributors.csv")
    return workspace


# ---- check ---------------------------------------------------------------------------


def test_check_clean_zip_exits_0(run, small_anim: Path) -> None:
    result = run("bootanim", "check", small_anim)
    assert result.exit_code == 0, result.output
    assert "90x160 @ 10 fps, 2 part(s), 6 frame(s): 0 error(s), 0 warning(s)" in result.output


def test_check_reports_every_broken_rule_with_its_entry_and_exits_3(run, tmp_path: Path) -> None:
    path = tmp_path / "bad.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("desc.txt", "90 160 10\nc 1 0 part0\nc 0 0 part1\n")
        zf.writestr("part0/00000.png", png(90, 160, 1))
        zf.writestr(zipfile.ZipInfo("part0/00001.png"), png(45, 45, 2))
        info = zipfile.ZipInfo("part0/00002.png")
        info.compress_type = zipfile.ZIP_DEFLATED
        zf.writestr(info, png(90, 160, 3))
    result = run("bootanim", "check", path)
    assert result.exit_code == 3
    assert "bad.zip/part0/00001.png: error: frame is 45x45 but is drawn at 90x160" in result.output
    assert "bad.zip/part0/00002.png: error:" in result.output and "[entry-compressed]" in result.output
    assert "bad.zip/part1/: error:" in result.output and "[part-missing]" in result.output
    assert "3 error(s)" in result.output and "Traceback" not in result.output


def test_check_json(run, tmp_path: Path, small_anim: Path) -> None:
    result = run("bootanim", "check", small_anim, "--screen", "80x100", "--json")
    assert result.exit_code == 0
    data = json.loads(result.output)
    assert (data["width"], data["height"], data["fps"], data["errors"], data["warnings"]) == (90, 160, 10, 0, 1)
    assert data["findings"][0]["rule"] == "size-screen"
    assert [p["frames"] for p in data["parts"]] == [5, 1]


def test_check_not_a_zip_is_a_user_error(run, tmp_path: Path) -> None:
    path = tmp_path / "bootanimation.zip"
    path.write_text("hello")
    result = run("bootanim", "check", path)
    assert result.exit_code == 1
    assert "bootanimation.zip: not a zip archive" in result.output and "Traceback" not in result.output
    result = run("bootanim", "check", tmp_path / "missing.zip")
    assert result.exit_code == 1 and "file not found" in result.output
    assert run("bootanim", "check", path, "--screen", "wide").exit_code == 2


def test_check_finds_the_animation_inside_target_files(run, sample_rom: Path, tmp_path: Path) -> None:
    result = run("bootanim", "check", sample_rom, "--device", "rosy", cwd=tmp_path)
    assert result.exit_code == 0, result.output
    assert "sample-rom:/product/media/bootanimation.zip" in result.output
    assert "larger than the 720x1440 screen" in result.output  # the generic base is 1080x2400


@pytest.mark.realdata
@pytest.mark.parametrize("name", ["xiaomi-aries.zip", "oneplus-bacon.zip", "atv11_bootanimation.zip"])
def test_check_real_animations_pass_with_warnings(run, shared: Path, name: str) -> None:
    result = run("bootanim", "check", shared / "bootanimations" / name)
    assert result.exit_code == 0, result.output
    assert "0 error(s)" in result.output and "warning:" in result.output


# ---- render --------------------------------------------------------------------------


def test_render_writes_a_checked_animation(run, credited: Path, tmp_path: Path) -> None:
    out = tmp_path / "bootanimation.zip"
    result = run("bootanim", "render", "dada", "-o", out, "-w", credited, "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["shown"] == 39 and data["size"] == "1200x2670" and data["placement"] == "after"
    inspection = read_bootanimation(out.read_bytes(), source="out", screen=(1200, 2670))
    assert inspection.findings == []
    assert data["size_bytes"] == out.stat().st_size


def test_render_credits_only_and_from_another_csv(run, credited: Path, tmp_path: Path) -> None:
    csv = tmp_path / "few.csv"
    csv.write_text("name,handle,joined\nOne,one,2010-01-01\nTwo,two,2010-01-02\n")
    out = tmp_path / "only.zip"
    result = run("bootanim", "render", "rosy", "-o", out, "-w", credited, "--credits", csv, "--no-base")
    assert result.exit_code == 0, result.output
    assert "2 of 2 names" in result.output and "no boot animation" in result.output
    anim = read_bootanimation(out.read_bytes(), source="out").anim
    assert [p.path for p in anim.parts] == ["credits0"] and (anim.width, anim.height) == (720, 1440)


def test_render_bad_csv_writes_nothing_and_keeps_an_existing_output(run, credited: Path, tmp_path: Path) -> None:
    csv = tmp_path / "bad.csv"
    csv.write_bytes(b"name,handle,joined\nJos\xe9,j,2010-01-01\n")
    out = tmp_path / "bootanimation.zip"
    out.write_bytes(b"previous")
    result = run("bootanim", "render", "alioth", "-o", out, "-w", credited, "--credits", csv)
    assert result.exit_code == 1
    assert "bad.csv:2: not valid UTF-8" in result.output and "Traceback" not in result.output
    assert out.read_bytes() == b"previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.csv", "bootanimation.zip", "ws"]


def test_render_without_credits_says_how_to_add_them(run, workspace: Path, tmp_path: Path) -> None:
    result = run("bootanim", "render", "alioth", "-o", tmp_path / "x.zip", "-w", workspace)
    assert result.exit_code == 1 and "credits/contributors.csv" in result.output and "--credits" in result.output


# ---- preview -------------------------------------------------------------------------


def test_preview_sheet_and_animations(run, small_anim: Path, tmp_path: Path) -> None:
    sheet, gif, webp = tmp_path / "sheet.png", tmp_path / "anim.gif", tmp_path / "anim.webp"
    result = run("bootanim", "preview", small_anim, "-o", sheet, "--animated", gif, "--frames", 4)
    assert result.exit_code == 0, result.output
    assert "preview sheet: " in result.output
    with Image.open(sheet) as img:
        assert img.format == "PNG" and img.size == (12 + 4 * (216 + 12), 56 + 384 + 22 + 12 + 12)
        assert img.getpixel((12 + 3 * 228 + 100, 56 + 100))[:3] == (250, 0, 5)
    with Image.open(gif) as img:
        assert img.n_frames == 6
        durations = []
        for i in range(img.n_frames):
            img.seek(i)
            durations.append(img.info["duration"])
        assert durations == [100] * 5 + [500]  # 10 fps; PAUSE 4 holds the last frame 4 more frames
    assert run("bootanim", "preview", small_anim, "--animated", webp).exit_code == 0
    with Image.open(webp) as img:
        assert img.format == "WEBP" and img.n_frames == 6 and img.size == (270, 480)
    first = (sheet.read_bytes(), gif.read_bytes(), webp.read_bytes())
    assert run("bootanim", "preview", small_anim, "-o", sheet, "--frames", 4, "--animated", gif).exit_code == 0
    assert run("bootanim", "preview", small_anim, "--animated", webp).exit_code == 0
    assert (sheet.read_bytes(), gif.read_bytes(), webp.read_bytes()) == first  # deterministic


def test_preview_of_a_release_target_files(run, credited: Path, tmp_path: Path) -> None:
    assert run("build", "alioth", "--version", "1.0", "--date", "2026-11-27", cwd=credited).exit_code == 0
    sheet = tmp_path / "alioth.png"
    result = run("bootanim", "preview", credited / "releases/alioth/1.0/target-files.zip", "-o", sheet)
    assert result.exit_code == 0, result.output
    with Image.open(sheet) as img:
        assert img.size[0] == 12 + 6 * (216 + 12)
        assert img.size[1] > 2 * 480  # two rows of 216x480 thumbnails


def test_preview_bad_options_write_nothing(run, small_anim: Path, tmp_path: Path) -> None:
    result = run("bootanim", "preview", small_anim, "-o", tmp_path / "s.png", "--animated", tmp_path / "a.mp4")
    assert result.exit_code == 1 and "must end in .gif or .webp" in result.output
    assert not (tmp_path / "s.png").exists()
    assert run("bootanim", "preview", small_anim).exit_code == 2


@pytest.mark.realdata
def test_preview_of_a_real_animation_leaves_out_junk(run, shared: Path, tmp_path: Path) -> None:
    bacon = shared / "bootanimations/oneplus-bacon.zip"
    anim = read_bootanimation(bacon.read_bytes(), source="bacon").anim
    assert len(play_order(anim)) == 58 + 66 + 31
    result = run("bootanim", "preview", bacon, "-o", tmp_path / "bacon.png")
    assert result.exit_code == 0, result.output
    with Image.open(tmp_path / "bacon.png") as img:
        assert img.size == (12 + 6 * 228, 56 + 2 * (384 + 22 + 12) + 12)

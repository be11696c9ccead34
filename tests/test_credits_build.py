"""The build puts the credited bootanimation.zip into the release and records who appears."""

from __future__ import annotations

import io
import json
import shutil
import zipfile
from pathlib import Path

import pytest
from PIL import Image

from conftest import files_under
from romforge.bootscreen.archive import read_bootanimation
from romforge.bootscreen.bootanim import Trim, write_bootanimation
from romforge.build import BuildRequest, build
from romforge.bootscreen.contributors import read_credits
from romforge.errors import ReleaseError
from romforge.samplerom import generate
from romforge.tree import RomTree
from romforge.workspace import load_workspace

REPO = Path(__file__).resolve().parent.parent
EXAMPLE_CSV = REPO / "examples/workspace/credits/contributors.csv"
DATE = "2026-11-27"
ANIM = "PRODUCT/media/bootanimation.zip"


@pytest.fixture
def credited(workspace: Path) -> Path:
    (workspace / "credits").mkdir()
    shutil.copy(EXAMPLE_CSV, workspace / "credits/contributors.csv")
    return workspace


def add_profile(ws: Path, name: str, text: str) -> None:
    (ws / "device-profiles").mkdir(exist_ok=True)
    (ws / "device-profiles" / f"{name}.toml").write_text(text)


def release_anim(release: Path) -> bytes:
    with zipfile.ZipFile(release / "target-files.zip") as zf:
        return zf.read(ANIM)


def test_build_adds_credits_after_the_base_animation(run, credited: Path, sample_rom: Path) -> None:
    result = run("build", "cepheus", "--version", "1.0", "--date", DATE, cwd=credited)
    assert result.exit_code == 0, result.output
    release = credited / "releases/cepheus/1.0"
    data = release_anim(release)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert all(i.compress_type == zipfile.ZIP_STORED for i in zf.infolist())
    inspection = read_bootanimation(data, source="out", screen=(1080, 2340))
    assert inspection.findings == []
    anim = inspection.anim
    base = read_bootanimation((sample_rom / ANIM).read_bytes(), source="base").anim
    assert (anim.width, anim.height, anim.fps) == (1080, 2340, base.fps)
    assert [p.path for p in anim.parts[:2]] == ["part0", "part1"]
    for original, kept in zip(base.parts, anim.parts):
        assert kept.sorted_frames() == original.sorted_frames()  # frame bytes untouched
        assert kept.trim == [Trim(1053, 2340, 13, 0)] * len(original.frames)  # 1080x2400 fitted into 2340
    credit_parts = anim.parts[2:]
    assert credit_parts and all(p.path.startswith("credits") and p.type == "c" for p in credit_parts)
    for part in credit_parts:
        for _, png in part.frames:
            assert Image.open(io.BytesIO(png)).size == (1080, 2340)

    info = json.loads((release / "build-info.json").read_text())
    credits = info["credits"]
    expected = [c.to_dict() for c in read_credits(EXAMPLE_CSV).contributors]
    assert credits["names"] == expected and credits["shown"] == len(expected) == credits["contributors"]
    assert credits["left_out"] == 0 and credits["limited_by"] is None
    assert credits["bootanimation"] == "/product/media/bootanimation.zip" and credits["size"] == "1080x2340"
    assert credits["placement"] == "after" and "trim.txt" in credits["base"]
    assert credits["frames"] == sum(len(p.frames) for p in credit_parts)
    assert credits["source"] == "credits/contributors.csv"
    assert info["inputs"]["credits"]["contributors_sha256"] == read_credits(EXAMPLE_CSV).sha256
    assert "PRODUCT/media/bootanimation.zip" in info["changed_files"]
    assert info["warnings"] == []
    assert str(credited) not in (release / "build-info.json").read_text()
    out, orig = RomTree.open(release / "target-files.zip"), RomTree.open(sample_rom)
    assert out.get("product", "media/bootanimation.zip").meta == orig.get("product", "media/bootanimation.zip").meta


def test_credited_build_is_byte_identical_for_the_same_inputs(credited: Path, tmp_path: Path) -> None:
    ws = load_workspace(credited)
    a = build(ws, BuildRequest("alioth", "1.0", DATE, out=tmp_path / "a"))
    b = build(ws, BuildRequest("alioth", "1.0", DATE, out=tmp_path / "b"))
    assert a.target_files.read_bytes() == b.target_files.read_bytes()
    assert (a.release / "build-info.json").read_bytes() == (b.release / "build-info.json").read_bytes()


def test_new_credits_are_new_inputs(credited: Path) -> None:
    ws = load_workspace(credited)
    build(ws, BuildRequest("alioth", "1.0", DATE))
    assert build(ws, BuildRequest("alioth", "1.0", DATE)).reused
    with open(credited / "credits/contributors.csv", "a") as f:
        f.write("Late Joiner,late,2011-01-01\n")
    with pytest.raises(ReleaseError, match="different inputs"):
        build(ws, BuildRequest("alioth", "1.0", DATE))


def test_profile_places_credits_first_and_caps_names(credited: Path) -> None:
    add_profile(credited, "myphone", 'inherits = "alioth"\n[bootanimation]\nplacement = "before"\nmax_names = 5\n'
                'title = "致谢"\n')
    result = build(load_workspace(credited), BuildRequest("myphone", "1.0", DATE))
    anim = read_bootanimation(release_anim(result.release), source="out").anim
    assert [p.path for p in anim.parts] == ["credits0", "part0", "part1"]
    credits = result.build_info.credits
    assert credits["shown"] == 5 and credits["limited_by"] == "max_names" and credits["left_out"] == 34
    assert [n["name"] for n in credits["names"]] == [c.name for c in read_credits(EXAMPLE_CSV).contributors[:5]]
    assert credits["placement"] == "before"


def test_credits_off_leaves_the_base_animation_alone(credited: Path, sample_rom: Path) -> None:
    add_profile(credited, "plain", 'inherits = "alioth"\n[bootanimation]\ncredits = false\n')
    result = build(load_workspace(credited), BuildRequest("plain", "1.0", DATE))
    assert release_anim(result.release) == (sample_rom / ANIM).read_bytes()
    assert result.build_info.credits is None and "credits" not in json.loads(result.build_info.to_json())


def test_credits_on_without_a_csv_is_a_config_error(run, workspace: Path) -> None:
    add_profile(workspace, "wants", 'inherits = "alioth"\n[bootanimation]\ncredits = true\n')
    result = run("build", "wants", "--version", "1.0", "--date", DATE, cwd=workspace)
    assert result.exit_code == 1
    assert "device-profiles/wants.toml" in result.output and "credits/contributors.csv" in result.output
    assert files_under(workspace / "releases") == []


def test_bad_credits_stop_the_build_before_anything_is_written(run, credited: Path) -> None:
    (credited / "credits/contributors.csv").write_text("name,handle,joined\nAnna,a,2010-01-01\nBob,b,yesterday\n")
    result = run("build", "cepheus", "--version", "1.0", "--date", DATE, cwd=credited)
    assert result.exit_code == 1
    assert "credits/contributors.csv:3: joined date 'yesterday' is not a date" in result.output
    assert "Traceback" not in result.output
    assert files_under(credited / "releases") == []


def test_unknown_bootanimation_key_names_the_profile_line(run, credited: Path) -> None:
    add_profile(credited, "typo", 'inherits = "alioth"\n\n[bootanimation]\nmax_name = 3\n')
    result = run("build", "typo", "--version", "1.0", "--date", DATE, cwd=credited)
    assert result.exit_code == 1
    assert "typo.toml:4: unknown key 'bootanimation.max_name'" in result.output


def test_a_broken_base_animation_fails_the_check_and_releases_nothing(run, credited: Path, tmp_path: Path) -> None:
    base = generate(tmp_path / "base", files=120, seed=3)
    anim = read_bootanimation((base / ANIM).read_bytes(), source="base").anim
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:  # compressed: frames never play
        zf.writestr("desc.txt", anim.desc_txt())
        for part in anim.parts:
            for name, png in part.frames:
                zf.writestr(f"{part.path}/{name}", png)
    (base / ANIM).write_bytes(buf.getvalue())
    result = run("build", "alioth", "--version", "1.0", "--date", DATE, "--base", base, cwd=credited)
    assert result.exit_code == 3
    assert "bootanimation.zip/part0/00000.png: error:" in result.output and "[entry-compressed]" in result.output
    assert "credits = false" in result.output
    assert files_under(credited / "releases") == []


def test_the_base_animation_is_written_at_the_profile_size_even_when_it_matches(credited: Path) -> None:
    result = build(load_workspace(credited), BuildRequest("alioth", "1.0", DATE))  # alioth is 1080x2400 like the base
    anim = read_bootanimation(release_anim(result.release), source="out").anim
    assert anim.parts[0].trim is None and result.build_info.credits["base"] is None
    assert write_bootanimation(anim) == release_anim(result.release)  # our writer wrote it

"""`locale status`: coverage per locale and app, the same figures `locale check` finds."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from conftest import REPO

EXAMPLE_LOCALES = REPO / "examples" / "workspace" / "locales"

SOURCE = """<?xml version="1.0" encoding="utf-8"?>
<resources>
    <string name="app_name">Phone</string>
    <string name="call">Call</string>
    <string name="hang_up">Hang up</string>
    <string name="speed">%1$s/s</string>
    <string name="build_id" translatable="false">X1</string>
    <plurals name="calls"><item quantity="one">%d call</item><item quantity="other">%d calls</item></plurals>
    <string-array name="modes"><item>Ring</item><item>Vibrate</item></string-array>
</resources>
"""
TRANSLATION = """<?xml version="1.0" encoding="utf-8"?>
<resources>
    <string name="app_name">Телефон</string>
    <string name="speed">%1$d/с</string>
    <string name="old_name">Старое</string>
    <string name="older_name">Ещё старее</string>
    <plurals name="calls"><item quantity="other">%d звонков</item></plurals>
</resources>
"""


@pytest.fixture
def status_pack(tmp_path: Path) -> tuple[Path, Path]:
    """A ru pack for two apps against a --source folder whose counts the test knows."""
    source = tmp_path / "source"
    pack = tmp_path / "ru-RU"
    for app in ("com.example.phone", "com.example.clock"):
        (source / app / "values").mkdir(parents=True)
        (source / app / "values" / "strings.xml").write_text(SOURCE, encoding="utf-8")
    (pack / "res" / "com.example.phone" / "values-ru-rRU").mkdir(parents=True)
    (pack / "res" / "com.example.phone" / "values-ru-rRU" / "strings.xml").write_text(TRANSLATION, encoding="utf-8")
    (pack / "res" / "com.example.clock" / "values-ru-rRU").mkdir(parents=True)
    (pack / "res" / "com.example.clock" / "values-ru-rRU" / "strings.xml").write_text(
        SOURCE.replace(">Phone<", ">Часы<").replace("Call<", "Звонок<").replace("Hang up", "Отбой")
        .replace(' <string name="build_id" translatable="false">X1</string>\n', ""), encoding="utf-8")
    (pack / "notes.txt").write_text("stray file")
    (pack / "pack.toml").write_text('locale = "ru-RU"\nversion = "1"\nmaintainers = ["A"]\n'
                                    'targets = ["com.example.phone", "com.example.clock"]\n')
    return pack, source


def _by_target(findings: list[dict], pack: str) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for f in findings:
        rest = f["file"].split(f"{pack}/res/", 1)
        out.setdefault(rest[1].split("/", 1)[0] if len(rest) == 2 else "(pack)", []).append(f)
    return out


def test_status_figures_match_the_check(run, status_pack: tuple[Path, Path], tmp_path: Path) -> None:
    pack, source = status_pack
    check = run("locale", "check", "ru-RU", "--source", "source", "--format", "json", cwd=tmp_path)
    assert check.exit_code == 3
    findings = _by_target(json.loads(check.stdout), "ru-RU")
    result = run("locale", "status", "ru-RU", "--source", "source", "--format", "json", cwd=tmp_path)
    assert result.exit_code == 0, result.output
    rows = {r["target"]: r for r in json.loads(result.stdout)}
    assert set(rows) == {"com.example.phone", "com.example.clock", "(pack)"}
    for target, row in rows.items():
        mine = findings.get(target, [])
        assert row["missing"] == sum(1 for f in mine if f["rule"] == "missing"), target
        assert row["obsolete"] == sum(1 for f in mine if f["rule"] == "obsolete"), target
        assert row["errors"] == sum(1 for f in mine if f["severity"] == "error"), target
        assert row["warnings"] == sum(1 for f in mine if f["severity"] == "warning"), target
        assert row["translated"] + row["missing"] == row["total"]
    # and against what the test wrote: 6 translatable strings (build_id is not), phone has 3 of them
    phone, clock = rows["com.example.phone"], rows["com.example.clock"]
    assert (phone["total"], phone["translated"], phone["missing"], phone["obsolete"]) == (6, 3, 3, 2)
    assert phone["errors"] == 1 and phone["percent"] == 50.0  # speed: %1$d for %1$s
    assert (clock["translated"], clock["missing"], clock["obsolete"], clock["percent"]) == (6, 0, 0, 100.0)
    assert rows["(pack)"]["errors"] == 1  # notes.txt does not belong in a pack


def test_markdown_is_a_table_for_a_pull_request(run, status_pack: tuple[Path, Path], tmp_path: Path) -> None:
    result = run("locale", "status", "ru-RU", "--source", "source", "--format", "markdown", cwd=tmp_path)
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0] == "### Translation status"
    assert lines[2] == "| locale | app | translated | missing | obsolete | errors | warnings | done |"
    assert lines[3].startswith("| --- | --- | ---: |")
    assert "| ru-RU | `com.example.phone` | 3/6 | 3 | 2 | 1 | 6 | 50.0 % ❌ |" in lines
    assert "| ru-RU | `com.example.clock` | 6/6 | 0 | 0 | 0 | 1 | 100.0 % ✅ |" in lines
    assert lines[-1] == "9 of 12 strings translated (75.0 %) in 1 locale(s); 2 error(s)."
    text = run("locale", "status", "ru-RU", "--source", "source", cwd=tmp_path)
    assert text.stdout.splitlines()[0].split() == ["locale", "app", "translated", "missing", "obsolete", "errors",
                                                   "warnings", "done"]


def test_percent_is_rounded_down(tmp_path: Path) -> None:
    from romforge.locales.status import TargetStatus

    assert TargetStatus("ru", "a", 1000, 999, 1, 0, 0, 0).percent == 99.9
    assert TargetStatus("ru", "a", 3000, 2999, 1, 0, 0, 0).percent == 99.9
    assert TargetStatus("ru", "a", 0, 0, 0, 0, 0, 0).percent == 100.0


def test_all_packs_of_the_workspace_against_the_base_rom(run, workspace: Path) -> None:
    shutil.copytree(EXAMPLE_LOCALES, workspace / "locales")
    result = run("locale", "status", "--all", "--format", "json", cwd=workspace)
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert sorted({r["locale"] for r in rows}) == ["ru-RU", "zh-Hans-CN"]
    assert len(rows) == 3 + 7
    assert all(r["missing"] == 0 and r["errors"] == 0 and r["percent"] == 100.0 for r in rows)
    assert run("locale", "status", cwd=workspace).exit_code == 2  # neither PACK nor --all

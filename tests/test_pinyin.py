"""Name → pinyin against a hand-written list of names (tests/names_zh.py), per category."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pypinyin import Style, lazy_pinyin

from names_zh import NAMES
from romforge.errors import ConfigError
from romforge.locales.pinyin import PinyinData, load_name_tables, pinyin, read_name

ALL = [(category, name, want) for category, items in NAMES.items() for name, want in items]


@pytest.mark.parametrize("category,name,want", ALL, ids=[f"{c}-{n}" for c, n, _ in ALL])
def test_primary_reading_is_what_a_native_speaker_says(category: str, name: str, want: str) -> None:
    assert pinyin(name) == want


def test_plain_pypinyin_gets_the_surname_categories_wrong() -> None:
    """The reason for the surname rules: the same list through plain pypinyin (figures in benchmarks/pinyin_accuracy.py)."""
    def plain(name: str) -> str:
        return " ".join(p.strip().lower() for p in lazy_pinyin(name, style=Style.NORMAL) if p.strip())

    polyphonic = NAMES["polyphonic"]
    assert sum(plain(n) == w for n, w in polyphonic) < len(polyphonic) / 2
    assert plain("曾国藩") == "ceng guo fan" and pinyin("曾国藩") == "zeng guo fan"


def test_other_plausible_readings_are_kept_for_matching() -> None:
    assert read_name("单田芳").readings[:3] == (("shan", "tian", "fang"), ("dan", "tian", "fang"),
                                                ("chan", "tian", "fang"))
    assert ("ceng", "guo", "fan") in read_name("曾国藩").readings
    assert len(read_name("单单单单单单单单").readings) == 8  # capped


def test_spans_and_given_name_start() -> None:
    r = read_name("Jack 欧阳娜娜")
    assert r.syllables == ("jack", "ou", "yang", "na", "na")
    assert r.spans == ((0, 4), (5, 6), (6, 7), (7, 8), (8, 9))
    assert r.given_start is None  # the name does not start with its surname
    assert read_name("欧阳娜娜").given_start == 2
    assert read_name("老王").given_start == 1  # "wang" alone finds 老王
    assert read_name("王").given_start is None
    assert read_name("吕布").pinyin == "lv bu"  # ü as v


def test_pack_tables_extend_and_override(tmp_path: Path) -> None:
    names = tmp_path / "names.toml"
    names.write_text('[surnames]\n"曾" = "ceng"\n\n[titles]\n"总工" = "zong gong"\n', encoding="utf-8")
    data = PinyinData.compile(load_name_tables(names))
    assert pinyin("曾国藩", data) == "ceng guo fan"
    assert pinyin("王总工", data) == "wang zong gong"
    assert pinyin("单老师", data) == "shan lao shi"  # the built-in tables are still there


@pytest.mark.parametrize("text,line,words", [
    ('[surnames]\n"曾" = "zēng"\n', 2, "is not pinyin"),
    ('[surnames]\n"曾" = "zeng"\n"欧阳" = "ou yang"\n', 3, "wrong length"),
    ('[titles]\n"老师" = "laoshi"\n', 2, "one syllable per character"),
    ('[nicknames]\n"阿" = "a"\n', 1, "unknown table"),
])
def test_bad_names_toml_names_file_and_line(tmp_path: Path, text: str, line: int, words: str) -> None:
    path = tmp_path / "names.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_name_tables(path, shown="t9/names.toml")
    assert err.value.file == "t9/names.toml" and err.value.line == line and words in err.value.message


def test_cli_pinyin_json(run) -> None:
    result = run("t9", "pinyin", "--json", "曾国藩", "Jack 王", "张老师")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [d["pinyin"] for d in data] == ["zeng guo fan", "jack wang", "zhang lao shi"]
    assert data[0] == {"name": "曾国藩", "pinyin": "zeng guo fan", "readings": ["zeng guo fan", "ceng guo fan"]}

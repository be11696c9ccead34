"""Name → pinyin against a hand-written list of names (tests/names_zh.py), per category."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pypinyin import Style, lazy_pinyin

from names_zh import NAMES
from romforge.errors import ConfigError
from romforge.locales.pinyin import PinyinData, load_name_tables, pinyin, read_name
from romforge.locales.t9 import Contact, T9Index

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


@pytest.mark.parametrize("name,want", [
    ("张朝阳", "zhang chao yang"),  # a given name read otherwise than the word 朝阳 (zhao yang)
    ("陈朝霞", "chen zhao xia"),  # … while 朝霞 keeps the morning's zhao
    ("王长江", "wang chang jiang"), ("刘长顺", "liu chang shun"),  # name characters: 长 chang
    ("汪曾祺", "wang zeng qi"), ("张建行", "zhang jian xing"),  # before pypinyin's words (建行 jian hang)
    ("王重阳", "wang chong yang"),  # pypinyin's phrase data where no name entry says otherwise
    ("冒顿", "mo du"), ("冒顿单于", "mo du chan yu"), ("郦食其", "li yi ji"),  # classical names
    ("刘禅", "liu shan"), ("曹参老师", "cao shen lao shi"),  # … also before a title
    ("劉長春", "liu chang chun"), ("陳重陽", "chen chong yang"), ("冒頓", "mo du"),  # traditional, via simplified
    ("萬俟卨", "mo qi xie"),
])
def test_given_name_layer_and_classical_names(name: str, want: str) -> None:
    assert pinyin(name) == want


def test_the_word_reading_stays_whole_and_finds_the_contact_ranked_lower() -> None:
    assert read_name("张朝阳").readings[:2] == (("zhang", "chao", "yang"), ("zhang", "zhao", "yang"))
    assert ("mao", "dun") in read_name("冒顿").readings and ("li", "shi", "qi") in read_name("郦食其").readings
    index = T9Index.build([Contact("张朝阳", "1"), Contact("张昭阳", "2")])
    zhao = [m.contact.name for m in index.search("94264" + "9426" + "9264")]  # zhang zhao yang
    chao = [m.contact.name for m in index.search("94264" + "2426" + "9264")]  # zhang chao yang
    assert zhao == ["张昭阳", "张朝阳"] and chao == ["张朝阳"]


def test_only_plausible_readings_are_kept() -> None:
    """Archaic readings nobody types (俊 shun, 杜 tu) are dropped: readings used in some word stay."""
    assert read_name("陈俊").readings == (("chen", "jun"),)
    assert read_name("杜凯").readings == (("du", "kai"),)
    assert ("zhang", "zhong", "yang") in read_name("张重阳").readings  # 重 zhong: a reading of many words


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


def test_a_name_dot_ends_the_surname() -> None:
    """爱新觉罗·溥仪: everything before the dot is the surname, so "puyi" starts at the given name."""
    r = read_name("爱新觉罗·溥仪")
    assert r.pinyin == "ai xin jue luo pu yi"
    assert r.given_start == 4
    assert read_name("爱新觉罗・玄烨").given_start == 4  # the katakana middle dot, as some keyboards type it
    assert read_name("买买提·艾力").given_start == 3
    assert read_name("单·田芳").readings[0][1:] == ("tian", "fang")
    assert read_name("爱新觉罗 溥仪").given_start == 1  # a space is not a name dot: read as one name each


def test_pack_tables_extend_and_override(tmp_path: Path) -> None:
    names = tmp_path / "names.toml"
    names.write_text('[surnames]\n"曾" = "ceng"\n\n[titles]\n"总工" = "zong gong"\n\n'
                     '[given_names]\n"朝阳" = "zhao yang"\n"晓东" = ["xiao dong", "xiao tong"]\n\n'
                     '[name_chars]\n"长" = "zhang"\n\n[classical_names]\n"冒顿" = "mao dun"\n', encoding="utf-8")
    data = PinyinData.compile(load_name_tables(names))
    assert pinyin("曾国藩", data) == "ceng guo fan"
    assert pinyin("王总工", data) == "wang zong gong"
    assert pinyin("单老师", data) == "shan lao shi"  # the built-in tables are still there
    assert [pinyin(n, data) for n in ("张朝阳", "王长", "冒顿", "劉長春")] == \
        ["zhang zhao yang", "wang zhang", "mao dun", "liu zhang chun"]
    assert ("xie", "xiao", "tong") in read_name("解晓东", data).readings
    assert pinyin("陈朝霞", data) == "chen zhao xia" and pinyin("冒顿单于", data) == "mo du chan yu"


@pytest.mark.parametrize("text,line,words", [
    ('[surnames]\n"曾" = "zēng"\n', 2, "is not pinyin"),
    ('[surnames]\n"曾" = "zeng"\n"欧阳" = "ou yang"\n', 3, "wrong length"),
    ('[titles]\n"老师" = "laoshi"\n', 2, "one syllable per character"),
    ('[nicknames]\n"阿" = "a"\n', 1, "unknown table"),
    ('[name_chars]\n"长" = "chang"\n\n[given_names]\n"朝" = "chao"\n', 5, "wrong length"),
    ('[classical_names]\n"冒顿" = ["mo du", "mao"]\n', 2, "one syllable per character"),
    ('[given_names]\n"朝阳" = 3\n', 2, "a reading is a string or a list of strings"),
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

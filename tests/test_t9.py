"""T9 smart dial: ranking, spans, incremental narrowing, the shipped data file, bad contacts."""

from __future__ import annotations

import json
import random
import shutil
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import REPO
from names_zh import NAMES
from romforge.locales import t9file
from romforge.locales.keypad import Keypad
from romforge.locales.pinyin import default_data, read_name
from romforge.locales.t9 import MAX_RESULTS, Contact, T9Index, T9Search, load_data

EXAMPLE_LOCALES = REPO / "examples" / "workspace" / "locales"

RANKED = [  # query 9364 ("zeng" on the keys) matches each in a different way
    Contact("张三", "139 9364 0000"),  # number
    Contact("李增", "13511110000"),  # given name alone: zeng
    Contact("泽农国", "13511110001"),  # mixed: ze + n + g
    Contact("周恩宁国", "13511110002"),  # initials: z e n g
    Contact("曾国藩", "13800138000"),  # prefix of the full spelling zengguofan
    Contact("曾", "13511110003"),  # exact full spelling
    Contact("刘德华", "13511110004"),  # no match at all
]


def _names(matches) -> list[tuple[str, str, tuple[int, int]]]:
    return [(m.contact.name, m.kind, m.span) for m in matches]


def test_ranking_by_match_kind_with_spans() -> None:
    index = T9Index.build(RANKED)
    assert _names(index.search("9364")) == [
        ("曾", "full", (0, 1)),
        ("曾国藩", "prefix", (0, 1)),
        ("周恩宁国", "initials", (0, 4)),
        ("泽农国", "mixed", (0, 3)),
        ("李增", "given-name", (1, 2)),
        ("张三", "number", (4, 8)),  # "139 9364 0000"[4:8] == "9364"
    ]


@pytest.mark.parametrize("digits,kind,span", [
    ("9364486326", "full", (0, 3)),  # zeng guo fan
    ("93644", "prefix", (0, 2)),  # zeng g…
    ("943", "initials", (0, 3)),  # z g f
    ("936443", "mixed", (0, 3)),  # zeng + g + f
    ("486326", "given-name", (1, 3)),  # guo fan
    ("43", "given-name", (1, 3)),  # g f
    ("2364", "prefix", (0, 1)),  # ceng: a reading people also type
    ("0013", "number", (3, 7)),
])
def test_every_way_to_type_zeng_guo_fan(digits: str, kind: str, span: tuple[int, int]) -> None:
    index = T9Index.build([Contact("曾国藩", "13800138000")])
    assert _names(index.search(digits)) == [("曾国藩", kind, span)]


def test_polyphonic_surnames_are_found_by_their_surname_reading() -> None:
    index = T9Index.build([Contact("单田芳", "1"), Contact("区志强", "2"), Contact("单老师", "3")])
    assert [m.contact.name for m in index.search("7426")] == ["单老师", "单田芳"]  # shan, then by reading
    assert [m.contact.name for m in index.search("68")][:1] == ["区志强"]  # ou
    assert _names(index.search("7426526744"))[0] == ("单老师", "full", (0, 3))  # shan lao shi


def _contacts(count: int, seed: int = 3) -> list[Contact]:
    rng = random.Random(seed)
    surnames = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐曾单区查解仇朴翟") + ["欧阳", "司马", "诸葛"]
    given = list("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰国藩田良镛志天临树可")
    titles = ["", "", "", "", "", "总", "老师", "经理"]
    out = []
    for i in range(count):
        kind = i % 10
        if kind == 9:
            name = rng.choice(["Jack", "Mary", "Tony", "Lily"]) + " " + rng.choice(surnames)
        elif kind == 8:
            name = rng.choice(["老", "小"]) + rng.choice(surnames[:-3])
        else:
            name = rng.choice(surnames) + "".join(rng.choice(given) for _ in range(rng.choice((1, 2, 2))))
            name += rng.choice(titles)
        out.append(Contact(name, "1" + "".join(rng.choice("0123456789") for _ in range(10))))
    return out


def test_incremental_search_narrows_and_equals_a_fresh_search() -> None:
    index = T9Index.build(_contacts(500))
    session = T9Search(index)
    previous = session.ranges
    for digit in "9364486":
        session.push(digit)
        for kind, (lo, hi) in session.ranges.items():
            assert previous[kind][0] <= lo <= hi <= previous[kind][1]  # inside the previous range
        previous = session.ranges
        assert session.results() == index.search(session.query)
    session.pop()
    assert session.query == "936448" and session.results() == index.search("936448")


def test_index_answers_like_a_full_scan() -> None:
    index = T9Index.build(_contacts(1500))
    rng = random.Random(5)
    queries = ["2", "9", "94", "9264", "54", "7426", "936", "1", "13", "0000", "944", "74264"]
    queries += ["".join(rng.choice("23456789") for _ in range(rng.randint(1, 7))) for _ in range(60)]
    for q in queries:
        result = index.search(q)
        assert result == index.scan(q), q
        assert len(result) <= MAX_RESULTS
    assert len(index.search("9")) == MAX_RESULTS


surname_st = st.sampled_from([n for items in NAMES.values() for n, _ in items])
han_st = st.text(alphabet=st.sampled_from(list("单曾区查解仇朴翟盖缪覃召乐长重行王李张老小阿国藩田芳志强总师")),
                 min_size=1, max_size=4)
latin_st = st.text(alphabet=st.sampled_from(list("abcdefghijklmnopqrstuvwxyz")), min_size=1, max_size=6)
name_st = st.one_of(surname_st, han_st, st.builds(lambda a, b: f"{a} {b}", latin_st, han_st),
                    st.builds(lambda a, b: a + b, han_st, latin_st))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(names=st.lists(name_st, min_size=1, max_size=12, unique=True), pick=st.integers(min_value=0),
       way=st.sampled_from(["full", "initials", "mixed", "prefix"]), seed=st.integers(0, 1000))
def test_the_digits_of_any_reading_retrieve_the_contact(names: list[str], pick: int, way: str, seed: int) -> None:
    contacts = [Contact(n, f"1380000{i:04d}") for i, n in enumerate(names)]
    index = T9Index.build(contacts)
    target = contacts[pick % len(contacts)]
    keypad = Keypad.standard()
    rng = random.Random(seed)
    for reading in read_name(target.name).readings:
        digits = [keypad.encode(s) for s in reading]
        if way == "full":
            query = "".join(digits)
        elif way == "initials":
            query = "".join(d[0] for d in digits)
        elif way == "mixed":
            query = "".join(d if rng.random() < 0.5 else d[0] for d in digits)
        else:
            full = "".join(digits)
            query = full[:rng.randint(1, len(full))]
        assert target in [m.contact for m in index.search(query)], (reading, query)


def test_t9_data_file_in_the_built_rom_answers_like_the_in_memory_index(run, workspace: Path, tmp_path: Path) -> None:
    shutil.copytree(EXAMPLE_LOCALES, workspace / "locales")
    result = run("build", "alioth", "--version", "1.0", "--date", "2026-11-27", cwd=workspace)
    assert result.exit_code == 0, result.output
    with zipfile.ZipFile(workspace / "releases/alioth/1.0/target-files.zip") as zf:
        blob = zf.read("PRODUCT/etc/t9/zh-Hans-CN.t9")
        ru_blob = zf.read("PRODUCT/etc/t9/ru-RU.t9")
    shipped = t9file.from_bytes(blob, shown="zh-Hans-CN.t9")
    in_memory = load_data(pack=workspace / "locales" / "zh-Hans-CN")
    assert t9file.to_bytes(in_memory) == blob  # deterministic: the same inputs, the same bytes
    assert shipped.version == "2026.11.1" and shipped.names.titles["总工"] == (("zong", "gong"),)
    contacts = _contacts(800, seed=11) + [Contact("员莉", "1"), Contact("曾国藩", "2")]
    a, b = T9Index.build(contacts, shipped), T9Index.build(contacts, in_memory)
    rng = random.Random(2)
    for q in ["9264", "926498664664", "943", "9"] + ["".join(rng.choice("23456789") for _ in range(5))
                                                    for _ in range(40)]:
        for end in range(1, len(q) + 1):
            assert a.search(q[:end]) == b.search(q[:end])
    # the pack's t9/names.toml reads the surname 员 as yun; the built-in tables alone say yuan
    assert ("员莉", "full", (0, 2)) in _names(a.search("98654"))
    assert read_name("员莉").pinyin == "yuan li" and read_name("员莉", shipped).pinyin == "yun li"
    ru = t9file.from_bytes(ru_blob, shown="ru-RU.t9")
    assert ru.chars == {} and ru.keypad.encode("Анна") == "2552"
    assert _names(T9Index.build([Contact("Анна Петрова", "5")], ru).search("25525"))[0][1:] == ("prefix", (0, 12))


def test_damaged_data_file_is_a_clean_error(run, tmp_path: Path) -> None:
    blob = bytearray(t9file.to_bytes(default_data()))
    blob[40] ^= 0xFF
    (tmp_path / "bad.t9").write_bytes(bytes(blob))
    result = run("t9", "pinyin", "--data", tmp_path / "bad.t9", "曾国藩", cwd=tmp_path)
    assert result.exit_code == 1 and "damaged (CRC mismatch)" in result.stderr


def _csv(tmp: Path, data: bytes) -> Path:
    path = tmp / "contacts.csv"
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("data,words", [
    ("name,phone\n曾国藩,138\n".encode(), "contacts.csv:1: header: missing column(s) number"),
    ("name,number\n曾国藩,138\n".encode("gb18030"), "contacts.csv:2: not valid UTF-8"),
    (b"name,number\n" + b"x" * (1 << 20) + b",138\n", "contacts.csv:2: malformed CSV: field larger than field limit"),
    ("name,number\n曾国藩,13800138000\n王,call me\n".encode(), "contacts.csv:3: number 'call me'"),
])
def test_bad_contacts_csv_is_one_message_exit_1(run, tmp_path: Path, data: bytes, words: str) -> None:
    path = _csv(tmp_path, data)
    result = run("t9", "query", "--contacts", path, "9364", cwd=tmp_path)
    assert result.exit_code == 1
    assert result.stderr.startswith("romforge: error: ") and words in result.stderr
    assert len(result.stderr.strip().splitlines()) <= 2 and "Traceback" not in result.output
    result = run("t9", "index", "--contacts", path, "-o", tmp_path / "ix.json", cwd=tmp_path)
    assert result.exit_code == 1 and not (tmp_path / "ix.json").exists()


def test_cli_query_json_and_prebuilt_index(run, tmp_path: Path) -> None:
    rows = "".join(f"{c.name},{c.number}\n" for c in RANKED)
    path = _csv(tmp_path, ("name,number\n" + rows).encode())
    result = run("t9", "query", "--json", "--contacts", path, "9364", cwd=tmp_path)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data[0] == {"name": "曾", "number": "13511110003", "match": "full", "span": [0, 1]}
    assert [d["match"] for d in data] == ["full", "prefix", "initials", "mixed", "given-name", "number"]
    assert run("t9", "index", "--contacts", path, "-o", "ix.json", cwd=tmp_path).exit_code == 0
    first = (tmp_path / "ix.json").read_bytes()
    assert run("t9", "index", "--contacts", path, "-o", "ix.json", cwd=tmp_path).exit_code == 0
    assert (tmp_path / "ix.json").read_bytes() == first  # deterministic
    for q in ("9364", "943", "2", "1351111"):
        by_index = run("t9", "query", "--json", "--index", "ix.json", q, cwd=tmp_path)
        by_csv = run("t9", "query", "--json", "--contacts", path, q, cwd=tmp_path)
        assert by_index.exit_code == 0 and json.loads(by_index.stdout) == json.loads(by_csv.stdout)
    bad = run("t9", "query", "--contacts", path, "93a4", cwd=tmp_path)
    assert bad.exit_code == 1 and "is not a T9 query" in bad.stderr

"""T9 smart dial: ranking, spans, incremental narrowing, the shipped data file, bad contacts."""

from __future__ import annotations

import json
import random
import shutil
import struct
import zipfile
import zlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import REPO
from names_zh import NAMES
from romforge.locales import t9file
from romforge.locales.keypad import Keypad
from romforge.locales.pinyin import default_data, read_name
from romforge.errors import InputError
from romforge.locales.t9 import MAX_RESULTS, Contact, T9Index, T9Search, index_from_json, index_to_json, load_data

EXAMPLE_LOCALES = REPO / "examples" / "workspace" / "locales"

RANKED = [  # query 9364 ("zeng" on the keys) matches each in a different way
    Contact("张三", "139 9364 0000"),  # number
    Contact("李增", "13511110000"),  # given name alone: zeng
    Contact("叶明辉", "13511110001"),  # surname in full, given-name initials: ye + m + h
    Contact("周恩宁国", "13511110002"),  # initials: z e n g
    Contact("曾国藩", "13800138000"),  # prefix of the full spelling zengguofan
    Contact("曾", "13511110003"),  # exact full spelling
    Contact("刘德华", "13511110004"),  # no match at all
]


def _names(matches) -> list[tuple[str, str, tuple[int, int]]]:
    return [(m.contact.name, m.kind, m.span) for m in matches]


def test_ranking_with_spans() -> None:
    index = T9Index.build(RANKED)
    assert _names(index.search("9364")) == [
        ("曾", "full", (0, 1)),  # the complete name, whole syllables, from the surname
        ("李增", "given-name", (1, 2)),  # complete too, one word (the surname) skipped
        ("叶明辉", "mixed", (0, 3)),  # complete with initials: ye + m + h
        ("周恩宁国", "initials", (0, 4)),  # complete, initials only
        ("曾国藩", "prefix", (0, 1)),  # only the start of the name
        ("张三", "number", (4, 8)),  # "139 9364 0000"[4:8] == "9364"
    ]


def _first(contacts: list[Contact], digits: str) -> list[str]:
    return [m.contact.name for m in T9Index.build(contacts).search(digits)]


@pytest.mark.parametrize("digits,names", [
    # 1. a start at the surname, the given name or another word over one in the middle of a word
    ("3364", ["冯", "张三丰"]),  # feng: the surname 冯, then 张三丰's third syllable
    # 2. the complete name over a prefix
    ("94264726", ["张三", "张三丰"]),  # zhangsan
    ("94264", ["张", "周浩安宁国", "张伟国"]),  # zhang: 周浩安宁国 (z h a n g) is complete, 张伟国 is not
    # 3. whole syllables over initials: whole; whole words then initials; initials inside a word;
    # initials only; other mixes
    ("9426473", ["张瑟", "张三丰", "张森"]),  # zhangse / zhang+s+f, then the prefix zhang+se(n)
    ("7263364", ["三丰", "张三丰", "三分国"]),  # sanfeng: whole, the given name whole, then san+fen+g
    ("926432643", ["王芳Fiona", "王芳峰"]),  # wangfangf: initials from the word Fiona on, then inside 芳峰
    ("973", ["张三丰", "赵仁"]),  # z+s+f, complete, over z+re(n)
    # 4. fewer skipped syllables: a word skipped whole (the surname, of one syllable or two) counts once
    ("3264", ["方", "欧阳方", "王方"]),  # fang: none skipped, then the surname; 欧阳 is one skipped word, like 王
    ("94394263664", ["解晓东", "Jim 解晓东"]),  # xiexiaodong: the complete name, then the name after the word Jim
    ("3364", ["冯", "张三丰", "张三小丰"]),  # feng from the middle of 三丰 (one syllable in) before 三小丰 (two)
    # 5. the main reading over an alternative one
    ("326", ["丹", "单"]),  # dan is 丹's reading and only an alternative of the surname 单 (shan)
    # 6. then the stable order: primary reading, name, number
    ("9364", ["曾", "曾"]),
])
def test_each_ranking_rule(digits: str, names: list[str]) -> None:
    contacts = [Contact(n, f"1380000{i:04d}") for i, n in enumerate(names)]
    assert _first(list(reversed(contacts)), digits) == names


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
    assert _names(index.search("7426")) == [("单老师", "prefix", (0, 1)), ("单田芳", "prefix", (0, 1)),  # shan
                                            ("区志强", "middle", (2, 3))]  # qiang, inside the given name
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
    anna = T9Index.build([Contact("Анна Петрова", "5")], ru)
    assert _names(anna.search("25525"))[0][1:] == ("mixed", (0, 12))  # анна + п: the complete name
    assert _names(anna.search("2552536"))[0][1:] == ("prefix", (0, 12))  # анна + пет…
    assert _names(anna.search("2552"))[0][1:] == ("prefix", (0, 4))


def _sections(blob: bytes) -> list[tuple[bytes, bytes]]:
    """The data file's sections, read by the layout README.md documents (not by t9file)."""
    assert blob[:4] == b"RFT9"
    version, count, crc = struct.unpack_from("<HHI", blob, 4)
    assert version == 1 and zlib.crc32(blob[12:]) == crc
    body = zlib.decompress(blob[12:])
    out, pos = [], 0
    for _ in range(count):
        (length,) = struct.unpack_from("<I", body, pos + 4)
        out.append((body[pos:pos + 4], body[pos + 8:pos + 8 + length]))
        pos += 8 + length
    assert pos == len(body)
    return out


def _file(sections: list[tuple[bytes, bytes]]) -> bytes:
    packed = zlib.compress(b"".join(tag + struct.pack("<I", len(p)) + p for tag, p in sections), 9)
    return b"RFT9" + struct.pack("<HHI", 1, len(sections), zlib.crc32(packed)) + packed


def test_data_file_carries_the_name_layer_and_older_files_still_load() -> None:
    data = default_data()
    blob = t9file.to_bytes(data)
    sections = _sections(blob)
    tags = [tag for tag, _ in sections]
    assert tags == [b"META", b"KPAD", b"SYLL", b"CHRS", b"PHRS", b"CSUR", b"SURN", b"TITL", b"PRFX", b"NCHR",
                    b"GNAM", b"CLAS", b"TRAD"]
    payload = dict(sections)
    assert "朝阳\tchao yang|zhao yang\n" in payload[b"GNAM"].decode() and "冒顿\tmo du\n" in payload[b"CLAS"].decode()
    assert "長\t长\n" in payload[b"TRAD"].decode()
    shipped = t9file.from_bytes(blob, shown="zh.t9")
    names = ["張朝陽", "劉長春", "冒頓單于", "郦食其", "汪曾祺", "曾国藩", "欧阳娜娜 Nana"]
    assert [read_name(n, shipped).readings for n in names] == [read_name(n, data).readings for n in names]
    assert read_name("劉長春", shipped).pinyin == "liu chang chun"
    # a file written before GNAM, CLAS and TRAD existed: loads, reads the surname tables, lacks the new layer
    older = t9file.from_bytes(_file([(t, p) for t, p in sections if t not in (b"GNAM", b"CLAS", b"TRAD")]),
                              shown="old.t9")
    assert older.names.given_names == {} and older.folds == {} and older.names.surnames == data.names.surnames
    assert read_name("曾国藩", older).pinyin == "zeng guo fan" and read_name("冒顿", older).pinyin == "mao dun"
    # a file with a section this reader does not know (a later romforge's): skipped
    later = t9file.from_bytes(_file(sections + [(b"XTRA", b"anything")]), shown="new.t9")
    assert read_name("張朝陽", later).readings == read_name("張朝陽", data).readings
    bad = [(t, p if t != b"GNAM" else "朝阳\tchao\n".encode()) for t, p in sections]
    with pytest.raises(InputError, match="one syllable per character"):
        t9file.from_bytes(_file(bad), shown="bad.t9")


def test_prebuilt_index_version_1_still_loads_and_bad_ones_are_clean_errors() -> None:
    contacts = _contacts(300, seed=4) + [Contact("Jack 王", "2")]
    index = T9Index.build(contacts)
    doc = json.loads(index_to_json(index))
    assert doc["version"] == 2 and "keys" not in doc
    assert not any(c["extra"] for c in doc["contacts"])  # nothing version 1 could not hold
    v1 = {"format": "romforge-t9-index", "version": 1, "keypad": doc["keypad"],
          "contacts": [{k: c[k] for k in ("name", "number", "options", "spans", "given_start")} for c in doc["contacts"]],
          "keys": {"full": [[], []], "initials": [[], []], "mixed": [[], []], "given": [[], []], "number": [[], []]}}
    old = index_from_json(json.dumps(v1, ensure_ascii=False), shown="ix.json")
    again = index_from_json(index_to_json(index), shown="ix.json")
    for q in ("9426", "942", "9", "2", "524", "13"):
        assert again.search(q) == index.search(q)
        assert old.search(q) == index.search(q)
    assert index_to_json(again) == index_to_json(index)
    zhang = T9Index.build([Contact("張朝陽", "1"), Contact("张昭阳", "2")])
    assert json.loads(index_to_json(zhang))["contacts"][0]["extra"] == [["zhang", "zhao", "yang"]]
    zhao = zhang.search("94264" + "9426" + "9264")  # zhang zhao yang: 张昭阳, then 張朝陽 by its word reading
    assert [m.contact.name for m in zhao] == ["张昭阳", "張朝陽"]
    assert index_from_json(index_to_json(zhang), shown="ix.json").search("9426494269264") == zhao
    doc["contacts"][0]["spans"] = doc["contacts"][0]["spans"][:-1]
    with pytest.raises(InputError, match="not a readable T9 index"):
        index_from_json(json.dumps(doc), shown="ix.json")
    with pytest.raises(InputError, match="version 1 or 2"):
        index_from_json(json.dumps({**doc, "version": 3}), shown="ix.json")


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
    assert [d["match"] for d in data] == ["full", "given-name", "mixed", "initials", "prefix", "number"]
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

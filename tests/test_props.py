from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, strategies as st

from romforge.errors import InputError
from romforge.props import BuildProp


@pytest.mark.realdata
def test_real_prop_files_round_trip_byte_for_byte(shared: Path) -> None:
    files = sorted((shared / "props").glob("*.prop"))
    assert len(files) == 8
    for path in files:
        data = path.read_bytes()
        prop = BuildProp.parse(data, source=path.name)
        assert prop.to_bytes() == data, path.name
        assert prop.keys(), path.name


@pytest.mark.realdata
def test_real_prop_quirks_follow_init_semantics(shared: Path) -> None:
    sm8150 = BuildProp.parse((shared / "props/xiaomi-sm8150-common-vendor.prop").read_bytes())
    assert sm8150.get("tunnel.audio.encode") == "true"  # spaces around '=' are trimmed
    rat = [line for line in sm8150.lines if line.key == "persist.vendor.radio.rat_on"]
    assert len(rat) == 2
    assert sm8150.get("persist.vendor.radio.rat_on") == rat[-1].value  # the last assignment wins
    msm8953 = BuildProp.parse((shared / "props/xiaomi-msm8953-common-vendor.prop").read_bytes())
    assert msm8953.get("rild.libargs") == "-d /dev/smd0"
    sdm660 = BuildProp.parse((shared / "props/xiaomi-sdm660-common-vendor.prop").read_bytes())
    trailing = [line for line in sdm660.lines if line.raw.endswith(" ") and line.key]
    assert trailing and sdm660.get(trailing[0].key) == trailing[0].raw.split("=", 1)[1].strip()


@pytest.mark.realdata
def test_optional_assignments_in_real_file(shared: Path) -> None:
    texts = {p.name: p.read_text() for p in (shared / "props").glob("*.prop")}
    name, text = next((n, t) for n, t in texts.items() if "?=" in t)
    prop = BuildProp.parse(text)
    optional = next(line for line in prop.lines if line.optional)
    assert prop.get(optional.key) == optional.value
    prop.set(optional.key, "forced")
    assert prop.get(optional.key) == "forced"
    assert f"{optional.key}=forced" in prop.to_text()


def test_set_replaces_in_place_and_keeps_comments() -> None:
    text = "# head\na=1\n\n# section\nb = 2\nc=3\n"
    prop = BuildProp.parse(text)
    prop.set("b", "20")
    prop.set("d", "4")
    assert prop.to_text() == "# head\na=1\n\n# section\nb=20\nc=3\nd=4\n"


def test_set_targets_the_winning_duplicate() -> None:
    prop = BuildProp.parse("x=1\ny=2\nx=3\n")
    assert prop.get("x") == "3"
    prop.set("x", "9")
    assert prop.to_text() == "x=1\ny=2\nx=9\n"
    assert prop.get("x") == "9"


def test_optional_assignment_does_not_override() -> None:
    prop = BuildProp.parse("a=1\na?=2\nb?=3\n")
    assert prop.get("a") == "1"
    assert prop.get("b") == "3"


def test_unset_removes_every_assignment_and_append_builds_lists() -> None:
    prop = BuildProp.parse("k=1\n# keep\nk=2\nlocales=en-US\n")
    assert prop.unset("k") and not prop.unset("k")
    prop.append("locales", "zh-CN")
    prop.append("locales", "en-US")
    assert prop.to_text() == "# keep\nlocales=en-US,zh-CN\n"


def test_crlf_and_missing_final_newline_are_kept() -> None:
    data = b"a=1\r\n# c\r\nb=2"
    prop = BuildProp.parse(data)
    assert prop.to_bytes() == data
    prop.set("a", "5")
    assert prop.to_bytes() == b"a=5\r\n# c\r\nb=2"


def test_bad_line_is_reported_with_its_line() -> None:
    with pytest.raises(InputError) as err:
        BuildProp.parse(b"a=1\n\nthis is not a prop\n", source="vendor/build.prop")
    assert err.value.file == "vendor/build.prop" and err.value.line == 3


def test_invalid_names_and_values_are_refused() -> None:
    prop = BuildProp.parse("")
    for key in ("", "a b", "../x", "a=b"):
        with pytest.raises(ValueError):
            prop.set(key, "1")
    with pytest.raises(ValueError):
        prop.set("ok.key", "two\nlines")


_key = st.from_regex(r"[a-z][a-z0-9_.]{0,12}[a-z0-9]", fullmatch=True).filter(lambda k: ".." not in k)
_value = st.text(st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), max_size=20).map(str.strip)
_line = st.one_of(
    st.tuples(_key, _value).map(lambda kv: f"{kv[0]}={kv[1]}"),
    st.tuples(_key, _value).map(lambda kv: f"{kv[0]} = {kv[1]}"),
    st.text(st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), max_size=20).map(lambda t: "# " + t),
    st.just(""),
)


@given(st.lists(_line, max_size=30), st.booleans())
def test_any_prop_file_round_trips_and_edits_are_local(lines: list[str], final_newline: bool) -> None:
    text = "\n".join(lines) + ("\n" if final_newline and lines else "")
    prop = BuildProp.parse(text)
    assert prop.to_text() == text
    prop.set("romforge.test.key", "v")
    again = BuildProp.parse(prop.to_text())
    assert again.get("romforge.test.key") == "v"
    untouched = [line for line in again.lines if line.key != "romforge.test.key"]
    assert [line.raw for line in untouched] == [line for line in text.splitlines()]

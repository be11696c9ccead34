"""The recovering check: a file that is not well-formed still gets every other finding, in one run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from romforge.errors import InputError
from romforge.locales.check import check_file
from romforge.locales.resxml import read_values
from romforge.xmlsafe import parse_xml, parse_xml_recovering
from test_locale_check import _edit, _write


def _line_of(text: str, needle: str) -> int:
    assert text.count(needle) == 1, needle
    return text[:text.index(needle)].count("\n") + 1


def test_broken_tag_does_not_hide_the_other_findings(tmp_path: Path) -> None:
    text = _edit("%2$s/秒</string>", "%2$s/秒</strin>")  # line 4: not well-formed
    text = text.replace("无法安装此更新", "无法安装'此更新")  # line 5: apostrophe
    text = text.replace("%1$d</xliff:g>%% 的电量", "%1$d</xliff:g>% 的电量")  # line 3: format-invalid
    findings = check_file(_write(tmp_path, text))
    assert [(f.rule, f.line, f.damaged) for f in findings] == [
        ("format-invalid", 3, False), ("invalid-xml", 4, False), ("apostrophe", 5, False)]
    invalid = findings[1]
    assert invalid.column is not None and "strin" in invalid.message


def test_findings_inside_the_damaged_region_are_marked(tmp_path: Path) -> None:
    # the broken string also has a wrong argument type: recovery still reads it, marked damaged
    text = _edit("%1$s，%2$s/秒</string>", "%1$d，%2$s/秒<b>x</string>")
    findings = check_file(_write(tmp_path, text))
    rules = [(f.rule, f.line, f.damaged) for f in findings]
    assert ("invalid-xml", 4, False) in rules
    assert ("format-type", 4, True) in rules
    assert not any(f.rule == "missing" and f.name == "speed" for f in findings)  # it was read
    assert "(damaged region: read by recovery)" in next(f for f in findings if f.damaged).format()


def test_several_broken_parts_each_reported(tmp_path: Path) -> None:
    text = _edit("%2$s/秒</string>", "%2$s/秒</strin>")
    text = text.replace('<item>每天</item>', '<item>每天</itm>')
    text = text.replace('<string name="progress">', '<string name="progress>')
    findings = check_file(_write(tmp_path, text))
    invalid = sorted(f.line for f in findings if f.rule == "invalid-xml")
    assert invalid == [4, 6, 12]
    # the one string whose name cannot be read (its quote is unclosed) counts as not translated
    assert [f.name for f in findings if f.rule == "missing"] == ["progress"]


def test_unclosed_comment_and_damage_outside_resources(tmp_path: Path) -> None:
    text = _edit('    <string name="speed">', '    <!-- unclosed\n    <string name="speed">')
    findings = check_file(_write(tmp_path, text))
    assert [f.rule for f in findings if f.rule == "invalid-xml"] == ["invalid-xml"]
    # everything after the broken comment is still checked
    broken = text.replace("无法安装此更新", "无法安装'此更新")
    findings = check_file(_write(tmp_path, broken))
    assert ("apostrophe", 6) in [(f.rule, f.line) for f in findings]
    # garbage after </resources>: recover mode over the whole file, everything marked damaged
    tail = _edit("无法安装此更新", "无法安装'此更新") + "<junk>"
    findings = check_file(_write(tmp_path, tail))
    assert [(f.rule, f.line, f.damaged) for f in findings] == [("apostrophe", 5, True), ("invalid-xml", 16, False)]


def test_unreadable_file_is_one_finding(tmp_path: Path) -> None:
    findings = check_file(_write(tmp_path, "<resources"))
    assert [f.rule for f in findings] == ["invalid-xml"]


@pytest.mark.parametrize("codec", ["utf-8", "utf-16", "utf-16-le", "utf-16-be", "utf-32"])
def test_recovery_never_reopens_dtds_or_entities(codec: str) -> None:
    doc = (f'<?xml version="1.0" encoding="{codec.upper()}"?>\n<!DOCTYPE resources [<!ENTITY a "boom">]>\n'
           '<resources><string name="x">&a;</strin></resources>')
    for parse in (parse_xml, parse_xml_recovering):
        with pytest.raises(InputError, match="DOCTYPE"):
            parse(doc.encode(codec), source="strings.xml")
    with pytest.raises(InputError, match="DOCTYPE"):
        read_values(doc.encode(codec), file="strings.xml", recover=True)


def test_undefined_entity_is_not_expanded(tmp_path: Path) -> None:
    text = _edit(">系统更新<", ">&xxe;系统更新<")
    findings = check_file(_write(tmp_path, text))
    assert findings[0].rule == "invalid-xml" and findings[0].line == 2
    assert "xxe" in findings[0].message


def test_cli_reports_damaged_in_json(tmp_path: Path, run) -> None:
    path = _write(tmp_path, _edit("%1$s，%2$s/秒</string>", "%1$d，%2$s/秒</strin>"))
    result = run("locale", "check", path, "--format", "json", cwd=tmp_path)
    assert result.exit_code == 3
    data = json.loads(result.stdout)
    assert {(d["rule"], d["damaged"]) for d in data} == {("invalid-xml", False), ("format-type", True)}


# ---- eight mistakes in a real LineageOS translation ---------------------------------

PLANTS = [  # (rule, what the real file says, what the translator wrote instead, text on the finding's line)
    ("invalid-xml", '<item quantity="other">剩余 <xliff:g id="count">%d</xliff:g> 分</item>',
     '<item quantity="other">剩余 <xliff:g id="count">%d</xliff> 分</item>', "</xliff> 分"),
    ("format-type", '<string name="text_download_speed">%1$s, %2$s/秒</string>',
     '<string name="text_download_speed">%1$d, %2$s/秒</string>', "%1$d, %2$s/秒"),
    ("apostrophe", ">下载已暂停<", ">下载'已暂停<", "下载'已暂停"),
    ("obsolete", '    <string name="app_name">系统更新</string>\n',
     '    <string name="app_name">系统更新</string>\n    <string name="old_welcome">欢迎</string>\n',
     'name="old_welcome"'),
    ("duplicate", '    <string name="display_name">系统更新</string>\n',
     '    <string name="display_name">系统更新</string>\n    <string name="display_name">更新</string>\n',
     '<string name="display_name">更新'),
    ("untranslatable", '    <string name="downloading_notification">',
     '    <string name="download_path">/数据/</string>\n    <string name="downloading_notification">',
     'name="download_path"'),
    ("escape", ">下载完成<", ">下载完成\\u20<", "下载完成\\u20"),
    ("plural-quantity", '<item quantity="other">剩余 <xliff:g id="count">%d</xliff:g> 秒</item>',
     '<item quantity="one">剩余 1 秒</item>\n        <item quantity="other">剩余 <xliff:g id="count">%d</xliff:g> 秒</item>',
     '<item quantity="one">'),
    ("xliff-id", '<xliff:g id="version" example="7.1.2">%1$s</xliff:g>', '<xliff:g id="ver">%1$s</xliff:g>',
     '<xliff:g id="ver">'),
    ("reference", ">验证失败<", ">@验证失败<", "@验证失败"),
]


@pytest.mark.realdata
def test_ten_planted_mistakes_in_a_real_translation_in_one_run(shared: Path, tmp_path: Path) -> None:
    real = shared / "translations" / "Updater"
    text = (real / "values-zh-rCN" / "strings.xml").read_text(encoding="utf-8")
    upstream = {(f.rule, f.name) for f in check_file(real / "values-zh-rCN" / "strings.xml")}
    assert {rule for rule, _ in upstream} == {"missing"}  # the real file is clean but for untranslated strings
    for _, old, new, _ in PLANTS:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    folder = tmp_path / "values-zh-rCN"
    folder.mkdir()
    (folder / "strings.xml").write_text(text, encoding="utf-8")
    findings = check_file(folder / "strings.xml", real / "values" / "strings.xml")
    planted = sorted((f.rule, f.line) for f in findings if (f.rule, f.name) not in upstream)
    expected = sorted((rule, _line_of(text, anchor)) for rule, _, _, anchor in PLANTS)
    assert planted == expected
    assert len({rule for rule, _ in expected}) >= 8
    assert all(f.line and f.column for f in findings if f.rule != "missing")
    # the damaged region is the broken plural only: nothing else is marked, nothing else is lost
    assert {f.line for f in findings if f.damaged} <= {_line_of(text, "</xliff> 分")}
    assert [f for f in findings if f.rule == "missing" and f.name == "eta_minutes"] == []

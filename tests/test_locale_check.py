"""The translator's check, rule by rule: each broken file is reported at its exact line with its rule id."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from romforge.locales.check import check_file, format_args

SOURCE = """\
<?xml version="1.0" encoding="utf-8"?>
<resources xmlns:xliff="urn:oasis:names:tc:xliff:document:1.2">
    <string name="app_name">Updater</string>
    <string name="download_path" translatable="false">/data/updates/</string>
    <string name="battery">Need <xliff:g id="percent">%1$d</xliff:g>%% of battery, <b>now</b></string>
    <string name="speed">%1$s, %2$s/s</string>
    <string name="cant">This update can\\'t be installed.\\nTry again.</string>
    <string name="progress">Importing\\u2026</string>
    <string name="header">Android <xliff:g id="version" example="7.1.2">%1$s</xliff:g></string>
    <plurals name="eta">
        <item quantity="one">1 minute left</item>
        <item quantity="other"><xliff:g id="count">%d</xliff:g> minutes left</item>
    </plurals>
    <string-array name="intervals">
        <item>Daily</item>
        <item>Weekly</item>
    </string-array>
    <bool name="config_show">true</bool>
</resources>
"""

# line numbers:    1: <resources>, 2 app_name, 3 battery, 4 speed, 5 cant, 6 progress, 7 header,
#                  8 <plurals>, 9 other, 10 </plurals>, 11 <string-array>, 12-13 items
CLEAN = """\
<resources xmlns:xliff="urn:oasis:names:tc:xliff:document:1.2">
    <string name="app_name">系统更新</string>
    <string name="battery">需要 <xliff:g id="percent">%1$d</xliff:g>%% 的电量，<b>现在</b></string>
    <string name="speed">%1$s，%2$s/秒</string>
    <string name="cant">无法安装此更新。\\n请重试。</string>
    <string name="progress">正在导入\\u2026</string>
    <string name="header">Android <xliff:g id="version" example="7.1.2">%1$s</xliff:g></string>
    <plurals name="eta">
        <item quantity="other">剩余 <xliff:g id="count">%d</xliff:g> 分钟</item>
    </plurals>
    <string-array name="intervals">
        <item>每天</item>
        <item>每周</item>
    </string-array>
</resources>
"""


def _write(tmp: Path, translation: str, qualifier: str = "zh-rCN", source: str = SOURCE) -> Path:
    (tmp / "res" / "values").mkdir(parents=True, exist_ok=True)
    (tmp / "res" / "values" / "strings.xml").write_text(source, encoding="utf-8")
    folder = tmp / "res" / f"values-{qualifier}"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "strings.xml").write_text(translation, encoding="utf-8")
    return folder / "strings.xml"


def _edit(old: str, new: str) -> str:
    assert CLEAN.count(old) == 1, old
    return CLEAN.replace(old, new)


def test_clean_translation_has_no_findings(tmp_path: Path) -> None:
    assert check_file(_write(tmp_path, CLEAN)) == []


# (rule, severity, line, broken translation, the text whose first character the column points at or None)
CASES = [
    ("invalid-xml", "error", 4, _edit("%2$s/秒</string>", "%2$s/秒</strin>"), None),
    ("missing", "warning", 1, _edit('    <string name="app_name">系统更新</string>\n', ""), None),
    ("obsolete", "warning", 2, _edit("系统更新</string>", '系统更新</string><string name="old_name">旧</string>'),
     '<string name="old_name"'),
    ("untranslatable", "error", 2, _edit("系统更新</string>", '系统更新</string><string name="download_path">/数据/'
                                                          '</string>'), '<string name="download_path"'),
    ("kind-mismatch", "error", 4, _edit('<string name="speed">%1$s，%2$s/秒</string>',
                                        '<plurals name="speed"><item quantity="other">%1$s</item></plurals>'),
     '<plurals'),
    ("format-count", "error", 4, _edit("%1$s，%2$s/秒", "%1$s/秒"), '<string'),
    ("format-type", "error", 4, _edit("%1$s，%2$s/秒", "%1$d，%2$s/秒"), '<string'),
    ("format-invalid", "error", 3, _edit("%1$d</xliff:g>%% 的电量", "%1$d</xliff:g>% 的电量"), '<string'),
    ("plural-other", "error", 8, _edit('<item quantity="other">剩余 <xliff:g id="count">%d</xliff:g> 分钟</item>',
                                       ""), '<plurals'),
    ("plural-quantity", "error", 9, _edit('<item quantity="other">剩余', '<item quantity="one">1 分钟</item>'
                                                                         '<item quantity="other">剩余'),
     '<item quantity="one"'),
    ("array-length", "error", 11, _edit("        <item>每周</item>\n", ""), '<string-array'),
    ("apostrophe", "error", 5, _edit("无法安装此更新", "无法安装'此更新"), "'"),
    ("quote", "warning", 5, _edit("无法安装此更新", '无法"安装"此更新'), '"安装'),
    ("escape", "error", 6, _edit("正在导入\\u2026", "正在导入\\u20"), "\\u20"),
    ("escape", "warning", 6, _edit("正在导入\\u2026", "正在导入\\q"), "\\q"),
    ("newline", "warning", 5, _edit("无法安装此更新。\\n请重试。", "无法安装此更新。请重试。"), '<string'),
    ("reference", "error", 2, _edit(">系统更新<", ">@系统更新<"), "@"),
    ("markup", "warning", 3, _edit("<b>现在</b>", "<i>现在</i>"), '<string'),
    ("xliff-id", "error", 7, _edit('<xliff:g id="version" example="7.1.2">', '<xliff:g id="ver">'), '<string'),
    ("xliff-content", "warning", 7, _edit('example="7.1.2">%1$s</xliff:g>', 'example="7.1.2">%1$s 版</xliff:g>'),
     '<string'),
    ("duplicate", "error", 2, _edit("系统更新</string>", '系统更新</string><string name="app_name">更新</string>'),
     '<string name="app_name">更新'),
    ("empty", "warning", 2, _edit(">系统更新<", "><"), '<string'),
    ("unknown-element", "error", 2, _edit("系统更新</string>", '系统更新</string><bool name="config_show">false</bool>'),
     "<bool"),
    ("missing-name", "error", 2, _edit("系统更新</string>", "系统更新</string><string>名字</string>"),
     "<string>名字"),
]


@pytest.mark.parametrize("rule,severity,line,text,anchor", CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_each_rule_reports_exact_line_and_rule(tmp_path: Path, rule: str, severity: str, line: int, text: str,
                                               anchor: str | None) -> None:
    findings = check_file(_write(tmp_path, text))
    assert [(f.rule, f.severity, f.line) for f in findings] == [(rule, severity, line)], findings
    finding = findings[0]
    assert finding.file.endswith("values-zh-rCN/strings.xml")
    if anchor is not None:
        source_line = text.splitlines()[line - 1]
        assert finding.column == source_line.index(anchor) + 1
    assert finding.message


def test_missing_quantity_uses_cldr_rules_for_russian(tmp_path: Path) -> None:
    ru = CLEAN.replace("系统更新", "Обновление")
    findings = check_file(_write(tmp_path, ru, qualifier="ru"))
    assert [(f.rule, f.line, f.name) for f in findings] == [("plural-missing-quantity", 8, "eta")]
    assert "'one', 'few', 'many'" in findings[0].message
    complete = ru.replace('<item quantity="other">', '<item quantity="one">%d минута</item><item quantity="few">'
                                                     '%d минуты</item><item quantity="many">%d минут</item>'
                                                     '<item quantity="other">')
    assert check_file(_write(tmp_path, complete, qualifier="ru")) == []


def test_not_resources_root(tmp_path: Path) -> None:
    text = CLEAN.replace("<resources ", "<strings ").replace("</resources>", "</strings>")
    findings = check_file(_write(tmp_path, text))
    assert findings[0].rule == "not-resources" and findings[0].line == 1


def test_one_quantity_is_valid_in_english(tmp_path: Path) -> None:
    en = CLEAN.replace('<item quantity="other">', '<item quantity="one">1 min</item><item quantity="other">')
    assert check_file(_write(tmp_path, en, qualifier="en-rGB")) == []


def test_format_arguments_follow_java_formatter() -> None:
    args = format_args("%s, %d%% and %<d then %n %.2f %tY")
    assert {i: k for i, (k, _) in args.args.items()} == {1: "s", 2: "d", 3: "f", 4: "t"}
    assert args.escaped_percent and not args.invalid
    assert {i: k for i, (k, _) in format_args("%2$d of %1$s").args.items()} == {1: "s", 2: "d"}
    assert format_args("50% 的").invalid == ("% ",)


@pytest.mark.realdata
def test_real_lineageos_translations(shared: Path) -> None:
    base = shared / "translations"
    updater = check_file(base / "Updater" / "values-zh-rCN" / "strings.xml")
    assert sorted(f.name for f in updater) == sorted([
        "local_update_import", "local_update_import_progress", "local_update_import_success",
        "local_update_import_failure", "local_update_import_install", "local_update_name"])
    assert {f.rule for f in updater} == {"missing"}
    for app in ("Jelly", "Recorder"):  # complete and correct upstream: nothing to report
        for qualifier in ("zh-rCN", "zh-rTW"):
            assert check_file(base / app / f"values-{qualifier}" / "strings.xml") == []
    stale = check_file(base / "Jelly-2ebfac25" / "values-zh-rCN" / "strings.xml")
    assert sorted(f.name for f in stale if f.rule == "obsolete") == ["menu_mobile_mode", "menu_reload"]
    assert len([f for f in stale if f.rule == "missing"]) == 9
    assert all(f.severity == "warning" for f in stale)


def test_cli_formats_and_exit_codes(tmp_path: Path, run) -> None:
    broken = _write(tmp_path, _edit("%1$s，%2$s/秒", "%1$d，%2$s/秒"))
    result = run("locale", "check", broken, "--format", "json", cwd=tmp_path)
    assert result.exit_code == 3
    data = json.loads(result.stdout)
    assert data == [{"file": "res/values-zh-rCN/strings.xml", "line": 4, "column": 5, "rule": "format-type",
                     "severity": "error", "name": "speed", "message": data[0]["message"], "damaged": False}]
    assert "argument 1 is text (%s) in the source but %1$d here" == data[0]["message"]
    result = run("locale", "check", broken, "--format", "github", cwd=tmp_path)
    assert result.exit_code == 3
    assert result.stdout.splitlines() == [
        "::error file=res/values-zh-rCN/strings.xml,line=4,col=5,title=format-type::argument 1 is text (%25s) in "
        "the source but %251$d here"]
    result = run("locale", "check", broken, cwd=tmp_path)
    assert result.exit_code == 3
    assert "res/values-zh-rCN/strings.xml:4:5: error: argument 1 is text (%s)" in result.stdout
    assert "1 error(s), 0 warning(s) in 1 file(s)" in result.stderr
    clean = _write(tmp_path, CLEAN)
    result = run("locale", "check", clean, "--format", "json", cwd=tmp_path)
    assert result.exit_code == 0 and json.loads(result.stdout) == []


def test_arsc_reader_matches_the_xml_reader_after_aapt2(tmp_path: Path) -> None:
    """Round trip: our XML reading of a source file == our arsc reading of what aapt2 compiled from it."""
    from romforge.locales.arsc import read_apk_strings
    from romforge.locales.resxml import read_values
    from romforge.rro import app_manifest, link_apk

    res = tmp_path / "res"
    (res / "values").mkdir(parents=True)
    (res / "values" / "strings.xml").write_text(SOURCE, encoding="utf-8")
    (res / "values-zh-rCN").mkdir()
    (res / "values-zh-rCN" / "strings.xml").write_text(CLEAN, encoding="utf-8")
    manifest = tmp_path / "AndroidManifest.xml"
    manifest.write_text(app_manifest("org.example.app", 1, "1.0", None))
    link_apk(manifest, res, tmp_path / "app.apk")
    compiled = read_apk_strings((tmp_path / "app.apk").read_bytes(), file="app.apk")
    assert compiled.package == "org.example.app"
    xml = read_values(SOURCE.encode(), file="strings.xml", translation=False)
    as_xml = {r.name: (r.kind, [(k, v.text) for k, v in r.values]) for r in xml.resources}
    as_arsc = {r.name: (r.kind, [(k, v.text) for k, v in r.values]) for r in compiled.values.resources}
    assert as_arsc == as_xml  # default configuration only: the zh-rCN values are not mixed in
    assert as_xml["cant"] == ("string", [("", "This update can't be installed.\nTry again.")])
    styled = {r.name: r.values[0][1].markup for r in compiled.values.resources}
    assert styled["battery"] == ("b",)

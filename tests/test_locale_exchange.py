"""PO and XLIFF export/import: byte-identical round trips, gettext and an independent reader agree."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import REPO, files_under
from romforge.locales.check import check_file

EXAMPLE_LOCALES = REPO / "examples" / "workspace" / "locales"

RICH_SOURCE = """<?xml version="1.0" encoding="utf-8"?>
<resources xmlns:xliff="urn:oasis:names:tc:xliff:document:1.2">
    <!-- Title of the main screen -->
    <string name="app_name">Clock</string>
    <string name="alarm_at">Alarm at <xliff:g id="time" example="7:00">%1$s</xliff:g></string>
    <string name="build_tag" translatable="false">clock-1</string>
    <string name="cant">Can\\'t set the alarm.\\nTry again.</string>
    <string name="label" product="tablet">Tablet clock</string>
    <string name="label">Phone clock</string>
    <string name="untouched">Not translated yet</string>
    <plurals name="alarms">
        <item quantity="one"><xliff:g id="count">%d</xliff:g> alarm</item>
        <item quantity="other"><xliff:g id="count">%d</xliff:g> alarms</item>
    </plurals>
    <string-array name="repeat">
        <item>Never</item>
        <item>Daily</item>
        <item>Weekdays</item>
    </string-array>
</resources>
"""
RICH_RU = """<?xml version="1.0" encoding="utf-8"?>
<!--
     Copyright (C) 2026 The Example Project
-->
<resources xmlns:xliff="urn:oasis:names:tc:xliff:document:1.2">
    <!-- Заголовок -->
    <!--without spaces-->
    <string name="app_name">Часы</string>
    <string name="alarm_at">Будильник на <xliff:g id="time" example="7:00">%1$s</xliff:g></string>
    <string name="cant" formatted="true">Не удаётся установить будильник.\\nПопробуйте ещё раз &amp; снова.</string>
    <string name="label" product="tablet">Часы планшета</string>
    <string name="label">Часы телефона</string>
    <plurals name="alarms">
        <item quantity="one"><xliff:g id="count">%d</xliff:g> будильник</item>
        <item quantity="few"><xliff:g id="count">%d</xliff:g> будильника</item>
        <item quantity="many"><xliff:g id="count">%d</xliff:g> будильников</item>
        <item quantity="other"><xliff:g id="count">%d</xliff:g> будильника</item>
    </plurals>
    <string-array name="repeat">
        <item>Никогда</item>
        <!-- каждый день -->
        <item>Ежедневно</item>
        <item>По будням</item>
    </string-array>
    <string name="old_label">Старое</string>
    <!-- the end -->
</resources>
"""


@pytest.fixture
def rich_pack(tmp_path: Path) -> tuple[Path, Path]:
    source = tmp_path / "source" / "com.example.clock" / "values"
    source.mkdir(parents=True)
    (source / "strings.xml").write_text(RICH_SOURCE, encoding="utf-8")
    pack = tmp_path / "ru-RU"
    (pack / "res" / "com.example.clock" / "values-ru-rRU").mkdir(parents=True)
    (pack / "res" / "com.example.clock" / "values-ru-rRU" / "strings.xml").write_text(RICH_RU, encoding="utf-8")
    (pack / "pack.toml").write_text('locale = "ru-RU"\nversion = "3"\nmaintainers = ["Анна"]\n'
                                    'targets = ["com.example.clock"]\n', encoding="utf-8")
    return pack, tmp_path / "source"


def _round_trip(run, pack: Path, fmt: str, cwd: Path, *extra: str) -> tuple[Path, Path]:
    out, back = cwd / f"out-{fmt}", cwd / f"back-{fmt}"
    result = run("locale", "export", pack, "--format", fmt, "-o", out, *extra, cwd=cwd)
    assert result.exit_code == 0, result.output
    result = run("locale", "import", out, "--format", fmt, "-o", back, *extra, cwd=cwd)
    assert result.exit_code == 0, result.output
    return out, back


def _msgfmt(path: Path) -> None:
    proc = subprocess.run(["msgfmt", "--check", "--statistics", "-o", "/dev/null", str(path)],
                          capture_output=True, text=True, env={"LC_ALL": "C", "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("fmt", ["po", "xliff"])
def test_example_packs_round_trip_byte_identical(run, workspace: Path, fmt: str) -> None:
    shutil.copytree(EXAMPLE_LOCALES, workspace / "locales")
    for locale in ("zh-Hans-CN", "ru-RU"):
        pack = workspace / "locales" / locale
        out, back = _round_trip(run, pack, fmt, workspace)
        assert files_under(back) == files_under(pack)
        for rel in files_under(pack):
            if (pack / rel).is_file():
                assert (back / rel).read_bytes() == (pack / rel).read_bytes(), rel
        exchange = sorted(out.rglob("*.po" if fmt == "po" else "*.xlf"))
        assert len(exchange) == len(list(pack.glob("res/*/*/*.xml")))
        for path in exchange if fmt == "po" else []:
            _msgfmt(path)
        shutil.rmtree(out)
        shutil.rmtree(back)


@pytest.mark.parametrize("fmt", ["po", "xliff"])
def test_rich_file_round_trips_without_loss(run, rich_pack: tuple[Path, Path], tmp_path: Path, fmt: str) -> None:
    pack, source = rich_pack
    out, back = _round_trip(run, pack, fmt, tmp_path, "--source", source)
    rel = Path("res/com.example.clock/values-ru-rRU/strings.xml")
    assert (back / rel).read_text(encoding="utf-8") == RICH_RU
    assert (back / "pack.toml").read_bytes() == (pack / "pack.toml").read_bytes()
    if fmt == "po":
        _msgfmt(out / "com.example.clock" / "strings.po")


def test_po_entries_as_gettext_and_translate_toolkit_read_them(run, rich_pack: tuple[Path, Path],
                                                                tmp_path: Path) -> None:
    from translate.storage import pypo

    pack, source = rich_pack
    assert run("locale", "export", pack, "--format", "po", "-o", "out", "--source", source,
               cwd=tmp_path).exit_code == 0
    po = tmp_path / "out" / "com.example.clock" / "strings.po"
    store = pypo.pofile(po.read_bytes())
    units = {u.getcontext(): u for u in store.units if not u.isheader()}
    assert units["app_name"].source == "Clock" and units["app_name"].target == "Часы"
    assert units["alarm_at"].target == 'Будильник на <xliff:g id="time" example="7:00">%1$s</xliff:g>'
    assert units["cant"].target == "Не удаётся установить будильник.\\nПопробуйте ещё раз &amp; снова."
    assert units["label@tablet"].target == "Часы планшета"
    assert units["untouched"].target == "" and not units["untouched"].istranslated()
    assert "build_tag" not in units  # translatable="false" in the source: nothing to translate
    plural = units["alarms"]
    assert plural.hasplural() and len(plural.target.strings) == 4  # CLDR ru: one, few, many, other
    assert plural.target.strings[1] == '<xliff:g id="count">%d</xliff:g> будильника'
    assert [units[f"repeat[{i}]"].target for i in range(3)] == ["Никогда", "Ежедневно", "По будням"]
    assert "Заголовок" in units["app_name"].getnotes("translator")
    assert units["old_label"].isobsolete()
    header = store.parseheader()
    assert header["Language"] == "ru_RU" and header["Plural-Forms"].startswith("nplurals=4;")
    # gettext's own reader: every entry counted, none fuzzy
    stats = subprocess.run(["msgfmt", "--statistics", "-o", "/dev/null", str(po)], capture_output=True, text=True,
                           env={"LC_ALL": "C", "PATH": "/usr/bin:/bin"}).stderr
    assert "9 translated messages, 1 untranslated message" in stats  # 5 strings, 1 plurals, 3 items; #~ not counted


def test_xliff_as_translate_toolkit_reads_it(run, rich_pack: tuple[Path, Path], tmp_path: Path) -> None:
    from translate.storage import xliff

    pack, source = rich_pack
    assert run("locale", "export", pack, "--format", "xliff", "-o", "out", "--source", source,
               cwd=tmp_path).exit_code == 0
    store = xliff.xlifffile((tmp_path / "out" / "com.example.clock" / "strings.xlf").read_bytes())
    assert store.gettargetlanguage() == "ru-RU"
    units = {u.getid().split("\x04")[-1]: u for u in store.units}
    assert {u.getid().split("\x04")[0] for u in store.units} == {"res/com.example.clock/values-ru-rRU/strings.xml"}
    assert units["app_name"].source == "Clock" and units["app_name"].target == "Часы"
    assert units["alarms[few]"].target == '<xliff:g id="count">%d</xliff:g> будильника'
    assert units["cant"].target == "Не удаётся установить будильник.\\nПопробуйте ещё раз &amp; снова."
    assert [units[f"repeat[{i}]"].target for i in range(3)] == ["Никогда", "Ежедневно", "По будням"]
    assert units["untouched"].source == "Not translated yet" and not units["untouched"].target
    assert "Заголовок" in units["app_name"].getnotes("translator")


def test_edited_po_comes_back_checked_with_po_lines(run, rich_pack: tuple[Path, Path], tmp_path: Path) -> None:
    pack, source = rich_pack
    assert run("locale", "export", pack, "--format", "po", "-o", "out", "--source", source,
               cwd=tmp_path).exit_code == 0
    po = tmp_path / "out" / "com.example.clock" / "strings.po"
    text = po.read_text(encoding="utf-8")
    text = text.replace('msgid "Not translated yet"\nmsgstr ""', 'msgid "Not translated yet"\nmsgstr "Ещё нет"')
    po.write_text(text, encoding="utf-8")
    result = run("locale", "import", "out", "--format", "po", "-o", pack, "--source", source, cwd=tmp_path)
    assert result.exit_code == 0, result.output
    assert "Ещё нет" in (pack / "res/com.example.clock/values-ru-rRU/strings.xml").read_text(encoding="utf-8")
    assert check_file(pack / "res/com.example.clock/values-ru-rRU/strings.xml",
                      source / "com.example.clock/values/strings.xml") != []  # old_label is still obsolete
    # a translation that breaks a format argument: the check stops the import, at the PO line
    snapshot = {rel: (pack / rel).read_bytes() for rel in files_under(pack) if (pack / rel).is_file()}
    broken = text.replace('msgstr "Часы телефона"', 'msgstr "Часы %1$d телефона"')
    po.write_text(broken, encoding="utf-8")
    result = run("locale", "import", "out", "--format", "po", "-o", pack, "--source", source, cwd=tmp_path)
    assert result.exit_code == 3
    line = broken[:broken.index('msgstr "Часы %1$d телефона"')].count("\n") + 1
    assert f"out/com.example.clock/strings.po:{line}: error:" in result.output
    assert {rel: (pack / rel).read_bytes() for rel in files_under(pack) if (pack / rel).is_file()} == snapshot
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_export_is_reproducible(run, rich_pack: tuple[Path, Path], tmp_path: Path) -> None:
    pack, source = rich_pack
    for fmt in ("po", "xliff"):
        for name in ("a", "b"):
            assert run("locale", "export", pack, "--format", fmt, "-o", f"{name}-{fmt}", "--source", source,
                       cwd=tmp_path).exit_code == 0
        for rel in files_under(tmp_path / f"a-{fmt}"):
            if (tmp_path / f"a-{fmt}" / rel).is_file():
                assert (tmp_path / f"a-{fmt}" / rel).read_bytes() == (tmp_path / f"b-{fmt}" / rel).read_bytes()


@pytest.mark.realdata
@pytest.mark.parametrize("fmt", ["po", "xliff"])
def test_real_lineageos_translations_round_trip(run, shared: Path, tmp_path: Path, fmt: str) -> None:
    real = shared / "translations"
    (tmp_path / "source" / "org.lineageos.updater").mkdir(parents=True)
    shutil.copytree(real / "Updater" / "values", tmp_path / "source" / "org.lineageos.updater" / "values")
    pack = tmp_path / "zh-Hant-TW"
    (pack / "res" / "org.lineageos.updater").mkdir(parents=True)
    shutil.copytree(real / "Updater" / "values-zh-rTW", pack / "res" / "org.lineageos.updater" / "values-zh-rTW")
    (pack / "pack.toml").write_text('locale = "zh-Hant-TW"\nversion = "1"\nmaintainers = ["x"]\n'
                                    'targets = ["org.lineageos.updater"]\n')
    out, back = _round_trip(run, pack, fmt, tmp_path, "--source", tmp_path / "source")
    rel = Path("res/org.lineageos.updater/values-zh-rTW/strings.xml")
    assert (back / rel).read_bytes() == (real / "Updater" / "values-zh-rTW" / "strings.xml").read_bytes()


# ---- bad input: one message naming the file and line, exit 1, nothing written -----

def _po_edit(old: str, new: str):
    def edit(text: str) -> str:
        assert old in text, old
        return text.replace(old, new, 1)
    return edit


MSGSTR3 = 'msgstr[3] "<xliff:g id=\\"count\\">%d</xliff:g> будильника"\n'
BAD_PO = {
    "unknown-language": (_po_edit('"Language: ru_RU\\n"', '"Language: qq_ZZ\\n"'), '"Language:', "unknown language"),
    "other-language": (_po_edit('"Language: ru_RU\\n"', '"Language: uk_UA\\n"'), '"Language:', "the pack for ru-RU"),
    # a consistent file for 3 forms, but CLDR's Russian has 4 (one, few, many, other)
    "plural-count": (lambda t: _po_edit("nplurals=4;", "nplurals=3;")(_po_edit(MSGSTR3, "")(t)), '"Plural-Forms:',
                     "nplurals=3, but ru-RU has 4"),
    # an entry with fewer forms than its own header: gettext's message, naming both lines
    "msgstr-count": (_po_edit(MSGSTR3, ""), 'msgstr ""', "but some messages have only 3 plural forms"),
    "entity": (_po_edit('msgstr "Часы"', 'msgstr "&xxe;Часы"'), 'msgstr "&xxe;', "xxe"),
    "doctype": (_po_edit('msgstr "Часы"', 'msgstr "<!DOCTYPE x [<!ENTITY a \\"b\\">]>"'), 'msgstr "<!DOCTYPE',
                "DOCTYPE"),
    "injection": (_po_edit('msgstr "Часы"', 'msgstr "</x><string name=\\"evil\\">x</string><x>"'),
                  'msgstr "</x>', "closes the element"),
    "syntax": (_po_edit('msgstr "Часы"', 'msgstr "Часы'), '\nmsgctxt "alarm_at"', "msgfmt: end-of-line"),
    "duplicate": (_po_edit('msgctxt "alarm_at"', 'msgctxt "app_name"'), 'msgid "Alarm at', "appears twice"),
    "attribute-prefix": (_po_edit('[["formatted", "true"]]', '[["evil:x", "1"]]'), 'msgid "Can', "attributes of"),
    "attribute-xmlns": (_po_edit('[["formatted", "true"]]', '[["xmlns:e", "urn:x"]]'), 'msgid "Can',
                        "not an attribute"),
}


def _line(text: str, needle: str) -> int:
    return text[:text.index(needle)].count("\n") + 1


def _exported_and_edited(run, rich_pack: tuple[Path, Path], tmp_path: Path, fmt: str, edit) -> str:
    """Export the rich pack to tmp_path/out, apply `edit` to its one exchange file; the edited text."""
    pack, source = rich_pack
    assert run("locale", "export", pack, "--format", fmt, "-o", "out", "--source", source,
               cwd=tmp_path).exit_code == 0
    path = tmp_path / "out" / "com.example.clock" / ("strings.po" if fmt == "po" else "strings.xlf")
    text = edit(path.read_text(encoding="utf-8"))
    path.write_text(text, encoding="utf-8")
    return text


@pytest.mark.parametrize("case", sorted(BAD_PO))
def test_bad_po_is_one_message_and_writes_nothing(case: str, run, rich_pack: tuple[Path, Path],
                                                   tmp_path: Path) -> None:
    pack, source = rich_pack
    edit, anchor, words = BAD_PO[case]
    text = _exported_and_edited(run, rich_pack, tmp_path, "po", edit)
    before = {rel: (pack / rel).read_bytes() for rel in files_under(pack) if (pack / rel).is_file()}
    result = run("locale", "import", "out", "--format", "po", "-o", pack, "--source", source, cwd=tmp_path)
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith(f"romforge: error: out/com.example.clock/strings.po:{_line(text, anchor)}:"), lines
    assert words in result.stderr and "Traceback" not in result.output
    assert {rel: (pack / rel).read_bytes() for rel in files_under(pack) if (pack / rel).is_file()} == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    fresh = run("locale", "import", "out", "--format", "po", "-o", "new-pack", "--source", source, cwd=tmp_path)
    assert fresh.exit_code == 1 and not (tmp_path / "new-pack").exists()


BAD_XLIFF = {
    "doctype": (_po_edit("<xliff ", '<!DOCTYPE xliff [<!ENTITY a "b">]>\n<xliff '), "<!DOCTYPE", "DOCTYPE"),
    "unknown-language": (_po_edit('target-language="ru-RU"', 'target-language="qq-ZZ"'), "<file ",
                         "unknown language"),
    "plural-count": (_po_edit('<trans-unit id="alarms[many]"', '<trans-unit id="alarms[two]"'), '<group id="alarms"',
                     "the locale has 4"),
    "entity": (_po_edit('<target state="translated">Часы</target>', '<target state="translated">&amp;xxe;Часы'
                                                                     '</target>'), '&amp;xxe;', "xxe"),
    "inline-elements": (_po_edit('<target state="translated">Часы</target>', '<target state="translated">'
                                 '<g id="1">Часы</g></target>'), '<g id="1">', "inline XLIFF"),
}


@pytest.mark.parametrize("case", sorted(BAD_XLIFF))
def test_bad_xliff_is_one_message_and_writes_nothing(case: str, run, rich_pack: tuple[Path, Path],
                                                      tmp_path: Path) -> None:
    source = rich_pack[1]
    edit, anchor, words = BAD_XLIFF[case]
    text = _exported_and_edited(run, rich_pack, tmp_path, "xliff", edit)
    result = run("locale", "import", "out", "--format", "xliff", "-o", "new-pack", "--source", source, cwd=tmp_path)
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith(f"romforge: error: out/com.example.clock/strings.xlf:{_line(text, anchor)}:")
    assert words in result.stderr
    assert not (tmp_path / "new-pack").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def _zipped_export(run, rich_pack: tuple[Path, Path], tmp_path: Path, fmt: str, *, folder: bool,
                   extra: dict[str, bytes] | None = None) -> Path:
    """tmp_path/pack.zip of an export of the rich pack: its files at the top, or inside out/."""
    import zipfile

    pack, source = rich_pack
    assert run("locale", "export", pack, "--format", fmt, "-o", "out", "--source", source,
               cwd=tmp_path).exit_code == 0
    base = tmp_path if folder else tmp_path / "out"
    with zipfile.ZipFile(tmp_path / "pack.zip", "w") as zf:
        for path in sorted((tmp_path / "out").rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(base).as_posix())
        for name, data in (extra or {}).items():
            zf.writestr(name, data)
    return tmp_path / "pack.zip"


@pytest.mark.parametrize("member", ["../evil.po", "/abs/strings.po", "com.example.clock/../../x.po"])
def test_hostile_zip_is_refused(member: str, run, rich_pack: tuple[Path, Path], tmp_path: Path) -> None:
    source = rich_pack[1]
    _zipped_export(run, rich_pack, tmp_path, "po", folder=False, extra={member: b'msgid ""\nmsgstr ""\n'})
    result = run("locale", "import", "pack.zip", "--format", "po", "-o", "new-pack", "--source", source,
                 cwd=tmp_path)
    assert result.exit_code == 1
    assert result.stderr.startswith("romforge: error: pack.zip: unsafe archive entry")
    assert not (tmp_path / "new-pack").exists() and not (tmp_path / "escaped").exists()


def test_import_from_a_zip_of_an_export(run, rich_pack: tuple[Path, Path], tmp_path: Path) -> None:
    pack, source = rich_pack
    _zipped_export(run, rich_pack, tmp_path, "xliff", folder=True)
    result = run("locale", "import", "pack.zip", "--format", "xliff", "-o", "new", "--source", source, cwd=tmp_path)
    assert result.exit_code == 0, result.output
    rel = "res/com.example.clock/values-ru-rRU/strings.xml"
    assert (tmp_path / "new" / rel).read_bytes() == (pack / rel).read_bytes()


def test_export_and_import_refuse_damaged_files_and_other_folders(run, rich_pack: tuple[Path, Path],
                                                                  tmp_path: Path) -> None:
    pack, source = rich_pack
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    result = run("locale", "export", pack, "--format", "po", "-o", "full", "--source", source, cwd=tmp_path)
    assert result.exit_code == 1 and "not an empty folder" in result.stderr
    assert [p.name for p in (tmp_path / "full").iterdir()] == ["keep.txt"]
    assert run("locale", "export", pack, "--format", "po", "-o", "out", "--source", source,
               cwd=tmp_path).exit_code == 0
    result = run("locale", "import", "out", "--format", "po", "-o", "full", "--source", source, cwd=tmp_path)
    assert result.exit_code == 1 and "is not a locale pack" in result.stderr  # never replaces other folders
    assert [p.name for p in (tmp_path / "full").iterdir()] == ["keep.txt"]
    shutil.rmtree(tmp_path / "out")
    xml = pack / "res/com.example.clock/values-ru-rRU/strings.xml"
    xml.write_text(RICH_RU.replace("Часы телефона</string>", "Часы телефона</strin>"), encoding="utf-8")
    result = run("locale", "export", pack, "--format", "po", "-o", "out", "--source", source, cwd=tmp_path)
    assert result.exit_code == 1
    assert result.stderr.startswith("romforge: error: ru-RU/res/com.example.clock/values-ru-rRU/strings.xml:12:")
    assert not (tmp_path / "out").exists()

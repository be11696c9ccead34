"""Locale packs: layout, BCP 47 ↔ qualifier, shipping as RROs in the build, hostile packs."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import zipfile
from pathlib import Path

import pytest

from conftest import REPO, files_under
from romforge.errors import InputError
from romforge.locales.keypad import Keypad
from romforge.locales.pack import LocaleTag, load_pack, open_pack, tag_from_qualifier
from romforge.props import BuildProp

EXAMPLE_LOCALES = REPO / "examples" / "workspace" / "locales"
DATE = "2026-11-27"


@pytest.fixture
def pack_workspace(workspace: Path) -> Path:
    shutil.copytree(EXAMPLE_LOCALES, workspace / "locales")
    return workspace


@pytest.mark.parametrize("tag,qualifiers", [
    ("zh-Hans-CN", ("zh-rCN", "b+zh+Hans+CN")),
    ("zh-Hant-TW", ("zh-rTW", "b+zh+Hant+TW")),
    ("zh-Hant-CN", ("b+zh+Hant+CN",)),  # not the likely script for China: the legacy form would lose it
    ("ru-RU", ("ru-rRU", "b+ru+RU")),
    ("es-419", ("b+es+419",)),
    ("sr-Latn", ("b+sr+Latn",)),
    ("el", ("el", "b+el")),
])
def test_bcp47_to_android_qualifier(tag: str, qualifiers: tuple[str, ...]) -> None:
    parsed = LocaleTag.parse(tag)
    assert parsed.qualifiers() == qualifiers
    assert str(parsed) == tag
    back = tag_from_qualifier(qualifiers[-1])
    assert back == parsed


def test_example_packs_load_with_their_keypads() -> None:
    zh = load_pack(EXAMPLE_LOCALES / "zh-Hans-CN")
    assert zh.qualifier == "zh-rCN" and zh.version and zh.findings == [] and zh.keypad is None
    assert len(zh.files) == len(zh.targets) == 7
    ru = load_pack(EXAMPLE_LOCALES / "ru-RU")
    assert ru.keypad is not None
    assert ru.keypad.encode("Петров") == "536652" and ru.keypad.encode("Jack") == "5225"
    assert Keypad.standard().encode("Петров") is None


def test_example_packs_pass_the_check_against_the_base_rom(run, pack_workspace: Path) -> None:
    for locale in ("zh-Hans-CN", "ru-RU"):
        result = run("locale", "check", f"locales/{locale}", "--format", "json", cwd=pack_workspace)
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout) == []


def test_pack_layout_problems_are_findings(run, pack_workspace: Path) -> None:
    pack = pack_workspace / "locales" / "zh-Hans-CN"
    (pack / "res" / "com.android.dialer" / "values-zh-rTW").mkdir()
    (pack / "res" / "com.android.dialer" / "values-zh-rTW" / "strings.xml").write_text("<resources/>")
    result = run("locale", "check", "locales/zh-Hans-CN", "--format", "json", cwd=pack_workspace)
    assert result.exit_code == 3
    findings = json.loads(result.stdout)
    assert [(f["file"], f["rule"]) for f in findings] == [
        ("locales/zh-Hans-CN/res/com.android.dialer/values-zh-rTW/strings.xml", "pack-layout")]
    assert "values-zh-rCN" in findings[0]["message"]


def test_pack_toml_errors_name_file_and_line(run, pack_workspace: Path) -> None:
    toml = pack_workspace / "locales" / "zh-Hans-CN" / "pack.toml"
    toml.write_text(toml.read_text().replace('qualifier = "zh-rCN"', 'qualifier = "zh-rTW"'))
    result = run("locale", "check", "locales/zh-Hans-CN", cwd=pack_workspace)
    assert result.exit_code == 1
    assert result.stderr.startswith("romforge: error: locales/zh-Hans-CN/pack.toml:3: 'qualifier' 'zh-rTW'")


def _dump(apk: Path, what: str) -> str:
    args = ["aapt2", "dump", what] + (["--file", "AndroidManifest.xml"] if what == "xmltree" else []) + [str(apk)]
    return subprocess.run(args, capture_output=True, text=True, check=True).stdout


def test_build_ships_each_pack_as_static_rros_aapt2_accepts(run, pack_workspace: Path, tmp_path: Path) -> None:
    result = run("build", "cepheus", "--version", "1.0", "--date", DATE, cwd=pack_workspace)
    assert result.exit_code == 0, result.output
    release = pack_workspace / "releases" / "cepheus" / "1.0"
    out = tmp_path / "unzipped"
    with zipfile.ZipFile(release / "target-files.zip") as zf:
        overlays = sorted(n for n in zf.namelist() if n.startswith("PRODUCT/overlay/") and n.endswith(".apk"))
        zf.extractall(out, members=overlays + ["PRODUCT/etc/build.prop"])
    assert len([n for n in overlays if "/romforge-locale-" in n]) == 7 + 3
    assert len(overlays) == 7 + 3 + 2  # and the two feature overlays' RROs
    dialer = out / "PRODUCT/overlay/romforge-locale-zh-Hans-CN-com.android.dialer.apk"
    resources = _dump(dialer, "resources")
    assert "Package name=com.android.dialer.locale.zh_hans_cn" in resources
    assert '(zh-rCN) "电话"' in resources and '(zh-rCN) "已接听"' in resources
    assert '(zh-rCN) "响铃 %1$s 后接听"' in resources  # a string the call-answer-time overlay adds
    assert "()" not in resources  # only the translated configuration, never a default value
    manifest = _dump(dialer, "xmltree")
    assert 'targetPackage(0x01010021)="com.android.dialer"' in manifest and "isStatic(0x0101055a)=true" in manifest
    ru = _dump(out / "PRODUCT/overlay/romforge-locale-ru-RU-com.android.contacts.apk", "resources")
    assert '(ru-rRU) "Контакты"' in ru
    verify = subprocess.run(["apksigner", "verify", str(dialer)], capture_output=True, text=True)
    assert verify.returncode == 0, verify.stderr
    prop = BuildProp.parse((out / "PRODUCT/etc/build.prop").read_bytes())
    assert prop.get("ro.product.locale") == "en-US"
    assert prop.get("ro.romforge.locales") == "en-US,zh-Hans-CN,ru-RU"
    info = json.loads((release / "build-info.json").read_text())
    packs = info["inputs"]["locale_packs"]
    assert {k: v["version"] for k, v in packs.items()} == {"zh-Hans-CN": "2026.11.1", "ru-RU": "2026.11.1"}
    assert packs["zh-Hans-CN"]["sha256"] == load_pack(EXAMPLE_LOCALES / "zh-Hans-CN").sha256


def test_builds_with_packs_are_byte_identical(pack_workspace: Path, tmp_path: Path) -> None:
    from romforge.build import BuildRequest, build
    from romforge.workspace import load_workspace

    ws = load_workspace(pack_workspace)
    outputs = []
    for store in ("a", "b"):
        result = build(ws, BuildRequest("alioth", "1.0", DATE, out=tmp_path / store))
        with zipfile.ZipFile(result.target_files) as zf:
            assert "PRODUCT/overlay/romforge-locale-zh-Hans-CN-com.android.dialer.apk" in zf.namelist()
        outputs.append([result.target_files.read_bytes(), (result.release / "build-info.json").read_bytes()])
    assert outputs[0] == outputs[1]


def test_pack_with_errors_fails_the_build_with_the_same_findings(run, pack_workspace: Path) -> None:
    strings = pack_workspace / "locales/zh-Hans-CN/res/com.android.dialer/values-zh-rCN/strings.xml"
    strings.write_text(strings.read_text().replace(">电话<", ">@电话<").replace("已接听", "已接'听"))
    check = run("locale", "check", "locales/zh-Hans-CN", cwd=pack_workspace)
    assert check.exit_code == 3
    expected = [line for line in check.stdout.splitlines() if line]
    assert len(expected) == 2
    assert expected[0].startswith("locales/zh-Hans-CN/res/com.android.dialer/values-zh-rCN/strings.xml:3:29: "
                                  "error:") and expected[0].endswith("[reference]")
    result = run("build", "cepheus", "--version", "1.0", "--date", DATE, cwd=pack_workspace)
    assert result.exit_code == 3
    for line in expected:
        assert line in result.stderr
    assert "locale pack zh-Hans-CN: 2 error(s)" in result.stderr
    assert files_under(pack_workspace / "releases" / "cepheus") == []


# ---- hostile packs ------------------------------------------------------------------


def _zip(path: Path, members: dict[str, bytes], symlinks: dict[str, str] | None = None) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
        for name, target in (symlinks or {}).items():
            info = zipfile.ZipInfo(name)
            info.create_system = 3
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, target)
    return path


def _good_members() -> dict[str, bytes]:
    root = EXAMPLE_LOCALES / "zh-Hans-CN"
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


BILLION_LAUGHS = (b'<?xml version="1.0"?>\n<!DOCTYPE lolz [\n <!ENTITY lol "lol">\n'
                  b' <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">\n'
                  b' <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">\n]>\n'
                  b'<resources><string name="app_name">&lol3;</string></resources>\n')
DIALER = "res/com.android.dialer/values-zh-rCN/strings.xml"


def _hostile_zip_slip(tmp: Path) -> Path:
    return _zip(tmp / "pack.zip", {**_good_members(), "../../evil.xml": b"<resources/>"})


def _hostile_zip_symlink(tmp: Path) -> Path:
    return _zip(tmp / "pack.zip", _good_members(), {"res/com.android.dialer/values-zh-rCN/link.xml": "/etc/passwd"})


def _hostile_zip_billion_laughs(tmp: Path) -> Path:
    return _zip(tmp / "pack.zip", {**_good_members(), DIALER: BILLION_LAUGHS})


def _hostile_zip_100mb(tmp: Path) -> Path:
    return _zip(tmp / "pack.zip", {**_good_members(), DIALER: b"<resources>" + b" " * (100 << 20)})


def _hostile_dir_symlink(tmp: Path) -> Path:
    pack = shutil.copytree(EXAMPLE_LOCALES / "zh-Hans-CN", tmp / "pack")
    target = pack / DIALER
    target.unlink()
    target.symlink_to("/etc/passwd")
    return pack


def _hostile_dir_billion_laughs(tmp: Path) -> Path:
    pack = shutil.copytree(EXAMPLE_LOCALES / "zh-Hans-CN", tmp / "pack")
    (pack / DIALER).write_bytes(BILLION_LAUGHS)
    return pack


def _hostile_dir_100mb(tmp: Path) -> Path:
    pack = shutil.copytree(EXAMPLE_LOCALES / "zh-Hans-CN", tmp / "pack")
    with open(pack / DIALER, "r+b") as f:
        f.truncate(100 << 20)  # sparse: 100 MB to every reader, no disk used
    return pack


HOSTILE = {
    "zip-slip": (_hostile_zip_slip, "climbs out with '..'"),
    "zip-symlink": (_hostile_zip_symlink, "is a symlink"),
    "zip-billion-laughs": (_hostile_zip_billion_laughs, "<!DOCTYPE> is not allowed"),
    "zip-100mb-file": (_hostile_zip_100mb, "over the 8388608-byte limit"),
    "dir-symlink": (_hostile_dir_symlink, "is a symlink"),
    "dir-billion-laughs": (_hostile_dir_billion_laughs, "<!DOCTYPE> is not allowed"),
    "dir-100mb-file": (_hostile_dir_100mb, "over the 8388608-byte limit"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_pack_is_a_clean_error_and_writes_nothing(case: str, run, workspace: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    make, words = HOSTILE[case]
    inputs = tmp_path / "in"
    inputs.mkdir()
    target = make(inputs)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))
    import tempfile
    monkeypatch.setattr(tempfile, "tempdir", None)
    before = files_under(tmp_path)
    result = run("locale", "check", target, "--workspace", workspace, cwd=tmp_path)
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith("romforge: error: ") and words in lines[0], result.stderr
    assert "Traceback" not in result.output
    assert files_under(tmp_path) == before  # nothing outside the temporary folder, which is gone too
    assert not (tmp_path.parent / "evil.xml").exists()


def test_hostile_pack_in_a_workspace_fails_the_build_cleanly(run, pack_workspace: Path) -> None:
    (pack_workspace / "locales/zh-Hans-CN" / DIALER).write_bytes(BILLION_LAUGHS)
    result = run("build", "cepheus", "--version", "1.0", "--date", DATE, cwd=pack_workspace)
    assert result.exit_code == 1
    assert f"locales/zh-Hans-CN/{DIALER}:2: <!DOCTYPE> is not allowed" in result.stderr
    assert not (pack_workspace / "releases" / "cepheus").exists() or \
        files_under(pack_workspace / "releases" / "cepheus") == []


def test_open_pack_cleans_its_temporary_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import tempfile
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "scratch"))
    os.makedirs(tmp_path / "scratch")
    archive = _zip(tmp_path / "ok.zip", _good_members())
    with open_pack(archive) as pack:
        assert pack.locale == "zh-Hans-CN" and len(pack.files) == 7
        assert pack.files[0].shown.startswith(f"{archive}!/")
    assert os.listdir(tmp_path / "scratch") == []
    with pytest.raises(InputError):
        with open_pack(_hostile_zip_slip(tmp_path)):
            pass
    assert os.listdir(tmp_path / "scratch") == []


def test_strings_added_by_feature_overlays_are_source_strings(run, pack_workspace: Path, tmp_path: Path) -> None:
    """call-answer-time adds call_log_answer_time to the Dialer; the packs translate it."""
    checked = run("locale", "check", "locales/zh-Hans-CN", "--format", "json", cwd=pack_workspace)
    assert json.loads(checked.stdout) == []
    shutil.rmtree(pack_workspace / "overlays" / "call-answer-time")
    (pack_workspace / "overlays" / "call-answer-time").mkdir()
    without = run("locale", "check", "locales/zh-Hans-CN", "--format", "json", cwd=pack_workspace)
    findings = json.loads(without.stdout)
    assert [(f["rule"], f["name"], f["severity"]) for f in findings] == [
        ("obsolete", "call_log_answer_time", "warning")]
    assert findings[0]["file"].endswith("com.android.dialer/values-zh-rCN/strings.xml")

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from romforge.errors import ConfigError, ProfileError
from romforge.profile import DEFAULT_PROFILE_DIR, device_names, list_profiles, load_profile
from romforge.tomlfile import load_toml

DEVICE = """\
inherits = "mid"
codename = "leaf"
model = "Leaf Phone"

[screen]
width = 1080
height = 2400
density = 440
"""
MID = """\
abstract = true
inherits = "root"
abis = ["arm64-v8a"]
page_size = 16384
"""
ROOT = """\
abstract = true
brand = "Acme"
locales = ["en-US"]
abis = ["armeabi-v7a"]
page_size = 4096

[partitions]
system = "erofs"
vendor = "ext4"
"""


def write(d: Path, **files: str) -> Path:
    d.mkdir(exist_ok=True)
    for name, text in files.items():
        (d / f"{name}.toml").write_text(text)
    return d


def test_multi_level_inherits_child_wins_and_tables_merge(tmp_path: Path) -> None:
    d = write(tmp_path / "p", leaf=DEVICE + '\n[partitions]\nvendor = "erofs"\n', mid=MID, root=ROOT)
    p = load_profile("leaf", [d])
    assert p.chain == ("leaf", "mid", "root")
    assert p.abis == ("arm64-v8a",)  # mid overrides root
    assert p.page_size == 16384
    assert p.brand == "Acme" and p.manufacturer == "Acme" and p.name == "leaf"
    assert p.partitions == {"system": "erofs", "vendor": "erofs"}  # merged key by key
    assert p.origin["partitions.system"].endswith("root.toml")
    assert p.origin["partitions.vendor"].endswith("leaf.toml")
    assert p.screen.width == 1080 and p.is_64bit


def test_workspace_profiles_shadow_bundled_ones(tmp_path: Path) -> None:
    d = write(tmp_path / "p", cepheus='inherits = "common-arm64"\ncodename = "cepheus"\nmodel = "Local Mi 9"\n'
                                      "[screen]\nwidth = 720\nheight = 1280\ndensity = 320\n")
    p = load_profile("cepheus", [d, DEFAULT_PROFILE_DIR])
    assert p.model == "Local Mi 9"
    assert p.brand == "Xiaomi"  # still inherited from the bundled common.toml


def test_bundled_profiles_resolve_and_cover_what_later_checks_need() -> None:
    names = device_names([DEFAULT_PROFILE_DIR])
    assert len(names) >= 3
    profiles = [load_profile(n, [DEFAULT_PROFILE_DIR]) for n in names]
    screens = {(p.screen.width, p.screen.height) for p in profiles}
    assert len(screens) >= 3
    assert any(not p.is_64bit for p in profiles), "need a 32-bit-only device"
    assert any(p.page_size == 16384 for p in profiles), "need a 16 KB page device"
    assert all(p.brand == "Xiaomi" for p in profiles)


def test_inherits_cycle_is_reported_with_file_and_line(tmp_path: Path) -> None:
    d = write(tmp_path / "p", a='codename = "a"\ninherits = "b"\n', b='# b\n\ninherits = "a"\n')
    with pytest.raises(ProfileError) as err:
        load_profile("a", [d])
    assert "cycle" in err.value.message and "a → b → a" in err.value.message
    assert err.value.file.endswith("b.toml") and err.value.line == 3


def test_missing_parent_names_the_child_line(tmp_path: Path) -> None:
    d = write(tmp_path / "p", a='codename = "a"\n\ninherits = "nothere"\n')
    with pytest.raises(ProfileError) as err:
        load_profile("a", [d])
    assert "nothere" in err.value.message
    assert err.value.file.endswith("a.toml") and err.value.line == 3


@pytest.mark.parametrize("text,line,words", [
    ('codename = "a"\nbrand = "x"\nscreen_size = 5\n', 3, "unknown key 'screen_size'"),
    ('codename = "a"\n[screen]\nwidth = 1080\ndepth = 3\n', 4, "unknown key 'screen.depth'"),
    ('codename = "a"\npage_size = "4096"\n', 2, "must be a integer, not a string"),
    ('codename = "a"\npage_size = 8192\n', 2, "must be one of"),
    ('codename = "a"\nabis = ["arm64-v8a", "mips"]\n', 2, "'mips'"),
    ('codename = "a"\nab = 1\n', 2, "must be a boolean"),
    ('codename = "a"\n[partitions]\nsystem = "btrfs"\n', 3, "must be one of erofs, ext4"),
    ('codename = "A B"\n', 1, "codename"),
    ('codename = "a"\n[screen]\nwidth = true\n', 3, "must be a integer, not a boolean"),
])
def test_bad_keys_and_types_name_file_and_line(tmp_path: Path, text: str, line: int, words: str) -> None:
    d = write(tmp_path / "p", a=text)
    with pytest.raises(ConfigError) as err:
        load_profile("a", [d])
    assert words in err.value.message
    assert err.value.file.endswith("a.toml")
    assert err.value.line == line


def test_broken_toml_gives_the_parser_line(tmp_path: Path) -> None:
    d = write(tmp_path / "p", a='codename = "a"\nmodel = "x"\n[screen\nwidth = 3\n')
    with pytest.raises(ConfigError) as err:
        load_profile("a", [d])
    assert err.value.message.startswith("invalid TOML")
    assert err.value.line == 3


def test_unknown_device_lists_known_ones() -> None:
    with pytest.raises(ProfileError) as err:
        load_profile("nosuchphone", [DEFAULT_PROFILE_DIR])
    assert "unknown device 'nosuchphone'" in err.value.message
    assert "cepheus" in (err.value.hint or "")


def test_abstract_profile_cannot_be_built() -> None:
    with pytest.raises(ProfileError) as err:
        load_profile("common-arm64", [DEFAULT_PROFILE_DIR])
    assert "abstract" in err.value.message and err.value.line == 2


def test_missing_required_key_names_the_chain(tmp_path: Path) -> None:
    d = write(tmp_path / "p", leaf=DEVICE.replace('model = "Leaf Phone"\n', ""), mid=MID, root=ROOT)
    with pytest.raises(ProfileError) as err:
        load_profile("leaf", [d])
    assert "'model'" in err.value.message and "root.toml" in err.value.message


def test_list_marks_abstract_profiles(tmp_path: Path) -> None:
    d = write(tmp_path / "p", leaf=DEVICE, mid=MID, root=ROOT)
    listed = {s.name: s for s in list_profiles([d])}
    assert listed["mid"].abstract and listed["root"].abstract and not listed["leaf"].abstract
    assert device_names([d]) == ["leaf"]


def test_cli_profile_show_json_is_the_resolved_profile(run, tmp_path: Path) -> None:
    result = run("profile", "show", "rosy", "--json", cwd=tmp_path)
    assert result.exit_code == 0
    data = json.loads(result.output)
    assert data["abis"] == ["armeabi-v7a", "armeabi"]
    assert data["partitions"]["odm"] == "ext4" and data["partitions"]["system"] == "erofs"
    assert data["inherits"] == ["common-arm", "common"]
    assert data["ab"] is False


def test_cli_profile_list_and_show_text(run, tmp_path: Path) -> None:
    listed = run("profile", "list", cwd=tmp_path)
    assert listed.exit_code == 0
    rows = {line.split()[0]: line.split()[1] for line in listed.output.splitlines()}
    assert rows["cepheus"] == "device" and rows["common-arm64"] == "abstract"
    shown = run("profile", "show", "dada", cwd=tmp_path)
    assert shown.exit_code == 0
    assert "page_size" in shown.output and "16384" in shown.output and "dada.toml" in shown.output


def test_cli_profile_errors_exit_1_with_location(run, tmp_path: Path) -> None:
    write(tmp_path / "device-profiles", x='codename = "x"\ninherits = "x"\n')
    result = run("profile", "show", "x", cwd=tmp_path)
    assert result.exit_code == 1
    assert "device-profiles/x.toml:2: 'inherits' forms a cycle: x → x" in result.output
    assert "Traceback" not in result.output


_keys = st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True)


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(_keys, st.dictionaries(_keys, st.integers(), min_size=1, max_size=4), min_size=1,
                       max_size=4), st.lists(_keys, min_size=1, max_size=4, unique=True))
def test_toml_key_lines_match_where_keys_were_written(tmp_path_factory, tables, top) -> None:
    lines = [f"{k} = {i}" for i, k in enumerate(top) if k not in tables]
    expected = {(k,): n + 1 for n, k in enumerate(k for k in top if k not in tables)}
    for table, values in tables.items():
        lines.append("")
        lines.append(f"[{table}]")
        expected[(table,)] = len(lines)
        for key, value in values.items():
            lines.append(f"{key} = {value}  # comment")
            expected[(table, key)] = len(lines)
    path = tmp_path_factory.mktemp("toml") / "x.toml"
    path.write_text("\n".join(lines) + "\n")
    doc = load_toml(path)
    for keys, line in expected.items():
        assert doc.line_of(*keys) == line

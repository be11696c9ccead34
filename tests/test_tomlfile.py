"""The TOML reader: line numbers from a real parser, bounded reads, limits as ConfigErrors."""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from romforge.errors import ConfigError
from romforge.tomlfile import MAX_TOML_BYTES, load_toml


def _doc(tmp_path: Path, text: str):
    path = tmp_path / "x.toml"
    path.write_text(text, encoding="utf-8")
    return load_toml(path)


def test_bracket_in_a_string_of_a_multiline_array_keeps_later_lines(tmp_path: Path) -> None:
    doc = _doc(tmp_path, 'requires = [\n "a[b",\n]\nversion = "1"\n')
    assert doc.data == {"requires": ["a[b"], "version": "1"}
    assert doc.line_of("version") == 4
    assert doc.line_of("requires") == 1 and doc.line_of("requires", 0) == 2


def test_every_kind_of_key_path_has_its_line(tmp_path: Path) -> None:
    doc = _doc(tmp_path, "\n".join([
        'a.b."c.d" = 1',                                  # 1
        "[t]",                                            # 2
        'x = { y = 1, "z w" = [1, { q = 2 }] }',          # 3
        "[[files]]",                                      # 4
        'path = "a"',                                     # 5
        "[[files]]",                                      # 6
        "# a comment with [brackets] and = signs",        # 7
        'path = """multi',                                # 8
        "[not.a.table]",                                  # 9
        '"""',                                            # 10
        "[files.meta]",                                   # 11
        "mode = 1",                                       # 12
        "[[files.v]]",                                    # 13
        "m = [",                                          # 14
        '  "]",',                                         # 15
        "  { n = 'x' },",                                 # 16
        "]",                                              # 17
        "[t.u]",                                          # 18
        "", ]))
    expected = {
        ("a",): 1, ("a", "b"): 1, ("a", "b", "c.d"): 1, ("t",): 2, ("t", "x"): 3, ("t", "x", "y"): 3,
        ("t", "x", "z w"): 3, ("t", "x", "z w", 1, "q"): 3, ("files",): 4, ("files", 0): 4, ("files", 0, "path"): 5,
        ("files", 1): 6, ("files", 1, "path"): 8, ("files", 1, "meta"): 11, ("files", 1, "meta", "mode"): 12,
        ("files", 1, "v", 0): 13, ("files", 1, "v", 0, "m", 0): 15, ("files", 1, "v", 0, "m", 1, "n"): 16,
        ("t", "u"): 18,
    }
    for keys, line in expected.items():
        assert doc.line_of(*keys) == line, keys
    assert doc.line_of("files", 1, "no-such-key") == 6  # the deepest written prefix: its table
    assert doc.line_of("not") is None  # inside a multi-line string: not a table


def test_an_explicit_table_header_wins_over_the_implicit_one(tmp_path: Path) -> None:
    doc = _doc(tmp_path, "[a.b]\nx = 1\n\n[a]\ny = 2\n")
    assert doc.line_of("a") == 4 and doc.line_of("a", "b") == 1 and doc.line_of("a", "y") == 5


# ---- property: generated TOML, lines known from the generator --------------------------

_bare = st.from_regex(r"[a-z][a-z0-9_-]{0,6}", fullmatch=True).filter(lambda k: k != "sub")
_tricky = st.text(alphabet='ab[]#="\'{},. \\\n\t', max_size=12)  # what fooled a line scanner
_scalar = st.one_of(st.integers(-10**6, 10**6), st.booleans(), _tricky)


def _quote(key: str, how: int) -> str:
    if how == 0 and key.replace("-", "").replace("_", "").isalnum():
        return key
    return json.dumps(key) if how < 2 or "'" in key or "\n" in key else f"'{key}'"


@st.composite
def _documents(draw):
    """(text, {key path: line}) for a document of top-level keys, tables, arrays of tables,
    dotted keys, inline tables and multi-line arrays holding strings with brackets in them."""
    lines: list[str] = []
    expected: dict[tuple, int] = {}
    used: set = set()

    def body(prefix: tuple) -> None:
        for _ in range(draw(st.integers(0, 3))):
            key = draw(_bare.filter(lambda k: prefix + (k,) not in used))
            used.add(prefix + (key,))
            kind = draw(st.sampled_from(["scalar", "dotted", "inline", "array"]))
            if kind == "scalar":
                lines.append(f"{key} = {_value(draw(_scalar))}  # [x] = 1")
                expected[prefix + (key,)] = len(lines)
            elif kind == "dotted":
                sub = draw(_tricky.filter(lambda s: "\n" not in s and "\\" not in s))
                lines.append(f"{key}.{_quote(sub, draw(st.integers(1, 2)))} = {_value(draw(_scalar))}")
                expected[prefix + (key,)] = expected[prefix + (key, sub)] = len(lines)
            elif kind == "inline":
                inner = draw(st.lists(_tricky.filter(lambda s: "\n" not in s), min_size=1, max_size=3, unique=True))
                pairs = ", ".join(f"{json.dumps(k)} = {_value(draw(_scalar))}" for k in inner)
                lines.append(f"{key} = {{ {pairs} }}")
                for k in inner:
                    expected[prefix + (key, k)] = len(lines)
            else:
                items = draw(st.lists(_scalar, min_size=0, max_size=4))
                lines.append(f"{key} = [")
                expected[prefix + (key,)] = len(lines)
                for i, item in enumerate(items):
                    lines.append(f"  {_value(item)},  # ]")
                    expected[prefix + (key, i)] = len(lines)
                lines.append("]")

    body(())
    for _ in range(draw(st.integers(0, 3))):
        name = draw(_bare.filter(lambda k: (k,) not in used))
        used.add((name,))
        if draw(st.booleans()):
            lines.append(f"[{name}]")
            expected[(name,)] = len(lines)
            body((name,))
        else:
            for i in range(draw(st.integers(1, 3))):
                lines.append(f"[[{name}]]  # [[not this]]")
                expected[(name, i)] = len(lines)
                body((name, i))
                for j in range(draw(st.integers(0, 2))):
                    lines.append(f"[[{name}.sub]]")
                    expected[(name, i, "sub", j)] = len(lines)
                    body((name, i, "sub", j))
    return "\n".join(lines) + "\n", expected


def _value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return json.dumps(value)  # a TOML basic string (TOML's escapes are a superset of JSON's for these)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(_documents())
def test_generated_toml_lines_match_where_the_generator_wrote_each_key(tmp_path: Path, document) -> None:
    text, expected = document
    doc = _doc(tmp_path, text)
    assert doc.data == tomllib.loads(text)
    for keys, line in expected.items():
        assert doc.line_of(*keys) == line, (keys, text)


# ---- limits: each a ConfigError naming the file, never a traceback ----------------------


@pytest.mark.parametrize("text,line,words", [
    ("x = " + "[" * 5000 + "]" * 5000 + "\n", 1, "nested more than"),
    ("a = 1\nx = " + "[" * 40 + "]" * 40 + "\n", 2, "nested more than"),
    ("a = 1\n\nx = " + "9" * 5000 + "\n", 3, "integer of 5000 characters"),
    ("a = 1\n" + ".".join(["k"] * 200) + " = 1\n", 2, "nested more than"),
    ("x = { " + "a = { " * 3000 + "}" * 3001 + "\n", 1, "nested more than"),
])
def test_hostile_nesting_and_numbers_are_config_errors_with_a_line(tmp_path: Path, text: str, line: int,
                                                                   words: str) -> None:
    with pytest.raises(ConfigError) as err:
        _doc(tmp_path, text)
    assert words in err.value.message
    assert err.value.file.endswith("x.toml") and err.value.line == line


def test_reads_are_bounded_and_regular_files_only(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo.toml"
    os.mkfifo(fifo)
    with pytest.raises(ConfigError, match="not a regular file"):
        load_toml(fifo)  # would block forever if opened for a blocking read
    link = tmp_path / "zero.toml"
    link.symlink_to("/dev/zero")
    with pytest.raises(ConfigError, match="not a regular file"):
        load_toml(link)
    with pytest.raises(ConfigError, match="is a symlink"):
        load_toml(link, follow_symlinks=False)
    big = tmp_path / "big.toml"
    big.write_bytes(b"# " + b"x" * MAX_TOML_BYTES + b"\n")
    with pytest.raises(ConfigError, match="byte limit"):
        load_toml(big)


def test_cli_reports_a_huge_integer_in_a_profile_with_file_and_line(run, tmp_path: Path) -> None:
    (tmp_path / "device-profiles").mkdir()
    (tmp_path / "device-profiles/big.toml").write_text('inherits = "common-arm64"\ncodename = "big"\n'
                                                       f"page_size = {'4' * 5000}\n")
    result = run("profile", "show", "big", cwd=tmp_path)
    assert result.exit_code == 1
    assert "device-profiles/big.toml:3: integer of 5000 characters" in result.output
    assert "Traceback" not in result.output

from __future__ import annotations

from pathlib import Path

import pytest

from romforge.errors import InputError
from romforge.safeio import read_csv, read_text
from romforge.xmlsafe import parse_xml

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
]>
<resources><string name="a">&lol2;</string></resources>
"""


@pytest.mark.realdata
def test_real_device_xml_parses(shared: Path) -> None:
    for path in sorted((shared / "etc-xml").glob("*.xml")):
        root = parse_xml(path.read_bytes(), source=path.name).getroot()
        assert root.tag == "permissions"


def test_entities_and_doctype_are_refused_before_parsing() -> None:
    with pytest.raises(InputError) as err:
        parse_xml(BILLION_LAUGHS, source="strings.xml")
    assert err.value.line == 2 and "DOCTYPE" in err.value.message


def test_external_entity_is_refused() -> None:
    data = b'<?xml version="1.0"?>\n\n<!ENTITY x SYSTEM "file:///etc/passwd">\n<a>&x;</a>'
    with pytest.raises(InputError) as err:
        parse_xml(data, source="x.xml")
    assert err.value.line == 3


def test_syntax_error_has_line_and_column() -> None:
    with pytest.raises(InputError) as err:
        parse_xml(b"<resources>\n  <string name='a'>x</strng>\n</resources>\n", source="values/strings.xml")
    assert err.value.file == "values/strings.xml" and err.value.line == 2 and err.value.column


def test_size_cap() -> None:
    with pytest.raises(InputError) as err:
        parse_xml(b"<a>" + b"x" * 2000 + b"</a>", source="big.xml", max_bytes=1000)
    assert "limit" in err.value.message


def test_csv_rows_carry_their_lines(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text('name,handle\n曾国藩,@zeng\n\n"Smith, J",js\n', encoding="utf-8")
    rows = read_csv(path, required=("name",), optional=("handle",))
    assert [(r.line, r.values["name"]) for r in rows] == [(2, "曾国藩"), (4, "Smith, J")]


@pytest.mark.parametrize("content,line,words", [
    (b"nom,handle\nx,y\n", 1, "missing column(s) name"),
    (b"name,handle,extra\nx,y,z\n", 1, "unknown column(s) extra"),
    (b"name,handle\nx\n", 2, "1 fields"),
    (b"name,handle\nok,1\n\xff\xfe,2\n", 3, "not valid UTF-8"),
    (b"", 1, "empty file"),
])
def test_csv_errors(tmp_path: Path, content: bytes, line: int, words: str) -> None:
    path = tmp_path / "c.csv"
    path.write_bytes(content)
    with pytest.raises(InputError) as err:
        read_csv(path, required=("name",), optional=("handle",))
    assert words in err.value.message and err.value.line == line


def test_text_limits_and_symlinks(tmp_path: Path) -> None:
    big = tmp_path / "big.txt"
    big.write_bytes(b"a" * 100)
    with pytest.raises(InputError):
        read_text(big, max_bytes=10)
    link = tmp_path / "link.txt"
    link.symlink_to(big)
    with pytest.raises(InputError) as err:
        read_text(link)
    assert "symlink" in err.value.message

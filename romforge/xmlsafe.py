"""Untrusted XML (device configs, overlay resources, translators' strings.xml), parsed defensively.

No DTDs, no entities, no network, a size cap; syntax errors come back as InputError with
the parser's line and column. Elements keep `sourceline` so findings can point at them.
"""

from __future__ import annotations

import re

from lxml import etree

from romforge.errors import InputError

MAX_XML_BYTES = 8 << 20
_DOCTYPE = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)


class XmlSyntaxError(InputError):
    """The document is not well-formed XML (as opposed to being unsafe or too big)."""


def _parser(*, remove_blank_text: bool = False) -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
                           huge_tree=False, remove_blank_text=remove_blank_text, strip_cdata=False)


def parse_xml(data: bytes, *, source: str, max_bytes: int = MAX_XML_BYTES,
              remove_blank_text: bool = False) -> etree._ElementTree:
    """Parse bytes of an XML document or raise InputError naming `source` and the line."""
    if len(data) > max_bytes:
        raise InputError(f"XML file is {len(data)} bytes, over the {max_bytes}-byte limit", file=source)
    found = _DOCTYPE.search(data)
    if found:
        line = data.count(b"\n", 0, found.start()) + 1
        raise InputError(f"<!{found.group(1).decode().upper()}> is not allowed (DTDs and entities can expand "
                         "without bound or reach outside the file)", file=source, line=line)
    try:
        return etree.ElementTree(etree.fromstring(data, _parser(remove_blank_text=remove_blank_text)))
    except etree.XMLSyntaxError as exc:
        line, column = exc.position if exc.position else (exc.lineno, None)
        message = re.sub(r", line \d+, column \d+$", "", exc.msg or "malformed XML")
        raise XmlSyntaxError(f"invalid XML: {message}", file=source, line=line or None,
                             column=column or None) from None


def serialize_xml(tree: etree._ElementTree | etree._Element) -> bytes:
    """UTF-8 with an XML declaration, stable across runs."""
    return etree.tostring(tree, xml_declaration=True, encoding="utf-8")

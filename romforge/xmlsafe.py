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
_DOCTYPE_TEXT = re.compile(r"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
# Byte-order marks and the first bytes of '<?' in the encodings XML autodetects (XML 1.0, appendix F).
_WIDE = ((b"\x00\x00\xfe\xff", "utf-32-be"), (b"\xff\xfe\x00\x00", "utf-32-le"), (b"\xfe\xff", "utf-16-be"),
         (b"\xff\xfe", "utf-16-le"), (b"\x00\x00\x00<", "utf-32-be"), (b"<\x00\x00\x00", "utf-32-le"),
         (b"\x00<\x00?", "utf-16-be"), (b"<\x00?\x00", "utf-16-le"))


class XmlSyntaxError(InputError):
    """The document is not well-formed XML (as opposed to being unsafe or too big)."""


def _parser(*, remove_blank_text: bool = False) -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
                           huge_tree=False, remove_blank_text=remove_blank_text, strip_cdata=False)


def _dtd_refused(kind: str, source: str, line: int | None) -> InputError:
    return InputError(f"<!{kind.upper()}> is not allowed (DTDs and entities can expand without bound or reach "
                      "outside the file)", file=source, line=line)


def _refuse_unsafe(data: bytes, source: str, max_bytes: int) -> None:
    """Size cap, and no DTD or entity declaration in any encoding the parser would detect."""
    if len(data) > max_bytes:
        raise InputError(f"XML file is {len(data)} bytes, over the {max_bytes}-byte limit", file=source)
    found = _DOCTYPE.search(data)
    if found:
        raise _dtd_refused(found.group(1).decode(), source, data.count(b"\n", 0, found.start()) + 1)
    codec = next((c for mark, c in _WIDE if data.startswith(mark)), None)
    if codec is not None:  # UTF-16/32: the byte search above cannot see '<!DOCTYPE'
        text = data.decode(codec, "replace")
        wide = _DOCTYPE_TEXT.search(text)
        if wide:
            raise _dtd_refused(wide.group(1), source, text.count("\n", 0, wide.start()) + 1)


def _refuse_parsed_dtd(tree: etree._ElementTree, source: str) -> None:
    """After the parse: whatever the encoding, a document that declared a DTD is refused."""
    info = tree.docinfo
    if info.internalDTD is not None or info.doctype:
        raise _dtd_refused("DOCTYPE", source, None)


def _syntax_error(message: str | None, line: int | None, column: int | None, source: str) -> XmlSyntaxError:
    text = re.sub(r", line \d+, column \d+$", "", message or "malformed XML")
    return XmlSyntaxError(f"invalid XML: {text}", file=source, line=line or None, column=column or None)


def parse_xml(data: bytes, *, source: str, max_bytes: int = MAX_XML_BYTES,
              remove_blank_text: bool = False) -> etree._ElementTree:
    """Parse bytes of an XML document or raise InputError naming `source` and the line."""
    _refuse_unsafe(data, source, max_bytes)
    try:
        tree = etree.ElementTree(etree.fromstring(data, _parser(remove_blank_text=remove_blank_text)))
    except etree.XMLSyntaxError as exc:
        line, column = exc.position if exc.position else (exc.lineno, None)
        raise _syntax_error(exc.msg, line, column, source) from None
    _refuse_parsed_dtd(tree, source)
    return tree


def parse_xml_recovering(data: bytes, *, source: str,
                         max_bytes: int = MAX_XML_BYTES) -> tuple[etree._ElementTree | None, list[XmlSyntaxError]]:
    """libxml2's recover mode for a document that is not well-formed: what can be read, and every error.

    The same refusals as parse_xml come first (size, DTD, entities): recovering never
    re-opens entity expansion or the network. The tree is None when nothing could be read.
    """
    _refuse_unsafe(data, source, max_bytes)
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
                             huge_tree=False, strip_cdata=False, recover=True)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        return None, [_syntax_error(exc.msg, *(exc.position or (exc.lineno, None)), source)]
    errors = [_syntax_error(e.message, e.line, e.column, source) for e in parser.error_log
              if e.level >= etree.ErrorLevels.ERROR]
    if root is None:
        return None, errors
    tree = etree.ElementTree(root)
    _refuse_parsed_dtd(tree, source)
    return tree, errors


def serialize_xml(tree: etree._ElementTree | etree._Element) -> bytes:
    """UTF-8 with an XML declaration, stable across runs."""
    return etree.tostring(tree, xml_declaration=True, encoding="utf-8")

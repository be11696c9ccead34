"""Reading a strings.xml that is not well-formed: every syntax error, and everything else in the file.

A translator's file is a flat list of resources under `<resources>`, so a syntax error
(a broken inline tag, an unclosed quote or comment) damages one resource, not the file.
Recovery resynchronises at each resource's start tag: the body of `<resources>` is cut
into regions (the text before the first resource, then one region per resource, up to
`</resources>`), each region is parsed on its own, and the ones that fail are the damaged
regions. The rest of the file, with the damaged regions blanked out (same offsets, same
lines), is parsed strictly and read as usual; each damaged region is then read with
libxml2's recover mode and its findings are marked `damaged`. A file whose damage lies
outside the regions (the XML declaration, the root tag, text after `</resources>`) is read
by recover mode as a whole, every finding marked damaged.

Recovery goes through the same hardened entry points as any parse (xmlsafe: no DTD, no
entities, no network, size cap), so it never re-opens what the strict parser refuses.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lxml import etree

from romforge.locales.resxml import (ResFinding, ValuesFile, _masked, _Positions, _Reader, _tag_end, decoded,
                                     read_tree)
from romforge.xmlsafe import XmlSyntaxError, parse_xml, parse_xml_recovering

MAX_DAMAGED_REGIONS = 50
# Resource types that start a new top-level element (not <item>: it also sits inside plurals and arrays).
_RESOURCE_START = re.compile(r"<(?:string|plurals|string-array|array|integer-array|bool|color|dimen|integer|"
                             r"fraction|style|attr|declare-styleable|public|eat-comment|skip|drawable|id)(?=[\s/>])")
_ROOT_CLOSE = re.compile(r"</resources\s*>")
_FIRST_TAG = re.compile(r"<[A-Za-z_]")


@dataclass(frozen=True)
class _Layout:
    body_start: int  # just after the root's start tag
    body_end: int  # where </resources> starts
    regions: list[tuple[int, int]]  # [start, end) offsets, covering the body without gaps
    root_open: str  # the root's start tag as written (namespace declarations included)


def _layout(masked: str) -> _Layout | None:
    first = _FIRST_TAG.search(masked)
    if first is None or not masked.startswith("<resources", first.start()):
        return None
    open_end = _tag_end(masked, first.start())
    if masked[open_end - 1] == "/":
        return None
    closes = list(_ROOT_CLOSE.finditer(masked, open_end))
    if not closes:
        return None
    body_start, body_end = open_end + 1, closes[-1].start()
    starts = [m.start() for m in _RESOURCE_START.finditer(masked, body_start, body_end)]
    cuts = [body_start] + [s for s in starts if s > body_start] + [body_end]
    regions = [(a, b) for a, b in zip(cuts, cuts[1:]) if b > a]
    return _Layout(body_start, body_end, regions, masked[first.start():open_end + 1])


def _well_formed(root_open: str, fragment: str) -> bool:
    try:
        etree.fromstring(f"{root_open}{fragment}</resources>".encode(), _STRICT)
    except etree.XMLSyntaxError:
        return False
    return True


_STRICT = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


def _blank(text: str) -> str:
    """Every character but newlines made a space: offsets and line numbers stay where they were."""
    return re.sub(r"[^\n]", " ", text)


def _invalid(file: str, error: XmlSyntaxError, how: str) -> ResFinding:
    return ResFinding(file, error.line, "invalid-xml", "error", f"{error.message}; {how}", error.column, None)


def _whole(data: bytes, text: str, file: str, translation: bool) -> ValuesFile:
    """Damage outside the resource regions: libxml2's recover mode over the whole file."""
    tree, errors = parse_xml_recovering(data, source=file)
    first = errors[0] if errors else XmlSyntaxError("invalid XML: not well-formed", file=file, line=1)
    if tree is None or tree.getroot() is None:
        return ValuesFile(file, [], [_invalid(file, first, "the file cannot be read at all")], 1, readable=False)
    values = read_tree(_Reader(text, tree, file, damaged=True), translation=translation)
    if not values.resources:
        return ValuesFile(file, [], [_invalid(file, first, "the file cannot be read at all")], 1, readable=False)
    how = "the rest of the file was read by recovery (findings marked damaged)"
    values.findings.insert(0, _invalid(file, first, how))
    return values


def read_damaged(data: bytes, *, file: str, translation: bool = True) -> ValuesFile:
    """A values file that failed the strict parse: its syntax errors as findings, plus all that can be read."""
    text = decoded(data)
    masked = _masked(text)
    layout = _layout(masked)
    if layout is None:
        return _whole(data, text, file, translation)
    damaged = [r for r in layout.regions if not _well_formed(layout.root_open, masked[r[0]:r[1]])]
    if not damaged:
        return _whole(data, text, file, translation)
    blank = _blank(text)
    good_text, good_masked = text, masked
    for start, end in reversed(damaged):
        good_text = good_text[:start] + blank[start:end] + good_text[end:]
        good_masked = good_masked[:start] + blank[start:end] + good_masked[end:]
    try:
        good_tree = parse_xml(good_text.encode("utf-8"), source=file)
    except XmlSyntaxError:
        return _whole(data, text, file, translation)
    positions = _Positions(text)
    values = read_tree(_Reader(text, good_tree, file, masked=good_masked, positions=positions), translation=translation)
    resources, findings = values.resources, values.findings
    head, tail = text[:layout.body_start], text[layout.body_end:]
    for index, (start, end) in enumerate(damaged):
        if index == MAX_DAMAGED_REGIONS:
            findings.append(ResFinding(file, positions.at(start)[0], "invalid-xml", "error",
                                       f"{len(damaged) - index} more part(s) of the file are not well-formed and "
                                       "were not read; fix the ones above first", positions.at(start)[1], None))
            break
        region_text = head + blank[layout.body_start:start] + text[start:end] + blank[end:layout.body_end] + tail
        tree, errors = parse_xml_recovering(region_text.encode("utf-8"), source=file)
        error = errors[0] if errors else XmlSyntaxError("invalid XML: not well-formed", file=file,
                                                        line=positions.at(start)[0])
        findings.append(_invalid(file, error, "the rest of the file was checked; findings from this part are "
                                              "marked damaged"))
        if tree is None or tree.getroot() is None:
            continue
        part = read_tree(_Reader(region_text, tree, file, damaged=True, positions=positions), translation=translation)
        resources.extend(part.resources)
        findings.extend(part.findings)
    resources.sort(key=lambda r: (r.line, r.column))
    return ValuesFile(file, resources, findings, values.root_line, values.has_xliff)

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

import bisect
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
    return "\n".join(" " * len(line) for line in text.split("\n"))


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


def _blanked(text: str, blank: str, regions: list[tuple[int, int]]) -> str:
    parts, at = [], 0
    for start, end in sorted(regions):
        parts += [text[at:start], blank[start:end]]
        at = end
    parts.append(text[at:])
    return "".join(parts)


def _damaged_regions(text: str, masked: str, blank: str, layout: _Layout, positions: _Positions,
                     file: str) -> tuple[list[tuple[int, int]], etree._ElementTree, str] | None:
    """The regions that are not well-formed, the tree of the rest, and the rest's masked text.

    The strict parser's error position points at (or just after) the damage: the region
    there, or the nearest one before it, is the one that fails on its own. It is blanked
    and the rest parsed again, until the rest is well-formed. None when the damage is not
    inside a region (or more regions fail than are worth reading one by one).
    """
    starts = [start for start, _ in layout.regions]
    damaged: list[tuple[int, int]] = []
    for _ in range(MAX_DAMAGED_REGIONS * 4):
        rest = _blanked(text, blank, damaged)
        try:
            return damaged, parse_xml(rest.encode("utf-8"), source=file), _blanked(masked, blank, damaged)
        except XmlSyntaxError as exc:
            line = min(exc.line or 1, len(positions.starts))
            offset = min(positions.starts[line - 1] + (exc.column or 1) - 1, len(text) - 1)
        index = bisect.bisect_right(starts, offset) - 1
        while index >= 0 and (layout.regions[index] in damaged or
                              _well_formed(layout.root_open, masked[slice(*layout.regions[index])])):
            index -= 1
        if index < 0:  # not in a region: look at every region once
            bad = [r for r in layout.regions if r not in damaged
                   and not _well_formed(layout.root_open, masked[r[0]:r[1]])]
            if not bad:
                return None
            damaged += bad
        else:
            damaged.append(layout.regions[index])
        damaged.sort()
    return None


def read_damaged(data: bytes, *, file: str, translation: bool = True) -> ValuesFile:
    """A values file that failed the strict parse: its syntax errors as findings, plus all that can be read."""
    text = decoded(data)
    masked = _masked(text)
    layout = _layout(masked)
    if layout is None:
        return _whole(data, text, file, translation)
    blank = _blank(text)
    positions = _Positions(text)
    found = _damaged_regions(text, masked, blank, layout, positions, file)
    if found is None:
        return _whole(data, text, file, translation)
    damaged, good_tree, good_masked = found
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

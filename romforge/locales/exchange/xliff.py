"""XLIFF 1.2 files for one translated values file (Crowdin, Weblate, memoQ, Trados read them).

One `<file>` per values file (`original` = its path in the pack, `source-language="en"`,
`target-language` = the pack's locale, `datatype="xml"`), one `<trans-unit>` per string
(`resname` = the resource name, `name@product` for product variants), a `<group>` per
plurals (`restype="x-gettext-plurals"`, one unit per CLDR category of the locale, id
`name[quantity]`) and per string-array (`restype="x-android-string-array"`, id `name[i]`).
Source and target hold the text as strings.xml holds it, as XML text; `<target>` is there
for translated units only (`state="translated"`; `state="x-obsolete"` when the source no
longer has the name). Notes carry the rest: `from="translator"` the comments before a
resource, `from="xml-attributes"` its other attributes (JSON), and in the file's
`<header>`, `from="romforge-xml-prologue|root|epilogue"` what surrounds the resources.

Read through the hardened parser (xmlsafe: no DTD, no entities, no network, size cap).
"""

from __future__ import annotations

import json

from lxml import etree

from romforge.errors import InputError
from romforge.locales.exchange.units import ExchangeFile, Unit, categories_of, parse_context
from romforge.locales.pack import LocalePack, LocaleTag
from romforge.locales.resxml import ARRAY, PLURALS, STRING
from romforge.xmlsafe import parse_xml, serialize_xml

NS = "urn:oasis:names:tc:xliff:document:1.2"
_Q = f"{{{NS}}}"
_GROUP_KIND = {"x-gettext-plurals": PLURALS, "x-android-string-array": ARRAY}
_LAYOUT = ("prologue", "root", "epilogue")


def _el(parent: etree._Element, tag: str, text: str | None = None, **attrs: str) -> etree._Element:
    element = etree.SubElement(parent, _Q + tag, {k.replace("_", "-"): v for k, v in attrs.items()})
    if text is not None:
        element.text = text
    return element


def _unit(parent: etree._Element, ident: str, resname: str, source: str, target: str | None, unit: Unit,
          notes: bool) -> None:
    tu = _el(parent, "trans-unit", id=ident, resname=resname)
    tu.set("{http://www.w3.org/XML/1998/namespace}space", "preserve")
    _el(tu, "source", source)
    if target is not None:
        _el(tu, "target", target, state="x-obsolete" if unit.obsolete else "translated")
    if notes:
        for comment in unit.comments:
            _el(tu, "note", comment, **{"from": "translator"})
        if unit.attributes:
            _el(tu, "note", json.dumps(unit.attributes, ensure_ascii=False), **{"from": "xml-attributes"})


def write_xliff_file(xfile: ExchangeFile, pack: LocalePack, origin: str) -> bytes:
    categories = categories_of(pack.tag, file=pack.shown)
    root = etree.Element(_Q + "xliff", nsmap={None: NS}, version="1.2")
    file = _el(root, "file", original=origin, source_language="en", target_language=pack.locale, datatype="xml")
    header = _el(file, "header")
    for key, value in zip(_LAYOUT, (xfile.prologue, xfile.root_open, xfile.epilogue)):
        if value is not None:
            _el(header, "note", value, **{"from": f"romforge-xml-{key}"})
    body = _el(file, "body")
    for unit in xfile.units:
        fallback = next(iter(unit.target.values()), unit.context)
        if unit.kind == STRING:
            _unit(body, unit.context, unit.context, unit.source.get("", fallback), unit.target.get(""), unit, True)
            continue
        group = _el(body, "group", id=unit.context, resname=unit.context,
                    restype="x-gettext-plurals" if unit.kind == PLURALS else "x-android-string-array")
        if unit.kind == PLURALS:
            keys = categories
        else:
            keys = sorted(set(unit.source) | set(unit.target), key=int)
        for i, key in enumerate(keys):
            source = unit.source.get(key) or unit.source.get("other") or unit.target.get(key) or fallback
            _unit(group, f"{unit.context}[{key}]", unit.context, source, unit.target.get(key), unit, i == 0)
            if unit.kind == ARRAY:
                for comment in unit.item_comments.get(key, []):
                    _el(group[-1], "note", comment, **{"from": "xml-item-comment"})
    etree.indent(root, space="  ")
    return serialize_xml(root) + b"\n"


# ---- reading ------------------------------------------------------------------------


def _notes(tu: etree._Element, kind: str) -> list[str]:
    return [n.text or "" for n in tu.findall(_Q + "note") if n.get("from") == kind]


def _text(element: etree._Element | None, file: str) -> str | None:
    if element is None:
        return None
    if len(element):
        raise InputError(f"<{etree.QName(element).localname}> holds inline XLIFF elements; romforge carries "
                         "Android markup as text", file=file, line=element.sourceline)
    return element.text or ""


def _target(tu: etree._Element, file: str) -> tuple[str | None, bool, int]:
    """(translation or None, obsolete, the line to name in messages)."""
    target = tu.find(_Q + "target")
    text = _text(target, file)
    state = target.get("state", "translated") if target is not None else None
    if state in ("new", "needs-translation"):  # XLIFF's "not translated yet"
        text = None
    return (text or None), state == "x-obsolete", (target if target is not None else tu).sourceline


def _attributes(tu: etree._Element, file: str) -> list[tuple[str, str]]:
    for text in _notes(tu, "xml-attributes"):
        try:
            pairs = json.loads(text)
        except ValueError:
            pairs = None
        if not isinstance(pairs, list) or not all(isinstance(p, list) and len(p) == 2 and
                                                  all(isinstance(v, str) for v in p) for p in pairs):
            raise InputError("the xml-attributes note must be a JSON list of [name, value] pairs", file=file,
                             line=tu.sourceline)
        return [(k, v) for k, v in pairs]
    return []


def read_xliff_file(data: bytes, *, shown: str, tag: LocaleTag, package: str, xml_name: str) -> ExchangeFile:
    """An XLIFF 1.2 document with one <file> back into units; target-language must be the pack's locale."""
    root = parse_xml(data, source=shown).getroot()
    if root.tag != _Q + "xliff" or root.get("version") != "1.2":
        raise InputError("not an XLIFF 1.2 document (<xliff version=\"1.2\"> in its namespace)", file=shown,
                         line=root.sourceline)
    files = root.findall(_Q + "file")
    if len(files) != 1:
        raise InputError(f"holds {len(files)} <file> elements; romforge writes one per values file", file=shown,
                         line=root.sourceline)
    file = files[0]
    language = file.get("target-language") or ""
    try:
        found = LocaleTag.parse(language)
    except ValueError:
        raise InputError(f"unknown language {language!r} in target-language", file=shown,
                         line=file.sourceline) from None
    categories = categories_of(found, file=shown, line=file.sourceline)
    if found != tag:
        raise InputError(f"the XLIFF file is for {found}, the pack for {tag}", file=shown, line=file.sourceline)
    xfile = ExchangeFile(package, xml_name, [], shown=shown, header_line=file.sourceline)
    header = file.find(_Q + "header")
    for note in header.findall(_Q + "note") if header is not None else []:
        key = (note.get("from") or "").removeprefix("romforge-xml-")
        if key == "prologue":
            xfile.prologue = note.text or ""
        elif key == "root":
            xfile.root_open = note.text or ""
        elif key == "epilogue":
            xfile.epilogue = note.text or ""
    body = file.find(_Q + "body")
    for element in body if body is not None else []:
        if not isinstance(element.tag, str):
            continue
        if element.tag == _Q + "trans-unit":
            _string(xfile, element)
        elif element.tag == _Q + "group" and element.get("restype") in _GROUP_KIND:
            _group(xfile, element, _GROUP_KIND[element.get("restype")], categories)
        else:
            raise InputError(f"<{etree.QName(element).localname}> is not a unit romforge wrote", file=shown,
                             line=element.sourceline)
    return xfile


def _string(xfile: ExchangeFile, tu: etree._Element) -> None:
    name, product, index = parse_context(tu.get("resname") or tu.get("id") or "", file=xfile.shown,
                                         line=tu.sourceline)
    text, obsolete, line = _target(tu, xfile.shown)
    attributes = _attributes(tu, xfile.shown)
    if product and ("product", product) not in attributes:
        attributes.append(("product", product))
    xfile.units.append(Unit(name, STRING, {"": text} if text else {}, comments=_notes(tu, "translator"),
                            attributes=attributes, obsolete=obsolete, line=tu.sourceline,
                            lines={"": line}))


def _group(xfile: ExchangeFile, group: etree._Element, kind: str, categories: list[str]) -> None:
    file = xfile.shown
    name, product, _ = parse_context(group.get("resname") or group.get("id") or "", file=file, line=group.sourceline)
    units = group.findall(_Q + "trans-unit")
    if not units:
        raise InputError(f"<group> '{name}' has no trans-unit", file=file, line=group.sourceline)
    unit = Unit(name, kind, {}, comments=_notes(units[0], "translator"), attributes=_attributes(units[0], file),
                line=group.sourceline)
    if product and ("product", product) not in unit.attributes:
        unit.attributes.append(("product", product))
    keys = []
    for tu in units:
        ident = tu.get("id") or ""
        key = ident[ident.rfind("[") + 1:-1] if ident.endswith("]") and "[" in ident else ""
        keys.append(key)
        text, obsolete, line = _target(tu, file)
        unit.obsolete = unit.obsolete or obsolete
        if kind == ARRAY:
            if key != str(len(keys) - 1):
                raise InputError(f"array item id {ident!r}: expected {name}[{len(keys) - 1}]", file=file,
                                 line=tu.sourceline)
            comments = _notes(tu, "xml-item-comment")
            if comments:
                unit.item_comments[key] = comments
        if text:
            unit.target[key] = text
        unit.lines[key] = line
    if kind == PLURALS and keys != categories:
        raise InputError(f"plurals '{name}' has the forms {', '.join(keys) or 'none'}, but the locale has "
                         f"{len(categories)} ({', '.join(categories)})", file=file, line=group.sourceline)
    xfile.units.append(unit)

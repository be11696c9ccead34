"""The form both exchange formats carry: one translated values file as a list of units.

A unit is one `<string>`, `<plurals>` or `<string-array>`: its translation exactly as
strings.xml holds it (escapes, `<xliff:g>` placeholders and markup included, so a round
trip changes no byte), the comments written right before it, its attributes other than
`name` (`translatable`, `formatted`, `product`, …) and the source text next to it for the
translator. The file keeps what surrounds the resources verbatim (XML declaration and
header comment, the `<resources>` start tag, what follows the last resource), and is
written back in Android's usual layout: one resource per line, four spaces, items of
plurals and arrays one per line below them, plural items in CLDR order.

Everything read back from a PO or XLIFF file is checked here before it can reach
strings.xml: resource and attribute names, each translation as well-formed XML content
(through the hardened parser: no DTD, no entities), comments, and the verbatim parts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from xml.sax.saxutils import escape, quoteattr

from lxml import etree

from romforge.errors import InputError
from romforge.locales.check import QUANTITIES, read_values_bytes, plural_categories
from romforge.locales.pack import LocalePack, LocaleTag
from romforge.locales.resxml import ARRAY, PLURALS, STRING, XLIFF_NS, Resource, Value, ValuesFile, raw_reader
from romforge.xmlsafe import XmlSyntaxError, parse_xml

INDENT = "    "
PROLOGUE = '<?xml version="1.0" encoding="utf-8"?>\n'
ROOT = "<resources>"
ROOT_XLIFF = f'<resources xmlns:xliff="{XLIFF_NS}">'
EPILOGUE = "\n</resources>\n"
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")
_ATTR = re.compile(r"^[A-Za-z_][\w.\-]*(?::[A-Za-z_][\w.\-]*)?$")
_CONTEXT = re.compile(r"^(?P<name>[A-Za-z_][A-Za-z0-9_.]*)(?:@(?P<product>[\w.\-]+))?(?:\[(?P<index>\d+)\])?$", re.ASCII)
_COMMENT = r"<!--(?:[^-]|-(?!-))*-->"
_PROLOGUE = re.compile(rf"^(?:<\?xml[^<>]*\?>)?(?:\s|{_COMMENT})*$")
_EPILOGUE = re.compile(rf"^(?:\s|{_COMMENT})*</resources\s*>\s*$")
_ROOT_OPEN = re.compile(r'^<resources(?:\s+[A-Za-z_][\w.\-]*(?::[A-Za-z_][\w.\-]*)?="[^"<&]*")*\s*>$')


@dataclass
class Unit:
    name: str
    kind: str  # string | plurals | string-array
    target: dict[str, str]  # key ("" | quantity | item index) → translation as written; absent = untranslated
    source: dict[str, str] = field(default_factory=dict)  # key → source text as Android XML (for the translator)
    comments: list[str] = field(default_factory=list)  # text of each <!-- --> right before the element
    item_comments: dict[str, list[str]] = field(default_factory=dict)  # string-array: before item key
    attributes: list[tuple[str, str]] = field(default_factory=list)  # all but name, in order
    obsolete: bool = False  # the source has no such name any more
    line: int | None = None  # in the exchange file (messages on import)
    lines: dict[str, int] = field(default_factory=dict)  # key → line in the exchange file

    @property
    def product(self) -> str | None:
        return dict(self.attributes).get("product")

    @property
    def context(self) -> str:
        """The name PO's msgctxt and XLIFF's resname carry: name, or name@product."""
        return f"{self.name}@{self.product}" if self.product else self.name


@dataclass
class ExchangeFile:
    package: str
    xml_name: str  # strings.xml
    units: list[Unit]
    prologue: str = PROLOGUE
    root_open: str | None = None  # None: <resources>, with xmlns:xliff when a translation uses it
    epilogue: str = EPILOGUE
    shown: str = ""  # the exchange file, for messages
    header_line: int | None = None


def parse_context(text: str, *, file: str, line: int | None) -> tuple[str, str | None, int | None]:
    """msgctxt / resname → (name, product, array index)."""
    m = _CONTEXT.match(text or "")
    if not m:
        raise InputError(f"{text!r} does not name an Android resource (name, name@product or name[index])",
                         file=file, line=line)
    return m.group("name"), m.group("product"), int(m.group("index")) if m.group("index") else None


# ---- strings.xml → units ------------------------------------------------------------


def source_fragment(value: Value) -> str:
    """A source value as Android XML, for the translator's eyes (placeholders kept, other markup not)."""
    def android(text: str) -> str:
        text = text.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t")
        return escape(text.replace("'", "\\'").replace('"', '\\"'))

    out = android(value.text)
    if out.startswith(("@", "?")):
        out = "\\" + out
    for ident, content in value.xliff:
        inner = android(content)
        at = out.find(inner)
        if ident and at >= 0:
            tag = f"<xliff:g id={quoteattr(ident)}>{inner}</xliff:g>"
            out = out[:at] + tag + out[at + len(inner):]
    return out


def _source_texts(res: Resource | None, kind: str, keys: list[str]) -> dict[str, str]:
    if res is None:
        return {}
    items = dict(res.values)
    if kind == PLURALS:
        other = items.get("other") or (res.values[-1][1] if res.values else None)
        return {k: source_fragment(items.get(k, other)) for k in keys if items.get(k, other) is not None}
    return {k: source_fragment(v) for k, v in res.values}


def _qualified(element: etree._Element, key: str) -> str:
    if not key.startswith("{"):
        return key
    uri, local = key[1:].split("}", 1)
    prefix = next((p for p, u in element.nsmap.items() if u == uri and p), None)
    return f"{prefix}:{local}" if prefix else local


def categories_of(tag: LocaleTag, *, file: str, line: int | None = None) -> list[str]:
    """The locale's CLDR plural categories in PO index order (zero one two few many other)."""
    found = plural_categories(tag)
    if found is None:
        raise InputError(f"unknown language {str(tag)!r}: CLDR (Babel) has no plural rules for it", file=file,
                         line=line)
    return [q for q in QUANTITIES if q in found]


def read_translation(path_data: bytes, shown: str, package: str, xml_name: str,
                     source: dict[tuple[str, str | None], Resource], categories: list[str]) -> ExchangeFile:
    """One translated values file, exactly as written, as units (it must be well-formed: run locale check)."""
    try:
        reader = raw_reader(path_data, file=shown)
    except XmlSyntaxError as exc:
        raise InputError(f"{exc.message}; fix it first (romforge locale check shows every problem)",
                         file=shown, line=exc.line, column=exc.column) from None
    text, masked = reader.text, reader.masked
    root = reader.tree.getroot()
    root_span = reader.content_span(root)
    start = reader.offsets.get(root)
    if root.tag != "resources" or root_span is None or start is None:
        raise InputError("the root element must be <resources>", file=shown, line=root.sourceline)
    units: list[Unit] = []
    pending: list[str] = []
    last_end = root_span[0]
    for element in root:
        if isinstance(element, etree._Comment):
            pending.append(element.text or "")
            continue
        if not isinstance(element.tag, str):
            continue
        line, _ = reader.where(element)
        kind, name = element.tag, element.get("name")
        if kind not in (STRING, PLURALS, ARRAY) or not name:
            raise InputError(f"<{kind}> cannot be exported: only named <string>, <plurals> and <string-array> "
                             "(romforge locale check shows why)", file=shown, line=line)
        attributes = [(_qualified(element, k), v) for k, v in element.attrib.items() if k != "name"]
        unit = Unit(name, kind, {}, comments=pending, attributes=attributes)
        pending = []
        span = reader.content_span(element)
        assert span is not None  # strictly parsed: every element has its position
        if kind == STRING:
            unit.target[""] = text[span[0]:span[1]]
        else:
            _read_items(reader, element, unit, categories, shown)
        if kind == PLURALS:  # CLDR order, as they are written back
            unit.target = {q: unit.target[q] for q in QUANTITIES if q in unit.target}
        res = source.get((name, unit.product)) or source.get((name, None))
        unit.obsolete = not any(key[0] == name for key in source) if res is None else False
        unit.source = _source_texts(res, kind, list(unit.target) if kind != PLURALS else categories)
        units.append(unit)
        last_end = masked.find(">", span[1]) + 1 if span[1] > span[0] or masked[span[0] - 2] != "/" else span[1]
    return ExchangeFile(package, xml_name, units, text[:start], text[start:root_span[0]], text[last_end:], shown)


def _read_items(reader, element: etree._Element, unit: Unit, categories: list[str], shown: str) -> None:
    pending: list[str] = []
    index = 0
    for item in element:
        line = item.sourceline
        if isinstance(item, etree._Comment):
            if unit.kind == PLURALS:
                raise InputError("a comment inside <plurals> cannot be carried to PO/XLIFF: move it above the "
                                 "<plurals>", file=shown, line=line)
            pending.append(item.text or "")
            continue
        if not isinstance(item.tag, str):
            continue
        extra = [k for k in item.attrib if k != "quantity"]
        if item.tag != "item" or extra or (unit.kind == ARRAY and "quantity" in item.attrib):
            raise InputError(f"<{item.tag}> with {', '.join(extra) or 'this form'} inside <{unit.kind}> cannot be "
                             "exported (romforge locale check shows why)", file=shown, line=line)
        span = reader.content_span(item)
        assert span is not None
        if unit.kind == PLURALS:
            quantity = item.get("quantity", "")
            if quantity not in categories:
                raise InputError(f"quantity {quantity!r} is not one of this locale's plural forms "
                                 f"({', '.join(categories)}): fix it first (romforge locale check)",
                                 file=shown, line=line)
            if quantity in unit.target:
                raise InputError(f"quantity {quantity!r} appears twice", file=shown, line=line)
            unit.target[quantity] = reader.text[span[0]:span[1]]
        else:
            if pending:
                unit.item_comments[str(index)] = pending
                pending = []
            unit.target[str(index)] = reader.text[span[0]:span[1]]
            index += 1


def untranslated(res: Resource, categories: list[str]) -> Unit:
    keys = categories if res.kind == PLURALS else [k for k, _ in res.values]
    attributes = [("product", res.product)] if res.product else []
    return Unit(res.name, res.kind, {}, _source_texts(res, res.kind, keys), attributes=attributes)


def pack_units(pack: LocalePack, sources: dict[str, ValuesFile]) -> list[ExchangeFile]:
    """Every translated file of the pack as units, plus each target's untranslated strings (in
    its strings.xml, or the first file), in source order after the translated ones."""
    categories = categories_of(pack.tag, file=pack.shown)
    out: list[ExchangeFile] = []
    for package in pack.targets:
        source: dict[tuple[str, str | None], Resource] = {}
        for res in sources[package].resources if package in sources else []:
            source.setdefault(res.key, res)
        files = [read_translation(read_values_bytes(f.path, f.shown), f.shown, package, f.path.name, source, categories)
                 for f in pack.files_for(package)]
        done = {u.name for x in files for u in x.units}  # as the check counts missing: by name
        missing = [untranslated(r, categories) for r in source.values() if r.translatable and r.name not in done]
        if missing:
            home = next((x for x in files if x.xml_name == "strings.xml"), files[0] if files else None)
            if home is None:
                home = ExchangeFile(package, "strings.xml", [])
                files.append(home)
            home.units += missing
        out += files
    return out


# ---- units → strings.xml ------------------------------------------------------------


def _check_fragment(text: str, root_open: str, *, what: str, file: str, line: int | None) -> None:
    """`text` must be the content of exactly one element: it can never close the one it is written into."""
    try:
        root = parse_xml(f"{root_open}<x>{text}</x></resources>".encode("utf-8"), source=file).getroot()
    except XmlSyntaxError as exc:
        raise InputError(f"{what} is not well-formed Android XML ({exc.message.removeprefix('invalid XML: ')})",
                         file=file, line=line) from None
    except InputError as exc:
        raise InputError(f"{what}: {exc.message}", file=file, line=line) from None
    children = [c for c in root if isinstance(c.tag, str)]
    if len(children) != 1 or len(root) != 1 or (root[0].tail or "").strip() or (root.text or "").strip():
        raise InputError(f"{what} closes the element it belongs to", file=file, line=line)


def _check_comment(text: str, *, file: str, line: int | None) -> None:
    if "--" in text or text.endswith("-"):
        raise InputError("a comment may not contain '--' or end with '-' (XML)", file=file, line=line)


def validate(xfile: ExchangeFile) -> None:
    """Everything that will reach strings.xml, checked; one InputError naming the exchange file and line."""
    file = xfile.shown
    if not _PROLOGUE.match(xfile.prologue):
        raise InputError("the recorded XML prologue may hold only the XML declaration and comments", file=file,
                         line=xfile.header_line)
    if not _EPILOGUE.match(xfile.epilogue):
        raise InputError("the recorded end of the file may hold only comments and </resources>", file=file,
                         line=xfile.header_line)
    root_open = root_tag(xfile)
    if not _ROOT_OPEN.match(root_open):
        raise InputError(f"the recorded root tag {root_open!r} is not a <resources> start tag", file=file,
                         line=xfile.header_line)
    _check_fragment("", root_open, what="the recorded root tag", file=file, line=xfile.header_line)
    seen: set[str] = set()
    for unit in xfile.units:
        if not _NAME.match(unit.name):
            raise InputError(f"{unit.name!r} is not an Android resource name", file=file, line=unit.line)
        if unit.context in seen and unit.target:
            raise InputError(f"'{unit.context}' appears twice", file=file, line=unit.line)
        seen.add(unit.context)
        for key, _ in unit.attributes:
            if not _ATTR.match(key) or key in ("name", "quantity") or key.startswith("xmlns"):
                raise InputError(f"{key!r} is not an attribute a resource may carry", file=file, line=unit.line)
        attrs = "".join(f" {k}={quoteattr(v)}" for k, v in unit.attributes)
        _check_fragment(f"<x{attrs}/>", root_open, what=f"the attributes of '{unit.context}'", file=file,
                        line=unit.line)
        for comment in unit.comments + [c for cs in unit.item_comments.values() for c in cs]:
            _check_comment(comment, file=file, line=unit.line)
        for key, fragment in unit.target.items():
            _check_fragment(fragment, root_open, what=f"the translation of '{unit.context}'", file=file,
                            line=unit.lines.get(key, unit.line))


def root_tag(xfile: ExchangeFile) -> str:
    if xfile.root_open is not None:
        return xfile.root_open
    uses_xliff = any("xliff:" in t for u in xfile.units for t in u.target.values())
    return ROOT_XLIFF if uses_xliff else ROOT


def write_xml(xfile: ExchangeFile) -> tuple[bytes, dict[int, int | None]]:
    """strings.xml bytes, and for each line of it that starts a resource or item, the exchange file's line."""
    parts = [xfile.prologue, root_tag(xfile)]
    line = "".join(parts).count("\n") + 1
    where: dict[int, int | None] = {}

    def put(text: str, origin: int | None = None) -> None:
        nonlocal line
        line += 1
        if origin is not None:
            where[line] = origin
        parts.append(f"\n{text}")
        line += text.count("\n")

    for unit in xfile.units:
        if not unit.target:
            continue
        for comment in unit.comments:
            put(f"{INDENT}<!--{comment}-->")
        attrs = "".join(f" {k}={quoteattr(v)}" for k, v in [("name", unit.name), *unit.attributes])
        if unit.kind == STRING:
            put(f"{INDENT}<string{attrs}>{unit.target['']}</string>", unit.lines.get("", unit.line))
            continue
        put(f"{INDENT}<{unit.kind}{attrs}>", unit.line)
        for key, fragment in unit.target.items():
            for comment in unit.item_comments.get(key, []):
                put(f"{INDENT * 2}<!--{comment}-->")
            quantity = f" quantity={quoteattr(key)}" if unit.kind == PLURALS else ""
            put(f"{INDENT * 2}<item{quantity}>{fragment}</item>", unit.lines.get(key, unit.line))
        put(f"{INDENT}</{unit.kind}>")
    parts.append(xfile.epilogue)
    return "".join(parts).encode("utf-8"), where

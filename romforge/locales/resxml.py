"""Android string resources (`res/values*/strings.xml`) as translators write them.

Two readings of one file: lxml (hardened, via xmlsafe) gives the structure; a scan of the
raw text gives every character's line and column, so a finding can point at the exact
apostrophe or backslash. The text a phone shows is worked out the way aapt2 does it:
`\\` escapes, `"` quoting, whitespace collapsed outside quotes.
"""

from __future__ import annotations

import bisect
import html.entities
import re
from dataclasses import dataclass, field
from typing import NamedTuple

from lxml import etree

from romforge.errors import Finding
from romforge.xmlsafe import XmlSyntaxError, parse_xml

STRING, PLURALS, ARRAY = "string", "plurals", "string-array"
TRANSLATABLE_KINDS = (STRING, PLURALS, ARRAY)
XLIFF_NS = "urn:oasis:names:tc:xliff:document:1.2"
XLIFF_G = f"{{{XLIFF_NS}}}g"
# Tags Android's string resources render (android.text.Html / aapt2 spans).
KNOWN_MARKUP = frozenset({"b", "i", "u", "tt", "big", "small", "sup", "sub", "strike", "font", "a", "annotation",
                          "span", "li", "ul", "ol", "em", "strong", "br", "p", "div", "del", "s"})
_ESCAPABLE = {"n": "\n", "t": "\t", "'": "'", '"': '"', "\\": "\\", "@": "@", "?": "?"}
_START_TAG = re.compile(r"<([A-Za-z_][\w:.\-]*)")
_MASKED = re.compile(r"<!--.*?-->|<!\[CDATA\[.*?\]\]>|<\?.*?\?>", re.S)


@dataclass(frozen=True)
class ResFinding(Finding):
    """A finding about one resource: `name` is the string, plurals or array it is about."""

    name: str | None = None
    damaged: bool = False  # read by recovery from a part of the file that is not well-formed

    def to_json(self) -> dict:
        return {"file": self.file, "line": self.line, "column": self.column, "rule": self.rule,
                "severity": self.severity, "name": self.name, "message": self.message, "damaged": self.damaged}

    def format(self) -> str:
        text = super().format()
        return f"{text} (damaged region: read by recovery)" if self.damaged else text


class Value(NamedTuple):
    """One <string> or one <item>: the shown text and what a check compares (a tuple: there are many)."""

    text: str  # as the phone shows it (escapes resolved, quotes removed, whitespace collapsed)
    line: int
    column: int
    markup: tuple[str, ...] = ()  # markup tag names (not xliff:g), sorted
    xliff: tuple[tuple[str | None, str], ...] = ()  # (id, content) of each <xliff:g>, in order
    reference_at: tuple[int, int] | None = None  # where an unescaped leading @ or ? stands


@dataclass
class Resource:
    kind: str  # string | plurals | string-array
    name: str
    file: str
    line: int
    column: int
    translatable: bool = True
    formatted: bool = True
    product: str | None = None
    values: list[tuple[str, Value]] = field(default_factory=list)  # key: "" | quantity | item index
    damaged: bool = False  # read by recovery from a part of the file that is not well-formed

    @property
    def key(self) -> tuple[str, str | None]:
        return (self.name, self.product)


@dataclass
class ValuesFile:
    file: str
    resources: list[Resource]
    findings: list[ResFinding]
    root_line: int = 1
    has_xliff: bool = True  # False for sources read back from a compiled APK (aapt2 drops xliff:g)
    readable: bool = True  # False when not even recovery could read the file


# ---- raw positions ------------------------------------------------------------------


class _Positions:
    def __init__(self, text: str) -> None:
        self.text = text
        self.starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def at(self, offset: int) -> tuple[int, int]:
        line = bisect.bisect_right(self.starts, offset)
        return line, offset - self.starts[line - 1] + 1


def _masked(text: str) -> str:
    """Comments, CDATA and processing instructions blanked out (newlines kept), offsets unchanged."""
    return _MASKED.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), text)


def _tag_end(text: str, start: int) -> int:
    """Offset of the '>' closing the tag that starts at `start` (attribute values may hold '>')."""
    quote = None
    for i in range(start + 1, len(text)):
        ch = text[i]
        if quote:
            if ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
        elif ch == ">":
            return i
    return len(text) - 1


def _content_end(masked: str, start: int) -> int:
    """Where the element whose content starts at `start` closes (its '</' offset)."""
    depth = 1
    i = start
    while True:
        i = masked.find("<", i)
        if i < 0:
            return len(masked)
        end = _tag_end(masked, i)
        if masked.startswith("</", i):
            depth -= 1
            if depth == 0:
                return i
        elif masked[end - 1] != "/":
            depth += 1
        i = end + 1


def _entity(ref: str) -> str | None:
    if ref.startswith("#x") or ref.startswith("#X"):
        return chr(int(ref[2:], 16))
    if ref.startswith("#"):
        return chr(int(ref[1:]))
    return html.entities.name2codepoint.get(ref) and chr(html.entities.name2codepoint[ref])


def _chars(text: str, start: int, end: int) -> list[tuple[str, int]]:
    """The characters of element content as the XML parser delivers them, each with its raw offset."""
    out: list[tuple[str, int]] = []
    i = start
    while i < end:
        if text.startswith("<!--", i):
            i = text.find("-->", i) + 3
        elif text.startswith("<![CDATA[", i):
            close = text.find("]]>", i)
            out.extend((text[j], j) for j in range(i + 9, close))
            i = close + 3
        elif text[i] == "<":
            i = _tag_end(text, i) + 1
        elif text[i] == "&":
            semi = text.find(";", i)
            try:
                decoded = _entity(text[i + 1:semi])
            except (ValueError, OverflowError):
                decoded = None
            out.append((decoded or "&", i))
            i = semi + 1 if decoded else i + 1
        else:
            out.append((text[i], i))
            i += 1
    return out


# ---- aapt2's reading of a string -----------------------------------------------------


@dataclass
class _Lexed:
    text: str
    problems: list[tuple[str, str, int, str]]  # (rule, severity, offset, message)
    reference_at: int | None


def _lex(chars: list[tuple[str, int]]) -> _Lexed:
    out: list[str] = []
    problems: list[tuple[str, str, int, str]] = []
    quotes: list[int] = []
    quoted = False
    space = False
    reference_at = None
    apostrophe_seen = False
    k, n = 0, len(chars)
    while k < n:
        ch, off = chars[k]
        if ch == "\\":
            if k + 1 >= n:
                problems.append(("escape", "error", off, "the text ends with a lone backslash: write \\\\ for a "
                                                        "backslash"))
                break
            nxt = chars[k + 1][0]
            if nxt == "u":
                digits = "".join(c for c, _ in chars[k + 2:k + 6])
                if len(digits) == 4 and all(c in "0123456789abcdefABCDEF" for c in digits):
                    ch_out, step = chr(int(digits, 16)), 6
                else:
                    problems.append(("escape", "error", off, f"\\u must be followed by 4 hex digits, not "
                                                            f"{digits[:4]!r}: write \\u2026 style escapes"))
                    ch_out, step = "u", 2
            elif nxt in _ESCAPABLE:
                ch_out, step = _ESCAPABLE[nxt], 2
            else:
                problems.append(("escape", "warning", off, f"'\\{nxt}' is not an Android escape; aapt2 drops the "
                                                          f"backslash (known: \\n \\t \\' \\\" \\\\ \\@ \\? \\uXXXX)"))
                ch_out, step = nxt, 2
            if space and out:
                out.append(" ")
            space = False
            out.append(ch_out)
            k += step
            continue
        if ch == '"':
            quotes.append(off)
            quoted = not quoted
            k += 1
            continue
        if not quoted and ch.isspace():
            space = True
            k += 1
            continue
        if ch == "'" and not quoted and not apostrophe_seen:
            apostrophe_seen = True
            problems.append(("apostrophe", "error", off, "unescaped apostrophe: write \\' (aapt2 rejects or "
                                                        "mangles a bare ')"))
        if not out and not quoted and ch in "@?":
            reference_at = off
        if space and out:
            out.append(" ")
        space = False
        out.append(ch)
        k += 1
    if quotes:
        significant = [off for _, off in chars if not _.isspace()]
        wraps_all = len(quotes) == 2 and significant and quotes[0] == significant[0] and quotes[1] == significant[-1]
        if not wraps_all:
            problems.append(("quote", "warning", quotes[0], 'unescaped double quote: aapt2 removes it from the '
                                                           'text; write \\" to show a quote'))
    return _Lexed("".join(out), problems, reference_at)


def _needs_lexing(text: str) -> bool:
    return "\\" in text or '"' in text or "'" in text or text.lstrip()[:1] in ("@", "?")


# ---- parsing a file -----------------------------------------------------------------


def _markup(element: etree._Element) -> tuple[tuple[str, ...], tuple[tuple[str | None, str], ...]]:
    tags: list[str] = []
    xliff: list[tuple[str | None, str]] = []
    for child in element.iterdescendants():
        if not isinstance(child.tag, str):
            continue
        if child.tag == XLIFF_G:
            xliff.append((child.get("id"), "".join(child.itertext())))
        else:
            tags.append(etree.QName(child).localname if child.tag.startswith("{") else child.tag)
    return tuple(sorted(tags)), tuple(xliff)


def decoded(data: bytes) -> str:
    """The file's text as the offsets of findings count it."""
    return data.decode("utf-8", "replace").lstrip("\ufeff")


class _Reader:
    def __init__(self, text: str, tree: etree._ElementTree, file: str, *, damaged: bool = False,
                 masked: str | None = None, positions: _Positions | None = None) -> None:
        self.file = file
        self.tree = tree
        self.damaged = damaged
        self.text = text
        self.pos = positions or _Positions(text)
        self.masked = masked if masked is not None else _masked(text)
        elements = [e for e in self.tree.getroot().iter() if isinstance(e.tag, str)]
        starts = list(_START_TAG.finditer(self.masked))
        if len(starts) == len(elements):
            self.offsets: dict[etree._Element, int] = {e: m.start() for e, m in zip(elements, starts)}
        else:  # a recovered tree: match each element to the next start tag of its name at or after its line
            self.offsets = self._match_by_line(elements, starts)
        self.findings: list[ResFinding] = []

    def _match_by_line(self, elements: list[etree._Element], starts: list[re.Match]) -> dict[etree._Element, int]:
        offsets: dict[etree._Element, int] = {}
        k = 0
        for element in elements:
            qname = etree.QName(element)
            name = f"{element.prefix}:{qname.localname}" if element.prefix else qname.localname
            line = element.sourceline or 1
            j = k
            while j < len(starts) and (starts[j].group(1) != name or self.pos.at(starts[j].start())[0] < line):
                j += 1
            if j < len(starts):
                offsets[element] = starts[j].start()
                k = j + 1
        return offsets

    def where(self, element: etree._Element) -> tuple[int, int]:
        start = self.offsets.get(element)
        if start is None:
            return element.sourceline or 1, 1
        return self.pos.at(start)

    def content_span(self, element: etree._Element) -> tuple[int, int] | None:
        """[start, end) of the element's content as written (between its tags); None without positions."""
        start = self.offsets.get(element)
        if start is None:
            return None
        open_end = _tag_end(self.masked, start)
        if self.masked[open_end - 1] == "/":
            return open_end + 1, open_end + 1
        return open_end + 1, _content_end(self.masked, open_end + 1)

    def finding(self, element: etree._Element, rule: str, severity: str, message: str, name: str | None,
                offset: int | None = None) -> None:
        line, column = self.pos.at(offset) if offset is not None else self.where(element)
        self.findings.append(ResFinding(self.file, line, rule, severity, message, column, name, self.damaged))

    def value(self, element: etree._Element, name: str) -> Value:
        start = self.offsets.get(element)
        line, column = self.pos.at(start) if start is not None else (element.sourceline or 1, 1)
        if len(element):
            markup, xliff = _markup(element)
            plain = "".join(element.itertext())
        else:  # the common case, a plain string: no markup to collect
            markup, xliff, plain = (), (), element.text or ""
        if start is None or not _needs_lexing(plain):
            # nothing aapt2 would treat specially (or no positions): whitespace collapse is all there is
            return Value(" ".join(plain.split()), line, column, markup, xliff)
        open_end = _tag_end(self.masked, start)
        if self.masked[open_end - 1] == "/":
            return Value("", line, column, markup, xliff)
        end = _content_end(self.masked, open_end + 1)
        lexed = _lex(_chars(self.text, open_end + 1, end))
        for rule, severity, offset, message in lexed.problems:
            self.finding(element, rule, severity, message, name, offset)
        ref = self.pos.at(lexed.reference_at) if lexed.reference_at is not None else None
        return Value(lexed.text, line, column, markup, xliff, ref)


def raw_reader(data: bytes, *, file: str) -> _Reader:
    """A strictly parsed values file with every element's raw position (for the PO/XLIFF exchange)."""
    return _Reader(decoded(data), parse_xml(data, source=file), file)


def read_values(data: bytes, *, file: str, translation: bool = True, recover: bool = False) -> ValuesFile:
    """Parse one values XML file; raises XmlSyntaxError (with line) when it is not well-formed.

    A source file may hold any resource type (only the translatable ones are kept); a
    translation holding anything but strings is reported. With `recover`, a file that is
    not well-formed gives its syntax errors as `invalid-xml` findings and everything that
    can still be read (romforge/locales/recover.py) instead of raising.
    """
    try:
        tree = parse_xml(data, source=file)
    except XmlSyntaxError:
        if not recover:
            raise
        from romforge.locales.recover import read_damaged

        return read_damaged(data, file=file, translation=translation)
    return read_tree(_Reader(decoded(data), tree, file), translation=translation)


def read_tree(reader: _Reader, *, translation: bool) -> ValuesFile:
    """The resources of a parsed values file, each with its raw position."""
    file = reader.file
    root = reader.tree.getroot()
    resources: list[Resource] = []
    if root.tag != "resources":
        reader.finding(root, "not-resources", "error", f"the root element is <{root.tag}>; a values file holds "
                                                      "<resources>", None)
        return ValuesFile(file, [], reader.findings, root.sourceline or 1)
    for element in root:
        if not isinstance(element.tag, str):
            continue
        kind = element.tag
        name = element.get("name")
        if kind not in TRANSLATABLE_KINDS:
            if not translation:
                continue
            reader.finding(element, "unknown-element", "error",
                           f"<{kind}> does not belong in a translation: only <string>, <plurals> and "
                           "<string-array>", name)
            continue
        if not name:
            reader.finding(element, "missing-name", "error", f"<{kind}> has no name attribute", None)
            continue
        line, column = reader.where(element)
        res = Resource(kind, name, file, line, column, translatable=element.get("translatable") != "false",
                       formatted=element.get("formatted") != "false", product=element.get("product"),
                       damaged=reader.damaged)
        if kind == STRING:
            res.values.append(("", reader.value(element, name)))
        else:
            for index, item in enumerate(child for child in element if isinstance(child.tag, str)):
                if item.tag != "item":
                    reader.finding(item, "unknown-element", "error", f"<{item.tag}> inside <{kind}>: only <item>",
                                   name)
                    continue
                key = item.get("quantity", "") if kind == PLURALS else str(index)
                if kind == PLURALS and not key:
                    reader.finding(item, "plural-quantity", "error", "<item> in <plurals> has no quantity "
                                                                     "attribute", name)
                    continue
                res.values.append((key, reader.value(item, name)))
        resources.append(res)
    return ValuesFile(file, resources, reader.findings, root.sourceline or 1)

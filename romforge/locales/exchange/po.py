"""gettext PO files for one translated values file (Weblate, Pootle, Poedit, Crowdin read them).

Written and read with Babel's `babel.messages` (already romforge's CLDR library; BSD).
One entry per string, per plurals (`msgid_plural`, one `msgstr[i]` per CLDR plural
category of the locale, in CLDR order; the `Plural-Forms` header is CLDR's rule turned
into a gettext expression by Babel) and per string-array item (`msgctxt "name[i]"`).
`msgctxt` is the resource name (`name@product` for product variants); msgid is the source
text, msgstr the translation as strings.xml holds it. Comments before a resource are
translator comments (`#`), its other attributes an extracted comment
(`#. xml-attributes: […]`), translations whose source is gone are obsolete entries (`#~`).
The header comment keeps the file's XML declaration, header comment, root tag and end.

Reading is strict: gettext's own `msgfmt --check` must accept the file first (its line
numbers name the problem), then Language and Plural-Forms must be this pack's locale.
"""

from __future__ import annotations

import datetime
import io
import json
import os
import re
import shutil
from pathlib import Path

from babel import Locale
from babel.messages.catalog import Catalog, Message
from babel.messages.pofile import PoFileError, read_po, write_po
from babel.plural import to_gettext

from romforge.errors import InputError, ToolMissingError
from romforge.locales.exchange.units import ExchangeFile, Unit, categories_of, parse_context
from romforge.locales.pack import LocalePack, LocaleTag
from romforge.locales.resxml import ARRAY, PLURALS, STRING
from romforge.run.process import run_program

EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)  # reproducible headers
_LAYOUT = ("prologue", "root", "epilogue")
_MARK = "romforge-xml-"
# words Babel substitutes in a header comment: kept out of the JSON by escaping their first letter
_PLACEHOLDERS = ("PROJECT", "VERSION", "YEAR", "ORGANIZATION", "Translations template")
_ATTRS = "xml-attributes: "
_ITEM_COMMENT = "xml-item-comment: "
_RAW_COMMENT = "xml-comment: "


def _json(value: object) -> str:
    text = json.dumps(value, ensure_ascii=False)
    for word in _PLACEHOLDERS:
        text = text.replace(word, f"\\u{ord(word[0]):04x}{word[1:]}")
    return text


def _comment_line(text: str) -> str:
    """An XML comment's text as one PO comment line: ' Title ' → 'Title'; anything else as JSON."""
    inner = text[1:-1]
    if len(text) >= 2 and text[0] == text[-1] == " " and inner == inner.strip() and inner and "\n" not in inner:
        return inner
    return _RAW_COMMENT + json.dumps(text, ensure_ascii=False)


def _comment_text(line: str, *, file: str, lineno: int | None) -> str:
    if line.startswith(_RAW_COMMENT):
        return _loads(line[len(_RAW_COMMENT):], str, file=file, line=lineno)
    return f" {line} "


def _loads(text: str, kind: type, *, file: str, line: int | None):
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    if not isinstance(value, kind):
        raise InputError(f"cannot read the recorded {kind.__name__} {text[:40]!r}", file=file, line=line)
    return value


def plural_forms(tag: LocaleTag) -> str:
    """CLDR's plural rule of the locale as gettext's Plural-Forms value."""
    return to_gettext(Locale.parse(tag.babel_id).plural_form).strip()


def _msgid(unit: Unit, key: str) -> str:
    return unit.source.get(key) or unit.target.get(key) or unit.context


def write_po_file(xfile: ExchangeFile, pack: LocalePack, origin: str) -> bytes:
    """The PO text of one values file of the pack (`origin` says which, in the header comment)."""
    categories = categories_of(pack.tag, file=pack.shown)
    layout = {"prologue": xfile.prologue, "root": xfile.root_open, "epilogue": xfile.epilogue}
    header = [f"# {pack.name} ({pack.locale}) for {xfile.package}: {origin}",
              "# Written by `romforge locale export`; `romforge locale import` makes the pack from it again.",
              *(f"# {_MARK}{key}: {_json(layout[key])}" for key in _LAYOUT)]
    catalog = Catalog(locale=pack.tag.babel_id, project=xfile.package, version=pack.version,
                      msgid_bugs_address="", last_translator=pack.maintainers[0], language_team=pack.name,
                      creation_date=EPOCH, revision_date=EPOCH, header_comment="\n".join(header), fuzzy=False)
    catalog.mime_headers = [("Plural-Forms", plural_forms(pack.tag))]
    for unit in xfile.units:
        for message in _messages(unit, categories):
            message.flags.discard("python-format")  # Java format strings: locale check checks them
            if unit.obsolete:
                catalog.obsolete[(message.id, message.context)] = message
            else:
                catalog[message.id] = message
    out = io.BytesIO()
    write_po(out, catalog, width=0, include_previous=False)
    return out.getvalue()


def _messages(unit: Unit, categories: list[str]) -> list[Message]:
    comments = [_comment_line(c) for c in unit.comments]
    auto = [_ATTRS + json.dumps(unit.attributes, ensure_ascii=False)] if unit.attributes else []
    if unit.kind == STRING:
        return [Message(_msgid(unit, ""), unit.target.get("", ""), context=unit.context, user_comments=comments,
                        auto_comments=auto)]
    if unit.kind == PLURALS:
        one = unit.source.get("one") or next(iter(unit.source.values()), None) or _msgid(unit, "other")
        ident = (one, unit.source.get("other") or one)
        return [Message(ident, tuple(unit.target.get(q, "") for q in categories), context=unit.context,
                        user_comments=comments, auto_comments=auto)]
    keys = sorted(set(unit.source) | set(unit.target), key=int)
    out = []
    for key in keys:
        item_comments = [_ITEM_COMMENT + json.dumps(c, ensure_ascii=False) for c in unit.item_comments.get(key, [])]
        first = key == keys[0]
        out.append(Message(_msgid(unit, key), unit.target.get(key, ""), context=f"{unit.context}[{key}]",
                           user_comments=(comments if first else []) + item_comments,
                           auto_comments=auto if first else []))
    return out


# ---- reading ------------------------------------------------------------------------


def msgfmt_check(path: Path, shown: str) -> None:
    """gettext's msgfmt must accept the file (syntax, header, plural forms, duplicates)."""
    msgfmt = shutil.which("msgfmt")
    if msgfmt is None:
        raise ToolMissingError("msgfmt", "gettext")
    proc = run_program([msgfmt, "--check", "-o", os.devnull, str(path)], capture_output=True, text=True,
                          env={**os.environ, "LC_ALL": "C", "LANGUAGE": "C"})
    if proc.returncode == 0:
        return
    found = [(int(m.group(1)), m.group(2)) for m in
             (re.match(r"^.*?:(\d+):(?:\d+:)? (.*)$", text) for text in proc.stderr.splitlines()) if m]
    for index, (line, message) in enumerate(found):
        if message.startswith("warning:"):
            continue
        if message.endswith("...") and index + 1 < len(found) and found[index + 1][1].startswith("..."):
            message = f"{message[:-3]} (line {line}) {found[index + 1][1][3:]} (line {found[index + 1][0]})"
        raise InputError(f"msgfmt: {message}", file=shown, line=line)
    raise InputError(f"msgfmt refused the file: {proc.stderr.strip().splitlines()[-1:] or 'no output'}", file=shown)


def _header_line(data: bytes, field: str) -> int | None:
    at = data.find(f'"{field}:'.encode())
    return data.count(b"\n", 0, at) + 1 if at >= 0 else None


def _msgstr_lines(lines: list[str], start: int | None) -> dict[int, int]:
    """Line of each msgstr / msgstr[i] of the entry whose msgid is on line `start`."""
    out: dict[int, int] = {}
    for number in range(start or 1, len(lines) + 1):
        text = lines[number - 1].removeprefix("#~").strip()
        m = re.match(r"msgstr(?:\[(\d+)\])?\s", text)
        if m:
            out[int(m.group(1) or 0)] = number
        elif out and not text.startswith('"'):
            break
    return out


def read_po_file(data: bytes, *, shown: str, tag: LocaleTag, package: str, xml_name: str,
                 path: Path | None = None) -> ExchangeFile:
    """A PO file back into units: its language and plural forms must be the pack's, and gettext's
    msgfmt (given the file's `path`) must accept it."""
    try:
        catalog = read_po(io.BytesIO(data), abort_invalid=True)
    except (PoFileError, UnicodeDecodeError, ValueError) as exc:
        if path is not None:
            msgfmt_check(path, shown)  # gettext's message and line, where it has one
        raise InputError(f"cannot read the PO file: {exc}", file=shown, line=getattr(exc, "lineno", None)) from None
    language = catalog.locale_identifier
    line = _header_line(data, "Language")
    if not language:
        raise InputError("the PO header has no Language", file=shown, line=1)
    try:
        found = LocaleTag.parse(str(language).replace("_", "-"))
    except ValueError:
        raise InputError(f"unknown language {language!r} in the PO header", file=shown, line=line) from None
    categories = categories_of(found, file=shown, line=line)
    if found != tag:
        raise InputError(f"the PO file is for {found}, the pack for {tag}", file=shown, line=line)
    forms_line = _header_line(data, "Plural-Forms")
    if forms_line is not None and catalog.num_plurals != len(categories):
        raise InputError(f"Plural-Forms has nplurals={catalog.num_plurals}, but {tag} has {len(categories)} plural "
                         f"forms in CLDR ({', '.join(categories)})", file=shown, line=forms_line)
    xfile = ExchangeFile(package, xml_name, [], shown=shown, header_line=1)
    _read_layout(catalog.header_comment or "", xfile)
    lines = data.decode("utf-8", "replace").splitlines()
    for message in catalog:
        if message.id:
            _add(xfile, message, categories, forms_line, _msgstr_lines(lines, message.lineno), obsolete=False)
    for message in catalog.obsolete.values():
        _add(xfile, message, categories, forms_line, _msgstr_lines(lines, message.lineno), obsolete=True)
    if path is not None:
        msgfmt_check(path, shown)
    return xfile


def _read_layout(comment: str, xfile: ExchangeFile) -> None:
    for number, text in enumerate(comment.splitlines(), 1):
        body = text.lstrip("#").strip()
        for key in _LAYOUT:
            if body.startswith(f"{_MARK}{key}: "):
                value = json.loads(body.split(": ", 1)[1]) if body.split(": ", 1)[1] != "null" else None
                if value is not None and not isinstance(value, str):
                    raise InputError(f"the recorded {key} must be a string", file=xfile.shown, line=number)
                if key == "prologue" and value is not None:
                    xfile.prologue = value
                elif key == "root":
                    xfile.root_open = value
                elif value is not None:
                    xfile.epilogue = value


def _add(xfile: ExchangeFile, message: Message, categories: list[str], forms_line: int | None,
         msgstr_lines: dict[int, int], *, obsolete: bool) -> None:
    file, line = xfile.shown, message.lineno
    name, product, index = parse_context(message.context or "", file=file, line=line)
    strings = message.string if isinstance(message.string, tuple) else (message.string or "",)
    if message.fuzzy:  # gettext does not use fuzzy translations: neither does the pack
        strings = tuple("" for _ in strings)
    attributes: list[tuple[str, str]] = []
    comments: list[str] = []
    item_comments: list[str] = []
    for text in message.auto_comments:
        if text.startswith(_ATTRS):
            pairs = _loads(text[len(_ATTRS):], list, file=file, line=line)
            if not all(isinstance(p, list) and len(p) == 2 and all(isinstance(v, str) for v in p) for p in pairs):
                raise InputError("xml-attributes must be a list of [name, value] pairs", file=file, line=line)
            attributes = [(k, v) for k, v in pairs]
    for text in message.user_comments:
        if text.startswith(_ITEM_COMMENT):
            item_comments.append(_loads(text[len(_ITEM_COMMENT):], str, file=file, line=line))
        else:
            comments.append(_comment_text(text, file=file, lineno=line))
    if product and ("product", product) not in attributes:
        attributes.append(("product", product))
    if message.pluralizable:
        if forms_line is None:
            raise InputError("a plural entry, but the PO header has no Plural-Forms", file=file, line=line)
        if len(strings) != len(categories):
            raise InputError(f"{len(strings)} plural form(s) (msgstr[n]), but the locale has {len(categories)} "
                             f"({', '.join(categories)})", file=file, line=line)
        target = {q: s for q, s in zip(categories, strings) if s}
        xfile.units.append(Unit(name, PLURALS, target, comments=comments, attributes=attributes, obsolete=obsolete,
                                line=line, lines={q: msgstr_lines.get(i, line) for i, q in enumerate(categories)}))
        return
    if index is None:
        target = {"": strings[0]} if strings[0] else {}
        xfile.units.append(Unit(name, STRING, target, comments=comments, attributes=attributes, obsolete=obsolete,
                                line=line, lines={"": msgstr_lines.get(0, line)}))
        return
    last = xfile.units[-1] if xfile.units else None
    if last is None or last.kind != ARRAY or last.name != name or last.product != product or \
            last.obsolete != obsolete:
        if index != 0:
            raise InputError(f"item {index} of '{name}' comes before its item 0", file=file, line=line)
        last = Unit(name, ARRAY, {}, comments=comments, attributes=attributes, obsolete=obsolete, line=line)
        xfile.units.append(last)
    elif index != len(last.lines):  # lines has one entry per item read
        raise InputError(f"item {index} of '{name}' is out of order (expected item {len(last.lines)})", file=file,
                         line=line)
    key = str(index)
    if strings[0]:
        last.target[key] = strings[0]
    last.lines[key] = msgstr_lines.get(0, line)
    if item_comments:
        last.item_comments[key] = item_comments

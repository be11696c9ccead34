"""The translator's check: a translated strings.xml against its source, rule by rule.

The rules are the ones Android lint (MissingTranslation, ExtraTranslation,
StringFormatMatches/Count/Invalid, MissingQuantity, UnusedQuantity, InconsistentArrays)
and Mozilla's compare-locales (missing/obsolete, placeables, escapes) apply, worded for a
translator. Plural categories per locale come from CLDR through Babel. README.md lists
every rule id and its severity.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from babel import Locale, UnknownLocaleError

from romforge.errors import InputError, shown_path
from romforge.locales.pack import LocalePack, LocaleTag, tag_from_qualifier
from romforge.locales.resxml import (KNOWN_MARKUP, PLURALS, STRING, ResFinding, Resource, Value,
                                     ValuesFile, read_values)
from romforge.safeio import decode_text, read_limited
from romforge.xmlsafe import MAX_XML_BYTES

ERROR, WARNING = "error", "warning"
QUANTITIES = ("zero", "one", "two", "few", "many", "other")
_FORMAT = re.compile(r"%(?:(\d+)\$)?([-#+ 0,(<]*)(\d+)?(?:\.\d+)?([tT][a-zA-Z]|[a-zA-Z%])")
_CONVERSIONS = {**dict.fromkeys("sS", "s"), **dict.fromkeys("doxX", "d"), **dict.fromkeys("feEgGaA", "f"),
                **dict.fromkeys("cC", "c"), **dict.fromkeys("bB", "b"), **dict.fromkeys("hH", "h")}
_TYPE_WORDS = {"s": "text (%s)", "d": "an integer (%d)", "f": "a decimal (%f)", "c": "a character (%c)",
               "b": "a boolean (%b)", "h": "a hash (%h)", "t": "a date/time (%t)"}


@dataclass(frozen=True)
class FormatArgs:
    args: dict[int, tuple[str, str]]  # index → (type class, as written)
    invalid: tuple[str, ...]
    escaped_percent: bool

    @property
    def used(self) -> bool:
        return bool(self.args) or self.escaped_percent


_NO_ARGS = FormatArgs({}, (), False)


def format_args(text: str) -> FormatArgs:
    """Java Formatter specifiers in `text`: %s, %1$d, %%, %n; a '%' that starts none is invalid."""
    if "%" not in text:
        return _NO_ARGS  # most strings: shared, never changed
    args: dict[int, tuple[str, str]] = {}
    invalid: list[str] = []
    escaped = False
    ordinary = 0
    last = 0
    i = text.find("%")
    while i >= 0:
        m = _FORMAT.match(text, i)
        if not m:
            invalid.append(text[i:i + 2])
            i = text.find("%", i + 1)
            continue
        conv = m.group(4)
        if conv == "%":
            escaped = True
        elif conv != "n":
            kind = "t" if conv[0] in "tT" and len(conv) == 2 else _CONVERSIONS.get(conv)
            if kind is None:
                invalid.append(m.group(0))
            else:
                if m.group(1):
                    index = int(m.group(1))
                elif "<" in m.group(2):
                    index = last
                else:
                    ordinary += 1
                    index = ordinary
                args.setdefault(index, (kind, m.group(0)))
                last = index
        i = text.find("%", m.end())
    return FormatArgs(args, tuple(invalid), escaped)


def plural_categories(tag: LocaleTag | None) -> frozenset[str] | None:
    """CLDR plural categories of the locale (always with 'other'); None when Babel does not know it."""
    if tag is None:
        return None
    for ident in (tag.babel_id, tag.language):
        try:
            return frozenset(Locale.parse(ident).plural_form.tags) | {"other"}
        except (UnknownLocaleError, ValueError):
            continue
    return None


class _Checker:
    def __init__(self, source: dict[str, Resource], *, has_xliff: bool, tag: LocaleTag | None) -> None:
        self.source = source
        self.has_xliff = has_xliff
        self.tag = tag
        self.categories = plural_categories(tag)
        self.findings: list[ResFinding] = []
        self.damaged = False  # the resource being checked was read by recovery

    def add(self, file: str, where: Value | Resource, rule: str, severity: str, message: str, name: str) -> None:
        self.findings.append(ResFinding(file, where.line, rule, severity, message, where.column, name, self.damaged))

    def add_at(self, file: str, pos: tuple[int, int], rule: str, severity: str, message: str, name: str) -> None:
        self.findings.append(ResFinding(file, pos[0], rule, severity, message, pos[1], name, self.damaged))

    # -- one value --
    def value(self, file: str, name: str, t: Value, s: Value, *, formatted: bool, strict_args: bool) -> None:
        if not t.text.strip() and s.text.strip():
            self.add(file, t, "empty", WARNING, "the translation is empty; Android would show nothing", name)
        if formatted:
            self.format(file, name, t, s, strict_args)
        if t.text.count("\n") != s.text.count("\n"):
            self.add(file, t, "newline", WARNING, f"the source has {s.text.count(chr(10))} line break(s) (\\n), "
                     f"the translation {t.text.count(chr(10))}", name)
        if t.reference_at and not s.text.startswith(("@", "?")):
            self.add_at(file, t.reference_at, "reference", ERROR, "a leading @ or ? makes Android read a resource "
                        "reference; write \\@ or \\? for the character itself", name)
        unknown = sorted(set(t.markup) - KNOWN_MARKUP)
        if unknown:
            self.add(file, t, "markup", WARNING, f"<{unknown[0]}> is not markup Android renders", name)
        elif t.markup != s.markup:  # both sorted
            self.add(file, t, "markup", WARNING, f"markup differs from the source: source uses "
                     f"{_tags(s.markup)}, translation {_tags(t.markup)}", name)
        if self.has_xliff and (t.xliff or s.xliff):
            self.xliff(file, name, t, s, strict_args)

    def format(self, file: str, name: str, t: Value, s: Value, strict: bool) -> None:
        sa, ta = format_args(s.text), format_args(t.text)
        if not sa.used:
            explicit = [w for _, w in ta.args.values() if "$" in w]
            if explicit:
                self.add(file, t, "format-count", ERROR, f"{explicit[0]} is not in the source, which has no "
                         "format arguments", name)
            return
        if ta.invalid:
            self.add(file, t, "format-invalid", ERROR, f"{ta.invalid[0]!r} is not a valid format argument: write "
                     "%% for a percent sign", name)
        missing = sorted(set(sa.args) - set(ta.args)) if strict else []
        extra = sorted(set(ta.args) - set(sa.args))
        if missing or extra:
            parts = []
            if missing:
                parts.append("missing " + ", ".join(sa.args[i][1] for i in missing))
            if extra:
                parts.append("not in the source: " + ", ".join(ta.args[i][1] for i in extra))
            self.add(file, t, "format-count", ERROR, f"format arguments differ from the source ({'; '.join(parts)});"
                     " the app would crash or show the wrong value", name)
        for index in sorted(set(sa.args) & set(ta.args)):
            if sa.args[index][0] != ta.args[index][0]:
                self.add(file, t, "format-type", ERROR, f"argument {index} is {_TYPE_WORDS[sa.args[index][0]]} in "
                         f"the source but {ta.args[index][1]} here", name)

    def xliff(self, file: str, name: str, t: Value, s: Value, strict: bool) -> None:
        if any(i is None for i, _ in t.xliff):
            self.add(file, t, "xliff-id", ERROR, "<xliff:g> needs the id attribute the source gives it", name)
            return
        sid, tid = Counter(i for i, _ in s.xliff), Counter(i for i, _ in t.xliff)
        missing, extra = sorted((sid - tid).elements()) if strict else [], sorted((tid - sid).elements())
        if missing or extra:
            detail = "; ".join(p for p in (f"missing id {', '.join(missing)}" if missing else "",
                                           f"unknown id {', '.join(extra)}" if extra else "") if p)
            self.add(file, t, "xliff-id", ERROR, f"<xliff:g> placeholders differ from the source ({detail})", name)
            return
        source_content = dict(s.xliff)
        for ident, content in t.xliff:
            if sid[ident] == 1 and tid[ident] == 1 and content.strip() != source_content[ident].strip():
                self.add(file, t, "xliff-content", WARNING, f"<xliff:g id=\"{ident}\"> holds {content!r}; keep "
                         f"the source's {source_content[ident]!r} (placeholders are not translated)", name)

    # -- one resource --
    def resource(self, t: Resource) -> None:
        s = self.source.get(t.name)
        file, name = t.file, t.name
        if s is None:
            self.add(file, t, "obsolete", WARNING, f"'{name}' is not in the source strings (renamed or removed "
                     "upstream); delete it", name)
            return
        if not s.translatable:
            self.add(file, t, "untranslatable", ERROR, f"'{name}' is marked translatable=\"false\" in the source; "
                     "delete the translation", name)
            return
        if s.kind != t.kind:
            self.add(file, t, "kind-mismatch", ERROR, f"'{name}' is a <{s.kind}> in the source, not a <{t.kind}>",
                     name)
            return
        if t.kind == STRING:
            self.value(file, name, t.values[0][1], s.values[0][1], formatted=s.formatted, strict_args=True)
        elif t.kind == PLURALS:
            self.plurals(t, s)
        else:
            if len(t.values) != len(s.values):
                self.add(file, t, "array-length", ERROR, f"the source array has {len(s.values)} items, the "
                         f"translation {len(t.values)}; code reads them by position", name)
            for (_, tv), (_, sv) in zip(t.values, s.values):
                self.value(file, name, tv, sv, formatted=s.formatted, strict_args=True)

    def plurals(self, t: Resource, s: Resource) -> None:
        file, name = t.file, t.name
        source_items = dict(s.values)
        reference = source_items.get("other") or s.values[-1][1]
        seen: set[str] = set()
        for quantity, value in t.values:
            if quantity in seen:
                self.add(file, value, "duplicate", ERROR, f"quantity '{quantity}' appears twice", name)
                continue
            seen.add(quantity)
            if quantity not in QUANTITIES:
                self.add(file, value, "plural-quantity", ERROR, f"'{quantity}' is not a plural quantity (use "
                         f"{', '.join(QUANTITIES)})", name)
                continue
            if self.categories is not None and quantity not in self.categories:
                self.add(file, value, "plural-quantity", ERROR, f"{self.tag} never uses quantity '{quantity}' "
                         f"(CLDR: {', '.join(q for q in QUANTITIES if q in self.categories)}); delete this item",
                         name)
                continue
            s_value = source_items.get(quantity, reference)
            self.value(file, name, value, s_value, formatted=s.formatted, strict_args=quantity == "other")
        if "other" not in seen:
            self.add(file, t, "plural-other", ERROR, "<plurals> must have an item with quantity=\"other\"", name)
        if self.categories is not None:
            needed = [q for q in QUANTITIES if q in self.categories and q not in seen and q != "other"]
            if needed:
                self.add(file, t, "plural-missing-quantity", WARNING, f"{self.tag} needs quantity "
                         f"{', '.join(repr(q) for q in needed)} (CLDR); Android falls back to 'other'", name)


def _tags(tags: tuple[str, ...]) -> str:
    return ", ".join(f"<{t}>" for t in tags) or "none"


def check_values(translations: list[ValuesFile], source: ValuesFile, *, tag: LocaleTag | None) -> list[ResFinding]:
    """Every rule for one target's translated files (one values-<qualifier> folder) against its source."""
    src: dict[str, Resource] = {}
    for res in source.resources:
        src.setdefault(res.name, res)
    checker = _Checker(src, has_xliff=source.has_xliff, tag=tag)
    seen: dict[tuple[str, str | None], Resource] = {}
    for values in translations:
        checker.findings.extend(values.findings)
        for res in values.resources:
            checker.damaged = res.damaged
            first = seen.get(res.key)
            if first is not None:
                checker.add(res.file, res, "duplicate", ERROR, f"'{res.name}' is already defined at "
                            f"{first.file}:{first.line}; Android keeps only one", res.name)
                continue
            seen[res.key] = res
            checker.resource(res)
    translated = {name for name, _ in seen}
    if translations:
        home = translations[0]
        for name, res in src.items():
            if res.translatable and name not in translated:
                where = f" ({res.file}:{res.line})" if res.line else ""
                checker.findings.append(ResFinding(home.file, home.root_line, "missing", WARNING,
                                                   f"'{name}' is not translated yet{where}; Android shows the "
                                                   "source text", 1, name))
    return checker.findings


def read_values_bytes(path: Path, shown: str) -> bytes:
    data = read_limited(path, shown=shown, max_bytes=MAX_XML_BYTES)  # size and symlink checks
    decode_text(data, shown=shown)  # UTF-8, with file:line
    return data


def read_translations(files: list[tuple[Path, str]]) -> tuple[list[ValuesFile], list[ResFinding]]:
    """Translated files as the check reads them (recovering), and the findings of those it cannot read at all."""
    translations: list[ValuesFile] = []
    findings: list[ResFinding] = []
    for path, shown in files:
        parsed = read_values(read_values_bytes(path, shown), file=shown, recover=True)
        if parsed.readable:
            translations.append(parsed)
        else:
            findings.extend(parsed.findings)
    return translations, findings


def check_translation_files(files: list[tuple[Path, str]], source: ValuesFile, *,
                            tag: LocaleTag | None) -> list[ResFinding]:
    translations, findings = read_translations(files)
    return sort_findings(findings + check_values(translations, source, tag=tag))


def sort_findings(findings: list[ResFinding]) -> list[ResFinding]:
    """In reading order: by file, line and column (a stable sort keeps rule order within a spot)."""
    return sorted(findings, key=lambda f: (f.file, f.line or 0, f.column or 0))


def read_source_file(path: Path, shown: str | None = None) -> ValuesFile:
    shown = shown or shown_path(path)
    return read_values(read_values_bytes(path, shown), file=shown, translation=False)


def merge_sources(files: Iterable[ValuesFile], shown: str, has_xliff: bool = True) -> ValuesFile:
    resources = [res for values in files for res in values.resources]
    return ValuesFile(shown, resources, [], 1, has_xliff=has_xliff)


def tag_of_folder(path: Path) -> LocaleTag | None:
    """values-zh-rCN/strings.xml → zh-CN; None when the folder names no locale."""
    folder = path.parent.name
    m = re.match(r"values-(b\+[A-Za-z0-9+]+|[a-z]{2,3}(?:-r[A-Z]{2})?)(?:-|$)", folder)
    try:
        return tag_from_qualifier(m.group(1)) if m else None
    except ValueError:
        return None


def default_source_for(path: Path) -> Path:
    """res/values-zh-rCN/strings.xml → res/values/strings.xml, Android's own layout."""
    return path.parent.parent / "values" / path.name


def check_file(path: Path, source: Path | None = None, *, locale: str | None = None) -> list[ResFinding]:
    """One translated strings.xml against its source strings.xml (translators often hold just that)."""
    shown = shown_path(path)
    source = source or default_source_for(path)
    if not source.is_file():
        raise InputError("no source strings found for this file", file=shown_path(source),
                         hint="pass --source path/to/values/strings.xml")
    tag = LocaleTag.parse(locale) if locale else tag_of_folder(path)
    return check_translation_files([(path, shown)], read_source_file(source), tag=tag)


def check_pack(pack: LocalePack, sources: dict[str, ValuesFile]) -> list[ResFinding]:
    """The whole pack: layout findings, then each target's files against that target's source."""
    findings = list(pack.findings)
    for package in pack.targets:
        files = pack.files_for(package)
        if files and package in sources:
            findings += check_translation_files([(f.path, f.shown) for f in files], sources[package], tag=pack.tag)
    return sort_findings(findings)


# ---- output -------------------------------------------------------------------------


def errors_in(findings: Iterable[ResFinding]) -> int:
    return sum(1 for f in findings if f.severity == ERROR)


def summary(findings: list[ResFinding]) -> str:
    errors = errors_in(findings)
    files = len({f.file for f in findings})
    return f"{errors} error(s), {len(findings) - errors} warning(s) in {files} file(s)"


def _gh_escape(text: str, *, prop: bool = False) -> str:
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return text.replace(":", "%3A").replace(",", "%2C") if prop else text


def format_findings(findings: list[ResFinding], fmt: str) -> str:
    """text: file:line:col: severity: message [rule]; json: a list of objects; github: ::error annotations."""
    if fmt == "json":
        return json.dumps([f.to_json() for f in findings], indent=2, ensure_ascii=False)
    if fmt == "github":
        lines = []
        for f in findings:
            props = [f"file={_gh_escape(f.file, prop=True)}"]
            if f.line:
                props.append(f"line={f.line}")
            if f.column:
                props.append(f"col={f.column}")
            props.append(f"title={_gh_escape(f.rule, prop=True)}")
            lines.append(f"::{f.severity} {','.join(props)}::{_gh_escape(f.message)}")
        return "\n".join(lines)
    return "\n".join(f.format() for f in findings)

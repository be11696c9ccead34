"""One schema layer for every TOML input: pydantic models, one error format.

Device profiles, romforge.toml, overlay.toml, pack.toml and keypad.toml are described by
pydantic models built from `Table` and the value types below. `check` validates a TOML
value against a model and turns every pydantic error into a ConfigError at the file:line
where the key was written (TomlDoc.line_of on the error's location), with one wording for
all inputs:

    unknown key 'screen.depth'                      hint: [screen] takes: width, height, density
    unknown key 'sett' in [props.system]            (inside an array element or a table whose
                                                     name is data, keys are named within it)
    required key 'path' is missing in [[files]]     (values are named without the section:
                                                     the line shows which entry)
    'page_size' must be a integer, not a string
    'page_size' must be one of 4096, 16384, 65536
    'abis': 'mips' must be one of arm64-v8a, …      (an element of a plain array)

Values are checked for what the formats they reach can carry (build.prop, HTML, XML,
fs_config lines): `Text` refuses line breaks and control characters, every integer is
bounded, patterns are ASCII-only (so "²³" or Arabic-Indic digits never pass for numbers).
"""

from __future__ import annotations

import re
import types
import typing
import unicodedata
from typing import Annotated, Any, Callable, Iterable, TypeVar, Union

from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationError, model_validator
from pydantic_core import PydanticCustomError

from romforge.errors import ConfigError, InputProblems, RomforgeError
from romforge.tomlfile import Key, TomlDoc, type_name

M = TypeVar("M", bound=BaseModel)
INT64 = (-(1 << 63), (1 << 63) - 1)

_EXPECTED = {
    "string_type": "string", "int_type": "integer", "int_from_float": "integer", "bool_type": "boolean",
    "float_type": "float", "list_type": "array", "tuple_type": "array", "set_type": "array",
    "dict_type": "table", "model_type": "table", "model_attributes_type": "table",
}


# ---- errors raised by validators ----------------------------------------------------------


def invalid(predicate: str, hint: str | None = None) -> PydanticCustomError:
    """A value error worded after the key: "'page_size' " + "must be one of …"."""
    return PydanticCustomError("romforge_value", "{message}", {"message": predicate, "hint": hint})


def problem(message: str, hint: str | None = None) -> PydanticCustomError:
    """A value error with its own complete wording, placed at the key's line."""
    return PydanticCustomError("romforge", "{message}", {"message": message, "hint": hint})


# ---- value checks (for Annotated[..., AfterValidator(...)]) ---------------------------------


def _after(test: Callable[[Any], str | None]) -> AfterValidator:
    def run(value: Any) -> Any:
        wrong = test(value)
        if wrong:
            raise invalid(wrong)
        return value

    return AfterValidator(run)


def one_of(choices: Iterable[Any]) -> AfterValidator:
    allowed = tuple(choices)
    return _after(lambda v: None if v in allowed else f"must be one of {', '.join(map(str, allowed))}")


def between(low: int, high: int) -> AfterValidator:
    return _after(lambda v: None if low <= v <= high else f"must be between {low} and {high}")


def matches(pattern: str, what: str) -> AfterValidator:
    """A full match of an ASCII-only pattern (\\d and \\w never admit other scripts' digits)."""
    compiled = re.compile(pattern, re.ASCII)
    return _after(lambda v: None if compiled.fullmatch(v) else f"is not a valid {what}")


def between_chars(low: int, high: int) -> AfterValidator:
    return _after(lambda v: None if low <= len(v) <= high else f"must be {low}-{high} characters")


def unique() -> AfterValidator:
    return _after(lambda v: None if len(set(v)) == len(v) else "lists the same value twice")


def unsafe_char(text: str, *, allow: str = "") -> str | None:
    """The first character no single-line text format (build.prop, HTML, a manifest attribute)
    carries safely: control characters (C0, DEL, C1) and Unicode line/paragraph separators."""
    for ch in text:
        if ch in allow:
            continue
        if unicodedata.category(ch) in ("Cc", "Zl", "Zp"):
            return ch
    return None


def text_problem(value: str, *, max_chars: int) -> str | None:
    ch = unsafe_char(value)
    if ch is not None:
        what = "a line break" if ch in "\n\r\x0b\x0c\x85\u2028\u2029" else "a control character"
        return f"holds {what} ({ch!r}); it must be one line of plain text"
    if len(value) > max_chars:
        return f"is {len(value)} characters, over the limit of {max_chars}"
    return None


def one_line(max_chars: int = 200) -> AfterValidator:
    return _after(lambda v: text_problem(v, max_chars=max_chars))


def plain_text(max_chars: int) -> AfterValidator:
    """Text that may span lines (a description) but holds no other control character, so it
    cannot rewrite a terminal or a log when printed."""
    def test(value: str) -> str | None:
        ch = unsafe_char(value, allow="\n\t")
        if ch is not None:
            return f"holds a control character ({ch!r})"
        return None if len(value) <= max_chars else f"is {len(value)} characters, over the limit of {max_chars}"

    return _after(test)


def xml_char_problem(value: str) -> str | None:
    """The first character XML 1.0 cannot carry (lxml refuses to write it), or None."""
    for ch in value:
        code = ord(ch)
        if code < 0x20 and ch not in "\t\n\r" or 0xD800 <= code <= 0xDFFF or code in (0xFFFE, 0xFFFF):
            return f"holds {ch!r}, which XML cannot carry"
    return None


def each_entry(test: Callable[[str, Any], str | None]) -> AfterValidator:
    """Check every key → value of a table whose keys are data (property names, resource
    names); each problem is reported at its own key, in the test's own words."""

    def run(table: dict[str, Any]) -> dict[str, Any]:
        errors = []
        for key, value in table.items():
            wrong = test(key, value)
            if wrong:
                errors.append({"type": problem(wrong), "loc": (key,), "input": value})
        if errors:
            raise ValidationError.from_exception_data("table", errors)
        return table

    return AfterValidator(run)


Int = Annotated[int, between(*INT64)]
Text = Annotated[str, one_line()]  # one line of plain text: build.prop values, HTML, XML attributes
HostPath = Annotated[str, _after(lambda v: "is empty" if not v else text_problem(v, max_chars=4096))]


# ---- models -----------------------------------------------------------------------------


class Table(BaseModel):
    """A TOML table: known keys only, TOML's own types only (no "1" for 1, no 1 for true).

    `rules` holds checks on the table as written that must run even when a key has the
    wrong type, so that one report names every problem (e.g. "needs exactly one of …")."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, validate_by_alias=True,
                              validate_by_name=False, title="")

    @classmethod
    def rules(cls, data: dict[str, Any]) -> list[tuple[Key, PydanticCustomError]]:
        return []

    @model_validator(mode="wrap")
    @classmethod
    def _with_rules(cls, data: Any, handler: Callable[[Any], Any]) -> Any:
        found = cls.rules(data) if isinstance(data, dict) else []
        if not found:
            return handler(data)
        errors: list[Any] = []
        try:
            handler(data)
        except ValidationError as exc:
            errors = [_reraisable(item) for item in exc.errors()]
        errors += [{"type": error, "loc": loc, "input": data} for loc, error in found]
        raise ValidationError.from_exception_data(cls.__name__, errors)


def _reraisable(item: Any) -> Any:
    """An error from exc.errors() in the form ValidationError.from_exception_data takes back."""
    if item["type"] in ("romforge", "romforge_value"):
        return {**item, "type": PydanticCustomError(item["type"], "{message}", item["ctx"])}
    return item


def keys_of(model: type[BaseModel]) -> list[str]:
    """The keys a table takes, sub-tables written as [name] and arrays of tables as [[name]]."""
    names = []
    for name, info in model.model_fields.items():
        key = info.alias or name
        inner = _unwrap(info.annotation)
        if info.title:  # how the key is written, when the model does not say it (e.g. "[[files]]")
            key = info.title
        elif _is_model(inner):
            key = f"[{key}]"
        elif typing.get_origin(inner) is list and _is_model(_unwrap(typing.get_args(inner)[0])):
            key = f"[[{key}]]"
        names.append(key)
    return names


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _unwrap(annotation: Any) -> Any:
    """Annotated[X, …] → X; X | None → X."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            rest = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(rest) != 1:
                return Any
            annotation = rest[0]
        else:
            return annotation


def _field(model: type[BaseModel], key: str) -> Any:
    for name, info in model.model_fields.items():
        if (info.alias or name) == key:
            return info
    return None


def _step(annotation: Any, part: str | int) -> Any:
    """The annotation of `part` inside a value of type `annotation` (Any when unknown)."""
    annotation = _unwrap(annotation)
    if _is_model(annotation):
        info = _field(annotation, str(part))
        return info.annotation if info is not None else Any
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (list, tuple) and args:
        return args[0]
    if origin is dict and len(args) == 2:
        return args[1]
    return Any


# ---- ValidationError → ConfigError ------------------------------------------------------


class _Place:
    """Where one error points, worded: the key's label, its section and the owning table."""

    def __init__(self, model: type[BaseModel], at: Key, loc: Key, section: str | None, title: str) -> None:
        self.item = bool(loc) and isinstance(loc[-1], int)  # an element of a plain array
        anchor = 0  # keys after an array index or a data-named table are named within it
        annotation: Any = model
        owner, owner_at = model, 0
        for i, part in enumerate(loc):
            container = _unwrap(annotation)
            if not _is_model(container) and i + 1 < len(loc):
                anchor = i + 1
            annotation = _step(annotation, part)
            if _is_model(_unwrap(annotation)) and i + 1 < len(loc):
                owner, owner_at = _unwrap(annotation), i + 1
        named = [str(p) for p in (loc[:-1] if self.item else loc)[anchor:] if not isinstance(p, int)]
        self.label = ".".join(named)
        written = [str(p) for p in at + loc[:anchor] if not isinstance(p, int)]
        if anchor and isinstance(loc[anchor - 1], int):
            self.section = f"[[{'.'.join(written)}]]"
        elif anchor:
            self.section = f"[{'.'.join(written)}]"
        else:
            self.section = section
        inner = [str(p) for p in at + loc[:owner_at] if not isinstance(p, int)]
        if owner_at:
            self.owner = f"[[{'.'.join(inner)}]]" if isinstance(loc[owner_at - 1], int) else f"[{'.'.join(inner)}]"
        else:
            self.owner = section or title
        self.owner_model = owner
        self.field = _field(owner, str(loc[-1])) if loc and not self.item else None

    @property
    def where(self) -> str:
        return f" in {self.section}" if self.section else ""


def _message(error: Any, place: _Place) -> tuple[str, str | None]:
    kind, ctx, given = error["type"], error.get("ctx") or {}, error.get("input")
    label = place.label
    if kind == "extra_forbidden":
        return (f"unknown key '{label}'{place.where}",
                f"{place.owner} takes: {', '.join(keys_of(place.owner_model))}")
    if kind == "missing":
        described = place.field.description if place.field is not None else None
        return f"required key '{label}' is missing{place.where}", described and f"{label}: {described}"
    if kind == "romforge":
        return ctx["message"], ctx.get("hint")
    if kind == "romforge_value":
        if place.item:
            return f"'{label}': {given!r} {ctx['message']}", ctx.get("hint")
        return f"'{label}' {ctx['message']}", ctx.get("hint")
    if kind in _EXPECTED:
        if place.item:
            return f"'{label}' must hold {_EXPECTED[kind]}s, found a {type_name(given)}", None
        return f"'{label}' must be a {_EXPECTED[kind]}, not a {type_name(given)}", None
    return f"'{label}': {error['msg']}", None


def config_errors(exc: ValidationError, doc: TomlDoc, model: type[BaseModel], *, at: Key = (),
                  section: str | None = None, error: type[ConfigError] = ConfigError) -> list[ConfigError]:
    """Each pydantic error as a ConfigError at the line its key was written, in file order."""
    title = model.model_config.get("title") or doc.path.name
    found = []
    for item in exc.errors():
        loc = tuple(p for p in item["loc"] if p != "[key]")
        place = _Place(model, at, loc, section, title)
        message, hint = _message(item, place)
        found.append(error(message, file=doc.display, line=doc.line_of(*at, *loc), hint=hint))
    return sorted(found, key=lambda e: e.line or 0)


def check(model: type[M], data: Any, doc: TomlDoc, *, at: Key = (), section: str | None = None,
          context: dict[str, Any] | None = None, partial: bool = False,
          error: type[ConfigError] = ConfigError) -> tuple[M | None, list[ConfigError]]:
    """`data` (the value at key path `at` of `doc`) as a `model`, or None and every problem.

    With `partial`, a table with problems is validated again without the keys that had them,
    so a reader that reports everything can still use the parts that are right (None when
    that fails too). Only for models whose keys do not depend on each other."""
    try:
        return model.model_validate(data, context=context), []
    except ValidationError as exc:
        problems = config_errors(exc, doc, model, at=at, section=section, error=error)
        locs = [item["loc"] for item in exc.errors()]
    if not partial or not isinstance(data, dict) or not all(locs):
        return None, problems
    bad = {loc[0] for loc in locs}
    try:
        return model.model_validate({k: v for k, v in data.items() if k not in bad}, context=context), problems
    except ValidationError:
        return None, problems


def validate(model: type[M], data: Any, doc: TomlDoc, *, at: Key = (), section: str | None = None,
             context: dict[str, Any] | None = None, error: type[ConfigError] = ConfigError) -> M:
    """`data` as a `model`; one problem is raised as itself, several together (InputProblems)."""
    result, problems = check(model, data, doc, at=at, section=section, context=context, error=error)
    raise_problems(problems, doc.display)
    assert result is not None
    return result


def raise_problems(problems: list[ConfigError] | list[RomforgeError], shown: str) -> None:
    if len(problems) == 1:
        raise problems[0]
    if problems:
        raise InputProblems(f"{shown}: {len(problems)} problem(s)", problems)

"""Problems found in a scenario file, said the way a person would say them.

Pydantic reports every error at once with a raw location such as
``('faults', 1, 'latency', 'attributes', 'latncy')`` (the ``'latency'`` is the tag of a
discriminated union, not a key in the file). This module turns those into :class:`Issue`s
with the key path as written in the file (``faults[1].attributes.latncy``), the YAML line
it sits on, and a message that says what is allowed.
"""

from __future__ import annotations

import difflib
import types
import typing
from dataclasses import dataclass
from typing import Any, Literal, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, Discriminator, Tag, ValidationError

PathPart = str | int


@dataclass(frozen=True)
class Issue:
    """One problem in a scenario: where it is and what is wrong."""

    path: str
    """Key path as written in the file, e.g. ``faults[1].attributes.latncy``; ``""`` = the file."""
    message: str
    """What is wrong and what is allowed."""
    line: int | None = None
    """1-based line in the YAML file, when known."""

    def __str__(self) -> str:
        where = self.path or "(top level)"
        if self.line is not None:
            where += f" (line {self.line})"
        return f"{where}: {self.message}"


class ScenarioError(Exception):
    """A scenario file that cannot be used; carries *every* problem found in it."""

    def __init__(self, issues: list[Issue], source: str | None = None) -> None:
        self.issues = list(issues)
        self.source = source
        count = len(self.issues)
        head = f"{source or 'scenario'}: {count} problem{'s' if count != 1 else ''}"
        super().__init__("\n  ".join([head, *(str(issue) for issue in self.issues)]))


def format_path(parts: typing.Sequence[PathPart]) -> str:
    """``['faults', 1, 'attributes', 'latncy']`` → ``faults[1].attributes.latncy``."""
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def parse_path(path: str) -> list[PathPart]:
    """Inverse of :func:`format_path`; raises ``ValueError`` on malformed text."""
    parts: list[PathPart] = []
    for chunk in path.split("."):
        name, _, rest = chunk.partition("[")
        if not name and not parts:
            raise ValueError(f"malformed path {path!r}")
        if name:
            parts.append(name)
        while rest:
            index, close, rest = rest.partition("]")
            if not close or not index.isdigit() or (rest and not rest.startswith("[")):
                raise ValueError(f"malformed path {path!r}")
            parts.append(int(index))
            rest = rest[1:]
    if not parts or any(part == "" for part in parts):
        raise ValueError(f"malformed path {path!r}")
    return parts


# --- walking the model's types ------------------------------------------------------------


def tagged_union(tp: Any) -> tuple[Discriminator, dict[str, Any]] | None:
    """If ``tp`` is ``Annotated[Union[Annotated[M, Tag(t)], ...], Discriminator(f)]``."""
    if get_origin(tp) is not typing.Annotated:
        return None
    base, *meta = get_args(tp)
    discriminator = next((m for m in meta if isinstance(m, Discriminator)), None)
    if discriminator is None:
        return None
    members: dict[str, Any] = {}
    for member in get_args(base):
        model, *tags = get_args(member)
        tag = next(t for t in tags if isinstance(t, Tag))
        members[tag.tag] = model
    return discriminator, members


def unwrap(tp: Any) -> Any:
    """Strip ``Optional[...]`` and non-discriminator ``Annotated[...]`` wrappers."""
    while True:
        origin = get_origin(tp)
        if origin is typing.Annotated and tagged_union(tp) is None:
            tp = get_args(tp)[0]
        elif origin in (Union, types.UnionType):
            rest = [arg for arg in get_args(tp) if arg is not type(None)]
            if len(rest) != 1:
                return tp
            tp = rest[0]
        else:
            return tp


def is_model(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, BaseModel)


def field_names(model: type[BaseModel]) -> list[str]:
    return list(model.model_fields)


@dataclass
class LocWalk:
    """Result of following a pydantic error location through the model types."""

    parts: list[PathPart]
    """The location without union tags, i.e. the key path in the file."""
    target: Any
    """The annotation at the end of the location (``None`` if it left the model)."""
    parent: type[BaseModel] | None
    """The model holding the last key (for 'unknown key' messages)."""


def walk_loc(root: type[BaseModel], loc: tuple[PathPart, ...]) -> LocWalk:
    tp: Any = root
    parts: list[PathPart] = []
    parent: type[BaseModel] | None = None
    for item in loc:
        tp = unwrap(tp) if tp is not None else None
        tagged = tagged_union(tp) if tp is not None else None
        if tagged is not None and isinstance(item, str) and item in tagged[1]:
            tp = tagged[1][item]  # a union tag: not part of the file's key path
            continue
        parts.append(item)
        if is_model(tp):
            parent = tp
            field = tp.model_fields.get(item) if isinstance(item, str) else None
            tp = field.annotation if field is not None else None
        elif get_origin(tp) is list and isinstance(item, int):
            tp = get_args(tp)[0]
        elif get_origin(tp) is dict:
            tp = get_args(tp)[1]
        else:
            tp = None
    return LocWalk(parts, unwrap(tp) if tp is not None else None, parent)


# --- messages ----------------------------------------------------------------------------


def describe(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str):
        return f"{value!r} (text)"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return repr(value)


def _choices(values: typing.Iterable[Any]) -> str:
    return ", ".join(str(value) for value in values)


def _unknown_key_message(key: PathPart, parent: type[BaseModel] | None) -> str:
    if parent is None:
        return f"unknown key {key!r}"
    allowed = field_names(parent)
    toxic = getattr(parent, "toxic_name", None)
    if isinstance(toxic, str):
        if not allowed:
            return f"unknown attribute {key!r}: toxic {toxic!r} takes no attributes"
        return f"unknown attribute {key!r} for toxic {toxic!r}; allowed: {_choices(allowed)}"
    return f"unknown key {key!r}; allowed: {_choices(allowed)}"


def humanize(error: dict[str, Any], walk: LocWalk) -> str:
    kind, ctx, value = error["type"], error.get("ctx") or {}, error.get("input")
    if kind == "extra_forbidden":
        return _unknown_key_message(walk.parts[-1] if walk.parts else "?", walk.parent)
    if kind == "missing":
        return "required but missing"
    if kind == "literal_error":
        target = walk.target
        allowed = get_args(target) if get_origin(target) is Literal else [ctx.get("expected")]
        return f"must be one of: {_choices(allowed)}; got {describe(value)}"
    bounds = {
        "greater_than_equal": ("≥", "ge"),
        "greater_than": (">", "gt"),
        "less_than_equal": ("≤", "le"),
        "less_than": ("<", "lt"),
    }
    if kind in bounds:
        sign, key = bounds[kind]
        bound = ctx.get(key)
        bound = f"{bound:g}" if isinstance(bound, float) else bound
        return f"must be {sign} {bound}, got {describe(value)}"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return f"must be a whole number, got {describe(value)}"
    if kind in ("float_type", "float_parsing", "finite_number"):
        return f"must be a number, got {describe(value)}"
    if kind in ("string_type",):
        return f"must be text, got {describe(value)}"
    if kind in ("bool_type", "bool_parsing"):
        return f"must be true or false, got {describe(value)}"
    if kind == "list_type":
        return f"must be a list, got {describe(value)}"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return f"must be a mapping (key: value lines), got {describe(value)}"
    if kind == "too_short":
        least = ctx.get("min_length")
        return f"must have at least {least} entr{'y' if least == 1 else 'ies'}"
    message = str(error.get("msg", kind))
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    return message


def _node_at(data: Any, parts: typing.Sequence[PathPart]) -> Any:
    for part in parts:
        in_dict = isinstance(data, dict) and part in data
        in_list = isinstance(data, list) and isinstance(part, int) and part < len(data)
        if in_dict or in_list:
            data = data[part]
        else:
            return None
    return data


def issues_from_validation(
    error: ValidationError,
    root: type[BaseModel],
    line_of: LineFinder | None = None,
    data: Any = None,
) -> list[Issue]:
    """One issue per pydantic error, except that a misspelt key counts once: ``latncy``
    is reported as unknown with "did you mean 'latency'?", not also as 'latency' missing."""
    walked = [(walk_loc(root, tuple(item["loc"])), dict(item)) for item in error.errors()]
    missing = {tuple(w.parts) for w, item in walked if item["type"] == "missing"}
    replaced: set[tuple[PathPart, ...]] = set()
    issues: list[tuple[tuple[PathPart, ...], Issue]] = []
    for walk, item in walked:
        message = humanize(item, walk)
        if item["type"] == "extra_forbidden" and walk.parent is not None and walk.parts:
            siblings = _node_at(data, walk.parts[:-1])
            unused = [
                name for name in field_names(walk.parent)
                if not (isinstance(siblings, dict) and name in siblings)
            ]
            guess = difflib.get_close_matches(str(walk.parts[-1]), unused, n=1, cutoff=0.7)
            if guess:
                message += f"; did you mean {guess[0]!r}?"
                replaced.add((*walk.parts[:-1], guess[0]))
        line = line_of(walk.parts) if line_of else None
        issues.append((tuple(walk.parts), Issue(format_path(walk.parts), message, line)))
    return [issue for parts, issue in issues if parts not in (replaced & missing)]


# --- YAML with line numbers ----------------------------------------------------------------


class _UniqueKeyLoader(yaml.SafeLoader):
    """Safe loader that refuses a key given twice in one mapping (PyYAML keeps the last)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)  # type: ignore[no-untyped-call]
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


class LineFinder:
    """Finds the line of a key path in the composed YAML document."""

    def __init__(self, root: yaml.Node | None) -> None:
        self.root = root

    def __call__(self, parts: typing.Sequence[PathPart]) -> int | None:
        node, line = self.root, None
        for part in parts:
            if isinstance(node, yaml.MappingNode):
                match = next((kv for kv in node.value if kv[0].value == str(part)), None)
                if match is None:
                    break
                line, node = match[0].start_mark.line + 1, match[1]
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
                if part >= len(node.value):
                    break
                node = node.value[part]
                line = node.start_mark.line + 1
            else:
                break
        return line


def read_yaml(text: str, source: str) -> tuple[Any, LineFinder]:
    """Parse YAML text; a syntax error becomes a :class:`ScenarioError` naming the line."""
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        where = f"line {line}, column {mark.column + 1}" if mark else "unknown position"
        message = f"YAML syntax error at {where}: {exc.problem or exc.context}"
        if exc.context and exc.problem and exc.context_mark:
            started = exc.context_mark
            message += (f" ({exc.context} that starts at line {started.line + 1}, "
                        f"column {started.column + 1})")
        issue = Issue("", message, line)
        raise ScenarioError([issue], source) from None
    except yaml.YAMLError as exc:
        raise ScenarioError([Issue("", f"YAML error: {exc}")], source) from None
    return data, LineFinder(root)

"""JSON Schema validation: the only importer of ``jsonschema``.

A :class:`SchemaSet` holds every ``*.schema.json`` of one directory (the criteria schemas, the CDS Hooks
envelopes). Each schema is checked against its meta-schema when loaded and gets one validator, reused for every
document, that also checks ``format`` (a format this installation cannot check is a load error, not a silent
pass). Problems read ``file:json_path: message``.

Hot paths (the CDS Hooks envelope, checked on every call) first ask a compiled validator (``fastjsonschema``,
~50x faster) whether the document is valid; only a document it refuses is read by ``jsonschema``, which gives
the messages and has the last word. So the compiled validator can only make a valid document faster, never
change an answer: it gets a schema only when every keyword in it is one it checks the same way (Draft 2020-12
keywords translated to their Draft-07 spelling), else that schema is always validated by ``jsonschema``.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import fastjsonschema
from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import SchemaError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from app.errors import CriteriaError

_FORMAT_CHECKER = FormatChecker()


class SchemaSet:
    """The Draft 2020-12 schemas of one directory, each checked once and validated with one reused validator."""

    def __init__(self, directory: str | Path, *, compiled: bool = False) -> None:
        """Load and check every schema; raise :class:`CriteriaError` listing every broken one.

        ``compiled``: also build the compiled fast path (for schemas checked per request)."""
        self.directory = Path(directory)
        schemas, problems = _read_schemas(self.directory)
        if problems:
            raise CriteriaError(problems)
        registry: Registry = Registry().with_resources(
            (schema["$id"], Resource.from_contents(schema, DRAFT202012)) for schema in schemas.values()
        )
        self._validators = {
            name: Draft202012Validator(schema, registry=registry, format_checker=_FORMAT_CHECKER)
            for name, schema in schemas.items()
        }
        self._compiled: dict[str, Callable[[Any], Any]] = {}
        for name, schema in schemas.items() if compiled else ():
            draft07 = as_draft07(schema)
            if draft07 is not None:
                self._compiled[name] = fastjsonschema.compile(draft07)

    @property
    def names(self) -> frozenset[str]:
        return frozenset(self._validators)

    def has_fast_path(self, schema_name: str) -> bool:
        """Whether the named schema has a compiled validator (see the module docstring)."""
        return schema_name in self._compiled

    def problems(self, schema_name: str, instance: Any) -> list[tuple[str, str]]:
        """(JSON path, message) for every way ``instance`` breaks the named schema, in document order."""
        compiled = self._compiled.get(schema_name)
        if compiled is not None:
            try:
                compiled(instance)
                return []
            except fastjsonschema.JsonSchemaException:
                pass  # jsonschema decides, and says why
            except RecursionError:
                pass
        errors = self._validators[schema_name].iter_errors(instance)
        return [(err.json_path, err.message) for err in sorted(errors, key=lambda e: list(e.absolute_path))]

    def report(self, schema_name: str, instance: Any, label: str) -> list[str]:
        """``label:json_path: message`` for every way ``instance`` (the file ``label``) breaks the schema."""
        if schema_name not in self._validators:
            return [f"{label}:$: schema {schema_name} is missing from {self.directory.name}/"]
        return [f"{label}:{path}: {message}" for path, message in self.problems(schema_name, instance)]


# Keywords whose meaning is the same in Draft-07 and Draft 2020-12 (the compiled validator speaks Draft-07),
# and the 2020-12 ones renamed for it. A schema with any other keyword (``format``, ``$dynamicRef``,
# ``unevaluatedProperties``, ``prefixItems``, array ``items``, a remote ``$ref`` …) gets no compiled validator.
_SAME_IN_DRAFT07 = frozenset(
    {
        "type", "properties", "required", "additionalProperties", "minLength", "maxLength", "pattern",
        "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "const", "enum",
        "allOf", "anyOf", "oneOf", "not", "if", "then", "else", "minItems", "maxItems", "uniqueItems",
        "minProperties", "maxProperties", "patternProperties", "propertyNames", "contains",
        "title", "description", "default", "examples", "$comment",
    }
)  # fmt: skip
_ONE_SUBSCHEMA = frozenset(
    {"items", "additionalProperties", "not", "if", "then", "else", "contains", "propertyNames"}
)
_RENAMED_FOR_DRAFT07 = {"dependentRequired": "dependencies"}
_DRAFT07 = "http://json-schema.org/draft-07/schema#"


def as_draft07(schema: dict[str, Any]) -> dict[str, Any] | None:
    """The same schema in Draft-07 spelling, or None when one of its keywords has no identical Draft-07 form."""
    converted: dict[str, Any] | None = _draft07_node(schema, top=True)
    if converted is None:
        return None
    converted["$schema"] = _DRAFT07
    return converted


def _draft07_node(node: Any, *, top: bool = False) -> Any:
    if not isinstance(node, dict):
        return None
    out: dict[str, Any] = {}
    for key, value in node.items():
        if top and key in {"$schema", "$id"}:
            continue
        if key == "$defs" and top and isinstance(value, dict):
            defs = {name: _draft07_node(sub) for name, sub in value.items()}
            if any(sub is None for sub in defs.values()):
                return None
            out[key] = defs
        elif key == "$ref":
            if not (isinstance(value, str) and value.startswith("#/$defs/")):
                return None
            out[key] = value
        elif key in {"properties", "patternProperties"} and isinstance(value, dict):
            subs = {name: _draft07_node(sub) for name, sub in value.items()}
            if any(sub is None for sub in subs.values()):
                return None
            out[key] = subs
        elif key in {"allOf", "anyOf", "oneOf"} and isinstance(value, list):
            items = [_draft07_node(sub) for sub in value]
            if any(sub is None for sub in items):
                return None
            out[key] = items
        elif key in _ONE_SUBSCHEMA:
            if isinstance(value, bool) and key != "items":
                out[key] = value
                continue
            sub = _draft07_node(value)
            if sub is None:
                return None
            out[key] = sub
        elif key in _RENAMED_FOR_DRAFT07:
            out[_RENAMED_FOR_DRAFT07[key]] = value
        elif key in _SAME_IN_DRAFT07:
            out[key] = value
        else:
            return None
    return out


def _read_schemas(directory: Path) -> tuple[dict[str, dict[str, Any]], list[str]]:
    schemas: dict[str, dict[str, Any]] = {}
    problems: list[str] = []
    for path in sorted(directory.glob("*.schema.json")):
        label = f"{directory.name}/{path.name}"
        text = path.read_text(encoding="utf-8")
        found = _schema_problems(text)
        if found:
            problems += [f"{label}:{where}: {message}" for where, message in found]
        else:
            schemas[path.name] = json.loads(text)
    return schemas, problems


@functools.lru_cache(maxsize=64)
def _schema_problems(text: str) -> tuple[tuple[str, str], ...]:
    """(JSON path, message) for what is wrong with one schema file; checked once per content (it is slow)."""
    try:
        schema = json.loads(text)
    except json.JSONDecodeError as err:
        return (("$", f"not valid JSON (line {err.lineno}, column {err.colno}: {err.msg})"),)
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as err:
        return ((err.json_path, err.message),)
    if not isinstance(schema, dict) or not isinstance(schema.get("$id"), str):
        return (("$", 'a schema needs an "$id" (other schemas refer to it by that URI)'),)
    return tuple(
        (where, f"format {name!r} cannot be checked by this installation of jsonschema")
        for name, where in _formats(schema, "$")
        if name not in _FORMAT_CHECKER.checkers
    )


def _formats(node: Any, path: str) -> Iterator[tuple[str, str]]:
    """Every ``format`` keyword in a schema, with its JSON path."""
    if isinstance(node, dict):
        if isinstance(node.get("format"), str):
            yield node["format"], f"{path}.format"
        for key, value in node.items():
            yield from _formats(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _formats(value, f"{path}[{i}]")

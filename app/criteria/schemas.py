"""JSON Schema validation: the only importer of ``jsonschema``.

A :class:`SchemaSet` holds every ``*.schema.json`` of one directory (the criteria schemas, the CDS Hooks
envelopes). Each schema is checked against its meta-schema when loaded and gets one validator, reused for every
document, that also checks ``format`` (a format this installation cannot check is a load error, not a silent
pass). Problems read ``file:json_path: message``.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import SchemaError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from app.errors import CriteriaError

_FORMAT_CHECKER = FormatChecker()


class SchemaSet:
    """The Draft 2020-12 schemas of one directory, each checked once and validated with one reused validator."""

    def __init__(self, directory: str | Path) -> None:
        """Load and check every schema; raise :class:`CriteriaError` listing every broken one."""
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

    @property
    def names(self) -> frozenset[str]:
        return frozenset(self._validators)

    def problems(self, schema_name: str, instance: Any) -> list[tuple[str, str]]:
        """(JSON path, message) for every way ``instance`` breaks the named schema, in document order."""
        errors = self._validators[schema_name].iter_errors(instance)
        return [(err.json_path, err.message) for err in sorted(errors, key=lambda e: list(e.absolute_path))]

    def report(self, schema_name: str, instance: Any, label: str) -> list[str]:
        """``label:json_path: message`` for every way ``instance`` (the file ``label``) breaks the schema."""
        if schema_name not in self._validators:
            return [f"{label}:$: schema {schema_name} is missing from {self.directory.name}/"]
        return [f"{label}:{path}: {message}" for path, message in self.problems(schema_name, instance)]


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

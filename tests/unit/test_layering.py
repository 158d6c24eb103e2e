"""The import rules of architecture.md, checked on the source with ``ast``."""

from __future__ import annotations

import ast
from pathlib import Path

from conftest import REPO

APP = REPO / "app"

ONLY = {
    "requests": {"fhir_client.py"},
    "fhir": {"fhir_models.py"},
    "jsonschema": {"criteria.py", "cds_hooks.py", "cds_schema.py", "request_validation.py"},
}
PURE = {"engine.py", "facts.py", "orders.py", "terminology.py", "criteria_model.py", "results.py"}
PURE_ALLOWED = {
    "app",
    "__future__",
    "collections",
    "dataclasses",
    "datetime",
    "functools",
    "re",
    "typing",
    "math",
    "itertools",
    "uuid",
}


def imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_third_party_libraries_are_imported_only_where_allowed():
    for module in sorted(APP.glob("*.py")):
        for lib, allowed in ONLY.items():
            if lib in imports(module):
                assert module.name in allowed, f"{module.name} imports {lib}"


def test_engine_modules_use_the_standard_library_only():
    for name in PURE:
        extra = imports(APP / name) - PURE_ALLOWED
        assert not extra, f"{name} imports {extra}"


def test_flask_only_in_web_modules():
    web = {
        "__init__.py",
        "web_errors.py",
        "health.py",
        "api.py",
        "cds_hooks.py",
        "consultations_api.py",
        "request_body.py",
        "openapi.py",
        "auth.py",
        "logging_setup.py",
        "metrics.py",
        "clinical_context.py",
    }
    for module in sorted(APP.glob("*.py")):
        if "flask" in imports(module):
            assert module.name in web, f"{module.name} imports flask"

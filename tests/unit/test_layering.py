"""The import rules of architecture.md, checked on the source with ``ast``."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

from conftest import REPO

APP = REPO / "app"
MODULES = sorted(p for p in APP.rglob("*.py"))

# Third-party libraries and the only modules (paths relative to app/) allowed to import them.
ONLY = {
    "requests": {"fhir/http.py"},
    "fhir": {"fhir/models.py"},
    "jsonschema": {"criteria/schemas.py"},
}
PURE_PACKAGES = ("clinical", "criteria/model.py")
FLASK_ALLOWED_PACKAGES = ("web", "cds", "security")
FLASK_ALLOWED_MODULES = {"__init__.py", "logging_setup.py"}


def rel(path: Path) -> str:
    return path.relative_to(APP).as_posix()


def imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def top_levels(path: Path) -> set[str]:
    return {name.split(".")[0] for name in imports(path)}


def test_every_listed_module_exists():
    listed = set().union(*ONLY.values())
    for name in listed:
        assert (APP / name).is_file(), f"the layering rules name {name}, which does not exist"


def test_third_party_libraries_are_imported_only_where_allowed():
    for module in MODULES:
        for lib, allowed in ONLY.items():
            if lib in top_levels(module):
                assert rel(module) in allowed, f"{rel(module)} imports {lib}"


def test_clinical_modules_use_the_standard_library_and_the_criteria_model_only():
    pure = [m for m in MODULES if rel(m).startswith(PURE_PACKAGES)]
    assert pure
    for module in pure:
        for name in imports(module):
            top = name.split(".")[0]
            if top == "app":
                assert name.startswith(("app.clinical", "app.criteria.model")), (
                    f"{rel(module)} imports {name}"
                )
            else:
                assert top in sys.stdlib_module_names or top == "__future__", f"{rel(module)} imports {name}"


def test_flask_only_in_web_modules():
    for module in MODULES:
        if "flask" in top_levels(module):
            name = rel(module)
            assert name.startswith(FLASK_ALLOWED_PACKAGES) or name in FLASK_ALLOWED_MODULES, (
                f"{name} imports flask"
            )


def test_criteria_model_does_not_import_the_clinical_package():
    """The model is below clinical/: the fact names the loader checks come from the registry, not the model."""
    assert not {n for n in imports(APP / "criteria" / "model.py") if n.startswith("app.")}

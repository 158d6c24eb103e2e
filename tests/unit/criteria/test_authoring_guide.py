"""criteria/README.md documents only what works: its example passes `spine-auc criteria check`, its condition
forms pass the schema, and no tool regenerates the criteria files (they are the one source)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import REPO

from app.cli import main
from app.criteria.schemas import SchemaSet

README = (REPO / "criteria" / "README.md").read_text(encoding="utf-8")
EXAMPLE = re.compile(r"<!-- checked-example: (?P<path>\S+) -->\n```json\n(?P<body>.*?)\n```", re.S)


def examples() -> dict[str, Any]:
    found = {m["path"]: json.loads(m["body"]) for m in EXAMPLE.finditer(README)}
    assert found, "criteria/README.md has no checked example"
    return found


@pytest.fixture()
def copy(tmp_path: Path) -> Path:
    target = tmp_path / "criteria"
    shutil.copytree(REPO / "criteria", target)
    return target


def check(directory: Path) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["criteria", "check", "--dir", str(directory)])
    return result.exit_code, result.output


def test_the_readme_example_passes_criteria_check_and_is_the_committed_file(copy):
    for path, doc in examples().items():
        (copy / path).write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
        assert doc == json.loads((REPO / "criteria" / path).read_text(encoding="utf-8"))
    code, output = check(copy)
    assert code == 0, output
    assert "OK" in output


def test_a_broken_readme_example_is_reported_as_file_json_path_message(copy):
    path, doc = next(iter(examples().items()))
    doc["variants"][0]["rows"][0]["category"] = "sometimes"
    doc["variants"][0]["rows"][1]["procedure"] = "xr-made-up"
    (copy / path).write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    code, output = check(copy)
    assert code == 1
    assert f"{path}:$.variants[0].rows[0].category: 'sometimes' is not one of [" in output
    # a schema problem stops the check before the cross references; fix it and the next one shows
    doc["variants"][0]["rows"][0]["category"] = "usually-appropriate"
    (copy / path).write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    code, output = check(copy)
    assert code == 1
    assert f"{path}:$.variants[0].rows[1].procedure: unknown procedure 'xr-made-up'" in output


def test_every_condition_form_the_readme_shows_is_valid():
    section = README.split("## Condition expressions", 1)[1].split("\n## ", 1)[0]
    forms = [
        json.loads(cell) for cell in re.findall(r"^\| `(\{.*?\})` \|", section, re.M) if "..." not in cell
    ]
    assert len(forms) >= 4
    schemas = SchemaSet(REPO / "criteria" / "schemas")
    for form in forms:
        assert schemas.problems("condition.schema.json", form) == [], form


def test_no_tool_regenerates_the_criteria_files():
    for tool in (REPO / "tools").glob("*.py"):
        assert "criteria" not in tool.read_text(encoding="utf-8"), f"{tool.name} reads or writes criteria/"

"""SchemaSet: every schema checked against its meta-schema, formats checked, problems as file:json_path: message."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import REPO

from app.criteria.loader import check_criteria
from app.criteria.schemas import SchemaSet
from app.errors import CriteriaError


def write(directory: Path, name: str, schema: object) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / name).write_text(json.dumps(schema), encoding="utf-8")


@pytest.fixture()
def copy(tmp_path: Path) -> Path:
    target = tmp_path / "criteria"
    shutil.copytree(REPO / "criteria", target)
    return target


def test_bundled_criteria_and_cds_schemas_load():
    assert "topic.schema.json" in SchemaSet(REPO / "criteria" / "schemas").names
    assert "cds-hook-request.schema.json" in SchemaSet(REPO / "app" / "cds" / "schemas").names


def test_a_schema_that_breaks_its_meta_schema_is_refused_with_its_location(tmp_path):
    write(
        tmp_path / "schemas", "thing.schema.json", {"$id": "urn:thing", "type": "object", "minProperties": -1}
    )
    with pytest.raises(CriteriaError) as err:
        SchemaSet(tmp_path / "schemas")
    [problem] = err.value.problems
    assert problem.startswith("schemas/thing.schema.json:$.minProperties: -1 is less than the minimum")


def test_a_schema_without_an_id_is_refused(tmp_path):
    write(tmp_path / "schemas", "thing.schema.json", {"type": "object"})
    with pytest.raises(CriteriaError) as err:
        SchemaSet(tmp_path / "schemas")
    assert err.value.problems == [
        'schemas/thing.schema.json:$: a schema needs an "$id" (other schemas refer to it by that URI)'
    ]


def test_a_format_that_cannot_be_checked_is_refused_rather_than_ignored(tmp_path):
    schema = {"$id": "urn:thing", "properties": {"when": {"type": "string", "format": "moon-phase"}}}
    write(tmp_path / "schemas", "thing.schema.json", schema)
    with pytest.raises(CriteriaError) as err:
        SchemaSet(tmp_path / "schemas")
    assert err.value.problems == [
        "schemas/thing.schema.json:$.properties.when.format: format 'moon-phase' cannot be checked by this "
        "installation of jsonschema"
    ]


def test_formats_are_checked(tmp_path):
    write(
        tmp_path / "schemas",
        "thing.schema.json",
        {"$id": "urn:thing", "properties": {"url": {"format": "uri"}}},
    )
    schemas = SchemaSet(tmp_path / "schemas")
    assert schemas.problems("thing.schema.json", {"url": "https://acsearch.acr.org/list"}) == []
    assert schemas.report("thing.schema.json", {"url": "not a uri"}, "thing.json") == [
        "thing.json:$.url: 'not a uri' is not a 'uri'"
    ]


def test_a_missing_schema_is_a_problem_of_the_file_that_needs_it(tmp_path):
    write(tmp_path / "schemas", "thing.schema.json", {"$id": "urn:thing"})
    assert SchemaSet(tmp_path / "schemas").report("other.schema.json", {}, "other.json") == [
        "other.json:$: schema other.schema.json is missing from schemas/"
    ]


def test_criteria_check_reports_a_broken_schema(copy):
    schema = json.loads((copy / "schemas/topic.schema.json").read_text(encoding="utf-8"))
    schema["properties"]["variantPrecedence"]["minItems"] = "one"
    (copy / "schemas/topic.schema.json").write_text(json.dumps(schema), encoding="utf-8")
    assert check_criteria(copy) == [
        "schemas/topic.schema.json:$.properties.variantPrecedence.minItems: 'one' is not of type 'integer'"
    ]


def test_criteria_check_reports_a_topic_url_that_is_not_a_uri(copy):
    path = copy / "topics/acr-myelopathy.json"
    topic = json.loads(path.read_text(encoding="utf-8"))
    topic["url"] = "acsearch acr org"
    path.write_text(json.dumps(topic), encoding="utf-8")
    assert check_criteria(copy) == ["topics/acr-myelopathy.json:$.url: 'acsearch acr org' is not a 'uri'"]


def test_a_schema_that_is_not_json_is_refused(tmp_path):
    (tmp_path / "schemas").mkdir()
    (tmp_path / "schemas" / "thing.schema.json").write_text('{"$id": "urn:thing",}', encoding="utf-8")
    with pytest.raises(CriteriaError) as err:
        SchemaSet(tmp_path / "schemas")
    assert err.value.problems == [
        "schemas/thing.schema.json:$: not valid JSON (line 1, column 21: Expecting property name enclosed in "
        "double quotes)"
    ]

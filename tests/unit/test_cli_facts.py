"""`spine-auc criteria facts`: every fact of the registry is listed with its rule, value sets and settings."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from click.testing import CliRunner
from conftest import REPO

from app.cli import main
from app.clinical.fact_rules import base_fact_names, rules
from app.criteria.model import Criteria


def _declared_value_sets(criteria: Criteria, sources: tuple[str, ...]) -> set[str]:
    return {
        vs
        for source in sources
        for key, ids in criteria.fact_sources.get(source, {}).items()
        if key.endswith("ValueSets")
        for vs in ids
    }


def test_json_lists_every_registry_fact_with_its_value_sets_and_settings(criteria):
    result = CliRunner().invoke(main, ["criteria", "facts", "--format", "json"])
    assert result.exit_code == 0, result.output
    listing = json.loads(result.output)
    assert listing["criteriaVersion"] == criteria.version
    by_fact = {e["fact"]: e for e in listing["facts"]}
    assert base_fact_names() <= set(by_fact)
    assert set(criteria.uncodable_facts) | set(criteria.derived_facts) <= set(by_fact)
    for rule in rules():
        for name in rule.produces:
            entry = by_fact[name]
            assert entry["rule"] == rule.name
            assert {vs["id"] for vs in entry["valueSets"]} == _declared_value_sets(criteria, rule.sources), (
                name
            )
            assert [s["name"] for s in entry["settings"]] == list(rule.settings)
            for vs in entry["valueSets"]:
                assert vs["codes"] and vs["codeCount"] >= len(vs["codes"]), (name, vs["id"])


def test_json_shows_codes_thresholds_and_texts_for_review(criteria):
    listing = json.loads(CliRunner().invoke(main, ["criteria", "facts", "--format", "json"]).output)
    by_fact = {e["fact"]: e for e in listing["facts"]}
    steroid_sets = {vs["id"]: vs for vs in by_fact["chronic_steroid_use"]["valueSets"]}
    assert steroid_sets["steroid-long-term-status"]["codes"][0]["code"] == "Z79.52"
    assert {
        "name": "steroidDaysRequired",
        "value": 90.0,
        "text": criteria.threshold_texts["steroidDaysRequired"],
    } in (by_fact["chronic_steroid_use"]["settings"])
    assert by_fact["cancer"]["text"] == criteria.fact_texts["cancer"]
    assert (
        by_fact["prior_spine_radiograph"]["codeCount"] > 0
        and "XR" in by_fact["prior_spine_radiograph"]["reads"]
    )
    assert by_fact["lbp_red_flag"]["when"] == criteria.derived_facts["lbp_red_flag"]


def test_text_table_names_every_fact_and_value_set(criteria):
    result = CliRunner().invoke(main, ["criteria", "facts"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("FACT "))
    end = lines.index("", start)
    table = {line.split()[0]: line for line in lines[start + 1 : end]}
    for rule in rules():
        for name in rule.produces:
            assert name in table, name
            for vs in _declared_value_sets(criteria, rule.sources):
                assert vs in table[name], (name, vs)


def test_invalid_criteria_are_refused_with_a_pointer_to_the_check(tmp_path: Path):
    copy = tmp_path / "criteria"
    shutil.copytree(REPO / "criteria", copy)
    (copy / "settings.json").write_text("{", encoding="utf-8")
    result = CliRunner().invoke(main, ["criteria", "facts", "--dir", str(copy)])
    assert result.exit_code != 0 and "spine-auc criteria check" in result.output

"""The scenario table (``tests/scenarios/scenarios.json``): synthetic patients x orders with expectations
derived by hand from ``clinical-rules.md`` and the ACR tables (an oracle independent of the engine).

Expectation keys (see ``tests/scenarios/README.md``): ``status`` exact; ``topic`` a topic id, a list of
allowed ids, or null (= not asserted); ``variant`` an ACR variant number, a list (the rating holds for
several possible variants: the reported variant, if any, must be one of them) or null (= the result carries
no variant); a ``no-criteria`` row may name the matched variant whose table lacks the procedure;
``variantAny`` skips the variant check; ``category`` exact (null when the status has none); optional
``modifiers`` / ``absentModifiers`` (modifier ids that must / must not be present), ``modifierIndicators``
(each must be the indicator of some modifier), ``missingFacts`` (each must be listed in ``missing``),
``matchedVariants`` (exact set) and ``dataIssues`` (strings that must appear in ``dataIssues``).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from app.clinical.assessment import assess_orders, record_from_resources
from app.criteria.loader import load_criteria
from app.fhir.input import checked_orders, split_input

ROOT = Path(__file__).resolve().parents[3]
FIXTURES = ROOT / "fhir_fixtures"
SCENARIOS: list[dict[str, Any]] = json.loads((ROOT / "tests" / "scenarios" / "scenarios.json").read_text())
STATUSES = {"rated", "insufficient-data", "no-criteria", "not-applicable"}
EVALUATION_TIME = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def criteria() -> Any:
    return load_criteria(ROOT / "criteria")


def _bundle_for(scenario: dict[str, Any]) -> dict[str, Any]:
    patient_bundle = json.loads((FIXTURES / scenario["patient"]).read_text())
    order = json.loads((FIXTURES / scenario["order"]).read_text())
    patient_name = Path(scenario["patient"]).stem
    order["subject"] = {"reference": f"Patient/pt-{patient_name}"}
    entries = list(patient_bundle["entry"])
    entries.append({"fullUrl": f"http://example.org/fhir/ServiceRequest/{order['id']}", "resource": order})
    return {"resourceType": "Bundle", "type": "collection", "entry": entries}


def _evaluate(scenario: dict[str, Any], criteria: Any) -> dict[str, Any]:
    orders, others = split_input(_bundle_for(scenario))
    assert len(orders) == 1, f"split_input found {len(orders)} ServiceRequests, expected 1"
    record = record_from_resources(others)
    results = [
        r.to_json() for r in assess_orders(checked_orders(orders), record, criteria, now=EVALUATION_TIME)
    ]
    assert len(results) == 1
    result: dict[str, Any] = results[0]
    return result


def _summary(result: dict[str, Any]) -> str:
    keys = ("status", "topic", "variant", "matchedVariants", "category", "modifiers", "missing", "dataIssues")
    brief = {k: result.get(k) for k in keys}
    topic, variant = brief["topic"], brief["variant"]
    brief["topic"] = topic.get("id") if isinstance(topic, dict) else topic
    brief["variant"] = variant.get("number") if isinstance(variant, dict) else variant
    brief["modifiers"] = [(m.get("id"), m.get("indicator")) for m in result.get("modifiers") or []]
    brief["missing"] = [m.get("fact") for m in result.get("missing") or []]
    return json.dumps(brief, default=str)


def test_table_is_well_formed() -> None:
    assert len(SCENARIOS) >= 45
    ids = [s["id"] for s in SCENARIOS]
    assert len(ids) == len(set(ids))
    for s in SCENARIOS:
        assert (FIXTURES / s["patient"]).is_file(), s["patient"]
        assert (FIXTURES / s["order"]).is_file(), s["order"]
        assert s["expect"]["status"] in STATUSES
        assert s["why"]
        if s["expect"]["status"] != "rated":
            assert s["expect"]["category"] is None, s["id"]
        if s["expect"]["status"] in ("insufficient-data", "not-applicable"):
            assert s["expect"]["variant"] is None, s["id"]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s["id"] for s in SCENARIOS])
def test_scenario(scenario: dict[str, Any], criteria: Any) -> None:
    exp = scenario["expect"]
    result = _evaluate(scenario, criteria)
    info = f"{scenario['id']}: {scenario['why']}\n  got {_summary(result)}"

    assert result["status"] == exp["status"], info
    assert str(result.get("consultationId", "")).startswith("urn:uuid:"), info

    topic = result.get("topic")
    topic_id = topic.get("id") if isinstance(topic, dict) else None
    if isinstance(exp["topic"], str):
        assert topic_id == exp["topic"], info
    elif isinstance(exp["topic"], list):
        assert topic_id in exp["topic"], info

    variant = result.get("variant")
    number = variant.get("number") if isinstance(variant, dict) else None
    if not exp.get("variantAny"):
        if isinstance(exp["variant"], int):
            assert number == exp["variant"], info
        elif isinstance(exp["variant"], list):
            assert number is None or number in exp["variant"], info
        else:
            assert number is None, info

    assert result.get("category") == exp["category"], info

    modifiers = result.get("modifiers") or []
    modifier_ids = {m.get("id") for m in modifiers}
    indicators = {m.get("indicator") for m in modifiers}
    for mid in exp.get("modifiers", []):
        assert mid in modifier_ids, info
    for mid in exp.get("absentModifiers", []):
        assert mid not in modifier_ids, info
    for indicator in exp.get("modifierIndicators", []):
        assert indicator in indicators, info

    missing = {m.get("fact") for m in result.get("missing") or []}
    for fact in exp.get("missingFacts", []):
        assert fact in missing, info
    if exp["status"] == "insufficient-data":
        assert missing, f"insufficient-data must list the missing facts\n{info}"

    if "matchedVariants" in exp:
        assert set(result.get("matchedVariants") or []) == set(exp["matchedVariants"]), info

    issues = json.dumps(result.get("dataIssues") or [])
    for needle in exp.get("dataIssues", []):
        assert needle in issues, info

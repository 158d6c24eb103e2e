"""The scenario tables (``tests/scenarios/scenarios*.json``): synthetic patients x orders with expectations
derived by hand from ``clinical-rules.md`` and the ACR tables (an oracle independent of the engine).

Three tables: ``scenarios.json`` (v1 rows, some updated for v2), ``scenarios-v2.json`` (clinical-rules v2) and
``scenarios-thoracic.json`` (Thoracic Back Pain 2024 and region concordance). Rows listed in
``tests/scenarios/pending.txt`` are not implemented yet: they run as strict xfails, so a row that starts passing
fails the suite until it is removed from the list (the list only shrinks).

Expectation keys (see ``tests/scenarios/README.md``): ``status`` exact; ``topic`` a topic id, a list of
allowed ids, or null (= not asserted); ``variant`` an ACR variant number, a list (the rating holds for
several possible variants: the reported variant, if any, must be one of them) or null (= the result carries
no variant); a ``no-criteria`` row may name the matched variant whose table lacks the procedure;
``variantAny`` skips the variant check; ``category`` exact (null when the status has none); optional
``modifiers`` / ``absentModifiers`` (modifier ids that must / must not be present), ``modifierIndicators``
(each must be the indicator of some modifier), ``missingFacts`` (each must be listed in ``missing``),
``matchedVariants`` (exact set) and ``dataIssues`` (strings that must appear in ``dataIssues``); the v2 and
thoracic keys (``safety``, ``absentSafety``, ``alternativesInclude``/``Exclude``, ``noMrAlternatives``,
``assumptions``/``absentAssumptions``, ``absentMissingFacts``, ``missingQuestion``, ``optionsDistinct``,
``mentions``, ``procedure``, ``results``, ``provenance``, ``concordant``, ``ratedUnder``) are described in the
README; where the result carries them is said beside each check below.
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
TABLES = ROOT / "tests" / "scenarios"
TABLE_FILES = ("scenarios.json", "scenarios-v2.json", "scenarios-thoracic.json")
SCENARIOS: list[dict[str, Any]] = [
    row for name in TABLE_FILES for row in json.loads((TABLES / name).read_text(encoding="utf-8"))
]
PENDING = {
    line.split("#", 1)[0].strip()
    for line in (TABLES / "pending.txt").read_text(encoding="utf-8").splitlines()
    if line.split("#", 1)[0].strip()
}
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


def _evaluate(scenario: dict[str, Any], criteria: Any) -> list[dict[str, Any]]:
    orders, others = split_input(_bundle_for(scenario))
    assert len(orders) == 1, f"split_input found {len(orders)} ServiceRequests, expected 1"
    record = record_from_resources(others)
    return [r.to_json() for r in assess_orders(checked_orders(orders), record, criteria, now=EVALUATION_TIME)]


def _id(value: Any, key: str) -> Any:
    """A reference the result may carry as an object (``{"id": …}``/``{"number": …}``) or bare."""
    return value.get(key) if isinstance(value, dict) else value


def _summary(result: dict[str, Any]) -> str:
    keys = ("status", "topic", "variant", "matchedVariants", "category", "modifiers", "missing", "dataIssues")
    brief = {k: result.get(k) for k in keys}
    brief["procedure"] = _id(result.get("procedure"), "id")
    brief["topic"] = _id(brief["topic"], "id")
    brief["variant"] = _id(brief["variant"], "number")
    brief["modifiers"] = [(m.get("id"), m.get("indicator")) for m in result.get("modifiers") or []]
    brief["missing"] = [m.get("fact") for m in result.get("missing") or []]
    brief["safety"] = [
        (s.get("check"), s.get("status"), s.get("indicator")) for s in result.get("safety") or []
    ]
    brief["alternatives"] = [_id(a.get("procedure"), "id") for a in result.get("alternatives") or []]
    return json.dumps(brief, default=str)


def _texts(result: dict[str, Any]) -> str:
    """Every text a reader sees: explanation, reasons, safety, missing questions, assumptions."""
    parts = [str(result.get("explanation") or "")]
    for key in ("reasons", "safety", "missing", "assumptions"):
        for item in result.get(key) or []:
            parts += [str(item.get("text") or ""), str(item.get("question") or "")]
    return " ".join(parts).lower()


def _expectations(scenario: dict[str, Any]) -> list[dict[str, Any]]:
    exp = scenario["expect"]
    return list(exp["results"]) if "results" in exp else [exp]


def test_tables_are_well_formed() -> None:
    assert len(SCENARIOS) >= 45 + 80 + 40
    ids = [s["id"] for s in SCENARIOS]
    assert len(ids) == len(set(ids))
    assert set(ids) >= PENDING, f"pending.txt names rows that do not exist: {sorted(PENDING - set(ids))}"
    for s in SCENARIOS:
        assert (FIXTURES / s["patient"]).is_file(), s["patient"]
        assert (FIXTURES / s["order"]).is_file(), s["order"]
        assert s["why"]
        for exp in _expectations(s):
            assert exp["status"] in STATUSES, s["id"]
            if exp["status"] != "rated":
                assert exp.get("category") is None, s["id"]
            if exp["status"] in ("insufficient-data", "not-applicable"):
                assert exp.get("variant") is None, s["id"]
            if "results" in s["expect"]:
                assert exp.get("procedure"), f"{s['id']}: each of several results names its procedure"


def _params() -> list[Any]:
    marks = pytest.mark.xfail(
        strict=True, reason="listed in tests/scenarios/pending.txt: not implemented yet"
    )
    return [pytest.param(s, id=s["id"], marks=marks if s["id"] in PENDING else ()) for s in SCENARIOS]


@pytest.mark.parametrize("scenario", _params())
def test_scenario(scenario: dict[str, Any], criteria: Any) -> None:
    results = _evaluate(scenario, criteria)
    expectations = _expectations(scenario)
    if "results" in scenario["expect"]:
        got = sorted(str(_id(r.get("procedure"), "id")) for r in results)
        want = sorted(e["procedure"] for e in expectations)
        assert got == want, f"{scenario['id']}: results for {got}, expected one per study {want}"
        by_procedure = {_id(r.get("procedure"), "id"): r for r in results}
        pairs = [(e, by_procedure[e["procedure"]]) for e in expectations]
    else:
        assert len(results) == 1, f"{scenario['id']}: {len(results)} results, expected 1"
        pairs = [(expectations[0], results[0])]
    for exp, result in pairs:
        _check(scenario, exp, result, criteria)


def _check(scenario: dict[str, Any], exp: dict[str, Any], result: dict[str, Any], criteria: Any) -> None:
    info = f"{scenario['id']}: {scenario['why']}\n  got {_summary(result)}"

    assert result["status"] == exp["status"], info
    assert str(result.get("consultationId", "")).startswith("urn:uuid:"), info
    if "procedure" in exp:
        assert _id(result.get("procedure"), "id") == exp["procedure"], info

    topic_id = _id(result.get("topic"), "id")
    if isinstance(exp.get("topic"), str):
        assert topic_id == exp["topic"], info
    elif isinstance(exp.get("topic"), list):
        assert topic_id in exp["topic"], info

    number = _id(result.get("variant"), "number")
    if not exp.get("variantAny"):
        if isinstance(exp.get("variant"), int):
            assert number == exp["variant"], info
        elif isinstance(exp.get("variant"), list):
            assert number is None or number in exp["variant"], info
        else:
            assert number is None, info

    assert result.get("category") == exp.get("category"), info

    modifiers = result.get("modifiers") or []
    modifier_ids = {m.get("id") for m in modifiers}
    indicators = {m.get("indicator") for m in modifiers}
    for mid in exp.get("modifiers", []):
        assert mid in modifier_ids, info
    for mid in exp.get("absentModifiers", []):
        assert mid not in modifier_ids, info
    for indicator in exp.get("modifierIndicators", []):
        assert indicator in indicators, info

    missing = result.get("missing") or []
    missing_facts = {m.get("fact") for m in missing}
    for fact in exp.get("missingFacts", []):
        assert fact in missing_facts, info
    for fact in exp.get("absentMissingFacts", []):
        assert fact not in missing_facts, info
    if exp["status"] == "insufficient-data":
        assert missing, f"insufficient-data must list the missing facts\n{info}"
    if exp.get("missingQuestion"):
        assert missing and all(str(m.get("question") or "").strip() for m in missing), info
    if exp.get("optionsDistinct"):
        for m in missing:
            outcomes = [o.get("outcome") for o in m.get("options") or []]
            assert len(outcomes) == len(set(outcomes)), info

    if "matchedVariants" in exp:
        assert set(result.get("matchedVariants") or []) == set(exp["matchedVariants"]), info

    issues = json.dumps(result.get("dataIssues") or [])
    for needle in exp.get("dataIssues", []):
        assert needle in issues, info

    # safety[]: {check, status, indicator, text, evidence} (clinical-rules §5, §7)
    safety = result.get("safety") or []
    for want in exp.get("safety", []):
        assert any(all(entry.get(k) == v for k, v in want.items()) for entry in safety), info
    for check in exp.get("absentSafety", []):
        assert all(entry.get("check") != check for entry in safety), info

    # alternatives[].procedure.id; modality from the criteria's procedure table
    alternatives = [_id(a.get("procedure"), "id") for a in result.get("alternatives") or []]
    for pid in exp.get("alternativesInclude", []):
        assert pid in alternatives, info
    for pid in exp.get("alternativesExclude", []):
        assert pid not in alternatives, info
    if exp.get("noMrAlternatives"):
        assert all(criteria.procedures[pid].modality != "MR" for pid in alternatives), info

    # assumptions[]: {fact, value, text, setting} (clinical-rules §2.4, §7)
    assumed = {a.get("fact") for a in result.get("assumptions") or []}
    for fact in exp.get("assumptions", []):
        assert fact in assumed, info
    for fact in exp.get("absentAssumptions", []):
        assert fact not in assumed, info

    for word in exp.get("mentions", []):
        assert word.lower() in _texts(result), f"{info}\n  '{word}' not mentioned in: {_texts(result)[:600]}"

    # the rated cell's provenance: source.provenance
    if "provenance" in exp:
        assert (result.get("source") or {}).get("provenance") == exp["provenance"], info

    # region mismatch: the safety entry with check "region" carries concordant {procedure, topic, variant, category}
    if "concordant" in exp:
        want = exp["concordant"]
        found = [e.get("concordant") or {} for e in safety if e.get("check") == "region"]
        assert any(
            _id(c.get("procedure"), "id") == want["procedure"]
            and _id(c.get("topic"), "id") == want["topic"]
            and _id(c.get("variant"), "number") == want["variant"]
            and c.get("category") == want["category"]
            for c in found
        ), info

    # a combined study rated under two topics: ratedUnder [{topic, variant, category}]
    if "ratedUnder" in exp:
        under = {
            (_id(r.get("topic"), "id"), _id(r.get("variant"), "number"))
            for r in result.get("ratedUnder") or []
        }
        for want in exp["ratedUnder"]:
            assert (want["topic"], want["variant"]) in under, info

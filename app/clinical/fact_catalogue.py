"""The fact catalogue for clinical review: every fact with the rule that computes it, its value sets, thresholds
and texts (the way business-rules exports its variables). Pure data; ``spine-auc criteria facts`` renders it."""

from __future__ import annotations

from typing import Any

from app.clinical.fact_rules import FactRule, rules
from app.clinical.terminology import display_code
from app.criteria.model import Criteria, ValueSet

#: how many codes of a value set the listing shows
SAMPLE_CODES = 5


def _codes(vs: ValueSet) -> list[dict[str, str]]:
    out = [
        {"system": system, "code": display_code(system, code), "match": "exact"}
        for system, codes in vs.exact.items()
        for code in codes
    ]
    out += [
        {"system": system, "code": display_code(system, prefix), "match": "prefix"}
        for system, prefixes in vs.prefix.items()
        for prefix, _, _ in prefixes
    ]
    out += [{"system": "", "code": name, "match": "name"} for name in vs.names]
    return out


def _value_sets(criteria: Criteria, rule: FactRule) -> list[dict[str, Any]]:
    out = []
    for source in rule.sources:
        for key, ids in criteria.fact_sources.get(source, {}).items():
            if not key.endswith("ValueSets"):
                continue
            for vs_id in ids:
                vs = criteria.value_sets[vs_id]
                codes = _codes(vs)
                out.append(
                    {
                        "id": vs.id,
                        "title": vs.title,
                        "source": source,
                        "use": key,
                        "codeCount": len(codes),
                        "codes": codes[:SAMPLE_CODES],
                    }
                )
    return out


def _entry(criteria: Criteria, rule: FactRule, name: str, text: str | None) -> dict[str, Any]:
    table = rule.codes(criteria) if rule.codes else []
    return {
        "fact": name,
        "kind": "uncodable" if name in criteria.uncodable_facts else "base",
        "rule": rule.name,
        "ruleText": rule.description,
        "text": text or criteria.fact_texts.get(name),
        "valueSets": _value_sets(criteria, rule),
        "settings": [
            {"name": s, "value": criteria.thresholds[s], "text": criteria.threshold_texts[s]}
            for s in rule.settings
        ],
        "reads": rule.reads,
        "codes": [{"system": system, "code": code} for system, code in table[:SAMPLE_CODES]],
        "codeCount": len(table),
    }


def fact_catalogue(criteria: Criteria) -> list[dict[str, Any]]:
    """Every fact the engine can decide on: base facts (registry order), uncodable facts, derived facts."""
    out = []
    for rule in rules():
        for name in rule.produces:
            out.append(_entry(criteria, rule, name, None))
        if rule.uncodable:
            out += [_entry(criteria, rule, name, text) for name, text in criteria.uncodable_facts.items()]
    for name, when in criteria.derived_facts.items():
        out.append(
            {
                "fact": name,
                "kind": "derived",
                "rule": "derived",
                "ruleText": "Combination of other facts (settings.json derivedFacts)",
                "text": criteria.fact_texts.get(name, name),
                "when": when,
                "valueSets": [],
                "settings": [],
                "reads": "",
                "codes": [],
                "codeCount": 0,
            }
        )
    return out

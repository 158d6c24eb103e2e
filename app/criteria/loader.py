"""Load, validate and index the criteria files once.

Validation has two layers: each file against its Draft 2020-12 schema (:mod:`app.criteria.schemas`), then the
cross-file references (procedure ids, value-set ids, facts, topics) in code. Every problem is reported as
``file:json_path: message``; :class:`app.errors.CriteriaError` carries the full list.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from app.clinical.fact_rules import base_fact_names
from app.criteria.model import (
    CATEGORIES,
    CodeEntry,
    Combination,
    Criteria,
    Expr,
    Modifier,
    Procedure,
    RoutingRule,
    Topic,
    ValueSet,
)
from app.criteria.schemas import SchemaSet
from app.errors import CriteriaError

_SCHEMA_FOR = {
    "manifest": "manifest.schema.json",
    "settings": "settings.schema.json",
    "routing": "routing.schema.json",
    "procedures": "procedures.schema.json",
    "valueSets": "valuesets.schema.json",
    "modifiers": "modifiers.schema.json",
    "topic": "topic.schema.json",
}


def load_criteria(directory: str | Path) -> Criteria:
    """Validate every criteria file and build the engine's index. Raises CriteriaError listing all problems."""
    root = Path(directory)
    raw, problems = _load_and_validate(root)
    if problems:
        raise CriteriaError(problems)
    problems = list(_cross_reference_problems(raw))
    if problems:
        raise CriteriaError(problems)
    return _build(raw)


def check_criteria(directory: str | Path) -> list[str]:
    """Every problem in the criteria directory (empty list = valid)."""
    try:
        load_criteria(directory)
    except CriteriaError as err:
        return err.problems
    return []


# --- reading and schema validation -----------------------------------------------------------------------------


def _read_json(path: Path, label: str, problems: list[str]) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        problems.append(f"{label}:$: file not found")
    except json.JSONDecodeError as err:
        problems.append(f"{label}:$: not valid JSON (line {err.lineno}, column {err.colno}: {err.msg})")
    return None


def _load_and_validate(root: Path) -> tuple[dict[str, Any], list[str]]:
    problems: list[str] = []
    if not root.is_dir():
        return {}, [f"{root}:$: criteria directory not found"]
    schemas = SchemaSet(root / "schemas")
    manifest = _read_json(root / "manifest.json", "manifest.json", problems)
    if manifest is None:
        return {}, problems
    problems += schemas.report(_SCHEMA_FOR["manifest"], manifest, "manifest.json")
    if problems:
        return {}, problems
    raw: dict[str, Any] = {"manifest": manifest, "topics": {}}
    for key in ("settings", "routing", "procedures", "valueSets", "modifiers"):
        rel = manifest[key]
        doc = _read_json(root / rel, rel, problems)
        if doc is not None:
            problems += schemas.report(_SCHEMA_FOR[key], doc, rel)
            raw[key] = doc
    for rel in manifest["topics"]:
        doc = _read_json(root / rel, rel, problems)
        if doc is not None:
            problems += schemas.report(_SCHEMA_FOR["topic"], doc, rel)
            raw["topics"][rel] = doc
    return raw, problems


# --- cross references ------------------------------------------------------------------------------------------


def _facts_in(expr: Expr | None, path: str) -> Iterator[tuple[str, str]]:
    if not expr:
        return
    if "fact" in expr:
        yield expr["fact"], path
    for key in ("all", "any"):
        for i, sub in enumerate(expr.get(key, [])):
            yield from _facts_in(sub, f"{path}.{key}[{i}]")
    if "not" in expr:
        yield from _facts_in(expr["not"], f"{path}.not")


def _cross_reference_problems(raw: dict[str, Any]) -> Iterator[str]:
    manifest = raw["manifest"]
    settings, procedures = raw["settings"], raw["procedures"]
    proc_ids = {p["id"] for p in procedures["procedures"]}
    vs_ids = {v["id"] for v in raw["valueSets"]["valueSets"]}
    known_facts = set(base_fact_names()) | set(settings["derivedFacts"]) | set(settings["uncodableFacts"])
    pfile, vfile, sfile = manifest["procedures"], manifest["valueSets"], manifest["settings"]

    seen: set[str] = set()
    for i, p in enumerate(procedures["procedures"]):
        if p["id"] in seen:
            yield f"{pfile}:$.procedures[{i}].id: duplicate procedure id {p['id']!r}"
        seen.add(p["id"])
        if p["region"] not in settings["regionCoverage"]:
            yield f"{pfile}:$.procedures[{i}].region: region {p['region']!r} missing from settings regionCoverage"
    for i, c in enumerate(procedures["codes"]):
        for j, pid in enumerate(c["procedures"]):
            if pid not in proc_ids:
                yield f"{pfile}:$.codes[{i}].procedures[{j}]: unknown procedure {pid!r}"
    for i, c in enumerate(procedures["combinations"]):
        for j, pid in enumerate(c["procedures"]):
            if pid not in proc_ids:
                yield f"{pfile}:$.combinations[{i}].procedures[{j}]: unknown procedure {pid!r}"

    for name, fact in settings["facts"].items():
        for key, ids in fact.items():
            if key.endswith("ValueSets"):
                for j, vid in enumerate(ids):
                    if vid not in vs_ids:
                        yield f"{sfile}:$.facts.{name}.{key}[{j}]: unknown value set {vid!r} (not in {vfile})"
    for name, derived in settings["derivedFacts"].items():
        for fact, where in _facts_in(derived["when"], f"$.derivedFacts.{name}.when"):
            if fact not in known_facts:
                yield f"{sfile}:{where}: unknown fact {fact!r}"

    topic_ids: set[str] = set()
    for rel, topic in raw["topics"].items():
        topic_ids.add(topic["id"])
        if Path(rel).stem != topic["id"]:
            yield f"{rel}:$.id: topic id {topic['id']!r} does not match the file name"
        for k, cover in enumerate(topic.get("rowCoverage", [])):
            for where, region in [("region", cover["region"])] + [
                (f"covers[{m}]", r) for m, r in enumerate(cover["covers"])
            ]:
                if region not in settings["regionCoverage"]:
                    yield f"{rel}:$.rowCoverage[{k}].{where}: unknown region {region!r}"
        numbers = [v["number"] for v in topic["variants"]]
        if sorted(numbers) != sorted(topic["variantPrecedence"]):
            yield f"{rel}:$.variantPrecedence: must list exactly the variant numbers {sorted(numbers)}"
        for i, v in enumerate(topic["variants"]):
            for fact, where in _facts_in(v["when"], f"$.variants[{i}].when"):
                if fact not in known_facts:
                    yield f"{rel}:{where}: unknown fact {fact!r}"
            row_procs: set[str] = set()
            for j, row in enumerate(v["rows"]):
                if row["procedure"] not in proc_ids:
                    yield f"{rel}:$.variants[{i}].rows[{j}].procedure: unknown procedure {row['procedure']!r}"
                if row["procedure"] in row_procs:
                    yield f"{rel}:$.variants[{i}].rows[{j}].procedure: procedure listed twice in the variant"
                row_procs.add(row["procedure"])

    rfile = manifest["routing"]
    for i, rule in enumerate(raw["routing"]["rules"]):
        if rule["topic"] is not None and rule["topic"] not in topic_ids:
            yield f"{rfile}:$.rules[{i}].topic: unknown topic {rule['topic']!r}"
        named = [(f"ratedUnder[{k}]", t) for k, t in enumerate(rule.get("ratedUnder", []))]
        named += [("concordant", rule["concordant"])] if rule.get("concordant") else []
        for where, target in named:
            if target["topic"] not in topic_ids:
                yield f"{rfile}:$.rules[{i}].{where}.topic: unknown topic {target['topic']!r}"
            if target["region"] not in settings["regionCoverage"]:
                yield f"{rfile}:$.rules[{i}].{where}.region: unknown region {target['region']!r}"
        for fact, where in _facts_in(rule["when"], f"$.rules[{i}].when"):
            if fact not in known_facts:
                yield f"{rfile}:{where}: unknown fact {fact!r}"

    mfile = manifest["modifiers"]
    for i, mod in enumerate(raw["modifiers"]["modifiers"]):
        for fact, where in _facts_in(mod["when"], f"$.modifiers[{i}].when"):
            if fact not in known_facts:
                yield f"{mfile}:{where}: unknown fact {fact!r}"
        for tid in mod.get("variants") or {}:
            if tid not in topic_ids:
                yield f"{mfile}:$.modifiers[{i}].variants: unknown topic {tid!r}"


# --- building the index ----------------------------------------------------------------------------------------


def _norm_code(system: str, code: str) -> str:
    from app.clinical.terminology import normalise_code

    return normalise_code(system, code)


def _build(raw: dict[str, Any]) -> Criteria:
    settings, procs_doc = raw["settings"], raw["procedures"]
    entries = [CodeEntry.from_doc(doc) for doc in procs_doc["codes"]]
    emit: dict[str, list[dict[str, str]]] = {}
    for entry in entries:
        if len(entry.procedures) == 1 and not entry.flags:
            emit.setdefault(entry.procedures[0], []).append(entry.coding)
    value_sets = {doc["id"]: ValueSet.from_doc(doc, _norm_code) for doc in raw["valueSets"]["valueSets"]}
    vs_exact, vs_prefix, vs_name_patterns = _value_set_index(value_sets)
    thresholds = settings["thresholds"]
    fact_texts = {name: f["text"] for name, f in settings["facts"].items()}
    fact_texts.update({name: d["text"] for name, d in settings["derivedFacts"].items()})
    fact_texts.update(settings["uncodableFacts"])
    return Criteria(
        version=raw["manifest"]["criteriaVersion"],
        topics={doc["id"]: Topic.from_doc(doc) for doc in raw["topics"].values()},
        procedures={
            p["id"]: Procedure.from_doc(p, tuple(emit.get(p["id"], []))) for p in procs_doc["procedures"]
        },
        codes={(entry.system, _norm_code(entry.system, entry.code)): entry for entry in entries},
        combinations=tuple(map(Combination.from_doc, procs_doc["combinations"])),
        value_sets=value_sets,
        vs_exact=vs_exact,
        vs_prefix=vs_prefix,
        vs_name_patterns=vs_name_patterns,
        thresholds={k: float(v["value"]) for k, v in thresholds.items()},
        threshold_texts={k: v["text"] for k, v in thresholds.items()},
        categories={c: settings["categories"][c] for c in CATEGORIES},
        pama=dict(settings["pamaMapping"]),
        rrl_order=tuple(settings["rrlOrder"]),
        region_coverage={k: frozenset(v) for k, v in settings["regionCoverage"].items()},
        fact_sources=settings["facts"],
        fact_texts=fact_texts,
        uncodable_facts=dict(settings["uncodableFacts"]),
        derived_facts={k: v["when"] for k, v in settings["derivedFacts"].items()},
        routing=tuple(map(RoutingRule.from_doc, raw["routing"]["rules"])),
        routing_otherwise_text=raw["routing"]["otherwise"]["text"],
        modifiers=tuple(map(Modifier.from_doc, raw["modifiers"]["modifiers"])),
        text_patterns={
            k: {kk: tuple(vv) for kk, vv in v.items()} for k, v in procs_doc.get("textPatterns", {}).items()
        },
    )


def _value_set_index(
    value_sets: dict[str, ValueSet],
) -> tuple[
    dict[tuple[str, str], tuple[tuple[str, bool], ...]],
    dict[str, dict[str, tuple[tuple[str, frozenset[str] | None, bool], ...]]],
    dict[str, re.Pattern[str]],
]:
    """The reverse indexes from a code (exact, by prefix) or an ingredient name to the value sets naming it."""
    vs_exact: dict[tuple[str, str], list[tuple[str, bool]]] = {}
    vs_prefix: dict[str, dict[str, list[tuple[str, frozenset[str] | None, bool]]]] = {}
    for vs in value_sets.values():
        for system, codes_weak in vs.exact.items():
            for code, weak in codes_weak.items():
                vs_exact.setdefault((system, code), []).append((vs.id, weak))
        for system, prefixes in vs.prefix.items():
            for prefix, seventh, weak in prefixes:
                vs_prefix.setdefault(system, {}).setdefault(prefix, []).append((vs.id, seventh, weak))
    return (
        {k: tuple(v) for k, v in vs_exact.items()},
        {s: {p: tuple(v) for p, v in d.items()} for s, d in vs_prefix.items()},
        {
            vs.id: re.compile(
                r"(?<![a-z])(?:"
                + "|".join(re.escape(n) for n in sorted(vs.names, key=len, reverse=True))
                + r")(?![a-z])"
            )
            for vs in value_sets.values()
            if vs.names
        },
    )

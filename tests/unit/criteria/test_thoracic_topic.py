"""ACR Thoracic Back Pain 2024 as criteria data, checked cell by cell against the shared reference.

An oracle over ``../shared/reference/acr-thoracic-back-pain.md`` (parsed here, independently of the engine):
every cell's category, provenance and source ids; RRL and ratings null; ACR wording as variant text; variant
conditions per clinical-rules v2 §4.2. The topic is not in ``criteria/manifest.json`` yet (its facts are not in
the engine), so the loader does not see it; this test is its only check until then.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from app.clinical.orders import resolve_procedure
from app.criteria.model import Criteria

REPO = Path(__file__).resolve().parents[3]
CRITERIA = REPO / "criteria"
TOPIC_FILE = CRITERIA / "topics" / "acr-thoracic-back-pain.json"
REFERENCE = Path(REPO).parent / "shared" / "reference" / "acr-thoracic-back-pain.md"

if not REFERENCE.is_file():
    pytest.skip(
        f"the shared reference {REFERENCE} is not checked out next to the repository; the oracle needs it",
        allow_module_level=True,
    )

UA, MBA, MBAD, UNA = (
    "usually-appropriate",
    "may-be-appropriate",
    "may-be-appropriate-disagreement",
    "usually-not-appropriate",
)
CATEGORY_WORDS = {
    "Usually Appropriate": UA,
    "May Be Appropriate": MBA,
    "May Be Appropriate (Disagreement)": MBAD,
    "Usually Not Appropriate": UNA,
    "MBA‡": MBA,
}
SOURCE_ID = re.compile(r"\bT\d+[a-z]?\b")

#: ACR procedure name -> (modality, region, contrast) the catalogue entry must have.
PROCEDURE_SHAPE = {
    "Radiography thoracic spine": ("XR", "thoracic", "n/a"),
    "MRI thoracic spine with IV contrast": ("MR", "thoracic", "iv"),
    "MRI thoracic spine without and with IV contrast": ("MR", "thoracic", "iv-wo-w"),
    "MRI thoracic spine without IV contrast": ("MR", "thoracic", "none"),
    "Bone scan whole body": ("NM-BONE", "whole-body", "n/a"),
    "Bone scan with SPECT or SPECT/CT thoracic spine": ("NM-BONE", "thoracic", "n/a"),
    "CT thoracic spine with IV contrast": ("CT", "thoracic", "iv"),
    "CT thoracic spine without IV contrast": ("CT", "thoracic", "none"),
    "CT myelography thoracic spine": ("CTM", "thoracic", "intrathecal"),
    "CT thoracic spine without and with IV contrast": ("CT", "thoracic", "iv-wo-w"),
    "FDG-PET/CT skull base to mid-thigh": ("PET-CT", "whole-body", "n/a"),
}

#: Facts the conditions may name: clinical-rules v2 §4.2 (and the engine's `myelopathy`, which §3 routes away).
ALLOWED_FACTS = {
    "thoracic_radiculopathy",
    "myelopathy",
    "cancer",
    "infection",
    "immunosuppression",
    "prior_thoracic_surgery",
    "low_velocity_trauma",
    "osteoporosis",
    "elderly",
    "chronic_steroid_use",
    "prior_thoracic_radiograph_abnormal",
    "duration_subacute_or_chronic",
    "managed_6_weeks",
}


# --- the reference, parsed -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RefCell:
    category: str | None  # None: the reference has no category for this procedure in this variant
    lossy: bool  # marked MBA‡
    tag: str
    source_ids: frozenset[str]


@dataclass(frozen=True)
class RefVariant:
    number: int
    acr_wording: str | None  # ACR's own variant wording (T1), where found
    scenarios: tuple[str, ...]
    cells: dict[str, RefCell]


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def _parse_reference(text: str) -> tuple[dict[int, RefVariant], set[str], list[str]]:
    """Variants, the source ids the reference defines, and its 11-procedure print list."""
    source_ids = set(re.findall(r"^\| (T\d+) \|", text, flags=re.M))
    source_ids |= set(re.findall(r"^\* (T\d+[a-z]) https?://", text, flags=re.M))
    print_list = re.findall(
        r"^\d+\. (.+)$", text.split("**Procedure list.**", 1)[1].split("**RRL:**", 1)[0], re.M
    )
    variants: dict[int, RefVariant] = {}
    for block in re.split(r"^## ", text, flags=re.M):
        head = re.match(r"Variant (\d+)", block)
        if not head:
            continue
        number = int(head.group(1))
        wording = re.search(r'^> "(.+)" \*\*\[P\]\*\* T1$', block, flags=re.M)
        scen_part = block.split("ACR scenarios", 1)[1]
        scenarios = tuple(re.findall(r'^\* "(.+)"$', scen_part.split("\n|", 1)[0], flags=re.M))
        cells: dict[str, RefCell] = {}
        for line in block.splitlines():
            if not line.startswith("| ") or line.startswith("| Procedure") or line.startswith("|---"):
                continue
            name, cat, _rrl, tag, source = _cells(line)
            if cat.startswith("not found"):
                category = None
            else:
                assert cat in CATEGORY_WORDS, f"V{number} {name}: unreadable category {cat!r}"
                category = CATEGORY_WORDS[cat]
            ids = frozenset(SOURCE_ID.findall(tag + " " + source))
            cells[name] = RefCell(category, cat == "MBA‡", tag, ids)
        variants[number] = RefVariant(number, wording.group(1) if wording else None, scenarios, cells)
    return variants, source_ids, print_list


REF_VARIANTS, REF_SOURCE_IDS, REF_PRINT_LIST = _parse_reference(REFERENCE.read_text(encoding="utf-8"))


# --- the data ----------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def topic() -> dict[str, Any]:
    return json.loads(TOPIC_FILE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def procedures() -> dict[str, dict[str, Any]]:
    doc = json.loads((CRITERIA / "procedures.json").read_text(encoding="utf-8"))
    return {p["id"]: p for p in doc["procedures"]}


def _rows(topic: dict[str, Any]) -> list[tuple[int, dict[str, Any]]]:
    return [(v["number"], row) for v in topic["variants"] for row in v["rows"]]


def test_the_parsed_reference_has_what_it_states() -> None:
    # Guards the parser: 7 variants, 11 procedures each (V6: 10 rated + radiography not found), 11 MBA‡ cells.
    assert sorted(REF_VARIANTS) == [1, 2, 3, 4, 5, 6, 7]
    assert len(REF_PRINT_LIST) == 11 and set(REF_PRINT_LIST) == set(PROCEDURE_SHAPE)
    for v in REF_VARIANTS.values():
        assert set(v.cells) == set(REF_PRINT_LIST), v.number
    assert sum(c.lossy for v in REF_VARIANTS.values() for c in v.cells.values()) == 11
    assert [n for n, v in REF_VARIANTS.items() for c in v.cells.values() if c.category is None] == [6]
    assert {"T1", "T2", "T3e", "T4a"} <= REF_SOURCE_IDS
    assert [len(REF_VARIANTS[n].scenarios) for n in range(1, 8)] == [2, 4, 2, 8, 6, 6, 2]


@pytest.fixture(scope="module")
def topic_schema() -> Draft202012Validator:
    registry: Registry = Registry()
    schemas = {}
    for path in (CRITERIA / "schemas").glob("*.schema.json"):
        schema = json.loads(path.read_text(encoding="utf-8"))
        schemas[path.name] = schema
        registry = registry.with_resource(schema["$id"], Resource.from_contents(schema))
    return Draft202012Validator(schemas["topic.schema.json"], registry=registry)


def test_topic_is_valid_against_the_topic_schema(
    topic: dict[str, Any], topic_schema: Draft202012Validator
) -> None:
    assert [f"{e.json_path}: {e.message}" for e in topic_schema.iter_errors(topic)] == []


def test_schema_takes_secondary_uncertain_but_not_the_reference_mark(
    topic: dict[str, Any], topic_schema: Draft202012Validator
) -> None:
    broken = copy.deepcopy(topic)
    broken["variants"][2]["rows"][2]["provenance"] = "MBA‡"
    assert [e.json_path for e in topic_schema.iter_errors(broken)] == ["$.variants[2].rows[2].provenance"]


def test_topic_header(topic: dict[str, Any]) -> None:
    assert topic["id"] == TOPIC_FILE.stem == "acr-thoracic-back-pain"
    assert (topic["acrTopicId"], topic["version"], topic["population"]) == (339, "2024", "adult")
    assert "10.1016/j.jacr.2024.08.016" in topic["citation"]
    assert "topicId=339" in topic["url"]
    assert [v["number"] for v in topic["variants"]] == [1, 2, 3, 4, 5, 6, 7]
    assert topic["variantPrecedence"] == [3, 5, 7, 4, 6, 2, 1]  # clinical-rules v2 §4.2 table order


def test_every_cell_has_the_reference_category(topic: dict[str, Any]) -> None:
    for v in topic["variants"]:
        ref = REF_VARIANTS[v["number"]]
        got = {row["acrName"]: row["category"] for row in v["rows"]}
        expected = {name: c.category for name, c in ref.cells.items() if c.category is not None}
        assert got == expected, f"variant {v['number']}"
        assert v["rowsComplete"] is (len(expected) == len(REF_PRINT_LIST))


def test_every_cell_source_id_exists_in_the_reference_row(topic: dict[str, Any]) -> None:
    for number, row in _rows(topic):
        ref = REF_VARIANTS[number].cells[row["acrName"]]
        assert row["source"].startswith(f"acr-thoracic-back-pain.md Variant {number}: "), row["source"]
        cited = set(SOURCE_ID.findall(row["source"]))
        assert cited, f"V{number} {row['acrName']}: no source id"
        assert cited <= REF_SOURCE_IDS, (
            f"V{number} {row['acrName']}: {cited - REF_SOURCE_IDS} not in the reference"
        )
        assert cited <= ref.source_ids, (
            f"V{number} {row['acrName']}: {cited} vs reference row {set(ref.source_ids)}"
        )


def test_mba_double_dagger_cells_are_secondary_uncertain_and_only_they(topic: dict[str, Any]) -> None:
    for number, row in _rows(topic):
        ref = REF_VARIANTS[number].cells[row["acrName"]]
        expected = "secondary-uncertain" if ref.lossy else "P"
        assert row["provenance"] == expected, f"V{number} {row['acrName']}"
        if ref.lossy:
            assert "lossy copy of the ACR table" in row["source"]
        if "†" in ref.tag:
            assert "†" in row["source"], (
                f"V{number} {row['acrName']}: procedure identity by elimination not stated"
            )


def test_rrl_and_rating_are_null_everywhere(topic: dict[str, Any]) -> None:
    for number, row in _rows(topic):
        assert set(row["rrl"].values()) == {None}, f"V{number} {row['acrName']}"
        assert row["rating"] is None
    assert any("RRL" in note and "not copied" in note for note in topic["notes"])


def test_rows_name_catalogue_procedures_of_the_right_shape(
    topic: dict[str, Any], procedures: dict[str, dict[str, Any]]
) -> None:
    for number, row in _rows(topic):
        proc = procedures[row["procedure"]]
        shape = (proc["modality"], proc["region"], proc["contrast"])
        assert shape == PROCEDURE_SHAPE[row["acrName"]], f"V{number} {row['acrName']} -> {row['procedure']}"


def test_variant_text_is_acr_wording(topic: dict[str, Any]) -> None:
    for v in topic["variants"]:
        ref = REF_VARIANTS[v["number"]]
        assert [s["text"] for s in v["scenarios"]] == list(ref.scenarios)
        if ref.acr_wording is not None:  # V1-V3: ACR's own variant wording (T1)
            assert v["text"] == ref.acr_wording
            assert v["provenance"] == "P"
        else:  # V4-V7: variant wording not found -> ACR's scenario wording, number inferred
            assert v["text"] == "; ".join(ref.scenarios)
            assert v["provenance"] == "U" and "inferred [U]" in v["source"]


# --- variant conditions (clinical-rules v2 §4.2), with a three-valued evaluator of our own ------------------------


def _facts_of(expr: dict[str, Any]) -> set[str]:
    out = {expr["fact"]} if "fact" in expr else set()
    for sub in expr.get("all", []) + expr.get("any", []):
        out |= _facts_of(sub)
    return out | (_facts_of(expr["not"]) if "not" in expr else set())


def _eval(expr: dict[str, Any], facts: dict[str, bool | None]) -> bool | None:
    if "fact" in expr:
        return facts.get(expr["fact"], False)
    if "not" in expr:
        inner = _eval(expr["not"], facts)
        return None if inner is None else not inner
    values = [_eval(e, facts) for e in expr.get("all", expr.get("any", []))]
    if "all" in expr:
        return False if False in values else (None if None in values else True)
    return True if True in values else (None if None in values else False)


def _matched(topic: dict[str, Any], **facts: bool | None) -> dict[int, bool | None]:
    return {v["number"]: _eval(v["when"], facts) for v in topic["variants"]}


def test_conditions_name_only_the_agreed_facts(topic: dict[str, Any]) -> None:
    named = set().union(*(_facts_of(v["when"]) for v in topic["variants"]))
    assert named <= ALLOWED_FACTS
    assert {"thoracic_radiculopathy", "prior_thoracic_surgery", "prior_thoracic_radiograph_abnormal"} <= named


@pytest.mark.parametrize(
    ("facts", "expected"),
    [
        ({}, {1}),  # acute, no red flag, no care
        # subacute/chronic without 6 weeks of care -> V1 (interpretation stated in §4.2)
        ({"duration_subacute_or_chronic": True}, {1}),
        ({"duration_subacute_or_chronic": True, "managed_6_weeks": True}, {2}),
        (
            {"thoracic_radiculopathy": True, "duration_subacute_or_chronic": True, "managed_6_weeks": True},
            {3},
        ),
        ({"myelopathy": True}, set()),  # ACR V1/V2 wording; myelopathy is routed to the Myelopathy topic (§3)
        ({"cancer": True}, {5}),
        ({"immunosuppression": True}, {5}),
        ({"infection": True, "elderly": True}, {4, 5}),
        ({"osteoporosis": True}, {4}),
        ({"low_velocity_trauma": True}, {4}),
        ({"chronic_steroid_use": True, "duration_subacute_or_chronic": True}, {4}),
        ({"prior_thoracic_radiograph_abnormal": True}, {6}),  # next study: not V1 (initial imaging)
        (
            {"prior_thoracic_surgery": True, "duration_subacute_or_chronic": True, "managed_6_weeks": True},
            {7},
        ),
    ],
)
def test_variant_conditions_follow_clinical_rules(
    topic: dict[str, Any], facts: dict[str, bool], expected: set[int]
) -> None:
    matched = _matched(topic, **facts)
    assert {n for n, value in matched.items() if value is True} == expected
    assert None not in matched.values()


def test_unknown_care_leaves_v1_and_v2_open(topic: dict[str, Any]) -> None:
    matched = _matched(topic, duration_subacute_or_chronic=True, managed_6_weeks=None)
    assert (matched[1], matched[2]) == (None, None)
    assert all(matched[n] is False for n in (3, 4, 5, 6, 7))


# --- the new procedures ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Bone scan with SPECT/CT T-spine", ("bone-scan-spect-thoracic",)),
        ("NM bone scan SPECT thoracic spine", ("bone-scan-spect-thoracic",)),
        ("MRI T spine w+wo", ("mri-thoracic-wo-w",)),
        ("MRI T spine w & w/o contrast", ("mri-thoracic-wo-w",)),
        ("CT TL spine without contrast", ("ct-tl-wo",)),
        ("Bone scan whole body", ("bone-scan-spect", "bone-scan-wb")),
    ],
)
def test_thoracic_text_orders_resolve(criteria: Criteria, text: str, expected: tuple[str, ...]) -> None:
    ordered = resolve_procedure({"resourceType": "ServiceRequest", "code": {"text": text}}, criteria)
    assert (ordered.identified_by, ordered.candidates) == ("text", expected)

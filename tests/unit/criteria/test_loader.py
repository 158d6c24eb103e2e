"""The loader: cross-reference problems with their locations, and the model each document becomes."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO

from app.criteria.loader import check_criteria
from app.criteria.model import Criteria, Modifier, Procedure, ValueSet

LBP = "topics/acr-low-back-pain.json"


@pytest.fixture()
def copy(tmp_path: Path) -> Path:
    target = tmp_path / "criteria"
    shutil.copytree(REPO / "criteria", target)
    return target


def edit(path: Path, change: Callable[[Any], object]) -> None:
    doc = json.loads(path.read_text(encoding="utf-8"))
    change(doc)
    path.write_text(json.dumps(doc), encoding="utf-8")


def _duplicate_first_procedure(doc: Any) -> None:
    doc["procedures"].append(dict(doc["procedures"][0]))


def _duplicate_first_row(doc: Any) -> None:
    rows = doc["variants"][0]["rows"]
    rows.append(dict(rows[0]))


CROSS_REFERENCE_CASES = [
    (
        "procedures.json",
        _duplicate_first_procedure,
        "procedures.json:$.procedures[{last}].id: duplicate procedure id 'xr-lumbar'",
    ),
    (
        "settings.json",
        lambda d: d["regionCoverage"].pop("whole-body"),
        "procedures.json:$.procedures[{wb}].region: region 'whole-body' missing from settings regionCoverage",
    ),
    (
        "procedures.json",
        lambda d: d["codes"][0]["procedures"].__setitem__(0, "xr-made-up"),
        "procedures.json:$.codes[0].procedures[0]: unknown procedure 'xr-made-up'",
    ),
    (
        "procedures.json",
        lambda d: d["combinations"][0]["procedures"].__setitem__(0, "mri-made-up"),
        "procedures.json:$.combinations[0].procedures[0]: unknown procedure 'mri-made-up'",
    ),
    (
        "settings.json",
        lambda d: d["derivedFacts"]["lbp_red_flag"].__setitem__("when", {"fact": "moon_phase"}),
        "settings.json:$.derivedFacts.lbp_red_flag.when: unknown fact 'moon_phase'",
    ),
    (
        LBP,
        lambda d: d.__setitem__("variantPrecedence", [4, 7, 5, 6, 3, 1]),
        f"{LBP}:$.variantPrecedence: must list exactly the variant numbers [1, 2, 3, 4, 5, 6, 7]",
    ),
    (
        LBP,
        lambda d: d.__setitem__("id", "acr-lbp"),
        f"{LBP}:$.id: topic id 'acr-lbp' does not match the file name",
    ),
    (
        LBP,
        _duplicate_first_row,
        f"{LBP}:$.variants[0].rows[{{rows}}].procedure: procedure listed twice in the variant",
    ),
    (
        "routing.json",
        lambda d: d["rules"][0].__setitem__("topic", "acr-neck-pain"),
        "routing.json:$.rules[0].topic: unknown topic 'acr-neck-pain'",
    ),
    (
        "routing.json",
        lambda d: d["rules"][0].__setitem__(
            "when", {"all": [{"fact": "back_pain"}, {"not": {"fact": "moon"}}]}
        ),
        "routing.json:$.rules[0].when.all[1].not: unknown fact 'moon'",
    ),
    (
        "modifiers.json",
        lambda d: d["modifiers"][0].__setitem__("variants", {"acr-neck-pain": [1]}),
        "modifiers.json:$.modifiers[0].variants: unknown topic 'acr-neck-pain'",
    ),
]


@pytest.mark.parametrize(("file", "change", "expected"), CROSS_REFERENCE_CASES)
def test_cross_reference_problem_is_reported_with_its_location(copy, criteria, file, change, expected):
    edit(copy / file, change)
    wb = next(i for i, p in enumerate(criteria.procedures.values()) if p.region == "whole-body")
    rows = len(criteria.topics["acr-low-back-pain"].variants[0].rows)
    problems = check_criteria(copy)
    assert expected.format(last=len(criteria.procedures), wb=wb, rows=rows) in problems
    assert all(p.split(":$", 1)[0].endswith(".json") and ": " in p for p in problems)


def test_schema_problems_are_reported_before_cross_references(copy):
    edit(copy / LBP, lambda d: d.__setitem__("variantPrecedence", "all"))
    edit(copy / "routing.json", lambda d: d["rules"][0].__setitem__("topic", "acr-neck-pain"))
    assert check_criteria(copy) == [f"{LBP}:$.variantPrecedence: 'all' is not of type 'array'"]


def test_a_missing_criteria_directory_is_one_problem(tmp_path):
    assert check_criteria(tmp_path / "nowhere") == [f"{tmp_path / 'nowhere'}:$: criteria directory not found"]


def test_procedures_carry_the_codes_to_suggest_only_from_unambiguous_unflagged_codes(criteria: Criteria):
    xr = criteria.procedures["xr-lumbar"]
    assert {
        "system": "http://www.ama-assn.org/go/cpt",
        "code": "72100",
        "display": xr.codes[0]["display"],
    } in (xr.codes)
    assert all(c["code"] not in ("72114", "72120") for c in xr.codes)  # flexion-extension codes


def test_value_set_from_doc_normalises_codes_and_splits_by_match():
    doc = {
        "id": "demo",
        "title": "Demo",
        "include": [
            {"system": "icd", "match": "prefix", "seventhCharacter": ["A"], "codes": [{"code": "S32.0"}]},
            {"system": "sct", "match": "exact", "codes": [{"code": "123456", "weak": True}]},
            {"match": "name", "codes": [{"code": "Ibuprofen"}]},
        ],
        "exclude": [{"system": "icd", "codes": [{"code": "S32.9"}]}],
    }
    vs = ValueSet.from_doc(doc, lambda system, code: code.replace(".", ""))
    assert vs.prefix == {"icd": (("S320", frozenset({"A"}), False),)}
    assert vs.exact == {"sct": {"123456": True}}
    assert vs.names == ("ibuprofen",)
    assert vs.exclude_prefix == {"icd": ("S329",)}


def test_procedure_and_modifier_from_doc_rename_the_json_fields():
    procedure = Procedure.from_doc(
        {
            "id": "x",
            "display": "X",
            "modality": "XR",
            "region": "lumbar",
            "contrast": "none",
            "spineImaging": "yes",
        }
    )
    assert procedure.spine_imaging == "yes" and procedure.codes == ()
    modifiers = json.loads((REPO / "criteria/modifiers.json").read_text(encoding="utf-8"))["modifiers"]
    m2 = Modifier.from_doc(next(m for m in modifiers if m["id"] == "M2"))
    assert m2.applies_to["all"][0] == {"procedure": "modality", "in": ["XR"]}
    assert m2.source_text.startswith("Upright radiographs") and m2.variants == {"acr-low-back-pain": (3, 5)}

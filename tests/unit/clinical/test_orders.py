"""Order recognition (clinical-rules.md §1.3, §5.2): every spine imaging CPT, clinicians' abbreviations, two-region
orders as two studies. Real criteria data; expectations from the CPT descriptors named in §1.3."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from app.clinical.orders import resolve_procedure, resolve_studies
from app.criteria.loader import load_criteria
from app.criteria.model import Criteria

ROOT = Path(__file__).resolve().parents[3]
CPT = "http://www.ama-assn.org/go/cpt"


@pytest.fixture(scope="module")
def criteria() -> Criteria:
    return load_criteria(ROOT / "criteria")


def _order(*codes: str, text: str | None = None) -> dict[str, Any]:
    code: dict[str, Any] = {"coding": [{"system": CPT, "code": c} for c in codes]}
    if text is not None:
        code["text"] = text
    return {"resourceType": "ServiceRequest", "id": "o1", "code": code}


# Every CPT code of the ranges §1.3 names, with the study its descriptor names (region, modality, contrast).
SPINE_CPT = {
    "72020": "xr-spine-unspecified",
    "72040": "xr-cervical",
    "72050": "xr-cervical",
    "72052": "xr-cervical",
    "72070": "xr-thoracic",
    "72072": "xr-thoracic",
    "72074": "xr-thoracic",
    "72080": "xr-tl",
    "72081": "xr-tl",
    "72082": "xr-tl",
    "72083": "xr-tl",
    "72084": "xr-tl",
    "72100": "xr-lumbar",
    "72110": "xr-lumbar",
    "72114": "xr-lumbar",
    "72120": "xr-lumbar",
    "72200": "xr-sacrum-si",
    "72202": "xr-sacrum-si",
    "72220": "xr-sacrum-si",
    "72125": "ct-cervical-wo",
    "72126": "ct-cervical-w",
    "72127": "ct-cervical-wo-w",
    "72128": "ct-thoracic-wo",
    "72129": "ct-thoracic-w",
    "72130": "ct-thoracic-wo-w",
    "72131": "ct-lumbar-wo",
    "72132": "ct-lumbar-w",
    "72133": "ct-lumbar-wo-w",
    "72141": "mri-cervical-wo",
    "72142": "mri-cervical-w",
    "72146": "mri-thoracic-wo",
    "72147": "mri-thoracic-w",
    "72148": "mri-lumbar-wo",
    "72149": "mri-lumbar-w",
    "72156": "mri-cervical-wo-w",
    "72157": "mri-thoracic-wo-w",
    "72158": "mri-lumbar-wo-w",
    "72240": "myelo-cervical",
    "72255": "myelo-thoracic",
    "72265": "myelo-lumbar",
    "62302": "myelo-cervical",
    "62303": "myelo-thoracic",
    "62304": "myelo-lumbar",
    "62305": "myelo-spine",
}


@pytest.mark.parametrize(("code", "procedure"), sorted(SPINE_CPT.items()))
def test_every_spine_cpt_is_recognised(criteria: Criteria, code: str, procedure: str) -> None:
    ordered = resolve_procedure(_order(code), criteria)
    assert (ordered.identified_by, ordered.candidates) == ("code", (procedure,))
    assert criteria.procedures[procedure].spine_imaging == "yes"


def test_every_spine_cpt_cites_its_source(criteria: Criteria) -> None:
    for code in SPINE_CPT:
        entry = criteria.codes[(CPT, code)]
        assert entry.procedures, code
    import json

    data = json.loads((ROOT / "criteria" / "procedures.json").read_text(encoding="utf-8"))
    cited = {c["code"]: c["source"] for c in data["codes"] if c["system"] == CPT}
    assert all(cited[code].strip() for code in SPINE_CPT)


@pytest.mark.parametrize(
    ("myelo", "ct", "expected"),
    [
        ("62302", "72126", "ctm-cervical"),
        ("62303", "72129", "ctm-thoracic"),
        ("62304", "72132", "ctm-lumbar"),
    ],
)
def test_myelography_with_ct_is_ct_myelography(
    criteria: Criteria, myelo: str, ct: str, expected: str
) -> None:
    studies = resolve_studies(_order(myelo, ct), criteria)
    assert [s.candidates for s in studies] == [(expected,)]


def test_a_non_spine_code_is_not_recognised(criteria: Criteria) -> None:
    ordered = resolve_procedure(_order("71046"), criteria)  # chest radiograph
    assert ordered.candidates == () and ordered.identified_by == "none"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("MRI L-spine w/o", ("mri-lumbar-wo",)),
        ("CT L-spine wo", ("ct-lumbar-wo",)),
        ("MRI LS spine w/wo", ("mri-lumbar-wo-w",)),
        ("MRI L-spine w+wo", ("mri-lumbar-wo-w",)),
        ("MRI lumbar spine w & w/o contrast", ("mri-lumbar-wo-w",)),
        ("MRI lumbar spine with and without contrast", ("mri-lumbar-wo-w",)),
        ("MRI C-spine w/o", ("mri-cervical-wo",)),
        ("MRI T-spine w/o", ("mri-thoracic-wo",)),
        ("CT TL spine wo", ("ct-tl-wo",)),
        ("MRI thoracic and lumbar spine w/o contrast", ("mri-tl-wo",)),
    ],
)
def test_text_abbreviations(criteria: Criteria, text: str, expected: tuple[str, ...]) -> None:
    ordered = resolve_procedure({"resourceType": "ServiceRequest", "code": {"text": text}}, criteria)
    assert (ordered.identified_by, ordered.candidates) == ("text", expected)


@pytest.mark.parametrize(
    ("text", "flagged"),
    [
        ("XR L-spine flex/ext views", True),
        ("XR lumbar spine flexion and extension views", True),
        ("XR lumbar spine bending views", False),  # lateral (scoliosis) views (§5.2)
        ("XR lumbar spine extension view", False),
    ],
)
def test_flexion_extension_text_needs_flexion(criteria: Criteria, text: str, flagged: bool) -> None:
    ordered = resolve_procedure({"resourceType": "ServiceRequest", "code": {"text": text}}, criteria)
    assert ordered.candidates == ("xr-lumbar",)
    assert ("flexion-extension" in ordered.flags) is flagged


@pytest.mark.parametrize("code", ["72114", "72120"])
def test_bending_cpt_codes_are_flexion_extension(criteria: Criteria, code: str) -> None:
    assert "flexion-extension" in resolve_procedure(_order(code), criteria).flags


@pytest.mark.parametrize(
    ("codes", "expected"),
    [
        (("72148", "72141"), [("mri-lumbar-wo",), ("mri-cervical-wo",)]),
        (("72146", "72148"), [("mri-thoracic-wo",), ("mri-lumbar-wo",)]),
        (("72128", "72131"), [("ct-thoracic-wo",), ("ct-lumbar-wo",)]),
    ],
)
def test_codes_of_two_regions_are_two_studies(
    criteria: Criteria, codes: tuple[str, ...], expected: list[tuple[str, ...]]
) -> None:
    studies = resolve_studies(_order(*codes), criteria)
    assert [s.candidates for s in studies] == expected
    assert all(len(s.studies_on_order) == 2 for s in studies)
    assert all("each assessed" in s.detail for s in studies)


def test_one_region_pair_stays_one_study(criteria: Criteria) -> None:
    studies = resolve_studies(_order("72148", "72149"), criteria)  # the combination rule: without and with
    assert [s.candidates for s in studies] == [("mri-lumbar-wo-w",)]
    assert studies[0].studies_on_order == ()


def test_bone_scan_codes(criteria: Criteria) -> None:
    assert resolve_procedure(_order("78306"), criteria).candidates == ("bone-scan-wb",)
    spect = resolve_procedure(_order("78830", text="NM bone scan with SPECT/CT thoracic spine"), criteria)
    assert spect.candidates == ("bone-scan-spect-thoracic",)
    assert resolve_procedure(_order("78830"), criteria).candidates == ("bone-scan-spect",)

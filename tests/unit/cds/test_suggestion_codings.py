"""Suggestions carry one canonical code per system; CT myelography its CPT codes (#12 finding 6)."""

from __future__ import annotations

from app.cds.codings import CPT, suggestion_codings
from app.clinical.result import Coding, ProcedureRef
from app.config import DEFAULTS
from app.criteria.loader import load_criteria

CRITERIA = load_criteria(DEFAULTS["CRITERIA_DIR"])


def _ref(procedure_id: str) -> ProcedureRef:
    proc = CRITERIA.procedures[procedure_id]
    return ProcedureRef(proc.id, proc.display, tuple(Coding.of(c) for c in proc.codes))


def test_lumbar_radiography_carries_one_code_per_system_not_51() -> None:
    assert len(CRITERIA.procedures["xr-lumbar"].codes) > 40  # what a suggestion used to carry
    codings = suggestion_codings(_ref("xr-lumbar"), CRITERIA)
    systems = [c["system"] for c in codings]
    assert len(systems) == len(set(systems)) <= 3
    assert codings[0] == {
        "system": CPT,
        "code": CRITERIA.procedures["xr-lumbar"].codes[0]["code"],
        "display": CRITERIA.procedures["xr-lumbar"].codes[0]["display"],
    }


def test_ct_myelography_carries_its_cpt_pair() -> None:
    codings = suggestion_codings(_ref("ctm-lumbar"), CRITERIA)
    cpt = [c["code"] for c in codings if c["system"] == CPT]
    assert cpt == ["62284", "72132"]  # the injection (no study by itself) and the CT with contrast
    assert all(s in {c["system"] for c in codings} for s in ("http://loinc.org", "http://snomed.info/sct"))


def test_every_catalogue_procedure_gets_at_most_one_code_per_system_except_a_cpt_combination() -> None:
    for procedure_id in CRITERIA.procedures:
        codings = suggestion_codings(_ref(procedure_id), CRITERIA)
        non_cpt = [c["system"] for c in codings if c["system"] != CPT]
        assert len(non_cpt) == len(set(non_cpt)), procedure_id
        single_cpt = [c for c in CRITERIA.procedures[procedure_id].codes if c["system"] == CPT]
        if single_cpt:
            assert len([c for c in codings if c["system"] == CPT]) == 1, procedure_id

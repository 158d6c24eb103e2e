"""The codes a suggested order carries: one canonical code per system, a combination's CPT codes if needed.

A suggestion used to carry every code of its procedure (up to 51 codings). An EHR needs one code per
system: the first the catalogue lists for the procedure (CPT, then LOINC, SNOMED CT where known). A
procedure that no single CPT code names (CT myelography: an injection code plus the CT code) carries the
CPT codes of its combination: in each part, a code that names no study by itself (the injection 62284)
if there is one, else the part's first code.
"""

from __future__ import annotations

from typing import Any

from app.clinical.result import Coding, ProcedureRef
from app.criteria.model import Criteria

CPT = "http://www.ama-assn.org/go/cpt"


def one_per_system(codes: tuple[Coding, ...] | list[Coding]) -> list[Coding]:
    """The first code of each system, in the catalogue's order."""
    seen: set[str] = set()
    out: list[Coding] = []
    for coding in codes:
        if coding.code and coding.system not in seen:
            seen.add(coding.system)
            out.append(coding)
    return out


def _part_code(system: str, codes: frozenset[str], criteria: Criteria) -> str:
    """A part of a combination as one code: one that names no study alone if any, else the lowest."""
    alone = sorted(c for c in codes if (system, c) not in criteria.codes)
    return alone[0] if alone else sorted(codes)[0]


def combination_cpt(procedure_id: str, criteria: Criteria) -> list[Coding]:
    """The CPT codes of the (first) combination that names ``procedure_id`` and only it."""
    for combination in criteria.combinations:
        if combination.procedures == (procedure_id,) and all(s == CPT for s, _ in combination.all_of):
            return [Coding(CPT, _part_code(system, codes, criteria)) for system, codes in combination.all_of]
    return []


def suggestion_codings(procedure: ProcedureRef, criteria: Criteria | None) -> list[dict[str, Any]]:
    """The ``code.coding`` of a suggested order for ``procedure``."""
    codes = one_per_system(procedure.codes)
    if criteria is not None and not any(c.system == CPT for c in codes):
        codes = combination_cpt(procedure.id, criteria) + codes
    return [c.to_json() for c in codes]

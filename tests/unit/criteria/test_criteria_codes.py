"""Content checks for criteria/procedures.json (codes, combinations, textPatterns) and valuesets.json.

Plain JSON (and the Draft 2020-12 schemas in criteria/schemas); no app imports.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

CRITERIA = Path(__file__).resolve().parents[3] / "criteria"

ICD = "http://hl7.org/fhir/sid/icd-10-cm"
SCT = "http://snomed.info/sct"
RXN = "http://www.nlm.nih.gov/research/umls/rxnorm"
ATC = "http://www.whocc.no/atc"
CPT = "http://www.ama-assn.org/go/cpt"
LOINC = "http://loinc.org"
NCI_OID = "urn:oid:2.16.840.1.113883.3.26.1.1"
NCI_URL = "http://ncicb.nci.nih.gov/xml/owl/EVS/Thesaurus.owl"
ALLOWED_STATUS = {"VERIFIED", "VERIFIED-2nd"}

REQUIRED_VALUE_SETS = [
    "lbp",
    "thoracic-pain",
    "radiculopathy",
    "sciatica",
    "disc-myelopathy",
    "disc-radiculopathy",
    "disc-other",
    "spondylosis-neuro",
    "stenosis",
    "spondylolisthesis",
    "myelopathy",
    "cauda-equina",
    "malignancy",
    "malignancy-history",
    "spinal-metastasis",
    "spinal-infection",
    "immunosuppression-condition",
    "steroid-long-term-status",
    "osteoporosis",
    "vertebral-fracture-acute",
    "vertebral-fracture",
    "cord-injury",
    "low-velocity-trauma",
    "prior-spine-surgery-status",
    "neuro-deficit",
    "sphincter",
    "ankylosed-spine",
    "mr-unsafe-device-condition",
    "mr-device-condition",
    "device-safety-mr-safe",
    "device-safety-mr-conditional",
    "device-safety-mr-unsafe",
    "device-safety-unlabelled",
    "nsaid",
    "muscle-relaxant",
    "neuropathic-agent",
    "systemic-corticosteroid",
    "immunosuppressant-medication",
    "physical-therapy",
    "lumbar-spine-surgery",
]


def _load(name: str) -> Any:
    return json.loads((CRITERIA / name).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def procedures() -> dict[str, Any]:
    data: dict[str, Any] = _load("procedures.json")
    return data


@pytest.fixture(scope="module")
def valuesets() -> dict[str, Any]:
    data: dict[str, Any] = _load("valuesets.json")
    return data


@pytest.fixture(scope="module")
def vs_by_id(valuesets: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {v["id"]: v for v in valuesets["valueSets"]}


@pytest.fixture(scope="module")
def code_map(procedures: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(c["system"], c["code"]): c for c in procedures["codes"]}


def _vs_entries(vs: dict[str, Any], part: str = "include") -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    for inc in vs[part]:
        for code in inc["codes"]:
            yield inc, code


def _has(vs: dict[str, Any], system: str | None, code: str, match: str | None = None) -> bool:
    return any(
        inc.get("system") == system and entry["code"] == code and (match is None or inc["match"] == match)
        for inc, entry in _vs_entries(vs)
    )


# --- schemas
@pytest.mark.parametrize(
    ("data_file", "schema_file"),
    [
        ("procedures.json", "schemas/procedures.schema.json"),
        ("valuesets.json", "schemas/valuesets.schema.json"),
    ],
)
def test_file_valid_against_its_schema(data_file: str, schema_file: str) -> None:
    schema = _load(schema_file)
    Draft202012Validator.check_schema(schema)
    assert schema["$id"] == f"https://spine-auc.org/criteria/{schema_file}"
    errors = [
        f"{e.json_path}: {e.message}" for e in Draft202012Validator(schema).iter_errors(_load(data_file))
    ]
    assert errors == []


def test_valueset_schema_rejects_dotted_icd_code(valuesets: dict[str, Any]) -> None:
    schema = _load("schemas/valuesets.schema.json")
    bad = json.loads(json.dumps(valuesets))
    lbp = next(v for v in bad["valueSets"] if v["id"] == "lbp")
    lbp["include"][0]["codes"][0]["code"] = "M54.5"
    assert not Draft202012Validator(schema).is_valid(bad)


# --- status / format
def test_every_procedure_code_is_verified(procedures: dict[str, Any]) -> None:
    assert procedures["codes"], "code map is empty"
    bad = [
        (c["system"], c["code"], c["status"])
        for c in procedures["codes"]
        if c["status"] not in ALLOWED_STATUS
    ]
    assert bad == []


def test_every_valueset_entry_is_verified_and_sourced(valuesets: dict[str, Any]) -> None:
    bad = [
        (v["id"], e["code"], e.get("status"))
        for v in valuesets["valueSets"]
        for part in ("include", "exclude")
        for _, e in _vs_entries(v, part)
        if e.get("status") not in ALLOWED_STATUS or not e.get("source")
    ]
    assert bad == []


def test_no_icd10cm_code_contains_a_dot(valuesets: dict[str, Any]) -> None:
    icd_codes = [
        e["code"]
        for v in valuesets["valueSets"]
        for part in ("include", "exclude")
        for inc, e in _vs_entries(v, part)
        if inc.get("system") == ICD
    ]
    assert len(icd_codes) > 100
    assert [c for c in icd_codes if "." in c or c != c.upper()] == []


def test_icd_includes_match_by_prefix_and_snomed_rxnorm_exact(valuesets: dict[str, Any]) -> None:
    for v in valuesets["valueSets"]:
        for inc in v["include"] + v["exclude"]:
            system = inc.get("system")
            if system in (ICD, ATC):
                assert inc["match"] == "prefix", v["id"]
            elif system in (SCT, RXN, CPT, NCI_OID, NCI_URL, LOINC):
                assert inc["match"] == "exact", v["id"]
            else:
                assert system is None and inc["match"] == "name", v["id"]


def test_system_uris_are_exactly_the_terminology_ones(
    procedures: dict[str, Any], valuesets: dict[str, Any]
) -> None:
    proc_systems = {c["system"] for c in procedures["codes"]}
    assert proc_systems == {CPT, LOINC, SCT}
    vs_systems = {inc.get("system") for v in valuesets["valueSets"] for inc in v["include"]}
    assert vs_systems == {ICD, SCT, RXN, ATC, CPT, NCI_OID, NCI_URL, LOINC, None}


# --- cross references
def test_procedure_ids_unique_and_codes_unique(procedures: dict[str, Any]) -> None:
    ids = [p["id"] for p in procedures["procedures"]]
    assert len(ids) == len(set(ids))
    keys = [(c["system"], c["code"]) for c in procedures["codes"]]
    assert len(keys) == len(set(keys))


def test_codes_and_combinations_reference_existing_procedures(procedures: dict[str, Any]) -> None:
    ids = {p["id"] for p in procedures["procedures"]}
    referenced = {p for c in procedures["codes"] + procedures["combinations"] for p in c["procedures"]}
    assert referenced - ids == set()


def test_codes_map_to_orderables_not_acr_row_only_regions(procedures: dict[str, Any]) -> None:
    region = {p["id"]: p["region"] for p in procedures["procedures"]}
    row_only = sorted(
        {p for c in procedures["codes"] for p in c["procedures"] if region[p] == "spine-area-of-interest"}
    )
    assert row_only == []


def test_ambiguous_codes_share_modality_and_region(procedures: dict[str, Any]) -> None:
    """A multi-candidate code differs in contrast (or, for XR cervicothoracic junction, region) only."""
    by_id = {p["id"]: p for p in procedures["procedures"]}
    for c in procedures["codes"]:
        if len(c["procedures"]) > 1:
            assert len({by_id[p]["modality"] for p in c["procedures"]}) == 1, c["code"]


def test_every_required_valueset_exists_once(valuesets: dict[str, Any]) -> None:
    ids = [v["id"] for v in valuesets["valueSets"]]
    assert len(ids) == len(set(ids))
    assert [i for i in REQUIRED_VALUE_SETS if i not in ids] == []


# --- spot checks: procedures
@pytest.mark.parametrize(
    ("system", "code", "expected"),
    [
        (CPT, "72148", ["mri-lumbar-wo"]),
        (CPT, "72158", ["mri-lumbar-wo-w"]),
        (CPT, "72149", ["mri-lumbar-w"]),
        (CPT, "72132", ["ct-lumbar-w"]),
        (CPT, "72129", ["ct-thoracic-w"]),
        (CPT, "72126", ["ct-cervical-w"]),
        (CPT, "72100", ["xr-lumbar"]),
        (CPT, "72020", ["xr-spine-unspecified"]),
        (CPT, "78306", ["bone-scan-wb"]),  # re-pointed for Thoracic Back Pain (#11); LBP rates it too
        (CPT, "78815", ["fdg-petct-wb"]),
        (LOINC, "24965-6", ["ctm-lumbar"]),
        (LOINC, "30596-1", ["ctm-thoracic"]),
        (LOINC, "24974-8", ["myelo-lumbar"]),
        (LOINC, "30679-5", ["mri-lumbar-wo"]),
        (LOINC, "83310-3", ["ct-tl-wo"]),
        (LOINC, "24968-0", ["mri-lumbar-wo", "mri-lumbar-w", "mri-lumbar-wo-w"]),
        (LOINC, "39818-0", ["bone-scan-wb"]),  # whole-body bone scan (#11)
        (SCT, "41333006", ["mri-lumbar-w", "mri-lumbar-wo-w"]),
        (SCT, "241592002", ["ctm-lumbar"]),
        (SCT, "444634007", ["xr-tl"]),
        (SCT, "1367647005", ["xr-complete"]),
        (SCT, "443271005", ["fdg-petct-wb"]),
    ],
)
def test_code_maps_to(
    code_map: dict[tuple[str, str], dict[str, Any]], system: str, code: str, expected: list[str]
) -> None:
    assert code_map[(system, code)]["procedures"] == expected


def test_flexion_extension_flags(code_map: dict[tuple[str, str], dict[str, Any]]) -> None:
    flagged = {k for k, c in code_map.items() if "flexion-extension" in c["flags"]}
    for key in [(CPT, "72114"), (CPT, "72120"), (LOINC, "24971-4"), (LOINC, "37132-8"), (LOINC, "38010-5")]:
        assert key in flagged, key
    assert code_map[(LOINC, "24971-4")]["procedures"] == ["xr-lumbar"]
    assert code_map[(LOINC, "38010-5")]["procedures"] == ["xr-thoracic"]
    assert (CPT, "72100") not in flagged
    assert (LOINC, "36670-8") not in flagged


def test_unverified_and_trap_codes_are_absent(code_map: dict[tuple[str, str], dict[str, Any]]) -> None:
    # 78320 (deletion unverified), 72010/72069/72090 (obsolete, no status); shoulder transthoracic
    # views are not thoracic spine; 71046 chest radiograph is not spine.
    for key in [(CPT, "78320"), (CPT, "72010"), (CPT, "72090"), (LOINC, "39077-3"), (CPT, "71046")]:
        assert key not in code_map, key


def test_combinations(procedures: dict[str, Any]) -> None:
    def find(codes: set[str]) -> list[list[str]]:
        """procedures of every combination whose allOf groups are all satisfied by `codes` (CPT)."""
        return [
            comb["procedures"]
            for comb in procedures["combinations"]
            if all(g["system"] == CPT and codes & set(g["codes"]) for g in comb["allOf"])
        ]

    assert find({"72148", "72149"}) == [["mri-lumbar-wo-w"]]
    assert find({"72146", "72147"}) == [["mri-thoracic-wo-w"]]
    assert find({"62304", "72132"}) == [["ctm-lumbar"]]
    assert find({"62284", "72265", "72132"}) == [["ctm-lumbar"]]
    assert find({"62303", "72129"}) == [["ctm-thoracic"]]
    assert find({"72240", "72126"}) == [["ctm-cervical"]]
    assert find({"72132"}) == []
    assert find({"62304", "72129"}) == []  # lumbar myelogram + thoracic CT is not CT myelography of either
    # the engine takes the first match: multi-region CT myelography must come before the single regions
    assert find({"62305", "72129", "72132"})[0] == ["ctm-tl"]
    assert find({"62305", "72126", "72129", "72132"})[0] == ["ctm-complete"]


# --- text patterns
def _first(group: dict[str, list[str]], text: str) -> str | None:
    """How app/clinical/orders.py reads code.text: first key (file order) with a substring of " " + text + " "."""
    t = " " + text.lower() + " "
    return next((key for key, pats in group.items() if any(p in t for p in pats)), None)


@pytest.mark.parametrize(
    ("text", "modality", "region", "contrast"),
    [
        ("MRI lumbar spine without and with contrast", "MR", "lumbar", "iv-wo-w"),
        ("MRI L-spine w/o contrast", "MR", "lumbar", "none"),
        ("MR lumbar spine with contrast", "MR", "lumbar", "iv"),
        ("CT myelogram lumbar", "CTM", "lumbar", None),
        ("Myelography thoracic spine", "MYELO", "thoracic", None),
        ("X-ray lumbosacral spine 2 views", "XR", "lumbar", None),
        ("CT thoracolumbar spine non-contrast", "CT", "thoracic-and-lumbar", "none"),
        ("MRI whole spine w/o and w/ contrast", "MR", "complete-spine", "iv-wo-w"),
        ("MRI cervical spine", "MR", "cervical", None),
        ("Bone scan whole body with SPECT", "NM-BONE", "whole-body", None),
        # "suspect" contains "spect" and "ct ": short tokens must not match inside words
        ("X-ray lumbar spine, suspect fracture", "XR", "lumbar", None),
        ("MRI lumbar spine suspect metastasis", "MR", "lumbar", None),
        ("Lumbar spine CT", "CT", "lumbar", None),
        ("XR T-spine flexion", "XR", "thoracic", None),
    ],
)
def test_text_patterns_read_common_orders(
    procedures: dict[str, Any], text: str, modality: str, region: str, contrast: str | None
) -> None:
    tp = procedures["textPatterns"]
    assert _first(tp["modality"], text) == modality
    assert _first(tp["region"], text) == region
    assert _first(tp["contrast"], text) == contrast


def test_text_patterns_contrast_order_and_flags(procedures: dict[str, Any]) -> None:
    tp = procedures["textPatterns"]
    assert list(tp["contrast"]) == ["iv-wo-w", "none", "iv"]
    assert _first(tp["flags"], "XR lumbar spine flexion and extension views") == "flexion-extension"
    assert _first(tp["flags"], "XR lumbar spine 2 views") is None
    all_patterns = [p for grp in tp.values() for pats in grp.values() for p in pats]
    assert all(p == p.lower() for p in all_patterns)


# --- spot checks: value sets
def test_valueset_spot_checks(vs_by_id: dict[str, dict[str, Any]]) -> None:
    assert _has(vs_by_id["nsaid"], RXN, "7258")
    assert _has(vs_by_id["nsaid"], ATC, "M01A", "prefix")
    assert _has(vs_by_id["nsaid"], None, "naproxen", "name")
    assert _has(vs_by_id["cauda-equina"], ICD, "G834", "prefix")
    assert _has(vs_by_id["cauda-equina"], SCT, "449813001")
    assert _has(vs_by_id["malignancy"], ICD, "C", "prefix")
    assert _has(vs_by_id["malignancy-history"], ICD, "Z85", "prefix")
    assert _has(vs_by_id["lbp"], ICD, "M545", "prefix")
    assert _has(vs_by_id["spinal-metastasis"], SCT, "94222008")
    assert not _has(vs_by_id["spinal-metastasis"], SCT, "314990009")  # metastasis FROM bone: trap
    assert not _has(vs_by_id["thoracic-pain"], SCT, "116303008")
    assert not _has(vs_by_id["prior-spine-surgery-status"], ICD, "Z98890")
    assert not _has(vs_by_id["immunosuppression-condition"], ICD, "Z79899")
    for atc_code in ["N02BF01", "N02BF02", "N03AX12", "N03AX16", "N06AX21"]:
        assert _has(vs_by_id["neuropathic-agent"], ATC, atc_code), atc_code


def test_weak_codes(vs_by_id: dict[str, dict[str, Any]]) -> None:
    weak = {e["code"] for _, e in _vs_entries(vs_by_id["lbp"]) if e.get("weak")}
    assert {"M549", "M5489"} <= weak
    assert "M545" not in weak


def test_seventh_character_rules(vs_by_id: dict[str, dict[str, Any]]) -> None:
    acute = vs_by_id["vertebral-fracture-acute"]["include"]
    by_code = {e["code"]: inc.get("seventhCharacter") for inc in acute for e in inc["codes"]}
    assert by_code["S220"] == ["A", "B"] and by_code["S320"] == ["A", "B"]
    # v2 §2.6: fragility / pathological fractures are not trauma; they are osteoporosis (§2.5)
    assert not {"M4856", "M8008", "M8088"} & by_code.keys()
    fragility = {e["code"] for _, e in _vs_entries(vs_by_id["fragility-vertebral-fracture"])}
    assert {"M80", "M485", "M8448", "M8458"} <= fragility
    assert all(inc.get("seventhCharacter") is None for inc in vs_by_id["vertebral-fracture"]["include"])
    cord = vs_by_id["cord-injury"]["include"][0]
    assert {e["code"] for e in cord["codes"]} == {"S241", "S340", "S341"} and cord["seventhCharacter"] == [
        "A"
    ]


def test_ankylosed_spine_excludes_nr_axspa(vs_by_id: dict[str, dict[str, Any]]) -> None:
    vs = vs_by_id["ankylosed-spine"]
    assert _has(vs, ICD, "M45", "prefix")
    assert [e["code"] for _, e in _vs_entries(vs, "exclude")] == ["M45A"]


def test_device_safety_sets_use_both_nci_systems(vs_by_id: dict[str, dict[str, Any]]) -> None:
    expected = {
        "device-safety-mr-safe": "C106045",
        "device-safety-mr-conditional": "C106046",
        "device-safety-mr-unsafe": "C106047",
        "device-safety-unlabelled": "C113844",
    }
    for vs_id, code in expected.items():
        assert _has(vs_by_id[vs_id], NCI_OID, code) and _has(vs_by_id[vs_id], NCI_URL, code), vs_id


def test_mr_device_split(vs_by_id: dict[str, dict[str, Any]]) -> None:
    unsafe = {e["code"] for _, e in _vs_entries(vs_by_id["mr-unsafe-device-condition"])}
    conditional = {e["code"] for _, e in _vs_entries(vs_by_id["mr-device-condition"])}
    assert unsafe == {"Z1811"}
    assert {"Z950", "Z952", "Z9682", "Z9621"} <= conditional
    assert unsafe.isdisjoint(conditional)


def test_physical_therapy_excludes_referrals(vs_by_id: dict[str, dict[str, Any]]) -> None:
    vs = vs_by_id["physical-therapy"]
    assert _has(vs, CPT, "97110") and _has(vs, SCT, "229065009")
    assert not _has(vs, SCT, "444831000124102") and not _has(vs, SCT, "390864007")

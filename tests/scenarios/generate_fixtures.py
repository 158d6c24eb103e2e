"""Generate fhir_fixtures/patients, fhir_fixtures/orders and tests/scenarios/scenarios.json.

The JSON files are checked in; this script is how they were written (rerun it after editing the cast:
``python tests/scenarios/generate_fixtures.py``). Each scenario's expectation and ``why`` were derived by hand
from clinical-rules.md and the ACR tables, not from the engine.
"""

from __future__ import annotations

import json
import uuid
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
EVAL = date(2026, 11, 1)
CPT = "http://www.ama-assn.org/go/cpt"
ICD = "http://hl7.org/fhir/sid/icd-10-cm"
SCT = "http://snomed.info/sct"
LOINC = "http://loinc.org"
RX = "http://www.nlm.nih.gov/research/umls/rxnorm"
ATC = "http://www.whocc.no/atc"
NCI = "urn:oid:2.16.840.1.113883.3.26.1.1"
ADULT = "1981-03-15"  # 45 at the evaluation date


def ago(days: int) -> str:
    return (EVAL - timedelta(days=days)).isoformat()


def cc(system: str, code: str, display: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code, "display": display}], "text": display}


class P:
    def __init__(
        self,
        name: str,
        birth: str | None = ADULT,
        what: str = "",
        patient: bool = True,
        gender: str = "female",
    ) -> None:
        self.name, self.what = name, what
        self.entries: list[dict[str, Any]] = []
        self.n = 0
        if patient:
            pt = {
                "resourceType": "Patient",
                "id": f"pt-{name}",
                "active": True,
                "name": [{"family": "Synthetic", "given": [name]}],
                "gender": gender,
            }
            if birth:
                pt["birthDate"] = birth
            self.add(pt)

    @property
    def ref(self) -> dict[str, str]:
        return {"reference": f"Patient/pt-{self.name}"}

    def rid(self, suffix: str) -> str:
        return f"{self.name}-{suffix}"

    def add(self, res: dict[str, Any], urn: bool = False) -> dict[str, Any]:
        if urn:
            full = "urn:uuid:" + str(
                uuid.uuid5(uuid.NAMESPACE_URL, f"spine-auc/{res['resourceType']}/{res['id']}")
            )
        else:
            full = f"http://example.org/fhir/{res['resourceType']}/{res['id']}"
        self.entries.append({"fullUrl": full, "resource": res})
        return res

    def cond(
        self,
        suffix: str,
        system: str,
        code: str,
        display: str,
        onset: str | None = None,
        onset_period: str | None = None,
        onset_age: int | None = None,
        recorded: str | None = None,
        clinical: str | None = "active",
        verification: str = "confirmed",
        abated: str | None = None,
        category: str = "problem-list-item",
    ) -> dict[str, Any]:
        r: dict[str, Any] = {"resourceType": "Condition", "id": self.rid(suffix)}
        if verification != "entered-in-error" and clinical:
            r["clinicalStatus"] = {
                "coding": [
                    {"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": clinical}
                ]
            }
        r["verificationStatus"] = {
            "coding": [
                {"system": "http://terminology.hl7.org/CodeSystem/condition-ver-status", "code": verification}
            ]
        }
        r["category"] = [
            {
                "coding": [
                    {"system": "http://terminology.hl7.org/CodeSystem/condition-category", "code": category}
                ]
            }
        ]
        r["code"] = cc(system, code, display)
        r["subject"] = self.ref
        if onset:
            r["onsetDateTime"] = onset
        if onset_period:
            r["onsetPeriod"] = {"start": onset_period}
        if onset_age is not None:
            r["onsetAge"] = {
                "value": onset_age,
                "unit": "a",
                "system": "http://unitsofmeasure.org",
                "code": "a",
            }
        if abated:
            r["abatementDateTime"] = abated
        if recorded:
            r["recordedDate"] = recorded
        elif onset:
            r["recordedDate"] = onset
        return self.add(r, urn=len(self.entries) % 2 == 0)

    def icd(self, suffix: str, code: str, display: str, **kw: Any) -> dict[str, Any]:
        return self.cond(suffix, ICD, code, display, **kw)

    def lbp(self, days: int | None = None, **kw: Any) -> dict[str, Any]:
        if days is not None:
            kw.setdefault("onset", ago(days))
        return self.icd("lbp", "M54.50", "Low back pain, unspecified", **kw)

    def ms(
        self,
        suffix: str,
        med: dict[str, Any],
        start: str | None = None,
        end: str | None = None,
        status: str = "active",
        **extra: Any,
    ) -> dict[str, Any]:
        r: dict[str, Any] = {"resourceType": "MedicationStatement", "id": self.rid(suffix), "status": status}
        r.update(extra)
        r.update(med)
        r["subject"] = self.ref
        if start:
            r["effectivePeriod"] = {"start": start}
            if end:
                r["effectivePeriod"]["end"] = end
        r["dateAsserted"] = EVAL.isoformat() if start else None
        if r["dateAsserted"] is None:
            del r["dateAsserted"]
        return self.add(r)

    def proc(
        self,
        suffix: str,
        system: str,
        code: str,
        display: str,
        performed: str | None = None,
        period: tuple[str, str] | None = None,
    ) -> dict[str, Any]:
        r: dict[str, Any] = {
            "resourceType": "Procedure",
            "id": self.rid(suffix),
            "status": "completed",
            "code": cc(system, code, display),
            "subject": self.ref,
        }
        if performed:
            r["performedDateTime"] = performed
        if period:
            r["performedPeriod"] = {"start": period[0], "end": period[1]}
        return self.add(r)

    def device(self, suffix: str, name: str, safety_code: str, safety_display: str) -> dict[str, Any]:
        r: dict[str, Any] = {
            "resourceType": "Device",
            "id": self.rid(suffix),
            "status": "active",
            "deviceName": [{"name": name, "type": "user-friendly-name"}],
            "type": {"text": name},
            "safety": [
                {
                    "coding": [{"system": NCI, "code": safety_code, "display": safety_display}],
                    "text": safety_display,
                }
            ],
            "patient": self.ref,
        }
        return self.add(r)

    def bundle(self) -> dict[str, Any]:
        return {
            "resourceType": "Bundle",
            "id": f"bundle-{self.name}",
            "type": "collection",
            "meta": {"tag": [{"system": "urn:spine-auc:fixture", "code": "synthetic"}]},
            "entry": self.entries,
        }


NAPROXEN = {"medicationCodeableConcept": cc(RX, "7258", "naproxen")}
IBUPROFEN = {"medicationCodeableConcept": cc(RX, "5640", "ibuprofen")}
CARISOPRODOL = {"medicationCodeableConcept": cc(RX, "2101", "carisoprodol")}
PREDNISONE = {"medicationCodeableConcept": cc(RX, "8640", "prednisone")}
TACROLIMUS = {"medicationCodeableConcept": cc(RX, "42316", "tacrolimus")}

patients: list[P] = []


def new(name: str, **kw: Any) -> P:
    p = P(name, **kw)
    patients.append(p)
    return p


# ---- orders -------------------------------------------------------------------------------------------
orders: dict[str, dict[str, Any]] = {}


def order(
    stem: str,
    codings: list[tuple[str, str, str]] | None = None,
    text: str | None = None,
    reason: tuple[str, str] | None = None,
    status: str = "draft",
) -> str:
    code: dict[str, Any] = {}
    if codings:
        code["coding"] = [{"system": s, "code": c, "display": d} for s, c, d in codings]
    code["text"] = text or (codings[0][2] if codings else "")
    r = {
        "resourceType": "ServiceRequest",
        "id": f"sr-{stem}",
        "status": status,
        "intent": "order",
        "category": [{"coding": [{"system": SCT, "code": "363679005", "display": "Imaging"}]}],
        "code": code,
        "subject": {"reference": "Patient/pt-anyone"},
        "authoredOn": EVAL.isoformat(),
    }
    if reason:
        r["reasonCode"] = [cc(ICD, reason[0], reason[1])]
    orders[stem] = r
    return stem


O_MRI_WO = order("mri-lumbar-wo-72148", [(CPT, "72148", "MRI lumbar spine without contrast")])
O_MRI_WOW = order(
    "mri-lumbar-wo-w-72158", [(CPT, "72158", "MRI lumbar spine without and with contrast")], status="active"
)
O_MRI_W = order("mri-lumbar-w-72149", [(CPT, "72149", "MRI lumbar spine with contrast")])
O_MRI_PAIR = order(
    "mri-lumbar-pair-72148-72149",
    [(CPT, "72148", "MRI lumbar spine without contrast"), (CPT, "72149", "MRI lumbar spine with contrast")],
    text="MRI lumbar spine without and with contrast",
)
O_MRI_LOINC = order("mri-lumbar-wo-loinc-30679-5", [(LOINC, "30679-5", "MR Lumbar spine WO contrast")])
O_MRI_SCT = order(
    "mri-lumbar-wo-snomed-394451000119106",
    [(SCT, "394451000119106", "Magnetic resonance imaging of lumbar spine without contrast")],
)
O_MRI_TEXT = order("mri-lumbar-wo-text-only", text="MRI lumbar spine without contrast")
O_MRI_CAUDA = order(
    "mri-lumbar-wo-w-72158-reason-cauda-equina",
    [(CPT, "72158", "MRI lumbar spine without and with contrast")],
    reason=("G83.4", "Cauda equina syndrome"),
    status="active",
)
O_XR = order("xr-lumbar-72100", [(CPT, "72100", "X-ray lumbosacral spine 2 or 3 views")])
O_XR_FLEX = order(
    "xr-lumbar-flexion-extension-72114",
    [(CPT, "72114", "X-ray lumbosacral spine complete including bending views")],
)
O_CT_WO = order("ct-lumbar-wo-72131", [(CPT, "72131", "CT lumbar spine without contrast")])
O_CT_W = order("ct-lumbar-w-72132", [(CPT, "72132", "CT lumbar spine with contrast")])
O_CT_WOW = order("ct-lumbar-wo-w-72133", [(CPT, "72133", "CT lumbar spine without and with contrast")])
O_CTM = order(
    "ct-myelography-lumbar-62304-72132",
    [
        (CPT, "62304", "Myelography via lumbar injection, lumbosacral"),
        (CPT, "72132", "CT lumbar spine with contrast"),
    ],
    text="CT myelogram lumbar spine",
)
O_BONE_R = order(
    "bone-scan-whole-body-78306-reason-lbp",
    [(CPT, "78306", "Bone imaging whole body")],
    reason=("M54.50", "Low back pain, unspecified"),
)
O_BONE = order("bone-scan-whole-body-78306-no-reason", [(CPT, "78306", "Bone imaging whole body")])
O_MRI_T = order("mri-thoracic-wo-72146", [(CPT, "72146", "MRI thoracic spine without contrast")])
O_MRI_T_WOW = order(
    "mri-thoracic-wo-w-72157", [(CPT, "72157", "MRI thoracic spine without and with contrast")]
)
O_CHEST = order("xr-chest-71046", [(CPT, "71046", "X-ray chest 2 views")])

scenarios: list[dict] = []
LBP, MYEL, TR, CH, CHT = (
    "acr-low-back-pain",
    "acr-myelopathy",
    "acr-suspected-spine-trauma",
    "acr-back-pain-child",
    "acr-suspected-spine-trauma-child",
)
UA, MBA, MBAD, UNA = (
    "usually-appropriate",
    "may-be-appropriate",
    "may-be-appropriate-disagreement",
    "usually-not-appropriate",
)


def sc(
    sid: str,
    p: P,
    o: str,
    status: str,
    topic: str | list[str] | None = None,
    variant: int | list[int] | None = None,
    category: str | None = None,
    why: str = "",
    **extra: Any,
) -> None:
    e = {"status": status, "topic": topic, "variant": variant, "category": category}
    e.update(extra)
    scenarios.append(
        {
            "id": sid,
            "patient": f"patients/{p.name}.json",
            "order": f"orders/{o}.json",
            "expect": e,
            "why": why,
        }
    )


# ---- cast + scenarios ------------------------------------------------------------------------------------
p = new("lbp-acute", what="LBP V1: acute (14 d) M54.50, no red flags, no therapy")
p.lbp(14)
sc(
    "lbp-v1-acute-mri",
    p,
    O_MRI_WO,
    "rated",
    LBP,
    1,
    UNA,
    "acute LBP 14 d (<28), no red flag, 0 weeks management -> V1; MRI w/o is UNA in V1",
)
sc("lbp-v1-acute-xr", p, O_XR, "rated", LBP, 1, UNA, "V1: radiography lumbar UNA")
sc(
    "lbp-v1-bone-scan-with-reason",
    p,
    O_BONE_R,
    "rated",
    LBP,
    1,
    UNA,
    "bone scan whose own reasonCode is M54.50 is a spine study; V1 bone scan UNA",
)
sc(
    "lbp-v1-bone-scan-without-reason",
    p,
    O_BONE,
    "not-applicable",
    why="bone scan without a back-pain reasonCode is not spine imaging (spineImaging if-spine-reason) -> not-applicable",  # noqa: E501
)
sc(
    "lbp-v1-chest-xr-not-applicable",
    p,
    O_CHEST,
    "not-applicable",
    why="CPT 71046 chest radiograph is not a spine imaging procedure (routing step 1)",
)
sc(
    "lbp-v1-thoracic-mri-no-criteria",
    p,
    O_MRI_T,
    "no-criteria",
    why="thoracic MRI for low back pain: LBP applies to lumbar procedures only, no trauma/myelopathy -> routing step 6",  # noqa: E501
)
sc(
    "lbp-order-reason-cauda-equina",
    p,
    O_MRI_CAUDA,
    "rated",
    LBP,
    4,
    UA,
    "order reasonCode G83.4 makes cauda_equina_suspected true -> V4; MRI w/o+w UA in V4",
)

p = new("lbp-chronic-nomgmt", what="LBP V2: chronic (184 d), no therapy")
p.lbp(184)
sc(
    "lbp-v2-chronic-mri",
    p,
    O_MRI_WO,
    "rated",
    LBP,
    2,
    UNA,
    "chronic (>=84 d), no red flag, 0 weeks management -> V2; MRI w/o UNA",
)
sc("lbp-v2-chronic-ct", p, O_CT_WO, "rated", LBP, 2, UNA, "V2: CT lumbar w/o UNA")

p = new("lbp-chronic-short-nsaid", what="LBP V2: chronic, naproxen for 3 weeks only")
p.lbp(184)
p.ms("naproxen", NAPROXEN, start=ago(21))
sc(
    "lbp-v2-chronic-3wk-nsaid",
    p,
    O_MRI_WO,
    "rated",
    LBP,
    2,
    UNA,
    "chronic, naproxen 21 d = 3 weeks < 6 -> V2 (V3 needs >= 6 weeks); MRI UNA",
)

p = new("lbp-v3-nsaid", what="LBP V3: subacute (70 d) + naproxen (RxNorm ingredient 7258) for 8 weeks")
p.lbp(70)
p.ms("naproxen", NAPROXEN, start=ago(56))
sc(
    "lbp-v3-nsaid-mri-wo",
    p,
    O_MRI_WO,
    "rated",
    LBP,
    3,
    UA,
    "subacute 70 d, naproxen 56 d = 8 weeks >= 6 -> V3; MRI w/o UA",
)
sc("lbp-v3-nsaid-mri-wo-w", p, O_MRI_WOW, "rated", LBP, 3, MBA, "V3: MRI without and with MBA")
sc("lbp-v3-nsaid-mri-w", p, O_MRI_W, "rated", LBP, 3, UNA, "V3: MRI with IV contrast UNA")
sc(
    "lbp-v3-nsaid-mri-pair-72148-72149",
    p,
    O_MRI_PAIR,
    "rated",
    LBP,
    3,
    MBA,
    "72148+72149 on one order = without-and-with (72158) -> V3 MBA (not UA as w/o alone, not UNA as with alone)",  # noqa: E501
)
sc(
    "lbp-v3-nsaid-mri-loinc",
    p,
    O_MRI_LOINC,
    "rated",
    LBP,
    3,
    UA,
    "LOINC 30679-5 MR lumbar WO contrast = MRI w/o -> V3 UA",
)
sc(
    "lbp-v3-nsaid-mri-snomed",
    p,
    O_MRI_SCT,
    "rated",
    LBP,
    3,
    UA,
    "SNOMED 394451000119106 MRI lumbar w/o -> V3 UA",
)
sc(
    "lbp-v3-nsaid-mri-text-only",
    p,
    O_MRI_TEXT,
    "rated",
    LBP,
    3,
    UA,
    "code.text 'MRI lumbar spine without contrast' matched by text patterns -> V3 UA",
)
sc("lbp-v3-nsaid-xr", p, O_XR, "rated", LBP, 3, MBA, "V3: radiography lumbar MBA")
sc("lbp-v3-nsaid-ct-wo-w", p, O_CT_WOW, "rated", LBP, 3, UNA, "V3: CT without and with UNA")
sc(
    "lbp-v3-nsaid-ct-myelography",
    p,
    O_CTM,
    "rated",
    LBP,
    3,
    MBA,
    "62304 + 72132 on one order = CT myelography lumbar -> V3 MBA (72132 alone would be CT w/ IV contrast, UNA)",  # noqa: E501
)
sc(
    "lbp-v3-nsaid-bone-scan-with-reason",
    p,
    O_BONE_R,
    "rated",
    LBP,
    3,
    MBA,
    "bone scan with LBP reason -> V3 MBA",
)
sc(
    "lbp-v3-nsaid-bone-scan-without-reason",
    p,
    O_BONE,
    "not-applicable",
    why="bone scan without a back-pain reasonCode is not a spine study",
)

p = new("lbp-v3-relaxant", what="LBP V3: chronic + carisoprodol (muscle relaxant) 7 weeks")
p.lbp(184)
p.ms("carisoprodol", CARISOPRODOL, start=ago(49))
sc(
    "lbp-v3-muscle-relaxant",
    p,
    O_MRI_WO,
    "rated",
    LBP,
    3,
    UA,
    "chronic, carisoprodol 49 d = 7 weeks -> V3; MRI w/o UA",
)

p = new(
    "lbp-v3-pt",
    what="LBP V3: chronic + physical-therapy Procedures (97161 evaluation, 97110 exercise) from 9 weeks ago",
)
p.lbp(184)
p.proc("pt-eval", CPT, "97161", "Physical therapy evaluation: low complexity", performed=ago(63))
p.proc("pt-exercise", CPT, "97110", "Therapeutic exercises", period=(ago(60), ago(7)))
sc(
    "lbp-v3-physical-therapy",
    p,
    O_MRI_WO,
    "rated",
    LBP,
    3,
    UA,
    "chronic, PT Procedures since 63 d = 9 weeks -> V3; MRI w/o UA",
)

p = new("lbp-mgmt-41d", what="6-week boundary: chronic + naproxen from 41 days before (5.9 weeks)")
p.lbp(184)
p.ms("naproxen", NAPROXEN, start=ago(41))
sc("lbp-boundary-41-days", p, O_MRI_WO, "rated", LBP, 2, UNA, "41 d < 42 d (6 weeks) -> V2, MRI UNA")

p = new("lbp-mgmt-42d", what="6-week boundary: chronic + naproxen from exactly 42 days before")
p.lbp(184)
p.ms("naproxen", NAPROXEN, start=ago(42))
sc("lbp-boundary-42-days", p, O_MRI_WO, "rated", LBP, 3, UA, "42 d = 6 weeks -> V3, MRI w/o UA")

p = new("lbp-cauda", what="LBP V4: acute LBP + confirmed cauda equina syndrome G83.4")
p.lbp(10)
p.icd("ces", "G83.4", "Cauda equina syndrome", onset=ago(2))
sc("lbp-v4-cauda-mri", p, O_MRI_WO, "rated", LBP, 4, UA, "G83.4 confirmed -> V4; MRI w/o UA")
sc(
    "lbp-v4-cauda-xr",
    p,
    O_XR,
    "rated",
    LBP,
    4,
    UNA,
    "V4: radiography UNA (V1 not matched: a red flag is present)",
)
sc("lbp-v4-cauda-ct", p, O_CT_WO, "rated", LBP, 4, MBA, "V4: CT w/o MBA")

p = new("lbp-cauda-suspected", what="LBP V4 via provisional (suspected) G83.4")
p.lbp(10)
p.icd("ces", "G83.4", "Cauda equina syndrome", onset=ago(1), verification="provisional")
sc(
    "lbp-v4-cauda-provisional",
    p,
    O_MRI_WOW,
    "rated",
    LBP,
    4,
    UA,
    "provisional G83.4 = suspected cauda equina -> V4; MRI w/o+w UA",
)

p = new("lbp-postop", what="LBP V5: Z98.1 arthrodesis status (inactive, 2024) + back pain from 28 d ago")
p.icd("fusion", "Z98.1", "Arthrodesis status", onset="2024-01-10", clinical="inactive")
p.lbp(28)
sc(
    "lbp-v5-postop-xr",
    p,
    O_XR,
    "insufficient-data",
    LBP,
    None,
    None,
    "v2: Z98.1 alone (no spinal bodySite, no spinal surgery in the record; it may be an ankle) makes prior_lumbar_surgery unknown (clinical-rules v2 §2.6). LBP began after it: lumbar -> V5 (XR UA); not lumbar -> LBP 28 d = subacute, no therapy -> V2 (XR UNA) -> insufficient-data asking prior_lumbar_surgery",  # noqa: E501
    missingFacts=["prior_lumbar_surgery"],
)
sc(
    "lbp-v5-postop-mri-wo-w",
    p,
    O_MRI_WOW,
    "insufficient-data",
    LBP,
    None,
    None,
    "v2: Z98.1 alone -> prior_lumbar_surgery unknown (§2.6): V5 MRI w/o+w UA vs V2 UNA -> insufficient-data",
    missingFacts=["prior_lumbar_surgery"],
)

p = new(
    "lbp-postop-procedure",
    what="LBP V5: completed laminectomy-with-fusion Procedure (2025) + sciatica from 30 d ago",
)
p.proc("fusion", SCT, "359586003", "Laminectomy with spinal fusion", performed="2025-02-01")
p.icd("sciatica", "M54.41", "Lumbago with sciatica, right side", onset=ago(30))
sc(
    "lbp-v5-surgery-procedure-xr",
    p,
    O_XR,
    "rated",
    LBP,
    5,
    UA,
    "completed spine-fusion Procedure + back pain (sciatica M54.41) after it -> V5; XR UA",
)

p = new(
    "lbp-pain-before-surgery",
    what="Z98.1 dated 2026-03-01 but the back pain predates it (2025-12-01): not V5",
)
p.icd("fusion", "Z98.1", "Arthrodesis status", onset="2026-03-01", recorded="2026-03-01")
p.lbp(onset="2025-12-01", recorded="2025-12-01")
sc(
    "lbp-pain-before-surgery-not-v5",
    p,
    O_XR,
    "rated",
    LBP,
    2,
    UNA,
    "no back-pain onset/recorded date after the surgery -> V5 false; chronic, no therapy -> V2; XR UNA",
)

p = new("lbp-strain", what="LBP V6 low-velocity trauma: S39.012A low back strain 10 d ago")
p.icd(
    "strain",
    "S39.012A",
    "Strain of muscle, fascia and tendon of lower back, initial encounter",
    onset=ago(10),
)
p.lbp(10)
sc(
    "lbp-v6-low-velocity-trauma",
    p,
    O_XR,
    "rated",
    LBP,
    6,
    UA,
    "lumbar strain within 28 d = low-velocity trauma -> V6; XR UA",
)

p = new("lbp-osteoporosis", what="LBP V6 osteoporosis M81.0 + acute LBP")
p.icd(
    "osteoporosis",
    "M81.0",
    "Age-related osteoporosis without current pathological fracture",
    onset="2020-04-01",
)
p.lbp(14)
sc("lbp-v6-osteoporosis-xr", p, O_XR, "rated", LBP, 6, UA, "osteoporosis -> V6; XR UA")
sc("lbp-v6-osteoporosis-ct", p, O_CT_WO, "rated", LBP, 6, UA, "V6: CT w/o UA")

p = new("lbp-age71", birth="1955-06-01", what="LBP V6 elderly: age 71, acute LBP")
p.lbp(14)
sc("lbp-v6-elderly-71", p, O_XR, "rated", LBP, 6, UA, "age 71 > 70 -> elderly -> V6; XR UA")

p = new(
    "lbp-age70",
    birth="1955-11-02",
    what="Elderly boundary: age 70 (71st birthday the day after the evaluation date), acute LBP",
)
p.lbp(14)
sc(
    "lbp-age-70-not-elderly",
    p,
    O_XR,
    "rated",
    LBP,
    1,
    UNA,
    "age 70 is not > 70 -> no red flag, acute -> V1; XR UNA",
)

p = new("lbp-steroid-med", what="LBP V6 chronic steroid use: prednisone MedicationStatement for 200 d")
p.lbp(14)
p.ms("prednisone", PREDNISONE, start=ago(200))
sc(
    "lbp-v6-steroid-medication",
    p,
    O_XR,
    "rated",
    LBP,
    6,
    UA,
    "systemic corticosteroid >= 90 d in the last 12 months -> V6; XR UA (V7 gives XR only MBA-D, so V6 wins either way)",  # noqa: E501
)

p = new("lbp-z7952", what="LBP V6 chronic steroid use via Z79.52")
p.icd("steroids", "Z79.52", "Long term (current) use of systemic steroids", onset="2025-01-01")
p.lbp(14)
sc(
    "lbp-v6-z7952",
    p,
    O_XR,
    "rated",
    LBP,
    6,
    UA,
    "Z79.52 -> chronic_steroid_use -> V6 XR UA (if Z79.52 also counts as immunosuppression, V7 gives XR MBA-D; best is still V6 UA)",  # noqa: E501
)

p = new("lbp-metastasis", what="LBP V7 cancer: active C79.51 bone metastasis")
p.icd("mets", "C79.51", "Secondary malignant neoplasm of bone", onset=ago(60))
p.lbp(14)
sc("lbp-v7-cancer-mri-wo-w", p, O_MRI_WOW, "rated", LBP, 7, UA, "active malignancy -> V7; MRI w/o+w UA")
sc("lbp-v7-cancer-ct-w", p, O_CT_W, "rated", LBP, 7, MBA, "72132 alone = CT with IV contrast; V7 MBA")
sc("lbp-v7-cancer-mri-w", p, O_MRI_W, "rated", LBP, 7, UNA, "V7: MRI with IV contrast only UNA")

p = new("lbp-cancer-history", what="LBP V7 cancer history: Z85.3")
p.icd("hx-breast", "Z85.3", "Personal history of malignant neoplasm of breast", onset="2019-05-01")
p.lbp(14)
sc(
    "lbp-v7-cancer-history",
    p,
    O_MRI_WOW,
    "rated",
    LBP,
    7,
    UA,
    "Z85 history of malignancy -> cancer -> V7; MRI w/o+w UA",
)

p = new("lbp-osteomyelitis", what="LBP V7 infection: confirmed M46.26 vertebral osteomyelitis")
p.icd("osteomyelitis", "M46.26", "Osteomyelitis of vertebra, lumbar region", onset=ago(7))
p.lbp(14)
sc("lbp-v7-infection", p, O_MRI_WOW, "rated", LBP, 7, UA, "spinal infection -> V7; MRI w/o+w UA")

p = new(
    "lbp-discitis-differential",
    what="LBP V7 suspected infection: M46.46 discitis with verificationStatus differential",
)
p.icd("discitis", "M46.46", "Discitis, unspecified, lumbar region", onset=ago(5), verification="differential")
p.lbp(14)
sc(
    "lbp-v7-infection-differential",
    p,
    O_MRI_WOW,
    "rated",
    LBP,
    7,
    UA,
    "differential = suspected infection -> V7; MRI w/o+w UA",
)

p = new("lbp-hiv", what="LBP V7 immunosuppression by condition: B20 HIV disease")
p.icd("hiv", "B20", "Human immunodeficiency virus [HIV] disease", onset="2015-01-01")
p.lbp(14)
sc(
    "lbp-v7-immunosuppression-condition",
    p,
    O_CT_W,
    "rated",
    LBP,
    7,
    MBA,
    "HIV -> immunosuppression -> V7; CT w/ IV contrast MBA (UNA in every other variant)",
)

p = new("lbp-tacrolimus", what="LBP V7 immunosuppression by medication: active tacrolimus")
p.ms("tacrolimus", TACROLIMUS, start="2023-01-01")
p.lbp(14)
sc(
    "lbp-v7-immunosuppression-medication",
    p,
    O_MRI_WOW,
    "rated",
    LBP,
    7,
    UA,
    "active immunosuppressant (tacrolimus) -> V7; MRI w/o+w UA",
)

p = new("lbp-mr-unsafe", what="M1: V3 patient with a Device labelled MR unsafe (C106047)")
p.lbp(184)
p.ms("naproxen", NAPROXEN, start=ago(56))
p.device("pacemaker", "Cardiac pacemaker (legacy, MR unsafe)", "C106047", "Magnetic Resonance Unsafe")
sc(
    "m1-mr-unsafe-mri",
    p,
    O_MRI_WO,
    "rated",
    LBP,
    3,
    UNA,
    "v2: MR safety is a check of its own reported in safety[] (§5.1), not modifier M1. V3 gives MRI w/o UA; MR-unsafe implant + MR order -> UNA, safety entry mr-safety/unsafe/critical naming the pacemaker; no MR alternative",  # noqa: E501
    safety=[{"check": "mr-safety", "status": "unsafe", "indicator": "critical"}],
    noMrAlternatives=True,
    mentions=["pacemaker"],
)
sc(
    "m1-mr-unsafe-ct-unaffected",
    p,
    O_CT_WO,
    "rated",
    LBP,
    3,
    MBA,
    "v2: CT w/o in V3 stays MBA, but §5.1 'unsafe, any order': safety[] carries the MR entry with indicator info, the pacemaker is named, no MR alternative is offered, and CT myelography carries MRI w/o's V3 category (UA, better than MBA) -> offered as alternative",  # noqa: E501
    absentModifiers=["M1"],
    safety=[{"check": "mr-safety", "status": "unsafe", "indicator": "info"}],
    noMrAlternatives=True,
    alternativesInclude=["ctm-lumbar"],
    mentions=["pacemaker"],
)

p = new("lbp-mr-conditional", what="MR-conditional device (C106046): warning only")
p.lbp(184)
p.ms("naproxen", NAPROXEN, start=ago(56))
p.device("neurostim", "Spinal cord stimulator (MR conditional)", "C106046", "Magnetic Resonance Conditional")
sc(
    "mr-conditional-warning",
    p,
    O_MRI_WO,
    "rated",
    LBP,
    3,
    UA,
    "v2: MR-conditional implant + MR order -> rating unchanged (V3 MRI w/o UA), the warning is a safety[] entry mr-safety/conditional/warning (§5.1), not a modifier",  # noqa: E501
    safety=[{"check": "mr-safety", "status": "conditional", "indicator": "warning"}],
)

p = new("lbp-spondylolisthesis", what="M2: spondylolisthesis M43.16 (chronic) + naproxen 8 weeks (V3)")
p.icd("spondylolisthesis", "M43.16", "Spondylolisthesis, lumbar region", onset=ago(200))
p.ms("naproxen", NAPROXEN, start=ago(56))
sc(
    "m2-flexion-extension-v3",
    p,
    O_XR_FLEX,
    "rated",
    LBP,
    3,
    UA,
    "spondylolisthesis + 72114 bending views + V3 -> M2 -> UA (XR is MBA in V3 otherwise)",
    modifiers=["M2"],
)
sc(
    "m2-plain-xr-not-dynamic",
    p,
    O_XR,
    "rated",
    LBP,
    3,
    MBA,
    "72100 has no flexion/extension views -> M2 does not apply; V3 XR MBA",
    absentModifiers=["M2"],
)

p = new("lbp-spondylo-nomgmt", what="M2 negative: spondylolisthesis chronic, no therapy (V2)")
p.icd("spondylolisthesis", "M43.16", "Spondylolisthesis, lumbar region", onset=ago(200))
sc(
    "m2-not-in-v2",
    p,
    O_XR_FLEX,
    "rated",
    LBP,
    2,
    UNA,
    "M2 needs V3 or V5; V2 -> XR UNA",
    absentModifiers=["M2"],
)

p = new(
    "lbp-no-onset", what="Unknown duration: LBP Condition with no onset and no recordedDate, nothing else"
)
p.icd("lbp", "M54.50", "Low back pain, unspecified")
sc(
    "unknown-duration-same-category",
    p,
    O_MRI_WO,
    "rated",
    LBP,
    [1, 2],
    UNA,
    "duration unknown -> V1 or V2; MRI UNA in both -> rated UNA (clinical-rules §4 example)",
)

p = new("lbp-no-onset-nsaid", what="Unknown duration + naproxen for 10 weeks")
p.icd("lbp", "M54.50", "Low back pain, unspecified")
p.ms("naproxen", NAPROXEN, start=ago(70))
sc(
    "unknown-duration-with-therapy",
    p,
    O_MRI_WO,
    "insufficient-data",
    LBP,
    None,
    None,
    "duration unknown, management 10 weeks: subacute/chronic -> V3 (UA); acute -> no variant (no-criteria) -> outcomes differ",  # noqa: E501
    missingFacts=["duration"],
)

p = new(
    "lbp-undated-therapy",
    what="Therapy with no dates: chronic LBP + naproxen MedicationStatement without effective[x]",
)
p.lbp(184)
p.ms("naproxen", NAPROXEN)
sc(
    "unknown-management-weeks-mri",
    p,
    O_MRI_WO,
    "insufficient-data",
    LBP,
    None,
    None,
    "management_weeks unknown: < 6 -> V2 (UNA), >= 6 -> V3 (UA) -> insufficient-data",
    missingFacts=["management_weeks"],
)
sc(
    "unknown-management-weeks-ct-wo-w",
    p,
    O_CT_WOW,
    "rated",
    LBP,
    [2, 3],
    UNA,
    "CT w/o+w is UNA in V2 and V3 -> rated despite the unknown",
)

p = new("lbp-no-patient", patient=False, what="No Patient resource: age unknown; acute LBP")
p.lbp(14)
sc(
    "unknown-age-no-patient-mri",
    p,
    O_MRI_WO,
    "insufficient-data",
    None,
    None,
    None,
    "age unknown: elderly would give V6 (MRI UA) vs V1 (UNA); age < 18 would route to the child topic -> insufficient-data",  # noqa: E501
)
sc(
    "unknown-age-no-patient-ct-wo-w",
    p,
    O_CT_WOW,
    "rated",
    [LBP, CH],
    None,
    UNA,
    "CT w/o+w is UNA in LBP V1 and V6 and 'CT spine area of interest without and with IV contrast' is UNA in every child variant -> rated UNA whatever the age",  # noqa: E501
    variantAny=True,
)

p = new("lbp-no-birthdate", birth=None, what="Patient without birthDate: age unknown; acute LBP")
p.lbp(14)
sc(
    "unknown-age-no-birthdate",
    p,
    O_MRI_WO,
    "insufficient-data",
    None,
    None,
    None,
    "no birthDate -> age unknown -> V1 vs V6 (and child) -> insufficient-data",
)

p = new("thoracic-pain", what="Thoracic pain M54.6, thoracic MRI ordered")
p.icd("thoracic-pain", "M54.6", "Pain in thoracic spine", onset=ago(21))
sc(
    "thoracic-mri-no-criteria",
    p,
    O_MRI_T,
    "rated",
    "acr-thoracic-back-pain",
    1,
    UNA,
    "v2: the thoracic spine has its own topic (§4.2). Thoracic pain M54.6 21 d = acute, no red flag, no care -> Thoracic Back Pain 2024 V1; MRI thoracic spine without IV contrast UNA (acr-thoracic-back-pain.md V1 table [P])",  # noqa: E501
)

p = new("myelopathy-acute", what="Myelopathy V1: cord compression G95.20 from 5 d ago")
p.icd("cord", "G95.20", "Unspecified cord compression", onset=ago(5))
sc(
    "myelopathy-v1-mri-thoracic",
    p,
    O_MRI_T,
    "rated",
    MYEL,
    1,
    UA,
    "myelopathy onset 5 d (<28) -> V1; MRI spine area of interest w/o UA",
)
sc(
    "myelopathy-v1-xr-lumbar",
    p,
    O_XR,
    "rated",
    MYEL,
    1,
    UNA,
    "myelopathy routes before LBP; radiography spine area of interest UNA",
)

p = new("myelopathy-chronic", what="Myelopathy V2: G95.9 since 2026-02-01")
p.icd("myelopathy", "G95.9", "Disease of spinal cord, unspecified", onset="2026-02-01")
sc(
    "myelopathy-v2-mri-thoracic-wo-w",
    p,
    O_MRI_T_WOW,
    "rated",
    MYEL,
    2,
    UA,
    "myelopathy 273 d -> chronic -> V2; MRI w/o+w UA",
)

p = new("trauma-fracture", what="Trauma V9: adult, S32.010A L1 wedge fracture yesterday, no neuro deficit")
p.icd(
    "fracture",
    "S32.010A",
    "Wedge compression fracture of first lumbar vertebra, initial encounter for closed fracture",
    onset=ago(1),
    category="encounter-diagnosis",
)
sc(
    "trauma-v9-ct",
    p,
    O_CT_WO,
    "rated",
    TR,
    9,
    UA,
    "acute lumbar fracture, no deficit -> V9; CT thoracic and lumbar w/o (covers a lumbar CT) UA",
)
sc("trauma-v9-mri", p, O_MRI_WO, "rated", TR, 9, UNA, "V9: MRI w/o UNA")
sc("trauma-v9-xr", p, O_XR, "rated", TR, 9, MBA, "V9: radiography thoracic and lumbar MBA")

p = new("trauma-fracture-deficit", what="Trauma V10: S32.010A + incomplete paraplegia G82.22")
p.icd(
    "fracture",
    "S32.010A",
    "Wedge compression fracture of first lumbar vertebra, initial encounter for closed fracture",
    onset=ago(1),
    category="encounter-diagnosis",
)
p.icd("paraplegia", "G82.22", "Paraplegia, incomplete", onset=ago(1), category="encounter-diagnosis")
sc("trauma-v10-mri", p, O_MRI_WO, "rated", TR, 10, UA, "fracture + neuro deficit -> V10; MRI w/o UA")
sc(
    "trauma-v10-ct-not-listed",
    p,
    O_CT_WO,
    "no-criteria",
    TR,
    10,
    None,
    "topic and variant V10 match, but the V10 table has no 'CT without IV contrast' row -> procedure not "
    "listed -> no-criteria (the matched variant is still reported)",
)

p = new("trauma-age17", birth="2009-06-01", what="Trauma at 17: adult trauma topic")
p.icd(
    "fracture",
    "S32.010A",
    "Wedge compression fracture of first lumbar vertebra, initial encounter for closed fracture",
    onset=ago(1),
    category="encounter-diagnosis",
)
sc(
    "trauma-age-17-adult-v9",
    p,
    O_CT_WO,
    "rated",
    TR,
    9,
    UA,
    "16-17 with trauma -> adult Suspected Spine Trauma V9; CT UA",
)

p = new("child-trauma-12", birth="2014-03-01", what="Child trauma V4: 12-year-old, S32.010A yesterday")
p.icd(
    "fracture",
    "S32.010A",
    "Wedge compression fracture of first lumbar vertebra, initial encounter for closed fracture",
    onset=ago(1),
    category="encounter-diagnosis",
)
sc(
    "child-trauma-v4-xr",
    p,
    O_XR,
    "rated",
    CHT,
    4,
    UA,
    "age 12 < 16 with thoracolumbar trauma -> Child trauma V4; radiography thoracic and lumbar UA",
)
sc(
    "child-trauma-v4-mri",
    p,
    O_MRI_WO,
    "rated",
    CHT,
    4,
    MBAD,
    "V4: MRI thoracic and lumbar w/o MBA (disagreement)",
)
sc(
    "child-trauma-v4-ct",
    p,
    O_CT_WO,
    "rated",
    CHT,
    4,
    MBAD,
    "V4: CT thoracic and lumbar w/o MBA (disagreement)",
)

p = new("child-acute-10", birth="2016-05-10", what="Child 10, acute back pain 7 d, no other data")
p.lbp(7)
sc(
    "child-acute-xr-insufficient",
    p,
    O_XR,
    "insufficient-data",
    CH,
    None,
    None,
    "age 10: constant/night pain unknown -> V1 (no red flag: XR UNA) or V2 (red flag, no prior radiograph: XR UA); pain 7 d is not >4 weeks or chronic -> V5 false -> insufficient-data",  # noqa: E501
)
sc(
    "child-acute-ct-contrast-rated",
    p,
    O_CT_W,
    "rated",
    CH,
    [1, 2],
    UNA,
    "CT spine area of interest with IV contrast is UNA in V1 and V2 -> rated UNA",
)

p = new(
    "child-chronic-10",
    birth="2016-05-10",
    what="Child 10, back pain for 120 d (red flag: > 4 weeks), no radiograph",
)
p.lbp(120)
sc(
    "child-chronic-xr-rated",
    p,
    O_XR,
    "rated",
    CH,
    [2, 5],
    UA,
    "pain 120 d > 28 d = red flag, no prior radiograph -> V2 certain; V5 (overuse) unknown. XR UA in V2 and V5 -> rated UA",  # noqa: E501
)
sc("child-chronic-ct-contrast", p, O_CT_W, "rated", CH, [2, 5], UNA, "CT w/ IV contrast UNA in V2 and V5")

p = new(
    "child-radicular-xr",
    birth="2016-05-10",
    what="Child 10, radiculopathy M54.16 21 d + prior lumbar radiograph 14 d ago",
)
p.icd("radiculopathy", "M54.16", "Radiculopathy, lumbar region", onset=ago(21))
p.proc("xr", CPT, "72100", "X-ray lumbosacral spine 2 or 3 views", performed=ago(14))
sc(
    "child-prior-radiograph-ct",
    p,
    O_CT_WO,
    "rated",
    CH,
    [3, 4],
    MBA,
    "radicular pain = red flag and a prior radiograph with unknown result -> V3 or V4; pain 21 d not chronic -> V5 false; CT spine area of interest w/o MBA in V3 and V4 -> rated MBA",  # noqa: E501
)

p = new("child-discitis", birth="2016-05-10", what="Child 10, acute back pain + provisional discitis M46.46")
p.lbp(10)
p.icd("discitis", "M46.46", "Discitis, unspecified, lumbar region", onset=ago(5), verification="provisional")
sc(
    "child-suspected-infection-ct-contrast",
    p,
    O_CT_W,
    "rated",
    CH,
    [1, 2, 6],
    UNA,
    "suspected infection -> V6; constant/night pain unknown -> possibly V1/V2 too; CT w/ IV contrast UNA in all -> rated UNA",  # noqa: E501
)

p = new("shape-medrequest", what="MedicationRequest (Synthea style) instead of MedicationStatement")
p.lbp(184)
p.add(
    {
        "resourceType": "MedicationRequest",
        "id": p.rid("naproxen"),
        "status": "active",
        "intent": "order",
        **NAPROXEN,
        "subject": p.ref,
        "authoredOn": ago(56),
        "dosageInstruction": [
            {
                "text": "500 mg twice daily",
                "timing": {
                    "repeat": {
                        "boundsPeriod": {"start": ago(56)},
                        "frequency": 2,
                        "period": 1,
                        "periodUnit": "d",
                    }
                },
            }
        ],
    }
)
sc(
    "shape-medication-request",
    p,
    O_MRI_WO,
    "rated",
    LBP,
    3,
    UA,
    "MedicationRequest naproxen authored 56 d ago counts as therapy -> V3 UA",
)

p = new("shape-contained-med", what="medicationReference to a contained Medication")
p.lbp(184)
p.ms(
    "naproxen",
    {
        "contained": [{"resourceType": "Medication", "id": "med", "code": cc(RX, "7258", "naproxen")}],
        "medicationReference": {"reference": "#med"},
    },
    start=ago(56),
)
sc(
    "shape-contained-medication",
    p,
    O_MRI_WO,
    "rated",
    LBP,
    3,
    UA,
    "contained Medication naproxen resolved -> V3 UA",
)

p = new("shape-bundle-med", what="medicationReference to a Medication resource in the bundle")
p.lbp(184)
p.add({"resourceType": "Medication", "id": p.rid("naproxen-med"), "code": cc(RX, "7258", "naproxen")})
p.ms("naproxen", {"medicationReference": {"reference": f"Medication/{p.rid('naproxen-med')}"}}, start=ago(56))
sc(
    "shape-referenced-medication",
    p,
    O_MRI_WO,
    "rated",
    LBP,
    3,
    UA,
    "Medication in the bundle resolved -> naproxen -> V3 UA",
)

p = new("shape-text-med", what="Text-only medication 'Naproxen 500 mg tablet' (matched by name)")
p.lbp(184)
p.ms("naproxen", {"medicationCodeableConcept": {"text": "Naproxen 500 mg tablet"}}, start=ago(56))
sc(
    "shape-text-only-medication",
    p,
    O_MRI_WO,
    "rated",
    LBP,
    3,
    UA,
    "ingredient name match on text -> NSAID -> V3 UA",
)

p = new("shape-atc-med", what="ATC-coded medication M01AE02 naproxen")
p.lbp(184)
p.ms("naproxen", {"medicationCodeableConcept": cc(ATC, "M01AE02", "naproxen")}, start=ago(56))
sc("shape-atc-medication", p, O_MRI_WO, "rated", LBP, 3, UA, "ATC M01A NSAID -> V3 UA")

p = new("shape-refuted", what="Refuted G83.4 and entered-in-error C79.51 do not count")
p.lbp(14)
p.icd("ces", "G83.4", "Cauda equina syndrome", onset=ago(3), verification="refuted")
p.icd("mets", "C79.51", "Secondary malignant neoplasm of bone", onset=ago(3), verification="entered-in-error")
sc(
    "shape-refuted-and-entered-in-error",
    p,
    O_MRI_WOW,
    "rated",
    LBP,
    1,
    UNA,
    "refuted / entered-in-error conditions ignored -> acute, no red flag -> V1; MRI w/o+w UNA (would be UA under V4/V7)",  # noqa: E501
)

p = new(
    "shape-resolved",
    what="Resolved old LBP + resolved osteomyelitis (abatement) + years of naproxen; new acute LBP",
)
p.icd(
    "old-lbp",
    "M54.50",
    "Low back pain, unspecified",
    onset="2024-06-01",
    clinical="resolved",
    abated="2025-01-01",
)
p.icd(
    "old-osteomyelitis",
    "M46.26",
    "Osteomyelitis of vertebra, lumbar region",
    onset="2025-03-01",
    clinical="resolved",
    abated="2025-06-01",
)
p.lbp(14)
p.ms("naproxen", NAPROXEN, start="2024-01-01")
sc(
    "shape-resolved-and-preepisode-therapy",
    p,
    O_MRI_WO,
    "rated",
    LBP,
    1,
    UNA,
    "resolved conditions do not count (no infection, episode = new LBP 14 d -> acute); naproxen since 2024 clipped to the episode = 2 weeks -> V1; MRI UNA",  # noqa: E501
)

p = new("shape-dotless", what="Dotless ICD-10-CM code M5450")
p.icd("lbp", "M5450", "Low back pain, unspecified", onset=ago(184))
p.ms("naproxen", NAPROXEN, start=ago(56))
sc(
    "shape-dotless-icd",
    p,
    O_MRI_WO,
    "rated",
    LBP,
    3,
    UA,
    "M5450 normalised = M54.50 -> back pain; chronic + 8 weeks -> V3 UA",
)

p = new("shape-onset-period", what="Condition onsetPeriod.start")
p.lbp(onset_period=ago(70))
p.ms("naproxen", NAPROXEN, start=ago(49))
sc(
    "shape-onset-period",
    p,
    O_MRI_WO,
    "rated",
    LBP,
    3,
    UA,
    "onsetPeriod.start 70 d -> subacute; 7 weeks -> V3 UA",
)

p = new("shape-onset-age", what="Condition onsetAge 45 a with birthDate 1981-03-15 (onset 2026-03-15)")
p.lbp(onset_age=45)
p.ms("naproxen", NAPROXEN, start=ago(49))
sc(
    "shape-onset-age",
    p,
    O_MRI_WO,
    "rated",
    LBP,
    3,
    UA,
    "onsetAge 45 + birthDate -> 2026-03-15 = 231 d -> chronic; 7 weeks -> V3 UA",
)

p = new("shape-recorded-only", what="Condition with recordedDate only")
p.icd("lbp", "M54.50", "Low back pain, unspecified", recorded=ago(92))
p.ms("naproxen", NAPROXEN, start=ago(56))
sc(
    "shape-recorded-date-only",
    p,
    O_MRI_WO,
    "rated",
    LBP,
    3,
    UA,
    "recordedDate 92 d -> chronic; 8 weeks -> V3 UA",
)

p = new("shape-ms-not-taken", what="MedicationStatement not-taken and entered-in-error do not count")
p.lbp(184)
p.ms("naproxen", NAPROXEN, start=ago(56), status="not-taken")
p.ms("ibuprofen", IBUPROFEN, start=ago(56), status="entered-in-error")
sc(
    "shape-not-taken-entered-in-error",
    p,
    O_MRI_WO,
    "rated",
    LBP,
    2,
    UNA,
    "not-taken / entered-in-error statements ignored -> no therapy -> V2; MRI UNA",
)

p = new("shape-malformed", what="A malformed Condition (code is a string) is skipped and reported")
p.lbp(14)
p.add(
    {
        "resourceType": "Condition",
        "id": p.rid("bad"),
        "subject": p.ref,
        "clinicalStatus": {
            "coding": [
                {"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}
            ]
        },
        "code": "C79.51",
        "onsetDateTime": ago(3),
    }
)
sc(
    "shape-malformed-resource-skipped",
    p,
    O_MRI_WOW,
    "rated",
    LBP,
    1,
    UNA,
    "the malformed Condition is skipped (and reported in dataIssues), not read as cancer -> V1; MRI w/o+w UNA",  # noqa: E501
    dataIssues=["shape-malformed-bad"],
)

p = new("lbp-v6-v3", what="Several variants: osteoporosis (V6) + chronic LBP with 8 weeks naproxen (V3)")
p.icd(
    "osteoporosis",
    "M81.0",
    "Age-related osteoporosis without current pathological fracture",
    onset="2020-04-01",
)
p.lbp(184)
p.ms("naproxen", NAPROXEN, start=ago(56))
sc(
    "multi-v3-v6-bone-scan",
    p,
    O_BONE_R,
    "rated",
    LBP,
    3,
    MBA,
    "V3 bone scan MBA > V6 UNA -> best category from V3",
    matchedVariants=[3, 6],
)
sc("multi-v3-v6-ct", p, O_CT_WO, "rated", LBP, 6, UA, "V6 CT w/o UA > V3 MBA", matchedVariants=[3, 6])
sc(
    "multi-v3-v6-mri-wo-w-tie",
    p,
    O_MRI_WOW,
    "rated",
    LBP,
    6,
    MBA,
    "MBA in both; tie broken by precedence V6 before V3",
    matchedVariants=[3, 6],
)

# ---- write ----------------------------------------------------------------------------------------------
pdir = ROOT / "fhir_fixtures" / "patients"
odir = ROOT / "fhir_fixtures" / "orders"
for old in list(pdir.glob("*.json")) + list(odir.glob("*.json")):
    if not old.name.startswith("v2-"):  # v2 fixtures are written by generate_v2.py
        old.unlink()
ids = set()
for p in patients:
    for e in p.entries:
        rid = e["resource"]["id"]
        assert rid not in ids, rid
        ids.add(rid)
    (pdir / f"{p.name}.json").write_text(json.dumps(p.bundle(), indent=1) + "\n")
for stem, r in orders.items():
    assert r["id"] not in ids
    ids.add(r["id"])
    (odir / f"{stem}.json").write_text(json.dumps(r, indent=1) + "\n")
names = [s["id"] for s in scenarios]
assert len(names) == len(set(names))
used = {s["order"] for s in scenarios}
for stem in orders:
    assert f"orders/{stem}.json" in used, stem
(ROOT / "tests" / "scenarios" / "scenarios.json").write_text(json.dumps(scenarios, indent=1) + "\n")
print(len(patients), "patients", len(orders), "orders", len(scenarios), "scenarios")

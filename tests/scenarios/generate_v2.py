"""Generate the v2 fixtures (fhir_fixtures/patients/v2-*.json, fhir_fixtures/orders/v2-*.json) and
tests/scenarios/scenarios-v2.json.

Every expectation and ``why`` was derived by hand from shared/clinical-rules.md (v2) and the ACR tables in
shared/reference/acr-spine-criteria.md (LBP 2021 §2.3, Myelopathy 2021 §3.1, Suspected Spine Trauma 2018 §4.2,
Back Pain—Child §6), never from the engine. Codes: terminology.md rows marked VERIFIED, or codes that
clinical-rules.md names itself (Z33.1, 77386006, S30.0, W19, R61, R78.81, 63047 in 63001-63048, 72141 in
72141-72158, 72040, 72120 …).

Rerun: ``python tests/scenarios/generate_v2.py`` (writes only v2-* files and scenarios-v2.json).
"""

from __future__ import annotations

import json
import zlib
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
EVAL = date(2026, 11, 1)
CPT = "http://www.ama-assn.org/go/cpt"
ICD = "http://hl7.org/fhir/sid/icd-10-cm"
SCT = "http://snomed.info/sct"
RX = "http://www.nlm.nih.gov/research/umls/rxnorm"
ATC = "http://www.whocc.no/atc"
NCI_OID = "urn:oid:2.16.840.1.113883.3.26.1.1"
NCI_URL = "http://ncicb.nci.nih.gov/xml/owl/EVS/Thesaurus.owl"
ADULT = "1981-03-15"  # 45 at the evaluation date


def ago(days: int) -> str:
    return (EVAL - timedelta(days=days)).isoformat()


def cc(system: str, code: str, display: str, text: str | None = None) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code, "display": display}], "text": text or display}


def status_cc(system: str, code: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code}]}


class P:
    def __init__(self, name: str, birth: str | None = ADULT, gender: str = "female", what: str = "") -> None:
        self.name = f"v2-{name}"
        self.what = what
        self.entries: list[dict[str, Any]] = []
        pt: dict[str, Any] = {
            "resourceType": "Patient",
            "id": f"pt-{self.name}",
            "active": True,
            "identifier": [
                {
                    "system": "urn:oid:2.16.840.1.113883.19.5",
                    "value": f"MRN-{zlib.crc32(name.encode()) % 10**7:07d}",
                }
            ],
            "name": [{"use": "official", "family": "Synthetic", "given": [name]}],
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

    def add(self, res: dict[str, Any]) -> dict[str, Any]:
        self.entries.append(
            {"fullUrl": f"http://example.org/fhir/{res['resourceType']}/{res['id']}", "resource": res}
        )
        return res

    def cond(
        self,
        suffix: str,
        code: str,
        display: str,
        onset: str | None = None,
        recorded: str | None = None,
        clinical: str | None = "active",
        verification: str = "confirmed",
        abated: str | None = None,
        category: str = "problem-list-item",
        system: str = ICD,
        body_site: str | None = None,
        note: str | None = None,
    ) -> dict[str, Any]:
        r: dict[str, Any] = {"resourceType": "Condition", "id": self.rid(suffix)}
        if clinical:
            r["clinicalStatus"] = status_cc(
                "http://terminology.hl7.org/CodeSystem/condition-clinical", clinical
            )
        r["verificationStatus"] = status_cc(
            "http://terminology.hl7.org/CodeSystem/condition-ver-status", verification
        )
        r["category"] = [status_cc("http://terminology.hl7.org/CodeSystem/condition-category", category)]
        r["code"] = cc(system, code, display)
        if body_site:
            r["bodySite"] = [{"text": body_site}]
        r["subject"] = self.ref
        if onset:
            r["onsetDateTime"] = onset
        if abated:
            r["abatementDateTime"] = abated
        rec = recorded or onset
        if rec:
            r["recordedDate"] = rec
        if note:
            r["note"] = [{"text": note}]
        return self.add(r)

    def lbp(self, days: int, **kw: Any) -> dict[str, Any]:
        return self.cond("lbp", "M54.50", "Low back pain, unspecified", onset=ago(days), **kw)

    def ms(
        self,
        suffix: str,
        med: dict[str, Any],
        start: str | None = None,
        end: str | None = None,
        at: str | None = None,
        status: str = "active",
        dosage: str | None = None,
    ) -> dict[str, Any]:
        r: dict[str, Any] = {
            "resourceType": "MedicationStatement",
            "id": self.rid(suffix),
            "status": status,
            "medicationCodeableConcept": med,
            "subject": self.ref,
        }
        if start:
            r["effectivePeriod"] = {"start": start}
            if end:
                r["effectivePeriod"]["end"] = end
        if at:
            r["effectiveDateTime"] = at
        r["dateAsserted"] = EVAL.isoformat()
        if dosage:
            r["dosage"] = [{"text": dosage}]
        return self.add(r)

    def mr(
        self,
        suffix: str,
        med: dict[str, Any],
        authored: str,
        supply_days: int,
        repeats: int,
        status: str = "completed",
        dosage: str | None = None,
    ) -> dict[str, Any]:
        r: dict[str, Any] = {
            "resourceType": "MedicationRequest",
            "id": self.rid(suffix),
            "status": status,
            "intent": "order",
            "medicationCodeableConcept": med,
            "subject": self.ref,
            "authoredOn": authored,
            "dosageInstruction": [{"text": dosage or "1 tablet by mouth twice daily"}],
            "dispenseRequest": {
                "numberOfRepeatsAllowed": repeats,
                "quantity": {"value": supply_days * 2, "unit": "tablet"},
                "expectedSupplyDuration": {
                    "value": supply_days,
                    "unit": "days",
                    "system": "http://unitsofmeasure.org",
                    "code": "d",
                },
            },
        }
        return self.add(r)

    def proc(
        self,
        suffix: str,
        code: dict[str, Any],
        performed: str,
        body_site: str | None = None,
        status: str = "completed",
    ) -> dict[str, Any]:
        r: dict[str, Any] = {
            "resourceType": "Procedure",
            "id": self.rid(suffix),
            "status": status,
            "code": code,
            "subject": self.ref,
            "performedDateTime": performed,
        }
        if body_site:
            r["bodySite"] = [{"text": body_site}]
        return self.add(r)

    def pt_sessions(self, days_ago: list[int]) -> None:
        for d in days_ago:
            self.proc(f"pt-{d}", PT_SESSION, ago(d))

    def device(
        self,
        suffix: str,
        type_cc: dict[str, Any],
        safety: dict[str, Any] | None = None,
        status: str = "active",
        name: str | None = None,
    ) -> dict[str, Any]:
        r: dict[str, Any] = {"resourceType": "Device", "id": self.rid(suffix), "status": status}
        if name:
            r["deviceName"] = [{"name": name, "type": "user-friendly-name"}]
        r["type"] = type_cc
        if safety is not None:
            r["safety"] = [safety]
        r["patient"] = self.ref
        return self.add(r)

    def bundle(self) -> dict[str, Any]:
        return {
            "resourceType": "Bundle",
            "id": f"bundle-{self.name}",
            "type": "collection",
            "meta": {"tag": [{"system": "urn:spine-auc:fixture", "code": "synthetic"}]},
            "entry": self.entries,
        }


# ---- medications / procedures / devices -------------------------------------------------------------------
NAPROXEN = cc(RX, "7258", "naproxen", "Naproxen 500 mg oral tablet")
IBUPROFEN = cc(RX, "5640", "ibuprofen", "Ibuprofen 600 mg oral tablet")
MELOXICAM = cc(RX, "41493", "meloxicam", "Meloxicam 15 mg oral tablet")
TRAMADOL = cc(RX, "10689", "tramadol", "Tramadol 50 mg oral tablet")
ACETAMINOPHEN = cc(RX, "161", "acetaminophen", "Acetaminophen 500 mg oral tablet")
CYCLOBENZAPRINE_SCD = cc(RX, "828348", "cyclobenzaprine hydrochloride 10 MG Oral Tablet")
MOTRIN_TEXT = {"text": "Motrin 800 mg tablet"}
FLEXERIL_TEXT = {"text": "Flexeril 10 mg tablet"}
TURMERIC_TEXT = {"text": "Turmeric curcumin 500 mg capsule"}
PT_SESSION = cc(SCT, "410160006", "Physical therapy management (procedure)", "Physical therapy session")
PT_EVAL = {
    "coding": [
        {"system": CPT, "code": "97161", "display": "Physical therapy evaluation: low complexity"},
        {"system": SCT, "code": "410158009", "display": "Physical therapy assessment (procedure)"},
    ],
    "text": "PT evaluation",
}
PT_REFERRAL = cc(SCT, "444831000124102", "Referral for physical therapy (procedure)")
LAMINECTOMY_63047 = cc(
    CPT,
    "63047",
    "Laminectomy, facetectomy and foraminotomy, single vertebral segment; lumbar",
    "L4-L5 laminectomy and foraminotomy",
)
PACEMAKER_TYPE = cc(SCT, "14106009", "Cardiac pacemaker, device (physical object)", "Cardiac pacemaker")


def nci(code: str, display: str, system: str = NCI_OID) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code, "display": display}], "text": display}


MR_UNSAFE = nci("C106047", "Magnetic Resonance Unsafe", NCI_URL)
MR_UNSAFE_OID = nci("C106047", "Magnetic Resonance Unsafe")
MR_CONDITIONAL = nci("C106046", "Magnetic Resonance Conditional")

# ---- orders ------------------------------------------------------------------------------------------------
orders: dict[str, dict[str, Any]] = {}


def order(
    stem: str,
    codings: list[tuple[str, str]] | None = None,
    text: str | None = None,
    reasons: list[dict[str, Any]] | None = None,
) -> str:
    stem = f"v2-{stem}"
    code: dict[str, Any] = {}
    if codings:
        code["coding"] = [{"system": CPT, "code": c, "display": d} for c, d in codings]
    code["text"] = text or (codings[0][1] if codings else "")
    r: dict[str, Any] = {
        "resourceType": "ServiceRequest",
        "id": f"sr-{stem}",
        "status": "draft",
        "intent": "order",
        "category": [{"coding": [{"system": SCT, "code": "363679005", "display": "Imaging"}]}],
        "code": code,
        "subject": {"reference": "Patient/pt-anyone"},
        "authoredOn": EVAL.isoformat(),
    }
    if reasons:
        r["reasonCode"] = reasons
    orders[stem] = r
    return stem


# existing v1 orders reused
MRI_WO = "mri-lumbar-wo-72148"
MRI_WOW = "mri-lumbar-wo-w-72158"
MRI_W = "mri-lumbar-w-72149"
CT_WO = "ct-lumbar-wo-72131"
CT_W = "ct-lumbar-w-72132"
CT_WOW = "ct-lumbar-wo-w-72133"
CTM = "ct-myelography-lumbar-62304-72132"
XR = "xr-lumbar-72100"
BONE_R = "bone-scan-whole-body-78306-reason-lbp"
CHEST = "xr-chest-71046"

# new v2 orders
MRI_C_WO = order("mri-cervical-wo-72141", [("72141", "MRI cervical spine without contrast")])
MRI_C_WO_REASON = order(
    "mri-cervical-wo-72141-reason-myelopathy",
    [("72141", "MRI cervical spine without contrast")],
    reasons=[cc(ICD, "G95.9", "Disease of spinal cord, unspecified", "Myelopathy")],
)
MRI_C_WOW = order("mri-cervical-wo-w-72156", [("72156", "MRI cervical spine without and with contrast")])
CT_C_WO = order("ct-cervical-wo-72125", [("72125", "CT cervical spine without contrast")])
XR_C = order("xr-cervical-72040", [("72040", "X-ray cervical spine 2 or 3 views")])
TXT_MRI_LSPINE_WO = order("mri-lspine-wo-text", text="MRI L-spine w/o")
TXT_MRI_LS_WWO = order("mri-ls-spine-wwo-text", text="MRI LS spine w/wo")
TXT_MRI_W_AND_WO = order("mri-lumbar-w-and-wo-text", text="MRI lumbar spine w & w/o contrast")
TXT_MRI_WPLUSWO = order("mri-lspine-wpluswo-text", text="MRI L-spine w+wo")
TXT_CT_LSPINE_WO = order("ct-lspine-wo-text", text="CT L-spine wo")
TWO_REGIONS = order(
    "mri-lumbar-cervical-72148-72141",
    [("72148", "MRI lumbar spine without contrast"), ("72141", "MRI cervical spine without contrast")],
    text="MRI lumbar and cervical spine without contrast",
)
XR_BENDING_ONLY = order("xr-lumbar-bending-72120", [("72120", "X-ray lumbosacral spine bending views only")])
TXT_XR_FLEX_EXT = order("xr-lspine-flex-ext-text", text="XR L-spine flex/ext views")
TXT_XR_BENDING = order("xr-lumbar-bending-text", text="XR lumbar spine bending views")
MRI_WO_PREPROC = order(
    "mri-lumbar-wo-72148-reason-preprocedural",
    [("72148", "MRI lumbar spine without contrast")],
    reasons=[
        cc(ICD, "M54.16", "Radiculopathy, lumbar region"),
        {"text": "Pre-procedural planning for L5-S1 transforaminal epidural steroid injection"},
    ],
)

# ---- scenarios ---------------------------------------------------------------------------------------------
LBP, MYEL, TR, CH = "acr-low-back-pain", "acr-myelopathy", "acr-suspected-spine-trauma", "acr-back-pain-child"
UA, MBA, MBAD, UNA = (
    "usually-appropriate",
    "may-be-appropriate",
    "may-be-appropriate-disagreement",
    "usually-not-appropriate",
)
scenarios: list[dict[str, Any]] = []
patients: list[P] = []


def new(name: str, **kw: Any) -> P:
    p = P(name, **kw)
    patients.append(p)
    return p


def pref(p: P | str) -> str:
    return f"patients/{p.name if isinstance(p, P) else p}.json"


def sc(
    sid: str,
    p: P | str,
    o: str,
    status: str,
    topic: str | list[str] | None = None,
    variant: int | list[int] | None = None,
    category: str | None = None,
    why: str = "",
    **extra: Any,
) -> None:
    e: dict[str, Any] = {"status": status, "topic": topic, "variant": variant, "category": category}
    e.update(extra)
    scenarios.append({"id": sid, "patient": pref(p), "order": f"orders/{o}.json", "expect": e, "why": why})


def sc_multi(sid: str, p: P | str, o: str, results: list[dict[str, Any]], why: str) -> None:
    scenarios.append(
        {
            "id": sid,
            "patient": pref(p),
            "order": f"orders/{o}.json",
            "expect": {"results": results},
            "why": why,
        }
    )


def mrs(status: str, indicator: str) -> dict[str, str]:
    return {"check": "mr-safety", "status": status, "indicator": indicator}


PREG_WARN = {"check": "pregnancy", "status": "pregnant", "indicator": "warning"}

# ============================================================================================================
# mr- : MR safety (§5.1)
# ============================================================================================================
p = new(
    "mr-pacemaker-unsafe",
    gender="male",
    what="V3 (chronic LBP, naproxen 8 wk) + pacemaker labelled MR Unsafe",
)
p.lbp(200)
p.ms("naproxen", NAPROXEN, start=ago(56), dosage="500 mg twice daily")
p.device(
    "pacemaker", PACEMAKER_TYPE, MR_UNSAFE, name="Dual-chamber pacemaker (2009, non-MR-conditional leads)"
)
V3_BASE = "chronic LBP (200 d), naproxen active from 56 d ago, no end -> runs to the evaluation date = 8 wk >= 6 (§2.3); intervention_candidate assumed (§2.4) -> LBP V3 (§4.1)"
sc(
    "mr-unsafe-ct-wo-no-mr-alternative",
    p,
    CT_WO,
    "rated",
    LBP,
    3,
    MBA,
    f"{V3_BASE}; CT w/o is MBA in LBP 2021 V3. Non-MR order: rating stands; §5.1 unsafe, any order: safety[] carries the MR entry with indicator info, no MR alternative, the pacemaker is named; CT myelography gets the V3 category of MRI w/o (UA), better than MBA -> offered as alternative (§5.1, §6)",
    procedure="ct-lumbar-wo",
    safety=[mrs("unsafe", "info")],
    noMrAlternatives=True,
    alternativesInclude=["ctm-lumbar"],
    alternativesExclude=["mri-lumbar-wo", "mri-lumbar-wo-w"],
    mentions=["pacemaker"],
)
sc(
    "mr-unsafe-xr-no-mr-alternative",
    p,
    XR,
    "rated",
    LBP,
    3,
    MBA,
    f"{V3_BASE}; radiography lumbar MBA in V3; unsafe implant: info entry, no MR alternative (MRI w/o would be UA), CT myelography carries UA (MRI w/o in V3) -> alternative (§5.1)",
    procedure="xr-lumbar",
    safety=[mrs("unsafe", "info")],
    noMrAlternatives=True,
    alternativesInclude=["ctm-lumbar"],
    mentions=["pacemaker"],
)
sc(
    "mr-unsafe-ctm-ordered-carries-mri-category",
    p,
    CTM,
    "rated",
    LBP,
    3,
    UA,
    f"{V3_BASE}; 62304+72132 = CT myelography lumbar (V3 table: MBA). §5.1: with an MR-unsafe implant an ordered CT myelography carries the category the variant gives MRI without contrast (V3: UA), since UA is better than UNA -> UA",
    procedure="ctm-lumbar",
    safety=[mrs("unsafe", "info")],
    noMrAlternatives=True,
    mentions=["pacemaker"],
)
sc(
    "mr-unsafe-mri-wo-critical",
    p,
    MRI_WO,
    "rated",
    LBP,
    3,
    UNA,
    f"{V3_BASE}; MRI w/o is UA in V3 but MR-unsafe implant + MR order -> UNA with indicator critical (§5.1); alternatives: no MR study, CT myelography (UA via the MRI w/o category) offered",
    procedure="mri-lumbar-wo",
    safety=[mrs("unsafe", "critical")],
    noMrAlternatives=True,
    alternativesInclude=["ctm-lumbar"],
    mentions=["pacemaker"],
)
sc(
    "mr-unsafe-mri-wo-w-critical",
    p,
    MRI_WOW,
    "rated",
    LBP,
    3,
    UNA,
    f"{V3_BASE}; MRI w/o+w MBA in V3 -> MR-unsafe implant + MR order -> UNA, critical (§5.1)",
    safety=[mrs("unsafe", "critical")],
    noMrAlternatives=True,
    mentions=["pacemaker"],
)
sc(
    "mr-unsafe-cervical-mri-no-criteria-critical",
    p,
    MRI_C_WO,
    "no-criteria",
    None,
    None,
    None,
    "72141 = MRI cervical w/o (§1.3), a known spine study; LBP indication, no myelopathy/trauma -> no topic for a cervical study -> no-criteria (§3 step 5/6). MR safety runs whatever the routing gives: unsafe implant + MR order -> critical card still sent (§3 step 1, §5.1)",
    procedure="mri-cervical-wo",
    safety=[mrs("unsafe", "critical")],
)

p = new("mr-unsafe-cauda", gender="male", what="V4 cauda equina + MR-unsafe pacemaker")
p.lbp(6)
p.cond(
    "ces",
    "G83.4",
    "Cauda equina syndrome",
    onset=ago(1),
    verification="provisional",
    category="encounter-diagnosis",
)
p.device("pacemaker", PACEMAKER_TYPE, MR_UNSAFE_OID, name="Pacemaker (legacy, MR unsafe)")
sc(
    "mr-unsafe-v4-ctm-ordered",
    p,
    CTM,
    "rated",
    LBP,
    4,
    UA,
    "provisional G83.4 = suspected cauda equina -> V4 (§2.5, §4.1). V4 gives CT myelography MBA and MRI w/o UA; §5.1: unsafe implant -> an ordered CT myelography carries the MRI w/o category (UA, better than UNA) -> UA",
    procedure="ctm-lumbar",
    safety=[mrs("unsafe", "info")],
    noMrAlternatives=True,
    mentions=["pacemaker"],
)
sc(
    "mr-unsafe-v4-ct-wo-ctm-alternative",
    p,
    CT_WO,
    "rated",
    LBP,
    4,
    MBA,
    "V4: CT w/o MBA (LBP 2021 V4). Unsafe implant: MRI w/o / w/o+w (UA) withheld; CT myelography carries UA -> offered (§5.1, §6)",
    safety=[mrs("unsafe", "info")],
    noMrAlternatives=True,
    alternativesInclude=["ctm-lumbar"],
)
sc(
    "mr-unsafe-v4-mri-wo-w-critical",
    p,
    MRI_WOW,
    "rated",
    LBP,
    4,
    UNA,
    "V4 MRI w/o+w UA -> MR-unsafe implant + MR order -> UNA, critical (§5.1)",
    safety=[mrs("unsafe", "critical")],
    noMrAlternatives=True,
)

p = new("mr-unsafe-acute", gender="male", what="V1 acute LBP + MR-unsafe pacemaker")
p.lbp(12)
p.device("pacemaker", PACEMAKER_TYPE, MR_UNSAFE, name="Pacemaker (MR unsafe)")
sc(
    "mr-unsafe-v1-ctm-stays-una",
    p,
    CTM,
    "rated",
    LBP,
    1,
    UNA,
    "acute LBP 12 d, no red flag -> V1. V1 gives MRI w/o UNA, which is not better than UNA -> the CT myelography keeps its own V1 category, UNA (§5.1 'only when that category is better than UNA')",
    procedure="ctm-lumbar",
    safety=[mrs("unsafe", "info")],
    noMrAlternatives=True,
)
sc(
    "mr-unsafe-v1-xr-no-ctm-alternative",
    p,
    XR,
    "rated",
    LBP,
    1,
    UNA,
    "V1: radiography UNA. Unsafe implant: no MR alternative; CT myelography would carry MRI w/o's V1 category UNA, not better than UNA -> not offered (§5.1)",
    safety=[mrs("unsafe", "info")],
    noMrAlternatives=True,
    alternativesExclude=["ctm-lumbar"],
    mentions=["pacemaker"],
)

p = new("mr-pacemaker-unlabelled", gender="male", what="V3 + pacemaker Device with no safety element")
p.lbp(200)
p.ms("naproxen", NAPROXEN, start=ago(60))
p.device("pacemaker", PACEMAKER_TYPE, None, name="Pacemaker")
V3_60 = "chronic LBP 200 d, naproxen ongoing 60 d = 8.6 wk (§2.3), candidate assumed -> V3"
sc(
    "mr-unknown-pacemaker-mri-wo-warning",
    p,
    MRI_WO,
    "rated",
    LBP,
    3,
    UA,
    f"{V3_60}; MRI w/o UA. Active pacemaker by Device.type with no labelling -> MR status unknown (§5.1) -> rating stands, indicator warning naming the device",
    procedure="mri-lumbar-wo",
    safety=[mrs("unknown", "warning")],
    mentions=["pacemaker"],
)
sc(
    "mr-unknown-pacemaker-mri-wo-w-warning",
    p,
    MRI_WOW,
    "rated",
    LBP,
    3,
    MBA,
    f"{V3_60}; MRI w/o+w MBA in V3; unknown MR status -> warning, rating stands (§5.1)",
    safety=[mrs("unknown", "warning")],
    mentions=["pacemaker"],
)
sc(
    "mr-unknown-pacemaker-ct-keeps-mr-alternative",
    p,
    CT_WO,
    "rated",
    LBP,
    3,
    MBA,
    f"{V3_60}; CT w/o MBA. Unknown (not unsafe) status does not withhold MR alternatives: MRI w/o (UA) is offered, carrying the warning (§5.1, §6)",
    alternativesInclude=["mri-lumbar-wo"],
)

p = new("mr-z950-only", gender="male", what="V3 + pacemaker recorded only as Condition Z95.0")
p.lbp(150)
p.ms("ibuprofen", IBUPROFEN, start=ago(50), dosage="600 mg three times daily")
p.cond("z950", "Z95.0", "Presence of cardiac pacemaker", onset="2018-04-02")
V3_50 = "chronic LBP 150 d, ibuprofen ongoing 50 d = 7.1 wk, candidate assumed -> V3"
sc(
    "mr-z950-condition-unknown-warning",
    p,
    MRI_WO,
    "rated",
    LBP,
    3,
    UA,
    f"{V3_50}; MRI w/o UA. Z95.0 device-presence Condition -> MR status unknown (§5.1) -> warning, rating stands",
    safety=[mrs("unknown", "warning")],
    mentions=["pacemaker"],
)
sc(
    "mr-z950-xr-mr-alternative-offered",
    p,
    XR,
    "rated",
    LBP,
    3,
    MBA,
    f"{V3_50}; radiography MBA; unknown status -> MRI w/o (UA) still offered as an alternative (§5.1)",
    alternativesInclude=["mri-lumbar-wo"],
)

p = new(
    "mr-stimulator-text-unsafe",
    birth="1950-02-11",
    what="elderly (76) LBP + spinal cord stimulator, safety text 'MR Unsafe' only",
)
p.lbp(10)
p.device(
    "scs", {"text": "Spinal cord stimulator"}, {"text": "MR Unsafe"}, name="Spinal cord stimulator (2012)"
)
sc(
    "mr-stimulator-text-unsafe-mri-critical",
    p,
    MRI_WO,
    "rated",
    LBP,
    6,
    UNA,
    "age 76 > 70 = elderly -> V6; MRI w/o UA in V6. Device.safety text 'MR Unsafe' (ASTM F2503 term, any case) -> unsafe (§5.1) -> MR order UNA, critical",
    safety=[mrs("unsafe", "critical")],
    noMrAlternatives=True,
    mentions=["stimulator"],
)
sc(
    "mr-stimulator-text-unsafe-ct-info",
    p,
    CT_WO,
    "rated",
    LBP,
    6,
    UA,
    "V6: CT w/o UA. Unsafe implant, non-MR order -> rating stands, info entry naming the stimulator, no MR alternative (§5.1)",
    safety=[mrs("unsafe", "info")],
    noMrAlternatives=True,
    mentions=["stimulator"],
)

p = new(
    "mr-fragments-and-knee",
    gender="male",
    what="V3 + Z18.11 retained magnetic fragments + MR-conditional knee prosthesis",
)
p.lbp(120)
p.ms("meloxicam", MELOXICAM, start=ago(63), dosage="15 mg once daily")
p.cond(
    "fragments",
    "Z18.11",
    "Retained magnetic metal fragments",
    onset="2004-07-19",
    note="Metal worker; orbital and hand fragments",
)
p.device(
    "knee", {"text": "Total knee prosthesis, right"}, MR_CONDITIONAL, name="Right total knee arthroplasty"
)
V3_63 = "chronic LBP 120 d, meloxicam ongoing 63 d = 9 wk, candidate assumed -> V3"
sc(
    "mr-fragments-unsafe-wins-mri",
    p,
    MRI_WO,
    "rated",
    LBP,
    3,
    UNA,
    f"{V3_63}; MRI w/o UA. Z18.11 retained magnetic fragments -> unsafe; the MR-conditional knee does not cancel it (§5.1 'one implant never cancels another') -> UNA, critical",
    safety=[mrs("unsafe", "critical")],
    noMrAlternatives=True,
    mentions=["fragments"],
)
sc(
    "mr-fragments-unsafe-wins-ct",
    p,
    CT_WO,
    "rated",
    LBP,
    3,
    MBA,
    f"{V3_63}; CT w/o MBA; patient unsafe (fragments) -> info entry, no MR alternative, CT myelography carries UA -> offered (§5.1)",
    safety=[mrs("unsafe", "info")],
    noMrAlternatives=True,
    alternativesInclude=["ctm-lumbar"],
)

p = new("mr-conditional-cauda", what="V4 suspected cauda equina + MR-conditional cochlear implant")
p.lbp(4)
p.cond("retention", "R33.9", "Retention of urine, unspecified", onset=ago(1), category="encounter-diagnosis")
p.cond(
    "ces",
    "G83.4",
    "Cauda equina syndrome",
    onset=ago(1),
    verification="provisional",
    category="encounter-diagnosis",
)
p.device("cochlear", {"text": "Cochlear implant"}, MR_CONDITIONAL, name="Cochlear implant, left")
sc(
    "mr-conditional-v4-mri-warning",
    p,
    MRI_WOW,
    "rated",
    LBP,
    4,
    UA,
    "provisional G83.4 -> cauda_equina_suspected -> V4; MRI w/o+w UA. MR-conditional implant + MR order -> rating stands, warning 'use the MR-conditional protocol' (§5.1)",
    safety=[mrs("conditional", "warning")],
    mentions=["cochlear"],
)
sc(
    "mr-conditional-v4-ct-mr-alternative",
    p,
    CT_WO,
    "rated",
    LBP,
    4,
    MBA,
    "V4: CT w/o MBA; conditional status does not withhold MR: MRI w/o (UA) is an alternative (with the conditional warning) (§5.1, §6)",
    alternativesInclude=["mri-lumbar-wo"],
)

p = new("mr-crutches", what="V3 + crutches Device (not an implant)")
p.lbp(140)
p.ms("naproxen", NAPROXEN, start=ago(56))
p.device("crutches", {"text": "Axillary crutches"}, None, name="Crutches")
sc(
    "mr-crutches-ignored",
    p,
    MRI_WO,
    "rated",
    LBP,
    3,
    UA,
    "chronic LBP, naproxen 8 wk, candidate assumed -> V3 MRI w/o UA; crutches are not an implant -> ignored (§5.1) -> no MR-safety entry",
    absentSafety=["mr-safety"],
)

p = new(
    "mr-inactive-pacemaker",
    gender="male",
    what="V3 + explanted pacemaker (Device status inactive, labelled MR unsafe)",
)
p.lbp(140)
p.ms("naproxen", NAPROXEN, start=ago(56))
p.device("pacemaker", PACEMAKER_TYPE, MR_UNSAFE, status="inactive", name="Pacemaker (explanted 2021)")
sc(
    "mr-inactive-device-ignored",
    p,
    MRI_WO,
    "rated",
    LBP,
    3,
    UA,
    "V3 MRI w/o UA; Device status inactive = no longer implanted -> ignored (§1 Device, §5.1) -> no MR-safety entry, no downgrade",
    absentSafety=["mr-safety"],
)

p = new(
    "mr-unsafe-undated-therapy",
    gender="male",
    what="chronic LBP + undated naproxen (unknown length) + MR-unsafe pacemaker",
)
p.lbp(200)
p.ms("naproxen", NAPROXEN)
p.device("pacemaker", PACEMAKER_TYPE, MR_UNSAFE, name="Pacemaker (MR unsafe)")
sc(
    "mr-unsafe-insufficient-data-critical",
    p,
    MRI_WO,
    "insufficient-data",
    LBP,
    None,
    None,
    "naproxen with no dates: lower bound 0 wk, upper bound the episode (200 d) -> management_weeks unknown (§2.3) -> V2 (MRI UNA) vs V3 (MRI UA) -> insufficient-data. §5.1: unsafe + MR order -> critical card whatever the status",
    missingFacts=["management_weeks"],
    safety=[mrs("unsafe", "critical")],
)

# ============================================================================================================
# care- : conservative care received (§2.3)
# ============================================================================================================
p = new(
    "care-cyclobenzaprine-10d",
    what="chronic LBP + one 10-day cyclobenzaprine course that started 7 weeks ago",
)
p.lbp(180)
p.ms(
    "cyclobenzaprine",
    CYCLOBENZAPRINE_SCD,
    start=ago(49),
    end=ago(39),
    status="completed",
    dosage="10 mg at bedtime",
)
sc(
    "care-cyclobenzaprine-10-days-not-6-weeks",
    p,
    MRI_WO,
    "rated",
    LBP,
    2,
    UNA,
    "chronic LBP 180 d; cyclobenzaprine (SCD 828348 -> ingredient) effectivePeriod 10 d -> 1.4 wk received, not 7 wk since the first record (§2.3) -> V2; MRI w/o UNA (LBP 2021 V2)",
    mentions=["cyclobenzaprine"],
    absentMissingFacts=["management_weeks"],
)
sc(
    "care-cyclobenzaprine-10-days-xr",
    p,
    XR,
    "rated",
    LBP,
    2,
    UNA,
    "same record: V2 (10 days of therapy < 6 wk); radiography UNA in V2 (V3 would give MBA)",
)

p = new("care-nsaid-5-months-ago", what="chronic LBP + one 14-day ibuprofen course 5 months ago")
p.lbp(240)
p.ms("ibuprofen", IBUPROFEN, start=ago(150), end=ago(136), status="completed")
sc(
    "care-old-nsaid-course-v2",
    p,
    MRI_WO,
    "rated",
    LBP,
    2,
    UNA,
    "chronic LBP 240 d; ibuprofen 14 d five months ago = 2 wk received (§2.3) -> V2; MRI w/o UNA",
    mentions=["ibuprofen"],
)

p = new("care-single-pt-eval", what="chronic LBP + a single PT evaluation visit 60 days ago")
p.lbp(160)
p.proc("pt-eval", PT_EVAL, ago(60))
sc(
    "care-single-pt-visit-v2",
    p,
    MRI_WO,
    "rated",
    LBP,
    2,
    UNA,
    "one PT session covers its day only, its length is known (§2.3) -> 0 wk, not 60 days since the visit -> V2; MRI w/o UNA",
    absentMissingFacts=["management_weeks"],
)

p = new("care-pt-programme-7wk", what="chronic LBP + weekly PT sessions from 56 to 7 days ago")
p.lbp(160)
p.proc("pt-eval", PT_EVAL, ago(56))
p.pt_sessions([49, 42, 35, 28, 21, 14, 7])
sc(
    "care-pt-programme-v3",
    p,
    MRI_WO,
    "rated",
    LBP,
    3,
    UA,
    "PT sessions 7 days apart (<= 14) form one programme from 56 to 7 days ago = 49 d = 7 wk >= 6 (§2.3); chronic, candidate assumed -> V3; MRI w/o UA",
    assumptions=["intervention_candidate"],
)
sc(
    "care-pt-programme-ct-wo",
    p,
    CT_WO,
    "rated",
    LBP,
    3,
    MBA,
    "same programme -> V3; CT w/o MBA; MRI w/o (UA) is a better alternative (§6)",
    alternativesInclude=["mri-lumbar-wo"],
)

p = new("care-pt-gap", what="chronic LBP + two PT runs separated by a 22-day gap")
p.lbp(200)
p.pt_sessions([100, 93, 86, 79, 72, 50, 43, 36, 29, 22, 15])
sc(
    "care-pt-gap-breaks-run",
    p,
    MRI_WO,
    "rated",
    LBP,
    2,
    UNA,
    "sessions 100..72 d ago (28 d) and 50..15 d ago (35 d); the 22-day gap > 14 is not bridged (§2.3) -> longest run 35 d = 5 wk < 6 -> V2; MRI w/o UNA (v1 'since first record' would give 14 wk)",
)

p = new("care-active-meloxicam", what="chronic LBP + meloxicam active for 8 weeks, no end")
p.lbp(130)
p.ms("meloxicam", MELOXICAM, start=ago(56), dosage="15 mg daily")
sc(
    "care-ongoing-nsaid-8wk-v3",
    p,
    MRI_WO,
    "rated",
    LBP,
    3,
    UA,
    "active MedicationStatement with no end runs to the evaluation date: 56 d = 8 wk (§2.3); chronic, candidate assumed -> V3; MRI w/o UA",
    mentions=["meloxicam"],
    assumptions=["intervention_candidate"],
)

p = new(
    "care-completed-no-length",
    what="chronic LBP + one completed naproxen statement with effectiveDateTime 60 d ago",
)
p.lbp(180)
p.ms("naproxen", NAPROXEN, at=ago(60), status="completed")
NOLEN = "completed naproxen with effectiveDateTime only covers its day, true length unknown: lower bound 0 wk, upper bound until the evaluation date (no next item) = 60 d = 8.6 wk -> bounds disagree -> management_weeks unknown (§2.3)"
sc(
    "care-unknown-length-mri-insufficient",
    p,
    MRI_WO,
    "insufficient-data",
    LBP,
    None,
    None,
    f"{NOLEN}; chronic: V2 (MRI w/o UNA) vs V3 (UA) -> insufficient-data asking management_weeks",
    missingFacts=["management_weeks"],
    missingQuestion=True,
    mentions=["naproxen"],
)
sc(
    "care-unknown-length-xr-insufficient",
    p,
    XR,
    "insufficient-data",
    LBP,
    None,
    None,
    f"{NOLEN}; radiography V2 UNA vs V3 MBA -> insufficient-data",
    missingFacts=["management_weeks"],
)
sc(
    "care-unknown-length-ct-wo-w-rated",
    p,
    CT_WOW,
    "rated",
    LBP,
    [2, 3],
    UNA,
    f"{NOLEN}; CT w/o+w is UNA in V2 and V3 -> readings agree -> rated UNA, nothing asked (§4.3)",
    absentMissingFacts=["management_weeks"],
)

p = new("care-unknown-length-irrelevant", what="acute LBP + completed naproxen effectiveDateTime 10 d ago")
p.lbp(14)
p.ms("naproxen", NAPROXEN, at=ago(10), status="completed")
sc(
    "care-unknown-length-acute-not-asked",
    p,
    MRI_WO,
    "rated",
    LBP,
    1,
    UNA,
    "acute LBP 14 d: V3 needs subacute/chronic, so the unknown length does not matter (bounds 0 and 10 d are < 6 wk anyway) -> V1; MRI w/o UNA; management_weeks not asked",
    absentMissingFacts=["management_weeks"],
)

p = new(
    "care-unknown-length-next-item",
    what="chronic LBP + completed naproxen (no length) 80 d ago, then a 7-day cyclobenzaprine course 50-43 d ago",
)
p.lbp(200)
p.ms("naproxen", NAPROXEN, at=ago(80), status="completed")
p.ms("cyclobenzaprine", CYCLOBENZAPRINE_SCD, start=ago(50), end=ago(43), status="completed")
sc(
    "care-unknown-length-bounded-by-next-item",
    p,
    MRI_WO,
    "rated",
    LBP,
    2,
    UNA,
    "naproxen's unknown length is bounded by the next item: upper-bound run 80->43 d ago = 37 d = 5.3 wk; lower bound: naproxen 0 d, gap 30 d > 14 -> 7 d. Both < 6 wk -> false (§2.3) -> V2; MRI w/o UNA, nothing asked",
    absentMissingFacts=["management_weeks"],
)

p = new("care-41-days-period", what="chronic LBP + completed naproxen with effectivePeriod of 41 days")
p.lbp(220)
p.ms("naproxen", NAPROXEN, start=ago(120), end=ago(79), status="completed")
sc(
    "care-period-41-days-v2",
    p,
    MRI_WO,
    "rated",
    LBP,
    2,
    UNA,
    "effectivePeriod end - start = 41 d = 5.9 wk, not 6 (§2.3) -> V2; MRI w/o UNA",
)
p = new("care-42-days-period", what="chronic LBP + completed naproxen with effectivePeriod of 42 days")
p.lbp(220)
p.ms("naproxen", NAPROXEN, start=ago(120), end=ago(78), status="completed")
sc(
    "care-period-42-days-v3",
    p,
    MRI_WO,
    "rated",
    LBP,
    3,
    UA,
    "effectivePeriod 42 d = 6 wk (§2.3); chronic, candidate assumed -> V3; MRI w/o UA",
)

p = new(
    "care-medrequest-supply-42", what="chronic LBP + completed MedicationRequest: 14-day supply, 2 repeats"
)
p.lbp(200)
p.mr("naproxen", NAPROXEN, authored=ago(100), supply_days=14, repeats=2, dosage="500 mg twice daily")
sc(
    "care-medrequest-supply-times-repeats-v3",
    p,
    MRI_WO,
    "rated",
    LBP,
    3,
    UA,
    "MedicationRequest expectedSupplyDuration 14 d x (1 + 2 repeats) = 42 d = 6 wk from authoredOn (§2.3) -> V3; MRI w/o UA",
)
p = new(
    "care-medrequest-supply-28", what="chronic LBP + completed MedicationRequest: 14-day supply, 1 repeat"
)
p.lbp(200)
p.mr("naproxen", NAPROXEN, authored=ago(100), supply_days=14, repeats=1, dosage="500 mg twice daily")
sc(
    "care-medrequest-supply-28-days-v2",
    p,
    MRI_WO,
    "rated",
    LBP,
    2,
    UNA,
    "14 d x (1 + 1) = 28 d = 4 wk < 6 (§2.3) -> V2; MRI w/o UNA (authoredOn 100 d ago is not an interval of 100 d)",
)

p = new("care-before-episode", what="LBP since 40 d + naproxen active since 100 d (prescribed for knee pain)")
p.lbp(40)
p.ms("naproxen", NAPROXEN, start=ago(100))
sc(
    "care-clipped-to-episode-v2",
    p,
    MRI_WO,
    "rated",
    LBP,
    2,
    UNA,
    "episode starts at LBP onset 40 d ago (subacute); naproxen from 100 d ago clipped to the episode -> 40 d = 5.7 wk < 6 (§2.3 'intervals are clipped to the episode') -> V2; MRI w/o UNA",
)

p = new("care-nsaid-then-pt-bridged", what="chronic LBP + naproxen 70-50 d ago, then PT sessions 40-19 d ago")
p.lbp(150)
p.ms("naproxen", NAPROXEN, start=ago(70), end=ago(50), status="completed")
p.pt_sessions([40, 33, 26, 19])
sc(
    "care-gap-10-days-bridged-v3",
    p,
    MRI_WO,
    "rated",
    LBP,
    3,
    UA,
    "naproxen 70->50 d ago, gap 10 d (<= 14, bridged), PT 40->19 d ago -> one run 70->19 = 51 d = 7.3 wk (§2.3) -> V3; MRI w/o UA",
    mentions=["naproxen"],
)

p = new("care-tramadol", what="chronic LBP + tramadol active 9 weeks")
p.lbp(300)
p.ms("tramadol", TRAMADOL, start=ago(63), dosage="50 mg every 6 hours as needed")
sc(
    "care-analgesic-tramadol-v3",
    p,
    MRI_WO,
    "rated",
    LBP,
    3,
    UA,
    "v2 counts other analgesics (tramadol, opioids) as conservative care (§2.3): 63 d = 9 wk -> V3; MRI w/o UA",
    mentions=["tramadol"],
)

p = new("care-pt-referral-only", what="chronic LBP + a referral for PT 70 d ago, no session")
p.lbp(150)
p.proc("pt-referral", PT_REFERRAL, ago(70))
sc(
    "care-referral-is-not-therapy",
    p,
    MRI_WO,
    "rated",
    LBP,
    2,
    UNA,
    "a referral is not evidence that therapy happened (§1 Procedure, terminology §4.2 444831000124102 'referral only') -> 0 wk -> V2; MRI w/o UNA",
)

# ============================================================================================================
# episode- : the episode (§2.2)
# ============================================================================================================
p = new(
    "episode-ddd-2019-sciatica-5d",
    gender="male",
    what="lumbar disc degeneration since 2019 + naproxen since 2024 + sciatica since 5 days",
)
p.cond(
    "ddd",
    "M51.369",
    "Other intervertebral disc degeneration, lumbar region without mention of lumbar back pain or lower extremity pain",
    onset="2019-04-10",
)
p.ms("naproxen", NAPROXEN, start="2024-02-01", dosage="500 mg as needed")
p.cond("sciatica", "M54.32", "Sciatica, left side", onset=ago(5), category="encounter-diagnosis")
EP1 = "episode starts at the earliest counted symptom Condition (sciatica, 5 d ago), not at the 2019 disc degeneration (§2.2) -> acute; naproxen since 2024 clipped to the episode = 5 d -> V1"
sc(
    "episode-from-symptom-mri",
    p,
    MRI_WO,
    "rated",
    LBP,
    1,
    UNA,
    f"{EP1}; MRI w/o UNA (v1 reading: chronic + long NSAID -> V3 UA)",
)
sc("episode-from-symptom-xr", p, XR, "rated", LBP, 1, UNA, f"{EP1}; radiography UNA")
sc("episode-from-symptom-ct", p, CT_WO, "rated", LBP, 1, UNA, f"{EP1}; CT w/o UNA")

p = new(
    "episode-structural-only",
    gender="male",
    what="lumbar stenosis with claudication since 200 d + naproxen 8 wk, no symptom Condition",
)
p.cond("stenosis", "M48.062", "Spinal stenosis, lumbar region with neurogenic claudication", onset=ago(200))
p.ms("naproxen", NAPROXEN, start=ago(56))
sc(
    "episode-structural-starts-it-v3",
    p,
    MRI_WO,
    "rated",
    LBP,
    3,
    UA,
    "no symptom Condition counted -> the structural diagnosis (stenosis, a back-pain group) starts the episode (§2.2): 200 d = chronic; naproxen 8 wk -> V3; MRI w/o UA",
)

p = new("episode-disc-displacement-only", what="lumbar disc displacement since 100 d, no therapy")
p.cond("disc", "M51.26", "Other intervertebral disc displacement, lumbar region", onset=ago(100))
sc(
    "episode-structural-only-chronic-v2",
    p,
    MRI_WO,
    "rated",
    LBP,
    2,
    UNA,
    "structural only -> episode from M51.26 onset 100 d -> chronic, no therapy -> V2 (not V1); MRI w/o UNA",
)

p = new("episode-earliest-symptom", what="LBP since 100 d + sciatica since 10 d + naproxen 8 wk")
p.lbp(100)
p.cond(
    "sciatica", "M54.41", "Lumbago with sciatica, right side", onset=ago(10), category="encounter-diagnosis"
)
p.ms("naproxen", NAPROXEN, start=ago(56))
sc(
    "episode-earliest-symptom-onset-v3",
    p,
    MRI_WO,
    "rated",
    LBP,
    3,
    UA,
    "episode = earliest onset among symptom Conditions (LBP 100 d, not the newer sciatica 10 d) (§2.2) -> chronic; naproxen 8 wk -> V3; MRI w/o UA",
)

p = new("episode-no-onset-pt", what="LBP with no onset or recordedDate + a 7-week PT programme")
p.cond("lbp", "M54.50", "Low back pain, unspecified")
p.pt_sessions([60, 53, 46, 39, 32, 25, 18, 11])
NOON = "no onset anywhere -> duration unknown, episode = 12 months before evaluation (§2.2); PT run 60->11 d = 49 d = 7 wk. Acute -> V1 (MRI w/o UNA); subacute or chronic -> V3 (UA)"
sc(
    "episode-no-onset-insufficient",
    p,
    MRI_WO,
    "insufficient-data",
    LBP,
    None,
    None,
    f"{NOON} -> insufficient-data asking duration",
    missingFacts=["duration"],
    optionsDistinct=True,
    missingQuestion=True,
)
sc(
    "episode-no-onset-ct-wo-w-rated",
    p,
    CT_WOW,
    "rated",
    LBP,
    [1, 3],
    UNA,
    f"{NOON}; CT w/o+w UNA in V1 and V3 -> rated UNA",
    absentMissingFacts=["duration"],
)

p = new("episode-no-onset-only", what="LBP with no onset, no therapy")
p.cond("lbp", "M54.50", "Low back pain, unspecified")
sc(
    "episode-no-onset-duration-unknown-rated",
    p,
    XR,
    "rated",
    LBP,
    [1, 2],
    UNA,
    "no onset -> duration unknown; no therapy: V1 or V2, radiography UNA in both -> rated UNA (§2.2, §4.3)",
)

p = new("episode-old-resolved-lbp", what="resolved LBP episode in 2024 (with PT then) + new sciatica 9 d")
p.cond(
    "old-lbp",
    "M54.50",
    "Low back pain, unspecified",
    onset="2024-03-01",
    clinical="resolved",
    abated="2024-06-01",
)
p.proc("pt-2024", PT_SESSION, "2024-04-02")
p.cond("sciatica", "M54.42", "Lumbago with sciatica, left side", onset=ago(9))
sc(
    "episode-resolved-old-pain-ignored",
    p,
    MRI_WO,
    "rated",
    LBP,
    1,
    UNA,
    "resolved 2024 LBP is not counted; episode = sciatica 9 d -> acute, no red flag -> V1; MRI w/o UNA",
)

# ============================================================================================================
# flag- : red flags (§2.5)
# ============================================================================================================
p = new("flag-myeloma-remission", what="multiple myeloma in remission (clinicalStatus remission) + acute LBP")
p.lbp(10)
p.cond("myeloma", "C90.01", "Multiple myeloma in remission", onset="2021-09-01", clinical="remission")
sc(
    "flag-cancer-remission-v7",
    p,
    MRI_WOW,
    "rated",
    LBP,
    7,
    UA,
    "a malignancy Condition whose clinicalStatus is remission = cancer history -> cancer (§2.5) -> V7; MRI w/o+w UA (v1 ignored non-active Conditions -> V1 UNA)",
)
sc(
    "flag-cancer-remission-xr",
    p,
    XR,
    "rated",
    LBP,
    7,
    MBAD,
    "cancer (remission) -> V7; radiography MBA (disagreement) in LBP 2021 V7",
)

p = new(
    "flag-sarcoma-resolved",
    gender="male",
    what="vertebral-column malignancy resolved (treated 2020) + acute LBP",
)
p.lbp(8)
p.cond(
    "sarcoma",
    "C41.2",
    "Malignant neoplasm of vertebral column",
    onset="2019-11-01",
    clinical="resolved",
    abated="2020-08-01",
)
sc(
    "flag-cancer-resolved-v7",
    p,
    MRI_WOW,
    "rated",
    LBP,
    7,
    UA,
    "resolved malignancy Condition = history -> cancer (§2.5) -> V7; MRI w/o+w UA",
)
sc(
    "flag-cancer-resolved-ct-w",
    p,
    CT_W,
    "rated",
    LBP,
    7,
    MBA,
    "V7: CT w/ IV contrast MBA (UNA in every other LBP variant)",
)

p = new(
    "flag-z85-prostate",
    gender="male",
    birth="1962-08-20",
    what="Z85.46 prostate cancer history + acute LBP (age 64)",
)
p.lbp(12)
p.cond("hx-prostate", "Z85.46", "Personal history of malignant neoplasm of prostate", onset="2017-01-15")
sc(
    "flag-z85-history-v7",
    p,
    MRI_WO,
    "rated",
    LBP,
    7,
    UA,
    "Z85.x history -> cancer -> V7; MRI w/o UA",
    mentions=["prostate"],
)

p = new(
    "flag-fever-ivdu",
    gender="male",
    birth="1990-01-05",
    what="acute LBP + fever + opioid dependence recorded this week",
)
p.lbp(10)
p.cond("fever", "R50.9", "Fever, unspecified", onset=ago(3), category="encounter-diagnosis")
p.cond("oud", "F11.20", "Opioid dependence, uncomplicated", onset=ago(3), note="Reports injecting heroin")
FEV = "fever (R50.9) and injection drug use proxy (F11.20), both active and recorded within the episode, suggest infection -> infection unknown (§2.5): yes -> V7, no -> V1"
sc(
    "flag-fever-ivdu-mri-asks-infection",
    p,
    MRI_WOW,
    "insufficient-data",
    LBP,
    None,
    None,
    f"{FEV}; MRI w/o+w V7 UA vs V1 UNA -> insufficient-data asking infection, never a flat UNA",
    missingFacts=["infection"],
    missingQuestion=True,
    mentions=["fever"],
)
sc(
    "flag-fever-ivdu-xr-asks-infection",
    p,
    XR,
    "insufficient-data",
    LBP,
    None,
    None,
    f"{FEV}; radiography V7 MBA-D vs V1 UNA -> insufficient-data",
    missingFacts=["infection"],
)
sc(
    "flag-fever-ivdu-ct-wo-w-agrees",
    p,
    CT_WOW,
    "rated",
    LBP,
    [1, 7],
    UNA,
    f"{FEV}; CT w/o+w UNA in V1 and V7 -> readings agree -> rated (the suggestion does not change the answer)",
)

p = new("flag-fever-only", what="acute LBP + fever this week")
p.lbp(7)
p.cond("fever", "R50.9", "Fever, unspecified", onset=ago(2), category="encounter-diagnosis")
sc(
    "flag-fever-alone-asks-infection",
    p,
    MRI_WO,
    "insufficient-data",
    LBP,
    None,
    None,
    "fever with back pain within the episode suggests infection (§2.5) -> V7 MRI w/o UA vs V1 UNA -> insufficient-data asking infection",
    missingFacts=["infection"],
)

p = new(
    "flag-ivdu-only",
    gender="male",
    birth="1993-06-30",
    what="subacute LBP + stimulant dependence recorded in the episode",
)
p.lbp(35)
p.cond("stimulant", "F15.20", "Other stimulant dependence, uncomplicated", onset=ago(20))
sc(
    "flag-injection-drug-use-asks-infection",
    p,
    MRI_WOW,
    "insufficient-data",
    LBP,
    None,
    None,
    "F15.x stimulant use disorder (injection drug use proxy) within the episode suggests infection (§2.5); subacute 35 d, no therapy: V7 MRI w/o+w UA vs V2 UNA -> insufficient-data",
    missingFacts=["infection"],
)

p = new("flag-bacteremia", birth="1958-12-01", what="acute LBP + bacteraemia R78.81 (age 67)")
p.lbp(6)
p.cond("bacteremia", "R78.81", "Bacteremia", onset=ago(4), category="encounter-diagnosis")
sc(
    "flag-bacteremia-asks-infection",
    p,
    MRI_WOW,
    "insufficient-data",
    LBP,
    None,
    None,
    "R78.81 bacteraemia suggests infection (§2.5): V7 MRI w/o+w UA vs V1 UNA (age 67 not elderly) -> insufficient-data",
    missingFacts=["infection"],
)

p = new("flag-weight-loss", what="subacute LBP 30 d + unexplained weight loss R63.4")
p.lbp(30)
p.cond("weight-loss", "R63.4", "Abnormal weight loss", onset=ago(20))
WL = "R63.4 unexplained weight loss within the episode suggests cancer (§2.5): yes -> V7, no -> V2 (subacute 30 d, no therapy)"
sc(
    "flag-weight-loss-asks-cancer",
    p,
    MRI_WOW,
    "insufficient-data",
    LBP,
    None,
    None,
    f"{WL}; MRI w/o+w V7 UA vs V2 UNA -> insufficient-data asking cancer",
    missingFacts=["cancer"],
    missingQuestion=True,
    mentions=["weight loss"],
)
sc(
    "flag-weight-loss-ct-wo-w-agrees",
    p,
    CT_WOW,
    "rated",
    LBP,
    [2, 7],
    UNA,
    f"{WL}; CT w/o+w UNA in V2 and V7 -> rated UNA, cancer not asked",
    absentMissingFacts=["cancer"],
)

p = new("flag-night-sweats", gender="male", what="acute LBP + night sweats R61")
p.lbp(15)
p.cond(
    "sweats",
    "R61",
    "Generalized hyperhidrosis",
    onset=ago(10),
    category="encounter-diagnosis",
    note="night sweats",
)
sc(
    "flag-night-sweats-asks-cancer",
    p,
    MRI_WO,
    "insufficient-data",
    LBP,
    None,
    None,
    "R61 night sweats with back pain suggest cancer (§2.5): V7 MRI w/o UA vs V1 UNA -> insufficient-data asking cancer",
    missingFacts=["cancer"],
)

p = new("flag-weight-loss-no-onset", what="LBP without onset + weight loss recorded 10 d ago")
p.cond("lbp", "M54.50", "Low back pain, unspecified")
p.cond("weight-loss", "R63.4", "Abnormal weight loss", onset=ago(10))
sc(
    "flag-weight-loss-episode-unknown",
    p,
    MRI_WOW,
    "insufficient-data",
    LBP,
    None,
    None,
    "episode unknown -> a suggesting finding counts within 28 days (§2.5): R63.4 10 d ago -> cancer unknown; V7 MRI w/o+w UA vs V1/V2 UNA -> insufficient-data asking cancer",
    missingFacts=["cancer"],
)

p = new("flag-foot-drop", gender="male", what="sciatica 20 d + new left foot drop 4 d")
p.cond("sciatica", "M54.42", "Lumbago with sciatica, left side", onset=ago(20))
p.cond("foot-drop", "M21.372", "Foot drop, left foot", onset=ago(4), category="encounter-diagnosis")
FD = "M21.372 foot drop with back pain suggests progressive_deficit (never inferred, §2.5): yes -> rated with the V4 table (interpretation), no -> V1 (acute 20 d)"
sc(
    "flag-foot-drop-asks-progressive-deficit",
    p,
    MRI_WO,
    "insufficient-data",
    LBP,
    None,
    None,
    f"{FD}; MRI w/o V4 UA vs V1 UNA -> insufficient-data asking progressive_deficit",
    missingFacts=["progressive_deficit"],
    missingQuestion=True,
    mentions=["foot drop"],
)
sc(
    "flag-foot-drop-ct-asks",
    p,
    CT_WO,
    "insufficient-data",
    LBP,
    None,
    None,
    f"{FD}; CT w/o V4 MBA vs V1 UNA -> insufficient-data",
    missingFacts=["progressive_deficit"],
)
sc(
    "flag-foot-drop-xr-agrees",
    p,
    XR,
    "rated",
    LBP,
    [1, 4],
    UNA,
    f"{FD}; radiography UNA in V1 and V4 -> rated UNA",
    absentMissingFacts=["progressive_deficit"],
)

p = new("flag-urinary-retention", what="acute LBP + urinary retention")
p.lbp(5)
p.cond("retention", "R33.9", "Retention of urine, unspecified", onset=ago(1), category="encounter-diagnosis")
sc(
    "flag-urinary-retention-asks-cauda-equina",
    p,
    MRI_WOW,
    "insufficient-data",
    LBP,
    None,
    None,
    "urinary retention with back pain suggests cauda equina (§2.5): V4 MRI w/o+w UA vs V1 UNA -> insufficient-data asking cauda_equina_suspected",
    missingFacts=["cauda_equina_suspected"],
)

p = new("flag-old-fever", what="acute LBP + fever resolved in 2025")
p.lbp(9)
p.cond(
    "fever",
    "R50.9",
    "Fever, unspecified",
    onset="2025-02-03",
    clinical="resolved",
    abated="2025-02-08",
    category="encounter-diagnosis",
)
sc(
    "flag-old-resolved-fever-suggests-nothing",
    p,
    MRI_WOW,
    "rated",
    LBP,
    1,
    UNA,
    "old, resolved findings suggest nothing (§2.5) -> no red flag, acute -> V1; MRI w/o+w UNA; infection not asked",
    absentMissingFacts=["infection"],
)

p = new("flag-z7952", what="acute LBP + Z79.52 long-term systemic steroids")
p.lbp(10)
p.cond("steroids", "Z79.52", "Long term (current) use of systemic steroids", onset="2024-05-01")
sc(
    "flag-z7952-not-immunosuppression-ct-w",
    p,
    CT_W,
    "rated",
    LBP,
    6,
    UNA,
    "Z79.52 = chronic_steroid_use, not immunosuppression (§2.5) -> V6 only; CT w/ IV contrast UNA in V6 (it would be MBA under V7)",
    matchedVariants=[6],
)
sc(
    "flag-z7952-mri-wo-w",
    p,
    MRI_WOW,
    "rated",
    LBP,
    6,
    MBA,
    "V6 only: MRI w/o+w MBA (V7 would give UA)",
    matchedVariants=[6],
)

# ============================================================================================================
# route- : routing and surgery (§2.6, §3)
# ============================================================================================================
p = new(
    "route-m80-fracture",
    birth="1964-09-09",
    what="age 62, osteoporotic vertebral fracture M80.08XA 6 d + LBP, no trauma",
)
p.lbp(6)
p.cond(
    "fracture",
    "M80.08XA",
    "Age-related osteoporosis with current pathological fracture, vertebra(e), initial encounter for fracture",
    onset=ago(6),
    category="encounter-diagnosis",
)
M80 = "M80.08XA fragility fracture is not thoracolumbar_trauma (§2.6) -> not the trauma topic; it makes osteoporosis true (§2.5) -> LBP V6"
sc(
    "route-fragility-fracture-mri-lbp-v6",
    p,
    MRI_WO,
    "rated",
    LBP,
    6,
    UA,
    f"{M80}; MRI w/o UA in V6 (trauma V9 would give UNA)",
)
sc(
    "route-fragility-fracture-xr-lbp-v6",
    p,
    XR,
    "rated",
    LBP,
    6,
    UA,
    f"{M80}; radiography UA in V6 (trauma V9 MBA)",
)
sc("route-fragility-fracture-mri-wo-w", p, MRI_WOW, "rated", LBP, 6, MBA, f"{M80}; MRI w/o+w MBA in V6")

p = new("route-collapsed-vertebra", birth="1968-02-14", what="M48.56XA collapsed lumbar vertebra + LBP 10 d")
p.lbp(10)
p.cond(
    "collapse",
    "M48.56XA",
    "Collapsed vertebra, not elsewhere classified, lumbar region, initial encounter for fracture",
    onset=ago(10),
    category="encounter-diagnosis",
)
sc(
    "route-collapsed-vertebra-ct-lbp-v6",
    p,
    CT_WO,
    "rated",
    LBP,
    6,
    UA,
    "M48.5x collapsed vertebra = fragility fracture -> osteoporosis, not trauma (§2.5, §2.6) -> LBP V6; CT w/o UA",
)

p = new("route-z981-alone", what="Z98.1 arthrodesis status (no bodySite, no surgery record) + LBP 20 d")
p.cond("z981", "Z98.1", "Arthrodesis status", onset="2023-05-01")
p.lbp(20)
Z98 = "Z98.1 alone (may be an ankle) -> prior_lumbar_surgery unknown (§2.6); LBP began after it, so if lumbar -> V5, else acute no red flag -> V1"
sc(
    "route-z981-alone-xr-asks",
    p,
    XR,
    "insufficient-data",
    LBP,
    None,
    None,
    f"{Z98}; radiography V5 UA vs V1 UNA -> insufficient-data asking prior_lumbar_surgery",
    missingFacts=["prior_lumbar_surgery"],
    missingQuestion=True,
)
sc(
    "route-z981-alone-mri-wo-w-asks",
    p,
    MRI_WOW,
    "insufficient-data",
    LBP,
    None,
    None,
    f"{Z98}; MRI w/o+w V5 UA vs V1 UNA -> insufficient-data",
    missingFacts=["prior_lumbar_surgery"],
)
sc(
    "route-z981-alone-ct-wo-w-not-asked",
    p,
    CT_WOW,
    "rated",
    LBP,
    [1, 5],
    UNA,
    f"{Z98}; CT w/o+w UNA in V1 and V5 -> rated, not asked (asked only when it matters)",
    absentMissingFacts=["prior_lumbar_surgery"],
)

p = new("route-z981-lumbar-site", what="Z98.1 with bodySite lumbar spine + LBP 20 d")
p.cond("z981", "Z98.1", "Arthrodesis status", onset="2023-05-01", body_site="Lumbar spine (L4-S1)")
p.lbp(20)
sc(
    "route-z981-lumbar-bodysite-v5-xr",
    p,
    XR,
    "rated",
    LBP,
    5,
    UA,
    "Z98.1 with a spinal (lumbar) bodySite counts as prior_lumbar_surgery (§2.6); LBP onset after it = new symptoms -> V5; radiography UA",
)
sc("route-z981-lumbar-bodysite-v5-mri", p, MRI_WOW, "rated", LBP, 5, UA, "V5: MRI w/o+w UA")

p = new("route-z981-ankle", what="Z98.1 with bodySite left ankle + LBP 20 d")
p.cond("z981", "Z98.1", "Arthrodesis status", onset="2023-05-01", body_site="Left ankle (subtalar joint)")
p.lbp(20)
sc(
    "route-z981-ankle-not-lumbar",
    p,
    XR,
    "rated",
    LBP,
    1,
    UNA,
    "Z98.1 whose bodySite is the ankle is not spinal -> prior_lumbar_surgery false (reading of §2.6: the bodySite decides) -> acute, no red flag -> V1; radiography UNA",
    absentMissingFacts=["prior_lumbar_surgery"],
)

p = new(
    "route-laminectomy-63047", gender="male", what="CPT 63047 lumbar laminectomy 2025-06 + new sciatica 15 d"
)
p.proc("laminectomy", LAMINECTOMY_63047, "2025-06-10")
p.cond("sciatica", "M54.41", "Lumbago with sciatica, right side", onset=ago(15))
L63 = "completed Procedure CPT 63047 (lumbar laminectomy, in 63001-63048) -> prior_lumbar_surgery (§2.6); sciatica began after it -> new symptoms -> V5"
sc("route-63047-v5-xr", p, XR, "rated", LBP, 5, UA, f"{L63}; radiography UA")
sc("route-63047-v5-mri-wo-w", p, MRI_WOW, "rated", LBP, 5, UA, f"{L63}; MRI w/o+w UA")
sc("route-63047-v5-ct-wo", p, CT_WO, "rated", LBP, 5, MBA, f"{L63}; CT w/o MBA")

p = new(
    "route-laminectomy-pain-before",
    gender="male",
    what="LBP since 2025-12 then CPT 63047 in 2026-06, nothing after",
)
p.cond("lbp", "M54.50", "Low back pain, unspecified", onset="2025-12-01")
p.proc("laminectomy", LAMINECTOMY_63047, "2026-06-10")
sc(
    "route-63047-no-new-symptoms-v2",
    p,
    XR,
    "rated",
    LBP,
    2,
    UNA,
    "prior lumbar surgery true but no back-pain onset after it -> new_or_progressing_after_surgery false (as v1) -> not V5; chronic (335 d), no therapy -> V2; radiography UNA",
)

p = new("route-postlaminectomy", what="M96.1 postlaminectomy syndrome (2024) + new LBP 20 d")
p.cond("m961", "M96.1", "Postlaminectomy syndrome, not elsewhere classified", onset="2024-02-01")
p.lbp(20)
sc(
    "route-m961-v5",
    p,
    XR,
    "rated",
    LBP,
    5,
    UA,
    "M96.1 -> prior_lumbar_surgery (§2.6); LBP onset after it -> V5; radiography UA",
)

p = new(
    "route-contusion-fall", birth="1985-07-07", what="S30.0XXA lower back contusion + W19 fall 5 d ago + LBP"
)
p.cond(
    "contusion",
    "S30.0XXA",
    "Contusion of lower back and pelvis, initial encounter",
    onset=ago(5),
    category="encounter-diagnosis",
)
p.cond(
    "fall", "W19.XXXA", "Unspecified fall, initial encounter", onset=ago(5), category="encounter-diagnosis"
)
p.lbp(5)
LVT = "S30.0 contusion + W19 fall within 28 days -> low_velocity_trauma (§2.5); not thoracolumbar_trauma (no S22.0/S32.0/S24/S34 code, no high-energy mechanism) -> LBP V6"
sc("route-contusion-fall-v6-xr", p, XR, "rated", LBP, 6, UA, f"{LVT}; radiography UA")
sc("route-contusion-fall-v6-ct", p, CT_WO, "rated", LBP, 6, UA, f"{LVT}; CT w/o UA")
sc("route-contusion-fall-v6-mri-w", p, MRI_W, "rated", LBP, 6, UNA, f"{LVT}; MRI w/ IV contrast UNA")

p = new("route-fall-only", birth="1979-03-03", what="W19 fall 7 d ago + LBP, no injury code")
p.cond(
    "fall", "W19.XXXA", "Unspecified fall, initial encounter", onset=ago(7), category="encounter-diagnosis"
)
p.lbp(7)
sc(
    "route-fall-alone-v6",
    p,
    MRI_WO,
    "rated",
    LBP,
    6,
    UA,
    "a W19 fall within 28 days alone makes low_velocity_trauma true (§2.5) -> V6; MRI w/o UA",
)

sc(
    "route-child-complete-spine-row-covers-lumbar",
    "child-discitis",
    MRI_WOW,
    "rated",
    CH,
    6,
    UA,
    "age 10 -> Back Pain—Child; provisional discitis = suspected infection -> V6 (always matched; constant/night pain unknown adds V1/V2 at most). §3: the 'MRI complete spine without and with' row covers a lumbar MRI w/o+w -> V6 UA, the best category in any reading",
)
sc(
    "route-child-complete-spine-prior-xr",
    "child-radicular-xr",
    MRI_WO,
    "rated",
    CH,
    [3, 4],
    UA,
    "age 10, radicular pain (red flag) + prior radiograph without a result -> V3 or V4 (§3 children); 'MRI complete spine without IV contrast' covers a lumbar MRI w/o: UA in V3 and V4 -> rated UA",
)

# ============================================================================================================
# recog- : recognition (§1.3)
# ============================================================================================================
sc(
    "recog-72141-myelopathy-acute",
    "myelopathy-acute",
    MRI_C_WO,
    "rated",
    MYEL,
    1,
    UA,
    "CPT 72141 = MRI cervical w/o (§1.3); myelopathy (G95.20, 5 d) -> Myelopathy topic, any region (§3 step 4), acute -> V1; 'MRI spine area of interest without IV contrast' UA (Myelopathy 2021 V1)",
    procedure="mri-cervical-wo",
)
sc(
    "recog-72156-myelopathy-chronic",
    "myelopathy-chronic",
    MRI_C_WOW,
    "rated",
    MYEL,
    2,
    UA,
    "CPT 72156 = MRI cervical w/o+w; myelopathy 273 d -> V2; MRI area of interest w/o+w UA (Myelopathy 2021 V2)",
    procedure="mri-cervical-wo-w",
)
sc(
    "recog-72125-myelopathy-ct",
    "myelopathy-acute",
    CT_C_WO,
    "rated",
    MYEL,
    1,
    MBA,
    "CPT 72125 = CT cervical w/o; Myelopathy V1: CT spine area of interest w/o MBA",
    procedure="ct-cervical-wo",
)
sc(
    "recog-72040-myelopathy-xr",
    "myelopathy-acute",
    XR_C,
    "rated",
    MYEL,
    1,
    UNA,
    "CPT 72040 = cervical radiograph (§1.3); Myelopathy V1: radiography spine area of interest UNA",
    procedure="xr-cervical",
)

p = new(
    "recog-empty-record",
    gender="male",
    what="adult with no Conditions; the order's reason carries the indication",
)
sc(
    "recog-72141-reason-myelopathy",
    p,
    MRI_C_WO_REASON,
    "rated",
    MYEL,
    [1, 2],
    UA,
    "order reasonCode G95.9 (myelopathy NOS) -> myelopathy -> Myelopathy topic; no onset -> acute or chronic unknown, MRI area of interest w/o UA in V1 and V2 -> rated UA",
    procedure="mri-cervical-wo",
)

sc(
    "recog-cervical-xr-for-lbp-no-criteria",
    "lbp-acute",
    XR_C,
    "no-criteria",
    None,
    None,
    None,
    "72040 is a known spine study (cervical radiograph, §1.3); LBP indication, no myelopathy/trauma -> the cervical region has no topic for it -> no-criteria (a card says so), not not-applicable",
    procedure="xr-cervical",
)
sc(
    "recog-cervical-mri-for-lbp-no-criteria",
    "lbp-v3-nsaid",
    MRI_C_WO,
    "no-criteria",
    None,
    None,
    None,
    "72141 cervical MRI for lumbar back pain -> known spine study, no topic for the region -> no-criteria (§1.3, §3)",
    procedure="mri-cervical-wo",
)
sc(
    "recog-chest-xr-still-not-applicable",
    "lbp-v3-nsaid",
    CHEST,
    "not-applicable",
    None,
    None,
    None,
    "71046 chest radiograph is not spine imaging -> not-applicable (§3 step 1); contrast with the cervical rows",
)

sc(
    "recog-text-l-spine-wo-v3",
    "lbp-v3-nsaid",
    TXT_MRI_LSPINE_WO,
    "rated",
    LBP,
    3,
    UA,
    "text 'MRI L-spine w/o' = MRI lumbar without contrast (§1.3 abbreviations); V3 -> UA",
    procedure="mri-lumbar-wo",
)
sc(
    "recog-text-l-spine-wo-v1",
    "lbp-acute",
    TXT_MRI_LSPINE_WO,
    "rated",
    LBP,
    1,
    UNA,
    "'MRI L-spine w/o' = MRI lumbar w/o; V1 -> UNA",
    procedure="mri-lumbar-wo",
)
sc(
    "recog-text-ls-spine-wwo",
    "lbp-v3-nsaid",
    TXT_MRI_LS_WWO,
    "rated",
    LBP,
    3,
    MBA,
    "'MRI LS spine w/wo' = MRI lumbar without and with; V3 -> MBA (not UA as w/o, not UNA as with)",
    procedure="mri-lumbar-wo-w",
)
sc(
    "recog-text-w-and-wo",
    "lbp-v3-nsaid",
    TXT_MRI_W_AND_WO,
    "rated",
    LBP,
    3,
    MBA,
    "'w & w/o' = without and with; V3 MBA",
    procedure="mri-lumbar-wo-w",
)
sc(
    "recog-text-w-plus-wo-v7",
    "lbp-metastasis",
    TXT_MRI_WPLUSWO,
    "rated",
    LBP,
    7,
    UA,
    "'MRI L-spine w+wo' = MRI lumbar without and with; active bone metastasis -> V7 UA",
    procedure="mri-lumbar-wo-w",
)
sc(
    "recog-text-ct-l-spine-wo",
    "lbp-v3-nsaid",
    TXT_CT_LSPINE_WO,
    "rated",
    LBP,
    3,
    MBA,
    "'CT L-spine wo' = CT lumbar without contrast; V3 MBA",
    procedure="ct-lumbar-wo",
)

p = new("recog-motrin", what="chronic LBP + MedicationStatement text 'Motrin 800 mg tablet' 8 weeks")
p.lbp(150)
p.ms("motrin", MOTRIN_TEXT, start=ago(56), dosage="800 mg three times daily")
sc(
    "recog-motrin-brand-is-nsaid",
    p,
    MRI_WO,
    "rated",
    LBP,
    3,
    UA,
    "text-only 'Motrin' = ibuprofen brand (§1 medication matching, last resort, said so) -> NSAID 8 wk -> V3; MRI w/o UA",
)

p = new("recog-flexeril", what="chronic LBP + text 'Flexeril 10 mg tablet' active 7 weeks")
p.lbp(150)
p.ms("flexeril", FLEXERIL_TEXT, start=ago(49), dosage="10 mg three times daily")
sc(
    "recog-flexeril-brand-is-relaxant",
    p,
    MRI_WO,
    "rated",
    LBP,
    3,
    UA,
    "'Flexeril' = cyclobenzaprine brand -> skeletal muscle relaxant 49 d = 7 wk -> V3; MRI w/o UA",
)

p = new("recog-scd-cyclobenzaprine", what="chronic LBP + cyclobenzaprine SCD 828348 active 7 weeks")
p.lbp(150)
p.ms("cyclobenzaprine", CYCLOBENZAPRINE_SCD, start=ago(49))
sc(
    "recog-scd-mapped-to-ingredient",
    p,
    MRI_WO,
    "rated",
    LBP,
    3,
    UA,
    "RxNorm SCD 828348 (cyclobenzaprine 10 MG oral tablet, VSAC Beers relaxants) mapped to its ingredient -> relaxant 7 wk -> V3; MRI w/o UA",
    mentions=["cyclobenzaprine"],
)

p = new("recog-unmatched-medication", what="chronic LBP + text-only turmeric supplement")
p.lbp(150)
p.ms("turmeric", TURMERIC_TEXT, start=ago(60))
sc(
    "recog-unrecognised-medication-data-issue",
    p,
    MRI_WO,
    "rated",
    LBP,
    2,
    UNA,
    "'Turmeric curcumin 500 mg capsule' matches no value set -> listed in dataIssues as not recognised, not counted (§1) -> 0 wk -> V2; MRI w/o UNA",
    dataIssues=["v2-recog-unmatched-medication-turmeric"],
)

p = new(
    "recog-onset-future-recorded",
    what="LBP onsetDateTime after the order date, recordedDate 100 d ago + naproxen 8 wk",
)
p.cond("lbp", "M54.50", "Low back pain, unspecified", onset="2026-12-15", recorded=ago(100))
p.ms("naproxen", NAPROXEN, start=ago(56))
sc(
    "recog-future-onset-uses-recorded-date",
    p,
    MRI_WO,
    "rated",
    LBP,
    3,
    UA,
    "onset 2026-12-15 is after the evaluation date -> data issue; recordedDate (100 d ago) is not later -> used (§1): chronic; naproxen 8 wk -> V3; MRI w/o UA",
    dataIssues=["v2-recog-onset-future-recorded-lbp"],
)

p = new("recog-onset-future-both", what="LBP onset and recordedDate both after the order date")
p.cond("lbp", "M54.50", "Low back pain, unspecified", onset="2026-12-15", recorded="2026-11-20")
sc(
    "recog-future-onset-unknown",
    p,
    MRI_WO,
    "rated",
    LBP,
    [1, 2],
    UNA,
    "onset and recordedDate both later than the evaluation date -> onset unknown, data issue (§1) -> duration unknown, V1 or V2, MRI w/o UNA in both -> rated",
    dataIssues=["v2-recog-onset-future-both-lbp"],
)

sc_multi(
    "recog-two-regions-lbp",
    "lbp-v3-nsaid",
    TWO_REGIONS,
    [
        {"procedure": "mri-lumbar-wo", "status": "rated", "topic": LBP, "variant": 3, "category": UA},
        {
            "procedure": "mri-cervical-wo",
            "status": "no-criteria",
            "topic": None,
            "variant": None,
            "category": None,
        },
    ],
    "72148 + 72141 on one order = two studies (§1.3, §7: two results, same serviceRequest): lumbar MRI w/o -> V3 UA; cervical MRI w/o for LBP -> no-criteria",
)
sc_multi(
    "recog-two-regions-myelopathy",
    "myelopathy-acute",
    TWO_REGIONS,
    [
        {"procedure": "mri-lumbar-wo", "status": "rated", "topic": MYEL, "variant": 1, "category": UA},
        {"procedure": "mri-cervical-wo", "status": "rated", "topic": MYEL, "variant": 1, "category": UA},
    ],
    "two studies; myelopathy -> Myelopathy topic for any region: both 'MRI spine area of interest without IV contrast' V1 UA",
)

sc(
    "recog-72120-bending-only-m2",
    "lbp-spondylolisthesis",
    XR_BENDING_ONLY,
    "rated",
    LBP,
    3,
    UA,
    "CPT 72120 (bending views only) counts as flexion/extension (§5.2); spondylolisthesis + V3 -> M2 -> UA (radiography MBA otherwise)",
    modifiers=["M2"],
)
sc(
    "recog-text-flex-ext-m2",
    "lbp-spondylolisthesis",
    TXT_XR_FLEX_EXT,
    "rated",
    LBP,
    3,
    UA,
    "text 'XR L-spine flex/ext views' = lumbar flexion/extension radiographs (§5.2 'flex/ext') -> M2 -> UA",
    modifiers=["M2"],
)
sc(
    "recog-text-bending-alone-not-m2",
    "lbp-spondylolisthesis",
    TXT_XR_BENDING,
    "rated",
    LBP,
    3,
    MBA,
    "text 'bending' alone usually means lateral views (§5.2) -> plain lumbar radiography, no M2 -> V3 MBA",
    absentModifiers=["M2"],
)

# ============================================================================================================
# words- : outputs (§6, §7)
# ============================================================================================================
sc(
    "words-v1-una-next-step",
    "lbp-acute",
    MRI_WO,
    "rated",
    LBP,
    1,
    UNA,
    "V1 UNA: §6 the explanation gives the next step and the red flags checked and found absent (cauda equina, cancer, infection, fracture risk)",
    mentions=["cauda equina", "cancer", "infection"],
)
sc(
    "words-v2-una-next-step",
    "lbp-chronic-nomgmt",
    XR,
    "rated",
    LBP,
    2,
    UNA,
    "V2 UNA: next step (6 weeks of conservative care in a candidate, or red flags) stated (§6)",
    mentions=["cauda equina", "cancer", "infection"],
)
sc(
    "words-missing-question-names-finding",
    "v2-flag-fever-ivdu",
    MRI_WO,
    "insufficient-data",
    LBP,
    None,
    None,
    "fever + IV drug use suggest infection: V7 MRI w/o UA vs V1 UNA -> insufficient-data; missing[].question present and names the findings (§2.5, §7)",
    missingFacts=["infection"],
    missingQuestion=True,
    mentions=["fever"],
)
sc(
    "words-options-merged-duration",
    "v2-episode-no-onset-pt",
    MRI_WO,
    "insufficient-data",
    LBP,
    None,
    None,
    "duration unknown: subacute and chronic both give V3 UA, acute gives V1 UNA -> two options, not three (§4.3 merged options)",
    missingFacts=["duration"],
    optionsDistinct=True,
    missingQuestion=True,
)
sc(
    "words-options-merged-management",
    "v2-care-completed-no-length",
    MRI_WO,
    "insufficient-data",
    LBP,
    None,
    None,
    "management_weeks unknown: < 6 -> V2 UNA, >= 6 -> V3 UA; one option per distinct outcome (§4.3)",
    missingFacts=["management_weeks"],
    optionsDistinct=True,
)
sc(
    "words-adult-no-child-facts",
    "v2-care-completed-no-length",
    XR,
    "insufficient-data",
    LBP,
    None,
    None,
    "adult (45): child-only facts (constant/night pain, overuse) belong to a topic that cannot apply and are not asked (§4.3); age is known",
    missingFacts=["management_weeks"],
    absentMissingFacts=["constant_or_night_pain", "overuse_mechanical_pain", "age"],
)
sc(
    "words-adult-no-child-facts-flag",
    "v2-flag-urinary-retention",
    MRI_WO,
    "insufficient-data",
    LBP,
    None,
    None,
    "adult with suggested cauda equina: V4 MRI w/o UA vs V1 UNA; only cauda_equina_suspected is asked, never a child-only fact",
    missingFacts=["cauda_equina_suspected"],
    absentMissingFacts=["constant_or_night_pain", "overuse_mechanical_pain", "age"],
)
sc(
    "words-v3-assumption-stated",
    "lbp-v3-nsaid",
    MRI_WO,
    "rated",
    LBP,
    3,
    UA,
    "no referral and no recorded candidacy -> intervention_candidate takes the default setting (true) and the result states the assumption (§2.4) -> V3 UA",
    assumptions=["intervention_candidate"],
)
sc(
    "words-v3-assumption-stated-ct",
    "lbp-v3-pt",
    CT_WO,
    "rated",
    LBP,
    3,
    MBA,
    "PT programme 8 wk -> V3 under the stated candidacy assumption (§2.4); CT w/o MBA",
    assumptions=["intervention_candidate"],
    alternativesInclude=["mri-lumbar-wo"],
)
sc(
    "words-preprocedural-reason-no-assumption",
    "lbp-v3-nsaid",
    MRI_WO_PREPROC,
    "rated",
    LBP,
    3,
    UA,
    "the order's reason says pre-procedural planning -> intervention_candidate true from the record, not assumed (§2.4) -> V3 UA, no assumption stated",
    absentAssumptions=["intervention_candidate"],
)
sc(
    "words-mr-unsafe-names-implant-on-xr",
    "v2-mr-pacemaker-unsafe",
    XR,
    "rated",
    LBP,
    3,
    MBA,
    "implant named in the reasons whatever was ordered (§5.1); safety entry info for a non-MR order",
    safety=[mrs("unsafe", "info")],
    mentions=["pacemaker"],
)

# ============================================================================================================
# multi- : several variants (§4.3)
# ============================================================================================================
p = new(
    "multi-elderly-cancer-history",
    birth="1949-10-10",
    what="age 77 + Z85.3 breast cancer history + acute LBP",
)
p.lbp(12)
p.cond("hx-breast", "Z85.3", "Personal history of malignant neoplasm of breast", onset="2014-03-01")
sc(
    "multi-v6-v7-mri-wo-w",
    p,
    MRI_WOW,
    "rated",
    LBP,
    7,
    UA,
    "elderly -> V6, cancer history -> V7; MRI w/o+w V7 UA > V6 MBA (§4.3)",
    matchedVariants=[6, 7],
)
sc("multi-v6-v7-xr", p, XR, "rated", LBP, 6, UA, "radiography V6 UA > V7 MBA-D", matchedVariants=[6, 7])
sc(
    "multi-v6-v7-ct-w",
    p,
    CT_W,
    "rated",
    LBP,
    7,
    MBA,
    "CT w/ IV contrast V7 MBA > V6 UNA",
    matchedVariants=[6, 7],
)
sc(
    "multi-v6-v7-mri-wo-tie",
    p,
    MRI_WO,
    "rated",
    LBP,
    [6, 7],
    UA,
    "MRI w/o UA in both V6 and V7 -> UA; the tie-break 'table order' is ambiguous between ACR numbering (V6) and the §4.1 precedence table (V7 listed first), so either variant is accepted",
    matchedVariants=[6, 7],
)

# ============================================================================================================
# preg- : pregnancy (§5.4)
# ============================================================================================================
p = new("preg-z331-acute", birth="1994-04-18", what="pregnant (Z33.1) + acute LBP")
p.cond("pregnancy", "Z33.1", "Pregnant state, incidental", onset=ago(140))
p.lbp(9)
sc(
    "preg-ct-warning",
    p,
    CT_WO,
    "rated",
    LBP,
    1,
    UNA,
    "V1: CT w/o UNA, rating unchanged (ACR does not rate pregnancy); counted pregnancy + ionizing study -> warning (§5.4)",
    safety=[PREG_WARN],
)
sc(
    "preg-xr-warning",
    p,
    XR,
    "rated",
    LBP,
    1,
    UNA,
    "V1: radiography UNA; ionizing -> pregnancy warning (§5.4)",
    safety=[PREG_WARN],
)
sc(
    "preg-mri-contrast-warning",
    p,
    MRI_WOW,
    "rated",
    LBP,
    1,
    UNA,
    "V1: MRI w/o+w UNA; gadolinium in pregnancy -> warning (§5.4)",
    safety=[PREG_WARN],
)
sc(
    "preg-mri-wo-no-warning",
    p,
    MRI_WO,
    "rated",
    LBP,
    1,
    UNA,
    "MRI without contrast: neither ionizing nor gadolinium -> no pregnancy entry (§5.4); V1 UNA",
    absentSafety=["pregnancy"],
)

p = new("preg-snomed-fall", birth="1996-09-02", what="pregnancy (SNOMED 77386006) + W19 fall 3 d ago + LBP")
p.cond("pregnancy", "77386006", "Pregnancy", onset=ago(100), system=SCT)
p.cond(
    "fall", "W19.XXXA", "Unspecified fall, initial encounter", onset=ago(3), category="encounter-diagnosis"
)
p.lbp(3)
PF = "W19 fall within 28 d -> low_velocity_trauma -> V6; SNOMED 77386006 pregnancy counted (§5.4)"
sc(
    "preg-v6-ct-warning-rating-unchanged",
    p,
    CT_WO,
    "rated",
    LBP,
    6,
    UA,
    f"{PF}; CT w/o stays UA with a warning",
    safety=[PREG_WARN],
)
sc(
    "preg-v6-xr-warning",
    p,
    XR,
    "rated",
    LBP,
    6,
    UA,
    f"{PF}; radiography stays UA with a warning",
    safety=[PREG_WARN],
)
sc(
    "preg-v6-mri-w-warning",
    p,
    MRI_W,
    "rated",
    LBP,
    6,
    UNA,
    f"{PF}; MRI w/ IV contrast UNA, gadolinium warning",
    safety=[PREG_WARN],
)
sc(
    "preg-v6-mri-wo-no-warning",
    p,
    MRI_WO,
    "rated",
    LBP,
    6,
    UA,
    f"{PF}; MRI w/o UA, no pregnancy entry",
    absentSafety=["pregnancy"],
)

p = new("preg-resolved", birth="1992-01-25", what="Z33.1 resolved (delivered 2025) + acute LBP")
p.cond(
    "pregnancy",
    "Z33.1",
    "Pregnant state, incidental",
    onset="2024-11-01",
    clinical="resolved",
    abated="2025-07-20",
)
p.lbp(9)
sc(
    "preg-resolved-no-warning",
    p,
    CT_WO,
    "rated",
    LBP,
    1,
    UNA,
    "resolved pregnancy Condition is not counted (§1 Condition) -> no pregnancy entry; V1 CT w/o UNA",
    absentSafety=["pregnancy"],
)

# ---- write -------------------------------------------------------------------------------------------------
if __name__ == "__main__":
    pdir = ROOT / "fhir_fixtures" / "patients"
    odir = ROOT / "fhir_fixtures" / "orders"
    for old in list(pdir.glob("v2-*.json")) + list(odir.glob("v2-*.json")):
        old.unlink()
    ids: set[str] = set()
    for p in patients:
        for e in p.entries:
            rid = e["resource"]["id"]
            assert rid not in ids, rid
            ids.add(rid)
        (pdir / f"{p.name}.json").write_text(json.dumps(p.bundle(), indent=1) + "\n")
    for stem, r in orders.items():
        (odir / f"{stem}.json").write_text(json.dumps(r, indent=1) + "\n")
    names = [s["id"] for s in scenarios]
    assert len(names) == len(set(names)), [n for n in names if names.count(n) > 1]
    (ROOT / "tests" / "scenarios" / "scenarios-v2.json").write_text(json.dumps(scenarios, indent=1) + "\n")
    print(len(patients), "patients", len(orders), "orders", len(scenarios), "scenarios")

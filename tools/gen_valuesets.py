"""Write criteria/valuesets.json from terminology.md (hand-transcribed; every row VERIFIED / VERIFIED-2nd)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parents[1] / "criteria" / "valuesets.json"

ICD = "http://hl7.org/fhir/sid/icd-10-cm"
SCT = "http://snomed.info/sct"
RXN = "http://www.nlm.nih.gov/research/umls/rxnorm"
ATC = "http://www.whocc.no/atc"
CPT = "http://www.ama-assn.org/go/cpt"
NCI_OID = "urn:oid:2.16.840.1.113883.3.26.1.1"
NCI_URL = "http://ncicb.nci.nih.gov/xml/owl/EVS/Thesaurus.owl"
V, V2 = "VERIFIED", "VERIFIED-2nd"


def c(code: str, display: str, source: str, status: str = V, weak: bool = False) -> dict[str, Any]:
    d: dict[str, Any] = {"code": code, "display": display, "status": status, "source": source}
    if weak:
        d["weak"] = True
    return d


def icd(*codes: dict[str, Any], seventh: list[str] | None = None) -> dict[str, Any]:
    inc: dict[str, Any] = {"system": ICD, "match": "prefix", "codes": list(codes)}
    if seventh:
        inc["seventhCharacter"] = seventh
    return inc


def sct(*codes: dict[str, Any]) -> dict[str, Any]:
    return {"system": SCT, "match": "exact", "codes": list(codes)}


def rxn(*codes: dict[str, Any]) -> dict[str, Any]:
    return {"system": RXN, "match": "exact", "codes": list(codes)}


def atc(*codes: dict[str, Any]) -> dict[str, Any]:
    return {"system": ATC, "match": "prefix", "codes": list(codes)}


def names(*entries: tuple[str, str], weak: tuple[str, ...] = ()) -> dict[str, Any]:
    """Ingredient names (match: name, no system). status VERIFIED = class membership is verified in
    terminology.md (ATC 5th level / RxNorm IN / VSAC set named in `source`); the name is not a code."""
    return {"match": "name",
            "codes": [c(n, n, src, weak=n in weak) for n, src in entries]}


def vs(id_: str, title: str, rule_tag: str | None, source: str, include: list[dict[str, Any]],
       exclude: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"id": id_, "title": title, "ruleTag": rule_tag, "source": source, "include": include,
            "exclude": exclude or []}


IC = "ICD-CDC"
VSAC = "VSAC-C"
OHDSI = "OHDSI"

VALUE_SETS = [
    vs("lbp", "Low back pain (non-specific)", "LBP_NONSPECIFIC", "terminology.md §2.1 D1 + prefix rules, §2.3", [
        icd(c("M545", "Low back pain (M54.5 and children M54.50/M54.51/M54.59)", IC),
            c("M549", "Dorsalgia, unspecified", IC, weak=True),
            c("M5489", "Other dorsalgia", IC, weak=True)),
        sct(c("279039007", "Low back pain (finding)", "OHDSI + SCT-TEST"),
            c("278860009", "Chronic low back pain", OHDSI),
            c("161891005", "Backache (finding)", "OHDSI + SCT-TEST; not region-specific -> weak", weak=True),
            c("267982002", "Pain in lumbar spine", OHDSI)),
    ]),
    vs("thoracic-pain", "Thoracic spine pain", "THORACIC_PAIN", "terminology.md §2.1 D2 (116303008 left out: too broad)", [
        icd(c("M546", "Pain in thoracic spine", IC)),
    ]),
    vs("radiculopathy", "Radiculopathy, thoracic/lumbar/sacral (without disc or spondylosis code)", "RADICULOPATHY",
       "terminology.md §2.1 D3 + prefix rules, §2.3", [
        icd(c("M5414", "Radiculopathy, thoracic region", IC),
            c("M5415", "Radiculopathy, thoracolumbar region", IC),
            c("M5416", "Radiculopathy, lumbar region", IC),
            c("M5417", "Radiculopathy, lumbosacral region", IC),
            c("M5418", "Radiculopathy, sacral and sacrococcygeal region", IC),
            c("M5410", "Radiculopathy, site unspecified", IC, weak=True)),
        sct(c("128196005", "Lumbar radiculopathy", OHDSI),
            c("299966003", "Compression of lumbar nerve root (disorder)", "VSAC-C Neurologic impairment"),
            c("299967007", "Compression of sacral nerve root (disorder)", "VSAC-C Neurologic impairment"),
            c("16650241000119101", "Lesion of left lumbosacral nerve root (disorder)", "VSAC-C Neurologic impairment"),
            c("16650341000119107", "Lesion of right lumbosacral nerve root (disorder)", "VSAC-C Neurologic impairment")),
    ]),
    vs("sciatica", "Sciatica / lumbago with sciatica (sciatica due to disc disorder is disc-radiculopathy, "
       "unioned by the engine)", "SCIATICA", "terminology.md §2.1 D4 + prefix rules, §2.3", [
        icd(c("M543", "Sciatica", IC), c("M544", "Lumbago with sciatica", IC)),
        sct(c("23056005", "Sciatica (disorder)", "SCT-TEST", status=V2),
            c("307177001", "Chronic sciatica", OHDSI)),
    ]),
    vs("disc-myelopathy", "Thoracic/lumbar intervertebral disc disorder with myelopathy", "DISC_MYELOPATHY",
       "terminology.md §2.1 D5", [
        icd(c("M510", "Thoracic, thoracolumbar and lumbosacral intervertebral disc disorders with myelopathy", IC)),
    ]),
    vs("disc-radiculopathy", "Thoracic/lumbar intervertebral disc disorder with radiculopathy (incl. sciatica due "
       "to disc disorder)", "DISC_RADICULOPATHY", "terminology.md §2.1 D6", [
        icd(c("M511", "Thoracic, thoracolumbar and lumbosacral intervertebral disc disorders with radiculopathy", IC)),
    ]),
    vs("disc-other", "Other thoracic/lumbar disc displacement or degeneration", "DISC_OTHER", "terminology.md §2.1 D7", [
        icd(c("M512", "Other thoracic, thoracolumbar and lumbosacral intervertebral disc displacement", IC),
            c("M513", "Other thoracic, thoracolumbar and lumbosacral intervertebral disc degeneration", IC),
            c("M519", "Unspecified thoracic, thoracolumbar and lumbosacral intervertebral disc disorder", IC)),
    ]),
    vs("spondylosis-neuro", "Spondylosis with myelopathy or radiculopathy (thoracic/lumbar)", "SPONDYLOSIS_NEURO",
       "terminology.md §2.1 D8", [
        icd(c("M4714", "Other spondylosis with myelopathy, thoracic region", IC),
            c("M4715", "Other spondylosis with myelopathy, thoracolumbar region", IC),
            c("M4716", "Other spondylosis with myelopathy, lumbar region", IC),
            c("M4724", "Other spondylosis with radiculopathy, thoracic region", IC),
            c("M4725", "Other spondylosis with radiculopathy, thoracolumbar region", IC),
            c("M4726", "Other spondylosis with radiculopathy, lumbar region", IC),
            c("M4727", "Other spondylosis with radiculopathy, lumbosacral region", IC),
            c("M4728", "Other spondylosis with radiculopathy, sacral and sacrococcygeal region", IC)),
    ]),
    vs("stenosis", "Spinal stenosis, thoracic/lumbar", "STENOSIS", "terminology.md §2.1 D9, §2.3", [
        icd(c("M4804", "Spinal stenosis, thoracic region", IC),
            c("M4805", "Spinal stenosis, thoracolumbar region", IC),
            c("M4806", "Spinal stenosis, lumbar region (M48.061 / M48.062)", IC),
            c("M4807", "Spinal stenosis, lumbosacral region", IC),
            c("M4808", "Spinal stenosis, sacral and sacrococcygeal region", IC)),
        sct(c("764272007", "Compression of cauda equina due to lumbar vertebral stenosis (disorder)", VSAC)),
    ]),
    vs("spondylolisthesis", "Spondylolisthesis / spondylolysis / instability (thoracic/lumbar)", "SPONDYLOLISTHESIS",
       "terminology.md §2.1 D10", [
        icd(c("M4314", "Spondylolisthesis, thoracic region", IC),
            c("M4315", "Spondylolisthesis, thoracolumbar region", IC),
            c("M4316", "Spondylolisthesis, lumbar region", IC),
            c("M4317", "Spondylolisthesis, lumbosacral region", IC),
            c("M4318", "Spondylolisthesis, sacral and sacrococcygeal region", IC),
            c("M4319", "Spondylolisthesis, multiple sites in spine", IC),
            c("M4306", "Spondylolysis, lumbar region", IC),
            c("M4307", "Spondylolysis, lumbosacral region", IC),
            c("M532X6", "Spinal instabilities, lumbar region", IC),
            c("M532X7", "Spinal instabilities, lumbosacral region", IC)),
    ]),
    vs("myelopathy", "Myelopathy / cord compression (non-disc; disc-myelopathy and spondylosis-neuro are separate "
       "sets)", "MYELOPATHY", "terminology.md §2.1 D11, §2.3", [
        icd(c("G959", "Disease of spinal cord, unspecified", IC),
            c("G9520", "Unspecified cord compression", IC),
            c("G9529", "Other cord compression", IC),
            c("G9589", "Other specified diseases of spinal cord", IC),
            c("G992", "Myelopathy in diseases classified elsewhere", IC),
            c("G9581", "Conus medullaris syndrome", IC),
            c("G9511", "Acute infarction of spinal cord (embolic) (nonembolic)", IC)),
        sct(c("48522003", "Spinal cord disease", OHDSI),
            c("16631009", "Transverse myelopathy syndrome", OHDSI)),
    ]),
    vs("cauda-equina", "Cauda equina syndrome (incl. injury / neoplasm of cauda equina, saddle numbness)",
       "CAUDA_EQUINA", "terminology.md §2.1 D12 + prefix rules, §2.3", [
        icd(c("G834", "Cauda equina syndrome", IC),
            c("S343", "Injury of cauda equina", IC)),
        sct(c("192970008", "Cauda equina syndrome (disorder)", VSAC),
            c("192971007", "Cauda equina syndrome not affecting bladder (disorder)", VSAC),
            c("8663007", "Cauda equina syndrome without neurogenic bladder (disorder)", VSAC),
            c("12454008", "Cauda equina syndrome with neurogenic urinary bladder (disorder)", VSAC),
            c("267590006", "Cauda equina syndrome with cord bladder (disorder)", VSAC),
            c("782388003", "Incomplete cauda equina syndrome (disorder)", VSAC),
            c("782390002", "Painless urinary retention due to cauda equina syndrome (disorder)", VSAC),
            c("16846261000119106", "Compression of cauda equina (disorder)", VSAC),
            c("764272007", "Compression of cauda equina due to lumbar vertebral stenosis (disorder)", VSAC),
            c("449813001", "Numbness of saddle area (finding)", "VSAC-C Neurologic impairment"),
            c("230614002", "Injury of cauda equina", VSAC),
            c("405753002", "Cauda equina injury without spinal bone injury", VSAC),
            c("212192004", "Closed injury of cauda equina", VSAC),
            c("212193009", "Open injury of cauda equina", VSAC),
            c("363477002", "Malignant neoplasm of cauda equina", VSAC),
            c("93743001", "Primary malignant neoplasm of cauda equina", VSAC),
            c("94242004", "Metastatic neoplasm of cauda equina", VSAC),
            c("126963001", "Neoplasm of cauda equina", VSAC)),
    ]),
    vs("malignancy", "Malignant neoplasm (any ICD-10-CM C code; spine metastasis, vertebral primary, myeloma)",
       "MALIGNANCY_SPINE", "terminology.md §2.1 D13 + prefix rules, §2.3", [
        icd(c("C", "Malignant neoplasms (ICD-10-CM block C00-C96, incl. C4A/C7A/C7B)", "ICD-CDC (prefix rules D13)"),
            c("C7951", "Secondary malignant neoplasm of bone", IC),
            c("C7952", "Secondary malignant neoplasm of bone marrow", IC),
            c("C7949", "Secondary malignant neoplasm of other parts of nervous system", IC),
            c("C412", "Malignant neoplasm of vertebral column", IC),
            c("C9000", "Multiple myeloma not having achieved remission", IC),
            c("C9001", "Multiple myeloma in remission", IC),
            c("C9002", "Multiple myeloma in relapse", IC)),
        sct(c("94222008", "Secondary malignant neoplasm of bone (disorder)", "VSAC-C (Cancer value set)"),
            c("94217008", "Secondary malignant neoplasm of bone marrow (disorder)", VSAC)),
    ]),
    vs("malignancy-history", "Personal history of malignant neoplasm", "HX_MALIGNANCY", "terminology.md §2.1 D14", [
        icd(c("Z85", "Personal history of malignant neoplasm", IC)),
    ]),
    vs("spinal-metastasis", "Bone / bone-marrow metastasis (order reason 'suspected metastasis')", "MALIGNANCY_SPINE",
       "terminology.md §2.1 D13, §2.3 (314990009 is a trap: metastasis FROM bone - not included)", [
        icd(c("C7951", "Secondary malignant neoplasm of bone", IC),
            c("C7952", "Secondary malignant neoplasm of bone marrow", IC)),
        sct(c("94222008", "Secondary malignant neoplasm of bone (disorder)", "VSAC-C (Cancer value set)"),
            c("94217008", "Secondary malignant neoplasm of bone marrow (disorder)", VSAC)),
    ]),
    vs("spinal-infection", "Spinal infection (vertebral osteomyelitis, discitis, intraspinal abscess, spinal TB)",
       "SPINAL_INFECTION", "terminology.md §2.1 D15 + prefix rules, §2.3", [
        icd(c("M462", "Osteomyelitis of vertebra", IC),
            c("M463", "Infection of intervertebral disc (pyogenic)", IC),
            c("M464", "Discitis, unspecified", IC),
            c("M465", "Other infective spondylopathies", IC),
            c("G061", "Intraspinal abscess and granuloma", IC),
            c("G062", "Extradural and subdural abscess, unspecified", IC),
            c("A1801", "Tuberculosis of spine", IC)),
        sct(c("203241002", "Osteomyelitis of vertebra (disorder)", "VSAC-C + OHDSI"),
            c("444760002", "Acute osteomyelitis of vertebra (disorder)", VSAC),
            c("445063003", "Chronic osteomyelitis of vertebra (disorder)", VSAC),
            c("202756004", "Infection of intervertebral disc - pyogenic", OHDSI)),
    ]),
    vs("immunosuppression-condition", "Immunosuppression: immunodeficiency, HIV, transplant, immunosuppressant or "
       "steroid therapy status (not Z79.899)", "IMMUNOSUPPRESSION", "terminology.md §2.1 D16 + prefix rules, §2.3, §3.3", [
        icd(c("D84", "Other immunodeficiencies (D84.-)", IC),
            c("B20", "Human immunodeficiency virus [HIV] disease", IC),
            c("Z21", "Asymptomatic human immunodeficiency virus [HIV] infection status", IC),
            c("Z7952", "Long term (current) use of systemic steroids", IC),
            c("Z796", "Long term (current) use of immunomodulators and immunosuppressants", IC),
            c("Z92241", "Personal history of systemic steroid therapy", IC),
            c("Z9225", "Personal history of immunosuppression therapy", IC),
            c("Z94", "Transplanted organ and tissue status", IC)),
        sct(c("86406008", "Human immunodeficiency virus infection (disorder)", "VSAC-C + OHDSI"),
            c("62479008", "Acquired immune deficiency syndrome (disorder)", VSAC),
            c("234532001", "Immunodeficiency disorder (disorder)", VSAC),
            c("737295003", "Transplanted kidney present", OHDSI),
            c("737297006", "Transplanted liver present", OHDSI),
            c("737300001", "Transplanted bone marrow present", OHDSI)),
    ]),
    vs("steroid-long-term-status", "Long term (current) use of systemic steroids", "IMMUNOSUPPRESSION",
       "terminology.md §2.1 D16, §3.3", [
        icd(c("Z7952", "Long term (current) use of systemic steroids", IC)),
    ]),
    vs("osteoporosis", "Osteoporosis (with or without current pathological fracture)", "OSTEOPOROSIS",
       "terminology.md §2.1 D18 + prefix rules, §2.3", [
        icd(c("M80", "Osteoporosis with current pathological fracture", IC),
            c("M81", "Osteoporosis without current pathological fracture", IC),
            c("Z7983", "Long term (current) use of bisphosphonates", IC, weak=True)),
        sct(c("64859006", "Osteoporosis (disorder)", "VSAC-C + OHDSI"),
            c("203438009", "Vertebral osteoporosis (disorder)", VSAC),
            c("102447009", "Postmenopausal osteoporosis (disorder)", VSAC),
            c("18040001", "Senile osteoporosis (disorder)", VSAC),
            c("14651005", "Drug-induced osteoporosis (disorder)", VSAC)),
    ]),
    vs("vertebral-fracture-acute", "Thoracic/lumbar vertebral fracture, initial encounter (acute)", "VERTEBRAL_FRACTURE",
       "terminology.md §2.1 D19 + §0.4 rule 2 (7th character A/B = initial encounter)", [
        icd(c("S220", "Fracture of thoracic vertebra", IC),
            c("S320", "Fracture of lumbar vertebra", IC), seventh=["A", "B"]),
        icd(c("M4854", "Collapsed vertebra, NEC, thoracic region", IC),
            c("M4855", "Collapsed vertebra, NEC, thoracolumbar region", IC),
            c("M4856", "Collapsed vertebra, NEC, lumbar region", IC),
            c("M4857", "Collapsed vertebra, NEC, lumbosacral region", IC),
            c("M8008", "Age-related osteoporosis with current pathological fracture, vertebra(e)", IC),
            c("M8088", "Other osteoporosis with current pathological fracture, vertebra(e)", IC), seventh=["A"]),
    ]),
    vs("vertebral-fracture", "Thoracic/lumbar vertebral fracture or collapse, any encounter (incl. history)",
       "VERTEBRAL_FRACTURE", "terminology.md §2.1 D19 + prefix rules, §2.3", [
        icd(c("S220", "Fracture of thoracic vertebra", IC),
            c("S320", "Fracture of lumbar vertebra", IC),
            c("M4854", "Collapsed vertebra, NEC, thoracic region", IC),
            c("M4855", "Collapsed vertebra, NEC, thoracolumbar region", IC),
            c("M4856", "Collapsed vertebra, NEC, lumbar region", IC),
            c("M4857", "Collapsed vertebra, NEC, lumbosacral region", IC),
            c("M8008", "Age-related osteoporosis with current pathological fracture, vertebra(e)", IC),
            c("M8088", "Other osteoporosis with current pathological fracture, vertebra(e)", IC)),
        sct(c("311890007", "Collapse of lumbar vertebra due to osteoporosis (disorder)", VSAC),
            c("311891006", "Collapse of thoracic vertebra due to osteoporosis (disorder)", VSAC),
            c("443165006", "Pathological fracture due to osteoporosis (disorder)",
              "VSAC-C + OHDSI; site not stated -> weak", weak=True)),
    ]),
    vs("cord-injury", "Thoracic / lumbar spinal cord injury, initial encounter (7th character A)", "CORD_INJURY",
       "terminology.md §2.1 D20 + prefix rules; 7th characters of S24/S34 are A/D/S (no B: not fractures)", [
        icd(c("S241", "Other and unspecified injuries of thoracic spinal cord", IC),
            c("S340", "Concussion and edema of lumbar and sacral spinal cord", IC),
            c("S341", "Other and unspecified injury of lumbar and sacral spinal cord", IC), seventh=["A"]),
    ]),
    vs("low-velocity-trauma", "Low back strain (the only VERIFIED sprain/strain/contusion/fall code in "
       "terminology.md: S39.012, named in the M54.5 excludes1 note)", None,
       "terminology.md §2.1 Key facts (M54.5 excludes1: low back strain S39.012) [ICD-CDC]", [
        icd(c("S39012", "Low back strain",
              "ICD-CDC (M54.5 excludes1 note)")),
    ]),
    vs("prior-spine-surgery-status", "Prior spine surgery / fusion hardware status (Z98.890 left out: too unspecific)",
       "PRIOR_SPINE_SURGERY", "terminology.md §2.1 D22 + prefix rules", [
        icd(c("Z981", "Arthrodesis status", IC),
            c("M960", "Pseudarthrosis after fusion or arthrodesis", IC),
            c("M961", "Postlaminectomy syndrome, not elsewhere classified", IC),
            c("M963", "Postlaminectomy kyphosis", IC),
            c("M964", "Postsurgical lordosis", IC),
            c("T84216", "Breakdown (mechanical) of internal fixation device of vertebrae", IC),
            c("T84226", "Displacement of internal fixation device of vertebrae", IC),
            c("T84296", "Other mechanical complication of internal fixation device of vertebrae", IC)),
    ]),
    vs("neuro-deficit", "Neurological deficit signs (incl. VSAC 'Neurologic impairment' members)", "NEURO_DEFICIT",
       "terminology.md §2.1 D23 + VSAC Neurologic impairment OID 2.16.840.1.113883.3.464.1003.114.12.1012, §2.3", [
        icd(c("M2137", "Foot drop (acquired)", IC),
            c("R292", "Abnormal reflex", "ICD-CDC; VSAC-C Neurologic impairment"),
            c("R262", "Difficulty in walking, not elsewhere classified", "ICD-CDC; VSAC-C Neurologic impairment"),
            c("R2689", "Other abnormalities of gait and mobility", IC, weak=True),
            c("R531", "Weakness", IC, weak=True),
            c("M6281", "Muscle weakness (generalized)", IC, weak=True),
            c("R29898", "Other symptoms and signs involving the musculoskeletal system", IC, weak=True),
            c("R29818", "Other symptoms and signs involving the nervous system", IC, weak=True),
            c("G544", "Lumbosacral root disorders, not elsewhere classified", IC),
            c("G541", "Lumbosacral plexus disorders", IC),
            c("G8220", "Paraplegia, unspecified", IC),
            c("G8221", "Paraplegia, complete", IC),
            c("G8222", "Paraplegia, incomplete", IC),
            c("G8310", "Monoplegia of lower limb affecting unspecified side", IC),
            c("G834", "Cauda equina syndrome", "ICD-CDC; VSAC-C Neurologic impairment"),
            c("K592", "Neurogenic bowel, not elsewhere classified", "ICD-CDC; VSAC-C Neurologic impairment"),
            c("M48062", "Spinal stenosis, lumbar region with neurogenic claudication",
              "ICD-CDC; VSAC-C Neurologic impairment")),
        sct(c("299966003", "Compression of lumbar nerve root (disorder)", "VSAC-C Neurologic impairment"),
            c("299967007", "Compression of sacral nerve root (disorder)", "VSAC-C Neurologic impairment"),
            c("16650241000119101", "Lesion of left lumbosacral nerve root (disorder)", "VSAC-C Neurologic impairment"),
            c("16650341000119107", "Lesion of right lumbosacral nerve root (disorder)", "VSAC-C Neurologic impairment"),
            c("449813001", "Numbness of saddle area (finding)", "VSAC-C Neurologic impairment")),
    ]),
    vs("sphincter", "Bladder / bowel dysfunction", "SPHINCTER", "terminology.md §2.1 D24, §2.3", [
        icd(c("R338", "Other retention of urine", IC),
            c("R339", "Retention of urine, unspecified", IC),
            c("R330", "Drug induced retention of urine", IC),
            c("R32", "Unspecified urinary incontinence", IC),
            c("R3914", "Feeling of incomplete bladder emptying", IC),
            c("N319", "Neuromuscular dysfunction of bladder, unspecified", IC),
            c("K592", "Neurogenic bowel, not elsewhere classified", IC),
            c("R159", "Full incontinence of feces", IC)),
        sct(c("267064002", "Retention of urine (disorder)", "VSAC-C + OHDSI"),
            c("236648008", "Acute retention of urine (disorder)", VSAC),
            c("165232002", "Urinary incontinence", OHDSI)),
    ]),
    vs("ankylosed-spine", "Ankylosed spine: ankylosing spondylitis, DISH (not non-radiographic axial SpA M45.A-)",
       "ANKYLOSED_SPINE", "terminology.md §2.1 D21 + prefix rules", [
        icd(c("M45", "Ankylosing spondylitis (M45.-)", IC),
            c("M481", "Ankylosing hyperostosis [Forestier]", IC)),
    ], exclude=[
        icd(c("M45A", "Non-radiographic axial spondyloarthritis (M45.A-)", IC)),
    ]),
    vs("mr-unsafe-device-condition", "Device-presence code that terminology.md marks MRI-relevant without "
       "conditional labelling (retained magnetic metal fragments)", "DEVICE_STATUS",
       "terminology.md §2.1 D27, §2.4 ('Z18.11 is the MRI-relevant one'); pacemaker / valves are MR-conditional "
       "-> mr-device-condition", [
        icd(c("Z1811", "Retained magnetic metal fragments", IC)),
    ]),
    vs("mr-device-condition", "Presence of an implanted device whose MR safety must be checked", "DEVICE_STATUS",
       "terminology.md §2.1 D27, §2.4", [
        icd(c("Z950", "Presence of cardiac pacemaker", IC),
            c("Z95810", "Presence of automatic (implantable) cardiac defibrillator", IC),
            c("Z95811", "Presence of heart assist device", IC),
            c("Z95812", "Presence of fully implantable artificial heart", "ICD-CDC (terminology.md §2.4)"),
            c("Z95818", "Presence of other cardiac implants and grafts", IC),
            c("Z45010", "Encounter for checking and testing of cardiac pacemaker pulse generator [battery]", IC),
            c("Z45018", "Encounter for adjustment and management of other part of cardiac pacemaker", IC),
            c("Z4502", "Encounter for adjustment and management of automatic implantable cardiac defibrillator", IC),
            c("Z9621", "Cochlear implant status", IC),
            c("Z45321", "Encounter for adjustment and management of cochlear device", IC),
            c("Z9682", "Presence of neurostimulator", IC),
            c("Z4542", "Encounter for adjustment and management of neurostimulator", IC),
            c("Z9641", "Presence of insulin pump (external) (internal)", IC),
            c("Z451", "Encounter for adjustment and management of infusion pump", IC),
            c("Z982", "Presence of cerebrospinal fluid drainage device", IC),
            c("Z952", "Presence of prosthetic heart valve", IC),
            c("Z95828", "Presence of other vascular implants and grafts", IC),
            c("Z9689", "Presence of other specified functional implants", IC),
            c("Z978", "Presence of other specified devices", IC),
            c("Z1810", "Retained metal fragments, unspecified", IC),
            c("Z1812", "Retained nonmagnetic metal fragments", IC)),
        sct(c("441509002", "Cardiac pacemaker in situ (finding)", VSAC),
            c("14106009", "Cardiac pacemaker, device (physical object)", VSAC)),
    ]),
]

SAFETY = [
    ("device-safety-mr-safe", "C106045", "Magnetic Resonance Safe"),
    ("device-safety-mr-conditional", "C106046", "Magnetic Resonance Conditional"),
    ("device-safety-mr-unsafe", "C106047", "Magnetic Resonance Unsafe"),
    ("device-safety-unlabelled", "C113844", "Labeling does not Contain MRI Safety Information"),
]
for id_, code, disp in SAFETY:
    VALUE_SETS.append(vs(id_, f"Device.safety: {disp}", None,
                         "terminology.md §2.4 FHIR R4 Device.safety (NCI Thesaurus), both system strings of §0.2", [
        {"system": NCI_OID, "match": "exact", "codes": [c(code, disp, "FHIR")]},
        {"system": NCI_URL, "match": "exact", "codes": [c(code, disp, "FHIR")]},
    ]))

# ---------------------------------------------------------------------------------------------- medications
S31 = "terminology.md §3.1"
VALUE_SETS += [
    vs("nsaid", "Non-steroidal anti-inflammatory drugs", "NSAID", "terminology.md §3.1, §3.2", [
        rxn(c("5640", "ibuprofen", "CPIC"),
            c("7258", "naproxen", "CPIC"),
            c("41493", "meloxicam", "CPIC"),
            c("3355", "diclofenac", "OHDSI + CPIC"),
            c("140587", "celecoxib", "CPIC"),
            c("5781", "indomethacin", "CPIC"),
            c("31448", "nabumetone", "CPIC"),
            c("1191", "aspirin", "OHDSI + CPIC; mostly low-dose antiplatelet use -> weak", weak=True)),
        atc(c("M01A", "ANTIINFLAMMATORY AND ANTIRHEUMATIC PRODUCTS, NON-STEROIDS", "ATC + stored whocc.no page")),
        names(("ibuprofen", f"{S31} RxNorm IN; ATC M01AE01"), ("naproxen", f"{S31} RxNorm IN; ATC M01AE02"),
              ("meloxicam", f"{S31} RxNorm IN; ATC M01AC06"), ("diclofenac", f"{S31} RxNorm IN; ATC M01AB05"),
              ("celecoxib", f"{S31} RxNorm IN; ATC M01AH01"), ("indomethacin", f"{S31} RxNorm IN; ATC M01AB01"),
              ("indometacin", "terminology.md §3.2 ATC M01AB01 (WHO spelling)"),
              ("nabumetone", f"{S31} RxNorm IN; ATC M01AX01"),
              ("ketorolac", "terminology.md §3.2 ATC M01AB15 (RxCUI UNVERIFIED)"),
              ("etodolac", "terminology.md §3.2 ATC M01AB08 (RxCUI UNVERIFIED)"),
              ("aspirin", f"{S31} RxNorm IN (NSAID / antiplatelet)"), weak=("aspirin",)),
    ]),
    vs("muscle-relaxant", "Skeletal muscle relaxants (centrally acting)", "Muscle relaxant",
       "terminology.md §3.1, §3.2, §3.4", [
        rxn(c("2101", "carisoprodol", "CPIC"),
            c("828348", "cyclobenzaprine hydrochloride 10 MG Oral Tablet (SCD)",
              "VSAC-C Potentially Harmful Skeletal Muscle Relaxants for Older Adults 2.16.840.1.113883.3.464.1003.1062")),
        atc(c("M03B", "MUSCLE RELAXANTS, CENTRALLY ACTING AGENTS", "ATC")),
        names(("cyclobenzaprine", "terminology.md §3.2 ATC M03BX08; §3.4"),
              ("methocarbamol", "terminology.md §3.2 ATC M03BA03; §3.4"),
              ("tizanidine", "terminology.md §3.2 ATC M03BX02"),
              ("baclofen", "terminology.md §3.2 ATC M03BX01"),
              ("carisoprodol", f"{S31} RxNorm IN; ATC M03BA02"),
              ("metaxalone", "terminology.md §3.4 VSAC-C skeletal muscle relaxants (no ATC code)"),
              ("orphenadrine", "terminology.md §3.2 ATC M03BC01; §3.4"),
              ("chlorzoxazone", "terminology.md §3.2 ATC M03BB03; §3.4")),
    ]),
    vs("neuropathic-agent", "Neuropathic pain agents (gabapentin, pregabalin, duloxetine)", "Neuropathic",
       "terminology.md §3.1, §3.2", [
        rxn(c("25480", "gabapentin", "OHDSI"),
            c("187832", "pregabalin", "OHDSI"),
            c("72625", "duloxetine", "OHDSI + CPIC")),
        atc(c("N02BF01", "gabapentin", "ATC (2026 index)"),
            c("N02BF02", "pregabalin", "ATC (2026 index)"),
            c("N03AX12", "gabapentin (pre-2026 code)", "ATC (2021-12 snapshot)"),
            c("N03AX16", "pregabalin (pre-2026 code)", "ATC (2021-12 snapshot)"),
            c("N06AX21", "duloxetine", "ATC")),
        names(("gabapentin", f"{S31} RxNorm IN; ATC N02BF01"), ("pregabalin", f"{S31} RxNorm IN; ATC N02BF02"),
              ("duloxetine", f"{S31} RxNorm IN; ATC N06AX21")),
    ]),
    vs("systemic-corticosteroid", "Systemic corticosteroids (glucocorticoids)", "Systemic corticosteroid",
       "terminology.md §3.1, §3.2", [
        rxn(c("8640", "prednisone", "OHDSI + CKT"),
            c("6902", "methylprednisolone", "OHDSI + CKT"),
            c("3264", "dexamethasone", "OHDSI + CKT"),
            c("8638", "prednisolone", "OHDSI + CKT"),
            c("5492", "hydrocortisone", "OHDSI; also topical -> weak without route", weak=True)),
        atc(c("H02AB", "Glucocorticoids (corticosteroids for systemic use)", "ATC + OHDSI")),
        names(("prednisone", f"{S31} RxNorm IN; ATC H02AB07"),
              ("methylprednisolone", f"{S31} RxNorm IN; ATC H02AB04"),
              ("dexamethasone", f"{S31} RxNorm IN; ATC H02AB02"),
              ("prednisolone", f"{S31} RxNorm IN; ATC H02AB06"),
              ("hydrocortisone", f"{S31} RxNorm IN; ATC H02AB09 (also topical)"), weak=("hydrocortisone",)),
    ]),
    vs("immunosuppressant-medication", "Immunosuppressants, TNF inhibitors and antineoplastics", "Immunosuppressant",
       "terminology.md §3.1, §3.2", [
        rxn(c("6851", "methotrexate", "OHDSI + CPIC"),
            c("42316", "tacrolimus", "CPIC + CKT"),
            c("3008", "cyclosporine", "CPIC + CKT"),
            c("7145", "mycophenolic acid", "CPIC + CKT"),
            c("68149", "mycophenolate mofetil", "OHDSI + CKT"),
            c("408142", "mycophenolate sodium", "CKT"),
            c("1256", "azathioprine", "OHDSI + CPIC + CKT"),
            c("35302", "sirolimus", "CPIC + CKT"),
            c("141704", "everolimus", "CKT"),
            c("27169", "leflunomide", "OHDSI"),
            c("1357536", "tofacitinib", "OHDSI"),
            c("3002", "cyclophosphamide", "OHDSI + CPIC"),
            c("121191", "rituximab", "OHDSI + CPIC + CKT"),
            c("327361", "adalimumab", "OHDSI"),
            c("214555", "etanercept", "OHDSI"),
            c("191831", "infliximab", "OHDSI"),
            c("709271", "certolizumab pegol", "OHDSI"),
            c("819300", "golimumab", "OHDSI")),
        atc(c("L04A", "IMMUNOSUPPRESSANTS", "ATC"),
            c("L01BA", "Folic acid analogues", "ATC"),
            c("L01", "Antineoplastic agents (parent class of L01BA)",
              "ATC: parent prefix of the VERIFIED L01BA row; L01 itself is not printed in terminology.md")),
        names(("methotrexate", f"{S31}; ATC L04AX03 / L01BA01"), ("tacrolimus", f"{S31}; ATC L04AD02"),
              ("cyclosporine", f"{S31}"), ("ciclosporin", "terminology.md §3.2 ATC L04AD01 (WHO spelling)"),
              ("mycophenolic acid", f"{S31}; ATC L04AA06"), ("mycophenolate", f"{S31} (mofetil / sodium)"),
              ("azathioprine", f"{S31}; ATC L04AX01"), ("sirolimus", f"{S31}; ATC L04AH01"),
              ("everolimus", f"{S31}"), ("leflunomide", f"{S31}; ATC L04AK01"),
              ("tofacitinib", f"{S31}; ATC L04AF01"), ("cyclophosphamide", f"{S31}"),
              ("rituximab", f"{S31}"), ("adalimumab", f"{S31}; ATC L04AB04"),
              ("etanercept", f"{S31}; ATC L04AB01"), ("infliximab", f"{S31}; ATC L04AB02"),
              ("certolizumab", f"{S31}; ATC L04AB05 (certolizumab pegol)"),
              ("golimumab", f"{S31}; ATC L04AB06")),
    ]),
    vs("physical-therapy", "Physical therapy / exercise therapy that happened (referrals excluded)", None,
       "terminology.md §4.1, §4.2", [
        {"system": CPT, "match": "exact", "codes": [
            c("97161", "Physical therapy evaluation: low complexity", "VSAC-C Physical Therapy Evaluation"),
            c("97162", "Physical therapy evaluation: moderate complexity", "VSAC-C Physical Therapy Evaluation"),
            c("97163", "Physical therapy evaluation: high complexity", "VSAC-C Physical Therapy Evaluation"),
            c("97164", "Re-evaluation of physical therapy established plan of care",
              "VSAC-C Physical Therapy Evaluation (2025)"),
            c("97110", "Therapeutic procedure, 1 or more areas, each 15 minutes; therapeutic exercises",
              "PAY/CA", status=V2),
            c("97140", "Manual therapy techniques, 1 or more regions, each 15 minutes", "CA", status=V2)]},
        sct(c("410158009", "Physical therapy assessment (procedure)", VSAC),
            c("410160006", "Physical therapy management (procedure)", VSAC),
            c("410159001", "Physical therapy education (procedure)", VSAC),
            c("424203006", "Physical therapy education, guidance and counseling (procedure)", VSAC),
            c("424291000", "Physical therapy surveillance (regime/therapy)", VSAC),
            c("183326003", "Combined physical therapy (regime/therapy)", VSAC),
            c("33849009", "Diagnostic physical therapy procedure (regime/therapy)", VSAC),
            c("229065009", "Exercise therapy (regime/therapy)", VSAC)),
    ], exclude=[
        sct(c("390864007", "Referral for exercise therapy (procedure)", "VSAC-C; referral, not therapy"),
            c("444831000124102", "Referral for physical therapy (procedure)", "VSAC-C; referral, not therapy")),
    ]),
    vs("lumbar-spine-surgery", "Spine surgery procedure (only one VERIFIED code)", "PRIOR_SPINE_SURGERY",
       "terminology.md §2.4 (spinal fusion hardware row)", [
        sct(c("359586003", "Laminectomy with spinal fusion (procedure)", VSAC)),
    ]),
]


def main() -> None:
    ids = [v["id"] for v in VALUE_SETS]
    assert len(ids) == len(set(ids)), ids
    OUT.write_text(json.dumps({"valueSets": VALUE_SETS}, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    n = sum(len(i["codes"]) for v in VALUE_SETS for i in v["include"])
    print(len(VALUE_SETS), "value sets,", n, "included entries")


if __name__ == "__main__":
    main()

"""Fill codes / combinations / textPatterns of criteria/procedures.json from terminology.md.

Run: python3 /tmp/h1_gen/gen_procedures.py  (rewrites only those three keys + appends new orderables)
"""

from __future__ import annotations

import json
import re
from pathlib import Path

TERM = Path("/work/shared/reference/terminology.md")
PROC = Path(__file__).resolve().parents[1] / "criteria" / "procedures.json"

CPT = "http://www.ama-assn.org/go/cpt"
LOINC = "http://loinc.org"
SCT = "http://snomed.info/sct"

V, V2 = "VERIFIED", "VERIFIED-2nd"
FLEX = ["flexion-extension"]


def three(prefix: str) -> list[str]:
    return [f"{prefix}-wo", f"{prefix}-w", f"{prefix}-wo-w"]


# --------------------------------------------------------------------------------------------
# new orderables (region not stated) — needed by VERIFIED codes with no catalogue entry
NEW_PROCEDURES = [
    {"id": "mri-spine-wo", "display": "MRI spine, region not stated, without IV contrast", "modality": "MR",
     "region": "spine-unspecified", "contrast": "none", "spineImaging": "yes",
     "source": "terminology.md App. A (LOINC 36531-2)", "provenance": "S"},
    {"id": "mri-spine-w", "display": "MRI spine, region not stated, with IV contrast", "modality": "MR",
     "region": "spine-unspecified", "contrast": "iv", "spineImaging": "yes",
     "source": "terminology.md App. A (LOINC 36256-6), §1.3 (431985004)", "provenance": "S"},
    {"id": "mri-spine-wo-w", "display": "MRI spine, region not stated, without and with IV contrast",
     "modality": "MR", "region": "spine-unspecified", "contrast": "iv-wo-w", "spineImaging": "yes",
     "source": "terminology.md App. A (LOINC 36400-0)", "provenance": "S"},
    {"id": "ct-spine-wo", "display": "CT spine, region not stated, without IV contrast", "modality": "CT",
     "region": "spine-unspecified", "contrast": "none", "spineImaging": "yes",
     "source": "terminology.md App. A (LOINC 36530-4)", "provenance": "S"},
    {"id": "ct-spine-w", "display": "CT spine, region not stated, with IV contrast", "modality": "CT",
     "region": "spine-unspecified", "contrast": "iv", "spineImaging": "yes",
     "source": "terminology.md App. A (LOINC 24987-0)", "provenance": "S"},
    {"id": "ct-spine-wo-w", "display": "CT spine, region not stated, without and with IV contrast",
     "modality": "CT", "region": "spine-unspecified", "contrast": "iv-wo-w", "spineImaging": "yes",
     "source": "terminology.md App. A (LOINC 36399-4)", "provenance": "S"},
    {"id": "myelo-spine", "display": "Myelography (fluoroscopic), region not stated or 2 or more regions",
     "modality": "MYELO", "region": "spine-unspecified", "contrast": "intrathecal", "spineImaging": "yes",
     "source": "terminology.md §1.1 (62305, 72270), App. A (LOINC 37572-5)", "provenance": "S"},
]

# --------------------------------------------------------------------------------------------
# CPT §1.1 (code, display, procedures, flags, status, source)
CPT_ROWS = [
    ("72020", "Radiologic examination, spine, single view, specify level", ["xr-spine-unspecified"], [], V,
     "terminology.md §1.1 [CA]"),
    ("72070", "Radiologic examination, spine; thoracic, 2 views", ["xr-thoracic"], [], V2,
     "terminology.md §1.1 [PAY]"),
    ("72072", "Radiologic examination, spine; thoracic, 3 views", ["xr-thoracic"], [], V2,
     "terminology.md §1.1 [PAY]"),
    ("72074", "Radiologic examination, spine; thoracic, minimum of 4 views", ["xr-thoracic"], [], V,
     "terminology.md §1.1 [CA]"),
    ("72080", "Radiologic examination, spine; thoracolumbar junction, minimum of 2 views", ["xr-tl"], [], V2,
     "terminology.md §1.1 [PAY]; junction study mapped to thoracic-and-lumbar"),
    ("72081", "Radiologic examination, spine, entire thoracic and lumbar (scoliosis study); 1 view", ["xr-tl"],
     [], V2, "terminology.md §1.1 [PAY] (72081–72084)"),
    ("72082", "Radiologic examination, spine, entire thoracic and lumbar (scoliosis study); 2 or 3 views",
     ["xr-tl"], [], V2, "terminology.md §1.1 [PAY] (72081–72084)"),
    ("72083", "Radiologic examination, spine, entire thoracic and lumbar (scoliosis study); 4 or 5 views",
     ["xr-tl"], [], V2, "terminology.md §1.1 [PAY] (72081–72084)"),
    ("72084", "Radiologic examination, spine, entire thoracic and lumbar (scoliosis study); minimum of 6 views",
     ["xr-tl"], [], V2, "terminology.md §1.1 [PAY] (72081–72084)"),
    ("72100", "Radiologic examination, spine, lumbosacral; 2 or 3 views", ["xr-lumbar"], [], V2,
     "terminology.md §1.1 [CA]/[PAY]"),
    ("72110", "Radiologic examination, spine, lumbosacral; minimum of 4 views", ["xr-lumbar"], [], V2,
     "terminology.md §1.1 [PAY]"),
    ("72114", "Radiologic examination, spine, lumbosacral; complete, including bending views, minimum of 6 views",
     ["xr-lumbar"], FLEX, V2, "terminology.md §1.1 [CA]/[PAY]"),
    ("72120", "Radiologic examination, spine, lumbosacral; bending views only", ["xr-lumbar"], FLEX, V2,
     "terminology.md §1.1 [PAY]"),
    ("72128", "Computed tomography, thoracic spine; without contrast material", ["ct-thoracic-wo"], [], V2,
     "terminology.md §1.1 [PAY]"),
    ("72129", "Computed tomography, thoracic spine; with contrast material", ["ct-thoracic-w"], [], V2,
     "terminology.md §1.1 [PAY]; alone = IV contrast (N1), with a myelography code = CT myelography"),
    ("72130", "Computed tomography, thoracic spine; without contrast material, followed by contrast material(s) "
     "and further sections", ["ct-thoracic-wo-w"], [], V2, "terminology.md §1.1 [PAY]"),
    ("72131", "Computed tomography, lumbar spine; without contrast material", ["ct-lumbar-wo"], [], V,
     "terminology.md §1.1 [CA]"),
    ("72132", "Computed tomography, lumbar spine; with contrast material", ["ct-lumbar-w"], [], V,
     "terminology.md §1.1 [CA]; alone = IV contrast (N1), with a myelography code = CT myelography"),
    ("72133", "Computed tomography, lumbar spine; without contrast material, followed by contrast material(s) "
     "and further sections", ["ct-lumbar-wo-w"], [], V, "terminology.md §1.1 [CA]"),
    ("72125", "Computed tomography, cervical spine; without contrast material", ["ct-cervical-wo"], [], V2,
     "terminology.md §1.1 [PAY]"),
    ("72126", "Computed tomography, cervical spine; with contrast material", ["ct-cervical-w"], [], V2,
     "terminology.md §1.1 [PAY]; alone = IV contrast (N1), with a myelography code = CT myelography"),
    ("72127", "Computed tomography, cervical spine; without contrast material, followed by contrast material(s) "
     "and further sections", ["ct-cervical-wo-w"], [], V2, "terminology.md §1.1 [PAY]"),
    ("72146", "Magnetic resonance imaging, spinal canal and contents, thoracic; without contrast material",
     ["mri-thoracic-wo"], [], V2, "terminology.md §1.1 [PAY]"),
    ("72147", "Magnetic resonance imaging, spinal canal and contents, thoracic; with contrast material(s)",
     ["mri-thoracic-w"], [], V2, "terminology.md §1.1 [PAY]"),
    ("72148", "Magnetic resonance imaging, spinal canal and contents, lumbar; without contrast material",
     ["mri-lumbar-wo"], [], V, "terminology.md §1.1 [CA]"),
    ("72149", "Magnetic resonance imaging, spinal canal and contents, lumbar; with contrast material(s)",
     ["mri-lumbar-w"], [], V, "terminology.md §1.1 [CA]"),
    ("72156", "Magnetic resonance imaging, spinal canal and contents, without contrast material, followed by "
     "contrast material(s) and further sequences; cervical", ["mri-cervical-wo-w"], [], V2,
     "terminology.md §1.1 [PAY]"),
    ("72157", "Magnetic resonance imaging, spinal canal and contents, without contrast material, followed by "
     "contrast material(s) and further sequences; thoracic", ["mri-thoracic-wo-w"], [], V2,
     "terminology.md §1.1 [PAY]"),
    ("72158", "Magnetic resonance imaging, spinal canal and contents, without contrast material, followed by "
     "contrast material(s) and further sequences; lumbar", ["mri-lumbar-wo-w"], [], V,
     "terminology.md §1.1 [CA]"),
    ("62302", "Myelography via lumbar injection, including radiological supervision and interpretation; cervical",
     ["myelo-cervical"], [], V, "terminology.md §1.1 [CA]"),
    ("62303", "Myelography via lumbar injection, including radiological supervision and interpretation; thoracic",
     ["myelo-thoracic"], [], V, "terminology.md §1.1 [CA]"),
    ("62304", "Myelography via lumbar injection, including radiological supervision and interpretation; "
     "lumbosacral", ["myelo-lumbar"], [], V, "terminology.md §1.1 [CA]"),
    ("62305", "Myelography via lumbar injection, including radiological supervision and interpretation; "
     "2 or more regions", ["myelo-spine"], [], V,
     "terminology.md §1.1 [CA]; regions not identifiable from the code -> myelo-spine"),
    ("72240", "Myelography, cervical, radiological supervision and interpretation", ["myelo-cervical"], [], V,
     "terminology.md §1.1 [CA]"),
    ("72255", "Myelography, thoracic, radiological supervision and interpretation", ["myelo-thoracic"], [], V2,
     "terminology.md §1.1 [PAY]"),
    ("72265", "Myelography, lumbosacral, radiological supervision and interpretation", ["myelo-lumbar"], [], V,
     "terminology.md §1.1 [CA]/[PAY]"),
    ("72270", "Myelography, 2 or more regions, radiological supervision and interpretation", ["myelo-spine"], [],
     V, "terminology.md §1.1 [CA]; regions not identifiable from the code -> myelo-spine"),
    ("78300", "Bone and/or joint imaging; limited area", ["bone-scan-spect"], [], V2, "terminology.md §1.1 [PAY]"),
    ("78305", "Bone and/or joint imaging; multiple areas", ["bone-scan-spect"], [], V, "terminology.md §1.1 [CA]"),
    ("78306", "Bone and/or joint imaging; whole body", ["bone-scan-spect"], [], V, "terminology.md §1.1 [CA]"),
    ("78315", "Bone and/or joint imaging; 3 phase study", ["bone-scan-spect"], [], V, "terminology.md §1.1 [CA]"),
    ("78803", "Radiopharmaceutical localization ...; tomographic (SPECT), single area or acquisition, "
     "single day imaging", ["bone-scan-spect"], [], V2, "terminology.md §1.1 [PAY]"),
    ("78830", "Radiopharmaceutical localization ...; tomographic (SPECT) with concurrently acquired CT "
     "transmission scan, single area or acquisition, single day imaging", ["bone-scan-spect"], [], V2,
     "terminology.md §1.1 [PAY]"),
    ("78831", "Radiopharmaceutical localization ...; tomographic (SPECT), minimum 2 areas or separate "
     "acquisitions, or 2 or more days", ["bone-scan-spect"], [], V2, "terminology.md §1.1 [PAY]"),
    ("78832", "Radiopharmaceutical localization ...; tomographic (SPECT) with concurrently acquired CT "
     "transmission scan, minimum 2 areas or separate acquisitions, or 2 or more days", ["bone-scan-spect"], [],
     V2, "terminology.md §1.1 [PAY]"),
    ("78815", "PET with concurrently acquired CT; skull base to mid-thigh", ["fdg-petct-wb"], [], V,
     "terminology.md §1.1 [VSAC-C]"),
    ("78816", "PET with concurrently acquired CT; whole body", ["fdg-petct-wb"], [], V,
     "terminology.md §1.1 [VSAC-C]"),
]

# --------------------------------------------------------------------------------------------
# SNOMED CT §1.3 [BE-IG]; all VERIFIED
SCT_SRC = "terminology.md §1.3 [BE-IG]"
SCT_ROWS = [
    ("1290640000", "Plain X-ray of vertebral column region (procedure)", ["xr-spine-unspecified"]),
    ("840361000", "Plain X-ray of lumbar vertebral column region (procedure)", ["xr-lumbar"]),
    ("22791004", "Plain X-ray of lumbar and sacral spine (procedure)", ["xr-lumbar"]),
    ("1290654008", "Plain X-ray of thoracic vertebral column region (procedure)", ["xr-thoracic"]),
    ("444634007", "Plain X-ray of thoracic and lumbar spine (procedure)", ["xr-tl"]),
    ("1367647005", "Plain X-ray of entire vertebral column (procedure)", ["xr-complete"]),
    ("241577003", "Computed tomography of spine (procedure)", three("ct-spine")),
    ("572091000119106", "Computed tomography of lumbar spine without contrast (procedure)", ["ct-lumbar-wo"]),
    ("90523008", "Computed tomography of lumbar vertebral column with contrast (procedure)",
     ["ct-lumbar-w", "ct-lumbar-wo-w"]),
    ("711224009", "Computed tomography of lumbar and sacral spine (procedure)", three("ct-lumbar")),
    ("723646000", "Computed tomography of lumbar and sacral spine with contrast (procedure)",
     ["ct-lumbar-w", "ct-lumbar-wo-w"]),
    ("572081000119108", "Computed tomography of thoracic spine without contrast (procedure)", ["ct-thoracic-wo"]),
    ("113105001", "Computed tomography of thoracic spine with contrast (procedure)",
     ["ct-thoracic-w", "ct-thoracic-wo-w"]),
    ("702487007", "Computed tomography of thoracic and lumbar spine (procedure)", three("ct-tl")),
    ("702488002", "Computed tomography of thoracic and lumbar spine with contrast (procedure)",
     ["ct-tl-w", "ct-tl-wo-w"]),
    ("429875006", "Computed tomography of whole spine (procedure)", three("ct-complete")),
    ("429859008", "Computed tomography of whole spine with contrast (procedure)",
     ["ct-complete-w", "ct-complete-wo-w"]),
    ("241589001", "Computed tomography myelogram (procedure)", ["ctm-spine"]),
    ("241591009", "Computed tomography myelogram of thoracic region (procedure)", ["ctm-thoracic"]),
    ("241592002", "Computed tomography myelogram of lumbar region (procedure)", ["ctm-lumbar"]),
    ("1251643002", "Computed tomography discography with injection of contrast into intervertebral disc of lumbar "
     "spine (procedure)", ["disco-lumbar"]),
    ("241645008", "Magnetic resonance imaging of spine (procedure)", three("mri-spine")),
    ("431985004", "Magnetic resonance imaging of spine with contrast (procedure)", ["mri-spine-w", "mri-spine-wo-w"]),
    ("394451000119106", "Magnetic resonance imaging of lumbar spine without contrast (procedure)", ["mri-lumbar-wo"]),
    ("41333006", "Magnetic resonance imaging of lumbar spine with contrast (procedure)",
     ["mri-lumbar-w", "mri-lumbar-wo-w"]),
    ("433141005", "Magnetic resonance imaging of lumbar and sacral spine (procedure)", three("mri-lumbar")),
    ("433140006", "Magnetic resonance imaging of lumbar and sacral spine with contrast (procedure)",
     ["mri-lumbar-w", "mri-lumbar-wo-w"]),
    ("396171000119100", "Magnetic resonance imaging of thoracic spine without contrast (procedure)",
     ["mri-thoracic-wo"]),
    ("91333005", "Magnetic resonance imaging of thoracic spine with contrast (procedure)",
     ["mri-thoracic-w", "mri-thoracic-wo-w"]),
    ("411571000119106", "Magnetic resonance imaging of thoracic spine and lumbar spine without contrast (procedure)",
     ["mri-tl-wo"]),
    ("448641007", "Magnetic resonance imaging of thoracic and lumbar spine with contrast (procedure)",
     ["mri-tl-w", "mri-tl-wo-w"]),
    ("411611000119102", "Magnetic resonance imaging of cervical, thoracic, and lumbar spine without contrast "
     "(procedure)", ["mri-complete-wo"]),
    ("495741000119105", "Magnetic resonance imaging of cervical, thoracic, and lumbar spine with contrast "
     "(procedure)", ["mri-complete-w", "mri-complete-wo-w"]),
    ("443271005", "Positron emission tomography with computed tomography of whole body using fluorodeoxyglucose "
     "(18-F) (procedure)", ["fdg-petct-wb"]),
]


# --------------------------------------------------------------------------------------------
# LOINC Appendix A (parsed)
def appendix_rows() -> list[dict[str, str]]:
    text = TERM.read_text(encoding="utf-8")
    app = text[text.index("## Appendix A"):]
    rows = []
    for line in app.splitlines():
        m = re.match(r"^\| (\d{1,7}-\d) \| (.+?) \| (\S+) \| (.+?) \| (.+?) \| (.+) \|$", line)
        if m:
            code, display, mod, region, contrast, status = m.groups()
            rows.append({"code": code, "display": display, "modality": mod, "region": region,
                         "contrast": contrast, "status": status})
    return rows


SKIPPED: list[tuple[str, str, str]] = []
REGION_KEY = {"lumbar/lumbosacral": "lumbar", "thoracic": "thoracic", "thoracic+lumbar": "tl",
              "spine (unspecified level)": "spine"}
FLEX_RE = re.compile(r"flexion|extension|bending", re.I)


def map_loinc(r: dict[str, str]) -> tuple[list[str], list[str]] | None:
    """Return (procedures, flags) or None (left out, reason in SKIPPED)."""
    d, mod, region, contrast = r["display"], r["modality"], r["region"], r["contrast"]
    if mod in ("NM", "SPECT"):
        return ["bone-scan-spect"], []
    if region == "whole body":
        SKIPPED.append((r["code"], d, "whole-body CT/MR: not a spine study in the catalogue"))
        return None
    if d.startswith("XR Shoulder"):
        SKIPPED.append((r["code"], d, "shoulder transthoracic view: App. A region 'thoracic' is a filter "
                        "artefact, not thoracic spine"))
        return None
    reg = REGION_KEY[region]
    if mod == "XR":
        flags = FLEX if FLEX_RE.search(d) else []
        if "cervicothoracic junction" in d:
            return ["xr-cervical", "xr-thoracic"], flags
        return [{"lumbar": "xr-lumbar", "thoracic": "xr-thoracic", "tl": "xr-tl",
                 "spine": "xr-spine-unspecified"}[reg]], flags
    if contrast.startswith("epidural"):
        SKIPPED.append((r["code"], d, "epidurography: not in catalogue"))
        return None
    if contrast.startswith("intradiscal"):
        if reg == "lumbar":
            return ["disco-lumbar"], []
        SKIPPED.append((r["code"], d, "discography outside lumbar spine: not in catalogue"))
        return None
    if mod == "RF":
        if "epidural space" in d:
            SKIPPED.append((r["code"], d, "'epidural space ... W contrast IT' is not clearly myelography"))
            return None
        assert contrast.startswith("intrathecal"), r
        return [{"lumbar": "myelo-lumbar", "thoracic": "myelo-thoracic", "spine": "myelo-spine"}[reg]], []
    pre = {"CT": "ct", "MR": "mri"}[mod]
    base = f"{pre}-{reg}"
    if "intrathecal" in contrast:
        if mod == "CT":
            return [{"lumbar": "ctm-lumbar", "thoracic": "ctm-thoracic", "spine": "ctm-spine"}[reg]], []
        SKIPPED.append((r["code"], d, "MR with intrathecal contrast: not in catalogue"))
        return None
    if contrast.startswith("not stated"):
        return three(base), []
    if contrast == "WO":
        return [f"{base}-wo"], []
    if contrast == "W IV":
        return [f"{base}-w"], []
    if contrast.startswith("WO+W"):
        return [f"{base}-wo-w"], []
    raise ValueError(r)


# --------------------------------------------------------------------------------------------
def myelo_group(codes: list[str]) -> dict[str, object]:
    return {"system": CPT, "codes": codes}


ALL_MYELO = ["62302", "62303", "62304", "62305", "62284", "72240", "72255", "72265", "72270"]

COMBINATIONS = [
    {"id": "mri-lumbar-72148-72149", "text": "72148 + 72149 on one order = MRI lumbar without and with "
     "(a without-then-with study is 72158 only; the pair is an NCCI conflict)",
     "allOf": [myelo_group(["72148"]), myelo_group(["72149"])], "procedures": ["mri-lumbar-wo-w"],
     "source": "terminology.md §1.1 MRI note ([CA] 72148 page)", "provenance": "S"},
    {"id": "mri-thoracic-72146-72147", "text": "72146 + 72147 on one order = MRI thoracic without and with "
     "(same rule as the lumbar pair; 72157 is the single code)",
     "allOf": [myelo_group(["72146"]), myelo_group(["72147"])], "procedures": ["mri-thoracic-wo-w"],
     "source": "terminology.md §1.1 MRI note, applied to the thoracic pair", "provenance": "S"},
    # multi-region CT myelography first: the engine takes the first combination whose groups are all present
    {"id": "ctm-complete-myelo-72126-72129-72132", "text": "myelography code (or 62284 injection) + 72126 + 72129 + "
     "72132 (cervical, thoracic and lumbar CT 'with contrast') = CT myelography complete spine",
     "allOf": [myelo_group(ALL_MYELO), myelo_group(["72126"]), myelo_group(["72129"]), myelo_group(["72132"])],
     "procedures": ["ctm-complete"], "source": "terminology.md §1.1 N1 (applied to three regions)", "provenance": "S"},
    {"id": "ctm-tl-myelo-72129-72132", "text": "myelography code (or 62284 injection) + 72129 + 72132 (thoracic and "
     "lumbar CT 'with contrast') = CT myelography thoracic and lumbar spine",
     "allOf": [myelo_group(ALL_MYELO), myelo_group(["72129"]), myelo_group(["72132"])],
     "procedures": ["ctm-tl"], "source": "terminology.md §1.1 N1 (applied to two regions)", "provenance": "S"},
    {"id": "ctm-lumbar-myelo-72132", "text": "lumbar or multi-region myelography code (or 62284 injection) + "
     "72132 CT lumbar 'with contrast' = CT myelography lumbar spine",
     "allOf": [myelo_group(["62304", "62305", "62284", "72265", "72270"]), myelo_group(["72132"])],
     "procedures": ["ctm-lumbar"], "source": "terminology.md §1.1 N1, §1.4", "provenance": "S"},
    {"id": "ctm-thoracic-myelo-72129", "text": "thoracic or multi-region myelography code (or 62284 injection) + "
     "72129 CT thoracic 'with contrast' = CT myelography thoracic spine",
     "allOf": [myelo_group(["62303", "62305", "62284", "72255", "72270"]), myelo_group(["72129"])],
     "procedures": ["ctm-thoracic"], "source": "terminology.md §1.1 N1, §1.4", "provenance": "S"},
    {"id": "ctm-cervical-myelo-72126", "text": "cervical or multi-region myelography code (or 62284 injection) + "
     "72126 CT cervical 'with contrast' = CT myelography cervical spine",
     "allOf": [myelo_group(["62302", "62305", "62284", "72240", "72270"]), myelo_group(["72126"])],
     "procedures": ["ctm-cervical"], "source": "terminology.md §1.1 N1", "provenance": "S"},
]

# --------------------------------------------------------------------------------------------
# text patterns for code.text-only orders. Lower-case substrings, matched against " " + text + " " (app/clinical/orders.py
# pads the text), so short tokens carry a leading space to avoid hits inside words ("suspect" ~ "spect", "ct "). Within each group, keys are listed
# most-specific first (CTM before MYELO and CT, MRA before MR, complete/thoracic-and-lumbar before
# lumbar/thoracic); contrast: iv-wo-w, then none, then iv; longer phrases first inside each list.
TEXT_PATTERNS = {
    "modality": {
        "CTM": ["ct myelogra", "ct-myelogra", "ct myelo", "myelogram ct", "myelogram with ct",
                "computed tomography myelogra", "post-myelogram ct", "postmyelogram ct", "post myelogram ct",
                "post-myelography ct", "postmyelography ct", " myelo ct", " myelo-ct"],
        "DISCO": ["discography", "discogram"],
        "MYELO": ["myelography", "myelogram", " myelo "],
        "PET-CT": [" pet/ct", " pet-ct", " pet ct", "positron emission", " fdg"],
        "NM-BONE": ["bone scintigra", "skeletal scintigra", "bone scan", " nm bone", " spect"],
        "MRA": ["magnetic resonance angiogra", " mr angiogra", " mra "],
        "CTA": ["computed tomography angiogra", " ct angiogra", " cta "],
        "ANGIO": ["spinal angiogra", "arteriogra", "angiogra"],
        "MR": ["magnetic resonance", " mri", " mr "],
        "CT": ["computed tomography", " cat scan", " ct ", " ct-", " ct/", "(ct "],
        "XR": ["radiograph", "x-ray", " xray", " x ray", "plain film", " xr "],
    },
    "region": {
        "complete-spine": ["cervical, thoracic and lumbar", "cervical, thoracic, and lumbar",
                           "cervical thoracic lumbar", "entire vertebral column", "complete spine",
                           "entire spine", "whole spine", "total spine", " c/t/l"],
        "thoracic-and-lumbar": ["thoracic and lumbar", "thoracolumbar", "thoraco-lumbar", " t/l spine",
                                " t-l spine", " t+l spine"],
        "whole-body": ["skull base to mid-thigh", "skull base to mid thigh", "whole body", "whole-body"],
        "lumbar": ["lumbosacral", "lumbo-sacral", "lumbar", " l-spine", " l/s spine", " ls spine"],
        "thoracic": ["thoracic", " t-spine", "dorsal spine"],
        "cervical": ["cervical", " c-spine"],
    },
    "contrast": {
        "iv-wo-w": ["without and with", "with and without", "without & with", "with & without", "w/o and w/",
                    "w/o and w", "w/o & w", " w and w/o", "w/ and w/o", " w/wo", " wo/w", " wo and w",
                    "pre- and post-contrast", "pre and post contrast", "pre and post gad"],
        "none": ["without iv contrast", "without contrast", "w/o iv contrast", "w/o contrast", " wo contrast",
                 "without gadolinium", "without gad", "non-contrast", "noncontrast", "non contrast",
                 "no contrast", "unenhanced"],
        "iv": ["with iv contrast", "with contrast", "w/ iv contrast", "w/ contrast", " w contrast",
               "with gadolinium", "with gad", "contrast-enhanced", "contrast enhanced", "post-contrast",
               "post contrast"],
    },
    "flags": {
        "flexion-extension": ["flexion", "extension", "bending", "flex/ext", "flex-ext", "flex ext"],
    },
}


def main() -> None:
    data = json.loads(PROC.read_text(encoding="utf-8"))
    ids = {p["id"] for p in data["procedures"]}
    for p in NEW_PROCEDURES:
        if p["id"] not in ids:
            data["procedures"].append(p)
    ids = {p["id"] for p in data["procedures"]}

    codes: list[dict[str, object]] = []
    for code, display, procs, flags, status, src in CPT_ROWS:
        codes.append({"system": CPT, "code": code, "display": display, "procedures": procs, "flags": flags,
                      "status": status, "source": src})
    for r in appendix_rows():
        st = r["status"]
        status = V2 if st.startswith("VERIFIED-2nd") else V if st.startswith("VERIFIED") else None
        if status is None:
            SKIPPED.append((r["code"], r["display"], "not VERIFIED"))
            continue
        mapped = map_loinc(r)
        if mapped is None:
            continue
        procs, flags = mapped
        tag = st.replace("VERIFIED ", "").strip()
        codes.append({"system": LOINC, "code": r["code"], "display": r["display"], "procedures": procs,
                      "flags": flags, "status": status, "source": f"terminology.md App. A / §1.2 {tag}"})
    for code, display, procs in SCT_ROWS:
        codes.append({"system": SCT, "code": code, "display": display, "procedures": procs, "flags": [],
                      "status": V, "source": SCT_SRC})

    seen: set[tuple[object, object]] = set()
    for c in codes:
        key = (c["system"], c["code"])
        assert key not in seen, key
        seen.add(key)
        for p in c["procedures"]:  # type: ignore[attr-defined]
            assert p in ids, (c["code"], p)
    for comb in COMBINATIONS:
        for p in comb["procedures"]:  # type: ignore[attr-defined]
            assert p in ids, p

    data["codes"] = codes
    data["combinations"] = COMBINATIONS
    data["textPatterns"] = TEXT_PATTERNS
    PROC.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    n = {s: sum(1 for c in codes if c["system"] == s) for s in (CPT, LOINC, SCT)}
    print("codes", len(codes), n, "procedures", len(data["procedures"]))
    for s in SKIPPED:
        print("SKIPPED", *s, sep=" | ")


if __name__ == "__main__":
    main()

"""Regenerate criteria/topics/*.json rows from ../shared/reference/acr-spine-criteria.md.

Run by hand when the reference changes (``python tools/build_topics.py``); the output is reviewed and committed.
Variant match conditions (``when``) and topic metadata are written here as data, next to the rows they belong to.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REF = ROOT.parent / "shared" / "reference" / "acr-spine-criteria.md"
OUT = ROOT / "criteria" / "topics"

CATEGORY = {
    "usually appropriate": "usually-appropriate",
    "may be appropriate": "may-be-appropriate",
    "may be appropriate (disagreement)": "may-be-appropriate-disagreement",
    "usually not appropriate": "usually-not-appropriate",
}

NAME_TO_ID = {
    "Radiography lumbar spine": "xr-lumbar",
    "Bone scan whole body with SPECT or SPECT/CT complete spine": "bone-scan-spect",
    "Discography and post-discography CT lumbar spine": "disco-lumbar",
    "FDG-PET/CT whole body": "fdg-petct-wb",
    "Arteriography spine area of interest": "angio-aoi",
    "Radiography spine area of interest": "xr-aoi",
    "Radiography complete spine": "xr-complete",
    "Radiography thoracic and lumbar spine": "xr-tl",
    "CTA spine area of interest with IV contrast": "cta-aoi-w",
}
REGION_SHORT = {
    "lumbar spine": "lumbar",
    "spine area of interest": "aoi",
    "thoracic and lumbar spine": "tl",
    "complete spine": "complete",
}
CONTRAST_SUFFIX = {
    "without IV contrast": "wo",
    "with IV contrast": "w",
    "without and with IV contrast": "wo-w",
}


def procedure_id(name: str) -> str:
    if name in NAME_TO_ID:
        return NAME_TO_ID[name]
    m = re.fullmatch(r"CT myelography (.+)", name)
    if m:
        return "ctm-" + REGION_SHORT[m.group(1)]
    m = re.fullmatch(r"(MRI|CT|MRA) (.+?) (without and with IV contrast|without IV contrast|with IV contrast)", name)
    if not m:
        raise SystemExit(f"unmapped ACR procedure name: {name!r}")
    mod = {"MRI": "mri", "CT": "ct", "MRA": "mra"}[m.group(1)]
    return f"{mod}-{REGION_SHORT[m.group(2)]}-{CONTRAST_SUFFIX[m.group(3)]}"


def parse_rrl(cell: str) -> tuple[str | None, str | None]:
    cell = cell.strip()
    if cell in ("—", "-", ""):
        return None, None
    if cell == "Varies":
        return "Varies", None
    symbol = re.search(r"(☢+|\bO\b)", cell)
    dose = re.search(r"(<?[\d.]+(?:-[\d.]+)?\s*mSv)", cell)
    return (symbol.group(1) if symbol else None), (dose.group(1).replace(" ", " ") if dose else None)


def parse_variant_sections(text: str, heading: str) -> dict[int, dict]:
    """Find '#### <heading> — Variant N' sections: quote text, scenarios, table rows."""
    out: dict[int, dict] = {}
    pattern = re.compile(r"^#### " + re.escape(heading) + r" — Variant (\d+)\s*$", re.M)
    for m in pattern.finditer(text):
        number = int(m.group(1))
        body = text[m.end() :]
        nxt = re.search(r"^#{2,4} ", body, re.M)
        body = body[: nxt.start()] if nxt else body
        quote = re.search(r'^> "(.+)"\s*$', body, re.M)
        scenarios = re.findall(r'`(\d{7})` "([^"]+)"', body)
        rows = []
        header: list[str] = []
        for line in body.splitlines():
            if not line.startswith("|"):
                if rows:
                    break  # the variant's table ended (a later table, e.g. the quick matrix, is not ours)
                continue
            if set(line) <= set("|- "):
                continue
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if cells[0] == "Procedure":
                header = cells
                continue
            if cells[1].startswith("not found"):
                continue
            row = dict(zip(header, cells, strict=False))
            rows.append(row)
        out[number] = {"text": quote.group(1) if quote else None, "scenarios": scenarios, "rows": rows}
    return out


def build_rows(rows: list[dict], source: str) -> list[dict]:
    built = []
    for row in rows:
        name = row["Procedure"]
        category = CATEGORY[row["Appropriateness category"].lower()]
        adult, adult_dose = parse_rrl(row.get("Adult RRL", ""))
        ped, ped_dose = parse_rrl(row.get("Peds RRL", ""))
        rating = row.get("Rating (1-9)")
        built.append(
            {
                "procedure": procedure_id(name),
                "acrName": name,
                "category": category,
                "rating": int(rating) if rating and rating.isdigit() else None,
                "rrl": {"adult": adult, "adultDose": adult_dose, "pediatric": ped, "pediatricDose": ped_dose},
                "source": source,
                "provenance": "P",
            }
        )
    return built


def variant(number: int, section: dict, when: dict, source: str) -> dict:
    return {
        "number": number,
        "text": section["text"],
        "scenarios": [{"id": sid, "text": stext} for sid, stext in section["scenarios"]],
        "when": when,
        "source": source,
        "provenance": "P",
        "rows": build_rows(section["rows"], source),
    }


F = lambda name: {"fact": name}  # noqa: E731
NOT = lambda cond: {"not": cond}  # noqa: E731


def main() -> int:
    text = REF.read_text(encoding="utf-8")
    OUT.mkdir(parents=True, exist_ok=True)

    # --- Low Back Pain 2021 -------------------------------------------------------------------------------
    lbp = parse_variant_sections(text, "LBP 2021")
    src = "acr-spine-criteria.md §2.3 [S5], cross-checked [S3][S4][S6]"
    red_flag_free = NOT(F("lbp_red_flag"))
    lbp_when = {
        1: {"all": [red_flag_free, F("duration_acute"), NOT(F("managed_6_weeks"))]},
        2: {"all": [red_flag_free, F("duration_subacute_or_chronic"), NOT(F("managed_6_weeks"))]},
        3: {"all": [F("duration_subacute_or_chronic"), F("managed_6_weeks")]},
        4: F("cauda_equina_suspected"),
        5: {"all": [F("prior_lumbar_surgery"), F("new_or_progressing_after_surgery")]},
        6: {"any": [F("low_velocity_trauma"), F("osteoporosis"), F("elderly"), F("chronic_steroid_use")]},
        7: {"any": [F("cancer"), F("infection"), F("immunosuppression")]},
    }
    topic = {
        "id": "acr-low-back-pain",
        "title": "Low Back Pain",
        "version": "2021",
        "acrTopicId": 141,
        "citation": "Hutchins TA, Peckham M, Shah LM, et al. ACR Appropriateness Criteria® Low Back Pain: "
        "2021 Update. J Am Coll Radiol 2021;18(11S):S361-S379. doi:10.1016/j.jacr.2021.08.002",
        "url": "https://acsearch.acr.org/list/GetAppendix?PanelName=Neurologic&TopicId=141",
        "population": "adult",
        "source": "acr-spine-criteria.md §2.1-§2.3",
        "provenance": "P",
        "variantPrecedence": [4, 7, 5, 6, 3, 1, 2],
        "variants": [variant(n, lbp[n], lbp_when[n], src) for n in sorted(lbp)],
    }
    write(topic)

    # --- Myelopathy 2021 ------------------------------------------------------------------------------------
    mye = parse_variant_sections(text, "Myelopathy 2021")
    src = "acr-spine-criteria.md §3.1 [S11] (copy truncated after V2: missing V2 rows are absent, not guessed)"
    write(
        {
            "id": "acr-myelopathy",
            "title": "Myelopathy",
            "version": "2021",
            "acrTopicId": 142,
            "citation": "ACR Appropriateness Criteria® Myelopathy: 2021 Update. J Am Coll Radiol "
            "2021;18(5S):S73-S82. doi:10.1016/j.jacr.2021.01.020",
            "url": "https://acsearch.acr.org/list/GetAppendix?PanelName=Neurologic&TopicId=142",
            "population": "adult",
            "source": "acr-spine-criteria.md §3.1",
            "provenance": "P",
            "variantPrecedence": [1, 2],
            "variants": [
                variant(1, mye[1], F("myelopathy_acute"), src),
                dict(variant(2, mye[2], NOT(F("myelopathy_acute")), src), rowsComplete=False),
            ],
        }
    )

    # --- Suspected Spine Trauma 2018, thoracolumbar V9-V10 ----------------------------------------------------
    tra = parse_variant_sections(text, "Suspected Spine Trauma 2018")
    src = "acr-spine-criteria.md §4.2 [S14][S8] (superseded by Acute Spinal Trauma 2024, whose tables were not found)"
    fracture_with_deficit = {"all": [F("known_tl_fracture"), F("neuro_deficit")]}
    write(
        {
            "id": "acr-suspected-spine-trauma",
            "title": "Suspected Spine Trauma",
            "version": "2018",
            "acrTopicId": 23,
            "citation": "ACR Appropriateness Criteria® Suspected Spine Trauma (2018 revision), thoracolumbar "
            "variants 9-10",
            "url": "https://acsearch.acr.org/list/GetAppendix?TopicId=23&PanelName=Musculoskeletal",
            "population": "adult (age 16 or older)",
            "source": "acr-spine-criteria.md §4.2",
            "provenance": "P",
            "variantPrecedence": [10, 9],
            "variants": [
                variant(9, tra[9], {"all": [F("thoracolumbar_trauma"), NOT(fracture_with_deficit)]}, src),
                variant(10, tra[10], fracture_with_deficit, src),
            ],
        }
    )

    # --- Back Pain—Child (2017 version) ------------------------------------------------------------------------
    child = parse_variant_sections(text, "Back Pain—Child (2017 version)")
    src = "acr-spine-criteria.md §6 [S8] (2020 snapshot of the 2017-era document)"
    red = F("child_red_flag")
    child_when = {
        1: NOT(red),
        2: {"all": [red, NOT(F("prior_spine_radiograph"))]},
        3: {"all": [red, F("prior_spine_radiograph"), F("prior_radiograph_negative")]},
        4: {"all": [red, F("prior_spine_radiograph"), NOT(F("prior_radiograph_negative"))]},
        5: {"all": [F("duration_chronic"), F("overuse_mechanical_pain")]},
        6: {"any": [F("infection"), F("cancer"), F("inflammatory_spine_disease")]},
    }
    write(
        {
            "id": "acr-back-pain-child",
            "title": "Back Pain—Child",
            "version": "2017",
            "acrTopicId": 230,
            "citation": "ACR Appropriateness Criteria® Back Pain—Child (2017 version, as published on the ACR "
            "portal in 2020)",
            "url": "https://acsearch.acr.org/list/GetAppendix?PanelName=Pediatric&TopicId=230",
            "population": "child (under 18)",
            "source": "acr-spine-criteria.md §6",
            "provenance": "P",
            "variantPrecedence": [6, 4, 3, 2, 5, 1],
            "variants": [variant(n, child[n], child_when[n], src) for n in sorted(child)],
        }
    )

    # --- Suspected Spine Trauma—Child V4 (only the UA/MBA rows are in the reference) ----------------------------
    m = re.search(r"^\| 4 \| (Child, younger than 16 years[^|]+)\| ([^|]+)\| ([^|]+)\|", text, re.M)
    if not m:
        raise SystemExit("child trauma V4 row not found")
    src = "acr-spine-criteria.md §4.2 [S8] (summary table: only UA and MBA procedures are named)"
    rows = [{"Procedure": m.group(2).strip(), "Appropriateness category": "Usually appropriate"}]
    for item in m.group(3).split(";"):
        item = item.strip()
        disagreement = item.endswith("(Disagreement)")
        name = item.replace("(Disagreement)", "").strip()
        rows.append(
            {
                "Procedure": name,
                "Appropriateness category": "May be appropriate (Disagreement)" if disagreement else "May be appropriate",
            }
        )
    write(
        {
            "id": "acr-suspected-spine-trauma-child",
            "title": "Suspected Spine Trauma—Child",
            "version": "2020 snapshot",
            "acrTopicId": 240,
            "citation": "ACR Appropriateness Criteria® Suspected Spine Trauma—Child (ACR portal, 2020 snapshot), "
            "variant 4",
            "url": "https://acsearch.acr.org/list/GetAppendix?PanelName=Pediatric&TopicId=240",
            "population": "child (under 16)",
            "source": "acr-spine-criteria.md §4.2",
            "provenance": "P",
            "variantPrecedence": [4],
            "variants": [
                {
                    "number": 4,
                    "text": m.group(1).strip(),
                    "scenarios": [],
                    "when": F("thoracolumbar_trauma"),
                    "source": src,
                    "provenance": "P",
                    "rowsComplete": False,
                    "rows": build_rows(rows, src),
                }
            ],
        }
    )
    return 0


def write(topic: dict) -> None:
    for v in topic["variants"]:
        v.setdefault("rowsComplete", True)
    path = OUT / f"{topic['id']}.json"
    path.write_text(json.dumps(topic, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(path.relative_to(ROOT), sum(len(v["rows"]) for v in topic["variants"]), "rows")


if __name__ == "__main__":
    sys.exit(main())

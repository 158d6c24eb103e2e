"""A synthetic FHIR Bulk Data export (``$export`` layout) built from the fixture cast's patterns.

Each synthetic patient copies one fixture patient (``fhir_fixtures/patients/*.json``) with new ids, every
full date shifted by one random number of days (the intervals the criteria read are kept), and one or two
orders drawn from ``fhir_fixtures/orders/*.json`` (a few of them not spine imaging), authored on the
shifted evaluation date by one of a pool of requesters, for one of a pool of performers. Deterministic for
a given seed. Writes one ``<Type>.ndjson`` per resource type, as ``$export`` does.
"""

from __future__ import annotations

import copy
import json
import random
import re
from datetime import date, timedelta
from pathlib import Path
from typing import Any, TextIO

FULL_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(.*)$")
REQUESTERS = tuple(f"Practitioner/pr-{i:02d}" for i in range(1, 13))
PERFORMERS = tuple(f"Organization/imaging-{i}" for i in range(1, 5))
SHIFT_DAYS = (-540, 0)  # orders spread over eighteen months before the fixtures' evaluation date
NON_SPINE_SHARE = 0.06  # share of orders drawn from the non-spine order templates


def _shift(value: str, days: int) -> str:
    match = FULL_DATE.match(value)
    if match is None:
        return value
    try:
        shifted = date(int(match[1]), int(match[2]), int(match[3])) + timedelta(days=days)
    except ValueError:
        return value
    return shifted.isoformat() + match[4]


def _rewrite(node: Any, days: int, ids: dict[str, str]) -> Any:
    """Shift full dates and rename references (``Type/old`` → ``Type/new``) everywhere in ``node``."""
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "reference" and isinstance(value, str) and value in ids:
                out[key] = ids[value]
            else:
                out[key] = _rewrite(value, days, ids)
        return out
    if isinstance(node, list):
        return [_rewrite(v, days, ids) for v in node]
    if isinstance(node, str):
        return _shift(node, days)
    return node


def _load_templates(fixtures: Path) -> tuple[list[list[dict[str, Any]]], list[dict[str, Any]]]:
    patients = []
    for path in sorted((fixtures / "patients").glob("*.json")):
        bundle = json.loads(path.read_text(encoding="utf-8"))
        patients.append([e["resource"] for e in bundle.get("entry", []) if isinstance(e, dict)])
    orders = [json.loads(p.read_text(encoding="utf-8")) for p in sorted((fixtures / "orders").glob("*.json"))]
    return patients, orders


def _is_spine_template(order: dict[str, Any]) -> bool:
    """The cast's one order that is not spine imaging is the chest radiograph."""
    return "chest" not in json.dumps(order.get("code", {})).lower()


def synthesise_patient(
    index: int,
    rng: random.Random,
    patients: list[list[dict[str, Any]]],
    spine_orders: list[dict[str, Any]],
    other_orders: list[dict[str, Any]],
) -> list[dict[str, Any]]:
    """One synthetic patient: its resources and one or two orders (dicts, R4)."""
    template = rng.choice(patients)
    pid = f"syn{index:07d}"
    days = rng.randint(*SHIFT_DAYS)
    ids: dict[str, str] = {}
    for n, res in enumerate(template):
        rtype, old = res["resourceType"], res.get("id")
        new = pid if rtype == "Patient" else f"{pid}-{n}"
        ids[f"{rtype}/{old}"] = f"{rtype}/{new}"
    # Fixture patients without a Patient resource still reference Patient/pt-<name>.
    for res in template:
        for key in ("subject", "patient"):
            ref = res.get(key, {}).get("reference") if isinstance(res.get(key), dict) else None
            if isinstance(ref, str) and ref.startswith("Patient/"):
                ids.setdefault(ref, f"Patient/{pid}")
    out = []
    for res in template:
        copied = _rewrite(copy.deepcopy(res), days, ids)
        copied["id"] = ids[f"{res['resourceType']}/{res.get('id')}"].split("/", 1)[1]
        out.append(copied)
    for k in range(rng.choice((1, 1, 1, 2))):
        pool = other_orders if other_orders and rng.random() < NON_SPINE_SHARE else spine_orders
        order = _rewrite(copy.deepcopy(rng.choice(pool)), days, {})
        order["id"] = f"{pid}-sr{k}"
        order["subject"] = {"reference": f"Patient/{pid}"}
        order["requester"] = {"reference": rng.choice(REQUESTERS)}
        order["performer"] = [{"reference": rng.choice(PERFORMERS)}]
        out.append(order)
    return out


def write_export(
    out_dir: str | Path, patients: int, *, seed: int = 1, fixtures: str | Path
) -> dict[str, int]:
    """Write ``patients`` synthetic patients as ``<Type>.ndjson`` files; returns lines written per type."""
    target = Path(out_dir)
    target.mkdir(parents=True, exist_ok=True)
    templates, orders = _load_templates(Path(fixtures))
    spine = [o for o in orders if _is_spine_template(o)]
    other = [o for o in orders if not _is_spine_template(o)]
    rng = random.Random(seed)
    files: dict[str, TextIO] = {}
    counts: dict[str, int] = {}
    try:
        for index in range(patients):
            for res in synthesise_patient(index, rng, templates, spine, other):
                rtype = res["resourceType"]
                if rtype not in files:
                    files[rtype] = (target / f"{rtype}.ndjson").open("w", encoding="utf-8")
                files[rtype].write(json.dumps(res, separators=(",", ":")) + "\n")
                counts[rtype] = counts.get(rtype, 0) + 1
    finally:
        for handle in files.values():
            handle.close()
    return counts
